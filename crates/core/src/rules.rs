//! Rules: what they are, the two file formats that hold them, and the built-in packs.
//!
//! - Native rule packs are TOML (`rules/*.toml`): a `[pack]` table and `[[rule]]` entries.
//! - pytm's `threats.json` (a JSON array of objects with `SID`) loads unchanged.
//!
//! A rule that cannot be compiled is reported with its file, line and column and skipped; the
//! other rules of the file still load.

use std::fmt;
use std::path::Path;

use serde::Deserialize;

use crate::attr::{Class, KindSet, Value};
use crate::engine::Prepared;
use crate::expr::{CompileError, Condition};

/// How bad a threat is, from pytm's scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub enum Severity {
    /// Informational.
    Info,
    /// Very low.
    VeryLow,
    /// Low.
    Low,
    /// Medium.
    Medium,
    /// High.
    High,
    /// Very high (critical).
    VeryHigh,
}

impl Severity {
    /// All severities, lowest first.
    pub const ALL: [Severity; 6] = [Severity::Info, Severity::VeryLow, Severity::Low, Severity::Medium, Severity::High, Severity::VeryHigh];

    /// Parses pytm's and common spellings ("Very High", "critical", "info").
    pub fn parse(s: &str) -> Option<Severity> {
        let norm: String = s.trim().to_lowercase().chars().filter(|c| c.is_ascii_alphabetic()).collect();
        Some(match norm.as_str() {
            "info" | "informational" | "none" => Severity::Info,
            "verylow" => Severity::VeryLow,
            "low" => Severity::Low,
            "medium" | "moderate" => Severity::Medium,
            "high" => Severity::High,
            "veryhigh" | "critical" => Severity::VeryHigh,
            _ => return None,
        })
    }

    /// The display name ("Very High").
    pub const fn name(self) -> &'static str {
        match self {
            Severity::Info => "Info",
            Severity::VeryLow => "Very Low",
            Severity::Low => "Low",
            Severity::Medium => "Medium",
            Severity::High => "High",
            Severity::VeryHigh => "Very High",
        }
    }

    /// pytm's numeric scale (0 info .. 5 very high).
    pub const fn score(self) -> u8 {
        self as u8
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A STRIDE category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stride {
    /// Pretending to be someone or something else.
    Spoofing,
    /// Changing data or code.
    Tampering,
    /// Denying having done something.
    Repudiation,
    /// Exposing information.
    InformationDisclosure,
    /// Making a service unavailable.
    DenialOfService,
    /// Gaining rights one should not have.
    ElevationOfPrivilege,
}

impl Stride {
    /// The six categories, in STRIDE order.
    pub const ALL: [Stride; 6] = [
        Stride::Spoofing,
        Stride::Tampering,
        Stride::Repudiation,
        Stride::InformationDisclosure,
        Stride::DenialOfService,
        Stride::ElevationOfPrivilege,
    ];

    const NAMES: [(&'static str, Stride); 6] = [
        ("Spoofing", Stride::Spoofing),
        ("Tampering", Stride::Tampering),
        ("Repudiation", Stride::Repudiation),
        ("Information Disclosure", Stride::InformationDisclosure),
        ("Denial of Service", Stride::DenialOfService),
        ("Elevation of Privilege", Stride::ElevationOfPrivilege),
    ];

    /// Parses a category name, ignoring case, spaces and plurals, with the usual short forms
    /// (`DoS`, `EoP`, "privilege escalation").
    pub fn parse(s: &str) -> Option<Stride> {
        let norm = |x: &str| x.to_lowercase().replace([' ', '-', '_'], "");
        let full = norm(s);
        let single = full.strip_suffix('s').unwrap_or(&full).to_owned();
        let alias = |w: &str| match w {
            "spoof" => Some(Stride::Spoofing),
            "tamper" => Some(Stride::Tampering),
            "infodisclosure" | "disclosure" | "informationleak" | "dataleak" => Some(Stride::InformationDisclosure),
            "dos" | "ddos" => Some(Stride::DenialOfService),
            "eop" | "privilegeescalation" | "escalationofprivilege" => Some(Stride::ElevationOfPrivilege),
            _ => None,
        };
        [full.as_str(), single.as_str()]
            .into_iter()
            .find_map(|w| Self::NAMES.iter().find(|(n, _)| norm(n) == w).map(|(_, v)| *v).or_else(|| alias(w)))
    }

    /// The display name.
    pub fn name(self) -> &'static str {
        Self::NAMES.iter().find(|(_, v)| *v == self).map_or("", |(n, _)| n)
    }
}

/// A part of a text template.
#[derive(Debug, Clone)]
enum TitlePart {
    Text(String),
    Path(Condition),
}

/// Text with `{target.x}`, `{source.x}` and `{sink.x}` placeholders filled per element.
#[derive(Debug, Clone, Default)]
pub struct Template {
    parts: Vec<TitlePart>,
}

impl Template {
    /// A template that is plain text (no placeholders).
    pub fn literal(text: &str) -> Template {
        Template { parts: if text.is_empty() { Vec::new() } else { vec![TitlePart::Text(text.to_owned())] } }
    }

    /// The text of a template without placeholders (`{{`/`}}` already undoubled).
    fn literal_text(&self) -> Option<String> {
        self.parts.iter().map(|p| if let TitlePart::Text(t) = p { Some(t.as_str()) } else { None }).collect()
    }

    /// True if the template has no placeholders.
    pub fn is_literal(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, TitlePart::Text(_)))
    }

    /// The text for no element in particular: each placeholder reads `fill` ("SQL injection
    /// through the affected components").
    pub fn generic(&self, fill: &str) -> String {
        self.parts
            .iter()
            .map(|p| match p {
                TitlePart::Text(t) => t.as_str(),
                TitlePart::Path(_) => fill,
            })
            .collect()
    }

    /// The text for one element.
    pub fn render(&self, facts: &Prepared<'_>, element: u32) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                TitlePart::Text(t) => out.push_str(t),
                TitlePart::Path(c) => match c.evaluate(facts, element) {
                    // A name drawn on two lines ("Private\nEncryption Key", as TMT and Threat
                    // Dragon keep them) reads as one line in a title or sentence.
                    Ok(Value::Str(s)) if s.contains(['\n', '\r']) => out.push_str(&crate::model::one_line(s)),
                    Ok(Value::Str(s)) => out.push_str(s),
                    Ok(Value::None) | Err(_) => out.push('?'),
                    Ok(v) => out.push_str(&crate::expr::display(facts, &v)),
                },
            }
        }
        out
    }
}

