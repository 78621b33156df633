//! The open model: its file, unlimited undo/redo ([`History`]: what each edit changed), dirty
//! tracking, and the geometry edits the canvas makes (positions, sizes, boundary membership by
//! containment).

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use egui::{Pos2, Rect, Vec2, pos2, vec2};
use threatmap_core::artefacts::Artefact;
use threatmap_core::attr::Kind;
use threatmap_core::engine::{Options, analyze};
use threatmap_core::model::{Element, Model, Placement};
use threatmap_core::rules::RuleSet;
use threatmap_render::dfd::{DfdOptions, Diagram};

use crate::history::History;

/// The model being edited.
#[derive(Debug)]
pub struct Document {
    /// The model.
    pub model: Model,
    /// Where it is saved; `None` for a new or imported model.
    pub path: Option<PathBuf>,
    history: History,
    /// The history's depth when the model was saved (or opened); `None` once that state can no
    /// longer be reached by undo or redo.
    saved_at: Option<usize>,
    /// The attachments as saved (the folder beside the file holds these).
    saved_artefacts: Vec<Artefact>,
    revision: u64,
    /// The revision the last step was recorded at: the model has not changed since while the
    /// revision is still this one (every change bumps it), so nothing needs comparing.
    committed: u64,
    /// The revision when the open step began ([`Document::checkpoint`]), while a drag is making one.
    step_open: Option<u64>,
    /// The field the last edit typed into: further edits of it join the same undo step.
    coalescing: Option<String>,
    /// An untitled copy of something the app keeps (the bundled example, a template): not work
    /// of the user's until it is changed.
    pristine: bool,
}

/// Revisions are unique across every document of the process, so a cache keyed by a revision
/// can never serve one document's state for another (after Open, New, Import or Restore).
static NEXT_REVISION: AtomicU64 = AtomicU64::new(1);

fn next_revision() -> u64 {
    NEXT_REVISION.fetch_add(1, Ordering::Relaxed)
}

impl Document {
    /// A document for a model loaded from `path` (or new, with `None`).
    pub fn new(model: Model, path: Option<PathBuf>) -> Document {
        let revision = next_revision();
        Document {
            history: History::new(&model),
            saved_at: Some(0),
            saved_artefacts: model.artefacts.clone(),
            model,
            path,
            revision,
            committed: revision,
            step_open: None,
            coalescing: None,
            pristine: false,
        }
    }

    /// Marks an untitled document as a copy of the bundled example or a template: as long as
    /// it is not changed, closing or replacing it loses nothing (no prompt, no recovery file).
    pub fn mark_pristine(&mut self) {
        self.pristine = self.path.is_none();
    }

    /// Changes whenever the model does (edits, undo, redo), and differs between documents.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// The attachments as last saved (or opened).
    pub fn saved_artefacts(&self) -> &[Artefact] {
        &self.saved_artefacts
    }

    /// True if the model differs from the saved file (or, untitled, holds work of the user's).
    pub fn is_dirty(&self) -> bool {
        let unsaved = self.step_open.is_some_and(|r| r != self.revision) || self.saved_at != Some(self.history.depth());
        unsaved || self.path.is_none() && !self.pristine && !self.model.elements.is_empty()
    }

    /// The elements (by index) changed since the last call (`None` if that is not known), for
    /// the incremental analysis to compare only those.
    pub fn take_edited(&mut self) -> Option<Vec<u32>> {
        let touched = self.history.take_touched();
        // Changes not yet recorded as a step (a drag under way) are not in the history.
        touched.filter(|_| self.committed == self.revision)
    }

    /// Records what changed since the last step as an undo step (a no-op if nothing did).
    fn commit(&mut self) {
        self.step_open = None;
        if self.committed == self.revision {
            return;
        }
        self.committed = self.revision;
        let depth = self.history.depth();
        if self.history.commit(&mut self.model) {
            // A new step: typing on in a field starts another.
            self.coalescing = None;
            // What could be redone is gone, and with it the saved state if it lay there.
            if self.saved_at.is_some_and(|s| s > depth) {
                self.saved_at = None;
            }
        }
    }

    /// Begins an undo step that lasts until [`Document::end_step`] (a drag on the canvas: each
    /// frame changes the model, the whole drag is one step).
    pub fn checkpoint(&mut self) {
        self.commit();
        self.coalescing = None;
        self.step_open = Some(self.revision);
    }

    /// Ends the step [`Document::checkpoint`] began; it is dropped if the model did not change
    /// (a click that moved nothing).
    pub fn end_step(&mut self) {
        self.revision = next_revision();
        self.commit();
    }

    /// Marks the model as changed (re-runs the rules); outside a step, the change is one.
    pub fn changed(&mut self) {
        self.revision = next_revision();
        if self.step_open.is_none() {
            self.commit();
        }
    }

    /// One undoable edit.
    pub fn edit(&mut self, f: impl FnOnce(&mut Model)) {
        self.checkpoint();
        f(&mut self.model);
        self.end_step();
    }

    /// An edit of one field (`field` names it, e.g. `name@web`): while the user keeps typing
    /// into the same field, the edits are one undo step, so one Ctrl+Z undoes a whole rename.
    /// Any other edit, an undo or [`Document::end_field_edit`] starts a new step.
    pub fn edit_field(&mut self, field: &str, f: impl FnOnce(&mut Model)) {
        if self.step_open.is_none() && self.coalescing.as_deref() == Some(field) && self.history.depth() > 0 {
            let depth = self.history.depth();
            f(&mut self.model);
            let after = self.history.amend(&mut self.model);
            // The amended step's state is new: if it was the saved one, that is gone.
            if self.saved_at == Some(depth) {
                self.saved_at = None;
            }
            if after < depth {
                self.coalescing = None;
            }
            self.revision = next_revision();
            self.committed = self.revision;
            return;
        }
        let depth = self.history.depth();
        self.edit(f);
        if self.history.depth() > depth {
            self.coalescing = Some(field.to_owned());
        }
    }

    /// Ends the typing in a field (it lost focus): its next edit is a new undo step.
    pub fn end_field_edit(&mut self) {
        self.coalescing = None;
    }

    /// Undoes the last edit.
    pub fn undo(&mut self) -> bool {
        self.commit();
        self.coalescing = None;
        if !self.history.undo(&mut self.model) {
            return false;
        }
        self.revision = next_revision();
        self.committed = self.revision;
        true
    }

    /// Redoes the last undone edit.
    pub fn redo(&mut self) -> bool {
        self.commit();
        self.coalescing = None;
        if !self.history.redo(&mut self.model) {
            return false;
        }
        self.revision = next_revision();
        self.committed = self.revision;
        true
    }

