//! `threatmap tickets`: hand findings to the development team's tracker and follow them back.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Subcommand;
use threatmap_core::engine::analyze;
use threatmap_core::file;
use threatmap_core::lifecycle::{Status, TicketGroup, TrackerKind, TrackerSettings};
use threatmap_core::model::Model;
use threatmap_core::rules::Severity;
use threatmap_tickets::sync::{self, Hooks};
use threatmap_tickets::{Outcome, Selection};

use super::{ExcludeArg, RuleArgs, bad, load_rules, options, parse_severity, parse_status};

#[derive(Debug, Subcommand)]
pub(super) enum TicketsCommand {
    /// Create a ticket in the model's tracker for each selected finding (or element, or rule), or
    /// update the one it has; reopen the tickets of findings the analyst reopened, posting why.
    /// Each decision records its ticket once the tracker confirmed it; the model is saved after
    /// every ticket, and a second run finishes what an interrupted one started.
    Push {
        /// Native model file (`*.threatmap.json`) with a `tracker` section; rewritten atomically.
        model: PathBuf,
        #[command(flatten)]
        select: SelectArgs,
        /// Print the requests a push would make; send nothing, change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Hand over again the findings whose ticket was deleted or moved out of the project.
        #[arg(long)]
        recreate: bool,
        #[command(flatten)]
        rules: RuleArgs,
        #[command(flatten)]
        exclude: ExcludeArg,
    },
    /// Read the state of every ticket the model records and move the decisions: closed or resolved
    /// → fix reported (to verify); reopened → in progress; deleted or moved → noted, decision kept.
    /// Reports findings whose ticket is closed while their rule still fires (remediation failures).
    Pull {
        /// Native model file with a `tracker` section; rewritten atomically.
        model: PathBuf,
        /// Print the requests a pull would make; send nothing, change nothing.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        rules: RuleArgs,
        #[command(flatten)]
        exclude: ExcludeArg,
    },
    /// List the model's tickets as last synced (no network): finding, status, ticket, state, and
    /// the remediation failures. Exit 1 when there is a remediation failure.
    Status {
        /// Model file.
        model: PathBuf,
        #[command(flatten)]
        rules: RuleArgs,
        #[command(flatten)]
        exclude: ExcludeArg,
    },
    /// Write the model's `tracker` section (the credential is never written: it comes from the
    /// environment).
    Setup {
        /// Native model file; rewritten atomically.
        model: PathBuf,
        /// redmine, github, gitlab, jira (Cloud, REST v3) or jira-server (Server/Data Center, REST v2).
        #[arg(long, value_parser = parse_kind)]
        kind: TrackerKind,
        /// The tracker's base URL (https://api.github.com for GitHub, https://gitlab.com for GitLab).
        #[arg(long)]
        url: String,
        /// Redmine project identifier, GitHub owner/repository, GitLab project path, Jira project key.
        #[arg(long)]
        project: String,
        /// One ticket per finding (default), element or rule.
        #[arg(long, value_parser = parse_group)]
        group: Option<TicketGroup>,
        /// A label for every ticket (repeatable; default `threat`).
        #[arg(long = "label")]
        labels: Vec<String>,
        /// Where the model can be read (linked from every ticket).
        #[arg(long)]
        model_url: Option<String>,
        /// The environment variable holding the credential.
        #[arg(long)]
        token_env: Option<String>,
        /// Jira Cloud: the account e-mail of the API token.
        #[arg(long)]
        user: Option<String>,
    },
}

/// Which findings a push takes.
#[derive(Debug, Clone, clap::Args)]
pub(super) struct SelectArgs {
    /// Only findings with these statuses, comma-separated (default: open, needs-investigation, in-progress).
    #[arg(long, value_delimiter = ',', value_parser = parse_status)]
    status: Vec<Status>,
    /// Only findings at or above this severity.
    #[arg(long, value_parser = parse_severity)]
    severity: Option<Severity>,
    /// Only these rules (threat ids), comma-separated.
    #[arg(long = "rule", value_delimiter = ',')]
    rules: Vec<String>,
    /// Only findings on these elements (ids), comma-separated.
    #[arg(long = "element", value_delimiter = ',')]
    elements: Vec<String>,
    /// Only findings whose decision carries one of these tags, comma-separated.
    #[arg(long = "tag", value_delimiter = ',')]
    tags: Vec<String>,
    /// Only these findings (keys as `findings --format tsv` prints them), comma-separated.
    #[arg(long = "key", value_delimiter = ',')]
    keys: Vec<String>,
    /// Gather findings into one ticket per finding, element or rule (overrides the model's setting).
    #[arg(long, value_parser = parse_group)]
    group: Option<TicketGroup>,
}

