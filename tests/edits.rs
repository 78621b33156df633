//! Property tests over random edit sequences of a model, through the app's document (the same
//! undo stack and geometry edits the canvas uses):
//! - undo of every edit restores the exact previous model, redo the exact next one, and undoing
//!   everything gives back the model the sequence started from;
//! - save then load gives back the same model;
//! - triage decisions survive any sequence of renames and moves: none is lost or changed, and a
//!   finding that still exists keeps its decision;
//! - the drawing and the model agree after every edit and every undo: each node belongs to the
//!   smallest boundary around its centre, each boundary to the smallest larger one around it
//!   (on the diagram edited, for the elements whose boundary it draws);
//! - with several diagrams (added, switched between, elements shown on several, diagrams
//!   deleted) every element stays drawn on some diagram.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use egui::{Rect, pos2, vec2};
use proptest::prelude::*;
use std::collections::BTreeSet;
use threatmap_app::document::{self, Document};
use threatmap_core::attr::Kind;
use threatmap_core::engine::{Incremental, Options, analyze};
use threatmap_core::file;
use threatmap_core::lifecycle::Status;
use threatmap_core::model::{Controls, Element, Model};
use threatmap_core::rules::{DEFAULT_PACKS, RuleSet};

/// One edit a user can make. Indices pick among the elements present (modulo their count).
#[derive(Debug, Clone)]
enum Edit {
    Add {
        kind: usize,
        x: i16,
        y: i16,
    },
    Flow {
        from: usize,
        to: usize,
    },
    Move {
        which: usize,
        dx: i16,
        dy: i16,
    },
    Resize {
        which: usize,
        w: u16,
        h: u16,
    },
    Rename {
        which: usize,
        name: String,
    },
    Describe {
        which: usize,
        text: String,
    },
    Control {
        which: usize,
        control: usize,
        on: bool,
    },
    Scope {
        which: usize,
    },
    Delete {
        which: usize,
    },
    Triage {
        which: usize,
        status: usize,
        note: String,
    },
    /// Sets an attribute of an element to a yes/no or one of a few texts (whichever it takes).
    Attr {
        which: usize,
        attr: usize,
        value: usize,
    },
    /// Gives an element a data item, or takes it away.
    Carry {
        which: usize,
        item: usize,
    },
    /// Sets a yes/no attribute of a data item.
    DataAttr {
        item: usize,
        attr: usize,
        on: bool,
    },
    AutoLayout,
    NewDiagram,
    Switch {
        which: usize,
    },
    ShowHere {
        which: usize,
    },
    RemoveHere {
        which: usize,
    },
    DeleteDiagram,
}

const KINDS: &[Kind] = &[Kind::Actor, Kind::Process, Kind::Server, Kind::Datastore, Kind::Lambda, Kind::Boundary];

/// Names with what users type: spaces, quotes, markup, accents, emoji, right-to-left text.
fn name() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select(vec!["Web", " ", "DB", "\"", "<b>", "&", "é", "日本", "🚀", "שלום", "'", "{x}", "\\", "\n", "api-1"]),
        0..6,
    )
    .prop_map(|parts| parts.concat())
}

