//! The self-contained HTML report: one file with inline CSS and inline SVG diagrams, no
//! scripts, fonts or images from elsewhere, laid out to print to PDF cleanly.

use std::fmt::Write as _;

use threatmap_core::attr::Kind;
use threatmap_core::engine::{Analysis, Finding};
use threatmap_core::lifecycle::Status;
use threatmap_core::model::ElementAttr;
use threatmap_core::rules::Severity;

use crate::dfd::{DfdOptions, Diagram, display_name, severity_marker, severity_style};
use crate::seq;
use crate::svg::esc;

/// Status of a finding in the report: its triage decision's (Open when none); findings an
/// assumption excludes are "not applicable" with the assumption as justification.
fn status(a: &Analysis<'_>, f: &Finding) -> (&'static str, String) {
    if let (None, Some(d)) = (&f.excluded_by, a.decision(f)) {
        let mut why = d.justification.clone();
        for (label, v) in [("Owner", &d.owner), ("Ticket", &d.ticket)] {
            if !v.is_empty() {
                why.push_str(&format!("{}{label}: {v}", if why.is_empty() { "" } else { ". " }));
            }
        }
        if let Some(due) = &d.due {
            why.push_str(&format!("{}Due: {due}", if why.is_empty() { "" } else { ". " }));
        }
        return (d.status.label(), why);
    }
    match &f.excluded_by {
        Some(by) if by == threatmap_core::engine::OUT_OF_SCOPE && !a.prepared.element(f.element).in_scope() => {
            let recorded = a.prepared.model().decisions.get(&a.key(f)).map(|d| d.status.label()).unwrap_or("Open");
            ("Out of scope", format!("The element is out of scope; the threat is on record as {recorded}."))
        }
        Some(assumption) => {
            let desc = a
                .prepared
                .model()
                .assumptions
                .iter()
                .chain(a.prepared.element(f.element).assumptions.iter())
                .find(|x| &x.name == assumption)
                .map(|x| x.description.clone())
                .unwrap_or_default();
            let why = if desc.is_empty() { format!("Assumption: {assumption}") } else { format!("Assumption: {assumption}. {desc}") };
            ("Not applicable", why)
        }
        None => ("Open", String::new()),
    }
}

