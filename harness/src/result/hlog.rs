//! Latency logs: HdrHistogram interval logs (`latency-<name>.hlog` beside result.json), written
//! by the runner and read back by the charts. One histogram per second of the measured phase, so
//! HdrHistogram's own tools (HistogramLogProcessor, its plotters) read them too.

use std::path::{Path, PathBuf};

use hdrhistogram::Histogram;

use super::{write_atomic, LatencyKind, Report};
use crate::record::observe::LatencyLog;

/// Why a latency log could not be read.
#[derive(Debug, thiserror::Error)]
pub enum HlogError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("bad HdrHistogram log {path}: {message}")]
    Bad { path: PathBuf, message: String },
}

/// Writes a latency log (ns) as an HdrHistogram interval log: one V2-compressed histogram per
/// second of the measured phase, tagged with the latency's label, timestamps relative to the phase
/// start (also the log's StartTime/BaseTime). HistogramLogProcessor, HdrHistogram's plotters and
/// `hdrhistogram::serialization::interval_log` read it; summing the intervals gives the run's
/// total histogram.
pub fn write_hlog(
    path: &Path,
    log: &LatencyLog,
    kind: LatencyKind,
    start: std::time::SystemTime,
) -> std::io::Result<()> {
    use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};
    use hdrhistogram::serialization::V2DeflateSerializer;
    let mut buf = Vec::new();
    {
        let mut ser = V2DeflateSerializer::new();
        let mut w = IntervalLogWriterBuilder::new()
            .add_comment("jsbench latency log; values in nanoseconds; one interval per second")
            .with_start_time(start)
            .with_base_time(start)
            .with_max_value_divisor(1_000_000.0)
            .begin_log_with(&mut buf, &mut ser)
            .map_err(std::io::Error::other)?;
        let tag = Tag::new(kind.label());
        let len = log.interval();
        for i in &log.intervals {
            let h = log.interval_histogram(i);
            w.write_histogram(&h, len * i.index as u32, len, tag)
                .map_err(|e| std::io::Error::other(format!("{e:?}")))?;
        }
    }
    write_atomic(path, &buf)
}

/// Reads the run's HdrHistogram interval log for latency `kind` (the file named by
/// `report.files["latency_<label>"]`, relative to the run dir) and sums all its interval
/// histograms. `Ok(None)` when the report names no such file, the file is missing, or it holds
/// no interval.
pub fn load_histogram(
    run_dir: &Path,
    report: &Report,
    kind: LatencyKind,
) -> Result<Option<Histogram<u64>>, HlogError> {
    let Some(file) = report.files.get(&kind.file_key()) else {
        return Ok(None);
    };
    let path = run_dir.join(file);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(HlogError::Io { path, source }),
    };
    read_interval_log(&bytes).map_err(|message| HlogError::Bad { path, message })
}

/// Sums every interval histogram of an interval log (any tag).
pub fn read_interval_log(bytes: &[u8]) -> Result<Option<Histogram<u64>>, String> {
    use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
    use hdrhistogram::serialization::Deserializer;
    let mut de = Deserializer::new();
    let mut total: Option<Histogram<u64>> = None;
    for entry in IntervalLogIterator::new(bytes) {
        let LogEntry::Interval(ilh) = entry.map_err(|e| format!("{e:?}"))? else {
            continue;
        };
        let raw = base64_decode(ilh.encoded_histogram())?;
        let h: Histogram<u64> = de
            .deserialize(&mut &raw[..])
            .map_err(|e| format!("interval at {:?}: {e:?}", ilh.start_timestamp()))?;
        match &mut total {
            None => {
                let mut first = h;
                // Later intervals may hold larger values than the first one's range.
                first.auto(true);
                total = Some(first);
            }
            Some(t) => t.add(&h).map_err(|e| format!("{e:?}"))?,
        }
    }
    Ok(total)
}

