//! The jsbench image's file tree (`rootfs/` in its build context, copied to `/` by
//! docker/jsbench.Dockerfile): which file goes where and with which mode, and the few small
//! files written from constants. Kept apart from the build itself so that a test can check the
//! tree without a Docker engine.

use std::io;
use std::path::{Component, Path, PathBuf};

use super::libs::Needed;
use crate::server::BuildContext;

/// Where the jsbench binary goes (the Dockerfile's ENTRYPOINT).
pub(crate) const JSBENCH: &str = "/jsbench";
/// Where the pinned nats-server goes (on the image's PATH, so jsbench finds it as it finds one
/// on a machine's PATH).
pub(crate) const NATS_SERVER: &str = "/usr/local/bin/nats-server";

/// root for the engine's own use, nobody (the image's USER) with its home in /tmp.
const PASSWD: &str = "root:x:0:0:root:/root:/sbin/nologin\n\
                      nobody:x:65534:65534:nobody:/tmp:/sbin/nologin\n";
const GROUP: &str = "root:x:0:\nnogroup:x:65534:\n";
/// glibc's default without this file differs between versions; hosts from files, then DNS
/// (a Kubernetes Service name such as jsbench-coordinator resolves through DNS).
const NSSWITCH: &str = "passwd: files\ngroup: files\nhosts: files dns\n";
/// Engines and Kubernetes mount their own over it; this one serves a bare `docker run`.
const HOSTS: &str = "127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n";

/// What goes into the image besides the constant files.
pub(crate) struct Inputs<'a> {
    /// The jsbench binary.
    pub exe: &'a Path,
    /// The pinned nats-server binary.
    pub nats_server: &'a Path,
    /// The shared libraries and loader the binary needs (empty when it is static).
    pub needed: &'a [Needed],
}

/// The build context: `dockerfile` and the file tree under `rootfs/`.
pub(crate) fn context(dockerfile: &str, inputs: &Inputs) -> io::Result<Vec<u8>> {
    let mut context = BuildContext::new(dockerfile)?;
    context.file(&in_rootfs(Path::new(JSBENCH)), inputs.exe, 0o755)?;
    context.file(
        &in_rootfs(Path::new(NATS_SERVER)),
        inputs.nats_server,
        0o755,
    )?;
    let mut seen = std::collections::HashSet::new();
    for lib in inputs.needed {
        let path = in_rootfs(&lib.path);
        if seen.insert(path.clone()) {
            context.file(&path, &lib.path, 0o755)?;
        }
    }
    context.dir("rootfs/tmp", 0o1777)?;
    for (path, text) in [
        ("rootfs/etc/passwd", PASSWD),
        ("rootfs/etc/group", GROUP),
        ("rootfs/etc/nsswitch.conf", NSSWITCH),
        ("rootfs/etc/hosts", HOSTS),
    ] {
        context.bytes(path, text.as_bytes(), 0o644)?;
    }
    context.into_tar()
}

/// The directories of the shared libraries (not the loader), in first-seen order and joined
/// with `:`, for the image's LD_LIBRARY_PATH.
pub(crate) fn library_path(needed: &[Needed]) -> String {
    let mut dirs: Vec<PathBuf> = Vec::new();
    for lib in needed.iter().filter(|n| !n.loader) {
        if let Some(dir) = lib.path.parent().map(normal) {
            if !dirs.contains(&dir) {
                dirs.push(dir);
            }
        }
    }
    let dirs: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    dirs.join(":")
}

/// `rootfs/` followed by `path` made relative and without `.` or `..` (which the archive
/// refuses): the loader resolves `/lib/../lib64/x` to `/lib64/x`, and so does this.
fn in_rootfs(path: &Path) -> String {
    format!("rootfs{}", normal(path).display())
}

/// `path` as an absolute path without `.` or `..` components.
fn normal(path: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for component in path.components() {
        match component {
            Component::Normal(part) => out.push(part),
            Component::ParentDir => {
                out.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(tar: &[u8]) -> Vec<(String, u32)> {
        let mut archive = tar::Archive::new(tar);
        archive
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let name = e.path().unwrap().display().to_string();
                (name, e.header().mode().unwrap())
            })
            .collect()
    }

    #[test]
    fn the_context_holds_the_binary_its_libraries_the_loader_and_nats_server() {
        let dir = tempfile::tempdir().unwrap();
        let file = |name: &str| {
            let p = dir.path().join(name);
            std::fs::write(&p, name.as_bytes()).unwrap();
            p
        };
        let (exe, nats) = (file("jsbench"), file("nats-server"));
        let lib = |name: &str, loader| Needed {
            path: file(name),
            loader,
        };
        let needed = vec![lib("libc.so.6", false), lib("ld-linux.so.2", true)];
        let inputs = Inputs {
            exe: &exe,
            nats_server: &nats,
            needed: &needed,
        };
        let tar = context("FROM scratch\n", &inputs).unwrap();
        let got = entries(&tar);
        let at = |p: &Path| format!("rootfs{}", p.display());
        let expected = [
            ("Dockerfile".to_string(), 0o644),
            ("rootfs/jsbench".into(), 0o755),
            ("rootfs/usr/local/bin/nats-server".into(), 0o755),
            (at(&needed[0].path), 0o755),
            (at(&needed[1].path), 0o755),
            ("rootfs/tmp".into(), 0o1777),
            ("rootfs/etc/passwd".into(), 0o644),
            ("rootfs/etc/group".into(), 0o644),
            ("rootfs/etc/nsswitch.conf".into(), 0o644),
            ("rootfs/etc/hosts".into(), 0o644),
        ];
        assert_eq!(got, expected);
        // The files hold what was read, not something else.
        let mut archive = tar::Archive::new(tar.as_slice());
        let mut jsbench = archive.entries().unwrap().nth(1).unwrap().unwrap();
        let mut text = String::new();
        io::Read::read_to_string(&mut jsbench, &mut text).unwrap();
        assert_eq!(text, "jsbench");
    }

    #[test]
    fn paths_are_normalised_and_the_library_path_lists_each_directory_once() {
        assert_eq!(
            in_rootfs(Path::new("/lib/x86_64-linux-gnu/../../lib64/./ld.so")),
            "rootfs/lib64/ld.so"
        );
        let lib = |p: &str, loader| Needed {
            path: PathBuf::from(p),
            loader,
        };
        let needed = [
            lib("/lib/x86_64-linux-gnu/libgcc_s.so.1", false),
            lib("/usr/lib/x86_64-linux-gnu/libz.so.1", false),
            lib("/lib/x86_64-linux-gnu/libc.so.6", false),
            lib("/lib64/ld-linux-x86-64.so.2", true),
        ];
        assert_eq!(
            library_path(&needed),
            "/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu"
        );
        assert_eq!(library_path(&[]), "");
    }
}
