//! DOT and PlantUML text in the shapes pytm 1.4.0 emits (`--dfd`, `--seq`), for pipelines
//! built around Graphviz and PlantUML. Differences from pytm, all deliberate:
//!
//! - every name is escaped, so quotes, backslashes, `<` and newlines give valid DOT (pytm's
//!   output is invalid DOT for those);
//! - node ids are `<kind>_<letters of the name>_<10 hex digits>` as in pytm, but the digits
//!   come from the element's stable id, so the output is deterministic;
//! - data stores are `shape = cylinder` instead of a PNG from pytm's install directory;
//! - multi-line names inside HTML labels (boundaries, lambdas) break with `<br/>`;
//! - out-of-scope elements are `grey69`, as pytm 1.3.1 drew them.

use threatmap_core::attr::Kind;
use threatmap_core::engine::Analysis;

use crate::dfd::{DfdOptions, badges, display_name, levels_of};
use crate::font::textwrap;

/// pytm's node id for an element.
pub fn node_id(kind: Kind, name: &str, id: &str) -> String {
    let letters: String = name.chars().filter(|c| c.is_alphabetic()).collect();
    // FNV-1a over the stable id: deterministic across runs and machines.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let hex = format!("{h:016x}");
    format!("{}_{letters}_{}", kind.name().to_lowercase(), &hex[..10])
}

/// Escapes text for a DOT double-quoted string. Line breaks become spaces here; labels are
/// wrapped and joined with `\n` by the caller.
fn dot_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' | '\r' | '\t' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Escapes text for a DOT HTML label (line breaks become spaces).
fn dot_html(s: &str) -> String {
    crate::svg::escape_markup(&s.replace(['\n', '\r', '\t'], " "), true)
}

/// pytm's DOT label: the name wrapped at 18 characters, lines joined by `\n`.
fn label(name: &str) -> String {
    textwrap(name, 18).iter().map(|l| dot_str(l)).collect::<Vec<_>>().join("\\n")
}

fn html_label(name: &str) -> String {
    textwrap(name, 18).iter().map(|l| dot_html(l)).collect::<Vec<_>>().join("<br/>")
}

/// Python's `textwrap.indent(text, prefix)`: prefixes every line that is not blank.
fn indent(text: &str, prefix: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for line in text.split_inclusive('\n') {
        if !line.trim().is_empty() {
            out.push_str(prefix);
        }
        out.push_str(line);
    }
    out
}

fn sev_to_color(score: u8) -> &'static str {
    match score {
        5 => "firebrick3; fillcolor=\"#b2222222\"; style=filled ",
        2..=4 => "gold; fillcolor=\"#ffd80022\"; style=filled",
        _ => "darkgreen; fillcolor=\"#00630022\"; style=filled",
    }
}

struct Dot<'a, 'b> {
    a: &'b Analysis<'a>,
    opts: &'b DfdOptions,
    scores: std::collections::HashMap<u32, u8>,
    drawn: Vec<bool>,
}

impl Dot<'_, '_> {
    fn on_level(&self, i: u32) -> bool {
        self.opts.levels.is_empty() || levels_of(self.a, i).iter().any(|l| self.opts.levels.contains(l))
    }

    fn uniq(&self, i: u32) -> String {
        let e = self.a.prepared.element(i);
        node_id(e.kind, &e.name, &e.id)
    }

