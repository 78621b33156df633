//! The condition language: a safe subset of Python expressions, enough for every condition in
//! pytm's threat library and the helpers pytm allows, parsed once into a typed tree and
//! evaluated with Python's semantics over a prepared model.
//!
//! Safety: there is no `eval`, no arithmetic (so no `9**9**9`), no subscripts, no names but
//! `target`, comprehension variables, enum types, class names and `True`/`False`/`None`; no
//! function but `any`, `all` and `len`; no method but the element helpers (pytm's seven, plus
//! `prop('name')` for custom properties and `crossesDrawn(...)` for boundaries crossed in the
//! drawing). Conditions
//! have a length cap and a nesting cap, and each evaluation a step budget, so a hostile rule
//! file can neither run code nor hang the engine.
//!
//! Attribute paths are resolved at load time against the rule's target kinds: a path that
//! names no attribute of any of them is an error with its column. At run time a path that does
//! not apply to the element at hand (a Server attribute read on a Process) makes the whole
//! condition false, as an exception does in pytm.

use std::fmt::{self, Write as _};

use crate::attr::{Class, EnumValue, Kind, KindSet, Ty, Value};
use crate::engine::Prepared;
use crate::model::{ControlAttr, Controls, DataAttr, DataItem, Element, ElementAttr, FIXED_ATTRIBUTES};

/// Longest condition accepted, in bytes.
pub const MAX_LEN: usize = 16 * 1024;
/// Deepest nesting of parentheses, operators and calls accepted.
pub const MAX_DEPTH: usize = 64;
/// Most evaluation steps one condition may take on one element.
pub const STEP_BUDGET: u32 = 1_000_000;

/// A condition that cannot be compiled, with the 1-based column (in characters) it points at.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("column {column}: {message}")]
pub struct CompileError {
    /// 1-based character column in the condition.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

/// A compiled condition.
#[derive(Debug, Clone)]
pub struct Condition {
    source: String,
    root: Node,
}

/// One clause that held when a finding fired, and the values it saw.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Evidence {
    /// The clause as written in the rule.
    pub clause: String,
    /// The values the clause read (and comprehension variables in force).
    pub observed: Vec<Observed>,
}

/// One value a clause read: an attribute path or loop variable, and what it held.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Observed {
    /// The path or variable as written (`target.controls.isEncrypted`, `d`).
    pub path: String,
    /// The value, as a Python literal or an element/data name.
    pub value: String,
}

#[derive(Debug, Clone)]
struct Node {
    kind: NodeKind,
    start: u32,
    end: u32,
}

#[derive(Debug, Clone)]
enum NodeKind {
    Or(Vec<Node>),
    And(Vec<Node>),
    Not(Box<Node>),
    Compare(Box<Node>, Vec<(CmpOp, Node)>),
    Target,
    Var(u8),
    Lit(Lit),
    Tuple(Vec<Node>),
    Attr(Box<Node>, Field),
    Quant(bool, Box<Comp>),
    Len(Box<Node>),
    Method(Box<Node>, Method, Vec<Node>),
}

#[derive(Debug, Clone)]
struct Comp {
    var: u8,
    name: String,
    iter: Node,
    /// `None` for `any(iterable)`: the items themselves are tested.
    body: Option<Node>,
}

#[derive(Debug, Clone, PartialEq)]
enum Lit {
    None,
    Bool(bool),
    Int(i64),
    Str(String),
    Enum(EnumValue),
    Class(Class),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Is,
    IsNot,
    In,
    NotIn,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    OneOf,
    Inside,
    Enters,
    Exits,
    Crosses,
    CheckTlsVersion,
    HasDataLeaks,
    Prop,
    CrossesDrawn,
}

impl Method {
    const ALL: [(&'static str, Method); 9] = [
        ("oneOf", Method::OneOf),
        ("inside", Method::Inside),
        ("enters", Method::Enters),
        ("exits", Method::Exits),
        ("crosses", Method::Crosses),
        ("checkTLSVersion", Method::CheckTlsVersion),
        ("hasDataLeaks", Method::HasDataLeaks),
        ("prop", Method::Prop),
        ("crossesDrawn", Method::CrossesDrawn),
    ];
}

/// A resolved attribute step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Field {
    /// A fixed or computed element attribute.
    Fixed(Fixed),
    /// A declared element attribute.
    Elem(ElementAttr),
    /// A control.
    Control(ControlAttr),
    /// A data item attribute.
    Data(DataField),
    /// An attribute of the model's own (an element's custom property), by name.
    Custom(std::sync::Arc<str>),
    /// A control of the model's own (`controls.custom`), by name.
    CustomControl(std::sync::Arc<str>),
}

/// Element attributes outside the generated table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fixed {
    Id,
    Kind,
    Name,
    Source,
    Sink,
    InBoundary,
    ResponseTo,
    Response,
    Data,
    Inputs,
    Outputs,
    Controls,
}

impl Fixed {
    fn from_name(name: &str) -> Option<Fixed> {
        Some(match name {
            "id" => Fixed::Id,
            "kind" => Fixed::Kind,
            "name" => Fixed::Name,
            "source" => Fixed::Source,
            "sink" => Fixed::Sink,
            "inBoundary" => Fixed::InBoundary,
            "responseTo" => Fixed::ResponseTo,
            "response" => Fixed::Response,
            "data" => Fixed::Data,
            "inputs" => Fixed::Inputs,
            "outputs" => Fixed::Outputs,
            "controls" => Fixed::Controls,
            _ => return None,
        })
    }
}

/// Data item attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DataField {
    Id,
    Name,
    CarriedBy,
    ProcessedBy,
    Attr(DataAttr),
}

// ---------------------------------------------------------------------------------------------
// Lexer

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Int(i64),
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Dot,
    Op(&'static str),
    Eof,
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    start: u32,
    end: u32,
}

