//! The diagram canvas: painting the model with the render crate's shapes and badges, and the
//! direct manipulation (palette drops, selection, moving, drawing flows, resizing boundaries,
//! flow waypoints, pan and zoom). Positions live in the model's `layout`, in canvas units.

use std::collections::BTreeSet;

use egui::{Align2, Color32, CornerRadius, FontId, Pos2, Rect, Sense, Shape, Stroke, StrokeKind, Vec2, pos2, vec2};
use threatmap_core::attr::Kind;
use threatmap_core::model::Model;
use threatmap_core::rules::Severity;
use threatmap_render::dfd::{Badge, severity_style};

use crate::document::{self, rect_of, set_rect};
use crate::gui::ThreatmapApp;

/// Grid step in canvas units.
pub const GRID: f32 = 10.0;

/// View and gesture state of the canvas.
#[derive(Debug, Clone)]
pub struct CanvasState {
    /// Offset of the canvas origin from the canvas widget's top-left corner, in points.
    pub pan: Vec2,
    /// Points per canvas unit.
    pub zoom: f32,
    /// Draw a grid and snap to it.
    pub grid: bool,
    /// Fit the drawing into the view on the next frame.
    pub fit_requested: bool,
    /// The next fit is the one of opening a model: it keeps names legible (at least
    /// [`OPENING_ZOOM`]), showing the start of a drawing too large to fit.
    pub fit_for_opening: bool,
    drag: Drag,
    /// The canvas rectangle on screen in the last frame.
    pub screen_rect: Rect,
    geometry: Option<(u64, std::sync::Arc<Geometry>)>,
    /// The diagram shown (of a model with several).
    pub diagram: usize,
    /// Bring this element into view on the next frame (after any fit).
    pub show: Option<(String, Show)>,
    /// Where the last frame drew each badge (screen rectangle, element id).
    pub badge_hits: Vec<(Rect, String)>,
    /// Where the last frame drew each flow's label (screen rectangle, flow id).
    pub label_hits: Vec<(Rect, String)>,
}

impl Default for CanvasState {
    fn default() -> Self {
        CanvasState {
            pan: vec2(40.0, 40.0),
            zoom: 1.0,
            grid: true,
            fit_requested: true,
            fit_for_opening: true,
            drag: Drag::None,
            screen_rect: Rect::NOTHING,
            geometry: None,
            diagram: 0,
            show: None,
            badge_hits: Vec::new(),
            label_hits: Vec::new(),
        }
    }
}

/// How [`CanvasState::show`] brings an element into view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Show {
    /// In the middle of the view (the palette's Go to).
    Centred,
    /// Only if it is outside the view (keyboard walks, new elements).
    IfHidden,
}

#[derive(Debug, Clone, Default)]
enum Drag {
    #[default]
    None,
    Pan,
    Move {
        start: Pos2,
        originals: Vec<(String, Rect)>,
        waypoints: Vec<(String, Pos2)>,
        lines: Vec<(String, Vec<Pos2>)>,
    },
    Rubber {
        start: Pos2,
    },
    Flow {
        from: String,
    },
    Resize {
        id: String,
        corner: usize,
        original: Rect,
    },
    Waypoint {
        id: String,
    },
}

/// What is under the pointer.
#[derive(Debug, Clone, PartialEq)]
enum Hit {
    Empty,
    Node(String),
    Boundary(String),
    Flow(String),
    ConnectHandle(String),
    ResizeHandle(String, usize),
    WaypointHandle(String),
    /// A finding badge: clicking it shows the element's findings.
    Badge(String),
}

impl CanvasState {
    /// Screen position of a canvas point.
    pub fn screen_from_canvas(&self, p: Pos2) -> Pos2 {
        self.screen_rect.min + self.pan + p.to_vec2() * self.zoom
    }

    /// Canvas point under a screen position.
    pub fn canvas_from_screen(&self, p: Pos2) -> Pos2 {
        ((p - self.screen_rect.min - self.pan) / self.zoom).to_pos2()
    }

    fn screen_rect_of(&self, r: Rect) -> Rect {
        Rect::from_min_max(self.screen_from_canvas(r.min), self.screen_from_canvas(r.max))
    }

    /// Zooms around the centre of the view.
    pub fn zoom_by(&mut self, factor: f32) {
        let c = self.screen_rect.center();
        self.zoom_at(c, factor);
    }

    fn zoom_at(&mut self, screen: Pos2, factor: f32) {
        if !self.screen_rect.is_positive() {
            self.zoom = (self.zoom * factor).clamp(0.1, 4.0);
            return;
        }
        let before = self.canvas_from_screen(screen);
        self.zoom = (self.zoom * factor).clamp(0.1, 4.0);
        let after = self.screen_from_canvas(before);
        self.pan += screen - after;
    }

    fn fit(&mut self, model: &Model, min_zoom: f32) {
        let dg = self.diagram;
        let mut bb = Rect::NOTHING;
        for e in &model.elements {
            if let Some(r) = rect_of(model, dg, &e.id, e.kind).filter(|_| e.kind != Kind::Dataflow) {
                bb = bb.union(r);
            }
        }
        if !bb.is_positive() || !self.screen_rect.is_positive() {
            self.zoom = 1.0;
            self.pan = vec2(40.0, 40.0);
            return;
        }
        let margin = 40.0;
        let avail = self.screen_rect.size() - vec2(2.0 * margin, 2.0 * margin);
        self.zoom = (avail.x / bb.width()).min(avail.y / bb.height()).clamp(min_zoom, 1.5);
        let used = bb.size() * self.zoom;
        // Centred where it fits; where it does not, its start (left, top) is shown.
        let offset = vec2(((avail.x - used.x) / 2.0).max(0.0), ((avail.y - used.y) / 2.0).max(0.0));
        self.pan = vec2(margin, margin) + offset - bb.min.to_vec2() * self.zoom;
    }

    fn snap(&self, p: Pos2) -> Pos2 {
        if self.grid { pos2((p.x / GRID).round() * GRID, (p.y / GRID).round() * GRID) } else { p }
    }
}

/// The canvas widget.
pub fn canvas_ui(ui: &mut egui::Ui, app: &mut ThreatmapApp) {
    let (rect, response) = ui.allocate_exact_size(ui.available_size(), Sense::click_and_drag());
    app.canvas.screen_rect = rect;
    if app.canvas.fit_requested {
        app.canvas.fit_requested = false;
        let min_zoom = if std::mem::take(&mut app.canvas.fit_for_opening) { OPENING_ZOOM } else { 0.1 };
        let model = &app.doc.model;
        app.canvas.fit(model, min_zoom);
    }
    if let Some((id, how)) = app.canvas.show.take()
        && let Some(c) = drawn_centre(&app.doc.model, app.canvas.diagram, &id)
        && (how == Show::Centred || !rect.shrink(40.0).contains(app.canvas.screen_from_canvas(c)))
    {
        app.canvas.pan = rect.size() / 2.0 - c.to_vec2() * app.canvas.zoom;
    }
    let painter = ui.painter_at(rect);
    let dark = ui.visuals().dark_mode;
    painter.rect_filled(rect, 0.0, if dark { Color32::from_gray(30) } else { Color32::WHITE });

    // Zoom (Ctrl+wheel, pinch) at the pointer, and pan with the wheel.
    if let Some(hover) = response.hover_pos() {
        let (zoom, scroll) = ui.input(|i| (i.zoom_delta(), i.smooth_scroll_delta));
        if zoom != 1.0 {
            app.canvas.zoom_at(hover, zoom);
        } else if scroll != Vec2::ZERO {
            app.canvas.pan += scroll;
        }
    }

    interact(ui, app, &response);
    // Findings for this revision, so badges reflect an edit made this frame.
    app.refresh();
    let geo = geometry(app);
    let (hits, label_hits) = paint(ui, app, &geo, &painter, dark);
    if app.doc.model.diagram_count() > 1 && app.doc.model.layout_of(app.canvas.diagram).is_empty() {
        let hint = "This diagram is empty: drop stencils here from the palette,\nor show an element of another diagram here too (its inspector, On diagrams).";
        painter.text(rect.center(), Align2::CENTER_CENTER, hint, FontId::proportional(15.0), ui.visuals().weak_text_color());
    }
    app.canvas.label_hits = label_hits;
    if let Some(h) = response.hover_pos()
        && let Some((_, id)) = hits.iter().rev().find(|(r, _)| r.contains(h))
    {
        response.on_hover_text_at_pointer(badge_tooltip(app, id));
    }
    app.canvas.badge_hits = hits;
    minimap_ui(ui, app, rect, dark);
}

