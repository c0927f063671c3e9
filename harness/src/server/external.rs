//! The external backend: an existing server or cluster that jsbench neither starts nor
//! stops. Only here do the [`Auth`] settings (credentials, TLS, user/password, token)
//! apply, since jsbench's own ephemeral servers run without authentication.

use std::path::Path;
use std::str::FromStr;

use async_nats::{ConnectOptions, ServerAddr};

use super::error::ServerError;
use super::spec::Auth;

/// Checks that the URL is present and parses as a NATS server address.
pub(crate) fn check_url(url: Option<&str>) -> Result<String, ServerError> {
    let url = url
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .ok_or(ServerError::MissingUrl)?;
    ServerAddr::from_str(url).map_err(|e| ServerError::InvalidUrl {
        url: url.to_string(),
        reason: e.to_string(),
    })?;
    Ok(url.to_string())
}

/// Connect options with `auth` applied. TLS is required when any TLS file is given or the
/// URL says `tls://`, so a misconfigured server fails loudly instead of silently running
/// the benchmark in plain text.
pub(crate) async fn connect_options(url: &str, auth: &Auth) -> Result<ConnectOptions, ServerError> {
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
    let tls_url = ServerAddr::from_str(url)
        .map(|addr| addr.tls_required())
        .unwrap_or(false);
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
