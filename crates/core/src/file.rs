//! The native `*.threatmap.json` file: parsing with precise errors, the model checks (references,
//! boundary cycles, duplicate ids, attributes that do not apply), canonical output and atomic
//! saves.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

use crate::attr::{Action, Kind, KindSet};
use crate::model::{Controls, Element, FIXED_ATTRIBUTES, FORMAT_VERSION, Model};

/// How bad a [`Problem`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// The model cannot be used.
    Error,
    /// The model works but probably not as intended.
    Warning,
}

/// One thing wrong with an input: what, and where (line and column, element, or both).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Error or warning.
    pub level: Level,
    /// 1-based line in the file, when known.
    pub line: Option<usize>,
    /// 1-based column in the file, when known.
    pub column: Option<usize>,
    /// The element concerned, as `Kind "name" (id)`, when known.
    pub element: Option<String>,
    /// What is wrong, with a hint where one helps.
    pub message: String,
}

impl Problem {
    pub(crate) fn error(element: Option<&Element>, message: String) -> Problem {
        Problem { level: Level::Error, line: None, column: None, element: element.map(describe_element), message }
    }

    fn warning(element: Option<&Element>, message: String) -> Problem {
        Problem { level: Level::Warning, ..Problem::error(element, message) }
    }

    /// Formats the problem as one line prefixed with `file`.
    pub fn display_in<'a>(&'a self, file: &'a str) -> impl fmt::Display + 'a {
        DisplayIn(self, file)
    }
}

struct DisplayIn<'a>(&'a Problem, &'a str);

impl fmt::Display for DisplayIn<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = self.0;
        write!(f, "{}", self.1)?;
        if let Some(line) = p.line {
            write!(f, ":{line}")?;
            if let Some(col) = p.column {
                write!(f, ":{col}")?;
            }
        }
        let level = match p.level {
            Level::Error => "error",
            Level::Warning => "warning",
        };
        write!(f, ": {level}: ")?;
        if let Some(el) = &p.element {
            write!(f, "{el}: ")?;
        }
        f.write_str(&p.message)
    }
}

fn describe_element(e: &Element) -> String {
    format!("{} {:?} ({})", e.kind, clip(&e.name), clip(&e.id))
}

/// A name shortened for messages: a hostile 1 MB name must not become a 1 MB error line.
fn clip(s: &str) -> std::borrow::Cow<'_, str> {
    const SHOWN: usize = 60;
    match s.char_indices().nth(SHOWN) {
        Some((at, _)) => format!("{}…", &s[..at]).into(),
        None => s.into(),
    }
}

/// The longest element id or name accepted, in characters.
pub const MAX_NAME_CHARS: usize = 1024;

/// A model file that cannot be used, with every problem found in it.
#[derive(Debug, Clone, thiserror::Error)]
pub struct ModelError {
    /// The file, as given.
    pub file: String,
    /// What is wrong (errors first).
    pub problems: Vec<Problem>,
}

impl fmt::Display for ModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().filter(|p| p.level == Level::Error).enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{}", p.display_in(&self.file))?;
        }
        Ok(())
    }
}

impl ModelError {
    pub(crate) fn single(file: &str, problem: Problem) -> ModelError {
        ModelError { file: file.to_owned(), problems: vec![problem] }
    }

    /// One error in `file`, at a line and column when known.
    pub(crate) fn at(file: &str, line: Option<usize>, column: Option<usize>, message: String) -> ModelError {
        ModelError::single(file, Problem { level: Level::Error, line, column, element: None, message })
    }

    /// The errors [`check`] finds in a converted model, if any.
    pub(crate) fn check_converted(file: &str, model: &Model) -> Result<(), ModelError> {
        let problems: Vec<Problem> = check(model).into_iter().filter(|p| p.level == Level::Error).collect();
        if problems.is_empty() { Ok(()) } else { Err(ModelError { file: file.to_owned(), problems }) }
    }
}

/// A model converted from another tool's file, with the rule pack it brings (native TOML; empty
/// when it brings none) and what could not be carried over.
#[derive(Debug)]
pub struct Converted {
    /// The model; its `rulePacks` names the pack file when there is a pack.
    pub model: Model,
    /// The rule pack, to be written beside the model under the name the model gives it.
    pub pack: String,
    /// Things skipped or approximated, one line each.
    pub warnings: Vec<String>,
    /// More rule packs to write beside the model: (file name, text). The model names them.
    pub more_packs: Vec<(String, String)>,
}

