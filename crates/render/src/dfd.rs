//! The data-flow diagram: what it shows (the [`Scene`], shared with the app's canvas), how it
//! is laid out, and its SVG drawing.

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;

use threatmap_core::attr::{Kind, Value};
use threatmap_core::engine::Analysis;
use threatmap_core::model::ElementAttr;
use threatmap_core::rules::Severity;

use crate::font::{self, Face};
use crate::layout::{self, Graph, GraphCluster, GraphEdge, GraphNode, Layout, Point, Rect, RouteStyle, Size};
use crate::svg::{Anchor, Svg, esc, lines_width, num};

/// What to draw.
#[derive(Clone, Debug, Default)]
pub struct DfdOptions {
    /// Only elements on these levels (pytm's `--levels`); empty draws everything.
    pub levels: BTreeSet<u32>,
    /// Colour elements and flows by their worst finding (pytm's `--colormap`).
    pub colormap: bool,
    /// Draw finding badges.
    pub badges: bool,
    /// Ignore positions stored in the model and lay it out automatically.
    pub auto_layout: bool,
    /// Draw one diagram of the model: what it shows, where it places it. `None` draws every
    /// element (pytm's view of a model), placed as a single-diagram model places them.
    pub diagram: Option<usize>,
}

/// Open findings on an element or flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Badge {
    /// How many.
    pub count: usize,
    /// The worst severity among them.
    pub worst: Severity,
}

/// A node of the diagram.
#[derive(Clone, Debug)]
pub struct SceneNode {
    /// Index of the element in the model.
    pub element: u32,
    /// Its kind.
    pub kind: Kind,
    /// Label lines.
    pub lines: Vec<String>,
    /// False if the element is out of scope (drawn grey).
    pub in_scope: bool,
    /// Findings on it.
    pub badge: Option<Badge>,
    /// pytm's element severity (0..5, the worst finding's), for the colour map.
    pub score: u8,
    /// Drawn size.
    pub size: Size,
}

/// A trust boundary of the diagram.
#[derive(Clone, Debug)]
pub struct SceneBoundary {
    /// Index of the element in the model.
    pub element: u32,
    /// Its name.
    pub name: String,
    /// Index of the enclosing boundary in [`Scene::boundaries`].
    pub parent: Option<usize>,
    /// Findings on it.
    pub badge: Option<Badge>,
}

/// A drawn flow (a request and its merged response share one edge).
#[derive(Clone, Debug)]
pub struct SceneEdge {
    /// Index of the flow in the model.
    pub element: u32,
    /// The merged response flow, drawn as the same double-headed edge.
    pub response: Option<u32>,
    /// Source and target in [`Scene::nodes`].
    pub from: usize,
    /// Target.
    pub to: usize,
    /// Label lines.
    pub lines: Vec<String>,
    /// Findings on the flow (and its merged response).
    pub badge: Option<Badge>,
    /// Worst finding severity score, for the colour map.
    pub score: u8,
    /// Out of scope.
    pub in_scope: bool,
}

/// Everything the DFD shows, independent of where it is drawn.
#[derive(Clone, Debug, Default)]
pub struct Scene {
    /// Nodes.
    pub nodes: Vec<SceneNode>,
    /// Boundaries.
    pub boundaries: Vec<SceneBoundary>,
    /// Line boundaries (drawn as a line where the model places them; they contain nothing).
    pub lines: Vec<SceneBoundary>,
    /// Edges.
    pub edges: Vec<SceneEdge>,
}

/// Font size of node labels.
pub const NODE_FONT: f64 = 13.0;
/// Font size of flow labels.
pub const EDGE_FONT: f64 = 11.0;
/// Font size of boundary labels.
pub const BOUNDARY_FONT: f64 = 12.0;
const NODE_TEXT_WIDTH: f64 = 140.0;
const EDGE_TEXT_WIDTH: f64 = 150.0;
const BADGE_H: f64 = 16.0;

/// A flow's display name: `(n) name` when it has an order.
pub fn display_name(analysis: &Analysis<'_>, i: u32) -> String {
    numbered_name(flow_number(analysis, i), &analysis.prepared.element(i).name)
}

/// The number a flow is drawn with (its `order`, or its place in an ordered model), if any.
pub fn flow_number(analysis: &Analysis<'_>, i: u32) -> Option<i64> {
    match analysis.prepared.attr(i, ElementAttr::order) {
        Ok(Value::Int(n)) if n != -1 => Some(n),
        _ => None,
    }
}

/// A flow's name as drawn: `(n) name` with a number, else the name.
pub fn numbered_name(number: Option<i64>, name: &str) -> String {
    match number {
        Some(n) => format!("({n}) {name}"),
        None => name.to_owned(),
    }
}

