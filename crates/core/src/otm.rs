//! Open Threat Model (OTM 0.2.0) export and import.
//!
//! Export writes the standard structure other tools read: trust zones (boundaries), components
//! (nodes, with their trust zone, type and position), dataflows, the threat catalogue used (with
//! categories, CWEs and a likelihood/impact from the severity), its mitigations, and per
//! component and dataflow the threats found with their state. Components outside every
//! boundary sit in a trust zone of their own ([`OUTSIDE_ZONE`]), since OTM requires a parent.
//! Threatmap's own detail (every attribute, the decisions, assumptions, data, layout extras)
//! travels in `attributes`, so a Threatmap → OTM → Threatmap round trip is lossless while
//! other tools still see a meaningful model.
//!
//! Import reads both: an OTM written by Threatmap comes back as it was; one from another tool
//! maps trust zones to boundaries, components to nodes (the kind guessed from the type, the
//! type kept as stereotype), dataflows to flows, and its threat instances to a rule pack (one
//! rule per threat, on the elements it was found on) with their states as decisions.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use crate::attr::Kind;
use crate::engine::Analysis;
use crate::file::{Converted, ModelError};
use crate::lifecycle::{Decision, Status};
use crate::model::{Element, Model, Placement};
use crate::rules::{GeneratedPack, GeneratedRule, Severity, literal_braces};

/// The OTM version written.
pub const OTM_VERSION: &str = "0.2.0";
/// The trust zone that holds components outside every boundary.
pub const OUTSIDE_ZONE: &str = "threatmap-outside";
const DIAGRAM: &str = "threatmap-diagram";

/// The OTM representation id of diagram `d`.
fn diagram_id(d: usize) -> String {
    if d == 0 { DIAGRAM.to_owned() } else { format!("{DIAGRAM}-{}", d + 1) }
}
/// Attribute keys carrying Threatmap's own detail.
const ELEMENT_ATTR: &str = "threatmap:element";
const PLACEMENT_ATTR: &str = "threatmap:placement";
const MODEL_ATTR: &str = "threatmap:model";
const ORDER_ATTR: &str = "threatmap:elementOrder";
/// The rule pack files the model runs (path as the model names it → TOML text), so that the
/// model works wherever the OTM file goes.
const PACKS_ATTR: &str = "threatmap:rulePacks";

/// OTM's threat instance state for a decision status.
pub fn state_of(s: Status) -> &'static str {
    match s {
        Status::Open | Status::NeedsInvestigation | Status::InProgress | Status::FixReported => "EXPOSED",
        Status::Mitigated => "MITIGATED",
        Status::AcceptedRisk => "ACCEPTED",
        Status::NotApplicable => "NOT_APPLICABLE",
        Status::Transferred => "TRANSFERRED",
    }
}

/// The decision status for an OTM threat instance state (the spellings tools use).
pub fn status_of_state(s: &str) -> Option<Status> {
    let norm: String = s.trim().to_ascii_lowercase().chars().filter(|c| c.is_ascii_alphabetic()).collect();
    Some(match norm.as_str() {
        "exposed" | "expose" | "open" | "required" | "recommended" | "new" => Status::Open,
        "partlymitigated" | "partiallymitigated" | "inprogress" | "implementing" => Status::InProgress,
        "mitigated" | "mitigate" | "implemented" | "fixed" | "avoided" | "eliminated" => Status::Mitigated,
        "accepted" | "accept" => Status::AcceptedRisk,
        "notapplicable" | "na" | "hidden" | "falsepositive" | "rejected" => Status::NotApplicable,
        "transferred" | "transfer" => Status::Transferred,
        "needsinvestigation" | "investigate" => Status::NeedsInvestigation,
        _ => return None,
    })
}

/// OTM's likelihood and impact (0 to 100) for a severity.
fn risk_of(s: Severity) -> (u32, u32) {
    match s {
        Severity::VeryHigh => (90, 95),
        Severity::High => (70, 80),
        Severity::Medium => (50, 50),
        Severity::Low => (30, 30),
        Severity::VeryLow => (15, 15),
        Severity::Info => (5, 5),
    }
}

fn severity_of_risk(likelihood: f64, impact: f64) -> Severity {
    let score = (likelihood + impact) / 2.0;
    match score {
        s if s >= 85.0 => Severity::VeryHigh,
        s if s >= 65.0 => Severity::High,
        s if s >= 40.0 => Severity::Medium,
        s if s >= 22.0 => Severity::Low,
        s if s >= 10.0 => Severity::VeryLow,
        _ => Severity::Info,
    }
}

