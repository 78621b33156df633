//! Layered left-to-right layout of a compound graph: Sugiyama's method with clusters.
//!
//! Trust boundaries are clusters. The steps are the classic ones, each made cluster-aware:
//!
//! 1. **Layering, boundary by boundary** (the way dot ranks clusters): each boundary is layered
//!    on its own edges, then moved as one block inside its parent, so its members sit in few
//!    columns. Among blocks, a depth-first search breaks cycles (an edge drawn right to left
//!    keeps its arrow on its target), the longest path with minimum edge length 2 gives every
//!    edge a dummy in its middle column that carries its label (labels are obstacles like
//!    nodes and can never sit on one), then blocks move to shorten their edges.
//! 2. **Long edges** get a dummy in every column they pass.
//! 3. **Ordering**: barycenter sweeps where each layer is sorted hierarchically (a cluster's
//!    items stay contiguous, sibling clusters keep one global order in every layer), then
//!    adjacent transpositions; the order with the fewest crossings wins. Each cluster has a
//!    "spine" of fillers chained through its columns, so an edge that would cut through a
//!    foreign cluster counts as a crossing and orderings that route it around win.
//! 4. **Coordinates**: columns get their widest item plus room for cluster padding; vertical
//!    positions solve separation constraints (item gaps, cluster tops and bottoms) with the
//!    longest-path solution, then balancing passes that move each item towards its neighbours
//!    while keeping every constraint. Because every cluster occupies one contiguous slot in
//!    every column it spans, a cluster's rectangle contains exactly its members and no two
//!    rectangles overlap unless nested.
//! 5. **Routing**: edges run horizontally inside a column (at their own slot, so they never
//!    cross a node or a label there) and as curves in the gaps between columns; the edges at a
//!    node's side get one port each, spread in the order of where they go.
//!
//! layout-rs was evaluated for this and does not support clusters (ARCHITECTURE.md).

/// A point in diagram space (pixels at 100 %, y down).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Point {
    /// Horizontal position.
    pub x: f64,
    /// Vertical position.
    pub y: f64,
}

/// A width and height.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Size {
    /// Width.
    pub w: f64,
    /// Height.
    pub h: f64,
}

/// An axis-aligned rectangle given by its top-left corner and size.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Rect {
    /// Left.
    pub x: f64,
    /// Top.
    pub y: f64,
    /// Width.
    pub w: f64,
    /// Height.
    pub h: f64,
}

impl Rect {
    /// The rectangle centred on `c`.
    pub fn centered(c: Point, s: Size) -> Rect {
        Rect { x: c.x - s.w / 2.0, y: c.y - s.h / 2.0, w: s.w, h: s.h }
    }
    /// Right edge.
    pub fn right(&self) -> f64 {
        self.x + self.w
    }
    /// Bottom edge.
    pub fn bottom(&self) -> f64 {
        self.y + self.h
    }
    /// True if `o` lies inside this rectangle (edges may touch).
    pub fn contains_rect(&self, o: &Rect) -> bool {
        o.x >= self.x - 1e-6 && o.y >= self.y - 1e-6 && o.right() <= self.right() + 1e-6 && o.bottom() <= self.bottom() + 1e-6
    }
    /// True if the interiors of the two rectangles intersect.
    pub fn overlaps(&self, o: &Rect) -> bool {
        self.x < o.right() - 1e-6 && o.x < self.right() - 1e-6 && self.y < o.bottom() - 1e-6 && o.y < self.bottom() - 1e-6
    }
}

/// The graph to lay out.
#[derive(Clone, Debug, Default)]
pub struct Graph {
    /// Nodes with their drawn size and the innermost cluster containing them.
    pub nodes: Vec<GraphNode>,
    /// Clusters (trust boundaries), each with its parent cluster.
    pub clusters: Vec<GraphCluster>,
    /// Directed edges.
    pub edges: Vec<GraphEdge>,
}

/// A node of [`Graph`].
#[derive(Clone, Debug, Default)]
pub struct GraphNode {
    /// Drawn size.
    pub size: Size,
    /// Innermost containing cluster.
    pub cluster: Option<usize>,
}

/// A cluster of [`Graph`].
#[derive(Clone, Debug, Default)]
pub struct GraphCluster {
    /// The cluster containing this one.
    pub parent: Option<usize>,
    /// Size of the label drawn at the top left inside the rectangle.
    pub label: Size,
}

/// An edge of [`Graph`].
#[derive(Clone, Debug, Default)]
pub struct GraphEdge {
    /// Source node.
    pub from: usize,
    /// Target node.
    pub to: usize,
    /// Size of the label, if any.
    pub label: Option<Size>,
}

/// How a route's points are joined.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RouteStyle {
    /// Points come in pairs inside columns: `p[2k] → p[2k+1]` is straight, `p[2k+1] → p[2k+2]`
    /// crosses a gap between columns and is drawn as a horizontal S-curve.
    Layered,
    /// A plain polyline.
    Polyline,
}

/// An edge as laid out: from the source's border to the target's border.
#[derive(Clone, Debug, PartialEq)]
pub struct Route {
    /// Points from source to target.
    pub points: Vec<Point>,
    /// How to join them.
    pub style: RouteStyle,
    /// Centre of the label.
    pub label: Option<Point>,
}

/// A finished layout.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Layout {
    /// Node centres, by node index.
    pub nodes: Vec<Point>,
    /// Cluster rectangles, by cluster index.
    pub clusters: Vec<Rect>,
    /// Top-left corner of each cluster's label box.
    pub cluster_labels: Vec<Point>,
    /// Edge routes, by edge index.
    pub edges: Vec<Route>,
    /// Line boundaries (two ends each), in the order given to [`positioned`]; empty for
    /// automatic layouts, which have nowhere meaningful to draw them.
    pub lines: Vec<Vec<Point>>,
    /// Size of the whole drawing, margins included.
    pub size: Size,
}

/// Vertical gap between neighbours in a column.
const NODE_GAP: f64 = 20.0;
/// Vertical gap next to an edge passing through a column.
const EDGE_GAP: f64 = 6.0;
/// Padding between a cluster's border and its contents.
const PAD: f64 = 12.0;
/// Minimum horizontal gap between columns (edges curve through it).
const LAYER_GAP: f64 = 48.0;
/// Margin around the drawing.
const MARGIN: f64 = 16.0;
/// Barycenter sweeps.
const SWEEPS: usize = 10;
/// Balancing passes of the coordinate assignment.
const BALANCE_PASSES: usize = 16;

#[derive(Clone, Copy, Debug, PartialEq)]
enum ItemKind {
    Node(usize),
    /// A dummy of edge `e`; `label` if it carries the edge's label.
    Dummy {
        label: bool,
    },
    ClusterLabel(usize),
    Filler,
}

#[derive(Clone, Debug)]
struct Item {
    kind: ItemKind,
    layer: usize,
    cluster: Option<usize>,
    size: Size,
}