/// An element's levels (pytm default: level 0).
pub fn levels_of(analysis: &Analysis<'_>, i: u32) -> Vec<u32> {
    match analysis.prepared.attr(i, ElementAttr::levels) {
        Ok(Value::Levels(l)) => l.to_vec(),
        _ => vec![0],
    }
}

/// Open findings per element (decided ones do not count): count and worst severity, by
/// element index.
pub fn badges(analysis: &Analysis<'_>) -> Vec<Option<Badge>> {
    // Findings come element by element: count into a slot per element, not a map lookup per
    // finding; the severity of a rule without overrides in reach is the rule's.
    let p = &analysis.prepared;
    let mut per: Vec<Option<Badge>> = vec![None; p.model().elements.len()];
    for f in analysis.open_findings() {
        let s = analysis.severity(f);
        if let Some(slot) = per.get_mut(f.element as usize) {
            let b = slot.get_or_insert(Badge { count: 0, worst: s });
            b.count += 1;
            b.worst = b.worst.max(s);
        }
    }
    per
}

fn merge(a: Option<Badge>, b: Option<Badge>) -> Option<Badge> {
    match (a, b) {
        (Some(a), Some(b)) => Some(Badge { count: a.count + b.count, worst: a.worst.max(b.worst) }),
        (a, None) => a,
        (None, b) => b,
    }
}

impl Scene {
    /// Builds the scene for an analysed model.
    pub fn build(analysis: &Analysis<'_>, opts: &DfdOptions) -> Scene {
        let p = &analysis.prepared;
        let model = p.model();
        let badges = badges(analysis);
        let badge_of = |i: u32| badges.get(i as usize).copied().flatten();
        let shown = opts.diagram.filter(|_| !model.diagrams.is_empty()).map(|d| model.shown_on(d));
        let on_diagram = |i: u32| shown.as_ref().is_none_or(|s| s[i as usize]);
        let on_level = |i: u32| on_diagram(i) && (opts.levels.is_empty() || levels_of(analysis, i).iter().any(|l| opts.levels.contains(l)));
        let layout = model.layout_of(opts.diagram.unwrap_or(0));
        let mut scene = Scene::default();
        let mut node_of: HashMap<u32, usize> = HashMap::new();
        let mut boundary_of: HashMap<u32, usize> = HashMap::new();
        for (i, e) in model.elements.iter().enumerate() {
            if e.kind == Kind::Boundary && !on_diagram(i as u32) {
                continue;
            }
            if e.kind == Kind::Boundary && layout.get(&e.id).is_some_and(|p| !p.line.is_empty()) {
                let badge = badge_of(i as u32);
                scene.lines.push(SceneBoundary { element: i as u32, name: e.name.clone(), parent: None, badge });
            } else if e.kind == Kind::Boundary {
                boundary_of.insert(i as u32, scene.boundaries.len());
                scene.boundaries.push(SceneBoundary { element: i as u32, name: e.name.clone(), parent: None, badge: badge_of(i as u32) });
            }
        }
        for b in 0..scene.boundaries.len() {
            let el = scene.boundaries[b].element;
            scene.boundaries[b].parent = p.boundary_of(el).and_then(|x| boundary_of.get(&x).copied());
        }
        // Which nodes are drawn: those on the levels, plus endpoints of drawn flows.
        let mut drawn: BTreeSet<u32> = BTreeSet::new();
        let mut flows: Vec<u32> = Vec::new();
        let merged: BTreeSet<u32> = if model.merge_responses {
            (0..model.elements.len() as u32)
                .filter(|&i| model.elements[i as usize].kind == Kind::Dataflow)
                .filter_map(|i| p.response_pair(i).0)
                .collect()
        } else {
            BTreeSet::new()
        };
        for (i, e) in model.elements.iter().enumerate() {
            let i = i as u32;
            match e.kind {
                Kind::Boundary => {}
                Kind::Dataflow => {
                    let Some((s, t)) = p.endpoints(i) else { continue };
                    if merged.contains(&i) {
                        continue;
                    }
                    if on_level(i) || (on_level(s) && on_level(t)) {
                        flows.push(i);
                        drawn.insert(s);
                        drawn.insert(t);
                    }
                }
                _ => {
                    if on_level(i) {
                        drawn.insert(i);
                    }
                }
            }
        }
        for &i in &drawn {
            let e = p.element(i);
            let lines = font::wrap(&e.name, NODE_TEXT_WIDTH, NODE_FONT, Face::Regular);
            let badge = badge_of(i);
            let size = node_size(e.kind, &lines, opts.badges && badge.is_some());
            node_of.insert(i, scene.nodes.len());
            scene.nodes.push(SceneNode {
                element: i,
                kind: e.kind,
                lines,
                in_scope: e.in_scope(),
                badge,
                score: badge.map_or(0, |b| b.worst as u8),
                size,
            });
        }
        for i in flows {
            let Some((s, t)) = p.endpoints(i) else { continue };
            let (Some(&from), Some(&to)) = (node_of.get(&s), node_of.get(&t)) else { continue };
            let response = if model.merge_responses { p.response_pair(i).0 } else { None };
            let mut lines = font::wrap(&display_name(analysis, i), EDGE_TEXT_WIDTH, EDGE_FONT, Face::Regular);
            if let Some(r) = response {
                lines.extend(font::wrap(&display_name(analysis, r), EDGE_TEXT_WIDTH, EDGE_FONT, Face::Regular));
            }
            let badge = merge(badge_of(i), response.and_then(badge_of));
            scene.edges.push(SceneEdge {
                element: i,
                response,
                from,
                to,
                lines,
                badge,
                score: badge.map_or(0, |b| b.worst as u8),
                in_scope: p.element(i).in_scope(),
            });
        }
        scene
    }

