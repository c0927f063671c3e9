//! Probes shared by the backends.
//!
//! Readiness: a NATS server greets every new TCP connection with an `INFO {...}` line, so
//! reading that line proves the listener is really serving (a published container port, for
//! instance, accepts connections before the server does).
//!
//! Liveness of a pid: whether a jsbench that left temp dirs, containers or networks behind is
//! still running (`process/dir.rs`, `container/docker.rs` sweep what dead ones left).

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

/// Whether a process with this pid exists (EPERM means it exists but is not ours).
pub(crate) fn pid_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if pid <= 0 {
        return false;
    }
    // SAFETY: kill(2) with signal 0 only checks for existence and permission.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}
