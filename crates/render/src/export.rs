//! Hand-off exports: the findings of an analysis, with their triage decisions, in the formats
//! trackers and scanners read.
//!
//! - [`sarif`]: SARIF 2.1.0 (code scanning, DefectDojo's SARIF parser, IDEs): the rule
//!   catalogue, one result per finding, the finding key as `partialFingerprints`, decided
//!   findings as suppressions;
//! - [`defectdojo`]: DefectDojo's "Generic Findings Import" JSON, with only the keys its parser
//!   accepts and the finding key as `unique_id_from_tool`, so re-imports update in place;
//! - [`csv`]: one row per finding, for spreadsheets;
//! - [`findings_json`]: every finding with its text, decision and evidence, for scripts.
//!
//! Findings excluded by an assumption are left out of the tracker formats (they are not
//! threats to this system); the JSON export lists them with status `excluded`. Every output is
//! deterministic: no clock, no absolute paths, stable order.

use serde_json::{Map, Value, json};
use threatmap_core::engine::{Analysis, Finding};
use threatmap_core::lifecycle::Status;
use threatmap_core::rules::{Rule, Severity};

/// The SARIF level for a severity: `error` for high and above, `warning` for medium, `note`
/// below.
pub fn sarif_level(s: Severity) -> &'static str {
    match s {
        Severity::VeryHigh | Severity::High => "error",
        Severity::Medium => "warning",
        _ => "note",
    }
}

/// GitHub's `security-severity` score (0.0 to 10.0) for a severity.
fn security_severity(s: Severity) -> &'static str {
    match s {
        Severity::VeryHigh => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
        Severity::VeryLow => "1.5",
        Severity::Info => "0.0",
    }
}

/// DefectDojo's severity name for a severity: Info, Low, Medium, High or Critical.
pub fn defectdojo_severity(s: Severity) -> &'static str {
    match s {
        Severity::VeryHigh => "Critical",
        Severity::High => "High",
        Severity::Medium => "Medium",
        Severity::Low | Severity::VeryLow => "Low",
        Severity::Info => "Info",
    }
}

/// The first CWE number a finding's references name (`CWE-79` or a cwe.mitre.org link).
pub fn cwe_of(references: &[&str]) -> Option<u32> {
    references.iter().find_map(|r| {
        let r = r.trim();
        let digits = if let Some(rest) = r.strip_prefix("CWE-").or_else(|| r.strip_prefix("cwe-")) {
            rest
        } else if let Some(i) = r.find("cwe.mitre.org/data/definitions/") {
            &r[i + "cwe.mitre.org/data/definitions/".len()..]
        } else {
            return None;
        };
        let end = digits.find(|c: char| !c.is_ascii_digit()).unwrap_or(digits.len());
        digits[..end].parse().ok()
    })
}

fn rules_used<'a>(a: &Analysis<'a>) -> Vec<(u32, &'a Rule)> {
    let mut ids: Vec<u32> = a.findings.iter().map(|f| f.rule).collect();
    ids.sort_unstable();
    ids.dedup();
    ids.into_iter().map(|i| (i, &a.rules.rules[i as usize])).collect()
}

/// The findings as a SARIF 2.1.0 log. `model_uri` is the model file as the consumer should see
/// it (a path relative to the repository root, for code scanning); `lines` says on which line
/// of it each element is written (see `threatmap_core::file::element_lines`): each result's
/// region points there (line 1 for an element not found), as code scanning shows no location
/// without a region.
pub fn sarif(a: &Analysis<'_>, model_uri: &str, lines: &std::collections::HashMap<String, usize>) -> String {
    in_memory(|w| write_sarif(a, model_uri, lines, w))
}