/// Lays out a graph left to right. Deterministic: the same graph gives the same layout.
pub fn layered(g: &Graph) -> Layout {
    let n = g.nodes.len();
    let tree = ClusterTree::new(&g.clusters);

    // 1–2. Layers, boundary by boundary; an edge whose target ends up left of its source is
    // drawn right to left with its arrow kept on the target.
    let layer = compound_layers(g, &tree);
    let mut reversed = vec![false; g.edges.len()];
    let oriented: Vec<Option<(usize, usize)>> = g
        .edges
        .iter()
        .enumerate()
        .map(|(i, e)| {
            if e.from == e.to || e.from >= n || e.to >= n {
                None
            } else if layer[e.from] > layer[e.to] {
                reversed[i] = true;
                Some((e.to, e.from))
            } else {
                Some((e.from, e.to))
            }
        })
        .collect();

    // 3. Items: nodes, edge dummies (one carries the label), cluster labels and fillers.
    let mut items: Vec<Item> =
        (0..n).map(|v| Item { kind: ItemKind::Node(v), layer: layer[v], cluster: g.nodes[v].cluster, size: g.nodes[v].size }).collect();
    let mut chains: Vec<Vec<usize>> = vec![Vec::new(); g.edges.len()];
    for (e, o) in oriented.iter().enumerate() {
        let Some((a, b)) = *o else { continue };
        let (la, lb) = (layer[a], layer[b]);
        let home = tree.lca(g.nodes[a].cluster, g.nodes[b].cluster);
        let label_layer = la + (lb - la) / 2;
        let mut chain = vec![a];
        for l in la + 1..lb {
            let is_label = l == label_layer && g.edges[e].label.is_some();
            let size = if is_label { g.edges[e].label.unwrap_or_default() } else { Size::default() };
            let size = Size { w: size.w, h: if is_label { size.h + 4.0 } else { 0.0 } };
            chain.push(items.len());
            items.push(Item { kind: ItemKind::Dummy { label: is_label }, layer: l, cluster: home, size });
        }
        chain.push(b);
        chains[e] = chain;
    }
    let mut num_layers = items.iter().map(|it| it.layer + 1).max().unwrap_or(1);
    // Cluster spans.
    let nc = g.clusters.len();
    let mut span: Vec<Option<(usize, usize)>> = vec![None; nc];
    for it in &items {
        let mut c = it.cluster;
        while let Some(k) = c {
            span[k] = Some(match span[k] {
                None => (it.layer, it.layer),
                Some((lo, hi)) => (lo.min(it.layer), hi.max(it.layer)),
            });
            c = tree.parent[k];
        }
    }
    // Empty clusters sit in their parent's first column (or the first column).
    for &c in &tree.top_down {
        if span[c].is_none() {
            let l = tree.parent[c].and_then(|p| span[p]).map_or(0, |s| s.0);
            let mut k = Some(c);
            while let Some(x) = k {
                span[x] = Some(match span[x] {
                    None => (l, l),
                    Some((lo, hi)) => (lo.min(l), hi.max(l)),
                });
                k = tree.parent[x];
            }
        }
    }
    let mut label_item = vec![usize::MAX; nc];
    for c in 0..nc {
        let (lo, _) = span[c].unwrap_or((0, 0));
        label_item[c] = items.len();
        items.push(Item { kind: ItemKind::ClusterLabel(c), layer: lo, cluster: Some(c), size: g.clusters[c].label });
    }
    // Spines: one filler per cluster and column of its span, chained across columns. A filler
    // keeps the cluster present in columns where it has no member, and the chain counts as an
    // edge when orderings are compared, so edges that would cut through a foreign boundary
    // count as crossings and orderings that route them around win.
    let mut spines: Vec<Vec<usize>> = Vec::new();
    for &c in &tree.top_down {
        if let Some((lo, hi)) = span[c] {
            let mut chain = Vec::with_capacity(hi - lo + 1);
            for l in lo..=hi {
                chain.push(items.len());
                items.push(Item { kind: ItemKind::Filler, layer: l, cluster: Some(c), size: Size::default() });
            }
            spines.push(chain);
        }
    }
    num_layers = num_layers.max(items.iter().map(|it| it.layer + 1).max().unwrap_or(1));

    // Neighbours between adjacent layers.
    let ni = items.len();
    let mut left_nb: Vec<Vec<usize>> = vec![Vec::new(); ni];
    let mut right_nb: Vec<Vec<usize>> = vec![Vec::new(); ni];
    for chain in chains.iter().chain(spines.iter()) {
        for w in chain.windows(2) {
            right_nb[w[0]].push(w[1]);
            left_nb[w[1]].push(w[0]);
        }
    }

    // 4. Ordering.
    let mut layers: Vec<Vec<usize>> = vec![Vec::new(); num_layers];
    // Initial order: a breadth-first walk from the nodes in model order, so connected items start close.
    {
        let mut seen = vec![false; ni];
        let mut queue = std::collections::VecDeque::new();
        for start in 0..ni {
            if seen[start] {
                continue;
            }
            seen[start] = true;
            queue.push_back(start);
            while let Some(i) = queue.pop_front() {
                layers[items[i].layer].push(i);
                for &j in right_nb[i].iter().chain(left_nb[i].iter()) {
                    if !seen[j] {
                        seen[j] = true;
                        queue.push_back(j);
                    }
                }
            }
        }
    }
    let mut ord = Orderer { items: &items, tree: &tree, crank: (0..nc).map(|c| c as f64).collect(), pos: vec![0; ni] };
    for layer in layers.iter_mut() {
        let keys: Vec<(usize, f64)> = layer.iter().enumerate().map(|(p, &i)| (i, p as f64)).collect();
        *layer = ord.arrange(&keys);
    }
    ord.update_ranks(&layers);
    ord.index(&layers);
    let mut best = layers.clone();
    let mut best_cross = total_crossings(&layers, &right_nb, &ord.pos);
    for sweep in 0..SWEEPS {
        if best_cross == 0 {
            break;
        }
        let down = sweep % 2 == 0;
        let seq: Vec<usize> = if down { (1..num_layers).collect() } else { (0..num_layers.saturating_sub(1)).rev().collect() };
        for l in seq {
            let nbs = if down { &left_nb } else { &right_nb };
            let keys: Vec<(usize, f64)> = layers[l]
                .iter()
                .enumerate()
                .map(|(p, &i)| {
                    let nb = &nbs[i];
                    if nb.is_empty() { (i, p as f64) } else { (i, nb.iter().map(|&j| ord.pos[j] as f64).sum::<f64>() / nb.len() as f64) }
                })
                .collect();
            layers[l] = ord.arrange(&keys);
            for (p, &i) in layers[l].iter().enumerate() {
                ord.pos[i] = p;
            }
        }
        ord.update_ranks(&layers);
        // Re-apply the global cluster order everywhere, keeping the sweep's order otherwise.
        for layer in layers.iter_mut() {
            let keys: Vec<(usize, f64)> = layer.iter().enumerate().map(|(p, &i)| (i, p as f64)).collect();
            *layer = ord.arrange(&keys);
        }
        ord.index(&layers);
        let c = total_crossings(&layers, &right_nb, &ord.pos);
        if c < best_cross {
            best_cross = c;
            best = layers.clone();
        }
    }
    let mut layers = best;
    ord.index(&layers);
    transpose(&mut layers, &items, &left_nb, &right_nb, &mut ord.pos);
    keep_sides(&mut layers, &items, &tree, &left_nb, &mut ord.pos);

    // 5. Coordinates. Columns first.
    let mut col_w = vec![0.0f64; num_layers];
    for it in &items {
        col_w[it.layer] = col_w[it.layer].max(it.size.w);
    }
    let mut end_h = vec![0usize; num_layers];
    let mut start_h = vec![0usize; num_layers];
    for (c, sp) in span.iter().enumerate() {
        if let Some((lo, hi)) = *sp {
            start_h[lo] = start_h[lo].max(tree.height[c]);
            end_h[hi] = end_h[hi].max(tree.height[c]);
        }
    }
    let mut col_x = vec![0.0f64; num_layers];
    let mut x = MARGIN + PAD * start_h.first().copied().unwrap_or(0) as f64;
    for l in 0..num_layers {
        x += col_w[l] / 2.0;
        col_x[l] = x;
        x += col_w[l] / 2.0;
        if l + 1 < num_layers {
            let gap = if col_w[l] == 0.0 && col_w[l + 1] == 0.0 { 0.0 } else { LAYER_GAP };
            x += gap + PAD * (end_h[l] + start_h[l + 1]) as f64;
        }
    }
    let width = x + PAD * end_h.last().copied().unwrap_or(0) as f64 + MARGIN;

    // Vertical constraints: variable b >= variable a + d.
    let nv = ni + 2 * nc;
    let top = |c: usize| ni + 2 * c;
    let bottom = |c: usize| ni + 2 * c + 1;
    let mut cons: Vec<(usize, usize, f64)> = Vec::new();
    for layer in &layers {
        let mut prev: Option<(usize, f64, Option<usize>)> = None; // (var, offset, item cluster)
        let mut prev_path: Vec<usize> = Vec::new();
        for &i in layer {
            let path = tree.path(items[i].cluster);
            let h = items[i].size.h / 2.0;
            match prev {
                None => {
                    for w in path.windows(2) {
                        cons.push((top(w[0]), top(w[1]), PAD));
                    }
                    if let Some(&inner) = path.last() {
                        cons.push((top(inner), i, PAD + h));
                    }
                }
                Some((pv, poff, _)) => {
                    let common = path.iter().zip(prev_path.iter()).take_while(|(a, b)| a == b).count();
                    let (mut var, mut off, mut after_item) = (pv, poff, true);
                    for &c in prev_path[common..].iter().rev() {
                        cons.push((var, bottom(c), off + PAD));
                        (var, off, after_item) = (bottom(c), 0.0, false);
                    }
                    let mut entered = false;
                    for &c in &path[common..] {
                        let sep = if entered { PAD } else { NODE_GAP };
                        cons.push((var, top(c), off + sep));
                        (var, off, entered) = (top(c), 0.0, true);
                    }
                    let thin = |k: usize| matches!(items[k].kind, ItemKind::Dummy { label: false } | ItemKind::Filler);
                    let sep = if entered {
                        PAD
                    } else if after_item {
                        if thin(pv) || thin(i) { EDGE_GAP } else { NODE_GAP }
                    } else {
                        NODE_GAP.max(PAD)
                    };
                    cons.push((var, i, off + sep + h));
                }
            }
            prev = Some((i, h, items[i].cluster));
            prev_path = path;
        }
        if let Some((pv, poff, _)) = prev {
            let (mut var, mut off) = (pv, poff);
            for &c in prev_path.iter().rev() {
                cons.push((var, bottom(c), off + PAD));
                (var, off) = (bottom(c), 0.0);
            }
        }
    }
    let y = solve_constraints(nv, &cons, |v, ys, lo, hi| {
        if v < ni {
            let (l, r) = (&left_nb[v], &right_nb[v]);
            match l.len() + r.len() {
                0 => ys[v],
                1 => ys[*l.first().or(r.first()).unwrap_or(&v)],
                2 => l.iter().chain(r.iter()).map(|&j| ys[j]).sum::<f64>() / 2.0,
                _ => {
                    let mut s: Vec<f64> = l.iter().chain(r.iter()).map(|&j| ys[j]).collect();
                    s.sort_by(f64::total_cmp);
                    let m = s.len();
                    if m % 2 == 1 { s[m / 2] } else { (s[m / 2 - 1] + s[m / 2]) / 2.0 }
                }
            }
        } else if (v - ni).is_multiple_of(2) {
            if hi.is_finite() { hi } else { lo }
        } else if lo.is_finite() {
            lo
        } else {
            hi
        }
    });

    // Bounding box and shift.
    let mut min_y = f64::INFINITY;
    let mut max_y = f64::NEG_INFINITY;
    for (i, it) in items.iter().enumerate() {
        min_y = min_y.min(y[i] - it.size.h / 2.0);
        max_y = max_y.max(y[i] + it.size.h / 2.0);
    }
    for c in 0..nc {
        min_y = min_y.min(y[top(c)]);
        max_y = max_y.max(y[bottom(c)]);
    }
    if !min_y.is_finite() {
        min_y = 0.0;
        max_y = 0.0;
    }
    let dy = MARGIN - min_y;
    let item_y = |i: usize| y[i] + dy;

    let nodes: Vec<Point> = (0..n).map(|v| Point { x: col_x[layer[v]], y: item_y(v) }).collect();
    let mut clusters = vec![Rect::default(); nc];
    let mut cluster_labels = vec![Point::default(); nc];
    for c in 0..nc {
        let (lo, hi) = span[c].unwrap_or((0, 0));
        let ext = PAD * tree.height[c] as f64;
        let left = col_x[lo] - col_w[lo] / 2.0 - ext;
        let right = col_x[hi] + col_w[hi] / 2.0 + ext;
        clusters[c] = Rect { x: left, y: y[top(c)] + dy, w: right - left, h: y[bottom(c)] - y[top(c)] };
        let li = label_item[c];
        cluster_labels[c] = Point { x: col_x[lo] - col_w[lo] / 2.0, y: item_y(li) - items[li].size.h / 2.0 };
    }

    // 6. Routes. Edges meeting a node side get their own ports, spread along the side in the
    // order of the items they come from, so arrows do not pile up on one point.
    let mut sides: std::collections::HashMap<(usize, bool), Vec<(f64, usize)>> = std::collections::HashMap::new();
    for (e, chain) in chains.iter().enumerate() {
        if chain.len() >= 2 {
            sides.entry((chain[0], true)).or_default().push((item_y(chain[1]), e));
            sides.entry((chain[chain.len() - 1], false)).or_default().push((item_y(chain[chain.len() - 2]), e));
        }
    }
    let mut port: std::collections::HashMap<(usize, bool), f64> = std::collections::HashMap::new();
    for ((node, right), mut list) in sides {
        list.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let n = list.len();
        let spacing = if n > 1 { (items[node].size.h * 0.5 / (n - 1) as f64).min(12.0) } else { 0.0 };
        for (j, (_, e)) in list.into_iter().enumerate() {
            port.insert((e, right), (j as f64 - (n - 1) as f64 / 2.0) * spacing);
        }
    }
    let edges = g
        .edges
        .iter()
        .enumerate()
        .map(|(e, ge)| {
            if chains[e].is_empty() {
                let c = nodes.get(ge.from).copied().unwrap_or_default();
                let s = g.nodes.get(ge.from).map(|n| n.size).unwrap_or_default();
                return self_loop(c, s, ge.label);
            }
            let chain = &chains[e];
            let mut pts = Vec::with_capacity(chain.len() * 2);
            let mut label = None;
            for (k, &i) in chain.iter().enumerate() {
                let l = items[i].layer;
                // Straight through the column and the room beside it for boundary borders, so
                // the curve between columns stays clear of boundaries that begin or end there.
                let (cl, cr) = (col_x[l] - col_w[l] / 2.0 - PAD * start_h[l] as f64, col_x[l] + col_w[l] / 2.0 + PAD * end_h[l] as f64);
                let yi = item_y(i);
                match items[i].kind {
                    ItemKind::Node(_) => {
                        let hw = items[i].size.w / 2.0;
                        if k == 0 {
                            let y = yi + port.get(&(e, true)).copied().unwrap_or(0.0);
                            pts.push(Point { x: col_x[l] + hw, y });
                            pts.push(Point { x: cr, y });
                        } else {
                            let y = yi + port.get(&(e, false)).copied().unwrap_or(0.0);
                            pts.push(Point { x: cl, y });
                            pts.push(Point { x: col_x[l] - hw, y });
                        }
                    }
                    ItemKind::Dummy { label: is_label } => {
                        let line_y = if is_label { yi + items[i].size.h / 2.0 - 2.0 } else { yi };
                        if is_label {
                            label = Some(Point { x: col_x[l], y: yi - 2.0 });
                        }
                        pts.push(Point { x: cl, y: line_y });
                        pts.push(Point { x: cr, y: line_y });
                    }
                    _ => {}
                }
            }
            if reversed[e] {
                pts.reverse();
            }
            Route { points: pts, style: RouteStyle::Layered, label }
        })
        .collect();

    Layout { nodes, clusters, cluster_labels, edges, lines: Vec::new(), size: Size { w: width, h: max_y - min_y + 2.0 * MARGIN } }
}

