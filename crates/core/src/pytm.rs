//! pytm interoperability: import of pytm's `--json` output and of pytm's `load()` JSON input,
//! and export of the `--json` content (model plus findings).
//!
//! pytm refers to elements by name; imported elements get ids made from their names. Values
//! equal to pytm's defaults are left unset, so the imported model is as short as one written by
//! hand. What pytm's JSON cannot carry (overrides are written as empty strings, assumptions as
//! names) is rebuilt from the findings in the same file where possible.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io::{self, Write};

use serde_json_borrow::{Map, Value as Json};

use crate::attr::{Kind, Value};
use crate::engine::{Analysis, Finding};
use crate::file::{ModelError, Problem, closest};
use crate::model::{Assumption, Controls, DataItem, Element, Model, Override, PropValue};

/// An imported model and what the import could not carry over.
#[derive(Debug)]
pub struct Imported {
    /// The model.
    pub model: Model,
    /// Attributes ignored or guessed, one line each.
    pub warnings: Vec<String>,
}

/// Keys of pytm's element objects that are handled by hand or are pytm's own output.
const STRUCTURAL: &[&str] = &[
    "__class__",
    "name",
    "findings",
    "inputs",
    "outputs",
    "severity",
    "uuid",
    "is_drawn",
    "source",
    "sink",
    "inBoundary",
    "response",
    "responseTo",
    "data",
    "controls",
    "overrides",
    "assumptions",
    REF,
];

/// A key the pytm script reader adds where several elements share a name: the object's own
/// number, which references then give instead of the name (pytm's JSON has only names).
pub(crate) const REF: &str = "__ref__";

fn err(file: &str, message: String) -> ModelError {
    ModelError {
        file: file.to_owned(),
        problems: vec![Problem { level: crate::file::Level::Error, line: None, column: None, element: None, message }],
    }
}

/// An attribute's value as serde_json's own (whose deserializer reads enums), normalized.
fn owned(v: &Json<'_>) -> serde_json::Value {
    serde_json::Value::from(normalize(v))
}

/// Strips pytm's `Type.` prefix from enum strings (`"Classification.SECRET"` → `"SECRET"`).
fn normalize<'a>(v: &'a Json<'_>) -> Json<'a> {
    match v {
        Json::Str(s) => {
            for t in ["Classification.", "TLSVersion.", "Lifetime.", "DatastoreType.", "Action."] {
                if let Some(m) = s.strip_prefix(t) {
                    return Json::Str(Cow::Borrowed(m));
                }
            }
            Json::Str(Cow::Borrowed(s.as_ref()))
        }
        _ => v.clone(),
    }
}

struct Importer {
    warnings: Vec<String>,
    ids: HashMap<String, String>,
    taken: HashSet<String>,
    /// Ids by [`REF`] number.
    refs: HashMap<u64, String>,
}

impl Importer {
    fn id_for(&mut self, name: &str) -> String {
        if let Some(id) = self.ids.get(name) {
            return id.clone();
        }
        let id = crate::model::unique_id(name, |id| self.taken.contains(id));
        self.taken.insert(id.clone());
        self.ids.insert(name.to_owned(), id.clone());
        id
    }

    fn attrs(&mut self, obj: &Map<'_>, el: &mut Element) {
        for (key, val) in obj.iter() {
            if STRUCTURAL.contains(&key) || val.is_null() {
                continue;
            }
            let key = if key == "lifetime" { "credentialsLife" } else { key };
            match Element::attribute(key) {
                Some(def) if def.kinds.contains(el.kind) => {
                    if let Err(e) = el.set_json(def.key, &owned(val)) {
                        self.warnings.push(format!("{} {:?}: attribute `{key}` ignored: {e}", el.kind, el.name));
                        el.clear(def.key);
                    } else if el.get(def.key, el.kind) == (def.default)(el.kind) {
                        el.clear(def.key);
                    }
                }
                _ => {
                    // pytm accepts any attribute (a team's own threat library reads its own):
                    // it is kept as a custom property, which rules read as `target.NAME`. A
                    // name close to a known one is probably a typo, and is said so.
                    let hint = if Controls::attribute(key).is_some() {
                        Some(format!("controls.{key}"))
                    } else {
                        closest(key, Element::ATTRIBUTES.iter().filter(|d| d.kinds.contains(el.kind)).map(|d| d.name)).map(str::to_owned)
                    };
                    let kept = self.custom(el, key, val, "attribute");
                    if let Some(kept) = kept {
                        el.properties.insert(key.to_owned(), kept);
                    }
                    if let Some(hint) = hint {
                        self.warnings.push(format!(
                            "{} {:?}: attribute `{key}` is not pytm's; kept as a custom property (did you mean `{hint}`?)",
                            el.kind, el.name
                        ));
                    }
                }
            }
        }
        if let Some(Json::Object(c)) = obj.get("controls") {
            for (key, val) in c.iter() {
                match Controls::attribute(key) {
                    Some(def) => {
                        if el.controls.set_json(def.key, &serde_json::Value::from(val)).is_err() {
                            self.warnings
                                .push(format!("{} {:?}: control `{key}` has a value of the wrong type; ignored", el.kind, el.name));
                            el.controls.clear(def.key);
                        } else if el.controls.get(def.key, el.kind) == (def.default)(el.kind) {
                            el.controls.clear(def.key);
                        }
                    }
                    None if val.is_null() => {}
                    None => {
                        if let Some(kept) = self.custom(el, key, val, "control") {
                            el.controls.custom.insert(key.to_owned(), kept);
                        }
                        if let Some(hint) = closest(key, Controls::ATTRIBUTES.iter().map(|d| d.name)) {
                            self.warnings.push(format!(
                                "{} {:?}: control `{key}` is not pytm's; kept as a custom control (did you mean `{hint}`?)",
                                el.kind, el.name
                            ));
                        }
                    }
                }
            }
        }
        if let Some(Json::Array(list)) = obj.get("assumptions") {
            for a in list {
                if let Some(a) = assumption(a) {
                    el.assumptions.push(a);
                }
            }
        }
        if let Some(Json::Array(list)) = obj.get("overrides") {
            for o in list {
                if let Json::Object(o) = o
                    && let Some(Json::Str(tid)) = o.get("threat_id")
                {
                    let get = |k: &str| o.get(k).and_then(Json::as_str).filter(|s| !s.is_empty()).map(str::to_owned);
                    let ov = Override {
                        severity: get("severity"),
                        cvss: get("cvss"),
                        response: get("response"),
                        likelihood: get("likelihood"),
                        description: get("description"),
                        details: get("details"),
                        mitigations: get("mitigations"),
                        example: get("example"),
                        references: get("references"),
                    };
                    el.overrides.insert(tid.to_string(), ov);
                }
            }
        }
    }
}