fn lex(src: &str) -> Result<Vec<Token>, (usize, String)> {
    let bytes = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        let push = |out: &mut Vec<Token>, tok: Tok, end: usize| out.push(Token { tok, start: start as u32, end: end as u32 });
        match c {
            b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            b'(' => {
                push(&mut out, Tok::LParen, i + 1);
                i += 1;
            }
            b')' => {
                push(&mut out, Tok::RParen, i + 1);
                i += 1;
            }
            b'[' => {
                push(&mut out, Tok::LBracket, i + 1);
                i += 1;
            }
            b']' => {
                push(&mut out, Tok::RBracket, i + 1);
                i += 1;
            }
            b',' => {
                push(&mut out, Tok::Comma, i + 1);
                i += 1;
            }
            b'.' => {
                push(&mut out, Tok::Dot, i + 1);
                i += 1;
            }
            b'=' | b'!' | b'<' | b'>' => {
                let two = bytes.get(i + 1) == Some(&b'=');
                let op = match (c, two) {
                    (b'=', true) => "==",
                    (b'!', true) => "!=",
                    (b'<', true) => "<=",
                    (b'>', true) => ">=",
                    (b'<', false) => "<",
                    (b'>', false) => ">",
                    (b'=', false) => return Err((start, "`=` is assignment; use `==` to compare".to_owned())),
                    _ => return Err((start, "`!` is not an operator; use `not` or `!=`".to_owned())),
                };
                let end = i + if two { 2 } else { 1 };
                push(&mut out, Tok::Op(op), end);
                i = end;
            }
            b'\'' | b'"' => {
                let quote = c;
                let mut s = String::new();
                let mut j = i + 1;
                loop {
                    let Some(&b) = bytes.get(j) else {
                        return Err((start, "unterminated string".to_owned()));
                    };
                    if b == quote {
                        break;
                    }
                    if b == b'\n' {
                        return Err((start, "unterminated string".to_owned()));
                    }
                    if b == b'\\' {
                        let esc = bytes.get(j + 1).copied();
                        let ch = match esc {
                            Some(b'\\') => '\\',
                            Some(b'\'') => '\'',
                            Some(b'"') => '"',
                            Some(b'n') => '\n',
                            Some(b't') => '\t',
                            Some(b'r') => '\r',
                            Some(b'0') => '\0',
                            _ => return Err((j, "unsupported escape in string".to_owned())),
                        };
                        s.push(ch);
                        j += 2;
                        continue;
                    }
                    // Copy one UTF-8 character.
                    let ch_len = src[j..].chars().next().map_or(1, char::len_utf8);
                    s.push_str(&src[j..j + ch_len]);
                    j += ch_len;
                }
                push(&mut out, Tok::Str(s), j + 1);
                i = j + 1;
            }
            b'0'..=b'9' => {
                let mut j = i;
                while j < bytes.len() && (bytes[j].is_ascii_digit() || bytes[j] == b'_') {
                    j += 1;
                }
                if j < bytes.len() && (bytes[j].is_ascii_alphabetic() || bytes[j] == b'.') {
                    return Err((start, "only decimal integers are supported".to_owned()));
                }
                let digits: String = src[i..j].chars().filter(|c| *c != '_').collect();
                let n: i64 = digits.parse().map_err(|_| (start, "integer literal is too large".to_owned()))?;
                push(&mut out, Tok::Int(n), j);
                i = j;
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let mut j = i;
                while j < bytes.len() && (bytes[j].is_ascii_alphanumeric() || bytes[j] == b'_') {
                    j += 1;
                }
                if matches!(bytes.get(j), Some(b'\'' | b'"')) {
                    return Err((start, "string prefixes (f\"\", r\"\", b\"\") are not supported".to_owned()));
                }
                push(&mut out, Tok::Ident(src[i..j].to_owned()), j);
                i = j;
            }
            b'-' => {
                push(&mut out, Tok::Op("-"), i + 1);
                i += 1;
            }
            _ => {
                let ch = src[i..].chars().next().unwrap_or('?');
                let what = match c {
                    b'+' | b'*' | b'/' | b'%' | b'&' | b'|' | b'^' | b'~' | b'@' => {
                        format!("operator `{ch}` is not supported in conditions")
                    }
                    b'{' | b'}' => "dicts and sets are not supported in conditions".to_owned(),
                    b':' => "`:` (slices, lambdas, walrus) is not supported in conditions".to_owned(),
                    _ => format!("unexpected character `{}`", ch.escape_debug()),
                };
                return Err((start, what));
            }
        }
    }
    out.push(Token { tok: Tok::Eof, start: src.len() as u32, end: src.len() as u32 });
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Parser and type checker

/// Static type of a sub-expression, as far as the compiler knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum STy {
    Known(Ty),
    Unknown,
}

struct Parser {
    toks: Vec<Token>,
    pos: usize,
    depth: usize,
    targets: KindSet,
    /// Comprehension variables in scope: name and static type of items.
    vars: Vec<(String, STy)>,
}

type PResult<T> = Result<T, (usize, String)>;

const RESERVED: &[&str] = &[
    "lambda", "if", "else", "import", "from", "def", "class", "return", "yield", "await", "async", "with", "as", "del", "global",
    "nonlocal", "pass", "raise", "try", "except", "finally", "while", "break", "continue", "assert",
];