/// A layout that keeps positions the user drew: node centres as given, clusters as given or
/// around their members, straight edges between node borders with the label at the middle,
/// line boundaries where they were drawn.
/// Distance between flows that share both ends, in drawing units.
pub const PARALLEL_GAP: f64 = 22.0;

/// Sideways offsets of edges that share both ends (a request and its response, or several
/// flows between two nodes), so they are drawn apart: for each `(from, to)`, its offset along
/// the normal of its direction (0 for an edge alone between its ends, and for self-loops). The
/// canvas and the exported drawings use the same offsets.
pub fn parallel_offsets(ends: &[(usize, usize)]) -> Vec<f64> {
    let mut groups: std::collections::BTreeMap<(usize, usize), Vec<usize>> = std::collections::BTreeMap::new();
    for (k, &(a, b)) in ends.iter().enumerate() {
        if a != b {
            groups.entry((a.min(b), a.max(b))).or_default().push(k);
        }
    }
    let mut out = vec![0.0; ends.len()];
    for list in groups.values() {
        let n = list.len();
        if n < 2 {
            continue;
        }
        for (j, &k) in list.iter().enumerate() {
            // Measured against the pair's canonical direction, so opposite flows part ways.
            let off = (j as f64 - (n - 1) as f64 / 2.0) * PARALLEL_GAP;
            out[k] = if ends[k].0 > ends[k].1 { -off } else { off };
        }
    }
    out
}

/// The bend point of an edge from `a` to `b` drawn `offset` to the side of the straight line.
pub fn offset_midpoint(a: Point, b: Point, offset: f64) -> Option<Point> {
    let (dx, dy) = (b.x - a.x, b.y - a.y);
    let len = (dx * dx + dy * dy).sqrt();
    (offset != 0.0 && len > 1e-3).then(|| Point { x: (a.x + b.x) / 2.0 - dy / len * offset, y: (a.y + b.y) / 2.0 + dx / len * offset })
}

