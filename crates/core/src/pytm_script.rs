//! A reader of pytm model scripts (`tm.py`) that never runs them.
//!
//! A pytm model is a Python script, but one written as a declaration: it imports pytm's
//! classes, builds elements with constructor calls, sets their attributes and calls
//! `tm.process()`. This module parses the script with ruff's Python parser and reads that
//! subset statically: imports from pytm, assignments to names and attributes (`=` and `+=`),
//! constructor calls with positional and keyword arguments, strings, numbers, booleans, `None`,
//! lists, tuples, sets and dicts, pytm's enums (`Classification.SECRET`), `append`, `extend`
//! and `add` on an element's lists, `tm.process()` and an `if __name__ == "__main__":` block.
//! Everything else (loops, function and class definitions, other modules, calls to anything
//! but pytm's constructors) is refused with its line and column. Nothing in the script runs.
//!
//! The script becomes the JSON that pytm's `--json` writes for it, which the JSON importer
//! reads: a script and its `--json` output import alike, except that what pytm 1.4.0 loses
//! before writing its JSON is kept as written (a flow's protocol and ports, which pytm
//! overwrites with its endpoints', and attributes pytm does not write at all). Where names
//! repeat, references keep the element the script meant, which names in pytm's JSON cannot.

use std::collections::HashMap;

use rustpython_ruff_python_ast::{CmpOp, Expr, ExprCall, Number, Operator, Stmt, UnaryOp};
use rustpython_ruff_text_size::{Ranged, TextRange};
use serde_json::{Map, Value as Json};

use crate::attr::{Action, Classification, DatastoreType, Lifetime, TlsVersion};
use crate::file::{Level, ModelError, Problem};
use crate::pytm::{Imported, REF};

/// pytm's element classes that are nodes (they go to the JSON's `elements`).
const NODE_CLASSES: &[&str] =
    &["Actor", "Asset", "Agent", "Datastore", "ExternalEntity", "Lambda", "LLM", "Process", "Server", "SetOfProcesses"];
/// pytm's other model classes that a script builds.
const OTHER_CLASSES: &[&str] = &["TM", "Boundary", "Dataflow", "Data", "Assumption", "Finding"];
/// pytm's enums.
const ENUMS: &[&str] = &["Classification", "TLSVersion", "Lifetime", "DatastoreType", "Action"];
/// The attributes of `TM` that the model keeps.
const TM_ATTRIBUTES: &[&str] = &["name", "description", "isOrdered", "mergeResponses", "ignoreUnused", "onDuplicates", "assumptions"];

/// A value in the script.
#[derive(Debug, Clone)]
enum Val {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    /// A list or a tuple.
    List(Vec<Val>),
    Set(Vec<Val>),
    Dict(Vec<(Val, Val)>),
    /// `Classification.SECRET`: the enum's name and the member's.
    Enum(&'static str, String),
    /// An object the script built, by number.
    Obj(usize),
    /// An element's `controls`.
    Controls(usize),
    /// A pytm class or enum.
    Class(&'static str),
    /// An imported module: `pytm` or `random`.
    Module(&'static str),
    /// A name imported from pytm that is not a model class (`load`, `Threat`).
    Other(String),
}

/// An object built by a constructor call.
#[derive(Debug)]
struct Obj {
    class: &'static str,
    attrs: Vec<(String, Val)>,
    controls: Vec<(String, Val)>,
}

impl Obj {
    fn get(&self, key: &str) -> Option<&Val> {
        self.attrs.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    fn set(list: &mut Vec<(String, Val)>, key: &str, v: Val) {
        match list.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = v,
            None => list.push((key.to_owned(), v)),
        }
    }

    fn name(&self) -> &str {
        match self.get("name") {
            Some(Val::Str(s)) => s,
            _ => "",
        }
    }

    fn is_element(&self) -> bool {
        self.is_node() || matches!(self.class, "Boundary" | "Dataflow")
    }

    fn is_node(&self) -> bool {
        NODE_CLASSES.contains(&self.class)
    }
}

type Res<T> = Result<T, ModelError>;

struct Reader<'a> {
    text: &'a str,
    file: &'a str,
    vars: HashMap<String, Val>,
    objs: Vec<Obj>,
    tm: Option<usize>,
    warnings: Vec<String>,
}

/// Reads a pytm model script without running it.
pub fn import(text: &str, file: &str) -> Result<Imported, ModelError> {
    let parsed = rustpython_ruff_python_parser::parse_module(text).map_err(|e| {
        let (line, column) = position(text, e.location);
        ModelError {
            file: file.to_owned(),
            problems: vec![Problem {
                level: Level::Error,
                line: Some(line),
                column: Some(column),
                element: None,
                message: format!("this is not valid Python: {}", e.error),
            }],
        }
    })?;
    let mut r = Reader { text, file, vars: HashMap::new(), objs: Vec::new(), tm: None, warnings: Vec::new() };
    r.block(&parsed.syntax().body)?;
    // The importer reads JSON text: the script's objects are written as JSON and read back
    // (serde_json_borrow's conversion from a serde_json value reads positive integers as
    // negative ones, losing the `__ref__` numbers).
    let text = serde_json::Value::Object(r.root()?).to_string();
    let root = crate::file::parse_json_borrowed(&text, file)?;
    match root.as_object() {
        Some(root) => crate::pytm::import_root(root, file, r.warnings),
        None => {
            Err(ModelError::single(file, Problem::error(None, "the script builds no model: its `TM(...)` is not an object".to_owned())))
        }
    }
}

/// 1-based line and column (in characters) of where `range` starts.
fn position(text: &str, range: TextRange) -> (usize, usize) {
    let offset = (u32::from(range.start()) as usize).min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// What a statement is, for a refusal: "a `for` loop".
fn statement_kind(s: &Stmt) -> &'static str {
    match s {
        Stmt::FunctionDef(_) => "a function definition (`def`)",
        Stmt::ClassDef(_) => "a class definition",
        Stmt::Return(_) => "`return`",
        Stmt::Delete(_) => "`del`",
        Stmt::TypeAlias(_) => "a type alias",
        Stmt::Assign(_) => "this assignment",
        Stmt::AugAssign(_) => "this augmented assignment (only `+=` is read)",
        Stmt::AnnAssign(_) => "an annotated assignment",
        Stmt::For(_) => "a `for` loop",
        Stmt::While(_) => "a `while` loop",
        Stmt::If(_) => "an `if` statement (only `if __name__ == \"__main__\":` is read)",
        Stmt::With(_) => "a `with` block",
        Stmt::Match(_) => "a `match` statement",
        Stmt::Raise(_) => "`raise`",
        Stmt::Try(_) => "a `try` block",
        Stmt::Assert(_) => "`assert`",
        Stmt::Import(_) | Stmt::ImportFrom(_) => "this import",
        Stmt::Global(_) | Stmt::Nonlocal(_) => "a `global` or `nonlocal` declaration",
        Stmt::Expr(_) => "this expression",
        Stmt::Pass(_) => "`pass`",
        Stmt::Break(_) | Stmt::Continue(_) => "`break` or `continue`",
        Stmt::IpyEscapeCommand(_) => "an IPython command",
    }
}

/// What an expression is, for a refusal.
fn expression_kind(e: &Expr) -> &'static str {
    match e {
        Expr::BoolOp(_) => "`and` / `or`",
        Expr::Named(_) => "`:=`",
        Expr::BinOp(_) => "this operator (only `+` on strings and lists is read)",
        Expr::UnaryOp(_) => "this operator (only `-` on numbers is read)",
        Expr::Lambda(_) => "a lambda",
        Expr::If(_) => "a conditional expression",
        Expr::ListComp(_) | Expr::SetComp(_) | Expr::DictComp(_) | Expr::Generator(_) => "a comprehension",
        Expr::Await(_) | Expr::Yield(_) | Expr::YieldFrom(_) => "`await` or `yield`",
        Expr::Compare(_) => "a comparison",
        Expr::Call(_) => "this call",
        Expr::FString(_) | Expr::TString(_) => "an f-string",
        Expr::BytesLiteral(_) => "a bytes literal",
        Expr::EllipsisLiteral(_) => "`...`",
        Expr::Subscript(_) => "indexing (`x[...]`)",
        Expr::Starred(_) => "`*` unpacking",
        Expr::Slice(_) => "a slice",
        _ => "this expression",
    }
}

/// The value a name imported from pytm stands for.
fn pytm_name(name: &str) -> Val {
    let known = NODE_CLASSES.iter().chain(OTHER_CLASSES).chain(ENUMS).find(|c| **c == name);
    match known {
        Some(c) => Val::Class(c),
        None => Val::Other(name.to_owned()),
    }
}

/// True if `member` is a member of pytm's enum `class`.
fn is_member(class: &str, member: &str) -> bool {
    match class {
        "Classification" => Classification::from_name(member).is_some(),
        "TLSVersion" => TlsVersion::from_name(member).is_some(),
        "Lifetime" => Lifetime::from_name(member).is_some(),
        "DatastoreType" => DatastoreType::from_name(member).is_some(),
        "Action" => Action::from_name(member).is_some(),
        _ => false,
    }
}

/// `__name__ == "__main__"`, either way round.
fn is_main_guard(test: &Expr) -> bool {
    let Expr::Compare(c) = test else { return false };
    if c.ops.len() != 1 || c.ops[0] != CmpOp::Eq || c.comparators.len() != 1 {
        return false;
    }
    let is_name = |e: &Expr| matches!(e, Expr::Name(n) if n.id.as_str() == "__name__");
    let is_main = |e: &Expr| matches!(e, Expr::StringLiteral(s) if s.value.to_str() == "__main__");
    (is_name(&c.left) && is_main(&c.comparators[0])) || (is_main(&c.left) && is_name(&c.comparators[0]))
}

const NOT_RUN: &str = "Threatmap reads a pytm script without running it, so it reads only imports from pytm, \
     assignments, constructor calls and literal values; or run the script with pytm \
     (`python3 tm.py --json out.json`) and open out.json";

impl Reader<'_> {
    fn fail(&self, at: TextRange, message: String) -> ModelError {
        let (line, column) = position(self.text, at);
        ModelError {
            file: self.file.to_owned(),
            problems: vec![Problem { level: Level::Error, line: Some(line), column: Some(column), element: None, message }],
        }
    }

