//! How a distributed run's workers come: started by the coordinator itself (`jsbench run
//! --workers N`: local children on a coordination server at a free loopback port), or by
//! someone else (`jsbench coordinate`: docker compose, a Kubernetes Indexed Job, a user on
//! another machine), who needs a known address and a credential to hand the workers.
//!
//! Why the rules here: the coordination server admits only its token, and a server reachable
//! from other machines is the one exception to "servers listen on loopback only" — so it is an
//! explicit opt-in, allowed only with a token the user chose and hands to the workers
//! themselves (`$JSBENCH_COORDINATOR_TOKEN`). A generated token is handed over through a file
//! only its owner can read (`coordinator.env`), never printed.

use std::fmt;
use std::io::Write as _;
use std::net::SocketAddr;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::protocol::{ENV_FILE, TOKEN_ENV, URL_ENV};
use crate::scenario::Overrides;

/// `--listen`'s default.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:4250";
/// `--register-timeout`'s default.
pub const DEFAULT_REGISTER_TIMEOUT: Duration = Duration::from_secs(300);
/// The shortest token `$JSBENCH_COORDINATOR_TOKEN` may hold.
pub const MIN_TOKEN_LEN: usize = 16;

/// Where a plan came from: the scenario text, the name errors give it, and the overrides; and
/// where its workers come from.
#[derive(Debug, Clone)]
pub struct Source {
    pub text: String,
    pub file: String,
    pub overrides: Overrides,
    pub launch: Launch,
}

/// Where the workers come from.
#[derive(Debug, Clone, Default)]
pub enum Launch {
    /// The coordinator starts them as its own children (`jsbench run --workers N`).
    #[default]
    Children,
    /// Someone else starts them (`jsbench coordinate`).
    External(External),
}

/// `jsbench coordinate`'s settings.
#[derive(Debug, Clone)]
pub struct External {
    /// Where the coordination server listens (port 0: a free one, picked by the server).
    pub listen: SocketAddr,
    pub register_timeout: Duration,
    /// The user's token (`$JSBENCH_COORDINATOR_TOKEN`); none: one is generated per run and
    /// written to `<env_dir>/coordinator.env`.
    pub token: Option<Token>,
    /// The `--out` root, where `coordinator.env` goes.
    pub env_dir: PathBuf,
}

/// A coordination credential; its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(pub String);

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// Why `jsbench coordinate`'s settings are refused (exit 2).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LaunchError {
    #[error("--listen {value:?}: {why}")]
    Listen { value: String, why: String },
    #[error("${TOKEN_ENV}: {why}")]
    Token { why: String },
}

impl External {
    /// Checks `--listen` against the token in the environment (`token_env`: its value).
    pub fn new(
        listen: &str,
        register_timeout: Duration,
        token_env: Option<String>,
        env_dir: &Path,
    ) -> Result<External, LaunchError> {
        let bad = |why: &str| LaunchError::Listen {
            value: listen.to_string(),
            why: why.to_string(),
        };
        let addr: SocketAddr = listen
            .parse()
            .map_err(|_| bad("an IP address and a port are allowed, e.g. 127.0.0.1:4250"))?;
        let token = token_env.map(check_token).transpose()?;
        if !addr.ip().is_loopback() && token.is_none() {
            return Err(bad(&format!(
                "a non-loopback address is reachable from other machines: allowed only with \
                 a token of your own in ${TOKEN_ENV} (at least {MIN_TOKEN_LEN} characters)"
            )));
        }
        Ok(External {
            listen: addr,
            register_timeout,
            token,
            env_dir: env_dir.to_path_buf(),
        })
    }
}

/// A user's token: long enough, and nothing that would need quoting in a server config.
fn check_token(t: String) -> Result<Token, LaunchError> {
    if t.chars().count() < MIN_TOKEN_LEN {
        return Err(LaunchError::Token {
            why: format!(
                "too short ({} characters; at least {MIN_TOKEN_LEN} are needed)",
                t.chars().count()
            ),
        });
    }
    if let Some(c) = t
        .chars()
        .find(|c| !c.is_ascii_graphic() || matches!(c, '"' | '\\' | '\'' | '$'))
    {
        return Err(LaunchError::Token {
            why: format!(
                "{c:?} is not allowed (printable ASCII without spaces, quotes, \\ or $ is)"
            ),
        });
    }
    Ok(Token(t))
}

/// `<dir>/coordinator.env` while it exists; removed when dropped (the run ended, however).
#[derive(Debug)]
pub(super) struct EnvFile {
    path: PathBuf,
}

impl EnvFile {
    /// Writes `JSBENCH_COORDINATOR=<url>` and `JSBENCH_COORDINATOR_TOKEN=<token>`, mode 0600,
    /// atomically (a temp file renamed over it: a reader never sees half of it).
    pub(super) fn write(dir: &Path, url: &str, token: &str) -> std::io::Result<EnvFile> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(ENV_FILE);
        let tmp = dir.join(format!(".{ENV_FILE}.{}.tmp", std::process::id()));
        let _ = std::fs::remove_file(&tmp);
        let written = (|| {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)?;
            write!(f, "{URL_ENV}={url}\n{TOKEN_ENV}={token}\n")?;
            f.sync_all()?;
            std::fs::rename(&tmp, &path)
        })();
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
        Ok(EnvFile { path })
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for EnvFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn external(listen: &str, token: Option<&str>) -> Result<External, LaunchError> {
        External::new(
            listen,
            DEFAULT_REGISTER_TIMEOUT,
            token.map(String::from),
            Path::new("results"),
        )
    }

    #[test]
    fn loopback_needs_no_token_and_any_other_address_does() {
        assert!(external("127.0.0.1:4250", None).unwrap().token.is_none());
        assert!(external("[::1]:0", None).is_ok());
        let e = external("0.0.0.0:4250", None).unwrap_err();
        assert!(matches!(e, LaunchError::Listen { .. }), "{e}");
        assert!(
            e.to_string().starts_with("--listen \"0.0.0.0:4250\""),
            "{e}"
        );
        assert!(external("0.0.0.0:4250", Some("0123456789abcdef")).is_ok());
        assert!(matches!(
            external("localhost", None),
            Err(LaunchError::Listen { .. })
        ));
    }

    #[test]
    fn short_or_unquotable_tokens_are_refused() {
        let short = external("127.0.0.1:4250", Some("short")).unwrap_err();
        assert!(short.to_string().contains("too short"), "{short}");
        let quote = external("127.0.0.1:4250", Some("0123456789abcdef\"")).unwrap_err();
        assert!(matches!(quote, LaunchError::Token { .. }));
        let t = external("127.0.0.1:1", Some("0123456789abcdef")).unwrap();
        assert!(!format!("{t:?}").contains("0123456789abcdef"));
    }

    #[test]
    fn the_env_file_is_owner_only_and_removed_when_dropped() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let f = EnvFile::write(dir.path(), "nats://127.0.0.1:4250", "tok").unwrap();
        let meta = std::fs::metadata(f.path()).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        let text = std::fs::read_to_string(f.path()).unwrap();
        assert_eq!(
            text,
            "JSBENCH_COORDINATOR=nats://127.0.0.1:4250\nJSBENCH_COORDINATOR_TOKEN=tok\n"
        );
        let path = f.path().to_path_buf();
        drop(f);
        assert!(!path.exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
