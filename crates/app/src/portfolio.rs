//! Portfolios: every model file of a folder (typically a git repository) summed up, for
//! `threatmap portfolio`, the app's portfolio sidebar, and pytm's check of models older than the
//! code they describe (`threatmap stale`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;
use clap::ValueEnum;
use threatmap_core::engine::{Options, analyze};
use threatmap_core::file;
use threatmap_core::lifecycle::TagFilter;
use threatmap_core::model::Model;
use threatmap_render::portfolio::{self, Entry, Stale};

use crate::convert::bad;

/// Output of `portfolio`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PortfolioFormat {
    /// One self-contained HTML dashboard.
    Html,
    /// The figures as JSON.
    Json,
    /// One row per application.
    Csv,
}

/// The model files under `dir` (`*.threatmap.json`), sorted, skipping hidden folders and
/// build output.
fn model_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d).map_err(|e| bad(format!("{}: {e}", d.display())))?;
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            let Ok(kind) = entry.file_type() else { continue };
            if kind.is_dir() {
                if !name.starts_with('.') && name != "target" && name != "node_modules" {
                    stack.push(path);
                }
            } else if kind.is_file() && name.ends_with(".threatmap.json") {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// When a file last changed and who changed it: git's last commit touching it when the file is
/// in a repository, else its modification time.
fn last_change(path: &Path) -> (Option<time::OffsetDateTime>, String) {
    let (dir, name) = (path.parent().unwrap_or(Path::new(".")), path.file_name().map(|n| n.to_os_string()).unwrap_or_default());
    let git = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["log", "-1", "--format=%cI%x09%an", "--"])
        .arg(&name)
        .stderr(std::process::Stdio::null())
        .output();
    if let Ok(o) = git
        && o.status.success()
    {
        let text = String::from_utf8_lossy(&o.stdout).trim().to_owned();
        if let Some((when, who)) = text.split_once('\t')
            && let Ok(t) = time::OffsetDateTime::parse(when, &time::format_description::well_known::Rfc3339)
        {
            return (Some(t), who.to_owned());
        }
    }
    (mtime(path), String::new())
}

fn mtime(path: &Path) -> Option<time::OffsetDateTime> {
    let t = std::fs::metadata(path).and_then(|m| m.modified()).ok()?;
    Some(time::OffsetDateTime::from(t))
}

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .replace_nanosecond(0)
        .unwrap_or(t)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Whole days from `from` to `to`, rounded down as Python's `timedelta.days` does.
fn days_between(from: time::OffsetDateTime, to: time::OffsetDateTime) -> i64 {
    (to - from).whole_seconds().div_euclid(86_400)
}

/// The source files the elements of `m` name, relative to `base`.
fn source_files(m: &Model) -> Vec<String> {
    let mut out = Vec::new();
    for e in &m.elements {
        out.extend(e.source_files.iter().flatten().cloned());
    }
    out
}

/// Today, as YYYY-MM-DD (UTC).
pub fn today() -> String {
    time::OffsetDateTime::now_utc().date().format(time::macros::format_description!("[year]-[month]-[day]")).unwrap_or_default()
}