/// A JSON value's type, for messages ("must be a list, not a string").
pub(crate) fn json_type(v: &serde_json::Value) -> &'static str {
    use serde_json::Value;
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// [`json_type`] of a borrowed JSON value.
pub(crate) fn json_type_borrowed(v: &serde_json_borrow::Value<'_>) -> &'static str {
    use serde_json_borrow::Value;
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::Str(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// The largest model file accepted, in bytes.
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// Reads, parses and checks a native model file.
pub fn load(path: &Path) -> Result<Model, ModelError> {
    let file = path.display().to_string();
    let text = read_text(path, MAX_FILE_BYTES).map_err(|p| ModelError::single(&file, p))?;
    parse(&text, &file)
}

/// A model loaded from any format Threatmap reads, with the warnings worth showing.
#[derive(Debug)]
pub struct Loaded {
    /// The model.
    pub model: Model,
    /// Warnings: the model check's, or what an import could not carry over.
    pub warnings: Vec<Problem>,
    /// True for a native model file; false for an import (saving it needs a new file name).
    pub native: bool,
}

/// Loads a model file that Threatmap reads directly: a native model (it has a `threatmap`
/// version key) or pytm JSON (its `--json` output or `load()` input). Any other file (another
/// tool's model, a bill of materials, an empty object) is refused with what it looks like and
/// the command that reads it: it is never read as an empty model.
pub fn load_any(path: &Path) -> Result<Loaded, ModelError> {
    let file = path.display().to_string();
    let text = read_text(path, MAX_FILE_BYTES).map_err(|p| ModelError::single(&file, p))?;
    parse_any(&text, &file)
}

/// [`load_any`] on text; `file` names it in messages.
pub fn parse_any(text: &str, file: &str) -> Result<Loaded, ModelError> {
    match crate::shape::sniff(text) {
        // Broken JSON: the native parser says where it breaks.
        crate::shape::Shape::Native | crate::shape::Shape::BrokenJson => parse_checked(text, file),
        crate::shape::Shape::Pytm | crate::shape::Shape::PytmScript => {
            let imported = crate::pytm::import(text, file)?;
            let warnings = imported.warnings.into_iter().map(|w| Problem::warning(None, w)).collect();
            Ok(Loaded { model: imported.model, warnings, native: false })
        }
        other => Err(ModelError::single(file, Problem::error(None, other.refusal(file)))),
    }
}

/// The line (1-based) where each element is written in a model file's text: its `"id"` line in
/// a native model (one key per line, as saved), the line of its `"name"` in pytm JSON, the line
/// that builds it (names it) in a pytm script. An
/// element not found on a line of its own is left out.
pub fn element_lines(text: &str, model: &Model) -> HashMap<String, usize> {
    let mut by_key: HashMap<String, &str> = HashMap::new();
    let shape = crate::shape::sniff(text);
    if shape == crate::shape::Shape::PytmScript {
        // A script names each element in the call that builds it: the first line with its
        // name as a string.
        let mut lines = HashMap::new();
        for e in &model.elements {
            let quoted = [serde_json::to_string(&e.name).unwrap_or_default(), format!("'{}'", e.name)];
            if let Some(n) = text.lines().position(|l| quoted.iter().any(|q| q.len() > 2 && l.contains(q.as_str()))) {
                lines.insert(e.id.clone(), n + 1);
            }
        }
        return lines;
    }
    let native = shape == crate::shape::Shape::Native;
    for e in &model.elements {
        let key = if native { &e.id } else { &e.name };
        if let Ok(quoted) = serde_json::to_string(key) {
            by_key.entry(quoted).or_insert(&e.id);
        }
    }
    let field = if native { "\"id\":" } else { "\"name\":" };
    let mut lines = HashMap::new();
    for (n, line) in text.lines().enumerate() {
        let Some(rest) = line.trim_start().strip_prefix(field) else { continue };
        let value = rest.trim().trim_end_matches(',').trim_end();
        if let Some(id) = by_key.get(value) {
            lines.entry((*id).to_owned()).or_insert(n + 1);
        }
    }
    lines
}

/// Reads a whole text file as UTF-8, refusing files larger than `limit` bytes. The error names
/// no file: callers wrap it in their own error type.
pub fn read_text(path: &Path, limit: u64) -> Result<String, Problem> {
    let fail = |message: String| Problem::error(None, message);
    let meta = std::fs::metadata(path).map_err(|e| fail(format!("cannot read: {e}")))?;
    if meta.len() > limit {
        return Err(fail(format!("file is {} bytes; the limit is {limit}", meta.len())));
    }
    let bytes = std::fs::read(path).map_err(|e| fail(format!("cannot read: {e}")))?;
    String::from_utf8(bytes).map_err(|e| {
        let (line, column) = line_col_of_offset_bytes(e.as_bytes(), e.utf8_error().valid_up_to());
        Problem { line: Some(line), column: Some(column), ..fail("not valid UTF-8".to_owned()) }
    })
}

fn line_col_of_offset_bytes(bytes: &[u8], offset: usize) -> (usize, usize) {
    let before = &bytes[..offset.min(bytes.len())];
    let line = before.iter().filter(|b| **b == b'\n').count() + 1;
    let col = before.iter().rev().take_while(|b| **b != b'\n').count() + 1;
    (line, col)
}

/// Parses and checks a native model from text; `file` names it in errors.
pub fn parse(text: &str, file: &str) -> Result<Model, ModelError> {
    parse_checked(text, file).map(|l| l.model)
}

/// Parses a native model and runs [`check`] once: errors fail, warnings are returned.
pub fn parse_checked(text: &str, file: &str) -> Result<Loaded, ModelError> {
    let model = parse_json_with_hints::<Model>(text, file)?;
    let problems = check(&model);
    if problems.iter().any(|p| p.level == Level::Error) {
        return Err(ModelError { file: file.to_owned(), problems });
    }
    Ok(Loaded { model, warnings: problems, native: true })
}

/// Deserializes JSON, turning serde's errors into a [`ModelError`] with line, column, the
/// element concerned and a "did you mean" hint for unknown attributes and enum members.
pub(crate) fn parse_json_with_hints<T: serde::de::DeserializeOwned>(text: &str, file: &str) -> Result<T, ModelError> {
    let mut de = serde_json::Deserializer::from_str(text);
    let result: Result<T, _> = serde_path_to_error::deserialize(&mut de);
    let (path, inner) = match result {
        Ok(v) => match de.end() {
            Ok(()) => return Ok(v),
            Err(e) => (String::new(), e),
        },
        Err(e) => (e.path().to_string(), e.into_inner()),
    };
    Err(json_error(text, file, &path, &inner))
}

/// Parses JSON into a tree that borrows its strings from `text` (objects kept as lists of
/// pairs, in file order): for importers that walk a large file once. Only syntax can fail.
pub(crate) fn parse_json_borrowed<'a>(text: &'a str, file: &str) -> Result<serde_json_borrow::Value<'a>, ModelError> {
    parse_json_borrowing(text, file)
}

/// Deserializes JSON into a type that may borrow from `text`, errors with line and column.
pub(crate) fn parse_json_borrowing<'a, T: serde::Deserialize<'a>>(text: &'a str, file: &str) -> Result<T, ModelError> {
    serde_json::from_str(text).map_err(|e| json_error(text, file, "", &e))
}

/// A JSON syntax or shape error as a [`ModelError`], at `path` (serde's path of the value).
fn json_error(text: &str, file: &str, path: &str, inner: &serde_json::Error) -> ModelError {
    let (line, column) = (inner.line(), inner.column());
    let raw = inner.to_string();
    let msg = raw.strip_suffix(&format!(" at line {line} column {column}")).unwrap_or(&raw).to_owned();
    let element = element_context(text, path);
    let path = path.trim_end_matches(".?").trim_end_matches('?');
    let message = match inner.classify() {
        serde_json::error::Category::Syntax | serde_json::error::Category::Eof => msg,
        _ => explain_serde_message(&msg, path),
    };
    ModelError::single(
        file,
        Problem { level: Level::Error, line: (line > 0).then_some(line), column: (line > 0).then_some(column), element, message },
    )
}

/// For a path like `elements[3].controls.x`, names elements[3] by kind, name and id.
fn element_context(text: &str, path: &str) -> Option<String> {
    let rest = path.strip_prefix("elements[")?;
    let index: usize = rest.split(']').next()?.parse().ok()?;
    let value: serde_json::Value = serde_json::from_str(text).ok()?;
    let el = value.get("elements")?.get(index)?;
    let s = |k: &str| el.get(k).and_then(|v| v.as_str()).unwrap_or("?").to_owned();
    Some(format!("elements[{index}]: {} {:?} ({})", s("kind"), s("name"), s("id")))
}

fn backticked(s: &str) -> Vec<&str> {
    s.split('`').skip(1).step_by(2).collect()
}

fn explain_serde_message(msg: &str, path: &str) -> String {
    let field = path.rsplit('.').next().unwrap_or(path);
    for (prefix, what) in [("unknown field `", "attribute"), ("unknown variant `", "value")] {
        if msg.starts_with(prefix) {
            let names = backticked(msg);
            let Some((unknown, expected)) = names.split_first() else { break };
            let mut text = if what == "attribute" {
                format!("unknown attribute `{unknown}`")
            } else {
                format!("unknown value `{unknown}` for `{field}`")
            };
            let in_element = path.starts_with("elements[") && path.matches('.').count() == 1;
            if let Some(hint) = did_you_mean(unknown, expected, in_element) {
                text.push_str(&format!("; did you mean `{hint}`?"));
            } else if expected.len() <= 12 {
                text.push_str(&format!("; expected one of {}", expected.iter().map(|e| format!("`{e}`")).collect::<Vec<_>>().join(", ")));
            }
            return text;
        }
    }
    if let Some(rest) = msg.strip_prefix("missing field `") {
        let name = rest.split('`').next().unwrap_or(rest);
        return format!("missing required attribute `{name}`");
    }
    if path.is_empty() || path == "." { msg.to_owned() } else { format!("{msg} (at `{path}`)") }
}

/// The closest known name to `unknown`; for element attributes, controls count too.
pub(crate) fn did_you_mean(unknown: &str, expected: &[&str], in_element: bool) -> Option<String> {
    if in_element && Controls::attribute(unknown).is_some() {
        return Some(format!("controls.{unknown}"));
    }
    let mut candidates: Vec<String> = expected.iter().map(|s| (*s).to_owned()).collect();
    if in_element {
        candidates.extend(Controls::ATTRIBUTES.iter().map(|a| format!("controls.{}", a.name)));
    }
    closest(unknown, candidates.iter().map(String::as_str)).map(str::to_owned)
}

/// The candidate most similar to `word`, if any is similar enough.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = word.to_lowercase();
    candidates
        .into_iter()
        .map(|c| {
            let bare = c.rsplit('.').next().unwrap_or(c).to_lowercase();
            (strsim::jaro_winkler(&lower, &bare), c)
        })
        .filter(|(score, _)| *score >= 0.84)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// Checks a parsed model: references, boundary cycles, duplicate ids, attributes that do not
/// apply to an element's kind, and (as warnings) things that are probably mistakes.
pub fn check(model: &Model) -> Vec<Problem> {
    let mut out = Vec::new();
    if model.format > FORMAT_VERSION || model.format == 0 {
        out.push(Problem::error(
            None,
            format!("file format version {} is not supported (this build reads 1 to {FORMAT_VERSION})", model.format),
        ));
        return out;
    }
    let mut kinds: HashMap<&str, &Element> = HashMap::with_capacity(model.elements.len());
    for e in &model.elements {
        if e.id.trim().is_empty() {
            out.push(Problem::error(Some(e), "the id is empty".to_owned()));
        } else if e.id.chars().any(char::is_control) {
            out.push(Problem::error(Some(e), "the id contains control characters".to_owned()));
        }
        // No more characters than bytes: only a long text needs counting.
        for (what, text) in [("id", &e.id), ("name", &e.name)].into_iter().filter(|(_, t)| t.len() > MAX_NAME_CHARS) {
            let chars = text.chars().count();
            if chars > MAX_NAME_CHARS {
                out.push(Problem::error(Some(e), format!("the {what} is {chars} characters long; the limit is {MAX_NAME_CHARS}")));
            }
        }
        if e.name.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\t' | '\r')) {
            out.push(Problem::error(Some(e), "the name contains control characters (such as NUL)".to_owned()));
        }
        if let Some(prev) = kinds.insert(&e.id, e) {
            out.push(Problem::error(Some(e), format!("duplicate id `{}` (also used by {})", clip(&e.id), describe_element(prev))));
        }
        if e.name.trim().is_empty() {
            out.push(Problem::warning(Some(e), "the element has no name".to_owned()));
        }
    }
    let mut data_ids = HashSet::new();
    let mut threat_ids: HashSet<&str> = HashSet::new();
    for d in &model.data {
        if d.id.trim().is_empty() {
            out.push(Problem::error(None, format!("data item {:?} has an empty id", clip(&d.name))));
        }
        if !data_ids.insert(d.id.as_str()) {
            out.push(Problem::error(None, format!("duplicate data id `{}`", clip(&d.id))));
        }
        if kinds.contains_key(d.id.as_str()) {
            out.push(Problem::error(None, format!("data id `{}` is also an element id", clip(&d.id))));
        }
    }

    let mut used = HashSet::with_capacity(model.elements.len());
    for e in &model.elements {
        check_applicability(e, &mut out);
        let reference = |id: &Option<String>, what: &str, want: KindSet, out: &mut Vec<Problem>| -> Option<Kind> {
            let id = id.as_deref()?;
            match kinds.get(id) {
                None => {
                    let hint = (id.len() <= MAX_NAME_CHARS)
                        .then(|| closest(id, kinds.keys().copied()))
                        .flatten()
                        .map(|c| format!("; did you mean `{c}`?"))
                        .unwrap_or_default();
                    out.push(Problem::error(Some(e), format!("{what} `{}` names no element{hint}", clip(id))));
                    None
                }
                Some(t) if !want.contains(t.kind) => {
                    out.push(Problem::error(Some(e), format!("{what} `{}` is a {}, not {}", clip(id), t.kind, kinds_phrase(want))));
                    None
                }
                Some(t) => Some(t.kind),
            }
        };
        if e.kind == Kind::Dataflow {
            for (end, what) in [(&e.source, "source"), (&e.sink, "sink")] {
                if end.is_none() {
                    out.push(Problem::error(Some(e), format!("a dataflow needs a `{what}`")));
                }
                reference(end, what, KindSet::NODES, &mut out);
                if let Some(id) = end {
                    used.insert(id.as_str());
                }
            }
            if e.response_to.as_deref() == Some(e.id.as_str()) {
                out.push(Problem::error(Some(e), "a flow cannot be a response to itself".to_owned()));
            } else {
                reference(&e.response_to, "responseTo", Kind::Dataflow.set(), &mut out);
            }
        }
        reference(&e.in_boundary, "inBoundary", Kind::Boundary.set(), &mut out);
        for (threat, o) in &e.overrides {
            if let Some(sev) = &o.severity
                && crate::rules::Severity::parse(sev).is_none()
            {
                out.push(Problem::error(
                    Some(e),
                    format!("override of {threat}: unknown severity `{sev}` (use Info, Very Low, Low, Medium, High or Very High)"),
                ));
            }
        }
        for t in &e.threats {
            let what = |m: String| Problem::error(Some(e), format!("threat {}: {m}", clip(&t.id)));
            if t.id.trim().is_empty() {
                out.push(Problem::error(Some(e), "a threat needs an `id`".to_owned()));
            } else if !threat_ids.insert(t.id.as_str()) {
                out.push(what("the id is used by another threat; ids must be unique in the model".to_owned()));
            }
            if t.title.trim().is_empty() {
                out.push(what("a threat needs a `title`".to_owned()));
            }
            if crate::rules::Severity::parse(&t.severity).is_none() {
                out.push(what(format!("unknown severity `{}` (use Info, Very Low, Low, Medium, High or Very High)", clip(&t.severity))));
            }
            for c in &t.stride {
                if crate::rules::Stride::parse(c).is_none() {
                    out.push(what(format!(
                        "unknown STRIDE category `{}` (use Spoofing, Tampering, Repudiation, Information Disclosure, Denial of Service or Elevation of Privilege)",
                        clip(c)
                    )));
                }
            }
        }
        for d in &e.data {
            if !data_ids.contains(d.as_str()) {
                let hint = (d.len() <= MAX_NAME_CHARS)
                    .then(|| closest(d, model.data.iter().map(|x| x.id.as_str())))
                    .flatten()
                    .map(|c| format!("; did you mean `{c}`?"))
                    .unwrap_or_default();
                out.push(Problem::error(Some(e), format!("data `{}` names no data item{hint}", clip(d))));
            }
        }
    }
    check_boundary_cycles(model, &kinds, &mut out);
    if model.on_duplicates == Action::Restrict {
        for (a, b) in duplicate_flows(model) {
            out.push(Problem::error(
                Some(&model.elements[b]),
                format!("duplicates dataflow `{}` (the model sets onDuplicates RESTRICT)", model.elements[a].id),
            ));
        }
    }
    for e in &model.elements {
        if e.kind.is_node() && !used.contains(e.id.as_str()) && !model.ignore_unused {
            out.push(Problem::warning(Some(e), "takes part in no dataflow".to_owned()));
        }
    }
    if !model.diagrams.is_empty() && !model.layout.is_empty() {
        out.push(Problem::error(
            None,
            "the model has both `layout` and `diagrams`: with several diagrams, each diagram's positions go in its own `layout`".to_owned(),
        ));
    }
    let mut names = HashSet::new();
    for (d, diagram) in model.diagrams.iter().enumerate() {
        if diagram.name.trim().is_empty() {
            out.push(Problem::error(None, format!("diagram {} has no name", d + 1)));
        } else if !names.insert(diagram.name.to_lowercase()) {
            out.push(Problem::warning(None, format!("two diagrams are called `{}`", clip(&diagram.name))));
        }
    }
    for d in 0..model.diagram_count() {
        let on = if model.diagrams.is_empty() { String::new() } else { format!(" of diagram `{}`", clip(model.diagram_name(d))) };
        for id in model.layout_of(d).keys() {
            if !kinds.contains_key(id.as_str()) {
                out.push(Problem::warning(None, format!("layout entry `{}`{on} names no element", clip(id))));
            }
        }
    }
    for (key, d) in &model.decisions {
        match key.split_once('@') {
            Some((rule, element)) if !rule.is_empty() && !element.is_empty() => {}
            _ => out.push(Problem::error(None, format!("decision key `{}` is not RULE@element-id", clip(key)))),
        }
        if let Some(due) = d.due.as_deref().filter(|due| !crate::lifecycle::is_date(due)) {
            out.push(Problem::error(None, format!("decision `{key}`: due date `{due}` is not YYYY-MM-DD")));
        }
        if d.missing_justification() {
            out.push(Problem::warning(
                None,
                format!("decision `{}`: {} with no justification", clip(key), d.status.label().to_lowercase()),
            ));
        }
        if let Some(t) = &d.tracked {
            if t.id.trim().is_empty() {
                out.push(Problem::error(None, format!("decision `{}`: its tracked ticket has an empty id", clip(key))));
            }
            if t.key.trim().is_empty() {
                out.push(Problem::error(None, format!("decision `{}`: its tracked ticket has an empty key", clip(key))));
            }
        }
    }
    let mut artefact_names = HashSet::new();
    for a in &model.artefacts {
        if let Err(e) = crate::artefacts::check_name(&a.name) {
            out.push(Problem::error(None, e.to_string()));
        }
        if !artefact_names.insert(a.name.as_str()) {
            out.push(Problem::error(None, format!("artefact `{}` is listed twice", clip(&a.name))));
        }
        if a.sha256.len() != 64 || !a.sha256.chars().all(|c| c.is_ascii_hexdigit()) {
            out.push(Problem::error(None, format!("artefact `{}`: sha256 is not 64 hex digits", clip(&a.name))));
        }
        if a.size > crate::artefacts::MAX_ARTEFACT_BYTES {
            out.push(Problem::error(
                None,
                format!("artefact `{}` is {} bytes; the limit is {}", clip(&a.name), a.size, crate::artefacts::MAX_ARTEFACT_BYTES),
            ));
        }
    }
    if let Some(t) = &model.tracker {
        let url = t.url.trim();
        if !(url.starts_with("https://") || url.starts_with("http://")) || url.len() < "http://x".len() {
            out.push(Problem::error(None, format!("tracker.url `{}`: expected an http:// or https:// URL", clip(&t.url))));
        }
        if t.project.trim().is_empty() {
            out.push(Problem::error(
                None,
                "tracker.project is empty (a Redmine project, GitHub owner/repository, GitLab project or Jira key)".to_owned(),
            ));
        }
        for k in t.priorities.keys() {
            if crate::rules::Severity::parse(k).is_none() {
                out.push(Problem::error(
                    None,
                    format!("tracker.priorities: `{}` is not a severity (info, very-low, low, medium, high, very-high)", clip(k)),
                ));
            }
        }
        if t.kind == crate::lifecycle::TrackerKind::Github && t.project.trim().trim_matches('/').split('/').count() != 2 {
            out.push(Problem::error(None, format!("tracker.project `{}`: GitHub needs `owner/repository`", clip(&t.project))));
        }
    }
    out.sort_by_key(|p| p.level);
    out
}

