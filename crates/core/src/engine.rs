//! The rule engine: prepares a model (pytm's pre-rule defaults, response pairing, inputs and
//! outputs), runs a rule set over it and produces findings.
//!
//! Pre-rule defaults, applied only where the user left a value unset (pytm 1.4.0 overwrites
//! user values; 1.3.1 and Threatmap do not):
//! - a flow carries its own data plus its source's data;
//! - a flow's levels are the intersection of its endpoints' levels, if not empty;
//! - a request flow takes `protocol` and `dstPort` from its sink, `controls.isEncrypted` from its
//!   sink, and `controls.authenticatesDestination` / `controls.checksDestinationRevocation`
//!   from its source; a response flow takes `protocol`, `srcPort` and `controls.isEncrypted`
//!   from its source;
//! - stored data carried by a request flow takes `isDestEncryptedAtRest` /
//!   `isSourceEncryptedAtRest` from the sink's and source's `controls.isEncryptedAtRest` (the
//!   last such flow in order wins);
//! - a `credentialsLife` other than NONE implies `isCredentials`, and credentials with no
//!   lifetime get UNKNOWN;
//! - `responseTo` and `isResponse` are kept consistent, and a response with no `responseTo` is
//!   paired with the one flow going the other way, if there is exactly one;
//! - with `isOrdered`, flows without an order are numbered 1, 2, ... in file order;
//! - a flow is amended (not forced) by its sink's and source's overrides.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use crate::attr::{Kind, Lifetime, Value};
use crate::expr::{DataField, EvalError, Evidence, Field, Fixed, Method};
use crate::model::{ControlAttr, Controls, DataAttr, DataItem, Element, ElementAttr, Model, Override, PropValue};
use crate::rules::{Rule, RuleSet, Severity};

/// Everything [`Prepared`] derives from a model: per element, per data item, and the flows in
/// pytm's order.
#[derive(Debug, Default)]
struct Derived {
    facts: Vec<Facts>,
    data: Vec<DataFacts>,
    flow_order: Vec<u32>,
}

/// Derived facts about one element.
#[derive(Debug, Default, Clone, PartialEq)]
struct Facts {
    boundary: Option<u32>,
    source: Option<u32>,
    sink: Option<u32>,
    response_to: Option<u32>,
    response: Option<u32>,
    is_response: bool,
    data: Vec<u32>,
    inputs: Vec<u32>,
    outputs: Vec<u32>,
    levels: Option<Vec<u32>>,
    order: Option<i64>,
}

/// Derived facts about one data item.
#[derive(Debug, Default, Clone, PartialEq)]
struct DataFacts {
    is_credentials: Option<bool>,
    credentials_life: Option<Lifetime>,
    dest_encrypted: Option<bool>,
    source_encrypted: Option<bool>,
    carried_by: Vec<u32>,
    processed_by: Vec<u32>,
}

/// A model with references resolved and pytm's pre-rule defaults worked out: what conditions
/// read. Building one is linear in the size of the model.
#[derive(Debug)]
pub struct Prepared<'m> {
    model: &'m Model,
    /// What [`Prepared::new`] works out, shared with [`Incremental`], which hands the same
    /// facts to the next run when an edit cannot have changed them.
    derived: Arc<Derived>,
    /// Element ids to indices; absent where the facts were reused (a lookup then scans).
    ids: Option<HashMap<&'m str, u32>>,
    /// Note what conditions read (see [`Reads`]): on only while [`Incremental`] evaluates.
    track: bool,
}

/// What evaluating one element's rules read: the elements and data items whose attributes or
/// derived facts it looked at, and whether it looked at drawings (which also reads every
/// boundary). Noted per thread while an [`Incremental`] run evaluates an element.
#[derive(Debug, Default, Clone)]
struct Reads {
    elements: Vec<u32>,
    data: Vec<u32>,
    drawings: bool,
}

thread_local! {
    static READS: std::cell::RefCell<Reads> = const { std::cell::RefCell::new(Reads { elements: Vec::new(), data: Vec::new(), drawings: false }) };
}

