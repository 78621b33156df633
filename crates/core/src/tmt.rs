//! Microsoft Threat Modeling Tool (`.tm7`) import.
//!
//! A `.tm7` file is WCF DataContract XML: diagrams of stencils (processes, external
//! interactors, data stores, border boundaries) and lines (flows, line boundaries), each with a
//! list of properties; the threats TMT generated and their triage; and a copy of the template
//! (the "knowledge base") it was made with. [`import`] turns all of it into Threatmap terms:
//!
//! - every element keeps its GUID as id, its template type as `stereotype`, its position and
//!   size, its list selections, booleans and strings as custom properties, and out of scope
//!   with its reason; border boundaries contain the nodes whose centre lies inside them; line
//!   boundaries keep their two ends; each diagram tab stays its own diagram with its positions;
//! - the template becomes a native rule pack ([`Tm7::pack`]): one rule per threat type, run
//!   per dataflow, whose condition is the type's Include/Exclude filter translated into the
//!   condition language (type ancestry expanded into the set of types that descend from the
//!   one named, `crosses` into the geometric `crossesDrawn`), titles from its `{source.Name}`
//!   templates;
//! - stored threats become triage decisions keyed `TYPE@flow` (state, justification, custom
//!   fields as tags), and a stored priority that differs from the template's becomes a
//!   severity override on the flow.
//!
//! Reading is safe: the XML parser rejects any DTD (so no entities, internal or external), the
//! caller caps the file size ([`MAX_TM7_BYTES`]), and the node count is capped.

use std::collections::{BTreeMap, HashMap};

use roxmltree::{Document, Node, ParsingOptions};

use crate::attr::Kind;
use crate::file::{Converted, ModelError};
use crate::lifecycle::{Decision, Status};
use crate::model::{Assumption, Element, Model, Override, Placement, PropValue};
use crate::rules::{GeneratedHead, GeneratedPack, GeneratedRule};

/// The largest `.tm7` file read, in bytes (real files are a few MB; the template is most of it).
pub const MAX_TM7_BYTES: u64 = 64 * 1024 * 1024;
/// The most XML nodes accepted in one file.
const MAX_NODES: u32 = 4_000_000;
const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";
/// TMT's property name for "Out Of Scope" and "Reason For Out Of Scope".
const OUT_OF_SCOPE: &str = "71f3d9aa-b8ef-4e54-8126-607a1d903103";
const OUT_OF_SCOPE_REASON: &str = "752473b6-52d4-4776-9a24-202153f7d579";

fn children<'a, 'i>(n: Node<'a, 'i>, name: &'static str) -> impl Iterator<Item = Node<'a, 'i>> {
    n.children().filter(move |c| c.is_element() && c.tag_name().name() == name)
}

fn child<'a, 'i>(n: Node<'a, 'i>, name: &'static str) -> Option<Node<'a, 'i>> {
    children(n, name).next()
}

fn text(n: Node<'_, '_>, name: &'static str) -> String {
    child(n, name).and_then(|c| c.text()).unwrap_or("").to_owned()
}

fn number(n: Node<'_, '_>, name: &'static str) -> Option<f64> {
    child(n, name).and_then(|c| c.text()).and_then(|t| t.trim().parse::<f64>().ok()).filter(|v| v.is_finite())
}

/// The `i:type` of a node without its prefix (`b:ListDisplayAttribute` → `ListDisplayAttribute`).
fn xsi_type<'a>(n: Node<'a, '_>) -> &'a str {
    let t = n.attribute((XSI, "type")).unwrap_or("");
    t.rsplit(':').next().unwrap_or(t)
}

/// The entries of a DataContract dictionary (`KeyValueOf…` children with `Key` and `Value`).
fn entries<'a, 'i>(n: Node<'a, 'i>) -> impl Iterator<Item = (String, Node<'a, 'i>)> {
    n.children()
        .filter(|c| c.is_element() && c.tag_name().name().starts_with("KeyValueOf"))
        .filter_map(|kv| Some((text(kv, "Key"), child(kv, "Value")?)))
}

/// What an element's property list says.
#[derive(Default)]
struct Props {
    name: String,
    /// The stencil type's display name (the first header of the list: "Amazon RDS").
    type_name: String,
    out_of_scope: bool,
    reason: String,
    values: BTreeMap<String, PropValue>,
}