    /// The layout graph of the scene.
    pub fn graph(&self, opts: &DfdOptions) -> Graph {
        Graph {
            nodes: self.nodes.iter().map(|n| GraphNode { size: n.size, cluster: None }).collect(),
            clusters: self
                .boundaries
                .iter()
                .map(|b| GraphCluster { parent: b.parent, label: boundary_label_size(&b.name, opts.badges && b.badge.is_some()) })
                .collect(),
            edges: self
                .edges
                .iter()
                .map(|e| GraphEdge { from: e.from, to: e.to, label: Some(edge_label_size(&e.lines, opts.badges && e.badge.is_some())) })
                .collect(),
        }
    }
}

fn badge_width(b: &Badge) -> f64 {
    let count = b.count.to_string();
    BADGE_H + 2.0 + font::text_width(&count, 10.0, Face::Bold) + 8.0
}

fn node_size(kind: Kind, lines: &[String], badge: bool) -> Size {
    let tw = lines_width(lines, NODE_FONT, Face::Regular).max(24.0);
    let th = lines.len().max(1) as f64 * 16.0;
    let extra = if badge { 14.0 } else { 0.0 };
    let s = match kind {
        Kind::Process | Kind::Server => Size { w: tw * 1.25 + 30.0, h: th * 1.3 + 30.0 },
        Kind::SetOfProcesses => Size { w: tw * 1.25 + 40.0, h: th * 1.3 + 40.0 },
        Kind::Llm | Kind::Agent => Size { w: tw + 52.0, h: th + 28.0 },
        Kind::Datastore => Size { w: tw + 32.0, h: th + 26.0 },
        _ => Size { w: tw + 28.0, h: th + 24.0 },
    };
    Size { w: s.w.max(96.0), h: (s.h + extra).max(48.0) }
}

fn boundary_label_size(name: &str, badge: bool) -> Size {
    let w = font::text_width(name, BOUNDARY_FONT, Face::Regular) * 1.05 + if badge { 60.0 } else { 0.0 };
    Size { w: w.min(360.0), h: 18.0 }
}

fn edge_label_size(lines: &[String], badge: bool) -> Size {
    let w = lines_width(lines, EDGE_FONT, Face::Regular);
    let h = lines.len().max(1) as f64 * 13.0 + 2.0;
    if badge { Size { w: w + 50.0, h: h.max(BADGE_H + 2.0) } } else { Size { w: w + 4.0, h } }
}

/// A scene with its layout.
#[derive(Clone, Debug)]
pub struct Diagram {
    /// What is drawn.
    pub scene: Scene,
    /// Where.
    pub layout: Layout,
    /// The layout graph (for measurements).
    pub graph: Graph,
    /// Options it was made with.
    pub options: DfdOptions,
    /// Title.
    pub title: String,
}