/// Every model file under `dir`, summed up, in path order. A model that cannot be read is an
/// entry with the reason.
pub fn entries(dir: &Path, stale_days: i64, today_text: &str, tags: &TagFilter) -> Result<Vec<Entry>> {
    let mut entries = Vec::new();
    for path in model_files(dir)? {
        let rel = path.strip_prefix(dir).unwrap_or(&path).to_string_lossy().replace('\\', "/");
        let (changed, changed_by) = last_change(&path);
        let loaded = file::load_any(&path);
        let entry = match loaded {
            Ok(loaded) => {
                let m = tags.narrow(loaded.model);
                let base = path.parent().map(Path::to_path_buf);
                let rules = crate::gui::rules_for(&m, base.as_deref());
                let summary = {
                    let mut a = analyze(&m, &rules, &Options::default());
                    tags.keep(&mut a);
                    portfolio::summarize(&a, today_text)
                };
                // Staleness: source files changed well after the model (git dates when present).
                let mut stale = Vec::new();
                if let Some(model_time) = changed {
                    for src in source_files(&m) {
                        let src_path = base.clone().unwrap_or_default().join(&src);
                        if let (Some(t), _) = last_change(&src_path) {
                            let age = days_between(model_time, t);
                            if age >= stale_days {
                                stale.push(Stale { file: src, age_days: age });
                            }
                        }
                    }
                }
                Entry {
                    path: rel,
                    name: m.name.clone(),
                    summary: Ok(summary),
                    changed: changed.map(rfc3339).unwrap_or_default(),
                    changed_by,
                    stale,
                }
            }
            Err(e) => Entry {
                name: rel.clone(),
                path: rel,
                summary: Err(e.to_string()),
                changed: changed.map(rfc3339).unwrap_or_default(),
                changed_by,
                stale: Vec::new(),
            },
        };
        entries.push(entry);
    }
    Ok(entries)
}

/// `threatmap portfolio`: the dashboard of a folder's models.
pub fn portfolio(
    out: &mut dyn Write,
    dir: &Path,
    format: PortfolioFormat,
    output: Option<&Path>,
    stale_days: i64,
    title: Option<String>,
    tags: &TagFilter,
) -> Result<ExitCode> {
    if !dir.is_dir() {
        return Err(bad(format!("{}: not a folder", dir.display())));
    }
    let today_text = today();
    let entries = entries(dir, stale_days, &today_text, tags)?;
    if entries.is_empty() {
        return Err(bad(format!("{}: no model files (*.threatmap.json) in this folder or below", dir.display())));
    }
    let title = title.unwrap_or_else(|| {
        let d = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
        d.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "Portfolio".to_owned())
    });
    let text = match format {
        PortfolioFormat::Html => portfolio::html(&entries, &title, &today_text, stale_days),
        PortfolioFormat::Json => portfolio::json(&entries, &today_text, stale_days),
        PortfolioFormat::Csv => portfolio::csv(&entries)?,
    };
    match output {
        Some(p) if p != Path::new("-") => {
            file::write_atomic(p, text.as_bytes()).map_err(|e| anyhow::anyhow!("cannot write {}: {e}", p.display()))?
        }
        _ => out.write_all(text.as_bytes())?,
    }
    let unreadable = entries.iter().filter(|e| e.summary.is_err()).count();
    if unreadable > 0 {
        eprintln!("warning: {unreadable} model(s) could not be read; the dashboard lists why");
    }
    Ok(ExitCode::SUCCESS)
}