fn read_props(n: Option<Node<'_, '_>>) -> Props {
    let mut p = Props::default();
    let Some(n) = n else { return p };
    for a in children(n, "anyType") {
        let display = text(a, "DisplayName");
        let key = text(a, "Name");
        let value = child(a, "Value");
        let value_text = value.and_then(|v| v.text()).unwrap_or("").to_owned();
        match xsi_type(a) {
            "HeaderDisplayAttribute" => {
                if p.type_name.is_empty() {
                    p.type_name = display;
                }
            }
            "StringDisplayAttribute" | "CustomStringDisplayAttribute" if key.is_empty() && display == "Name" => p.name = value_text,
            _ if key == OUT_OF_SCOPE => p.out_of_scope = value_text.trim() == "true",
            _ if key == OUT_OF_SCOPE_REASON => p.reason = value_text,
            "BooleanDisplayAttribute" => {
                p.values.insert(prop_key(&key, &display), PropValue::Bool(value_text.trim() == "true"));
            }
            "ListDisplayAttribute" | "StaticListDisplayAttribute" => {
                let options: Vec<&str> =
                    value.map(|v| v.children().filter(|c| c.is_element()).map(|c| c.text().unwrap_or("")).collect()).unwrap_or_default();
                let index = text(a, "SelectedIndex").trim().parse::<usize>().unwrap_or(0);
                if let Some(sel) = options.get(index) {
                    p.values.insert(prop_key(&key, &display), PropValue::Text((*sel).to_owned()));
                }
            }
            _ => {
                if !value_text.is_empty() || !key.is_empty() {
                    p.values.insert(prop_key(&key, &display), PropValue::Text(value_text));
                }
            }
        }
    }
    p
}

/// Properties are keyed by the template's attribute name (what filters use), or the display
/// name when the attribute has none.
fn prop_key(name: &str, display: &str) -> String {
    if name.is_empty() { display.to_owned() } else { name.to_owned() }
}

/// One threat type of the template.
struct ThreatType {
    id: String,
    category: String,
    short_title: String,
    description: String,
    include: String,
    exclude: String,
    priority: Option<String>,
    mitigations: Vec<String>,
}

/// The template embedded in the file.
struct Kb {
    name: String,
    id: String,
    version: String,
    author: String,
    /// Type id → parent id.
    parents: HashMap<String, String>,
    /// Type id → name.
    names: HashMap<String, String>,
    /// Category id → name.
    categories: HashMap<String, String>,
    /// Threat field name → label (custom fields such as "Team").
    field_labels: HashMap<String, String>,
    threat_types: Vec<ThreatType>,
}

fn read_kb(kb: Node<'_, '_>) -> Kb {
    let manifest = child(kb, "Manifest");
    let m = |f: &'static str| manifest.map(|n| text(n, f)).unwrap_or_default();
    let mut parents = HashMap::new();
    let mut names = HashMap::new();
    for list in children(kb, "GenericElements").chain(children(kb, "StandardElements")) {
        for et in children(list, "ElementType") {
            parents.insert(text(et, "Id"), text(et, "ParentId"));
            names.insert(text(et, "Id"), text(et, "Name"));
        }
    }
    let categories = child(kb, "ThreatCategories")
        .map(|c| children(c, "ThreatCategory").map(|t| (text(t, "Id"), text(t, "Name"))).collect())
        .unwrap_or_default();
    let mut field_labels = HashMap::new();
    if let Some(md) = child(kb, "ThreatMetaData").and_then(|m| child(m, "PropertiesMetaData")) {
        for d in children(md, "ThreatMetaDatum") {
            field_labels.insert(text(d, "Name"), text(d, "Label"));
        }
    }
    let mut threat_types = Vec::new();
    for tt in child(kb, "ThreatTypes").into_iter().flat_map(|t| children(t, "ThreatType")) {
        let filters = child(tt, "GenerationFilters");
        let mut priority = None;
        let mut mitigations = Vec::new();
        for d in child(tt, "PropertiesMetaData").into_iter().flat_map(|p| children(p, "ThreatMetaDatum")) {
            let (name, label) = (text(d, "Name"), text(d, "Label"));
            field_labels.entry(name.clone()).or_insert_with(|| label.clone());
            let values: Vec<String> = child(d, "Values")
                .into_iter()
                .flat_map(|v| v.children().filter(|c| c.is_element()))
                .filter_map(|v| v.text().map(str::to_owned))
                .collect();
            let first = values.into_iter().find(|v| !v.trim().is_empty());
            let lower = format!("{name} {label}").to_lowercase();
            if name == "Priority" {
                priority = first;
            } else if lower.contains("mitigation") || lower.contains("countermeasure") {
                mitigations.extend(first);
            }
        }
        threat_types.push(ThreatType {
            id: text(tt, "Id"),
            category: text(tt, "Category"),
            short_title: text(tt, "ShortTitle"),
            description: text(tt, "Description"),
            include: filters.map(|f| text(f, "Include")).unwrap_or_default(),
            exclude: filters.map(|f| text(f, "Exclude")).unwrap_or_default(),
            priority,
            mitigations,
        });
    }
    Kb { name: m("Name"), id: m("Id"), version: m("Version"), author: m("Author"), parents, names, categories, field_labels, threat_types }
}

