//! Readiness probe shared by the backends: a NATS server greets every new TCP connection
//! with an `INFO {...}` line, so reading that line proves the listener is really serving
//! (a published container port, for instance, accepts connections before the server does).

use std::time::Duration;

use tokio::io::AsyncBufReadExt;

const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Connects to `url` (`nats://host:port`) and waits for the `INFO` greeting.
pub(crate) async fn nats_greeting(url: &str) -> Result<(), String> {
    let addr = url
        .split_once("://")
        .map_or(url, |(_, rest)| rest)
        .trim_end_matches('/');
    let attempt = async {
        let stream = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let mut reader = tokio::io::BufReader::new(stream);
        let mut line = String::new();
        reader
            .read_line(&mut line)
            .await
            .map_err(|e| format!("read: {e}"))?;
        if line.starts_with("INFO ") {
            Ok(())
        } else if line.is_empty() {
            Err("connection closed before the INFO greeting".to_string())
        } else {
            Err(format!("unexpected greeting {:?}", line.trim_end()))
        }
    };
    tokio::time::timeout(PROBE_TIMEOUT, attempt)
        .await
        .map_err(|_| format!("no INFO greeting within {PROBE_TIMEOUT:?}"))?
}