    /// True if there is something to undo.
    pub fn can_undo(&self) -> bool {
        self.history.depth() > 0 || self.step_open.is_some_and(|r| r != self.revision)
    }

    /// True if there is something to redo.
    pub fn can_redo(&self) -> bool {
        self.history.redo_len() > 0
    }

    /// Saves atomically to `path` and remembers it.
    pub fn save_to(&mut self, path: PathBuf) -> std::io::Result<()> {
        threatmap_core::file::save(&self.model, &path)?;
        self.commit();
        // Typing on after a save is a new step, so undo can go back to what was saved.
        self.coalescing = None;
        // Attachments removed since the last save leave the folder with this save.
        if self.path.as_deref() == Some(path.as_path()) {
            threatmap_core::artefacts::prune(&path, &self.saved_artefacts, &self.model.artefacts);
        }
        self.saved_artefacts = self.model.artefacts.clone();
        self.saved_at = Some(self.history.depth());
        self.path = Some(path);
        Ok(())
    }

    /// The title for the window: file name and a dirty marker.
    pub fn title(&self) -> String {
        let name =
            self.path.as_ref().and_then(|p| p.file_name()).map_or_else(|| "Untitled".to_owned(), |n| n.to_string_lossy().into_owned());
        format!("{}{} — Threatmap", if self.is_dirty() { "• " } else { "" }, name)
    }
}

/// Default size of a new node or boundary, in canvas units.
pub fn default_size(kind: Kind) -> Vec2 {
    match kind {
        Kind::Boundary => vec2(320.0, 220.0),
        Kind::Process | Kind::Server | Kind::SetOfProcesses => vec2(140.0, 72.0),
        Kind::Llm | Kind::Agent => vec2(150.0, 64.0),
        _ => vec2(130.0, 60.0),
    }
}

/// An element's rectangle on diagram `d`.
pub fn rect_of(model: &Model, d: usize, id: &str, kind: Kind) -> Option<Rect> {
    let p = model.layout_of(d).get(id).filter(|p| p.line.is_empty())?;
    let d = default_size(kind);
    Some(Rect::from_min_size(
        pos2(p.x as f32, p.y as f32),
        vec2(p.width.unwrap_or(d.x as f64) as f32, p.height.unwrap_or(d.y as f64) as f32),
    ))
}

/// Stores an element's rectangle on diagram `d` (rounded to whole units, so files diff well).
pub fn set_rect(model: &mut Model, d: usize, id: &str, r: Rect) {
    let round = |v: f32| f64::from(v.round());
    model.layout_of_mut(d).insert(
        id.to_owned(),
        Placement {
            x: round(r.min.x),
            y: round(r.min.y),
            width: Some(round(r.width())),
            height: Some(round(r.height())),
            line: Vec::new(),
        },
    );
}

/// The points of a line boundary (a boundary drawn as a line, as Microsoft TMT's trust lines),
/// if `id` is one.
pub fn line_of(model: &Model, d: usize, id: &str) -> Option<Vec<Pos2>> {
    let points = model.layout_of(d).get(id)?.line_points()?;
    Some(points.into_iter().map(|(x, y)| pos2(x as f32, y as f32)).collect())
}

/// Stores the points of a line boundary (rounded to whole units).
pub fn set_line(model: &mut Model, d: usize, id: &str, points: &[Pos2]) {
    let round = |v: f32| f64::from(v.round());
    let Some((first, rest)) = points.split_first() else { return };
    let line = rest.iter().map(|p| [round(p.x), round(p.y)]).collect();
    model.layout_of_mut(d).insert(id.to_owned(), Placement { x: round(first.x), y: round(first.y), width: None, height: None, line });
}

/// A flow's waypoint (where its midpoint was dragged), if any.
pub fn waypoint(model: &Model, d: usize, id: &str) -> Option<Pos2> {
    model.layout_of(d).get(id).map(|p| pos2(p.x as f32, p.y as f32))
}

/// Lays out every node and boundary diagram `d` shows that has no position there, using the
/// render crate's layered layout (boundaries as clusters). With `all`, lays out the whole
/// diagram again. Returns true if anything moved.
pub fn auto_layout(model: &mut Model, dg: usize, all: bool) -> bool {
    let shown = model.shown_on(dg);
    let missing = model
        .elements
        .iter()
        .zip(&shown)
        .any(|(e, on)| *on && (e.kind.is_node() || e.kind == Kind::Boundary) && !model.layout_of(dg).contains_key(&e.id));
    if !missing && !all {
        return false;
    }
    let rules = RuleSet::new();
    let positions: Vec<(String, Rect)> = {
        let analysis = analyze(model, &rules, &Options::default());
        let d = Diagram::new(&analysis, &DfdOptions { auto_layout: true, diagram: Some(dg), ..DfdOptions::default() });
        let mut out = Vec::new();
        for (k, n) in d.scene.nodes.iter().enumerate() {
            // The layout sized each node for its label; keep that size so boundaries still fit.
            let c = d.layout.nodes[k];
            let s = vec2(d.graph.nodes[k].size.w as f32, d.graph.nodes[k].size.h as f32);
            out.push((model.elements[n.element as usize].id.clone(), Rect::from_center_size(pos2(c.x as f32, c.y as f32), s)));
        }
        for (k, b) in d.scene.boundaries.iter().enumerate() {
            let r = d.layout.clusters[k];
            out.push((
                model.elements[b.element as usize].id.clone(),
                Rect::from_min_size(pos2(r.x as f32, r.y as f32), vec2(r.w as f32, r.h as f32)),
            ));
        }
        out
    };
    let flows: BTreeSet<String> = model.elements.iter().filter(|e| e.kind == Kind::Dataflow).map(|e| e.id.clone()).collect();
    if all {
        for f in &flows {
            model.layout_of_mut(dg).remove(f);
        }
    }
    for (id, r) in positions {
        if flows.contains(&id) {
            if all || !model.layout_of(dg).contains_key(&id) {
                let round = |v: f32| f64::from(v.round());
                model
                    .layout_of_mut(dg)
                    .insert(id, Placement { x: round(r.min.x), y: round(r.min.y), width: None, height: None, line: Vec::new() });
            }
        } else if all || !model.layout_of(dg).contains_key(&id) {
            set_rect(model, dg, &id, r);
        }
    }
    // The layout draws each boundary around its members; where stored positions mixed with new
    // ones put something elsewhere, the drawing decides.
    sync_membership(model, dg);
    true
}