fn kinds_phrase(set: KindSet) -> String {
    if set == KindSet::NODES {
        return "a node (dataflows connect nodes)".to_owned();
    }
    let names: Vec<_> = set.iter().map(Kind::name).collect();
    format!("a {}", names.join(" or "))
}

fn check_applicability(e: &Element, out: &mut Vec<Problem>) {
    for def in e.set_attributes() {
        if !def.kinds.contains(e.kind) {
            out.push(Problem::error(
                Some(e),
                format!("attribute `{}` does not apply to a {} (it applies to {})", def.name, e.kind, kind_list(def.kinds)),
            ));
        }
    }
    let fixed = |name: &str, set: bool, out: &mut Vec<Problem>| {
        if let Some(def) = FIXED_ATTRIBUTES.iter().find(|f| f.name == name)
            && set
            && !def.kinds.contains(e.kind)
        {
            out.push(Problem::error(
                Some(e),
                format!("attribute `{name}` does not apply to a {} (it applies to {})", e.kind, kind_list(def.kinds)),
            ));
        }
    };
    fixed("source", e.source.is_some(), out);
    fixed("sink", e.sink.is_some(), out);
    fixed("responseTo", e.response_to.is_some(), out);
    fixed("inBoundary", e.in_boundary.is_some(), out);
    fixed("data", !e.data.is_empty(), out);
}

