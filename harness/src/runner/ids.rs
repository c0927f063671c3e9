//! Names a run gives itself: its id (also in every message's `Jsb-Run`), its UTC stamps, its
//! result directory and its stream.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::result::load;

/// The compact stamp for directory names (`20270115T080000Z`, [`load::utc_stamp`]) and the
/// RFC 3339 one for reports.
pub(crate) fn utc_stamp(t: SystemTime) -> (String, String) {
    let iso = time::OffsetDateTime::from(t)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    (load::utc_stamp(t), iso)
}

/// Eight hex digits, different for runs started a nanosecond apart or by two processes.
pub(crate) fn new_run_id(t: SystemTime) -> String {
    let nanos = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mut x = nanos ^ ((std::process::id() as u64) << 32);
    // splitmix64: spread the bits so ids of close runs differ everywhere.
    x = x.wrapping_add(0x9E3779B97F4A7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58476D1CE4E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D049BB133111EB);
    format!("{:08x}", (x ^ (x >> 31)) as u32)
}

/// `<root>/<stamp>-<name>`, with `-2`, `-3`, … when that exists already.
pub(crate) fn result_dir(root: &Path, stamp: &str, name: &str) -> PathBuf {
    let base = root.join(format!("{stamp}-{name}"));
    let mut dir = base.clone();
    let mut n = 2;
    while dir.exists() {
        dir = PathBuf::from(format!("{}-{n}", base.display()));
        n += 1;
    }
    dir
}

/// Stream names may not contain '.', '*', '>' or whitespace; keep them short and recognisable.
pub(crate) fn stream_name(scenario: &str, run_id: &str) -> String {
    let s: String = scenario
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    format!("JSB_{s}_{run_id}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn names() {
        assert_eq!(stream_name("rr-async.x", "ab12"), "JSB_RR_ASYNC_X_ab12");
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        assert_eq!(utc_stamp(t).0, "20270115T080000Z");
        assert_eq!(utc_stamp(t).1, "2027-01-15T08:00:00Z");
        assert_ne!(new_run_id(t), new_run_id(t + Duration::from_nanos(1)));
    }
}
