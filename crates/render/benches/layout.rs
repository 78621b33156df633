//! The automatic layout at 200 and 1,000 nodes (criterion), then a comparison with Graphviz
//! `dot` on the same clustered graphs of 50, 200 and 1,000 nodes (`layout::sample_graph`, seed
//! 7): time, edge crossings (same counting rule for both: proper intersections of the drawn
//! curves of edges that share no endpoint), drawing area, boundary correctness, and edges drawn
//! through a boundary that contains neither endpoint.
//!
//! `cargo bench -p threatmap-render --bench layout`; `THREATMAP_DOT_TIMEOUT` (seconds, default
//! 60) stops a `dot` run that takes longer. Needs `dot` on PATH (Debian: `apt-get install
//! graphviz`); without it only Threatmap's side is printed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fmt::Write as _;
use std::hint::black_box;
use std::io::Read as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use threatmap_render::layout::{
    self, Graph, Point, Rect, boundary_problems, count_crossings, edges_through_foreign_boundaries, route_polyline, sample_cubic,
    sample_graph,
};

struct Row {
    tool: String,
    time: String,
    crossings: String,
    area: String,
    boundaries: String,
    through: String,
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("layout");
    group.sample_size(10);
    for n in [200usize, 1000] {
        let g = sample_graph(n, 7);
        group.bench_function(format!("layered/{n}"), |b| b.iter(|| black_box(layout::layered(&g))));
    }
    group.finish();