/// A threat rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Unique id (pytm's SID).
    pub id: String,
    title: Template,
    description_t: Template,
    mitigations_t: Vec<Template>,
    /// The title template as written.
    pub title_template: String,
    /// The kinds the rule applies to.
    pub targets: KindSet,
    /// The target class names as written.
    pub target_names: Vec<String>,
    /// When the rule applies.
    pub condition: Condition,
    /// How bad the threat is.
    pub severity: Severity,
    /// Likelihood of attack, as written.
    pub likelihood: String,
    /// STRIDE categories.
    pub stride: Vec<Stride>,
    /// What the threat is.
    pub description: String,
    /// More detail.
    pub details: String,
    /// What the attacker needs.
    pub prerequisites: String,
    /// How to counter it.
    pub mitigations: Vec<String>,
    /// An example attack.
    pub example: String,
    /// CAPEC, CWE and other references.
    pub references: Vec<String>,
    /// The pack (or file) the rule came from.
    pub pack: String,
}

impl Rule {
    /// The title with `{target.name}`, `{source.name}` and `{sink.name}` filled in for an
    /// element.
    pub fn title_for(&self, facts: &Prepared<'_>, element: u32) -> String {
        self.title.render(facts, element)
    }

    /// The title and description for no element in particular (a threat on several
    /// elements): each placeholder reads `fill`.
    pub fn generic_text(&self, fill: &str) -> (String, String) {
        (self.title.generic(fill), self.description_t.generic(fill))
    }

    /// True if the description and mitigations are the same for every element.
    pub fn has_literal_text(&self) -> bool {
        self.description_t.is_literal() && self.mitigations_t.iter().all(Template::is_literal)
    }

