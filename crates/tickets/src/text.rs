//! Which findings go to the tracker, gathered how, and the text of each ticket: a title and a
//! Markdown body from the settings' templates (Jira Cloud gets the body as Atlassian Document
//! Format, converted from that Markdown).

use std::collections::BTreeMap;

use sha2::Digest as _;
use threatmap_core::engine::{Analysis, Finding};
use threatmap_core::lifecycle::{Status, TicketGroup, TrackerKind, TrackerSettings};
use threatmap_core::rules::Severity;

use crate::{Error, KEY_MARKER, MARKER_LABEL};

/// Which findings a push takes. Empty lists take everything; with no statuses, the findings
/// still to be worked on (open, needs investigation, in progress) are taken.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Only findings with these statuses.
    pub statuses: Vec<Status>,
    /// Only findings at or above this severity.
    pub min_severity: Option<Severity>,
    /// Only these rules (threat ids).
    pub rules: Vec<String>,
    /// Only findings on these elements (ids).
    pub elements: Vec<String>,
    /// Only findings whose decision carries one of these tags.
    pub tags: Vec<String>,
    /// Only these findings (keys), whatever their status when no statuses are given: the
    /// findings a person chose.
    pub findings: Vec<String>,
}

impl Selection {
    /// True if the finding is selected.
    pub fn takes(&self, a: &Analysis<'_>, f: &Finding) -> bool {
        let status = a.status(f);
        let key_ok = self.findings.is_empty() || self.findings.contains(&a.key(f));
        let status_ok = if self.statuses.is_empty() && !self.findings.is_empty() {
            true
        } else if self.statuses.is_empty() {
            matches!(status, Status::Open | Status::NeedsInvestigation | Status::InProgress)
        } else {
            self.statuses.contains(&status)
        };
        let rule = &a.rule(f).id;
        let element = &a.prepared.element(f.element).id;
        let tags_ok = self.tags.is_empty()
            || a.decision(f).is_some_and(|d| d.tags.iter().any(|t| self.tags.iter().any(|w| w.eq_ignore_ascii_case(t))));
        key_ok
            && status_ok
            && self.min_severity.is_none_or(|min| a.severity(f) >= min)
            && (self.rules.is_empty() || self.rules.iter().any(|r| r == rule))
            && (self.elements.is_empty() || self.elements.iter().any(|e| e == element))
            && tags_ok
    }
}

/// One ticket to be: its key, the findings it carries and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    /// The key the ticket carries (`scope/RULE@element`, `scope/element:ID`, `scope/rule:ID`).
    pub key: String,
    /// The keys of the findings it carries, in model order.
    pub findings: Vec<String>,
    /// The worst severity among them.
    pub severity: Severity,
    /// Title.
    pub title: String,
    /// Body, Markdown, ending with the key marker.
    pub body: String,
    /// Labels (the settings', the STRIDE categories, `threatmap`).
    pub labels: Vec<String>,
    /// The tracker's priority name for the severity.
    pub priority: String,
}

impl Draft {
    /// A digest of everything a push writes, so that unchanged tickets are left alone.
    pub fn digest(&self) -> String {
        let mut h = sha2::Sha256::new();
        for part in [&self.title, &self.body, &self.labels.join("\n"), &self.priority] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        h.finalize().iter().take(12).map(|b| format!("{b:02x}")).collect()
    }
}

/// The key prefix of a model's tickets.
pub fn scope(settings: &TrackerSettings, model_name: &str) -> String {
    let s = if settings.scope.trim().is_empty() { model_name } else { settings.scope.trim() };
    let slug: String =
        s.chars().map(|c| if c.is_alphanumeric() || matches!(c, '-' | '_' | '.') { c.to_ascii_lowercase() } else { '-' }).collect();
    let slug = slug.trim_matches('-').to_owned();
    if slug.is_empty() { "model".to_owned() } else { slug }
}

/// The default priority names per severity, by tracker kind.
fn default_priority(kind: TrackerKind, s: Severity) -> &'static str {
    match kind {
        TrackerKind::Redmine => match s {
            Severity::VeryHigh => "Immediate",
            Severity::High => "Urgent",
            Severity::Medium => "High",
            Severity::Low => "Normal",
            Severity::VeryLow | Severity::Info => "Low",
        },
        TrackerKind::Jira | TrackerKind::JiraServer => match s {
            Severity::VeryHigh => "Highest",
            Severity::High => "High",
            Severity::Medium => "Medium",
            Severity::Low => "Low",
            Severity::VeryLow | Severity::Info => "Lowest",
        },
        TrackerKind::Github | TrackerKind::Gitlab => match s {
            Severity::VeryHigh => "critical",
            Severity::High => "high",
            Severity::Medium => "medium",
            Severity::Low => "low",
            Severity::VeryLow | Severity::Info => "info",
        },
    }
}