fn parse_kind(s: &str) -> Result<TrackerKind, String> {
    TrackerKind::ALL.into_iter().find(|k| k.key().eq_ignore_ascii_case(s.trim())).ok_or_else(|| {
        let keys: Vec<&str> = TrackerKind::ALL.iter().map(|k| k.key()).collect();
        format!("unknown tracker `{s}` ({})", keys.join(", "))
    })
}

fn parse_group(s: &str) -> Result<TicketGroup, String> {
    match s.trim().to_lowercase().as_str() {
        "finding" => Ok(TicketGroup::Finding),
        "element" => Ok(TicketGroup::Element),
        "rule" => Ok(TicketGroup::Rule),
        _ => Err(format!("unknown grouping `{s}` (finding, element, rule)")),
    }
}

fn base_of(path: &Path) -> PathBuf {
    path.parent().map(Path::to_path_buf).unwrap_or_default()
}

fn tracker_for(m: &Model, dry_run: bool) -> Result<Box<dyn threatmap_tickets::Tracker>> {
    let settings = sync::settings_of(m).map_err(|e| bad(e.to_string()))?;
    let secret = match threatmap_tickets::secret_from_env(&settings) {
        Ok(s) => s,
        // A dry run sends nothing: it needs no credential.
        Err(_) if dry_run => threatmap_tickets::Secret::none(),
        Err(e) => return Err(bad(e.to_string())),
    };
    threatmap_tickets::connect(&settings, secret, threatmap_tickets::Retry::default()).map_err(|e| bad(e.to_string()))
}

