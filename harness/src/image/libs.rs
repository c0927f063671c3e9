//! The shared libraries an executable loads, and its dynamic loader: what a `FROM scratch`
//! image must hold beside a dynamically linked jsbench for it to start at all.
//!
//! Resolved with `ldd` (glibc's, in every glibc system's base), which applies the loader's own
//! search rules (RPATH, ld.so.cache, the default directories) and so names exactly the files the
//! binary would load here. Parsing the ELF's `DT_NEEDED` entries instead would mean
//! re-implementing that search. Each library goes into the image at the path `ldd` resolved,
//! the loader at the path the binary names (its `PT_INTERP`, which `ldd` prints as is), so the
//! loader finds them where the image's environment (`LD_LIBRARY_PATH`) points.
//!
//! A statically linked binary (musl) needs nothing: `ldd` says so and the list is empty. A
//! library `ldd` cannot find is an error naming it.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::ImageError;

/// One file the executable needs at run time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Needed {
    /// Where it lives here, and where it goes in the image.
    pub path: PathBuf,
    /// True for the dynamic loader (`ld-linux…`), which the kernel starts by absolute path.
    pub loader: bool,
}

/// The shared libraries and the loader that `exe` needs (empty for a static binary).
pub fn needed(exe: &Path) -> Result<Vec<Needed>, ImageError> {
    let output = Command::new("ldd")
        .arg(exe)
        .output()
        .map_err(|source| ImageError::Ldd {
            exe: exe.to_path_buf(),
            reason: format!("cannot run ldd: {source}"),
        })?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if is_static(&stdout) || is_static(&stderr) {
        return Ok(Vec::new());
    }
    if !output.status.success() {
        return Err(ImageError::Ldd {
            exe: exe.to_path_buf(),
            reason: format!("ldd failed ({}): {}", output.status, stderr.trim()),
        });
    }
    parse(&stdout).map_err(|reason| ImageError::Ldd {
        exe: exe.to_path_buf(),
        reason,
    })
}

fn is_static(text: &str) -> bool {
    text.contains("not a dynamic executable") || text.contains("statically linked")
}

/// The files named by `ldd`'s output: `name => /path (0x…)` for a library, `/path (0x…)` for
/// the loader; the kernel's vDSO (`linux-vdso.so.1 (0x…)`, no path) is not a file.
pub(crate) fn parse(ldd: &str) -> Result<Vec<Needed>, String> {
    let mut needed = Vec::new();
    let mut loaders = 0;
    for line in ldd.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let (name, target) = match line.split_once("=>") {
            Some((name, target)) => (name.trim(), target.trim()),
            None => ("", line),
        };
        if target.starts_with("not found") {
            return Err(format!("the shared library {name} is not found"));
        }
        let path = target.split(" (").next().unwrap_or_default().trim();
        if !path.starts_with('/') {
            continue; // the vDSO, or a line without a file
        }
        let loader = name.is_empty();
        loaders += usize::from(loader);
        needed.push(Needed {
            path: PathBuf::from(path),
            loader,
        });
    }
    if loaders != 1 {
        return Err(format!(
            "expected ldd to name one dynamic loader, it named {loaders}"
        ));
    }
    Ok(needed)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEBIAN: &str = "\tlinux-vdso.so.1 (0x00007ffd)\n\
        \tlibgcc_s.so.1 => /lib/x86_64-linux-gnu/libgcc_s.so.1 (0x00007fcb)\n\
        \tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007fcb)\n\
        \t/lib64/ld-linux-x86-64.so.2 (0x00007fcb)\n";

    #[test]
    fn parses_libraries_and_the_loader_and_skips_the_vdso() {
        let needed = parse(DEBIAN).unwrap();
        let paths: Vec<(&str, bool)> = needed
            .iter()
            .map(|n| (n.path.to_str().unwrap(), n.loader))
            .collect();
        assert_eq!(
            paths,
            vec![
                ("/lib/x86_64-linux-gnu/libgcc_s.so.1", false),
                ("/lib/x86_64-linux-gnu/libc.so.6", false),
                ("/lib64/ld-linux-x86-64.so.2", true),
            ]
        );
    }

    #[test]
    fn a_missing_library_or_loader_is_an_error() {
        let missing = "\tlibfoo.so.1 => not found\n\t/lib64/ld-linux-x86-64.so.2 (0x1)\n";
        assert_eq!(
            parse(missing).unwrap_err(),
            "the shared library libfoo.so.1 is not found"
        );
        let no_loader = "\tlibc.so.6 => /lib/libc.so.6 (0x1)\n";
        assert!(parse(no_loader).unwrap_err().contains("named 0"));
    }

    #[test]
    fn the_running_test_binary_needs_libc_and_a_loader_that_exist() {
        // The test binary links like jsbench (same target, same toolchain).
        let exe = std::env::current_exe().unwrap();
        let needed = needed(&exe).unwrap();
        assert!(needed.iter().any(|n| n.loader), "{needed:?}");
        assert!(
            needed.iter().any(|n| n
                .path
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("libc.")),
            "{needed:?}"
        );
        assert!(needed.iter().all(|n| n.path.is_file()), "{needed:?}");
    }
}