/// The tracker's priority for a severity: the settings' mapping, else the kind's default.
pub fn priority(settings: &TrackerSettings, s: Severity) -> String {
    settings
        .priorities
        .iter()
        .find(|(k, _)| Severity::parse(k) == Some(s))
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| default_priority(settings.kind, s).to_owned())
}

/// Checks the settings a push needs: templates name known fields, priorities name severities.
pub fn check_settings(settings: &TrackerSettings) -> Result<(), Error> {
    for k in settings.priorities.keys() {
        if Severity::parse(k).is_none() {
            return Err(Error::Setup(format!(
                "tracker.priorities: `{k}` is not a severity (info, very-low, low, medium, high, very-high)"
            )));
        }
    }
    let probe: BTreeMap<&str, String> = FIELDS.iter().map(|f| (*f, String::new())).collect();
    fill(&settings.title, &probe).map_err(|e| Error::Setup(format!("tracker.title: {e}")))?;
    fill(&settings.body, &probe).map_err(|e| Error::Setup(format!("tracker.body: {e}")))?;
    Ok(())
}

/// The fields a title or body template can name, in braces (`{{` and `}}` are literal braces).
pub const FIELDS: [&str; 17] = [
    "title",
    "severity",
    "priority",
    "threat_id",
    "element",
    "element_kind",
    "element_id",
    "stride",
    "description",
    "mitigations",
    "references",
    "why",
    "findings",
    "count",
    "model",
    "model_url",
    "key",
];

const DEFAULT_TITLE: &str = "{severity}: {title}";