pub(super) fn run(out: &mut dyn Write, command: TicketsCommand) -> Result<ExitCode> {
    match command {
        TicketsCommand::Push { model, select, dry_run, recreate, rules, exclude } => {
            let mut m = super::native_model(&model, "tickets")?;
            let rules = load_rules(&rules, Some((&m, &base_of(&model))))?;
            if let (Some(g), Some(t)) = (select.group, m.tracker.as_mut()) {
                t.group = g;
            }
            let selection = Selection {
                statuses: select.status,
                min_severity: select.severity,
                rules: select.rules,
                elements: select.elements,
                tags: select.tags,
                findings: select.keys,
            };
            let mut tracker = tracker_for(&m, dry_run)?;
            writeln!(out, "{}{}", tracker.describe(), if dry_run { " (dry run: nothing is sent)" } else { "" })?;
            let name = model.display().to_string();
            let mut save = |m: &Model| file::save(m, &model).map_err(|e| format!("cannot write {name}: {e}"));
            // Lines are printed as the run goes, so a long or interrupted push shows its progress.
            let printed = std::cell::Cell::new(0);
            let mut progress = |_: usize, _: usize, lines: &[String]| {
                for l in &lines[printed.get().min(lines.len())..] {
                    let _ = writeln!(out, "{l}");
                }
                let _ = out.flush();
                printed.set(lines.len());
                true
            };
            let report = sync::push(
                &mut m,
                &rules,
                &options(&exclude),
                &selection,
                tracker.as_mut(),
                Hooks { save: &mut save, progress: &mut progress },
                dry_run,
                recreate,
            )
            .map_err(|e| bad(e.to_string()))?;
            for l in &report.lines[printed.get().min(report.lines.len())..] {
                writeln!(out, "{l}")?;
            }
            if !dry_run {
                writeln!(
                    out,
                    "{} created, {} recorded from an earlier push, {} updated, {} reopened, {} unchanged, {} skipped{}",
                    report.created.len(),
                    report.recovered.len(),
                    report.updated.len(),
                    report.reopened.len(),
                    report.unchanged,
                    report.skipped,
                    if report.failed.is_empty() { String::new() } else { format!(", {} failed", report.failed.len()) }
                )?;
            }
            Ok(if report.incomplete() { ExitCode::from(1) } else { ExitCode::SUCCESS })
        }
        TicketsCommand::Pull { model, dry_run, rules, exclude } => {
            let mut m = super::native_model(&model, "tickets")?;
            let rules = load_rules(&rules, Some((&m, &base_of(&model))))?;
            let mut tracker = tracker_for(&m, dry_run)?;
            writeln!(out, "{}{}", tracker.describe(), if dry_run { " (dry run: nothing is sent)" } else { "" })?;
            let name = model.display().to_string();
            let mut save = |m: &Model| file::save(m, &model).map_err(|e| format!("cannot write {name}: {e}"));
            let mut progress = |_: usize, _: usize, _: &[String]| true;
            let report = sync::pull(
                &mut m,
                &rules,
                &options(&exclude),
                tracker.as_mut(),
                Hooks { save: &mut save, progress: &mut progress },
                dry_run,
            )
            .map_err(|e| bad(e.to_string()))?;
            for l in &report.lines {
                writeln!(out, "{l}")?;
            }
            if !dry_run {
                writeln!(
                    out,
                    "{} ticket(s) read, {} decision(s) moved, {} missing, {} remediation failure(s){}",
                    report.read,
                    report.changes.len(),
                    report.missing.len(),
                    report.remediation_failures.len(),
                    if report.failed.is_empty() { String::new() } else { format!(", {} not read", report.failed.len()) }
                )?;
            }
            Ok(if report.incomplete() { ExitCode::from(1) } else { ExitCode::SUCCESS })
        }
        TicketsCommand::Status { model, rules, exclude } => {
            let (m, base) = super::load_model(&model)?;
            let rules = load_rules(&rules, Some((&m, &base)))?;
            let a = analyze(&m, &rules, &options(&exclude));
            let live: std::collections::BTreeSet<String> = a.findings.iter().map(|f| a.key(f)).collect();
            let mut rows = Vec::new();
            for (k, d) in &m.decisions {
                if let Some(l) = &d.tracked {
                    let fires = if live.contains(k) { "" } else { " (no longer fires)" };
                    rows.push([k.clone(), d.status.label().to_owned(), l.id.clone(), format!("{}{fires}", l.state), l.url.clone()]);
                }
            }
            let w: Vec<usize> = (0..4).map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0)).collect();
            for r in &rows {
                writeln!(
                    out,
                    "{:<w0$}  {:<w1$}  {:<w2$}  {:<w3$}  {}",
                    r[0],
                    r[1],
                    r[2],
                    r[3],
                    r[4],
                    w0 = w[0],
                    w1 = w[1],
                    w2 = w[2],
                    w3 = w[3]
                )?;
            }
            let untracked = a.open_findings().filter(|f| a.decision(f).is_none_or(|d| d.tracked.is_none())).count();
            writeln!(out, "{} ticket(s) recorded; {untracked} open finding(s) not handed to the tracker", rows.len())?;
            let failures = sync::remediation_failures(&m, &rules, &options(&exclude));
            for f in &failures {
                writeln!(out, "remediation failure: {f}")?;
            }
            Ok(if failures.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        TicketsCommand::Setup { model, kind, url, project, group, labels, model_url, token_env, user } => {
            let mut m = super::native_model(&model, "tickets")?;
            let mut t = m.tracker.take().unwrap_or_else(|| TrackerSettings::new(kind, "", ""));
            t.kind = kind;
            t.url = url.trim().trim_end_matches('/').to_owned();
            t.project = project.trim().to_owned();
            if let Some(g) = group {
                t.group = g;
            }
            if !labels.is_empty() {
                t.labels = labels;
            }
            if let Some(u) = model_url {
                t.model_url = u;
            }
            if let Some(v) = token_env {
                t.token_env = v;
            }
            if let Some(u) = user {
                t.user = u;
            }
            if !(t.url.starts_with("https://") || t.url.starts_with("http://")) {
                return Err(bad(format!("--url {}: expected an http:// or https:// URL", t.url)));
            }
            let vars = threatmap_tickets::token_variables(&t).join(" or ");
            m.tracker = Some(t);
            file::save(&m, &model).with_context(|| format!("cannot write {}", model.display()))?;
            writeln!(out, "{}: tracker set; the credential is read from {vars}", model.display())?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