/// Removes diagram `d`, keeping its elements: those drawn on no other diagram move to the first
/// diagram left, as they were arranged, to the right of its drawing (so no boundary there takes
/// them in); those whose boundary that diagram draws go inside it there, and what it drew of a
/// boundary that moved goes inside that. No membership changes. Returns their names.
pub fn remove_diagram_keeping(model: &mut Model, d: usize) -> Vec<String> {
    let membership = model.diagram_membership();
    let only: Vec<(String, Kind, String)> = model
        .elements
        .iter()
        .zip(&membership)
        .filter(|(e, on)| e.kind != Kind::Dataflow && on.len() == 1 && on.contains(&d))
        .map(|(e, _)| (e.id.clone(), e.kind, threatmap_core::model::one_line(&e.name)))
        .collect();
    let placed: Vec<(String, Placement)> =
        only.iter().filter_map(|(id, _, _)| Some((id.clone(), model.layout_of(d).get(id)?.clone()))).collect();
    let moved: BTreeSet<&String> = only.iter().map(|(id, _, _)| id).collect();
    let waypoints: Vec<(String, Placement)> = model
        .elements
        .iter()
        .filter(|e| {
            e.kind == Kind::Dataflow
                && e.source.as_ref().is_some_and(|s| moved.contains(s))
                && e.sink.as_ref().is_some_and(|s| moved.contains(s))
        })
        .filter_map(|e| Some((e.id.clone(), model.layout_of(d).get(&e.id)?.clone())))
        .collect();
    model.remove_diagram(d);
    let target = 0;
    let used = model.elements.iter().filter_map(|e| rect_of(model, target, &e.id, e.kind)).fold(Rect::NOTHING, |a, b| a.union(b));
    let bbox = placed
        .iter()
        .map(|(_, p)| {
            Rect::from_min_size(pos2(p.x as f32, p.y as f32), vec2(p.width.unwrap_or(0.0) as f32, p.height.unwrap_or(0.0) as f32))
        })
        .fold(Rect::NOTHING, |a, b| a.union(b));
    let to = if used.is_positive() { pos2(used.max.x + 80.0, used.min.y) } else { pos2(40.0, 40.0) };
    let shift = if bbox.is_positive() { to - bbox.min } else { Vec2::ZERO };
    let (dx, dy) = (f64::from(shift.x.round()), f64::from(shift.y.round()));
    for (id, mut p) in placed.into_iter().chain(waypoints) {
        p.x += dx;
        p.y += dy;
        for q in &mut p.line {
            q[0] += dx;
            q[1] += dy;
        }
        model.layout_of_mut(target).insert(id, p);
    }
    // What moved inside a boundary that the first diagram draws where it is (not with them)
    // goes inside that boundary there, with what it contains, so the drawing keeps saying what
    // the model does.
    let moved_ids: BTreeSet<String> = only.iter().map(|(id, _, _)| id.clone()).collect();
    let roots: Vec<(String, Kind)> = model
        .elements
        .iter()
        .filter(|e| moved_ids.contains(&e.id))
        .filter(|e| e.in_boundary.as_ref().is_some_and(|b| !moved_ids.contains(b) && rect_of(model, target, b, Kind::Boundary).is_some()))
        .map(|e| (e.id.clone(), e.kind))
        .collect();
    for (id, kind) in roots {
        let Some(r) = rect_of(model, target, &id, kind) else { continue };
        let at = free_spot(model, target, &id, r.size());
        let delta = at - r.min;
        let mut group: BTreeSet<String> = descendants(model, &id).into_iter().filter(|x| moved_ids.contains(x)).collect();
        group.insert(id.clone());
        translate(model, target, &group, delta);
    }
    // And what the first diagram already drew of a boundary that moved there goes inside it.
    let strays: Vec<(String, Kind)> = model
        .elements
        .iter()
        .filter(|e| !moved_ids.contains(&e.id) && e.kind != Kind::Dataflow)
        .filter(|e| {
            let (Some(b), Some(r)) = (e.in_boundary.as_deref(), rect_of(model, target, &e.id, e.kind)) else { return false };
            moved_ids.contains(b) && rect_of(model, target, b, Kind::Boundary).is_some_and(|br| !br.contains(r.center()))
        })
        .map(|e| (e.id.clone(), e.kind))
        .collect();
    for (id, kind) in strays {
        let Some(r) = rect_of(model, target, &id, kind) else { continue };
        let at = free_spot(model, target, &id, r.size());
        let mut group: BTreeSet<String> = descendants(model, &id).into_iter().filter(|x| model.layout_of(target).contains_key(x)).collect();
        group.insert(id.clone());
        translate(model, target, &group, at - r.min);
    }
    place_unplaced(model);
    only.into_iter().map(|(_, _, name)| name).collect()
}

/// Places, on every diagram, what it shows and has no position there (ends of a flow moved
/// to a node on another diagram, the elements of a deleted diagram), so nothing goes undrawn.
pub fn place_unplaced(model: &mut Model) {
    if model.diagrams.is_empty() {
        auto_layout(model, 0, false);
        return;
    }
    // Beside what each diagram holds (or inside the boundary it draws for them), so nothing
    // already drawn moves and no membership changes; boundaries first, so members can go in.
    for d in 0..model.diagram_count() {
        if model.layout_of(d).is_empty() {
            // Nothing drawn there yet: a fresh layout of what it shows.
            auto_layout(model, d, false);
            continue;
        }
        let shown = model.shown_on(d);
        let mut missing: Vec<(Kind, String)> = model
            .elements
            .iter()
            .zip(&shown)
            .filter(|(e, on)| **on && e.kind != Kind::Dataflow && !model.layout_of(d).contains_key(&e.id))
            .map(|(e, _)| (e.kind, e.id.clone()))
            .collect();
        missing.sort_by_key(|(k, _)| *k != Kind::Boundary);
        for (kind, id) in missing {
            let size = drawn_size(model, &id, kind);
            let r = match spot_for_boundary(model, d, &id) {
                Some(Some(r)) => r,
                _ => free_rect(model, d, &id, size),
            };
            set_rect(model, d, &id, r);
        }
    }
}

/// Places a model being opened, diagram by diagram: what has no position is laid out. Where
/// a diagram's stored positions contradict the model (a node drawn outside the boundary it is
/// in, as some tools' exports have it), the drawing would change the model, so that diagram is
/// laid out afresh from the memberships instead. Returns the diagrams laid out afresh.
pub fn place_for_opening(model: &mut Model) -> Vec<usize> {
    let memberships = |m: &Model| m.elements.iter().map(|e| e.in_boundary.clone()).collect::<Vec<_>>();
    let mut relaid = Vec::new();
    for d in 0..model.diagram_count() {
        let wanted = memberships(model);
        let mut placed = model.clone();
        auto_layout(&mut placed, d, false);
        if memberships(&placed) == wanted && !sync_membership(&mut placed, d) {
            *model = placed;
            continue;
        }
        auto_layout(model, d, true);
        relaid.push(d);
    }
    relaid
}