/// [`sarif`] written as it goes: one result at a time is built and written, so memory does not
/// grow with the number of findings (the same bytes).
pub fn write_sarif(
    a: &Analysis<'_>,
    model_uri: &str,
    lines: &std::collections::HashMap<String, usize>,
    w: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    let used = rules_used(a);
    let rule_index = |rule: u32| used.iter().position(|(i, _)| *i == rule).unwrap_or(0);
    let rules: Vec<Value> = used
        .iter()
        .map(|(_, r)| {
            let mut tags: Vec<&str> = vec!["security", "threat-model"];
            tags.extend(r.stride.iter().map(|s| s.name()));
            let mut rule = json!({
                "id": r.id,
                "name": sarif_rule_name(&r.id),
                "shortDescription": { "text": non_empty(r.title_template.as_str(), &r.id) },
                "fullDescription": { "text": non_empty(&r.description, &r.title_template) },
                "defaultConfiguration": { "level": sarif_level(r.severity) },
                "properties": {
                    "tags": tags,
                    "security-severity": security_severity(r.severity),
                    "threatmap-pack": r.pack,
                },
            });
            let help = help_text(&r.mitigations.iter().map(String::as_str).collect::<Vec<_>>(), &r.references);
            if !help.is_empty() {
                rule["help"] = json!({ "text": help });
            }
            rule
        })
        .collect();
    let results = a.findings.iter().map(|f| {
        let v = a.view(f);
        let mut result = json!({
            "ruleId": v.threat_id,
            "ruleIndex": rule_index(f.rule),
            "level": sarif_level(v.severity),
            "message": { "text": format!("{} ({} `{}`)", v.title, v.element_kind.label(), v.element_name) },
            "locations": [{
                "physicalLocation": {
                    "artifactLocation": { "uri": model_uri },
                    "region": { "startLine": lines.get(v.element_id).copied().unwrap_or(1) },
                },
                "logicalLocations": [{
                    "name": v.element_name,
                    "fullyQualifiedName": v.element_id,
                    "kind": "element",
                }],
            }],
            "partialFingerprints": { "threatmapFindingKey/v1": v.key },
            "properties": {
                "severity": v.severity.name(),
                "status": a.status(f).key(),
            },
        });
        if let Some(s) = suppression(a, f) {
            result["suppressions"] = json!([s]);
        }
        result
    });
    let log = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "Threatmap",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://github.com/threatmap/threatmap",
                "rules": rules,
            }},
            "automationDetails": { "id": format!("threatmap/{}/", a.prepared.model().name) },
            "columnKind": "unicodeCodePoints",
            "results": STREAMED,
        }],
    });
    write_streamed(&log, results, w)
}

/// A SARIF rule name: PascalCase letters and digits of the id (`INP01` stays `INP01`).
fn sarif_rule_name(id: &str) -> String {
    id.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut c = p.chars();
            c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
        })
        .collect()
}

fn non_empty<'s>(s: &'s str, fallback: &'s str) -> &'s str {
    if s.trim().is_empty() { fallback } else { s }
}

fn help_text(mitigations: &[&str], references: &[impl AsRef<str>]) -> String {
    let mut out = String::new();
    if !mitigations.is_empty() {
        out.push_str("Mitigations:\n");
        for m in mitigations {
            out.push_str("- ");
            out.push_str(m);
            out.push('\n');
        }
    }
    if !references.is_empty() {
        out.push_str("References: ");
        out.push_str(&references.iter().map(AsRef::as_ref).collect::<Vec<_>>().join(", "));
    }
    out.trim_end().to_owned()
}

/// A SARIF suppression for a decided finding: external (made outside the tool's input),
/// accepted, with the decision's justification.
fn suppression(a: &Analysis<'_>, f: &Finding) -> Option<Value> {
    let d = a.decision(f)?;
    if d.status.is_open() {
        return None;
    }
    let mut justification = d.status.label().to_owned();
    if !d.justification.is_empty() {
        justification = format!("{justification}: {}", d.justification);
    }
    let mut s = json!({ "kind": "external", "status": "accepted", "justification": justification });
    let mut props = Map::new();
    props.insert("status".to_owned(), json!(d.status.key()));
    if !d.owner.is_empty() {
        props.insert("owner".to_owned(), json!(d.owner));
    }
    if !d.ticket.is_empty() {
        props.insert("ticket".to_owned(), json!(d.ticket));
    }
    s["properties"] = Value::Object(props);
    Some(s)
}

/// A tag as DefectDojo accepts one: no spaces or commas (runs of them become one `-`), at
/// most 255 characters.
pub fn defectdojo_tag(tag: &str) -> String {
    let joined = tag.split(|c: char| c.is_whitespace() || c == ',').filter(|w| !w.is_empty()).collect::<Vec<_>>().join("-");
    joined.chars().take(255).collect()
}