    fn color(&self, i: u32) -> &'static str {
        let e = self.a.prepared.element(i);
        if self.opts.colormap {
            sev_to_color(self.scores.get(&i).copied().unwrap_or(0))
        } else if !e.in_scope() {
            "grey69"
        } else {
            "black"
        }
    }

    fn element(&mut self, i: u32) -> String {
        let kind = self.a.prepared.element(i).kind;
        match kind {
            Kind::Boundary => self.boundary(i),
            Kind::Dataflow => self.flow(i),
            _ => self.node(i),
        }
    }

    fn node(&mut self, i: u32) -> String {
        self.drawn[i as usize] = true;
        if !self.on_level(i) {
            return String::new();
        }
        let e = self.a.prepared.element(i);
        let (uniq, color) = (self.uniq(i), self.color(i));
        match e.kind {
            Kind::Lambda => format!(
                "{uniq} [\n    shape = rectangle; style=rounded;\n\n    color = {color};\n    fontcolor = \"black\";\n    label = <\n        <table border=\"0\" cellborder=\"0\" cellpadding=\"2\">\n            <tr><td><b>{}</b></td></tr>\n        </table>\n    >;\n]\n",
                html_label(&e.name)
            ),
            Kind::Datastore => format!(
                "{uniq} [\n    shape = cylinder;\n    color = {color};\n    fontcolor = black;\n    label = \"{}\";\n    margin = 0.02;\n]\n",
                label(&e.name)
            ),
            k => {
                let shape = match k {
                    Kind::Process | Kind::Server => "circle",
                    Kind::SetOfProcesses => "doublecircle",
                    Kind::Llm | Kind::Agent => "hexagon",
                    _ => "square",
                };
                format!(
                    "{uniq} [\n    shape = {shape};\n    color = {color};\n    fontcolor = black;\n    label = \"{}\";\n    margin = 0.02;\n]\n",
                    label(&e.name)
                )
            }
        }
    }

    fn boundary(&mut self, b: u32) -> String {
        if self.drawn[b as usize] {
            return String::new();
        }
        self.drawn[b as usize] = true;
        let model = self.a.prepared.model();
        let mut parts = Vec::new();
        for i in 0..model.elements.len() as u32 {
            if self.a.prepared.boundary_of(i) != Some(b) || self.drawn[i as usize] || model.elements[i as usize].kind == Kind::Dataflow {
                continue;
            }
            parts.push(self.element(i));
        }
        let color = if self.opts.colormap { "black" } else { "firebrick2" };
        let e = self.a.prepared.element(b);
        format!(
            "subgraph cluster_{} {{\n    graph [\n        fontsize = 10;\n        fontcolor = black;\n        style = dashed;\n        color = {color};\n        label = <<i>{}</i>>;\n    ]\n\n{}\n}}\n",
            self.uniq(b),
            html_label(&e.name),
            indent(&parts.join("\n"), "    ")
        )
    }

    fn flow(&mut self, i: u32) -> String {
        self.drawn[i as usize] = true;
        let Some((s, t)) = self.a.prepared.endpoints(i) else { return String::new() };
        if !(self.on_level(i) || (self.on_level(s) && self.on_level(t))) {
            return String::new();
        }
        let color = self.color(i);
        let mut lab = label(&display_name(self.a, i));
        let mut dir = "forward";
        if self.a.prepared.model().merge_responses
            && let (Some(r), _) = self.a.prepared.response_pair(i)
        {
            dir = "both";
            lab.push('\n');
            lab.push_str(&label(&display_name(self.a, r)));
        }
        format!(
            "{} -> {} [\n    color = {color};\n    fontcolor = {color};\n    dir = {dir};\n    label = \"{lab}\";\n]\n",
            self.uniq(s),
            self.uniq(t)
        )
    }
}

