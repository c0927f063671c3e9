//! The fault filesystem on real FUSE mounts: pass-through, power loss (data and entries, by the
//! durability rule of `faultfs/mod.rs`), bit flips, truncation, latency, unmounting, and the
//! sweep of a mount whose owner was killed. Without FUSE these fail, naming what is missing.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use jsbench::faultfs::{
    sweep_stale_mounts, EntryAction, FaultFs, FaultFsError, FaultFsOptions, FileKind, Mount,
    TruncateAmount,
};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

struct Rig {
    dir: tempfile::TempDir,
    mount: Mount,
}

impl Rig {
    fn backing(&self) -> PathBuf {
        self.dir.path().join("backing")
    }
    fn mnt(&self, rel: &str) -> PathBuf {
        self.mount.mountpoint().join(rel)
    }
}

fn mount_on(dir: &Path) -> Mount {
    let (backing, mnt) = (dir.join("backing"), dir.join("mnt"));
    fs::create_dir_all(&backing).unwrap();
    fs::create_dir_all(&mnt).unwrap();
    FaultFs::mount(&backing, &mnt, &FaultFsOptions::within(dir))
        .unwrap_or_else(|e| panic!("the faultfs tests need a working FUSE mount: {e}"))
}

/// A mount whose backing dir holds `files` (relative path, content) before mounting: they
/// are durable.
fn rig(files: &[(&str, &[u8])]) -> Rig {
    let dir = tempfile::tempdir().unwrap();
    for (rel, content) in files {
        let path = dir.path().join("backing").join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, content).unwrap();
    }
    let mount = mount_on(dir.path());
    Rig { dir, mount }
}

fn mounted(mountpoint: &Path) -> bool {
    let want = mountpoint
        .canonicalize()
        .unwrap_or(mountpoint.to_path_buf());
    fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .any(|l| l.split(' ').nth(4) == Some(want.to_str().unwrap()))
}

fn rw(path: &Path) -> File {
    OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap()
}

fn sync_dir(path: &Path) {
    File::open(path).unwrap().sync_all().unwrap();
}

#[test]
fn passes_everything_through() {
    let r = rig(&[("old.txt", b"hello")]);
    fs::create_dir(r.mnt("d")).unwrap();
    let mut f = File::create(r.mnt("d/a")).unwrap();
    f.write_all(b"0123456789").unwrap();
    f.write_all_at(b"XY", 3).unwrap();
    f.sync_data().unwrap();
    f.set_len(8).unwrap();
    f.sync_all().unwrap();
    drop(f);
    assert_eq!(fs::read(r.mnt("d/a")).unwrap(), b"012XY567");
    assert_eq!(fs::read(r.backing().join("d/a")).unwrap(), b"012XY567");
    let mut s = String::new();
    File::open(r.mnt("old.txt"))
        .unwrap()
        .read_to_string(&mut s)
        .unwrap();
    assert_eq!(s, "hello");
    fs::rename(r.mnt("d/a"), r.mnt("b")).unwrap();
    assert!(r.backing().join("b").is_file() && !r.backing().join("d/a").exists());
    fs::remove_file(r.mnt("old.txt")).unwrap();
    assert!(!r.mnt("old.txt").exists() && !r.backing().join("old.txt").exists());
    let mut names: Vec<_> = fs::read_dir(r.mount.mountpoint())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["b", "d"], "the hidden area stays hidden");
    fs::remove_dir(r.mnt("d")).unwrap();
    assert_eq!(fs::metadata(r.mnt("b")).unwrap().len(), 8);
}