    fn block(&mut self, body: &[Stmt]) -> Res<()> {
        body.iter().try_for_each(|s| self.statement(s))
    }

    fn statement(&mut self, s: &Stmt) -> Res<()> {
        match s {
            Stmt::ImportFrom(i) => {
                let module = i.module.as_ref().map_or("", |m| m.as_str());
                if i.level != 0 || !(module == "pytm" || module.starts_with("pytm.")) {
                    return Err(self.fail(
                        s.range(),
                        format!("`from {module} import ...` is not read: a model script may import from pytm only ({NOT_RUN})"),
                    ));
                }
                for a in &i.names {
                    let name = a.name.as_str();
                    if name == "*" {
                        for c in NODE_CLASSES.iter().chain(OTHER_CLASSES).chain(ENUMS) {
                            self.vars.insert((*c).to_owned(), Val::Class(c));
                        }
                        continue;
                    }
                    let bound = a.asname.as_ref().map_or(name, |n| n.as_str());
                    self.vars.insert(bound.to_owned(), pytm_name(name));
                }
                Ok(())
            }
            Stmt::Import(i) => {
                for a in &i.names {
                    let module = a.name.as_str();
                    let value = match module {
                        "pytm" => Val::Module("pytm"),
                        // pytm seeds its uuids with `random`; Threatmap has no use for them.
                        "random" => Val::Module("random"),
                        m if m.starts_with("pytm.") && a.asname.is_none() => Val::Module("pytm"),
                        _ => {
                            return Err(self.fail(
                                a.range(),
                                format!("`import {module}` is not read: a model script may import from pytm only ({NOT_RUN})"),
                            ));
                        }
                    };
                    let bound = a.asname.as_ref().map_or_else(|| module.split('.').next().unwrap_or(module), |n| n.as_str());
                    self.vars.insert(bound.to_owned(), value);
                }
                Ok(())
            }
            Stmt::Expr(e) => match &*e.value {
                Expr::StringLiteral(_) => Ok(()),
                Expr::Call(c) => self.call_statement(c),
                other => Err(self.fail(other.range(), format!("{} on a line of its own is not read ({NOT_RUN})", expression_kind(other)))),
            },
            Stmt::Assign(a) => {
                let v = self.eval(&a.value)?;
                a.targets.iter().try_for_each(|t| self.assign(t, v.clone()))
            }
            Stmt::AugAssign(a) if a.op == Operator::Add => {
                let current = self.eval(&a.target)?;
                let more = self.eval(&a.value)?;
                let v = self.add(current, more, a.range())?;
                self.assign(&a.target, v)
            }
            Stmt::If(i) if i.elif_else_clauses.is_empty() && is_main_guard(&i.test) => self.block(&i.body),
            Stmt::Pass(_) => Ok(()),
            other => Err(self.fail(other.range(), format!("{} is not read ({NOT_RUN})", statement_kind(other)))),
        }
    }