impl<'m> Prepared<'m> {
    /// Prepares a model that passed [`crate::file::check`]. Dangling references (which the
    /// check reports) are treated as absent.
    pub fn new(model: &'m Model) -> Prepared<'m> {
        let ids: HashMap<&str, u32> = model.elements.iter().enumerate().map(|(i, e)| (e.id.as_str(), i as u32)).collect();
        let data_ids: HashMap<&str, u32> = model.data.iter().enumerate().map(|(i, d)| (d.id.as_str(), i as u32)).collect();
        let node_ref = |id: &Option<String>| id.as_deref().and_then(|s| ids.get(s).copied());
        let mut facts: Vec<Facts> = model
            .elements
            .iter()
            .map(|e| {
                let boundary = node_ref(&e.in_boundary).filter(|b| model.elements[*b as usize].kind == Kind::Boundary);
                let mut data: Vec<u32> = Vec::new();
                for d in &e.data {
                    if let Some(&i) = data_ids.get(d.as_str())
                        && !data.contains(&i)
                    {
                        data.push(i);
                    }
                }
                if e.kind == Kind::Dataflow {
                    let is_node = |i: &u32| model.elements[*i as usize].kind.is_node();
                    Facts {
                        source: node_ref(&e.source).filter(is_node),
                        sink: node_ref(&e.sink).filter(is_node),
                        response_to: node_ref(&e.response_to).filter(|i| model.elements[*i as usize].kind == Kind::Dataflow),
                        is_response: e.is_response.unwrap_or(false),
                        data,
                        ..Facts::default()
                    }
                } else {
                    Facts { boundary, data, ..Facts::default() }
                }
            })
            .collect();

        // Flows in pytm's order: stable sort by `order`; with isOrdered the leading unordered
        // flows are numbered 1..n.
        let mut flow_order: Vec<u32> =
            (0..model.elements.len() as u32).filter(|i| facts[*i as usize].source.is_some() && facts[*i as usize].sink.is_some()).collect();
        flow_order.sort_by_key(|i| model.elements[*i as usize].order.unwrap_or(-1));
        if model.is_ordered {
            for (n, i) in flow_order.iter().enumerate() {
                if model.elements[*i as usize].order.unwrap_or(-1) != -1 {
                    break;
                }
                facts[*i as usize].order = Some(n as i64 + 1);
            }
        }

        // Response pairing.
        for &i in &flow_order {
            if let Some(req) = facts[i as usize].response_to {
                facts[i as usize].is_response = true;
                if facts[req as usize].response.is_none() {
                    facts[req as usize].response = Some(i);
                }
            }
        }
        let mut by_ends: HashMap<(u32, u32), Vec<u32>> = HashMap::new();
        for &i in &flow_order {
            let f = &facts[i as usize];
            if let (Some(s), Some(t)) = (f.source, f.sink) {
                by_ends.entry((s, t)).or_default().push(i);
            }
        }
        for &i in &flow_order {
            let f = &facts[i as usize];
            if !f.is_response || f.response_to.is_some() {
                continue;
            }
            if let (Some(s), Some(t)) = (f.source, f.sink)
                && let Some([req]) = by_ends.get(&(t, s)).map(Vec::as_slice)
            {
                let req = *req;
                facts[i as usize].response_to = Some(req);
                if facts[req as usize].response.is_none() {
                    facts[req as usize].response = Some(i);
                }
            }
        }

        // Flow defaults, inputs/outputs, data relationships.
        let mut data: Vec<DataFacts> = vec![DataFacts::default(); model.data.len()];
        for &i in &flow_order {
            let e = &model.elements[i as usize];
            let (Some(s), Some(t)) = (facts[i as usize].source, facts[i as usize].sink) else { continue };
            let inherited = facts[s as usize].data.clone();
            let own = &mut facts[i as usize].data;
            for d in inherited {
                if !own.contains(&d) {
                    own.push(d);
                }
            }
            if e.levels.is_none() {
                let src = model.elements[s as usize].levels.clone().unwrap_or_else(|| vec![0]);
                let dst = model.elements[t as usize].levels.clone().unwrap_or_else(|| vec![0]);
                let both: BTreeSet<u32> = src.iter().filter(|l| dst.contains(l)).copied().collect();
                if !both.is_empty() {
                    facts[i as usize].levels = Some(both.into_iter().collect());
                }
            }
            for &d in &facts[i as usize].data {
                let df = &mut data[d as usize];
                df.carried_by.push(i);
                for n in [s, t] {
                    if !df.processed_by.contains(&n) {
                        df.processed_by.push(n);
                    }
                }
            }
            if facts[i as usize].is_response {
                continue;
            }
            for &d in &facts[i as usize].data {
                let item = &model.data[d as usize];
                if item.is_stored.unwrap_or(false) {
                    let at_rest = |n: u32| model.elements[n as usize].controls.is_encrypted_at_rest.unwrap_or(false);
                    data[d as usize].dest_encrypted = Some(at_rest(t));
                    data[d as usize].source_encrypted = Some(at_rest(s));
                }
            }
            facts[t as usize].inputs.push(i);
            facts[s as usize].outputs.push(i);
        }
        for (d, item) in model.data.iter().enumerate() {
            let df = &mut data[d];
            let life = item.credentials_life.unwrap_or(Lifetime::None);
            if item.is_credentials.is_none() && life != Lifetime::None {
                df.is_credentials = Some(true);
            }
            let creds = item.is_credentials.or(df.is_credentials).unwrap_or(false);
            if creds && item.credentials_life.is_none() {
                df.credentials_life = Some(Lifetime::Unknown);
            }
            let name = |n: &u32| model.elements[*n as usize].name.as_str();
            df.carried_by.sort_by(|a, b| name(a).cmp(name(b)));
            df.processed_by.sort_by(|a, b| name(a).cmp(name(b)));
        }
        Prepared { model, derived: Arc::new(Derived { facts, data, flow_order }), ids: Some(ids), track: false }
    }

    /// Whether [`Prepared::new`] derives the same facts from `b` as from `a`: it reads only
    /// these fields of an element (and the element ids, the data items and `is_ordered`, which
    /// [`Incremental`] compares whole).
    fn same_derivation(a: &Element, b: &Element) -> bool {
        a.kind == b.kind
            && a.name == b.name
            && a.in_boundary == b.in_boundary
            && a.data == b.data
            && a.source == b.source
            && a.sink == b.sink
            && a.response_to == b.response_to
            && a.is_response == b.is_response
            && a.order == b.order
            && a.levels == b.levels
            && a.controls.is_encrypted_at_rest == b.controls.is_encrypted_at_rest
    }

    /// Notes that element `i` was read.
    #[inline]
    fn read(&self, i: u32) {
        if self.track {
            READS.with_borrow_mut(|r| r.elements.push(i));
        }
    }

    /// Notes that the ends of flow `i` were read (derived attributes come from them).
    #[inline]
    fn read_ends(&self, i: u32) {
        if self.track {
            let f = &self.derived.facts[i as usize];
            READS.with_borrow_mut(|r| r.elements.extend([f.source, f.sink].into_iter().flatten()));
        }
    }

    /// Notes that data item `d` was read.
    #[inline]
    fn read_data(&self, d: u32) {
        if self.track {
            READS.with_borrow_mut(|r| r.data.push(d));
        }
    }

    /// The model.
    pub fn model(&self) -> &'m Model {
        self.model
    }

