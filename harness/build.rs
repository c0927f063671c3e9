//! Build script: records facts about the build that result.json reports, so that no version in a
//! result is a hand-written constant.
//!
//! `JSBENCH_ASYNC_NATS_VERSION`: the async-nats version this build links, read from the
//! workspace's Cargo.lock (the file `--locked` builds are bound to), among the versions that
//! satisfy this crate's requirement in Cargo.toml.

use std::path::Path;

fn main() {
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let manifest = Path::new(&manifest_dir).join("Cargo.toml");
    let lock = Path::new(&manifest_dir).join("..").join("Cargo.lock");
    println!("cargo:rerun-if-changed={}", lock.display());
    println!("cargo:rerun-if-changed={}", manifest.display());
    let requirement = read(&manifest)
        .lines()
        .find_map(|l| {
            let rest = l
                .trim()
                .strip_prefix("async-nats")?
                .trim_start()
                .strip_prefix('=')?;
            Some(rest.trim().trim_matches('"').to_string())
        })
        .expect("harness/Cargo.toml names async-nats as `async-nats = \"<version>\"`");
    let text = read(&lock);
    let mut versions = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if line.trim() == "name = \"async-nats\"" {
            if let Some(v) = lines
                .next()
                .and_then(|l| l.trim().strip_prefix("version = "))
            {
                versions.push(v.trim_matches('"').to_string());
            }
        }
    }
    let ours: Vec<&String> = versions
        .iter()
        .filter(|v| *v == &requirement || v.starts_with(&format!("{requirement}.")))
        .collect();
    match ours.as_slice() {
        [v] => println!("cargo:rustc-env=JSBENCH_ASYNC_NATS_VERSION={v}"),
        _ => panic!(
            "Cargo.lock should hold exactly one async-nats matching {requirement:?}, found {versions:?}"
        ),
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}