const CSS: &str = r#"
:root{--ink:#111827;--muted:#4b5563;--line:#d1d5db;--soft:#f3f4f6;--accent:#1e3a8a}
*{box-sizing:border-box}
body{margin:0;color:var(--ink);font:14px/1.5 'DejaVu Sans',Verdana,'Segoe UI',Arial,sans-serif;background:#fff}
main{max-width:1100px;margin:0 auto;padding:32px 40px 64px}
header.r-cover{border-bottom:3px solid var(--accent);padding-bottom:16px;margin-bottom:24px}
header.r-cover .r-kicker{text-transform:uppercase;letter-spacing:.12em;font-size:12px;color:var(--muted)}
h1{font-size:30px;margin:4px 0 8px;color:var(--accent)}
h2{font-size:21px;margin:36px 0 12px;padding-bottom:4px;border-bottom:1px solid var(--line);color:var(--accent);page-break-after:avoid;break-after:avoid}
h3{font-size:16px;margin:24px 0 8px;page-break-after:avoid;break-after:avoid}
p.r-desc{white-space:pre-wrap;margin:0 0 8px}
.r-muted{color:var(--muted)}
nav.r-toc ol{margin:0;padding-left:20px;columns:2}
table{border-collapse:collapse;width:100%;margin:8px 0 16px;font-size:13px}
th,td{border:1px solid var(--line);padding:5px 8px;text-align:left;vertical-align:top}
th{background:var(--soft);font-weight:bold}
tr{page-break-inside:avoid;break-inside:avoid}
.r-num{text-align:right;font-variant-numeric:tabular-nums}
.r-cards{display:flex;gap:12px;flex-wrap:wrap;margin:8px 0 16px}
.r-card{border:1px solid var(--line);border-radius:8px;padding:10px 14px;min-width:120px}
.r-card .r-big{font-size:26px;font-weight:bold}
.r-sev{display:inline-flex;align-items:center;gap:6px;white-space:nowrap;font-weight:bold}
.r-sev svg{flex:none}
figure{margin:12px 0 20px;border:1px solid var(--line);border-radius:8px;padding:8px;overflow-x:auto;page-break-inside:avoid;break-inside:avoid}
figure svg{max-width:100%;height:auto;display:block;margin:0 auto}
figcaption{font-size:12px;color:var(--muted);margin-top:6px}
section.r-element{page-break-inside:auto}
article.r-finding{border:1px solid var(--line);border-left:6px solid var(--sevc);border-radius:6px;padding:10px 14px;margin:10px 0;page-break-inside:avoid;break-inside:avoid}
article.r-finding h4{margin:0 0 6px;font-size:15px}
article.r-finding dl{display:grid;grid-template-columns:150px 1fr;gap:4px 12px;margin:6px 0 0}
article.r-finding dt{font-weight:bold;color:var(--muted)}
article.r-finding dd{margin:0;white-space:pre-wrap}
article.r-finding ul{margin:0;padding-left:18px;white-space:normal}
code{font-family:'DejaVu Sans Mono',Menlo,Consolas,monospace;font-size:12px;background:var(--soft);padding:1px 4px;border-radius:3px}
.r-refs{white-space:normal}
.r-status{display:inline-block;border:1px solid var(--line);border-radius:10px;padding:0 8px;font-size:12px}
footer{margin-top:40px;font-size:12px;color:var(--muted);border-top:1px solid var(--line);padding-top:8px}
@page{size:A4;margin:16mm 14mm}
@media print{body{font-size:11px}table{font-size:10.5px}article.r-finding{padding:6px 10px;margin:6px 0}article.r-finding dl{grid-template-columns:110px 1fr}main{padding:0;max-width:none}nav.r-toc{page-break-after:always;break-after:page}h2{page-break-before:auto}a{color:inherit;text-decoration:none}figure{overflow:visible}}
"#;

fn sev_chip(s: Severity) -> String {
    let (_, _, letter) = severity_style(s);
    format!(
        "<span class=\"r-sev\"><svg width=\"16\" height=\"16\" viewBox=\"0 0 16 16\" aria-hidden=\"true\">{}</svg>{} <span class=\"r-muted\">({letter})</span></span>",
        severity_marker(s, 8.0, 8.0, 7.0),
        s.name()
    )
}

fn link_or_text(r: &str) -> String {
    let t = r.trim();
    if (t.starts_with("https://") || t.starts_with("http://")) && !t.contains(char::is_whitespace) {
        format!("<a href=\"{0}\">{0}</a>", esc(t))
    } else {
        esc(t).into_owned()
    }
}

/// The report as one HTML document.
pub fn html(a: &Analysis<'_>) -> String {
    html_with(a, &[])
}

/// An artefact for the report: its entry, where it is linked from (relative to the report, e.g.
/// `shop.artefacts/design.pdf`), and its bytes when they could be read and checked.
#[derive(Debug)]
pub struct Attached<'a> {
    /// The model's entry.
    pub artefact: &'a threatmap_core::artefacts::Artefact,
    /// The link to the file.
    pub href: String,
    /// Its bytes, or why they could not be used.
    pub bytes: Result<Vec<u8>, String>,
}

/// The report with the model's attachments: images embedded (SVG as an image only, so nothing
/// in it runs), other files listed and linked.
pub fn html_with(a: &Analysis<'_>, attachments: &[Attached<'_>]) -> String {
    crate::export::in_memory(|w| write_html_with(a, attachments, w))
}

/// Where the report is written as it is made: text goes to the writer in buffered pieces, so
/// memory holds one finding's section at a time, not the report. The first write error is kept
/// (and everything after it dropped) for [`Out::finish`].
struct Out<'w> {
    w: std::io::BufWriter<&'w mut dyn std::io::Write>,
    error: Option<std::io::Error>,
}

