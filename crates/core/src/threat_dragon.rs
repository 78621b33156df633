//! OWASP Threat Dragon (v2 JSON) import.
//!
//! Every diagram's actors, processes, stores, flows, boundary boxes and boundary curves come in
//! with their positions and properties (each diagram its own, as drawn); text blocks join the model's
//! description. Threat Dragon's threats are written by hand and stored inside each element:
//! they become the element's own threats ([`crate::model::Threat`]), edited in the app as they
//! were in Threat Dragon and found beside those of the rule packs; their status becomes the
//! triage decision of that finding.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::attr::Kind;
use crate::file::{Converted, ModelError};
use crate::lifecycle::{Decision, Status};
use crate::model::{Element, Model, Placement, PropValue, Threat};

/// How far from a node a flow's loose end may lie and still be attached to it.
const LOOSE_END_REACH: f64 = 60.0;

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

fn num_of(v: &Value, key: &str) -> Option<f64> {
    v.get(key).and_then(Value::as_f64).filter(|x| x.is_finite())
}

/// Threat Dragon statuses as lifecycle statuses (and the tag kept for the ones Threatmap
/// folds together).
pub fn status_of(s: &str) -> Option<(Status, Option<&'static str>)> {
    Some(match s.trim().to_ascii_lowercase().as_str() {
        "open" | "" => (Status::Open, None),
        "notapplicable" | "not applicable" => (Status::NotApplicable, None),
        "mitigated" => (Status::Mitigated, None),
        "accepted" => (Status::AcceptedRisk, None),
        "transferred" => (Status::Transferred, None),
        "avoided" => (Status::Mitigated, Some("avoided")),
        "eliminated" => (Status::Mitigated, Some("eliminated")),
        _ => return None,
    })
}