    /// The element at an index.
    pub fn element(&self, i: u32) -> &'m Element {
        self.read(i);
        &self.model.elements[i as usize]
    }

    /// The index of the element with this id.
    pub fn index_of(&self, id: &str) -> Option<u32> {
        match &self.ids {
            Some(ids) => ids.get(id).copied(),
            None => self.model.elements.iter().rposition(|e| e.id == id).map(|i| i as u32),
        }
    }

    /// A data item's name.
    pub fn data_name(&self, d: u32) -> &'m str {
        self.read_data(d);
        &self.model.data[d as usize].name
    }

    /// The flows in pytm's processing order (sorted by `order`).
    pub fn flow_order(&self) -> &[u32] {
        &self.derived.flow_order
    }

    /// A flow's source and sink indices.
    pub fn endpoints(&self, flow: u32) -> Option<(u32, u32)> {
        self.read(flow);
        let f = &self.derived.facts[flow as usize];
        Some((f.source?, f.sink?))
    }

    /// The boundary directly containing a node or boundary.
    pub fn boundary_of(&self, i: u32) -> Option<u32> {
        self.read(i);
        self.derived.facts[i as usize].boundary
    }

    /// The response paired with a request flow, and the request a response answers.
    pub fn response_pair(&self, flow: u32) -> (Option<u32>, Option<u32>) {
        self.read(flow);
        let f = &self.derived.facts[flow as usize];
        (f.response, f.response_to)
    }

    /// The data a node holds or a flow carries (a flow's includes its source's).
    pub fn data_of(&self, i: u32) -> &[u32] {
        self.read(i);
        &self.derived.facts[i as usize].data
    }

    /// The effective value of a data item attribute.
    pub fn data_attr(&self, d: u32, a: DataAttr) -> Value<'m> {
        self.read_data(d);
        let item: &'m DataItem = &self.model.data[d as usize];
        let df = &self.derived.data[d as usize];
        use crate::attr::EnumValue;
        let derived = match a {
            DataAttr::is_credentials if item.is_credentials.is_none() => df.is_credentials.map(Value::Bool),
            DataAttr::credentials_life if item.credentials_life.is_none() => {
                df.credentials_life.map(|l| Value::Enum(EnumValue::Lifetime(l)))
            }
            DataAttr::is_dest_encrypted_at_rest if item.is_dest_encrypted_at_rest.is_none() => df.dest_encrypted.map(Value::Bool),
            DataAttr::is_source_encrypted_at_rest if item.is_source_encrypted_at_rest.is_none() => df.source_encrypted.map(Value::Bool),
            _ => None,
        };
        derived.unwrap_or_else(|| item.get(a, Kind::Asset))
    }

    /// The effective value of an element attribute, or an error if the kind does not have it.
    pub fn attr(&self, i: u32, a: ElementAttr) -> Result<Value<'_>, EvalError> {
        self.read(i);
        self.read_ends(i);
        let e: &'m Element = &self.model.elements[i as usize];
        let def = Element::def(a);
        if !def.kinds.contains(e.kind) {
            return Err(EvalError::NoAttribute(def.name));
        }
        let f = &self.derived.facts[i as usize];
        if e.kind == Kind::Dataflow && !e.is_set(a) {
            let (src, dst) = (f.source, f.sink);
            let from =
                |n: Option<u32>, a: ElementAttr| n.map(|n| self.model.elements[n as usize].get(a, self.model.elements[n as usize].kind));
            let derived = match a {
                ElementAttr::protocol if f.is_response => from(src, ElementAttr::protocol),
                ElementAttr::protocol => from(dst, ElementAttr::protocol),
                ElementAttr::dst_port if !f.is_response => from(dst, ElementAttr::port),
                ElementAttr::src_port if f.is_response => from(src, ElementAttr::port),
                ElementAttr::levels => f.levels.as_deref().map(Value::Levels),
                ElementAttr::is_response => Some(Value::Bool(f.is_response)),
                ElementAttr::order => f.order.map(Value::Int),
                _ => None,
            };
            if let Some(v) = derived {
                return Ok(v);
            }
        }
        Ok(e.get(a, e.kind))
    }

    /// The effective value of a control.
    pub fn control(&self, i: u32, c: ControlAttr) -> Value<'m> {
        self.read(i);
        self.read_ends(i);
        let e: &'m Element = &self.model.elements[i as usize];
        if e.kind == Kind::Dataflow && !e.controls.is_set(c) {
            let f = &self.derived.facts[i as usize];
            let from = |n: Option<u32>| n.map(|n| self.model.elements[n as usize].controls.get(c, Kind::Asset));
            let derived = match c {
                ControlAttr::is_encrypted if f.is_response => from(f.source),
                ControlAttr::is_encrypted => from(f.sink),
                ControlAttr::authenticates_destination | ControlAttr::checks_destination_revocation if !f.is_response => from(f.source),
                _ => None,
            };
            if let Some(v) = derived {
                return v;
            }
        }
        e.controls.get(c, e.kind)
    }

    fn no_attr(field: &Field) -> EvalError {
        let name = match *field {
            Field::Fixed(f) => match f {
                Fixed::Id => "id",
                Fixed::Kind => "kind",
                Fixed::Name => "name",
                Fixed::Source => "source",
                Fixed::Sink => "sink",
                Fixed::InBoundary => "inBoundary",
                Fixed::ResponseTo => "responseTo",
                Fixed::Response => "response",
                Fixed::Data => "data",
                Fixed::Inputs => "inputs",
                Fixed::Outputs => "outputs",
                Fixed::Controls => "controls",
            },
            Field::Elem(a) => Element::def(a).name,
            Field::Control(c) => Controls::def(c).name,
            Field::Data(_) => "data attribute",
            Field::Custom(_) | Field::CustomControl(_) => "custom attribute",
        };
        EvalError::NoAttribute(name)
    }

    /// Reads `field` from a value (the condition language's `.`).
    pub(crate) fn field<'p>(&'p self, v: &Value<'p>, field: &Field) -> Result<Value<'p>, EvalError> {
        match (v, field) {
            (Value::Node(n), Field::Fixed(f)) => {
                let e = self.element(*n);
                self.read_ends(*n);
                let facts = &self.derived.facts[*n as usize];
                let flow = e.kind == Kind::Dataflow;
                let opt = |x: Option<u32>| x.map_or(Value::None, Value::Node);
                Ok(match f {
                    Fixed::Id => Value::Str(&e.id),
                    Fixed::Name => Value::Str(&e.name),
                    Fixed::Kind => Value::Str(e.kind.name()),
                    Fixed::Source if flow => opt(facts.source),
                    Fixed::Sink if flow => opt(facts.sink),
                    Fixed::ResponseTo if flow => opt(facts.response_to),
                    Fixed::Response if flow => opt(facts.response),
                    Fixed::InBoundary => opt(facts.boundary),
                    Fixed::Data if e.kind != Kind::Boundary => Value::DataSet(&facts.data),
                    Fixed::Inputs if e.kind.is_node() => Value::Nodes(&facts.inputs),
                    Fixed::Outputs if e.kind.is_node() => Value::Nodes(&facts.outputs),
                    Fixed::Controls => Value::Controls(*n),
                    _ => return Err(Self::no_attr(field)),
                })
            }
            (Value::Node(n), Field::Elem(a)) => self.attr(*n, *a),
            (Value::Controls(n), Field::Control(c)) => Ok(self.control(*n, *c)),
            (Value::Node(n), Field::Custom(name)) => Ok(self.prop(*n, name)),
            (Value::Controls(n), Field::CustomControl(name)) => Ok(prop_value(self.element(*n).controls.custom.get(&**name))),
            (Value::Data(d), Field::Data(f)) => {
                self.read_data(*d);
                let item = &self.model.data[*d as usize];
                Ok(match f {
                    DataField::Id => Value::Str(&item.id),
                    DataField::Name => Value::Str(&item.name),
                    DataField::CarriedBy => Value::Nodes(&self.derived.data[*d as usize].carried_by),
                    DataField::ProcessedBy => Value::Nodes(&self.derived.data[*d as usize].processed_by),
                    DataField::Attr(a) => self.data_attr(*d, *a),
                })
            }
            _ => Err(Self::no_attr(field)),
        }
    }

    fn is_inside(&self, n: u32, args: &[Value<'_>]) -> bool {
        let b = self.boundary_of(n);
        args.iter().any(|arg| match arg {
            Value::Class(c) => b.is_some() && c.kinds().contains(Kind::Boundary),
            Value::Node(m) => b == Some(*m),
            Value::Str(s) => b.is_some_and(|b| self.element(b).id == *s || self.element(b).name == *s),
            Value::Tuple(items) => self.is_inside(n, items),
            _ => false,
        })
    }

    /// Runs an element helper method.
    pub(crate) fn method(&self, n: u32, method: Method, args: &[Value<'_>]) -> Result<bool, EvalError> {
        let e = self.element(n);
        self.read_ends(n);
        let f = &self.derived.facts[n as usize];
        let ends = (e.kind == Kind::Dataflow).then_some(()).and(f.source.zip(f.sink));
        Ok(match method {
            Method::OneOf => args.iter().any(|arg| match arg {
                Value::Class(c) => c.kinds().contains(e.kind),
                Value::Node(m) => *m == n,
                Value::Str(s) => e.id == *s || e.name == *s,
                _ => false,
            }),
            Method::Inside => self.is_inside(n, args),
            Method::Enters => ends.is_some_and(|(s, t)| self.derived.facts[s as usize].boundary.is_none() && self.is_inside(t, args)),
            Method::Exits => ends.is_some_and(|(s, t)| self.is_inside(s, args) && self.derived.facts[t as usize].boundary.is_none()),
            Method::Crosses => match ends {
                None => false,
                Some((s, t)) => {
                    let (bs, bt) = (self.derived.facts[s as usize].boundary, self.derived.facts[t as usize].boundary);
                    bs != bt
                        && args.iter().any(|arg| match arg {
                            Value::Class(_) => true,
                            one => {
                                let one = std::slice::from_ref(one);
                                self.is_inside(s, one) != self.is_inside(t, one)
                            }
                        })
                }
            },
            Method::CrossesDrawn => ends.is_some_and(|(s, t)| self.crosses_drawn(s, t, args)),
            Method::Prop => return Err(EvalError::Type("prop() is not a test".to_owned())),
            Method::CheckTlsVersion => {
                let min = self.attr(n, ElementAttr::min_tls_version)?;
                let flows: Vec<u32> = match args.first() {
                    Some(Value::Nodes(l)) => l.to_vec(),
                    Some(Value::Tuple(items)) => {
                        items.iter().filter_map(|v| if let Value::Node(m) = v { Some(*m) } else { None }).collect()
                    }
                    _ => return Err(EvalError::Type("checkTLSVersion() takes a list of flows".to_owned())),
                };
                let mut any = false;
                for fl in flows {
                    let tls = self.attr(fl, ElementAttr::tls_version)?;
                    if let (Value::Enum(a), Value::Enum(b)) = (&tls, &min)
                        && a.rank() < b.rank()
                    {
                        any = true;
                        break;
                    }
                }
                any
            }
            Method::HasDataLeaks => {
                let Some((s, t)) = ends else { return Err(EvalError::NoAttribute("hasDataLeaks")) };
                let class = |v: Value<'_>| match v {
                    Value::Enum(x) => x.rank().map_or(0, |r| r.1),
                    _ => 0,
                };
                let limits = [
                    class(self.attr(s, ElementAttr::max_classification)?),
                    class(self.attr(t, ElementAttr::max_classification)?),
                    class(self.attr(n, ElementAttr::max_classification)?),
                ];
                f.data.iter().any(|d| {
                    let c = class(self.data_attr(*d, DataAttr::classification));
                    limits.iter().any(|l| c > *l)
                })
            }
        })
    }

    /// The custom property `name` of element `n` (`None` when it has none).
    pub(crate) fn prop(&self, n: u32, name: &str) -> Value<'m> {
        prop_value(self.element(n).properties.get(name))
    }

    /// True if, on some diagram that places both `s` and `t`, the straight line between their
    /// centres crosses a boundary named by `args` (by stereotype, id or name) drawn there: a box
    /// boundary when exactly one centre lies in it, a line boundary when the two lines intersect.
    fn crosses_drawn(&self, s: u32, t: u32, args: &[Value<'_>]) -> bool {
        if self.track {
            READS.with_borrow_mut(|r| r.drawings = true);
        }
        self.model.layouts().any(|layout| self.crosses_drawn_on(layout, s, t, args))
    }

    fn crosses_drawn_on(&self, layout: &BTreeMap<String, crate::model::Placement>, s: u32, t: u32, args: &[Value<'_>]) -> bool {
        let centre = |n: u32| {
            let p = layout.get(&self.element(n).id)?;
            Some((p.x + p.width.unwrap_or(0.0) / 2.0, p.y + p.height.unwrap_or(0.0) / 2.0))
        };
        let (Some(a), Some(b)) = (centre(s), centre(t)) else { return false };
        let named = |e: &Element| {
            fn matches(e: &Element, v: &Value<'_>) -> bool {
                match v {
                    Value::Str(x) => e.stereotype.as_deref() == Some(*x) || e.id == *x || e.name == *x,
                    Value::Tuple(items) => items.iter().any(|i| matches(e, i)),
                    _ => false,
                }
            }
            args.iter().any(|v| matches(e, v))
        };
        self.model.elements.iter().filter(|e| e.kind == Kind::Boundary && named(e)).any(|e| {
            let Some(p) = layout.get(&e.id) else { return false };
            match p.line_points() {
                Some(points) => points.windows(2).any(|w| crate::model::segments_cross(a, b, w[0], w[1])),
                None => {
                    let (w, h) = (p.width.unwrap_or(0.0), p.height.unwrap_or(0.0));
                    let inside = |(x, y): (f64, f64)| x >= p.x && x <= p.x + w && y >= p.y && y <= p.y + h;
                    inside(a) != inside(b)
                }
            }
        })
    }

    /// The override of `threat` that applies to element `i`: its own, or for a flow its sink's
    /// then its source's (inherited overrides amend a flow's finding but do not force it).
    pub fn override_for(&self, i: u32, threat: &str) -> Option<&'m Override> {
        let e = self.element(i);
        if let Some(o) = e.overrides.get(threat) {
            return Some(o);
        }
        let f = &self.derived.facts[i as usize];
        [f.sink, f.source].into_iter().flatten().find_map(|n| self.element(n).overrides.get(threat))
    }
}