/// A layout of nodes and boxes placed by the user: `centers` of the nodes, the boxes where
/// given (else around their members), line boundaries as drawn, and each edge's waypoint where
/// the user bent it (`waypoints[k]` for `g.edges[k]`); edges without one between nodes joined
/// by several edges are drawn apart ([`parallel_offsets`]).
pub fn positioned(
    g: &Graph,
    centers: &[Point],
    cluster_rects: &[Option<Rect>],
    lines: &[Vec<Point>],
    waypoints: &[Option<Point>],
) -> Layout {
    let tree = ClusterTree::new(&g.clusters);
    let nodes: Vec<Point> = (0..g.nodes.len()).map(|i| centers.get(i).copied().unwrap_or_default()).collect();
    let mut clusters = vec![Rect::default(); g.clusters.len()];
    for &c in tree.top_down.iter().rev() {
        clusters[c] = match cluster_rects.get(c).copied().flatten() {
            Some(r) => r,
            None => {
                let mut bb: Option<Rect> = None;
                let mut grow = |r: Rect| {
                    bb = Some(match bb {
                        None => r,
                        Some(b) => {
                            let (x0, y0) = (b.x.min(r.x), b.y.min(r.y));
                            Rect { x: x0, y: y0, w: b.right().max(r.right()) - x0, h: b.bottom().max(r.bottom()) - y0 }
                        }
                    })
                };
                for (i, node) in g.nodes.iter().enumerate() {
                    if node.cluster == Some(c) {
                        grow(Rect::centered(nodes[i], node.size));
                    }
                }
                for (k, cl) in g.clusters.iter().enumerate() {
                    if cl.parent == Some(c) {
                        grow(clusters[k]);
                    }
                }
                let lab = g.clusters[c].label;
                match bb {
                    Some(b) => {
                        Rect { x: b.x - PAD, y: b.y - PAD - lab.h, w: (b.w + 2.0 * PAD).max(lab.w + 2.0 * PAD), h: b.h + 2.0 * PAD + lab.h }
                    }
                    None => Rect { x: 0.0, y: 0.0, w: lab.w + 2.0 * PAD, h: lab.h + 2.0 * PAD },
                }
            }
        };
    }
    let cluster_labels = clusters.iter().map(|r| Point { x: r.x + PAD / 2.0, y: r.y + 4.0 }).collect();
    let offsets = parallel_offsets(&g.edges.iter().map(|e| (e.from, e.to)).collect::<Vec<_>>());
    let edges = g
        .edges
        .iter()
        .enumerate()
        .map(|(k, e)| {
            let (Some(&a), Some(&b)) = (nodes.get(e.from), nodes.get(e.to)) else {
                return Route { points: Vec::new(), style: RouteStyle::Polyline, label: None };
            };
            if e.from == e.to {
                return self_loop(a, g.nodes[e.from].size, e.label);
            }
            let bend = waypoints.get(k).copied().flatten().or_else(|| offset_midpoint(a, b, offsets[k]));
            let (points, mid) = match bend {
                Some(w) => (vec![clip(a, w, g.nodes[e.from].size), w, clip(b, w, g.nodes[e.to].size)], w),
                None => {
                    let (p, q) = (clip(a, b, g.nodes[e.from].size), clip(b, a, g.nodes[e.to].size));
                    (vec![p, q], Point { x: (p.x + q.x) / 2.0, y: (p.y + q.y) / 2.0 })
                }
            };
            let label = e.label.map(|s| Point { x: mid.x, y: mid.y - s.h / 2.0 - 2.0 });
            Route { points, style: RouteStyle::Polyline, label }
        })
        .collect();
    let mut max = Point::default();
    let mut min = Point { x: f64::INFINITY, y: f64::INFINITY };
    for (i, c) in nodes.iter().enumerate() {
        let r = Rect::centered(*c, g.nodes[i].size);
        min = Point { x: min.x.min(r.x), y: min.y.min(r.y) };
        max = Point { x: max.x.max(r.right()), y: max.y.max(r.bottom()) };
    }
    for r in &clusters {
        min = Point { x: min.x.min(r.x), y: min.y.min(r.y) };
        max = Point { x: max.x.max(r.right()), y: max.y.max(r.bottom()) };
    }
    for p in lines.iter().flatten() {
        min = Point { x: min.x.min(p.x), y: min.y.min(p.y) };
        max = Point { x: max.x.max(p.x), y: max.y.max(p.y) };
    }
    let mut out = Layout { nodes, clusters, cluster_labels, edges, lines: lines.to_vec(), size: Size::default() };
    if min.x.is_finite() {
        out.translate(MARGIN - min.x, MARGIN - min.y);
        out.size = Size { w: max.x - min.x + 2.0 * MARGIN, h: max.y - min.y + 2.0 * MARGIN };
    }
    out
}

impl Layout {
    /// Moves everything by (dx, dy).
    pub fn translate(&mut self, dx: f64, dy: f64) {
        let mv = |p: &mut Point| {
            p.x += dx;
            p.y += dy;
        };
        self.nodes.iter_mut().for_each(mv);
        self.cluster_labels.iter_mut().for_each(mv);
        self.lines.iter_mut().flatten().for_each(mv);
        for r in &mut self.clusters {
            r.x += dx;
            r.y += dy;
        }
        for e in &mut self.edges {
            e.points.iter_mut().for_each(mv);
            if let Some(l) = e.label.as_mut() {
                mv(l);
            }
        }
    }
}

/// Counts proper intersections between the polylines of edges that share no endpoint.
/// Used for the Graphviz comparison with the same rule for both tools. Segments are bucketed in
/// a uniform grid; a crossing is counted in the cell that holds its intersection point.
pub fn count_crossings(g: &Graph, segs: &[Vec<(Point, Point)>]) -> usize {
    const CELL: f64 = 64.0;
    let mut grid: std::collections::HashMap<(i64, i64), Vec<(usize, usize)>> = std::collections::HashMap::new();
    for (e, list) in segs.iter().enumerate() {
        for (k, (p, q)) in list.iter().enumerate() {
            let (x0, x1) = ((p.x.min(q.x) / CELL).floor() as i64, (p.x.max(q.x) / CELL).floor() as i64);
            let (y0, y1) = ((p.y.min(q.y) / CELL).floor() as i64, (p.y.max(q.y) / CELL).floor() as i64);
            if (x1 - x0 + 1) * (y1 - y0 + 1) > 4096 {
                continue; // degenerate coordinates; never produced by a layout
            }
            for cx in x0..=x1 {
                for cy in y0..=y1 {
                    grid.entry((cx, cy)).or_default().push((e, k));
                }
            }
        }
    }
    let mut count = 0;
    for (&(cx, cy), cell) in &grid {
        for (i, &(ea, ka)) in cell.iter().enumerate() {
            for &(eb, kb) in &cell[i + 1..] {
                if ea == eb {
                    continue;
                }
                let (a, b) = (&g.edges[ea], &g.edges[eb]);
                if a.from == b.from || a.from == b.to || a.to == b.from || a.to == b.to {
                    continue;
                }
                let ((p1, p2), (q1, q2)) = (segs[ea][ka], segs[eb][kb]);
                if let Some(x) = intersection(p1, p2, q1, q2)
                    && (x.x / CELL).floor() as i64 == cx
                    && (x.y / CELL).floor() as i64 == cy
                {
                    count += 1;
                }
            }
        }
    }
    count
}

fn intersection(p1: Point, p2: Point, q1: Point, q2: Point) -> Option<Point> {
    if !segments_cross(p1, p2, q1, q2) {
        return None;
    }
    let (r, s) = ((p2.x - p1.x, p2.y - p1.y), (q2.x - q1.x, q2.y - q1.y));
    let den = r.0 * s.1 - r.1 * s.0;
    if den.abs() < 1e-12 {
        return None;
    }
    let t = ((q1.x - p1.x) * s.1 - (q1.y - p1.y) * s.0) / den;
    Some(Point { x: p1.x + t * r.0, y: p1.y + t * r.1 })
}

fn segments_cross(p1: Point, p2: Point, q1: Point, q2: Point) -> bool {
    threatmap_core::model::segments_cross((p1.x, p1.y), (p2.x, p2.y), (q1.x, q1.y), (q2.x, q2.y))
}

/// The point where the segment from the centre `c` towards `to` leaves the box of size `s`.
fn clip(c: Point, to: Point, s: Size) -> Point {
    let (dx, dy) = (to.x - c.x, to.y - c.y);
    if dx == 0.0 && dy == 0.0 {
        return c;
    }
    let tx = if dx != 0.0 { (s.w / 2.0) / dx.abs() } else { f64::INFINITY };
    let ty = if dy != 0.0 { (s.h / 2.0) / dy.abs() } else { f64::INFINITY };
    let t = tx.min(ty).min(1.0);
    Point { x: c.x + dx * t, y: c.y + dy * t }
}

fn self_loop(c: Point, s: Size, label: Option<Size>) -> Route {
    let (x0, y0) = (c.x + s.w / 4.0, c.y - s.h / 2.0);
    let r = 14.0;
    let points = vec![
        Point { x: x0 - 6.0, y: y0 },
        Point { x: x0 - 6.0, y: y0 - r },
        Point { x: x0 + 12.0, y: y0 - r },
        Point { x: x0 + 12.0, y: y0 },
    ];
    let label = label.map(|l| Point { x: x0 + 3.0, y: y0 - r - l.h / 2.0 - 2.0 });
    Route { points, style: RouteStyle::Polyline, label }
}