impl<'w> Out<'w> {
    fn new(w: &'w mut dyn std::io::Write) -> Out<'w> {
        Out { w: std::io::BufWriter::with_capacity(64 * 1024, w), error: None }
    }

    fn push_str(&mut self, s: &str) {
        use std::io::Write as _;
        if self.error.is_none()
            && let Err(e) = self.w.write_all(s.as_bytes())
        {
            self.error = Some(e);
        }
    }

    fn finish(mut self) -> std::io::Result<()> {
        use std::io::Write as _;
        match self.error.take() {
            Some(e) => Err(e),
            None => self.w.flush(),
        }
    }
}

impl std::fmt::Write for Out<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.push_str(s);
        Ok(())
    }
}

/// [`html_with`] written as it goes (the same bytes).
pub fn write_html_with(a: &Analysis<'_>, attachments: &[Attached<'_>], w: &mut dyn std::io::Write) -> std::io::Result<()> {
    let p = &a.prepared;
    let model = p.model();
    let mut h = Out::new(w);
    let title = if model.name.is_empty() { "Threat model" } else { model.name.as_str() };
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<meta name=\"generator\" content=\"threatmap {}\">\n<title>{} — threat model report</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n",
        env!("CARGO_PKG_VERSION"),
        esc(title)
    );
    let _ = write!(h, "<header class=\"r-cover\"><div class=\"r-kicker\">Threat model report</div><h1>{}</h1>", esc(title));
    if !model.description.is_empty() {
        let _ = write!(h, "<p class=\"r-desc\">{}</p>", esc(&model.description));
    }
    let nodes = model.elements.iter().filter(|e| e.kind.is_node()).count();
    let flows = model.elements.iter().filter(|e| e.kind == Kind::Dataflow).count();
    let bounds = model.elements.iter().filter(|e| e.kind == Kind::Boundary).count();
    let count = |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let _ = writeln!(
        h,
        "<p class=\"r-muted\">{}, {}, {}, {}; {} from {}.</p></header>",
        count(nodes, "element", "elements"),
        count(flows, "dataflow", "dataflows"),
        count(bounds, "trust boundary", "trust boundaries"),
        count(model.data.len(), "data item", "data items"),
        count(a.rules.rules.len(), "rule", "rules"),
        esc(&packs(a))
    );
    h.push_str("<nav class=\"r-toc\"><h2>Contents</h2><ol><li><a href=\"#summary\">Summary</a></li>");
    if !model.assumptions.is_empty() {
        h.push_str("<li><a href=\"#assumptions\">Assumptions</a></li>");
    }
    h.push_str("<li><a href=\"#dfd\">Data-flow diagram</a></li><li><a href=\"#sequence\">Sequence diagram</a></li><li><a href=\"#dataflows\">Dataflows</a></li>");
    if !model.data.is_empty() {
        h.push_str("<li><a href=\"#data\">Data</a></li>");
    }
    h.push_str("<li><a href=\"#findings\">Findings by element</a></li>");
    if !a.excluded.is_empty() {
        h.push_str("<li><a href=\"#excluded\">Not applicable</a></li>");
    }
    if !attachments.is_empty() {
        h.push_str("<li><a href=\"#attachments\">Attachments</a></li>");
    }
    h.push_str("</ol></nav>\n");

    // Summary.
    h.push_str("<section id=\"summary\"><h2>Summary</h2><div class=\"r-cards\">");
    let _ = write!(h, "<div class=\"r-card\"><div class=\"r-big\">{}</div>open findings</div>", a.open_findings().count());
    let closed = a.findings.len() - a.open_findings().count();
    if closed > 0 {
        let _ = write!(h, "<div class=\"r-card\"><div class=\"r-big\">{closed}</div>mitigated, accepted or transferred</div>");
    }
    let _ = write!(h, "<div class=\"r-card\"><div class=\"r-big\">{}</div>not applicable</div>", a.excluded.len());
    let affected: std::collections::BTreeSet<u32> = a.findings.iter().map(|f| f.element).collect();
    let _ = write!(h, "<div class=\"r-card\"><div class=\"r-big\">{}</div>elements and flows affected</div></div>", affected.len());
    // Findings per severity and status.
    let counts = a.status_counts();
    let statuses: Vec<Status> =
        Status::ALL.iter().copied().filter(|st| *st == Status::Open || counts.keys().any(|(_, s)| s == st)).collect();
    h.push_str("<table><thead><tr><th>Severity</th>");
    for st in &statuses {
        let _ = write!(h, "<th class=\"r-num\">{}</th>", st.label());
    }
    h.push_str("<th class=\"r-num\">Total</th></tr></thead><tbody>");
    for s in Severity::ALL.iter().rev() {
        let _ = write!(h, "<tr><td>{}</td>", sev_chip(*s));
        let mut total = 0;
        for st in &statuses {
            let n = counts.get(&(*s, *st)).copied().unwrap_or(0);
            total += n;
            let _ = write!(h, "<td class=\"r-num\">{n}</td>");
        }
        let _ = write!(h, "<td class=\"r-num\">{total}</td></tr>");
    }
    h.push_str("<tr><th>Total</th>");
    for st in &statuses {
        let n: usize = counts.iter().filter(|((_, s), _)| s == st).map(|(_, n)| n).sum();
        let _ = write!(h, "<th class=\"r-num\">{n}</th>");
    }
    let _ = write!(h, "<th class=\"r-num\">{}</th></tr></tbody></table>", a.findings.len() + a.excluded.len());
    let orphans = a.orphaned_decisions();
    if !orphans.is_empty() {
        let _ = write!(h, "<p class=\"r-muted\">{} decision(s) concern findings the rules no longer generate: ", orphans.len());
        let keys: Vec<String> = orphans.iter().map(|(k, d)| format!("{} ({})", esc(k), d.status.label())).collect();
        h.push_str(&keys.join(", "));
        h.push_str(".</p>");
    }
    h.push_str("</section>\n");

    if !model.assumptions.is_empty() {
        h.push_str("<section id=\"assumptions\"><h2>Assumptions</h2><table><thead><tr><th>Assumption</th><th>Description</th><th>Excludes</th></tr></thead><tbody>");
        for x in &model.assumptions {
            let _ = write!(h, "<tr><td>{}</td><td>{}</td><td>{}</td></tr>", esc(&x.name), esc(&x.description), esc(&x.exclude.join(", ")));
        }
        h.push_str("</tbody></table></section>\n");
    }

    const LEGEND: &str = "Badges: number of open findings and the worst severity (octagon VH very high, triangle H high, diamond M medium, circle L low, open circle VL very low, square I info). Dashed red rectangles are trust boundaries.";
    if model.diagrams.is_empty() {
        let dfd = Diagram::new(a, &DfdOptions { badges: true, diagram: Some(0), ..DfdOptions::default() });
        let _ = writeln!(
            h,
            "<section id=\"dfd\"><h2>Data-flow diagram</h2><figure>{}<figcaption>{LEGEND}</figcaption></figure></section>",
            strip_xml_decl(&dfd.to_svg(a))
        );
    } else {
        let _ = write!(h, "<section id=\"dfd\"><h2>Data-flow diagrams</h2>");
        for d in 0..model.diagram_count() {
            let dfd = Diagram::new(a, &DfdOptions { badges: true, diagram: Some(d), ..DfdOptions::default() });
            let _ = write!(
                h,
                "<h3 id=\"dfd-{}\">{}</h3><figure>{}<figcaption>{LEGEND}</figcaption></figure>",
                d + 1,
                esc(model.diagram_name(d)),
                strip_xml_decl(&dfd.to_svg(a))
            );
        }
        let _ = writeln!(h, "</section>");
    }
    let _ = writeln!(
        h,
        "<section id=\"sequence\"><h2>Sequence diagram</h2><figure>{}<figcaption>Dataflows in order; dashed arrows are responses.</figcaption></figure></section>",
        strip_xml_decl(&seq::svg(a))
    );

    // Dataflows.
    h.push_str("<section id=\"dataflows\"><h2>Dataflows</h2><table><thead><tr><th>Flow</th><th>From</th><th>To</th><th>Protocol</th><th>Port</th><th>Data</th><th>Encrypted</th></tr></thead><tbody>");
    for &f in p.flow_order() {
        let Some((s, t)) = p.endpoints(f) else { continue };
        let attr = |k: ElementAttr| p.attr(f, k).map(|v| crate::value_text(&v)).unwrap_or_default();
        let data: Vec<&str> = p.data_of(f).iter().map(|&d| p.data_name(d)).collect();
        let enc = crate::value_text(&p.control(f, threatmap_core::model::ControlAttr::is_encrypted));
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&display_name(a, f)),
            esc(&p.element(s).name),
            esc(&p.element(t).name),
            esc(&attr(ElementAttr::protocol)),
            esc(&Some(attr(ElementAttr::dst_port)).filter(|p| p != "-1").unwrap_or_default()),
            esc(&data.join(", ")),
            enc
        );
    }
    h.push_str("</tbody></table></section>\n");

    if !model.data.is_empty() {
        h.push_str("<section id=\"data\"><h2>Data</h2><table><thead><tr><th>Name</th><th>Description</th><th>Classification</th></tr></thead><tbody>");
        for (k, d) in model.data.iter().enumerate() {
            let class = crate::value_text(&p.data_attr(k as u32, threatmap_core::model::DataAttr::classification));
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&d.name),
                esc(d.description.as_deref().unwrap_or("")),
                esc(&class)
            );
        }
        h.push_str("</tbody></table></section>\n");
    }

    // Findings grouped by element, in model order, worst first within an element.
    h.push_str("<section id=\"findings\"><h2>Findings by element</h2>");
    let mut by_el: std::collections::BTreeMap<u32, Vec<&Finding>> = std::collections::BTreeMap::new();
    for f in &a.findings {
        by_el.entry(f.element).or_default().push(f);
    }
    if by_el.is_empty() {
        h.push_str("<p>No open findings.</p>");
    }
    for (el, mut fs) in by_el {
        fs.sort_by(|x, y| a.severity(y).cmp(&a.severity(x)).then(a.rule(x).id.cmp(&a.rule(y).id)));
        let e = p.element(el);
        let name = if e.kind == Kind::Dataflow { display_name(a, el) } else { e.name.clone() };
        let _ = write!(
            h,
            "<section class=\"r-element\" id=\"el-{}\"><h3>{} <span class=\"r-muted\">({}, {} finding{})</span></h3>",
            esc(&e.id),
            esc(&name),
            e.kind.name(),
            fs.len(),
            if fs.len() == 1 { "" } else { "s" }
        );
        for f in fs {
            finding_html(&mut h, a, f);
        }
        h.push_str("</section>\n");
    }
    h.push_str("</section>\n");
    if !a.excluded.is_empty() {
        h.push_str("<section id=\"excluded\"><h2>Not applicable</h2><p>Findings excluded by the model's assumptions.</p>");
        for f in &a.excluded {
            finding_html(&mut h, a, f);
        }
        h.push_str("</section>\n");
    }
    if !attachments.is_empty() {
        attachments_html(&mut h, attachments);
    }
    let _ = write!(
        h,
        "<footer>Generated by threatmap {} from the model “{}”.</footer>\n</main>\n</body>\n</html>\n",
        env!("CARGO_PKG_VERSION"),
        esc(title)
    );
    h.finish()
}