    /// A call on a line of its own: a constructor (the object joins the model, as in pytm),
    /// `tm.process()`, `random.seed(...)`, or `append` / `extend` / `add` on an element's list.
    fn call_statement(&mut self, c: &ExprCall) -> Res<()> {
        if let Expr::Attribute(method) = &*c.func {
            let name = method.attr.as_str();
            let target = match self.eval(&method.value) {
                // A list attribute not set yet starts empty (`web.overrides.append(...)`).
                Err(_) if matches!(name, "append" | "extend" | "add") && matches!(&*method.value, Expr::Attribute(_)) => {
                    Ok(Val::List(Vec::new()))
                }
                t => t,
            };
            match (&target, name) {
                (Ok(Val::Obj(i)), "process" | "resolve" | "check") if self.objs[*i].class == "TM" => return Ok(()),
                (Ok(Val::Module("random")), "seed") => return Ok(()),
                (Ok(Val::List(_) | Val::Set(_)), "append" | "extend" | "add") => {
                    let [arg] = &c.arguments.args[..] else {
                        return Err(self.fail(c.range(), format!("`{name}` takes one argument")));
                    };
                    let arg = self.eval(arg)?;
                    let more = match (name, arg) {
                        ("extend", Val::List(v) | Val::Set(v)) => v,
                        ("extend", _) => return Err(self.fail(c.range(), "`extend` takes a list".to_owned())),
                        (_, v) => vec![v],
                    };
                    let current = target.unwrap_or(Val::None);
                    let v = self.add(current, Val::List(more), c.range())?;
                    return self.assign(&method.value, v);
                }
                _ => {}
            }
        }
        self.eval(&Expr::Call(c.clone())).map(drop)
    }

    fn add(&self, a: Val, b: Val, at: TextRange) -> Res<Val> {
        Ok(match (a, b) {
            (Val::Str(a), Val::Str(b)) => Val::Str(a + &b),
            (Val::List(mut a), Val::List(b) | Val::Set(b)) => {
                a.extend(b);
                Val::List(a)
            }
            (Val::Set(mut a), Val::List(b) | Val::Set(b)) => {
                a.extend(b);
                Val::Set(a)
            }
            _ => return Err(self.fail(at, format!("`+` is read only on two strings or two lists ({NOT_RUN})"))),
        })
    }

    fn assign(&mut self, target: &Expr, v: Val) -> Res<()> {
        match target {
            Expr::Name(n) => {
                self.vars.insert(n.id.as_str().to_owned(), v);
                Ok(())
            }
            Expr::Attribute(a) => {
                let owner = self.eval(&a.value)?;
                let key = a.attr.as_str();
                match owner {
                    Val::Obj(i) => self.set_attr(i, key, v, target.range()),
                    Val::Controls(i) => {
                        Obj::set(&mut self.objs[i].controls, key, v);
                        Ok(())
                    }
                    _ => Err(self.fail(target.range(), format!("only attributes of pytm's objects can be set ({NOT_RUN})"))),
                }
            }
            Expr::Tuple(t) => {
                let (Val::List(values) | Val::Set(values)) = v else {
                    return Err(self.fail(target.range(), "unpacking needs a tuple or list of values".to_owned()));
                };
                if values.len() != t.elts.len() {
                    return Err(self.fail(target.range(), format!("{} names take {} values", t.elts.len(), values.len())));
                }
                t.elts.iter().zip(values).try_for_each(|(t, v)| self.assign(t, v))
            }
            other => Err(self.fail(other.range(), format!("assignment to {} is not read ({NOT_RUN})", expression_kind(other)))),
        }
    }

    /// Sets an attribute of an object, checking the references pytm's constructors and
    /// validators check, so that a wrong one is reported at its line.
    fn set_attr(&mut self, i: usize, key: &str, v: Val, at: TextRange) -> Res<()> {
        let class = self.objs[i].class;
        let what = format!("{class} {:?}", self.objs[i].name());
        let v = match (key, v) {
            ("name", _) if self.objs[i].get("name").is_some() => {
                return Err(self.fail(at, format!("{what}: `name` is set once, when the object is built")));
            }
            ("controls", _) => return Err(self.fail(at, format!("{what}: set controls one by one (`x.controls.NAME = ...`)"))),
            ("inBoundary", v @ Val::None) => v,
            ("inBoundary", Val::Obj(b)) if self.objs[b].class == "Boundary" => Val::Obj(b),
            ("inBoundary", _) if self.objs[i].is_element() => return Err(self.fail(at, format!("{what}: `inBoundary` must be a Boundary"))),
            ("source" | "sink", Val::Obj(n)) if class == "Dataflow" && self.objs[n].is_node() => Val::Obj(n),
            ("source" | "sink", _) if class == "Dataflow" => {
                return Err(self.fail(at, format!("{what}: `{key}` must be an element (an Actor, a Server, a Process, ...)")));
            }
            ("responseTo" | "response", v @ Val::None) => v,
            ("responseTo" | "response", Val::Obj(f)) if self.objs[f].class == "Dataflow" => Val::Obj(f),
            ("responseTo" | "response", _) if class == "Dataflow" => {
                return Err(self.fail(at, format!("{what}: `{key}` must be a Dataflow")));
            }
            // pytm's legacy form: a string as a flow's data is a datum named "undefined".
            ("data", Val::Str(description)) if self.objs[i].is_element() => {
                let d = self.objs.len();
                self.objs.push(Obj {
                    class: "Data",
                    attrs: vec![("name".to_owned(), Val::Str("undefined".to_owned())), ("description".to_owned(), Val::Str(description))],
                    controls: Vec::new(),
                });
                Val::List(vec![Val::Obj(d)])
            }
            ("data", Val::Obj(d)) if self.objs[d].class == "Data" => Val::List(vec![Val::Obj(d)]),
            ("data", Val::List(items) | Val::Set(items)) if self.objs[i].is_element() => {
                if items.iter().any(|d| !matches!(d, Val::Obj(d) if self.objs[*d].class == "Data")) {
                    return Err(self.fail(at, format!("{what}: `data` must be Data objects")));
                }
                Val::List(items)
            }
            ("levels", Val::Int(n)) => Val::List(vec![Val::Int(n)]),
            (_, v) => v,
        };
        Obj::set(&mut self.objs[i].attrs, key, v);
        Ok(())
    }