fn edit() -> impl Strategy<Value = Edit> {
    let i = 0usize..64;
    prop_oneof![
        (0..KINDS.len(), -400i16..1200, -400i16..900).prop_map(|(kind, x, y)| Edit::Add { kind, x, y }),
        (i.clone(), i.clone()).prop_map(|(from, to)| Edit::Flow { from, to }),
        (i.clone(), -300i16..300, -300i16..300).prop_map(|(which, dx, dy)| Edit::Move { which, dx, dy }),
        (i.clone(), 20u16..900, 20u16..700).prop_map(|(which, w, h)| Edit::Resize { which, w, h }),
        (i.clone(), name()).prop_map(|(which, name)| Edit::Rename { which, name }),
        (i.clone(), name()).prop_map(|(which, text)| Edit::Describe { which, text }),
        (i.clone(), 0usize..64, any::<bool>()).prop_map(|(which, control, on)| Edit::Control { which, control, on }),
        i.clone().prop_map(|which| Edit::Scope { which }),
        i.clone().prop_map(|which| Edit::Delete { which }),
        (i.clone(), 0usize..7, name()).prop_map(|(which, status, note)| Edit::Triage { which, status, note }),
        (i.clone(), 0usize..96, 0usize..16).prop_map(|(which, attr, value)| Edit::Attr { which, attr, value }),
        (i, 0usize..8).prop_map(|(which, item)| Edit::Carry { which, item }),
        (0usize..8, 0usize..32, any::<bool>()).prop_map(|(item, attr, on)| Edit::DataAttr { item, attr, on }),
        Just(Edit::AutoLayout),
        Just(Edit::NewDiagram),
        (0usize..4).prop_map(|which| Edit::Switch { which }),
        (0usize..64).prop_map(|which| Edit::ShowHere { which }),
        (0usize..64).prop_map(|which| Edit::RemoveHere { which }),
        Just(Edit::DeleteDiagram),
    ]
}

fn rules() -> RuleSet {
    let mut r = RuleSet::new();
    for p in DEFAULT_PACKS {
        r.add_builtin(p);
    }
    r
}

fn pick(m: &Model, which: usize, filter: impl Fn(&Element) -> bool) -> Option<String> {
    let ids: Vec<&Element> = m.elements.iter().filter(|e| filter(e)).collect();
    (!ids.is_empty()).then(|| ids[which % ids.len()].id.clone())
}

