//! pytm's report template language (`{tm.name}`, `:repeat:`, `:if:`, `:not:`, `:call:` with
//! the report utilities, brace doubling per nesting level), evaluated over an analysed model
//! with no code execution: names resolve against a fixed data model, and an unknown name is
//! an error that names the field, as in pytm.
//!
//! Deliberate differences from pytm 1.4.0: element text (names, descriptions) has `&`, `<`
//! and `>` escaped so a name cannot inject markup into the rendered report (finding text is
//! escaped the way pytm escapes it); shared data items work (pytm crashes on them).

use threatmap_core::attr::{EnumValue, Kind, Value};
use threatmap_core::engine::{Analysis, Finding};
use threatmap_core::model::{DataItem, Element};

/// A template error, with the field that caused it and, when known, where the field starts in
/// the template (1-based line and column; errors inside a repeat or call body point at the
/// outermost field).
#[derive(Debug, thiserror::Error)]
pub struct TemplateError {
    /// What is wrong.
    pub message: String,
    /// Line and column of the field in the template.
    pub position: Option<(usize, usize)>,
    /// Byte offset of the field, until [`render`] turns it into a position.
    offset: Option<usize>,
}

impl std::fmt::Display for TemplateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.position {
            Some((line, column)) => write!(f, "{line}:{column}: template: {}", self.message),
            None => write!(f, "template: {}", self.message),
        }
    }
}

impl TemplateError {
    /// Places an error without a place at `offset` (bytes into the text being expanded).
    fn at(mut self, offset: Option<usize>) -> TemplateError {
        if self.offset.is_none() {
            self.offset = offset;
        }
        self
    }
}

type R<T> = Result<T, TemplateError>;

fn err<T>(msg: impl Into<String>) -> R<T> {
    Err(TemplateError { message: msg.into(), position: None, offset: None })
}

/// Largest report a template may produce, in bytes (a template repeating over itself stops here).
const MAX_OUTPUT: usize = 128 * 1024 * 1024;

#[derive(Clone, Debug)]
enum V {
    None,
    Str(String),
    Int(i64),
    Bool(bool),
    List(Vec<V>),
    Elem(u32),
    /// Index into findings (false) or excluded findings (true).
    Finding(usize, bool),
    Data(u32),
    Tm,
    Enum(String, String),
    Assumption(String, String, Vec<String>),
    /// A bound method of an element: `display_name` or `parents`.
    Method(u32, &'static str),
}

struct Ctx<'a, 'b> {
    a: &'b Analysis<'a>,
    /// Findings per element.
    by_element: std::collections::HashMap<u32, Vec<usize>>,
}

fn html_escape(s: &str, quotes: bool) -> String {
    crate::svg::escape_markup(s, quotes)
}

/// pytm's treatment of finding text: HTML-escaped, unescaped `$` becomes `\$`.
fn finding_text(s: &str) -> String {
    let e = html_escape(s, true);
    let mut out = String::with_capacity(e.len());
    let mut prev = '\0';
    for c in e.chars() {
        if c == '$' && prev != '\\' {
            out.push('\\');
        }
        out.push(c);
        prev = c;
    }
    out
}

fn class_name(kind: Kind) -> &'static str {
    kind.name()
}

impl Ctx<'_, '_> {
    fn el(&self, i: u32) -> &Element {
        self.a.prepared.element(i)
    }

    fn finding(&self, k: usize, excluded: bool) -> Option<&Finding> {
        if excluded { self.a.excluded.get(k) } else { self.a.findings.get(k) }
    }

    fn text(&self, v: &V) -> String {
        match v {
            V::None => "None".to_owned(),
            V::Str(s) => s.clone(),
            V::Int(i) => i.to_string(),
            V::Bool(b) => if *b { "True" } else { "False" }.to_owned(),
            V::List(l) => {
                let inner: Vec<String> = l.iter().map(|x| self.repr(x)).collect();
                format!("[{}]", inner.join(", "))
            }
            V::Elem(i) => format!("{}({})", class_name(self.el(*i).kind), html_escape(&self.el(*i).name, false)),
            V::Finding(k, x) => self.finding(*k, *x).map(|f| finding_text(&self.a.view(f).description)).unwrap_or_default(),
            V::Data(d) => html_escape(self.a.prepared.data_name(*d), false),
            V::Tm => html_escape(&self.a.prepared.model().name, false),
            V::Enum(t, m) => format!("{t}.{m}"),
            V::Assumption(n, _, _) => html_escape(n, false),
            V::Method(..) => String::new(),
        }
    }

