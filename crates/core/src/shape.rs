//! What a file is, judged from its shape before any importer reads it: a native model, a pytm
//! model, another tool's model (Threat Dragon, OTM, TM-BOM, Microsoft TMT), or something that
//! is no threat model at all (a CycloneDX or SARIF file, an empty object). Commands that read a
//! model use it to refuse a file of the wrong kind, naming what the file looks like and the
//! command that reads it, instead of reading it as an empty model.

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// The kinds of file Threatmap tells apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A native `*.threatmap.json` model (it has the `threatmap` version key).
    Native,
    /// pytm's JSON: its `--json` output or `load()` input.
    Pytm,
    /// A pytm model script (`tm.py`).
    PytmScript,
    /// OWASP Threat Dragon 1.x JSON.
    ThreatDragonV1,
    /// OWASP Threat Dragon 2.x JSON.
    ThreatDragonV2,
    /// Open Threat Model JSON.
    Otm,
    /// Open Threat Model YAML.
    OtmYaml,
    /// OWASP Threat Model Library (TM-BOM) JSON.
    TmBom,
    /// A Microsoft Threat Modeling Tool `.tm7` file.
    Tm7,
    /// A CycloneDX bill of materials.
    CycloneDx,
    /// A SPDX document.
    Spdx,
    /// A SARIF log.
    Sarif,
    /// A JSON object with no key of any model format.
    UnknownObject,
    /// JSON that is not an object (a list, a string, a number).
    NotAnObject,
    /// XML that is not a `.tm7`.
    OtherXml,
    /// Something that starts like a JSON object but does not parse: the reader that takes it
    /// next reports where it breaks.
    BrokenJson,
    /// Anything else: not JSON, not XML.
    Other,
}

/// The `threatmap import` format names (as the command line spells them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportKind {
    /// `threatmap import pytm`.
    Pytm,
    /// `threatmap import tm7`.
    Tm7,
    /// `threatmap import threat-dragon`.
    ThreatDragon,
    /// `threatmap import otm`.
    Otm,
    /// `threatmap import tm-bom`.
    TmBom,
}

impl ImportKind {
    /// The name on the command line.
    pub fn command_name(self) -> &'static str {
        match self {
            ImportKind::Pytm => "pytm",
            ImportKind::Tm7 => "tm7",
            ImportKind::ThreatDragon => "threat-dragon",
            ImportKind::Otm => "otm",
            ImportKind::TmBom => "tm-bom",
        }
    }
}

impl Shape {
    /// What the file is, for messages: "a Threat Dragon v2 model".
    pub fn describe(self) -> &'static str {
        match self {
            Shape::Native => "a Threatmap model",
            Shape::Pytm => "a pytm model (JSON)",
            Shape::PytmScript => "a pytm model script (Python)",
            Shape::ThreatDragonV1 => "a Threat Dragon v1 model",
            Shape::ThreatDragonV2 => "a Threat Dragon v2 model",
            Shape::Otm => "an Open Threat Model (OTM) file",
            Shape::OtmYaml => "an Open Threat Model (OTM) file in YAML",
            Shape::TmBom => "a Threat Model Library (TM-BOM) model",
            Shape::Tm7 => "a Microsoft Threat Modeling Tool model (.tm7)",
            Shape::CycloneDx => "a CycloneDX bill of materials, not a threat model",
            Shape::Spdx => "an SPDX document, not a threat model",
            Shape::Sarif => "a SARIF log, not a threat model",
            Shape::UnknownObject => "a JSON object with none of the keys of a threat model",
            Shape::NotAnObject => "JSON that is not an object, so not a threat model",
            Shape::OtherXml => "an XML file that is not a Threat Modeling Tool model",
            Shape::BrokenJson => "JSON with a syntax error",
            Shape::Other => "neither JSON nor XML",
        }
    }

    /// The importer that reads this shape, if there is one.
    pub fn importer(self) -> Option<ImportKind> {
        match self {
            Shape::Pytm | Shape::PytmScript => Some(ImportKind::Pytm),
            Shape::ThreatDragonV1 | Shape::ThreatDragonV2 => Some(ImportKind::ThreatDragon),
            Shape::Otm => Some(ImportKind::Otm),
            Shape::TmBom => Some(ImportKind::TmBom),
            Shape::Tm7 => Some(ImportKind::Tm7),
            _ => None,
        }
    }

    /// True for the shapes recognised as a format of their own (a model, a bill of materials,
    /// a log); false for the ones that are only "not any of those".
    pub fn is_known(self) -> bool {
        !matches!(self, Shape::UnknownObject | Shape::NotAnObject | Shape::OtherXml | Shape::Other | Shape::BrokenJson)
    }

    /// True for the shapes a model command reads directly (native, pytm JSON and pytm scripts).
    pub fn is_model(self) -> bool {
        matches!(self, Shape::Native | Shape::Pytm | Shape::PytmScript)
    }

    /// Why `file` (of this shape) cannot be read as a model, and what would read it.
    pub fn refusal(self, file: &str) -> String {
        let mut text = format!("this is {}", self.describe());
        match self.importer() {
            Some(kind) if !self.is_model() => {
                text.push_str(&format!(": `threatmap import {} {file} -o MODEL.threatmap.json` converts it", kind.command_name()))
            }
            _ => text.push_str(
                " (a Threatmap model has a `threatmap` version key; a pytm model has `elements`, `flows`, `boundaries` or `data` lists)",
            ),
        }
        text
    }
}