/// The minimap: when the drawing is larger than the view, a small map of it in the view's
/// bottom-right corner with the part shown outlined; a click or drag there moves the view.
fn minimap_ui(ui: &mut egui::Ui, app: &mut ThreatmapApp, view: Rect, dark: bool) {
    const MAX: Vec2 = vec2(200.0, 130.0);
    const PAD: f32 = 6.0;
    let (model, d) = (&app.doc.model, app.canvas.diagram);
    let drawn: Vec<(Kind, Rect)> = model
        .elements
        .iter()
        .filter(|e| e.kind != Kind::Dataflow)
        .filter_map(|e| rect_of(model, d, &e.id, e.kind).map(|r| (e.kind, r)))
        .collect();
    let bb = drawn.iter().fold(Rect::NOTHING, |a, (_, r)| a.union(*r));
    let shown = Rect::from_min_max(app.canvas.canvas_from_screen(view.min), app.canvas.canvas_from_screen(view.max));
    if !bb.is_positive() || shown.contains_rect(bb) || view.width() < MAX.x * 2.5 || view.height() < MAX.y * 2.5 {
        return;
    }
    let scale = (MAX.x / bb.width()).min(MAX.y / bb.height());
    let size = bb.size() * scale + Vec2::splat(2.0 * PAD);
    let mini = Rect::from_min_size(view.max - size - Vec2::splat(10.0), size);
    let to_mini = |p: Pos2| mini.min + Vec2::splat(PAD) + (p - bb.min) * scale;
    let response = ui.interact(mini, ui.id().with("minimap"), Sense::click_and_drag());
    response.widget_info(|| egui::WidgetInfo::labeled(egui::WidgetType::Other, true, "Minimap: click or drag to move the view"));
    if let Some(q) = response.interact_pointer_pos().filter(|_| response.clicked() || response.dragged()) {
        let c = bb.min + (q - mini.min - Vec2::splat(PAD)) / scale;
        app.canvas.pan = view.size() / 2.0 - c.to_vec2() * app.canvas.zoom;
    }
    let painter = ui.painter_at(view);
    let (paper, ink) =
        if dark { (Color32::from_gray(40), Color32::from_gray(170)) } else { (Color32::from_gray(248), Color32::from_gray(110)) };
    painter.rect(mini, 4.0, paper, Stroke::new(1.0, ink), StrokeKind::Inside);
    for (kind, r) in &drawn {
        let m = Rect::from_min_max(to_mini(r.min), to_mini(r.max));
        if *kind == Kind::Boundary {
            painter.rect_stroke(m, 1.0, Stroke::new(1.0, Color32::from_rgb(200, 60, 60)), StrokeKind::Inside);
        } else {
            painter.rect_filled(m, 1.0, ink);
        }
    }
    let part = Rect::from_min_max(to_mini(shown.min), to_mini(shown.max)).intersect(mini);
    painter.rect_stroke(part, 1.0, Stroke::new(1.5, Color32::from_rgb(37, 99, 235)), StrokeKind::Inside);
}

/// Exposes a drawn element to screen readers (AccessKit) as a button with its kind, name and
/// open findings ("Server Web Server, 15 open findings, worst Very High") and whether it is
/// selected; its bounds are where it is drawn, so a click there selects it.
fn accessible_element(ui: &egui::Ui, app: &ThreatmapApp, (k, e): (usize, &threatmap_core::model::Element), s: Rect) {
    let findings = crate::commands::open_findings_text(app.cache.badge(k));
    let label = format!("{} {}, {findings}", e.kind.label(), threatmap_core::model::one_line(&e.name));
    let selected = app.selection.contains(&e.id);
    ui.ctx().accesskit_node_builder(ui.id().with(("element", &e.id)), |n| {
        n.set_role(egui::accesskit::Role::Button);
        n.set_label(label);
        n.set_bounds(egui::accesskit::Rect {
            x0: f64::from(s.min.x),
            y0: f64::from(s.min.y),
            x1: f64::from(s.max.x),
            y1: f64::from(s.max.y),
        });
        n.set_selected(selected);
    });
}

/// The middle of element `id` on diagram `d`: its box, or for a flow the point between its ends.
fn drawn_centre(model: &Model, d: usize, id: &str) -> Option<Pos2> {
    let e = model.elements.iter().find(|e| e.id == id)?;
    if e.kind != Kind::Dataflow {
        return rect_of(model, d, id, e.kind).map(|r| r.center());
    }
    let end = |id: &Option<String>| {
        let id = id.as_deref()?;
        let k = model.elements.iter().find(|x| x.id == id)?.kind;
        rect_of(model, d, id, k).map(|r| r.center())
    };
    Some(end(&e.source)?.lerp(end(&e.sink)?, 0.5))
}

/// What a badge stands for: the element's open findings by severity.
fn badge_tooltip(app: &ThreatmapApp, id: &str) -> String {
    let Some(i) = app.doc.model.index_of(id) else { return String::new() };
    let a = app.element_analysis(i as u32);
    let mut by: Vec<(Severity, usize)> = Vec::new();
    for f in a.open_findings() {
        let s = a.severity(f);
        match by.iter_mut().find(|(x, _)| *x == s) {
            Some((_, n)) => *n += 1,
            None => by.push((s, 1)),
        }
    }
    by.sort_by_key(|x| std::cmp::Reverse(x.0));
    let total: usize = by.iter().map(|(_, n)| n).sum();
    let parts: Vec<String> = by.iter().map(|(s, n)| format!("{n} {}", s.name())).collect();
    format!(
        "{}: {total} open finding{} ({})\nClick to see them in the inspector",
        a.prepared.element(i as u32).name,
        if total == 1 { "" } else { "s" },
        parts.join(", ")
    )
}

/// Where things are, for one revision of the model: node rectangles by id, and the sideways
/// offsets of parallel flows. Built once per change, not per lookup.
#[derive(Debug, Default)]
pub struct Geometry {
    diagram: usize,
    nodes: std::collections::HashMap<String, (Kind, Rect)>,
    offsets: std::collections::HashMap<String, f32>,
    /// Each flow's drawn path, by element index (`None`: not a flow, or an end is not drawn).
    paths: Vec<Option<Vec<Pos2>>>,
}

