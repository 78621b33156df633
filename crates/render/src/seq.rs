//! The sequence diagram: a lifeline per element (actor figure, data store cylinder, a box for
//! the rest), one message per dataflow in flow order with its number, notes in a gutter on the
//! left, responses dashed.

use std::fmt::Write as _;

use threatmap_core::attr::Kind;
use threatmap_core::engine::Analysis;

use crate::dfd::{STYLE, display_name};
use crate::font::{self, Face};
use crate::svg::{Anchor, Svg, esc, lines_width, num};

const HEAD_FONT: f64 = 13.0;
const MSG_FONT: f64 = 11.0;
const NOTE_FONT: f64 = 11.0;
const LINE: f64 = 14.0;
const TOP: f64 = 16.0;
/// Minimum height of the participant heads.
const MIN_HEAD_H: f64 = 64.0;
const NOTE_W: f64 = 210.0;

const SEQ_STYLE: &str = "\
.ll{stroke:#9ca3af;stroke-width:1;stroke-dasharray:5 4}\
.m{fill:none;stroke:#1f2937;stroke-width:1.3}\
.m.r{stroke-dasharray:6 4}\
.note{fill:#fffbeb;stroke:#d97706;stroke-width:1}\
.ntx{font-size:11px;fill:#78350f}\
";

