//! The portfolio: every application's threat model in one place. Each model is summed up
//! ([`summarize`]: open findings by severity, decisions by status, overdue due dates, owners,
//! tags, ticket states, remediation failures, orphaned decisions), and the summaries become a
//! self-contained HTML dashboard (no script), JSON or CSV. Where each model lives, when it last
//! changed and which of its source files are newer are facts the caller gathers (files, git).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{Value, json};
use threatmap_core::engine::Analysis;
use threatmap_core::lifecycle::Status;
use threatmap_core::rules::Severity;

use crate::dfd::severity_style;
use crate::svg::esc;

/// What one model says, summed up.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    /// Nodes, dataflows and boundaries.
    pub elements: usize,
    /// Findings that still need work, by severity (highest first, every severity present).
    pub open: Vec<(Severity, usize)>,
    /// Findings by decision status (every status, workflow order).
    pub statuses: Vec<(Status, usize)>,
    /// Findings excluded by assumptions or out of scope.
    pub excluded: usize,
    /// Open findings past their due date: (key, due, owner).
    pub overdue: Vec<(String, String, String)>,
    /// Owners of open findings, with how many each owns.
    pub owners: BTreeMap<String, usize>,
    /// Tags on decisions, with how many carry each.
    pub tags: BTreeMap<String, usize>,
    /// Tickets by state in the tracker's words (a ticket carrying several findings counts once).
    pub tickets: BTreeMap<String, usize>,
    /// Findings whose ticket is done while their rule still fires.
    pub remediation_failures: Vec<String>,
    /// Decisions whose finding the rules no longer generate.
    pub orphaned: usize,
}

impl Summary {
    /// Open findings in all.
    pub fn open_total(&self) -> usize {
        self.open.iter().map(|(_, n)| n).sum()
    }
}

/// Sums up an analysed model; `today` (YYYY-MM-DD) decides what is overdue.
pub fn summarize(a: &Analysis<'_>, today: &str) -> Summary {
    let model = a.prepared.model();
    let mut open: BTreeMap<Severity, usize> = BTreeMap::new();
    let mut statuses: BTreeMap<Status, usize> = BTreeMap::new();
    let mut s = Summary { elements: model.elements.len(), excluded: a.excluded.len(), ..Summary::default() };
    for f in &a.findings {
        let status = a.status(f);
        *statuses.entry(status).or_default() += 1;
        if !status.is_open() {
            continue;
        }
        *open.entry(a.severity(f)).or_default() += 1;
        if let Some(d) = a.decision(f) {
            if let Some(due) = d.due.as_deref().filter(|due| *due < today) {
                s.overdue.push((a.key(f), due.to_owned(), d.owner.clone()));
            }
            if !d.owner.trim().is_empty() {
                *s.owners.entry(d.owner.trim().to_owned()).or_default() += 1;
            }
        }
    }
    s.open = Severity::ALL.iter().rev().map(|sev| (*sev, open.get(sev).copied().unwrap_or(0))).collect();
    s.statuses = Status::ALL.iter().map(|st| (*st, statuses.get(st).copied().unwrap_or(0))).collect();
    let mut seen_tickets = std::collections::BTreeSet::new();
    for d in model.decisions.values() {
        for t in &d.tags {
            *s.tags.entry(t.clone()).or_default() += 1;
        }
        if let Some(t) = &d.tracked
            && seen_tickets.insert(t.id.clone())
        {
            *s.tickets.entry(if t.state.is_empty() { "unknown".to_owned() } else { t.state.clone() }).or_default() += 1;
        }
    }
    s.remediation_failures = a.remediation_failures().into_iter().map(|(k, _)| k).collect();
    s.orphaned = a.orphaned_decisions().len();
    s
}

/// A source file a model names (`sourceFiles`) whose age differs from the model's by at least
/// the staleness threshold, in pytm's terms: `age_days` is the file's modification time minus
/// the model's, in whole days (positive: the code is newer than the model).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stale {
    /// The source file, as the model names it.
    pub file: String,
    /// Days by which the file is newer (negative: older) than the model.
    pub age_days: i64,
}

/// One application of the portfolio: a model file and what is known of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The model file, relative to the portfolio folder, with `/`.
    pub path: String,
    /// The model's name.
    pub name: String,
    /// Its summary, or why it could not be read.
    pub summary: Result<Summary, String>,
    /// When the model last changed (from git when the folder is a repository, else the file
    /// time), RFC 3339.
    pub changed: String,
    /// Who made that change (git's author), when known.
    pub changed_by: String,
    /// Source files newer than the model by at least the threshold.
    pub stale: Vec<Stale>,
}

