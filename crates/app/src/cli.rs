//! The headless subcommands. Exit status: 0 success, 1 `check` found a finding at or above the
//! threshold, 2 bad input (unreadable or invalid model, rule file or arguments).

use std::fmt::Write as _;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use threatmap_core::attr::{Action, Classification, DatastoreType, Kind, Lifetime, TlsVersion};
use threatmap_core::engine::{Analysis, Options, analyze};
use threatmap_core::file::{self, Level};
use threatmap_core::lifecycle::{self, Status};
use threatmap_core::model::{Controls, DataItem, Element, FIXED_ATTRIBUTES, Model};
use threatmap_core::rules::{BUILTIN_PACKS, RuleSet, Severity, packs_for};
use threatmap_core::{diff, otm, pytm, templates, tmt};

mod artefacts;
mod tickets;

use crate::portfolio;

use crate::convert::ImportFormat;
use crate::convert::{BadInput, bad, import, write_pack};
use threatmap_render::dfd::{DfdOptions, Diagram};
use threatmap_render::{export, pytm_text, report, seq, sqldump, svg, template};

/// Threat modeling from data-flow diagrams: findings, reports and checks for CI.
#[derive(Debug, Parser)]
#[command(name = "threatmap", version = VERSION, about, long_about = None, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// When to colour help and error messages: auto (a terminal, unless NO_COLOR is set), always, never.
    #[arg(long, global = true, value_name = "WHEN", default_value_t = clap::ColorChoice::Auto)]
    color: clap::ColorChoice,
    /// Without a subcommand: the model to open in the desktop app (native, pytm JSON or a pytm script). With
    /// neither, the app opens the last file or the bundled example.
    file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List the rules (id, severity, title) of the given packs, or of the built-in default packs.
    List(RuleArgs),
    /// Describe the attributes of element kinds (or `Controls`, `Data`): type, default, meaning.
    Describe {
        /// Kinds to describe, e.g. `Server Dataflow Controls`; all when none is given.
        kinds: Vec<String>,
    },
    /// List the element kinds and the enumerations attributes use.
    ListElements,
    /// Check a model file: syntax, references, boundary cycles, duplicate ids, attributes.
    Validate {
        /// Model file (`*.threatmap.json`, pytm JSON or a pytm script).
        model: PathBuf,
    },
    /// Run the rules over a model and print the findings.
    Findings {
        /// Model file (`*.threatmap.json`, pytm JSON or a pytm script).
        model: PathBuf,
        #[command(flatten)]
        rules: RuleArgs,
        #[command(flatten)]
        exclude: ExcludeArg,
        #[command(flatten)]
        tags: TagArg,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Include excluded findings (excluded by an assumption).
        #[arg(long)]
        all: bool,
        /// Only findings with these statuses, comma-separated: open, needs-investigation,
        /// in-progress, fix-reported, mitigated, accepted-risk, not-applicable, transferred, excluded.
        #[arg(long, value_delimiter = ',', value_parser = parse_status_filter)]
        status: Vec<StatusFilter>,
    },
    /// Record a triage decision about a finding in the model file (for scripts): its status,
    /// and optionally a justification, owner, ticket, due date and tags.
    Triage {
        /// Native model file (`*.threatmap.json`); it is rewritten atomically.
        model: PathBuf,
        /// The finding's key, `RULE@element-id` (as `findings --format tsv` prints it).
        key: String,
        /// New status: open, needs-investigation, in-progress, mitigated, accepted-risk,
        /// not-applicable, transferred.
        #[arg(long, value_parser = parse_status)]
        status: Status,
        /// Why (recorded as the justification and in the history).
        #[arg(long)]
        note: Option<String>,
        /// Who owns the follow-up.
        #[arg(long)]
        owner: Option<String>,
        /// Tracker ticket id or URL.
        #[arg(long)]
        ticket: Option<String>,
        /// Due date, YYYY-MM-DD.
        #[arg(long)]
        due: Option<String>,
        /// A tag (repeatable).
        #[arg(long = "tag")]
        tags: Vec<String>,
        #[command(flatten)]
        rules: RuleArgs,
    },
    /// Write the model and its findings as pytm's `--json` output.
    Json {
        /// Model file (`*.threatmap.json`, pytm JSON or a pytm script).
        model: PathBuf,
        /// Output file (`-` for standard output).
        #[arg(short, long)]
        output: PathBuf,
        #[command(flatten)]
        rules: RuleArgs,
        #[command(flatten)]
        exclude: ExcludeArg,
    },
    /// Attach files to a model (whiteboard photos, design documents, the file it was imported
    /// from): each is copied into the model's artefacts folder (`NAME.artefacts/` beside it) and
    /// listed in the model with its SHA-256; the report embeds the images and links the rest.
    Attach {
        /// Native model file; rewritten atomically.
        model: PathBuf,
        /// Files to attach.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// What they are, in a few words.
        #[arg(long)]
        title: Option<String>,
    },
    /// List a model's attachments and check each file against its SHA-256 (exit 1 when one is
    /// missing or changed).
    Attachments {
        /// Native model file.
        model: PathBuf,
    },
    /// Remove an attachment from a model and its file from the artefacts folder.
    Detach {
        /// Native model file; rewritten atomically.
        model: PathBuf,
        /// The attachment's name, as `attachments` lists it.
        name: String,
    },
    /// Every application's threat model in one dashboard: the model files (`*.threatmap.json`) in
    /// a folder (typically a git repository) and below, each with its open findings by severity,
    /// decisions, overdue due dates, owners, tags, tickets, remediation failures, orphaned
    /// decisions, when it last changed (git) and whether the code it names changed since.
    Portfolio {
        /// The folder.
        dir: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = portfolio::PortfolioFormat::Html)]
        format: portfolio::PortfolioFormat,
        /// Output file (standard output without it).
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// A model is stale when a source file it names (`sourceFiles`) changed this many days
        /// or more after it.
        #[arg(long, default_value_t = 30)]
        stale_days: i64,
        /// The dashboard's title (default: the folder's name).
        #[arg(long)]
        title: Option<String>,
        #[command(flatten)]
        tags: TagArg,
    },
    /// pytm's `--stale_days`: report the source files an element names (`sourceFiles`, relative
    /// to the model) whose modification time differs from the model file's by DAYS or more.
    Stale {
        /// Model file.
        model: PathBuf,
        /// The threshold in days.
        #[arg(long)]
        days: i64,
        /// Exit 1 when a source file is newer than the model by DAYS or more (for CI).
        #[arg(long)]
        check: bool,
    },
    /// Hand findings to the development team's tracker (Redmine, GitHub, GitLab, Jira) and follow
    /// the tickets back to verified closure.
    Tickets {
        #[command(subcommand)]
        action: tickets::TicketsCommand,
    },
    /// Fail (exit 1) when a finding at or above a severity is open: for CI.
    Check {
        /// Model file (`*.threatmap.json`, pytm JSON or a pytm script).
        model: PathBuf,
        /// Lowest severity that fails the check: info, very-low, low, medium, high, very-high.
        #[arg(long, value_parser = parse_severity)]
        fail_on: Severity,
        /// Pass a model with no elements (without it, an empty model fails: nothing was checked).
        #[arg(long)]
        allow_empty: bool,
        #[command(flatten)]
        rules: RuleArgs,
        #[command(flatten)]
        exclude: ExcludeArg,
        #[command(flatten)]
        tags: TagArg,
    },
    /// Convert a model from another tool into a native `*.threatmap.json` file.
    Import {
        /// The format of the input.
        #[arg(value_enum)]
        format: ImportFormat,
        /// The file to import.
        file: PathBuf,
        /// The native model to write.
        #[arg(short, long)]
        output: PathBuf,
        /// Refuse the import (exit 2, nothing written) when anything could not be carried over
        /// or had to be guessed: every warning counts.
        #[arg(long)]
        strict: bool,
    },
    /// Start a model file: empty, or from a bundled template (`--list` shows them).
    New {
        /// The model file to write (`*.threatmap.json`); an existing file is left alone.
        #[arg(required_unless_present = "list")]
        model: Option<PathBuf>,
        /// The template to start from: web-application, mobile-app-api, kubernetes-microservices,
        /// iot-device, llm-application.
        #[arg(long, short)]
        template: Option<String>,
        /// List the templates.
        #[arg(long, conflicts_with_all = ["model", "template"])]
        list: bool,
    },
    /// Rewrite model files in canonical form (fixed key order, sorted maps, two-space indent).
    Fmt {
        /// Model files to rewrite in place.
        #[arg(required = true)]
        models: Vec<PathBuf>,
        /// Only check: exit 1 if a file is not canonical.
        #[arg(long)]
        check: bool,
    },
    /// Draw the data-flow diagram: SVG, PNG, or pytm-style Graphviz DOT.
    Dfd {
        /// Model file (`*.threatmap.json`, pytm JSON or a pytm script).
        model: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = DfdFormat::Svg)]
        format: DfdFormat,
        /// Only draw elements on these levels (pytm's `--levels`), e.g. `--levels 0 1`.
        #[arg(long, num_args = 1.., value_delimiter = ',')]
        levels: Vec<u32>,
        /// Colour elements and flows by their worst finding, as pytm's `--colormap`.
        #[arg(long)]
        colormap: bool,
        /// Leave out finding badges.
        #[arg(long)]
        no_badges: bool,
        /// Lay the model out automatically even if it has positions.
        #[arg(long)]
        auto_layout: bool,
        /// Draw one diagram of a model with several (by name, or by number from 1). Without it,
        /// SVG and PNG draw every diagram one below the other, and DOT the whole model as pytm does.
        #[arg(long, value_name = "NAME")]
        diagram: Option<String>,
        #[command(flatten)]
        image: ImageArgs,
        #[command(flatten)]
        rules: RuleArgs,
        #[command(flatten)]
        exclude: ExcludeArg,
    },
    /// Draw the sequence diagram of the dataflows: SVG, PNG, or pytm-style PlantUML.
    Seq {
        /// Model file (`*.threatmap.json`, pytm JSON or a pytm script).
        model: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = SeqFormat::Svg)]
        format: SeqFormat,
        #[command(flatten)]
        image: ImageArgs,
        #[command(flatten)]
        rules: RuleArgs,
        #[command(flatten)]
        exclude: ExcludeArg,
    },
    /// Write the threat model report: self-contained HTML, or a pytm template's Markdown.
    Report {
        /// Model file (`*.threatmap.json`, pytm JSON or a pytm script).
        model: PathBuf,
        /// A pytm report template (Markdown with `{tm.name}`, `:repeat:`, `:call:` ...).
        #[arg(long, value_name = "T.md")]
        template: Option<PathBuf>,
        /// Output format (`md` needs `--template`).
        #[arg(long, value_enum, default_value_t = ReportFormat::Html)]
        format: ReportFormat,
        /// Output file; standard output when not given.
        #[arg(short, long)]
        output: Option<PathBuf>,
        #[command(flatten)]
        rules: RuleArgs,
        #[command(flatten)]
        exclude: ExcludeArg,
        #[command(flatten)]
        tags: TagArg,
    },
    /// Write the model, rules and findings to an SQLite database (replaced if it exists).
    Sqldump {
        /// Model file (`*.threatmap.json`, pytm JSON or a pytm script).
        model: PathBuf,
        /// The database file to write.
        output: PathBuf,
        #[command(flatten)]
        rules: RuleArgs,
        #[command(flatten)]
        exclude: ExcludeArg,
    },
    /// Hand findings and decisions to other tools: SARIF 2.1.0, DefectDojo's Generic Findings
    /// Import, CSV, JSON; or the model itself as Open Threat Model (OTM) JSON.
    Export {
        /// Model file (`*.threatmap.json`, pytm JSON or a pytm script).
        model: PathBuf,
        /// What to write.
        #[arg(long, value_enum)]
        format: ExportFormat,
        /// Output file; standard output when not given.
        #[arg(short, long)]
        output: Option<PathBuf>,
        #[command(flatten)]
        rules: RuleArgs,
        #[command(flatten)]
        exclude: ExcludeArg,
        #[command(flatten)]
        tags: TagArg,
    },
    /// What changed between two versions of a model: elements and flows added, removed,
    /// renamed, changed or moved; findings new, gone or with a changed severity; decisions.
    Diff {
        /// The earlier version (`*.threatmap.json`, pytm JSON or a pytm script).
        old: PathBuf,
        /// The later version.
        new: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = DiffFormat::Text)]
        format: DiffFormat,
        /// Exit 1 when a new finding at or above this severity is open (for pull requests).
        #[arg(long, value_parser = parse_severity)]
        fail_on_new: Option<Severity>,
        #[command(flatten)]
        rules: RuleArgs,
        #[command(flatten)]
        exclude: ExcludeArg,
    },
    /// Print the JSON Schema of the native model file.
    Schema,
    /// Print a shell completion script: `threatmap completions bash > /etc/bash_completion.d/threatmap`.
    Completions {
        /// The shell to complete in.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write the manual pages (threatmap.1 and one page per subcommand) into a folder.
    Man {
        /// Folder to write the pages into (created if missing).
        #[arg(long, short, default_value = ".")]
        output: PathBuf,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum DiffFormat {
    /// One line per change.
    Text,
    /// Everything, for scripts.
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ExportFormat {
    /// SARIF 2.1.0: one result per finding, decided findings as suppressions.
    Sarif,
    /// DefectDojo "Generic Findings Import" JSON; re-imports update findings in place.
    Defectdojo,
    /// One row per finding: key, element, threat, severity, status, owner, ticket, mitigations.
    Csv,
    /// Findings with their decisions and evidence, for scripts.
    Json,
    /// The model, its threats and decisions as Open Threat Model (OTM 0.2.0) JSON.
    Otm,
    /// The model as a pytm model script (`tm.py`) that pytm 1.4 runs and Threatmap reads back.
    Pytm,
    /// The model and its findings as an OWASP Threat Model Library (TM-BOM 1.0) file.
    TmBom,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ReportFormat {
    /// One self-contained HTML file.
    Html,
    /// Markdown (with `--template`).
    Md,
}

#[derive(Debug, Clone, clap::Args)]
struct ImageArgs {
    /// Output file; standard output when not given.
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// PNG scale (1 = 100 %).
    #[arg(long, default_value_t = 1.0)]
    scale: f32,
    /// PNG with a transparent background instead of white.
    #[arg(long)]
    transparent: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum DfdFormat {
    /// Scalable vector graphics.
    Svg,
    /// PNG image.
    Png,
    /// Graphviz DOT text in pytm's shape.
    Dot,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum SeqFormat {
    /// Scalable vector graphics.
    Svg,
    /// PNG image.
    Png,
    /// PlantUML text in pytm's shape.
    Plantuml,
}

#[derive(Debug, Clone, clap::Args)]
struct RuleArgs {
    /// Rule pack to run: a built-in name (general, stride-interactions, iot, linddun, ai, cia), a native TOML
    /// pack or pytm's threats.json. Repeat for several; replaces the model's own packs.
    #[arg(long = "rules", value_name = "PACK")]
    packs: Vec<String>,
}

#[derive(Debug, Clone, clap::Args)]
struct ExcludeArg {
    /// Threat ids to skip, comma-separated (e.g. `INP03,DE01`).
    #[arg(long, value_name = "IDS", value_delimiter = ',')]
    exclude: Vec<String>,
}

#[derive(Debug, Clone, clap::Args)]
struct TagArg {
    /// Only findings whose decision carries one of these tags, comma-separated.
    #[arg(long = "tag", value_name = "TAGS", value_delimiter = ',')]
    tags: Vec<String>,
}

impl TagArg {
    fn filter(&self) -> lifecycle::TagFilter {
        lifecycle::TagFilter(self.tags.clone())
    }

    fn narrow(&self, m: Model) -> Model {
        self.filter().narrow(m)
    }

    fn keep(&self, a: &mut Analysis<'_>) {
        self.filter().keep(a);
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    /// Aligned columns for reading.
    Table,
    /// Tab-separated values with a header, for scripts.
    Tsv,
    /// JSON with every field and why each finding fired.
    Json,
}

/// A `--status` filter value: a decision status, or `excluded` (excluded by an assumption).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StatusFilter {
    Status(Status),
    Excluded,
}

fn parse_status(s: &str) -> Result<Status, String> {
    Status::parse(s).ok_or_else(|| {
        let keys: Vec<&str> = Status::ALL.iter().map(|s| s.key()).collect();
        format!("unknown status `{s}` ({})", keys.join(", "))
    })
}

fn parse_status_filter(s: &str) -> Result<StatusFilter, String> {
    if s.trim().eq_ignore_ascii_case("excluded") { Ok(StatusFilter::Excluded) } else { parse_status(s).map(StatusFilter::Status) }
}

fn parse_severity(s: &str) -> Result<Severity, String> {
    Severity::parse(&s.replace('-', " ")).ok_or_else(|| format!("unknown severity `{s}` (info, very-low, low, medium, high, very-high)"))
}

/// The version `--version` prints: the package's, and the commit it was built from when the
/// build knew it (see `build.rs`).
pub const VERSION: &str = env!("THREATMAP_VERSION");

/// The colour choice `--color` asks for, read before parsing so that parse errors obey it too.
/// `auto` leaves the choice to the terminal and `NO_COLOR`.
fn color_choice(args: &[std::ffi::OsString]) -> clap::ColorChoice {
    let mut value = None;
    let mut it = args.iter().skip(1).map(|a| a.to_string_lossy());
    while let Some(a) = it.next() {
        if a == "--" {
            break;
        }
        if let Some(v) = a.strip_prefix("--color=") {
            value = Some(v.to_owned());
        } else if a == "--color" {
            value = it.next().map(|v| v.into_owned());
        }
    }
    // A bad value is reported by the parser itself; until then colour stays automatic.
    value.and_then(|v| clap::ColorChoice::from_str(&v, false).ok()).unwrap_or_default()
}

/// The command-line interface as clap sees it: for completions and manual pages.
pub fn cli_command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}

/// Writes `threatmap.1` and `threatmap-SUBCOMMAND.1` for every subcommand into `dir`; returns the
/// files written.
pub fn write_man_pages(dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let top = cli_command();
    let mut written = Vec::new();
    let mut pages = vec![(String::from("threatmap"), top.clone())];
    for sub in top.get_subcommands().filter(|c| c.get_name() != "help") {
        let name = format!("threatmap-{}", sub.get_name());
        pages.push((name.clone(), sub.clone().name(name).version(VERSION)));
    }
    for (name, cmd) in pages {
        let mut buf = Vec::new();
        clap_mangen::Man::new(cmd).render(&mut buf)?;
        let path = dir.join(format!("{name}.1"));
        file::write_atomic(&path, &buf).with_context(|| format!("cannot write {}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}

/// Runs the command line (or the app, with no subcommand).
pub fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let matches = cli_command().color(color_choice(&args)).get_matches_from(&args);
    let cli = match <Cli as clap::FromArgMatches>::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let Some(command) = cli.command else {
        return match crate::gui::run(cli.file) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::from(2)
            }
        };
    };
    match run(command) {
        Ok(code) => code,
        Err(e) => {
            if let Some(b) = e.downcast_ref::<BadInput>() {
                eprintln!("{b}");
                ExitCode::from(2)
            } else if e.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe) {
                // The reader stopped early (`| head`): nothing is wrong.
                ExitCode::SUCCESS
            } else {
                eprintln!("error: {e:#}");
                ExitCode::from(2)
            }
        }
    }
}

fn run(command: Command) -> Result<ExitCode> {
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    match command {
        Command::List(args) => {
            let rules = load_rules(&args, None)?;
            let width = rules.rules.iter().map(|r| r.id.len()).max().unwrap_or(2);
            for r in &rules.rules {
                writeln!(out, "{:<width$}  {:<9}  {}", r.id, r.severity.name(), r.title_template)?;
            }
        }
        Command::Describe { kinds } => describe(&mut out, &kinds)?,
        Command::ListElements => list_elements(&mut out)?,
        Command::Validate { model } => return validate(&mut out, &model),
        Command::Findings { model, rules, exclude, tags, format, all, status } => {
            let (m, base) = load_model(&model)?;
            let m = tags.narrow(m);
            let rules = load_rules(&rules, Some((&m, &base)))?;
            let mut analysis = analyze(&m, &rules, &options(&exclude));
            tags.keep(&mut analysis);
            warn_orphans(&analysis, &model);
            print_findings(&mut out, &analysis, format, all, &status)?;
        }
        Command::Triage { model, key, status, note, owner, ticket, due, tags, rules } => {
            let name = model.display().to_string();
            let mut m = native_model(&model, "triage")?;
            if let Some(d) = due.as_deref().filter(|d| !lifecycle::is_date(d)) {
                return Err(bad(format!("--due {d}: expected a date as YYYY-MM-DD")));
            }
            let base = model.parent().map(Path::to_path_buf).unwrap_or_default();
            let rules = load_rules(&rules, Some((&m, &base)))?;
            let known: Vec<String> = {
                let a = analyze(&m, &rules, &Options::default());
                a.findings.iter().chain(a.excluded.iter()).map(|f| a.key(f)).collect()
            };
            if !known.contains(&key) && !m.decisions.contains_key(&key) {
                let hint =
                    file::closest(&key, known.iter().map(String::as_str)).map(|k| format!(" (did you mean `{k}`?)")).unwrap_or_default();
                return Err(bad(format!(
                    "{name}: no finding `{key}`{hint}; keys are RULE@element-id as `findings --format tsv` prints them"
                )));
            }
            let d = m.decisions.entry(key.clone()).or_default();
            let note_text = note.clone().unwrap_or_default();
            d.set_status(status, &lifecycle::current_user(), &note_text);
            if let Some(n) = note {
                d.justification = n;
            }
            if let Some(o) = owner {
                d.owner = o;
            }
            if let Some(t) = ticket {
                d.ticket = t;
            }
            if due.is_some() {
                d.due = due;
            }
            for t in tags {
                if !d.tags.contains(&t) {
                    d.tags.push(t);
                }
            }
            file::save(&m, &model).with_context(|| format!("cannot write {name}"))?;
            writeln!(out, "{key}: {}", status.label())?;
        }
        Command::Json { model, output, rules, exclude } => {
            let (m, base) = load_model(&model)?;
            let rules = load_rules(&rules, Some((&m, &base)))?;
            let analysis = analyze(&m, &rules, &options(&exclude));
            if output == Path::new("-") {
                pytm::write_json(&analysis, &mut out)?;
                writeln!(out)?;
            } else {
                write_file(&output, |w| pytm::write_json(&analysis, w))?;
            }
        }
        Command::Check { model, fail_on, allow_empty, rules, exclude, tags } => {
            let (m, base) = load_model(&model)?;
            if m.elements.is_empty() && !allow_empty {
                return Err(bad(format!(
                    "{}: the model has no elements, so nothing was checked (`--allow-empty` passes an empty model)",
                    model.display()
                )));
            }
            let m = tags.narrow(m);
            let rules = load_rules(&rules, Some((&m, &base)))?;
            let mut analysis = analyze(&m, &rules, &options(&exclude));
            tags.keep(&mut analysis);
            warn_orphans(&analysis, &model);
            let failing: Vec<_> = analysis.open_findings().filter(|f| analysis.severity(f) >= fail_on).collect();
            writeln!(out, "{}", summary(&analysis))?;
            for f in &failing {
                let v = analysis.view(f);
                writeln!(out, "  {:<9}  {}  {}", v.severity.name(), v.key, threatmap_core::model::one_line(&v.title))?;
            }
            out.flush()?;
            if failing.is_empty() {
                writeln!(out, "check passed: no open finding at or above {fail_on}")?;
            } else {
                writeln!(out, "check failed: {} open finding(s) at or above {fail_on}", failing.len())?;
                out.flush()?;
                return Ok(ExitCode::from(1));
            }
        }
        Command::Import { format, file, output, strict } => {
            let name = file.display().to_string();
            let limit = if format == ImportFormat::Tm7 { tmt::MAX_TM7_BYTES } else { file::MAX_FILE_BYTES };
            let text = file::read_text(&file, limit).map_err(|p| bad(p.display_in(&name).to_string()))?;
            let imported = import(format, &text, &file, &output)?;
            for w in &imported.warnings {
                eprintln!("{name}: warning: {w}");
            }
            if strict && !imported.warnings.is_empty() {
                return Err(bad(format!(
                    "{name}: not imported (--strict): {} warning(s) above; nothing was written",
                    imported.warnings.len()
                )));
            }
            for (pack_path, pack) in &imported.packs {
                write_pack(pack_path, pack)?;
                writeln!(out, "wrote {}: rule pack the model uses", pack_path.display())?;
            }
            file::save(&imported.model, &output).with_context(|| format!("cannot write {}", output.display()))?;
            writeln!(out, "wrote {}: {}", output.display(), counts(&imported.model))?;
        }
        Command::New { model, template, list } => {
            if list {
                for t in templates::MODEL_TEMPLATES {
                    writeln!(out, "{:<26}  {}", t.name, t.title)?;
                }
                return Ok(ExitCode::SUCCESS);
            }
            let Some(path) = model else { return Err(bad("name the model file to write")) };
            let m = match &template {
                None => Model::new("Untitled threat model"),
                Some(name) => {
                    let t = templates::find(name).ok_or_else(|| {
                        let names: Vec<&str> = templates::MODEL_TEMPLATES.iter().map(|t| t.name).collect();
                        let hint = file::closest(name, names.iter().copied()).map(|c| format!(" (did you mean {c}?)")).unwrap_or_default();
                        bad(format!("no template called {name}{hint}; the templates are {}", names.join(", ")))
                    })?;
                    t.model().map_err(|e| bad(e.to_string()))?
                }
            };
            if path.exists() {
                return Err(bad(format!("{} exists; threatmap new does not overwrite files", path.display())));
            }
            file::save(&m, &path).with_context(|| format!("cannot write {}", path.display()))?;
            match &template {
                Some(name) => writeln!(out, "{}: new model from template {name}", path.display())?,
                None => writeln!(out, "{}: new empty model", path.display())?,
            }
        }
        Command::Fmt { models, check } => {
            let mut unformatted = 0;
            for path in &models {
                let name = path.display().to_string();
                let text = file::read_text(path, file::MAX_FILE_BYTES).map_err(|p| bad(p.display_in(&name).to_string()))?;
                let model = file::parse(&text, &name).map_err(|e| bad(e.to_string()))?;
                let canonical = file::to_canonical_json(&model);
                if canonical == text {
                    continue;
                }
                unformatted += 1;
                if check {
                    writeln!(out, "{}: not in canonical form", path.display())?;
                } else {
                    file::write_atomic(path, canonical.as_bytes()).with_context(|| format!("cannot write {}", path.display()))?;
                    writeln!(out, "{}: rewritten", path.display())?;
                }
            }
            if check && unformatted > 0 {
                out.flush()?;
                return Ok(ExitCode::from(1));
            }
        }
        Command::Dfd { model, format, levels, colormap, no_badges, auto_layout, diagram, image, rules, exclude } => {
            let (m, base) = load_model(&model)?;
            let diagram = match diagram {
                None => None,
                Some(name) => Some(m.find_diagram(&name).ok_or_else(|| {
                    let names: Vec<String> = (0..m.diagram_count()).map(|d| format!("{}. {:?}", d + 1, m.diagram_name(d))).collect();
                    bad(if m.diagrams.is_empty() {
                        format!("{}: the model has one diagram; `--diagram {name}` names none (leave it out)", model.display())
                    } else {
                        format!("{}: no diagram is called {name:?}; its diagrams are {}", model.display(), names.join(", "))
                    })
                })?),
            };
            let rules = load_rules(&rules, Some((&m, &base)))?;
            let analysis = analyze(&m, &rules, &options(&exclude));
            let opts = DfdOptions { levels: levels.into_iter().collect(), colormap, badges: !no_badges, auto_layout, diagram };
            let svg = || match diagram {
                Some(_) => Diagram::new(&analysis, &opts).to_svg(&analysis),
                None => Diagram::all_svg(&analysis, &opts),
            };
            let bytes = match format {
                DfdFormat::Dot => pytm_text::dot(&analysis, &opts).into_bytes(),
                DfdFormat::Svg => svg().into_bytes(),
                DfdFormat::Png => png(&svg(), &image)?,
            };
            emit(&mut out, image.output.as_deref(), &bytes)?;
        }
        Command::Seq { model, format, image, rules, exclude } => {
            let (m, base) = load_model(&model)?;
            let rules = load_rules(&rules, Some((&m, &base)))?;
            let analysis = analyze(&m, &rules, &options(&exclude));
            let bytes = match format {
                SeqFormat::Plantuml => pytm_text::plantuml(&analysis).into_bytes(),
                SeqFormat::Svg => seq::svg(&analysis).into_bytes(),
                SeqFormat::Png => png(&seq::svg(&analysis), &image)?,
            };
            emit(&mut out, image.output.as_deref(), &bytes)?;
        }
        Command::Report { model, template, format, output, rules, exclude, tags } => {
            let (m, base) = load_model(&model)?;
            let m = tags.narrow(m);
            let rules = load_rules(&rules, Some((&m, &base)))?;
            let mut analysis = analyze(&m, &rules, &options(&exclude));
            tags.keep(&mut analysis);
            let text = match (&template, format) {
                // Written as it goes: memory does not grow with the number of findings.
                (None, ReportFormat::Html) => {
                    let attached = crate::attachments::for_report(&m, &model, output.as_deref().filter(|p| *p != Path::new("-")));
                    emit_with(&mut out, output.as_deref(), |w| report::write_html_with(&analysis, &attached, w))?;
                    None
                }
                (None, ReportFormat::Md) => return Err(bad("--format md needs --template T.md (a pytm report template)")),
                (Some(t), format) => {
                    let name = t.display().to_string();
                    let src = file::read_text(t, file::MAX_FILE_BYTES).map_err(|p| bad(p.display_in(&name).to_string()))?;
                    let md = template::render(&src, &analysis)
                        .map_err(|e| bad(if e.position.is_some() { format!("{name}:{e}") } else { format!("{name}: {e}") }))?;
                    Some(if format == ReportFormat::Md { md + "\n" } else { report::markdown_page(&m.name, &md) })
                }
            };
            if let Some(text) = text {
                emit(&mut out, output.as_deref(), text.as_bytes())?;
            }
        }
        Command::Sqldump { model, output, rules, exclude } => {
            let (m, base) = load_model(&model)?;
            let rules = load_rules(&rules, Some((&m, &base)))?;
            let analysis = analyze(&m, &rules, &options(&exclude));
            sqldump::write(&analysis, &output).with_context(|| format!("cannot write {}", output.display()))?;
            writeln!(out, "wrote {}: {} findings, {} excluded", output.display(), analysis.findings.len(), analysis.excluded.len())?;
        }
        Command::Export { model, format, output, rules, exclude, tags } => {
            let (m, base) = load_model(&model)?;
            let m = tags.narrow(m);
            let rules = load_rules(&rules, Some((&m, &base)))?;
            let mut analysis = analyze(&m, &rules, &options(&exclude));
            tags.keep(&mut analysis);
            warn_orphans(&analysis, &model);
            // The findings formats are written as they go: memory does not grow with the
            // number of findings.
            let mut streamed = |write: &dyn Fn(&mut dyn Write) -> std::io::Result<()>| -> Result<Option<String>> {
                emit_with(&mut out, output.as_deref(), write)?;
                Ok(None)
            };
            let text = match format {
                ExportFormat::Sarif => {
                    let text = file::read_text(&model, file::MAX_FILE_BYTES).unwrap_or_default();
                    let (uri, lines) = (sarif_uri(&model), file::element_lines(&text, &m));
                    streamed(&|w| export::write_sarif(&analysis, &uri, &lines, w))?
                }
                ExportFormat::Defectdojo => streamed(&|w| export::write_defectdojo(&analysis, w))?,
                ExportFormat::Csv => streamed(&|w| export::write_csv(&analysis, w).map_err(std::io::Error::from))?,
                ExportFormat::Json => {
                    let list = export::all_findings(&analysis);
                    streamed(&|w| export::write_findings_json(&analysis, &list, w))?
                }
                ExportFormat::Otm => Some(otm::export(&analysis, &pack_texts(&m, &base)?)),
                ExportFormat::TmBom => Some(threatmap_core::tm_bom::export(&analysis)),
                ExportFormat::Pytm => {
                    let (script, lost) = threatmap_core::pytm_script::write(&m);
                    for l in lost {
                        eprintln!("{}: warning: {l}", model.display());
                    }
                    Some(script)
                }
            };
            if let Some(text) = text {
                emit(&mut out, output.as_deref(), text.as_bytes())?;
            }
        }
        Command::Diff { old, new, format, fail_on_new, rules, exclude } => {
            let (om, obase) = load_model(&old)?;
            let (nm, nbase) = load_model(&new)?;
            let orules = load_rules(&rules, Some((&om, &obase)))?;
            let nrules = load_rules(&rules, Some((&nm, &nbase)))?;
            let (oa, na) = (analyze(&om, &orules, &options(&exclude)), analyze(&nm, &nrules, &options(&exclude)));
            let d = diff::diff(&oa, &na);
            match format {
                DiffFormat::Text => out.write_all(diff::to_text(&d).as_bytes())?,
                DiffFormat::Json => {
                    serde_json::to_writer_pretty(&mut out, &d)?;
                    writeln!(out)?;
                }
            }
            if let Some(min) = fail_on_new {
                let new_keys: std::collections::BTreeSet<&str> = d.new_findings.iter().map(|f| f.key.as_str()).collect();
                let failing = na.open_findings().filter(|f| na.severity(f) >= min && new_keys.contains(na.key(f).as_str())).count();
                if failing > 0 {
                    writeln!(out, "check failed: {failing} new open finding(s) at or above {min}")?;
                    out.flush()?;
                    return Ok(ExitCode::from(1));
                }
            }
        }
        Command::Schema => {
            writeln!(out, "{}", threatmap_core::schema_json())?;
        }
        Command::Completions { shell } => {
            // Generated into memory: clap_complete panics when its writer fails (`| head`).
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut cli_command(), "threatmap", &mut script);
            out.write_all(&script)?;
        }
        Command::Man { output } => {
            for path in write_man_pages(&output)? {
                writeln!(out, "{}", path.display())?;
            }
        }
        Command::Attach { model, files, title } => {
            let code = artefacts::attach(&mut out, &model, &files, title.as_deref())?;
            out.flush()?;
            return Ok(code);
        }
        Command::Attachments { model } => {
            let code = artefacts::list(&mut out, &model)?;
            out.flush()?;
            return Ok(code);
        }
        Command::Detach { model, name } => {
            let code = artefacts::detach(&mut out, &model, &name)?;
            out.flush()?;
            return Ok(code);
        }
        Command::Portfolio { dir, format, output, stale_days, title, tags } => {
            let code = portfolio::portfolio(&mut out, &dir, format, output.as_deref(), stale_days, title, &tags.filter())?;
            out.flush()?;
            return Ok(code);
        }
        Command::Stale { model, days, check } => {
            let code = portfolio::stale(&mut out, &model, days, check)?;
            out.flush()?;
            return Ok(code);
        }
        Command::Tickets { action } => {
            let code = tickets::run(&mut out, action)?;
            out.flush()?;
            return Ok(code);
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// The model file as SARIF consumers should see it: relative paths as given, with `/`.
fn sarif_uri(model: &Path) -> String {
    let text = model.to_string_lossy().replace('\\', "/");
    text.strip_prefix("./").unwrap_or(&text).to_owned()
}

fn png(svg_text: &str, image: &ImageArgs) -> Result<Vec<u8>> {
    let bg = if image.transparent { svg::Background::Transparent } else { svg::Background::White };
    Ok(svg::to_png(svg_text, image.scale, bg)?)
}

/// Writes an output to its file (atomically) or to standard output.
fn emit(out: &mut dyn Write, path: Option<&Path>, bytes: &[u8]) -> Result<()> {
    emit_with(out, path, |w| w.write_all(bytes))
}

/// Writes with `write` to the file at `path` (atomically), or to `out` when there is none or it
/// is `-`.
fn emit_with(out: &mut dyn Write, path: Option<&Path>, write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> Result<()> {
    match path {
        Some(p) if p != Path::new("-") => write_file(p, write),
        _ => Ok(write(out)?),
    }
}

fn options(exclude: &ExcludeArg) -> Options {
    Options { exclude: exclude.exclude.iter().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect() }
}

/// The texts of the rule pack files a model names (built-in packs have none), by the name the
/// model gives them.
fn pack_texts(m: &Model, base: &Path) -> Result<std::collections::BTreeMap<String, String>> {
    let mut out = std::collections::BTreeMap::new();
    for spec in &m.rule_packs {
        if BUILTIN_PACKS.iter().any(|p| p.name == spec) {
            continue;
        }
        let path = if Path::new(spec).is_relative() { base.join(spec) } else { PathBuf::from(spec) };
        let text = file::read_text(&path, threatmap_core::rules::MAX_RULE_FILE_BYTES)
            .map_err(|p| bad(format!("rule pack {}: {}", path.display(), p.message)))?;
        out.insert(spec.clone(), text);
    }
    Ok(out)
}

/// Reads a native model for a command that rewrites it (`what`: "triage", "tickets"); other
/// formats are refused with a word on importing them first.
fn native_model(path: &Path, what: &str) -> Result<Model> {
    let name = path.display().to_string();
    let text = file::read_text(path, file::MAX_FILE_BYTES).map_err(|p| bad(p.display_in(&name).to_string()))?;
    file::parse(&text, &name).map_err(|e| bad(format!("{e} ({what} needs a native model; import other formats first)")))
}

/// Loads a model of any format `threatmap` reads (native, pytm JSON or a pytm script), printing its warnings.
fn load_model(path: &Path) -> Result<(Model, PathBuf)> {
    let loaded = file::load_any(path).map_err(|e| bad(e.to_string()))?;
    let name = path.display().to_string();
    for p in &loaded.warnings {
        eprintln!("{}", p.display_in(&name));
    }
    Ok((loaded.model, path.parent().map(Path::to_path_buf).unwrap_or_default()))
}

/// "3 elements, 2 dataflows, 1 boundaries, 4 data items" (and ", 2 diagrams" when it has several).
fn counts(m: &Model) -> String {
    let count = |k: fn(Kind) -> bool| m.elements.iter().filter(|e| k(e.kind)).count();
    let diagrams = if m.diagrams.len() > 1 { format!(", {} diagrams", m.diagrams.len()) } else { String::new() };
    format!(
        "{} elements, {} dataflows, {} boundaries, {} data items{diagrams}",
        count(Kind::is_node),
        count(|k| k == Kind::Dataflow),
        count(|k| k == Kind::Boundary),
        m.data.len()
    )
}

/// The rules to run: `--rules` if given, else the model's `rulePacks`, else the defaults.
fn load_rules(args: &RuleArgs, model: Option<(&Model, &Path)>) -> Result<RuleSet> {
    let mut set = RuleSet::new();
    let (specs, base): (Vec<String>, Option<&Path>) = match model {
        _ if !args.packs.is_empty() => (args.packs.clone(), None),
        Some((m, base)) => (packs_for(m), Some(base)),
        None => (packs_for(&Model::new("")), None),
    };
    for spec in &specs {
        if let Err(d) = set.add_pack(spec, base) {
            let builtin: Vec<&str> = BUILTIN_PACKS.iter().map(|p| p.name).collect();
            let hint = if Path::new(spec).extension().is_none() && !Path::new(spec).exists() {
                format!(" (built-in packs: {})", builtin.join(", "))
            } else {
                String::new()
            };
            return Err(bad(format!("{d}{hint}")));
        }
    }
    if let Some((m, _)) = model {
        set.add_model_threats(m);
    }
    for d in &set.diagnostics {
        eprintln!("{d} (rule skipped)");
    }
    Ok(set)
}

fn write_file(path: &Path, f: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> Result<()> {
    file::write_atomic_with(path, f).with_context(|| format!("cannot write {}", path.display()))
}

fn summary(a: &Analysis<'_>) -> String {
    let counts: Vec<String> = a.counts().into_iter().filter(|(_, n)| *n > 0).map(|(s, n)| format!("{n} {}", s.name())).collect();
    let mut s = format!("{} finding(s)", a.findings.len());
    if !counts.is_empty() {
        let _ = write!(s, ": {}", counts.join(", "));
    }
    let mut by_status: std::collections::BTreeMap<Status, usize> = std::collections::BTreeMap::new();
    for f in &a.findings {
        *by_status.entry(a.status(f)).or_default() += 1;
    }
    if by_status.keys().any(|s| *s != Status::Open) {
        let parts: Vec<String> = by_status.iter().map(|(st, n)| format!("{n} {}", st.label().to_lowercase())).collect();
        let _ = write!(s, "; {} still open ({})", a.open_findings().count(), parts.join(", "));
    }
    let out_of_scope = a.excluded.iter().filter(|f| f.excluded_by.as_deref() == Some(threatmap_core::engine::OUT_OF_SCOPE)).count();
    if a.excluded.len() > out_of_scope {
        let _ = write!(s, "; {} excluded by assumptions", a.excluded.len() - out_of_scope);
    }
    if out_of_scope > 0 {
        let _ = write!(s, "; {out_of_scope} on out-of-scope elements");
    }
    s
}

/// Decisions about findings the rules no longer generate: kept in the file, reported here.
fn warn_orphans(a: &Analysis<'_>, path: &Path) {
    for (key, d) in a.orphaned_decisions() {
        eprintln!("{}: warning: decision for `{key}` ({}) matches no current finding; it is kept", path.display(), d.status.label());
    }
}

fn print_findings<'a>(out: &mut dyn Write, a: &'a Analysis<'a>, format: Format, all: bool, statuses: &[StatusFilter]) -> Result<()> {
    let mut list: Vec<(&threatmap_core::engine::Finding, &str)> = a.findings.iter().map(|f| (f, a.status(f).key())).collect();
    if all || matches!(format, Format::Json) || statuses.contains(&StatusFilter::Excluded) {
        list.extend(a.excluded.iter().map(|f| (f, "excluded")));
    }
    if !statuses.is_empty() {
        list.retain(|(f, _)| {
            statuses.iter().any(|s| match s {
                StatusFilter::Excluded => f.excluded_by.is_some(),
                StatusFilter::Status(st) => f.excluded_by.is_none() && a.status(f) == *st,
            })
        });
    }
    match format {
        Format::Table => {
            let rows: Vec<[String; 4]> = list
                .iter()
                .map(|(f, _)| {
                    let v = a.view(f);
                    let element = format!("{} ({})", v.element_name, v.element_kind);
                    let status = a.status(f);
                    let title = match v.excluded_by {
                        Some(by) => format!("{} [excluded: {by}]", v.title),
                        None if status != Status::Open => format!("{} [{}]", v.title, status.label()),
                        None => v.title,
                    };
                    // One line per finding: names keep their line breaks in the model.
                    [
                        v.severity.name().to_owned(),
                        v.threat_id.to_owned(),
                        threatmap_core::model::one_line(&element),
                        threatmap_core::model::one_line(&title),
                    ]
                })
                .collect();
            let w: Vec<usize> = (0..3).map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0)).collect();
            for r in &rows {
                writeln!(out, "{:<w0$}  {:<w1$}  {:<w2$}  {}", r[0], r[1], r[2], r[3], w0 = w[0], w1 = w[1], w2 = w[2])?;
            }
            writeln!(out, "{}", summary(a))?;
        }
        Format::Tsv => {
            writeln!(out, "key\telement_id\telement\tkind\tthreat_id\tseverity\tlikelihood\tstatus\ttitle")?;
            let clean = |s: &str| s.replace(['\t', '\n', '\r'], " ");
            for (f, status) in &list {
                let v = a.view(f);
                writeln!(
                    out,
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    clean(&v.key),
                    clean(v.element_id),
                    clean(v.element_name),
                    v.element_kind,
                    clean(v.threat_id),
                    v.severity.name(),
                    clean(v.likelihood),
                    status,
                    clean(&v.title)
                )?;
            }
        }
        Format::Json => export::write_findings_json(a, &list, out)?,
    }
    Ok(())
}

fn validate(out: &mut dyn Write, path: &Path) -> Result<ExitCode> {
    let name = path.display().to_string();
    let loaded = match file::load_any(path) {
        Ok(l) => l,
        Err(e) => {
            for p in &e.problems {
                eprintln!("{}", p.display_in(&name));
            }
            let errors = e.problems.iter().filter(|p| p.level == Level::Error).count();
            eprintln!("{name}: invalid: {errors} error(s)");
            return Ok(ExitCode::from(2));
        }
    };
    for p in &loaded.warnings {
        writeln!(out, "{}", p.display_in(&name))?;
    }
    // The rule packs the model names must load, or `findings` and `check` would fail on it.
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut set = RuleSet::new();
    let mut broken = 0;
    for spec in &packs_for(&loaded.model) {
        if let Err(d) = set.add_pack(spec, Some(&base)) {
            eprintln!("{name}: error: rule pack `{spec}` the model names: {d}");
            broken += 1;
        }
    }
    if broken > 0 {
        eprintln!("{name}: invalid: {broken} error(s)");
        return Ok(ExitCode::from(2));
    }
    set.add_model_threats(&loaded.model);
    for d in &set.diagnostics {
        writeln!(out, "{name}: warning: {d} (rule skipped)")?;
    }
    // Attachments must be the files the model lists.
    let mut artefact_warnings = 0;
    for a in &loaded.model.artefacts {
        if let Err(e) = threatmap_core::artefacts::read(path, a) {
            writeln!(out, "{name}: warning: {e}")?;
            artefact_warnings += 1;
        }
    }
    let strays = threatmap_core::artefacts::strays(path, &loaded.model.artefacts);
    if !strays.is_empty() {
        writeln!(out, "{name}: warning: files in its artefacts folder that the model does not list: {}", strays.join(", "))?;
        artefact_warnings += 1;
    }
    let warnings = loaded.warnings.len() + set.diagnostics.len() + artefact_warnings;
    writeln!(out, "{name}: valid: {}, {warnings} warning(s)", counts(&loaded.model))?;
    Ok(ExitCode::SUCCESS)
}

fn describe(out: &mut dyn Write, names: &[String]) -> Result<()> {
    let all: Vec<String> = Kind::ALL.iter().map(|k| k.name().to_owned()).chain(["Controls".to_owned(), "Data".to_owned()]).collect();
    let names = if names.is_empty() { all.clone() } else { names.to_vec() };
    for name in names {
        let mut rows: Vec<(String, String, String, String)> = Vec::new();
        let heading;
        match name.as_str() {
            "Controls" => {
                heading = "Controls: security controls every element has (element.controls.X)".to_owned();
                for d in Controls::ATTRIBUTES {
                    rows.push((d.name.to_owned(), d.ty.to_string(), show_default((d.default)(Kind::Asset)), d.doc_text()));
                }
            }
            "Data" => {
                heading = "Data: a data item that elements hold and flows carry".to_owned();
                rows.push(("id".into(), "str".into(), "required".into(), "Stable identifier, unique among data items.".into()));
                rows.push(("name".into(), "str".into(), "required".into(), "The name shown in reports.".into()));
                for d in DataItem::ATTRIBUTES {
                    rows.push((d.name.to_owned(), d.ty.to_string(), show_default((d.default)(Kind::Asset)), d.doc_text()));
                }
                rows.push(("carriedBy".into(), "list[Dataflow]".into(), "computed".into(), "Flows that carry the item.".into()));
                rows.push((
                    "processedBy".into(),
                    "list[Element]".into(),
                    "computed".into(),
                    "Elements at either end of those flows.".into(),
                ));
            }
            other => {
                let Some(kind) = Kind::from_name(other) else {
                    let hint =
                        file::closest(other, all.iter().map(String::as_str)).map(|c| format!("; did you mean `{c}`?")).unwrap_or_default();
                    return Err(bad(format!("unknown kind `{other}`{hint}")));
                };
                heading = format!("{}: {}", kind.name(), kind.summary());
                for f in FIXED_ATTRIBUTES.iter().filter(|f| f.kinds.contains(kind)) {
                    let doc = if f.computed { format!("{} (read-only)", f.doc) } else { f.doc.to_owned() };
                    rows.push((f.name.to_owned(), f.ty.to_string(), f.default.to_owned(), doc));
                }
                for d in Element::ATTRIBUTES.iter().filter(|d| d.kinds.contains(kind)) {
                    rows.push((d.name.to_owned(), d.ty.to_string(), show_default((d.default)(kind)), d.doc_text()));
                }
            }
        }
        writeln!(out, "{heading}")?;
        let w0 = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
        let w1 = rows.iter().map(|r| r.1.len()).max().unwrap_or(0);
        let w2 = rows.iter().map(|r| r.2.len()).max().unwrap_or(0);
        for (n, t, d, doc) in rows {
            writeln!(out, "  {n:<w0$}  {t:<w1$}  {d:<w2$}  {doc}")?;
        }
        writeln!(out)?;
    }
    Ok(())
}

fn show_default(v: threatmap_core::attr::Value<'_>) -> String {
    use threatmap_core::attr::Value;
    match v {
        Value::Bool(true) => "True".to_owned(),
        Value::Bool(false) => "False".to_owned(),
        Value::Int(n) => n.to_string(),
        Value::Str(s) => format!("{s:?}"),
        Value::Enum(e) => e.to_string(),
        Value::Levels(l) => format!("{l:?}"),
        Value::Strs(l) => format!("{l:?}"),
        _ => "None".to_owned(),
    }
}

fn list_elements(out: &mut dyn Write) -> Result<()> {
    writeln!(out, "Element kinds:")?;
    for k in Kind::ALL {
        writeln!(out, "  {:<15} {}", k.name(), k.summary())?;
    }
    writeln!(out, "\nEnumerations (write `Type.MEMBER` in conditions, `MEMBER` in model files):")?;
    let line = |out: &mut dyn Write, name: &str, doc: &str, members: Vec<&str>| writeln!(out, "  {name:<15} {doc}: {}", members.join(", "));
    line(out, "Classification", "data sensitivity, ordered", Classification::MEMBERS.iter().map(|m| m.name()).collect())?;
    line(out, "TLSVersion", "protocol versions, ordered", TlsVersion::MEMBERS.iter().map(|m| m.name()).collect())?;
    line(out, "Lifetime", "credential lifetimes", Lifetime::MEMBERS.iter().map(|m| m.name()).collect())?;
    line(out, "DatastoreType", "data store technologies", DatastoreType::MEMBERS.iter().map(|m| m.name()).collect())?;
    line(out, "Action", "handling of duplicate dataflows", Action::MEMBERS.iter().map(|m| m.name()).collect())?;
    Ok(())
}