    fn repr(&self, v: &V) -> String {
        match v {
            V::Str(s) => format!("'{s}'"),
            other => self.text(other),
        }
    }

    fn truthy(&self, v: &V) -> bool {
        match v {
            V::None => false,
            V::Str(s) => !s.is_empty(),
            V::Int(i) => *i != 0,
            V::Bool(b) => *b,
            V::List(l) => !l.is_empty(),
            V::Method(..) => true,
            _ => true,
        }
    }

    fn call(&self, v: &V) -> V {
        match v {
            V::Method(i, "display_name") => V::Str(html_escape(&crate::dfd::display_name(self.a, *i), false)),
            V::Method(i, _) => V::List(self.parents(*i).into_iter().map(V::Elem).collect()),
            other => other.clone(),
        }
    }

    fn parents(&self, i: u32) -> Vec<u32> {
        let mut out = Vec::new();
        let mut k = self.a.prepared.boundary_of(i);
        while let Some(b) = k {
            if out.contains(&b) {
                break;
            }
            out.push(b);
            k = self.a.prepared.boundary_of(b);
        }
        out
    }

    fn value(&self, v: Value<'_>) -> V {
        match v {
            Value::None => V::None,
            Value::Bool(b) => V::Bool(b),
            Value::Int(i) => V::Int(i),
            Value::Str(s) => V::Str(html_escape(s, false)),
            Value::Enum(e) => enum_v(e),
            Value::Levels(l) => V::List(l.iter().map(|x| V::Int(i64::from(*x))).collect()),
            Value::Strs(s) => V::List(s.iter().map(|x| V::Str(html_escape(x, false))).collect()),
            Value::Node(n) => V::Elem(n),
            _ => V::None,
        }
    }

    fn attr(&self, v: &V, name: &str) -> R<V> {
        let p = &self.a.prepared;
        match v {
            V::Tm => {
                let m = p.model();
                Ok(match name {
                    "name" => V::Str(html_escape(&m.name, false)),
                    "description" => V::Str(html_escape(&m.description, false)),
                    "assumptions" => V::List(m.assumptions.iter().map(|x| V::Str(html_escape(&x.name, false))).collect()),
                    "findings" => V::List((0..self.a.findings.len()).map(|k| V::Finding(k, false)).collect()),
                    "excluded_findings" => V::List((0..self.a.excluded.len()).map(|k| V::Finding(k, true)).collect()),
                    "isOrdered" => V::Bool(m.is_ordered),
                    "mergeResponses" => V::Bool(m.merge_responses),
                    "ignoreUnused" => V::Bool(m.ignore_unused),
                    _ => return err(format!("TM has no attribute `{name}`")),
                })
            }
            V::Elem(i) => self.elem_attr(*i, name),
            V::Data(d) => {
                let item: &DataItem = &p.model().data[*d as usize];
                match name {
                    "name" => Ok(V::Str(html_escape(&item.name, false))),
                    "carriedBy" | "processedBy" => {
                        let flows = (0..p.model().elements.len() as u32).filter(|&i| p.data_of(i).contains(d));
                        let list: Vec<u32> = if name == "carriedBy" {
                            flows.filter(|&i| p.element(i).kind == Kind::Dataflow).collect()
                        } else {
                            let mut nodes: Vec<u32> = flows
                                .filter(|&i| p.element(i).kind == Kind::Dataflow)
                                .filter_map(|f| p.endpoints(f))
                                .flat_map(|(s, t)| [s, t])
                                .collect();
                            nodes.sort_by(|x, y| p.element(*x).name.cmp(&p.element(*y).name));
                            nodes.dedup();
                            nodes
                        };
                        let mut list = list;
                        list.sort_by(|x, y| p.element(*x).name.cmp(&p.element(*y).name));
                        Ok(V::List(list.into_iter().map(V::Elem).collect()))
                    }
                    _ => match DataItem::attribute(name) {
                        Some(def) => Ok(self.value(p.data_attr(*d, def.key))),
                        None => err(format!("Data has no attribute `{name}`")),
                    },
                }
            }
            V::Finding(k, x) => {
                let Some(f) = self.finding(*k, *x) else { return Ok(V::None) };
                let view = self.a.view(f);
                let s = |t: &str| V::Str(if *x { t.to_owned() } else { finding_text(t) });
                Ok(match name {
                    "threat_id" => s(view.threat_id),
                    "description" => s(&view.description),
                    "details" => s(view.details),
                    "severity" => s(view.severity.name()),
                    "likelihood" => s(view.likelihood),
                    "mitigations" => s(&view.mitigations.join("\n")),
                    "references" => s(&view.references.join(", ")),
                    "example" => s(view.example),
                    "condition" => s(view.condition),
                    "cvss" => s(view.cvss),
                    "response" => s(view.response),
                    "target" => V::Str(html_escape(view.element_name, false)),
                    "element" => V::Elem(f.element),
                    "id" => V::Str((k + 1).to_string()),
                    "assumption" => match &f.excluded_by {
                        Some(n) => {
                            let m = p.model();
                            let a = m.assumptions.iter().chain(p.element(f.element).assumptions.iter()).find(|a| &a.name == n);
                            V::Assumption(
                                n.clone(),
                                a.map(|a| a.description.clone()).unwrap_or_default(),
                                a.map(|a| a.exclude.clone()).unwrap_or_default(),
                            )
                        }
                        None => V::None,
                    },
                    _ => return err(format!("Finding has no attribute `{name}`")),
                })
            }
            V::Enum(t, m) => match name {
                "name" => Ok(V::Str(m.clone())),
                "value" => Ok(V::Str(format!("{t}.{m}"))),
                _ => err(format!("{t} has no attribute `{name}`")),
            },
            V::Assumption(n, d, x) => match name {
                "name" => Ok(V::Str(html_escape(n, false))),
                "description" => Ok(V::Str(html_escape(d, false))),
                "exclude" => Ok(V::List(x.iter().map(|s| V::Str(html_escape(s, false))).collect())),
                _ => err(format!("Assumption has no attribute `{name}`")),
            },
            other => err(format!("`{}` has no attribute `{name}`", self.text(other))),
        }
    }