impl Importer {
    /// A custom attribute or control's value, typed: a boolean, an integer or text. Other
    /// numbers are kept as their text, lists and objects as their JSON (with a warning).
    fn custom(&mut self, el: &Element, key: &str, val: &Json<'_>, what: &str) -> Option<PropValue> {
        Some(match val {
            Json::Null => return None,
            Json::Bool(b) => PropValue::Bool(*b),
            Json::Number(n) => n.as_i64().map_or_else(|| PropValue::Text(n.to_string()), PropValue::Int),
            Json::Str(t) => PropValue::Text(t.to_string()),
            Json::Array(_) | Json::Object(_) => {
                self.warnings.push(format!("{} {:?}: {what} `{key}` is a list or object; kept as its JSON text", el.kind, el.name));
                PropValue::Text(serde_json::Value::from(val).to_string())
            }
        })
    }
}

/// A reference to another element: its name, as in pytm's JSON, or its number where the
/// script reader found its name repeated (`{"__ref__": 7, "name": "web"}`).
#[derive(Debug, Clone, Copy)]
enum Ref<'a> {
    Name(&'a str),
    Number(u64, &'a str),
}

impl<'a> Ref<'a> {
    fn name(self) -> &'a str {
        match self {
            Ref::Name(n) | Ref::Number(_, n) => n,
        }
    }
}

fn reference<'a>(v: Option<&'a Json<'_>>) -> Option<Ref<'a>> {
    match v? {
        Json::Str(s) => Some(Ref::Name(s)),
        Json::Object(o) => Some(Ref::Number(o.get(REF)?.as_u64()?, o.get("name").and_then(Json::as_str).unwrap_or(""))),
        _ => None,
    }
}

impl Importer {
    fn resolve(&self, r: Ref<'_>) -> Option<String> {
        match r {
            Ref::Name(n) => self.ids.get(n).cloned(),
            Ref::Number(k, _) => self.refs.get(&k).cloned(),
        }
    }
}

fn assumption(v: &Json<'_>) -> Option<Assumption> {
    match v {
        Json::Str(s) => Some(Assumption { name: s.to_string(), ..Assumption::default() }),
        Json::Object(o) => {
            let name = o.get("name")?.as_str()?.to_owned();
            let description = o.get("description").and_then(Json::as_str).unwrap_or("").to_owned();
            let exclude = match o.get("exclude") {
                Some(Json::Array(a)) => a.iter().filter_map(Json::as_str).map(str::to_owned).collect(),
                Some(Json::Str(s)) => parse_py_set(s),
                _ => Vec::new(),
            };
            Some(Assumption { name, description, exclude })
        }
        _ => None,
    }
}

/// pytm's levels as diagrams: a model that puts elements on levels other than 0 gets one
/// diagram per level (`Level 0`, `Level 1`, ...), each showing the elements on it, as pytm's
/// `--dfd --levels N` draws them. The levels stay on the elements, so pytm's outputs keep them.
pub fn level_diagrams(model: &mut Model) {
    let levels: BTreeSet<u32> = model.elements.iter().flat_map(|e| e.levels.clone().unwrap_or_else(|| vec![0])).collect();
    if levels.iter().all(|&l| l == 0) || !model.diagrams.is_empty() {
        return;
    }
    let layout = std::mem::take(&mut model.layout);
    for (k, l) in levels.into_iter().enumerate() {
        let layout = if k == 0 { layout.clone() } else { BTreeMap::new() };
        model.diagrams.push(crate::model::Diagram { name: format!("Level {l}"), level: Some(l), layout });
    }
}

/// Parses pytm's `str(set)` rendering, `"{'INP16', 'AA01'}"`.
fn parse_py_set(s: &str) -> Vec<String> {
    let inner = s.trim().trim_start_matches('{').trim_end_matches('}');
    if inner.trim() == "set()" {
        return Vec::new();
    }
    inner
        .split(',')
        .map(|x| x.trim().trim_matches(|c| c == '\'' || c == '"').to_owned())
        .filter(|x| !x.is_empty() && x != "set()")
        .collect()
}