impl Kb {
    /// `t` and every type that descends from it, sorted.
    fn descendants(&self, t: &str) -> Vec<String> {
        let mut out: Vec<String> = self
            .parents
            .keys()
            .filter(|id| {
                let mut cur = id.as_str();
                for _ in 0..64 {
                    if cur == t {
                        return true;
                    }
                    match self.parents.get(cur) {
                        Some(p) if !p.is_empty() && p != cur => cur = p,
                        _ => return false,
                    }
                }
                false
            })
            .cloned()
            .collect();
        if !out.iter().any(|x| x == t) {
            out.push(t.to_owned());
        }
        out.sort();
        out
    }
}

/// Imports a `.tm7` document. `file` names it in errors; `fallback_name` titles the model when
/// the file has no name; `pack_file` is the rule pack path the model should refer to (relative
/// to the model).
pub fn import(source: &str, file: &str, fallback_name: &str, pack_file: &str) -> Result<Converted, ModelError> {
    let source = source.strip_prefix('\u{feff}').unwrap_or(source);
    let opts = ParsingOptions { allow_dtd: false, nodes_limit: MAX_NODES, ..ParsingOptions::default() };
    let doc = Document::parse_with_options(source, opts).map_err(|e| {
        let pos = e.pos();
        let message = match e {
            roxmltree::Error::DtdDetected => {
                "not a readable .tm7 file: it declares a DTD, whose entities could expand without bound or read other files; TMT never writes one, so the file is refused".to_owned()
            }
            roxmltree::Error::NodesLimitReached => {
                format!("not a readable .tm7 file: it has more than {MAX_NODES} XML nodes, far beyond any diagram TMT saves")
            }
            e => format!("not a readable .tm7 file: {e}"),
        };
        ModelError::at(file, Some(pos.row as usize), Some(pos.col as usize), message)
    })?;
    let root = doc.root_element();
    if root.tag_name().name() != "ThreatModel" {
        return Err(ModelError::at(
            file,
            None,
            None,
            format!("not a .tm7 file: the root element is <{}>, not <ThreatModel>", root.tag_name().name()),
        ));
    }
    let mut warnings = Vec::new();
    let kb = child(root, "KnowledgeBase").map(read_kb);
    if kb.is_none() {
        warnings.push("the file carries no template (KnowledgeBase): no rule pack is made".to_owned());
    }

    let meta = child(root, "MetaInformation");
    let meta_text = |f: &'static str| meta.map(|m| text(m, f)).unwrap_or_default();
    let title = meta_text("ThreatModelName");
    let mut model = Model::new(if title.trim().is_empty() { fallback_name.to_owned() } else { title });
    let mut description = meta_text("HighLevelSystemDescription");
    for (label, field) in
        [("Owner", "Owner"), ("Reviewer", "Reviewer"), ("Contributors", "Contributors"), ("External dependencies", "ExternalDependencies")]
    {
        let v = meta_text(field);
        if !v.trim().is_empty() {
            description.push_str(&format!("\n\n{label}: {}", v.trim()));
        }
    }
    model.description = description.trim().to_owned();
    for line in meta_text("Assumptions").lines().map(str::trim).filter(|l| !l.is_empty()) {
        model.assumptions.push(Assumption { name: line.chars().take(80).collect(), description: line.to_owned(), exclude: Vec::new() });
    }
    if kb.is_some() {
        model.rule_packs.push(pack_file.to_owned());
    }

    let mut flow_ends: Vec<(String, String, String)> = Vec::new();
    let mut border_rects: Vec<(usize, String, [f64; 4])> = Vec::new();
    let mut nodes: Vec<(usize, String, (f64, f64))> = Vec::new();
    let surfaces: Vec<Node<'_, '_>> =
        child(root, "DrawingSurfaceList").into_iter().flat_map(|l| children(l, "DrawingSurfaceModel")).collect();
    if surfaces.is_empty() {
        return Err(ModelError::at(
            file,
            None,
            None,
            "not a .tm7 file: it has no diagram (no DrawingSurfaceModel in DrawingSurfaceList)".to_owned(),
        ));
    }
    let several = surfaces.len() > 1;
    for (di, surface) in surfaces.iter().enumerate() {
        let diagram = {
            let h = text(*surface, "Header");
            if h.is_empty() { read_props(child(*surface, "Properties")).name } else { h }
        };
        if several {
            model.push_diagram(&diagram);
        }
        for (key, v) in child(*surface, "Borders").into_iter().flat_map(entries) {
            let generic = text(v, "GenericTypeId");
            let type_id = text(v, "TypeId");
            let props = read_props(child(v, "Properties"));
            let id = if text(v, "Guid").is_empty() { key.clone() } else { text(v, "Guid") };
            let (left, top, width, height) = (number(v, "Left"), number(v, "Top"), number(v, "Width"), number(v, "Height"));
            let generic = generic_type(&generic, xsi_type(v), kb.as_ref());
            let kind = match generic.as_str() {
                "GE.P" => Kind::Process,
                "GE.EI" if matches!(props.values.get("type"), Some(PropValue::Text(t)) if t == "Human") => Kind::Actor,
                "GE.EI" => {
                    // Cloud templates (AWS's among them) draw databases and storage services as
                    // external interactors; by the type's name they are data stores.
                    let kb_name = kb.as_ref().and_then(|kb| kb.names.get(&type_id)).map_or("", String::as_str);
                    let type_name = [kb_name, props.type_name.as_str()].into_iter().find(|n| names_a_store(n));
                    if let Some(type_name) = type_name {
                        warnings.push(format!(
                            "stencil {id} ({}) is an external interactor of type {type_name:?} in its template; imported as a data store, as its type names one",
                            props.name
                        ));
                        Kind::Datastore
                    } else {
                        Kind::ExternalEntity
                    }
                }
                "GE.DS" => Kind::Datastore,
                "GE.TB.B" => Kind::Boundary,
                "GE.A" => {
                    let note = props.values.values().find_map(|v| if let PropValue::Text(t) = v { Some(t.clone()) } else { None });
                    if let Some(t) = note.filter(|t| !t.trim().is_empty()) {
                        model.description = format!("{}\n\nNote on {diagram}: {}", model.description, t.trim()).trim().to_owned();
                    }
                    continue;
                }
                other => {
                    warnings.push(format!(
                        "stencil {id} ({}) has generic type `{other}`, which Threatmap does not know; imported as a process",
                        props.name
                    ));
                    Kind::Process
                }
            };
            let mut e = Element::new(id.clone(), kind, display_name(&props.name, &type_id));
            e.stereotype = Some(type_id);
            if props.out_of_scope {
                e.in_scope = Some(false);
                if !props.reason.trim().is_empty() {
                    e.description = Some(format!("Out of scope: {}", props.reason.trim()));
                }
            }
            e.properties = props.values;
            if let (Some(x), Some(y), Some(w), Some(h)) = (left, top, width, height) {
                model.layout_of_mut(di).insert(id.clone(), Placement { x, y, width: Some(w), height: Some(h), line: Vec::new() });
                if kind == Kind::Boundary {
                    border_rects.push((di, id.clone(), [x, y, w, h]));
                } else {
                    nodes.push((di, id.clone(), (x + w / 2.0, y + h / 2.0)));
                }
            } else {
                warnings.push(format!("stencil {id} ({}) has no position; it is placed by the automatic layout", e.name));
            }
            model.elements.push(e);
        }
        for (key, v) in child(*surface, "Lines").into_iter().flat_map(entries) {
            let type_id = text(v, "TypeId");
            let props = read_props(child(v, "Properties"));
            let id = if text(v, "Guid").is_empty() { key.clone() } else { text(v, "Guid") };
            let xy = |a: &'static str, b: &'static str| number(v, a).zip(number(v, b));
            match xsi_type(v) {
                "LineBoundary" => {
                    let mut e = Element::new(id.clone(), Kind::Boundary, display_name(&props.name, &type_id));
                    e.stereotype = Some(type_id);
                    e.properties = props.values;
                    if let (Some((x, y)), Some((x2, y2))) = (xy("SourceX", "SourceY"), xy("TargetX", "TargetY")) {
                        model.layout_of_mut(di).insert(id.clone(), Placement { x, y, width: None, height: None, line: vec![[x2, y2]] });
                    }
                    model.elements.push(e);
                }
                _ => {
                    let (src, dst) = (text(v, "SourceGuid"), text(v, "TargetGuid"));
                    let mut e = Element::flow(id.clone(), display_name(&props.name, &type_id), src.clone(), dst.clone());
                    e.stereotype = Some(type_id);
                    if props.out_of_scope {
                        e.in_scope = Some(false);
                    }
                    e.properties = props.values;
                    if let Some((x, y)) = xy("HandleX", "HandleY") {
                        model.layout_of_mut(di).insert(id.clone(), Placement { x, y, width: None, height: None, line: Vec::new() });
                    }
                    flow_ends.push((id, src, dst));
                    model.elements.push(e);
                }
            }
        }
    }

    // Border boundaries contain the nodes (and boundaries) whose centre / box lies inside them:
    // the smallest such boundary of the same diagram is the parent.
    let area = |r: &[f64; 4]| r[2] * r[3];
    let inside = |p: (f64, f64), r: &[f64; 4]| p.0 >= r[0] && p.0 <= r[0] + r[2] && p.1 >= r[1] && p.1 <= r[1] + r[3];
    let mut parent_of: HashMap<String, String> = HashMap::new();
    for (di, id, centre) in &nodes {
        if let Some((_, b, _)) =
            border_rects.iter().filter(|(d, _, r)| d == di && inside(*centre, r)).min_by(|a, b| area(&a.2).total_cmp(&area(&b.2)))
        {
            parent_of.insert(id.clone(), b.clone());
        }
    }
    for (i, (di, id, r)) in border_rects.iter().enumerate() {
        let contains = |(j, (dj, _, o)): &(usize, &(usize, String, [f64; 4]))| {
            *j != i
                && dj == di
                && o[0] <= r[0]
                && o[1] <= r[1]
                && o[0] + o[2] >= r[0] + r[2]
                && o[1] + o[3] >= r[1] + r[3]
                && (area(o) > area(r) || *j < i)
        };
        if let Some((_, (_, b, _))) = border_rects.iter().enumerate().filter(contains).min_by(|a, b| area(&a.1.2).total_cmp(&area(&b.1.2)))
        {
            parent_of.insert(id.clone(), b.clone());
        }
    }
    for e in &mut model.elements {
        if let Some(b) = parent_of.get(&e.id) {
            e.in_boundary = Some(b.clone());
        }
    }

    let ids: std::collections::HashSet<String> = model.elements.iter().map(|e| e.id.clone()).collect();
    let dangling: Vec<String> =
        flow_ends.iter().filter(|(_, s, t)| !ids.contains(s) || !ids.contains(t)).map(|(f, _, _)| f.clone()).collect();
    for f in &dangling {
        warnings.push(format!("flow {f} is not connected at both ends in the diagram; it is left out"));
    }
    model.elements.retain(|e| !dangling.contains(&e.id));
    for f in &dangling {
        model.unplace(f);
    }

    let pack = match &kb {
        Some(kb) => pack_toml(kb, file, &mut warnings),
        None => String::new(),
    };
    read_threats(root, kb.as_ref(), &mut model, &mut warnings);

    ModelError::check_converted(file, &model)?;
    Ok(Converted { model, pack, warnings, more_packs: Vec::new() })
}

