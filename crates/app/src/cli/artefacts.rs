//! `threatmap attach`, `attachments` and `detach`: files kept with a model, and how the report
//! takes them in.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use threatmap_core::artefacts;
use threatmap_core::file;

use super::bad;

/// Attaches files to a model: copies each into its artefacts folder and lists it in the model.
pub(super) fn attach(out: &mut dyn Write, model: &Path, files: &[PathBuf], title: Option<&str>) -> Result<ExitCode> {
    let mut m = super::native_model(model, "attachments")?;
    for f in files {
        let a = artefacts::attach(model, f, title.unwrap_or(""), &m.artefacts).map_err(|e| bad(e.to_string()))?;
        if m.artefacts.iter().any(|x| x.sha256 == a.sha256) {
            writeln!(out, "{}: already attached as {}", f.display(), a.name)?;
            continue;
        }
        writeln!(out, "attached {} ({}, {} bytes)", a.name, a.media_type, a.size)?;
        m.artefacts.push(a);
    }
    file::save(&m, model).with_context(|| format!("cannot write {}", model.display()))?;
    Ok(ExitCode::SUCCESS)
}

/// Lists a model's attachments and checks each file against its hash: exit 1 when one is
/// missing or changed.
pub(super) fn list(out: &mut dyn Write, model: &Path) -> Result<ExitCode> {
    let m = super::native_model(model, "attachments")?;
    let mut bad_files = 0;
    for a in &m.artefacts {
        let state = match artefacts::read(model, a) {
            Ok(_) => "ok".to_owned(),
            Err(e) => {
                bad_files += 1;
                e.to_string()
            }
        };
        writeln!(out, "{}\t{}\t{}\t{}\t{state}", a.name, a.media_type, a.size, a.title)?;
    }
    writeln!(out, "{} attachment(s) in {}", m.artefacts.len(), artefacts::folder_of(model).display())?;
    let strays = artefacts::strays(model, &m.artefacts);
    if !strays.is_empty() {
        writeln!(out, "also in the folder, not listed in the model: {} (attach them, or delete them)", strays.join(", "))?;
    }
    Ok(if bad_files > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// Removes an attachment from a model and its file from the artefacts folder.
pub(super) fn detach(out: &mut dyn Write, model: &Path, name: &str) -> Result<ExitCode> {
    let mut m = super::native_model(model, "attachments")?;
    let Some(at) = m.artefacts.iter().position(|a| a.name == name) else {
        let names: Vec<&str> = m.artefacts.iter().map(|a| a.name.as_str()).collect();
        return Err(bad(format!("{}: no attachment `{name}` (attachments: {})", model.display(), names.join(", "))));
    };
    let a = m.artefacts.remove(at);
    file::save(&m, model).with_context(|| format!("cannot write {}", model.display()))?;
    if artefacts::check_name(&a.name).is_ok() {
        let path = artefacts::folder_of(model).join(&a.name);
        if path.exists() {
            std::fs::remove_file(&path).with_context(|| format!("cannot remove {}", path.display()))?;
        }
    }
    writeln!(out, "detached {}", a.name)?;
    Ok(ExitCode::SUCCESS)
}