fn kind_list(set: KindSet) -> String {
    if set == KindSet::ALL {
        return "every kind".to_owned();
    }
    if set == KindSet::NODES {
        return "every node".to_owned();
    }
    if set == KindSet::ASSETS {
        return "every node but actors".to_owned();
    }
    set.iter().map(Kind::name).collect::<Vec<_>>().join(", ")
}

fn check_boundary_cycles(model: &Model, kinds: &HashMap<&str, &Element>, out: &mut Vec<Problem>) {
    let mut reported: HashSet<&str> = HashSet::new();
    for b in model.elements.iter().filter(|e| e.kind == Kind::Boundary) {
        let mut seen: Vec<&str> = vec![b.id.as_str()];
        let mut cur = b;
        while let Some(parent) = cur.in_boundary.as_deref().and_then(|p| kinds.get(p)) {
            if parent.kind != Kind::Boundary {
                break;
            }
            if let Some(pos) = seen.iter().position(|s| *s == parent.id) {
                let cycle = &seen[pos..];
                if cycle.iter().all(|id| reported.insert(id)) {
                    let mut chain: Vec<&str> = cycle.to_vec();
                    chain.push(parent.id.as_str());
                    out.push(Problem::error(Some(b), format!("boundaries contain each other in a cycle: {}", chain.join(" → "))));
                }
                break;
            }
            seen.push(parent.id.as_str());
            cur = parent;
        }
    }
}

