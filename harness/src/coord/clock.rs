//! The clock offset of a worker to the coordinator, NTP-style: the worker asks the
//! coordinator's clock over NATS request/reply [`PROBES`] times and keeps the probe with the
//! least round trip. With `t0`, `t1` the worker's clock at request and reply and `c` the
//! coordinator's answer, `offset = c − (t0 + t1) / 2` (so a worker time `t` is `t + offset` on
//! the coordinator's clock) and `uncertainty = (t1 − t0) / 2`: the answer was taken somewhere
//! inside the round trip.

use std::time::Duration;

use crate::record::observe::Clock;

use super::protocol::CLOCK_SUBJECT;

/// Probes per measurement.
pub const PROBES: usize = 8;

/// A measured offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Offset {
    pub offset_ns: i64,
    pub uncertainty_ns: u64,
}

/// From one probe: the worker's clock at request `t0` and reply `t1`, the coordinator's `c`.
pub fn from_probe(t0: u64, c: u64, t1: u64) -> Offset {
    let mid = t0 / 2 + t1 / 2 + (t0 % 2 + t1 % 2) / 2;
    Offset {
        offset_ns: c as i64 - mid as i64,
        uncertainty_ns: t1.saturating_sub(t0) / 2,
    }
}

/// The best of [`PROBES`] probes (least round trip).
pub async fn measure(client: &async_nats::Client, clock: Clock) -> Result<Offset, String> {
    let mut best: Option<Offset> = None;
    for _ in 0..PROBES {
        let t0 = clock.now_ns();
        let reply = tokio::time::timeout(
            Duration::from_secs(5),
            client.request(CLOCK_SUBJECT, bytes::Bytes::new()),
        )
        .await
        .map_err(|_| "the coordinator's clock did not answer within 5 s".to_string())?
        .map_err(|e| format!("clock probe: {e}"))?;
        let t1 = clock.now_ns();
        let c: u64 = std::str::from_utf8(&reply.payload)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or("the coordinator's clock answered something else than a number")?;
        let o = from_probe(t0, c, t1);
        if best.is_none_or(|b| o.uncertainty_ns < b.uncertainty_ns) {
            best = Some(o);
        }
    }
    best.ok_or_else(|| "no clock probe".into())
}

/// Answers clock probes with `clock` until the subscription ends.
pub async fn serve(client: async_nats::Client, clock: Clock) {
    use futures::StreamExt;
    let Ok(mut sub) = client.subscribe(CLOCK_SUBJECT).await else {
        return;
    };
    while let Some(m) = sub.next().await {
        if let Some(reply) = m.reply {
            let now = clock.now_ns().to_string();
            let _ = client.publish(reply, now.into()).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_is_the_answer_minus_the_midpoint() {
        // Worker asked at 1000 and heard back at 1200; the coordinator said 5100.
        let o = from_probe(1000, 5100, 1200);
        assert_eq!(o.offset_ns, 4000);
        assert_eq!(o.uncertainty_ns, 100);
        // A coordinator clock behind the worker's: a negative offset.
        assert_eq!(from_probe(1000, 500, 1000).offset_ns, -500);
    }
}