/// Applies one edit the way the app does on diagram `d` (moving a boundary moves its members;
/// membership follows geometry); diagram edits change `d` as the tabs do.
fn apply(m: &mut Model, d: &mut usize, e: &Edit, rules: &RuleSet) {
    *d = (*d).min(m.diagram_count() - 1);
    let dg = *d;
    let placed = |e: &Element| e.kind.is_node() || e.kind == Kind::Boundary;
    match e {
        Edit::Add { kind, x, y } => {
            document::add_element(m, dg, KINDS[*kind], pos2(f32::from(*x), f32::from(*y)));
        }
        Edit::Flow { from, to } => {
            if let (Some(a), Some(b)) = (pick(m, *from, |e| e.kind.is_node()), pick(m, *to, |e| e.kind.is_node())) {
                // Any two nodes, as the inspector's From/To lets one pick: ends that share no
                // diagram are then drawn together on the first, as the inspector does.
                document::add_flow(m, &a, &b);
                document::place_unplaced(m);
            }
        }
        Edit::Move { which, dx, dy } => {
            let Some(id) = pick(m, *which, placed) else { return };
            document::move_by(m, dg, &BTreeSet::from([id]), vec2(f32::from(*dx), f32::from(*dy)));
        }
        Edit::Resize { which, w, h } => {
            let Some(id) = pick(m, *which, |e| e.kind == Kind::Boundary) else { return };
            let Some(r) = document::rect_of(m, dg, &id, Kind::Boundary) else { return };
            document::resize(m, dg, &id, Rect::from_min_size(r.min, vec2(f32::from(*w), f32::from(*h))));
        }
        Edit::Rename { which, name } => {
            if let Some(id) = pick(m, *which, |_| true) {
                m.elements.iter_mut().find(|e| e.id == id).unwrap().name = name.clone();
            }
        }
        Edit::Describe { which, text } => {
            if let Some(id) = pick(m, *which, |_| true) {
                let e = m.elements.iter_mut().find(|e| e.id == id).unwrap();
                let def = Element::attribute("description").unwrap();
                e.set_json(def.key, &serde_json::Value::String(text.clone())).unwrap();
            }
        }
        Edit::Control { which, control, on } => {
            if let Some(id) = pick(m, *which, |_| true) {
                let def = &Controls::ATTRIBUTES[control % Controls::ATTRIBUTES.len()];
                let e = m.elements.iter_mut().find(|e| e.id == id).unwrap();
                // Yes/no controls only (the few text controls refuse a boolean and stay as they are).
                if !*on || e.controls.set_json(def.key, &serde_json::Value::Bool(true)).is_err() {
                    e.controls.clear(def.key);
                }
            }
        }
        Edit::Scope { which } => {
            if let Some(id) = pick(m, *which, |_| true) {
                let e = m.elements.iter_mut().find(|e| e.id == id).unwrap();
                let def = Element::attribute("inScope").unwrap();
                let now = matches!(e.get(def.key, e.kind), threatmap_core::attr::Value::Bool(true));
                e.set_json(def.key, &serde_json::Value::Bool(!now)).unwrap();
            }
        }
        Edit::Delete { which } => {
            if let Some(id) = pick(m, *which, |_| true) {
                document::delete(m, dg, &BTreeSet::from([id]));
            }
        }
        Edit::Triage { which, status, note } => {
            let key = {
                let a = analyze(m, rules, &Options::default());
                if a.findings.is_empty() {
                    return;
                }
                a.key(&a.findings[which % a.findings.len()])
            };
            let to = Status::ALL[status % Status::ALL.len()];
            let d = m.decisions.entry(key).or_default();
            d.justification = note.clone();
            d.set_status(to, "proptest", note);
        }
        Edit::Attr { which, attr, value } => {
            let Some(id) = pick(m, *which, |_| true) else { return };
            let e = m.elements.iter_mut().find(|e| e.id == id).unwrap();
            let defs: Vec<_> = Element::ATTRIBUTES.iter().filter(|d| d.kinds.contains(e.kind) && d.name != "inScope").collect();
            let def = defs[attr % defs.len()];
            const TEXTS: &[&str] = &["HTTPS", "HTTP", "SQL", "TLSv12", "TLSv10", "SECRET", "PUBLIC", "RESTRICTED", "AWS", "Linux"];
            let tried = [serde_json::Value::Bool(value % 2 == 0), serde_json::Value::String(TEXTS[value % TEXTS.len()].to_owned())];
            if *value == 15 || !tried.iter().any(|v| e.set_json(def.key, v).is_ok()) {
                e.clear(def.key);
            }
        }
        Edit::Carry { which, item } => {
            if m.data.is_empty() {
                return;
            }
            let data = m.data[item % m.data.len()].id.clone();
            let Some(id) = pick(m, *which, |e| e.kind != Kind::Boundary) else { return };
            let e = m.elements.iter_mut().find(|e| e.id == id).unwrap();
            match e.data.iter().position(|d| *d == data) {
                Some(k) => {
                    e.data.remove(k);
                }
                None => e.data.push(data),
            }
        }
        Edit::DataAttr { item, attr, on } => {
            if m.data.is_empty() {
                return;
            }
            let k = item % m.data.len();
            let defs = threatmap_core::model::DataItem::ATTRIBUTES;
            let def = &defs[attr % defs.len()];
            if !*on || m.data[k].set_json(def.key, &serde_json::Value::Bool(true)).is_err() {
                m.data[k].clear(def.key);
            }
        }
        Edit::AutoLayout => {
            document::auto_layout(m, dg, true);
        }
        Edit::NewDiagram => {
            let n = m.diagram_count() + 1;
            *d = m.add_diagram("Diagram 1", &format!("Diagram {n}"));
        }
        Edit::Switch { which } => *d = which % m.diagram_count(),
        Edit::ShowHere { which } => {
            // As the inspector offers it: elements not drawn here yet that can be.
            let here = m.layout_of(dg).clone();
            let snapshot = m.clone();
            if let Some(id) = pick(m, *which, |e| placed(e) && !here.contains_key(&e.id) && document::can_show_on(&snapshot, dg, &e.id)) {
                document::show_on_diagram(m, dg, &id);
            }
        }
        Edit::RemoveHere { which } => {
            let membership = m.diagram_membership();
            let shared = |e: &Element| {
                let k = m.elements.iter().position(|x| x.id == e.id).unwrap();
                placed(e) && membership[k].contains(&dg) && membership[k].len() > 1
            };
            if let Some(id) = pick(m, *which, shared) {
                // What would hide the element or a flow of it is refused (and stays).
                let removable = document::removable_from(m, dg, &id);
                let kept = document::remove_from_diagram(m, dg, &BTreeSet::from([id]));
                assert_eq!(kept.is_empty(), removable);
            }
        }
        Edit::DeleteDiagram => {
            if m.diagram_count() > 1 {
                document::remove_diagram_keeping(m, dg);
                *d = 0;
            }
        }
    }
}

