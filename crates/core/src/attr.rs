//! The attribute vocabulary: kinds, enums, values and the one macro that declares every attribute
//! of an element, its controls and its data items exactly once (field, JSON name, type, default,
//! kinds it applies to, documentation).
//!
//! Everything that needs to know about attributes reads the generated tables: the file loader
//! (applicability and "did you mean" hints), `threatmap describe`, the JSON Schema and the rule
//! compiler (which resolves attribute paths once, at load time).

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The kind of an element. Dataflows and trust boundaries are elements too, as in pytm.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
pub enum Kind {
    /// A person or role that uses the system.
    Actor,
    /// A system or party outside the control of the modelled system.
    ExternalEntity,
    /// A running piece of code.
    #[default]
    Process,
    /// Several processes treated as one (a service, a fleet).
    SetOfProcesses,
    /// A server: a process that accepts network connections.
    Server,
    /// Persistent storage: a database, a file system, a bucket.
    Datastore,
    /// A serverless function.
    Lambda,
    /// A large language model, hosted or called as a service.
    #[serde(rename = "LLM")]
    Llm,
    /// An autonomous agent that plans and calls tools.
    Agent,
    /// A generic asset (pytm's `Asset`), for anything that fits no other kind.
    Asset,
    /// A flow of data from a source element to a sink element.
    Dataflow,
    /// A trust boundary; boundaries nest.
    Boundary,
}

impl Kind {
    /// Every kind, in palette order.
    pub const ALL: [Kind; 12] = [
        Kind::Actor,
        Kind::ExternalEntity,
        Kind::Process,
        Kind::SetOfProcesses,
        Kind::Server,
        Kind::Datastore,
        Kind::Lambda,
        Kind::Llm,
        Kind::Agent,
        Kind::Asset,
        Kind::Dataflow,
        Kind::Boundary,
    ];

    /// The name used in files, rules and messages (pytm's class name).
    pub const fn name(self) -> &'static str {
        match self {
            Kind::Actor => "Actor",
            Kind::ExternalEntity => "ExternalEntity",
            Kind::Process => "Process",
            Kind::SetOfProcesses => "SetOfProcesses",
            Kind::Server => "Server",
            Kind::Datastore => "Datastore",
            Kind::Lambda => "Lambda",
            Kind::Llm => "LLM",
            Kind::Agent => "Agent",
            Kind::Asset => "Asset",
            Kind::Dataflow => "Dataflow",
            Kind::Boundary => "Boundary",
        }
    }

    /// The name shown to people (palette, inspector): words, not a class name.
    pub const fn label(self) -> &'static str {
        match self {
            Kind::ExternalEntity => "External Entity",
            Kind::SetOfProcesses => "Set of Processes",
            k => k.name(),
        }
    }

    /// One sentence on what the kind is for.
    pub const fn summary(self) -> &'static str {
        match self {
            Kind::Actor => "A person or role that uses the system.",
            Kind::ExternalEntity => "A system or party outside the control of the modelled system.",
            Kind::Process => "A running piece of code.",
            Kind::SetOfProcesses => "Several processes treated as one (a service, a fleet).",
            Kind::Server => "A server: a process that accepts network connections.",
            Kind::Datastore => "Persistent storage: a database, a file system, a bucket.",
            Kind::Lambda => "A serverless function.",
            Kind::Llm => "A large language model, hosted or called as a service.",
            Kind::Agent => "An autonomous agent that plans and calls tools.",
            Kind::Asset => "A generic asset, for anything that fits no other kind.",
            Kind::Dataflow => "A flow of data from a source element to a sink element.",
            Kind::Boundary => "A trust boundary; elements and boundaries inside it belong to it.",
        }
    }

    /// Looks a kind up by its file name (`"LLM"`, `"Server"`), case-sensitively.
    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The set holding just this kind.
    pub const fn set(self) -> KindSet {
        KindSet(1 << self as u16)
    }

    /// True for the kinds drawn as nodes (everything but dataflows and boundaries).
    pub const fn is_node(self) -> bool {
        !matches!(self, Kind::Dataflow | Kind::Boundary)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of kinds, as a bit mask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct KindSet(u16);

impl KindSet {
    /// No kind.
    pub const EMPTY: KindSet = KindSet(0);
    /// Every kind (pytm's `Element`).
    pub const ALL: KindSet = KindSet((1 << 12) - 1);
    /// Nodes: everything but dataflows and boundaries.
    pub const NODES: KindSet = KindSet(Self::ALL.0 & !(1 << Kind::Dataflow as u16) & !(1 << Kind::Boundary as u16));
    /// pytm's `Asset` and its subclasses: every node but actors.
    pub const ASSETS: KindSet = KindSet(Self::NODES.0 & !(1 << Kind::Actor as u16));
    /// pytm's `Process` class: processes and sets of processes.
    pub const PROCESSES: KindSet = KindSet((1 << Kind::Process as u16) | (1 << Kind::SetOfProcesses as u16));

    /// The union of two sets.
    pub const fn with(self, other: KindSet) -> KindSet {
        KindSet(self.0 | other.0)
    }

    /// True if `kind` is in the set.
    pub const fn contains(self, kind: Kind) -> bool {
        self.0 & (1 << kind as u16) != 0
    }

    /// True if the sets share a kind.
    pub const fn intersects(self, other: KindSet) -> bool {
        self.0 & other.0 != 0
    }

    /// True if the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The kinds in the set, in [`Kind::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = Kind> {
        Kind::ALL.into_iter().filter(move |k| self.contains(*k))
    }
}