impl Geometry {
    fn new(model: &Model, dg: usize) -> Geometry {
        let nodes = model
            .elements
            .iter()
            .filter(|e| e.kind.is_node())
            .filter_map(|e| Some((e.id.clone(), (e.kind, rect_of(model, dg, &e.id, e.kind)?))))
            .collect();
        let mut geo = Geometry { diagram: dg, nodes, offsets: parallel_offsets(model), paths: Vec::new() };
        geo.paths = model.elements.iter().map(|e| (e.kind == Kind::Dataflow).then(|| flow_path(model, e, &geo)).flatten()).collect();
        geo
    }

    /// The drawn path of the flow at element index `k`, in canvas units.
    fn path(&self, k: usize) -> Option<&[Pos2]> {
        self.paths.get(k)?.as_deref()
    }
}

/// The geometry of the current revision (rebuilt when the model changed).
fn geometry(app: &mut ThreatmapApp) -> std::sync::Arc<Geometry> {
    let rev = app.doc.revision();
    let dg = app.canvas.diagram;
    match &app.canvas.geometry {
        Some((r, g)) if *r == rev && g.diagram == dg => g.clone(),
        _ => {
            let g = std::sync::Arc::new(Geometry::new(&app.doc.model, dg));
            app.canvas.geometry = Some((rev, g.clone()));
            g
        }
    }
}

fn boundary_rects(model: &Model, dg: usize) -> Vec<(String, Rect)> {
    model
        .elements
        .iter()
        .filter(|e| e.kind == Kind::Boundary)
        .filter_map(|e| Some((e.id.clone(), rect_of(model, dg, &e.id, e.kind)?)))
        .collect()
}

/// Sideways offsets of flows that share their two ends (a request and its response), the same
/// as in exported drawings: flow id → offset in canvas units.
fn parallel_offsets(model: &Model) -> std::collections::HashMap<String, f32> {
    let index: std::collections::HashMap<&str, usize> = model.elements.iter().enumerate().map(|(k, e)| (e.id.as_str(), k)).collect();
    let flows: Vec<(&str, (usize, usize))> = model
        .elements
        .iter()
        .filter(|e| e.kind == Kind::Dataflow)
        .filter_map(|e| Some((e.id.as_str(), (*index.get(e.source.as_deref()?)?, *index.get(e.sink.as_deref()?)?))))
        .collect();
    let ends: Vec<(usize, usize)> = flows.iter().map(|(_, p)| *p).collect();
    let offsets = threatmap_render::layout::parallel_offsets(&ends);
    flows.iter().zip(offsets).filter(|(_, o)| *o != 0.0).map(|((id, _), o)| ((*id).to_owned(), o as f32)).collect()
}

/// A flow's drawn path in canvas units: border of the source, the waypoint if any, border of
/// the sink.
fn flow_path(model: &Model, flow: &threatmap_core::model::Element, geo: &Geometry) -> Option<Vec<Pos2>> {
    let offsets = &geo.offsets;
    let dg = geo.diagram;
    let find = |id: &Option<String>| geo.nodes.get(id.as_ref()?).copied();
    let (sk, sr) = find(&flow.source)?;
    let (tk, tr) = find(&flow.sink)?;
    let mut mid = document::waypoint(model, dg, &flow.id);
    if mid.is_none()
        && let Some(off) = offsets.get(&flow.id)
    {
        let d = tr.center() - sr.center();
        if d.length() > 1e-3 {
            let n = vec2(-d.y, d.x).normalized();
            mid = Some(sr.center().lerp(tr.center(), 0.5) + n * *off);
        }
    }
    if flow.source == flow.sink {
        let top = sr.center_top();
        let w = sr.width() / 4.0;
        return Some(vec![top + vec2(w - 8.0, 0.0), top + vec2(w - 8.0, -26.0), top + vec2(w + 16.0, -26.0), top + vec2(w + 16.0, 0.0)]);
    }
    let toward_s = mid.unwrap_or(tr.center());
    let toward_t = mid.unwrap_or(sr.center());
    let a = border_point(sk, sr, toward_s);
    let b = border_point(tk, tr, toward_t);
    Some(match mid {
        Some(m) => vec![a, m, b],
        None => vec![a, b],
    })
}

/// Where the ray from the centre of a node towards `to` leaves its outline.
fn border_point(kind: Kind, r: Rect, to: Pos2) -> Pos2 {
    let c = r.center();
    let d = to - c;
    if d.length() < 1e-3 {
        return c;
    }
    let (a, b) = (r.width() / 2.0, r.height() / 2.0);
    let t = match kind {
        Kind::Process | Kind::Server | Kind::SetOfProcesses => 1.0 / ((d.x / a).powi(2) + (d.y / b).powi(2)).sqrt(),
        _ => (a / d.x.abs().max(1e-6)).min(b / d.y.abs().max(1e-6)),
    };
    c + d * t.min(1.0)
}

fn dist_to_segment(p: Pos2, a: Pos2, b: Pos2) -> f32 {
    let ab = b - a;
    let t = if ab.length_sq() < 1e-6 { 0.0 } else { ((p - a).dot(ab) / ab.length_sq()).clamp(0.0, 1.0) };
    (a + ab * t - p).length()
}

fn hit_test(app: &ThreatmapApp, geo: &Geometry, screen: Pos2) -> Hit {
    let dg = app.canvas.diagram;
    let c = &app.canvas;
    let model = &app.doc.model;
    let p = c.canvas_from_screen(screen);
    let tol = 6.0 / c.zoom;
    // Badges are drawn on top of everything.
    if let Some((_, id)) = c.badge_hits.iter().rev().find(|(r, _)| r.contains(screen)) {
        return Hit::Badge(id.clone());
    }
    // Handles of the selection first, the last drawn on top (one pass over the model, however
    // much is selected).
    let chosen = model.elements.iter().enumerate().rev().filter(|(_, e)| !app.selection.is_empty() && app.selection.contains(&e.id));
    for (at, e) in chosen {
        let id = &e.id;
        match e.kind {
            Kind::Boundary => {
                if let Some(r) = rect_of(model, dg, id, e.kind) {
                    for (k, corner) in [r.left_top(), r.right_top(), r.right_bottom(), r.left_bottom()].iter().enumerate() {
                        if (*corner - p).length() <= tol * 1.5 {
                            return Hit::ResizeHandle(id.clone(), k);
                        }
                    }
                }
            }
            Kind::Dataflow => {
                if let Some(path) = geo.path(at) {
                    let mid = if path.len() == 3 { path[1] } else { path[0].lerp(path[path.len() - 1], 0.5) };
                    if (mid - p).length() <= tol * 1.5 {
                        return Hit::WaypointHandle(id.clone());
                    }
                }
            }
            _ => {}
        }
    }
    let nodes: Vec<(String, Kind, Rect)> = model
        .elements
        .iter()
        .filter(|e| e.kind.is_node())
        .filter_map(|e| geo.nodes.get(&e.id).map(|(k, r)| (e.id.clone(), *k, *r)))
        .collect();
    // Connection handles: a dot at the right of each node.
    for (id, _, r) in nodes.iter().rev() {
        if (connect_handle(*r) - p).length() <= tol * 1.4 && r.expand(24.0 / c.zoom).contains(p) {
            return Hit::ConnectHandle(id.clone());
        }
    }
    for (id, _, r) in nodes.iter().rev() {
        if r.contains(p) {
            return Hit::Node(id.clone());
        }
    }
    for (k, e) in model.elements.iter().enumerate().filter(|(_, e)| e.kind == Kind::Dataflow).rev() {
        if let Some(path) = geo.path(k)
            && path.windows(2).any(|w| dist_to_segment(p, w[0], w[1]) <= tol)
        {
            return Hit::Flow(e.id.clone());
        }
    }
    // Line boundaries: near the line.
    for e in model.elements.iter().filter(|e| e.kind == Kind::Boundary) {
        if let Some(points) = document::line_of(model, dg, &e.id)
            && points.windows(2).any(|w| dist_to_segment(p, w[0], w[1]) <= tol)
        {
            return Hit::Boundary(e.id.clone());
        }
    }
    // Boundaries: their border, or their label in the top-left corner (inside stays free for
    // rubber-band selection of what they contain).
    let mut bs = boundary_rects(model, dg);
    bs.sort_by(|a, b| a.1.area().total_cmp(&b.1.area()));
    for (id, r) in bs {
        let label = Rect::from_min_size(r.min, vec2(180.0f32.min(r.width()), 24.0));
        let on_border = r.expand(tol).contains(p) && !r.shrink(tol).contains(p);
        if on_border || label.contains(p) {
            return Hit::Boundary(id);
        }
    }
    Hit::Empty
}

