//! Helpers shared by the end-to-end tests: running the `threatmap` binary and checking its
//! output.

#![allow(dead_code)] // each test file uses its own subset

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn example(name: &str) -> String {
    root().join("assets/examples").join(name).display().to_string()
}

pub fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_threatmap")).args(args).output().expect("run threatmap")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn ok(args: &[&str]) -> String {
    let o = run(args);
    assert_eq!(o.status.code(), Some(0), "{args:?}\nstdout: {}\nstderr: {}", stdout(&o), stderr(&o));
    stdout(&o)
}

/// Runs with bad input: exit 2, and stderr mentions every `needle`.
pub fn fails(args: &[&str], needles: &[&str]) -> String {
    let o = run(args);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{args:?}\nstdout: {}\nstderr: {err}", stdout(&o));
    for n in needles {
        assert!(err.contains(n), "stderr lacks {n:?}:\n{err}");
    }
    assert!(!err.contains("panicked"), "{err}");
    err
}

pub fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

/// The shared reference data folder (`$THREATMAP_SHARED`, default `../shared` beside the
/// project), if `probe` exists in it; says loudly when it does not.
pub fn shared(probe: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("THREATMAP_SHARED").map(PathBuf::from).unwrap_or_else(|| root().join("../shared"));
    if dir.join(probe).exists() {
        Some(dir)
    } else {
        eprintln!("SKIPPED: {probe} not found in {} (set THREATMAP_SHARED)", dir.display());
        None
    }
}