/// Pairs of dataflows (earlier, later) that pytm calls duplicates: same source and sink and
/// the same attributes except name, note, order, response pairing, controls and id.
pub fn duplicate_flows(model: &Model) -> Vec<(usize, usize)> {
    let mut groups: HashMap<(&str, &str), Vec<usize>> = HashMap::new();
    for (i, e) in model.elements.iter().enumerate() {
        if let (Kind::Dataflow, Some(s), Some(t)) = (e.kind, &e.source, &e.sink) {
            groups.entry((s.as_str(), t.as_str())).or_default().push(i);
        }
    }
    let normal = |e: &Element| Element {
        id: String::new(),
        name: String::new(),
        note: None,
        order: None,
        response_to: None,
        is_response: None,
        controls: Controls::default(),
        ..e.clone()
    };
    let mut out = Vec::new();
    let mut keys: Vec<_> = groups.into_values().filter(|g| g.len() > 1).collect();
    keys.sort();
    for group in keys {
        for (n, &b) in group.iter().enumerate() {
            if let Some(&a) = group[..n].iter().find(|&&a| normal(&model.elements[a]) == normal(&model.elements[b])) {
                out.push((a, b));
            }
        }
    }
    out
}

/// The canonical text of a model: pretty-printed JSON with a fixed key order, sorted maps,
/// sorted and de-duplicated sets, and a final newline. The same model always gives the same
/// bytes.
pub fn to_canonical_json(model: &Model) -> String {
    let mut bytes = Vec::new();
    // Serializing plain structs, strings, numbers and maps into memory cannot fail, and
    // serde_json writes UTF-8.
    let _ = write_canonical_json(model, &mut bytes);
    String::from_utf8(bytes).unwrap_or_default()
}

