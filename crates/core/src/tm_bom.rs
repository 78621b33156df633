//! The OWASP Threat Model Library format ("TM-BOM", threat-model.schema.json 1.0.x, which Threat
//! Dragon imports): import and export.
//!
//! Import: the scope becomes the model's name, description and properties; trust zones become
//! boundaries; actors, components and data stores become nodes in their zones; data sets
//! become data items held by the stores they are placed on; data flows become flows (their
//! `encrypted` flag the flow's `controls.isEncrypted`); assumptions keep their validity and
//! topics. The hand-written analysis (threats with their personas, events, CWE and CAPEC
//! references, the controls that address them and the risks they factor into) becomes a rule
//! pack beside the model, one rule per threat on the components it affects, severity from its
//! risks' level; the controls' statuses become triage decisions. The format has no coordinates:
//! the diagram is laid out.
//!
//! Export writes a file that validates against the schema: Threatmap's findings become the
//! threats (one per rule, on the elements it fired on), their mitigations the controls (active
//! where the findings were decided mitigated), and their severities the risks.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use crate::attr::{Classification, DatastoreType, Kind};
use crate::engine::Analysis;
use crate::file::{Converted, ModelError};
use crate::lifecycle::{Decision, Status};
use crate::model::{Assumption, DataItem, Element, Model, PropValue};
use crate::rules::{GeneratedPack, GeneratedRule, Severity, literal_braces};

/// The schema version written.
pub const VERSION: &str = "1.0";

/// The trust zone an export puts elements in that are in no boundary (the format requires a
/// zone); an import leaves its members outside every boundary again.
const OUTSIDE_TITLE: &str = "Outside every trust boundary";
const OUTSIDE_DESCRIPTION: &str = "Elements the model places in no trust boundary.";
/// The extension that carries which trust zone each nested one is in (the format's zones are
/// flat): zone symbolic name → parent zone symbolic name.
const ZONE_PARENTS: &str = "github.com/threatmap/threatmap/zone-parents";

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

fn list<'a>(v: &'a Value, k: &str) -> &'a [Value] {
    v.get(k).and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

fn strs(v: &Value, k: &str) -> Vec<String> {
    list(v, k).iter().filter_map(Value::as_str).map(str::to_owned).collect()
}

/// A property value from a JSON scalar; lists are joined with ", ".
fn prop(v: &Value) -> Option<PropValue> {
    Some(match v {
        Value::Bool(b) => PropValue::Bool(*b),
        Value::Number(n) => n.as_i64().map_or_else(|| PropValue::Text(n.to_string()), PropValue::Int),
        Value::String(t) => PropValue::Text(t.clone()),
        Value::Array(a) => PropValue::Text(a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", ")),
        _ => return None,
    })
}

/// The Threatmap severity of a TM-BOM risk level band.
fn severity_of_level(level: &str) -> Option<Severity> {
    Some(match level {
        "very_low" => Severity::VeryLow,
        "low" => Severity::Low,
        "medium" => Severity::Medium,
        "high" => Severity::High,
        "very_high" | "critical" => Severity::VeryHigh,
        _ => return None,
    })
}

/// How far a control's status settles its threats: (rank, status); the highest rank wins.
fn status_of_control(status: &str) -> (u8, Status) {
    match status {
        "active" | "assumed" => (4, Status::Mitigated),
        "approved" | "scheduled" => (3, Status::InProgress),
        "wont_do" => (2, Status::AcceptedRisk),
        _ => (1, Status::Open),
    }
}