/// The portfolio as JSON: one object per application, the figures the dashboard shows.
pub fn json(entries: &[Entry], today: &str, stale_days: i64) -> String {
    let apps: Vec<Value> = entries
        .iter()
        .map(|e| {
            let mut v = json!({
                "path": e.path,
                "name": e.name,
                "changed": e.changed,
                "changedBy": e.changed_by,
                "stale": e.stale.iter().map(|s| json!({"file": s.file, "ageDays": s.age_days})).collect::<Vec<_>>(),
            });
            match &e.summary {
                Ok(s) => {
                    v["elements"] = json!(s.elements);
                    v["open"] = json!(s.open_total());
                    v["openBySeverity"] = Value::Object(s.open.iter().map(|(sev, n)| (sev_key(*sev).to_owned(), json!(n))).collect());
                    v["statuses"] = Value::Object(s.statuses.iter().map(|(st, n)| (st.key().to_owned(), json!(n))).collect());
                    v["excluded"] = json!(s.excluded);
                    v["overdue"] =
                        s.overdue.iter().map(|(k, due, owner)| json!({"finding": k, "due": due, "owner": owner})).collect::<Value>();
                    v["owners"] = json!(s.owners);
                    v["tags"] = json!(s.tags);
                    v["tickets"] = json!(s.tickets);
                    v["remediationFailures"] = json!(s.remediation_failures);
                    v["orphanedDecisions"] = json!(s.orphaned);
                }
                Err(why) => v["error"] = json!(why),
            }
            v
        })
        .collect();
    let doc = json!({ "asOf": today, "staleDays": stale_days, "applications": apps });
    serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
}

/// The key of a severity in JSON and CSV (`very-high`).
fn sev_key(s: Severity) -> &'static str {
    match s {
        Severity::Info => "info",
        Severity::VeryLow => "very-low",
        Severity::Low => "low",
        Severity::Medium => "medium",
        Severity::High => "high",
        Severity::VeryHigh => "very-high",
    }
}