/// The JSON type of a top-level value, read without keeping it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JsonType {
    Null,
    Bool,
    Number,
    String,
    List,
    Object,
}

impl<'de> de::Deserialize<'de> for JsonType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = JsonType;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_unit<E>(self) -> Result<JsonType, E> {
                Ok(JsonType::Null)
            }
            fn visit_none<E>(self) -> Result<JsonType, E> {
                Ok(JsonType::Null)
            }
            fn visit_bool<E>(self, _: bool) -> Result<JsonType, E> {
                Ok(JsonType::Bool)
            }
            fn visit_i64<E>(self, _: i64) -> Result<JsonType, E> {
                Ok(JsonType::Number)
            }
            fn visit_u64<E>(self, _: u64) -> Result<JsonType, E> {
                Ok(JsonType::Number)
            }
            fn visit_f64<E>(self, _: f64) -> Result<JsonType, E> {
                Ok(JsonType::Number)
            }
            fn visit_str<E>(self, _: &str) -> Result<JsonType, E> {
                Ok(JsonType::String)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<JsonType, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(JsonType::List)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<JsonType, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(JsonType::Object)
            }
        }
        d.deserialize_any(V)
    }
}

/// The top-level keys that tell the formats apart; the rest of the document is skipped.
#[derive(serde::Deserialize)]
struct Probe {
    threatmap: Option<IgnoredAny>,
    #[serde(rename = "otmVersion")]
    otm_version: Option<IgnoredAny>,
    #[serde(rename = "bomFormat")]
    bom_format: Option<String>,
    #[serde(rename = "spdxVersion")]
    spdx_version: Option<IgnoredAny>,
    #[serde(rename = "$schema")]
    schema: Option<String>,
    runs: Option<JsonType>,
    summary: Option<JsonType>,
    detail: Option<JsonType>,
    version: Option<serde_json::Value>,
    scope: Option<JsonType>,
    trust_zones: Option<JsonType>,
    data_flows: Option<JsonType>,
    elements: Option<JsonType>,
    flows: Option<JsonType>,
    boundaries: Option<JsonType>,
    actors: Option<JsonType>,
    assets: Option<JsonType>,
    data: Option<JsonType>,
}

/// Tells what `text` is.
pub fn sniff(text: &str) -> Shape {
    let body = text.trim_start_matches('\u{feff}').trim_start();
    if body.starts_with('<') {
        return if body.contains("<ThreatModel") { Shape::Tm7 } else { Shape::OtherXml };
    }
    if body.starts_with('{') {
        return match serde_json::from_str::<Probe>(body) {
            Ok(p) => shape_of(&p),
            Err(_) => Shape::BrokenJson,
        };
    }
    if body.starts_with('[') {
        return if serde_json::from_str::<JsonType>(body).is_ok() { Shape::NotAnObject } else { Shape::BrokenJson };
    }
    if serde_json::from_str::<JsonType>(body).is_ok() {
        return Shape::NotAnObject;
    }
    if looks_like_pytm_script(body) {
        return Shape::PytmScript;
    }
    if body.lines().any(|l| l.trim_start().starts_with("otmVersion:")) {
        return Shape::OtmYaml;
    }
    Shape::Other
}