    fn elem_attr(&self, i: u32, name: &str) -> R<V> {
        let p = &self.a.prepared;
        let e = p.element(i);
        let empty_as_str = |v: V| match v {
            V::List(l) if l.is_empty() => V::Str("[]".to_owned()),
            other => other,
        };
        Ok(match name {
            "name" => V::Str(html_escape(&e.name, false)),
            "display_name" | "parents" => V::Method(i, if name == "parents" { "parents" } else { "display_name" }),
            "source" | "sink" => match p.endpoints(i) {
                Some((s, t)) => V::Elem(if name == "source" { s } else { t }),
                None => V::None,
            },
            "inBoundary" => p.boundary_of(i).map_or(V::None, V::Elem),
            "findings" => V::List(self.by_element.get(&i).map(|v| v.iter().map(|&k| V::Finding(k, false)).collect()).unwrap_or_default()),
            "data" => {
                let mut names: Vec<&str> = p.data_of(i).iter().map(|&d| p.data_name(d)).collect();
                names.sort_unstable();
                if names.is_empty() { V::Str("[]".to_owned()) } else { V::Str(html_escape(&names.join(", "), false)) }
            }
            "response" | "responseTo" => {
                let (r, to) = p.response_pair(i);
                (if name == "response" { r } else { to }).map_or(V::None, V::Elem)
            }
            "inputs" | "outputs" => {
                let list: Vec<V> = (0..p.model().elements.len() as u32)
                    .filter(|&f| p.element(f).kind == Kind::Dataflow)
                    .filter(|&f| p.endpoints(f).is_some_and(|(s, t)| if name == "inputs" { t == i } else { s == i }))
                    .map(V::Elem)
                    .collect();
                empty_as_str(V::List(list))
            }
            _ => match Element::attribute(name) {
                Some(def) => match p.attr(i, def.key) {
                    Ok(v) => empty_as_str(self.value(v)),
                    Err(_) => empty_as_str(self.value(e.get(def.key, e.kind))),
                },
                None => return err(format!("{} has no attribute `{name}`", class_name(e.kind))),
            },
        })
    }