/// The Attachments section.
fn attachments_html(h: &mut Out<'_>, attachments: &[Attached<'_>]) {
    use base64::Engine as _;
    h.push_str("<section id=\"attachments\"><h2>Attachments</h2>");
    let mut files = Vec::new();
    for at in attachments {
        let a = at.artefact;
        let caption = if a.title.is_empty() { esc(&a.name).into_owned() } else { format!("{} ({})", esc(&a.title), esc(&a.name)) };
        match &at.bytes {
            Ok(bytes) if a.is_image() => {
                let data = base64::engine::general_purpose::STANDARD.encode(bytes);
                let _ = write!(
                    h,
                    "<figure class=\"r-diagram\"><img src=\"data:{};base64,{data}\" alt=\"{}\" style=\"max-width:100%\"><figcaption>{caption}</figcaption></figure>",
                    esc(&a.media_type),
                    esc(if a.title.is_empty() { &a.name } else { &a.title })
                );
            }
            Ok(_) => files.push(format!(
                "<li><a href=\"{}\">{caption}</a> <span class=\"r-muted\">{}, {} bytes, SHA-256 {}</span></li>",
                esc(&at.href),
                esc(&a.media_type),
                a.size,
                esc(&a.sha256)
            )),
            Err(why) => files.push(format!("<li>{caption} <span class=\"r-muted\">not included: {}</span></li>", esc(why))),
        }
    }
    if !files.is_empty() {
        let _ = write!(h, "<ul>{}</ul>", files.join(""));
    }
    h.push_str("</section>\n");
}

