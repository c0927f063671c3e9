//! The namespace the fault filesystem tracks: one node per inode it has seen, with where it is
//! now (its live link) and where it was last made durable (its durable link), plus its undo log.
//! The rules for what makes a link durable are in the `mod.rs` header; `make_durable` is where
//! they are enforced.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fs::{File, Metadata};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::undo::{spill_path, UndoLog};

/// The FUSE inode number of the mount's root.
pub(crate) const ROOT: u64 = 1;

/// A directory entry: parent inode and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Slot {
    pub parent: u64,
    pub name: OsString,
}

impl Slot {
    pub fn new(parent: u64, name: &OsStr) -> Slot {
        Slot {
            parent,
            name: name.to_owned(),
        }
    }
}

/// Where an inode is in the backing dir now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Link {
    /// Linked at this entry.
    Live(Slot),
    /// Unlinked (or replaced by a rename) while its unlink is not durable: kept in the trash.
    Trash,
    /// Parked in the staging dir during a power loss.
    Staged,
}

#[derive(Debug)]
pub(crate) struct Node {
    pub is_dir: bool,
    pub link: Link,
    /// The entry that survives a power loss; None for an inode created since it was last made
    /// durable (it vanishes at power loss).
    pub durable: Option<Slot>,
    /// Regular files only.
    pub undo: Option<UndoLog>,
    backing_id: (u64, u64),
}

/// An open file of the mounted filesystem.
#[derive(Debug)]
pub(crate) struct Handle {
    pub ino: u64,
    pub file: Arc<File>,
    /// Opened with O_SYNC or O_DSYNC: every write is followed by a sync.
    pub sync_writes: bool,
}

#[derive(Debug)]
pub(crate) struct State {
    pub backing: PathBuf,
    pub trash: PathBuf,
    pub stage: PathBuf,
    pub undo_dir: PathBuf,
    pub nodes: HashMap<u64, Node>,
    by_backing: HashMap<(u64, u64), u64>,
    durable_slots: HashMap<Slot, u64>,
    next_ino: u64,
    pub handles: HashMap<u64, Handle>,
    pub dir_listings: HashMap<u64, Vec<(OsString, bool)>>,
    next_fh: u64,
}

fn backing_id(meta: &Metadata) -> (u64, u64) {
    (meta.dev(), meta.ino())
}

impl State {
    pub fn new(backing: PathBuf, hidden: &Path, root_meta: &Metadata) -> State {
        let mut nodes = HashMap::new();
        let root = Node {
            is_dir: true,
            link: Link::Live(Slot::new(0, OsStr::new(""))),
            durable: Some(Slot::new(0, OsStr::new(""))),
            undo: None,
            backing_id: backing_id(root_meta),
        };
        nodes.insert(ROOT, root);
        State {
            backing,
            trash: hidden.join("trash"),
            stage: hidden.join("stage"),
            undo_dir: hidden.join("undo"),
            nodes,
            by_backing: HashMap::from([(backing_id(root_meta), ROOT)]),
            durable_slots: HashMap::new(),
            next_ino: ROOT + 1,
            handles: HashMap::new(),
            dir_listings: HashMap::new(),
            next_fh: 1,
        }
    }

    pub fn next_fh(&mut self) -> u64 {
        self.next_fh += 1;
        self.next_fh
    }

    /// The backing path of an inode now, if it has one.
    pub fn path(&self, ino: u64) -> Option<PathBuf> {
        if ino == ROOT {
            return Some(self.backing.clone());
        }
        match &self.nodes.get(&ino)?.link {
            Link::Live(slot) => Some(self.path(slot.parent)?.join(&slot.name)),
            Link::Trash => Some(self.trash.join(ino.to_string())),
            Link::Staged => Some(self.stage.join(ino.to_string())),
        }
    }

    pub fn path_or_enoent(&self, ino: u64) -> io::Result<PathBuf> {
        self.path(ino)
            .ok_or_else(|| io::Error::from_raw_os_error(libc::ENOENT))
    }

