//! Artefacts attached to a model: whiteboard photos, the file it was imported from, design
//! documents. The files live beside the model in a folder of their own (`NAME.artefacts/` for
//! `NAME.threatmap.json`), each listed in the model with its SHA-256 and size, so a changed or
//! missing file is noticed. Names are plain file names that cannot leave that folder, and sizes
//! are capped.

use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::Digest as _;

/// Largest artefact, in bytes.
pub const MAX_ARTEFACT_BYTES: u64 = 64 * 1024 * 1024;

/// One attached file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Artefact {
    /// The file's name in the model's artefacts folder (a plain name: no folders).
    pub name: String,
    /// What it is, in a few words.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub title: String,
    /// Its SHA-256, hex.
    pub sha256: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its media type (`image/png`, `application/pdf`), from the name.
    pub media_type: String,
}

impl Artefact {
    /// True for images the report embeds and the app previews (SVG only as an image, so
    /// nothing in it runs).
    pub fn is_image(&self) -> bool {
        matches!(self.media_type.as_str(), "image/png" | "image/jpeg" | "image/gif" | "image/webp" | "image/svg+xml")
    }
}

/// What is wrong with an artefact.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ArtefactError {
    /// The name could leave the artefacts folder or is not a plain file name.
    #[error("artefact name `{0}`: expected a plain file name (no folders, no `..`, not hidden)")]
    Name(String),
    /// The file is larger than allowed.
    #[error("{name} is {}; attachments can be at most {}", size_text(*.size), size_text(MAX_ARTEFACT_BYTES))]
    TooLarge {
        /// The file's name.
        name: String,
        /// Its size.
        size: u64,
    },
    /// The file is missing or unreadable.
    #[error("artefact `{name}`: {why}")]
    Unreadable {
        /// The file's name.
        name: String,
        /// Why.
        why: String,
    },
    /// The file is not the one the model lists.
    #[error("artefact `{0}` has changed since it was attached (its SHA-256 differs)")]
    Changed(String),
}

/// Checks that `name` is a plain file name that stays in the artefacts folder.
pub fn check_name(name: &str) -> Result<(), ArtefactError> {
    let bad = name.is_empty()
        || name.len() > 255
        || name.starts_with('.')
        || name.contains(['/', '\\', ':', '\0'])
        || name.chars().any(char::is_control)
        || name.trim() != name;
    if bad { Err(ArtefactError::Name(name.to_owned())) } else { Ok(()) }
}

/// The artefacts folder of a model file: `NAME.artefacts` beside `NAME.threatmap.json`.
pub fn folder_of(model: &Path) -> PathBuf {
    let file = model.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let stem = file.strip_suffix(".threatmap.json").or_else(|| file.strip_suffix(".json")).unwrap_or(&file);
    model.with_file_name(format!("{stem}.artefacts"))
}

/// The media type of a file name, by its extension.
pub fn media_type(name: &str) -> &'static str {
    let ext = name.rsplit('.').next().unwrap_or("").to_ascii_lowercase();
    match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "svg" => "image/svg+xml",
        "pdf" => "application/pdf",
        "md" | "markdown" => "text/markdown",
        "txt" | "log" => "text/plain",
        "html" | "htm" => "text/html",
        "json" => "application/json",
        "tm7" | "xml" => "application/xml",
        "py" => "text/x-python",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "pptx" => "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        _ => "application/octet-stream",
    }
}