/// Imports a pytm model: a model script (read, never run: see [`crate::pytm_script`]), or pytm
/// JSON, either the `--json` output (its findings are only used to recover overrides and
/// assumption exclusions) or the `load()` input format.
pub fn import(text: &str, file: &str) -> Result<Imported, ModelError> {
    // JSON starts with `{` (a script never does): no need to read the whole file to tell.
    let json = text.trim_start_matches('\u{feff}').trim_start().starts_with('{');
    if !json && crate::shape::sniff(text) == crate::shape::Shape::PytmScript {
        return crate::pytm_script::import(text, file);
    }
    if !json {
        crate::file::parse_json_borrowed(text, file)?;
        return Err(err(file, "a pytm model is a JSON object".to_owned()));
    }
    // The top level is read as raw text per key (checked, not built), and each key is built
    // as a tree only if it is read: pytm's `--json` lists every node twice (under `elements`,
    // and again under `actors` and `assets`), and the second copy is skipped.
    let top: BTreeMap<String, &serde_json::value::RawValue> = crate::file::parse_json_borrowing(text, file)?;
    let skip = |k: &str| matches!(k, "actors" | "assets") && top.contains_key("elements");
    let mut root = Map::default();
    for (key, raw) in top.iter().filter(|(k, _)| !skip(k)) {
        root.insert(key, crate::file::parse_json_borrowed(raw.get(), file)?);
    }
    import_root(&root, file, Vec::new())
}