    fn eval(&mut self, e: &Expr) -> Res<Val> {
        Ok(match e {
            Expr::StringLiteral(s) => Val::Str(s.value.to_str().to_owned()),
            Expr::NumberLiteral(n) => match &n.value {
                Number::Int(i) => match i.as_i64() {
                    Some(i) => Val::Int(i),
                    None => return Err(self.fail(e.range(), "this number is too large".to_owned())),
                },
                Number::Float(f) => Val::Float(*f),
                Number::Complex { .. } => return Err(self.fail(e.range(), "a complex number is not read".to_owned())),
            },
            Expr::BooleanLiteral(b) => Val::Bool(b.value),
            Expr::NoneLiteral(_) => Val::None,
            Expr::List(l) => Val::List(self.eval_all(&l.elts)?),
            Expr::Tuple(t) => Val::List(self.eval_all(&t.elts)?),
            Expr::Set(s) => Val::Set(self.eval_all(&s.elts)?),
            Expr::Dict(d) => {
                let mut items = Vec::new();
                for item in &d.items {
                    let Some(key) = &item.key else {
                        return Err(self.fail(item.value.range(), format!("`**` unpacking is not read ({NOT_RUN})")));
                    };
                    items.push((self.eval(key)?, self.eval(&item.value)?));
                }
                Val::Dict(items)
            }
            Expr::Name(n) => match self.vars.get(n.id.as_str()) {
                Some(v) => v.clone(),
                None => {
                    return Err(self.fail(
                        e.range(),
                        format!(
                            "`{}` is not defined before this line (the script is read top to bottom, without running it)",
                            n.id.as_str()
                        ),
                    ));
                }
            },
            Expr::Attribute(a) => {
                let owner = self.eval(&a.value)?;
                let key = a.attr.as_str();
                match owner {
                    Val::Class(c) if ENUMS.contains(&c) => {
                        if !is_member(c, key) {
                            return Err(self.fail(e.range(), format!("`{c}.{key}`: pytm's {c} has no member {key}")));
                        }
                        Val::Enum(c, key.to_owned())
                    }
                    Val::Module("pytm") => pytm_name(key),
                    Val::Obj(i) if key == "controls" && self.objs[i].is_element() => Val::Controls(i),
                    Val::Obj(i) => match self.objs[i].get(key) {
                        Some(v) => v.clone(),
                        None => {
                            let o = &self.objs[i];
                            return Err(self.fail(
                                e.range(),
                                format!(
                                    "{} {:?}: `{key}` is read here but not set before (the script is read without running it)",
                                    o.class,
                                    o.name()
                                ),
                            ));
                        }
                    },
                    Val::Controls(i) => {
                        let o = &self.objs[i];
                        match o.controls.iter().find(|(k, _)| k == key) {
                            Some((_, v)) => v.clone(),
                            None => {
                                return Err(self.fail(
                                    e.range(),
                                    format!("{} {:?}: `controls.{key}` is read here but not set before", o.class, o.name()),
                                ));
                            }
                        }
                    }
                    _ => return Err(self.fail(e.range(), format!("this attribute is not read ({NOT_RUN})"))),
                }
            }
            Expr::Call(c) => {
                let callee = self.eval(&c.func)?;
                match callee {
                    Val::Class(class) if !ENUMS.contains(&class) => self.construct(class, c)?,
                    Val::Other(name) => {
                        return Err(self.fail(
                            c.range(),
                            format!(
                                "`{name}` is not read: of pytm, a script may call the constructors of its model classes only ({NOT_RUN})"
                            ),
                        ));
                    }
                    _ => {
                        return Err(
                            self.fail(c.range(), format!("this call is not read: a script may call pytm's constructors only ({NOT_RUN})"))
                        );
                    }
                }
            }
            Expr::UnaryOp(u) if u.op == UnaryOp::USub => match self.eval(&u.operand)? {
                Val::Int(i) => Val::Int(-i),
                Val::Float(f) => Val::Float(-f),
                _ => return Err(self.fail(e.range(), "`-` is read on numbers only".to_owned())),
            },
            Expr::BinOp(b) if b.op == Operator::Add => {
                let (l, r) = (self.eval(&b.left)?, self.eval(&b.right)?);
                self.add(l, r, e.range())?
            }
            other => return Err(self.fail(other.range(), format!("{} is not read ({NOT_RUN})", expression_kind(other)))),
        })
    }

    fn eval_all(&mut self, list: &[Expr]) -> Res<Vec<Val>> {
        list.iter().map(|e| self.eval(e)).collect()
    }

    /// Builds a pytm object: the positional arguments pytm's constructors take, then the
    /// keyword arguments as attributes.
    fn construct(&mut self, class: &'static str, c: &ExprCall) -> Res<Val> {
        let positional: &[&str] = match class {
            "Dataflow" => &["source", "sink", "name"],
            "Finding" => &[],
            _ => &["name"],
        };
        if c.arguments.args.len() > positional.len() {
            return Err(self.fail(c.range(), format!("{class}() takes at most {} positional argument(s)", positional.len())));
        }
        if class == "TM" && self.tm.is_some() {
            return Err(self.fail(c.range(), "a second TM(): a script builds one model".to_owned()));
        }
        let mut given = Vec::new();
        for (key, arg) in positional.iter().zip(&c.arguments.args) {
            given.push((*key, self.eval(arg)?, arg.range()));
        }
        for k in &c.arguments.keywords {
            let Some(key) = &k.arg else {
                return Err(self.fail(k.range(), format!("`**` unpacking is not read ({NOT_RUN})")));
            };
            given.push((key.as_str(), self.eval(&k.value)?, k.range()));
        }
        let i = self.objs.len();
        self.objs.push(Obj { class, attrs: Vec::new(), controls: Vec::new() });
        // The name first, so that messages about the other arguments name the object.
        given.sort_by_key(|(k, _, _)| *k != "name");
        match given.first() {
            Some(("name", Val::Str(_), _)) => {}
            Some(("name", _, at)) => return Err(self.fail(*at, format!("{class}(): the name must be a string"))),
            _ if !matches!(class, "Finding") => return Err(self.fail(c.range(), format!("{class}() needs a name"))),
            _ => {}
        }
        for (key, v, at) in given {
            self.set_attr(i, key, v, at)?;
        }
        if class == "Dataflow" {
            for end in ["source", "sink"] {
                if self.objs[i].get(end).is_none() {
                    return Err(self.fail(c.range(), format!("Dataflow() needs a {end}")));
                }
            }
        }
        if class == "TM" {
            self.tm = Some(i);
        }
        Ok(Val::Obj(i))
    }

