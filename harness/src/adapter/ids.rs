//! Which ids a session has sent and what has come back for each ([`Ids`]), so every report is
//! judged against what was sent: a report for an id never sent, a second `s` or a second
//! resolution, an `a`/`e` before its `s`.
//!
//! Memory stays bounded over runs of hours: state is kept only for ids outstanding (sent, not
//! resolved) and for ids given up on whose late reports may still come (at most
//! [`MAX_GIVEN_UP`], the oldest forgotten first). An id below the next one to send that is in
//! neither set was resolved, so a report for it is a second one — ids are dense (0, 1, 2, … in
//! publish order), as the protocol says.

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};

/// Given-up ids remembered for their late reports.
pub(crate) const MAX_GIVEN_UP: usize = 1 << 20;

/// `s` seen for an id; for given-up ids also whether its `a`/`e` came.
const SENT: u8 = 1;
const RESOLVED: u8 = 2;

/// An id hasher: ids are dense integers, so a multiply spreads them well enough.
#[derive(Default)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ *b as u64).wrapping_mul(0x0100_0000_01b3);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

/// What a report for an id amounts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Accepted,
    /// For an id given up on: counted, not handed out.
    Late,
    Unknown,
    Twice,
    /// An `a`/`e` before the id's `s`.
    BeforeSent,
}

#[derive(Default)]
pub(crate) struct Ids {
    next: u64,
    outstanding: HashMap<u64, u8, BuildHasherDefault<IdHasher>>,
    given_up: BTreeMap<u64, u8>,
    late: u64,
}

impl Ids {
    /// The id the next publish must have.
    pub(crate) fn next(&self) -> u64 {
        self.next
    }

    /// Records the publish of [`Ids::next`].
    pub(crate) fn sent(&mut self) {
        self.outstanding.insert(self.next, 0);
        self.next += 1;
    }

    pub(crate) fn outstanding(&self) -> usize {
        self.outstanding.len()
    }

    pub(crate) fn late(&self) -> u64 {
        self.late
    }

    /// A report jsbench no longer waited for (e.g. one that resolved while finishing).
    pub(crate) fn count_late(&mut self) {
        self.late += 1;
    }

    /// An `s` line for `id`.
    pub(crate) fn on_sent(&mut self, id: u64) -> Verdict {
        match self.outstanding.get_mut(&id) {
            Some(f) if *f & SENT != 0 => Verdict::Twice,
            Some(f) => {
                *f |= SENT;
                Verdict::Accepted
            }
            None => self.not_outstanding(id, SENT),
        }
    }

    /// An `a` or `e` line for `id`: accepted when it is outstanding with its `s` seen (it is
    /// then resolved).
    pub(crate) fn on_resolved(&mut self, id: u64) -> Verdict {
        match self.outstanding.get(&id) {
            Some(f) if *f & SENT == 0 => Verdict::BeforeSent,
            Some(_) => {
                self.outstanding.remove(&id);
                Verdict::Accepted
            }
            None => self.not_outstanding(id, RESOLVED),
        }
    }

    /// jsbench stopped waiting for `id`: later reports for it are late.
    pub(crate) fn give_up(&mut self, id: u64) {
        if let Some(flags) = self.outstanding.remove(&id) {
            self.given_up.insert(id, flags);
            if self.given_up.len() > MAX_GIVEN_UP {
                self.given_up.pop_first();
            }
        }
    }

    /// A report for an id not outstanding: late (given up on), twice (resolved), or unknown.
    fn not_outstanding(&mut self, id: u64, what: u8) -> Verdict {
        if let Some(f) = self.given_up.get_mut(&id) {
            if *f & what != 0 {
                return Verdict::Twice;
            }
            *f |= what;
            if *f == SENT | RESOLVED {
                self.given_up.remove(&id);
            }
            self.late += 1;
            return Verdict::Late;
        }
        if id < self.next {
            Verdict::Twice
        } else {
            Verdict::Unknown
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Verdict::*;

    #[test]
    fn every_verdict() {
        let mut ids = Ids::default();
        assert_eq!(ids.on_sent(0), Unknown);
        ids.sent();
        ids.sent();
        assert_eq!((ids.next(), ids.outstanding()), (2, 2));
        assert_eq!(ids.on_resolved(0), BeforeSent);
        assert_eq!(ids.on_sent(0), Accepted);
        assert_eq!(ids.on_sent(0), Twice);
        assert_eq!(ids.on_resolved(0), Accepted);
        assert_eq!(ids.on_resolved(0), Twice);
        assert_eq!(ids.on_sent(0), Twice);
        assert_eq!(ids.on_sent(2), Unknown);
        assert_eq!(ids.outstanding(), 1);
        assert_eq!(ids.late(), 0);
    }

    #[test]
    fn given_up_ids_report_late_once_each() {
        let mut ids = Ids::default();
        ids.sent();
        ids.sent();
        assert_eq!(ids.on_sent(1), Accepted);
        ids.give_up(0); // no s yet
        ids.give_up(1); // s seen
        assert_eq!(ids.outstanding(), 0);
        assert_eq!(ids.on_sent(0), Late);
        assert_eq!(ids.on_sent(0), Twice);
        assert_eq!(ids.on_resolved(0), Late);
        assert_eq!(ids.on_resolved(0), Twice);
        assert_eq!(ids.on_sent(1), Twice);
        assert_eq!(ids.on_resolved(1), Late);
        assert_eq!(ids.late(), 3);
        // Both forgotten: nothing is kept for them any more.
        assert!(ids.given_up.is_empty() && ids.outstanding.is_empty());
    }

    #[test]
    fn memory_is_bounded_by_what_is_outstanding() {
        let mut ids = Ids::default();
        for id in 0..100_000 {
            ids.sent();
            assert_eq!(ids.on_sent(id), Accepted);
            assert_eq!(ids.on_resolved(id), Accepted);
        }
        assert_eq!(ids.outstanding.len(), 0);
        for _ in 0..MAX_GIVEN_UP + 10 {
            let id = ids.next();
            ids.sent();
            ids.give_up(id);
        }
        assert_eq!(ids.given_up.len(), MAX_GIVEN_UP);
        // The oldest were forgotten: a report for one is taken for a second one.
        assert_eq!(ids.on_resolved(100_000), Twice);
        assert_eq!(ids.on_resolved(ids.next() - 1), Late);
    }
}