fn to_value<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// The analysed model as an OTM document (pretty JSON, deterministic).
/// Writes the analysed model as OTM. `packs` are the texts of the rule pack files the model
/// names (by the name it gives them); they travel in the file.
pub fn export(a: &Analysis<'_>, packs: &BTreeMap<String, String>) -> String {
    let model = a.prepared.model();
    // One OTM representation per diagram; an element has a representation on each diagram
    // that places it.
    let representation = |id: &str| -> Value {
        let mut out = Vec::new();
        for d in 0..model.diagram_count() {
            let Some(p) = model.layout_of(d).get(id) else { continue };
            let rid = if d == 0 { format!("{id}-representation") } else { format!("{id}-representation-{}", d + 1) };
            let mut r = json!({ "representation": diagram_id(d), "id": rid, "position": { "x": p.x, "y": p.y } });
            if let (Some(w), Some(h)) = (p.width, p.height) {
                r["size"] = json!({ "width": w, "height": h });
            }
            if !p.line.is_empty() {
                r["attributes"] = json!({ PLACEMENT_ATTR: to_value(p) });
            }
            out.push(r);
        }
        Value::Array(out)
    };
    let element_attr = |e: &Element| json!({ ELEMENT_ATTR: to_value(e) });
    let zone_of = |e: &Element| e.in_boundary.clone().unwrap_or_else(|| OUTSIDE_ZONE.to_owned());

    let mut by_element: BTreeMap<u32, Vec<Value>> = BTreeMap::new();
    let mut used: BTreeSet<u32> = BTreeSet::new();
    for f in &a.findings {
        let rule = a.rule(f);
        used.insert(f.rule);
        let status = a.status(f);
        let mitigations: Vec<Value> = (1..=rule.mitigations.len())
            .map(|k| json!({ "mitigation": format!("{}-m{k}", rule.id), "state": if status == Status::Mitigated { "IMPLEMENTED" } else { "RECOMMENDED" } }))
            .collect();
        by_element.entry(f.element).or_default().push(json!({ "threat": rule.id, "state": state_of(status), "mitigations": mitigations }));
    }

    let mut zones = Vec::new();
    let needs_outside = model.elements.iter().any(|e| e.kind.is_node() && e.in_boundary.is_none());
    if needs_outside {
        zones.push(
            json!({ "id": OUTSIDE_ZONE, "name": "Outside any trust boundary", "type": "threatmap-outside", "risk": { "trustRating": 0 } }),
        );
    }
    let mut components = Vec::new();
    let mut dataflows = Vec::new();
    for (i, e) in model.elements.iter().enumerate() {
        let threats = by_element.remove(&(i as u32)).unwrap_or_default();
        let description = e.description.clone().unwrap_or_default();
        match e.kind {
            Kind::Boundary => {
                let mut z = json!({
                    "id": e.id, "name": e.name, "type": e.stereotype.clone().unwrap_or_else(|| "trust-boundary".to_owned()),
                    "description": description, "risk": { "trustRating": 50 },
                    "representations": representation(&e.id), "attributes": element_attr(e),
                });
                if let Some(p) = &e.in_boundary {
                    z["parent"] = json!({ "trustZone": p });
                }
                zones.push(z);
            }
            Kind::Dataflow => dataflows.push(json!({
                "id": e.id, "name": e.name, "description": description, "bidirectional": false,
                "source": e.source, "destination": e.sink, "threats": threats, "attributes": element_attr(e),
            })),
            kind => components.push(json!({
                "id": e.id, "name": e.name, "type": e.stereotype.clone().unwrap_or_else(|| kind.name().to_owned()),
                "description": description, "parent": { "trustZone": zone_of(e) },
                "representations": representation(&e.id), "threats": threats, "attributes": element_attr(e),
            })),
        }
    }
    let mut threats = Vec::new();
    let mut mitigations = Vec::new();
    for r in used.iter().map(|&i| &a.rules.rules[i as usize]) {
        let (likelihood, impact) = risk_of(r.severity);
        let cwes: Vec<&str> = r.references.iter().map(String::as_str).filter(|x| x.starts_with("CWE-")).collect();
        threats.push(json!({
            "id": r.id, "name": r.title_template, "description": r.description,
            "categories": r.stride.iter().map(|s| s.name()).collect::<Vec<_>>(), "cwes": cwes,
            "risk": { "likelihood": likelihood, "impact": impact },
            "attributes": { "severity": r.severity.name(), "pack": r.pack },
        }));
        for (k, m) in r.mitigations.iter().enumerate() {
            let name: String = m.split(['.', '\n']).next().unwrap_or(m).chars().take(120).collect();
            mitigations.push(json!({ "id": format!("{}-m{}", r.id, k + 1), "name": name, "description": m, "riskReduction": 50 }));
        }
    }
    let mut rest = model.clone();
    rest.elements.clear();
    // Nodes and boundaries carry their position in their representation; flows have none in
    // OTM, so their waypoints stay with the model attribute.
    let placed_by_representation = |id: &String, _: &mut Placement| !model.elements.iter().any(|e| &e.id == id && e.kind != Kind::Dataflow);
    rest.layout.retain(placed_by_representation);
    for d in &mut rest.diagrams {
        d.layout.retain(placed_by_representation);
    }
    let diagrams: Vec<Value> = (0..model.diagram_count())
        .map(|d| {
            let name = if model.diagrams.is_empty() { "Data-flow diagram" } else { model.diagram_name(d) };
            json!({ "name": name, "id": diagram_id(d), "type": "diagram" })
        })
        .collect();
    let doc = json!({
        "otmVersion": OTM_VERSION,
        "project": {
            "name": model.name, "id": crate::model::slug(&model.name), "description": model.description,
            "attributes": { MODEL_ATTR: to_value(&rest), ORDER_ATTR: model.elements.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), PACKS_ATTR: packs },
        },
        "representations": diagrams,
        "trustZones": zones,
        "components": components,
        "dataflows": dataflows,
        "threats": threats,
        "mitigations": mitigations,
    });
    let mut s = serde_json::to_string_pretty(&doc).unwrap_or_default();
    s.push('\n');
    s
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

