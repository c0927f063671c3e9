//! What jsbench runs as an adapter ([`AdapterCommand`]): a program and its arguments, resolved
//! before the run starts — a user's own command on PATH and checked executable (so `jsbench
//! check` can refuse a scenario naming one that is not there), a shipped adapter built on first
//! use (`shipped.rs`).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::error::AdapterError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdapterCommand {
    pub program: PathBuf,
    pub args: Vec<String>,
    /// How errors and results name it: the shipped adapter's name, or the command as written.
    pub label: String,
}

impl AdapterCommand {
    /// A user's command (`[client] command = [...]`, `adapter check -- …`): `argv[0]` with a
    /// `/` is a path (relative to the current directory), otherwise it is looked up on PATH.
    pub fn user(argv: &[String]) -> Result<AdapterCommand, AdapterError> {
        let Some(first) = argv.first().filter(|a| !a.is_empty()) else {
            return Err(AdapterError::NotFound {
                program: String::new(),
                searched_path: false,
            });
        };
        let program = resolve(first)?;
        Ok(AdapterCommand {
            program,
            args: argv[1..].to_vec(),
            label: argv.join(" "),
        })
    }
}

/// `name` as a path (it has a `/`) or the first executable file of that name on PATH.
pub(crate) fn resolve(name: &str) -> Result<PathBuf, AdapterError> {
    if name.contains('/') {
        let path = PathBuf::from(name);
        if !path.is_file() {
            return Err(AdapterError::NotFound {
                program: name.to_string(),
                searched_path: false,
            });
        }
        if !is_executable(&path) {
            return Err(AdapterError::NotExecutable { path });
        }
        return Ok(path);
    }
    let mut not_executable = None;
    let path_var = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path_var) {
        let candidate = dir.join(name);
        if candidate.is_file() {
            if is_executable(&candidate) {
                return Ok(candidate);
            }
            not_executable.get_or_insert(candidate);
        }
    }
    Err(match not_executable {
        // As a shell does: a match that cannot run is worth naming.
        Some(path) => AdapterError::NotExecutable { path },
        None => AdapterError::NotFound {
            program: name.to_string(),
            searched_path: true,
        },
    })
}

pub(crate) fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_commands_resolve_or_say_why_not() {
        let sh = AdapterCommand::user(&["sh".into(), "-c".into(), "true".into()]).unwrap();
        assert!(sh.program.is_absolute() && sh.program.ends_with("sh"));
        assert_eq!(sh.args, ["-c", "true"]);
        assert_eq!(sh.label, "sh -c true");
        assert!(matches!(
            AdapterCommand::user(&["no-such-adapter-xyz".into()]),
            Err(AdapterError::NotFound {
                searched_path: true,
                ..
            })
        ));
        assert!(matches!(
            AdapterCommand::user(&["./no/such/file".into()]),
            Err(AdapterError::NotFound {
                searched_path: false,
                ..
            })
        ));
        assert!(matches!(
            AdapterCommand::user(&[]),
            Err(AdapterError::NotFound { .. })
        ));
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("plain");
        std::fs::write(&f, "#!/bin/sh\n").unwrap();
        let e = AdapterCommand::user(&[f.display().to_string()]).unwrap_err();
        assert!(matches!(e, AdapterError::NotExecutable { .. }), "{e}");
    }
}