/// The portfolio as CSV: one row per application.
pub fn csv(entries: &[Entry]) -> Result<String, csv::Error> {
    let mut w = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(Vec::new());
    let mut head: Vec<String> = ["path", "name", "changed", "changed_by", "elements", "open"].map(str::to_owned).to_vec();
    head.extend(Severity::ALL.iter().rev().map(|s| format!("open_{}", sev_key(*s).replace('-', "_"))));
    head.extend(Status::ALL.iter().map(|s| format!("status_{}", s.key().replace('-', "_"))));
    head.extend(["overdue", "remediation_failures", "orphaned_decisions", "tickets", "stale_sources", "error"].map(str::to_owned));
    w.write_record(&head)?;
    for e in entries {
        let mut row = vec![e.path.clone(), e.name.clone(), e.changed.clone(), e.changed_by.clone()];
        match &e.summary {
            Ok(s) => {
                row.push(s.elements.to_string());
                row.push(s.open_total().to_string());
                row.extend(s.open.iter().map(|(_, n)| n.to_string()));
                row.extend(s.statuses.iter().map(|(_, n)| n.to_string()));
                row.push(s.overdue.len().to_string());
                row.push(s.remediation_failures.len().to_string());
                row.push(s.orphaned.to_string());
                row.push(s.tickets.values().sum::<usize>().to_string());
                row.push(e.stale.len().to_string());
                row.push(String::new());
            }
            Err(why) => {
                row.resize(head.len() - 1, String::new());
                row.push(why.clone());
            }
        }
        w.write_record(row.iter().map(|c| crate::export::defuse_formula(c).into_owned()))?;
    }
    let bytes = w.into_inner().map_err(|e| e.into_error())?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

const CSS: &str = r#"
:root{--ink:#111827;--muted:#4b5563;--line:#d1d5db;--soft:#f3f4f6;--accent:#1e3a8a;--warn:#b45309}
*{box-sizing:border-box}
body{margin:0;color:var(--ink);font:14px/1.5 'DejaVu Sans',Verdana,'Segoe UI',Arial,sans-serif;background:#fff}
main{max-width:1200px;margin:0 auto;padding:32px 40px 64px}
h1{font-size:28px;margin:4px 0 4px;color:var(--accent)}
h2{font-size:19px;margin:32px 0 8px;border-bottom:1px solid var(--line);padding-bottom:4px}
.p-muted{color:var(--muted)}
.p-tiles{display:flex;flex-wrap:wrap;gap:12px;margin:16px 0}
.p-tile{border:1px solid var(--line);border-radius:8px;padding:10px 14px;min-width:150px}
.p-tile b{display:block;font-size:24px}
table{border-collapse:collapse;width:100%;margin:8px 0}
th,td{border-bottom:1px solid var(--line);padding:6px 8px;text-align:left;vertical-align:top}
th{background:var(--soft);font-weight:600}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.p-sev{display:inline-block;min-width:22px;padding:0 5px;border-radius:4px;color:#fff;text-align:center;font-size:12px}
.p-warn{color:var(--warn);font-weight:600}
.p-err{color:#b91c1c}
.p-app{border:1px solid var(--line);border-radius:8px;padding:12px 16px;margin:14px 0;break-inside:avoid}
.p-app h3{margin:0 0 4px;font-size:17px}
.p-chips span{display:inline-block;background:var(--soft);border-radius:10px;padding:0 8px;margin:2px 4px 2px 0;font-size:12px}
@media print{main{padding:0}}
"#;

/// The portfolio as one self-contained HTML page (inline CSS, no script, nothing fetched).
pub fn html(entries: &[Entry], title: &str, today: &str, stale_days: i64) -> String {
    let mut h = String::with_capacity(64 * 1024);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<meta name=\"generator\" content=\"threatmap {}\">\n<title>{} — threat model portfolio</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n",
        env!("CARGO_PKG_VERSION"),
        esc(title)
    );
    let _ = write!(
        h,
        "<h1>{}</h1><p class=\"p-muted\">Threat model portfolio as of {}: {} model(s).</p>",
        esc(title),
        esc(today),
        entries.len()
    );
    let ok: Vec<(&Entry, &Summary)> = entries.iter().filter_map(|e| e.summary.as_ref().ok().map(|s| (e, s))).collect();
    let total = |f: &dyn Fn(&Summary) -> usize| ok.iter().map(|(_, s)| f(s)).sum::<usize>();
    let stale_models = entries.iter().filter(|e| !e.stale.iter().all(|s| s.age_days < stale_days)).count();
    let _ = write!(h, "<div class=\"p-tiles\">");
    for (label, n, warn) in [
        ("open findings", total(&|s| s.open_total()), false),
        ("very high or high open", total(&|s| s.open.iter().filter(|(sev, _)| *sev >= Severity::High).map(|(_, n)| n).sum()), false),
        (
            "fix reported, to verify",
            total(&|s| s.statuses.iter().filter(|(st, _)| *st == Status::FixReported).map(|(_, n)| n).sum()),
            false,
        ),
        ("remediation failures", total(&|s| s.remediation_failures.len()), true),
        ("overdue", total(&|s| s.overdue.len()), true),
        ("stale models", stale_models, true),
        ("orphaned decisions", total(&|s| s.orphaned), false),
    ] {
        let class = if warn && n > 0 { " class=\"p-warn\"" } else { "" };
        let _ = write!(h, "<div class=\"p-tile\"><b{class}>{n}</b>{label}</div>");
    }
    h.push_str("</div>");
    // One row per application.
    h.push_str("<h2>Applications</h2><table><thead><tr><th>Model</th><th>Last changed</th>");
    for sev in Severity::ALL.iter().rev() {
        let (fill, _, letter) = severity_style(*sev);
        let _ =
            write!(h, "<th class=\"n\" title=\"{}\"><span class=\"p-sev\" style=\"background:{fill}\">{letter}</span></th>", sev.name());
    }
    h.push_str("<th class=\"n\">Open</th><th class=\"n\">To verify</th><th class=\"n\">Overdue</th><th class=\"n\">Tickets</th><th>Flags</th></tr></thead><tbody>");
    for e in entries {
        let _ = write!(
            h,
            "<tr><td><a href=\"#app-{}\">{}</a><br><span class=\"p-muted\">{}</span></td>",
            anchor(&e.path),
            esc(&e.name),
            esc(&e.path)
        );
        let _ = write!(
            h,
            "<td>{}{}</td>",
            esc(e.changed.get(..10).unwrap_or(&e.changed)),
            if e.changed_by.is_empty() { String::new() } else { format!("<br><span class=\"p-muted\">{}</span>", esc(&e.changed_by)) }
        );
        match &e.summary {
            Ok(s) => {
                for (_, n) in &s.open {
                    let _ = write!(h, "<td class=\"n\">{n}</td>");
                }
                let verify: usize = s.statuses.iter().filter(|(st, _)| *st == Status::FixReported).map(|(_, n)| n).sum();
                let _ = write!(
                    h,
                    "<td class=\"n\"><b>{}</b></td><td class=\"n\">{verify}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>",
                    s.open_total(),
                    s.overdue.len(),
                    s.tickets.values().sum::<usize>()
                );
                let mut flags = Vec::new();
                if !s.remediation_failures.is_empty() {
                    flags.push(format!("<span class=\"p-warn\">{} remediation failure(s)</span>", s.remediation_failures.len()));
                }
                let stale = e.stale.iter().filter(|x| x.age_days >= stale_days).count();
                if stale > 0 {
                    flags.push(format!("<span class=\"p-warn\">stale: {stale} source file(s) newer by {stale_days}+ days</span>"));
                }
                if s.orphaned > 0 {
                    flags.push(format!("{} orphaned decision(s)", s.orphaned));
                }
                h.push_str(&flags.join("<br>"));
                h.push_str("</td></tr>");
            }
            Err(why) => {
                let _ = write!(h, "<td colspan=\"{}\" class=\"p-err\">cannot be read: {}</td></tr>", Severity::ALL.len() + 5, esc(why));
            }
        }
    }
    h.push_str("</tbody></table>");
    // Each application in detail.
    h.push_str("<h2>Details</h2>");
    for e in entries {
        let _ = write!(
            h,
            "<section class=\"p-app\" id=\"app-{}\"><h3>{}</h3><p class=\"p-muted\">{}</p>",
            anchor(&e.path),
            esc(&e.name),
            esc(&e.path)
        );
        let Ok(s) = &e.summary else {
            let _ = write!(h, "<p class=\"p-err\">{}</p></section>", esc(e.summary.as_ref().err().map(String::as_str).unwrap_or("")));
            continue;
        };
        let statuses: Vec<String> =
            s.statuses.iter().filter(|(_, n)| *n > 0).map(|(st, n)| format!("<span>{} {n}</span>", esc(st.label()))).collect();
        let _ = write!(
            h,
            "<p class=\"p-chips\">Findings by status: {}</p>",
            if statuses.is_empty() { "none".to_owned() } else { statuses.join("") }
        );
        for (label, map) in [("Owners", &s.owners), ("Tags", &s.tags), ("Tickets", &s.tickets)] {
            if map.is_empty() {
                continue;
            }
            let chips: Vec<String> = map.iter().map(|(k, n)| format!("<span>{} {n}</span>", esc(k))).collect();
            let _ = write!(h, "<p class=\"p-chips\">{label}: {}</p>", chips.join(""));
        }
        if !s.overdue.is_empty() {
            h.push_str("<p class=\"p-warn\">Overdue:</p><ul>");
            for (k, due, owner) in &s.overdue {
                let _ = write!(
                    h,
                    "<li>{} due {}{}</li>",
                    esc(k),
                    esc(due),
                    if owner.is_empty() { String::new() } else { format!(" ({})", esc(owner)) }
                );
            }
            h.push_str("</ul>");
        }
        if !s.remediation_failures.is_empty() {
            h.push_str("<p class=\"p-warn\">Ticket closed, rule still fires (the model does not show the fix):</p><ul>");
            for k in &s.remediation_failures {
                let _ = write!(h, "<li>{}</li>", esc(k));
            }
            h.push_str("</ul>");
        }
        let stale: Vec<&Stale> = e.stale.iter().filter(|x| x.age_days >= stale_days).collect();
        if !stale.is_empty() {
            h.push_str("<p class=\"p-warn\">Source code newer than the model:</p><ul>");
            for x in stale {
                let _ = write!(h, "<li>{}: {} day(s) newer</li>", esc(&x.file), x.age_days);
            }
            h.push_str("</ul>");
        }
        h.push_str("</section>");
    }
    h.push_str("</main>\n</body>\n</html>\n");
    h
}

/// An id for a model's section (letters, digits and dashes only).
fn anchor(path: &str) -> String {
    path.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect()
}