/// Options for one analysis run.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Threat ids to skip entirely (pytm's `--exclude`).
    pub exclude: BTreeSet<String>,
}

/// One finding: a rule that applies to an element. Text fields are read through
/// [`Analysis::view`], which applies the element's override.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Index of the rule in the rule set.
    pub rule: u32,
    /// Index of the element in the model.
    pub element: u32,
    /// True if an override forced the finding (its condition did not hold).
    pub forced: bool,
    /// For excluded findings: the assumption that excluded it.
    pub excluded_by: Option<String>,
}

/// The result of running a rule set over a model.
#[derive(Debug)]
pub struct Analysis<'a> {
    /// The prepared model the findings refer to.
    pub prepared: Prepared<'a>,
    /// The rules that ran.
    pub rules: &'a RuleSet,
    /// Findings, in element order then rule order.
    pub findings: Vec<Finding>,
    /// Findings that assumptions excluded.
    pub excluded: Vec<Finding>,
}

/// A finding with its rule's text, the element's override applied and its title filled in.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FindingView<'a> {
    /// Stable key: `rule id @ element id`.
    pub key: String,
    /// The rule (threat) id.
    pub threat_id: &'a str,
    /// The title, with element names filled in.
    pub title: String,
    /// Element id.
    pub element_id: &'a str,
    /// Element name.
    pub element_name: &'a str,
    /// Element kind.
    pub element_kind: Kind,
    /// Severity (the override's, if any).
    pub severity: Severity,
    /// Likelihood of attack.
    pub likelihood: &'a str,
    /// STRIDE categories.
    pub stride: Vec<&'static str>,
    /// What the threat is.
    pub description: std::borrow::Cow<'a, str>,
    /// More detail.
    pub details: &'a str,
    /// What an attacker needs.
    pub prerequisites: &'a str,
    /// How to counter it.
    pub mitigations: Vec<std::borrow::Cow<'a, str>>,
    /// An example.
    pub example: &'a str,
    /// References (CAPEC, CWE, URLs).
    pub references: Vec<&'a str>,
    /// CVSS from an override.
    pub cvss: &'a str,
    /// Response from an override.
    pub response: &'a str,
    /// The rule's condition.
    pub condition: &'a str,
    /// The rule pack the rule came from.
    pub pack: &'a str,
    /// True if an override forced the finding.
    pub forced: bool,
    /// The assumption that excluded the finding, for excluded findings.
    pub excluded_by: Option<&'a str>,
}