impl Diagram {
    /// Builds and lays out the DFD of an analysed model. Positions stored in the model are kept
    /// when every drawn node has one (unless `auto_layout` is set).
    pub fn new(analysis: &Analysis<'_>, opts: &DfdOptions) -> Diagram {
        let scene = Scene::build(analysis, opts);
        let mut graph = scene.graph(opts);
        let model = analysis.prepared.model();
        let bidx: HashMap<u32, usize> = scene.boundaries.iter().enumerate().map(|(k, b)| (b.element, k)).collect();
        for (k, n) in scene.nodes.iter().enumerate() {
            graph.nodes[k].cluster = analysis.prepared.boundary_of(n.element).and_then(|b| bidx.get(&b).copied());
        }
        let layout_of = model.layout_of(opts.diagram.unwrap_or(0));
        let placed = |el: u32| layout_of.get(&model.elements[el as usize].id);
        let use_positions = !opts.auto_layout && !scene.nodes.is_empty() && scene.nodes.iter().all(|n| placed(n.element).is_some());
        let layout = if use_positions {
            let centers: Vec<Point> = scene
                .nodes
                .iter()
                .enumerate()
                .map(|(k, n)| {
                    let pl = placed(n.element).cloned().unwrap_or_default();
                    if let (Some(w), Some(h)) = (pl.width, pl.height) {
                        graph.nodes[k].size = Size { w, h };
                    }
                    let s = graph.nodes[k].size;
                    Point { x: pl.x + s.w / 2.0, y: pl.y + s.h / 2.0 }
                })
                .collect();
            let rects: Vec<Option<Rect>> = scene
                .boundaries
                .iter()
                .map(|b| placed(b.element).and_then(|pl| Some(Rect { x: pl.x, y: pl.y, w: pl.width?, h: pl.height? })))
                .collect();
            let lines: Vec<Vec<Point>> = scene
                .lines
                .iter()
                .filter_map(|b| Some(placed(b.element)?.line_points()?.into_iter().map(|(x, y)| Point { x, y }).collect()))
                .collect();
            let waypoints: Vec<Option<Point>> = scene
                .edges
                .iter()
                .map(|e| placed(e.element).filter(|pl| pl.line.is_empty()).map(|pl| Point { x: pl.x, y: pl.y }))
                .collect();
            layout::positioned(&graph, &centers, &rects, &lines, &waypoints)
        } else {
            layout::layered(&graph)
        };
        let title = match opts.diagram {
            Some(d) if !model.diagrams.is_empty() => format!("{}: {}", model.name, model.diagram_name(d)),
            _ => model.name.clone(),
        };
        Diagram { scene, layout, graph, options: opts.clone(), title }
    }

    /// Every diagram of the model, one below the other, each under its name (a model with one
    /// diagram draws just that one). `opts.diagram` is ignored.
    pub fn all_svg(analysis: &Analysis<'_>, opts: &DfdOptions) -> String {
        let model = analysis.prepared.model();
        if model.diagrams.is_empty() {
            return Diagram::new(analysis, &DfdOptions { diagram: Some(0), ..opts.clone() }).to_svg(analysis);
        }
        const HEADING: f64 = 34.0;
        const GAP: f64 = 28.0;
        let diagrams: Vec<Diagram> =
            (0..model.diagram_count()).map(|d| Diagram::new(analysis, &DfdOptions { diagram: Some(d), ..opts.clone() })).collect();
        let width = diagrams.iter().map(|d| d.layout.size.w).fold(360.0, f64::max);
        let height = diagrams.iter().map(|d| HEADING + d.layout.size.h).sum::<f64>() + GAP * (diagrams.len() - 1) as f64;
        let mut svg = Svg::new(width, height, &format!("Data flow diagrams: {}", model.name), STYLE);
        svg.raw(MARKER_DEFS);
        svg.raw("<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n");
        let mut y = 0.0;
        for (k, d) in diagrams.iter().enumerate() {
            let _ = writeln!(
                svg.out,
                "<text x=\"12\" y=\"{}\" class=\"dt\">{}</text>",
                num(y + 23.0),
                esc(&format!("{}. {}", k + 1, model.diagram_name(k)))
            );
            let _ = writeln!(svg.out, "<g class=\"diagram\" transform=\"translate(0,{})\">", num(y + HEADING));
            draw_body(d, analysis, &mut svg);
            svg.raw("</g>\n");
            y += HEADING + d.layout.size.h + GAP;
        }
        svg.finish()
    }

    /// The drawing as a standalone SVG document.
    pub fn to_svg(&self, analysis: &Analysis<'_>) -> String {
        draw(self, analysis)
    }
}

/// Colours and letter of a severity marker.
pub fn severity_style(s: Severity) -> (&'static str, &'static str, &'static str) {
    // (fill, text colour, letter)
    match s {
        Severity::VeryHigh => ("#7f1d1d", "#ffffff", "VH"),
        Severity::High => ("#dc2626", "#ffffff", "H"),
        Severity::Medium => ("#f59e0b", "#111827", "M"),
        Severity::Low => ("#16a34a", "#ffffff", "L"),
        Severity::VeryLow => ("#65a30d", "#ffffff", "VL"),
        Severity::Info => ("#6b7280", "#ffffff", "I"),
    }
}