fn packs(a: &Analysis<'_>) -> String {
    let mut packs: Vec<&str> = a.rules.rules.iter().map(|r| r.pack.as_str()).collect();
    packs.dedup();
    let mut seen = std::collections::BTreeSet::new();
    packs.retain(|p| seen.insert(*p));
    if packs.is_empty() { "no packs".to_owned() } else { packs.join(", ") }
}

fn strip_xml_decl(svg: &str) -> &str {
    svg.trim_start_matches(|c: char| c != '<')
}

fn finding_html(h: &mut Out<'_>, a: &Analysis<'_>, f: &Finding) {
    let v = a.view(f);
    let (fill, _, _) = severity_style(v.severity);
    let (status, why) = status(a, f);
    let _ = write!(
        h,
        "<article class=\"r-finding\" style=\"--sevc:{fill}\" id=\"f-{}\"><h4>{} — {}</h4><dl><dt>Severity</dt><dd>{}</dd><dt>Status</dt><dd><span class=\"r-status\">{status}</span></dd>",
        esc(&v.key),
        esc(v.threat_id),
        esc(&v.title),
        sev_chip(v.severity)
    );
    if !why.is_empty() {
        let _ = write!(h, "<dt>Justification</dt><dd>{}</dd>", esc(&why));
    }
    let _ = write!(h, "<dt>Target</dt><dd>{} ({})</dd>", esc(v.element_name), v.element_kind.name());
    if !v.stride.is_empty() {
        let _ = write!(h, "<dt>STRIDE</dt><dd>{}</dd>", esc(&v.stride.join(", ")));
    }
    if !v.likelihood.is_empty() {
        let _ = write!(h, "<dt>Likelihood</dt><dd>{}</dd>", esc(v.likelihood));
    }
    let _ = write!(h, "<dt>Description</dt><dd>{}</dd>", esc(&v.description));
    if !v.details.is_empty() {
        let _ = write!(h, "<dt>Details</dt><dd>{}</dd>", esc(v.details));
    }
    if !v.example.is_empty() {
        let _ = write!(h, "<dt>Example</dt><dd>{}</dd>", esc(v.example));
    }
    if !v.mitigations.is_empty() {
        h.push_str("<dt>Mitigations</dt><dd><ul>");
        for m in &v.mitigations {
            let _ = write!(h, "<li>{}</li>", esc(m));
        }
        h.push_str("</ul></dd>");
    }
    if !v.references.is_empty() {
        let refs: Vec<String> =
            v.references.iter().flat_map(|r| r.split(", ")).filter(|s| !s.trim().is_empty()).map(link_or_text).collect();
        let _ = write!(h, "<dt>References</dt><dd class=\"r-refs\">{}</dd>", refs.join(", "));
    }
    if f.excluded_by.is_none() {
        let ev = a.explain(f);
        if f.forced {
            h.push_str("<dt>Why</dt><dd>Forced by an override in the model.</dd>");
        } else if !ev.is_empty() {
            h.push_str("<dt>Why</dt><dd><ul>");
            for e in ev {
                let obs: Vec<String> = e.observed.iter().map(|o| format!("{} = {}", o.path, o.value)).collect();
                let _ = write!(h, "<li><code>{}</code>", esc(&e.clause));
                if !obs.is_empty() {
                    let _ = write!(h, " <span class=\"r-muted\">({})</span>", esc(&obs.join("; ")));
                }
                h.push_str("</li>");
            }
            h.push_str("</ul></dd>");
        }
    }
    h.push_str("</dl></article>\n");
}

/// A rendered pytm template (Markdown) as one HTML document with the report's stylesheet.
pub fn markdown_page(title: &str, markdown: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{} — threat model report</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n{}</main>\n</body>\n</html>\n",
        esc(title),
        crate::template::markdown_to_html(markdown)
    )
}