impl Parser {
    fn peek(&self) -> &Tok {
        &self.toks[self.pos].tok
    }
    fn tok(&self) -> &Token {
        &self.toks[self.pos]
    }
    fn bump(&mut self) -> Token {
        let t = self.toks[self.pos].clone();
        if self.pos + 1 < self.toks.len() {
            self.pos += 1;
        }
        t
    }
    fn at_ident(&self, word: &str) -> bool {
        matches!(self.peek(), Tok::Ident(w) if w == word)
    }
    fn err<T>(&self, at: u32, msg: impl Into<String>) -> PResult<T> {
        Err((at as usize, msg.into()))
    }
    fn expect(&mut self, tok: Tok, what: &str) -> PResult<Token> {
        if *self.peek() == tok {
            Ok(self.bump())
        } else {
            let t = self.tok();
            self.err(t.start, format!("expected {what}, found {}", describe_tok(&t.tok)))
        }
    }
    fn enter(&mut self, at: u32) -> PResult<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return self.err(at, format!("condition is nested more than {MAX_DEPTH} levels deep"));
        }
        Ok(())
    }
    fn leave(&mut self) {
        self.depth -= 1;
    }

    fn expr(&mut self) -> PResult<(Node, STy)> {
        let at = self.tok().start;
        self.enter(at)?;
        let r = self.or_test();
        self.leave();
        r
    }

    fn or_test(&mut self) -> PResult<(Node, STy)> {
        let (first, ty) = self.and_test()?;
        if !self.at_ident("or") {
            return Ok((first, ty));
        }
        let start = first.start;
        let mut items = vec![first];
        while self.at_ident("or") {
            self.bump();
            items.push(self.and_test()?.0);
        }
        let end = items.last().map_or(start, |n| n.end);
        Ok((Node { kind: NodeKind::Or(items), start, end }, STy::Unknown))
    }

    fn and_test(&mut self) -> PResult<(Node, STy)> {
        let (first, ty) = self.not_test()?;
        if !self.at_ident("and") {
            return Ok((first, ty));
        }
        let start = first.start;
        let mut items = vec![first];
        while self.at_ident("and") {
            self.bump();
            items.push(self.not_test()?.0);
        }
        let end = items.last().map_or(start, |n| n.end);
        Ok((Node { kind: NodeKind::And(items), start, end }, STy::Unknown))
    }

    fn not_test(&mut self) -> PResult<(Node, STy)> {
        if self.at_ident("not") {
            let t = self.bump();
            self.enter(t.start)?;
            let (inner, _) = self.not_test()?;
            self.leave();
            let end = inner.end;
            return Ok((Node { kind: NodeKind::Not(Box::new(inner)), start: t.start, end }, STy::Known(Ty::Bool)));
        }
        self.comparison()
    }

    fn comp_op(&mut self) -> PResult<Option<CmpOp>> {
        let op = match self.peek().clone() {
            Tok::Op("==") => CmpOp::Eq,
            Tok::Op("!=") => CmpOp::Ne,
            Tok::Op("<") => CmpOp::Lt,
            Tok::Op("<=") => CmpOp::Le,
            Tok::Op(">") => CmpOp::Gt,
            Tok::Op(">=") => CmpOp::Ge,
            Tok::Ident(w) if w == "in" => CmpOp::In,
            Tok::Ident(w) if w == "is" => {
                self.bump();
                if self.at_ident("not") {
                    self.bump();
                    return Ok(Some(CmpOp::IsNot));
                }
                return Ok(Some(CmpOp::Is));
            }
            Tok::Ident(w) if w == "not" => {
                let save = self.pos;
                self.bump();
                if self.at_ident("in") {
                    self.bump();
                    return Ok(Some(CmpOp::NotIn));
                }
                self.pos = save;
                return Ok(None);
            }
            _ => return Ok(None),
        };
        self.bump();
        Ok(Some(op))
    }

    fn comparison(&mut self) -> PResult<(Node, STy)> {
        let (first, ty) = self.primary()?;
        let mut rest = Vec::new();
        while let Some(op) = self.comp_op()? {
            let (rhs, _) = self.primary()?;
            rest.push((op, rhs));
        }
        if rest.is_empty() {
            return Ok((first, ty));
        }
        let start = first.start;
        let end = rest.last().map_or(first.end, |(_, n)| n.end);
        Ok((Node { kind: NodeKind::Compare(Box::new(first), rest), start, end }, STy::Known(Ty::Bool)))
    }

    fn primary(&mut self) -> PResult<(Node, STy)> {
        let (mut node, mut ty) = self.atom()?;
        loop {
            match self.peek() {
                Tok::Dot => {
                    self.bump();
                    let name_tok = self.bump();
                    let Tok::Ident(name) = name_tok.tok else {
                        return self.err(name_tok.start, "expected an attribute name after `.`");
                    };
                    if name.starts_with("__") {
                        return self.err(name_tok.start, format!("`{name}`: dunder attributes are not allowed"));
                    }
                    if *self.peek() == Tok::LParen {
                        let (call, cty) = self.method_call(node, ty, &name, name_tok.start)?;
                        node = call;
                        ty = cty;
                        continue;
                    }
                    let (field, fty) = self.resolve_field(ty, &name, name_tok.start)?;
                    let start = node.start;
                    node = Node { kind: NodeKind::Attr(Box::new(node), field), start, end: name_tok.end };
                    ty = fty;
                }
                Tok::LParen => {
                    let t = self.tok().clone();
                    return self.err(t.start, "only `any`, `all`, `len` and element methods can be called");
                }
                Tok::LBracket => {
                    let t = self.tok().clone();
                    return self.err(t.start, "subscripts are not supported in conditions");
                }
                _ => return Ok((node, ty)),
            }
        }
    }

    fn method_call(&mut self, recv: Node, recv_ty: STy, name: &str, at: u32) -> PResult<(Node, STy)> {
        let Some(&(_, method)) = Method::ALL.iter().find(|(n, _)| *n == name) else {
            let names: Vec<&str> = Method::ALL.iter().map(|(n, _)| *n).collect();
            let hint = crate::file::closest(name, names.iter().copied()).map(|c| format!("; did you mean `{c}`?")).unwrap_or_default();
            return self.err(at, format!("`{name}` is not a method conditions may call (allowed: {}){hint}", names.join(", ")));
        };
        match recv_ty {
            STy::Known(Ty::Node(kinds)) => {
                let needs_flow = matches!(method, Method::HasDataLeaks | Method::CrossesDrawn);
                if needs_flow && !kinds.contains(Kind::Dataflow) {
                    return self.err(at, format!("`{name}()` applies to dataflows only"));
                }
            }
            _ => return self.err(at, format!("`{name}()` is a method of elements")),
        }
        self.expect(Tok::LParen, "`(`")?;
        let mut args = Vec::new();
        while *self.peek() != Tok::RParen {
            args.push(self.expr()?.0);
            if *self.peek() == Tok::Comma {
                self.bump();
            } else {
                break;
            }
        }
        let close = self.expect(Tok::RParen, "`)` to close the call")?;
        let arity_ok = match method {
            Method::HasDataLeaks => args.is_empty(),
            Method::CheckTlsVersion => args.len() == 1,
            Method::Prop => args.len() == 1 && matches!(args[0].kind, NodeKind::Lit(Lit::Str(_))),
            _ => !args.is_empty(),
        };
        if !arity_ok {
            let what = if method == Method::Prop { " (one quoted property name)" } else { "" };
            return self.err(at, format!("wrong number of arguments to `{name}()`{what}"));
        }
        let start = recv.start;
        let ty = if method == Method::Prop { STy::Unknown } else { STy::Known(Ty::Bool) };
        Ok((Node { kind: NodeKind::Method(Box::new(recv), method, args), start, end: close.end }, ty))
    }

    fn resolve_field(&self, ty: STy, name: &str, at: u32) -> PResult<(Field, STy)> {
        match ty {
            STy::Known(Ty::Node(kinds)) => resolve_node_field(kinds, name).map_err(|m| (at as usize, m)),
            STy::Known(Ty::Controls) => match Controls::attribute(name) {
                Some(def) => Ok((Field::Control(def.key), STy::Known(def.ty))),
                // A name close to a known control is a typo; any other is a control of the
                // team's own library, read from `controls.custom`.
                None => match crate::file::closest(name, Controls::ATTRIBUTES.iter().map(|a| a.name)) {
                    Some(c) => self.err(at, format!("`{name}` is not a control; did you mean `{c}`?")),
                    None => Ok((Field::CustomControl(name.into()), STy::Unknown)),
                },
            },
            STy::Known(Ty::Data) => {
                let fixed = match name {
                    "id" => Some((DataField::Id, Ty::Str)),
                    "name" => Some((DataField::Name, Ty::Str)),
                    "carriedBy" => Some((DataField::CarriedBy, Ty::Nodes(Kind::Dataflow.set()))),
                    "processedBy" => Some((DataField::ProcessedBy, Ty::Nodes(KindSet::NODES))),
                    _ => None,
                };
                if let Some((f, t)) = fixed {
                    return Ok((Field::Data(f), STy::Known(t)));
                }
                match DataItem::attribute(name) {
                    Some(def) => Ok((Field::Data(DataField::Attr(def.key)), STy::Known(def.ty))),
                    None => {
                        let names = DataItem::ATTRIBUTES.iter().map(|a| a.name).chain(["id", "name", "carriedBy", "processedBy"]);
                        let hint = crate::file::closest(name, names).map(|c| format!("; did you mean `{c}`?")).unwrap_or_default();
                        self.err(at, format!("`{name}` is not an attribute of data items{hint}"))
                    }
                }
            }
            STy::Known(other) => self.err(at, format!("a value of type {other} has no attribute `{name}`")),
            STy::Unknown => self.err(at, format!("cannot read `.{name}` from this expression")),
        }
    }

    fn atom(&mut self) -> PResult<(Node, STy)> {
        let t = self.bump();
        let lit = |lit: Lit, ty: STy| Ok((Node { kind: NodeKind::Lit(lit), start: t.start, end: t.end }, ty));
        match t.tok.clone() {
            Tok::Str(s) => lit(Lit::Str(s), STy::Known(Ty::Str)),
            Tok::Int(n) => lit(Lit::Int(n), STy::Known(Ty::Int)),
            Tok::Op("-") => {
                let n = self.bump();
                match n.tok {
                    Tok::Int(v) => Ok((Node { kind: NodeKind::Lit(Lit::Int(-v)), start: t.start, end: n.end }, STy::Known(Ty::Int))),
                    _ => self.err(t.start, "`-` is only supported before an integer"),
                }
            }
            Tok::LParen => {
                self.enter(t.start)?;
                if *self.peek() == Tok::RParen {
                    let close = self.bump();
                    self.leave();
                    return Ok((Node { kind: NodeKind::Tuple(Vec::new()), start: t.start, end: close.end }, STy::Unknown));
                }
                let (first, ty) = self.expr()?;
                if *self.peek() == Tok::Comma {
                    let mut items = vec![first];
                    while *self.peek() == Tok::Comma {
                        self.bump();
                        if *self.peek() == Tok::RParen {
                            break;
                        }
                        items.push(self.expr()?.0);
                    }
                    let close = self.expect(Tok::RParen, "`)` to close the tuple")?;
                    self.leave();
                    return Ok((Node { kind: NodeKind::Tuple(items), start: t.start, end: close.end }, STy::Unknown));
                }
                let close = self.expect(Tok::RParen, "`)`")?;
                self.leave();
                // Keep the parenthesised span so evidence quotes the clause with its brackets.
                Ok((Node { start: t.start, end: close.end, ..first }, ty))
            }
            Tok::LBracket => {
                self.enter(t.start)?;
                let mut items = Vec::new();
                while *self.peek() != Tok::RBracket {
                    items.push(self.expr()?.0);
                    if *self.peek() == Tok::Comma {
                        self.bump();
                    } else {
                        break;
                    }
                }
                let close = self.expect(Tok::RBracket, "`]` to close the list")?;
                self.leave();
                Ok((Node { kind: NodeKind::Tuple(items), start: t.start, end: close.end }, STy::Unknown))
            }
            Tok::Ident(name) => self.name(&name, &t),
            other => self.err(t.start, format!("expected a value, found {}", describe_tok(&other))),
        }
    }

    fn name(&mut self, name: &str, t: &Token) -> PResult<(Node, STy)> {
        let node = |kind: NodeKind, end: u32| Node { kind, start: t.start, end };
        match name {
            "target" => return Ok((node(NodeKind::Target, t.end), STy::Known(Ty::Node(self.targets)))),
            "True" => return Ok((node(NodeKind::Lit(Lit::Bool(true)), t.end), STy::Known(Ty::Bool))),
            "False" => return Ok((node(NodeKind::Lit(Lit::Bool(false)), t.end), STy::Known(Ty::Bool))),
            "None" => return Ok((node(NodeKind::Lit(Lit::None), t.end), STy::Unknown)),
            "any" | "all" | "len" => return self.builtin(name, t),
            "and" | "or" | "not" | "is" | "in" | "for" => return self.err(t.start, format!("unexpected `{name}`")),
            _ => {}
        }
        if let Some(depth) = self.vars.iter().rposition(|(n, _)| n == name) {
            let ty = self.vars[depth].1;
            return Ok((node(NodeKind::Var(depth as u8), t.end), ty));
        }
        if EnumValue::TYPE_NAMES.contains(&name) {
            self.expect(Tok::Dot, &format!("`.` and a member after `{name}`"))?;
            let m = self.bump();
            let Tok::Ident(member) = m.tok else {
                return self.err(m.start, format!("expected a member of {name}"));
            };
            return match EnumValue::parse(name, &member) {
                Some(v) => Ok((node(NodeKind::Lit(Lit::Enum(v)), m.end), STy::Known(Ty::Enum(enum_type_name(v))))),
                None => {
                    let members = EnumValue::member_names(name);
                    let hint = crate::file::closest(&member, members.iter().copied())
                        .map(|c| format!("; did you mean `{name}.{c}`?"))
                        .unwrap_or_else(|| format!(" (members: {})", members.join(", ")));
                    self.err(m.start, format!("`{member}` is not a member of {name}{hint}"))
                }
            };
        }
        if let Some(class) = Class::from_name(name) {
            return Ok((node(NodeKind::Lit(Lit::Class(class)), t.end), STy::Unknown));
        }
        if name.starts_with("__") {
            return self.err(t.start, format!("`{name}`: dunder names are not allowed"));
        }
        if RESERVED.contains(&name) {
            return self.err(t.start, format!("`{name}` is not supported in conditions"));
        }
        if *self.peek() == Tok::LParen {
            return self.err(t.start, format!("`{name}` is not a function conditions may call (allowed: any, all, len)"));
        }
        let mut known: Vec<&str> = vec!["target", "True", "False", "None"];
        known.extend(self.vars.iter().map(|(n, _)| n.as_str()));
        let hint = crate::file::closest(name, known.iter().copied()).map(|c| format!("; did you mean `{c}`?")).unwrap_or_default();
        self.err(t.start, format!("unknown name `{name}`{hint}"))
    }

    fn builtin(&mut self, name: &str, t: &Token) -> PResult<(Node, STy)> {
        self.expect(Tok::LParen, &format!("`(` after `{name}`"))?;
        self.enter(t.start)?;
        let bracket = *self.peek() == Tok::LBracket;
        if bracket {
            self.bump();
        }
        // Peek for a generator: parse the element expression lazily by recording tokens up
        // to a top-level `for`. Comprehension variables must be known before the element
        // expression is checked, so find the `for` first.
        let gen_for = self.find_top_level_for();
        let node = if let Some(for_pos) = gen_for {
            if name == "len" {
                return self.err(t.start, "`len` takes a list, not a generator");
            }
            let body_start = self.pos;
            self.pos = for_pos;
            self.bump(); // for
            let v = self.bump();
            let Tok::Ident(var) = v.tok else {
                return self.err(v.start, "expected a variable name after `for`");
            };
            if var == "target" || Class::from_name(&var).is_some() || EnumValue::TYPE_NAMES.contains(&var.as_str()) {
                return self.err(v.start, format!("`{var}` cannot be a loop variable"));
            }
            if !self.at_ident("in") {
                let t2 = self.tok().clone();
                return self.err(t2.start, "expected `in` after the loop variable");
            }
            self.bump();
            let (iter, iter_ty) = self.or_test()?;
            if self.at_ident("if") || self.at_ident("for") {
                let t2 = self.tok().clone();
                return self.err(t2.start, "only one `for` and no `if` are supported in a generator");
            }
            let item_ty = match iter_ty {
                STy::Known(Ty::DataSet) => STy::Known(Ty::Data),
                STy::Known(Ty::Nodes(k)) => STy::Known(Ty::Node(k)),
                STy::Known(Ty::Levels) => STy::Known(Ty::Int),
                STy::Known(Ty::Strs) => STy::Known(Ty::Str),
                STy::Known(other) => return self.err(iter.start, format!("cannot iterate over a value of type {other}")),
                STy::Unknown => STy::Unknown,
            };
            let after_iter = self.pos;
            if self.vars.len() >= 8 {
                return self.err(v.start, "generators are nested too deeply");
            }
            self.vars.push((var.clone(), item_ty));
            let var_index = (self.vars.len() - 1) as u8;
            self.pos = body_start;
            let (body, _) = self.or_test()?;
            if self.pos != for_pos {
                let t2 = self.tok().clone();
                return self.err(t2.start, format!("unexpected {} in the generator", describe_tok(&t2.tok)));
            }
            self.vars.pop();
            self.pos = after_iter;
            NodeKind::Quant(name == "all", Box::new(Comp { var: var_index, name: var, iter, body: Some(body) }))
        } else {
            let (arg, _) = self.expr()?;
            match name {
                "len" => NodeKind::Len(Box::new(arg)),
                _ => NodeKind::Quant(name == "all", Box::new(Comp { var: u8::MAX, name: String::new(), iter: arg, body: None })),
            }
        };
        if bracket {
            self.expect(Tok::RBracket, "`]`")?;
        }
        let close = self.expect(Tok::RParen, &format!("`)` to close `{name}(`"))?;
        self.leave();
        let ty = if name == "len" { Ty::Int } else { Ty::Bool };
        Ok((Node { kind: node, start: t.start, end: close.end }, STy::Known(ty)))
    }

    /// The token index of a `for` at bracket depth zero before the current call closes.
    fn find_top_level_for(&self) -> Option<usize> {
        let mut depth = 0usize;
        for (i, t) in self.toks.iter().enumerate().skip(self.pos) {
            match &t.tok {
                Tok::LParen | Tok::LBracket => depth += 1,
                Tok::RParen | Tok::RBracket => {
                    if depth == 0 {
                        return None;
                    }
                    depth -= 1;
                }
                Tok::Ident(w) if w == "for" && depth == 0 => return Some(i),
                Tok::Eof => return None,
                _ => {}
            }
        }
        None
    }
}

