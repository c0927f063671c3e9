//! Environments: two result sets measured on different setups (another backend, server or
//! client version, CPU, runtime) differ for reasons that are not the code under test, so the
//! gate refuses to judge them unless told to (`--allow-env-diff`).

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde::Serialize;

use crate::result::Report;

/// One environment field whose values differ between the sides.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EnvDiff {
    /// "backend", "server_version", "client", "cpus", "cpu_model", "runtime", "arch".
    pub field: String,
    pub baseline: Vec<String>,
    pub candidate: Vec<String>,
}

/// The fields compared, and how to read each from a result. An empty value means the result
/// did not record it (an older result): it is not held against the other side.
type Read = fn(&Report) -> String;

const FIELDS: [(&str, Read); 7] = [
    ("backend", |r| r.environment.backend.clone()),
    ("server_version", |r| r.environment.server_version.clone()),
    ("client", |r| r.environment.client.clone()),
    ("cpus", |r| r.environment.host.cpus.to_string()),
    ("cpu_model", |r| r.environment.host.cpu_model.clone()),
    ("runtime", |r| r.environment.runtime.clone()),
    ("arch", |r| r.environment.host.arch.clone()),
];

/// Every field whose recorded values differ between the two sets.
pub fn env_diffs(base: &[(PathBuf, Report)], cand: &[(PathBuf, Report)]) -> Vec<EnvDiff> {
    FIELDS
        .iter()
        .filter_map(|(field, read)| {
            let values = |set: &[(PathBuf, Report)]| -> BTreeSet<String> {
                set.iter()
                    .map(|(_, r)| read(r))
                    .filter(|v| !v.is_empty() && v != "0")
                    .collect()
            };
            let (b, c) = (values(base), values(cand));
            (!b.is_empty() && !c.is_empty() && b != c).then(|| EnvDiff {
                field: field.to_string(),
                baseline: b.into_iter().collect(),
                candidate: c.into_iter().collect(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(backend: &str, model: &str) -> (PathBuf, Report) {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/recorded/20261127T115755Z-single-async-none/result.json");
        let mut r = Report::load(&p).unwrap();
        r.environment.backend = backend.into();
        r.environment.host.cpu_model = model.into();
        (p, r)
    }

    #[test]
    fn differing_fields_are_named_and_unknown_values_are_not_held_against() {
        let a = [run("container", "Xeon A"), run("container", "Xeon A")];
        let b = [run("process", "Xeon A")];
        let d = env_diffs(&a, &b);
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].field, "backend");
        assert_eq!(d[0].baseline, vec!["container"]);
        assert_eq!(d[0].candidate, vec!["process"]);
        assert!(env_diffs(&a, &a).is_empty());
        // An older result without a CPU model: not a difference.
        assert!(env_diffs(&a, &[run("container", "")]).is_empty());
        // A set mixing backends differs from a set of one.
        assert_eq!(
            env_diffs(&a, &[run("container", "Xeon A"), run("process", "Xeon A")]).len(),
            1
        );
    }
}