    fn util(&self, method: &str, v: &V) -> R<V> {
        // pytm escapes the text of (non-excluded) findings only.
        let escaped = !matches!(v, V::Finding(_, true));
        let finding_text = |t: &str| if escaped { finding_text(t) } else { t.to_owned() };
        let finding = |f: &dyn Fn(&Finding) -> V| match v {
            V::Finding(k, x) => self.finding(*k, *x).map_or(V::Str(String::new()), f),
            _ => V::Str(String::new()),
        };
        let not_valid = |v: &V| {
            let t = match v {
                V::Str(_) => "str",
                V::Int(_) => "int",
                V::Bool(_) => "bool",
                V::List(_) => "list",
                V::Finding(..) => "Finding",
                V::Data(_) => "Data",
                _ => "object",
            };
            V::Str(format!("ERROR: {method} method is not valid for {t}"))
        };
        Ok(match method {
            "getParentName" => match v {
                V::Elem(i) if self.el(*i).kind == Kind::Boundary => {
                    V::Str(self.a.prepared.boundary_of(*i).map(|b| html_escape(&self.el(b).name, false)).unwrap_or_default())
                }
                V::Elem(i) => V::Str(format!("ERROR: getParentName method is not valid for {}", class_name(self.el(*i).kind))),
                other => not_valid(other),
            },
            "getNamesOfParents" => match v {
                V::Elem(i) if self.el(*i).kind == Kind::Boundary => {
                    V::List(self.parents(*i).into_iter().map(|b| V::Str(html_escape(&self.el(b).name, false))).collect())
                }
                other => not_valid(other),
            },
            "getInScopeFindings" => match v {
                V::Elem(i) if self.el(*i).in_scope() => V::List(
                    self.by_element
                        .get(i)
                        .map(|v| {
                            v.iter()
                                .filter(|&&k| self.a.findings.get(k).is_some_and(|f| self.el(f.element).in_scope()))
                                .map(|&k| V::Finding(k, false))
                                .collect()
                        })
                        .unwrap_or_default(),
                ),
                _ => V::List(Vec::new()),
            },
            "getFindingCount" => match v {
                V::Elem(i) => V::Str(self.by_element.get(i).map_or(0, Vec::len).to_string()),
                other => not_valid(other),
            },
            "getElementType" => match v {
                V::Elem(i) => V::Str(class_name(self.el(*i).kind).to_owned()),
                other => not_valid(other),
            },
            "getThreatId" => finding(&|f| V::Str(finding_text(&self.a.rule(f).id))),
            "getFindingDescription" => finding(&|f| V::Str(finding_text(&self.a.view(f).description))),
            "getFindingTarget" => finding(&|f| V::Str(html_escape(&self.el(f.element).name, false))),
            "getFindingSeverity" => finding(&|f| V::Str(self.a.severity(f).name().to_owned())),
            "getFindingMitigations" => finding(&|f| V::Str(finding_text(&self.a.view(f).mitigations.join("\n")))),
            "getFindingReferences" => finding(&|f| V::Str(finding_text(&self.a.view(f).references.join(", ")))),
            "getFindingExample" => finding(&|f| V::Str(finding_text(self.a.view(f).example))),
            _ => return err(format!("unknown report utility `{method}`")),
        })
    }

    fn items(&self, v: &V) -> Vec<V> {
        match v {
            V::List(l) => l.clone(),
            _ => Vec::new(),
        }
    }

    /// `format_field` with pytm's operators.
    fn format_field(&self, value: V, spec: &str, out: &mut String) -> R<()> {
        if spec.is_empty() {
            out.push_str(&self.text(&value));
            return Ok(());
        }
        if spec.starts_with("repeat") {
            let body = spec.split_once(':').map_or("", |x| x.1);
            for item in self.items(&value) {
                self.format(body, &item, out)?;
            }
            return Ok(());
        }
        if let Some(rest) = spec.strip_prefix("call:") {
            let (result, body) = if matches!(value, V::Method(..)) {
                (self.call(&value), rest)
            } else {
                let (method, body) = rest.split_once(':').unwrap_or((rest, ""));
                (self.util(method, &value)?, body)
            };
            match result {
                V::List(items) if !body.is_empty() => {
                    for item in items {
                        self.format(body, &item, out)?;
                    }
                }
                V::List(_) => return err(format!("`call:{rest}` returned a list; give a body to render each item")),
                other => out.push_str(&self.text(&other)),
            }
            return Ok(());
        }
        if spec.starts_with("if") || spec.starts_with("not") {
            let body = spec.split_once(':').map_or("", |x| x.1);
            let v = self.call(&value);
            if self.truthy(&v) == spec.starts_with("if") {
                out.push_str(body);
            }
            return Ok(());
        }
        // An ordinary format spec: alignment and width.
        let text = self.text(&value);
        let (align, width) = match spec.chars().next() {
            Some(c @ ('<' | '>' | '^')) => (c, &spec[1..]),
            _ => ('<', spec),
        };
        let Ok(width) = width.parse::<usize>() else { return err(format!("unsupported format spec `{spec}`")) };
        let pad = width.saturating_sub(text.chars().count());
        let (l, r) = match align {
            '>' => (pad, 0),
            '^' => (pad / 2, pad - pad / 2),
            _ => (0, pad),
        };
        out.push_str(&" ".repeat(l));
        out.push_str(&text);
        out.push_str(&" ".repeat(r));
        Ok(())
    }