/// Hit-tests with the current geometry.
fn hit(app: &mut ThreatmapApp, screen: Pos2) -> Hit {
    let geo = geometry(app);
    hit_test(app, &geo, screen)
}

fn connect_handle(r: Rect) -> Pos2 {
    r.right_center() + vec2(10.0, 0.0)
}

fn interact(ui: &egui::Ui, app: &mut ThreatmapApp, response: &egui::Response) {
    let dg = app.canvas.diagram;
    // Palette drops create elements where they land.
    if let Some(kind) = response.dnd_release_payload::<Kind>() {
        if let Some(pos) = ui.input(|i| i.pointer.interact_pos()) {
            let at = app.canvas.snap(app.canvas.canvas_from_screen(pos));
            let mut new_id = String::new();
            app.doc.edit(|m| new_id = document::add_element(m, dg, *kind, at));
            app.selection = BTreeSet::from([new_id]);
            app.status = format!("Added {}", kind.name());
        }
        return;
    }
    let pointer = ui.input(|i| i.pointer.interact_pos());
    let space = ui.input(|i| i.key_down(egui::Key::Space));
    let shift = ui.input(|i| i.modifiers.shift);

    if response.drag_started() {
        // Hit-test where the press happened, not where the pointer is once the drag registers.
        let Some(pos) = ui.input(|i| i.pointer.press_origin()).or(pointer) else { return };
        let middle = ui.input(|i| i.pointer.middle_down());
        let hit = if middle || space { Hit::Empty } else { hit(app, pos) };
        let p = app.canvas.canvas_from_screen(pos);
        let p = app.canvas.snap(p);
        app.canvas.drag = match hit {
            _ if middle || space => Drag::Pan,
            Hit::ResizeHandle(id, corner) => {
                let original = rect_of(&app.doc.model, dg, &id, Kind::Boundary).unwrap_or(Rect::NOTHING);
                app.doc.checkpoint();
                Drag::Resize { id, corner, original }
            }
            Hit::ConnectHandle(from) => Drag::Flow { from },
            Hit::WaypointHandle(id) => {
                app.doc.checkpoint();
                Drag::Waypoint { id }
            }
            Hit::Node(id) | Hit::Boundary(id) => {
                if !app.selection.contains(&id) {
                    if !shift {
                        app.selection.clear();
                    }
                    app.selection.insert(id);
                }
                let model = &app.doc.model;
                let ids = document::moving_with(model, dg, &app.selection);
                let originals: Vec<(String, Rect)> = ids
                    .iter()
                    .filter_map(|id| {
                        let e = model.elements.iter().find(|e| &e.id == id)?;
                        (e.kind != Kind::Dataflow).then_some(())?;
                        Some((id.clone(), rect_of(model, dg, id, e.kind)?))
                    })
                    .collect();
                // Waypoints of flows whose both ends move, move along.
                let waypoints = model
                    .elements
                    .iter()
                    .filter(|e| e.kind == Kind::Dataflow)
                    .filter(|e| e.source.as_ref().is_some_and(|s| ids.contains(s)) && e.sink.as_ref().is_some_and(|s| ids.contains(s)))
                    .filter_map(|e| Some((e.id.clone(), document::waypoint(model, dg, &e.id)?)))
                    .collect();
                let lines = app.selection.iter().filter_map(|id| Some((id.clone(), document::line_of(model, dg, id)?))).collect();
                app.doc.checkpoint();
                Drag::Move { start: p, originals, waypoints, lines }
            }
            Hit::Flow(id) | Hit::Badge(id) => {
                app.selection = BTreeSet::from([id]);
                Drag::None
            }
            Hit::Empty => {
                if !shift {
                    app.selection.clear();
                }
                Drag::Rubber { start: p }
            }
        };
    }

    if response.dragged() {
        let delta = response.drag_delta();
        let p = pointer.map(|s| app.canvas.canvas_from_screen(s));
        match app.canvas.drag.clone() {
            Drag::Pan => app.canvas.pan += delta,
            Drag::Move { start, originals, waypoints, lines } => {
                if let Some(p) = p {
                    let mut d = p - start;
                    if app.canvas.grid
                        && let Some((_, r0)) = originals.first()
                    {
                        d = app.canvas.snap(r0.min + d) - r0.min;
                    }
                    for (id, points) in &lines {
                        let moved: Vec<Pos2> = points.iter().map(|q| *q + d).collect();
                        document::set_line(&mut app.doc.model, dg, id, &moved);
                    }
                    for (id, r) in &originals {
                        set_rect(&mut app.doc.model, dg, id, r.translate(d));
                    }
                    for (id, w) in &waypoints {
                        document::set_waypoint(&mut app.doc.model, dg, id, *w + d);
                    }
                    app.doc.changed();
                }
            }
            Drag::Resize { id, corner, original } => {
                if let Some(p) = p {
                    let p = app.canvas.snap(p);
                    let mut r = original;
                    match corner {
                        0 => r.min = p,
                        1 => {
                            r.max.x = p.x;
                            r.min.y = p.y;
                        }
                        2 => r.max = p,
                        _ => {
                            r.min.x = p.x;
                            r.max.y = p.y;
                        }
                    }
                    let r = Rect::from_two_pos(r.min, r.max);
                    if r.width() >= 60.0 && r.height() >= 40.0 {
                        set_rect(&mut app.doc.model, dg, &id, r);
                        app.doc.changed();
                    }
                }
            }
            Drag::Waypoint { id } => {
                if let Some(p) = p {
                    document::set_waypoint(&mut app.doc.model, dg, &id, app.canvas.snap(p));
                    app.doc.changed();
                }
            }
            Drag::Rubber { .. } | Drag::Flow { .. } | Drag::None => {}
        }
    }

    if response.drag_stopped() {
        let drag = std::mem::take(&mut app.canvas.drag);
        let p = pointer.map(|s| app.canvas.canvas_from_screen(s));
        match drag {
            Drag::Move { .. } | Drag::Resize { .. } => {
                // Membership follows the drawing: what now lies inside a boundary is in it.
                document::sync_membership(&mut app.doc.model, dg);
                app.doc.end_step();
            }
            Drag::Waypoint { .. } => {
                app.doc.end_step();
            }
            Drag::Flow { from } => {
                if let Some(pos) = pointer
                    && let Hit::Node(to) | Hit::ConnectHandle(to) = hit(app, pos)
                    && to != from
                {
                    let mut id = String::new();
                    app.doc.edit(|m| id = document::add_flow(m, &from, &to));
                    app.selection = BTreeSet::from([id]);
                }
            }
            Drag::Rubber { start } => {
                if let Some(p) = p {
                    let area = Rect::from_two_pos(start, p);
                    let geo = geometry(app);
                    let model = &app.doc.model;
                    for (k, e) in model.elements.iter().enumerate() {
                        let inside = match e.kind {
                            Kind::Dataflow => geo.path(k).is_some_and(|path| path.iter().all(|q| area.contains(*q))),
                            k => rect_of(model, dg, &e.id, k).is_some_and(|r| area.contains_rect(r)),
                        };
                        if inside {
                            app.selection.insert(e.id.clone());
                        }
                    }
                }
            }
            Drag::Pan | Drag::None => {}
        }
    }

    if response.clicked()
        && let Some(pos) = pointer
    {
        let id = match hit(app, pos) {
            Hit::Node(id)
            | Hit::Boundary(id)
            | Hit::Flow(id)
            | Hit::ConnectHandle(id)
            | Hit::WaypointHandle(id)
            | Hit::ResizeHandle(id, _) => Some(id),
            Hit::Badge(id) => {
                app.show_findings_of = Some(id.clone());
                Some(id)
            }
            Hit::Empty => None,
        };
        match (id, shift) {
            (Some(id), true) => {
                if !app.selection.remove(&id) {
                    app.selection.insert(id);
                }
            }
            (Some(id), false) => app.selection = BTreeSet::from([id]),
            (None, false) => app.selection.clear(),
            (None, true) => {}
        }
    }
    if response.double_clicked()
        && let Some(Hit::Flow(id) | Hit::WaypointHandle(id)) = pointer.map(|pos| hit(app, pos))
    {
        // Double-click a flow to drop its waypoint (straighten it).
        app.doc.edit(|m| {
            m.layout_of_mut(dg).remove(&id);
        });
    }
}