fn shape_of(p: &Probe) -> Shape {
    let list = |t: Option<JsonType>| t == Some(JsonType::List);
    if p.threatmap.is_some() {
        return Shape::Native;
    }
    if p.otm_version.is_some() {
        return Shape::Otm;
    }
    if p.bom_format.as_deref().is_some_and(|f| f.eq_ignore_ascii_case("cyclonedx")) {
        return Shape::CycloneDx;
    }
    if p.spdx_version.is_some() {
        return Shape::Spdx;
    }
    if list(p.runs) && (p.schema.as_deref().is_some_and(|s| s.contains("sarif")) || p.version.is_some()) {
        return Shape::Sarif;
    }
    if p.scope == Some(JsonType::Object) && (p.trust_zones.is_some() || p.data_flows.is_some()) {
        return Shape::TmBom;
    }
    if p.summary == Some(JsonType::Object) && p.detail == Some(JsonType::Object) {
        let v2 = p.version.as_ref().and_then(serde_json::Value::as_str).is_some_and(|v| !v.starts_with("1."));
        return if v2 { Shape::ThreatDragonV2 } else { Shape::ThreatDragonV1 };
    }
    if [p.elements, p.flows, p.boundaries, p.actors, p.assets, p.data].into_iter().any(list) {
        return Shape::Pytm;
    }
    Shape::UnknownObject
}

/// A Python file that imports pytm.
fn looks_like_pytm_script(text: &str) -> bool {
    text.lines().map(str::trim_start).any(|l| l.starts_with("from pytm") || l.starts_with("import pytm"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_formats_apart() {
        let cases = [
            (r#"{"threatmap": 1, "elements": []}"#, Shape::Native),
            (r#"{"elements": [], "flows": [], "name": "x"}"#, Shape::Pytm),
            (r#"{"boundaries": [{"name": "b"}]}"#, Shape::Pytm),
            (r#"{"version": "2.3.0", "summary": {}, "detail": {"diagrams": []}}"#, Shape::ThreatDragonV2),
            (r#"{"summary": {"title": "t"}, "detail": {"diagrams": []}}"#, Shape::ThreatDragonV1),
            (r#"{"otmVersion": "0.2.0", "project": {}}"#, Shape::Otm),
            (r#"{"version": "1.0", "scope": {}, "trust_zones": [], "actors": []}"#, Shape::TmBom),
            (r#"{"bomFormat": "CycloneDX", "specVersion": "1.5", "components": []}"#, Shape::CycloneDx),
            (r#"{"version": "2.1.0", "runs": []}"#, Shape::Sarif),
            ("{}", Shape::UnknownObject),
            (r#"{"findings": []}"#, Shape::UnknownObject),
            ("[1, 2]", Shape::NotAnObject),
            ("[[[1, 2]", Shape::BrokenJson),
            ("\u{feff}<?xml version=\"1.0\"?><ThreatModel xmlns=\"x\"></ThreatModel>", Shape::Tm7),
            ("<svg></svg>", Shape::OtherXml),
            ("from pytm import TM, Server\ntm = TM(\"x\")\n", Shape::PytmScript),
            ("otmVersion: 0.2.0\nproject:\n  name: x\n", Shape::OtmYaml),
            ("hello", Shape::Other),
            // Broken JSON goes on to the parser, which says where it breaks.
            (r#"{"threatmap": 1,"#, Shape::BrokenJson),
        ];
        for (text, want) in cases {
            assert_eq!(sniff(text), want, "{text}");
        }
    }

    #[test]
    fn refusals_name_the_command_that_reads_the_file() {
        let t = Shape::ThreatDragonV2.refusal("m.json");
        assert!(t.contains("Threat Dragon v2") && t.contains("`threatmap import threat-dragon m.json"), "{t}");
        let t = Shape::CycloneDx.refusal("bom.json");
        assert!(t.contains("CycloneDX") && t.contains("`threatmap` version key"), "{t}");
    }
}