#[test]
fn power_loss_drops_unsynced_data_and_keeps_synced_data() {
    let r = rig(&[("durable", b"AAAAAAAAAA"), ("synced", b"")]);
    let f = rw(&r.mnt("durable"));
    f.write_all_at(b"bb", 2).unwrap();
    f.write_all_at(b"appended", 10).unwrap();
    let g = rw(&r.mnt("synced"));
    g.write_all_at(b"kept", 0).unwrap();
    g.sync_data().unwrap();
    g.write_all_at(b"lost", 4).unwrap();
    g.write_all_at(b"K", 0).unwrap();
    drop((f, g));
    let report = r.mount.power_loss().unwrap();
    assert_eq!(fs::read(r.mnt("durable")).unwrap(), b"AAAAAAAAAA");
    assert_eq!(fs::read(r.mnt("synced")).unwrap(), b"kept");
    let entry = |p: &str| {
        report
            .entries
            .iter()
            .find(|e| e.path == Path::new(p))
            .unwrap()
    };
    assert_eq!(
        (
            entry("durable").bytes_truncated,
            entry("durable").bytes_restored
        ),
        (8, 2)
    );
    assert_eq!(
        (
            entry("synced").bytes_truncated,
            entry("synced").bytes_restored
        ),
        (4, 1)
    );
    assert_eq!(report.bytes_dropped, 15);
    assert_eq!(entry("synced").action, EntryAction::DataReverted);
}

#[test]
fn power_loss_follows_the_entry_durability_rule() {
    let r = rig(&[("dir/keep", b"k"), ("dir/gone", b"g"), ("moved", b"m")]);
    fs::write(r.mnt("new-unsynced"), b"x").unwrap();
    let f = File::create(r.mnt("new-fsynced")).unwrap();
    f.write_all_at(b"data", 0).unwrap();
    f.sync_all().unwrap();
    fs::create_dir_all(r.mnt("a/b")).unwrap();
    let g = File::create(r.mnt("a/b/deep")).unwrap();
    g.write_all_at(b"deep", 0).unwrap();
    g.sync_data().unwrap();
    fs::write(r.mnt("dir/new-dirsynced"), b"unsynced data").unwrap();
    fs::remove_file(r.mnt("dir/gone")).unwrap();
    sync_dir(&r.mnt("dir"));
    fs::remove_file(r.mnt("dir/keep")).unwrap();
    fs::rename(r.mnt("moved"), r.mnt("renamed")).unwrap();
    drop((f, g));

    let report = r.mount.power_loss().unwrap();
    let exists = |p: &str| r.mnt(p).exists();
    assert!(!exists("new-unsynced"), "created, never synced: removed");
    assert_eq!(
        fs::read(r.mnt("new-fsynced")).unwrap(),
        b"data",
        "fsync keeps its entry"
    );
    assert_eq!(
        fs::read(r.mnt("a/b/deep")).unwrap(),
        b"deep",
        "and its parents'"
    );
    assert_eq!(
        fs::read(r.mnt("dir/new-dirsynced")).unwrap(),
        b"",
        "entry kept, data not"
    );
    assert!(!exists("dir/gone"), "unlink made durable by the dir fsync");
    assert_eq!(
        fs::read(r.mnt("dir/keep")).unwrap(),
        b"k",
        "unsynced unlink reverted"
    );
    assert!(
        exists("moved") && !exists("renamed"),
        "unsynced rename reverted"
    );
    let action = |p: &str| {
        &report
            .entries
            .iter()
            .find(|e| e.path == Path::new(p))
            .unwrap()
            .action
    };
    assert_eq!(action("new-unsynced"), &EntryAction::CreatedRemoved);
    assert_eq!(action("dir/keep"), &EntryAction::UnlinkReverted);
    assert_eq!(
        action("moved"),
        &EntryAction::RenameReverted {
            from: "renamed".into()
        }
    );
    assert_eq!(report.entries_removed, 1);
    assert_eq!(report.entries_restored, 2);
}