fn ink(dark: bool) -> Color32 {
    if dark { Color32::from_gray(225) } else { Color32::from_rgb(31, 41, 55) }
}

/// Smallest text size on screen, in points: below it names would be unreadable, so text keeps
/// this size when zoomed out (a fitted real model stays legible), down to [`TEXT_HIDDEN_BELOW`].
const MIN_TEXT: f32 = 9.5;
/// The least zoom a model opens at: names stay legible inside their shapes; a larger drawing
/// opens on its start (Fit, Ctrl+0, shows all of it).
pub const OPENING_ZOOM: f32 = 0.6;
/// Below this zoom names are not drawn at all (overview of a large model).
const TEXT_HIDDEN_BELOW: f32 = 0.2;

/// Lays out a name to fit `max` (wrapped at words; what does not fit ends with "…"). A word
/// wider than the room makes the text smaller (to three quarters at most) rather than being
/// broken in two.
fn fitted_text(painter: &egui::Painter, text: &str, size: f32, color: Color32, max: Vec2) -> std::sync::Arc<egui::Galley> {
    // A name that fits on one line has no word too wide: one (cached) layout, not one per word.
    let whole = painter.layout_no_wrap(text.to_owned(), FontId::proportional(size), color).size().x;
    let widest = if whole <= max.x {
        whole
    } else {
        text.split_whitespace()
            .map(|w| painter.layout_no_wrap(w.to_owned(), FontId::proportional(size), color).size().x)
            .fold(0.0_f32, f32::max)
    };
    let size = if widest > max.x && widest > 0.0 { (size * max.x / widest).max(size * 0.75) } else { size };
    let mut job = egui::text::LayoutJob::simple(text.to_owned(), FontId::proportional(size), color, max.x.max(size * 2.0));
    let row = size * 1.25;
    job.wrap.max_rows = ((max.y / row).floor() as usize).max(1);
    job.wrap.overflow_character = Some('…');
    job.halign = egui::Align::Center;
    painter.layout_job(job)
}

/// Draws a galley centred on `c`.
fn galley_at(painter: &egui::Painter, c: Pos2, galley: std::sync::Arc<egui::Galley>, color: Color32) -> Rect {
    let pos = c - galley.rect.center().to_vec2();
    let r = galley.rect.translate(pos.to_vec2());
    painter.galley(pos, galley, color);
    r
}

/// The room for a name inside a node's outline.
fn text_room(kind: Kind, s: Rect, z: f32) -> Vec2 {
    let pad = 8.0 * z;
    match kind {
        Kind::Process | Kind::Server | Kind::SetOfProcesses => vec2(s.width() * 0.74 - pad, s.height() * 0.74 - pad),
        Kind::Llm | Kind::Agent => vec2(s.width() - s.height() - pad, s.height() - pad),
        _ => vec2(s.width() - 2.0 * pad, s.height() - pad),
    }
}

/// The point a fraction `t` of the way along a polyline (by length).
fn point_along(pts: &[Pos2], t: f32) -> Pos2 {
    let lengths: Vec<f32> = pts.windows(2).map(|w| (w[1] - w[0]).length()).collect();
    let mut left = lengths.iter().sum::<f32>() * t;
    for (w, l) in pts.windows(2).zip(&lengths) {
        if left <= *l && *l > 0.0 {
            return w[0].lerp(w[1], left / l);
        }
        left -= l;
    }
    pts.last().copied().unwrap_or(Pos2::ZERO)
}

/// Whether the segment from `a` to `b` passes through `r` (Liang–Barsky clipping).
fn segment_meets(a: Pos2, b: Pos2, r: Rect) -> bool {
    let d = b - a;
    let (mut t0, mut t1) = (0.0_f32, 1.0_f32);
    for (p, q) in [(-d.x, a.x - r.min.x), (d.x, r.max.x - a.x), (-d.y, a.y - r.min.y), (d.y, r.max.y - a.y)] {
        if p == 0.0 {
            if q < 0.0 {
                return false;
            }
        } else {
            let t = q / p;
            if p < 0.0 {
                t0 = t0.max(t);
            } else {
                t1 = t1.min(t);
            }
            if t0 > t1 {
                return false;
            }
        }
    }
    true
}

/// Where a badge goes: the first of `candidates` (top-left corners) that covers none of
/// `obstacles`, else the one covering least. Returns its rectangle.
fn place_badge(candidates: &[Pos2], size: Vec2, obstacles: &[Rect], forbidden: &[Rect]) -> Rect {
    let overlap = |r: &Rect| obstacles.iter().map(|o| o.intersect(*r)).filter(|i| i.is_positive()).map(|i| i.area()).sum::<f32>();
    let all: Vec<Rect> = candidates.iter().map(|c| Rect::from_min_size(*c, size)).collect();
    // Candidates on a forbidden spot (a connection handle) only if there is no other.
    let free: Vec<Rect> = all.iter().copied().filter(|r| !forbidden.iter().any(|f| f.intersects(*r))).collect();
    let rects = if free.is_empty() { all } else { free };
    rects.iter().find(|r| overlap(r) == 0.0).copied().unwrap_or_else(|| {
        rects.iter().copied().min_by(|a, b| overlap(a).total_cmp(&overlap(b))).unwrap_or(Rect::from_min_size(Pos2::ZERO, size))
    })
}

/// Screen rectangles of things drawn, with the element each belongs to.
type Hits = Vec<(Rect, String)>;

/// A flow label to place: the flow's id, its path on screen, its text, its badge.
type FlowLabel = (String, Vec<Pos2>, std::sync::Arc<egui::Galley>, Option<(String, Badge)>);