/// Every node and boundary is drawn (placed) on some diagram that shows it, and every flow on
/// some diagram that places both its ends.
fn nothing_hidden(m: &Model) -> Result<(), String> {
    let membership = m.diagram_membership();
    for (e, on) in m.elements.iter().zip(&membership) {
        if e.kind != Kind::Dataflow && !on.iter().any(|&d| m.layout_of(d).contains_key(&e.id)) {
            return Err(format!("{} is shown on {on:?} but placed on none of them", e.id));
        }
        if let (Kind::Dataflow, Some(s), Some(t)) = (e.kind, &e.source, &e.sink)
            && !(0..m.diagram_count()).any(|d| m.layout_of(d).contains_key(s) && m.layout_of(d).contains_key(t))
        {
            return Err(format!("flow {} ({s} → {t}) has no diagram placing both its ends", e.id));
        }
    }
    Ok(())
}

/// Checks that membership is what diagram `d` shows, computed here independently of the app:
/// a node is in the smallest box containing its centre; a boundary in the smallest box that
/// contains all of it and is larger (equal areas: the larger id). Elements in a boundary that
/// `d` does not draw are drawn by another diagram, and not checked here; nor are elements
/// drawn on several diagrams, whose boundary the diagram they were last moved on decides.
fn drawing_agrees(m: &Model, d: usize) -> Result<(), String> {
    let layout = m.layout_of(d);
    let membership = m.diagram_membership();
    let shared: BTreeSet<&str> = m.elements.iter().zip(&membership).filter(|(_, on)| on.len() > 1).map(|(e, _)| e.id.as_str()).collect();
    let boxes: Vec<(&str, Rect)> = m
        .elements
        .iter()
        .filter(|e| e.kind == Kind::Boundary && layout.get(&e.id).is_some_and(|p| p.line.is_empty()))
        .filter_map(|e| Some((e.id.as_str(), document::rect_of(m, d, &e.id, e.kind)?)))
        .collect();
    for e in m.elements.iter().filter(|e| e.kind.is_node() || e.kind == Kind::Boundary) {
        let Some(r) = document::rect_of(m, d, &e.id, e.kind) else { continue };
        if layout.get(&e.id).is_some_and(|p| !p.line.is_empty()) {
            continue;
        }
        if e.in_boundary.as_deref().is_some_and(|b| !boxes.iter().any(|(x, _)| *x == b)) || shared.contains(e.id.as_str()) {
            continue;
        }
        let mut best: Option<(&str, Rect)> = None;
        for &(b, br) in &boxes {
            let fits = if e.kind == Kind::Boundary {
                b != e.id && br.contains_rect(r) && (br.area() > r.area() || (br.area() == r.area() && b > e.id.as_str()))
            } else {
                br.contains(r.center())
            };
            if fits && best.is_none_or(|(x, xr)| br.area() < xr.area() || (br.area() == xr.area() && b < x)) {
                best = Some((b, br));
            }
        }
        let want = best.map(|(b, _)| b);
        if e.in_boundary.as_deref() != want {
            return Err(format!("{} ({:?}) is drawn in {want:?} but belongs to {:?}", e.id, e.kind, e.in_boundary));
        }
    }
    Ok(())
}

/// The example as the app opens it (placed by the automatic layout).
fn start() -> Model {
    let mut m = file::load(&common::root().join("assets/examples/web-app.threatmap.json")).unwrap();
    document::place_for_opening(&mut m);
    m
}

/// Every built-in pack, and pytm's own threat library where the shared data has it.
fn library_rules() -> RuleSet {
    let mut r = RuleSet::new();
    for p in threatmap_core::rules::BUILTIN_PACKS {
        r.add_builtin(p.name);
    }
    if let Some(shared) = common::shared("compat/pytm/threats.json") {
        r.add_file(&shared.join("compat/pytm/threats.json")).unwrap();
    }
    r
}