    /// The description for an element (placeholders filled for native rules).
    pub fn description_for(&self, facts: &Prepared<'_>, element: u32) -> std::borrow::Cow<'_, str> {
        if self.description_t.is_literal() { self.description.as_str().into() } else { self.description_t.render(facts, element).into() }
    }

    /// The mitigations for an element (placeholders filled for native rules).
    pub fn mitigations_for(&self, facts: &Prepared<'_>, element: u32) -> Vec<std::borrow::Cow<'_, str>> {
        self.mitigations
            .iter()
            .zip(&self.mitigations_t)
            .map(|(m, t)| if t.is_literal() { m.as_str().into() } else { t.render(facts, element).into() })
            .collect()
    }
}

/// A rule pack made from another tool's data (a TMT template, Threat Dragon or OTM threats),
/// written as a native TOML pack that users can read and edit.
#[derive(Debug, serde::Serialize)]
pub struct GeneratedPack {
    /// The `[pack]` table.
    pub pack: GeneratedHead,
    /// The rules.
    #[serde(rename = "rule")]
    pub rules: Vec<GeneratedRule>,
}

/// The `[pack]` table of a generated pack.
#[derive(Debug, serde::Serialize)]
pub struct GeneratedHead {
    /// Pack name.
    pub name: String,
    /// Title.
    pub title: String,
    /// Where it came from.
    pub description: String,
    /// The source's version, when it has one.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub version: String,
}

/// One rule of a generated pack, with the fields of a native rule.
#[derive(Debug, serde::Serialize)]
pub struct GeneratedRule {
    /// Rule id.
    pub id: String,
    /// Title template.
    pub title: String,
    /// Target kinds.
    pub targets: Vec<&'static str>,
    /// Condition.
    pub condition: String,
    /// Severity name.
    pub severity: String,
    /// STRIDE category names.
    pub stride: Vec<&'static str>,
    /// Description template.
    pub description: String,
    /// More detail.
    pub details: String,
    /// Mitigation templates.
    pub mitigations: Vec<String>,
    /// References.
    pub references: Vec<String>,
}

impl GeneratedPack {
    /// The pack of the threats another tool recorded by hand on `model`'s elements: the model
    /// is set to run it (from `pack_file`, beside the model) and the default packs. Returns the
    /// pack's TOML, empty (and the model untouched) when there are no rules.
    pub fn recorded_threats(
        model: &mut crate::model::Model,
        pack_file: &str,
        name: &str,
        origin: &str,
        rules: Vec<GeneratedRule>,
    ) -> String {
        if rules.is_empty() {
            return String::new();
        }
        model.rule_packs = std::iter::once(pack_file.to_owned()).chain(DEFAULT_PACKS.iter().map(|s| (*s).to_owned())).collect();
        let head = GeneratedHead {
            name: name.to_owned(),
            title: format!("Threats of {}", model.name),
            description: format!("The threats recorded in {origin}, one rule per threat on the elements it was recorded on."),
            version: String::new(),
        };
        GeneratedPack { pack: head, rules }.to_toml()
    }

    /// The pack as TOML text.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_default()
    }
}

/// Text that a rule template shows as it is: braces doubled.
pub fn literal_braces(s: &str) -> String {
    s.replace('{', "{{").replace('}', "}}")
}

/// A problem with a rule file or one rule in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleDiagnostic {
    /// The file (or built-in pack name).
    pub file: String,
    /// The rule concerned, when known.
    pub rule: Option<String>,
    /// 1-based line in the file, when known.
    pub line: Option<usize>,
    /// 1-based column in the file (or in the condition, see the message), when known.
    pub column: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for RuleDiagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
            if let Some(c) = self.column {
                write!(f, ":{c}")?;
            }
        }
        f.write_str(": ")?;
        if let Some(r) = &self.rule {
            write!(f, "rule {r}: ")?;
        }
        f.write_str(&self.message)
    }
}

/// Rules loaded from one or more packs, and what went wrong loading them.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    /// The usable rules, in load order.
    pub rules: Vec<Rule>,
    /// Rules and files that could not be used (each was skipped).
    pub diagnostics: Vec<RuleDiagnostic>,
}

/// A built-in rule pack.
#[derive(Debug, Clone, Copy)]
pub struct BuiltinPack {
    /// Name used on the command line and in models' `rulePacks`.
    pub name: &'static str,
    /// What the pack covers, in a few words (its `[pack]` title).
    pub title: &'static str,
    /// The pack's TOML text.
    pub text: &'static str,
}