/// Imports pytm JSON already parsed, adding to `warnings`.
pub(crate) fn import_root(root: &Map<'_>, file: &str, warnings: Vec<String>) -> Result<Imported, ModelError> {
    let mut imp = Importer { warnings, ids: HashMap::new(), taken: HashSet::new(), refs: HashMap::new() };
    let name = root.get("name").and_then(Json::as_str).unwrap_or("Imported pytm model");
    let mut model = Model::new(name);
    let bool_of = |k: &str| root.get(k).and_then(Json::as_bool).unwrap_or(false);
    model.description = root.get("description").and_then(Json::as_str).unwrap_or("").to_owned();
    model.is_ordered = bool_of("isOrdered");
    model.merge_responses = bool_of("mergeResponses");
    model.ignore_unused = bool_of("ignoreUnused");
    if let Some(v) = root.get("onDuplicates") {
        model.on_duplicates = serde_json::from_value(owned(v)).map_err(|e| err(file, format!("onDuplicates: {e}")))?;
    }
    if let Some(Json::Array(list)) = root.get("assumptions") {
        model.assumptions = list.iter().filter_map(assumption).collect();
    }
    let arr = |k: &str| -> Result<Vec<&Map<'_>>, ModelError> {
        match root.get(k) {
            Some(Json::Array(a)) => a
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    v.as_object()
                        .ok_or_else(|| err(file, format!("{k}[{i}] must be an object, not {}", crate::file::json_type_borrowed(v))))
                })
                .collect(),
            None | Some(Json::Null) => Ok(Vec::new()),
            Some(v) => Err(err(file, format!("`{k}` must be a list, not {}", crate::file::json_type_borrowed(v)))),
        }
    };
    let name_of = |o: &Map<'_>, what: &str, i: usize| -> Result<String, ModelError> {
        o.get("name").and_then(Json::as_str).map(str::to_owned).ok_or_else(|| err(file, format!("{what}[{i}] has no name")))
    };

    // Data items.
    let mut data_ids: HashMap<String, String> = HashMap::new();
    for (i, o) in arr("data")?.into_iter().enumerate() {
        let dname = name_of(o, "data", i)?;
        // The NUL keeps data names apart from element names; the id reads `data-<name>`. A
        // repeated name gets an id of its own; references by name go to the first.
        let key = format!("data\u{0}{dname}");
        let id = if data_ids.contains_key(&dname) {
            let id = crate::model::unique_id(&key, |id| imp.taken.contains(id));
            imp.taken.insert(id.clone());
            imp.warnings.push(format!("several data items are named {dname:?}; each is kept, and flows naming it carry the first"));
            id
        } else {
            imp.id_for(&key)
        };
        let mut item = DataItem { id: id.clone(), name: dname.clone(), ..DataItem::default() };
        for (key, val) in o.iter() {
            if matches!(key, "name" | "carriedBy" | "processedBy" | "__class__") || val.is_null() {
                continue;
            }
            let key = if key == "lifetime" { "credentialsLife" } else { key };
            match DataItem::attribute(key) {
                Some(def) => {
                    if item.set_json(def.key, &owned(val)).is_err() {
                        imp.warnings.push(format!("data {dname:?}: attribute `{key}` has a value of the wrong type; ignored"));
                        item.clear(def.key);
                    } else if item.get(def.key, Kind::Asset) == (def.default)(Kind::Asset) {
                        item.clear(def.key);
                    }
                }
                None => imp.warnings.push(format!("data {dname:?}: unknown attribute `{key}` ignored")),
            }
        }
        data_ids.entry(dname).or_insert(id);
        model.data.push(item);
    }
    let data_ref = |imp: &mut Importer, el: &mut Element, o: &Map<'_>| {
        let names: Vec<String> = match o.get("data") {
            Some(Json::Array(a)) => {
                a.iter().filter_map(|d| d.as_str().map(str::to_owned).or_else(|| d.get("name").as_str().map(str::to_owned))).collect()
            }
            Some(Json::Str(s)) if !s.is_empty() => vec![s.to_string()],
            _ => Vec::new(),
        };
        for n in names {
            match data_ids.get(&n) {
                Some(id) => el.data.push(id.clone()),
                None => imp.warnings.push(format!("{} {:?}: data {n:?} is not among the model's data; ignored", el.kind, el.name)),
            }
        }
    };

    // Boundaries, nodes, flows, in pytm's element order (boundaries first, then nodes, then
    // flows, each in file order).
    let boundaries = arr("boundaries")?;
    // `elements` holds the nodes in both formats (pytm's output lists them again under
    // `actors` and `assets`, which a hand-written file may give alone).
    let mut nodes = arr("elements")?;
    if root.get("elements").is_none() {
        nodes = arr("actors")?;
        nodes.extend(arr("assets")?);
    }
    let flows = arr("flows")?;
    // pytm lets several elements share a name (its duplicate check is off by default and only
    // compares flows with equal ends and attributes). Each gets an id of its own: a repeated
    // node or boundary name gets a numbered id (`web-2`), and a repeated flow name an id made
    // with its ends (`web-to-db-retrieve-status`), which stays put when other flows come and go.
    // References by name (source, sink, inBoundary) go to the first of the name, as in pytm's
    // JSON, where they are names.
    let mut names_seen: HashMap<String, usize> = HashMap::new();
    for (what, list) in [("boundaries", &boundaries), ("elements", &nodes), ("flows", &flows)] {
        for (i, o) in list.iter().enumerate() {
            *names_seen.entry(name_of(o, what, i)?).or_default() += 1;
        }
    }
    let own_id = |imp: &mut Importer, name: &str, qualified: Option<String>| -> String {
        if names_seen.get(name).copied().unwrap_or(0) <= 1 {
            return imp.id_for(name);
        }
        let first = !imp.ids.contains_key(name);
        let id = crate::model::unique_id(qualified.as_deref().unwrap_or(name), |id| imp.taken.contains(id));
        imp.taken.insert(id.clone());
        if first {
            imp.ids.insert(name.to_owned(), id.clone());
        }
        id
    };
    // The script reader numbers the objects whose names repeat, so that references to them
    // keep their identity.
    let ref_of = |o: &Map<'_>| o.get(REF).and_then(Json::as_u64);
    let mut boundary_ids = Vec::new();
    for (i, o) in boundaries.iter().enumerate() {
        boundary_ids.push(own_id(&mut imp, &name_of(o, "boundaries", i)?, None));
        if let Some(r) = ref_of(o) {
            imp.refs.insert(r, boundary_ids[i].clone());
        }
    }
    let mut node_ids = Vec::new();
    let mut node_refs = HashSet::new();
    for (i, o) in nodes.iter().enumerate() {
        node_ids.push(own_id(&mut imp, &name_of(o, "elements", i)?, None));
        if let Some(r) = ref_of(o) {
            imp.refs.insert(r, node_ids[i].clone());
            node_refs.insert(r);
        }
    }
    let mut flow_ids_in_order = Vec::new();
    for (i, o) in flows.iter().enumerate() {
        let n = name_of(o, "flows", i)?;
        let end = |k: &str| reference(o.get(k)).map_or("", |r| r.name());
        flow_ids_in_order.push(own_id(&mut imp, &n, Some(format!("{} to {} {n}", end("source"), end("sink")))));
        if let Some(r) = ref_of(o) {
            imp.refs.insert(r, flow_ids_in_order[i].clone());
        }
    }
    let node_like = boundaries.iter().chain(&nodes).filter(|o| ref_of(o).is_none()).filter_map(|o| o.get("name").and_then(Json::as_str));
    let mut node_names_seen: HashMap<&str, usize> = HashMap::new();
    for n in node_like {
        *node_names_seen.entry(n).or_default() += 1;
    }
    let mut repeated: Vec<(&str, usize)> = node_names_seen.into_iter().filter(|(_, c)| *c > 1).collect();
    repeated.sort_unstable();
    for (n, count) in repeated {
        imp.warnings.push(format!(
            "{count} elements are named {n:?}; each is kept, but pytm's JSON refers to elements by name, so flows and boundaries naming it go to the first"
        ));
    }

    for (i, o) in boundaries.iter().enumerate() {
        let n = name_of(o, "boundaries", i)?;
        let mut el = Element::new(boundary_ids[i].clone(), Kind::Boundary, n);
        el.in_boundary = reference(o.get("inBoundary")).and_then(|b| imp.resolve(b));
        imp.attrs(o, &mut el);
        model.elements.push(el);
    }
    for (i, o) in nodes.iter().enumerate() {
        let n = name_of(o, "elements", i)?;
        let class = o.get("__class__").and_then(Json::as_str).unwrap_or("Asset");
        let Some(kind) = Kind::from_name(class).filter(|k| k.is_node()) else {
            let hint = closest(class, Kind::ALL.iter().map(|k| k.name())).map(|c| format!("; did you mean `{c}`?")).unwrap_or_default();
            return Err(err(file, format!("elements[{i}] {n:?}: unknown class `{class}`{hint}")));
        };
        let mut el = Element::new(node_ids[i].clone(), kind, n);
        if let Some(b) = reference(o.get("inBoundary")) {
            el.in_boundary = imp.resolve(b);
            if el.in_boundary.is_none() {
                return Err(err(file, format!("elements[{i}] {:?}: inBoundary {:?} names no boundary", el.name, b.name())));
            }
        }
        imp.attrs(o, &mut el);
        data_ref(&mut imp, &mut el, o);
        model.elements.push(el);
    }
    let node_names: HashSet<&str> = nodes.iter().filter_map(|o| o.get("name").and_then(Json::as_str)).collect();
    let mut flow_objs = Vec::new();
    for (i, o) in flows.iter().enumerate() {
        let n = name_of(o, "flows", i)?;
        let end = |k: &str| -> Result<String, ModelError> {
            let target = reference(o.get(k)).ok_or_else(|| err(file, format!("flows[{i}] {n:?} has no {k}")))?;
            let is_node = match target {
                Ref::Name(t) => node_names.contains(t),
                Ref::Number(r, _) => node_refs.contains(&r),
            };
            match imp.resolve(target) {
                Some(id) if is_node => Ok(id),
                _ => Err(err(file, format!("flows[{i}] {n:?}: {k} {:?} names no element", target.name()))),
            }
        };
        let (source, sink) = (end("source")?, end("sink")?);
        let mut el = Element::flow(flow_ids_in_order[i].clone(), n, source, sink);
        imp.attrs(o, &mut el);
        data_ref(&mut imp, &mut el, o);
        flow_objs.push((el, *o));
    }
    // Response pairing: pytm writes both `response` and `responseTo`; we keep `responseTo`.
    // By name, the first flow of a name (responses name their request).
    let flow_ids: HashMap<String, String> = flow_objs.iter().rev().map(|(e, _)| (e.name.clone(), e.id.clone())).collect();
    let flow_of = |imp: &Importer, v: Option<&Json<'_>>| match reference(v)? {
        Ref::Name(n) => flow_ids.get(n).cloned(),
        r @ Ref::Number(..) => imp.resolve(r),
    };
    let mut response_to: HashMap<String, String> = HashMap::new();
    for (el, o) in &flow_objs {
        if let Some(req) = flow_of(&imp, o.get("responseTo")) {
            response_to.insert(el.id.clone(), req);
        }
        if let Some(resp) = flow_of(&imp, o.get("response")) {
            response_to.entry(resp).or_insert_with(|| el.id.clone());
        }
    }
    for (mut el, _) in flow_objs {
        el.response_to = response_to.get(&el.id).cloned();
        if el.response_to.is_some() {
            el.is_response = None;
        }
        model.elements.push(el);
    }
    // Data a flow inherits from its source is implied; keep only the flow's own.
    let node_data: HashMap<String, Vec<String>> =
        model.elements.iter().filter(|e| e.kind.is_node()).map(|e| (e.id.clone(), e.data.clone())).collect();
    for el in model.elements.iter_mut().filter(|e| e.kind == Kind::Dataflow) {
        if let Some(src) = el.source.as_ref().and_then(|s| node_data.get(s)) {
            el.data.retain(|d| !src.contains(d));
        }
    }
    recover_from_findings(root, &mut model, &mut imp);
    level_diagrams(&mut model);
    let warnings = imp.warnings;
    let problems: Vec<Problem> = crate::file::check(&model).into_iter().filter(|p| p.level == crate::file::Level::Error).collect();
    if !problems.is_empty() {
        return Err(ModelError { file: file.to_owned(), problems });
    }
    Ok(Imported { model, warnings })
}