/// The findings as DefectDojo "Generic Findings Import" JSON (scan type "Generic Findings
/// Import"). Only keys DefectDojo's parser accepts are written.
pub fn defectdojo(a: &Analysis<'_>) -> String {
    in_memory(|w| write_defectdojo(a, w))
}

/// [`defectdojo`] written as it goes, one finding at a time (the same bytes).
pub fn write_defectdojo(a: &Analysis<'_>, w: &mut dyn std::io::Write) -> std::io::Result<()> {
    let findings = a.findings.iter().map(|f| {
        let v = a.view(f);
        let status = a.status(f);
        let d = a.decision(f);
        let mut description =
            format!("{}\n\nElement: {} `{}` (id `{}`)", v.description.trim(), v.element_kind.label(), v.element_name, v.element_id);
        if !v.details.trim().is_empty() {
            description.push_str("\n\n");
            description.push_str(v.details.trim());
        }
        let mut item = Map::new();
        item.insert("title".to_owned(), json!(format!("{} ({})", v.title, v.element_name)));
        item.insert("severity".to_owned(), json!(defectdojo_severity(v.severity)));
        item.insert("description".to_owned(), json!(description));
        let mitigation = v.mitigations.iter().map(|m| m.trim()).filter(|m| !m.is_empty()).collect::<Vec<_>>().join("\n\n");
        if !mitigation.is_empty() {
            item.insert("mitigation".to_owned(), json!(mitigation));
        }
        if !v.example.trim().is_empty() {
            item.insert("steps_to_reproduce".to_owned(), json!(v.example.trim()));
        }
        if !v.references.is_empty() {
            item.insert("references".to_owned(), json!(v.references.join("\n")));
        }
        if let Some(cwe) = cwe_of(&v.references) {
            item.insert("cwe".to_owned(), json!(cwe));
        }
        item.insert("unique_id_from_tool".to_owned(), json!(v.key));
        item.insert("vuln_id_from_tool".to_owned(), json!(v.threat_id));
        item.insert("component_name".to_owned(), json!(v.element_name));
        item.insert("static_finding".to_owned(), json!(true));
        item.insert("dynamic_finding".to_owned(), json!(false));
        item.insert("active".to_owned(), json!(status.is_open()));
        item.insert("verified".to_owned(), json!(status != Status::Open && status != Status::NeedsInvestigation));
        item.insert("false_p".to_owned(), json!(status == Status::NotApplicable));
        item.insert("risk_accepted".to_owned(), json!(status == Status::AcceptedRisk));
        item.insert("is_mitigated".to_owned(), json!(status == Status::Mitigated));
        item.insert("out_of_scope".to_owned(), json!(status == Status::Transferred));
        let mut tags: Vec<String> = vec![format!("threatmap:{}", status.key())];
        tags.extend(v.stride.iter().map(|s| defectdojo_tag(&s.to_lowercase())));
        if let Some(d) = d {
            for t in d.tags.iter().map(|t| defectdojo_tag(t)) {
                if !t.is_empty() && !tags.contains(&t) {
                    tags.push(t);
                }
            }
            if !d.justification.is_empty() {
                item.insert("severity_justification".to_owned(), json!(format!("{}: {}", status.label(), d.justification)));
            }
            if let Some(due) = &d.due {
                item.insert("planned_remediation_date".to_owned(), json!(due));
            }
        }
        item.insert("tags".to_owned(), json!(tags));
        Value::Object(item)
    });
    let log = json!({
        "name": format!("Threatmap: {}", a.prepared.model().name),
        "type": "Threatmap",
        "findings": STREAMED,
    });
    write_streamed(&log, findings, w)
}

/// The columns of [`csv`].
pub const CSV_COLUMNS: [&str; 13] = [
    "key",
    "element_id",
    "element",
    "kind",
    "threat_id",
    "title",
    "severity",
    "status",
    "owner",
    "ticket",
    "due",
    "justification",
    "mitigations",
];