    /// Relative to the backing dir, through live links (for reports).
    pub fn live_rel(&self, ino: u64) -> Option<PathBuf> {
        self.path(ino)?
            .strip_prefix(&self.backing)
            .ok()
            .map(Path::to_path_buf)
    }

    /// The inode at `parent/name` in the backing dir, tracking it if it is new to us. An entry
    /// we have not seen was there before the mount (everything since went through us), so it
    /// starts durable and clean.
    pub fn lookup(&mut self, parent: u64, name: &OsStr) -> io::Result<(u64, Metadata)> {
        let path = self.path_or_enoent(parent)?.join(name);
        let meta = std::fs::symlink_metadata(&path)?;
        let slot = Slot::new(parent, name);
        if let Some(&ino) = self.by_backing.get(&backing_id(&meta)) {
            if let Some(node) = self.nodes.get_mut(&ino) {
                node.link = Link::Live(slot);
            }
            return Ok((ino, meta));
        }
        let durable = (!self.durable_slots.contains_key(&slot)).then(|| slot.clone());
        let ino = self.track(slot, &meta, durable);
        Ok((ino, meta))
    }

    /// Starts tracking an inode just created at `slot` (not durable yet).
    pub fn created(&mut self, slot: Slot, meta: &Metadata) -> u64 {
        if let Some(&ino) = self.by_backing.get(&backing_id(meta)) {
            return ino;
        }
        self.track(slot, meta, None)
    }

    fn track(&mut self, slot: Slot, meta: &Metadata, durable: Option<Slot>) -> u64 {
        let ino = self.next_ino;
        self.next_ino += 1;
        let undo = meta
            .is_file()
            .then(|| UndoLog::new(meta.len(), spill_path(&self.undo_dir, ino)));
        if let Some(d) = &durable {
            self.durable_slots.insert(d.clone(), ino);
        }
        let node = Node {
            is_dir: meta.is_dir(),
            link: Link::Live(slot),
            durable,
            undo,
            backing_id: backing_id(meta),
        };
        self.by_backing.insert(node.backing_id, ino);
        self.nodes.insert(ino, node);
        ino
    }

    /// Makes an inode's current entry durable, and the entries of the directories above it
    /// (the path to it must survive for it to). An inode in the trash: its unlink becomes
    /// durable, so it goes for good. Whoever held the entry durably before has left it, and
    /// that departure is durable too (a rename or unlink committed before this one).
    pub fn make_durable(&mut self, ino: u64) {
        if ino == ROOT {
            return;
        }
        let Some(node) = self.nodes.get(&ino) else {
            return;
        };
        match node.link.clone() {
            Link::Live(slot) => {
                self.make_durable(slot.parent);
                let node = self.nodes.get_mut(&ino).expect("present");
                if node.durable.as_ref() == Some(&slot) {
                    return;
                }
                if let Some(old) = node.durable.replace(slot.clone()) {
                    self.durable_slots.remove(&old);
                }
                if let Some(prev) = self.durable_slots.insert(slot, ino) {
                    if prev != ino {
                        self.departed(prev);
                    }
                }
            }
            Link::Trash => self.remove_for_good(ino),
            Link::Staged => {}
        }
    }

    /// `ino` lost its durable entry to another inode.
    fn departed(&mut self, ino: u64) {
        let Some(node) = self.nodes.get_mut(&ino) else {
            return;
        };
        node.durable = None;
        match node.link {
            Link::Live(_) => self.make_durable(ino),
            Link::Trash => self.remove_for_good(ino),
            Link::Staged => {}
        }
    }