/// The DFD as Graphviz DOT, in pytm's shape.
pub fn dot(a: &Analysis<'_>, opts: &DfdOptions) -> String {
    let model = a.prepared.model();
    let n = model.elements.len();
    let scores = badges(a).into_iter().enumerate().filter_map(|(i, b)| Some((i as u32, b?.worst as u8))).collect();
    let mut d = Dot { a, opts, scores, drawn: vec![false; n] };
    // Boundaries from the highest ancestor level down, by name within a level (pytm's order).
    let boundaries: Vec<u32> = (0..n as u32).filter(|&i| model.elements[i as usize].kind == Kind::Boundary).collect();
    let parents: std::collections::BTreeSet<u32> = boundaries.iter().filter_map(|&b| a.prepared.boundary_of(b)).collect();
    let mut levels: Vec<Vec<u32>> = vec![Vec::new()];
    for &b in &boundaries {
        if parents.contains(&b) {
            continue;
        }
        levels[0].push(b);
        let mut k = a.prepared.boundary_of(b);
        let mut depth = 1;
        while let Some(p) = k {
            if depth > n {
                break;
            }
            if levels.len() <= depth {
                levels.push(Vec::new());
            }
            levels[depth].push(p);
            k = a.prepared.boundary_of(p);
            depth += 1;
        }
    }
    let mut parts: Vec<String> = Vec::new();
    for level in levels.iter_mut().rev() {
        level.sort_by(|x, y| model.elements[*x as usize].name.cmp(&model.elements[*y as usize].name).then(x.cmp(y)));
        level.dedup();
        for &b in level.iter() {
            parts.push(d.boundary(b));
        }
    }
    if model.merge_responses {
        for i in 0..n as u32 {
            if model.elements[i as usize].kind == Kind::Dataflow
                && let (Some(r), _) = a.prepared.response_pair(i)
            {
                d.drawn[r as usize] = true;
            }
        }
    }
    for i in 0..n as u32 {
        let e = &model.elements[i as usize];
        if d.drawn[i as usize] || e.kind == Kind::Boundary || (e.kind != Kind::Dataflow && a.prepared.boundary_of(i).is_some()) {
            continue;
        }
        parts.push(d.element(i));
    }
    let body: Vec<String> = parts.into_iter().filter(|p| !p.is_empty()).collect();
    let edges = indent(&body.join("\n"), "    ");
    format!(
        "digraph tm {{\n    graph [\n        fontname = Arial;\n        fontsize = 14;\n    ]\n    node [\n        fontname = Arial;\n        fontsize = 14;\n        rankdir = lr;\n    ]\n    edge [\n        shape = none;\n        arrowtail = onormal;\n        fontname = Arial;\n        fontsize = 12;\n    ]\n    labelloc = \"t\";\n    fontsize = 20;\n    nodesep = 1;\n\n{}\n\n}}\n",
        edges.trim_end_matches('\n')
    )
}

/// Text for a PlantUML participant alias or message: one line, no double quotes.
fn puml(s: &str) -> String {
    s.replace('"', "'").replace("\r\n", "\\n").replace(['\n', '\r'], "\\n")
}

/// The sequence diagram as PlantUML, in pytm's shape.
pub fn plantuml(a: &Analysis<'_>) -> String {
    let model = a.prepared.model();
    let mut participants = Vec::new();
    for (i, e) in model.elements.iter().enumerate() {
        let word = match e.kind {
            Kind::Dataflow | Kind::Boundary => continue,
            Kind::Actor => "actor",
            Kind::Datastore => "database",
            _ => "entity",
        };
        participants.push(format!("{word} {} as \"{}\"", node_id(e.kind, &e.name, &e.id), puml(&model.elements[i].name)));
    }
    let mut messages = Vec::new();
    for &f in a.prepared.flow_order() {
        let Some((s, t)) = a.prepared.endpoints(f) else { continue };
        let (se, te) = (a.prepared.element(s), a.prepared.element(t));
        let mut m =
            format!("{} -> {}: {}", node_id(se.kind, &se.name, &se.id), node_id(te.kind, &te.name, &te.id), puml(&display_name(a, f)));
        let note = &a.prepared.element(f).note;
        if let Some(note) = note.as_deref().filter(|n| !n.is_empty()) {
            let safe: Vec<String> = note
                .lines()
                .map(|l| if l.trim().eq_ignore_ascii_case("end note") { format!("{l}\u{200B}") } else { l.to_owned() })
                .collect();
            m.push_str(&format!("\nnote left\n{}\nend note", safe.join("\n")));
        }
        messages.push(m);
    }
    format!("@startuml\n{}\n\n{}\n@enduml\n", participants.join("\n"), messages.join("\n"))
}