/// True if a stencil type's name says it stores data: a database, a storage service or bucket,
/// a file system, a cache (`Amazon RDS`, `Amazon S3`, `DynamoDB`, `Azure Blob Storage`).
fn names_a_store(type_name: &str) -> bool {
    let lower = type_name.to_lowercase();
    let words: Vec<&str> = lower.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect();
    const WORDS: &[&str] = &[
        "database",
        "databases",
        "db",
        "datastore",
        "storage",
        "store",
        "bucket",
        "buckets",
        "s3",
        "rds",
        "dynamodb",
        "aurora",
        "redshift",
        "elasticache",
        "documentdb",
        "neptune",
        "keyspaces",
        "timestream",
        "glacier",
        "efs",
        "ebs",
        "fsx",
        "blob",
        "cosmos",
        "cosmosdb",
        "sql",
        "nosql",
        "mysql",
        "postgresql",
        "postgres",
        "mongodb",
        "redis",
        "memcached",
        "cache",
        "warehouse",
        "datalake",
        "lake",
        "filesystem",
        "disk",
        "volume",
    ];
    words.iter().any(|w| WORDS.contains(w)) || lower.contains("data store") || lower.contains("file system")
}

/// The built-in generic type (`GE.P`, `GE.EI`, `GE.DS`, `GE.TB.B`, `GE.A`) of a stencil: its
/// generic type id, or the first `GE.` ancestor of a custom template's generic type, or what
/// its shape says.
fn generic_type(generic: &str, shape: &str, kb: Option<&Kb>) -> String {
    let mut cur = generic;
    for _ in 0..64 {
        if cur.starts_with("GE.") {
            return cur.to_owned();
        }
        match kb.and_then(|kb| kb.parents.get(cur)) {
            Some(p) if !p.is_empty() && p != cur => cur = p,
            _ => break,
        }
    }
    match shape {
        "StencilEllipse" => "GE.P",
        "StencilRectangle" => "GE.EI",
        "StencilParallelLines" => "GE.DS",
        "BorderBoundary" => "GE.TB.B",
        "StencilAnnotation" | "Annotation" => "GE.A",
        _ => generic,
    }
    .to_owned()
}