/// The ids of a boundary's members, at any depth.
pub fn descendants(model: &Model, boundary: &str) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = BTreeSet::new();
    let mut frontier = vec![boundary.to_owned()];
    while let Some(b) = frontier.pop() {
        for e in &model.elements {
            if e.in_boundary.as_deref() == Some(b.as_str()) && out.insert(e.id.clone()) && e.kind == Kind::Boundary {
                frontier.push(e.id.clone());
            }
        }
    }
    out
}

/// Sets every node's and boundary's `inBoundary` from diagram `d`'s drawing, so the model
/// never says other than what the canvas shows: a node belongs to the smallest boundary box
/// containing its centre; a boundary to the smallest larger box containing all of it (equal
/// areas are ordered by id, so membership can never form a cycle). This is how the Microsoft
/// TMT and Threat Dragon imports read their drawings too. Elements without a position there,
/// elements in a boundary this diagram does not draw (another diagram shows that), and line
/// boundaries (which contain nothing) keep their membership. Returns true if any changed.
pub fn sync_membership(model: &mut Model, d: usize) -> bool {
    let boxes: Vec<(String, Rect)> = model
        .elements
        .iter()
        .filter(|e| e.kind == Kind::Boundary)
        .filter_map(|e| Some((e.id.clone(), rect_of(model, d, &e.id, e.kind)?)))
        .collect();
    let line_boundaries: BTreeSet<String> =
        model.elements.iter().filter(|e| e.kind == Kind::Boundary && line_of(model, d, &e.id).is_some()).map(|e| e.id.clone()).collect();
    let drawn_here = |b: &str| boxes.iter().any(|(id, _)| id == b);
    // (area, id): a boundary's parent must come later in this order.
    let rank = |r: &Rect, id: &str| (r.area(), id.to_owned());
    let smaller = |a: &(f32, String), b: &(f32, String)| a.0 < b.0 || (a.0 == b.0 && a.1 < b.1);
    let mut next: Vec<(usize, Option<String>)> = Vec::new();
    for (k, e) in model.elements.iter().enumerate() {
        if !(e.kind.is_node() || e.kind == Kind::Boundary) || line_boundaries.contains(&e.id) {
            continue;
        }
        if e.in_boundary.as_ref().is_some_and(|b| line_boundaries.contains(b) || !drawn_here(b)) {
            continue;
        }
        let Some(r) = rect_of(model, d, &e.id, e.kind) else { continue };
        let own = rank(&r, &e.id);
        let best = boxes
            .iter()
            .filter(|(b, br)| {
                b != &e.id
                    && if e.kind == Kind::Boundary { smaller(&own, &rank(br, b)) && br.contains_rect(r) } else { br.contains(r.center()) }
            })
            .min_by(|a, b| a.1.area().total_cmp(&b.1.area()).then(a.0.cmp(&b.0)))
            .map(|(b, _)| b.clone());
        if best != e.in_boundary {
            next.push((k, best));
        }
    }
    let changed = !next.is_empty();
    for (k, b) in next {
        model.elements[k].in_boundary = b;
    }
    changed
}

/// The nodes and boxes on diagram `d` that move with `ids`: the elements themselves and, for
/// boundaries, everything inside them drawn there (flows are not placed).
pub fn moving_with(model: &Model, d: usize, ids: &BTreeSet<String>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let layout = model.layout_of(d);
    for id in ids {
        let Some(e) = model.elements.iter().find(|e| &e.id == id) else { continue };
        if e.kind == Kind::Boundary {
            out.extend(
                descendants(model, id)
                    .into_iter()
                    .filter(|x| layout.contains_key(x) && model.elements.iter().any(|el| &el.id == x && el.kind != Kind::Dataflow)),
            );
        }
        if e.kind != Kind::Dataflow {
            out.insert(id.clone());
        }
    }
    out
}

/// Moves the selected elements on diagram `d` (and what their boundaries contain) by `delta`;
/// waypoints of flows whose both ends move go along. Membership then follows the drawing.
pub fn move_by(model: &mut Model, d: usize, selection: &BTreeSet<String>, delta: Vec2) {
    translate(model, d, selection, delta);
    sync_membership(model, d);
}

/// [`move_by`] without the membership update: the geometry only.
fn translate(model: &mut Model, d: usize, selection: &BTreeSet<String>, delta: Vec2) {
    let ids = moving_with(model, d, selection);
    for id in &ids {
        if let Some(points) = line_of(model, d, id) {
            let moved: Vec<Pos2> = points.iter().map(|q| *q + delta).collect();
            set_line(model, d, id, &moved);
        } else if let Some(kind) = model.elements.iter().find(|e| &e.id == id).map(|e| e.kind)
            && let Some(r) = rect_of(model, d, id, kind)
        {
            set_rect(model, d, id, r.translate(delta));
        }
    }
    let flows: Vec<(String, Pos2)> = model
        .elements
        .iter()
        .filter(|e| e.kind == Kind::Dataflow)
        .filter(|e| e.source.as_ref().is_some_and(|s| ids.contains(s)) && e.sink.as_ref().is_some_and(|s| ids.contains(s)))
        .filter_map(|e| Some((e.id.clone(), waypoint(model, d, &e.id)?)))
        .collect();
    for (id, w) in flows {
        set_waypoint(model, d, &id, w + delta);
    }
}

/// Gives a boundary box on diagram `d` a new rectangle; membership then follows the drawing.
pub fn resize(model: &mut Model, d: usize, id: &str, r: Rect) {
    set_rect(model, d, id, r);
    sync_membership(model, d);
}

/// Stores a flow's waypoint on diagram `d` (rounded to whole units).
pub fn set_waypoint(model: &mut Model, d: usize, id: &str, q: Pos2) {
    let round = |v: f32| f64::from(v.round());
    model.layout_of_mut(d).insert(id.to_owned(), Placement { x: round(q.x), y: round(q.y), width: None, height: None, line: Vec::new() });
}

