//! What disk faults (`power_loss`, `disk_corrupt`, `disk_truncate`, `disk_latency`) need: the
//! process backend, whose nodes jsbench mounts the fault filesystem under (`crate::faultfs`);
//! no connection target or direction; a `duration` for a power loss and a slow disk; one of
//! `bytes` or `fraction` for a truncation.
//!
//! The container backend is refused rather than bind-mounted: the FUSE mount would be served
//! by this jsbench process on the host, and the node's kill -9 and power loss would have to be
//! ordered with Docker's own view of the bind mount (a killed container's files are closed by
//! the engine, not by us); the process backend gives all of it without that coupling.

use super::Entry;
use crate::nemesis::FaultKind;
use crate::scenario::error::Checker;
use crate::scenario::FaultSection;
use crate::server::Backend;

pub(super) fn on_disks(
    c: &mut Checker,
    e: Entry,
    f: &FaultSection,
    kind: FaultKind,
    backend: Backend,
) {
    let k = kind.as_str();
    if !matches!(backend, Backend::Process | Backend::Auto) {
        c.err(
            &e.field("kind"),
            format!(
                "\"{k}\" needs backend = \"process\" (auto picks it for disk faults): jsbench \
                 mounts its fault filesystem under each node's store there; backend \"{}\" \
                 has no such mount (a container's store would need the FUSE mount bind-mounted \
                 from the host, which jsbench does not do)",
                backend.as_str()
            ),
        );
    }
    if f.target.is_some() {
        c.err(
            &e.field("target"),
            format!("disk faults act on nodes: use node, not target, with kind = \"{k}\""),
        );
    }
    if f.direction.is_some() {
        c.err(&e.field("direction"), "applies to network faults only");
    }
    if matches!(kind, FaultKind::PowerLoss | FaultKind::DiskLatency) && f.duration.is_none() {
        c.err(
            &e.field("duration"),
            format!(
                "is required for kind = \"{k}\": how long the nodes stay {} (\"0s\" = at once)",
                if kind == FaultKind::PowerLoss {
                    "down before they start again"
                } else {
                    "slow"
                }
            ),
        );
    }
    if kind == FaultKind::DiskTruncate {
        let given = ["bytes", "fraction"].map(|p| f.params.contains_key(p));
        if given == [false, false] || given == [true, true] {
            c.err(
                &e.field("bytes"),
                "kind = \"disk_truncate\" needs exactly one of bytes (the last N bytes) or \
                 fraction (of the file's length, in (0, 1])",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::faultfs::{FileKind, TruncateAmount};
    use crate::nemesis::Fault;
    use crate::scenario::{parse, Overrides};

    fn scenario(backend: &str, fault: &str) -> String {
        format!(
            "name = \"d\"\n[server]\nbackend = \"{backend}\"\n[workload]\nmessages = 10\n\
             [[faults]]\nstart = \"1s\"\n{fault}\n"
        )
    }

    fn errors(text: &str) -> Vec<(String, String)> {
        parse(text, "t.toml", &Overrides::default())
            .expect_err("should fail")
            .errors
            .into_iter()
            .map(|e| (e.field, e.message))
            .collect()
    }

    #[test]
    fn disk_faults_parse_into_their_parameters() {
        let plan = |f: &str| parse(&scenario("process", f), "t.toml", &Overrides::default());
        let p = plan("kind = \"disk_corrupt\"\nbits = 8\nfiles = \"index\"").unwrap();
        assert_eq!(
            p.faults[0].fault,
            Fault::DiskCorrupt {
                bits: 8,
                files: FileKind::Index
            }
        );
        assert!(p.server_spec().faultfs);
        let p = plan("kind = \"disk_truncate\"\nfraction = 0.25\nduration = \"1s\"").unwrap();
        assert_eq!(
            p.faults[0].fault,
            Fault::DiskTruncate {
                files: FileKind::Blocks,
                amount: TruncateAmount::Fraction(0.25)
            }
        );
        let p = plan("kind = \"power_loss\"\nduration = \"1s\"").unwrap();
        assert_eq!(p.faults[0].fault, Fault::PowerLoss);
        // Auto picks the process backend for disk faults.
        parse(
            &scenario("auto", "kind = \"power_loss\"\nduration = \"1s\""),
            "t.toml",
            &Overrides::default(),
        )
        .unwrap();
    }

    #[test]
    fn disk_fault_errors_name_the_field_and_what_is_needed() {
        let e = errors(&scenario(
            "container",
            "kind = \"power_loss\"\nduration = \"1s\"",
        ));
        assert!(
            e.iter()
                .any(|(f, m)| f == "faults[0].kind" && m.contains("backend = \"process\"")),
            "{e:?}"
        );
        let e = errors(&scenario("process", "kind = \"power_loss\""));
        assert!(e.iter().any(|(f, _)| f == "faults[0].duration"), "{e:?}");
        let e = errors(&scenario(
            "process",
            "kind = \"disk_truncate\"\nbytes = 10\nfraction = 0.5",
        ));
        assert!(e
            .iter()
            .any(|(f, m)| f == "faults[0].bytes" && m.contains("exactly one")));
        let e = errors(&scenario(
            "process",
            "kind = \"disk_truncate\"\nfraction = 1.5",
        ));
        assert!(e.iter().any(|(f, _)| f == "faults[0].fraction"), "{e:?}");
        let e = errors(&scenario(
            "process",
            "kind = \"disk_corrupt\"\nfiles = \"logs\"\nbits = 1",
        ));
        assert!(
            e.iter()
                .any(|(f, m)| f == "faults[0].files" && m.contains("raft_state")),
            "{e:?}"
        );
        let e = errors(&scenario("process", "kind = \"disk_corrupt\""));
        assert!(e
            .iter()
            .any(|(f, m)| f == "faults[0].bits" && m.contains("required")));
    }
}