    /// Deletes an inode's backing entry (best effort: open handles keep working on Linux) and
    /// forgets the inode: the kernel may still name it, and then finds nothing (ENOENT).
    pub fn remove_for_good(&mut self, ino: u64) {
        let path = self.path(ino);
        let Some(mut node) = self.nodes.remove(&ino) else {
            return;
        };
        if let Some(slot) = node.durable.take() {
            self.durable_slots.remove(&slot);
        }
        if let Some(undo) = node.undo.as_mut() {
            undo.discard();
        }
        self.by_backing.remove(&node.backing_id);
        if let Some(path) = path {
            let _ = if node.is_dir {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
        }
    }

    /// fsync/fdatasync of a file, or a write through an O_SYNC handle: its data up to `len`
    /// and its entry become durable.
    pub fn sync_file(&mut self, ino: u64, len: u64) {
        self.make_durable(ino);
        if let Some(undo) = self.nodes.get_mut(&ino).and_then(|n| n.undo.as_mut()) {
            undo.synced(len);
        }
    }

    /// fsync of a directory: the directory's own entry, every entry in it, and every entry
    /// that left it (unlinks become final, renames out of it durable).
    pub fn sync_dir(&mut self, dir: u64) {
        self.make_durable(dir);
        let touched: Vec<u64> = self
            .nodes
            .iter()
            .filter(|(_, n)| {
                matches!(&n.link, Link::Live(s) if s.parent == dir)
                    || n.durable.as_ref().is_some_and(|s| s.parent == dir)
            })
            .map(|(&ino, _)| ino)
            .collect();
        for ino in touched {
            self.make_durable(ino);
        }
    }

    /// sync(2): everything written and every entry becomes durable (what the kernel's
    /// writeback and a journal commit do on their own within seconds on a real machine).
    pub fn sync_everything(&mut self) -> io::Result<()> {
        let mut inos: Vec<u64> = self.nodes.keys().copied().collect();
        inos.sort_unstable();
        for &ino in &inos {
            self.make_durable(ino);
        }
        for ino in inos {
            let Some(path) = self.path(ino) else { continue };
            if let Some(undo) = self.nodes.get_mut(&ino).and_then(|n| n.undo.as_mut()) {
                undo.synced(std::fs::symlink_metadata(&path)?.len());
            }
        }
        Ok(())
    }

    /// Takes an inode out of the namespace (unlink, rmdir, or replaced by a rename): a durable
    /// one goes to the trash so a power loss can bring it back, a never-durable one is deleted.
    pub fn detach(&mut self, ino: u64) -> io::Result<()> {
        let path = self.path_or_enoent(ino)?;
        let node = self.nodes.get(&ino).expect("has a path");
        if node.durable.is_none() {
            self.remove_for_good(ino);
            return Ok(());
        }
        std::fs::rename(&path, self.trash.join(ino.to_string()))?;
        self.nodes.get_mut(&ino).expect("present").link = Link::Trash;
        Ok(())
    }

    /// Brings a detached inode back to `slot` (a rename that failed after its target was
    /// detached).
    pub fn reattach(&mut self, ino: u64, slot: Slot) -> io::Result<()> {
        let from = self.path_or_enoent(ino)?;
        let to = self.path_or_enoent(slot.parent)?.join(&slot.name);
        std::fs::rename(from, to)?;
        self.nodes.get_mut(&ino).expect("present").link = Link::Live(slot);
        Ok(())
    }

    pub fn relink(&mut self, ino: u64, link: Link) {
        if let Some(node) = self.nodes.get_mut(&ino) {
            node.link = link;
        }
    }

    /// The tracked inode whose backing file is `meta` (a file found by walking the backing
    /// dir), if any.
    pub fn ino_of(&self, meta: &Metadata) -> Option<u64> {
        self.by_backing.get(&backing_id(meta)).copied()
    }

    /// Whether the inode's durable entry chain reaches the root (it survives a power loss).
    pub fn survives(&self, ino: u64) -> bool {
        let mut at = ino;
        for _ in 0..=self.nodes.len() {
            if at == ROOT {
                return true;
            }
            match self.nodes.get(&at).and_then(|n| n.durable.as_ref()) {
                Some(slot) => at = slot.parent,
                None => return false,
            }
        }
        false
    }

    /// Depth in the durable tree (root = 0), for restoring parents before children.
    pub fn durable_depth(&self, ino: u64) -> usize {
        let mut depth = 0;
        let mut at = ino;
        while at != ROOT && depth <= self.nodes.len() {
            match self.nodes.get(&at).and_then(|n| n.durable.as_ref()) {
                Some(slot) => at = slot.parent,
                None => break,
            }
            depth += 1;
        }
        depth
    }
}
