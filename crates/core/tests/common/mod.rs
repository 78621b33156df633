//! Helpers shared by the core test suites.

use std::path::PathBuf;

/// The reference data folder (`$THREATMAP_SHARED`, default `../shared` beside the project), if it
/// holds pytm's threat library; says so on stderr when it does not.
pub fn shared() -> Option<PathBuf> {
    let dir = std::env::var_os("THREATMAP_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"));
    dir.join("compat/pytm/threats.json").is_file().then_some(dir).or_else(|| {
        eprintln!("SKIPPED: pytm threats.json not found (set THREATMAP_SHARED)");
        None
    })
}
