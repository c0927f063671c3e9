//! The adapters jsbench ships ([`Shipped`]) and how each becomes a command: the Rust one is a
//! bin cargo builds beside jsbench; the others are built on first use by their `build.sh`
//! (notes/build-contract.md) into `<cache dir>/adapters/<name>-<hash of their files>/`, so an
//! edit of an adapter's files builds it again and an unchanged one is never rebuilt.
//!
//! Two runs that need the same adapter at once take turns on a lock file (`flock`); the
//! second finds the first one's build done. A build goes to a temp dir beside its final place
//! and is renamed there when complete, so a half-built adapter is never run.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::command::{is_executable, AdapterCommand};
use super::error::AdapterError;
use crate::hash::fnv1a;
use crate::server::cache_dir;

/// Where the adapters' sources are: `$JSBENCH_ADAPTERS_DIR`, else the source tree's `adapters/`.
pub const ADAPTERS_DIR_ENV: &str = "JSBENCH_ADAPTERS_DIR";
/// The Rust adapter's bin (harness/Cargo.toml).
pub const ASYNC_NATS_BIN: &str = "jsbench-adapter-async-nats";
/// build.sh's status for a missing toolchain (its last stderr line says which and how to install).
const TOOLCHAIN_MISSING: i32 = 3;
/// Bound on one build (a cold Go or pip build included).
const BUILD_TIMEOUT: Duration = Duration::from_secs(900);
/// Lines of a failed build's output quoted.
const BUILD_LINES: usize = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Shipped {
    #[serde(rename = "nats.go")]
    NatsGo,
    #[serde(rename = "nats.c")]
    NatsC,
    #[serde(rename = "nats.py")]
    NatsPy,
    #[serde(rename = "async-nats-stdio")]
    AsyncNatsStdio,
}

impl Shipped {
    pub const ALL: [Shipped; 4] = [
        Shipped::NatsGo,
        Shipped::NatsC,
        Shipped::NatsPy,
        Shipped::AsyncNatsStdio,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Shipped::NatsGo => "nats.go",
            Shipped::NatsC => "nats.c",
            Shipped::NatsPy => "nats.py",
            Shipped::AsyncNatsStdio => "async-nats-stdio",
        }
    }

    pub fn from_name(name: &str) -> Option<Shipped> {
        Shipped::ALL.into_iter().find(|s| s.name() == name)
    }

    /// The names, for "allowed: …" messages.
    pub fn allowed() -> String {
        Shipped::ALL.map(Shipped::name).join(", ")
    }

    /// [`Shipped::from_name`] as an error naming the allowed ones.
    pub fn parse(name: &str) -> Result<Shipped, AdapterError> {
        Shipped::from_name(name).ok_or_else(|| AdapterError::UnknownAdapter {
            name: name.to_string(),
            allowed: Shipped::allowed(),
        })
    }

    /// The source folder of an adapter built by its build.sh (None for the Rust one).
    pub fn source_dir(self) -> Option<PathBuf> {
        match self {
            Shipped::AsyncNatsStdio => None,
            _ => Some(adapters_dir().join(self.name())),
        }
    }

    /// The command that runs it, building it first if needed.
    pub async fn command(self) -> Result<AdapterCommand, AdapterError> {
        let program = match self.source_dir() {
            None => async_nats_bin()?,
            Some(dir) => build(self.name(), &dir).await?,
        };
        Ok(AdapterCommand {
            program,
            args: Vec::new(),
            label: self.name().to_string(),
        })
    }
}

fn adapters_dir() -> PathBuf {
    match std::env::var_os(ADAPTERS_DIR_ENV).filter(|v| !v.is_empty()) {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join("adapters"),
    }
}