/// Expands `{field}` in a template; an unknown field is an error that names it.
fn fill(template: &str, fields: &BTreeMap<&str, String>) -> Result<String, String> {
    let mut out = String::with_capacity(template.len() * 2);
    let mut rest = template;
    while let Some(i) = rest.find(['{', '}']) {
        out.push_str(&rest[..i]);
        let c = rest.as_bytes()[i];
        let after = &rest[i + 1..];
        if after.as_bytes().first() == Some(&c) {
            out.push(c as char);
            rest = &after[1..];
            continue;
        }
        if c == b'}' {
            return Err("a `}` with no `{` (write `}}` for a brace)".to_owned());
        }
        let Some(end) = after.find('}') else {
            return Err("a `{` with no `}` (write `{{` for a brace)".to_owned());
        };
        let name = after[..end].trim();
        match fields.get(name) {
            Some(v) => out.push_str(v),
            None => return Err(format!("unknown field `{{{name}}}`; fields: {}", FIELDS.join(", "))),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Escapes Markdown's markup characters in a name, so a name reads as itself.
fn md(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in threatmap_core::model::one_line(s).chars() {
        if matches!(c, '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '#' | '|' | '!' | '~' | '@') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The fields of one finding.
fn finding_fields<'a>(a: &'a Analysis<'a>, f: &'a Finding, settings: &TrackerSettings) -> BTreeMap<&'static str, String> {
    let v = a.view(f);
    let list = |items: Vec<String>| {
        items.iter().filter(|s| !s.trim().is_empty()).map(|s| format!("- {}", s.trim())).collect::<Vec<_>>().join("\n")
    };
    let why = if v.pack == "model" || f.forced {
        String::new()
    } else {
        list(
            a.explain(f)
                .iter()
                .map(|e| {
                    let seen: Vec<String> = e.observed.iter().map(|o| format!("{} = {}", o.path, o.value)).collect();
                    if seen.is_empty() { format!("`{}`", e.clause) } else { format!("`{}` ({})", e.clause, md(&seen.join(", "))) }
                })
                .collect(),
        )
    };
    let mut m = BTreeMap::new();
    m.insert("title", md(&v.title));
    m.insert("severity", v.severity.name().to_owned());
    m.insert("priority", priority(settings, v.severity));
    m.insert("threat_id", v.threat_id.to_owned());
    m.insert("element", md(v.element_name));
    m.insert("element_kind", v.element_kind.to_string());
    m.insert("element_id", md(v.element_id));
    m.insert("stride", v.stride.join(", "));
    m.insert("description", v.description.trim().to_owned());
    m.insert("mitigations", list(v.mitigations.iter().map(|s| s.to_string()).collect()));
    m.insert("references", list(v.references.iter().map(|s| (*s).to_owned()).collect()));
    m.insert("why", why);
    m.insert("findings", format!("- `{}`", v.key));
    m.insert("count", "1".to_owned());
    m
}

/// The built-in body of one finding's section.
fn default_section(fields: &BTreeMap<&'static str, String>) -> String {
    let mut s = format!(
        "**{}** · {} · severity **{}**{}\n\nOn **{}** ({}, `{}`)\n",
        fields["threat_id"],
        fields["title"],
        fields["severity"],
        if fields["stride"].is_empty() { String::new() } else { format!(" · STRIDE: {}", fields["stride"]) },
        fields["element"],
        fields["element_kind"],
        fields["element_id"].replace('`', "'"),
    );
    for (heading, field) in [("", "description"), ("Mitigations", "mitigations"), ("References", "references"), ("Why it fired", "why")] {
        let text = &fields[field];
        if text.trim().is_empty() {
            continue;
        }
        if heading.is_empty() {
            s.push_str(&format!("\n{text}\n"));
        } else {
            s.push_str(&format!("\n#### {heading}\n\n{text}\n"));
        }
    }
    s
}

/// The tickets a push would write for the selected findings of `a`, in model order.
pub fn drafts(a: &Analysis<'_>, settings: &TrackerSettings, selection: &Selection) -> Result<Vec<Draft>, Error> {
    check_settings(settings)?;
    let model_name = &a.prepared.model().name;
    let scope = scope(settings, model_name);
    // Gather the selected findings into groups, keeping model order.
    let mut groups: Vec<(String, Vec<&Finding>)> = Vec::new();
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    for f in a.findings.iter().filter(|f| selection.takes(a, f)) {
        let key = match settings.group {
            TicketGroup::Finding => a.key(f),
            TicketGroup::Element => format!("element:{}", a.prepared.element(f.element).id),
            TicketGroup::Rule => format!("rule:{}", a.rule(f).id),
        };
        match index.get(&key) {
            Some(&i) => groups[i].1.push(f),
            None => {
                index.insert(key.clone(), groups.len());
                groups.push((key, vec![f]));
            }
        }
    }
    let base_labels: Vec<String> = if settings.labels.is_empty() { vec!["threat".to_owned()] } else { settings.labels.clone() };
    let mut out = Vec::with_capacity(groups.len());
    for (group_key, members) in groups {
        let key = format!("{scope}/{group_key}");
        let severity = members.iter().map(|f| a.severity(f)).max().unwrap_or(Severity::Info);
        let mut sections = Vec::new();
        let mut labels = base_labels.clone();
        let mut fields_of_first = None;
        for f in &members {
            let mut fields = finding_fields(a, f, settings);
            fields.insert("model", md(model_name));
            fields.insert("model_url", settings.model_url.clone());
            fields.insert("key", key.clone());
            for s in a.view(f).stride {
                let l = s.to_lowercase().replace(' ', "-");
                if !labels.contains(&l) {
                    labels.push(l);
                }
            }
            let section = if settings.body.trim().is_empty() {
                default_section(&fields)
            } else {
                fill(&settings.body, &fields).map_err(|e| Error::Setup(format!("tracker.body: {e}")))?
            };
            sections.push(section);
            fields_of_first.get_or_insert(fields);
        }
        let Some(mut fields) = fields_of_first else { continue };
        let list: Vec<String> = members.iter().map(|f| format!("- `{}`", a.key(f))).collect();
        fields.insert("findings", list.join("\n"));
        fields.insert("count", members.len().to_string());
        fields.insert("severity", severity.name().to_owned());
        fields.insert("priority", priority(settings, severity));
        if members.len() > 1 {
            let group_title = match settings.group {
                TicketGroup::Element => format!("{} threats to {}", members.len(), fields["element"]),
                _ => format!("{} ({} elements)", fields["title"], members.len()),
            };
            fields.insert("title", group_title);
        }
        let title_template = if settings.title.trim().is_empty() { DEFAULT_TITLE } else { settings.title.as_str() };
        let title =
            threatmap_core::model::one_line(&fill(title_template, &fields).map_err(|e| Error::Setup(format!("tracker.title: {e}")))?)
                // Markdown escapes mean nothing in a title.
                .replace('\\', "");
        let mut body = sections.join("\n---\n\n");
        if members.len() > 1 {
            body.push_str(&format!("\n#### Findings\n\n{}\n", fields["findings"]));
        }
        let model_line = if settings.model_url.is_empty() {
            format!("Threat model: **{}**", fields["model"])
        } else {
            format!("Threat model: [{}]({})", fields["model"], settings.model_url)
        };
        body.push_str(&format!("\n---\n{model_line}\n\n{KEY_MARKER}{key}`\n"));
        if !labels.iter().any(|l| l == MARKER_LABEL) {
            labels.push(MARKER_LABEL.to_owned());
        }
        if matches!(settings.kind, TrackerKind::Github | TrackerKind::Gitlab) {
            labels.push(format!("priority:{}", priority(settings, severity)));
        }
        out.push(Draft {
            key,
            findings: members.iter().map(|f| a.key(f)).collect(),
            severity,
            title,
            body,
            labels,
            priority: priority(settings, severity),
        });
    }
    Ok(out)
}

/// Atlassian Document Format (Jira Cloud's rich text) of a Markdown text: paragraphs, headings,
/// lists, rules, code, emphasis and links; anything else becomes plain text.
pub fn adf(markdown: &str) -> serde_json::Value {
    use pulldown_cmark::{Event, Parser, Tag, TagEnd};
    use serde_json::{Value, json};

    // A stack of open block nodes; text runs carry the marks in force.
    let mut stack: Vec<Value> = vec![json!({"type": "doc", "version": 1, "content": []})];
    let mut marks: Vec<Value> = Vec::new();
    fn push_child(stack: &mut [Value], node: Value) {
        if let Some(Value::Array(c)) = stack.last_mut().and_then(|n| n.get_mut("content")) {
            c.push(node);
        }
    }
    fn close(stack: &mut Vec<Value>) {
        if stack.len() > 1
            && let Some(node) = stack.pop()
        {
            push_child(stack, node);
        }
    }
    // Text must sit in a paragraph (or heading); list items and the document need one opened.
    fn ensure_inline(stack: &mut Vec<Value>) {
        let t = stack.last().and_then(|n| n["type"].as_str()).unwrap_or("");
        if !matches!(t, "paragraph" | "heading" | "codeBlock") {
            stack.push(json!({"type": "paragraph", "content": []}));
        }
    }
    let text_node = |text: &str, marks: &[Value]| {
        if marks.is_empty() { json!({"type": "text", "text": text}) } else { json!({"type": "text", "text": text, "marks": marks}) }
    };
    for event in Parser::new(markdown) {
        match event {
            Event::Start(tag) => match tag {
                Tag::Paragraph => stack.push(json!({"type": "paragraph", "content": []})),
                Tag::Heading { level, .. } => stack.push(json!({"type": "heading", "attrs": {"level": level as u8}, "content": []})),
                Tag::List(None) => stack.push(json!({"type": "bulletList", "content": []})),
                Tag::List(Some(_)) => stack.push(json!({"type": "orderedList", "content": []})),
                Tag::Item => stack.push(json!({"type": "listItem", "content": []})),
                Tag::CodeBlock(_) => stack.push(json!({"type": "codeBlock", "content": []})),
                Tag::BlockQuote(_) => stack.push(json!({"type": "blockquote", "content": []})),
                Tag::Emphasis => marks.push(json!({"type": "em"})),
                Tag::Strong => marks.push(json!({"type": "strong"})),
                Tag::Strikethrough => marks.push(json!({"type": "strike"})),
                Tag::Link { dest_url, .. } => marks.push(json!({"type": "link", "attrs": {"href": dest_url.to_string()}})),
                _ => {}
            },
            Event::End(end) => match end {
                TagEnd::Paragraph | TagEnd::Heading(_) | TagEnd::CodeBlock | TagEnd::BlockQuote(_) | TagEnd::List(_) => close(&mut stack),
                TagEnd::Item => {
                    // A tight list item's text was put in a paragraph of its own: close both.
                    if stack.last().and_then(|n| n["type"].as_str()) == Some("paragraph") {
                        close(&mut stack);
                    }
                    close(&mut stack);
                }
                TagEnd::Emphasis | TagEnd::Strong | TagEnd::Strikethrough | TagEnd::Link => {
                    marks.pop();
                }
                _ => {}
            },
            Event::Text(t) => {
                ensure_inline(&mut stack);
                push_child(&mut stack, text_node(&t, &marks));
            }
            Event::Code(t) => {
                ensure_inline(&mut stack);
                let mut m = marks.clone();
                m.push(json!({"type": "code"}));
                push_child(&mut stack, text_node(&t, &m));
            }
            Event::SoftBreak => {
                ensure_inline(&mut stack);
                push_child(&mut stack, text_node(" ", &marks));
            }
            Event::HardBreak => {
                ensure_inline(&mut stack);
                push_child(&mut stack, json!({"type": "hardBreak"}));
            }
            Event::Rule => {
                while stack.len() > 1 && stack.last().and_then(|n| n["type"].as_str()) == Some("paragraph") {
                    close(&mut stack);
                }
                push_child(&mut stack, json!({"type": "rule"}));
            }
            _ => {}
        }
    }
    while stack.len() > 1 {
        close(&mut stack);
    }
    let mut doc = stack.pop().unwrap_or(Value::Null);
    // ADF refuses empty text nodes and empty paragraphs.
    fn prune(v: &mut Value) {
        if let Some(Value::Array(c)) = v.get_mut("content") {
            for n in c.iter_mut() {
                prune(n);
            }
            c.retain(|n| {
                let empty_text = n["type"] == "text" && n["text"].as_str().is_some_and(str::is_empty);
                let empty_paragraph = n["type"] == "paragraph" && n["content"].as_array().is_some_and(Vec::is_empty);
                !(empty_text || empty_paragraph)
            });
        }
    }
    prune(&mut doc);
    doc
}

/// The plain text of an ADF document (its text nodes, code in backticks, paragraphs on lines of
/// their own).
pub fn adf_text(doc: &serde_json::Value) -> String {
    fn walk(v: &serde_json::Value, out: &mut String) {
        if let Some(t) = v["text"].as_str() {
            let code = v["marks"].as_array().is_some_and(|m| m.iter().any(|m| m["type"] == "code"));
            if code {
                out.push('`');
            }
            out.push_str(t);
            if code {
                out.push('`');
            }
        }
        if let Some(c) = v["content"].as_array() {
            for n in c {
                walk(n, out);
            }
            if matches!(v["type"].as_str(), Some("paragraph" | "heading" | "listItem")) {
                out.push('\n');
            }
        }
    }
    let mut out = String::new();
    walk(doc, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_fill_fields_and_name_unknown_ones() {
        let fields: BTreeMap<&str, String> = [("title", "XSS".to_owned()), ("severity", "High".to_owned())].into();
        assert_eq!(fill("{severity}: {title} {{literal}}", &fields).as_deref(), Ok("High: XSS {literal}"));
        let e = fill("{severity} {titel}", &fields).unwrap_err();
        assert!(e.contains("unknown field `{titel}`"), "{e}");
        assert!(fill("{title", &fields).is_err());
        assert!(fill("title}", &fields).is_err());
    }

    #[test]
    fn priorities_follow_the_settings_then_the_trackers_defaults() {
        use threatmap_core::lifecycle::{TrackerKind, TrackerSettings};
        let mut t = TrackerSettings::new(TrackerKind::Jira, "https://x.atlassian.net", "SEC");
        assert_eq!(priority(&t, Severity::VeryHigh), "Highest");
        t.priorities.insert("very-high".into(), "P0".into());
        t.priorities.insert("High".into(), "P1".into());
        assert_eq!((priority(&t, Severity::VeryHigh).as_str(), priority(&t, Severity::High).as_str()), ("P0", "P1"));
        assert_eq!(priority(&t, Severity::Low), "Low", "unset severities keep the default");
        t.priorities.insert("urgent".into(), "P0".into());
        assert!(check_settings(&t).is_err(), "a key that is no severity is refused");
        let r = TrackerSettings::new(TrackerKind::Redmine, "http://r", "p");
        assert_eq!(priority(&r, Severity::High), "Urgent");
    }

    #[test]
    fn names_cannot_inject_markdown() {
        assert_eq!(md("a*b* [x](http://evil) <img> @team"), "a\\*b\\* \\[x\\](http://evil) \\<img\\> \\@team");
    }

    #[test]
    fn markdown_becomes_adf_with_its_structure() {
        let doc = adf(
            "**INP01** · Injection\n\n#### Mitigations\n\n- Validate `input`\n- See [CWE-20](https://cwe.mitre.org/)\n\n---\nThreatmap key: `m/INP01@web`\n",
        );
        assert_eq!(doc["type"], "doc");
        let kinds: Vec<&str> = doc["content"].as_array().map(|c| c.iter().filter_map(|n| n["type"].as_str()).collect()).unwrap_or_default();
        assert_eq!(kinds, ["paragraph", "heading", "bulletList", "rule", "paragraph"]);
        assert_eq!(doc["content"][1]["attrs"]["level"], 4);
        let item = &doc["content"][2]["content"][1]["content"][0]["content"];
        assert_eq!(item[1]["marks"][0]["attrs"]["href"], "https://cwe.mitre.org/");
        assert_eq!(crate::key_in(&adf_text(&doc)).as_deref(), Some("m/INP01@web"));
    }
}