/// A rule that reads what data items derive from the flows carrying them.
const AT_REST: &str = r#"
[[rule]]
id = "T-REST"
title = "stored where encrypted"
targets = ["Dataflow"]
condition = "any(d.isStored and d.isDestEncryptedAtRest for d in target.data)"
severity = "High"
description = "Reads what a data item derives from the ends of the flows carrying it."
mitigations = ["None."]
references = ["CWE-1"]
"#;

/// [`library_rules`] and rules that reach further than any of them.
fn all_rules() -> RuleSet {
    let mut r = library_rules();
    // Rules that read what the packs above read little or not at all: drawings, data items
    // through flows, two steps away, and custom properties.
    let far = r#"
[[rule]]
id = "T-DRAWN"
title = "crosses a drawn boundary"
targets = ["Dataflow"]
condition = "target.crossesDrawn('vpc') or target.crossesDrawn('internet')"
severity = "High"
description = "Reads the drawing."
mitigations = ["None."]
references = ["CWE-1"]

[[rule]]
id = "T-FAR"
title = "two steps away"
targets = ["Dataflow"]
condition = "any(d.isPII for d in target.sink.data) or any(f.sink.controls.isHardened for f in target.sink.outputs)"
severity = "High"
description = "Reads the sink's data and the flows leaving it."
mitigations = ["None."]
references = ["CWE-1"]

[[rule]]
id = "T-DATA"
title = "through data"
targets = ["Server", "Process"]
condition = "any(any(n.controls.isHardened for n in d.processedBy) for d in target.data)"
severity = "High"
description = "Reads every node the data passes through."
mitigations = ["None."]
references = ["CWE-1"]
"#;
    r.add_text(far, "far.toml", "far").unwrap();
    r.add_text(AT_REST, "rest.toml", "rest").unwrap();
    assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
    r
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, max_shrink_iters: 2000, ..ProptestConfig::default() })]

    /// The app's incremental analysis (only what an edit can affect is evaluated again) gives
    /// exactly the findings of a full run after every edit, undo and redo, with every rule pack.
    #[test]
    fn incremental_rules_give_the_findings_of_a_full_run(edits in prop::collection::vec(edit(), 1..24)) {
        let rules = all_rules();
        let mut doc = Document::new(start(), None);
        let mut inc = Incremental::new();
        // As the app runs it: told by the document which elements its edits changed.
        let mut told = Incremental::new();
        let mut d = 0;
        let same = |inc: &mut Incremental, m: &Model, what: &str| -> Result<(), TestCaseError> {
            let (a, b) = (inc.analyze(m, &rules, &Options::default()), analyze(m, &rules, &Options::default()));
            prop_assert_eq!(&a.findings, &b.findings, "findings after {}", what);
            prop_assert_eq!(&a.excluded, &b.excluded, "excluded findings after {}", what);
            Ok(())
        };
        let same_told = |inc: &mut Incremental, doc: &mut Document, what: &str| -> Result<(), TestCaseError> {
            let edited = doc.take_edited();
            let m = &doc.model;
            let (a, b) = (inc.analyze_edited(m, &rules, &Options::default(), edited.as_deref()), analyze(m, &rules, &Options::default()));
            prop_assert_eq!(&a.findings, &b.findings, "findings after {} (told {:?})", what, edited);
            prop_assert_eq!(&a.excluded, &b.excluded, "excluded findings after {}", what);
            Ok(())
        };
        same(&mut inc, &doc.model, "opening")?;
        same_told(&mut told, &mut doc, "opening")?;
        let fired = |m: &Model| {
            let a = analyze(m, &rules, &Options::default());
            a.findings.iter().map(|f| a.rule(f).id.clone()).filter(|id| id.starts_with("T-")).collect::<BTreeSet<String>>()
        };
        prop_assert!(fired(&doc.model).contains("T-DRAWN"), "T-DRAWN fires on the example: {:?}", fired(&doc.model));
        for (n, e) in edits.iter().enumerate() {
            doc.edit(|m| apply(m, &mut d, e, &rules));
            same(&mut inc, &doc.model, &format!("{e:?}"))?;
            // Some edits are analysed together (the app skips frames), some one by one.
            if n % 2 == 0 {
                same_told(&mut told, &mut doc, &format!("{e:?}"))?;
            }
            if n % 3 == 2 && doc.undo() {
                same(&mut inc, &doc.model, &format!("undo of {e:?}"))?;
                same_told(&mut told, &mut doc, &format!("undo of {e:?}"))?;
                doc.redo();
                same(&mut inc, &doc.model, &format!("redo of {e:?}"))?;
            }
        }
        same_told(&mut told, &mut doc, "the last edit")?;
    }

    #[test]
    fn undo_restores_every_previous_model_and_save_load_is_the_identity(edits in prop::collection::vec(edit(), 1..24)) {
        let rules = rules();
        let initial = start();
        let mut doc = Document::new(initial.clone(), None);
        let mut history = vec![initial.clone()];
        let mut d = 0;
        prop_assert_eq!(drawing_agrees(&doc.model, 0), Ok(()), "the example");
        for e in &edits {
            let before = doc.model.clone();
            doc.edit(|m| apply(m, &mut d, e, &rules));
            let after = doc.model.clone();
            prop_assert_eq!(drawing_agrees(&after, d), Ok(()), "after {:?}", e);
            prop_assert_eq!(nothing_hidden(&after), Ok(()), "after {:?}", e);
            prop_assert_eq!(file::check(&after).into_iter().filter(|p| p.level == file::Level::Error).count(), 0, "after {:?}", e);
            if after != before {
                prop_assert!(doc.undo(), "{e:?}: nothing to undo");
                prop_assert_eq!(&doc.model, &before, "undo of {:?}", e);
                prop_assert!(doc.redo());
                prop_assert_eq!(&doc.model, &after, "redo of {:?}", e);
                history.push(after);
            }
        }
        // Save, load: the same model; save again: the same bytes.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.threatmap.json");
        doc.save_to(path.clone()).unwrap();
        let loaded = file::load(&path).unwrap();
        prop_assert_eq!(&loaded, &doc.model);
        let bytes = std::fs::read(&path).unwrap();
        file::save(&loaded, &path).unwrap();
        prop_assert_eq!(bytes, std::fs::read(&path).unwrap());
        // Undo everything, one step at a time, through every model of the history.
        while let Some(expected) = history.pop() {
            prop_assert_eq!(&doc.model, &expected);
            if history.is_empty() {
                prop_assert!(!doc.undo());
            } else {
                prop_assert!(doc.undo());
            }
        }
        prop_assert_eq!(&doc.model, &initial);
    }

    #[test]
    fn decisions_survive_renames_and_moves(
        edits in prop::collection::vec(prop_oneof![
            (0usize..64, name()).prop_map(|(which, name)| Edit::Rename { which, name }),
            (0usize..64, -300i16..300, -300i16..300).prop_map(|(which, dx, dy)| Edit::Move { which, dx, dy }),
            (0usize..64, 20u16..900, 20u16..700).prop_map(|(which, w, h)| Edit::Resize { which, w, h }),
            Just(Edit::AutoLayout),
        ], 1..24),
        triaged in prop::collection::btree_set(0usize..200, 1..12),
    ) {
        let rules = rules();
        let mut m = start();
        let mut d = 0;
        for (n, which) in triaged.iter().enumerate() {
            apply(&mut m, &mut d, &Edit::Triage { which: *which, status: n, note: format!("decided {n}") }, &rules);
        }
        let decisions = m.decisions.clone();
        let mut doc = Document::new(m, None);
        for e in &edits {
            doc.edit(|m| apply(m, &mut d, e, &rules));
        }
        prop_assert_eq!(&doc.model.decisions, &decisions, "decisions changed");
        let a = analyze(&doc.model, &rules, &Options::default());
        for f in &a.findings {
            if let Some(d) = decisions.get(&a.key(f)) {
                prop_assert_eq!(a.status(f), d.status);
            }
        }
        // Renames alone never orphan a decision: keys use ids, which a rename keeps.
        if edits.iter().all(|e| matches!(e, Edit::Rename { .. })) {
            prop_assert!(a.orphaned_decisions().is_empty(), "{:?}", a.orphaned_decisions());
        }
    }
}