/// Layers of the nodes, found the way dot ranks clusters: each boundary is layered on its own,
/// from the edges that stay inside it, with its direct members and its sub-boundaries as the
/// blocks (a sub-boundary already layered and moved as one piece); then its parent treats it as
/// one block. A boundary's members so sit in as few columns as the boundary's own edges need,
/// instead of wherever the rest of the graph pushes each of them. Among the blocks of one
/// boundary: cycles are broken by a depth-first search, the longest path gives first layers
/// (every edge at least two layers long, so it has a middle column for its label), then each
/// block moves to the end of its slack that shortens its edges, as network simplex would.
/// Every edge between two distinct nodes ends up at least two layers long, in one direction or
/// the other.
fn compound_layers(g: &Graph, tree: &ClusterTree) -> Vec<usize> {
    let n = g.nodes.len();
    let nc = tree.parent.len();
    let slot_of = |s: Option<usize>| s.unwrap_or(nc);
    // The nodes inside each boundary (at any depth; slot `nc` is the whole drawing), and the
    // edges each boundary holds both ends of, innermost.
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); nc + 1];
    for v in 0..n {
        members[nc].push(v);
        for &c in tree.path_ref(g.nodes[v].cluster) {
            members[c].push(v);
        }
    }
    let mut scope_edges: Vec<Vec<usize>> = vec![Vec::new(); nc + 1];
    for (e, ge) in g.edges.iter().enumerate() {
        if ge.from != ge.to && ge.from < n && ge.to < n {
            scope_edges[slot_of(tree.lca(g.nodes[ge.from].cluster, g.nodes[ge.to].cluster))].push(e);
        }
    }
    // The block directly inside scope `s` that holds node `v`: `v` itself, or `n +` the
    // sub-boundary on its path.
    let block_of = |v: usize, s: Option<usize>| -> usize {
        let d = s.map_or(0, |c| tree.depth[c] + 1);
        match tree.path_ref(g.nodes[v].cluster).get(d) {
            Some(&c) => n + c,
            None => v,
        }
    };
    // Each node's layer relative to the block being placed, then to its scope.
    let mut rel = vec![0i64; n];
    let mut local = vec![usize::MAX; n + nc];
    let scopes = tree.top_down.iter().rev().map(|&c| Some(c)).chain(std::iter::once(None));
    for s in scopes {
        let slot = slot_of(s);
        if members[slot].is_empty() {
            continue;
        }
        let mut blocks: Vec<usize> = Vec::new();
        for &v in &members[slot] {
            let b = block_of(v, s);
            if local[b] == usize::MAX {
                local[b] = blocks.len();
                blocks.push(b);
            }
        }
        let nb = blocks.len();
        // (tail block, tail's layer in it, head block, head's layer in it).
        let mut es: Vec<(usize, i64, usize, i64)> = scope_edges[slot]
            .iter()
            .map(|&e| {
                let ge = &g.edges[e];
                (local[block_of(ge.from, s)], rel[ge.from], local[block_of(ge.to, s)], rel[ge.to])
            })
            .collect();
        // Cycle removal between blocks: edges against a greedy order are drawn reversed.
        let pos = feedback_order(nb, &es.iter().map(|e| (e.0, e.2)).collect::<Vec<_>>());
        let flip: Vec<bool> = es.iter().map(|e| pos[e.0] > pos[e.2]).collect();
        let mut succ: Vec<Vec<usize>> = vec![Vec::new(); nb];
        let mut pred: Vec<Vec<usize>> = vec![Vec::new(); nb];
        for (k, e) in es.iter_mut().enumerate() {
            if flip[k] {
                *e = (e.2, e.3, e.0, e.1);
            }
            succ[e.0].push(k);
            pred[e.2].push(k);
        }
        let block_succ: Vec<Vec<usize>> = succ.iter().map(|ks| ks.iter().map(|&k| es[k].2).collect()).collect();
        let block_pred: Vec<Vec<usize>> = pred.iter().map(|ks| ks.iter().map(|&k| es[k].0).collect()).collect();
        let order = topological(nb, &block_succ, &block_pred);
        // Longest path: head layer >= tail layer + 2.
        let mut base = vec![0i64; nb];
        for &b in &order {
            for &k in &succ[b] {
                let (_, ot, h, oh) = es[k];
                base[h] = base[h].max(base[b] + ot - oh + 2);
            }
        }
        // Then the least total edge length that keeps every edge's minimum length.
        let constraints: Vec<(usize, usize, i64)> = es.iter().map(|&(t, ot, h, oh)| (t, h, 2 + ot - oh)).collect();
        network_simplex(nb, &constraints, &mut base, 20 * nb + 100);
        for &v in &members[slot] {
            rel[v] += base[local[block_of(v, s)]];
        }
        let min = members[slot].iter().map(|&v| rel[v]).min().unwrap_or(0);
        for &v in &members[slot] {
            rel[v] -= min;
        }
        for &b in &blocks {
            local[b] = usize::MAX;
        }
    }
    rel.into_iter().map(|r| usize::try_from(r).unwrap_or(0)).collect()
}

/// A vertex order with few edges against it (Eades, Lin and Smyth's greedy heuristic for the
/// feedback arc set): sinks go to the end, sources to the front, and otherwise the vertex with
/// the most edges out over edges in goes to the front. Unlike a depth-first search, it does not
/// turn the search's long paths into long chains of layers. Returns each vertex's position.
fn feedback_order(nv: usize, edges: &[(usize, usize)]) -> Vec<usize> {
    let (mut out, mut inc): (Vec<Vec<usize>>, Vec<Vec<usize>>) = (vec![Vec::new(); nv], vec![Vec::new(); nv]);
    let (mut outdeg, mut indeg) = (vec![0usize; nv], vec![0usize; nv]);
    for &(t, h) in edges {
        if t != h {
            out[t].push(h);
            inc[h].push(t);
            outdeg[t] += 1;
            indeg[h] += 1;
        }
    }
    let mut removed = vec![false; nv];
    let (mut front, mut back) = (Vec::with_capacity(nv), Vec::new());
    let mut sinks: Vec<usize> = (0..nv).rev().filter(|&v| outdeg[v] == 0).collect();
    let mut sources: Vec<usize> = (0..nv).rev().filter(|&v| indeg[v] == 0 && outdeg[v] > 0).collect();
    let mut next = 0;
    let mut left = nv;
    while left > 0 {
        let (v, to_back) = if let Some(v) = sinks.pop() {
            (v, true)
        } else if let Some(v) = sources.pop() {
            (v, false)
        } else {
            // Neither: the vertex with the largest out-degree minus in-degree.
            while next < nv && removed[next] {
                next += 1;
            }
            let best = (next..nv).filter(|&v| !removed[v]).max_by_key(|&v| (outdeg[v] as i64 - indeg[v] as i64, std::cmp::Reverse(v)));
            let Some(v) = best else { break };
            (v, false)
        };
        if removed[v] {
            continue;
        }
        removed[v] = true;
        left -= 1;
        if to_back {
            back.push(v)
        } else {
            front.push(v)
        }
        for &w in &out[v] {
            indeg[w] -= 1;
            if indeg[w] == 0 && !removed[w] {
                sources.push(w);
            }
        }
        for &u in &inc[v] {
            outdeg[u] -= 1;
            if outdeg[u] == 0 && !removed[u] {
                sinks.push(u);
            }
        }
    }
    let mut pos = vec![0usize; nv];
    for (p, &v) in front.iter().chain(back.iter().rev()).enumerate() {
        pos[v] = p;
    }
    pos
}