fn enum_type_name(v: EnumValue) -> &'static str {
    match v {
        EnumValue::Classification(_) => "Classification",
        EnumValue::TlsVersion(_) => "TLSVersion",
        EnumValue::Lifetime(_) => "Lifetime",
        EnumValue::DatastoreType(_) => "DatastoreType",
        EnumValue::Action(_) => "Action",
    }
}

/// Resolves `name` on an element of one of `kinds`: fixed and computed attributes first, then
/// the declared ones. An error names the kinds that do have it, or the closest name.
fn resolve_node_field(kinds: KindSet, name: &str) -> Result<(Field, STy), String> {
    if let (Some(f), Some(def)) = (Fixed::from_name(name), FIXED_ATTRIBUTES.iter().find(|d| d.name == name)) {
        if def.kinds.intersects(kinds) {
            return Ok((Field::Fixed(f), STy::Known(def.ty)));
        }
        return Err(not_on_kinds(name, kinds, def.kinds));
    }
    if let Some(def) = Element::attribute(name) {
        if def.kinds.intersects(kinds) {
            return Ok((Field::Elem(def.key), STy::Known(def.ty)));
        }
        return Err(not_on_kinds(name, kinds, def.kinds));
    }
    if Controls::attribute(name).is_some() {
        return Err(format!("`{name}` is a control; write `controls.{name}`"));
    }
    // A name close to a known attribute is a typo; any other is an attribute of the model's
    // own (a custom property, as pytm accepts any attribute on an element).
    let names = FIXED_ATTRIBUTES.iter().map(|d| d.name).chain(Element::ATTRIBUTES.iter().map(|d| d.name));
    match crate::file::closest(name, names) {
        Some(c) => Err(format!("no attribute `{name}` on {}; did you mean `{c}`?", kinds_text(kinds))),
        None => Ok((Field::Custom(name.into()), STy::Unknown)),
    }
}