/// The packs compiled into Threatmap.
pub const BUILTIN_PACKS: &[BuiltinPack] = &[
    BuiltinPack { name: "general", title: "General attack patterns", text: include_str!("../../../rules/general.toml") },
    BuiltinPack {
        name: "stride-interactions",
        title: "STRIDE per interaction",
        text: include_str!("../../../rules/stride-interactions.toml"),
    },
    BuiltinPack { name: "iot", title: "Embedded and IoT boards", text: include_str!("../../../rules/iot.toml") },
    BuiltinPack { name: "linddun", title: "LINDDUN privacy threats", text: include_str!("../../../rules/linddun.toml") },
    BuiltinPack { name: "ai", title: "LLM applications and agents", text: include_str!("../../../rules/ai.toml") },
    BuiltinPack { name: "cia", title: "Confidentiality, integrity, availability", text: include_str!("../../../rules/cia.toml") },
];

/// The packs a model without `rulePacks` runs.
pub const DEFAULT_PACKS: &[&str] = &["general", "stride-interactions"];

/// The packs a model asks for: its `rulePacks`, or [`DEFAULT_PACKS`] when it names none.
pub fn packs_for(model: &crate::model::Model) -> Vec<String> {
    if model.rule_packs.is_empty() { DEFAULT_PACKS.iter().map(|s| (*s).to_owned()).collect() } else { model.rule_packs.clone() }
}

/// The largest rule file accepted, in bytes.
pub const MAX_RULE_FILE_BYTES: u64 = 64 * 1024 * 1024;

impl RuleSet {
    /// An empty set.
    pub fn new() -> RuleSet {
        RuleSet::default()
    }

    /// Adds a built-in pack by name. Returns false if there is no such pack.
    pub fn add_builtin(&mut self, name: &str) -> bool {
        match BUILTIN_PACKS.iter().find(|p| p.name == name) {
            Some(p) => {
                if let Err(d) = self.add_text(p.text, &format!("<built-in {}>", p.name), p.name) {
                    self.diagnostics.push(d);
                }
                true
            }
            None => false,
        }
    }

    /// Adds a rule pack: a built-in name, or a file (native TOML or pytm JSON).
    pub fn add_pack(&mut self, spec: &str, base: Option<&Path>) -> Result<(), RuleDiagnostic> {
        if self.add_builtin(spec) {
            return Ok(());
        }
        let path = match base {
            Some(b) if Path::new(spec).is_relative() => b.join(spec),
            _ => Path::new(spec).to_path_buf(),
        };
        self.add_file(&path)
    }

    /// Adds the threats written by hand on `model`'s elements, one rule per threat that fires
    /// on its element only. A threat whose id a pack already uses, or whose severity or STRIDE
    /// category is unknown, becomes a diagnostic naming its element.
    pub fn add_model_threats(&mut self, model: &crate::model::Model) {
        const FILE: &str = "threats written in the model";
        let mut rules = Vec::new();
        for (e, t) in model.threats() {
            let problem =
                |message: String| RuleDiagnostic { file: FILE.to_owned(), rule: Some(t.id.clone()), line: None, column: None, message };
            let Some(severity) = Severity::parse(&t.severity) else {
                self.diagnostics.push(problem(format!("on {}: unknown severity `{}`", e.id, t.severity)));
                continue;
            };
            let mut stride = Vec::new();
            for c in &t.stride {
                match Stride::parse(c) {
                    Some(x) => stride.push(x.name()),
                    None => self.diagnostics.push(problem(format!("on {}: unknown STRIDE category `{c}` (left out)", e.id))),
                }
            }
            rules.push(GeneratedRule {
                id: t.id.clone(),
                title: literal_braces(&t.title),
                targets: vec![e.kind.name()],
                condition: format!("target.id == {}", crate::tmt::quoted(&e.id)),
                severity: severity.name().to_owned(),
                stride,
                description: literal_braces(&t.description),
                details: String::new(),
                mitigations: t.mitigations.iter().map(|m| literal_braces(m)).collect(),
                references: t.references.clone(),
            });
        }
        if rules.is_empty() {
            return;
        }
        let head = GeneratedHead {
            name: "model".to_owned(),
            title: format!("Threats written in {}", model.name),
            description: "The threats written by hand on the model's elements.".to_owned(),
            version: String::new(),
        };
        let text = GeneratedPack { pack: head, rules }.to_toml();
        if let Err(d) = self.add_text(&text, FILE, "model") {
            self.diagnostics.push(d);
        }
    }