/// The SHA-256 of some bytes, hex.
pub fn sha256(bytes: &[u8]) -> String {
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// A name for `wanted` that no artefact in `taken` has: `photo.jpg`, then `photo-2.jpg`, …
pub fn free_name(wanted: &str, taken: &[Artefact]) -> String {
    if !taken.iter().any(|a| a.name == wanted) {
        return wanted.to_owned();
    }
    let (stem, ext) = match wanted.rsplit_once('.') {
        Some((s, e)) if !s.is_empty() => (s, format!(".{e}")),
        _ => (wanted, String::new()),
    };
    (2..).map(|n| format!("{stem}-{n}{ext}")).find(|n| !taken.iter().any(|a| &a.name == n)).unwrap_or_else(|| wanted.to_owned())
}

/// Reads an artefact's bytes from the folder of `model`, checking its name, size and hash.
pub fn read(model: &Path, a: &Artefact) -> Result<Vec<u8>, ArtefactError> {
    check_name(&a.name)?;
    let path = folder_of(model).join(&a.name);
    let unreadable = |e: std::io::Error| ArtefactError::Unreadable { name: a.name.clone(), why: e.to_string() };
    let size = std::fs::metadata(&path).map_err(unreadable)?.len();
    if size > MAX_ARTEFACT_BYTES {
        return Err(ArtefactError::TooLarge { name: a.name.clone(), size });
    }
    let bytes = std::fs::read(&path).map_err(unreadable)?;
    if sha256(&bytes) != a.sha256 {
        return Err(ArtefactError::Changed(a.name.clone()));
    }
    Ok(bytes)
}

/// Copies `file` into the artefacts folder of `model` (atomically) and returns its entry; the
/// caller adds it to the model and saves.
pub fn attach(model: &Path, file: &Path, title: &str, taken: &[Artefact]) -> Result<Artefact, ArtefactError> {
    let original = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    // A name that is not plain is made plain (the file's own name, folders dropped, leading dots off).
    let cleaned: String =
        original.trim().trim_start_matches('.').chars().map(|c| if c.is_control() || "/\\:".contains(c) { '_' } else { c }).collect();
    check_name(&cleaned)?;
    let unreadable = |e: std::io::Error| ArtefactError::Unreadable { name: file.display().to_string(), why: e.to_string() };
    let size = std::fs::metadata(file).map_err(unreadable)?.len();
    if size > MAX_ARTEFACT_BYTES {
        return Err(ArtefactError::TooLarge { name: cleaned, size });
    }
    let bytes = std::fs::read(file).map_err(unreadable)?;
    let hash = sha256(&bytes);
    // The same file attached again is the same artefact.
    if let Some(existing) = taken.iter().find(|a| a.sha256 == hash) {
        return Ok(existing.clone());
    }
    let name = free_name(&cleaned, taken);
    let folder = folder_of(model);
    std::fs::create_dir_all(&folder).map_err(|e| ArtefactError::Unreadable { name: folder.display().to_string(), why: e.to_string() })?;
    crate::file::write_atomic(&folder.join(&name), &bytes)
        .map_err(|e| ArtefactError::Unreadable { name: name.clone(), why: e.to_string() })?;
    Ok(Artefact { media_type: media_type(&name).to_owned(), name, title: title.trim().to_owned(), sha256: hash, size: bytes.len() as u64 })
}

/// Deletes from the artefacts folder of `model` the files `before` listed that `now` no longer
/// does (the attachments removed since the last save). Files the model never listed are left
/// alone. Returns the names deleted.
pub fn prune(model: &Path, before: &[Artefact], now: &[Artefact]) -> Vec<String> {
    let folder = folder_of(model);
    let mut gone = Vec::new();
    for a in before {
        if now.iter().any(|x| x.name == a.name) || check_name(&a.name).is_err() {
            continue;
        }
        let path = folder.join(&a.name);
        if path.is_file() && std::fs::remove_file(&path).is_ok() {
            gone.push(a.name.clone());
        }
    }
    gone
}

/// Files in the artefacts folder of `model` that `listed` does not name: left by an attach that
/// was never saved, or put there by hand.
pub fn strays(model: &Path, listed: &[Artefact]) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(folder_of(model)) else { return Vec::new() };
    let mut out: Vec<String> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        // Atomic writes leave nothing behind, but a crash mid-write could: not a stray.
        .filter(|n| !n.starts_with('.') && !listed.iter().any(|a| &a.name == n))
        .collect();
    out.sort();
    out
}

/// A size for people: "554 MB", "29 kB", "14 bytes".
pub fn size_text(n: u64) -> String {
    match n {
        n if n >= 1 << 20 => format!("{:.0} MB", n as f64 / f64::from(1u32 << 20)),
        n if n >= 1 << 10 => format!("{:.0} kB", n as f64 / 1024.0),
        n => format!("{n} bytes"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cannot_leave_the_folder() {
        for bad in ["", "..", "../x.png", "a/b.png", "a\\b.png", ".hidden", "c:x", "x\u{0}.png", " x.png"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        for good in ["whiteboard.jpg", "design v2.pdf", "model.tm7", "ünïcode.png"] {
            assert!(check_name(good).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn folders_sit_beside_the_model() {
        assert_eq!(folder_of(Path::new("/m/shop.threatmap.json")), Path::new("/m/shop.artefacts"));
        assert_eq!(folder_of(Path::new("x.json")), Path::new("x.artefacts"));
    }

    #[test]
    fn free_names_number_the_copies() {
        let a = |n: &str| Artefact { name: n.into(), title: String::new(), sha256: String::new(), size: 0, media_type: String::new() };
        assert_eq!(free_name("p.jpg", &[a("p.jpg"), a("p-2.jpg")]), "p-3.jpg");
        assert_eq!(free_name("notes", &[a("notes")]), "notes-2");
    }
}