/// Network simplex (Gansner, Koutsofios, North and Vo, "A technique for drawing directed
/// graphs", 1993), the ranking dot uses: given edges `(tail, head, minimum length)` and ranks that
/// keep every `rank[head] - rank[tail] >= minimum length`, moves the ranks to a solution that
/// still keeps them all with the least total edge length. Each connected component gets a
/// spanning tree of tight edges; then tree edges whose removal and re-tightening would shorten
/// the total (a negative cut value) are exchanged for the non-tree edge of least slack across
/// the same cut. Every step keeps the ranks feasible, so stopping after `max_pivots` exchanges
/// still leaves a valid layering.
fn network_simplex(nv: usize, edges: &[(usize, usize, i64)], rank: &mut [i64], max_pivots: usize) {
    let slack = |rank: &[i64], k: usize| {
        let (t, h, d) = edges[k];
        rank[h] - rank[t] - d
    };
    let mut inc: Vec<Vec<usize>> = vec![Vec::new(); nv];
    // Out-degree minus in-degree: a subtree's sum is the cut value of the tree edge above it.
    let mut balance = vec![0i64; nv];
    for (k, &(t, h, _)) in edges.iter().enumerate() {
        if t != h {
            inc[t].push(k);
            inc[h].push(k);
            balance[t] += 1;
            balance[h] -= 1;
        }
    }
    // 1. A feasible tree of tight edges per component, shifting the tree found so far until the
    // incident edge of least slack is tight.
    let mut tree_edge = vec![false; edges.len()];
    let other = |e: usize, v: usize| if edges[e].0 == v { edges[e].1 } else { edges[e].0 };
    let mut in_tree = vec![false; nv];
    let mut reached = vec![false; nv];
    for root in 0..nv {
        if in_tree[root] {
            continue;
        }
        // The component's size.
        let mut component = vec![root];
        reached[root] = true;
        let mut k = 0;
        while k < component.len() {
            let v = component[k];
            k += 1;
            for &e in &inc[v] {
                let w = other(e, v);
                if !reached[w] {
                    reached[w] = true;
                    component.push(w);
                }
            }
        }
        let size = component.len();
        let mut tree = vec![root];
        in_tree[root] = true;
        loop {
            let mut k = 0;
            while k < tree.len() {
                let v = tree[k];
                k += 1;
                for &e in &inc[v] {
                    let w = other(e, v);
                    if !in_tree[w] && slack(rank, e) == 0 {
                        in_tree[w] = true;
                        tree_edge[e] = true;
                        tree.push(w);
                    }
                }
            }
            if tree.len() >= size {
                break;
            }
            let mut best: Option<(i64, usize)> = None;
            for &v in &tree {
                for &e in &inc[v] {
                    if in_tree[edges[e].0] != in_tree[edges[e].1] {
                        let s = slack(rank, e);
                        if best.is_none_or(|(b, _)| s < b) {
                            best = Some((s, e));
                        }
                    }
                }
            }
            let Some((s, e)) = best else { break };
            let delta = if in_tree[edges[e].0] { s } else { -s };
            for &v in &tree {
                rank[v] += delta;
            }
        }
    }
    let mut tree_adj: Vec<Vec<usize>> = vec![Vec::new(); nv];
    for (e, &t) in tree_edge.iter().enumerate() {
        if t {
            tree_adj[edges[e].0].push(e);
            tree_adj[edges[e].1].push(e);
        }
    }
    // 2. Pivots.
    let (mut low, mut lim, mut sub) = (vec![0usize; nv], vec![0usize; nv], vec![0i64; nv]);
    let mut up = vec![usize::MAX; nv];
    let mut start = 0;
    for _ in 0..max_pivots {
        // Postorder numbers (a subtree is a range of them) and subtree balances.
        let mut visited = vec![false; nv];
        let mut counter = 0;
        for root in 0..nv {
            if visited[root] {
                continue;
            }
            visited[root] = true;
            up[root] = usize::MAX;
            low[root] = counter;
            sub[root] = balance[root];
            let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
            while let Some(top) = stack.last_mut() {
                let (v, i) = *top;
                if let Some(&e) = tree_adj[v].get(i) {
                    top.1 += 1;
                    let w = other(e, v);
                    if !visited[w] {
                        visited[w] = true;
                        up[w] = e;
                        low[w] = counter;
                        sub[w] = balance[w];
                        stack.push((w, 0));
                    }
                } else {
                    lim[v] = counter;
                    counter += 1;
                    stack.pop();
                    if let Some(&(p, _)) = stack.last() {
                        sub[p] += sub[v];
                    }
                }
            }
        }
        // A tree edge with a negative cut value, searched from where the last search stopped.
        let cut = |v: usize| if edges[up[v]].0 == v { sub[v] } else { -sub[v] };
        let Some(v) = (0..nv).map(|i| (start + i) % nv).find(|&v| up[v] != usize::MAX && cut(v) < 0) else { break };
        start = (v + 1) % nv;
        let leave = up[v];
        // The subtree under `leave` holds its tail or its head; the entering edge runs from the
        // head's side to the tail's, with the least slack.
        let in_sub = |x: usize| low[v] <= lim[x] && lim[x] <= lim[v];
        let sub_is_tail = in_sub(edges[leave].0);
        let enter = (0..edges.len())
            .filter(|&e| !tree_edge[e] && edges[e].0 != edges[e].1)
            .filter(|&e| if sub_is_tail { !in_sub(edges[e].0) && in_sub(edges[e].1) } else { in_sub(edges[e].0) && !in_sub(edges[e].1) })
            .min_by_key(|&e| (slack(rank, e), e));
        let Some(enter) = enter else { break };
        let s = slack(rank, enter);
        let delta = if sub_is_tail { -s } else { s };
        for (x, r) in rank.iter_mut().enumerate() {
            if in_sub(x) {
                *r += delta;
            }
        }
        tree_edge[leave] = false;
        tree_edge[enter] = true;
        for end in [edges[leave].0, edges[leave].1] {
            tree_adj[end].retain(|&e| e != leave);
        }
        tree_adj[edges[enter].0].push(enter);
        tree_adj[edges[enter].1].push(enter);
    }
}

/// Kahn's algorithm; vertices left over by a cycle (there are none after cycle removal) are
/// appended in index order.
fn topological(n: usize, succ: &[Vec<usize>], pred: &[Vec<usize>]) -> Vec<usize> {
    let mut indeg: Vec<usize> = pred.iter().map(Vec::len).collect();
    let mut queue: std::collections::VecDeque<usize> = (0..n).filter(|&v| indeg[v] == 0).collect();
    let mut out = Vec::with_capacity(n);
    let mut done = vec![false; n];
    while let Some(v) = queue.pop_front() {
        out.push(v);
        done[v] = true;
        for &w in &succ[v] {
            indeg[w] -= 1;
            if indeg[w] == 0 {
                queue.push_back(w);
            }
        }
    }
    out.extend((0..n).filter(|&v| !done[v]));
    out
}

/// The cluster forest: parents, depth-first order and heights.
struct ClusterTree {
    parent: Vec<Option<usize>>,
    /// Parents before children.
    top_down: Vec<usize>,
    /// 1 for a cluster without sub-clusters, else 1 + the tallest child.
    height: Vec<usize>,
    depth: Vec<usize>,
    /// For each cluster, the clusters from the outermost down to it.
    paths: Vec<Vec<usize>>,
}

impl ClusterTree {
    fn new(clusters: &[GraphCluster]) -> ClusterTree {
        let nc = clusters.len();
        // Parents that would form a cycle or point outside are dropped (the model check reports them).
        let mut parent: Vec<Option<usize>> = clusters.iter().map(|c| c.parent.filter(|&p| p < nc)).collect();
        for c in 0..nc {
            let mut seen = 0;
            let mut k = parent[c];
            while let Some(p) = k {
                seen += 1;
                if p == c || seen > nc {
                    parent[c] = None;
                    break;
                }
                k = parent[p];
            }
        }
        let mut children: Vec<Vec<usize>> = vec![Vec::new(); nc];
        let mut top_down = Vec::with_capacity(nc);
        for (c, p) in parent.iter().enumerate() {
            match *p {
                Some(p) => children[p].push(c),
                None => top_down.push(c),
            }
        }
        let mut depth = vec![0; nc];
        let mut k = 0;
        while k < top_down.len() {
            let c = top_down[k];
            for &ch in &children[c] {
                depth[ch] = depth[c] + 1;
                top_down.push(ch);
            }
            k += 1;
        }
        let mut height = vec![1; nc];
        for &c in top_down.iter().rev() {
            if let Some(p) = parent[c] {
                height[p] = height[p].max(height[c] + 1);
            }
        }
        let mut paths: Vec<Vec<usize>> = vec![Vec::new(); nc];
        for &c in &top_down {
            let mut p = parent[c].map(|q| paths[q].clone()).unwrap_or_default();
            p.push(c);
            paths[c] = p;
        }
        ClusterTree { parent, top_down, height, depth, paths }
    }

    /// Clusters from the outermost to `c`.
    fn path(&self, c: Option<usize>) -> Vec<usize> {
        self.path_ref(c).to_vec()
    }

    fn path_ref(&self, c: Option<usize>) -> &[usize] {
        c.map_or(&[], |c| self.paths[c].as_slice())
    }

    fn lca(&self, a: Option<usize>, b: Option<usize>) -> Option<usize> {
        let (pa, pb) = (self.path(a), self.path(b));
        pa.iter().zip(pb.iter()).take_while(|(x, y)| x == y).last().map(|(x, _)| *x)
    }
}

/// Hierarchical ordering of a layer.
struct Orderer<'a> {
    items: &'a [Item],
    tree: &'a ClusterTree,
    /// Global rank of each cluster among its siblings.
    crank: Vec<f64>,
    /// Position of each item in its layer.
    pos: Vec<usize>,
}

enum Unit {
    Item(usize),
    Cluster(usize, Vec<(usize, f64)>),
}