    /// Adds every rule of a file. A file that cannot be read or parsed as a whole is an error;
    /// bad rules inside it become diagnostics.
    pub fn add_file(&mut self, path: &Path) -> Result<(), RuleDiagnostic> {
        let file = path.display().to_string();
        let text = crate::file::read_text(path, MAX_RULE_FILE_BYTES).map_err(|p| RuleDiagnostic {
            file: file.clone(),
            rule: None,
            line: p.line,
            column: p.column,
            message: p.message,
        })?;
        let pack = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        self.add_text(&text, &file, &pack)
    }

    /// Adds the rules in `text`, detecting its format; `file` names it in diagnostics. A text
    /// that is not a rule file at all is an error; bad rules in it become diagnostics.
    pub fn add_text(&mut self, text: &str, file: &str, pack: &str) -> Result<(), RuleDiagnostic> {
        if file.ends_with(".json") || looks_like_json_array(text) {
            self.add_pytm_json(text, file, pack)
        } else {
            self.add_toml(text, file, pack)
        }
    }

    fn push(&mut self, rule: Rule, file: &str, line: Option<usize>) {
        if self.rules.iter().any(|r| r.id == rule.id) {
            self.diagnostics.push(RuleDiagnostic {
                file: file.to_owned(),
                rule: Some(rule.id.clone()),
                line,
                column: None,
                message: "duplicate rule id; this copy is skipped".to_owned(),
            });
            return;
        }
        self.rules.push(rule);
    }

    fn add_pytm_json(&mut self, text: &str, file: &str, pack: &str) -> Result<(), RuleDiagnostic> {
        let entries: Vec<&serde_json::value::RawValue> = serde_json::from_str(text).map_err(|e| RuleDiagnostic {
            file: file.to_owned(),
            rule: None,
            line: Some(e.line()),
            column: Some(e.column()),
            message: format!("invalid JSON rule file: {e}"),
        })?;
        for raw in entries {
            let offset = raw.get().as_ptr() as usize - text.as_ptr() as usize;
            let line = text[..offset].matches('\n').count() + 1;
            let diag = |rule: Option<String>, column: Option<usize>, message: String| RuleDiagnostic {
                file: file.to_owned(),
                rule,
                line: Some(line),
                column,
                message,
            };
            let entry: PytmThreat = match serde_json::from_str(raw.get()) {
                Ok(t) => t,
                Err(e) => {
                    let id = serde_json::from_str::<serde_json::Value>(raw.get())
                        .ok()
                        .and_then(|v| v.get("SID").and_then(|s| s.as_str()).map(str::to_owned));
                    self.diagnostics.push(diag(id, None, format!("not a threat entry: {e}")));
                    continue;
                }
            };
            if entry.deprecated.is_some() {
                continue;
            }
            let targets: Vec<String> = match entry.target {
                Some(OneOrMany::One(s)) => vec![s],
                Some(OneOrMany::Many(v)) => v,
                None => vec!["Element".to_owned()],
            };
            let raw_rule = RawRule {
                id: entry.sid.clone(),
                title: None,
                targets,
                condition: entry.condition.unwrap_or_else(|| "True".to_owned()),
                severity: entry.severity.unwrap_or_default(),
                likelihood: entry.likelihood.unwrap_or_default(),
                stride: Vec::new(),
                description: entry.description.unwrap_or_default(),
                details: entry.details.unwrap_or_default(),
                prerequisites: entry.prerequisites.unwrap_or_default(),
                mitigations: OneOrMany::One(entry.mitigations.unwrap_or_default()),
                example: entry.example.unwrap_or_default(),
                references: OneOrMany::One(entry.references.unwrap_or_default()),
            };
            match compile_rule(raw_rule, pack, false) {
                Ok(rule) => self.push(rule, file, Some(line)),
                Err((column, message)) => self.diagnostics.push(diag(Some(entry.sid), column, message)),
            }
        }
        Ok(())
    }