/// What excludes a finding on record for an element that is out of scope (its `excluded_by`).
pub const OUT_OF_SCOPE: &str = "out of scope";

/// Elements per thread below which the rules run on one thread.
const PARALLEL_CHUNK: usize = 400;

/// The rules to try on each kind of element, and the global assumptions that exclude threats.
struct Plan<'a> {
    by_kind: HashMap<Kind, Vec<u32>>,
    all: Vec<u32>,
    global: Vec<&'a crate::model::Assumption>,
}

impl<'a> Plan<'a> {
    fn new(model: &'a Model, rules: &RuleSet, options: &Options) -> Plan<'a> {
        let runs = |r: &Rule| !options.exclude.contains(&r.id);
        let mut by_kind: HashMap<Kind, Vec<u32>> = HashMap::new();
        for kind in Kind::ALL {
            let list = rules.rules.iter().enumerate().filter(|(_, r)| r.targets.contains(kind) && runs(r));
            by_kind.insert(kind, list.map(|(i, _)| i as u32).collect());
        }
        let all = (0..rules.rules.len() as u32).filter(|r| runs(&rules.rules[*r as usize])).collect();
        let global = model.assumptions.iter().filter(|a| !a.exclude.is_empty()).collect();
        Plan { by_kind, all, global }
    }

    /// Runs the rules on element `i`: its findings and its excluded findings.
    fn evaluate(&self, prepared: &Prepared<'_>, rules: &RuleSet, i: u32) -> (Vec<Finding>, Vec<Finding>) {
        let model = prepared.model;
        let e = &model.elements[i as usize];
        let mut findings = Vec::new();
        let mut excluded = Vec::new();
        if !e.in_scope() {
            // Out of scope: no new findings, but a threat already on record for the element
            // (triaged here, or stored by the tool it came from) stays visible, excluded as
            // out of scope, rather than vanishing with its decision.
            if model.decisions.is_empty() {
                return (findings, excluded);
            }
            for &r in self.by_kind.get(&e.kind).map_or(&[][..], Vec::as_slice) {
                let rule: &Rule = &rules.rules[r as usize];
                if model.decisions.contains_key(&format!("{}@{}", rule.id, e.id)) && rule.condition.holds(prepared, i) {
                    excluded.push(Finding { rule: r, element: i, forced: false, excluded_by: Some(OUT_OF_SCOPE.to_owned()) });
                }
            }
            return (findings, excluded);
        }
        // An override forces its threat even on a kind the rule does not target (as in pytm),
        // so elements with overrides go through every rule.
        let candidates = if e.overrides.is_empty() { self.by_kind.get(&e.kind).map_or(&[][..], Vec::as_slice) } else { &self.all };
        for &r in candidates {
            let rule: &Rule = &rules.rules[r as usize];
            let holds = rule.targets.contains(e.kind) && rule.condition.holds(prepared, i);
            let forced = !holds && e.overrides.contains_key(&rule.id);
            if !holds && !forced {
                continue;
            }
            let assumption = e.assumptions.iter().chain(self.global.iter().copied()).find(|a| a.exclude.contains(&rule.id));
            let finding = Finding { rule: r, element: i, forced, excluded_by: assumption.map(|a| a.name.clone()) };
            if finding.excluded_by.is_some() {
                excluded.push(finding);
            } else {
                findings.push(finding);
            }
        }
        (findings, excluded)
    }
}

/// Evaluates `f` on every index in `0..n`, on several threads for large models (contiguous
/// ranges of at least a few hundred indices, results in index order: the same output as one
/// thread).
pub fn in_parallel<T: Send>(n: usize, f: impl Fn(std::ops::Range<usize>) -> Vec<T> + Sync) -> Vec<T> {
    let threads = std::thread::available_parallelism().map_or(1, |p| p.get()).min(8).min(n / PARALLEL_CHUNK).max(1);
    if threads == 1 {
        return f(0..n);
    }
    let step = n.div_ceil(threads);
    std::thread::scope(|s| {
        let f = &f;
        let handles: Vec<_> = (0..threads).map(|t| s.spawn(move || f(t * step..((t + 1) * step).min(n)))).collect();
        // A panicking worker would be a bug; evaluate its range here instead of losing it.
        handles.into_iter().enumerate().flat_map(|(t, h)| h.join().unwrap_or_else(|_| f(t * step..((t + 1) * step).min(n)))).collect()
    })
}

/// Runs `rules` over `model`.
pub fn analyze<'a>(model: &'a Model, rules: &'a RuleSet, options: &Options) -> Analysis<'a> {
    let prepared = Prepared::new(model);
    let plan = Plan::new(model, rules, options);
    // Elements are independent: large models are split into ranges evaluated on several threads.
    let parts = in_parallel(model.elements.len(), |range| range.map(|i| plan.evaluate(&prepared, rules, i as u32)).collect());
    let mut findings = Vec::new();
    let mut excluded = Vec::new();
    for (f, x) in parts {
        findings.extend(f);
        excluded.extend(x);
    }
    Analysis { prepared, rules, findings, excluded }
}

/// One element's evaluation, kept by [`Incremental`].
#[derive(Debug, Default, Clone)]
struct Evaluated {
    findings: Vec<Finding>,
    excluded: Vec<Finding>,
    reads: Reads,
}

/// Analyses a model again and again as it is edited, evaluating only the elements whose
/// inputs changed: the findings are always those [`analyze`] gives (a property test holds it
/// to that over random edit sequences).
///
/// Each element's evaluation notes what its conditions read: elements and data items (their
/// attributes and derived facts: ends, boundary, inputs, outputs, data carried, inherited
/// values) and drawings. After an edit, an element is evaluated again if it changed, if
/// something it read changed (the element itself, or its derived facts, which catch changes
/// further away such as data inherited through a flow), or if it read drawings and anything
/// changed. Anything else that rules see (the rule set, options, global assumptions, the
/// model's pytm settings, the number or order of elements and data items) runs everything
/// again; decisions only matter to elements out of scope.
#[derive(Debug, Default)]
pub struct Incremental {
    /// The model as last analysed.
    last: Option<Model>,
    /// The last run's derived facts.
    derived: Arc<Derived>,
    results: Vec<Evaluated>,
    /// What findings depend on in the rule set of the last run: each rule's id, targets and
    /// condition (a set reloaded in the same place is told apart from the one before).
    rules: Vec<(String, crate::attr::KindSet, String)>,
    exclude: BTreeSet<String>,
    /// How many elements the last run evaluated.
    pub evaluated: usize,
}

impl Incremental {
    /// An empty cache: the first run evaluates every element.
    pub fn new() -> Incremental {
        Incremental::default()
    }