    /// `SuperFormatter.format(body, item=item)`: a fresh scope with only `item`.
    fn format(&self, body: &str, item: &V, out: &mut String) -> R<()> {
        self.vformat(body, &Scope::Item(item), 2, out, None)
    }

    fn lookup(&self, scope: &Scope<'_>, name: &str) -> R<V> {
        match scope {
            Scope::Item(v) if name == "item" => Ok((*v).clone()),
            Scope::Item(_) => err(format!("unknown name `{name}` (inside a repeat or call body only `item` is defined)")),
            Scope::Root => {
                let p = &self.a.prepared;
                let m = p.model();
                let all = 0..m.elements.len() as u32;
                let pick = |f: &dyn Fn(&Element) -> bool| V::List(all.clone().filter(|&i| f(p.element(i))).map(V::Elem).collect());
                Ok(match name {
                    "tm" => V::Tm,
                    "dataflows" => V::List(p.flow_order().iter().map(|&i| V::Elem(i)).collect()),
                    "findings" => V::List((0..self.a.findings.len()).map(|k| V::Finding(k, false)).collect()),
                    "threats" => V::List(Vec::new()),
                    "elements" => pick(&|e| e.kind != Kind::Dataflow),
                    "assets" => pick(&|e| e.kind.is_node() && e.kind != Kind::Actor),
                    "actors" => pick(&|e| e.kind == Kind::Actor),
                    "boundaries" => pick(&|e| e.kind == Kind::Boundary),
                    "data" => V::List((0..m.data.len() as u32).map(V::Data).collect()),
                    _ => {
                        return err(format!(
                            "unknown name `{name}` (known: tm, dataflows, threats, findings, elements, assets, actors, boundaries, data)"
                        ));
                    }
                })
            }
        }
    }

    fn field_value(&self, scope: &Scope<'_>, field: &str) -> R<V> {
        let bytes = field.as_bytes();
        let mut k = bytes.iter().position(|&c| c == b'.' || c == b'[').unwrap_or(bytes.len());
        let mut v = self.lookup(scope, &field[..k])?;
        while k < bytes.len() {
            if bytes[k] == b'.' {
                let end = field[k + 1..].find(['.', '[']).map_or(bytes.len(), |e| k + 1 + e);
                v = self.attr(&v, &field[k + 1..end])?;
                k = end;
            } else {
                let Some(close) = field[k..].find(']').map(|e| k + e) else { return err(format!("missing `]` in `{{{field}}}`")) };
                let key = &field[k + 1..close];
                v = match (&v, key.parse::<usize>()) {
                    (V::List(l), Ok(n)) => match l.get(n).cloned() {
                        Some(v) => v,
                        None => return err(format!("index {n} out of range in `{{{field}}}`")),
                    },
                    _ => self.attr(&v, key)?,
                };
                k = close + 1;
            }
        }
        Ok(v)
    }