#[test]
fn directory_renames_carry_their_children_and_revert_together() {
    // nats-server's purge: msgs → __msgs__, a new msgs with a new block, old one removed.
    let files: &[(&str, &[u8])] = &[("a/msgs/1.blk", b"old-a"), ("b/msgs/1.blk", b"old-b")];
    let r = rig(files);
    for dir in ["a", "b"] {
        fs::rename(
            r.mnt(&format!("{dir}/msgs")),
            r.mnt(&format!("{dir}/__msgs__")),
        )
        .unwrap();
        fs::create_dir(r.mnt(&format!("{dir}/msgs"))).unwrap();
        fs::write(r.mnt(&format!("{dir}/msgs/1.blk")), b"new").unwrap();
    }
    // In a/ the new block is fsynced: its entry, the new msgs dir, and (to make room) the
    // rename of the old msgs dir become durable. Nothing in b/ is synced.
    File::open(r.mnt("a/msgs/1.blk"))
        .unwrap()
        .sync_all()
        .unwrap();
    r.mount.power_loss().unwrap();
    assert_eq!(fs::read(r.mnt("a/msgs/1.blk")).unwrap(), b"new");
    assert_eq!(fs::read(r.mnt("a/__msgs__/1.blk")).unwrap(), b"old-a");
    assert_eq!(fs::read(r.mnt("b/msgs/1.blk")).unwrap(), b"old-b");
    assert!(!r.mnt("b/__msgs__").exists());
}

#[test]
fn a_checkpoint_makes_everything_so_far_durable() {
    let r = rig(&[("old", b"0123")]);
    fs::create_dir(r.mnt("d")).unwrap();
    fs::write(r.mnt("d/new"), b"new").unwrap();
    rw(&r.mnt("old")).write_all_at(b"AB", 1).unwrap();
    fs::write(r.mnt("gone"), b"x").unwrap();
    fs::remove_file(r.mnt("gone")).unwrap();
    r.mount.checkpoint().unwrap();
    fs::write(r.mnt("d/later"), b"later").unwrap();
    let report = r.mount.power_loss().unwrap();
    assert_eq!(fs::read(r.mnt("d/new")).unwrap(), b"new");
    assert_eq!(fs::read(r.mnt("old")).unwrap(), b"0AB3");
    assert!(!r.mnt("d/later").exists() && !r.mnt("gone").exists());
    assert_eq!(report.entries.len(), 1, "{report:?}");
}

#[test]
fn atomic_replace_is_durable_only_with_its_directory_sync() {
    // nats-server's writeAtomically: write tmp (O_SYNC), rename over the target, fsync dir.
    let r = rig(&[("s/meta.inf", b"v1"), ("t/meta.inf", b"v1")]);
    for (dir, sync) in [("s", true), ("t", false)] {
        let tmp = r.mnt(&format!("{dir}/meta.inf.tmp"));
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .custom_flags_sync()
            .open(&tmp)
            .unwrap();
        f.write_all(b"v2").unwrap();
        drop(f);
        fs::rename(&tmp, r.mnt(&format!("{dir}/meta.inf"))).unwrap();
        if sync {
            sync_dir(&r.mnt(dir));
        }
    }
    r.mount.power_loss().unwrap();
    assert_eq!(fs::read(r.mnt("s/meta.inf")).unwrap(), b"v2");
    // The O_SYNC write made the tmp file's own entry durable, not the rename over meta.inf.
    assert_eq!(fs::read(r.mnt("t/meta.inf")).unwrap(), b"v1");
    assert_eq!(fs::read(r.mnt("t/meta.inf.tmp")).unwrap(), b"v2");
}

trait SyncOpen {
    fn custom_flags_sync(&mut self) -> &mut Self;
}

impl SyncOpen for OpenOptions {
    fn custom_flags_sync(&mut self) -> &mut Self {
        std::os::unix::fs::OpenOptionsExt::custom_flags(self, libc::O_SYNC)
    }
}

