//! Power loss: the backing dir is put back to its durable state (see the `mod.rs` header), and
//! what was dropped is reported for result.json.

use std::fs::OpenOptions;
use std::path::PathBuf;

use serde::Serialize;

use super::error::FaultFsError;
use super::state::{Link, State};

/// What a power loss dropped.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PowerLossReport {
    /// One entry per file or directory the power loss changed.
    pub entries: Vec<DroppedEntry>,
    /// Unsynced bytes dropped: appends cut, overwrites reverted, and the contents of removed
    /// files.
    pub bytes_dropped: u64,
    /// Files and directories created since they were last made durable, removed.
    pub entries_removed: u64,
    /// Renames and unlinks that were not durable, reverted.
    pub entries_restored: u64,
}

/// What happened to one file or directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DroppedEntry {
    /// Relative to the store: where it is after the power loss, or was (for removed ones).
    pub path: PathBuf,
    pub is_dir: bool,
    pub action: EntryAction,
    /// Unsynced bytes past the durable length (for a removed file: all its bytes).
    pub bytes_truncated: u64,
    /// Overwritten durable bytes written back.
    pub bytes_restored: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum EntryAction {
    /// Stayed where it was; unsynced data dropped.
    DataReverted,
    /// Created (or moved here) since it was last made durable: removed.
    CreatedRemoved,
    /// Renamed since it was last made durable: moved back from `from`.
    RenameReverted { from: PathBuf },
    /// Unlinked (or replaced by a rename) without a durable directory sync: brought back.
    UnlinkReverted,
}

impl State {
    /// Puts the backing dir back to its durable state.
    pub fn power_loss(&mut self) -> Result<PowerLossReport, FaultFsError> {
        std::fs::create_dir_all(&self.stage).map_err(FaultFsError::io("create", &self.stage))?;
        let mut report = PowerLossReport::default();
        let mut inos: Vec<u64> = self.nodes.keys().copied().filter(|&i| i != 1).collect();
        inos.sort_unstable();
        let (mut staged, mut doomed) = (Vec::new(), Vec::new());
        for &ino in &inos {
            let Some(node) = self.nodes.get(&ino) else {
                continue;
            };
            let in_place =
                matches!((&node.link, &node.durable), (Link::Live(l), Some(d)) if l == d);
            if in_place && self.survives(ino) {
                continue;
            }
            if self.survives(ino) {
                staged.push((ino, self.stage_one(ino)?));
            } else if matches!(node.link, Link::Live(_)) {
                doomed.push(ino);
            } else {
                self.remove_for_good(ino);
            }
        }
        self.remove_doomed(&doomed, &mut report);
        self.place_staged(staged, &mut report)?;
        self.revert_data(&inos, &mut report)?;
        report.bytes_dropped = report
            .entries
            .iter()
            .map(|e| e.bytes_truncated + e.bytes_restored)
            .sum();
        Ok(report)
    }

    /// Moves a surviving inode that is not at its durable entry into the staging dir; returns
    /// where it was (None: in the trash).
    fn stage_one(&mut self, ino: u64) -> Result<Option<PathBuf>, FaultFsError> {
        let from = self
            .path_or_enoent(ino)
            .map_err(FaultFsError::io("locate", ""))?;
        let was = match self.nodes[&ino].link {
            Link::Trash => None,
            _ => self.live_rel(ino),
        };
        let to = self.stage.join(ino.to_string());
        std::fs::rename(&from, &to).map_err(FaultFsError::io("stage", &from))?;
        self.relink(ino, Link::Staged);
        Ok(was)
    }

    /// Removes inodes created since they were last made durable (measuring them first: a
    /// doomed directory may hold doomed files).
    fn remove_doomed(&mut self, doomed: &[u64], report: &mut PowerLossReport) {
        let measured: Vec<(u64, PathBuf, bool, u64)> = doomed
            .iter()
            .filter_map(|&ino| {
                let path = self.path(ino)?;
                let meta = std::fs::symlink_metadata(&path).ok()?;
                let size = if meta.is_file() { meta.len() } else { 0 };
                Some((ino, self.live_rel(ino)?, meta.is_dir(), size))
            })
            .collect();
        for (ino, rel, is_dir, size) in measured {
            self.remove_for_good(ino);
            report.entries_removed += 1;
            report.entries.push(DroppedEntry {
                path: rel,
                is_dir,
                action: EntryAction::CreatedRemoved,
                bytes_truncated: size,
                bytes_restored: 0,
            });
        }
    }

    /// Puts staged inodes back at their durable entries, parents first.
    fn place_staged(
        &mut self,
        mut staged: Vec<(u64, Option<PathBuf>)>,
        report: &mut PowerLossReport,
    ) -> Result<(), FaultFsError> {
        staged.sort_by_key(|&(ino, _)| self.durable_depth(ino));
        for (ino, was) in staged {
            let slot = self.nodes[&ino]
                .durable
                .clone()
                .expect("survivors are durable");
            let dir = self
                .path_or_enoent(slot.parent)
                .map_err(FaultFsError::io("locate", ""))?;
            let to = dir.join(&slot.name);
            let from = self.stage.join(ino.to_string());
            std::fs::rename(&from, &to).map_err(FaultFsError::io("restore", &to))?;
            self.relink(ino, Link::Live(slot));
            report.entries_restored += 1;
            report.entries.push(DroppedEntry {
                path: self.live_rel(ino).unwrap_or_default(),
                is_dir: self.nodes[&ino].is_dir,
                action: match was {
                    Some(from) => EntryAction::RenameReverted { from },
                    None => EntryAction::UnlinkReverted,
                },
                bytes_truncated: 0,
                bytes_restored: 0,
            });
        }
        Ok(())
    }

    /// Reverts every surviving file's data to its last sync.
    fn revert_data(
        &mut self,
        inos: &[u64],
        report: &mut PowerLossReport,
    ) -> Result<(), FaultFsError> {
        for &ino in inos {
            let live_file = self
                .nodes
                .get(&ino)
                .is_some_and(|n| n.undo.is_some() && matches!(n.link, Link::Live(_)));
            if !live_file {
                continue;
            }
            let path = self
                .path_or_enoent(ino)
                .map_err(FaultFsError::io("locate", ""))?;
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .open(&path)
                .map_err(FaultFsError::io("open", &path))?;
            let undo = self.nodes.get_mut(&ino).and_then(|n| n.undo.as_mut());
            let restored = undo
                .expect("checked")
                .restore(&file)
                .map_err(FaultFsError::io("revert", &path))?;
            if restored.truncated + restored.restored == 0 {
                continue;
            }
            let rel = self.live_rel(ino).unwrap_or_default();
            let entry = match report.entries.iter_mut().position(|e| e.path == rel) {
                Some(i) => &mut report.entries[i],
                None => {
                    report.entries.push(DroppedEntry {
                        path: rel,
                        is_dir: false,
                        action: EntryAction::DataReverted,
                        bytes_truncated: 0,
                        bytes_restored: 0,
                    });
                    report.entries.last_mut().expect("just pushed")
                }
            };
            entry.bytes_truncated += restored.truncated;
            entry.bytes_restored += restored.restored;
        }
        Ok(())
    }
}