fn list<'a>(v: &'a Value, k: &str) -> &'a [Value] {
    v.get(k).and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

/// The kind of a component from another tool, guessed from its type and name.
fn kind_of_type(t: &str) -> Kind {
    let t = t.to_ascii_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| t.contains(w));
    if has(&["database", "datastore", "data-store", "storage", "bucket", "s3", "sql", "db", "cache", "queue", "file"]) {
        Kind::Datastore
    } else if has(&["lambda", "function", "serverless"]) {
        Kind::Lambda
    } else if has(&["user", "actor", "human", "person", "browser", "client"]) {
        Kind::Actor
    } else if has(&["external", "third-party", "thirdparty", "saas"]) {
        Kind::ExternalEntity
    } else if has(&["server", "web", "api", "gateway", "service", "load-balancer"]) {
        Kind::Server
    } else {
        Kind::Process
    }
}

/// Imports an OTM document (JSON). `file` names it in errors; `pack_file` is the path the
/// threats pack would have relative to the model.
pub fn import(text: &str, file: &str, pack_file: &str) -> Result<Converted, ModelError> {
    let doc: Value =
        serde_json::from_str(text).map_err(|e| ModelError::at(file, Some(e.line()), Some(e.column()), format!("not valid JSON: {e}")))?;
    if !doc.get("otmVersion").is_some_and(Value::is_string) || !doc.get("project").is_some_and(Value::is_object) {
        return Err(ModelError::at(
            file,
            None,
            None,
            "not an Open Threat Model document: `otmVersion` and `project` are required".to_owned(),
        ));
    }
    for key in ["representations", "assets", "trustZones", "components", "dataflows", "threats", "mitigations"] {
        if let Some(v) = doc.get(key).filter(|v| !v.is_array() && !v.is_null()) {
            return Err(ModelError::at(file, None, None, format!("`{key}` must be a list, not {}", crate::file::json_type(v))));
        }
    }
    for (key, items) in
        [("trustZones", list(&doc, "trustZones")), ("components", list(&doc, "components")), ("dataflows", list(&doc, "dataflows"))]
    {
        if let Some((i, v)) = items.iter().enumerate().find(|(_, v)| !v.is_object()) {
            return Err(ModelError::at(file, None, None, format!("`{key}[{i}]` must be an object, not {}", crate::file::json_type(v))));
        }
        if let Some((i, _)) = items.iter().enumerate().find(|(_, v)| v.get("id").is_some_and(|id| !id.is_string())) {
            return Err(ModelError::at(file, None, None, format!("`{key}[{i}].id` must be a string")));
        }
    }
    let mut warnings = Vec::new();
    let project = &doc["project"];
    let native = project.pointer(&format!("/attributes/{}", MODEL_ATTR.replace('~', "~0").replace('/', "~1")));
    let mut model: Model = match native {
        Some(m) => serde_json::from_value(m.clone())
            .map_err(|e| ModelError::at(file, None, None, format!("project.attributes.{MODEL_ATTR}: {e}")))?,
        None => {
            let mut m = Model::new(match s(project, "name") {
                "" => "Imported model",
                n => n,
            });
            m.description = s(project, "description").to_owned();
            m
        }
    };
    let foreign = native.is_none();
    let text_of = |v: &Value| -> Option<crate::model::PropValue> {
        use crate::model::PropValue;
        Some(match v {
            Value::String(t) if !t.is_empty() => PropValue::Text(t.clone()),
            Value::Bool(b) => PropValue::Bool(*b),
            Value::Number(n) => n.as_i64().map_or_else(|| PropValue::Text(n.to_string()), PropValue::Int),
            Value::Array(a) if !a.is_empty() => {
                PropValue::Text(a.iter().map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_owned)).collect::<Vec<_>>().join(", "))
            }
            _ => return None,
        })
    };
    // Tags and a tool's own attributes, on the model and its elements, as properties.
    let extras = |v: &Value, props: &mut BTreeMap<String, crate::model::PropValue>| {
        if let Some(t) = v.get("tags").and_then(text_of) {
            props.insert("otm:tags".to_owned(), t);
        }
        if let Some(Value::Object(attrs)) = v.get("attributes") {
            for (k, a) in attrs {
                if let Some(t) = text_of(a) {
                    props.insert(format!("otm:{k}"), t);
                }
            }
        }
    };
    if foreign {
        for key in ["owner", "ownerContact"] {
            if let Some(t) = project.get(key).and_then(text_of) {
                model.properties.insert(format!("otm:{key}"), t);
            }
        }
        extras(project, &mut model.properties);
        // Assets: data items, their confidentiality rating the classification, the whole
        // rating (with its comment) in the description.
        for a in list(&doc, "assets") {
            let id = s(a, "id");
            if id.is_empty() {
                continue;
            }
            let mut item = crate::model::DataItem {
                id: id.to_owned(),
                name: if s(a, "name").is_empty() { id.to_owned() } else { s(a, "name").to_owned() },
                ..Default::default()
            };
            let rating = |k: &str| a.pointer(&format!("/risk/{k}")).and_then(Value::as_f64);
            let mut text = s(a, "description").to_owned();
            if let (Some(c), Some(i), Some(av)) = (rating("confidentiality"), rating("integrity"), rating("availability")) {
                item.classification = Some(match c {
                    c if c <= 0.0 => crate::attr::Classification::Public,
                    c if c <= 33.0 => crate::attr::Classification::Restricted,
                    c if c <= 66.0 => crate::attr::Classification::Sensitive,
                    _ => crate::attr::Classification::Secret,
                });
                let comment = a.pointer("/risk/riskComments").and_then(Value::as_str).unwrap_or("");
                if !text.is_empty() {
                    text.push('\n');
                }
                text.push_str(&format!("OTM risk: confidentiality {c}, integrity {i}, availability {av}"));
                if !comment.is_empty() {
                    text.push_str(&format!(" ({comment})"));
                }
            }
            item.description = Some(text).filter(|t| !t.is_empty());
            model.data.push(item);
        }
    }
    let asset_ids: BTreeSet<String> = model.data.iter().map(|d| d.id.clone()).collect();
    let mut stored_assets: BTreeSet<String> = BTreeSet::new();
    let take_assets = |e: &mut Element, v: &Value, warnings: &mut Vec<String>, stored_assets: &mut BTreeSet<String>| {
        let (processed, stored): (Vec<&Value>, Vec<&Value>) = match v.get("assets") {
            Some(Value::Array(a)) => (a.iter().collect(), Vec::new()),
            Some(Value::Object(o)) => (
                o.get("processed").and_then(Value::as_array).map(|a| a.iter().collect()).unwrap_or_default(),
                o.get("stored").and_then(Value::as_array).map(|a| a.iter().collect()).unwrap_or_default(),
            ),
            _ => (Vec::new(), Vec::new()),
        };
        for (asset, is_stored) in processed.into_iter().map(|a| (a, false)).chain(stored.into_iter().map(|a| (a, true))) {
            let Some(asset) = asset.as_str() else { continue };
            if !asset_ids.contains(asset) {
                warnings.push(format!("{} {:?}: asset `{asset}` is not among the assets; ignored", e.kind, e.name));
                continue;
            }
            if is_stored {
                stored_assets.insert(asset.to_owned());
            }
            if !e.data.iter().any(|d| d == asset) {
                e.data.push(asset.to_owned());
            }
        }
    };

    // Elements: Threatmap's own copy when present, else built from the OTM fields.
    let element_of = |v: &Value, kind: Kind, what: &str| -> Result<Element, ModelError> {
        if let Some(e) = v.pointer(&format!("/attributes/{ELEMENT_ATTR}")) {
            return serde_json::from_value(e.clone())
                .map_err(|err| ModelError::at(file, None, None, format!("{what} `{}`: attributes.{ELEMENT_ATTR}: {err}", s(v, "id"))));
        }
        let id = s(v, "id");
        if id.is_empty() {
            return Err(ModelError::at(file, None, None, format!("a {what} has no `id`")));
        }
        let mut e = Element::new(id, kind, if s(v, "name").is_empty() { id } else { s(v, "name") });
        if !s(v, "description").is_empty() {
            e.description = Some(s(v, "description").to_owned());
        }
        if !s(v, "type").is_empty() {
            e.stereotype = Some(s(v, "type").to_owned());
        }
        Ok(e)
    };
    // Diagrams: the document's diagram representations that place something, each its own
    // diagram (a file written by Threatmap names them in its model attribute too).
    let used: BTreeSet<&str> = ["trustZones", "components"]
        .iter()
        .flat_map(|k| list(&doc, k))
        .flat_map(|v| list(v, "representations"))
        .filter_map(|r| r.get("representation").and_then(Value::as_str))
        .collect();
    let drawn: Vec<(&str, &str)> = list(&doc, "representations")
        .iter()
        .filter(|r| s(r, "type").is_empty() || s(r, "type") == "diagram")
        .map(|r| (s(r, "id"), s(r, "name")))
        .filter(|(id, _)| used.contains(id))
        .collect();
    let native_diagrams = model.diagrams.len();
    if drawn.len() > 1 && model.diagrams.is_empty() {
        for (_, name) in &drawn {
            model.push_diagram(name);
        }
    }
    let diagram_of = |rep: &str| {
        if native_diagrams > 0 {
            (0..native_diagrams).find(|&d| diagram_id(d) == rep).unwrap_or(0)
        } else if drawn.len() > 1 {
            drawn.iter().position(|(id, _)| *id == rep).unwrap_or(0)
        } else {
            0
        }
    };
    let place = |v: &Value, model: &mut Model| {
        for r in list(v, "representations") {
            let d = diagram_of(s(r, "representation"));
            if let Some(p) =
                r.pointer(&format!("/attributes/{PLACEMENT_ATTR}")).and_then(|p| serde_json::from_value::<Placement>(p.clone()).ok())
            {
                model.layout_of_mut(d).insert(s(v, "id").to_owned(), p);
                continue;
            }
            let num = |p: &str| r.pointer(p).and_then(Value::as_f64).filter(|x| x.is_finite());
            if let (Some(x), Some(y)) = (num("/position/x"), num("/position/y")) {
                model.layout_of_mut(d).insert(
                    s(v, "id").to_owned(),
                    Placement { x, y, width: num("/size/width"), height: num("/size/height"), line: Vec::new() },
                );
            }
        }
    };
    // (threat, element, state, [(mitigation, state)]) per threat instance.
    type Instance = (String, String, String, Vec<(String, String)>);
    let mut instances: Vec<Instance> = Vec::new();
    let mut record = |v: &Value, id: &str| {
        for t in list(v, "threats") {
            let mitigations = list(t, "mitigations").iter().map(|m| (s(m, "mitigation").to_owned(), s(m, "state").to_owned())).collect();
            instances.push((s(t, "threat").to_owned(), id.to_owned(), s(t, "state").to_owned(), mitigations));
        }
    };
    for z in list(&doc, "trustZones") {
        if s(z, "id") == OUTSIDE_ZONE {
            continue;
        }
        let mut e = element_of(z, Kind::Boundary, "trust zone")?;
        if foreign {
            e.in_boundary = z.pointer("/parent/trustZone").and_then(Value::as_str).map(str::to_owned);
            if let Some(r) = z.pointer("/risk/trustRating").and_then(text_of) {
                e.properties.insert("otm:trustRating".to_owned(), r);
            }
            extras(z, &mut e.properties);
        }
        place(z, &mut model);
        model.elements.push(e);
    }
    for c in list(&doc, "components") {
        let mut e = element_of(c, kind_of_type(&format!("{} {}", s(c, "type"), s(c, "name"))), "component")?;
        if foreign {
            e.in_boundary = c.pointer("/parent/trustZone").and_then(Value::as_str).filter(|z| *z != OUTSIDE_ZONE).map(str::to_owned);
            if let Some(parent) = c.pointer("/parent/component").and_then(Value::as_str) {
                e.properties.insert("otm:parentComponent".to_owned(), crate::model::PropValue::Text(parent.to_owned()));
            }
            extras(c, &mut e.properties);
            take_assets(&mut e, c, &mut warnings, &mut stored_assets);
        }
        place(c, &mut model);
        record(c, &e.id);
        model.elements.push(e);
    }
    for f in list(&doc, "dataflows") {
        let mut e = element_of(f, Kind::Dataflow, "dataflow")?;
        if foreign {
            e.source = Some(s(f, "source").to_owned());
            e.sink = Some(s(f, "destination").to_owned());
            extras(f, &mut e.properties);
            take_assets(&mut e, f, &mut warnings, &mut stored_assets);
        }
        record(f, &e.id);
        let bidirectional = f.get("bidirectional").and_then(Value::as_bool) == Some(true);
        let (id, name, src, dst) = (e.id.clone(), e.name.clone(), e.source.clone(), e.sink.clone());
        model.elements.push(e);
        if foreign && bidirectional {
            let data = model.elements.last().map(|e| e.data.clone()).unwrap_or_default();
            let mut back = Element::flow(format!("{id}-reverse"), name, dst.unwrap_or_default(), src.unwrap_or_default());
            back.response_to = Some(id);
            back.data = data;
            model.elements.push(back);
        }
    }
    for d in model.data.iter_mut().filter(|d| stored_assets.contains(&d.id)) {
        d.is_stored = Some(true);
    }
    // Threatmap's element order (the order the user made them in), when it travelled along.
    if let Some(order) = project.pointer(&format!("/attributes/{ORDER_ATTR}")).and_then(Value::as_array) {
        let rank: BTreeMap<&str, usize> = order.iter().filter_map(Value::as_str).enumerate().map(|(i, id)| (id, i)).collect();
        model.elements.sort_by_key(|e| rank.get(e.id.as_str()).copied().unwrap_or(usize::MAX));
    }
    // Parents of components nested in components: the parent's boundary.
    let parents: BTreeMap<String, Option<String>> = model.elements.iter().map(|e| (e.id.clone(), e.in_boundary.clone())).collect();
    for e in &mut model.elements {
        if let Some(crate::model::PropValue::Text(p)) = e.properties.get("otm:parentComponent")
            && e.in_boundary.is_none()
        {
            e.in_boundary = parents.get(p).cloned().flatten();
        }
    }

    let mut pack = String::new();
    if foreign {
        let mut on: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let kinds: BTreeMap<&str, Kind> = model.elements.iter().map(|e| (e.id.as_str(), e.kind)).collect();
        let mitigation_name: BTreeMap<&str, &str> = list(&doc, "mitigations")
            .iter()
            .map(|m| (s(m, "id"), if s(m, "name").is_empty() { s(m, "id") } else { s(m, "name") }))
            .collect();
        for (threat, element, state, mitigations) in &instances {
            if threat.is_empty() {
                continue;
            }
            on.entry(threat.clone()).or_default().insert(element.clone());
            let status = status_of_state(state).unwrap_or_else(|| {
                warnings.push(format!("threat {threat} on {element}: state `{state}` read as open"));
                Status::Open
            });
            // The state of each mitigation on this instance, as the decision's tags.
            let tags: Vec<String> = mitigations
                .iter()
                .map(|(m, st)| {
                    format!(
                        "mitigation {} ({})",
                        mitigation_name.get(m.as_str()).copied().unwrap_or(m),
                        if st.is_empty() { "no state" } else { st }
                    )
                })
                .collect();
            if status != Status::Open || !tags.is_empty() {
                let d = Decision::recorded(status, tags, String::new(), String::new(), format!("state {state} in the OTM file"));
                model.decisions.insert(format!("{threat}@{element}"), d);
            }
        }
        // A mitigation as its name and description ("Use TLS: all traffic is encrypted").
        let mitigation_text: BTreeMap<&str, String> = list(&doc, "mitigations")
            .iter()
            .map(|m| {
                let (name, description) = (s(m, "name"), s(m, "description"));
                let text = match (name.is_empty(), description.is_empty() || description == name) {
                    (false, false) => format!("{name}: {description}"),
                    (false, true) => name.to_owned(),
                    _ => description.to_owned(),
                };
                (s(m, "id"), text)
            })
            .collect();
        let mut rules = Vec::new();
        for t in list(&doc, "threats") {
            let id = s(t, "id");
            let Some(elements) = on.get(id) else { continue };
            let targets: BTreeSet<&'static str> = elements.iter().filter_map(|e| kinds.get(e.as_str())).map(|k| k.name()).collect();
            let ids: Vec<String> = elements.iter().map(|e| crate::tmt::quoted(e)).collect();
            let num = |p: &str| t.pointer(p).and_then(Value::as_f64).unwrap_or(50.0);
            let categories: Vec<&str> = list(t, "categories").iter().filter_map(Value::as_str).collect();
            let stride: Vec<&'static str> = categories.iter().filter_map(|c| crate::rules::Stride::parse(c)).map(|s| s.name()).collect();
            // Categories of other methods (LINDDUN, CIA) are kept in the details.
            let other: Vec<&str> = categories.iter().copied().filter(|c| crate::rules::Stride::parse(c).is_none()).collect();
            let mut details = Vec::new();
            if !other.is_empty() {
                details.push(format!("Categories: {}", other.join(", ")));
            }
            let tags: Vec<&str> = list(t, "tags").iter().filter_map(Value::as_str).collect();
            if !tags.is_empty() {
                details.push(format!("Tags: {}", tags.join(", ")));
            }
            for k in ["likelihoodComment", "impactComment"] {
                if let Some(c) = t.pointer(&format!("/risk/{k}")).and_then(Value::as_str).filter(|c| !c.is_empty()) {
                    details.push(format!("{}: {c}", if k == "likelihoodComment" { "Likelihood" } else { "Impact" }));
                }
            }
            let mitigations: BTreeSet<String> = list(&doc, "components")
                .iter()
                .chain(list(&doc, "dataflows"))
                .flat_map(|c| list(c, "threats"))
                .filter(|i| s(i, "threat") == id)
                .flat_map(|i| list(i, "mitigations"))
                .filter_map(|m| mitigation_text.get(s(m, "mitigation")).map(|t| literal_braces(t)))
                .collect();
            let name = if s(t, "name").is_empty() { id } else { s(t, "name") };
            rules.push(GeneratedRule {
                id: id.to_owned(),
                title: literal_braces(name),
                targets: targets.into_iter().collect(),
                condition: format!("target.id in ({},)", ids.join(", ")),
                severity: severity_of_risk(num("/risk/likelihood"), num("/risk/impact")).name().to_owned(),
                stride,
                description: literal_braces(s(t, "description")),
                details: literal_braces(&details.join("\n")),
                mitigations: mitigations.into_iter().collect(),
                references: list(t, "cwes").iter().filter_map(Value::as_str).map(str::to_owned).collect(),
            });
        }
        pack = GeneratedPack::recorded_threats(
            &mut model,
            pack_file,
            "otm-threats",
            &format!("the OTM file {}", std::path::Path::new(file).file_name().map_or(file.into(), |n| n.to_string_lossy())),
            rules,
        );
    }
    if foreign {
        let elements = model.elements.clone();
        for d in 0..model.diagram_count() {
            read_relative_positions(&elements, model.layout_of_mut(d), &mut warnings);
        }
    }
    // Rule pack files that travelled along are written beside the imported model, under names
    // of its own (the model is renamed to them), so it runs wherever it is imported.
    let mut more_packs = Vec::new();
    if let Some(Value::Object(texts)) = project.pointer(&format!("/attributes/{PACKS_ATTR}")) {
        let stem = pack_file.strip_suffix(".threats.toml").unwrap_or(pack_file).to_owned();
        let mut n = 0;
        for spec in model.rule_packs.iter_mut() {
            let Some(text) = texts.get(spec.as_str()).and_then(Value::as_str) else { continue };
            // A plain file name is kept (the model then reads as it was exported); a path
            // elsewhere gets a name beside the model.
            let plain = !spec.contains(['/', '\\']) && spec.ends_with(".toml");
            let name = if plain {
                spec.clone()
            } else if n == 0 && pack.is_empty() {
                pack_file.to_owned()
            } else {
                format!("{stem}.rules-{}.toml", n + 1)
            };
            n += 1;
            if name == pack_file {
                pack = text.to_owned();
            } else {
                more_packs.push((name.clone(), text.to_owned()));
            }
            *spec = name;
        }
    }
    ModelError::check_converted(file, &model)?;
    Ok(Converted { model, pack, warnings, more_packs })
}