/// Adds an element of `kind` to diagram `d`, centred at `at`; returns its id.
pub fn add_element(model: &mut Model, d: usize, kind: Kind, at: Pos2) -> String {
    let base = if kind == Kind::Boundary { "Trust boundary".to_owned() } else { kind.label().to_owned() };
    let taken = |n: &str| model.elements.iter().any(|e| e.name == n);
    let name = if taken(&base) { (2..).map(|k| format!("{base} {k}")).find(|n| !taken(n)).unwrap_or(base) } else { base };
    let id = threatmap_core::model::unique_id(&name, |id| {
        model.elements.iter().any(|e| e.id == id) || model.layouts().any(|l| l.contains_key(id))
    });
    let mut e = Element::new(id.clone(), kind, name);
    if let Some(level) = model.diagrams.get(d).and_then(|x| x.level) {
        e.levels = Some(vec![level]);
    }
    model.elements.push(e);
    set_rect(model, d, &id, Rect::from_center_size(at, default_size(kind)));
    // A boundary dropped over nodes takes them in, as it is drawn, and grows to hold them
    // whole (a new box has no size the user chose yet), so the drawing shows what it says.
    sync_membership(model, d);
    if kind == Kind::Boundary {
        for _ in 0..3 {
            let Some(r) = rect_of(model, d, &id, Kind::Boundary) else { break };
            let members = model
                .elements
                .iter()
                .filter(|e| e.in_boundary.as_deref() == Some(id.as_str()))
                .filter_map(|e| rect_of(model, d, &e.id, e.kind))
                .fold(Rect::NOTHING, |a, b| a.union(b));
            if !members.is_positive() || r.contains_rect(members.expand(12.0)) {
                break;
            }
            set_rect(model, d, &id, r.union(members.expand(24.0)));
            sync_membership(model, d);
        }
    }
    id
}

/// Shows element `id` on diagram `d` too (it stays one element, on the diagrams it was on),
/// to the right of what the diagram holds; a level diagram puts it on its level.
pub fn show_on_diagram(model: &mut Model, d: usize, id: &str) {
    let Some(e) = model.elements.iter().find(|e| e.id == id) else { return };
    let kind = e.kind;
    let size = drawn_size(model, id, kind);
    if let Some(level) = model.diagrams.get(d).and_then(|x| x.level)
        && let Some(e) = model.elements.iter_mut().find(|e| e.id == id)
    {
        let mut levels = e.levels.clone().unwrap_or_else(|| vec![0]);
        if !levels.contains(&level) {
            levels.push(level);
            levels.sort_unstable();
            e.levels = Some(levels);
        }
    }
    if kind != Kind::Dataflow && !model.layout_of(d).contains_key(id) {
        let r = match spot_for_boundary(model, d, id) {
            Some(Some(r)) => r,
            _ => free_rect(model, d, id, size),
        };
        set_rect(model, d, id, r);
    }
}

/// For a boundary some of whose members diagram `d` draws: the box around them, if it would
/// take in nothing else (`Some(None)` if it would, so the boundary cannot be drawn there
/// without the drawing contradicting the model). `None` for anything else.
fn spot_for_boundary(model: &Model, d: usize, id: &str) -> Option<Option<Rect>> {
    let e = model.elements.iter().find(|e| e.id == id).filter(|e| e.kind == Kind::Boundary)?;
    let members = descendants(model, &e.id);
    let around = model
        .elements
        .iter()
        .filter(|x| members.contains(&x.id))
        .filter_map(|x| rect_of(model, d, &x.id, x.kind))
        .fold(Rect::NOTHING, |a, b| a.union(b));
    if !around.is_positive() {
        return None;
    }
    let r = Rect::from_min_max(around.min - vec2(24.0, 40.0), around.max + vec2(24.0, 24.0));
    let intrudes = model.elements.iter().filter(|x| x.id != id && !members.contains(&x.id) && x.kind != Kind::Dataflow).any(|x| {
        rect_of(model, d, &x.id, x.kind).is_some_and(|xr| if x.kind == Kind::Boundary { r.intersects(xr) } else { r.contains(xr.center()) })
    });
    Some(if intrudes { None } else { Some(r) })
}

/// True if element `id` can be shown on diagram `d` as well, with the drawing saying what the
/// model does: not a boundary whose members there cannot be boxed without taking in other
/// elements, nor anything whose boundary there has no room for it.
pub fn can_show_on(model: &Model, d: usize, id: &str) -> bool {
    match spot_for_boundary(model, d, id) {
        Some(r) => r.is_some(),
        None => {
            let Some(e) = model.elements.iter().find(|e| e.id == id) else { return false };
            let size = drawn_size(model, id, e.kind);
            let r = free_rect(model, d, id, size);
            spot_search(model, d, id, r.size(), e.kind == Kind::Boundary).1
        }
    }
}

/// The size element `id` is drawn at on the first diagram that draws it (the default size of
/// its kind where none does).
fn drawn_size(model: &Model, id: &str, kind: Kind) -> Vec2 {
    (0..model.diagram_count()).find_map(|k| rect_of(model, k, id, kind)).map_or(default_size(kind), |r| r.size())
}

/// Where element `id` (of `size`) can go on diagram `d` so that the drawing says what the model
/// does: inside its boundary where the diagram draws that, clear of the boxes within it (and of
/// other nodes where there is room); else to the right of the diagram's drawing, outside every
/// box. Returns the top-left corner.
fn free_spot(model: &Model, d: usize, id: &str, size: Vec2) -> Pos2 {
    free_rect(model, d, id, size).min
}

/// [`free_spot`] as a rectangle: a boundary that does not fit inside its own boundary there is
/// drawn smaller (its size means nothing to the model; containment does).
fn free_rect(model: &Model, d: usize, id: &str, size: Vec2) -> Rect {
    let boundary = model.elements.iter().any(|e| e.id == id && e.kind == Kind::Boundary);
    let parent = model
        .elements
        .iter()
        .find(|e| e.id == id)
        .and_then(|e| e.in_boundary.as_deref())
        .and_then(|b| rect_of(model, d, b, Kind::Boundary));
    let size = match parent {
        Some(p) if boundary => vec2(size.x.min(p.width() - 24.0).max(40.0), size.y.min(p.height() - 40.0).max(30.0)),
        _ => size,
    };
    Rect::from_min_size(spot_search(model, d, id, size, boundary).0, size)
}