/// An edit re-evaluates only the elements it can affect: one control of one node, the node and
/// its flows (and what reads them); moving it on the canvas, nothing, as no rule reads drawings.
/// An edit of what the model's derived facts come from (here: a flow's end encrypted at rest,
/// which a stored data item's flows derive from it) is not mistaken for one that leaves them.
#[test]
fn an_edit_of_what_facts_derive_from_is_seen() {
    let mut rules = RuleSet::new();
    rules.add_builtin("general");
    rules.add_text(AT_REST, "rest.toml", "rest").unwrap();
    let mut m = threatmap_core::synth::synthetic(150, 7);
    let mut inc = Incremental::new();
    inc.analyze(&m, &rules, &Options::default());
    let def = Controls::attribute("isEncryptedAtRest").unwrap();
    let stored: Vec<String> = m.data.iter().filter(|d| d.is_stored == Some(true)).map(|d| d.id.clone()).collect();
    let mut sinks: Vec<String> = m
        .elements
        .iter()
        .filter(|e| e.kind == Kind::Dataflow && e.is_response != Some(true) && e.data.iter().any(|d| stored.contains(d)))
        .filter_map(|e| e.sink.clone())
        .collect();
    sinks.sort();
    sinks.dedup();
    assert!(!sinks.is_empty(), "the model has flows carrying stored data");
    let at_rest = |a: &threatmap_core::engine::Analysis| a.findings.iter().filter(|f| a.rule(f).id == "T-REST").count();
    let before = at_rest(&inc.analyze(&m, &rules, &Options::default()));
    for on in [true, false] {
        for id in &sinks {
            let k = m.elements.iter().position(|e| e.id == *id).unwrap();
            m.elements[k].controls.set_json(def.key, &serde_json::Value::Bool(on)).unwrap();
            let (a, b) = (inc.analyze(&m, &rules, &Options::default()), analyze(&m, &rules, &Options::default()));
            assert_eq!(a.findings, b.findings, "after setting {id} encrypted at rest to {on}");
        }
        let now = at_rest(&inc.analyze(&m, &rules, &Options::default()));
        assert_ne!(now, before, "encrypted at rest {on}: the edits changed what the rule finds");
    }
}