fn blocks(seed: u8) -> Vec<(String, Vec<u8>)> {
    (1..=3)
        .map(|i| {
            let content: Vec<u8> = (0..4096u32).map(|b| (b as u8) ^ seed ^ i).collect();
            (format!("jetstream/$G/streams/S/msgs/{i}.blk"), content)
        })
        .collect()
}

fn rig_with(files: &[(String, Vec<u8>)]) -> Rig {
    let refs: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_slice()))
        .collect();
    rig(&refs)
}

#[test]
fn corrupt_flips_exactly_the_reported_bits_reproducibly() {
    let mut files = blocks(0);
    files.push(("jetstream/$G/streams/S/meta.inf".into(), b"{}".to_vec()));
    let (a, b) = (rig_with(&files), rig_with(&files));
    let report = a
        .mount
        .corrupt(FileKind::Blocks, 20, &mut ChaCha8Rng::seed_from_u64(7))
        .unwrap();
    let again = b
        .mount
        .corrupt(FileKind::Blocks, 20, &mut ChaCha8Rng::seed_from_u64(7))
        .unwrap();
    assert_eq!(report, again, "same seed, same files: same flips");
    assert_eq!(report.flips.len(), 20);
    for (rel, before) in &files {
        let after = fs::read(a.mnt(rel)).unwrap();
        let mut expected = before.clone();
        for flip in report.flips.iter().filter(|f| f.file == Path::new(rel)) {
            assert_eq!(expected[flip.offset as usize], flip.before);
            expected[flip.offset as usize] ^= 1 << flip.bit;
            assert_eq!(expected[flip.offset as usize], flip.after);
        }
        assert_eq!(after, expected, "{rel}: only the reported bits changed");
    }
    let other = a
        .mount
        .corrupt(FileKind::Blocks, 20, &mut ChaCha8Rng::seed_from_u64(8))
        .unwrap();
    assert_ne!(other.flips, report.flips);
    let none = a
        .mount
        .corrupt(FileKind::Snapshot, 1, &mut ChaCha8Rng::seed_from_u64(1));
    assert!(matches!(none, Err(FaultFsError::NoFiles { .. })));
}

#[test]
fn truncate_cuts_the_newest_file_of_a_kind_for_good() {
    let r = rig_with(&blocks(1));
    let newest = r.backing().join("jetstream/$G/streams/S/msgs/2.blk");
    let later = SystemTime::now() + Duration::from_secs(60);
    File::options()
        .write(true)
        .open(&newest)
        .unwrap()
        .set_modified(later)
        .unwrap();
    let cut = r
        .mount
        .truncate(FileKind::Blocks, TruncateAmount::Bytes(96))
        .unwrap();
    assert_eq!(cut.file, Path::new("jetstream/$G/streams/S/msgs/2.blk"));
    assert_eq!((cut.old_len, cut.new_len), (4096, 4000));
    let half = r
        .mount
        .truncate(FileKind::Blocks, TruncateAmount::Fraction(0.5))
        .unwrap();
    assert_eq!((half.old_len, half.new_len), (4000, 2000));
    r.mount.power_loss().unwrap();
    let rel = "jetstream/$G/streams/S/msgs/2.blk";
    assert_eq!(
        fs::metadata(r.mnt(rel)).unwrap().len(),
        2000,
        "a power loss does not undo it"
    );
}

#[test]
fn latency_delays_every_write_and_sync_until_cleared() {
    let r = rig(&[]);
    let f = File::create(r.mnt("slow")).unwrap();
    let before = r.mount.stats();
    let set = r.mount.set_latency(Duration::from_millis(2));
    assert_eq!((set.previous, set.delayed_so_far), (Duration::ZERO, 0));
    for i in 0..5u64 {
        f.write_all_at(b"0123456789", i * 10).unwrap();
    }
    f.sync_all().unwrap();
    let slow = r.mount.stats();
    let cleared = r.mount.set_latency(Duration::ZERO);
    assert_eq!(cleared.previous, Duration::from_millis(2));
    f.write_all_at(b"fast", 50).unwrap();
    f.sync_data().unwrap();
    let after = r.mount.stats();
    assert_eq!(slow.writes - before.writes, 5);
    assert_eq!(slow.syncs - before.syncs, 1);
    assert_eq!(
        slow.delayed - before.delayed,
        6,
        "5 writes and 1 sync delayed"
    );
    assert_eq!(after.delayed, slow.delayed, "nothing delayed once cleared");
    assert_eq!(after.writes - slow.writes, 1);
}