/// The marker shape of a severity: octagon (very high), triangle (high), diamond (medium),
/// circle (low), open circle (very low), square (info); so it reads in black and white.
pub fn severity_marker(s: Severity, cx: f64, cy: f64, r: f64) -> String {
    let (fill, _, _) = severity_style(s);
    let pts = |v: &[(f64, f64)]| v.iter().map(|(x, y)| format!("{},{}", num(cx + x * r), num(cy + y * r))).collect::<Vec<_>>().join(" ");
    match s {
        Severity::VeryHigh => {
            let k = 0.414;
            format!(
                "<polygon class=\"mk\" fill=\"{fill}\" points=\"{}\"/>",
                pts(&[(-k, -1.0), (k, -1.0), (1.0, -k), (1.0, k), (k, 1.0), (-k, 1.0), (-1.0, k), (-1.0, -k)])
            )
        }
        Severity::High => {
            format!("<polygon class=\"mk\" fill=\"{fill}\" points=\"{}\"/>", pts(&[(0.0, -1.1), (1.15, 0.95), (-1.15, 0.95)]))
        }
        Severity::Medium => {
            format!("<polygon class=\"mk\" fill=\"{fill}\" points=\"{}\"/>", pts(&[(0.0, -1.1), (1.1, 0.0), (0.0, 1.1), (-1.1, 0.0)]))
        }
        Severity::Low => format!("<circle class=\"mk\" fill=\"{fill}\" cx=\"{}\" cy=\"{}\" r=\"{}\"/>", num(cx), num(cy), num(r)),
        Severity::VeryLow => format!(
            "<circle class=\"mk\" fill=\"#ffffff\" stroke=\"{fill}\" stroke-width=\"2\" cx=\"{}\" cy=\"{}\" r=\"{}\"/>",
            num(cx),
            num(cy),
            num(r - 1.0)
        ),
        Severity::Info => format!(
            "<rect class=\"mk\" fill=\"{fill}\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"/>",
            num(cx - r),
            num(cy - r),
            num(2.0 * r),
            num(2.0 * r)
        ),
    }
}

/// A badge (severity marker with its letter, then the count) with its top-left corner at (x, y).
pub fn badge_svg(b: &Badge, x: f64, y: f64) -> String {
    let (fill, fg, letter) = severity_style(b.worst);
    let fg = if b.worst == Severity::VeryLow { fill } else { fg };
    let r = BADGE_H / 2.0;
    let (cx, cy) = (x + r, y + r);
    let count = b.count.to_string();
    let cw = font::text_width(&count, 10.0, Face::Bold) + 8.0;
    let letter_size = if letter.len() > 1 { 7.0 } else { 9.0 };
    let title = format!("{} open finding{}, worst {}", b.count, if b.count == 1 { "" } else { "s" }, b.worst.name());
    format!(
        "<g class=\"badge\"><title>{t}</title>{mk}<text x=\"{cx}\" y=\"{ly}\" text-anchor=\"middle\" font-size=\"{ls}\" font-weight=\"bold\" fill=\"{fg}\">{letter}</text><rect x=\"{rx}\" y=\"{ry}\" width=\"{cw}\" height=\"{rh}\" rx=\"6\" class=\"cnt\"/><text x=\"{tx}\" y=\"{ty}\" text-anchor=\"middle\" class=\"cntt\">{count}</text></g>\n",
        t = esc(&title),
        mk = severity_marker(b.worst, cx, cy, r - 1.0),
        cx = num(cx),
        ly = num(cy + letter_size * 0.36 + if b.worst == Severity::High { 2.0 } else { 0.0 }),
        ls = num(letter_size),
        rx = num(x + BADGE_H + 2.0),
        ry = num(y + 2.0),
        cw = num(cw),
        rh = num(BADGE_H - 4.0),
        tx = num(x + BADGE_H + 2.0 + cw / 2.0),
        ty = num(y + BADGE_H - 4.5),
    )
}

/// The stylesheet shared by DFD and sequence diagrams.
pub const STYLE: &str = "\
.n{fill:#ffffff;stroke:#1f2937;stroke-width:1.6}\
.n.oos{fill:#f3f4f6;stroke:#9ca3af;stroke-dasharray:4 3}\
.nt{font-size:13px;fill:#111827}\
.oos .nt,.nt.oos{fill:#6b7280}\
.b{fill:none;stroke:#dc2626;stroke-width:1.5;stroke-dasharray:7 4}\
.bt{font-size:12px;font-style:italic;fill:#b91c1c}\
.e{fill:none;stroke:#374151;stroke-width:1.3}\
.e.oos{stroke:#9ca3af;stroke-dasharray:4 3}\
.et{font-size:11px;fill:#1f2937}\
.mk{stroke:#111827;stroke-width:0.8}\
.cnt{fill:#ffffff;stroke:#6b7280;stroke-width:0.8}\
.cntt{font-size:10px;font-weight:bold;fill:#111827}\
.dt{font-size:16px;font-weight:bold;fill:#111827}\
.ah{fill:#374151}\
";