/// Standard base64 (with or without padding). hdrhistogram decodes with the `base64` crate
/// internally but does not re-export it, and these few lines save a dependency.
fn base64_decode(s: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => break,
            b' ' | b'\n' | b'\r' | b'\t' => continue,
            _ => return Err(format!("not base64: {:?}", c as char)),
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};
    use hdrhistogram::serialization::V2DeflateSerializer;

    fn hist(values: impl IntoIterator<Item = u64>) -> Histogram<u64> {
        let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).unwrap();
        for v in values {
            h.record(v).unwrap();
        }
        h
    }

    fn write_log(intervals: &[&Histogram<u64>]) -> Vec<u8> {
        let mut buf = Vec::new();
        {
            let mut ser = V2DeflateSerializer::new();
            let mut w = IntervalLogWriterBuilder::new()
                .add_comment("test")
                .with_max_value_divisor(1_000_000.0)
                .begin_log_with(&mut buf, &mut ser)
                .unwrap();
            for (i, h) in intervals.iter().enumerate() {
                w.write_histogram(
                    *h,
                    std::time::Duration::from_secs(i as u64),
                    std::time::Duration::from_secs(1),
                    Tag::new("publish_ack"),
                )
                .unwrap();
            }
        }
        buf
    }

    #[test]
    fn load_histogram_sums_all_intervals() {
        let a = hist((1..=1000u64).map(|v| v * 1000));
        // The second interval reaches far beyond the first one's values.
        let b = hist((1..=500u64).map(|v| v * 7_000_000));
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("l.hlog"), write_log(&[&a, &b])).unwrap();
        let report_json = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/recorded/20261127T115747Z-single-sync-none/result.json"
        ))
        .unwrap();
        let mut report: Report = serde_json::from_str(&report_json).unwrap();
        report
            .files
            .insert("latency_publish_ack".into(), "l.hlog".into());
        let merged = load_histogram(d.path(), &report, LatencyKind::PublishAck)
            .unwrap()
            .expect("a histogram");
        let mut sum = a.clone();
        sum.auto(true);
        sum.add(&b).unwrap();
        assert_eq!(merged.len(), 1500);
        assert_eq!(merged, sum);
        assert_eq!(merged.max(), sum.max());
        // One interval alone is that interval.
        std::fs::write(d.path().join("l.hlog"), write_log(&[&a])).unwrap();
        let one = load_histogram(d.path(), &report, LatencyKind::PublishAck)
            .unwrap()
            .unwrap();
        assert_eq!(one, a);
        // Not named in the report, or missing: no histogram, no error.
        assert!(load_histogram(d.path(), &report, LatencyKind::SendDelay)
            .unwrap()
            .is_none());
        std::fs::remove_file(d.path().join("l.hlog")).unwrap();
        assert!(load_histogram(d.path(), &report, LatencyKind::PublishAck)
            .unwrap()
            .is_none());
        // Garbage is an error that names the file.
        std::fs::write(d.path().join("l.hlog"), "Tag=x,0.0,1.0,1.0,!!!\n").unwrap();
        let e = load_histogram(d.path(), &report, LatencyKind::PublishAck).unwrap_err();
        assert!(e.to_string().contains("l.hlog"), "{e}");
    }

    #[test]
    fn base64_round_trip() {
        // "Man" → "TWFu", "Ma" → "TWE=", "M" → "TQ=="
        assert_eq!(base64_decode("TWFu").unwrap(), b"Man");
        assert_eq!(base64_decode("TWE=").unwrap(), b"Ma");
        assert_eq!(base64_decode("TQ==").unwrap(), b"M");
        assert!(base64_decode("T*").is_err());
    }

    #[test]
    fn hlog_is_written() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("l.hlog");
        let mut log = LatencyLog::new(std::time::Duration::from_secs(1));
        log.record(0, 1500);
        log.record(10, 2500);
        log.record(2_500_000_000, 7000);
        log.finish();
        write_hlog(
            &p,
            &log,
            LatencyKind::PublishAck,
            std::time::SystemTime::now(),
        )
        .unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.contains("#[StartTime:"), "{text}");
        assert_eq!(text.matches("Tag=publish_ack,").count(), 2, "{text}");

        // Read back with HdrHistogram's own log reader: two intervals, 0 s and 2 s, 3 values.
        use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
        use hdrhistogram::serialization::Deserializer;
        let bytes = std::fs::read(&p).unwrap();
        let mut de = Deserializer::new();
        let mut starts = Vec::new();
        let mut total = 0;
        for e in IntervalLogIterator::new(&bytes) {
            if let LogEntry::Interval(ih) = e.unwrap() {
                starts.push(ih.start_timestamp().as_secs());
                let raw = base64_decode(ih.encoded_histogram()).unwrap();
                let h: Histogram<u64> = de.deserialize(&mut &raw[..]).unwrap();
                total += h.len();
            }
        }
        assert_eq!(starts, vec![0, 2]);
        assert_eq!(total, 3);
    }
}