/// pytm's `--json` writes overrides as empty strings and assumptions as names; the findings in
/// the same file still show which threats were overridden or excluded, so rebuild them.
fn recover_from_findings(root: &Map<'_>, model: &mut Model, imp: &mut Importer) {
    let by_name: HashMap<String, usize> = model.elements.iter().enumerate().rev().map(|(i, e)| (e.name.clone(), i)).collect();
    let global: HashSet<String> = model.assumptions.iter().map(|a| a.name.clone()).collect();
    if let Some(Json::Array(list)) = root.get("excluded_findings") {
        for f in list {
            let (Some(target), Some(tid), Some(a)) = (f.get("target").as_str(), f.get("threat_id").as_str(), Some(f.get("assumption")))
            else {
                continue;
            };
            let Some(a) = assumption(a) else { continue };
            let Some(&i) = by_name.get(target) else { continue };
            let own = model.elements[i].assumptions.iter_mut().find(|x| x.name == a.name);
            let slot = match own {
                Some(x) => Some(x),
                None if global.contains(&a.name) => model.assumptions.iter_mut().find(|x| x.name == a.name),
                None => {
                    model.elements[i].assumptions.push(Assumption { name: a.name.clone(), ..Assumption::default() });
                    model.elements[i].assumptions.last_mut()
                }
            };
            if let Some(slot) = slot {
                for x in a.exclude.iter().chain(std::iter::once(&tid.to_owned())) {
                    if !slot.exclude.contains(x) {
                        slot.exclude.push(x.clone());
                    }
                }
                slot.description = a.description.clone();
            }
        }
    }
    let Some(Json::Array(list)) = root.get("findings") else { return };
    let mut recovered = 0;
    for f in list {
        let s = |k: &str| f.get(k).as_str().filter(|x| !x.is_empty()).map(str::to_owned);
        let (Some(target), Some(tid)) = (s("target"), s("threat_id")) else { continue };
        let (cvss, response) = (s("cvss"), s("response"));
        if cvss.is_none() && response.is_none() {
            continue;
        }
        let Some(&i) = by_name.get(&target) else { continue };
        let el = &model.elements[i];
        if el.overrides.contains_key(&tid) {
            continue;
        }
        if el.kind == Kind::Dataflow {
            let inherited = [&el.source, &el.sink]
                .into_iter()
                .flatten()
                .filter_map(|id| model.elements.iter().find(|e| &e.id == id))
                .any(|e| e.overrides.contains_key(&tid));
            if inherited {
                continue;
            }
        }
        model.elements[i].overrides.insert(tid, Override { cvss, response, ..Override::default() });
        recovered += 1;
    }
    // Node overrides must come before flows inherit them: a second pass drops flow overrides
    // that a node now carries.
    let node_overrides: HashMap<String, BTreeMap<String, Override>> =
        model.elements.iter().filter(|e| e.kind.is_node()).map(|e| (e.id.clone(), e.overrides.clone())).collect();
    for el in model.elements.iter_mut().filter(|e| e.kind == Kind::Dataflow) {
        let ends: Vec<&BTreeMap<String, Override>> =
            [&el.source, &el.sink].into_iter().flatten().filter_map(|id| node_overrides.get(id)).collect();
        el.overrides.retain(|tid, _| !ends.iter().any(|m| m.contains_key(tid)));
    }
    if recovered > 0 {
        imp.warnings
            .push(format!("{recovered} override(s) rebuilt from findings with a response or CVSS (pytm's JSON does not store overrides)"));
    }
}