/// Writes [`to_canonical_json`]'s text to `out` as it goes. A model that is canonical already
/// (as every loaded or imported one is) is written without a copy.
pub fn write_canonical_json(model: &Model, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    let copy;
    let model = if is_canonical(model) {
        model
    } else {
        let mut m = model.clone();
        canonicalize(&mut m);
        copy = m;
        &copy
    };
    serde_json::to_writer_pretty(&mut *out, model)?;
    out.write_all(b"\n")
}

/// True if [`canonicalize`] would change nothing.
fn is_canonical(m: &Model) -> bool {
    let is_set = |v: &[String]| v.windows(2).all(|w| w[0] < w[1]);
    let unique = |v: &[String]| v.len() < 2 || v.iter().collect::<HashSet<_>>().len() == v.len();
    m.assumptions.iter().all(|a| is_set(&a.exclude))
        && m.elements.iter().all(|e| {
            e.levels.as_ref().is_none_or(|l| l.windows(2).all(|w| w[0] < w[1]))
                && e.assumptions.iter().all(|a| is_set(&a.exclude))
                && unique(&e.data)
        })
}

fn canonicalize(m: &mut Model) {
    let sort_set = |v: &mut Vec<String>| {
        let set: BTreeSet<String> = v.drain(..).collect();
        v.extend(set);
    };
    for a in &mut m.assumptions {
        sort_set(&mut a.exclude);
    }
    for e in &mut m.elements {
        if let Some(levels) = &mut e.levels {
            levels.sort_unstable();
            levels.dedup();
        }
        for a in &mut e.assumptions {
            sort_set(&mut a.exclude);
        }
        let mut seen = HashSet::new();
        e.data.retain(|d| seen.insert(d.clone()));
    }
}