    let timeout = std::env::var("THREATMAP_DOT_TIMEOUT").ok().and_then(|s| s.parse().ok()).unwrap_or(60u64);
    let have_dot = Command::new("dot").arg("-V").stderr(Stdio::null()).status().is_ok_and(|s| s.success());
    println!("\nThreatmap layout against Graphviz dot (medians of 5 for Threatmap, one run of dot):");
    println!(
        "| nodes / edges / boundaries | layout | time | crossings | area (Mpx², w×h) | boundaries correct | edges through foreign boundaries |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    for n in [50usize, 200, 1000] {
        let g = sample_graph(n, 7);
        let mut rows = vec![ours(&g)];
        if have_dot {
            rows.push(graphviz(&g, false, timeout));
            rows.push(graphviz(&g, true, timeout));
        }
        for r in rows {
            println!(
                "| {n} / {} / {} | {} | {} | {} | {} | {} | {} |",
                g.edges.len(),
                g.clusters.len(),
                r.tool,
                r.time,
                r.crossings,
                r.area,
                r.boundaries,
                r.through
            );
        }
    }
    if !have_dot {
        println!("(Graphviz `dot` not found: install graphviz to compare)");
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);

fn ours(g: &Graph) -> Row {
    // Median of 5 runs.
    let mut times = Vec::new();
    let mut l = layout::layered(g);
    for _ in 0..5 {
        let t = Instant::now();
        l = layout::layered(g);
        times.push(t.elapsed());
    }
    times.sort();
    let lines: Vec<Vec<Point>> = l.edges.iter().map(route_polyline).collect();
    let segs: Vec<Vec<(Point, Point)>> = lines.iter().map(|p| p.windows(2).map(|w| (w[0], w[1])).collect()).collect();
    let nodes: Vec<Rect> = l.nodes.iter().zip(&g.nodes).map(|(c, n)| Rect::centered(*c, n.size)).collect();
    let problems = boundary_problems(g, &nodes, &l.clusters);
    Row {
        tool: "threatmap".into(),
        time: format!("{:.3} s", times[2].as_secs_f64()),
        crossings: count_crossings(g, &segs).to_string(),
        area: format!("{:.2} ({:.0}×{:.0})", l.size.w * l.size.h / 1e6, l.size.w, l.size.h),
        boundaries: if problems.is_empty() { "yes".into() } else { format!("no ({} violations)", problems.len()) },
        through: edges_through_foreign_boundaries(g, &lines, &l.clusters).to_string(),
    }
}

fn to_dot(g: &Graph, labels: bool) -> String {
    let mut s = String::from("digraph G {\n rankdir=LR;\n");
    if labels {
        s.push_str(" newrank=true;\n");
    }
    s.push_str(
        " node [shape=box, fixedsize=true, fontname=\"DejaVu Sans\", fontsize=13];\n edge [fontname=\"DejaVu Sans\", fontsize=11];\n",
    );
    fn cluster(g: &Graph, c: usize, s: &mut String, depth: usize) {
        let pad = " ".repeat(depth + 1);
        let _ = writeln!(s, "{pad}subgraph cluster_{c} {{ label=\"Boundary {c}\"; style=dashed;");
        for (i, n) in g.nodes.iter().enumerate() {
            if n.cluster == Some(c) {
                let _ = writeln!(s, "{pad} n{i} [width={:.3}, height={:.3}];", n.size.w / 72.0, n.size.h / 72.0);
            }
        }
        for (k, cl) in g.clusters.iter().enumerate() {
            if cl.parent == Some(c) {
                cluster(g, k, s, depth + 1);
            }
        }
        let _ = writeln!(s, "{pad}}}");
    }
    for (c, cl) in g.clusters.iter().enumerate() {
        if cl.parent.is_none() {
            cluster(g, c, &mut s, 0);
        }
    }
    for (i, n) in g.nodes.iter().enumerate() {
        if n.cluster.is_none() {
            let _ = writeln!(s, " n{i} [width={:.3}, height={:.3}];", n.size.w / 72.0, n.size.h / 72.0);
        }
    }
    for (k, e) in g.edges.iter().enumerate() {
        let attr = if labels { "label" } else { "xlabel" };
        let _ = writeln!(s, " n{} -> n{} [id=\"e{k}\", {attr}=\"flow {k}\"];", e.from, e.to);
    }
    s.push_str("}\n");
    s
}

fn graphviz(g: &Graph, labels: bool, timeout: u64) -> Row {
    let tool = if labels { "dot (labels, newrank)" } else { "dot (xlabels)" }.to_owned();
    let dot = to_dot(g, labels);
    let t = Instant::now();
    let mut child = Command::new("dot").arg("-Tjson").stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    {
        use std::io::Write as _;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(dot.as_bytes()).unwrap();
    }
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        let _ = stdout.read_to_string(&mut out);
        out
    });
    // Drain stderr as well: Graphviz can warn a lot, and a full pipe would block it.
    let mut stderr = child.stderr.take().unwrap();
    let err_reader = std::thread::spawn(move || {
        let mut err = String::new();
        let _ = stderr.read_to_string(&mut err);
        err
    });
    let deadline = t + Duration::from_secs(timeout);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let elapsed = t.elapsed().as_secs_f64();
    let fail = |why: String| Row {
        tool: tool.clone(),
        time: why,
        crossings: "–".into(),
        area: "–".into(),
        boundaries: "–".into(),
        through: "–".into(),
    };
    let Some(status) = status else { return fail(format!("> {timeout} s (stopped)")) };
    let out = reader.join().unwrap();
    let err = err_reader.join().unwrap_or_default();
    if !status.success() || out.is_empty() {
        return fail(format!("failed after {elapsed:.2} s: {}", err.lines().next().unwrap_or("").trim()));
    }
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    let pts = |s: &str| -> Vec<Point> {
        s.split_whitespace()
            .filter(|p| !p.starts_with("e,") && !p.starts_with("s,"))
            .filter_map(|p| {
                let mut it = p.split(',');
                Some(Point { x: it.next()?.parse().ok()?, y: it.next()?.parse().ok()? })
            })
            .collect()
    };
    let bb = |s: &str| -> Rect {
        let v: Vec<f64> = s.split(',').filter_map(|x| x.parse().ok()).collect();
        Rect { x: v[0], y: v[1], w: v[2] - v[0], h: v[3] - v[1] }
    };
    let mut nodes = vec![Rect::default(); g.nodes.len()];
    let mut clusters = vec![Rect::default(); g.clusters.len()];
    for o in json["objects"].as_array().into_iter().flatten() {
        let name = o["name"].as_str().unwrap_or("");
        if let Some(c) = name.strip_prefix("cluster_").and_then(|c| c.parse::<usize>().ok()) {
            clusters[c] = bb(o["bb"].as_str().unwrap_or("0,0,0,0"));
        } else if let Some(i) = name.strip_prefix('n').and_then(|i| i.parse::<usize>().ok()) {
            let p = pts(o["pos"].as_str().unwrap_or("0,0"));
            let w: f64 = o["width"].as_str().and_then(|s| s.parse().ok()).unwrap_or(0.0) * 72.0;
            let h: f64 = o["height"].as_str().and_then(|s| s.parse().ok()).unwrap_or(0.0) * 72.0;
            nodes[i] = Rect::centered(p[0], layout::Size { w, h });
        }
    }
    let mut lines = vec![Vec::new(); g.edges.len()];
    for e in json["edges"].as_array().into_iter().flatten() {
        let Some(k) = e["id"].as_str().and_then(|s| s.strip_prefix('e')).and_then(|s| s.parse::<usize>().ok()) else { continue };
        let p = pts(e["pos"].as_str().unwrap_or(""));
        if p.is_empty() {
            continue;
        }
        let mut line = vec![p[0]];
        let mut j = 0;
        while j + 3 < p.len() {
            line.extend(sample_cubic(p[j], p[j + 1], p[j + 2], p[j + 3], 8));
            j += 3;
        }
        lines[k] = line;
    }
    let segs: Vec<Vec<(Point, Point)>> = lines.iter().map(|p| p.windows(2).map(|w| (w[0], w[1])).collect()).collect();
    let root = bb(json["bb"].as_str().unwrap_or("0,0,0,0"));
    let problems = boundary_problems(g, &nodes, &clusters);
    Row {
        tool,
        time: format!("{elapsed:.3} s"),
        crossings: count_crossings(g, &segs).to_string(),
        area: format!("{:.2} ({:.0}×{:.0})", root.w * root.h / 1e6, root.w, root.h),
        boundaries: if problems.is_empty() { "yes".into() } else { format!("no ({} violations)", problems.len()) },
        through: edges_through_foreign_boundaries(g, &lines, &clusters).to_string(),
    }
}