fn colormap(score: u8) -> (&'static str, &'static str) {
    // pytm's --colormap: (stroke, fill)
    match score {
        5 => ("#cd2626", "#fbe9e9"),
        2..=4 => ("#cdad00", "#fff9e0"),
        _ => ("#006400", "#e6f0e6"),
    }
}

const MARKER_DEFS: &str = "<defs><marker id=\"ah\" viewBox=\"0 0 10 10\" refX=\"9.5\" refY=\"5\" markerWidth=\"9\" markerHeight=\"9\" orient=\"auto-start-reverse\"><path class=\"ah\" d=\"M0,1 L10,5 L0,9 z\"/></marker></defs>\n";

fn draw(d: &Diagram, analysis: &Analysis<'_>) -> String {
    let l = &d.layout;
    let mut svg = Svg::new(l.size.w, l.size.h, &format!("Data flow diagram: {}", d.title), STYLE);
    svg.raw(MARKER_DEFS);
    svg.raw("<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n");
    draw_body(d, analysis, &mut svg);
    svg.finish()
}

/// The shapes of a diagram (boundaries, flows, nodes, badges), in its own coordinates.
fn draw_body(d: &Diagram, analysis: &Analysis<'_>, svg: &mut Svg) {
    let l = &d.layout;
    let model = analysis.prepared.model();
    // Boundaries, outermost first.
    let mut order: Vec<usize> = (0..d.scene.boundaries.len()).collect();
    let depth = |mut b: usize| {
        let mut k = 0;
        while let Some(p) = d.scene.boundaries[b].parent {
            k += 1;
            b = p;
            if k > d.scene.boundaries.len() {
                break;
            }
        }
        k
    };
    order.sort_by_key(|&b| (depth(b), b));
    for b in order {
        let sb = &d.scene.boundaries[b];
        let r = l.clusters[b];
        let id = &model.elements[sb.element as usize].id;
        let stroke = if d.options.colormap { " style=\"stroke:#111827\"" } else { "" };
        let _ = writeln!(
            svg.out,
            "<g class=\"boundary\" data-id=\"{}\"><rect class=\"b\"{stroke} x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"10\"/>",
            esc(id),
            num(r.x),
            num(r.y),
            num(r.w),
            num(r.h)
        );
        let lp = l.cluster_labels[b];
        let _ = writeln!(svg.out, "<text x=\"{}\" y=\"{}\" class=\"bt\">{}</text>", num(lp.x), num(lp.y + 13.0), esc(&sb.name));
        if let (true, Some(badge)) = (d.options.badges, sb.badge) {
            let tw = font::text_width(&sb.name, BOUNDARY_FONT, Face::Regular) * 1.05;
            svg.raw(&badge_svg(&badge, lp.x + tw + 6.0, lp.y + 1.0));
        }
        svg.raw("</g>\n");
    }
    // Line boundaries.
    for (sb, points) in d.scene.lines.iter().zip(&l.lines) {
        let Some(&first) = points.first() else { continue };
        let id = &model.elements[sb.element as usize].id;
        let coords: Vec<String> = points.iter().map(|p| format!("{},{}", num(p.x), num(p.y))).collect();
        let _ = writeln!(svg.out, "<g class=\"boundary\" data-id=\"{}\"><polyline class=\"b\" points=\"{}\"/>", esc(id), coords.join(" "));
        let top = points.iter().copied().fold(first, |a, b| if b.y < a.y { b } else { a });
        let _ = writeln!(svg.out, "<text x=\"{}\" y=\"{}\" class=\"bt\">{}</text>", num(top.x + 6.0), num(top.y + 16.0), esc(&sb.name));
        if let (true, Some(badge)) = (d.options.badges, sb.badge) {
            let tw = font::text_width(&sb.name, BOUNDARY_FONT, Face::Regular) * 1.05;
            svg.raw(&badge_svg(&badge, top.x + tw + 12.0, top.y + 4.0));
        }
        svg.raw("</g>\n");
    }
    // Edges.
    for (k, e) in d.scene.edges.iter().enumerate() {
        let route = &l.edges[k];
        if route.points.len() < 2 {
            continue;
        }
        let mut points = route.points.clone();
        if route.style == RouteStyle::Layered {
            // Ports sit on the node's box; move the end points onto the drawn outline.
            let (from, to) = (e.from, e.to);
            let last = points.len() - 1;
            points[0] = onto_outline(&d.scene.nodes[from], l.nodes[from], d.graph.nodes[from].size, points[0], d.options.badges);
            points[last] = onto_outline(&d.scene.nodes[to], l.nodes[to], d.graph.nodes[to].size, points[last], d.options.badges);
        }
        let mut path = String::new();
        let p0 = points[0];
        let _ = write!(path, "M{},{}", num(p0.x), num(p0.y));
        match route.style {
            RouteStyle::Polyline => {
                for p in &points[1..] {
                    let _ = write!(path, " L{},{}", num(p.x), num(p.y));
                }
            }
            RouteStyle::Layered => {
                for (j, w) in points.windows(2).enumerate() {
                    let (a, b) = (w[0], w[1]);
                    if j % 2 == 0 {
                        let _ = write!(path, " L{},{}", num(b.x), num(b.y));
                    } else {
                        let mx = (a.x + b.x) / 2.0;
                        let _ = write!(path, " C{},{} {},{} {},{}", num(mx), num(a.y), num(mx), num(b.y), num(b.x), num(b.y));
                    }
                }
            }
        }
        let id = &model.elements[e.element as usize].id;
        let class = if e.in_scope { "e" } else { "e oos" };
        let style = if d.options.colormap { format!(" style=\"stroke:{}\"", colormap(e.score).0) } else { String::new() };
        let start = if e.response.is_some() { " marker-start=\"url(#ah)\"" } else { "" };
        let _ = writeln!(
            svg.out,
            "<g class=\"flow\" data-id=\"{}\"><path class=\"{class}\"{style} d=\"{path}\" marker-end=\"url(#ah)\"{start}/>",
            esc(id)
        );
        if let Some(c) = route.label {
            let size = d.graph.edges[k].label.unwrap_or_default();
            let badge = if d.options.badges { e.badge } else { None };
            let text_w = lines_width(&e.lines, EDGE_FONT, Face::Regular);
            let left = c.x - size.w / 2.0;
            let tx = if badge.is_some() { left + text_w / 2.0 } else { c.x };
            let top = c.y - (e.lines.len() as f64 * 13.0) / 2.0;
            if route.style == RouteStyle::Polyline {
                let _ = writeln!(
                    svg.out,
                    "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"#ffffff\" fill-opacity=\"0.85\"/>",
                    num(left),
                    num(top - 1.0),
                    num(size.w),
                    num(e.lines.len() as f64 * 13.0 + 2.0)
                );
            }
            svg.text_lines(tx, top + 10.0, 13.0, &e.lines, "et", Anchor::Middle);
            if let Some(b) = badge {
                svg.raw(&badge_svg(&b, left + text_w + 6.0, c.y - BADGE_H / 2.0));
            }
        }
        svg.raw("</g>\n");
    }
    // Nodes.
    for (k, n) in d.scene.nodes.iter().enumerate() {
        let c = l.nodes[k];
        let s = d.graph.nodes[k].size;
        let id = &model.elements[n.element as usize].id;
        let mut class = String::from("n");
        if !n.in_scope {
            class.push_str(" oos");
        }
        let style = if d.options.colormap && n.in_scope {
            let (st, fi) = colormap(n.score);
            format!(" style=\"stroke:{st};fill:{fi}\"")
        } else {
            String::new()
        };
        let _ = writeln!(svg.out, "<g class=\"node\" data-id=\"{}\" data-kind=\"{}\">", esc(id), n.kind.name());
        let badge_room = if d.options.badges && n.badge.is_some() { 14.0 } else { 0.0 };
        // Shape box: below the badge strip.
        let sb = Rect { x: c.x - s.w / 2.0, y: c.y - s.h / 2.0 + badge_room / 2.0, w: s.w, h: s.h - badge_room };
        svg.raw(&shape_svg(n.kind, sb, &class, &style));
        let th = n.lines.len() as f64 * 16.0;
        let cy = sb.y + sb.h / 2.0;
        let tclass = if n.in_scope { "nt" } else { "nt oos" };
        svg.text_lines(c.x, cy - th / 2.0 + 12.0, 16.0, &n.lines, tclass, Anchor::Middle);
        if let (true, Some(b)) = (d.options.badges, n.badge) {
            let bw = badge_width(&b);
            svg.raw(&badge_svg(&b, c.x + s.w / 2.0 - bw, c.y - s.h / 2.0 - 1.0));
        }
        svg.raw("</g>\n");
    }
}