fn not_on_kinds(name: &str, kinds: KindSet, has: KindSet) -> String {
    let owners: Vec<&str> = has.iter().map(Kind::name).collect();
    format!("no attribute `{name}` on {} (it belongs to {})", kinds_text(kinds), owners.join(", "))
}

fn kinds_text(kinds: KindSet) -> String {
    if kinds == KindSet::ALL {
        return "elements".to_owned();
    }
    kinds.iter().map(Kind::name).collect::<Vec<_>>().join(" or ")
}

fn describe_tok(t: &Tok) -> String {
    match t {
        Tok::Ident(w) => format!("`{w}`"),
        Tok::Str(_) => "a string".to_owned(),
        Tok::Int(n) => format!("`{n}`"),
        Tok::LParen => "`(`".to_owned(),
        Tok::RParen => "`)`".to_owned(),
        Tok::LBracket => "`[`".to_owned(),
        Tok::RBracket => "`]`".to_owned(),
        Tok::Comma => "`,`".to_owned(),
        Tok::Dot => "`.`".to_owned(),
        Tok::Op(o) => format!("`{o}`"),
        Tok::Eof => "the end of the condition".to_owned(),
    }
}

fn char_column(src: &str, byte: usize) -> usize {
    let byte = byte.min(src.len());
    let mut b = byte;
    while !src.is_char_boundary(b) {
        b -= 1;
    }
    src[..b].chars().count() + 1
}