    /// `string.Formatter._vformat`: literal text, `{{`/`}}`, and fields whose spec is itself
    /// expanded first (that is what makes braces double per nesting level).
    /// `base` is where `s` starts in the template file, when `s` is a piece of it.
    fn vformat(&self, s: &str, scope: &Scope<'_>, depth: i32, out: &mut String, base: Option<usize>) -> R<()> {
        if depth < 0 {
            return err("maximum template nesting exceeded");
        }
        let b = s.as_bytes();
        let mut i = 0;
        let mut lit = 0;
        while i < b.len() {
            if out.len() > MAX_OUTPUT {
                return err(format!("report larger than {} MiB", MAX_OUTPUT >> 20));
            }
            match b[i] {
                b'{' if b.get(i + 1) == Some(&b'{') => {
                    out.push_str(&s[lit..i + 1]);
                    i += 2;
                    lit = i;
                }
                b'}' if b.get(i + 1) == Some(&b'}') => {
                    out.push_str(&s[lit..i + 1]);
                    i += 2;
                    lit = i;
                }
                b'}' => return err("single `}` (write `}}` for a literal brace)").map_err(|e| e.at(base.map(|b| b + i))),
                b'{' => {
                    out.push_str(&s[lit..i]);
                    // Find the matching close brace.
                    let mut level = 1;
                    let mut j = i + 1;
                    while j < b.len() {
                        match b[j] {
                            b'{' => level += 1,
                            b'}' => {
                                level -= 1;
                                if level == 0 {
                                    break;
                                }
                            }
                            _ => {}
                        }
                        j += 1;
                    }
                    if j >= b.len() {
                        let preview: String = s[i..].chars().take(40).collect();
                        return err(format!("unclosed `{{` at `{preview}`")).map_err(|e| e.at(base.map(|b| b + i)));
                    }
                    let field = &s[i + 1..j];
                    let (head, spec) = match field.find([':', '!']) {
                        Some(p) if field.as_bytes()[p] == b'!' => {
                            let rest = &field[p + 1..];
                            match rest.split_once(':') {
                                Some((_, spec)) => (&field[..p], spec),
                                None => (&field[..p], ""),
                            }
                        }
                        Some(p) => (&field[..p], &field[p + 1..]),
                        None => (field, ""),
                    };
                    let here = base.map(|b| b + i);
                    let value = self.field_value(scope, head).map_err(|e| e.at(here))?;
                    let mut expanded = String::new();
                    // `spec` is a piece of `s`, except the empty spec of a field without one.
                    let spec_offset = (spec.as_ptr() as usize).checked_sub(s.as_ptr() as usize).filter(|o| *o <= s.len());
                    let spec_base = base.zip(spec_offset).map(|(b, o)| b + o);
                    self.vformat(spec, scope, depth - 1, &mut expanded, spec_base).map_err(|e| e.at(here))?;
                    self.format_field(value, &expanded, out).map_err(|e| e.at(here))?;
                    i = j + 1;
                    lit = i;
                }
                _ => i += 1,
            }
        }
        out.push_str(&s[lit..]);
        Ok(())
    }
}

enum Scope<'v> {
    Root,
    Item(&'v V),
}

fn enum_v(e: EnumValue) -> V {
    V::Enum(e.type_name().to_owned(), e.member().to_owned())
}

/// Renders a pytm report template over an analysed model, giving Markdown.
pub fn render(template: &str, a: &Analysis<'_>) -> Result<String, TemplateError> {
    let mut by_element: std::collections::HashMap<u32, Vec<usize>> = std::collections::HashMap::new();
    for (k, f) in a.findings.iter().enumerate() {
        by_element.entry(f.element).or_default().push(k);
    }
    let ctx = Ctx { a, by_element };
    let mut out = String::with_capacity(template.len() * 4);
    ctx.vformat(template, &Scope::Root, 2, &mut out, Some(0)).map_err(|mut e| {
        if let Some(at) = e.offset.filter(|&at| at <= template.len() && template.is_char_boundary(at)) {
            let before = &template[..at];
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            e.position = Some((line, column));
        }
        e
    })?;
    Ok(out)
}

/// Converts Markdown (pytm's templates use GitHub tables and inline HTML) to HTML. Link and
/// image targets with a scripting scheme (`javascript:`, `vbscript:`, `data:` ...) become `#`, so
/// Markdown link syntax in a model's text cannot run script in the report.
pub fn markdown_to_html(md: &str) -> String {
    use pulldown_cmark::{CowStr, Event, Tag};
    fn safe(url: CowStr<'_>) -> CowStr<'_> {
        let scheme: String =
            url.chars().filter(|c| !c.is_whitespace() && !c.is_control()).take(12).collect::<String>().to_ascii_lowercase();
        if ["javascript:", "vbscript:", "data:", "file:"].iter().any(|s| scheme.starts_with(s)) { CowStr::Borrowed("#") } else { url }
    }
    let opts = pulldown_cmark::Options::ENABLE_TABLES | pulldown_cmark::Options::ENABLE_STRIKETHROUGH;
    let parser = pulldown_cmark::Parser::new_ext(md, opts).map(|ev| match ev {
        Event::Start(Tag::Link { link_type, dest_url, title, id }) => {
            Event::Start(Tag::Link { link_type, dest_url: safe(dest_url), title, id })
        }
        Event::Start(Tag::Image { link_type, dest_url, title, id }) => {
            Event::Start(Tag::Image { link_type, dest_url: safe(dest_url), title, id })
        }
        other => other,
    });
    let mut out = String::with_capacity(md.len() * 2);
    pulldown_cmark::html::push_html(&mut out, parser);
    out
}