/// The Rust adapter: beside the running executable (jsbench), or one level up from a test's or
/// bench's `deps/` (cargo builds the bins for those, into the profile's directory).
fn async_nats_bin() -> Result<PathBuf, AdapterError> {
    let exe =
        std::env::current_exe().map_err(|e| AdapterError::io("finding jsbench's own path", e))?;
    let dir = exe.parent().unwrap_or(Path::new("."));
    let mut places = vec![dir.join(ASYNC_NATS_BIN)];
    if dir.file_name().is_some_and(|n| n == "deps") {
        if let Some(up) = dir.parent() {
            places.push(up.join(ASYNC_NATS_BIN));
        }
    }
    places
        .iter()
        .find(|p| is_executable(p))
        .cloned()
        .ok_or_else(|| AdapterError::Build {
            name: Shipped::AsyncNatsStdio.name().into(),
            what: format!(
                "its bin {ASYNC_NATS_BIN} is not beside {}: cargo builds it with jsbench \
                 (cargo build --release --bins)",
                exe.display()
            ),
            output: Vec::new(),
        })
}

/// FNV-1a of the folder's files: their paths (relative), executable bits and contents, in path
/// order; hidden files and folders are left out.
pub fn dir_hash(dir: &Path) -> std::io::Result<u64> {
    fn walk(root: &Path, dir: &Path, acc: &mut Vec<u8>) -> std::io::Result<()> {
        let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            if e.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            let path = e.path();
            let kind = e.file_type()?;
            if kind.is_dir() {
                walk(root, &path, acc)?;
            } else if kind.is_file() {
                let rel = path.strip_prefix(root).unwrap_or(&path);
                acc.extend_from_slice(rel.to_string_lossy().as_bytes());
                acc.push(0);
                acc.push(is_executable(&path) as u8);
                let body = std::fs::read(&path)?;
                acc.extend_from_slice(&(body.len() as u64).to_le_bytes());
                acc.extend_from_slice(&body);
            }
        }
        Ok(())
    }
    let mut acc = Vec::new();
    walk(dir, dir, &mut acc)?;
    Ok(fnv1a(&acc))
}

/// Builds the adapter of `dir` (its build.sh) unless that version is in the cache; returns its
/// executable.
async fn build(name: &str, dir: &Path) -> Result<PathBuf, AdapterError> {
    let script = dir.join("build.sh");
    if !script.is_file() {
        return Err(AdapterError::Build {
            name: name.into(),
            what: format!("no {} (is the adapter's folder there?)", script.display()),
            output: Vec::new(),
        });
    }
    let hash =
        dir_hash(dir).map_err(|e| AdapterError::io(format!("reading {}", dir.display()), e))?;
    let root = cache_dir()
        .map_err(|e| AdapterError::io("jsbench's cache dir", std::io::Error::other(e.to_string())))?
        .join("adapters");
    let out = root.join(format!("{name}-{hash:016x}"));
    let exe = out.join("adapter");
    if is_executable(&exe) {
        return Ok(exe);
    }
    std::fs::create_dir_all(&root)
        .map_err(|e| AdapterError::io(format!("creating {}", root.display()), e))?;
    let _lock = lock(&root.join(format!(".{name}.lock"))).await?;
    if is_executable(&exe) {
        return Ok(exe); // built by another run while this one waited
    }
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".build-{name}-"))
        .tempdir_in(&root)
        .map_err(|e| AdapterError::io(format!("a temp dir in {}", root.display()), e))?;
    tracing::info!("building adapter {name} from {} (first use)", dir.display());
    run_build_script(name, &script, tmp.path()).await?;
    if !is_executable(&tmp.path().join("adapter")) {
        return Err(AdapterError::Build {
            name: name.into(),
            what: "build.sh succeeded but left no executable OUT_DIR/adapter".into(),
            output: Vec::new(),
        });
    }
    let built = tmp.keep();
    std::fs::rename(&built, &out)
        .map_err(|e| AdapterError::io(format!("moving the build to {}", out.display()), e))?;
    Ok(exe)
}

/// An exclusive `flock` on `path`, held until the file is dropped.
async fn lock(path: &Path) -> Result<File, AdapterError> {
    let file = File::create(path)
        .map_err(|e| AdapterError::io(format!("creating {}", path.display()), e))?;
    let what = format!("locking {}", path.display());
    tokio::task::spawn_blocking(move || {
        // SAFETY: flock(2) on a descriptor this closure owns; no memory is involved.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } == 0 {
            Ok(file)
        } else {
            Err(std::io::Error::last_os_error())
        }
    })
    .await
    .map_err(|e| AdapterError::io(what.clone(), std::io::Error::other(e)))?
    .map_err(|e| AdapterError::io(what, e))
}