impl Condition {
    /// Compiles a condition for rules that target `targets`. An empty condition never holds
    /// (as in pytm).
    pub fn compile(source: &str, targets: KindSet) -> Result<Condition, CompileError> {
        if source.len() > MAX_LEN {
            return Err(CompileError { column: 1, message: format!("condition is {} bytes long; the limit is {MAX_LEN}", source.len()) });
        }
        let to_err = |(at, message): (usize, String)| CompileError { column: char_column(source, at), message };
        if source.trim().is_empty() {
            let root = Node { kind: NodeKind::Lit(Lit::Bool(false)), start: 0, end: 0 };
            return Ok(Condition { source: String::new(), root });
        }
        let toks = lex(source).map_err(to_err)?;
        let mut p = Parser { toks, pos: 0, depth: 0, targets, vars: Vec::new() };
        let (root, _) = p.expr().map_err(to_err)?;
        if *p.peek() != Tok::Eof {
            let t = p.tok().clone();
            return Err(to_err((t.start as usize, format!("unexpected {} after the condition", describe_tok(&t.tok)))));
        }
        Ok(Condition { source: source.to_owned(), root })
    }

    /// The condition as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// True if the condition holds for `element` (an index into the prepared model's
    /// elements). Errors (a missing attribute, a type error, the step budget) make it false.
    pub fn holds(&self, facts: &Prepared<'_>, element: u32) -> bool {
        let mut ev = Eval { facts, vars: [const { Value::None }; 8], steps: 0, target: element };
        ev.eval(&self.root).map(|v| truthy(&v)).unwrap_or(false)
    }

    /// Why the condition holds for `element`: the clauses that made it true and the values
    /// they read. Empty if it does not hold.
    pub fn explain(&self, facts: &Prepared<'_>, element: u32) -> Vec<Evidence> {
        let mut ev = Eval { facts, vars: [const { Value::None }; 8], steps: 0, target: element };
        let mut out = Vec::new();
        let mut bindings = Vec::new();
        if ev.eval(&self.root).map(|v| truthy(&v)).unwrap_or(false) {
            let _ = ev.explain(&self.root, &self.source, true, &mut bindings, &mut out);
        }
        out
    }

    /// Evaluates the condition to a value, for tests and diagnostics.
    pub fn evaluate<'a>(&'a self, facts: &'a Prepared<'a>, element: u32) -> Result<Value<'a>, EvalError> {
        let mut ev = Eval { facts, vars: [const { Value::None }; 8], steps: 0, target: element };
        ev.eval(&self.root)
    }
}

// ---------------------------------------------------------------------------------------------
// Evaluation

/// Why a condition could not be evaluated; pytm's exceptions, which make a condition false.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvalError {
    /// The element has no such attribute (pytm's `AttributeError`).
    #[error("no attribute `{0}` on this element")]
    NoAttribute(&'static str),
    /// An operation on values of the wrong type (pytm's `TypeError`).
    #[error("{0}")]
    Type(String),
    /// The step budget ran out.
    #[error("the condition took more than {STEP_BUDGET} steps")]
    Budget,
}