/// The sequence diagram of an analysed model as a standalone SVG document.
pub fn svg(a: &Analysis<'_>) -> String {
    let p = &a.prepared;
    let model = p.model();
    let parts: Vec<u32> = (0..model.elements.len() as u32).filter(|&i| model.elements[i as usize].kind.is_node()).collect();
    let index: std::collections::HashMap<u32, usize> = parts.iter().enumerate().map(|(k, &i)| (i, k)).collect();
    let heads: Vec<Vec<String>> = parts.iter().map(|&i| font::wrap(&p.element(i).name, 130.0, HEAD_FONT, Face::Regular)).collect();
    let head_w: Vec<f64> = heads.iter().map(|l| (lines_width(l, HEAD_FONT, Face::Regular) + 24.0).max(90.0)).collect();
    // Heads are as tall as the tallest needs: actor figures carry their name below.
    let head_h = parts
        .iter()
        .zip(&heads)
        .map(|(&i, l)| {
            let n = l.len() as f64;
            if p.element(i).kind == Kind::Actor { 52.0 + n * 16.0 } else { n * 16.0 + 30.0 }
        })
        .fold(MIN_HEAD_H, f64::max);
    let any_note = p.flow_order().iter().any(|&f| p.element(f).note.as_deref().is_some_and(|n| !n.trim().is_empty()));
    let left = 16.0 + if any_note { NOTE_W + 16.0 } else { 0.0 };
    let mut xs = Vec::with_capacity(parts.len());
    let mut x = left;
    for (k, w) in head_w.iter().enumerate() {
        if k == 0 {
            x += w / 2.0;
        } else {
            x += (head_w[k - 1] / 2.0 + w / 2.0 + 30.0).max(190.0);
        }
        xs.push(x);
    }
    let self_loops = p.flow_order().iter().any(|&f| p.endpoints(f).is_some_and(|(s, t)| s == t));
    let right = x + head_w.last().copied().unwrap_or(0.0) / 2.0 + if self_loops { 200.0 } else { 24.0 };

    struct Msg {
        from: usize,
        to: usize,
        lines: Vec<String>,
        note: Vec<String>,
        response: bool,
        y: f64,
        id: String,
    }
    let mut msgs = Vec::new();
    let mut y = TOP + head_h + 24.0;
    for &f in p.flow_order() {
        let Some((s, t)) = p.endpoints(f) else { continue };
        let (Some(&from), Some(&to)) = (index.get(&s), index.get(&t)) else { continue };
        let span = if from == to { 170.0 } else { (xs[from] - xs[to]).abs() - 24.0 };
        let lines = font::wrap(&display_name(a, f), span.max(60.0), MSG_FONT, Face::Regular);
        let note = p
            .element(f)
            .note
            .as_deref()
            .filter(|n| !n.trim().is_empty())
            .map(|n| font::wrap(n, NOTE_W - 16.0, NOTE_FONT, Face::Regular))
            .unwrap_or_default();
        let text_h = lines.len() as f64 * LINE;
        let arrow_y = y + text_h + 6.0;
        let row_end = if from == to { arrow_y + 26.0 } else { arrow_y + 14.0 };
        let note_end = y + note.len() as f64 * LINE + 12.0;
        let response = p.response_pair(f).1.is_some()
            || matches!(p.attr(f, threatmap_core::model::ElementAttr::is_response), Ok(threatmap_core::attr::Value::Bool(true)));
        msgs.push(Msg { from, to, lines, note, response, y: arrow_y, id: p.element(f).id.clone() });
        y = row_end.max(note_end) + 8.0;
    }
    let bottom = y + 16.0;
    let mut svg = Svg::new(right, bottom + 16.0, &format!("Sequence diagram: {}", model.name), &format!("{STYLE}{SEQ_STYLE}"));
    svg.raw(
        "<defs><marker id=\"sa\" viewBox=\"0 0 10 10\" refX=\"9.5\" refY=\"5\" markerWidth=\"9\" markerHeight=\"9\" orient=\"auto\"><path class=\"ah\" d=\"M0,1 L10,5 L0,9 z\"/></marker></defs>\n<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n",
    );
    // Lifelines and heads.
    for (k, &i) in parts.iter().enumerate() {
        let e = p.element(i);
        let cx = xs[k];
        let _ = writeln!(svg.out, "<g class=\"participant\" data-id=\"{}\" data-kind=\"{}\">", esc(&e.id), e.kind.name());
        let _ = writeln!(
            svg.out,
            "<line class=\"ll\" x1=\"{x}\" y1=\"{}\" x2=\"{x}\" y2=\"{}\"/>",
            num(TOP + head_h),
            num(bottom),
            x = num(cx)
        );
        let lines = &heads[k];
        let th = lines.len() as f64 * 16.0;
        let class = if e.in_scope() { "n" } else { "n oos" };
        match e.kind {
            Kind::Actor => {
                let (hx, hy) = (cx, TOP + 8.0);
                let _ = writeln!(
                    svg.out,
                    "<circle class=\"{class}\" cx=\"{x}\" cy=\"{hy}\" r=\"7\"/><path class=\"{class}\" fill=\"none\" d=\"M{x},{a} V{b} M{l},{c} H{r} M{x},{b} L{l},{d} M{x},{b} L{r},{d}\"/>",
                    x = num(hx),
                    hy = num(hy),
                    a = num(hy + 7.0),
                    b = num(hy + 24.0),
                    c = num(hy + 13.0),
                    d = num(hy + 34.0),
                    l = num(hx - 10.0),
                    r = num(hx + 10.0)
                );
                svg.text_lines(cx, TOP + 60.0, 16.0, lines, "nt", Anchor::Middle);
            }
            Kind::Datastore => {
                let (w, h) = (head_w[k], head_h - 8.0);
                let (x0, y0) = (cx - w / 2.0, TOP + 4.0);
                let ry = 6.0;
                let _ = writeln!(
                    svg.out,
                    "<path class=\"{class}\" d=\"M{x0},{t} A{rx},{ry} 0 0 1 {x1},{t} V{b} A{rx},{ry} 0 0 1 {x0},{b} Z\"/><path class=\"{class}\" fill=\"none\" d=\"M{x0},{t} A{rx},{ry} 0 0 0 {x1},{t}\"/>",
                    x0 = num(x0),
                    x1 = num(x0 + w),
                    t = num(y0 + ry),
                    b = num(y0 + h - ry),
                    rx = num(w / 2.0),
                    ry = num(ry)
                );
                svg.text_lines(cx, y0 + h / 2.0 - th / 2.0 + 16.0, 16.0, lines, "nt", Anchor::Middle);
            }
            _ => {
                let (w, h) = (head_w[k], head_h - 12.0);
                let (x0, y0) = (cx - w / 2.0, TOP + 6.0);
                let rx = if e.kind == Kind::Lambda { 10.0 } else { 3.0 };
                let _ = writeln!(
                    svg.out,
                    "<rect class=\"{class}\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"{rx}\"/>",
                    num(x0),
                    num(y0),
                    num(w),
                    num(h)
                );
                svg.text_lines(cx, y0 + h / 2.0 - th / 2.0 + 12.0, 16.0, lines, "nt", Anchor::Middle);
            }
        }
        svg.raw("</g>\n");
    }
    // Messages.
    for m in &msgs {
        let (x1, x2) = (xs[m.from], xs[m.to]);
        let class = if m.response { "m r" } else { "m" };
        let _ = writeln!(svg.out, "<g class=\"message\" data-id=\"{}\">", esc(&m.id));
        let top = m.y - 6.0 - m.lines.len() as f64 * LINE;
        if m.from == m.to {
            let _ = writeln!(
                svg.out,
                "<path class=\"{class}\" d=\"M{x},{y} H{r} V{b} H{e}\" marker-end=\"url(#sa)\"/>",
                x = num(x1),
                y = num(m.y),
                r = num(x1 + 36.0),
                b = num(m.y + 18.0),
                e = num(x1 + 2.0)
            );
            svg.text_lines(x1 + 8.0, top + 10.5, LINE, &m.lines, "et", Anchor::Start);
        } else {
            let dir = if x2 > x1 { -1.0 } else { 1.0 };
            let _ = writeln!(
                svg.out,
                "<line class=\"{class}\" x1=\"{}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\" marker-end=\"url(#sa)\"/>",
                num(x1),
                num(x2 + dir),
                y = num(m.y)
            );
            svg.text_lines((x1 + x2) / 2.0, top + 10.5, LINE, &m.lines, "et", Anchor::Middle);
        }
        if !m.note.is_empty() {
            let h = m.note.len() as f64 * LINE + 10.0;
            let ny = top - 2.0;
            let _ = writeln!(svg.out, "<rect class=\"note\" x=\"16\" y=\"{}\" width=\"{}\" height=\"{}\"/>", num(ny), num(NOTE_W), num(h));
            svg.text_lines(24.0, ny + 15.0, LINE, &m.note, "ntx", Anchor::Start);
        }
        svg.raw("</g>\n");
    }
    svg.finish()
}