fn display_name(name: &str, type_id: &str) -> String {
    if name.trim().is_empty() { type_id.to_owned() } else { name.to_owned() }
}

/// TMT's threat states as lifecycle statuses.
pub fn status_of_state(state: &str) -> Option<Status> {
    Some(match state.trim() {
        "AutoGenerated" | "NotStarted" | "Migrated" | "NeedsMitigation" | "" => Status::Open,
        "NeedsInvestigation" => Status::NeedsInvestigation,
        "Mitigated" => Status::Mitigated,
        "NotApplicable" => Status::NotApplicable,
        _ => return None,
    })
}

/// TMT priorities (High, Medium, Low, Critical, or a number 0 to 4 with 0 the most urgent) as a
/// severity name.
fn severity_of_priority(p: &str) -> Option<&'static str> {
    let p = p.trim();
    if let Ok(n) = p.parse::<u8>() {
        return [Some("Very High"), Some("High"), Some("Medium"), Some("Low"), Some("Info")].get(n as usize).copied().flatten();
    }
    crate::rules::Severity::parse(p).map(|s| s.name())
}

fn read_threats(root: Node<'_, '_>, kb: Option<&Kb>, model: &mut Model, warnings: &mut Vec<String>) {
    let default_priority: HashMap<&str, Option<&str>> = kb
        .map(|kb| kb.threat_types.iter().map(|t| (t.id.as_str(), t.priority.as_deref().and_then(severity_of_priority))).collect())
        .unwrap_or_default();
    let mut unknown_states = BTreeMap::new();
    for (_, v) in child(root, "ThreatInstances").into_iter().flat_map(entries) {
        let (type_id, flow) = (text(v, "TypeId"), text(v, "FlowGuid"));
        if type_id.is_empty() || flow.is_empty() {
            continue;
        }
        let fields: BTreeMap<String, String> =
            child(v, "Properties").into_iter().flat_map(entries).map(|(k, v)| (k, v.text().unwrap_or("").to_owned())).collect();
        let field = |k: &str| fields.get(k).cloned().filter(|s| !s.trim().is_empty());
        let state = text(v, "State");
        let status = status_of_state(&state).unwrap_or_else(|| {
            *unknown_states.entry(state.clone()).or_insert(0) += 1;
            Status::Open
        });
        let justification =
            field("StateInformation").or_else(|| Some(text(v, "StateInformation")).filter(|s| !s.trim().is_empty())).unwrap_or_default();
        let mut tags = Vec::new();
        for (k, val) in &fields {
            if matches!(
                k.as_str(),
                "Title"
                    | "UserThreatCategory"
                    | "UserThreatShortDescription"
                    | "UserThreatDescription"
                    | "InteractionString"
                    | "Priority"
                    | "StateInformation"
            ) || val.trim().is_empty()
            {
                continue;
            }
            let label = kb.and_then(|kb| kb.field_labels.get(k)).filter(|l| !l.is_empty()).cloned().unwrap_or_else(|| k.clone());
            tags.push(format!("{label}: {}", val.trim()));
        }
        let key = format!("{type_id}@{flow}");
        // A threat on an out-of-scope flow is kept on record (reported as out of scope).
        let out_of_scope = model.elements.iter().any(|e| e.id == flow && !e.in_scope());
        if status != Status::Open || !justification.is_empty() || !tags.is_empty() || out_of_scope {
            let at = text(v, "ModifiedAt");
            let at = if at.starts_with("0001-") { String::new() } else { at };
            let mut d = Decision::recorded(status, tags, at, text(v, "ChangedBy"), "state in Microsoft TMT".to_owned());
            d.justification = justification.clone();
            model.decisions.insert(key.clone(), d);
        }
        let priority = field("Priority").unwrap_or_else(|| text(v, "Priority"));
        if let Some(sev) = severity_of_priority(&priority) {
            let default = default_priority.get(type_id.as_str()).copied().flatten().unwrap_or("High");
            if sev != default
                && let Some(e) = model.elements.iter_mut().find(|e| e.id == flow)
            {
                e.overrides.insert(type_id.clone(), Override { severity: Some(sev.to_owned()), ..Override::default() });
            }
        } else if !priority.trim().is_empty() {
            warnings.push(format!("threat {key}: priority `{priority}` is not one Threatmap knows; the template's is used"));
        }
    }
    for (state, n) in unknown_states {
        warnings.push(format!("{n} threat(s) in state `{state}`, which Threatmap does not know; imported as open"));
    }
}