/// The spot, and whether it keeps the drawing true to the model (`false`: the best that was
/// found inside a boundary with no room, which the caller may refuse).
fn spot_search(model: &Model, d: usize, id: &str, size: Vec2, boundary: bool) -> (Pos2, bool) {
    let used = model
        .elements
        .iter()
        .filter(|x| x.id != id)
        .filter_map(|x| rect_of(model, d, &x.id, x.kind))
        .fold(Rect::NOTHING, |a, b| a.union(b));
    let beside = if used.is_positive() { pos2(used.max.x + 60.0, used.min.y) } else { pos2(40.0, 40.0) };
    let Some(e) = model.elements.iter().find(|e| e.id == id) else { return (beside, true) };
    let Some(parent) = e.in_boundary.as_deref().and_then(|b| rect_of(model, d, b, Kind::Boundary).map(|r| (b, r))) else {
        return (beside, true);
    };
    let (pid, prect) = parent;
    let inner_boxes: Vec<Rect> = model
        .elements
        .iter()
        .filter(|x| x.kind == Kind::Boundary && x.id != pid && x.id != id)
        .filter_map(|x| rect_of(model, d, &x.id, x.kind))
        .filter(|r| r.area() <= prect.area())
        .collect();
    let mine = if boundary { descendants(model, id) } else { BTreeSet::new() };
    let nodes: Vec<Rect> = model
        .elements
        .iter()
        .filter(|x| x.kind.is_node() && x.id != id && !mine.contains(&x.id))
        .filter_map(|x| rect_of(model, d, &x.id, x.kind))
        .collect();
    let centre_ok = |c: Pos2| prect.shrink(4.0).contains(c) && !inner_boxes.iter().any(|b| b.contains(c));
    // A box must lie inside its boundary, and take in no one else's node or box.
    let fits = |r: Rect| {
        !boundary
            || (prect.contains_rect(r) && !nodes.iter().any(|n| r.contains(n.center())) && !inner_boxes.iter().any(|b| b.intersects(r)))
    };
    let mut fallback = None;
    let step = 16.0;
    let mut y = prect.min.y + 28.0;
    while y + size.y <= prect.max.y + 0.5 {
        let mut x = prect.min.x + 12.0;
        while x + size.x <= prect.max.x + 0.5 {
            let r = Rect::from_min_size(pos2(x, y), size);
            if centre_ok(r.center()) && fits(r) {
                if !nodes.iter().any(|n| n.expand(8.0).intersects(r)) && !inner_boxes.iter().any(|b| b.intersects(r)) {
                    return (r.min, true);
                }
                fallback.get_or_insert(r.min);
            }
            x += step;
        }
        y += step;
    }
    match fallback {
        Some(at) => (at, true),
        None => (prect.center() - size / 2.0, false),
    }
}

/// True if element `id` can be taken off diagram `d` without hiding anything: it is drawn on
/// another diagram too, and each of its flows drawn on `d` still has a diagram showing both ends.
pub fn removable_from(model: &Model, d: usize, id: &str) -> bool {
    let membership = model.diagram_membership();
    let index = |x: &str| model.elements.iter().position(|e| e.id == x);
    let Some(k) = index(id) else { return false };
    let mine: BTreeSet<usize> = membership[k].iter().copied().filter(|&x| x != d).collect();
    if mine.is_empty() || !membership[k].contains(&d) {
        return false;
    }
    model.elements.iter().filter(|e| e.kind == Kind::Dataflow).all(|f| {
        let other = match (f.source.as_deref(), f.sink.as_deref()) {
            (Some(s), Some(t)) if s == id && t == id => return true,
            (Some(s), Some(t)) if s == id => t,
            (Some(s), Some(t)) if t == id => s,
            _ => return true,
        };
        index(other).is_none_or(|o| membership[o].iter().any(|x| mine.contains(x)))
    })
}

/// Takes elements off diagram `d` only: they stay in the model and on their other diagrams.
/// What [`removable_from`] refuses stays (it would hide the element or one of its flows); those
/// ids are returned. A level diagram takes its level off what it removes.
pub fn remove_from_diagram(model: &mut Model, d: usize, ids: &BTreeSet<String>) -> BTreeSet<String> {
    let level = model.diagrams.get(d).and_then(|x| x.level);
    let (ids, kept): (BTreeSet<String>, BTreeSet<String>) = ids.iter().cloned().partition(|id| removable_from(model, d, id));
    for id in &ids {
        model.layout_of_mut(d).remove(id);
        if let Some(level) = level
            && let Some(e) = model.elements.iter_mut().find(|e| &e.id == id)
        {
            let levels: Vec<u32> = e.levels.clone().unwrap_or_else(|| vec![0]).into_iter().filter(|&l| l != level).collect();
            e.levels = if levels == [0] { None } else { Some(levels) };
        }
    }
    kept
}

/// A centre near `near` on diagram `d` where a node of `size` overlaps no drawn node: the
/// nearest free point of a spiral around it (`near` itself when all else is taken).
pub fn spot_near(model: &Model, d: usize, near: Pos2, size: Vec2) -> Pos2 {
    let nodes: Vec<Rect> = model.elements.iter().filter(|x| x.kind.is_node()).filter_map(|x| rect_of(model, d, &x.id, x.kind)).collect();
    // Room for a flow and its label between the new node and the others.
    let free = |c: Pos2| !nodes.iter().any(|n| n.intersects(Rect::from_center_size(c, size).expand(70.0)));
    let step = 20.0;
    for ring in 0..40 {
        let r = ring as f32 * step;
        let around = (ring * 8).max(1);
        for k in 0..around {
            let a = k as f32 / around as f32 * std::f32::consts::TAU;
            let c = near + vec2(a.cos() * r, a.sin() * r);
            if free(c) {
                return pos2((c.x / 10.0).round() * 10.0, (c.y / 10.0).round() * 10.0);
            }
        }
    }
    near
}

/// Adds a dataflow from `source` to `sink`; returns its id.
pub fn add_flow(model: &mut Model, source: &str, sink: &str) -> String {
    let n = model.elements.iter().filter(|e| e.kind == Kind::Dataflow).count() + 1;
    let taken = |n: &str| model.elements.iter().any(|e| e.name == n);
    let name = (n..).map(|k| format!("Flow {k}")).find(|x| !taken(x)).unwrap_or_default();
    let id = threatmap_core::model::unique_id(&name, |id| {
        model.elements.iter().any(|e| e.id == id) || model.layouts().any(|l| l.contains_key(id))
    });
    let mut flow = Element::flow(id.clone(), name, source, sink);
    // In a numbered model a new flow comes last (unnumbered flows would be numbered first).
    if model.is_ordered {
        let last = model.elements.iter().filter_map(|e| e.order).filter(|&o| o != -1).max();
        if let Some(last) = last {
            flow.order = Some(last + 1);
        }
    }
    model.elements.push(flow);
    id
}