    /// The model as pytm's `--json` would write it.
    fn root(&mut self) -> Res<Map<String, Json>> {
        let Some(tm) = self.tm else {
            return Err(ModelError {
                file: self.file.to_owned(),
                problems: vec![Problem {
                    level: Level::Error,
                    line: None,
                    column: None,
                    element: None,
                    message: "the script builds no model: it has no `TM(...)`".to_owned(),
                }],
            });
        };
        let mut names: HashMap<&str, usize> = HashMap::new();
        for o in self.objs.iter().filter(|o| o.is_element()) {
            *names.entry(o.name()).or_default() += 1;
        }
        let repeated = |o: &Obj| names.get(o.name()).copied().unwrap_or(0) > 1;
        let mut root = Map::new();
        for (key, v) in &self.objs[tm].attrs {
            if TM_ATTRIBUTES.contains(&key.as_str()) {
                root.insert(key.clone(), self.json(v, &repeated));
            } else {
                self.warnings.push(format!("TM attribute `{key}` is not carried over: Threatmap's model has no such setting"));
            }
        }
        let list = |pick: &dyn Fn(&Obj) -> bool| -> Json {
            Json::Array(
                self.objs
                    .iter()
                    .enumerate()
                    .filter(|(_, o)| pick(o))
                    .map(|(i, o)| {
                        let mut m = Map::new();
                        if o.is_element() && o.class != "Boundary" && o.class != "Dataflow" {
                            m.insert("__class__".to_owned(), Json::String(o.class.to_owned()));
                        }
                        for (k, v) in &o.attrs {
                            m.insert(k.clone(), self.json(v, &repeated));
                        }
                        if !o.controls.is_empty() {
                            let c = o.controls.iter().map(|(k, v)| (k.clone(), self.json(v, &repeated))).collect();
                            m.insert("controls".to_owned(), Json::Object(c));
                        }
                        if o.is_element() && repeated(o) {
                            m.insert(REF.to_owned(), Json::from(i));
                        }
                        Json::Object(m)
                    })
                    .collect(),
            )
        };
        root.insert("boundaries".to_owned(), list(&|o| o.class == "Boundary"));
        root.insert("elements".to_owned(), list(&|o| o.is_node()));
        root.insert("flows".to_owned(), list(&|o| o.class == "Dataflow"));
        root.insert("data".to_owned(), list(&|o| o.class == "Data"));
        Ok(root)
    }

    /// A value as pytm's JSON writes it: enums as `Classification.SECRET`, elements and data
    /// as their names (elements of a repeated name by number), assumptions and findings as
    /// objects.
    fn json(&self, v: &Val, repeated: &dyn Fn(&Obj) -> bool) -> Json {
        match v {
            Val::None => Json::Null,
            Val::Bool(b) => Json::Bool(*b),
            Val::Int(i) => Json::from(*i),
            Val::Float(f) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
            Val::Str(s) => Json::String(s.clone()),
            Val::List(items) | Val::Set(items) => Json::Array(items.iter().map(|v| self.json(v, repeated)).collect()),
            Val::Dict(items) => Json::Object(
                items
                    .iter()
                    .map(|(k, v)| {
                        let key = match k {
                            Val::Str(s) => s.clone(),
                            other => self.json(other, repeated).to_string(),
                        };
                        (key, self.json(v, repeated))
                    })
                    .collect(),
            ),
            Val::Enum(c, m) => Json::String(format!("{c}.{m}")),
            Val::Obj(i) => {
                let o = &self.objs[*i];
                match o.class {
                    "Assumption" | "Finding" => Json::Object(
                        o.attrs
                            .iter()
                            .map(|(k, v)| {
                                // pytm's Finding fields are text: `cvss=9.8` is "9.8".
                                let v = match (o.class, v) {
                                    ("Finding", Val::Int(_) | Val::Float(_)) => Json::String(self.json(v, repeated).to_string()),
                                    _ => self.json(v, repeated),
                                };
                                (k.clone(), v)
                            })
                            .collect(),
                    ),
                    _ if o.is_element() && repeated(o) => {
                        let mut m = Map::new();
                        m.insert(REF.to_owned(), Json::from(*i));
                        m.insert("name".to_owned(), Json::String(o.name().to_owned()));
                        Json::Object(m)
                    }
                    _ => Json::String(o.name().to_owned()),
                }
            }
            Val::Controls(_) | Val::Class(_) | Val::Module(_) | Val::Other(_) => Json::Null,
        }
    }
}

/// Python's keywords and the names a written script binds itself.
const RESERVED: &[&str] = &[
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue", "def", "del", "elif", "else", "except",
    "finally", "for", "from", "global", "if", "import", "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try",
    "while", "with", "yield", "match", "case", "type", "tm", "random", "print",
];

/// A Python string literal. JSON's escapes are all Python's too, and the script is UTF-8.
fn py_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned())
}

/// A value of the native file as Python: enums as `Classification.SECRET`.
fn py_value(v: &Json, ty: Option<crate::attr::Ty>) -> String {
    match (ty, v) {
        (Some(crate::attr::Ty::Enum(e)), Json::String(m)) => format!("{e}.{m}"),
        (_, Json::Bool(true)) => "True".to_owned(),
        (_, Json::Bool(false)) => "False".to_owned(),
        (_, Json::Number(n)) => n.to_string(),
        (_, Json::String(s)) => py_str(s),
        (_, Json::Array(items)) => format!("[{}]", items.iter().map(|x| py_value(x, None)).collect::<Vec<_>>().join(", ")),
        (_, Json::Null) => "None".to_owned(),
        (_, Json::Object(_)) => py_str(&v.to_string()),
    }
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !RESERVED.contains(&s)
}

/// Python variable names for ids, unique and clear of keywords and pytm's names.
struct Names {
    taken: std::collections::HashSet<String>,
}

impl Names {
    fn name(&mut self, id: &str) -> String {
        let mut base: String = id.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect();
        if !base.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
            base.insert(0, '_');
        }
        let clashes = |n: &str| RESERVED.contains(&n) || pytm_name(n).is_class();
        let mut name = base.clone();
        let mut n = 2;
        while clashes(&name) || self.taken.contains(&name) {
            name = format!("{base}_{n}");
            n += 1;
        }
        self.taken.insert(name.clone());
        name
    }
}

impl Val {
    fn is_class(&self) -> bool {
        matches!(self, Val::Class(_))
    }
}