fn pack_toml(kb: &Kb, file: &str, warnings: &mut Vec<String>) -> String {
    let mut rules = Vec::new();
    for t in &kb.threat_types {
        let include = t.include.trim();
        if include.is_empty() || include == "source is 'ROOT'" || t.id.is_empty() {
            continue; // category headers and empty filters generate nothing in TMT either
        }
        let translated = translate(include, kb).and_then(|inc| {
            if t.exclude.trim().is_empty() {
                Ok(format!("({inc})"))
            } else {
                translate(t.exclude.trim(), kb).map(|exc| format!("({inc}) and not ({exc})"))
            }
        });
        // An out-of-scope flow gets no threats (the engine skips out-of-scope targets); TMT
        // still generates threats for in-scope flows that touch an out-of-scope element.
        let condition = match translated {
            Ok(c) => c,
            Err(e) => {
                warnings.push(format!(
                    "threat type {} ({}): its generation filter cannot be read ({e}); the rule is left out",
                    t.id, t.short_title
                ));
                continue;
            }
        };
        let stride = match t.category.as_str() {
            "S" => vec!["Spoofing"],
            "T" => vec!["Tampering"],
            "R" => vec!["Repudiation"],
            "I" => vec!["Information Disclosure"],
            "D" => vec!["Denial of Service"],
            "E" => vec!["Elevation of Privilege"],
            _ => Vec::new(),
        };
        let category = kb.categories.get(&t.category).cloned().unwrap_or_else(|| t.category.clone());
        rules.push(GeneratedRule {
            id: t.id.clone(),
            title: placeholders(if t.short_title.trim().is_empty() { &t.id } else { &t.short_title }),
            targets: vec!["Dataflow"],
            condition,
            severity: t.priority.as_deref().and_then(severity_of_priority).unwrap_or("High").to_owned(),
            stride,
            description: placeholders(&t.description),
            details: if category.is_empty() { String::new() } else { format!("Category: {category}") },
            mitigations: t.mitigations.iter().map(|m| placeholders(m)).collect(),
            references: Vec::new(),
        });
    }
    // The file's name only: a pack committed to a repository must not carry the path of the
    // machine that converted it.
    let file = std::path::Path::new(file).file_name().map_or_else(|| file.to_owned(), |n| n.to_string_lossy().into_owned());
    let out = GeneratedPack {
        pack: GeneratedHead {
            name: crate::model::slug(&kb.name),
            title: kb.name.clone(),
            description: format!(
                "Microsoft Threat Modeling Tool template \"{}\" (id {}, by {}), converted from {file}. One rule per threat type, run per dataflow.",
                kb.name, kb.id, kb.author
            ),
            version: kb.version.clone(),
        },
        rules,
    };
    out.to_toml()
}