/// A class a rule can target or a condition can name: pytm's class tree, where `Element` is
/// every kind, `Asset` every node but actors and `Process` also matches `SetOfProcesses`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    /// Every element.
    Element,
    /// Every node but actors.
    Asset,
    /// One kind (and, for `Process`, its subclass `SetOfProcesses`).
    Kind(Kind),
}

impl Class {
    /// Parses a class name as rules write it.
    pub fn from_name(name: &str) -> Option<Class> {
        match name {
            "Element" => Some(Class::Element),
            "Asset" => Some(Class::Asset),
            other => Kind::from_name(other).map(Class::Kind),
        }
    }

    /// The kinds this class matches (pytm's `isinstance`).
    pub const fn kinds(self) -> KindSet {
        match self {
            Class::Element => KindSet::ALL,
            Class::Asset => KindSet::ASSETS,
            Class::Kind(Kind::Process) => KindSet::PROCESSES,
            Class::Kind(k) => k.set(),
        }
    }

    /// The class name.
    pub const fn name(self) -> &'static str {
        match self {
            Class::Element => "Element",
            Class::Asset => "Asset",
            Class::Kind(k) => k.name(),
        }
    }
}

macro_rules! named_enum {
    (
        $(#[$meta:meta])*
        pub enum $E:ident ($ty_name:literal, ordered: $ordered:literal) {
            $( $(#[doc = $doc:literal])+ $V:ident = $name:literal $(| $alias:literal)* ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
        pub enum $E {
            $( $(#[doc = $doc])+ #[serde(rename = $name $(, alias = $alias)*)] $V ),+
        }

        impl Default for $E {
            fn default() -> $E {
                $E::MEMBERS[0]
            }
        }

        impl $E {
            /// The members in declaration (and, for ordered enums, ascending) order.
            pub const MEMBERS: &'static [$E] = &[$($E::$V),+];
            /// The enum's name in conditions (`Classification.SECRET`).
            pub const TYPE_NAME: &'static str = $ty_name;
            /// True if members compare with `<` and `>` in conditions.
            pub const ORDERED: bool = $ordered;

            /// The member's name in files and conditions.
            pub const fn name(self) -> &'static str {
                match self { $($E::$V => $name),+ }
            }

            /// Looks a member up by name (aliases included).
            pub fn from_name(name: &str) -> Option<$E> {
                match name {
                    $($name $(| $alias)* => Some($E::$V),)+
                    _ => None,
                }
            }
        }

        impl fmt::Display for $E {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

named_enum! {
    /// How sensitive data is; ordered from UNKNOWN to TOP_SECRET.
    pub enum Classification ("Classification", ordered: true) {
        /// Not classified (the default).
        Unknown = "UNKNOWN",
        /// Meant for anyone.
        Public = "PUBLIC",
        /// For a limited audience.
        Restricted = "RESTRICTED",
        /// Harmful if disclosed.
        Sensitive = "SENSITIVE",
        /// Seriously harmful if disclosed.
        Secret = "SECRET",
        /// The most protected class.
        TopSecret = "TOP_SECRET",
    }
}

named_enum! {
    /// A TLS or SSL protocol version; ordered from NONE to TLSv13.
    pub enum TlsVersion ("TLSVersion", ordered: true) {
        /// No transport encryption (the default).
        None = "NONE",
        /// SSL 1.0.
        Sslv1 = "SSLv1",
        /// SSL 2.0.
        Sslv2 = "SSLv2",
        /// SSL 3.0.
        Sslv3 = "SSLv3",
        /// TLS 1.0.
        Tlsv10 = "TLSv10",
        /// TLS 1.1.
        Tlsv11 = "TLSv11",
        /// TLS 1.2.
        Tlsv12 = "TLSv12",
        /// TLS 1.3.
        Tlsv13 = "TLSv13",
    }
}

named_enum! {
    /// How long credentials stay valid.
    pub enum Lifetime ("Lifetime", ordered: false) {
        /// Not credentials, or no lifetime (the default).
        None = "NONE",
        /// Credentials whose lifetime is not known.
        Unknown = "UNKNOWN",
        /// Short-lived credentials (minutes to hours).
        Short = "SHORT" | "SHORT_LIVED",
        /// Long-lived credentials (days or more).
        Long = "LONG" | "LONG_LIVED",
        /// Credentials revoked automatically.
        Auto = "AUTO" | "AUTO_REVOKABLE",
        /// Credentials that must be revoked by hand.
        Manual = "MANUAL" | "MANUALLY_REVOKABLE",
        /// Credentials compiled or written into code or configuration.
        Hardcoded = "HARDCODED",
    }
}

named_enum! {
    /// The technology of a data store.
    pub enum DatastoreType ("DatastoreType", ordered: false) {
        /// Not known (the default).
        Unknown = "UNKNOWN",
        /// Files on a file system.
        FileSystem = "FILE_SYSTEM",
        /// A relational database.
        Sql = "SQL",
        /// An LDAP directory.
        Ldap = "LDAP",
        /// An Amazon S3 bucket.
        AwsS3 = "AWS_S3",
    }
}

named_enum! {
    /// What to do with duplicate dataflows (same source, sink and attributes).
    pub enum Action ("Action", ordered: false) {
        /// Keep them all (the default).
        NoAction = "NO_ACTION",
        /// Reject the model.
        Restrict = "RESTRICT",
        /// Keep them but draw only the first.
        Ignore = "IGNORE",
    }
}

/// An enum value as conditions see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EnumValue {
    /// A [`Classification`].
    Classification(Classification),
    /// A [`TlsVersion`].
    TlsVersion(TlsVersion),
    /// A [`Lifetime`].
    Lifetime(Lifetime),
    /// A [`DatastoreType`].
    DatastoreType(DatastoreType),
    /// An [`Action`].
    Action(Action),
}

impl EnumValue {
    /// Parses `Type.MEMBER` given the two halves.
    pub fn parse(type_name: &str, member: &str) -> Option<EnumValue> {
        match type_name {
            Classification::TYPE_NAME => Classification::from_name(member).map(EnumValue::Classification),
            TlsVersion::TYPE_NAME => TlsVersion::from_name(member).map(EnumValue::TlsVersion),
            Lifetime::TYPE_NAME => Lifetime::from_name(member).map(EnumValue::Lifetime),
            DatastoreType::TYPE_NAME => DatastoreType::from_name(member).map(EnumValue::DatastoreType),
            Action::TYPE_NAME => Action::from_name(member).map(EnumValue::Action),
            _ => None,
        }
    }

    /// The names of the enum types conditions may use.
    pub const TYPE_NAMES: [&'static str; 5] =
        [Classification::TYPE_NAME, TlsVersion::TYPE_NAME, Lifetime::TYPE_NAME, DatastoreType::TYPE_NAME, Action::TYPE_NAME];

    /// The members of the named enum type, for hints.
    pub fn member_names(type_name: &str) -> Vec<&'static str> {
        fn names<T: Copy>(members: &[T], name: fn(T) -> &'static str) -> Vec<&'static str> {
            members.iter().map(|m| name(*m)).collect()
        }
        match type_name {
            Classification::TYPE_NAME => names(Classification::MEMBERS, Classification::name),
            TlsVersion::TYPE_NAME => names(TlsVersion::MEMBERS, TlsVersion::name),
            Lifetime::TYPE_NAME => names(Lifetime::MEMBERS, Lifetime::name),
            DatastoreType::TYPE_NAME => names(DatastoreType::MEMBERS, DatastoreType::name),
            Action::TYPE_NAME => names(Action::MEMBERS, Action::name),
            _ => Vec::new(),
        }
    }

    /// The position of an ordered enum's member, or `None` for unordered enums.
    pub fn rank(self) -> Option<(u8, u8)> {
        match self {
            EnumValue::Classification(c) => Some((0, c as u8)),
            EnumValue::TlsVersion(t) => Some((1, t as u8)),
            _ => None,
        }
    }
}

impl EnumValue {
    /// The enum's name (`Classification`).
    pub const fn type_name(self) -> &'static str {
        match self {
            EnumValue::Classification(_) => Classification::TYPE_NAME,
            EnumValue::TlsVersion(_) => TlsVersion::TYPE_NAME,
            EnumValue::Lifetime(_) => Lifetime::TYPE_NAME,
            EnumValue::DatastoreType(_) => DatastoreType::TYPE_NAME,
            EnumValue::Action(_) => Action::TYPE_NAME,
        }
    }

    /// The member's name (`SECRET`).
    pub const fn member(self) -> &'static str {
        match self {
            EnumValue::Classification(v) => v.name(),
            EnumValue::TlsVersion(v) => v.name(),
            EnumValue::Lifetime(v) => v.name(),
            EnumValue::DatastoreType(v) => v.name(),
            EnumValue::Action(v) => v.name(),
        }
    }
}

impl fmt::Display for EnumValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.type_name(), self.member())
    }
}

/// The static type of an attribute, used to check rule paths at load time and by `describe`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    /// `True` or `False`.
    Bool,
    /// An integer.
    Int,
    /// A string.
    Str,
    /// A member of the named enum type.
    Enum(&'static str),
    /// A set of integer levels.
    Levels,
    /// A list of strings.
    Strs,
    /// A reference to an element of one of these kinds, or `None`.
    Node(KindSet),
    /// A list of elements of these kinds.
    Nodes(KindSet),
    /// An element's `controls`.
    Controls,
    /// A data item.
    Data,
    /// A set of data items.
    DataSet,
}

impl fmt::Display for Ty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ty::Bool => f.write_str("bool"),
            Ty::Int => f.write_str("int"),
            Ty::Str => f.write_str("str"),
            Ty::Enum(name) => f.write_str(name),
            Ty::Levels => f.write_str("set[int]"),
            Ty::Strs => f.write_str("list[str]"),
            Ty::Node(k) if *k == Kind::Boundary.set() => f.write_str("Boundary or None"),
            Ty::Node(k) if *k == Kind::Dataflow.set() => f.write_str("Dataflow or None"),
            Ty::Node(_) => f.write_str("Element"),
            Ty::Nodes(k) if *k == Kind::Dataflow.set() => f.write_str("list[Dataflow]"),
            Ty::Nodes(_) => f.write_str("list[Element]"),
            Ty::Controls => f.write_str("Controls"),
            Ty::Data => f.write_str("Data"),
            Ty::DataSet => f.write_str("set[Data]"),
        }
    }
}

