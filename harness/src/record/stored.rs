//! One stored copy of one of the run's messages, as a reader of the stream sees it, and the
//! trait of whatever consumes those copies in storage order while the run goes on (the
//! streaming checkers, `checker::stream`). Shared by the follower (`record::follow`), which
//! reads them, and the checkers, which judge them: record sits below checker, so the trait
//! lives here and the checker implements it.

/// One stored copy of one of this run's messages, in the order the stream holds them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredCopy {
    /// The message's publish index (from 0).
    pub idx: u32,
    /// Its key's number (0..num_keys), from the stored message itself (its tag or `Jsb-Key`).
    pub key: u32,
    /// Which attempt this copy came from (`Jsb-Attempt`, 1 for the first).
    pub attempt: u8,
    /// The stream sequence it is stored at.
    pub seq: u64,
}

/// Consumes the stream's content in storage order, one copy at a time.
pub trait CopySink: Send {
    /// One stored copy of one of this run's messages.
    fn copy(&mut self, c: &StoredCopy);
    /// A stored message on the run's subjects that is not one of its messages.
    fn unexpected(&mut self);
}
