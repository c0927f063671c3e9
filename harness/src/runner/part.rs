//! A worker's partial result as it travels to the coordinator ([`Part`]): its history columns
//! (local numbering), its attempt log, its latency histograms (HdrHistogram V2, the format of
//! `hdrhistogram::serialization`), its timeline, why it stopped and its CPU time. Plain data,
//! JSON on the wire (the coordinator's Object Store); `merge.rs` turns several into one run.

use std::collections::BTreeMap;

use hdrhistogram::serialization::{Deserializer, Serializer, V2Serializer};
use serde::{Deserialize, Serialize};

use super::segment::SegmentRecord;
use crate::client::Stop;
use crate::record::history::{intern_kind, AttemptRecord, FastFigures, Outcome};
use crate::record::observe::{latency_histogram, LatencyLog};
use crate::record::usage::Usage;

/// One worker's measured phase, serialisable (module docs). Times are ns on the worker's clock.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Part {
    pub worker: usize,
    pub published: u64,
    pub outcome: Vec<u8>,
    pub stream_seq: Vec<u64>,
    pub wire_rank: Vec<u32>,
    pub completion: Vec<u32>,
    pub attempts: Vec<u8>,
    pub first_send_ns: Vec<u64>,
    pub ack_ns: Vec<u64>,
    pub errors: BTreeMap<String, u64>,
    pub attempt_log: Vec<AttemptPart>,
    pub repeats: u64,
    pub fast: Option<FastFigures>,
    /// publish_ack, publish_call, send_delay, intended_ack (the last two open loop only).
    pub logs: Vec<Option<LogPart>>,
    pub timeline: TimelinePart,
    pub started_ns: u64,
    pub ended_ns: u64,
    pub stop: StopPart,
    /// CPU and wall ns of the worker process while it published.
    pub client: Option<(u64, u64)>,
}

/// One attempt of the attempt log (`AttemptRecord`, its error kind as a string).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AttemptPart {
    pub idx: u32,
    pub attempt: u8,
    pub conn: u16,
    pub send_ns: u64,
    pub end_ns: u64,
    pub outcome: u8,
    pub error: String,
    pub code: u32,
    pub rank: u32,
}

/// A latency log: its whole-phase histogram (V2) and its per-interval counts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LogPart {
    pub total_v2: Vec<u8>,
    pub interval_ns: u64,
    pub origin_ns: u64,
    pub intervals: Vec<(u64, Vec<(u64, u64)>)>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TimelinePart {
    pub bucket_ns: u64,
    pub origin_ns: u64,
    pub acked: Vec<u64>,
    pub published: Vec<u64>,
}

/// Why the worker stopped publishing ([`Stop`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopPart {
    Done,
    Elapsed,
    MaxMessages,
    Cancelled,
    ClientFailed(String),
}

impl From<&Stop> for StopPart {
    fn from(s: &Stop) -> StopPart {
        match s {
            Stop::Done => StopPart::Done,
            Stop::Elapsed => StopPart::Elapsed,
            Stop::MaxMessages => StopPart::MaxMessages,
            Stop::Cancelled => StopPart::Cancelled,
            Stop::ClientFailed(w) => StopPart::ClientFailed(w.clone()),
        }
    }
}

impl StopPart {
    pub fn to_stop(&self) -> Stop {
        match self {
            StopPart::Done => Stop::Done,
            StopPart::Elapsed => Stop::Elapsed,
            StopPart::MaxMessages => Stop::MaxMessages,
            StopPart::Cancelled => Stop::Cancelled,
            StopPart::ClientFailed(w) => Stop::ClientFailed(w.clone()),
        }
    }
}

impl Part {
    /// What worker `worker` recorded, ready to upload.
    pub fn of(worker: usize, r: &SegmentRecord) -> Part {
        let h = &r.history;
        let rec = &r.rec;
        Part {
            worker,
            published: h.published,
            outcome: (0..h.planned()).map(|i| h.outcome(i) as u8).collect(),
            stream_seq: (0..h.planned()).map(|i| h.ack_seq(i)).collect(),
            wire_rank: (0..h.planned()).map(|i| h.wire_rank(i)).collect(),
            completion: h.completion.iter().collect(),
            attempts: (0..h.planned()).map(|i| h.attempts(i)).collect(),
            first_send_ns: (0..h.planned()).filter_map(|i| h.sent_at(i)).collect(),
            ack_ns: (0..h.planned()).filter_map(|i| h.acked_at(i)).collect(),
            errors: h.errors.clone(),
            attempt_log: h.attempt_log.iter().map(attempt_part).collect(),
            repeats: h.repeats,
            fast: h.fast,
            logs: [
                Some(&rec.publish_ack),
                Some(&rec.publish_call),
                rec.send_delay.as_ref(),
                rec.intended_ack.as_ref(),
            ]
            .into_iter()
            .map(|l| l.map(|l| log_part(l, rec.started_ns)))
            .collect(),
            timeline: TimelinePart {
                bucket_ns: rec.timeline.bucket_ns,
                origin_ns: rec.timeline.origin_ns,
                acked: rec.timeline.acked.clone(),
                published: rec.timeline.published.clone(),
            },
            started_ns: rec.started_ns,
            ended_ns: rec.ended_ns,
            stop: StopPart::from(&r.stop),
            client: r.client.map(|u| (u.cpu_ns, u.wall_ns)),
        }
    }

    /// The worker's CPU and wall time while publishing.
    pub fn usage(&self) -> Option<Usage> {
        self.client
            .map(|(cpu_ns, wall_ns)| Usage { cpu_ns, wall_ns })
    }

    /// Messages acked (duplicates included).
    pub fn acked(&self) -> u64 {
        self.outcome
            .iter()
            .filter(|&&o| Outcome::from_u8(o).is_acked())
            .count() as u64
    }
}

fn attempt_part(a: &AttemptRecord) -> AttemptPart {
    AttemptPart {
        idx: a.idx,
        attempt: a.attempt,
        conn: a.conn,
        send_ns: a.send_ns,
        end_ns: a.end_ns,
        outcome: a.outcome as u8,
        error: a.error.to_string(),
        code: a.code,
        rank: a.rank,
    }
}

impl AttemptPart {
    /// Back to an attempt record, its index, connection, rank and times given.
    pub(super) fn record(
        &self,
        idx: u32,
        conn: u16,
        rank: u32,
        shift: &dyn Fn(u64) -> u64,
    ) -> AttemptRecord {
        AttemptRecord {
            idx,
            attempt: self.attempt,
            conn,
            send_ns: shift(self.send_ns),
            end_ns: shift(self.end_ns),
            outcome: Outcome::from_u8(self.outcome),
            error: intern_kind(&self.error),
            code: self.code,
            rank,
        }
    }
}

fn log_part(l: &LatencyLog, origin_ns: u64) -> LogPart {
    let mut total_v2 = Vec::new();
    // Writing into a Vec cannot fail; a histogram that cannot be encoded travels empty.
    let _ = V2Serializer::new().serialize(&l.total, &mut total_v2);
    LogPart {
        total_v2,
        interval_ns: l.interval().as_nanos() as u64,
        origin_ns,
        intervals: l
            .intervals
            .iter()
            .map(|i| (i.index, i.counts().collect()))
            .collect(),
    }
}

impl LogPart {
    /// The whole-phase histogram.
    pub fn total(&self) -> hdrhistogram::Histogram<u64> {
        Deserializer::new()
            .deserialize(&mut self.total_v2.as_slice())
            .unwrap_or_else(|_| latency_histogram())
    }
}
