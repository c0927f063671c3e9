//! The files of one kind in a backing dir, for the faults that pick among them (bit flips,
//! truncation) and for `Mount::files`.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::error::FaultFsError;
use super::kind::FileKind;
use super::HIDDEN_DIR;

/// One file of a kind in the backing dir.
#[derive(Debug, Clone)]
pub(crate) struct KindFile {
    /// Relative to the backing dir.
    pub rel: PathBuf,
    pub len: u64,
    pub modified: SystemTime,
}

/// Every regular file of `kind` under `backing` (not following symlinks, skipping the hidden
/// area), sorted by relative path so that seeded choices are reproducible.
pub(crate) fn list_kind(backing: &Path, kind: FileKind) -> Result<Vec<KindFile>, FaultFsError> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(dir_rel) = stack.pop() {
        let dir = backing.join(&dir_rel);
        let entries = std::fs::read_dir(&dir).map_err(FaultFsError::io("list", &dir))?;
        for entry in entries {
            let entry = entry.map_err(FaultFsError::io("list", &dir))?;
            let rel = dir_rel.join(entry.file_name());
            if rel.as_os_str() == HIDDEN_DIR {
                continue;
            }
            let meta = entry
                .metadata()
                .map_err(FaultFsError::io("stat", backing.join(&rel)))?;
            if meta.is_dir() {
                stack.push(rel);
            } else if meta.is_file() && kind.matches(&rel) {
                let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
                out.push(KindFile {
                    rel,
                    len: meta.len(),
                    modified,
                });
            }
        }
    }
    out.sort_by(|a, b| a.rel.cmp(&b.rel));
    Ok(out)
}