#[test]
fn unmounts_on_drop_on_panic_and_from_a_handle() {
    let dir = tempfile::tempdir().unwrap();
    let mount = mount_on(dir.path());
    let mnt = mount.mountpoint().to_path_buf();
    fs::write(mnt.join("f"), b"x").unwrap();
    assert!(mounted(&mnt));
    drop(mount);
    assert!(!mounted(&mnt), "drop unmounts");
    assert!(dir.path().join("backing/f").is_file());

    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _mount = mount_on(dir.path());
        panic!("a run fails while mounted");
    }));
    assert!(result.is_err());
    assert!(!mounted(&mnt), "unwinding unmounts");

    let mount = mount_on(dir.path());
    let handle = mount.unmount_handle();
    let held = File::open(mnt.join("f")).unwrap();
    handle.unmount().unwrap();
    assert!(
        !mounted(&mnt),
        "the handle detaches even while a file is open"
    );
    drop((held, mount));
}

#[test]
fn mounts_only_inside_the_given_directory() {
    let dir = tempfile::tempdir().unwrap();
    let other = tempfile::tempdir().unwrap();
    let backing = dir.path().join("backing");
    fs::create_dir_all(&backing).unwrap();
    let opts = FaultFsOptions::within(dir.path());
    let outside = FaultFs::mount(&backing, other.path(), &opts);
    assert!(matches!(
        outside,
        Err(FaultFsError::OutsideConfinement { .. })
    ));
    let mnt = dir.path().join("mnt");
    fs::create_dir_all(&mnt).unwrap();
    fs::write(mnt.join("busy"), b"").unwrap();
    let busy = FaultFs::mount(&backing, &mnt, &opts);
    assert!(matches!(busy, Err(FaultFsError::MountpointNotEmpty { .. })));
    let nested = FaultFs::mount(&backing, &backing, &opts);
    assert!(matches!(nested, Err(FaultFsError::Overlap { .. })));
}

const CHILD_ENV: &str = "JSBENCH_FAULTFS_CHILD_DIR";

/// Not a test on its own: the child process of `a_mount_whose_owner_was_killed_is_swept`,
/// which mounts and waits to be killed.
#[test]
#[ignore = "run by a_mount_whose_owner_was_killed_is_swept as its child process"]
fn child_process_mounts_and_waits() {
    let dir = PathBuf::from(std::env::var_os(CHILD_ENV).expect("run as the child"));
    let mount = mount_on(&dir);
    println!("MOUNTED {}", mount.mountpoint().display());
    std::thread::sleep(Duration::from_secs(120));
}

#[test]
fn a_mount_whose_owner_was_killed_is_swept() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "child_process_mounts_and_waits",
            "--nocapture",
        ])
        .env(CHILD_ENV, dir.path())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mnt = loop {
        let line = lines.next().expect("child ended before mounting").unwrap();
        if let Some(p) = line.strip_prefix("MOUNTED ") {
            break PathBuf::from(p);
        }
    };
    assert!(mounted(&mnt));
    child.kill().unwrap(); // SIGKILL: no Drop runs
    child.wait().unwrap();
    let err = fs::metadata(mnt.join("x")).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ENOTCONN), "{err}");
    let swept = sweep_stale_mounts().unwrap();
    assert!(swept.contains(&mnt), "swept {swept:?}");
    assert!(!mounted(&mnt));
}
