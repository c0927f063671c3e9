//! `[expect]`: the claims are used as written; this checks that each can be judged. What each
//! claim needs, and what to write instead of a boolean claim set to `false`, comes from the
//! table of claims as written (`scenario::CLAIMS`), so a new claim needs no edit here.

use crate::scenario::error::Checker;
use crate::scenario::{Expect, Needs, Written, CLAIMS};

/// `read_back`: claims about storage need the stream read back. `consume`: claims about
/// processing need a `[consume]` section.
/// `cluster`: claims about leaders and replicas need a cluster jsbench starts.
pub(super) fn validate(c: &mut Checker, e: &Expect, read_back: bool, consume: bool, cluster: bool) {
    // A boolean claim set to false would claim nothing; say what to write instead.
    for d in CLAIMS {
        if let (Some(Written::Bool(false)), Some((instead, what))) = ((d.written)(e), d.opposite) {
            c.err(
                &format!("expect.{}", d.name),
                format!(
                    "`false` claims nothing: remove the line, or write {instead} = \"some\" to claim that {what}"
                ),
            );
        }
    }
    let needing = |need: Needs| -> Vec<&str> {
        CLAIMS
            .iter()
            .filter(|d| d.needs == need && (d.written)(e).is_some())
            .map(|d| d.name)
            .collect()
    };
    let read_back_claims = needing(Needs::ReadBack);
    if !read_back && !read_back_claims.is_empty() {
        c.err(
            "expect",
            format!(
                "{} need observe.read_back = true",
                read_back_claims.join(", ")
            ),
        );
    }
    let cluster_claims = needing(Needs::Cluster);
    if !cluster && !cluster_claims.is_empty() {
        c.err(
            "expect",
            format!(
                "{} need a cluster jsbench starts: set server.nodes = 3",
                cluster_claims.join(", ")
            ),
        );
    }
    let consume_claims = needing(Needs::Consume);
    if !consume && !consume_claims.is_empty() {
        c.err(
            "expect",
            format!("{} need a [consume] section", consume_claims.join(", ")),
        );
    }
}
