//! The per-run credential: every server jsbench starts admits only the run that started it.
//!
//! A server on loopback is still reachable by every local user and, in a container, by anything
//! that can reach the engine's published ports. While a run lasts, a stranger could publish into
//! the stream under test (and the figures would count their messages as "unexpected") or read
//! it. So each server gets a token that is generated from the operating system's randomness
//! (never from the run's seed: it must not be reproducible), written only to a file that its
//! owner alone can read, handed to the run's own connections (publishers, admin, read-back,
//! consumer) and never logged: its `Debug` is redacted.

use std::fmt;

use rand::Rng as _;

/// A generated token; see the module docs.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    token: String,
}

impl Credential {
    /// 128 random bits as hex (no character that would need quoting in a config file).
    pub fn generate() -> Credential {
        let bits: u128 = rand::rng().random();
        Credential {
            token: format!("{bits:032x}"),
        }
    }

    /// The server's `authorization` block (nats-server config syntax).
    pub(crate) fn config_block(&self) -> String {
        format!("authorization {{\n  token: \"{}\"\n}}\n", self.token)
    }

    /// The token itself, for a client outside jsbench's own connections (a test's independent
    /// reader, a bench's bare client, a scenario's `server.token`). Never log it.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// `options` that present this credential.
    pub fn apply(&self, options: async_nats::ConnectOptions) -> async_nats::ConnectOptions {
        options.token(self.token.clone())
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Credential(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_never_printed() {
        let (a, b) = (Credential::generate(), Credential::generate());
        assert_ne!(a, b);
        assert_eq!(a.token.len(), 32);
        assert!(a.config_block().contains(&a.token));
        assert!(!format!("{a:?}").contains(&a.token));
    }
}