/// Writes the pytm `--json` content for an analysis: the model after its defaults plus every
/// finding, with pytm's key names and order. Streams to `out`, so memory stays flat however
/// many findings there are.
pub fn write_json(analysis: &Analysis<'_>, out: &mut dyn Write) -> io::Result<()> {
    PytmJson::new(analysis).write(out)
}

struct PytmJson<'a, 'b> {
    a: &'b Analysis<'a>,
    /// Per rule, its text fields escaped as JSON strings once.
    rules: Vec<RuleJson>,
    /// Per element, its name escaped as a JSON string.
    names: Vec<String>,
    finding_ids: Vec<Vec<u32>>,
    /// Per element, pytm's `severity`: the highest score among its findings.
    severity: Vec<u8>,
    /// The controls in pytm's (alphabetical) key order.
    controls_sorted: Vec<&'static crate::attr::AttrDef<crate::model::ControlAttr>>,
}

/// A field of an element object in pytm's JSON.
enum Out<'a> {
    Value(Value<'a>),
    Names(Vec<&'a str>),
    Ids(&'a [u32]),
    Controls(u32),
}

fn write_strs<S: AsRef<str>>(out: &mut dyn Write, items: impl Iterator<Item = S>) -> io::Result<()> {
    out.write_all(b"[")?;
    for (n, s) in items.enumerate() {
        if n > 0 {
            out.write_all(b",")?;
        }
        serde_json::to_writer(&mut *out, s.as_ref())?;
    }
    out.write_all(b"]")
}

/// Writes a condition value as pytm's JSON does (elements and data by name, enums as
/// `Type.MEMBER`).
fn write_value(out: &mut dyn Write, p: &crate::engine::Prepared<'_>, v: &Value<'_>) -> io::Result<()> {
    let name = |n: &u32| p.element(*n).name.as_str();
    match v {
        Value::None => out.write_all(b"null"),
        Value::Bool(b) => out.write_all(if *b { b"true" } else { b"false" }),
        Value::Int(n) => write!(out, "{n}"),
        Value::Str(s) => Ok(serde_json::to_writer(&mut *out, s)?),
        Value::Enum(e) => write!(out, "\"{e}\""),
        Value::Class(c) => write!(out, "\"{}\"", c.name()),
        Value::Node(n) | Value::Controls(n) => Ok(serde_json::to_writer(&mut *out, name(n))?),
        Value::Data(d) => Ok(serde_json::to_writer(&mut *out, p.data_name(*d))?),
        Value::Nodes(l) => write_strs(out, l.iter().map(name)),
        Value::DataSet(l) => write_strs(out, l.iter().map(|d| p.data_name(*d))),
        Value::Levels(l) => write!(out, "[{}]", l.iter().map(u32::to_string).collect::<Vec<_>>().join(",")),
        Value::Strs(l) => write_strs(out, l.iter()),
        Value::Tuple(t) => {
            out.write_all(b"[")?;
            for (n, x) in t.iter().enumerate() {
                if n > 0 {
                    out.write_all(b",")?;
                }
                write_value(out, p, x)?;
            }
            out.write_all(b"]")
        }
    }
}

/// A rule's fields as JSON string literals; `None` where the text depends on the element.
struct RuleJson {
    condition: String,
    description: Option<String>,
    details: String,
    example: String,
    likelihood: String,
    mitigations: Option<String>,
    references: String,
    severity: String,
    threat_id: String,
}

fn js(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned())
}

impl<'a, 'b> PytmJson<'a, 'b> {
    fn new(a: &'b Analysis<'a>) -> Self {
        let rules = a
            .rules
            .rules
            .iter()
            .map(|r| RuleJson {
                condition: js(r.condition.source()),
                description: r.has_literal_text().then(|| js(&r.description)),
                details: js(&r.details),
                example: js(&r.example),
                likelihood: js(&r.likelihood),
                mitigations: r.has_literal_text().then(|| js(&r.mitigations.join(" "))),
                references: js(&r.references.join(", ")),
                severity: js(r.severity.name()),
                threat_id: js(&r.id),
            })
            .collect();
        let model = a.prepared.model();
        let names = model.elements.iter().map(|e| js(&e.name)).collect();
        let mut finding_ids = vec![Vec::new(); model.elements.len()];
        let mut severity = vec![0u8; model.elements.len()];
        for (n, f) in a.findings.iter().enumerate() {
            finding_ids[f.element as usize].push(n as u32 + 1);
            let s = &mut severity[f.element as usize];
            *s = (*s).max(a.severity(f).score());
        }
        let mut controls_sorted: Vec<_> = Controls::ATTRIBUTES.iter().collect();
        controls_sorted.sort_by_key(|d| d.name);
        PytmJson { a, rules, names, finding_ids, severity, controls_sorted }
    }

    fn write(&self, out: &mut dyn Write) -> io::Result<()> {
        let a = self.a;
        let p = &a.prepared;
        let m = p.model();
        let elements: Vec<u32> = (0..m.elements.len() as u32).filter(|i| m.elements[*i as usize].kind.is_node()).collect();
        let actors: Vec<u32> = elements.iter().copied().filter(|i| m.elements[*i as usize].kind == Kind::Actor).collect();
        let assets: Vec<u32> = elements.iter().copied().filter(|i| m.elements[*i as usize].kind != Kind::Actor).collect();
        let boundaries: Vec<u32> = (0..m.elements.len() as u32).filter(|i| m.elements[*i as usize].kind == Kind::Boundary).collect();
        out.write_all(b"{\"actors\":")?;
        self.element_list(out, &actors)?;
        out.write_all(b",\"assets\":")?;
        self.element_list(out, &assets)?;
        out.write_all(b",\"boundaries\":")?;
        self.element_list(out, &boundaries)?;
        out.write_all(b",\"data\":[")?;
        for d in 0..m.data.len() as u32 {
            if d > 0 {
                out.write_all(b",")?;
            }
            self.data_object(out, d)?;
        }
        out.write_all(b"],\"elements\":")?;
        self.element_list(out, &elements)?;
        out.write_all(b",\"flows\":")?;
        self.element_list(out, p.flow_order())?;
        write!(
            out,
            ",\"threatsExcluded\":[],\"assumptions\":{}",
            serde_json::to_string(&m.assumptions.iter().map(|x| &x.name).collect::<Vec<_>>())?
        )?;
        write!(out, ",\"colormap\":false,\"description\":{}", js(&m.description))?;
        out.write_all(b",\"excluded_findings\":[")?;
        for (n, f) in a.excluded.iter().enumerate() {
            if n > 0 {
                out.write_all(b",")?;
            }
            self.finding(out, f, n + 1)?;
        }
        out.write_all(b"],\"findings\":[")?;
        for (n, f) in a.findings.iter().enumerate() {
            if n > 0 {
                out.write_all(b",")?;
            }
            self.finding(out, f, n + 1)?;
        }
        write!(
            out,
            "],\"ignoreUnused\":{},\"isOrdered\":{},\"mergeResponses\":{},\"name\":{},\"onDuplicates\":\"Action.{}\",\"threatsFile\":\"\"}}",
            m.ignore_unused,
            m.is_ordered,
            m.merge_responses,
            js(&m.name),
            m.on_duplicates
        )?;
        Ok(())
    }

    /// One finding object, keys in pytm's (sorted) order.
    fn finding(&'b self, out: &mut dyn Write, f: &Finding, id: usize) -> io::Result<()> {
        let a = self.a;
        let rule = a.rule(f);
        let r = &self.rules[f.rule as usize];
        let o = a.prepared.override_for(f.element, &rule.id);
        let over = |field: fn(&Override) -> &Option<String>| o.and_then(|o| field(o).as_deref()).map(js);
        out.write_all(b"{\"assumption\":")?;
        match &f.excluded_by {
            None => out.write_all(b"null")?,
            Some(name) => {
                let e = a.prepared.element(f.element);
                let found = e.assumptions.iter().chain(a.prepared.model().assumptions.iter()).find(|x| &x.name == name);
                let exclude = found
                    .map(|x| format!("{{{}}}", x.exclude.iter().map(|s| format!("'{s}'")).collect::<Vec<_>>().join(", ")))
                    .unwrap_or_default();
                let description = found.map_or("", |x| x.description.as_str());
                write!(out, "{{\"name\":{},\"exclude\":{},\"description\":{}}}", js(name), js(&exclude), js(description))?;
            }
        }
        // Borrow the pre-escaped rule text unless an override or a template changes it.
        let pick = |over: Option<String>, fixed: &'b Option<String>, render: &dyn Fn() -> String| -> Cow<'b, str> {
            match (over, fixed) {
                (Some(o), _) => Cow::Owned(o),
                (None, Some(fixed)) => Cow::Borrowed(fixed.as_str()),
                (None, None) => Cow::Owned(render()),
            }
        };
        let description = pick(over(|o| &o.description), &r.description, &|| js(&rule.description_for(&a.prepared, f.element)));
        let mitigations = pick(over(|o| &o.mitigations), &r.mitigations, &|| js(&rule.mitigations_for(&a.prepared, f.element).join(" ")));
        let severity: Cow<'_, str> =
            o.and_then(|o| o.severity.as_deref()).map_or(Cow::Borrowed(r.severity.as_str()), |s| Cow::Owned(js(s)));
        let (cvss, details, example) = (over(|o| &o.cvss), over(|o| &o.details), over(|o| &o.example));
        let (likelihood, references, response) = (over(|o| &o.likelihood), over(|o| &o.references), over(|o| &o.response));
        let parts: [(&[u8], &str); 13] = [
            (b",\"condition\":", &r.condition),
            (b",\"cvss\":", cvss.as_deref().unwrap_or("\"\"")),
            (b",\"description\":", &description),
            (b",\"details\":", details.as_deref().unwrap_or(&r.details)),
            (b",\"example\":", example.as_deref().unwrap_or(&r.example)),
            (b",\"id\":\"", ""),
            (b"\",\"likelihood\":", likelihood.as_deref().unwrap_or(&r.likelihood)),
            (b",\"mitigations\":", &mitigations),
            (b",\"references\":", references.as_deref().unwrap_or(&r.references)),
            (b",\"response\":", response.as_deref().unwrap_or("\"\"")),
            (b",\"severity\":", &severity),
            (b",\"target\":", &self.names[f.element as usize]),
            (b",\"threat_id\":", &r.threat_id),
        ];
        for (key, value) in parts {
            out.write_all(key)?;
            if value.is_empty() {
                write!(out, "{id}")?;
            } else {
                out.write_all(value.as_bytes())?;
            }
        }
        out.write_all(b"}")
    }

    fn element_list(&self, out: &mut dyn Write, list: &[u32]) -> io::Result<()> {
        out.write_all(b"[")?;
        for (n, i) in list.iter().enumerate() {
            if n > 0 {
                out.write_all(b",")?;
            }
            self.element_object(out, *i)?;
        }
        out.write_all(b"]")
    }

    fn element_object(&self, out: &mut dyn Write, i: u32) -> io::Result<()> {
        let p = &self.a.prepared;
        let e = p.element(i);
        let mut fields: Vec<(&str, Out<'_>)> = Vec::with_capacity(64);
        for def in Element::ATTRIBUTES.iter().filter(|d| d.kinds.contains(e.kind)) {
            // Threatmap's own attribute: written only when set, so pytm's shape is kept.
            if def.key == crate::model::ElementAttr::stereotype && e.stereotype.is_none() {
                continue;
            }
            if let Ok(v) = p.attr(i, def.key) {
                fields.push((def.name, Out::Value(v)));
            }
        }
        let node = |n: Option<u32>| Out::Value(n.map_or(Value::None, Value::Node));
        fields.push(("name", Out::Value(Value::Str(&e.name))));
        fields.push(("assumptions", Out::Names(e.assumptions.iter().map(|a| a.name.as_str()).collect())));
        fields.push(("overrides", Out::Names(e.overrides.keys().map(|_| "").collect())));
        fields.push(("controls", Out::Controls(i)));
        fields.push(("findings", Out::Ids(&self.finding_ids[i as usize])));
        fields.push(("severity", Out::Value(Value::Int(i64::from(self.severity[i as usize])))));
        if e.kind != Kind::Boundary {
            fields.push(("data", Out::Value(Value::DataSet(p.data_of(i)))));
        }
        match e.kind {
            Kind::Dataflow => {
                let (s, t) = p.endpoints(i).unzip();
                fields.push(("source", node(s)));
                fields.push(("sink", node(t)));
                let (resp, req) = p.response_pair(i);
                fields.push(("response", node(resp)));
                fields.push(("responseTo", node(req)));
                fields.push(("inBoundary", Out::Value(Value::None)));
            }
            Kind::Boundary => fields.push(("inBoundary", node(p.boundary_of(i)))),
            _ => {
                fields.push(("inBoundary", node(p.boundary_of(i))));
                let flows = |f| p.field(&Value::Node(i), &crate::expr::Field::Fixed(f)).unwrap_or(Value::None);
                fields.push(("inputs", Out::Value(flows(crate::expr::Fixed::Inputs))));
                fields.push(("outputs", Out::Value(flows(crate::expr::Fixed::Outputs))));
            }
        }
        // The element's own attributes, as pytm writes the extra attributes it accepts (unless
        // one is named like a pytm key).
        for (name, v) in &e.properties {
            if name != "__class__" && !fields.iter().any(|(k, _)| k == name) {
                fields.push((name, Out::Value(crate::engine::prop_value(Some(v)))));
            }
        }
        // pytm writes `__class__` first, then the other keys sorted.
        fields.sort_unstable_by(|a, b| a.0.cmp(b.0));
        out.write_all(b"{")?;
        if e.kind.is_node() {
            write!(out, "\"__class__\":\"{}\",", e.kind.name())?;
        }
        for (n, (key, value)) in fields.iter().enumerate() {
            if n > 0 {
                out.write_all(b",")?;
            }
            serde_json::to_writer(&mut *out, key)?;
            out.write_all(b":")?;
            match value {
                Out::Value(v) => write_value(out, p, v)?,
                Out::Names(names) => write_strs(out, names.iter().copied())?,
                Out::Ids(ids) => write_strs(out, ids.iter().map(u32::to_string))?,
                Out::Controls(i) => {
                    // pytm's controls and the model's own, sorted by name together.
                    let mut controls: Vec<(&str, Value<'_>)> = self
                        .controls_sorted
                        .iter()
                        .filter(|def| !crate::model::THREATMAP_CONTROLS.contains(&def.name) || e.controls.is_set(def.key))
                        .map(|def| (def.name, p.control(*i, def.key)))
                        .collect();
                    for (name, v) in &e.controls.custom {
                        if Controls::attribute(name).is_none() {
                            controls.push((name, crate::engine::prop_value(Some(v))));
                        }
                    }
                    controls.sort_by(|a, b| a.0.cmp(b.0));
                    out.write_all(b"{")?;
                    for (n, (name, v)) in controls.iter().enumerate() {
                        if n > 0 {
                            out.write_all(b",")?;
                        }
                        serde_json::to_writer(&mut *out, name)?;
                        out.write_all(b":")?;
                        write_value(out, p, v)?;
                    }
                    out.write_all(b"}")?;
                }
            }
        }
        out.write_all(b"}")
    }

    fn data_object(&self, out: &mut dyn Write, d: u32) -> io::Result<()> {
        let p = &self.a.prepared;
        let item = &p.model().data[d as usize];
        let field = |f| p.field(&Value::Data(d), &crate::expr::Field::Data(f)).unwrap_or(Value::None);
        let mut fields: Vec<(&str, Value<'_>)> = DataItem::ATTRIBUTES.iter().map(|def| (def.name, p.data_attr(d, def.key))).collect();
        fields.push(("name", Value::Str(&item.name)));
        fields.push(("carriedBy", field(crate::expr::DataField::CarriedBy)));
        fields.push(("processedBy", field(crate::expr::DataField::ProcessedBy)));
        fields.sort_unstable_by(|a, b| a.0.cmp(b.0));
        out.write_all(b"{")?;
        for (n, (key, value)) in fields.iter().enumerate() {
            if n > 0 {
                out.write_all(b",")?;
            }
            write!(out, "\"{key}\":")?;
            write_value(out, p, value)?;
        }
        out.write_all(b"}")
    }
}
