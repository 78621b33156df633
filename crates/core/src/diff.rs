//! What changed between two versions of a model: elements and flows added, removed, renamed,
//! changed or moved (matched by stable id, and by kind and name when an id changed); findings
//! new, gone or with a changed severity; decisions added, removed or changed.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;

use crate::engine::Analysis;
use crate::model::{Element, Model};

/// An element in a diff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ElementRef {
    /// Its id (in the new model, for matched elements).
    pub id: String,
    /// Its kind.
    pub kind: String,
    /// Its name.
    pub name: String,
}

/// An element present in both versions that differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Changed {
    /// The element (as in the new model).
    pub element: ElementRef,
    /// Its id in the old model, when the id changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_id: Option<String>,
    /// Its name in the old model, when it was renamed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub renamed_from: Option<String>,
    /// The attributes whose value changed (file names, e.g. `controls.isEncrypted`).
    pub attributes: Vec<String>,
    /// True if only its position or size changed.
    pub moved: bool,
}

/// A finding in a diff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FindingRef {
    /// Stable key, `rule@element`.
    pub key: String,
    /// Title.
    pub title: String,
    /// Severity (in the new model for new and changed findings, in the old one for gone ones).
    pub severity: String,
}

/// A finding whose severity changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SeverityChange {
    /// The finding.
    pub finding: FindingRef,
    /// Its severity before.
    pub from: String,
}

/// A decision that was added, removed or changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DecisionChange {
    /// The finding key.
    pub key: String,
    /// Status before (`None`: no decision).
    pub from: Option<String>,
    /// Status after (`None`: decision removed).
    pub to: Option<String>,
    /// The fields that changed (status, justification, owner, ticket, due, tags, history).
    pub fields: Vec<String>,
}

/// Everything that changed from one model to another.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ModelDiff {
    /// Elements only in the new model.
    pub added: Vec<ElementRef>,
    /// Elements only in the old model.
    pub removed: Vec<ElementRef>,
    /// Elements in both that differ.
    pub changed: Vec<Changed>,
    /// Findings only in the new model.
    pub new_findings: Vec<FindingRef>,
    /// Findings only in the old model.
    pub gone_findings: Vec<FindingRef>,
    /// Findings in both whose severity changed.
    pub severity_changed: Vec<SeverityChange>,
    /// Decisions added, removed or changed.
    pub decisions: Vec<DecisionChange>,
    /// Model-level settings that changed (name, description, rule packs, assumptions, data).
    pub model: Vec<String>,
}

impl ModelDiff {
    /// True if nothing changed.
    pub fn is_empty(&self) -> bool {
        *self == ModelDiff::default()
    }
}

fn reference(e: &Element) -> ElementRef {
    ElementRef { id: e.id.clone(), kind: e.kind.name().to_owned(), name: e.name.clone() }
}

/// The attribute names (dotted for nested objects) whose values differ.
fn changed_attributes(old: &Element, new: &Element) -> Vec<String> {
    let (Ok(Value::Object(a)), Ok(Value::Object(b))) = (serde_json::to_value(old), serde_json::to_value(new)) else { return Vec::new() };
    let mut out = Vec::new();
    let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    for k in keys {
        if matches!(k.as_str(), "id" | "name") {
            continue;
        }
        match (a.get(k), b.get(k)) {
            (Some(Value::Object(x)), Some(Value::Object(y))) if k == "controls" || k == "properties" => {
                let inner: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
                out.extend(inner.into_iter().filter(|i| x.get(*i) != y.get(*i)).map(|i| format!("{k}.{i}")));
            }
            (x, y) if x != y => out.push(k.clone()),
            _ => {}
        }
    }
    out
}