/// One row per finding (RFC 4180, header first). Cells that a spreadsheet would run as a
/// formula (starting with `=`, `+`, `-`, `@`, tab or carriage return) are prefixed with `'`.
pub fn csv(a: &Analysis<'_>) -> Result<String, csv::Error> {
    let mut out = Vec::new();
    write_csv(a, &mut out)?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// [`csv`] written as it goes, a row at a time (the same bytes).
pub fn write_csv(a: &Analysis<'_>, out: &mut dyn std::io::Write) -> Result<(), csv::Error> {
    let mut w = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(out);
    w.write_record(CSV_COLUMNS)?;
    for f in &a.findings {
        let v = a.view(f);
        let d = a.decision(f);
        let field = |get: fn(&threatmap_core::lifecycle::Decision) -> &str| d.map(get).unwrap_or("").to_owned();
        let row = [
            v.key.clone(),
            v.element_id.to_owned(),
            v.element_name.to_owned(),
            v.element_kind.name().to_owned(),
            v.threat_id.to_owned(),
            v.title.clone(),
            v.severity.name().to_owned(),
            a.status(f).key().to_owned(),
            field(|d| &d.owner),
            field(|d| &d.ticket),
            field(|d| d.due.as_deref().unwrap_or("")),
            field(|d| &d.justification),
            v.mitigations.iter().map(|m| m.trim()).collect::<Vec<_>>().join("\n"),
        ];
        w.write_record(row.iter().map(|c| defuse_formula(c).into_owned()))?;
    }
    w.flush()?;
    Ok(())
}

/// Prefixes cells a spreadsheet would evaluate as a formula (CSV injection).
pub(crate) fn defuse_formula(cell: &str) -> std::borrow::Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{cell}").into() } else { cell.into() }
}

/// Every finding (and excluded finding, with status `excluded`) with its text, decision and
/// the evidence of why it fired, as a JSON array.
pub fn findings_json<'a>(a: &'a Analysis<'a>, list: &[(&'a Finding, &str)]) -> String {
    in_memory(|w| write_findings_json(a, list, w))
}

/// [`findings_json`] written as it goes: one finding at a time is built and written, so memory
/// does not grow with the output (the same bytes).
pub fn write_findings_json<'a>(a: &'a Analysis<'a>, list: &[(&'a Finding, &str)], w: &mut dyn std::io::Write) -> std::io::Result<()> {
    use serde::Serializer as _;
    use std::io::Write as _;
    let item = |(f, status): &(&'a Finding, &str)| {
        let mut v = serde_json::to_value(a.view(f)).unwrap_or_default();
        if let Some(obj) = v.as_object_mut() {
            obj.insert("status".to_owned(), Value::String((*status).to_owned()));
            if let Some(d) = a.decision(f) {
                obj.insert("decision".to_owned(), serde_json::to_value(d).unwrap_or_default());
            }
            obj.insert("why".to_owned(), serde_json::to_value(a.explain(f)).unwrap_or_default());
        }
        v
    };
    let mut buffered = std::io::BufWriter::new(w);
    let mut ser = serde_json::Serializer::pretty(&mut buffered);
    ser.collect_seq(list.iter().map(item)).map_err(std::io::Error::other)?;
    buffered.write_all(b"\n")?;
    buffered.flush()
}

/// Every finding of the analysis, then the excluded ones, paired with its status key.
pub fn all_findings<'a>(a: &'a Analysis<'a>) -> Vec<(&'a Finding, &'static str)> {
    let mut list: Vec<(&Finding, &'static str)> = a.findings.iter().map(|f| (f, a.status(f).key())).collect();
    list.extend(a.excluded.iter().map(|f| (f, "excluded")));
    list
}

/// Marks, in a document given to [`write_streamed`], where its one long list goes.
const STREAMED: &str = "\u{0}threatmap-streamed-list\u{0}";

/// A writer's output as text (writing to memory cannot fail).
pub(crate) fn in_memory(write: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>) -> String {
    let mut out = Vec::new();
    let _ = write(&mut out);
    String::from_utf8(out).unwrap_or_default()
}