/// Moves a port on the side of a node's box horizontally onto the node's drawn outline.
fn onto_outline(n: &SceneNode, c: Point, s: Size, p: Point, badges: bool) -> Point {
    let room = if badges && n.badge.is_some() { 14.0 } else { 0.0 };
    let (hw, hh) = (s.w / 2.0, (s.h - room) / 2.0);
    let dy = (p.y - c.y).abs().min(hh);
    let inset = match n.kind {
        Kind::Process | Kind::Server | Kind::SetOfProcesses => hw - hw * (1.0 - (dy / hh).powi(2)).max(0.0).sqrt(),
        Kind::Llm | Kind::Agent => hh.min(hw / 2.0) * dy / hh,
        Kind::Lambda => {
            let r = 14.0f64.min(hh);
            let over = (dy - (hh - r)).max(0.0);
            r - (r * r - over * over).max(0.0).sqrt()
        }
        _ => 0.0,
    };
    let side = if p.x >= c.x { 1.0 } else { -1.0 };
    Point { x: c.x + side * (hw - inset), y: p.y }
}

/// The outline of a node of `kind` filling `r`.
pub fn shape_svg(kind: Kind, r: Rect, class: &str, style: &str) -> String {
    let (cx, cy) = (r.x + r.w / 2.0, r.y + r.h / 2.0);
    match kind {
        Kind::Process | Kind::Server => format!(
            "<ellipse class=\"{class}\"{style} cx=\"{}\" cy=\"{}\" rx=\"{}\" ry=\"{}\"/>\n",
            num(cx),
            num(cy),
            num(r.w / 2.0),
            num(r.h / 2.0)
        ),
        Kind::SetOfProcesses => format!(
            "<ellipse class=\"{class}\"{style} cx=\"{cx}\" cy=\"{cy}\" rx=\"{}\" ry=\"{}\"/><ellipse class=\"{class}\"{style} cx=\"{cx}\" cy=\"{cy}\" rx=\"{}\" ry=\"{}\"/>\n",
            num(r.w / 2.0),
            num(r.h / 2.0),
            num(r.w / 2.0 - 5.0),
            num(r.h / 2.0 - 5.0),
            cx = num(cx),
            cy = num(cy)
        ),
        // Two lines, as on the canvas: the fill has no outline (an inline style, which the
        // class's stroke cannot override, unlike a `stroke` attribute).
        Kind::Datastore => format!(
            "<rect class=\"{class}\"{fill_style} x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{h}\"/><path class=\"{class}\"{style} fill=\"none\" d=\"M{x},{y} H{r} M{x},{b} H{r}\"/>\n",
            fill_style = if style.is_empty() {
                " style=\"stroke:none\"".to_owned()
            } else {
                style.replacen(" style=\"", " style=\"stroke:none;", 1)
            },
            x = num(r.x),
            y = num(r.y),
            w = num(r.w),
            h = num(r.h),
            r = num(r.right()),
            b = num(r.bottom())
        ),
        Kind::Lambda => format!(
            "<rect class=\"{class}\"{style} x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"14\"/>\n",
            num(r.x),
            num(r.y),
            num(r.w),
            num(r.h)
        ),
        Kind::Llm | Kind::Agent => {
            let i = (r.h / 2.0).min(r.w / 4.0);
            format!(
                "<polygon class=\"{class}\"{style} points=\"{},{} {},{} {},{} {},{} {},{} {},{}\"/>\n",
                num(r.x + i),
                num(r.y),
                num(r.right() - i),
                num(r.y),
                num(r.right()),
                num(cy),
                num(r.right() - i),
                num(r.bottom()),
                num(r.x + i),
                num(r.bottom()),
                num(r.x),
                num(cy)
            )
        }
        _ => format!(
            "<rect class=\"{class}\"{style} x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"/>\n",
            num(r.x),
            num(r.y),
            num(r.w),
            num(r.h)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A data store is two lines, as on the canvas: its fill has no outline whatever the
    /// stylesheet says (a `stroke` attribute would lose to the class's stroke).
    #[test]
    fn a_data_store_is_two_lines() {
        let r = Rect { x: 0.0, y: 0.0, w: 100.0, h: 40.0 };
        let plain = shape_svg(Kind::Datastore, r, "n", "");
        assert!(plain.starts_with("<rect class=\"n\" style=\"stroke:none\""), "{plain}");
        let coloured = shape_svg(Kind::Datastore, r, "n", " style=\"fill:#fee2e2\"");
        assert!(coloured.starts_with("<rect class=\"n\" style=\"stroke:none;fill:#fee2e2\""), "{coloured}");
        assert!(coloured.contains("d=\"M0,0 H100 M0,40 H100\""), "{coloured}");
    }
}