/// Imports a Threat Dragon model (1.x or 2.x). `file` names it in errors.
pub fn import(text: &str, file: &str) -> Result<Converted, ModelError> {
    let mut doc: Value =
        serde_json::from_str(text).map_err(|e| ModelError::at(file, Some(e.line()), Some(e.column()), format!("not valid JSON: {e}")))?;
    migrate_v1(&mut doc);
    let diagrams = doc.pointer("/detail/diagrams").and_then(Value::as_array).ok_or_else(|| {
        ModelError::at(file, None, None, "not a Threat Dragon model: `detail.diagrams` is missing or not a list".to_owned())
    })?;
    let summary = doc.get("summary").cloned().unwrap_or(Value::Null);
    let mut warnings = Vec::new();
    let mut model = Model::new(match str_of(&summary, "title") {
        "" => "Threat Dragon model",
        t => t,
    });
    let mut description = str_of(&summary, "description").trim().to_owned();
    if !str_of(&summary, "owner").is_empty() {
        description.push_str(&format!("\n\nOwner: {}", str_of(&summary, "owner")));
    }
    if let Some(r) = doc.pointer("/detail/reviewer").and_then(Value::as_str).filter(|r| !r.is_empty()) {
        description.push_str(&format!("\n\nReviewer: {r}"));
    }
    let contributors: Vec<&str> = doc
        .pointer("/detail/contributors")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|c| str_of(c, "name"))
        .filter(|n| !n.is_empty())
        .collect();
    if !contributors.is_empty() {
        description.push_str(&format!("\n\nContributors: {}", contributors.join(", ")));
    }

    // Threat ids are unique in the model (each is a finding key's first half).
    let mut threat_ids: std::collections::HashSet<String> = std::collections::HashSet::new();
    let mut boxes: Vec<(usize, String, [f64; 4])> = Vec::new();
    let mut centres: Vec<(usize, String, (f64, f64))> = Vec::new();
    let mut node_rects: Vec<(usize, String, [f64; 4])> = Vec::new();
    // Flows with an end left loose on the canvas (a point, not a cell): flow, diagram, points.
    type Loose = (String, usize, Option<(f64, f64)>, Option<(f64, f64)>);
    let mut loose: Vec<Loose> = Vec::new();
    let mut bidirectional: Vec<String> = Vec::new();
    for (di, diagram) in diagrams.iter().enumerate() {
        let title = str_of(diagram, "title").to_owned();
        let cells = diagram
            .get("cells")
            .and_then(Value::as_array)
            .ok_or_else(|| ModelError::at(file, None, None, format!("diagram {} (`{title}`): `cells` is missing or not a list", di + 1)))?;
        if diagrams.len() > 1 {
            model.push_diagram(&title);
        }
        for (ci, cell) in cells.iter().enumerate() {
            let id = str_of(cell, "id").to_owned();
            if id.is_empty() {
                warnings.push(format!("diagram `{title}`: cell {} has no id; skipped", ci + 1));
                continue;
            }
            let data = cell.get("data").cloned().unwrap_or(Value::Null);
            // Names keep the line breaks the user typed (Threat Dragon draws them); other tools
            // and the drawings wrap them there.
            let name = str_of(&data, "name").replace("\r\n", "\n").replace('\r', "\n").trim().to_owned();
            let shape = str_of(cell, "shape");
            let kind = match shape {
                "actor" => Kind::Actor,
                "process" => Kind::Process,
                "store" => Kind::Datastore,
                "flow" => Kind::Dataflow,
                "trust-boundary-box" | "trust-boundary-curve" | "trust-broundary-curve" => Kind::Boundary,
                "td-text-block" => {
                    if !name.is_empty() {
                        description.push_str(&format!("\n\nNote on {title}: {name}"));
                    }
                    continue;
                }
                other => {
                    warnings.push(format!("diagram `{title}`: cell {id} has shape `{other}`, which Threatmap does not know; skipped"));
                    continue;
                }
            };
            let default_name = match kind {
                Kind::Boundary => "Trust boundary",
                k => k.label(),
            };
            let mut e = Element::new(id.clone(), kind, if name.is_empty() { default_name.to_owned() } else { name });
            if !str_of(&data, "description").trim().is_empty() {
                e.description = Some(str_of(&data, "description").trim().to_owned());
            }
            if data.get("outOfScope").and_then(Value::as_bool) == Some(true) {
                e.in_scope = Some(false);
                let reason = str_of(&data, "reasonOutOfScope").trim();
                if !reason.is_empty() {
                    e.description =
                        Some(format!("{}Out of scope: {reason}", e.description.as_deref().map(|d| format!("{d}\n\n")).unwrap_or_default()));
                }
            }
            if let Some(obj) = data.as_object() {
                for (k, v) in obj {
                    if matches!(
                        k.as_str(),
                        "type"
                            | "name"
                            | "description"
                            | "outOfScope"
                            | "reasonOutOfScope"
                            | "threats"
                            | "hasOpenThreats"
                            | "isTrustBoundary"
                            | "threatFrequency"
                            | "trustBoundaryIds"
                            | "containedElements"
                            | "crossingFlows"
                    ) {
                        continue;
                    }
                    let value = match v {
                        Value::Bool(b) => PropValue::Bool(*b),
                        Value::Number(n) if n.is_i64() => PropValue::Int(n.as_i64().unwrap_or(0)),
                        Value::String(s) if !s.is_empty() => PropValue::Text(s.clone()),
                        _ => continue,
                    };
                    e.properties.insert(k.clone(), value);
                }
            }
            if kind == Kind::Dataflow {
                if let Some(PropValue::Text(p)) = e.properties.get("protocol") {
                    e.protocol = Some(p.clone());
                }
                if let Some(PropValue::Bool(b)) = e.properties.get("isEncrypted") {
                    e.controls.is_encrypted = Some(*b);
                }
            }
            let end = |k: &str| cell.get(k).map(|v| (str_of(v, "cell").to_owned(), num_of(v, "x").zip(num_of(v, "y"))));
            let vertices: Vec<(f64, f64)> = cell
                .get("vertices")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|v| num_of(v, "x").zip(num_of(v, "y")))
                .collect();
            let layout = model.layout_of_mut(di);
            match shape {
                "flow" => {
                    let (Some(src), Some(dst)) = (end("source"), end("target")) else {
                        warnings.push(format!("diagram `{title}`: flow {id} ({}) is not connected at both ends; skipped", e.name));
                        continue;
                    };
                    loose.push((e.id.clone(), di, src.1, dst.1));
                    let (src, dst) = (src.0, dst.0);
                    e.source = Some(src.clone());
                    e.sink = Some(dst.clone());
                    if let Some(&(x, y)) = vertices.get(vertices.len() / 2) {
                        layout.insert(id.clone(), Placement { x, y, ..Placement::default() });
                    }
                    if data.get("isBidirectional").and_then(Value::as_bool) == Some(true) {
                        bidirectional.push(id.clone());
                    }
                }
                "trust-boundary-box" => {
                    if let Some(r) = rect(cell) {
                        layout.insert(id.clone(), Placement { x: r[0], y: r[1], width: Some(r[2]), height: Some(r[3]), line: Vec::new() });
                        boxes.push((di, id.clone(), r));
                    }
                }
                "actor" | "process" | "store" => {
                    if let Some(r) = rect(cell) {
                        layout.insert(id.clone(), Placement { x: r[0], y: r[1], width: Some(r[2]), height: Some(r[3]), line: Vec::new() });
                        centres.push((di, id.clone(), (r[0] + r[2] / 2.0, r[1] + r[3] / 2.0)));
                        node_rects.push((di, id.clone(), r));
                    }
                }
                _ => {
                    // A boundary curve: a line from its source point through its vertices.
                    let point = |k: &str| end(k).and_then(|(_, p)| p);
                    let mut points: Vec<(f64, f64)> =
                        point("source").into_iter().chain(vertices.iter().copied()).chain(point("target")).collect();
                    points.dedup();
                    if points.len() >= 2 {
                        let line = points[1..].iter().map(|p| [p.0, p.1]).collect();
                        layout.insert(id.clone(), Placement { x: points[0].0, y: points[0].1, width: None, height: None, line });
                    } else {
                        warnings.push(format!("diagram `{title}`: boundary curve {id} has no end points; kept without a position"));
                    }
                }
            }
            let threats = data.get("threats").and_then(Value::as_array).map_or(0, Vec::len);
            if threats > 0 && !e.in_scope() {
                warnings
                    .push(format!("{} is out of scope: its {threats} threat(s) are kept on record and reported as out of scope", e.name));
            }
            for (ti, t) in data.get("threats").and_then(Value::as_array).into_iter().flatten().enumerate() {
                let mut tid = match str_of(t, "id").trim() {
                    "" => format!("{id}-threat-{}", ti + 1),
                    x => x.to_owned(),
                };
                if !threat_ids.insert(tid.clone()) {
                    let unique = (2..).map(|n| format!("{tid}-{n}")).find(|c| !threat_ids.contains(c)).unwrap_or_default();
                    warnings.push(format!("threat {tid} on {}: the id is used by another threat; kept as {unique}", e.name));
                    threat_ids.insert(unique.clone());
                    tid = unique;
                }
                let severity = match str_of(t, "severity").trim().to_ascii_lowercase().as_str() {
                    "critical" => "Very High",
                    "high" => "High",
                    "low" => "Low",
                    "medium" => "Medium",
                    other => {
                        warnings.push(format!("threat {tid} on {}: severity `{other}` read as Medium", e.name));
                        "Medium"
                    }
                };
                let kind_text = str_of(t, "type").trim();
                let stride: Vec<String> = crate::rules::Stride::parse(kind_text).map(|s| vec![s.name().to_owned()]).unwrap_or_default();
                // What has no field of its own follows the description.
                let mut details = Vec::new();
                if stride.is_empty() && !kind_text.is_empty() {
                    details.push(format!("Type: {kind_text} ({})", str_of(t, "modelType")));
                }
                let score = t.get("score").map(|s| match s {
                    Value::String(s) => s.clone(),
                    Value::Null => String::new(),
                    other => other.to_string(),
                });
                if let Some(s) = score.filter(|s| !s.trim().is_empty()) {
                    details.push(format!("Score: {}", s.trim()));
                }
                let description = [str_of(t, "description").trim().to_owned(), details.join("\n")]
                    .into_iter()
                    .filter(|p| !p.is_empty())
                    .collect::<Vec<_>>();
                let title = match crate::model::one_line(str_of(t, "title").trim()).as_str() {
                    "" => format!("{} threat to {}", if kind_text.is_empty() { "A" } else { kind_text }, crate::model::one_line(&e.name)),
                    x => x.to_owned(),
                };
                let mitigation = str_of(t, "mitigation").trim().to_owned();
                e.threats.push(Threat {
                    id: tid.clone(),
                    title,
                    severity: severity.to_owned(),
                    stride,
                    description: description.join("\n\n"),
                    mitigations: if mitigation.is_empty() { Vec::new() } else { vec![mitigation] },
                    references: Vec::new(),
                });
                let status_text = str_of(t, "status");
                let (status, tag) = status_of(status_text).unwrap_or_else(|| {
                    warnings.push(format!("threat {tid} on {}: status `{status_text}` read as open", e.name));
                    (Status::Open, None)
                });
                if status != Status::Open || tag.is_some() || !e.in_scope() {
                    let tags = tag.map(|t| vec![t.to_owned()]).unwrap_or_default();
                    let d = Decision::recorded(status, tags, String::new(), String::new(), "status in Threat Dragon".to_owned());
                    model.decisions.insert(format!("{tid}@{id}"), d);
                }
            }
            model.elements.push(e);
        }
    }
    model.description = description.trim().to_owned();

    // Boundary boxes contain the nodes whose centre lies inside them (the smallest box wins).
    let area = |r: &[f64; 4]| r[2] * r[3];
    let inside = |p: (f64, f64), r: &[f64; 4]| p.0 >= r[0] && p.0 <= r[0] + r[2] && p.1 >= r[1] && p.1 <= r[1] + r[3];
    let mut parent: BTreeMap<String, String> = BTreeMap::new();
    for (di, id, c) in &centres {
        if let Some((_, b, _)) = boxes.iter().filter(|(d, _, r)| d == di && inside(*c, r)).min_by(|a, b| area(&a.2).total_cmp(&area(&b.2)))
        {
            parent.insert(id.clone(), b.clone());
        }
    }
    for e in &mut model.elements {
        if let Some(b) = parent.get(&e.id) {
            e.in_boundary = Some(b.clone());
        }
    }
    // A loose end belongs to the node it was dropped on (or next to: within LOOSE_END_REACH).
    let names: BTreeMap<String, String> = model.elements.iter().map(|e| (e.id.clone(), crate::model::one_line(&e.name))).collect();
    for (flow, di, src_at, dst_at) in loose {
        let near = |p: (f64, f64)| {
            node_rects
                .iter()
                .filter(|(d, _, _)| *d == di)
                .map(|(_, id, r)| {
                    let dx = (r[0] - p.0).max(p.0 - (r[0] + r[2])).max(0.0);
                    let dy = (r[1] - p.1).max(p.1 - (r[1] + r[3])).max(0.0);
                    (dx.hypot(dy), id)
                })
                .filter(|(d, _)| *d <= LOOSE_END_REACH)
                .min_by(|a, b| a.0.total_cmp(&b.0))
                .map(|(_, id)| id.clone())
        };
        let Some(e) = model.elements.iter_mut().find(|e| e.id == flow) else { continue };
        for (at, end) in [(src_at, &mut e.source), (dst_at, &mut e.sink)] {
            if let (Some(p), true) = (at, end.as_deref().is_none_or(str::is_empty))
                && let Some(n) = near(p)
            {
                let to = names.get(n.as_str()).map_or_else(|| n.clone(), |name| format!("{name} ({n})"));
                warnings.push(format!("flow {flow} ({}) has a loose end; attached to {to}, the element it points at", e.name));
                *end = Some(n);
            }
        }
    }
    // A bidirectional flow is a request and its response.
    for id in bidirectional {
        let Some(e) = model.elements.iter().find(|e| e.id == id) else { continue };
        let mut back = Element::flow(
            format!("{id}-reverse"),
            e.name.clone(),
            e.sink.clone().unwrap_or_default(),
            e.source.clone().unwrap_or_default(),
        );
        back.response_to = Some(id.clone());
        back.protocol = e.protocol.clone();
        back.controls = e.controls.clone();
        back.in_scope = e.in_scope;
        model.elements.push(back);
    }
    let ids: std::collections::HashSet<String> = model.elements.iter().map(|e| e.id.clone()).collect();
    let dangling: Vec<String> = model
        .elements
        .iter()
        .filter(|e| {
            e.kind == Kind::Dataflow
                && !(e.source.as_ref().is_some_and(|s| ids.contains(s)) && e.sink.as_ref().is_some_and(|s| ids.contains(s)))
        })
        .map(|e| e.id.clone())
        .collect();
    for f in &dangling {
        warnings.push(format!("flow {f} connects a cell that is not an element; skipped"));
    }
    model.elements.retain(|e| !dangling.contains(&e.id));
    for f in &dangling {
        model.unplace(f);
    }

    ModelError::check_converted(file, &model)?;
    Ok(Converted { model, pack: String::new(), warnings, more_packs: Vec::new() })
}