/// Writes `model` as a pytm model script that pytm 1.4 runs (`python3 tm.py --json out.json`)
/// and this module reads back. Returns the script and what it cannot carry, one line each:
/// the layout, triage decisions and rule packs (pytm has none of them), custom values whose
/// names are not Python names, and the flow values pytm 1.4.0 overwrites with its endpoints'.
pub fn write(model: &crate::model::Model) -> (String, Vec<String>) {
    use crate::attr::Kind;
    use crate::model::{Controls, DataItem, Element};
    use std::fmt::Write as _;

    let mut out = String::new();
    let mut lost = Vec::new();
    let mut names = Names { taken: std::collections::HashSet::new() };
    let by_id: HashMap<&str, &Element> = model.elements.iter().map(|e| (e.id.as_str(), e)).collect();
    let var: HashMap<&str, String> = model.elements.iter().map(|e| (e.id.as_str(), names.name(&e.id))).collect();
    let data_var: HashMap<&str, String> = model.data.iter().map(|d| (d.id.as_str(), names.name(&d.id))).collect();

    let mut classes: std::collections::BTreeSet<&str> = ["TM"].into();
    let mut enums = std::collections::BTreeSet::new();
    let mut body = String::new();
    let mut line = |text: String| {
        body.push_str(&text);
        body.push('\n');
    };

    // The model's settings.
    line(format!("tm = TM({})", py_str(&model.name)));
    if !model.description.is_empty() {
        line(format!("tm.description = {}", py_str(&model.description)));
    }
    for (flag, on) in [("isOrdered", model.is_ordered), ("mergeResponses", model.merge_responses), ("ignoreUnused", model.ignore_unused)] {
        if on {
            line(format!("tm.{flag} = True"));
        }
    }
    if model.on_duplicates != Action::default() {
        enums.insert("Action");
        line(format!("tm.onDuplicates = Action.{}", model.on_duplicates.name()));
    }
    let assumption = |a: &crate::model::Assumption, classes: &mut std::collections::BTreeSet<&str>| {
        classes.insert("Assumption");
        let mut text = format!("Assumption({}", py_str(&a.name));
        if !a.description.is_empty() {
            let _ = write!(text, ", description={}", py_str(&a.description));
        }
        if !a.exclude.is_empty() {
            let _ = write!(text, ", exclude=[{}]", a.exclude.iter().map(|x| py_str(x)).collect::<Vec<_>>().join(", "));
        }
        text.push(')');
        text
    };
    if !model.assumptions.is_empty() {
        let list: Vec<String> = model.assumptions.iter().map(|a| assumption(a, &mut classes)).collect();
        line(format!("tm.assumptions = [{}]", list.join(", ")));
    }

    // Data items.
    if !model.data.is_empty() {
        line(String::new());
        classes.insert("Data");
    }
    for d in &model.data {
        let mut args = vec![py_str(&d.name)];
        if let Ok(Json::Object(fields)) = serde_json::to_value(d) {
            for (key, v) in fields.iter().filter(|(k, _)| !matches!(k.as_str(), "id" | "name")) {
                let ty = DataItem::attribute(key).map(|a| a.ty);
                if let Some(crate::attr::Ty::Enum(e)) = ty {
                    enums.insert(e);
                }
                args.push(format!("{key}={}", py_value(v, ty)));
            }
        }
        line(format!("{} = Data({})", data_var[d.id.as_str()], args.join(", ")));
    }

    // Boundaries (each after the one it is in), nodes, then flows, in the model's order.
    let mut order: Vec<&Element> = Vec::new();
    let mut placed = std::collections::HashSet::new();
    let boundaries: Vec<&Element> = model.elements.iter().filter(|e| e.kind == Kind::Boundary).collect();
    while order.len() < boundaries.len() {
        let before = order.len();
        for b in &boundaries {
            let parent_ready = b.in_boundary.as_deref().is_none_or(|p| placed.contains(p) || !by_id.contains_key(p));
            if !placed.contains(b.id.as_str()) && parent_ready {
                placed.insert(b.id.as_str());
                order.push(b);
            }
        }
        if order.len() == before {
            // A cycle of boundaries (a file error the loader reports): write the rest as they are.
            order.extend(boundaries.iter().filter(|b| !placed.contains(b.id.as_str())));
            break;
        }
    }
    order.extend(model.elements.iter().filter(|e| e.kind.is_node()));
    order.extend(model.elements.iter().filter(|e| e.kind == Kind::Dataflow));
    let mut defined = std::collections::HashSet::new();
    let mut later = Vec::new();
    let mut section = None;
    for el in order {
        let v = &var[el.id.as_str()];
        let group = if el.kind == Kind::Boundary {
            0
        } else if el.kind.is_node() {
            1
        } else {
            2
        };
        if section != Some(group) {
            line(String::new());
            section = Some(group);
        }
        classes.insert(el.kind.name());
        let reference = |id: &Option<String>| id.as_deref().and_then(|i| var.get(i)).cloned();
        match (el.kind, reference(&el.source), reference(&el.sink)) {
            (Kind::Dataflow, Some(src), Some(dst)) => line(format!("{v} = Dataflow({src}, {dst}, {})", py_str(&el.name))),
            _ => line(format!("{v} = {}({})", el.kind.name(), py_str(&el.name))),
        }
        defined.insert(el.id.as_str());
        if let Some(b) = reference(&el.in_boundary) {
            line(format!("{v}.inBoundary = {b}"));
        }
        if let Some(r) = el.response_to.as_deref().and_then(|r| var.get(r)) {
            let text = format!("{v}.responseTo = {r}");
            if el.response_to.as_deref().is_some_and(|r| defined.contains(r)) {
                line(text);
            } else {
                later.push(text);
            }
        }
        let Ok(Json::Object(fields)) = serde_json::to_value(el) else { continue };
        for (key, value) in &fields {
            match key.as_str() {
                // Threats written on elements have no place in pytm (said in `lost`).
                "id" | "kind" | "name" | "source" | "sink" | "inBoundary" | "responseTo" | "threats" => {}
                "data" => {
                    let items: Vec<&str> = el.data.iter().filter_map(|d| data_var.get(d.as_str())).map(String::as_str).collect();
                    line(format!("{v}.data = [{}]", items.join(", ")));
                }
                "controls" => {
                    let Json::Object(controls) = value else { continue };
                    for (c, cv) in controls {
                        if c == "custom" {
                            for (name, custom) in cv.as_object().into_iter().flatten() {
                                if is_identifier(name) {
                                    line(format!("{v}.controls.{name} = {}", py_value(custom, None)));
                                } else {
                                    lost.push(format!(
                                        "{} {:?}: custom control {name:?} is not a Python name; pytm cannot carry it",
                                        el.kind, el.name
                                    ));
                                }
                            }
                        } else {
                            let ty = Controls::attribute(c).map(|a| a.ty);
                            line(format!("{v}.controls.{c} = {}", py_value(cv, ty)));
                        }
                    }
                }
                "overrides" => {
                    classes.insert("Finding");
                    let list: Vec<String> = el
                        .overrides
                        .iter()
                        .map(|(tid, o)| {
                            let mut args = vec![format!("threat_id={}", py_str(tid))];
                            if let Ok(Json::Object(f)) = serde_json::to_value(o) {
                                args.extend(f.iter().map(|(k, x)| format!("{k}={}", py_value(x, None))));
                            }
                            format!("Finding({})", args.join(", "))
                        })
                        .collect();
                    line(format!("{v}.overrides = [{}]", list.join(", ")));
                }
                "assumptions" => {
                    let list: Vec<String> = el.assumptions.iter().map(|a| assumption(a, &mut classes)).collect();
                    line(format!("{v}.assumptions = [{}]", list.join(", ")));
                }
                "properties" => {
                    for (name, p) in value.as_object().into_iter().flatten() {
                        if is_identifier(name)
                            && Element::attribute(name).is_none()
                            && !matches!(name.as_str(), "controls" | "data" | "name")
                        {
                            line(format!("{v}.{name} = {}", py_value(p, None)));
                        } else {
                            lost.push(format!("{} {:?}: property {name:?} is not a Python name; pytm cannot carry it", el.kind, el.name));
                        }
                    }
                }
                _ => {
                    let ty = Element::attribute(key).map(|a| a.ty);
                    if let Some(crate::attr::Ty::Enum(e)) = ty {
                        enums.insert(e);
                    }
                    line(format!("{v}.{key} = {}", py_value(value, ty)));
                }
            }
        }
    }
    if !later.is_empty() {
        line(String::new());
        later.into_iter().for_each(&mut line);
    }

    // What pytm 1.4.0 overwrites: a flow's protocol and ports with its endpoints', and some of
    // its controls with theirs (Threatmap keeps what the model says).
    for f in model.elements.iter().filter(|e| e.kind == Kind::Dataflow) {
        let (Some(src), Some(dst)) = (f.source.as_deref().and_then(|s| by_id.get(s)), f.sink.as_deref().and_then(|s| by_id.get(s))) else {
            continue;
        };
        let json = |e: &Element| serde_json::to_value(e).unwrap_or(Json::Null);
        let (fj, sj, dj) = (json(f), json(src), json(dst));
        let response = f.response_to.is_some() || fj["isResponse"] == Json::Bool(true);
        let (from, from_name) = if response { (&sj, &src.name) } else { (&dj, &dst.name) };
        let mut checks = vec![("protocol", "protocol", from, from_name)];
        if response {
            checks.push(("srcPort", "port", &sj, &src.name));
        } else {
            checks.push(("dstPort", "port", &dj, &dst.name));
        }
        for (key, theirs, node, node_name) in checks {
            if !fj[key].is_null() && fj[key] != node[theirs] {
                lost.push(format!(
                    "Dataflow {:?}: pytm 1.4.0 replaces its {key} ({}) with {node_name:?}'s {theirs} ({}), so pytm's findings can differ",
                    f.name,
                    fj[key],
                    if node[theirs].is_null() { "unset".to_owned() } else { node[theirs].to_string() }
                ));
            }
        }
    }
    // Assumptions that exclude Threatmap's own rules exclude nothing in pytm's threat library.
    let mut builtin = crate::rules::RuleSet::new();
    for p in crate::rules::BUILTIN_PACKS {
        builtin.add_builtin(p.name);
    }
    let ours: std::collections::BTreeSet<&str> = builtin.rules.iter().map(|r| r.id.as_str()).collect();
    let excluded = model.assumptions.iter().chain(model.elements.iter().flat_map(|e| e.assumptions.iter()));
    let foreign: std::collections::BTreeSet<&str> =
        excluded.flat_map(|a| a.exclude.iter()).map(String::as_str).filter(|id| ours.contains(id)).collect();
    if !foreign.is_empty() {
        lost.push(format!(
            "assumptions exclude {}: Threatmap rule ids, which pytm's threat library does not have (they exclude nothing there)",
            foreign.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }
    if model.layouts().any(|l| !l.is_empty()) {
        lost.push("the diagram layout is not carried: pytm lays its diagrams out with Graphviz".to_owned());
    }
    let unlevelled: Vec<&str> = model.diagrams.iter().filter(|d| d.level.is_none()).map(|d| d.name.as_str()).collect();
    if !unlevelled.is_empty() {
        lost.push(format!(
            "the diagrams {} are not carried: pytm draws one diagram of the whole model (its levels are the only views it has)",
            unlevelled.iter().map(|n| format!("{n:?}")).collect::<Vec<_>>().join(", ")
        ));
    }
    if !model.decisions.is_empty() {
        lost.push(format!("{} triage decision(s) are not carried: pytm has no finding lifecycle", model.decisions.len()));
    }
    if !model.rule_packs.is_empty() {
        lost.push(format!("the rule packs ({}) are Threatmap's: pytm uses its own threat library", model.rule_packs.join(", ")));
    }
    let written = model.threats().count();
    if written > 0 {
        lost.push(format!(
            "{written} threat(s) written on elements are not carried: pytm's threats come from its threat library only (export findings, SARIF or OTM to keep them)"
        ));
    }

    let _ = writeln!(out, "#!/usr/bin/env python3");
    let _ = writeln!(out, "# {} as a pytm model, written by Threatmap.", model.name.replace(['\n', '\r'], " "));
    let _ = writeln!(out, "# Run it with pytm 1.4 (`python3 tm.py --json out.json`); Threatmap reads it back as it is.");
    let _ = writeln!(out);
    let imports: Vec<&str> = classes.into_iter().chain(enums).collect::<std::collections::BTreeSet<_>>().into_iter().collect();
    let _ = writeln!(out, "from pytm import {}", imports.join(", "));
    let _ = writeln!(out);
    out.push_str(&body);
    let _ = writeln!(out);
    let _ = writeln!(out, "if __name__ == \"__main__\":");
    let _ = writeln!(out, "    tm.process()");
    (out, lost)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::model::Element;

    fn read(text: &str) -> Imported {
        import(text, "tm.py").unwrap_or_else(|e| panic!("{e}"))
    }

    fn refusal(text: &str) -> (usize, usize, String) {
        let e = import(text, "tm.py").expect_err("refused");
        let p = &e.problems[0];
        (p.line.unwrap_or(0), p.column.unwrap_or(0), p.message.clone())
    }

    fn el<'a>(i: &'a Imported, name: &str) -> &'a Element {
        i.model.elements.iter().find(|e| e.name == name).unwrap()
    }

    const HEAD: &str =
        "from pytm import TM, Actor, Server, Boundary, Dataflow, Data, Datastore, Classification, Finding, Assumption\ntm = TM(\"shop\")\n";

    #[test]
    fn builds_elements_with_their_attributes_and_references() {
        let i = read(&format!(
            "{HEAD}tm.description = \"Web \" + \"shop\"\n\
             tm.isOrdered = True\n\
             tm.assumptions = [Assumption(\"TLS everywhere\", exclude=[\"DE01\"])]\n\
             net = Boundary(\"Internet\")\n\
             user, web = Actor(\"User\", inBoundary=net), Server(\"Web\")\n\
             web.controls.sanitizesInput = True\n\
             web.controls.isNetworkFlow = True\n\
             web.OS = 'Linux'\n\
             web.overrides.append(Finding(threat_id=\"INP02\", cvss=9.1, response=\"fixed\"))\n\
             db = Datastore(name=\"DB\", maxClassification=Classification.SECRET, levels=2)\n\
             secret = Data(\"Card\", classification=Classification.SECRET)\n\
             order = Dataflow(user, web, \"Order\", protocol=\"HTTPS\", dstPort=443)\n\
             save = Dataflow(web, db, \"Save\")\n\
             save.data = [secret]\n\
             Dataflow(db, web, \"Saved\", responseTo=save)\n\
             legacy = Dataflow(web, user, \"Page\")\n\
             legacy.data = \"the page\"\n\
             if __name__ == \"__main__\":\n    tm.process()\n"
        ));
        let m = &i.model;
        assert_eq!(m.name, "shop");
        assert_eq!(m.description, "Web shop");
        assert!(m.is_ordered);
        assert_eq!(m.assumptions[0].exclude, ["DE01"]);
        let json = |e: &Element| serde_json::to_value(e).unwrap();
        assert_eq!(el(&i, "User").in_boundary.as_deref(), Some(el(&i, "Internet").id.as_str()));
        let web = json(el(&i, "Web"));
        assert_eq!(web["controls"]["sanitizesInput"], true);
        assert_eq!(web["controls"]["custom"]["isNetworkFlow"], true);
        assert_eq!(web["OS"], "Linux");
        assert_eq!(el(&i, "Web").overrides["INP02"].cvss.as_deref(), Some("9.1"));
        assert_eq!(el(&i, "Web").overrides["INP02"].response.as_deref(), Some("fixed"));
        let db = json(el(&i, "DB"));
        assert_eq!(db["maxClassification"], "SECRET");
        assert_eq!(db["levels"], serde_json::json!([2]));
        let order = json(el(&i, "Order"));
        assert_eq!((order["protocol"].as_str(), order["dstPort"].as_i64()), (Some("HTTPS"), Some(443)));
        assert_eq!(el(&i, "Save").data, [m.data.iter().find(|d| d.name == "Card").unwrap().id.clone()]);
        assert_eq!(el(&i, "Saved").response_to.as_deref(), Some(el(&i, "Save").id.as_str()));
        let legacy = m.data.iter().find(|d| d.name == "undefined").unwrap();
        assert_eq!(legacy.description.as_deref(), Some("the page"));
        assert_eq!(el(&i, "Page").data, std::slice::from_ref(&legacy.id));
    }

    #[test]
    fn repeated_names_keep_the_element_the_script_meant() {
        let i = read(&format!(
            "{HEAD}a = Server(\"web\")\nb = Server(\"web\")\ndb = Datastore(\"db\")\n\
             Dataflow(a, db, \"query\")\nDataflow(b, db, \"query\")\n"
        ));
        let flows: Vec<&Element> = i.model.elements.iter().filter(|e| e.kind == crate::attr::Kind::Dataflow).collect();
        assert_eq!(flows.len(), 2);
        assert_ne!(flows[0].source, flows[1].source, "each flow starts at its own server");
        assert_ne!(flows[0].id, flows[1].id);
        assert!(!i.warnings.iter().any(|w| w.contains("go to the first")), "{:?}", i.warnings);
    }

    #[test]
    fn star_imports_and_the_module_form_are_read() {
        let i = read("from pytm import *\ntm = TM(\"m\")\nweb = Server(\"Web\")\nweb.controls.isHardened = True\n");
        assert_eq!(i.model.elements.len(), 1);
        let i = read(
            "import pytm\nimport random\nrandom.seed(0)\ntm = pytm.TM(\"m\")\nu = pytm.Actor(\"U\")\nw = pytm.Server(\"W\")\npytm.Dataflow(u, w, \"go\")\n",
        );
        assert_eq!(i.model.elements.len(), 3);
    }

    #[test]
    fn anything_that_would_need_running_is_refused_where_it_is() {
        let cases = [
            ("for i in range(3):\n    Server(f\"s{i}\")\n", 3, 1, "`for` loop"),
            ("def make(n):\n    return Server(n)\n", 3, 1, "function definition"),
            ("import os\n", 3, 8, "`import os`"),
            ("from os import path\n", 3, 1, "import from pytm only"),
            ("x = Server(\"a\")\nprint(x)\n", 4, 1, "`print` is not defined"),
            ("x = Server(\"a\")\nx.OS = open(\"/etc/passwd\").read()\n", 4, 8, "`open` is not defined"),
            ("x = Server(\"a\", maxClassification=Classification.SECRT)\n", 3, 35, "has no member SECRT"),
            ("x = Server(\"a\")\nx.name = \"b\"\n", 4, 1, "set once"),
            ("u = Actor(\"u\")\nDataflow(u, \"web\", \"x\")\n", 4, 13, "must be an element"),
            ("u = Actor(\"u\")\nu.inBoundary = u\n", 4, 1, "must be a Boundary"),
            ("if True:\n    Server(\"a\")\n", 3, 1, "`if` statement"),
            ("x = Server(\"a\")\ny = x.OS\n", 4, 5, "not set before"),
            ("x = Server(\"a\", **opts)\n", 3, 17, "`**` unpacking"),
            ("x = Server(\"a\"\n", 4, 1, "not valid Python"),
        ];
        for (body, line, column, says) in cases {
            let (l, c, message) = refusal(&format!("{HEAD}{body}"));
            assert!(message.contains(says), "{body:?}: {message}");
            assert_eq!((l, c), (line, column), "{body:?}: {message}");
        }
        assert!(refusal("from pytm import Server\nServer(\"a\")\n").2.contains("no `TM(...)`"));
    }
}