/// Deletes elements from the model (and every diagram); flows touching a deleted node, and
/// members' boundary references, follow. Membership then follows the drawing of diagram `d`
/// and of every diagram that drew what went.
pub fn delete(model: &mut Model, d: usize, ids: &BTreeSet<String>) {
    let mut gone = ids.clone();
    for e in &model.elements {
        if e.kind == Kind::Dataflow
            && (e.source.as_ref().is_some_and(|s| gone.contains(s)) || e.sink.as_ref().is_some_and(|s| gone.contains(s)))
        {
            gone.insert(e.id.clone());
        }
    }
    // Members of a deleted boundary move to its parent.
    let parent_of: HashMap<String, Option<String>> = model
        .elements
        .iter()
        .filter(|e| gone.contains(&e.id) && e.kind == Kind::Boundary)
        .map(|e| (e.id.clone(), e.in_boundary.clone()))
        .collect();
    model.elements.retain(|e| !gone.contains(&e.id));
    for e in &mut model.elements {
        let mut guard = 0;
        while let Some(p) = e.in_boundary.as_ref().and_then(|b| parent_of.get(b)) {
            e.in_boundary = p.clone();
            guard += 1;
            if guard > parent_of.len() {
                break;
            }
        }
        if e.response_to.as_ref().is_some_and(|r| gone.contains(r)) {
            e.response_to = None;
        }
    }
    // Membership then follows the drawings that showed what went (members of a deleted
    // boundary may lie in another box there).
    let drawn_on: BTreeSet<usize> =
        (0..model.diagram_count()).filter(|&k| k == d || gone.iter().any(|id| model.layout_of(k).contains_key(id))).collect();
    for id in &gone {
        model.unplace(id);
    }
    for k in drawn_on {
        sync_membership(model, k);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn membership_follows_geometry_and_nesting() {
        let mut m = Model::new("t");
        let outer = add_element(&mut m, 0, Kind::Boundary, pos2(400.0, 400.0));
        set_rect(&mut m, 0, &outer, Rect::from_min_max(pos2(0.0, 0.0), pos2(800.0, 800.0)));
        let inner = add_element(&mut m, 0, Kind::Boundary, pos2(200.0, 200.0));
        let web = add_element(&mut m, 0, Kind::Server, pos2(200.0, 200.0));
        let out = add_element(&mut m, 0, Kind::Actor, pos2(1200.0, 200.0));
        let get = |m: &Model, id: &str| m.elements.iter().find(|e| e.id == id).and_then(|e| e.in_boundary.clone());
        assert_eq!(get(&m, &inner).as_deref(), Some(outer.as_str()));
        assert_eq!(get(&m, &web).as_deref(), Some(inner.as_str()));
        assert_eq!(get(&m, &out), None);
        // Shrunk inside what was its member, a boundary becomes that boundary's member: the
        // drawing decides, and no cycle forms.
        resize(&mut m, 0, &outer, Rect::from_min_max(pos2(150.0, 150.0), pos2(250.0, 250.0)));
        assert_eq!(get(&m, &outer).as_deref(), Some(inner.as_str()));
        assert_eq!(get(&m, &inner), None);
        assert_eq!(get(&m, &web).as_deref(), Some(outer.as_str()), "the smallest box around its centre");
        // Deleting a boundary hands its members to what contains them.
        let f = add_flow(&mut m, &web, &out);
        delete(&mut m, 0, &BTreeSet::from([outer.clone()]));
        assert_eq!(get(&m, &web).as_deref(), Some(inner.as_str()));
        delete(&mut m, 0, &BTreeSet::from([out.clone()]));
        assert!(m.elements.iter().all(|e| e.id != f), "flows of a deleted node go too");
    }

    #[test]
    fn undo_redo_and_dirty() {
        let mut d = Document::new(Model::new("t"), Some(PathBuf::from("x.json")));
        assert!(!d.is_dirty());
        d.edit(|m| {
            add_element(m, 0, Kind::Actor, pos2(0.0, 0.0));
        });
        assert!(d.is_dirty() && d.can_undo());
        assert!(d.undo());
        assert!(!d.is_dirty());
        assert!(d.redo());
        assert_eq!(d.model.elements.len(), 1);
        d.edit(|_| {});
        assert!(d.can_undo() && d.undo() && d.model.elements.is_empty(), "a no-op edit leaves no undo step");
        // Typing into one field is one step; typing it back to what it was leaves none.
        d.redo();
        for name in ["A", "Ab", "Abc"] {
            d.edit_field("name@actor", |m| m.elements[0].name = name.to_owned());
        }
        assert!(d.undo() && d.model.elements[0].name == "Actor" && d.undo() && d.model.elements.is_empty());
        d.redo();
        let before = d.history.depth();
        d.edit_field("name@actor", |m| m.elements[0].name = "B".to_owned());
        d.edit_field("name@actor", |m| m.elements[0].name = "Actor".to_owned());
        assert_eq!(d.history.depth(), before, "typed back to what it was");
        // An untitled copy of the example is no one's work until it changes.
        let mut e = Document::new(threatmap_core::synth::synthetic(5, 1), None);
        assert!(e.is_dirty(), "untitled work");
        e.mark_pristine();
        assert!(!e.is_dirty());
        e.edit(|m| m.name.push('!'));
        assert!(e.is_dirty());
        e.undo();
        assert!(!e.is_dirty());
    }

    /// What the user can do to a document, for [`history_is_what_the_user_did`].
    #[derive(Debug, Clone)]
    enum Op {
        /// An edit of the model (see [`change`]).
        Edit(u8, usize),
        /// Typing into field `0` (one of three) text `1`.
        Type(u8, String),
        EndTyping,
        /// A drag over several frames: the same change made in steps, one undo step.
        Drag(usize, i16),
        Undo,
        Redo,
        Save,
    }

    /// One of the edits the app makes: on elements, positions, data, decisions, diagrams and
    /// the model's own fields.
    fn change(m: &mut Model, what: u8, k: usize) {
        let ids: Vec<String> = m.elements.iter().map(|e| e.id.clone()).collect();
        let id = if ids.is_empty() { String::new() } else { ids[k % ids.len()].clone() };
        let d = k % m.diagram_count();
        match what % 10 {
            0 => {
                add_element(m, d, Kind::Process, pos2(k as f32 * 7.0, 40.0));
            }
            1 => delete(m, d, &BTreeSet::from([id])),
            2 => move_by(m, d, &BTreeSet::from([id]), vec2(30.0, -10.0)),
            3 => {
                if let Some(e) = m.elements.get_mut(k % ids.len().max(1)) {
                    e.controls.sanitizes_input = Some(!e.controls.sanitizes_input.unwrap_or(false));
                }
            }
            4 => {
                let key = format!("R-{}@{id}", k % 3);
                if m.decisions.remove(&key).is_none() {
                    m.decisions.insert(key, threatmap_core::lifecycle::Decision { justification: format!("j{k}"), ..Default::default() });
                }
            }
            5 => m.description.push_str(&k.to_string()),
            6 => {
                m.add_diagram("Main", &format!("D{k}"));
            }
            7 if m.diagrams.len() > 1 => {
                remove_diagram_keeping(m, k % m.diagrams.len());
            }
            8 => {
                if m.data.is_empty() {
                    m.data.push(threatmap_core::model::DataItem { id: format!("d{k}"), name: format!("Data {k}"), ..Default::default() });
                } else {
                    m.data.remove(k % m.data.len());
                }
            }
            _ => {
                let d = k % m.diagram_count();
                if let Some(name) = m.diagrams.get_mut(d).map(|x| &mut x.name) {
                    name.push('*');
                } else {
                    m.name.push('*');
                }
            }
        }
    }

    fn op() -> impl proptest::strategy::Strategy<Value = Op> {
        use proptest::prelude::*;
        prop_oneof![
            4 => (any::<u8>(), 0usize..40).prop_map(|(w, k)| Op::Edit(w, k)),
            3 => (0u8..3, "[ab]{0,3}").prop_map(|(f, t)| Op::Type(f, t)),
            1 => Just(Op::EndTyping),
            1 => (0usize..40, -50i16..50).prop_map(|(k, dx)| Op::Drag(k, dx)),
            3 => Just(Op::Undo),
            2 => Just(Op::Redo),
            1 => Just(Op::Save),
        ]
    }

    /// Sets field `f` (a name, the description, a diagram's title) to `text`.
    fn typed(m: &mut Model, f: u8, text: &str) {
        match f {
            0 => {
                if let Some(e) = m.elements.first_mut() {
                    e.name = text.to_owned();
                }
            }
            1 => m.description = text.to_owned(),
            _ => m.name = text.to_owned(),
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 300, ..Default::default() })]

        /// Undo and redo go through exactly the models the user made, one per edit, drag or
        /// run of typing in one field, compared with whole copies kept alongside; the document
        /// is dirty exactly when it is not at the state last saved.
        #[test]
        fn history_is_what_the_user_did(seed in 0u64..50, ops in proptest::collection::vec(op(), 1..40)) {
            use proptest::prelude::*;
            let start = threatmap_core::synth::synthetic(12, seed);
            let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
            let path = dir.path().join("m.threatmap.json");
            let mut doc = Document::new(start.clone(), Some(path.clone()));
            // The reference: every state undo can reach, where the document is, what was saved.
            let mut states = vec![start];
            let mut at = 0usize;
            let mut saved = Some(0usize);
            let mut typing: Option<u8> = None;
            let mut taken = doc.model.clone();
            let push = |states: &mut Vec<Model>, at: &mut usize, saved: &mut Option<usize>, m: Model| {
                if m != states[*at] {
                    states.truncate(*at + 1);
                    if saved.is_some_and(|s| s > *at) {
                        *saved = None;
                    }
                    states.push(m);
                    *at += 1;
                    true
                } else {
                    false
                }
            };
            for op in &ops {
                match op {
                    Op::Edit(w, k) => {
                        doc.edit(|m| change(m, *w, *k));
                        let mut m = states[at].clone();
                        change(&mut m, *w, *k);
                        push(&mut states, &mut at, &mut saved, m);
                        typing = None;
                    }
                    Op::Type(f, text) => {
                        doc.edit_field(&format!("f{f}"), |m| typed(m, *f, text));
                        let mut m = states[at].clone();
                        typed(&mut m, *f, text);
                        if typing == Some(*f) && at > 0 {
                            if saved == Some(at) {
                                saved = None;
                            }
                            if m == states[at - 1] {
                                states.truncate(at);
                                at -= 1;
                                typing = None;
                            } else {
                                states.truncate(at);
                                states.push(m);
                            }
                        } else {
                            typing = push(&mut states, &mut at, &mut saved, m).then_some(*f);
                        }
                    }
                    Op::EndTyping => {
                        doc.end_field_edit();
                        typing = None;
                    }
                    Op::Drag(k, dx) => {
                        let id = doc.model.elements.get(k % doc.model.elements.len().max(1)).map(|e| e.id.clone());
                        let ids: BTreeSet<String> = id.into_iter().collect();
                        doc.checkpoint();
                        for _ in 0..3 {
                            translate(&mut doc.model, 0, &ids, vec2(f32::from(*dx), 5.0));
                            doc.changed();
                        }
                        sync_membership(&mut doc.model, 0);
                        doc.end_step();
                        let mut m = states[at].clone();
                        for _ in 0..3 {
                            translate(&mut m, 0, &ids, vec2(f32::from(*dx), 5.0));
                        }
                        sync_membership(&mut m, 0);
                        push(&mut states, &mut at, &mut saved, m);
                        typing = None;
                    }
                    Op::Undo => {
                        prop_assert_eq!(doc.undo(), at > 0);
                        at = at.saturating_sub(1);
                        typing = None;
                    }
                    Op::Redo => {
                        prop_assert_eq!(doc.redo(), at + 1 < states.len());
                        at = (at + 1).min(states.len() - 1);
                        typing = None;
                    }
                    Op::Save => {
                        doc.save_to(path.clone()).map_err(|e| TestCaseError::fail(e.to_string()))?;
                        saved = Some(at);
                        typing = None;
                    }
                }
                prop_assert!(doc.model == states[at], "after {:?}", op);
                // What the document says its edits changed holds every element that did.
                if let Some(edited) = doc.take_edited() {
                    prop_assert_eq!(taken.elements.len(), doc.model.elements.len(), "after {:?}: elements added or removed", op);
                    for (k, (a, b)) in taken.elements.iter().zip(&doc.model.elements).enumerate() {
                        prop_assert!(a == b || edited.contains(&(k as u32)), "after {:?}: element {} changed unsaid", op, k);
                    }
                }
                taken = doc.model.clone();
                prop_assert_eq!(doc.can_undo(), at > 0, "after {:?}", op);
                prop_assert_eq!(doc.can_redo(), at + 1 < states.len(), "after {:?}", op);
                prop_assert_eq!(doc.is_dirty(), saved != Some(at), "after {:?}", op);
            }
            // All the way back, and forward again.
            while at > 0 {
                prop_assert!(doc.undo());
                at -= 1;
                prop_assert!(doc.model == states[at]);
            }
            prop_assert!(!doc.undo());
            while at + 1 < states.len() {
                prop_assert!(doc.redo());
                at += 1;
                prop_assert!(doc.model == states[at]);
            }
            prop_assert!(!doc.redo());
        }
    }
}
