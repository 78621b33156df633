//! Sets `THREATMAP_VERSION`: the package version, and the commit it is built from. The commit
//! comes from `THREATMAP_COMMIT` when a packager sets it, else from git when the source is a
//! checkout; a build from a source archive shows the version alone.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=THREATMAP_COMMIT");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    for f in [".git/HEAD", ".git/index", ".git/packed-refs"] {
        let p = root.join(f);
        if p.exists() {
            println!("cargo:rerun-if-changed={}", p.display());
        }
    }
    let commit = std::env::var("THREATMAP_COMMIT").ok().filter(|c| !c.trim().is_empty()).or_else(|| git_commit(&root));
    let version = env!("CARGO_PKG_VERSION");
    match commit {
        Some(c) => println!("cargo:rustc-env=THREATMAP_VERSION={version} ({})", c.trim()),
        None => println!("cargo:rustc-env=THREATMAP_VERSION={version}"),
    }
}

/// The short commit id and its date, with `-modified` when the tree has uncommitted changes.
fn git_commit(root: &std::path::Path) -> Option<String> {
    let git = |args: &[&str]| -> Option<String> {
        let out = Command::new("git").arg("-C").arg(root).args(args).output().ok()?;
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    };
    let line = git(&["log", "-1", "--format=%h %cs", "--abbrev=10"])?;
    if line.is_empty() {
        return None;
    }
    let dirty = git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    Some(if dirty { format!("{line}, modified") } else { line })
}
