//! Kinds of nats-server store files, by path (the table is in the `mod.rs` header); listing a
//! backing directory by kind is `listing.rs`.

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// A kind of file in a nats-server 2.15 JetStream store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileKind {
    /// Message blocks `msgs/<n>.blk`: stream messages, and the raft log of clustered groups.
    Blocks,
    /// The stream state snapshot `msgs/index.db` (and legacy per-block `msgs/<n>.idx`).
    Index,
    /// Raft snapshots `snapshots/snap.<term>.<index>` of clustered groups.
    Snapshot,
    /// Configuration of streams, consumers and raft groups: `meta.inf`, `meta.sum`, `meta.key`.
    Meta,
    /// Consumer state `obs/<consumer>/o.dat`.
    ConsumerState,
    /// Raft election state: `peers.idx`, `tav.idx`, and the meta group's `commit.idx`.
    RaftState,
}

impl FileKind {
    pub const ALL: [FileKind; 6] = [
        FileKind::Blocks,
        FileKind::Index,
        FileKind::Snapshot,
        FileKind::Meta,
        FileKind::ConsumerState,
        FileKind::RaftState,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FileKind::Blocks => "blocks",
            FileKind::Index => "index",
            FileKind::Snapshot => "snapshot",
            FileKind::Meta => "meta",
            FileKind::ConsumerState => "consumer_state",
            FileKind::RaftState => "raft_state",
        }
    }

    /// Whether a store-relative path is a file of this kind (by its name and parent dirs only).
    pub fn matches(self, rel: &Path) -> bool {
        fn name(p: Option<&Path>) -> Option<&str> {
            p.and_then(Path::file_name).and_then(|n| n.to_str())
        }
        let Some(file) = name(Some(rel)) else {
            return false;
        };
        let parent = name(rel.parent());
        let numbered = |suffix: &str| {
            file.strip_suffix(suffix)
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        };
        match self {
            FileKind::Blocks => parent == Some("msgs") && numbered(".blk"),
            FileKind::Index => parent == Some("msgs") && (file == "index.db" || numbered(".idx")),
            FileKind::Snapshot => parent == Some("snapshots") && file.starts_with("snap."),
            FileKind::Meta => matches!(file, "meta.inf" | "meta.sum" | "meta.key"),
            FileKind::ConsumerState => {
                file == "o.dat" && name(rel.parent().and_then(Path::parent)) == Some("obs")
            }
            FileKind::RaftState => matches!(file, "peers.idx" | "tav.idx" | "commit.idx"),
        }
    }
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds_of(p: &str) -> Vec<FileKind> {
        FileKind::ALL
            .into_iter()
            .filter(|k| k.matches(Path::new(p)))
            .collect()
    }

    #[test]
    fn store_paths_have_one_kind_each() {
        use FileKind::*;
        let cases = [
            ("jetstream/$G/streams/S/msgs/1.blk", vec![Blocks]),
            ("jetstream/$SYS/_js_/S-R3F-x/msgs/12.blk", vec![Blocks]),
            ("jetstream/$G/streams/S/msgs/index.db", vec![Index]),
            ("jetstream/$G/streams/S/msgs/3.idx", vec![Index]),
            (
                "jetstream/$SYS/_js_/_meta_/snapshots/snap.1.5",
                vec![Snapshot],
            ),
            ("jetstream/$G/streams/S/meta.inf", vec![Meta]),
            ("jetstream/$G/streams/S/obs/C/meta.sum", vec![Meta]),
            ("jetstream/$G/streams/S/obs/C/o.dat", vec![ConsumerState]),
            ("jetstream/$SYS/_js_/_meta_/peers.idx", vec![RaftState]),
            ("jetstream/$SYS/_js_/_meta_/commit.idx", vec![RaftState]),
            ("jetstream/$G/streams/S/msgs/1.blk.tmp", vec![]),
            ("jetstream/$G/streams/S/msgs/x.blk", vec![]),
            ("jetstream/$G/streams/S/meta.inf.tmp", vec![]),
        ];
        for (path, want) in cases {
            assert_eq!(kinds_of(path), want, "{path}");
        }
    }
}