impl Orderer<'_> {
    fn index(&mut self, layers: &[Vec<usize>]) {
        for layer in layers {
            for (p, &i) in layer.iter().enumerate() {
                self.pos[i] = p;
            }
        }
    }

    /// Sorts one layer by the keys, keeping clusters contiguous, each cluster's label first and
    /// sibling clusters in their global order.
    fn arrange(&self, keys: &[(usize, f64)]) -> Vec<usize> {
        let mut out = Vec::with_capacity(keys.len());
        self.arrange_in(None, keys.to_vec(), &mut out);
        out
    }

    fn arrange_in(&self, cluster: Option<usize>, keys: Vec<(usize, f64)>, out: &mut Vec<usize>) {
        let level = cluster.map_or(0, |c| self.tree.depth[c] + 1);
        let mut units: Vec<(f64, Unit)> = Vec::new();
        let mut slot: std::collections::HashMap<usize, usize> = std::collections::HashMap::new();
        for (i, k) in keys {
            if self.items[i].cluster == cluster {
                let k = if matches!(self.items[i].kind, ItemKind::ClusterLabel(_)) { f64::NEG_INFINITY } else { k };
                units.push((k, Unit::Item(i)));
            } else {
                let Some(&child) = self.tree.path_ref(self.items[i].cluster).get(level) else { continue };
                match slot.get(&child) {
                    Some(&u) => {
                        if let (sum, Unit::Cluster(_, members)) = &mut units[u] {
                            *sum += k;
                            members.push((i, k));
                        }
                    }
                    None => {
                        slot.insert(child, units.len());
                        units.push((k, Unit::Cluster(child, vec![(i, k)])));
                    }
                }
            }
        }
        for (k, u) in units.iter_mut() {
            if let Unit::Cluster(_, m) = u {
                *k /= m.len() as f64;
            }
        }
        units.sort_by(|a, b| a.0.total_cmp(&b.0));
        // Clusters take the cluster slots in global rank order.
        let slots: Vec<usize> = units.iter().enumerate().filter(|(_, u)| matches!(u.1, Unit::Cluster(..))).map(|(p, _)| p).collect();
        let mut clusters: Vec<(f64, Unit)> = Vec::with_capacity(slots.len());
        for &p in slots.iter().rev() {
            clusters.push(units.remove(p));
        }
        clusters.sort_by(|a, b| {
            let (Unit::Cluster(ca, _), Unit::Cluster(cb, _)) = (&a.1, &b.1) else { return std::cmp::Ordering::Equal };
            self.crank[*ca].total_cmp(&self.crank[*cb]).then(ca.cmp(cb))
        });
        for (p, c) in slots.into_iter().zip(clusters) {
            units.insert(p, c);
        }
        for (_, u) in units {
            match u {
                Unit::Item(i) => out.push(i),
                Unit::Cluster(c, members) => self.arrange_in(Some(c), members, out),
            }
        }
    }

    /// Global cluster ranks: the mean relative position of each cluster's items over all layers.
    fn update_ranks(&mut self, layers: &[Vec<usize>]) {
        let nc = self.crank.len();
        let mut sum = vec![0.0; nc];
        let mut cnt = vec![0usize; nc];
        for layer in layers {
            let len = layer.len().max(1) as f64;
            for (p, &i) in layer.iter().enumerate() {
                let mut c = self.items[i].cluster;
                while let Some(k) = c {
                    sum[k] += p as f64 / len;
                    cnt[k] += 1;
                    c = self.tree.parent[k];
                }
            }
        }
        for c in 0..nc {
            if cnt[c] > 0 {
                self.crank[c] = sum[c] / cnt[c] as f64;
            }
        }
    }
}

/// Crossings between all adjacent layers (accumulator-tree count per layer pair).
fn total_crossings(layers: &[Vec<usize>], right_nb: &[Vec<usize>], pos: &[usize]) -> usize {
    let mut total = 0;
    for l in 0..layers.len().saturating_sub(1) {
        let mut pairs: Vec<(usize, usize)> = Vec::new();
        for &i in &layers[l] {
            for &j in &right_nb[i] {
                pairs.push((pos[i], pos[j]));
            }
        }
        pairs.sort_unstable();
        let m = layers[l + 1].len() + 1;
        let mut tree = vec![0usize; m + 1];
        for (k, &(_, b)) in pairs.iter().enumerate() {
            // Count earlier edges whose target is after b.
            let mut s = 0;
            let mut x = b + 1;
            while x > 0 {
                s += tree[x];
                x &= x - 1;
            }
            total += k - s;
            let mut x = b + 1;
            while x <= m {
                tree[x] += 1;
                x += x & x.wrapping_neg();
            }
        }
    }
    total
}

/// Keeps a long edge on one side of each boundary it runs beside: where an edge's dummy is
/// above a boundary and the next column's is below it (or the other way round), and the
/// boundary spans both columns, the edge would cut through the boundary in the gap; the later
/// dummy moves to the earlier one's side. Columns are taken left to right, so an edge, once
/// beside a boundary, stays on that side until the boundary ends.
fn keep_sides(layers: &mut [Vec<usize>], items: &[Item], tree: &ClusterTree, left_nb: &[Vec<usize>], pos: &mut [usize]) {
    // The first and last position of every cluster in a layer.
    let ranges = |layer: &[usize]| {
        let mut r: std::collections::HashMap<usize, (usize, usize)> = std::collections::HashMap::new();
        for (p, &i) in layer.iter().enumerate() {
            for &c in tree.path_ref(items[i].cluster) {
                r.entry(c).and_modify(|e| e.1 = p).or_insert((p, p));
            }
        }
        r
    };
    for l in 1..layers.len() {
        let before = ranges(&layers[l - 1]);
        let mut here = ranges(&layers[l]);
        let dummies: Vec<usize> = layers[l].iter().copied().filter(|&i| matches!(items[i].kind, ItemKind::Dummy { .. })).collect();
        for d in dummies {
            let Some(&p) = left_nb[d].first() else { continue };
            let level = items[d].cluster.map_or(0, |c| tree.depth[c] + 1);
            // The sibling boundaries present in both columns, in this layer's order.
            let mut siblings: Vec<(usize, (usize, usize))> = here
                .iter()
                .filter(|(c, _)| tree.depth[**c] == level && tree.parent[**c] == items[d].cluster && before.contains_key(*c))
                .map(|(c, r)| (*c, *r))
                .collect();
            siblings.sort_by_key(|s| s.1);
            for (c, (lo, hi)) in siblings {
                let (plo, phi) = before[&c];
                let (was_above, was_below) = (pos[p] < plo, pos[p] > phi);
                let (is_above, is_below) = (pos[d] < lo, pos[d] > hi);
                let to = if was_above && is_below {
                    lo
                } else if was_below && is_above {
                    hi
                } else {
                    continue;
                };
                let layer = &mut layers[l];
                let from = pos[d];
                layer.remove(from);
                layer.insert(to, d);
                for (k, &i) in layer.iter().enumerate() {
                    pos[i] = k;
                }
                here = ranges(layer);
                break;
            }
        }
    }
}

/// Swaps adjacent items of the same cluster while that removes crossings.
fn transpose(layers: &mut [Vec<usize>], items: &[Item], left_nb: &[Vec<usize>], right_nb: &[Vec<usize>], pos: &mut [usize]) {
    let cross = |u: usize, v: usize, nb: &[Vec<usize>], pos: &[usize]| {
        let mut c = 0;
        for &a in &nb[u] {
            for &b in &nb[v] {
                if pos[a] > pos[b] {
                    c += 1;
                }
            }
        }
        c
    };
    for _ in 0..8 {
        let mut improved = false;
        for layer in layers.iter_mut() {
            for k in 0..layer.len().saturating_sub(1) {
                let (u, v) = (layer[k], layer[k + 1]);
                if items[u].cluster != items[v].cluster
                    || matches!(items[u].kind, ItemKind::ClusterLabel(_))
                    || matches!(items[v].kind, ItemKind::ClusterLabel(_))
                {
                    continue;
                }
                let before = cross(u, v, left_nb, pos) + cross(u, v, right_nb, pos);
                let after = cross(v, u, left_nb, pos) + cross(v, u, right_nb, pos);
                if after < before {
                    layer.swap(k, k + 1);
                    pos[u] = k + 1;
                    pos[v] = k;
                    improved = true;
                }
            }
        }
        if !improved {
            break;
        }
    }
}

/// Solves difference constraints `y[b] >= y[a] + d`: the longest-path solution, then balancing
/// passes that move each variable to `desired(v, y, lo, hi)` clamped to what its constraints
/// allow given the others (so every pass keeps all constraints).
fn solve_constraints(nv: usize, cons: &[(usize, usize, f64)], desired: impl Fn(usize, &[f64], f64, f64) -> f64) -> Vec<f64> {
    let mut succ: Vec<Vec<(usize, f64)>> = vec![Vec::new(); nv];
    let mut pred: Vec<Vec<(usize, f64)>> = vec![Vec::new(); nv];
    for &(a, b, d) in cons {
        succ[a].push((b, d));
        pred[b].push((a, d));
    }
    let s: Vec<Vec<usize>> = succ.iter().map(|v| v.iter().map(|x| x.0).collect()).collect();
    let p: Vec<Vec<usize>> = pred.iter().map(|v| v.iter().map(|x| x.0).collect()).collect();
    let order = topological(nv, &s, &p);
    let mut rank = vec![0usize; nv];
    for (k, &v) in order.iter().enumerate() {
        rank[v] = k;
    }
    // Keep only constraints consistent with the order (all of them unless there was a cycle).
    for v in 0..nv {
        pred[v].retain(|(a, _)| rank[*a] < rank[v]);
        succ[v].retain(|(b, _)| rank[*b] > rank[v]);
    }
    let mut y = vec![0.0f64; nv];
    for &v in &order {
        for &(a, d) in &pred[v] {
            y[v] = y[v].max(y[a] + d);
        }
    }
    for pass in 0..BALANCE_PASSES {
        let seq: Box<dyn Iterator<Item = &usize>> = if pass % 2 == 0 { Box::new(order.iter().rev()) } else { Box::new(order.iter()) };
        for &v in seq {
            let lo = pred[v].iter().map(|&(a, d)| y[a] + d).fold(f64::NEG_INFINITY, f64::max);
            let hi = succ[v].iter().map(|&(b, d)| y[b] - d).fold(f64::INFINITY, f64::min);
            if lo > hi {
                continue;
            }
            let want = desired(v, &y, lo, hi);
            y[v] = want.clamp(lo, hi);
        }
    }
    y
}

