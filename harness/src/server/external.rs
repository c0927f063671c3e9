//! The external backend: an existing server or cluster that jsbench neither starts nor
//! stops, reached through a seed list (one URL or several, comma-separated). Only here do the
//! [`Auth`] settings (credentials, TLS, user/password, token) apply, since jsbench's own
//! ephemeral servers admit only their per-run credential.

use std::path::Path;
use std::str::FromStr;

use async_nats::{ConnectOptions, ServerAddr};

use super::error::ServerError;
use super::spec::Auth;

/// The seed list of an external server: `url` split at commas (`"nats://a:4222,nats://b:4222"`,
/// as the nats CLI takes it), each entry trimmed and parsed as a NATS server address. Every
/// jsbench connection gets the whole list, so a client fails over among the seeds when the
/// node it is on goes away. An error names the entry that is wrong.
pub fn seed_urls(url: &str) -> Result<Vec<String>, ServerError> {
    let entries: Vec<&str> = url.split(',').map(str::trim).collect();
    let mut seeds: Vec<String> = Vec::with_capacity(entries.len());
    for (i, entry) in entries.iter().enumerate() {
        let bad = |reason: String| ServerError::InvalidUrl {
            url: entry.to_string(),
            reason: if entries.len() > 1 {
                format!("seed {} of {} in {url:?}: {reason}", i + 1, entries.len())
            } else {
                reason
            },
        };
        if entry.is_empty() {
            return Err(bad(
                "an empty entry (a comma too many): separate URLs with one comma".into(),
            ));
        }
        ServerAddr::from_str(entry).map_err(|e| bad(e.to_string()))?;
        if seeds.iter().any(|s| s == entry) {
            return Err(bad("listed twice".into()));
        }
        seeds.push(entry.to_string());
    }
    Ok(seeds)
}

/// Checks that the URL (a seed list) is present and that every entry parses; the seeds.
pub(crate) fn check_url(url: Option<&str>) -> Result<Vec<String>, ServerError> {
    let url = url
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .ok_or(ServerError::MissingUrl)?;
    seed_urls(url)
}

/// Connect options with `auth` applied. TLS is required when any TLS file is given or a seed
/// URL says `tls://`, so a misconfigured server fails loudly instead of silently running
/// the benchmark in plain text.
pub(crate) async fn connect_options(
    seeds: &[String],
    auth: &Auth,
) -> Result<ConnectOptions, ServerError> {
    let mut opts = ConnectOptions::new();

    if let Some(creds) = &auth.creds {
        opts = opts
            .credentials_file(creds)
            .await
            .map_err(|e| ServerError::Auth(format!("credentials file {}: {e}", creds.display())))?;
    }

    if let Some(ca) = &auth.tls_ca {
        require_file(ca, "TLS CA file")?;
        opts = opts.add_root_certificates(ca.clone());
    }
    match (&auth.tls_cert, &auth.tls_key) {
        (Some(cert), Some(key)) => {
            require_file(cert, "TLS client certificate")?;
            require_file(key, "TLS client key")?;
            opts = opts.add_client_certificate(cert.clone(), key.clone());
        }
        (Some(_), None) => {
            return Err(ServerError::Auth(
                "a TLS client certificate needs its key too (tls_key)".into(),
            ))
        }
        (None, Some(_)) => {
            return Err(ServerError::Auth(
                "a TLS client key needs its certificate too (tls_cert)".into(),
            ))
        }
        (None, None) => {}
    }
    let tls_url = seeds.iter().any(|url| {
        ServerAddr::from_str(url)
            .map(|addr| addr.tls_required())
            .unwrap_or(false)
    });
    if tls_url || auth.tls_ca.is_some() || auth.tls_cert.is_some() {
        opts = opts.require_tls(true);
    }

    match (&auth.user, &auth.password) {
        (Some(user), Some(password)) => {
            opts = opts.user_and_password(user.clone(), password.clone());
        }
        (Some(_), None) => return Err(ServerError::Auth("a user needs a password too".into())),
        (None, Some(_)) => return Err(ServerError::Auth("a password needs a user too".into())),
        (None, None) => {}
    }
    if let Some(token) = &auth.token {
        opts = opts.token(token.clone());
    }
    Ok(opts)
}

/// async-nats reads TLS files only when connecting, with a vaguer error; check up front.
fn require_file(path: &Path, what: &str) -> Result<(), ServerError> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => Ok(()),
        Ok(_) => Err(ServerError::Auth(format!(
            "{what} {} is not a file",
            path.display()
        ))),
        Err(e) => Err(ServerError::Auth(format!("{what} {}: {e}", path.display()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_list_is_split_at_commas_and_each_entry_checked() {
        assert_eq!(
            seed_urls("nats://a:4222, nats://b:4222 ,c:4223").unwrap(),
            ["nats://a:4222", "nats://b:4222", "c:4223"]
        );
        assert_eq!(seed_urls("nats://a:4222").unwrap(), ["nats://a:4222"]);
        let bad = |list: &str| seed_urls(list).unwrap_err().to_string();
        let e = bad("nats://a:4222,nats://b:x");
        assert!(
            e.contains("\"nats://b:x\"") && e.contains("seed 2 of 2"),
            "{e}"
        );
        assert!(e.contains("invalid port"), "{e}");
        assert!(bad("nats://a:4222,,nats://b:1").contains("empty entry"));
        assert!(bad("nats://a:1,nats://a:1").contains("listed twice"));
        assert!(bad("http://a:1").contains("\"http://a:1\""));
    }
}