/// Reads a TM-BOM file. `pack_file` names the rule pack of its threats, written beside the
/// model.
pub fn import(text: &str, file: &str, pack_file: &str) -> Result<Converted, ModelError> {
    let doc: Value = crate::file::parse_json_with_hints(text, file)?;
    let fail = |message: String| ModelError {
        file: file.to_owned(),
        problems: vec![crate::file::Problem { level: crate::file::Level::Error, line: None, column: None, element: None, message }],
    };
    let Some(scope) = doc.get("scope").filter(|v| v.is_object()) else {
        return Err(fail("`scope` is missing or not an object: this is not a TM-BOM threat model".to_owned()));
    };
    let mut warnings = Vec::new();
    let title = s(scope, "title");
    let mut model = Model::new(if title.is_empty() { "Imported TM-BOM model" } else { title });
    model.description = s(scope, "description").to_owned();
    for key in ["business_criticality", "data_sensitivity", "exposure", "tier"] {
        if let Some(p) = scope.get(key).and_then(prop) {
            model.properties.insert(format!("scope.{key}"), p);
        }
    }
    for key in ["version", "description", "frozen", "released_at", "product_release_date", "release_docs_link", "reviewed_at", "repo_link"]
    {
        if let Some(p) = doc.get(key).and_then(prop) {
            model.properties.insert(key.to_owned(), p);
        }
    }
    let diagrams = list(&doc, "diagrams");
    if !diagrams.is_empty() {
        warnings.push(format!(
            "{} diagram(s) are source text ({}), not drawings: the diagram is laid out from the model instead",
            diagrams.len(),
            diagrams.iter().map(|d| s(d, "type")).collect::<BTreeSet<_>>().into_iter().collect::<Vec<_>>().join(", ")
        ));
    }
    if !list(&doc, "trust_boundaries").is_empty() {
        // Which zones meet, and how they authenticate: kept as text, since Threatmap sees a
        // crossing wherever a flow leaves a boundary.
        model
            .properties
            .insert("trust_boundaries".to_owned(), PropValue::Text(Value::Array(list(&doc, "trust_boundaries").to_vec()).to_string()));
    }

    let mut ids: BTreeSet<String> = BTreeSet::new();
    // (type, symbolic name) → element id.
    let mut by_name: BTreeMap<(&'static str, String), String> = BTreeMap::new();
    type Names = BTreeMap<(&'static str, String), String>;
    fn own_id(what: &'static str, name: &str, ids: &mut BTreeSet<String>, by_name: &mut Names) -> String {
        let id = crate::model::unique_id(if name.is_empty() { what } else { name }, |i| ids.contains(i));
        ids.insert(id.clone());
        by_name.insert((what, name.to_owned()), id.clone());
        id
    }
    let outside: BTreeSet<&str> = list(&doc, "trust_zones")
        .iter()
        .filter(|z| s(z, "title") == OUTSIDE_TITLE && s(z, "description") == OUTSIDE_DESCRIPTION)
        .map(|z| s(z, "symbolic_name"))
        .collect();
    for z in list(&doc, "trust_zones").iter().filter(|z| !outside.contains(s(z, "symbolic_name"))) {
        let id = own_id("trust_zone", s(z, "symbolic_name"), &mut ids, &mut by_name);
        let mut e = Element::new(id, Kind::Boundary, s(z, "title"));
        e.description = Some(s(z, "description").to_owned()).filter(|d| !d.is_empty());
        model.elements.push(e);
    }
    let zones: BTreeMap<String, String> =
        by_name.iter().filter(|((t, _), _)| *t == "trust_zone").map(|((_, n), id)| (n.clone(), id.clone())).collect();
    if let Some(Value::Object(parents)) = doc.pointer(&format!("/extensions/{}", ZONE_PARENTS.replace('~', "~0").replace('/', "~1"))) {
        for (child, parent) in parents {
            let (Some(c), Some(p)) = (zones.get(child.as_str()), parent.as_str().and_then(|p| zones.get(p))) else { continue };
            if let Some(e) = model.elements.iter_mut().find(|e| &e.id == c) {
                e.in_boundary = Some(p.clone());
            }
        }
    }
    let place = |e: &mut Element, v: &Value, warnings: &mut Vec<String>| {
        let zone = s(v, "trust_zone");
        match zones.get(zone) {
            Some(id) => e.in_boundary = Some(id.clone()),
            None if zone.is_empty() || outside.contains(zone) => {}
            None => warnings
                .push(format!("{} {:?}: trust zone `{zone}` is not among the trust zones; placed outside every boundary", e.kind, e.name)),
        }
    };
    let mut nodes = Vec::new();
    for (what, v) in list(&doc, "actors")
        .iter()
        .map(|v| ("actor", v))
        .chain(list(&doc, "components").iter().map(|v| ("component", v)))
        .chain(list(&doc, "data_stores").iter().map(|v| ("data_store", v)))
    {
        let kind = match (what, s(v, "type")) {
            ("actor", "system" | "third_party") => Kind::ExternalEntity,
            ("actor", _) => Kind::Actor,
            ("data_store", _) => Kind::Datastore,
            _ => Kind::Process,
        };
        let id = own_id(what, s(v, "symbolic_name"), &mut ids, &mut by_name);
        let mut e = Element::new(id, kind, s(v, "title"));
        e.description = Some(s(v, "description").to_owned()).filter(|d| !d.is_empty());
        place(&mut e, v, &mut warnings);
        if what == "data_store" && s(v, "type") == "sql" {
            e.datastore_type = Some(DatastoreType::Sql);
        }
        for key in ["type", "permissions", "parent_component", "repo_link", "vendor", "product"] {
            if let Some(p) = v.get(key).and_then(prop) {
                e.properties.insert(format!("tm-bom.{key}"), p);
            }
        }
        nodes.push(e);
    }
    // Data sets: data items, held by the stores they are placed on.
    for d in list(&doc, "data_sets") {
        let id = crate::model::unique_id(&format!("data {}", s(d, "symbolic_name")), |i| model.data.iter().any(|x| x.id == i));
        let sensitivity = strs(d, "data_sensitivity");
        let has = |k: &str| sensitivity.iter().any(|x| x == k);
        let mut item = DataItem { id: id.clone(), name: s(d, "title").to_owned(), ..DataItem::default() };
        item.description = Some(s(d, "description").to_owned()).filter(|x| !x.is_empty());
        item.classification = Some(if has("cred") {
            Classification::Secret
        } else if has("pii") || has("phi") || has("pci") || has("fin") {
            Classification::Sensitive
        } else if sensitivity.is_empty() {
            Classification::Unknown
        } else {
            Classification::Restricted
        });
        item.is_credentials = has("cred").then_some(true);
        item.is_pii = (has("pii") || has("phi")).then_some(true);
        if !sensitivity.is_empty() {
            item.format = Some(format!("TM-BOM sensitivity: {}", sensitivity.join(", ")));
        }
        let mut lost = Vec::new();
        if d.get("record_count").is_some() {
            lost.push("record count");
        }
        if !list(d, "access_control_methods").is_empty() {
            lost.push("access control methods");
        }
        if !lost.is_empty() {
            warnings.push(format!(
                "data set {:?}: {} not carried over (Threatmap's data items have no such fields)",
                item.name,
                lost.join(" and ")
            ));
        }
        for p in list(d, "placements") {
            let Some(store) = by_name.get(&("data_store", s(p, "data_store").to_owned())) else {
                warnings.push(format!("data set {:?}: placed on `{}`, which is not among the data stores", item.name, s(p, "data_store")));
                continue;
            };
            if let Some(e) = nodes.iter_mut().find(|e| &e.id == store) {
                e.data.push(id.clone());
                item.is_stored = Some(true);
                if p.get("encrypted").and_then(Value::as_bool) == Some(true) {
                    e.controls.is_encrypted_at_rest = Some(true);
                }
            }
        }
        model.data.push(item);
    }
    model.elements.extend(nodes);
    for f in list(&doc, "data_flows") {
        let end = |k: &str| -> Option<String> {
            let r = f.get(k)?;
            let t = s(r, "type").rsplit('/').next().unwrap_or("").replace('-', "_");
            let t = match t.as_str() {
                "actor" => "actor",
                "component" => "component",
                "data_store" => "data_store",
                _ => {
                    return ["actor", "component", "data_store"]
                        .into_iter()
                        .find_map(|t| by_name.get(&(t, s(r, "object").to_owned())).cloned());
                }
            };
            by_name.get(&(t, s(r, "object").to_owned())).cloned()
        };
        let name = s(f, "title");
        let (Some(src), Some(dst)) = (end("source"), end("destination")) else {
            warnings.push(format!(
                "data flow {name:?}: its source or destination is not among the actors, components and data stores; left out"
            ));
            continue;
        };
        let id = own_id("data_flow", s(f, "symbolic_name"), &mut ids, &mut by_name);
        let mut e = Element::flow(id, name, src, dst);
        e.description = Some(s(f, "description").to_owned()).filter(|d| !d.is_empty());
        if let Some(enc) = f.get("encrypted").and_then(Value::as_bool) {
            e.controls.is_encrypted = Some(enc);
        }
        if let Some(p) = f.get("has_sensitive_data").and_then(prop) {
            e.properties.insert("tm-bom.has_sensitive_data".to_owned(), p);
        }
        model.elements.push(e);
    }
    for a in list(&doc, "assumptions") {
        let mut description = format!("Validity: {}", if s(a, "validity").is_empty() { "unconfirmed" } else { s(a, "validity") });
        let topics = strs(a, "topics");
        if !topics.is_empty() {
            description.push_str(&format!("\nTopics: {}", topics.join(", ")));
        }
        model.assumptions.push(Assumption { name: s(a, "description").to_owned(), description, exclude: Vec::new() });
    }

    // The analysis: one rule per threat, on the components it affects.
    let personas: BTreeMap<&str, &Value> = list(&doc, "threat_personas").iter().map(|p| (s(p, "symbolic_name"), p)).collect();
    let kinds: BTreeMap<String, Kind> = model.elements.iter().map(|e| (e.id.clone(), e.kind)).collect();
    let mut rules = Vec::new();
    for t in list(&doc, "threats") {
        let tid = s(t, "symbolic_name");
        let mut affected: Vec<String> = strs(t, "components_affected")
            .iter()
            .filter_map(|c| ["component", "data_store", "actor"].into_iter().find_map(|k| by_name.get(&(k, c.clone())).cloned()))
            .collect();
        let risks: Vec<&Value> = list(&doc, "risks").iter().filter(|r| strs(r, "threats").iter().any(|x| x == tid)).collect();
        let severity = risks.iter().filter_map(|r| severity_of_level(s(r, "level"))).max().unwrap_or(Severity::Medium);
        let controls: Vec<&Value> = list(&doc, "controls").iter().filter(|c| strs(c, "threats").iter().any(|x| x == tid)).collect();
        if affected.is_empty() {
            // A threat on no component: where its controls guard a trust boundary, it is on
            // the flows that cross that boundary, else on the boundary's zones.
            let guarded: BTreeSet<(String, String)> = controls
                .iter()
                .filter_map(|c| c.get("trust_boundary"))
                .filter_map(|b| Some((zones.get(s(b, "trust_zone_a"))?.clone(), zones.get(s(b, "trust_zone_b"))?.clone())))
                .collect();
            let zone: BTreeMap<&str, Option<&str>> = model.elements.iter().map(|e| (e.id.as_str(), e.in_boundary.as_deref())).collect();
            let crosses = |e: &Element| {
                let (a, b) = (
                    e.source.as_deref().and_then(|x| zone.get(x).copied().flatten()),
                    e.sink.as_deref().and_then(|x| zone.get(x).copied().flatten()),
                );
                guarded
                    .iter()
                    .any(|(x, y)| (a == Some(x.as_str()) && b == Some(y.as_str())) || (a == Some(y.as_str()) && b == Some(x.as_str())))
            };
            affected = model.elements.iter().filter(|e| e.kind == Kind::Dataflow && crosses(e)).map(|e| e.id.clone()).collect();
            if affected.is_empty() {
                affected = guarded.iter().flat_map(|(a, b)| [a.clone(), b.clone()]).collect::<BTreeSet<_>>().into_iter().collect();
                if affected.is_empty() {
                    warnings.push(format!(
                        "threat `{tid}` names no component and no trust boundary: kept in the pack, where it gives no finding"
                    ));
                } else {
                    warnings.push(format!(
                        "threat `{tid}` names no component: placed on the trust zones its controls guard (no flow crosses between them)"
                    ));
                }
            } else {
                warnings.push(format!(
                    "threat `{tid}` names no component: placed on the {} flow(s) crossing the trust boundary its controls guard",
                    affected.len()
                ));
            }
        }
        let mut details = Vec::new();
        if let Some(p) = personas.get(s(t, "threat_persona")) {
            details.push(format!("Threat persona: {} ({})", s(p, "title"), s(p, "description")));
        }
        if !s(t, "event").is_empty() {
            details.push(format!("Event: {}", s(t, "event")));
        }
        if !list(t, "sources").is_empty() {
            details.push(format!("Sources: {}", strs(t, "sources").join(", ")));
        }
        for r in &risks {
            details.push(format!(
                "Risk {}: {} (likelihood {}, impact {}, score {}, level {})",
                s(r, "title"),
                s(r, "impact_description"),
                s(r, "likelihood"),
                s(r, "impact"),
                r.get("score").map(Value::to_string).unwrap_or_default(),
                s(r, "level")
            ));
        }
        let mut references: Vec<String> =
            list(t, "weaknesses").iter().filter_map(|w| w.get("cwe_id")?.as_i64()).map(|n| format!("CWE-{n}")).collect();
        references.extend(list(t, "attack_mechanisms").iter().filter_map(|w| w.get("capec_id")?.as_i64()).map(|n| format!("CAPEC-{n}")));
        let targets: BTreeSet<&'static str> = affected.iter().filter_map(|e| kinds.get(e.as_str())).map(|k| k.name()).collect();
        rules.push(GeneratedRule {
            id: tid.to_owned(),
            title: literal_braces(s(t, "title")),
            targets: if targets.is_empty() { vec!["Process"] } else { targets.into_iter().collect() },
            condition: if affected.is_empty() {
                "False".to_owned()
            } else {
                format!("target.id in ({},)", affected.iter().map(|e| crate::tmt::quoted(e)).collect::<Vec<_>>().join(", "))
            },
            severity: severity.name().to_owned(),
            stride: Vec::new(),
            description: literal_braces(s(t, "description")),
            details: literal_braces(&details.join("\n")),
            mitigations: controls
                .iter()
                .map(|c| {
                    literal_braces(&format!(
                        "{} ({}, priority {}): {}",
                        s(c, "title"),
                        s(c, "status"),
                        s(c, "priority"),
                        s(c, "description")
                    ))
                })
                .collect(),
            references,
        });
        // The controls' statuses settle the threat on each element it affects.
        if let Some((_, status, control)) = controls
            .iter()
            .map(|c| {
                let (rank, st) = status_of_control(s(c, "status"));
                (rank, st, *c)
            })
            .max_by_key(|(rank, _, _)| *rank)
            .filter(|(_, st, _)| *st != Status::Open)
        {
            for e in &affected {
                let note = format!("control `{}` is {} in the TM-BOM file", s(control, "symbolic_name"), s(control, "status"));
                let mut d = Decision::recorded(status, Vec::new(), String::new(), String::new(), note);
                if status == Status::AcceptedRisk {
                    d.justification = format!("The control {:?} will not be done: {}", s(control, "title"), s(control, "description"));
                }
                model.decisions.insert(format!("{tid}@{e}"), d);
            }
        }
    }
    let pack = GeneratedPack::recorded_threats(
        &mut model,
        pack_file,
        "tm-bom-threats",
        &format!("the TM-BOM file {}", std::path::Path::new(file).file_name().map_or(file.into(), |n| n.to_string_lossy())),
        rules,
    );
    ModelError::check_converted(file, &model)?;
    Ok(Converted { model, pack, warnings, more_packs: Vec::new() })
}

/// A TM-BOM symbolic name (`^[0-9a-z-]+$`) for an id.
fn symbolic(id: &str) -> String {
    let mut out = String::new();
    for c in id.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let out = out.trim_matches('-').to_owned();
    if out.is_empty() { "x".to_owned() } else { out }
}

/// The text of a model property, if set.
fn text_prop<'a>(m: &'a Model, key: &str) -> Option<&'a str> {
    match m.properties.get(key) {
        Some(PropValue::Text(t)) => Some(t.as_str()),
        _ => None,
    }
}