/// A value as the condition language sees it. Borrowed from the model and the rules, so
/// evaluating a condition allocates nothing but tuples.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    /// Python's `None`.
    None,
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A string.
    Str(&'a str),
    /// An enum member.
    Enum(EnumValue),
    /// A class named in a condition (`Boundary`, `Process`).
    Class(Class),
    /// An element (node, dataflow or boundary), by index into the model's elements.
    Node(u32),
    /// The `controls` of an element.
    Controls(u32),
    /// A data item, by index into the model's data.
    Data(u32),
    /// A list of elements.
    Nodes(&'a [u32]),
    /// A set of data items.
    DataSet(&'a [u32]),
    /// A set of levels.
    Levels(&'a [u32]),
    /// A list of strings.
    Strs(&'a [String]),
    /// A tuple written in a condition.
    Tuple(Vec<Value<'a>>),
}

/// Conversion of a stored attribute to a [`Value`], and its static [`Ty`].
pub trait AttrType {
    /// The static type.
    const TY: Ty;
    /// The value conditions see.
    fn value(&self) -> Value<'_>;
}

impl AttrType for bool {
    const TY: Ty = Ty::Bool;
    fn value(&self) -> Value<'_> {
        Value::Bool(*self)
    }
}
impl AttrType for i64 {
    const TY: Ty = Ty::Int;
    fn value(&self) -> Value<'_> {
        Value::Int(*self)
    }
}
impl AttrType for String {
    const TY: Ty = Ty::Str;
    fn value(&self) -> Value<'_> {
        Value::Str(self)
    }
}
impl AttrType for Vec<u32> {
    const TY: Ty = Ty::Levels;
    fn value(&self) -> Value<'_> {
        Value::Levels(self)
    }
}
impl AttrType for Vec<String> {
    const TY: Ty = Ty::Strs;
    fn value(&self) -> Value<'_> {
        Value::Strs(self)
    }
}
macro_rules! enum_attr_type {
    ($($E:ident),*) => {$(
        impl AttrType for $E {
            const TY: Ty = Ty::Enum($E::TYPE_NAME);
            fn value(&self) -> Value<'_> {
                Value::Enum(EnumValue::$E(*self))
            }
        }
    )*};
}
enum_attr_type!(Classification, TlsVersion, Lifetime, DatastoreType);

