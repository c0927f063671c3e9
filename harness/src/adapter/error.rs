//! What can go wrong with an adapter ([`AdapterError`]), each kind a variant of its own, so the
//! runner can mark the run incomplete and the check can print it as it is.
//!
//! Every error about a running adapter names the offending line or the exit status and quotes
//! the last lines of the adapter's stderr ([`StderrTail`]), because that is where an adapter
//! says what went wrong in its own words.

use std::fmt;
use std::path::PathBuf;

/// The last lines of an adapter's stderr (at most [`STDERR_LINES`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StderrTail(pub Vec<String>);

/// How many stderr lines are kept and quoted.
pub const STDERR_LINES: usize = 20;

impl fmt::Display for StderrTail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("\n  (nothing on stderr)");
        }
        write!(f, "\n  last {} line(s) of its stderr:", self.0.len())?;
        for l in &self.0 {
            write!(f, "\n  | {l}")?;
        }
        Ok(())
    }
}

/// How a process ended: an exit code or the signal that killed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    Code(i32),
    Signal(i32),
    /// Still running when it was killed, or the status could not be read.
    Unknown,
}

impl ExitStatus {
    pub fn from_std(s: std::process::ExitStatus) -> ExitStatus {
        use std::os::unix::process::ExitStatusExt;
        match (s.code(), s.signal()) {
            (Some(c), _) => ExitStatus::Code(c),
            (None, Some(sig)) => ExitStatus::Signal(sig),
            _ => ExitStatus::Unknown,
        }
    }

    pub fn code(self) -> Option<i32> {
        match self {
            ExitStatus::Code(c) => Some(c),
            _ => None,
        }
    }
}

impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitStatus::Code(c) => write!(f, "exit status {c}"),
            ExitStatus::Signal(s) => write!(f, "killed by signal {s}"),
            ExitStatus::Unknown => f.write_str("unknown exit status"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AdapterError {
    #[error("adapter {program:?} not found{}", on_path(*.searched_path))]
    NotFound {
        program: String,
        searched_path: bool,
    },
    #[error("adapter {path} is not executable (chmod +x it)")]
    NotExecutable { path: PathBuf },
    #[error("unknown adapter {name:?}; allowed: {allowed}")]
    UnknownAdapter { name: String, allowed: String },
    #[error("adapter {adapter}: cannot start it: {source}")]
    Spawn {
        adapter: String,
        source: std::io::Error,
    },
    #[error("adapter {adapter}: exited before answering init ({status}){stderr}")]
    ExitedBeforeInit {
        adapter: String,
        status: ExitStatus,
        stderr: StderrTail,
    },
    #[error("adapter {adapter}: no answer to init within {secs} s{stderr}")]
    NoInitAnswer {
        adapter: String,
        secs: u64,
        stderr: StderrTail,
    },
    #[error("adapter {adapter}: init refused: {text}; line: {line:?}{stderr}")]
    InitRefused {
        adapter: String,
        text: String,
        line: String,
        stderr: StderrTail,
    },
    #[error("adapter {adapter}: lacks feature {feature:?} (it lists {features:?}){stderr}")]
    MissingFeature {
        adapter: String,
        feature: String,
        features: Vec<String>,
        stderr: StderrTail,
    },
    #[error("adapter {adapter}: no answer to clock probe {n} within {secs} s{stderr}")]
    NoProbeAnswer {
        adapter: String,
        n: u64,
        secs: u64,
        stderr: StderrTail,
    },
    #[error("adapter {adapter}: malformed line {line:?}: {why}{stderr}")]
    Malformed {
        adapter: String,
        line: String,
        why: String,
        stderr: StderrTail,
    },
    #[error("adapter {adapter}: line {line:?} reports id {id}, which jsbench never sent{stderr}")]
    UnknownId {
        adapter: String,
        line: String,
        id: u64,
        stderr: StderrTail,
    },
    #[error("adapter {adapter}: line {line:?} reports id {id} a second time{stderr}")]
    ReportedTwice {
        adapter: String,
        line: String,
        id: u64,
        stderr: StderrTail,
    },
    #[error("adapter {adapter}: line {line:?} resolves id {id} before its s line{stderr}")]
    OutOfOrder {
        adapter: String,
        line: String,
        id: u64,
        stderr: StderrTail,
    },
    #[error("adapter {adapter}: crashed: {how} ({status}) while its stdin was open{stderr}")]
    Crashed {
        adapter: String,
        /// What jsbench saw: the process exited, or closed its stdout.
        how: String,
        status: ExitStatus,
        stderr: StderrTail,
    },
    #[error("the session with adapter {adapter} already ended with an error")]
    Ended { adapter: String },
    #[error("jsbench misused the session with adapter {adapter}: {what}")]
    Usage { adapter: String, what: String },
    #[error("adapter {name}: needs a toolchain that is missing: {hint}")]
    Toolchain { name: String, hint: String },
    #[error("adapter {name}: {what}{}", quoted(.output))]
    Build {
        name: String,
        what: String,
        output: Vec<String>,
    },
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
}

fn on_path(searched: bool) -> &'static str {
    if searched {
        " on PATH"
    } else {
        ""
    }
}

fn quoted(lines: &[String]) -> String {
    let mut s = String::new();
    if !lines.is_empty() {
        s.push_str("\n  its output ends:");
        for l in lines {
            s.push_str("\n  | ");
            s.push_str(l);
        }
    }
    s
}

impl AdapterError {
    pub fn io(what: impl Into<String>, source: std::io::Error) -> AdapterError {
        AdapterError::Io {
            what: what.into(),
            source,
        }
    }

    /// The stderr tail this error quotes, to be filled in once stderr has been read to its end.
    pub(crate) fn stderr_mut(&mut self) -> Option<&mut StderrTail> {
        use AdapterError::*;
        match self {
            ExitedBeforeInit { stderr, .. }
            | NoInitAnswer { stderr, .. }
            | InitRefused { stderr, .. }
            | MissingFeature { stderr, .. }
            | NoProbeAnswer { stderr, .. }
            | Malformed { stderr, .. }
            | UnknownId { stderr, .. }
            | ReportedTwice { stderr, .. }
            | OutOfOrder { stderr, .. }
            | Crashed { stderr, .. } => Some(stderr),
            _ => None,
        }
    }

    /// Whether this is the user's mistake in naming the adapter (exit 2 at the command line)
    /// rather than the adapter's fault.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            AdapterError::NotFound { .. }
                | AdapterError::NotExecutable { .. }
                | AdapterError::UnknownAdapter { .. }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_the_line_and_quotes_stderr() {
        let e = AdapterError::Malformed {
            adapter: "./x".into(),
            line: "s 1 2".into(),
            why: "too few fields".into(),
            stderr: StderrTail(vec!["boom".into(), "bang".into()]),
        };
        assert_eq!(
            e.to_string(),
            "adapter ./x: malformed line \"s 1 2\": too few fields\n  last 2 line(s) of its \
             stderr:\n  | boom\n  | bang"
        );
        let e = AdapterError::Crashed {
            adapter: "./x".into(),
            how: "it exited".into(),
            status: ExitStatus::Code(5),
            stderr: StderrTail::default(),
        };
        assert_eq!(
            e.to_string(),
            "adapter ./x: crashed: it exited (exit status 5) while its stdin was open\n  \
             (nothing on stderr)"
        );
        assert!(AdapterError::NotFound {
            program: "nope".into(),
            searched_path: true
        }
        .to_string()
        .ends_with("not found on PATH"));
    }
}