/// Writes `doc` pretty-printed as `serde_json` prints it, with `items` as the list that stands
/// where `doc` holds [`STREAMED`], built and written one item at a time. Pretty JSON of a value
/// nested `d` levels deep is its own pretty JSON with every line after the first indented by
/// `d` levels (strings never hold a raw line break), so the bytes are those of the whole tree.
fn write_streamed(doc: &Value, items: impl Iterator<Item = Value>, w: &mut dyn std::io::Write) -> std::io::Result<()> {
    use std::io::Write as _;
    let text = serde_json::to_string_pretty(doc).map_err(std::io::Error::other)?;
    let mark = serde_json::to_string(STREAMED).map_err(std::io::Error::other)?;
    let at = text.find(&mark).ok_or_else(|| std::io::Error::other("the document has no place for its list"))?;
    let (head, tail) = (&text[..at], &text[at + mark.len()..]);
    let depth = head.rsplit('\n').next().map_or(0, |line| line.len() - line.trim_start().len());
    let indent = |n: usize| " ".repeat(n);
    let mut w = std::io::BufWriter::new(w);
    w.write_all(head.as_bytes())?;
    let mut first = true;
    for item in items {
        w.write_all(if first { b"[\n" } else { b",\n" })?;
        first = false;
        let item = serde_json::to_string_pretty(&item).map_err(std::io::Error::other)?;
        let inner = indent(depth + 2);
        w.write_all(inner.as_bytes())?;
        w.write_all(item.replace('\n', &format!("\n{inner}")).as_bytes())?;
    }
    if first {
        w.write_all(b"[]")?;
    } else {
        w.write_all(format!("\n{}]", indent(depth)).as_bytes())?;
    }
    w.write_all(tail.as_bytes())?;
    w.write_all(b"\n")?;
    w.flush()
}

#[cfg(test)]
mod tests {
    #[test]
    fn defectdojo_tags_have_no_spaces_or_commas_and_fit_255_characters() {
        assert_eq!(defectdojo_tag("Information Disclosure"), "Information-Disclosure");
        assert_eq!(defectdojo_tag(" a,  b ,c\n d "), "a-b-c-d");
        let long = "Räumlich getrennte Systeme, ".repeat(30);
        let t = defectdojo_tag(&long);
        assert_eq!(t.chars().count(), 255);
        assert!(!t.contains([' ', ',']));
    }

    use super::*;

    #[test]
    fn cwe_numbers_from_references() {
        assert_eq!(cwe_of(&["CAPEC-66", "CWE-89", "CWE-20"]), Some(89));
        assert_eq!(cwe_of(&["https://cwe.mitre.org/data/definitions/79.html"]), Some(79));
        assert_eq!(cwe_of(&["CAPEC-1"]), None);
    }

    #[test]
    fn formulas_are_defused() {
        assert_eq!(defuse_formula("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(defuse_formula("plain"), "plain");
    }

    #[test]
    fn rule_names_are_pascal_case() {
        assert_eq!(sarif_rule_name("stride-spoofing-flow"), "StrideSpoofingFlow");
        assert_eq!(sarif_rule_name("INP01"), "INP01");
    }
}

#[cfg(test)]
mod streaming_tests {
    use super::*;

    /// The streamed list gives the bytes of the whole tree, at any depth, empty or not.
    #[test]
    fn a_streamed_list_gives_the_bytes_of_the_whole_tree() {
        let items = [json!({"b": [1, {"c": "line\nbreak \u{0} \"quoted\""}], "a": {}}), json!("two"), json!([]), json!(3.5)];
        for n in [0, 1, items.len()] {
            let list: Vec<Value> = items[..n].to_vec();
            for (doc, whole) in [
                (
                    json!({"z": 1, "runs": [{"tool": {"x": [1, 2]}, "results": STREAMED, "a": null}]}),
                    json!({"z": 1, "runs": [{"tool": {"x": [1, 2]}, "results": list.clone(), "a": null}]}),
                ),
                (json!({"findings": STREAMED, "name": "n"}), json!({"findings": list.clone(), "name": "n"})),
            ] {
                let mut out = Vec::new();
                write_streamed(&doc, list.clone().into_iter(), &mut out).unwrap();
                let want = format!("{}\n", serde_json::to_string_pretty(&whole).unwrap());
                assert_eq!(String::from_utf8(out).unwrap(), want, "{n} items");
            }
        }
    }
}