/// Paints the model; returns where each badge was drawn (screen rectangles and element ids),
/// so a click on a badge selects its element, and where each flow label was.
fn paint(ui: &egui::Ui, app: &ThreatmapApp, geo: &Geometry, painter: &egui::Painter, dark: bool) -> (Hits, Hits) {
    let dg = geo.diagram;
    let c = &app.canvas;
    let model = &app.doc.model;
    let z = c.zoom;
    let ink = ink(dark);
    let selected = Color32::from_rgb(37, 99, 235);
    let paper = if dark { Color32::from_gray(30) } else { Color32::WHITE };
    if c.grid && z >= 0.5 {
        let step = GRID * 4.0;
        let tl = c.canvas_from_screen(c.screen_rect.min);
        let br = c.canvas_from_screen(c.screen_rect.max);
        let dot = if dark { Color32::from_gray(60) } else { Color32::from_gray(215) };
        let mut x = (tl.x / step).floor() * step;
        while x <= br.x {
            let mut y = (tl.y / step).floor() * step;
            while y <= br.y {
                painter.circle_filled(c.screen_from_canvas(pos2(x, y)), 1.0, dot);
                y += step;
            }
            x += step;
        }
    }
    // Text keeps a legible size when zoomed out; below TEXT_HIDDEN_BELOW only shapes and
    // severity dots are drawn. What is off screen is not drawn at all.
    let text_size = |size: f32| (size * z).max(MIN_TEXT);
    let text_visible = z >= TEXT_HIDDEN_BELOW;
    let view = c.screen_rect.expand(40.0);
    let boundary_ink = if dark { Color32::from_rgb(248, 113, 113) } else { Color32::from_rgb(185, 28, 28) };
    let boundary_line = if dark { Color32::from_rgb(239, 68, 68) } else { Color32::from_rgb(220, 38, 38) };
    // Badges are placed last, clear of arrowheads, labels and other nodes.
    let mut obstacles: Vec<Rect> = Vec::new();
    let mut handles: Vec<Rect> = Vec::new();
    let mut badges: Vec<(String, Vec<Pos2>, Badge)> = Vec::new();
    // Boundaries, outermost first.
    let mut bs: Vec<(usize, &threatmap_core::model::Element, Rect)> = model
        .elements
        .iter()
        .enumerate()
        .filter(|(_, e)| e.kind == Kind::Boundary)
        .filter_map(|(k, e)| Some((k, e, rect_of(model, dg, &e.id, e.kind)?)))
        .collect();
    bs.sort_by(|a, b| b.2.area().total_cmp(&a.2.area()));
    for &(k, e, r) in &bs {
        let (id, name) = (&e.id, &e.name);
        let s = c.screen_rect_of(r);
        let is_sel = app.selection.contains(id);
        if !view.intersects(s) {
            continue;
        }
        accessible_element(ui, app, (k, e), s);
        let stroke = Stroke::new(if is_sel { 2.5 } else { 1.5 }, if is_sel { selected } else { boundary_line });
        dashed_rect(painter, s, stroke, 8.0 * z);
        if text_visible {
            let g = fitted_text(painter, name, text_size(12.0), boundary_ink, vec2(s.width() - 16.0, text_size(12.0) * 2.6));
            let w = g.rect.width();
            let label = galley_at(painter, s.min + vec2(8.0 + w / 2.0, 5.0 + g.rect.height() / 2.0), g, boundary_ink);
            // Flow labels and badges keep clear of a boundary's name.
            obstacles.push(label.expand(2.0));
            if let Some(b) = app.cache.badge(k) {
                badges.push((id.clone(), vec![pos2(label.max.x + 6.0, label.min.y - 1.0)], *b));
            }
        }
        if is_sel {
            for corner in [s.left_top(), s.right_top(), s.right_bottom(), s.left_bottom()] {
                painter.rect(
                    Rect::from_center_size(corner, vec2(8.0, 8.0)),
                    1.0,
                    Color32::WHITE,
                    Stroke::new(1.5, selected),
                    StrokeKind::Middle,
                );
            }
        }
    }
    // Line boundaries. Each label goes by the line's highest point not already taken by
    // another line's label (Threat Dragon models often start several lines near one spot).
    let mut line_labels: Vec<Rect> = Vec::new();
    for (k, e) in model.elements.iter().enumerate().filter(|(_, e)| e.kind == Kind::Boundary) {
        let Some(points) = document::line_of(model, dg, &e.id) else { continue };
        let pts: Vec<Pos2> = points.iter().map(|q| c.screen_from_canvas(*q)).collect();
        if !view.intersects(Rect::from_points(&pts)) {
            continue;
        }
        let is_sel = app.selection.contains(&e.id);
        let stroke = Stroke::new(if is_sel { 2.5 } else { 1.5 }, if is_sel { selected } else { boundary_line });
        painter.extend(Shape::dashed_line(&pts, stroke, 7.0, 4.0));
        if text_visible {
            let g = fitted_text(painter, &e.name, text_size(12.0), boundary_ink, vec2(220.0, text_size(12.0) * 2.6));
            let mut spots: Vec<Pos2> = pts.clone();
            spots.sort_by(|a, b| a.y.total_cmp(&b.y));
            let at = |p: Pos2| Rect::from_min_size(p + vec2(6.0, 4.0), g.rect.size());
            let free = spots.iter().copied().find(|p| !line_labels.iter().any(|r| r.expand(2.0).intersects(at(*p))));
            let spot = at(free.unwrap_or(spots[0]));
            line_labels.push(spot);
            let label = galley_at(painter, spot.center(), g, boundary_ink);
            obstacles.push(label.expand(2.0));
            if let Some(bd) = app.cache.badge(k) {
                badges.push((e.id.clone(), vec![pos2(label.max.x + 6.0, label.min.y - 1.0)], *bd));
            }
        }
    }
    // Flows: lines and arrowheads now, labels after the nodes (so no node hides them).
    let mut labels: Vec<FlowLabel> = Vec::new();
    for (k, e) in model.elements.iter().enumerate().filter(|(_, e)| e.kind == Kind::Dataflow) {
        let Some(path) = geo.path(k) else { continue };
        let pts: Vec<Pos2> = path.iter().map(|p| c.screen_from_canvas(*p)).collect();
        // A long flow's box covers much it does not pass through: test its segments.
        if !pts.windows(2).any(|w| segment_meets(w[0], w[1], view)) {
            continue;
        }
        let is_sel = app.selection.contains(&e.id);
        let color = if is_sel {
            selected
        } else if e.in_scope() {
            ink
        } else {
            Color32::GRAY
        };
        let stroke = Stroke::new(if is_sel { 2.5 } else { 1.4 }, color);
        painter.add(Shape::line(pts.clone(), stroke));
        let n = pts.len();
        let head = arrow_head(painter, pts[n - 2], pts[n - 1], color, z);
        if view.intersects(head) {
            obstacles.push(head);
        }
        if e.response_to.is_some() {
            // Responses: a small ring at the start marks the pair.
            painter.circle_stroke(pts[0], 3.0 * z.max(0.5), Stroke::new(1.2, color));
        }
        let mid = if n == 3 { pts[1] } else { pts[0].lerp(pts[n - 1], 0.5) };
        if text_visible {
            let label = threatmap_render::dfd::numbered_name(app.cache.numbers.get(k).copied().flatten(), &e.name);
            let g = fitted_text(painter, &label, text_size(11.0), ink, vec2(170.0 * z.max(0.7), text_size(11.0) * 3.8));
            labels.push((e.id.clone(), pts.clone(), g, app.cache.badge(k).map(|b| (e.id.clone(), *b))));
        } else if let Some(b) = app.cache.badge(k) {
            marker_dot(painter, mid, b);
        }
        if is_sel {
            painter.circle(mid, 5.0, Color32::WHITE, Stroke::new(1.5, selected));
        }
    }
    // Nodes.
    let hover = ui.input(|i| i.pointer.hover_pos());
    for (k, e) in model.elements.iter().enumerate().filter(|(_, e)| e.kind.is_node()) {
        let Some(&(_, r)) = geo.nodes.get(&e.id) else { continue };
        let s = c.screen_rect_of(r);
        if !view.intersects(s) {
            continue;
        }
        obstacles.push(s);
        // Badges keep clear of the node's connection handle, which starts a flow.
        handles.push(Rect::from_center_size(c.screen_from_canvas(connect_handle(r)), Vec2::splat(16.0)));
        let is_sel = app.selection.contains(&e.id);
        let fill = if e.in_scope() {
            paper
        } else if dark {
            Color32::from_gray(45)
        } else {
            Color32::from_gray(243)
        };
        let stroke_color = if !e.in_scope() { Color32::GRAY } else { ink };
        let stroke = Stroke::new(1.6, stroke_color);
        node_shape(painter, e.kind, s, fill, stroke, z);
        accessible_element(ui, app, (k, e), s);
        if is_sel {
            painter.rect_stroke(s.expand(4.0), 4.0, Stroke::new(2.0, selected), StrokeKind::Outside);
        }
        if text_visible {
            let color = if e.in_scope() { ink } else { Color32::GRAY };
            let room = text_room(e.kind, s, z);
            // Names stay inside their shapes (wrapped, then cut with "…"), so neighbours'
            // names never run into each other; at least one line shows.
            let room = vec2(room.x, room.y.max(text_size(13.0) * 1.3));
            let g = fitted_text(painter, &e.name, text_size(13.0), color, room);
            galley_at(painter, s.center(), g, color);
            if let Some(b) = app.cache.badge(k) {
                let w = badge_width(b, z);
                let h = badge_height(z);
                badges.push((
                    e.id.clone(),
                    vec![
                        pos2(s.max.x - w + 6.0 * z, s.min.y - h * 0.55),
                        pos2(s.min.x - 6.0 * z, s.min.y - h * 0.55),
                        pos2(s.max.x - w + 6.0 * z, s.max.y - h * 0.45),
                        pos2(s.min.x - 6.0 * z, s.max.y - h * 0.45),
                        pos2(s.max.x + 4.0, s.center().y - h - 4.0),
                    ],
                    *b,
                ));
            }
        } else if let Some(b) = app.cache.badge(k) {
            marker_dot(painter, s.right_top(), b);
        }
        // Connection handle on hover or selection.
        let near = hover.is_some_and(|h| s.expand(24.0).contains(h));
        if is_sel || near {
            let h = c.screen_from_canvas(connect_handle(r));
            painter.circle(h, 5.0, Color32::WHITE, Stroke::new(1.5, selected));
        }
    }
    // Flow labels on a paper background, above lines and nodes: each at the first spot along
    // its flow (the middle, then outwards) that covers no node, arrowhead or earlier label.
    let mut label_hits = Vec::new();
    for (id, pts, g, badge) in labels {
        let size = g.rect.size() + vec2(6.0, 2.0);
        let lift = vec2(0.0, g.rect.height() / 2.0 + 3.0 * z.max(0.5));
        let spots: Vec<Rect> =
            [0.5, 0.38, 0.62, 0.28, 0.72, 0.2, 0.8].iter().map(|t| Rect::from_center_size(point_along(&pts, *t) - lift, size)).collect();
        // A flow that only passes through the window has its label elsewhere.
        if !spots.iter().any(|r| view.intersects(*r)) {
            continue;
        }
        let r = spots.iter().copied().find(|r| !obstacles.iter().any(|o| o.intersects(*r))).unwrap_or(spots[0]);
        let centre = r.center();
        label_hits.push((r, id.clone()));
        painter.rect_filled(r, 3.0, paper.gamma_multiply(0.92));
        galley_at(painter, centre, g, ink);
        obstacles.push(r);
        if let Some((id, b)) = badge {
            let h = badge_height(z);
            let w = badge_width(&b, z);
            badges.push((
                id,
                vec![
                    pos2(r.max.x + 4.0, r.center().y - h / 2.0),
                    pos2(r.min.x - 4.0 - w, r.center().y - h / 2.0),
                    pos2(r.center().x - w / 2.0, r.min.y - h - 2.0),
                    pos2(r.center().x - w / 2.0, r.max.y + 2.0),
                ],
                b,
            ));
        }
    }
    // Badges last: never hidden behind a node, never on an arrowhead or a label if avoidable.
    let mut hits = Vec::new();
    for (id, candidates, b) in badges {
        let r = place_badge(&candidates, vec2(badge_width(&b, z), badge_height(z)), &obstacles, &handles);
        badge(painter, r.min, &b, z, dark);
        obstacles.push(r);
        hits.push((r, id));
    }
    // Gesture feedback.
    if let Some(p) = ui.input(|i| i.pointer.interact_pos()) {
        match &c.drag {
            Drag::Flow { from } => {
                if let Some(e) = model.elements.iter().find(|e| &e.id == from)
                    && let Some(r) = rect_of(model, dg, from, e.kind)
                {
                    let a = c.screen_from_canvas(connect_handle(r));
                    painter.line_segment([a, p], Stroke::new(1.5, selected));
                    arrow_head(painter, a, p, selected, z);
                }
            }
            Drag::Rubber { start } => {
                let a = c.screen_from_canvas(*start);
                let r = Rect::from_two_pos(a, p);
                painter.rect(r, 0.0, selected.gamma_multiply(0.08), Stroke::new(1.0, selected), StrokeKind::Inside);
            }
            _ => {}
        }
    }
    if model.elements.is_empty() {
        painter.text(
            c.screen_rect.center(),
            Align2::CENTER_CENTER,
            "Drag elements from the palette onto the canvas.\nDrag from a node's blue handle to another node to draw a dataflow.",
            FontId::proportional(15.0),
            Color32::GRAY,
        );
    }
    (hits, label_hits)
}