struct Eval<'a, 'p> {
    facts: &'p Prepared<'a>,
    vars: [Value<'p>; 8],
    steps: u32,
    target: u32,
}

type EResult<'p> = Result<Value<'p>, EvalError>;

/// Python truthiness.
pub fn truthy(v: &Value<'_>) -> bool {
    match v {
        Value::None => false,
        Value::Bool(b) => *b,
        Value::Int(n) => *n != 0,
        Value::Str(s) => !s.is_empty(),
        Value::Nodes(l) | Value::DataSet(l) | Value::Levels(l) => !l.is_empty(),
        Value::Strs(l) => !l.is_empty(),
        Value::Tuple(t) => !t.is_empty(),
        Value::Enum(_) | Value::Class(_) | Value::Node(_) | Value::Controls(_) | Value::Data(_) => true,
    }
}

fn type_name(v: &Value<'_>) -> &'static str {
    match v {
        Value::None => "NoneType",
        Value::Bool(_) => "bool",
        Value::Int(_) => "int",
        Value::Str(_) => "str",
        Value::Enum(_) => "enum",
        Value::Class(_) => "class",
        Value::Node(_) => "element",
        Value::Controls(_) => "Controls",
        Value::Data(_) => "Data",
        Value::Nodes(_) | Value::Strs(_) => "list",
        Value::DataSet(_) | Value::Levels(_) => "set",
        Value::Tuple(_) => "tuple",
    }
}

impl<'a: 'p, 'p> Eval<'a, 'p> {
    fn step(&mut self) -> Result<(), EvalError> {
        self.steps += 1;
        if self.steps > STEP_BUDGET { Err(EvalError::Budget) } else { Ok(()) }
    }

    fn eval(&mut self, node: &'p Node) -> EResult<'p> {
        self.step()?;
        match &node.kind {
            NodeKind::Or(items) => {
                let mut last = Value::Bool(false);
                for item in items {
                    last = self.eval(item)?;
                    if truthy(&last) {
                        return Ok(last);
                    }
                }
                Ok(last)
            }
            NodeKind::And(items) => {
                let mut last = Value::Bool(true);
                for item in items {
                    last = self.eval(item)?;
                    if !truthy(&last) {
                        return Ok(last);
                    }
                }
                Ok(last)
            }
            NodeKind::Not(inner) => Ok(Value::Bool(!truthy(&self.eval(inner)?))),
            NodeKind::Compare(first, rest) => {
                let mut left = self.eval(first)?;
                for (op, rhs) in rest {
                    let right = self.eval(rhs)?;
                    if !compare(self.facts, *op, &left, &right)? {
                        return Ok(Value::Bool(false));
                    }
                    left = right;
                }
                Ok(Value::Bool(true))
            }
            NodeKind::Target => Ok(Value::Node(self.target)),
            NodeKind::Var(i) => Ok(self.vars[*i as usize].clone()),
            NodeKind::Lit(lit) => Ok(match lit {
                Lit::None => Value::None,
                Lit::Bool(b) => Value::Bool(*b),
                Lit::Int(n) => Value::Int(*n),
                Lit::Str(s) => Value::Str(s),
                Lit::Enum(e) => Value::Enum(*e),
                Lit::Class(c) => Value::Class(*c),
            }),
            NodeKind::Tuple(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    out.push(self.eval(item)?);
                }
                Ok(Value::Tuple(out))
            }
            NodeKind::Attr(recv, field) => {
                let v = self.eval(recv)?;
                self.facts.field(&v, field)
            }
            NodeKind::Quant(all, comp) => {
                let iter = self.eval(&comp.iter)?;
                let items = iterate(&iter)?;
                for item in items {
                    self.step()?;
                    let t = match &comp.body {
                        Some(body) => {
                            self.vars[comp.var as usize] = item;
                            truthy(&self.eval(body)?)
                        }
                        None => truthy(&item),
                    };
                    if t != *all {
                        return Ok(Value::Bool(!*all));
                    }
                }
                Ok(Value::Bool(*all))
            }
            NodeKind::Len(arg) => {
                let v = self.eval(arg)?;
                let n = match &v {
                    Value::Str(s) => s.chars().count(),
                    Value::Nodes(l) | Value::DataSet(l) | Value::Levels(l) => l.len(),
                    Value::Strs(l) => l.len(),
                    Value::Tuple(t) => t.len(),
                    other => return Err(EvalError::Type(format!("object of type '{}' has no len()", type_name(other)))),
                };
                Ok(Value::Int(n as i64))
            }
            NodeKind::Method(recv, method, args) => {
                let r = self.eval(recv)?;
                let Value::Node(n) = r else {
                    return Err(EvalError::Type(format!("'{}' object has no methods", type_name(&r))));
                };
                let mut vals = Vec::with_capacity(args.len());
                for a in args {
                    vals.push(self.eval(a)?);
                }
                if *method == Method::Prop {
                    return Ok(match vals.first() {
                        Some(Value::Str(name)) => self.facts.prop(n, name),
                        _ => Value::None,
                    });
                }
                self.facts.method(n, *method, &vals).map(Value::Bool)
            }
        }
    }

    /// Records why `node` evaluated to `want`. Mirrors `eval`'s short-circuiting.
    fn explain(
        &mut self,
        node: &'p Node,
        src: &str,
        want: bool,
        bindings: &mut Vec<Observed>,
        out: &mut Vec<Evidence>,
    ) -> Result<(), EvalError> {
        match &node.kind {
            NodeKind::Or(items) if want => {
                for item in items {
                    if truthy(&self.eval(item)?) {
                        return self.explain(item, src, true, bindings, out);
                    }
                }
                Ok(())
            }
            NodeKind::And(items) if !want => {
                for item in items {
                    if !truthy(&self.eval(item)?) {
                        return self.explain(item, src, false, bindings, out);
                    }
                }
                Ok(())
            }
            NodeKind::Or(items) | NodeKind::And(items) => {
                for item in items {
                    self.explain(item, src, want, bindings, out)?;
                }
                Ok(())
            }
            NodeKind::Not(inner) => self.explain(inner, src, !want, bindings, out),
            NodeKind::Quant(all, comp) if want != *all && comp.body.is_some() => {
                // any(...) held (or all(...) failed): show the item that decided it.
                let Some(body) = &comp.body else { return Ok(()) };
                let iter = self.eval(&comp.iter)?;
                for item in iterate(&iter)? {
                    self.vars[comp.var as usize] = item.clone();
                    if truthy(&self.eval(body)?) == want {
                        bindings.push(Observed { path: comp.name.clone(), value: display(self.facts, &item) });
                        let r = self.explain(body, src, want, bindings, out);
                        bindings.pop();
                        return r;
                    }
                }
                Ok(())
            }
            _ => {
                let mut observed = bindings.clone();
                self.observe(node, src, &mut observed)?;
                let clause = node_text(src, node);
                out.push(Evidence { clause: if want { clause } else { format!("not ({clause})") }, observed });
                Ok(())
            }
        }
    }

    /// Collects the value of every attribute path and call inside a leaf clause.
    fn observe(&mut self, node: &'p Node, src: &str, out: &mut Vec<Observed>) -> Result<(), EvalError> {
        match &node.kind {
            NodeKind::Attr(..) | NodeKind::Method(..) | NodeKind::Len(_) | NodeKind::Quant(..) => {
                let text = node_text(src, node);
                if !out.iter().any(|o| o.path == text) {
                    let value = match self.eval(node) {
                        Ok(v) => display(self.facts, &v),
                        Err(e) => format!("<{e}>"),
                    };
                    out.push(Observed { path: text, value });
                }
                Ok(())
            }
            NodeKind::Compare(first, rest) => {
                self.observe(first, src, out)?;
                for (_, n) in rest {
                    self.observe(n, src, out)?;
                }
                Ok(())
            }
            NodeKind::Not(inner) => self.observe(inner, src, out),
            NodeKind::Tuple(items) | NodeKind::Or(items) | NodeKind::And(items) => {
                for i in items {
                    self.observe(i, src, out)?;
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

fn node_text(src: &str, node: &Node) -> String {
    src.get(node.start as usize..node.end as usize).unwrap_or("").trim().to_owned()
}

fn iterate<'p>(v: &Value<'p>) -> Result<Vec<Value<'p>>, EvalError> {
    Ok(match v {
        Value::Nodes(l) => l.iter().map(|n| Value::Node(*n)).collect(),
        Value::DataSet(l) => l.iter().map(|d| Value::Data(*d)).collect(),
        Value::Levels(l) => l.iter().map(|n| Value::Int(i64::from(*n))).collect(),
        Value::Strs(l) => l.iter().map(|s| Value::Str(s)).collect(),
        Value::Tuple(t) => t.clone(),
        Value::Str(s) => s.char_indices().map(|(i, c)| Value::Str(&s[i..i + c.len_utf8()])).collect(),
        other => return Err(EvalError::Type(format!("'{}' object is not iterable", type_name(other)))),
    })
}

fn equal(a: &Value<'_>, b: &Value<'_>) -> bool {
    match (a, b) {
        (Value::None, Value::None) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Int(x), Value::Int(y)) => x == y,
        (Value::Bool(x), Value::Int(y)) | (Value::Int(y), Value::Bool(x)) => i64::from(*x) == *y,
        (Value::Str(x), Value::Str(y)) => x == y,
        (Value::Enum(x), Value::Enum(y)) => x == y,
        (Value::Class(x), Value::Class(y)) => x == y,
        (Value::Node(x), Value::Node(y)) => x == y,
        (Value::Data(x), Value::Data(y)) => x == y,
        (Value::Controls(x), Value::Controls(y)) => x == y,
        (Value::Tuple(x), Value::Tuple(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| equal(p, q)),
        (Value::Nodes(x), Value::Nodes(y)) | (Value::DataSet(x), Value::DataSet(y)) | (Value::Levels(x), Value::Levels(y)) => x == y,
        (Value::Strs(x), Value::Strs(y)) => x == y,
        _ => false,
    }
}

fn identical(a: &Value<'_>, b: &Value<'_>) -> bool {
    match (a, b) {
        (Value::None, Value::None) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Int(x), Value::Int(y)) => x == y,
        (Value::Str(x), Value::Str(y)) => x == y,
        (Value::Enum(x), Value::Enum(y)) => x == y,
        (Value::Class(x), Value::Class(y)) => x == y,
        (Value::Node(x), Value::Node(y)) | (Value::Data(x), Value::Data(y)) | (Value::Controls(x), Value::Controls(y)) => x == y,
        _ => false,
    }
}

fn order(a: &Value<'_>, b: &Value<'_>) -> Result<std::cmp::Ordering, EvalError> {
    let num = |v: &Value<'_>| match v {
        Value::Int(n) => Some(*n),
        Value::Bool(b) => Some(i64::from(*b)),
        _ => None,
    };
    if let (Some(x), Some(y)) = (num(a), num(b)) {
        return Ok(x.cmp(&y));
    }
    match (a, b) {
        (Value::Str(x), Value::Str(y)) => Ok(x.cmp(y)),
        (Value::Enum(x), Value::Enum(y)) => match (x.rank(), y.rank()) {
            (Some((tx, rx)), Some((ty, ry))) if tx == ty => Ok(rx.cmp(&ry)),
            _ => Err(EvalError::Type(format!("'<' not supported between {x} and {y}"))),
        },
        _ => Err(EvalError::Type(format!("'<' not supported between '{}' and '{}'", type_name(a), type_name(b)))),
    }
}

fn contains(facts: &Prepared<'_>, needle: &Value<'_>, hay: &Value<'_>) -> Result<bool, EvalError> {
    match (needle, hay) {
        (Value::Str(n), Value::Str(h)) => Ok(h.contains(n)),
        (Value::Str(n), Value::DataSet(items)) => Ok(items.iter().any(|d| facts.data_name(*d) == *n)),
        (_, Value::Tuple(_) | Value::Nodes(_) | Value::DataSet(_) | Value::Levels(_) | Value::Strs(_)) => {
            Ok(iterate(hay)?.iter().any(|item| equal(needle, item)))
        }
        _ => Err(EvalError::Type(format!("argument of type '{}' is not iterable", type_name(hay)))),
    }
}

fn compare(facts: &Prepared<'_>, op: CmpOp, a: &Value<'_>, b: &Value<'_>) -> Result<bool, EvalError> {
    use std::cmp::Ordering::*;
    Ok(match op {
        CmpOp::Eq => equal(a, b),
        CmpOp::Ne => !equal(a, b),
        CmpOp::Is => identical(a, b),
        CmpOp::IsNot => !identical(a, b),
        CmpOp::Lt => order(a, b)? == Less,
        CmpOp::Le => order(a, b)? != Greater,
        CmpOp::Gt => order(a, b)? == Greater,
        CmpOp::Ge => order(a, b)? != Less,
        CmpOp::In => contains(facts, a, b)?,
        CmpOp::NotIn => !contains(facts, a, b)?,
    })
}

/// Shows a value the way a user reads it in evidence: Python literals, element and data names.
pub fn display(facts: &Prepared<'_>, v: &Value<'_>) -> String {
    let mut s = String::new();
    let list = |s: &mut String, items: Vec<String>| {
        s.push('[');
        s.push_str(&items.join(", "));
        s.push(']');
    };
    match v {
        Value::None => s.push_str("None"),
        Value::Bool(true) => s.push_str("True"),
        Value::Bool(false) => s.push_str("False"),
        Value::Int(n) => {
            let _ = write!(s, "{n}");
        }
        Value::Str(x) => {
            let _ = write!(s, "{x:?}");
        }
        Value::Enum(e) => {
            let _ = write!(s, "{e}");
        }
        Value::Class(c) => s.push_str(c.name()),
        Value::Node(n) | Value::Controls(n) => {
            let e = facts.element(*n);
            let _ = write!(s, "{}({:?})", e.kind, e.name);
            if matches!(v, Value::Controls(_)) {
                s.push_str(".controls");
            }
        }
        Value::Data(d) => {
            let _ = write!(s, "Data({:?})", facts.data_name(*d));
        }
        Value::Nodes(l) => list(&mut s, l.iter().map(|n| format!("{:?}", facts.element(*n).name)).collect()),
        Value::DataSet(l) => list(&mut s, l.iter().map(|d| format!("{:?}", facts.data_name(*d))).collect()),
        Value::Levels(l) => list(&mut s, l.iter().map(u32::to_string).collect()),
        Value::Strs(l) => list(&mut s, l.iter().map(|x| format!("{x:?}")).collect()),
        Value::Tuple(t) => {
            s.push('(');
            s.push_str(&t.iter().map(|x| display(facts, x)).collect::<Vec<_>>().join(", "));
            s.push(')');
        }
    }
    s
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}