/// The curve of a route as a polyline (gap curves sampled), for measuring.
pub fn route_polyline(r: &Route) -> Vec<Point> {
    if r.style == RouteStyle::Polyline || r.points.len() < 2 {
        return r.points.clone();
    }
    let mut out = vec![r.points[0]];
    for (j, w) in r.points.windows(2).enumerate() {
        let (a, b) = (w[0], w[1]);
        if j % 2 == 0 {
            out.push(b);
        } else {
            let mx = (a.x + b.x) / 2.0;
            out.extend(sample_cubic(a, Point { x: mx, y: a.y }, Point { x: mx, y: b.y }, b, 8));
        }
    }
    out
}

/// Points along a cubic Bézier curve (excluding the start).
pub fn sample_cubic(p0: Point, p1: Point, p2: Point, p3: Point, steps: usize) -> Vec<Point> {
    (1..=steps)
        .map(|k| {
            let t = k as f64 / steps as f64;
            let u = 1.0 - t;
            let (a, b, c, d) = (u * u * u, 3.0 * u * u * t, 3.0 * u * t * t, t * t * t);
            Point { x: a * p0.x + b * p1.x + c * p2.x + d * p3.x, y: a * p0.y + b * p1.y + c * p2.y + d * p3.y }
        })
        .collect()
}

/// Checks the boundary rules of a drawing: every cluster contains its members (nodes and
/// sub-clusters), no node lies over a cluster it is not in, and clusters that are not nested
/// do not overlap. Returns one message per violation.
pub fn boundary_problems(g: &Graph, nodes: &[Rect], clusters: &[Rect]) -> Vec<String> {
    let tree = ClusterTree::new(&g.clusters);
    let inside = |c: usize, k: Option<usize>| tree.path(k).contains(&c);
    let mut out = Vec::new();
    for (c, r) in clusters.iter().enumerate() {
        for (i, n) in g.nodes.iter().enumerate() {
            let member = inside(c, n.cluster);
            if member && !r.contains_rect(&nodes[i]) {
                out.push(format!("node {i} is outside its boundary {c}"));
            }
            if !member && r.overlaps(&nodes[i]) {
                out.push(format!("node {i} overlaps boundary {c} it does not belong to"));
            }
        }
        for (d, s) in clusters.iter().enumerate() {
            if d == c {
                continue;
            }
            if tree.parent[d] == Some(c) && !r.contains_rect(s) {
                out.push(format!("boundary {d} is not inside its parent {c}"));
            }
            if d > c && !inside(c, Some(d)) && !inside(d, Some(c)) && r.overlaps(s) {
                out.push(format!("boundaries {c} and {d} overlap"));
            }
        }
    }
    out
}

/// Edges whose drawn curve passes through a boundary that contains neither endpoint.
pub fn edges_through_foreign_boundaries(g: &Graph, polylines: &[Vec<Point>], clusters: &[Rect]) -> usize {
    let tree = ClusterTree::new(&g.clusters);
    let mut count = 0;
    for (e, line) in polylines.iter().enumerate() {
        let ge = &g.edges[e];
        let (pa, pb) = (tree.path(g.nodes[ge.from].cluster), tree.path(g.nodes[ge.to].cluster));
        let foreign = clusters.iter().enumerate().any(|(c, r)| {
            !pa.contains(&c)
                && !pb.contains(&c)
                && line.iter().any(|p| p.x > r.x + 1.0 && p.x < r.right() - 1.0 && p.y > r.y + 1.0 && p.y < r.bottom() - 1.0)
        });
        if foreign {
            count += 1;
        }
    }
    count
}

/// A DFD-like test graph: `n` nodes, about 1.5 `n` edges (a random spanning tree plus extra
/// edges), `n / 12` boundaries (some nested) holding about 70 % of the nodes, labelled edges.
/// Deterministic for a given `seed`. Used by the benchmarks, the Graphviz comparison and tests.
pub fn sample_graph(n: usize, seed: u64) -> Graph {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut rnd = move |m: usize| {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s % m.max(1) as u64) as usize
    };
    let nb = (n / 12).max(1);
    let mut clusters = Vec::with_capacity(nb);
    for c in 0..nb {
        let parent = if c >= 2 && rnd(4) == 0 { Some(rnd(c)) } else { None };
        clusters.push(GraphCluster { parent, label: Size { w: 96.0, h: 18.0 } });
    }
    let nodes: Vec<GraphNode> = (0..n)
        .map(|i| {
            let cluster = if rnd(10) < 7 { Some(rnd(nb)) } else { None };
            let w = 96.0 + (i % 5) as f64 * 12.0;
            GraphNode { size: Size { w, h: 48.0 }, cluster }
        })
        .collect();
    let mut edges = Vec::with_capacity(n * 3 / 2);
    for i in 1..n {
        let j = rnd(i);
        let (a, b) = if rnd(2) == 0 { (i, j) } else { (j, i) };
        edges.push(GraphEdge { from: a, to: b, label: Some(Size { w: 52.0, h: 15.0 }) });
    }
    while edges.len() < n * 3 / 2 && n > 1 {
        let (a, b) = (rnd(n), rnd(n));
        if a != b {
            edges.push(GraphEdge { from: a, to: b, label: Some(Size { w: 52.0, h: 15.0 }) });
        }
    }
    Graph { nodes, clusters, edges }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Random edges of a graph on `n` vertices, each with a minimum length, as generated.
    fn edges_strategy() -> impl Strategy<Value = (usize, Vec<(usize, usize, i64)>)> {
        (2usize..=5).prop_flat_map(|n| (Just(n), proptest::collection::vec((0..n, 0..n, 0i64..=2), 1..(14 - 2 * n))))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        /// On small acyclic graphs, compared with trying every ranking.
        #[test]
        fn network_simplex_finds_the_least_total_edge_length((n, raw) in edges_strategy()) {
            let edges: Vec<(usize, usize, i64)> =
                raw.into_iter().filter(|e| e.0 != e.1).map(|(a, b, d)| (a.min(b), a.max(b), d)).collect();
            let feasible = |r: &[i64]| edges.iter().all(|&(t, h, d)| r[h] - r[t] >= d);
            let total = |r: &[i64]| edges.iter().map(|&(t, h, _)| r[h] - r[t]).sum::<i64>();
            // Longest path (edges run from lower to higher index).
            let mut rank = vec![0i64; n];
            for v in 0..n {
                for &(t, h, d) in &edges {
                    if t == v {
                        rank[h] = rank[h].max(rank[t] + d);
                    }
                }
            }
            network_simplex(n, &edges, &mut rank, 1000);
            prop_assert!(feasible(&rank), "{rank:?} breaks a minimum length of {edges:?}");
            // Some optimal ranking spans at most the sum of the minimum lengths.
            let span = edges.iter().map(|e| e.2).sum::<i64>() + 1;
            let mut best = i64::MAX;
            let mut r = vec![0i64; n];
            loop {
                if feasible(&r) {
                    best = best.min(total(&r));
                }
                let mut k = 0;
                while k < n && r[k] == span - 1 {
                    r[k] = 0;
                    k += 1;
                }
                if k == n {
                    break;
                }
                r[k] += 1;
            }
            prop_assert_eq!(total(&rank), best, "ranks {:?} for {:?}", rank, edges);
        }

        #[test]
        fn the_feedback_order_of_an_acyclic_graph_is_topological((n, raw) in edges_strategy()) {
            let edges: Vec<(usize, usize)> = raw.into_iter().filter(|e| e.0 != e.1).map(|(a, b, _)| (a.max(b), a.min(b))).collect();
            let pos = feedback_order(n, &edges);
            let mut sorted = pos.clone();
            sorted.sort_unstable();
            prop_assert_eq!(sorted, (0..n).collect::<Vec<_>>());
            for &(t, h) in &edges {
                prop_assert!(pos[t] < pos[h], "{:?} against {:?}", (t, h), pos);
            }
        }
    }
}