/// pytm's `--stale_days`: for each source file an element names (relative to the model's
/// folder), whether its modification time differs from the model file's by `days` or more.
/// With `check`, exit 1 when some source file is newer than the model by that much.
pub fn stale(out: &mut dyn Write, model: &Path, days: i64, check: bool) -> Result<ExitCode> {
    let loaded = file::load_any(model).map_err(|e| bad(e.to_string()))?;
    let name = model.display().to_string();
    let Some(model_time) = std::fs::metadata(model).and_then(|m| m.modified()).ok() else {
        return Err(bad(format!("{name}: cannot read its modification time")));
    };
    let model_time = time::OffsetDateTime::from(model_time);
    let base = model.parent().map(Path::to_path_buf).unwrap_or_default();
    writeln!(out, "Checking for code {days} days older than this model.")?;
    let mut newer = 0;
    for src in source_files(&loaded.model) {
        let src_path = base.join(&src);
        let Ok(t) = std::fs::metadata(&src_path).and_then(|m| m.modified()) else {
            eprintln!("{name} - {}: no such file", src_path.display());
            continue;
        };
        let age = days_between(model_time, time::OffsetDateTime::from(t));
        if age >= days {
            newer += 1;
            writeln!(out, "This model is {age} days older than {}.", src_path.display())?;
        } else if age <= -days {
            writeln!(out, "Model script {name} is only {} days newer than source code file {}", -age, src_path.display())?;
        }
    }
    Ok(if check && newer > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// The portfolio sidebar of the app: a folder's models with their counts.
#[derive(Debug)]
pub struct Sidebar {
    /// The folder.
    pub dir: PathBuf,
    /// Its models, summed up.
    pub entries: Vec<Entry>,
}

impl crate::gui::ThreatmapApp {
    /// Opens a folder of models as the portfolio sidebar.
    pub fn open_portfolio(&mut self, dir: &Path) {
        match entries(dir, 30, &today(), &TagFilter::default()) {
            Ok(e) if e.is_empty() => {
                self.fail(
                    format!("No models in {}", dir.display()),
                    "A portfolio is a folder of model files (*.threatmap.json), in it or below.".to_owned(),
                );
            }
            Ok(e) => {
                self.status = format!("Portfolio: {} model(s) in {}", e.len(), dir.display());
                self.portfolio = Some(Sidebar { dir: dir.to_path_buf(), entries: e });
                // The sidebar takes room from the canvas: fit the drawing again.
                self.canvas.fit_requested = true;
            }
            Err(e) => self.fail(format!("Cannot open {} as a portfolio", dir.display()), e.to_string()),
        }
    }

    /// Sums the portfolio's models up again (after a save, or on Refresh).
    pub fn refresh_portfolio(&mut self) {
        if let Some(dir) = self.portfolio.as_ref().map(|p| p.dir.clone())
            && let Ok(e) = entries(&dir, 30, &today(), &TagFilter::default())
        {
            self.portfolio = Some(Sidebar { dir, entries: e });
        }
    }
}

/// The sidebar: each model with its open findings, worst severity and fixes to verify; a click
/// opens it (asking about unsaved changes first).
pub fn sidebar_ui(ui: &mut egui::Ui, app: &mut crate::gui::ThreatmapApp) {
    use egui::RichText;
    let Some(p) = &app.portfolio else { return };
    let name = p.dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| p.dir.display().to_string());
    let mut open = None;
    let (mut refresh, mut close) = (false, false);
    ui.horizontal(|ui| {
        ui.heading("Portfolio");
        refresh = ui.small_button("Refresh").on_hover_text("Read the folder's models again").clicked();
        close = ui.small_button("Close").clicked();
    });
    ui.label(RichText::new(&name).weak()).on_hover_text(p.dir.display().to_string());
    let current = app.doc.path.as_ref().and_then(|d| d.canonicalize().ok());
    egui::ScrollArea::vertical().show(ui, |ui| {
        for e in &p.entries {
            let path = p.dir.join(&e.path);
            let is_open = current.is_some() && path.canonicalize().ok() == current;
            let detail = match &e.summary {
                Ok(s) => {
                    let worst = s.open.iter().find(|(_, n)| *n > 0).map(|(sev, _)| sev.name()).unwrap_or("none");
                    let verify: usize =
                        s.statuses.iter().filter(|(st, _)| *st == threatmap_core::lifecycle::Status::FixReported).map(|(_, n)| n).sum();
                    let mut d = format!("{} open · worst {worst}", s.open_total());
                    if verify > 0 {
                        d.push_str(&format!(" · {verify} to verify"));
                    }
                    if !s.remediation_failures.is_empty() {
                        d.push_str(&format!(" · {} still fire", s.remediation_failures.len()));
                    }
                    if !e.stale.is_empty() {
                        d.push_str(" · stale");
                    }
                    d
                }
                Err(why) => format!("cannot be read: {why}"),
            };
            let mut text = RichText::new(format!("{}\n{detail}", if e.name.is_empty() { &e.path } else { &e.name }));
            if e.summary.is_err() {
                text = text.color(ui.visuals().error_fg_color);
            }
            let r = ui.selectable_label(is_open, text).on_hover_text(&e.path);
            if r.clicked() && !is_open {
                open = Some(path);
            }
        }
    });
    if let Some(path) = open {
        app.request(crate::gui::Pending::Open(Some(path)));
    }
    if refresh {
        app.refresh_portfolio();
    }
    if close {
        app.portfolio = None;
        app.canvas.fit_requested = true;
    }
}