/// `bash build.sh OUT_DIR`: exit 3 is a missing toolchain (its last stderr line is the hint),
/// any other failure quotes the end of its output.
async fn run_build_script(name: &str, script: &Path, out: &Path) -> Result<(), AdapterError> {
    let run = tokio::process::Command::new("bash")
        .arg(script)
        .arg(out)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(BUILD_TIMEOUT, run)
        .await
        .map_err(|_| AdapterError::Build {
            name: name.into(),
            what: format!("build.sh took over {} s", BUILD_TIMEOUT.as_secs()),
            output: Vec::new(),
        })?
        .map_err(|e| AdapterError::io(format!("running bash {}", script.display()), e))?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    if output.status.code() == Some(TOOLCHAIN_MISSING) {
        let hint = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("(build.sh said nothing)");
        return Err(AdapterError::Toolchain {
            name: name.into(),
            hint: hint.trim().to_string(),
        });
    }
    let text = String::from_utf8_lossy(&output.stdout).into_owned() + &stderr;
    let lines: Vec<String> = text.lines().map(str::to_string).collect();
    Err(AdapterError::Build {
        name: name.into(),
        what: format!("build.sh failed ({})", output.status),
        output: lines[lines.len().saturating_sub(BUILD_LINES)..].to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::ClientAdapter;

    /// The scenario's `client.adapter` names (scenario/, below this layer, cannot import
    /// `Shipped`) and the shipped adapters are the same list, apart from in-process async-nats.
    #[test]
    fn every_shipped_adapter_is_a_scenario_name_and_back() {
        for s in Shipped::ALL {
            assert!(ClientAdapter::from_name(s.name()).is_some(), "{}", s.name());
        }
        for a in ClientAdapter::NAMES {
            let shipped = Shipped::from_name(a.as_str());
            assert_eq!(
                shipped.is_none(),
                a == ClientAdapter::AsyncNats,
                "{}",
                a.as_str()
            );
        }
    }

    #[test]
    fn names_round_trip() {
        for s in Shipped::ALL {
            assert_eq!(Shipped::from_name(s.name()), Some(s));
            assert_eq!(
                serde_json::to_string(&s).unwrap(),
                format!("\"{}\"", s.name())
            );
        }
        let e = Shipped::parse("nats.rs").unwrap_err().to_string();
        assert!(
            e.contains("nats.go, nats.c, nats.py, async-nats-stdio"),
            "{e}"
        );
    }

    #[test]
    fn the_hash_follows_the_files() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("build.sh"), "echo").unwrap();
        let h1 = dir_hash(d.path()).unwrap();
        std::fs::write(d.path().join(".hidden"), "x").unwrap();
        assert_eq!(dir_hash(d.path()).unwrap(), h1);
        std::fs::create_dir(d.path().join("src")).unwrap();
        std::fs::write(d.path().join("src/main.go"), "package main").unwrap();
        let h2 = dir_hash(d.path()).unwrap();
        assert_ne!(h2, h1);
        std::fs::write(d.path().join("src/main.go"), "package main ").unwrap();
        assert_ne!(dir_hash(d.path()).unwrap(), h2);
    }

    #[tokio::test]
    async fn a_missing_toolchain_is_named_with_its_hint() {
        let src = tempfile::tempdir().unwrap();
        std::fs::write(
            src.path().join("build.sh"),
            "echo compiling >&2\necho 'x adapter: needs foo: apt-get install foo' >&2\nexit 3\n",
        )
        .unwrap();
        let out = tempfile::tempdir().unwrap();
        let e = run_build_script("x", &src.path().join("build.sh"), out.path())
            .await
            .unwrap_err();
        match e {
            AdapterError::Toolchain { hint, .. } => {
                assert_eq!(hint, "x adapter: needs foo: apt-get install foo")
            }
            other => panic!("{other}"),
        }
        std::fs::write(src.path().join("build.sh"), "echo oops; exit 1\n").unwrap();
        let e = run_build_script("x", &src.path().join("build.sh"), out.path())
            .await
            .unwrap_err();
        assert!(
            e.to_string().contains("build.sh failed") && e.to_string().contains("| oops"),
            "{e}"
        );
    }
}