#[test]
fn an_edit_evaluates_only_what_it_can_affect() {
    // The libraries' rules read an element, its flows and their ends (not `T-DATA` above,
    // which reads every node a data item passes through).
    let rules = library_rules();
    let mut m = threatmap_core::synth::synthetic(1000, 7);
    let mut inc = Incremental::new();
    inc.analyze(&m, &rules, &Options::default());
    assert_eq!(inc.evaluated, m.elements.len());
    let k = m.elements.iter().position(|e| e.kind == Kind::Server).unwrap();
    let def = Controls::attribute("isHardened").unwrap();
    let now = matches!(m.elements[k].controls.get(def.key, Kind::Server), threatmap_core::attr::Value::Bool(true));
    m.elements[k].controls.set_json(def.key, &serde_json::Value::Bool(!now)).unwrap();
    let a = inc.analyze(&m, &rules, &Options::default());
    assert_eq!(a.findings, analyze(&m, &rules, &Options::default()).findings);
    let flows = m.elements.iter().filter(|e| [&e.source, &e.sink].contains(&&Some(m.elements[k].id.clone()))).count();
    assert!(inc.evaluated >= 1 && inc.evaluated <= 1 + 4 * flows.max(1), "{} of {} evaluated again", inc.evaluated, m.elements.len());
    let id = m.elements[k].id.clone();
    m.layout.insert(id, threatmap_core::model::Placement { x: 10.0, y: 20.0, ..Default::default() });
    inc.analyze(&m, &rules, &Options::default());
    assert_eq!(inc.evaluated, 0, "a move evaluates nothing");
}