    /// The last run's model facts over `model`, which must be the model the last run
    /// analysed (unchanged since): what reads findings the run made (a panel, a tooltip) needs
    /// no second [`Prepared::new`]. `None` before the first run.
    pub fn prepared<'a>(&self, model: &'a Model) -> Option<Prepared<'a>> {
        let last = self.last.as_ref()?;
        // A model of another shape is not the one analysed: its facts would be misplaced.
        (last.elements.len() == model.elements.len() && last.data.len() == model.data.len()).then(|| Prepared {
            model,
            derived: Arc::clone(&self.derived),
            ids: None,
            track: false,
        })
    }

    /// Analyses `model`, evaluating only what its changes since the last run can affect.
    pub fn analyze<'a>(&mut self, model: &'a Model, rules: &'a RuleSet, options: &Options) -> Analysis<'a> {
        self.analyze_edited(model, rules, options, None)
    }

    /// [`Incremental::analyze`] told by the editor which elements it changed since the last
    /// run (their indices; `None`: not known): the others are not compared. The list must hold
    /// every element that changed (more do no harm); everything but the elements (data items,
    /// drawings, decisions, the rest of the model) is still compared.
    pub fn analyze_edited<'a>(&mut self, model: &'a Model, rules: &'a RuleSet, options: &Options, edited: Option<&[u32]>) -> Analysis<'a> {
        let plan = Plan::new(model, rules, options);
        let same_rules = |last: &[(String, crate::attr::KindSet, String)]| {
            last.len() == rules.rules.len()
                && last.iter().zip(&rules.rules).all(|((id, t, c), r)| *id == r.id && *t == r.targets && c == r.condition.source())
        };
        let same_shape = |last: &Model| {
            last.elements.len() == model.elements.len()
                && last.data.len() == model.data.len()
                && last.assumptions == model.assumptions
                && last.is_ordered == model.is_ordered
                && last.merge_responses == model.merge_responses
                && last.ignore_unused == model.ignore_unused
                && last.on_duplicates == model.on_duplicates
                && last.properties == model.properties
                && last.elements.iter().zip(&model.elements).all(|(a, b)| a.id == b.id)
        };
        let incremental = match &self.last {
            Some(last) => same_rules(&self.rules) && self.exclude == options.exclude && same_shape(last),
            None => false,
        };
        // The elements an edit changed; where none of them changed what the model's facts are
        // derived from (and no data item changed), the last run's facts are the new ones.
        let edited: Vec<bool> = match (&self.last, edited) {
            (Some(last), Some(told)) if incremental => {
                let mut edited = vec![false; model.elements.len()];
                for &i in told {
                    if let Some(e) = edited.get_mut(i as usize) {
                        *e = true;
                    }
                }
                debug_assert!(
                    (0..edited.len()).all(|i| edited[i] || last.elements[i] == model.elements[i]),
                    "an edited element was not named"
                );
                edited
            }
            (Some(last), None) if incremental => {
                in_parallel(model.elements.len(), |range| range.map(|i| last.elements[i] != model.elements[i]).collect())
            }
            _ => Vec::new(),
        };
        let reuse = incremental
            && self.last.as_ref().is_some_and(|last| {
                last.data == model.data
                    && edited.iter().zip(last.elements.iter().zip(&model.elements)).all(|(e, (a, b))| !e || Prepared::same_derivation(a, b))
            });
        let mut prepared =
            if reuse { Prepared { model, derived: Arc::clone(&self.derived), ids: None, track: false } } else { Prepared::new(model) };
        prepared.track = true;
        let evaluate = |i: u32| {
            READS.with_borrow_mut(|r| *r = Reads::default());
            let (findings, excluded) = plan.evaluate(&prepared, rules, i);
            let mut reads = READS.with_borrow_mut(std::mem::take);
            reads.elements.push(i);
            reads.elements.sort_unstable();
            reads.elements.dedup();
            reads.data.sort_unstable();
            reads.data.dedup();
            Evaluated { findings, excluded, reads }
        };
        if incremental && let Some(last) = &mut self.last {
            let (old, new) = (&self.derived, &prepared.derived);
            let changed: Vec<bool> =
                if reuse { edited } else { edited.iter().enumerate().map(|(i, e)| *e || old.facts[i] != new.facts[i]).collect() };
            let data_changed: Vec<bool> = if reuse {
                vec![false; model.data.len()]
            } else {
                (0..model.data.len()).map(|d| last.data[d] != model.data[d] || old.data[d] != new.data[d]).collect()
            };
            let drawings_changed = !last.layouts().eq(model.layouts());
            let decisions_changed = last.decisions != model.decisions;
            let anything = drawings_changed || changed.contains(&true) || data_changed.contains(&true);
            let mut evaluated = 0;
            for (i, result) in self.results.iter_mut().enumerate() {
                let r = &result.reads;
                let again = changed[i]
                    || (r.drawings && anything)
                    || r.elements.iter().any(|&k| changed[k as usize])
                    || r.data.iter().any(|&d| data_changed[d as usize])
                    || (decisions_changed && !model.elements[i].in_scope());
                if again {
                    *result = evaluate(i as u32);
                    evaluated += 1;
                }
            }
            self.evaluated = evaluated;
            for (i, c) in changed.iter().enumerate() {
                if *c {
                    last.elements[i].clone_from(&model.elements[i]);
                }
            }
            for (d, c) in data_changed.iter().enumerate() {
                if *c {
                    last.data[d].clone_from(&model.data[d]);
                }
            }
            if drawings_changed {
                last.layout.clone_from(&model.layout);
                last.diagrams.clone_from(&model.diagrams);
            }
            if decisions_changed {
                last.decisions.clone_from(&model.decisions);
            }
        } else {
            self.results = in_parallel(model.elements.len(), |range| range.map(|i| evaluate(i as u32)).collect());
            self.evaluated = model.elements.len();
            self.last = Some(model.clone());
            self.rules = rules.rules.iter().map(|r| (r.id.clone(), r.targets, r.condition.source().to_owned())).collect();
            self.exclude.clone_from(&options.exclude);
        }
        prepared.track = false;
        self.derived = Arc::clone(&prepared.derived);
        let mut findings = Vec::with_capacity(self.results.iter().map(|r| r.findings.len()).sum());
        let mut excluded = Vec::with_capacity(self.results.iter().map(|r| r.excluded.len()).sum());
        for r in &self.results {
            findings.extend_from_slice(&r.findings);
            excluded.extend_from_slice(&r.excluded);
        }
        Analysis { prepared, rules, findings, excluded }
    }
}