    fn add_toml(&mut self, text: &str, file: &str, pack: &str) -> Result<(), RuleDiagnostic> {
        let doc: TomlPack = toml::from_str(text).map_err(|e| {
            let (line, column) = e.span().map(|s| line_col(text, s.start)).unzip();
            RuleDiagnostic {
                file: file.to_owned(),
                rule: None,
                line: line.or(Some(1)),
                column,
                message: format!("invalid rule file: {}", e.message()),
            }
        })?;
        let pack_name = doc.pack.as_ref().map_or(pack, |p| p.name.as_str()).to_owned();
        for spanned in doc.rule {
            let span = spanned.span();
            let (line, _) = line_col(text, span.start);
            let table = spanned.into_inner();
            let id = table.get("id").and_then(|v| v.as_str()).map(str::to_owned);
            let cond_span = find_key_value(text, span.start, "condition");
            let raw: RawRule = match toml::Value::Table(table).try_into() {
                Ok(r) => r,
                Err(e) => {
                    self.diagnostics.push(RuleDiagnostic {
                        file: file.to_owned(),
                        rule: id,
                        line: Some(line),
                        column: None,
                        message: e.message().to_owned(),
                    });
                    continue;
                }
            };
            let id = raw.id.clone();
            match compile_rule(raw, &pack_name, true) {
                Ok(rule) => self.push(rule, file, Some(line)),
                Err((column, message)) => {
                    // Point into the file when the error is in the condition.
                    let (l, c) = match (column, cond_span) {
                        (Some(c), Some(start)) => {
                            let (l, c0) = line_col(text, start);
                            (l, Some(c0 + c - 1))
                        }
                        _ => (line, None),
                    };
                    self.diagnostics.push(RuleDiagnostic { file: file.to_owned(), rule: Some(id), line: Some(l), column: c, message });
                }
            }
        }
        Ok(())
    }
}

fn looks_like_json_array(text: &str) -> bool {
    let mut chars = text.trim_start_matches('\u{feff}').trim_start().chars();
    chars.next() == Some('[') && matches!(chars.find(|c| !c.is_whitespace()), Some('{' | ']'))
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// The byte offset just inside the quotes of `key = "..."` in the table that starts at `from`
/// (up to the next table header).
fn find_key_value(text: &str, from: usize, key: &str) -> Option<usize> {
    let mut offset = from;
    for (n, line) in text.get(from..)?.split_inclusive('\n').enumerate() {
        let trimmed = line.trim_start();
        if n > 0 && trimmed.starts_with('[') {
            return None;
        }
        if let Some(rest) = trimmed.strip_prefix(key)
            && let Some(after_eq) = rest.trim_start().strip_prefix('=')
        {
            let value = after_eq.trim_start();
            let quote_len = if value.starts_with("\"\"\"") || value.starts_with("\'\'\'") { 3 } else { 1 };
            return Some(offset + (line.len() - value.len()) + quote_len);
        }
        offset += line.len();
    }
    None
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self, split: Option<&str>) -> Vec<String> {
        match self {
            OneOrMany::Many(v) => v,
            OneOrMany::One(s) if s.trim().is_empty() => Vec::new(),
            OneOrMany::One(s) => match split {
                Some(sep) => s.split(sep).map(str::trim).filter(|x| !x.is_empty()).map(str::to_owned).collect(),
                None => vec![s],
            },
        }
    }
}

#[derive(Debug, Deserialize)]
struct PytmThreat {
    #[serde(rename = "SID")]
    sid: String,
    target: Option<OneOrMany>,
    description: Option<String>,
    details: Option<String>,
    #[serde(rename = "Likelihood Of Attack")]
    likelihood: Option<String>,
    severity: Option<String>,
    condition: Option<String>,
    prerequisites: Option<String>,
    mitigations: Option<String>,
    example: Option<String>,
    references: Option<String>,
    #[serde(rename = "DEPRECATED")]
    deprecated: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TomlPack {
    pack: Option<PackInfo>,
    #[serde(default)]
    rule: Vec<toml::Spanned<toml::Table>>,
}

/// The `[pack]` table of a native rule file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PackInfo {
    name: String,
    #[serde(default)]
    #[allow(dead_code)]
    title: String,
    #[serde(default)]
    #[allow(dead_code)]
    description: String,
    #[serde(default)]
    #[allow(dead_code)]
    version: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: String,
    title: Option<String>,
    targets: Vec<String>,
    condition: String,
    severity: String,
    #[serde(default)]
    likelihood: String,
    #[serde(default)]
    stride: Vec<String>,
    #[serde(default)]
    description: String,
    #[serde(default)]
    details: String,
    #[serde(default)]
    prerequisites: String,
    mitigations: OneOrMany,
    #[serde(default)]
    example: String,
    references: OneOrMany,
}