/// Saves a model atomically: the canonical text goes to a temporary file beside `path`, is
/// flushed to disk, then renamed over `path`. Until the rename the previous file is intact; a
/// crash at any point leaves either the old or the new model, never a mix.
pub fn save(model: &Model, path: &Path) -> std::io::Result<()> {
    write_atomic_with(path, |out| write_canonical_json(model, out))
}

/// Writes bytes to `path` atomically (temporary file, fsync, rename, fsync of the directory).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_atomic_with(path, |w| w.write_all(bytes))
}

/// Streams output to `path` atomically: `write` fills a buffered temporary file beside `path`,
/// which is flushed to disk and renamed over `path` only when `write` succeeded. Memory stays
/// flat however large the output.
pub fn write_atomic_with(path: &Path, write: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "model".to_owned());
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let file = std::fs::OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        let mut buffered = std::io::BufWriter::with_capacity(1 << 20, file);
        write(&mut buffered)?;
        let file = buffered.into_inner().map_err(std::io::IntoInnerError::into_error)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, path)?;
        if let Ok(d) = std::fs::File::open(&dir) {
            // Directory fsync makes the rename durable; some file systems refuse it, which
            // does not make the save less atomic.
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::attr::Kind;
    use crate::model::{Assumption, Element};

    /// Every way [`canonicalize`] changes a model is caught by [`is_canonical`], so a model
    /// written without a copy is one that needed none.
    #[test]
    fn a_model_is_written_canonically_with_or_without_a_copy() {
        let mut m = Model::new("m");
        let mut e = Element::new("web".to_owned(), Kind::Process, "Web".to_owned());
        e.levels = Some(vec![0, 1]);
        e.data = vec!["a".to_owned(), "b".to_owned()];
        e.assumptions = vec![Assumption { name: "x".to_owned(), exclude: vec!["T1".to_owned(), "T2".to_owned()], ..Assumption::default() }];
        m.elements.push(e);
        m.assumptions = vec![Assumption { name: "g".to_owned(), exclude: vec!["T1".to_owned()], ..Assumption::default() }];
        assert!(is_canonical(&m));
        let canonical = to_canonical_json(&m);
        let spoilt: [fn(&mut Model); 5] = [
            |m| m.elements[0].levels = Some(vec![1, 0, 1]),
            |m| m.elements[0].data = vec!["a".to_owned(), "b".to_owned(), "a".to_owned()],
            |m| m.elements[0].assumptions[0].exclude = vec!["T2".to_owned(), "T1".to_owned()],
            |m| m.elements[0].assumptions[0].exclude = vec!["T1".to_owned(), "T1".to_owned(), "T2".to_owned()],
            |m| m.assumptions[0].exclude = vec!["T1".to_owned(), "T1".to_owned()],
        ];
        for (n, spoil) in spoilt.iter().enumerate() {
            let mut other = m.clone();
            spoil(&mut other);
            assert!(!is_canonical(&other), "change {n} not seen");
            assert_eq!(to_canonical_json(&other), canonical, "change {n}");
        }
    }
}