/// TMT's `{source.Name}`, `{target.Name}` and `{flow.Name}` as the rule language's
/// placeholders; every other brace is literal.
fn placeholders(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find(['{', '}']) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        // TMT reads its placeholders in any case (`{source.name}` as `{source.Name}`).
        let inner = tail.strip_prefix('{').and_then(|t| t.split_once('}')).map(|(w, _)| w.to_ascii_lowercase());
        let mapped = [("source.name", "{source.name}"), ("target.name", "{sink.name}"), ("flow.name", "{target.name}")]
            .into_iter()
            .find(|(from, _)| inner.as_deref() == Some(*from));
        match mapped {
            Some((from, to)) => {
                out.push_str(to);
                rest = &tail[from.len() + 2..];
            }
            None => {
                out.push_str(if tail.starts_with('{') { "{{" } else { "}}" });
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[derive(Debug, Clone, PartialEq)]
enum FTok {
    Open,
    Close,
    Word(String),
    Str(String),
}

fn filter_tokens(src: &str) -> Result<Vec<FTok>, String> {
    let mut out = Vec::new();
    let mut chars = src.char_indices().peekable();
    while let Some(&(i, c)) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' => {
                chars.next();
                out.push(FTok::Open);
            }
            ')' => {
                chars.next();
                out.push(FTok::Close);
            }
            '\'' | '"' => {
                chars.next();
                let mut s = String::new();
                loop {
                    match chars.next() {
                        Some((_, q)) if q == c => break,
                        Some((_, ch)) => s.push(ch),
                        None => return Err(format!("unterminated string at character {}", i + 1)),
                    }
                }
                out.push(FTok::Str(s));
            }
            c if c.is_alphanumeric() || c == '_' || c == '.' || c == '-' => {
                let mut w = String::new();
                while let Some(&(_, ch)) = chars.peek() {
                    if ch.is_alphanumeric() || ch == '_' || ch == '.' || ch == '-' {
                        w.push(ch);
                        chars.next();
                    } else {
                        break;
                    }
                }
                out.push(FTok::Word(w));
            }
            other => return Err(format!("unexpected `{other}` at character {}", i + 1)),
        }
    }
    Ok(out)
}

/// A quoted string in the condition language.
pub(crate) fn quoted(s: &str) -> String {
    let mut out = String::from("'");
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

fn set_of(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| quoted(s)).collect();
    format!("({},)", quoted.join(", "))
}