/// Compiles a rule; an error carries the column within the condition, when it is there.
fn compile_rule(raw: RawRule, pack: &str, interpolate: bool) -> Result<Rule, (Option<usize>, String)> {
    if raw.id.trim().is_empty() {
        return Err((None, "the rule has no id".to_owned()));
    }
    let mut targets = KindSet::EMPTY;
    for name in &raw.targets {
        match Class::from_name(name) {
            Some(c) => targets = targets.with(c.kinds()),
            None => {
                let names = ["Element", "Asset"].into_iter().chain(crate::attr::Kind::ALL.iter().map(|k| k.name()));
                let hint = crate::file::closest(name, names).map(|c| format!("; did you mean `{c}`?")).unwrap_or_default();
                return Err((None, format!("unknown target class `{name}`{hint}")));
            }
        }
    }
    if targets.is_empty() {
        return Err((None, "the rule targets no kind".to_owned()));
    }
    let severity = Severity::parse(&raw.severity)
        .ok_or_else(|| (None, format!("unknown severity `{}` (use Info, Very Low, Low, Medium, High or Very High)", raw.severity)))?;
    let mut stride = Vec::new();
    for s in &raw.stride {
        stride.push(Stride::parse(s).ok_or_else(|| (None, format!("unknown STRIDE category `{s}`")))?);
    }
    let condition = Condition::compile(&raw.condition, targets).map_err(|CompileError { column, message }| (Some(column), message))?;
    let template = raw.title.clone().unwrap_or_else(|| raw.description.clone());
    let compile_text = |text: &str, what: &str| -> Result<Template, (Option<usize>, String)> {
        if interpolate { parse_title(text, targets).map_err(|m| (None, format!("{what}: {m}"))) } else { Ok(Template::literal(text)) }
    };
    let title = compile_text(&template, "title")?;
    let description_t = compile_text(&raw.description, "description")?;
    let mitigations = raw.mitigations.into_vec(None);
    let mitigations_t = mitigations.iter().map(|m| compile_text(m, "mitigations")).collect::<Result<Vec<_>, _>>()?;
    // Text without placeholders is kept with its doubled braces undone.
    let description = description_t.literal_text().unwrap_or(raw.description);
    let mitigations = mitigations.iter().zip(&mitigations_t).map(|(m, t)| t.literal_text().unwrap_or_else(|| m.clone())).collect();
    Ok(Rule {
        id: raw.id,
        title,
        description_t,
        mitigations_t,
        title_template: template,
        targets,
        target_names: raw.targets,
        condition,
        severity,
        likelihood: raw.likelihood,
        stride,
        description,
        details: raw.details,
        prerequisites: raw.prerequisites,
        mitigations,
        example: raw.example,
        references: raw.references.into_vec(Some(", ")),
        pack: pack.to_owned(),
    })
}

/// Parses a title template: `{target.x}`, `{source.x}` and `{sink.x}` are filled per element;
/// `{{` and `}}` are literal braces.
fn parse_title(template: &str, targets: KindSet) -> Result<Template, String> {
    let mut parts = Vec::new();
    let mut text = String::new();
    let mut rest = template;
    while let Some(i) = rest.find(['{', '}']) {
        text.push_str(&rest[..i]);
        let c = rest.as_bytes()[i];
        if rest[i + 1..].starts_with(c as char) {
            text.push(c as char);
            rest = &rest[i + 2..];
            continue;
        }
        if c == b'}' {
            return Err("unmatched `}` (write `}}` for a brace)".to_owned());
        }
        let Some(end) = rest[i..].find('}') else {
            return Err("unclosed `{` (write `{{` for a brace)".to_owned());
        };
        let inner = rest[i + 1..i + end].trim();
        let path = if let Some(p) = inner.strip_prefix("source.") {
            format!("target.source.{p}")
        } else if let Some(p) = inner.strip_prefix("sink.") {
            format!("target.sink.{p}")
        } else if inner.starts_with("target.") {
            inner.to_owned()
        } else {
            return Err(format!("placeholder `{{{inner}}}` must start with target., source. or sink."));
        };
        let cond = Condition::compile(&path, targets).map_err(|e| format!("placeholder `{{{inner}}}`: {}", e.message))?;
        if !text.is_empty() {
            parts.push(TitlePart::Text(std::mem::take(&mut text)));
        }
        parts.push(TitlePart::Path(cond));
        rest = &rest[i + end + 1..];
    }
    text.push_str(rest);
    if !text.is_empty() {
        parts.push(TitlePart::Text(text));
    }
    Ok(Template { parts })
}
