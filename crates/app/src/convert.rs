//! Conversions of other tools' files into native models, in one place: the command line's
//! `import` and the app's File → Open and File → Import both call [`import`], and write the
//! rule packs an import brings with [`write_pack`].

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::ValueEnum;
use threatmap_core::file;
use threatmap_core::model::Model;
use threatmap_core::shape::{self, ImportKind, Shape};
use threatmap_core::{otm, pytm, threat_dragon, tmt};

/// The formats `threatmap import` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ImportFormat {
    /// pytm: a model script (`tm.py`, read without running it), its `--json` output or its `load()` JSON input.
    Pytm,
    /// Microsoft Threat Modeling Tool `.tm7`; its template is written as a rule pack beside
    /// the model (`NAME.template.toml`).
    Tm7,
    /// OWASP Threat Dragon JSON (1.x files are migrated as Threat Dragon 2.x does); its threats
    /// become the elements' own threats, their statuses decisions.
    ThreatDragon,
    /// Open Threat Model (OTM) JSON; threats found by other tools are written as a rule pack
    /// beside the model (`NAME.threats.toml`), their states as decisions.
    Otm,
    /// OWASP Threat Model Library (TM-BOM) JSON; its threats, controls and risks are written as
    /// a rule pack beside the model (`NAME.threats.toml`), the controls' statuses as decisions.
    TmBom,
}

impl ImportFormat {
    /// The importer, as core names it.
    pub fn kind(self) -> ImportKind {
        match self {
            ImportFormat::Pytm => ImportKind::Pytm,
            ImportFormat::Tm7 => ImportKind::Tm7,
            ImportFormat::ThreatDragon => ImportKind::ThreatDragon,
            ImportFormat::Otm => ImportKind::Otm,
            ImportFormat::TmBom => ImportKind::TmBom,
        }
    }

    /// The importer for a file of this shape, if any.
    pub fn for_shape(shape: Shape) -> Option<ImportFormat> {
        Some(match shape.importer()? {
            ImportKind::Pytm => ImportFormat::Pytm,
            ImportKind::Tm7 => ImportFormat::Tm7,
            ImportKind::ThreatDragon => ImportFormat::ThreatDragon,
            ImportKind::Otm => ImportFormat::Otm,
            ImportKind::TmBom => ImportFormat::TmBom,
        })
    }
}

/// Bad input: reported with exit status 2.
#[derive(Debug)]
pub struct BadInput(pub String);

impl std::fmt::Display for BadInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadInput {}

pub fn bad(msg: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(BadInput(msg.into()))
}

/// A model converted from another tool, with the rule pack to write beside it (if any).
#[derive(Debug)]
pub struct Imported {
    /// The native model.
    pub model: Model,
    /// The rule pack files that the model refers to, and their texts.
    pub packs: Vec<(PathBuf, String)>,
    /// What the import could not carry over.
    pub warnings: Vec<String>,
}

/// Converts `text` (the contents of `file`, in `format`) into a native model to be saved at
/// `output`. Shared by the CLI and the app's File → Import.
pub fn import(format: ImportFormat, text: &str, file: &Path, output: &Path) -> Result<Imported> {
    let name = file.display().to_string();
    let found = shape::sniff(text);
    // pytm JSON has no structure of its own to check, so anything else is refused here; the
    // other importers check their format's structure and say precisely what is wrong with it,
    // once the file is not recognisably something else.
    let refused =
        found.importer() != Some(format.kind()) && (found.is_known() || (format == ImportFormat::Pytm && found != Shape::BrokenJson));
    if refused {
        let wanted = match format {
            ImportFormat::Pytm => "pytm JSON or a pytm script",
            ImportFormat::Tm7 => "a .tm7 file",
            ImportFormat::ThreatDragon => "a Threat Dragon model",
            ImportFormat::Otm => "an OTM file",
            ImportFormat::TmBom => "a TM-BOM file",
        };
        let hint = match found.importer() {
            Some(kind) => format!(": `threatmap import {} {name} -o MODEL.threatmap.json` reads it", kind.command_name()),
            None if found == Shape::Native => ": open it or use it as it is".to_owned(),
            None => String::new(),
        };
        return Err(bad(format!("{name}: this is {}, not {wanted}{hint}", found.describe())));
    }
    let stem = model_stem(output);
    let (pack_name, converted) = match format {
        ImportFormat::Pytm => {
            let i = pytm::import(text, &name).map_err(|e| bad(e.to_string()))?;
            return Ok(Imported { model: i.model, packs: Vec::new(), warnings: i.warnings });
        }
        ImportFormat::Tm7 => {
            let pack_name = format!("{stem}.template.toml");
            (pack_name.clone(), tmt::import(text, &name, &model_stem(file), &pack_name))
        }
        ImportFormat::ThreatDragon => (String::new(), threat_dragon::import(text, &name)),
        ImportFormat::Otm => {
            let pack_name = format!("{stem}.threats.toml");
            (pack_name.clone(), otm::import(text, &name, &pack_name))
        }
        ImportFormat::TmBom => {
            let pack_name = format!("{stem}.threats.toml");
            (pack_name.clone(), threatmap_core::tm_bom::import(text, &name, &pack_name))
        }
    };
    let c = converted.map_err(|e| bad(e.to_string()))?;
    let packs = (!c.pack.is_empty())
        .then(|| (output.with_file_name(&pack_name), c.pack))
        .into_iter()
        .chain(c.more_packs.into_iter().map(|(name, text)| (output.with_file_name(name), text)))
        .collect();
    Ok(Imported { model: c.model, packs, warnings: c.warnings })
}

/// Writes a rule pack an import brings beside the model. An existing file of that name is
/// replaced only where it holds the same rules (importing again); another file is never
/// overwritten.
pub fn write_pack(path: &Path, text: &str) -> Result<()> {
    if let Ok(existing) = std::fs::read_to_string(path) {
        if existing == text {
            return Ok(());
        }
        // A pack this importer wrote before (for the same model) is rewritten; any other file is left alone.
        let generated = [
            "name = \"otm-threats\"",
            "name = \"threat-dragon-threats\"",
            "name = \"tm-bom-threats\"",
            "Microsoft Threat Modeling Tool template",
        ]
        .iter()
        .any(|m| existing.contains(m));
        if !generated && !text.is_empty() {
            return Err(bad(format!(
                "{}: a different file of that name exists; it is not overwritten (import into another folder, or move it)",
                path.display()
            )));
        }
    }
    file::write_atomic(path, text.as_bytes()).with_context(|| format!("cannot write {}", path.display()))
}

/// A model file's name without `.threatmap.json`, `.json` or other extension.
fn model_stem(path: &Path) -> String {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    for ext in [".threatmap.json", ".json", ".tm7"] {
        if let Some(s) = name.strip_suffix(ext) {
            return s.to_owned();
        }
    }
    path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or(name)
}
