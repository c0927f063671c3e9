//! The tokio runtime a run is driven by, and its name as result.json records it.

/// The tokio runtime a run is driven by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RuntimeKind {
    /// One thread for the publisher and the client's connection tasks (default). On a 2-core
    /// machine the server needs the other core: measured ~15% more msgs/s than two workers,
    /// which spend their time waking each other.
    #[default]
    CurrentThread,
    /// Two worker threads.
    MultiThread,
}

impl RuntimeKind {
    pub fn parse(s: &str) -> Option<RuntimeKind> {
        match s {
            "current_thread" | "current-thread" => Some(RuntimeKind::CurrentThread),
            "multi_thread" | "multi-thread" => Some(RuntimeKind::MultiThread),
            _ => None,
        }
    }

    /// Builds the runtime (timers and I/O enabled).
    pub fn build(self) -> std::io::Result<tokio::runtime::Runtime> {
        match self {
            RuntimeKind::CurrentThread => tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build(),
            RuntimeKind::MultiThread => tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build(),
        }
    }
}

/// The flavour of the runtime the caller runs on, as result.json names it.
pub(crate) fn runtime_name() -> String {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::CurrentThread) => "current_thread".into(),
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => "multi_thread".into(),
        _ => "unknown".into(),
    }
}