/// OTM does not say whether a position is absolute or relative to the parent trust zone, and
/// tools write both. Each reading is tried: the one that puts more components inside their
/// zones wins (absolute on a tie), and the user is told when positions were read as relative.
fn read_relative_positions(elements: &[Element], layout: &mut BTreeMap<String, Placement>, warnings: &mut Vec<String>) {
    use std::collections::HashMap;
    let parent: HashMap<String, String> = elements.iter().filter_map(|e| e.in_boundary.clone().map(|b| (e.id.clone(), b))).collect();
    // Absolute positions if every position is relative to its parent zone's (itself relative).
    let mut relative: HashMap<String, (f64, f64)> = HashMap::new();
    for id in layout.keys() {
        let (mut x, mut y) = (0.0, 0.0);
        let mut at = Some(id.clone());
        let mut hops = 0;
        while let Some(cur) = at {
            if let Some(p) = layout.get(&cur) {
                x += p.x;
                y += p.y;
            }
            at = parent.get(&cur).cloned();
            hops += 1;
            if hops > 64 {
                break; // a cycle: check_converted reports it
            }
        }
        relative.insert(id.clone(), (x, y));
    }
    let inside = |pos: &dyn Fn(&str) -> Option<(f64, f64)>| {
        elements
            .iter()
            .filter(|e| e.kind.is_node())
            .filter(|e| {
                let (Some(zone), Some(p)) = (e.in_boundary.as_deref(), layout.get(&e.id)) else { return false };
                let (Some(zp), Some((x, y)), Some((zx, zy))) = (layout.get(zone), pos(&e.id), pos(zone)) else { return false };
                let (cx, cy) = (x + p.width.unwrap_or(0.0) / 2.0, y + p.height.unwrap_or(0.0) / 2.0);
                let (zw, zh) = (zp.width.unwrap_or(0.0), zp.height.unwrap_or(0.0));
                cx >= zx && cx <= zx + zw && cy >= zy && cy <= zy + zh
            })
            .count()
    };
    let placed_in_zones = elements.iter().filter(|e| e.kind.is_node() && e.in_boundary.is_some() && layout.contains_key(&e.id)).count();
    let absolute = inside(&|id| layout.get(id).map(|p| (p.x, p.y)));
    let relative_inside = inside(&|id| relative.get(id).copied());
    let (reading, kept_inside) =
        if relative_inside > absolute { ("relative to their parent trust zone", relative_inside) } else { ("absolute", absolute) };
    if kept_inside < placed_in_zones {
        // Positions that put components outside their zones contradict the model (the
        // drawing would move them out): the diagram is laid out afresh from the zones.
        let placed: Vec<String> = elements.iter().filter(|e| e.kind.is_node() || e.kind == Kind::Boundary).map(|e| e.id.clone()).collect();
        for id in placed {
            layout.remove(&id);
        }
        warnings.push(format!(
            "positions not kept: read as absolute, {absolute} of {placed_in_zones} components fall inside their trust zones, and {relative_inside} read as relative to them; the diagram is laid out from the zones instead"
        ));
        return;
    }
    if relative_inside > absolute {
        for (id, (x, y)) in &relative {
            if let Some(p) = layout.get_mut(id) {
                p.x = *x;
                p.y = *y;
            }
        }
        warnings.push(format!(
            "positions read as {reading}: so {relative_inside} of {placed_in_zones} components fall inside their zones (read as absolute, {absolute} would)"
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip() {
        for s in Status::ALL {
            let back = status_of_state(state_of(s)).unwrap();
            assert_eq!(back.is_open(), s.is_open(), "{s:?}");
        }
        for s in Severity::ALL {
            let (l, i) = risk_of(s);
            assert_eq!(severity_of_risk(f64::from(l), f64::from(i)), s);
        }
    }
}