/// Writes the analysed model as a TM-BOM file (schema 1.0.x).
pub fn export(a: &Analysis<'_>) -> String {
    let model = a.prepared.model();
    let prepared = &a.prepared;
    let pick = |key: &str, allowed: &[&str], fallback: &str| -> String {
        text_prop(model, key).filter(|v| allowed.contains(v)).unwrap_or(fallback).to_owned()
    };
    // Sensitivity of the data the system handles.
    let sensitivity_of = |d: &DataItem| -> Vec<&'static str> {
        if let Some(listed) = d.format.as_deref().and_then(|f| f.strip_prefix("TM-BOM sensitivity: ")) {
            let known = ["pii", "phi", "fin", "ip", "cred", "biz", "gov", "pci", "op"];
            return known.iter().copied().filter(|k| listed.split(", ").any(|x| x == *k)).collect();
        }
        let mut out = Vec::new();
        if d.is_credentials == Some(true) {
            out.push("cred");
        }
        if d.is_pii == Some(true) {
            out.push("pii");
        }
        if out.is_empty() && d.classification.is_some_and(|c| c > Classification::Public) {
            out.push("biz");
        }
        out
    };
    let all_sensitivity: BTreeSet<&str> = match text_prop(model, "scope.data_sensitivity") {
        Some(t) => t
            .split(", ")
            .filter(|x| !x.is_empty())
            .map(|x| match x {
                "pii" => "pii",
                "phi" => "phi",
                "fin" => "fin",
                "ip" => "ip",
                "cred" => "cred",
                "gov" => "gov",
                "pci" => "pci",
                "op" => "op",
                _ => "biz",
            })
            .collect(),
        None => model.data.iter().flat_map(sensitivity_of).collect(),
    };
    let mut doc = Map::new();
    doc.insert(
        "version".to_owned(),
        json!(
            text_prop(model, "version")
                .filter(|v| v.split('.').all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit())))
                .unwrap_or(VERSION)
        ),
    );
    doc.insert(
        "scope".to_owned(),
        json!({
            "title": model.name,
            "description": model.description,
            "business_criticality": pick("scope.business_criticality", &["minimal", "low", "moderate", "high", "maximal"], "moderate"),
            "data_sensitivity": all_sensitivity.into_iter().collect::<Vec<_>>(),
            "exposure": pick("scope.exposure", &["internal", "external"], "external"),
            "tier": pick("scope.tier", &["mission_critical", "business_critical", "important", "non_critical"], "important"),
        }),
    );
    if let Some(d) = text_prop(model, "description") {
        doc.insert("description".to_owned(), json!(d));
    }
    for key in ["reviewed_at", "released_at", "product_release_date", "release_docs_link", "repo_link"] {
        if let Some(v) = text_prop(model, key) {
            doc.insert(key.to_owned(), json!(v));
        }
    }
    if let Some(PropValue::Bool(b)) = model.properties.get("frozen") {
        doc.insert("frozen".to_owned(), json!(b));
    }

    // Names: symbolic and unique.
    let mut taken = BTreeSet::new();
    let mut name_of: BTreeMap<&str, String> = BTreeMap::new();
    for e in &model.elements {
        let base = symbolic(&e.id);
        let mut n = base.clone();
        let mut k = 2;
        while !taken.insert(n.clone()) {
            n = format!("{base}-{k}");
            k += 1;
        }
        name_of.insert(e.id.as_str(), n);
    }
    let outside = {
        let mut n = "outside".to_owned();
        while taken.contains(&n) {
            n.push_str("-zone");
        }
        n
    };
    let zone_of = |e: &Element| e.in_boundary.as_deref().and_then(|b| name_of.get(b)).cloned().unwrap_or_else(|| outside.clone());
    let mut zones: Vec<Value> = model
        .elements
        .iter()
        .filter(|e| e.kind == Kind::Boundary)
        .map(|e| json!({ "symbolic_name": name_of[e.id.as_str()], "title": e.name, "description": e.description.clone().unwrap_or_default() }))
        .collect();
    if model.elements.iter().any(|e| e.kind.is_node() && e.in_boundary.is_none()) {
        zones.push(json!({ "symbolic_name": outside, "title": OUTSIDE_TITLE, "description": OUTSIDE_DESCRIPTION }));
    }
    let class_of = |k: Kind| match k {
        Kind::Actor | Kind::ExternalEntity => "actor",
        Kind::Datastore => "data_store",
        _ => "component",
    };
    let describe = |e: &Element| e.description.clone().unwrap_or_default();
    let tm_prop = |e: &Element, key: &str| match e.properties.get(&format!("tm-bom.{key}")) {
        Some(PropValue::Text(t)) => Some(t.clone()),
        _ => None,
    };
    let mut actors = Vec::new();
    let mut components = Vec::new();
    let mut stores = Vec::new();
    for e in model.elements.iter().filter(|e| e.kind.is_node()) {
        let mut o =
            json!({ "symbolic_name": name_of[e.id.as_str()], "title": e.name, "description": describe(e), "trust_zone": zone_of(e) });
        match class_of(e.kind) {
            "actor" => {
                let types = ["system", "user", "power_user", "administrator", "engineer", "third_party"];
                let fallback = if e.kind == Kind::ExternalEntity { "system" } else { "user" };
                o["type"] = json!(tm_prop(e, "type").filter(|t| types.contains(&t.as_str())).unwrap_or_else(|| fallback.to_owned()));
                if let Some(p) = tm_prop(e, "permissions") {
                    o["permissions"] = json!(p);
                }
                actors.push(o);
            }
            "data_store" => {
                let types = ["sql", "key_value", "document", "object", "graph", "time_series"];
                let guess = match e.get(crate::model::ElementAttr::datastore_type, e.kind) {
                    crate::attr::Value::Enum(crate::attr::EnumValue::DatastoreType(DatastoreType::AwsS3 | DatastoreType::FileSystem)) => {
                        "object"
                    }
                    crate::attr::Value::Enum(crate::attr::EnumValue::DatastoreType(DatastoreType::Ldap)) => "key_value",
                    _ => "sql",
                };
                o["type"] = json!(tm_prop(e, "type").filter(|t| types.contains(&t.as_str())).unwrap_or_else(|| guess.to_owned()));
                for key in ["vendor", "product"] {
                    if let Some(v) = tm_prop(e, key) {
                        o[key] = json!(v);
                    }
                }
                stores.push(o);
            }
            _ => {
                if let Some(p) = tm_prop(e, "parent_component").filter(|p| taken.contains(p)) {
                    o["parent_component"] = json!(p);
                }
                components.push(o);
            }
        }
    }
    let data_sets: Vec<Value> = model
        .data
        .iter()
        .map(|d| {
            let placements: Vec<Value> = model
                .elements
                .iter()
                .filter(|e| e.kind == Kind::Datastore && e.data.contains(&d.id))
                .map(|e| json!({ "data_store": name_of[e.id.as_str()], "encrypted": e.controls.is_encrypted_at_rest == Some(true) }))
                .collect();
            json!({ "symbolic_name": symbolic(d.id.trim_start_matches("data-")), "title": d.name, "description": d.description.clone().unwrap_or_default(), "placements": placements, "data_sensitivity": sensitivity_of(d) })
        })
        .collect();
    let mut crossings: BTreeSet<(String, String)> = BTreeSet::new();
    let flows: Vec<Value> = model
        .elements
        .iter()
        .enumerate()
        .filter(|(_, e)| e.kind == Kind::Dataflow)
        .filter_map(|(i, e)| {
            let src = model.elements.iter().find(|x| Some(&x.id) == e.source.as_ref())?;
            let dst = model.elements.iter().find(|x| Some(&x.id) == e.sink.as_ref())?;
            let (za, zb) = (zone_of(src), zone_of(dst));
            if za != zb {
                crossings.insert(if za < zb { (za, zb) } else { (zb, za) });
            }
            let carried = prepared.data_of(i as u32);
            let sensitive = carried.iter().any(|&d| {
                let d = &model.data[d as usize];
                d.is_credentials == Some(true)
                    || d.is_pii == Some(true)
                    || d.classification.is_some_and(|c| c >= Classification::Restricted)
            });
            let encrypted = matches!(prepared.control(i as u32, crate::model::ControlAttr::is_encrypted), crate::attr::Value::Bool(true));
            Some(json!({
                "symbolic_name": name_of[e.id.as_str()], "title": e.name, "description": describe(e),
                "source": { "type": class_of(src.kind), "object": name_of[src.id.as_str()] },
                "destination": { "type": class_of(dst.kind), "object": name_of[dst.id.as_str()] },
                "has_sensitive_data": sensitive, "encrypted": encrypted,
            }))
        })
        .collect();
    let boundaries: Vec<Value> = match text_prop(model, "trust_boundaries").and_then(|t| serde_json::from_str::<Value>(t).ok()) {
        Some(Value::Array(kept)) => kept,
        _ => crossings.into_iter().map(|(a, b)| json!({ "trust_zone_a": a, "trust_zone_b": b })).collect(),
    };
    let assumptions: Vec<Value> = model
        .assumptions
        .iter()
        .map(|x| {
            let validity = x
                .description
                .lines()
                .find_map(|l| l.strip_prefix("Validity: "))
                .filter(|v| ["unconfirmed", "confirmed", "rejected"].contains(v))
                .unwrap_or("unconfirmed");
            let mut o = json!({ "description": x.name, "validity": validity });
            if let Some(t) = x.description.lines().find_map(|l| l.strip_prefix("Topics: ")) {
                o["topics"] = json!(t.split(", ").map(symbolic).collect::<Vec<_>>());
            }
            o
        })
        .collect();

    // Findings: per rule, a threat on the elements it fired on, its mitigations as controls,
    // its severity as a risk.
    let mut by_rule: BTreeMap<u32, Vec<&crate::engine::Finding>> = BTreeMap::new();
    for f in &a.findings {
        by_rule.entry(f.rule).or_default().push(f);
    }
    let (mut threats, mut controls, mut risks) = (Vec::new(), Vec::new(), Vec::new());
    let mut threat_names = BTreeSet::new();
    for (rule, found) in &by_rule {
        let r = &a.rules.rules[*rule as usize];
        let mut tname = symbolic(&r.id);
        while !threat_names.insert(tname.clone()) {
            tname.push_str("-t");
        }
        let affected: BTreeSet<String> = found.iter().map(|f| name_of[prepared.element(f.element).id.as_str()].clone()).collect();
        let view = a.view(found[0]);
        // A threat on several elements is named for all of them, not after the first.
        let (title, description) = if affected.len() == 1 {
            (crate::model::one_line(&view.title), view.description.to_string())
        } else {
            let (t, d) = r.generic_text("the affected components");
            (crate::model::one_line(&t), d)
        };
        // References `CWE-79` and `CAPEC-66` as the format's `{cwe_id: 79}` and `{capec_id: 66}`.
        let numbered = |prefix: &str, key: &str| -> Vec<Value> {
            r.references
                .iter()
                .filter_map(|x| x.strip_prefix(prefix)?.split(|c: char| !c.is_ascii_digit()).next()?.parse::<i64>().ok())
                .map(|n| json!({ key: n }))
                .collect()
        };
        let (cwes, capecs) = (numbered("CWE-", "cwe_id"), numbered("CAPEC-", "capec_id"));
        let mut t = json!({
            "symbolic_name": tname, "title": format!("{}: {title}", crate::model::one_line(&r.id)),
            "description": description, "components_affected": affected.iter().collect::<Vec<_>>(),
            "threat_persona": "attacker", "event": title, "sources": ["adversary"],
        });
        if !cwes.is_empty() {
            t["weaknesses"] = json!(cwes);
        }
        if !capecs.is_empty() {
            t["attack_mechanisms"] = json!(capecs);
        }
        threats.push(t);
        let severity = found.iter().map(|f| a.severity(f)).max().unwrap_or(Severity::Medium);
        let all_mitigated = found.iter().all(|f| a.status(f) == Status::Mitigated);
        let priority = match severity {
            Severity::VeryHigh => "critical",
            Severity::High => "high",
            Severity::Medium => "medium",
            Severity::Low | Severity::VeryLow => "low",
            Severity::Info => "none",
        };
        for (k, m) in view.mitigations.iter().enumerate() {
            controls.push(json!({
                "symbolic_name": format!("{tname}-c{}", k + 1), "title": crate::model::one_line(m), "description": m,
                "threats": [tname], "status": if all_mitigated { "active" } else { "suggested" }, "priority": priority,
            }));
        }
        let (likelihood, impact, level) = match severity {
            Severity::VeryHigh => ("likely", "severe", "very_high"),
            Severity::High => ("likely", "major", "high"),
            Severity::Medium => ("possible", "moderate", "medium"),
            Severity::Low => ("unlikely", "minor", "low"),
            Severity::VeryLow | Severity::Info => ("rare", "negligible", "very_low"),
        };
        let score = |l: &str, i: &str| {
            let rank = |v: &str, list: &[&str]| list.iter().position(|x| *x == v).unwrap_or(0) as i64 + 1;
            rank(l, &["rare", "unlikely", "possible", "likely", "certain"])
                * rank(i, &["negligible", "minor", "moderate", "major", "severe"])
        };
        risks.push(json!({
            "symbolic_name": format!("{tname}-risk"), "title": format!("Risk of {title}"),
            "description": description, "threats": [tname], "likelihood": likelihood, "impact": impact,
            "impact_description": view.details, "score": score(likelihood, impact), "level": level,
        }));
    }
    doc.insert("trust_zones".to_owned(), Value::Array(zones));
    doc.insert("trust_boundaries".to_owned(), Value::Array(boundaries));
    doc.insert("actors".to_owned(), Value::Array(actors));
    doc.insert("components".to_owned(), Value::Array(components));
    doc.insert("data_stores".to_owned(), Value::Array(stores));
    doc.insert("data_sets".to_owned(), Value::Array(data_sets));
    doc.insert("data_flows".to_owned(), Value::Array(flows));
    doc.insert("assumptions".to_owned(), Value::Array(assumptions));
    if !threats.is_empty() {
        doc.insert(
            "threat_personas".to_owned(),
            json!([{ "symbolic_name": "attacker", "title": "Attacker", "description": "Whoever would exploit the threats Threatmap's rules found.", "is_person": true, "skill_level": "engineer", "access_level": "anonymous", "malicious_intent": true, "applicability_to_org": "moderate" }]),
        );
    }
    let parents: Map<String, Value> = model
        .elements
        .iter()
        .filter(|e| e.kind == Kind::Boundary)
        .filter_map(|e| Some((name_of[e.id.as_str()].clone(), json!(name_of.get(e.in_boundary.as_deref()?)?))))
        .collect();
    if !parents.is_empty() {
        doc.insert("extensions".to_owned(), json!({ ZONE_PARENTS: parents }));
    }
    doc.insert("threats".to_owned(), Value::Array(threats));
    doc.insert("controls".to_owned(), Value::Array(controls));
    doc.insert("risks".to_owned(), Value::Array(risks));
    let mut out = serde_json::to_string_pretty(&Value::Object(doc)).unwrap_or_default();
    out.push('\n');
    out
}