/// Translates a TMT generation filter into a condition on a dataflow.
fn translate(src: &str, kb: &Kb) -> Result<String, String> {
    struct P<'k> {
        toks: Vec<FTok>,
        pos: usize,
        kb: &'k Kb,
        depth: usize,
    }
    impl P<'_> {
        fn peek_word(&self, w: &str) -> bool {
            matches!(self.toks.get(self.pos), Some(FTok::Word(x)) if x.eq_ignore_ascii_case(w))
        }
        fn list(&mut self, op: &str, next: fn(&mut Self) -> Result<String, String>) -> Result<String, String> {
            let mut parts = vec![next(self)?];
            while self.peek_word(op) {
                self.pos += 1;
                parts.push(next(self)?);
            }
            Ok(if parts.len() == 1 { parts.remove(0) } else { format!("({})", parts.join(&format!(" {op} "))) })
        }
        fn or(&mut self) -> Result<String, String> {
            self.list("or", Self::and)
        }
        fn and(&mut self) -> Result<String, String> {
            self.list("and", Self::atom)
        }
        fn atom(&mut self) -> Result<String, String> {
            self.depth += 1;
            if self.depth > 64 {
                return Err("nested too deeply".to_owned());
            }
            let tok = self.toks.get(self.pos).cloned();
            self.pos += 1;
            let out = match tok {
                Some(FTok::Open) => {
                    let inner = self.or()?;
                    if self.toks.get(self.pos) != Some(&FTok::Close) {
                        return Err("missing `)`".to_owned());
                    }
                    self.pos += 1;
                    inner
                }
                Some(FTok::Word(w)) => {
                    let (subject, attr) = match w.split_once('.') {
                        Some((s, a)) => (s.to_owned(), Some(a.to_owned())),
                        None => (w.clone(), None),
                    };
                    let path = match subject.as_str() {
                        "source" => "target.source",
                        "target" => "target.sink",
                        "flow" => "target",
                        other => return Err(format!("unknown subject `{other}` (expected source, target or flow)")),
                    };
                    let op = match self.toks.get(self.pos) {
                        Some(FTok::Word(op)) => op.to_lowercase(),
                        _ => return Err(format!("expected `is` or `crosses` after `{w}`")),
                    };
                    self.pos += 1;
                    let Some(FTok::Str(value)) = self.toks.get(self.pos).cloned() else {
                        return Err(format!("expected a quoted value after `{w} {op}`"));
                    };
                    self.pos += 1;
                    match (op.as_str(), attr) {
                        ("is", Some(a)) => format!("{path}.prop({}) == {}", quoted(&a), quoted(&value)),
                        ("is", None) if value == "ROOT" => "True".to_owned(),
                        ("is", None) => format!("{path}.stereotype in {}", set_of(&self.kb.descendants(&value))),
                        ("crosses", None) if subject == "flow" => format!("target.crossesDrawn{}", set_of(&self.kb.descendants(&value))),
                        (op, _) => return Err(format!("`{w} {op}` is not a filter term")),
                    }
                }
                Some(other) => return Err(format!("unexpected {other:?}")),
                None => return Err("the filter ends too early".to_owned()),
            };
            self.depth -= 1;
            Ok(out)
        }
    }
    let mut p = P { toks: filter_tokens(src)?, pos: 0, kb, depth: 0 };
    let out = p.or()?;
    if p.pos != p.toks.len() {
        return Err(format!("unexpected text after the filter: {:?}", p.toks[p.pos]));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kb() -> Kb {
        let parents = [("GE.P", "ROOT"), ("SE.P.TMCore.WebApp", "GE.P"), ("GE.TB.L", "ROOT"), ("SE.TB.L.TMCore.Internet", "GE.TB.L")]
            .into_iter()
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
            .collect();
        Kb {
            name: String::new(),
            id: String::new(),
            version: String::new(),
            author: String::new(),
            parents,
            names: HashMap::new(),
            categories: HashMap::new(),
            field_labels: HashMap::new(),
            threat_types: Vec::new(),
        }
    }

    #[test]
    fn storage_services_are_known_by_their_type_names() {
        for store in [
            "Amazon RDS",
            "Amazon S3 Bucket",
            "Amazon DynamoDB",
            "Amazon ElastiCache",
            "Azure Blob Storage",
            "SQL Database",
            "Generic Data Store",
            "Network File System",
        ] {
            assert!(names_a_store(store), "{store}");
        }
        for other in
            ["Generic External Interactor", "Browser", "Amazon API Gateway", "AWS Lambda", "Amazon SQS", "Human User", "Storefront"]
        {
            assert!(!names_a_store(other), "{other}");
        }
    }

    #[test]
    fn filters_translate_with_ancestry() {
        let c = translate("source is 'GE.P' and (flow crosses 'GE.TB.L' or target.authenticatesItself is 'No')", &kb()).unwrap();
        assert_eq!(
            c,
            "(target.source.stereotype in ('GE.P', 'SE.P.TMCore.WebApp',) and (target.crossesDrawn('GE.TB.L', 'SE.TB.L.TMCore.Internet',) or target.sink.prop('authenticatesItself') == 'No'))"
        );
        crate::expr::Condition::compile(&c, Kind::Dataflow.set()).unwrap();
        assert!(translate("source is", &kb()).is_err());
        assert!(translate("source crosses 'x'", &kb()).is_err());
        assert!(translate("(source is 'GE.P'", &kb()).is_err());
        assert!(translate(&"(".repeat(200), &kb()).is_err());
    }

    #[test]
    fn placeholders_and_braces() {
        assert_eq!(
            placeholders("Spoofing {source.Name} to {target.name} over {FLOW.NAME} {x} {source.Name"),
            "Spoofing {source.name} to {sink.name} over {target.name} {{x}} {{source.Name"
        );
    }
}