/// Rewrites a Threat Dragon 1.x model (JointJS cells under `diagramJson.cells`, properties
/// on the cell, names in the cell's text) in the 2.x shape (X6 cells under `cells`, properties
/// under `data`), as Threat Dragon 2.x does when it opens one. A 2.x model is left alone.
fn migrate_v1(doc: &mut Value) {
    let Some(diagrams) = doc.pointer_mut("/detail/diagrams").and_then(Value::as_array_mut) else { return };
    for diagram in diagrams {
        let Some(cells) = diagram.pointer("/diagramJson/cells").and_then(Value::as_array).cloned() else { continue };
        if diagram.get("cells").is_some() {
            continue;
        }
        let migrated: Vec<Value> = cells.iter().map(migrate_v1_cell).collect();
        if let Some(d) = diagram.as_object_mut() {
            d.insert("cells".to_owned(), Value::Array(migrated));
        }
    }
}

/// One JointJS cell in the X6 shape (see [`migrate_v1`]).
fn migrate_v1_cell(cell: &Value) -> Value {
    /// The cell's geometry and drawing, which stay on the cell; every other key is data.
    const GEOMETRY: &[&str] = &[
        "type", "size", "position", "angle", "id", "z", "attrs", "smooth", "source", "target", "vertices", "labels", "ports", "embeds",
        "parent",
    ];
    let shape = match str_of(cell, "type") {
        "tm.Actor" => "actor",
        "tm.Process" => "process",
        "tm.Store" => "store",
        "tm.Flow" => "flow",
        "tm.Boundary" => "trust-boundary-curve",
        "tm.Text" => "td-text-block",
        other => other,
    };
    let name = cell
        .pointer("/attrs/text/text")
        .or_else(|| cell.pointer("/labels/0/attrs/text/text"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let mut data = serde_json::Map::new();
    data.insert("name".to_owned(), Value::String(name));
    if let Some(obj) = cell.as_object() {
        for (k, v) in obj.iter().filter(|(k, _)| !GEOMETRY.contains(&k.as_str())) {
            data.insert(k.clone(), v.clone());
        }
    }
    // Ends: `{id}` names a cell (X6's `{cell}`); `{x, y}` is a loose point either way.
    let end = |k: &str| {
        cell.get(k).map(|v| match v.get("id") {
            Some(id) => serde_json::json!({ "cell": id }),
            None => v.clone(),
        })
    };
    let mut out = serde_json::Map::new();
    out.insert("shape".to_owned(), Value::String(shape.to_owned()));
    out.insert("id".to_owned(), cell.get("id").cloned().unwrap_or(Value::Null));
    for k in ["position", "size", "vertices"] {
        if let Some(v) = cell.get(k) {
            out.insert(k.to_owned(), v.clone());
        }
    }
    for k in ["source", "target"] {
        if let Some(v) = end(k) {
            out.insert(k.to_owned(), v);
        }
    }
    out.insert("data".to_owned(), Value::Object(data));
    Value::Object(out)
}

/// A node cell's rectangle: left, top, width, height.
fn rect(cell: &Value) -> Option<[f64; 4]> {
    let pos = cell.get("position")?;
    let size = cell.get("size");
    let (w, h) = size.and_then(|s| num_of(s, "width").zip(num_of(s, "height"))).unwrap_or((100.0, 100.0));
    Some([num_of(pos, "x")?, num_of(pos, "y")?, w, h])
}
