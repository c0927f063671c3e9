//! Why an atomic batch was not (known to be) committed ([`BatchFailure`]): what that says about
//! its messages, and the short names and codes result.json's `errors` gives it.

use crate::record::history::Outcome;

/// JetStream error codes of atomic publish (the server's errors.json).
pub mod codes {
    /// "atomic publish is disabled" (the stream lacks `allow_atomic`).
    pub const DISABLED: u32 = 10174;
    /// "atomic publish batch is incomplete" (a gap, or an abandoned batch).
    pub const INCOMPLETE: u32 = 10176;
    /// "atomic publish batch is too large".
    pub const TOO_LARGE: u32 = 10199;
    /// "atomic publish batch contains duplicate message id".
    pub const DUPLICATE_MSG_ID: u32 = 10201;
    /// "atomic publish too many inflight" (open batches per stream or server).
    pub const TOO_MANY_INFLIGHT: u32 = 10210;
}

/// Why a batch was not (known to be) committed. `at` is the batch sequence of the message whose
/// reply (or lack of one) says so: 1 for the first message's, the batch's size for the commit's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchFailure {
    /// The server refused the batch (nothing of it is stored).
    #[error("refused at batch seq {at}: {description} (err_code {code})")]
    Rejected {
        code: u32,
        at: u64,
        description: String,
    },
    /// No reply in time.
    #[error("no reply in time to batch seq {at}")]
    TimedOut { at: u64 },
    /// No stream answered (503): on a cluster, a leader election.
    #[error("no stream answered batch seq {at} (no responders)")]
    NoResponders { at: u64 },
    /// The server stored message 1 as an ordinary message: it does not do atomic batches.
    #[error("{0}")]
    Unsupported(String),
    /// The client could not send (the connection is gone) or could not read the reply.
    #[error("at batch seq {at}: {error}")]
    Client { at: u64, error: String },
}

impl BatchFailure {
    /// What the failure says about the batch of `size` messages: unknown when the commit went
    /// out and no answer came back (it may be stored, wholly), failed otherwise (the commit was
    /// never sent or was refused: the server stores nothing and abandons what it staged).
    pub fn outcome(&self, size: u64) -> Outcome {
        match self {
            BatchFailure::TimedOut { at } | BatchFailure::Client { at, .. } if *at == size => {
                Outcome::Unknown
            }
            _ => Outcome::Fail,
        }
    }

    /// A short, stable name for result.json's `errors`.
    pub fn name(&self) -> &'static str {
        match self {
            BatchFailure::Rejected { code, .. } => match *code {
                codes::DISABLED => "batch_disabled",
                codes::INCOMPLETE => "batch_incomplete",
                codes::TOO_LARGE => "batch_too_large",
                codes::DUPLICATE_MSG_ID => "batch_duplicate_msg_id",
                codes::TOO_MANY_INFLIGHT => "batch_too_many_inflight",
                _ => "batch_rejected",
            },
            BatchFailure::TimedOut { .. } => "timed_out",
            BatchFailure::NoResponders { .. } => "no_responders",
            BatchFailure::Unsupported(_) => "batch_unsupported",
            BatchFailure::Client { .. } => "broken_pipe",
        }
    }

    /// The JetStream error code of a refusal (0 otherwise).
    pub fn code(&self) -> u32 {
        match self {
            BatchFailure::Rejected { code, .. } => *code,
            BatchFailure::NoResponders { .. } => crate::client::NO_RESPONDERS,
            _ => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_unanswered_commit_is_unknown() {
        assert_eq!(
            BatchFailure::TimedOut { at: 5 }.outcome(5),
            Outcome::Unknown
        );
        assert_eq!(BatchFailure::TimedOut { at: 1 }.outcome(5), Outcome::Fail);
        let gone = BatchFailure::Client {
            at: 3,
            error: "x".into(),
        };
        assert_eq!(gone.outcome(5), Outcome::Fail);
    }
}