/// One declared attribute: the row `threatmap describe` prints and the loader and rule compiler
/// check against.
#[derive(Debug, Clone, Copy)]
pub struct AttrDef<K: 'static> {
    /// The key the getter takes.
    pub key: K,
    /// The name in files and conditions (pytm's name).
    pub name: &'static str,
    /// The static type.
    pub ty: Ty,
    /// The kinds that have the attribute.
    pub kinds: KindSet,
    /// What the attribute means.
    pub doc: &'static str,
    /// The value when unset, per kind (pytm's defaults; a few differ by kind).
    pub default: fn(Kind) -> Value<'static>,
}

impl<K> AttrDef<K> {
    /// The documentation as one trimmed paragraph.
    pub fn doc_text(&self) -> String {
        self.doc.split('\n').map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ")
    }
}

/// Declares a struct of optional attributes plus fixed fields, its key enum, its attribute
/// table and its getter. Unset attributes read as their declared default.
macro_rules! attributes {
    (
        $(#[$smeta:meta])*
        pub struct $S:ident, key $K:ident {
            head { $( $(#[$hmeta:meta])* pub $hf:ident : $ht:ty, )* }
            attrs { $( $(#[doc = $doc:literal])+ $json:literal $f:ident : $t:ty = $default:expr, $kinds:expr; )* }
            tail { $( $(#[$tmeta:meta])* pub $tf:ident : $tt:ty, )* }
        }
    ) => {
        $(#[$smeta])*
        #[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
        #[serde(deny_unknown_fields)]
        pub struct $S {
            $( $(#[$hmeta])* pub $hf: $ht, )*
            $(
                $(#[doc = $doc])+
                #[serde(rename = $json, default, skip_serializing_if = "Option::is_none")]
                pub $f: Option<$t>,
            )*
            $( $(#[$tmeta])* pub $tf: $tt, )*
        }

        #[doc = concat!("The optional attributes of [`", stringify!($S), "`], as keys for its getter.")]
        #[allow(non_camel_case_types, missing_docs)]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $K { $($f),* }

        impl $S {
            /// The declared attributes, in file order.
            pub const ATTRIBUTES: &'static [$crate::attr::AttrDef<$K>] = &[
                $( $crate::attr::AttrDef {
                    key: $K::$f,
                    name: $json,
                    ty: <$t as $crate::attr::AttrType>::TY,
                    kinds: $kinds,
                    doc: concat!($($doc, "\n"),+),
                    default: $default,
                }, )*
            ];

            /// The value of an attribute: the stored one, or the default for `kind`.
            pub fn get(&self, key: $K, kind: $crate::attr::Kind) -> $crate::attr::Value<'_> {
                use $crate::attr::AttrType as _;
                match key {
                    $( $K::$f => match &self.$f {
                        Some(v) => v.value(),
                        None => ($default)(kind),
                    }, )*
                }
            }

            /// Sets an attribute from a JSON value of its type.
            pub fn set_json(&mut self, key: $K, value: &serde_json::Value) -> Result<(), serde_json::Error> {
                match key {
                    $( $K::$f => self.$f = Some(<$t as serde::Deserialize>::deserialize(value)?), )*
                }
                Ok(())
            }

            /// Unsets an attribute (it reads as its default again).
            pub fn clear(&mut self, key: $K) {
                match key { $( $K::$f => self.$f = None, )* }
            }

            /// True if the attribute was given a value.
            pub fn is_set(&self, key: $K) -> bool {
                match key { $( $K::$f => self.$f.is_some(), )* }
            }

            /// The attributes that were given a value.
            pub fn set_attributes(&self) -> impl Iterator<Item = &'static $crate::attr::AttrDef<$K>> + '_ {
                // Read every field straight away (one load each), not one `is_set` dispatch per
                // attribute: checking a model looks at every element's attributes.
                let set = [$( self.$f.is_some(), )*];
                Self::ATTRIBUTES.iter().zip(set).filter_map(|(d, s)| s.then_some(d))
            }

            /// The definition of an attribute (the key enum follows the table's order).
            pub fn def(key: $K) -> &'static $crate::attr::AttrDef<$K> {
                &Self::ATTRIBUTES[key as usize]
            }

            /// Looks an attribute up by its file name.
            pub fn attribute(name: &str) -> Option<&'static $crate::attr::AttrDef<$K>> {
                match name {
                    $( $json => Some(Self::def($K::$f)), )*
                    _ => None,
                }
            }
        }
    };
}
pub(crate) use attributes;

/// Defaults that do not depend on the kind.
pub(crate) mod dflt {
    use super::{Kind, Value};
    pub(crate) fn f(_: Kind) -> Value<'static> {
        Value::Bool(false)
    }
    pub(crate) fn t(_: Kind) -> Value<'static> {
        Value::Bool(true)
    }
    pub(crate) fn empty(_: Kind) -> Value<'static> {
        Value::Str("")
    }
    pub(crate) fn minus_one(_: Kind) -> Value<'static> {
        Value::Int(-1)
    }
    pub(crate) fn no_strs(_: Kind) -> Value<'static> {
        Value::Strs(&[])
    }
    pub(crate) fn level0(_: Kind) -> Value<'static> {
        Value::Levels(&[0])
    }
}