impl<'a> Analysis<'a> {
    /// The rule of a finding.
    pub fn rule(&self, f: &Finding) -> &'a Rule {
        &self.rules.rules[f.rule as usize]
    }

    /// The stable key of a finding: `rule id @ element id`.
    pub fn key(&self, f: &Finding) -> String {
        format!("{}@{}", self.rule(f).id, self.prepared.element(f.element).id)
    }

    /// The finding's severity, after overrides.
    pub fn severity(&self, f: &Finding) -> Severity {
        let rule = self.rule(f);
        self.prepared
            .override_for(f.element, &rule.id)
            .and_then(|o| o.severity.as_deref())
            .and_then(Severity::parse)
            .unwrap_or(rule.severity)
    }

    /// The finding with its text, override and title.
    pub fn view(&self, f: &'a Finding) -> FindingView<'a> {
        let rule = self.rule(f);
        let e = self.prepared.element(f.element);
        let o = self.prepared.override_for(f.element, &rule.id);
        let pick = |field: fn(&Override) -> &Option<String>, default: &'a str| -> &'a str {
            o.and_then(|o| field(o).as_deref()).unwrap_or(default)
        };
        FindingView {
            key: self.key(f),
            threat_id: &rule.id,
            title: rule.title_for(&self.prepared, f.element),
            element_id: &e.id,
            element_name: &e.name,
            element_kind: e.kind,
            severity: self.severity(f),
            likelihood: pick(|o| &o.likelihood, &rule.likelihood),
            stride: rule.stride.iter().map(|s| s.name()).collect(),
            description: match o.and_then(|o| o.description.as_deref()) {
                Some(d) => d.into(),
                None => rule.description_for(&self.prepared, f.element),
            },
            details: pick(|o| &o.details, &rule.details),
            prerequisites: &rule.prerequisites,
            mitigations: match o.and_then(|o| o.mitigations.as_deref()) {
                Some(m) => vec![m.into()],
                None => rule.mitigations_for(&self.prepared, f.element),
            },
            example: pick(|o| &o.example, &rule.example),
            references: match o.and_then(|o| o.references.as_deref()) {
                Some(r) => vec![r],
                None => rule.references.iter().map(String::as_str).collect(),
            },
            cvss: pick(|o| &o.cvss, ""),
            response: pick(|o| &o.response, ""),
            condition: rule.condition.source(),
            pack: &rule.pack,
            forced: f.forced,
            excluded_by: f.excluded_by.as_deref(),
        }
    }

    /// Why a finding fired: the clauses of its rule's condition that held, with the values they
    /// read. Empty for findings forced by an override.
    pub fn explain(&self, f: &Finding) -> Vec<Evidence> {
        self.rule(f).condition.explain(&self.prepared, f.element)
    }

    /// Counts of findings per severity, highest first.
    pub fn counts(&self) -> Vec<(Severity, usize)> {
        let mut counts: Vec<(Severity, usize)> = Severity::ALL.iter().rev().map(|s| (*s, 0)).collect();
        for f in &self.findings {
            let s = self.severity(f);
            if let Some(c) = counts.iter_mut().find(|(x, _)| *x == s) {
                c.1 += 1;
            }
        }
        counts
    }
}

/// A custom value as the condition language sees it (`None` when unset).
pub(crate) fn prop_value(v: Option<&PropValue>) -> Value<'_> {
    match v {
        Some(PropValue::Bool(b)) => Value::Bool(*b),
        Some(PropValue::Int(i)) => Value::Int(*i),
        Some(PropValue::Text(t)) => Value::Str(t),
        None => Value::None,
    }
}
