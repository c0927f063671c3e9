//! TEMPORARY stub with the server API, until the provisioning module lands.
use std::path::PathBuf;
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Auto,
    Container,
    Process,
    External,
}
impl Backend {
    pub fn as_str(&self) -> &'static str {
        match self {
            Backend::Auto => "auto",
            Backend::Container => "container",
            Backend::Process => "process",
            Backend::External => "external",
        }
    }
}
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Auth {
    pub creds: Option<PathBuf>,
    pub tls_ca: Option<PathBuf>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub user: Option<String>,
    pub password: Option<String>,
    pub token: Option<String>,
}
#[derive(Debug, Clone, PartialEq)]
pub struct ServerSpec {
    pub backend: Backend,
    pub url: Option<String>,
    pub image: Option<String>,
    pub auth: Auth,
}
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("x")]
    X,
}
pub struct Server {
    url: String,
    child: std::process::Child,
    _dir: tempfile::TempDir,
}
impl Server {
    pub async fn start(_spec: &ServerSpec) -> Result<Server, ServerError> {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = std::process::Command::new(std::env::var("NATS_SERVER_BIN").unwrap())
            .args([
                "-a",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-js",
                "-sd",
                dir.path().to_str().unwrap(),
            ])
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        Ok(Server {
            url: format!("nats://127.0.0.1:{port}"),
            child,
            _dir: dir,
        })
    }
    pub fn url(&self) -> &str {
        &self.url
    }
    pub fn backend(&self) -> Backend {
        Backend::Process
    }
    pub fn source(&self) -> &str {
        "stub"
    }
    pub async fn connect_options(&self) -> Result<async_nats::ConnectOptions, ServerError> {
        Ok(async_nats::ConnectOptions::new())
    }
    pub async fn stop(mut self) -> Result<(), ServerError> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        Ok(())
    }
}
pub async fn find_or_fetch_binary() -> Result<(PathBuf, String), ServerError> {
    Err(ServerError::X)
}