fn dashed_rect(painter: &egui::Painter, r: Rect, stroke: Stroke, radius: f32) {
    let k = radius.min(r.width() / 4.0).min(r.height() / 4.0);
    let mut pts = Vec::new();
    let arc = |c: Pos2, a0: f32, pts: &mut Vec<Pos2>| {
        for i in 0..=6 {
            let a = a0 + std::f32::consts::FRAC_PI_2 * i as f32 / 6.0;
            pts.push(c + vec2(a.cos(), a.sin()) * k);
        }
    };
    use std::f32::consts::PI;
    arc(pos2(r.max.x - k, r.min.y + k), -PI / 2.0, &mut pts);
    arc(pos2(r.max.x - k, r.max.y - k), 0.0, &mut pts);
    arc(pos2(r.min.x + k, r.max.y - k), PI / 2.0, &mut pts);
    arc(pos2(r.min.x + k, r.min.y + k), PI, &mut pts);
    pts.push(pts[0]);
    painter.extend(Shape::dashed_line(&pts, stroke, 7.0, 4.0));
}

/// Draws an arrowhead at `to`; returns the area it covers.
fn arrow_head(painter: &egui::Painter, from: Pos2, to: Pos2, color: Color32, zoom: f32) -> Rect {
    let d = to - from;
    if d.length() < 1e-3 {
        return Rect::from_center_size(to, Vec2::ZERO);
    }
    let dir = d.normalized();
    let size = 9.0 * zoom.clamp(0.5, 2.0);
    let back = to - dir * size;
    let n = vec2(-dir.y, dir.x) * size * 0.45;
    painter.add(Shape::convex_polygon(vec![to, back + n, back - n], color, Stroke::NONE));
    Rect::from_points(&[to, back + n, back - n]).expand(2.0)
}