/// Compares two models and their analyses (`old` then `new`).
pub fn diff(old: &Analysis<'_>, new: &Analysis<'_>) -> ModelDiff {
    let (om, nm) = (old.prepared.model(), new.prepared.model());
    let mut d = ModelDiff::default();
    let old_by_id: BTreeMap<&str, &Element> = om.elements.iter().map(|e| (e.id.as_str(), e)).collect();
    let new_ids: BTreeSet<&str> = nm.elements.iter().map(|e| e.id.as_str()).collect();
    let mut unmatched_old: Vec<&Element> = om.elements.iter().filter(|e| !new_ids.contains(e.id.as_str())).collect();
    for e in &nm.elements {
        let (before, old_id) = match old_by_id.get(e.id.as_str()) {
            Some(o) => (*o, None),
            None => match unmatched_old.iter().position(|o| o.kind == e.kind && o.name == e.name) {
                // Same kind and name under a new id: the element was re-identified.
                Some(i) => {
                    let o = unmatched_old.remove(i);
                    (o, Some(o.id.clone()))
                }
                None => {
                    d.added.push(reference(e));
                    continue;
                }
            },
        };
        let attributes = changed_attributes(before, e);
        let moved = (0..om.diagram_count().max(nm.diagram_count())).any(|k| om.layout_of(k).get(&before.id) != nm.layout_of(k).get(&e.id));
        let renamed_from = (before.name != e.name).then(|| before.name.clone());
        if !attributes.is_empty() || moved || renamed_from.is_some() || old_id.is_some() {
            d.changed.push(Changed { element: reference(e), old_id, renamed_from, moved: moved && attributes.is_empty(), attributes });
        }
    }
    d.removed = unmatched_old.into_iter().map(reference).collect();

    let findings = |a: &Analysis<'_>| -> BTreeMap<String, FindingRef> {
        a.findings
            .iter()
            .map(|f| {
                let v = a.view(f);
                (v.key.clone(), FindingRef { key: v.key, title: v.title, severity: v.severity.name().to_owned() })
            })
            .collect()
    };
    let (of, nf) = (findings(old), findings(new));
    for (k, f) in &nf {
        match of.get(k) {
            None => d.new_findings.push(f.clone()),
            Some(o) if o.severity != f.severity => d.severity_changed.push(SeverityChange { finding: f.clone(), from: o.severity.clone() }),
            _ => {}
        }
    }
    d.gone_findings = of.iter().filter(|(k, _)| !nf.contains_key(*k)).map(|(_, f)| f.clone()).collect();

    let keys: BTreeSet<&String> = om.decisions.keys().chain(nm.decisions.keys()).collect();
    for k in keys {
        let (a, b) = (om.decisions.get(k), nm.decisions.get(k));
        if a == b {
            continue;
        }
        let mut fields = Vec::new();
        if let (Some(a), Some(b)) = (a, b) {
            let checks: [(&str, bool); 7] = [
                ("status", a.status != b.status),
                ("justification", a.justification != b.justification),
                ("owner", a.owner != b.owner),
                ("ticket", a.ticket != b.ticket),
                ("due", a.due != b.due),
                ("tags", a.tags != b.tags),
                ("history", a.history != b.history),
            ];
            fields.extend(checks.iter().filter(|(_, c)| *c).map(|(n, _)| (*n).to_owned()));
        }
        d.decisions.push(DecisionChange {
            key: k.clone(),
            from: a.map(|d| d.status.key().to_owned()),
            to: b.map(|d| d.status.key().to_owned()),
            fields,
        });
    }

    let settings = |m: &Model| -> Vec<(&'static str, Value)> {
        vec![
            ("name", Value::from(m.name.clone())),
            ("description", Value::from(m.description.clone())),
            ("rulePacks", serde_json::to_value(&m.rule_packs).unwrap_or_default()),
            ("assumptions", serde_json::to_value(&m.assumptions).unwrap_or_default()),
            ("data", serde_json::to_value(&m.data).unwrap_or_default()),
            ("isOrdered", Value::from(m.is_ordered)),
            ("mergeResponses", Value::from(m.merge_responses)),
            ("ignoreUnused", Value::from(m.ignore_unused)),
        ]
    };
    d.model = settings(om).into_iter().zip(settings(nm)).filter(|(a, b)| a.1 != b.1).map(|(a, _)| a.0.to_owned()).collect();
    d
}

/// The diff as text for a terminal or a review comment: one line per change, grouped.
pub fn to_text(d: &ModelDiff) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    if d.is_empty() {
        return "no changes\n".to_owned();
    }
    if !d.model.is_empty() {
        let _ = writeln!(s, "model: changed {}", d.model.join(", "));
    }
    for e in &d.added {
        let _ = writeln!(s, "+ {} `{}` ({})", e.kind, e.name, e.id);
    }
    for e in &d.removed {
        let _ = writeln!(s, "- {} `{}` ({})", e.kind, e.name, e.id);
    }
    for c in &d.changed {
        let mut what = Vec::new();
        if let Some(o) = &c.old_id {
            what.push(format!("id was {o}"));
        }
        if let Some(r) = &c.renamed_from {
            what.push(format!("renamed from `{r}`"));
        }
        if !c.attributes.is_empty() {
            what.push(c.attributes.join(", "));
        }
        if c.moved {
            what.push("moved".to_owned());
        }
        let _ = writeln!(s, "~ {} `{}` ({}): {}", c.element.kind, c.element.name, c.element.id, what.join("; "));
    }
    for f in &d.new_findings {
        let _ = writeln!(s, "new finding    {:<9}  {}  {}", f.severity, f.key, f.title);
    }
    for f in &d.gone_findings {
        let _ = writeln!(s, "gone finding   {:<9}  {}  {}", f.severity, f.key, f.title);
    }
    for c in &d.severity_changed {
        let _ = writeln!(s, "severity       {} -> {}  {}  {}", c.from, c.finding.severity, c.finding.key, c.finding.title);
    }
    for c in &d.decisions {
        let st = |x: &Option<String>| x.clone().unwrap_or_else(|| "none".to_owned());
        let fields = if c.fields.is_empty() { String::new() } else { format!(" ({})", c.fields.join(", ")) };
        let _ = writeln!(s, "decision       {}: {} -> {}{fields}", c.key, st(&c.from), st(&c.to));
    }
    let _ = writeln!(
        s,
        "{} added, {} removed, {} changed; {} new finding(s), {} gone, {} severity change(s); {} decision change(s)",
        d.added.len(),
        d.removed.len(),
        d.changed.len(),
        d.new_findings.len(),
        d.gone_findings.len(),
        d.severity_changed.len(),
        d.decisions.len()
    );
    s
}
