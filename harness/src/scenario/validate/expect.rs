//! `[expect]`: the claims are used as written; this checks that each can be judged.

use crate::scenario::error::Checker;
use crate::scenario::Expect;

/// `read_back`: claims about storage need the stream read back. `consume`: claims about
/// processing need a `[consume]` section.
pub(super) fn validate(c: &mut Checker, e: &Expect, read_back: bool, consume: bool) {
    // A boolean claim set to false would claim nothing; say what to write instead.
    for (field, value, instead, what) in [
        (
            "no_loss",
            e.no_loss,
            "lost",
            "acknowledged messages are lost",
        ),
        (
            "no_duplicates",
            e.no_duplicates,
            "duplicates",
            "some key+seq is stored twice",
        ),
        (
            "all_acked",
            e.all_acked,
            "unacked",
            "some messages are never acknowledged",
        ),
        (
            "all_processed",
            e.all_processed,
            "unprocessed",
            "some stored messages are never processed",
        ),
    ] {
        if value == Some(false) {
            c.err(
                &format!("expect.{field}"),
                format!(
                    "`false` claims nothing: remove the line, or write {instead} = \"some\" to claim that {what}"
                ),
            );
        }
    }
    if !read_back && (e.no_loss.is_some() || e.no_duplicates.is_some() || e.lost.is_some()) {
        c.err(
            "expect",
            "no_loss, lost and no_duplicates need observe.read_back = true",
        );
    }
    if !consume
        && (e.consume_order.is_some()
            || e.all_processed.is_some()
            || e.unprocessed.is_some()
            || e.redelivered.is_some())
    {
        c.err(
            "expect",
            "consume_order, all_processed, unprocessed and redelivered need a [consume] section",
        );
    }
}