/// The outline of a node kind, as in the render crate's SVG.
pub fn node_shape(painter: &egui::Painter, kind: Kind, r: Rect, fill: Color32, stroke: Stroke, zoom: f32) {
    match kind {
        Kind::Process | Kind::Server => {
            painter.add(Shape::ellipse_filled(r.center(), r.size() / 2.0, fill));
            painter.add(Shape::ellipse_stroke(r.center(), r.size() / 2.0, stroke));
        }
        Kind::SetOfProcesses => {
            painter.add(Shape::ellipse_filled(r.center(), r.size() / 2.0, fill));
            painter.add(Shape::ellipse_stroke(r.center(), r.size() / 2.0, stroke));
            painter.add(Shape::ellipse_stroke(r.center(), r.size() / 2.0 - vec2(5.0, 5.0) * zoom, stroke));
        }
        Kind::Datastore => {
            painter.rect_filled(r, 0.0, fill);
            painter.line_segment([r.left_top(), r.right_top()], stroke);
            painter.line_segment([r.left_bottom(), r.right_bottom()], stroke);
        }
        Kind::Lambda => {
            painter.rect(r, CornerRadius::same((14.0 * zoom).clamp(1.0, 60.0) as u8), fill, stroke, StrokeKind::Middle);
        }
        Kind::Llm | Kind::Agent => {
            let i = (r.height() / 2.0).min(r.width() / 4.0);
            let pts = vec![
                pos2(r.min.x + i, r.min.y),
                pos2(r.max.x - i, r.min.y),
                pos2(r.max.x, r.center().y),
                pos2(r.max.x - i, r.max.y),
                pos2(r.min.x + i, r.max.y),
                pos2(r.min.x, r.center().y),
            ];
            painter.add(Shape::convex_polygon(pts, fill, stroke));
        }
        _ => {
            painter.rect(r, 0.0, fill, stroke, StrokeKind::Middle);
        }
    }
}

/// A badge reduced to a small severity-coloured dot, for zoomed-out overviews.
fn marker_dot(painter: &egui::Painter, at: Pos2, b: &Badge) {
    painter.circle_filled(at, 2.5, hex_color(severity_style(b.worst).0));
}

/// A `#rrggbb` colour of the render crate's palette as an egui colour.
pub fn hex_color(h: &str) -> Color32 {
    let v = u32::from_str_radix(h.trim_start_matches('#'), 16).unwrap_or(0);
    Color32::from_rgb((v >> 16) as u8, (v >> 8) as u8, v as u8)
}

/// The scale of badges at a zoom: they never shrink below their legible size.
fn badge_scale(zoom: f32) -> f32 {
    zoom.clamp(1.0, 1.5)
}

fn badge_width(b: &Badge, zoom: f32) -> f32 {
    (16.0 + 3.0 + 8.0 + 7.0 * b.count.to_string().len() as f32) * badge_scale(zoom)
}

fn badge_height(zoom: f32) -> f32 {
    16.0 * badge_scale(zoom)
}

/// A finding badge: the severity marker (shape and letter) and the open-finding count. On a
/// dark canvas the marker gets a light outline so dark reds stay visible.
pub fn badge(painter: &egui::Painter, at: Pos2, b: &Badge, zoom: f32, dark: bool) {
    let s = badge_scale(zoom);
    let (fill, fg, letter) = severity_style(b.worst);
    let (fill, fg) = (hex_color(fill), hex_color(fg));
    let r = 8.0 * s;
    let c = at + vec2(r, r);
    let outline = if dark { Stroke::new(1.4, Color32::from_gray(235)) } else { Stroke::new(0.8, Color32::from_rgb(17, 24, 39)) };
    let poly = |pts: &[(f32, f32)]| pts.iter().map(|(x, y)| c + vec2(*x, *y) * r).collect::<Vec<Pos2>>();
    match b.worst {
        Severity::VeryHigh => {
            let k = 0.414;
            painter.add(Shape::convex_polygon(
                poly(&[(-k, -1.0), (k, -1.0), (1.0, -k), (1.0, k), (k, 1.0), (-k, 1.0), (-1.0, k), (-1.0, -k)]),
                fill,
                outline,
            ));
        }
        Severity::High => {
            painter.add(Shape::convex_polygon(poly(&[(0.0, -1.1), (1.15, 0.95), (-1.15, 0.95)]), fill, outline));
        }
        Severity::Medium => {
            painter.add(Shape::convex_polygon(poly(&[(0.0, -1.1), (1.1, 0.0), (0.0, 1.1), (-1.1, 0.0)]), fill, outline));
        }
        Severity::Low => {
            painter.circle(c, r, fill, outline);
        }
        Severity::VeryLow => {
            painter.circle(c, r - 1.0, Color32::WHITE, Stroke::new(2.0, fill));
        }
        Severity::Info => {
            painter.rect(Rect::from_center_size(c, vec2(2.0 * r, 2.0 * r)), 0.0, fill, outline, StrokeKind::Middle);
        }
    }
    let fg = if b.worst == Severity::VeryLow { fill } else { fg };
    let ls = if letter.len() > 1 { 8.0 } else { 10.0 } * s;
    painter.text(
        c + vec2(0.0, if b.worst == Severity::High { 1.5 * s } else { 0.0 }),
        Align2::CENTER_CENTER,
        letter,
        FontId::proportional(ls),
        fg,
    );
    let count = b.count.to_string();
    let w = 8.0 * s + 7.0 * s * count.len() as f32;
    let pill = Rect::from_min_size(at + vec2(2.0 * r + 3.0 * s, 2.0 * s), vec2(w, 2.0 * r - 4.0 * s));
    painter.rect(pill, 6.0 * s, Color32::WHITE, Stroke::new(0.8, Color32::from_gray(107)), StrokeKind::Middle);
    painter.text(pill.center(), Align2::CENTER_CENTER, count, FontId::proportional(10.0 * s), Color32::from_rgb(17, 24, 39));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_segment_meets_a_rectangle_only_where_it_passes_through() {
        let r = Rect::from_min_max(pos2(0.0, 0.0), pos2(10.0, 10.0));
        // Through the middle, one end inside, along an edge.
        assert!(segment_meets(pos2(-5.0, 5.0), pos2(15.0, 5.0), r));
        assert!(segment_meets(pos2(5.0, 5.0), pos2(50.0, 80.0), r));
        assert!(segment_meets(pos2(0.0, -5.0), pos2(0.0, 20.0), r));
        // A diagonal whose box covers the rectangle but which passes beside its corner.
        assert!(!segment_meets(pos2(-20.0, 5.0), pos2(5.0, -20.0), r));
        assert!(segment_meets(pos2(-20.0, 25.0), pos2(25.0, -20.0), r));
        // Wholly to one side, and a point outside.
        assert!(!segment_meets(pos2(11.0, -5.0), pos2(11.0, 20.0), r));
        assert!(!segment_meets(pos2(20.0, 20.0), pos2(20.0, 20.0), r));
    }
}
