//! The ticket hand-off in the app: the tracker settings window, creating tickets for the chosen
//! findings and syncing ticket states on a background thread (progress, Cancel), and merging
//! what the tracker confirmed into the open model as it arrives.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;

use egui::RichText;
use threatmap_core::engine::Options;
use threatmap_core::lifecycle::{Decision, Decisions, TicketGroup, TrackerKind, TrackerSettings};
use threatmap_core::model::Model;
use threatmap_tickets::sync::{self, Hooks};
use threatmap_tickets::{Outcome, Selection};

use crate::gui::ThreatmapApp;

/// The hand-off's state in the app.
#[derive(Debug, Default)]
pub struct Handoff {
    /// Show the tracker settings window.
    pub show_settings: bool,
    /// Creating this many tickets waits for a yes.
    confirm: Option<(Vec<String>, usize)>,
    /// The settings being edited there (applied with Apply).
    form: Option<TrackerSettings>,
    /// The push or pull running now.
    pub job: Option<Job>,
}

/// What a running push or pull sends back.
#[derive(Debug)]
enum Msg {
    /// Decisions the tracker confirmed a change to: (key, before, after).
    Changed(Vec<(String, Decision, Decision)>),
    /// The run ended: a summary, and whether everything was done.
    Done(Result<(String, bool), String>),
}

/// A push or pull running on its own thread.
#[derive(Debug)]
pub struct Job {
    /// "Creating tickets in Redmine".
    pub what: String,
    /// "Tickets pushed to Redmine", for when it is over.
    done_what: String,
    /// The model had no unsaved changes when the run started: it is saved when the run ends,
    /// so the file records the tickets as the command line's runs do.
    save_after: bool,
    done: Arc<AtomicUsize>,
    total: Arc<AtomicUsize>,
    cancel: Arc<AtomicBool>,
    rx: mpsc::Receiver<Msg>,
}

/// Creating more new tickets than this at once asks first.
const CONFIRM_ABOVE: usize = 10;

/// A push or a pull.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Push,
    Pull,
}

/// The decisions that differ between two snapshots, as (key, before, after).
fn changed(before: &Decisions, after: &Decisions) -> Vec<(String, Decision, Decision)> {
    after
        .iter()
        .filter(|(k, d)| before.get(*k) != Some(*d))
        .map(|(k, d)| (k.clone(), before.get(k).cloned().unwrap_or_default(), d.clone()))
        .collect()
}

/// Merges what a push or pull did to a decision into the decision as the user has it now: the
/// ticket link, the history entries it added, and the status and ticket it moved (unless the
/// user changed those meanwhile).
fn merge(now: &mut Decision, before: &Decision, after: &Decision) {
    now.tracked.clone_from(&after.tracked);
    if now.status == before.status {
        now.status = after.status;
    }
    if now.ticket == before.ticket {
        now.ticket.clone_from(&after.ticket);
    }
    now.history.extend(after.history.iter().skip(before.history.len()).cloned());
}

impl ThreatmapApp {
    /// True if the model names a tracker.
    pub fn has_tracker(&self) -> bool {
        self.doc.model.tracker.is_some()
    }

    /// True if some decision records a ticket.
    pub fn has_tickets(&self) -> bool {
        self.doc.model.decisions.values().any(|d| d.tracked.is_some())
    }

    /// Creates (or updates) tickets for the findings chosen in the table, or the finding open
    /// in the inspector.
    pub fn create_tickets(&mut self, ctx: &egui::Context) {
        let mut keys: Vec<String> = self.table_selection.iter().cloned().collect();
        if keys.is_empty() {
            keys.extend(self.focus_finding.clone());
        }
        if keys.is_empty() {
            self.status = "Choose findings in the table first (Ctrl+click, Shift+click or Select shown)".to_owned();
            return;
        }
        // Many tickets at once are a lot to put in the developers' tracker: ask first.
        let new = keys.iter().filter(|k| self.doc.model.decisions.get(*k).is_none_or(|d| d.tracked.is_none())).count();
        if new > CONFIRM_ABOVE {
            self.handoff.confirm = Some((keys, new));
            return;
        }
        self.push_findings(keys, ctx);
    }

    fn push_findings(&mut self, keys: Vec<String>, ctx: &egui::Context) {
        let selection = Selection { findings: keys, ..Selection::default() };
        self.start_job(Kind::Push, selection, ctx);
    }

    /// Reads every recorded ticket's state and moves the decisions.
    pub fn sync_tickets(&mut self, ctx: &egui::Context) {
        self.start_job(Kind::Pull, Selection::default(), ctx);
    }

    fn start_job(&mut self, kind: Kind, selection: Selection, ctx: &egui::Context) {
        if self.handoff.job.is_some() {
            self.status = "A ticket run is going on: wait for it or cancel it".to_owned();
            return;
        }
        let Some(settings) = self.doc.model.tracker.clone() else {
            self.handoff.show_settings = true;
            self.status = "Name the tracker first".to_owned();
            return;
        };
        let connected = threatmap_tickets::secret_from_env(&settings)
            .and_then(|secret| threatmap_tickets::connect(&settings, secret, threatmap_tickets::Retry::default()));
        let mut tracker = match connected {
            Ok(t) => t,
            Err(e) => {
                let what = match &e {
                    threatmap_tickets::Error::Setup(m) if m.starts_with("no credential") => {
                        format!("No credential for {}", settings.kind.label())
                    }
                    _ => format!("Cannot use {}", settings.kind.label()),
                };
                self.fail(
                    what,
                    format!(
                        "{e}. Set it in the environment Threatmap is started from, then start Threatmap again; it is never stored in the model."
                    ),
                );
                return;
            }
        };
        let (what, done_what) = match kind {
            Kind::Push => {
                (format!("Creating tickets in {}", settings.kind.label()), format!("Tickets pushed to {}", settings.kind.label()))
            }
            Kind::Pull => {
                (format!("Syncing tickets with {}", settings.kind.label()), format!("Tickets synced with {}", settings.kind.label()))
            }
        };
        let save_after = !self.doc.is_dirty() && self.doc.path.is_some();
        let mut model: Model = self.doc.model.clone();
        let rules = self.rules.clone();
        let done = Arc::new(AtomicUsize::new(0));
        let total = Arc::new(AtomicUsize::new(0));
        let cancel = Arc::new(AtomicBool::new(false));
        let (tx, rx) = mpsc::channel();
        let (d, t, c, ctx) = (done.clone(), total.clone(), cancel.clone(), ctx.clone());
        std::thread::spawn(move || {
            let mut last = model.decisions.clone();
            let tx_save = tx.clone();
            let ctx_save = ctx.clone();
            let mut save = move |m: &Model| {
                let changes = changed(&last, &m.decisions);
                last = m.decisions.clone();
                if !changes.is_empty() {
                    let _ = tx_save.send(Msg::Changed(changes));
                    ctx_save.request_repaint();
                }
                Ok(())
            };
            let ctx_progress = ctx.clone();
            let mut progress = move |i: usize, n: usize, _: &[String]| {
                d.store(i, Ordering::Relaxed);
                t.store(n, Ordering::Relaxed);
                ctx_progress.request_repaint();
                !c.load(Ordering::Relaxed)
            };
            let hooks = Hooks { save: &mut save, progress: &mut progress };
            let result = match kind {
                Kind::Push => {
                    sync::push(&mut model, &rules, &Options::default(), &selection, tracker.as_mut(), hooks, false, false).map(|r| {
                        let mut s = format!(
                            "{} created, {} recorded from an earlier push, {} updated, {} reopened, {} unchanged",
                            r.created.len(),
                            r.recovered.len(),
                            r.updated.len(),
                            r.reopened.len(),
                            r.unchanged
                        );
                        if !r.failed.is_empty() {
                            s.push_str(&format!("; {} failed: {}", r.failed.len(), r.failed[0].1));
                        }
                        (s, !r.incomplete())
                    })
                }
                Kind::Pull => sync::pull(&mut model, &rules, &Options::default(), tracker.as_mut(), hooks, false).map(|r| {
                    let mut s = format!(
                        "{} ticket(s) read, {} decision(s) moved, {} missing, {} remediation failure(s)",
                        r.read,
                        r.changes.len(),
                        r.missing.len(),
                        r.remediation_failures.len()
                    );
                    if !r.failed.is_empty() {
                        s.push_str(&format!("; {} not read: {}", r.failed.len(), r.failed[0].1));
                    }
                    (s, !r.incomplete())
                }),
            };
            let _ = tx.send(Msg::Done(result.map_err(|e| e.to_string())));
            ctx.request_repaint();
        });
        self.status = format!("{what}…");
        self.handoff.job = Some(Job { what, done_what, save_after, done, total, cancel, rx });
    }

    /// Takes in what the running job sent, and shows its progress with a Cancel button.
    pub fn handoff_ui(&mut self, ctx: &egui::Context) {
        let mut finished = None;
        if let Some(job) = &self.handoff.job {
            let mut merges = Vec::new();
            while let Ok(msg) = job.rx.try_recv() {
                match msg {
                    Msg::Changed(c) => merges.extend(c),
                    Msg::Done(r) => finished = Some(r),
                }
            }
            if !merges.is_empty() {
                self.doc.edit(|m| {
                    for (k, before, after) in &merges {
                        merge(m.decisions.entry(k.clone()).or_default(), before, after);
                    }
                });
            }
        }
        if let Some(result) = finished
            && let Some(job) = self.handoff.job.take()
        {
            let cancelled = job.cancel.load(Ordering::Relaxed);
            let (done, total) = (job.done.load(Ordering::Relaxed), job.total.load(Ordering::Relaxed));
            match result {
                Ok((summary, _)) if cancelled => {
                    self.status = format!("Cancelled after {done} of {total} ticket(s); what was done is kept: {summary}");
                }
                Ok((summary, true)) => self.status = format!("{}: {summary}", job.done_what),
                Ok((summary, false)) => self.fail(
                    format!("{}: not everything was done", job.what),
                    format!("{summary}. What was done is kept; run it again to finish."),
                ),
                Err(e) => self.fail(format!("{} failed", job.what), e),
            }
            // The file records the tickets, as a command-line run's would, unless the model has
            // other unsaved changes (then the user saves, as ever).
            if job.save_after && self.doc.is_dirty() {
                self.save();
            } else if self.doc.is_dirty() && self.has_tickets() {
                self.status.push_str(" · save the model to keep the tickets in its file");
            }
        }
        if let Some(job) = &self.handoff.job {
            let (done, total) = (job.done.load(Ordering::Relaxed), job.total.load(Ordering::Relaxed));
            let mut cancel = false;
            egui::Window::new(&job.what).collapsible(false).resizable(false).anchor(egui::Align2::RIGHT_BOTTOM, [-16.0, -40.0]).show(
                ctx,
                |ui| {
                    let fraction = if total == 0 { 0.0 } else { done as f32 / total as f32 };
                    let text = if total == 0 { "Connecting…".to_owned() } else { format!("{done} of {total} ticket(s)") };
                    ui.add(egui::ProgressBar::new(fraction).text(text).desired_width(260.0));
                    cancel = ui.button("Cancel").on_hover_text("Stop after the ticket being written; what is done is kept").clicked();
                },
            );
            if cancel {
                job.cancel.store(true, Ordering::Relaxed);
                self.status = "Cancelling after the current ticket…".to_owned();
            }
        }
        if let Some((keys, new)) = self.handoff.confirm.clone() {
            let kind = self.doc.model.tracker.as_ref().map_or("the tracker", |t| t.kind.label());
            let mut answer = None;
            egui::Modal::new(egui::Id::new("confirm-tickets")).show(ctx, |ui| {
                ui.set_max_width(420.0);
                ui.heading(format!("Create {new} tickets in {kind}?"));
                ui.label("Each chosen finding without a ticket gets one in the developers' tracker.");
                ui.add_space(8.0);
                ui.horizontal(|ui| {
                    if ui.button(format!("Create {new} tickets")).clicked() {
                        answer = Some(true);
                    }
                    if ui.button("Cancel").clicked() || ui.input(|i| i.key_pressed(egui::Key::Escape)) {
                        answer = Some(false);
                    }
                });
            });
            match answer {
                Some(true) => {
                    self.handoff.confirm = None;
                    self.push_findings(keys, ctx);
                }
                Some(false) => self.handoff.confirm = None,
                None => {}
            }
        }
        if self.handoff.show_settings {
            let mut open = true;
            egui::Window::new("Tracker").open(&mut open).resizable(false).show(ctx, |ui| tracker_ui(ui, self));
            self.handoff.show_settings = open && self.handoff.show_settings;
            if !self.handoff.show_settings {
                self.handoff.form = None;
            }
        }
    }
}

/// The tracker settings form: where the model's findings are handed to.
fn tracker_ui(ui: &mut egui::Ui, app: &mut ThreatmapApp) {
    let current = app.doc.model.tracker.clone();
    let form =
        app.handoff.form.get_or_insert_with(|| current.clone().unwrap_or_else(|| TrackerSettings::new(TrackerKind::Redmine, "", "")));
    ui.label("Findings you choose become tickets in the development team's tracker; syncing reads their state back.");
    ui.add_space(4.0);
    egui::Grid::new("tracker-form").num_columns(2).show(ui, |ui| {
        let l = ui.label("Tracker");
        egui::ComboBox::from_id_salt("tracker-kind")
            .selected_text(form.kind.label())
            .show_ui(ui, |ui| {
                for k in TrackerKind::ALL {
                    ui.selectable_value(&mut form.kind, k, k.label());
                }
            })
            .response
            .labelled_by(l.id);
        ui.end_row();
        let hint_url = match form.kind {
            TrackerKind::Github => "https://api.github.com",
            TrackerKind::Gitlab => "https://gitlab.com",
            TrackerKind::Jira => "https://example.atlassian.net",
            _ => "https://tracker.example.com",
        };
        let hint_project = match form.kind {
            TrackerKind::Github => "owner/repository",
            TrackerKind::Gitlab => "group/project",
            TrackerKind::Jira | TrackerKind::JiraServer => "project key, e.g. SEC",
            TrackerKind::Redmine => "project identifier",
        };
        for (label, field, hint) in
            [("URL", 0, hint_url), ("Project", 1, hint_project), ("Link to the model", 2, "https://git.example.com/…")]
        {
            let l = ui.label(label);
            let value = match field {
                0 => &mut form.url,
                1 => &mut form.project,
                _ => &mut form.model_url,
            };
            ui.add(egui::TextEdit::singleline(value).hint_text(hint).desired_width(280.0)).labelled_by(l.id);
            ui.end_row();
        }
        if form.kind == TrackerKind::Jira {
            let l = ui.label("Account e-mail");
            ui.add(egui::TextEdit::singleline(&mut form.user).desired_width(280.0)).labelled_by(l.id);
            ui.end_row();
        }
        let l = ui.label("One ticket per");
        egui::ComboBox::from_id_salt("tracker-group")
            .selected_text(match form.group {
                TicketGroup::Finding => "finding",
                TicketGroup::Element => "element",
                TicketGroup::Rule => "rule",
            })
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut form.group, TicketGroup::Finding, "finding");
                ui.selectable_value(&mut form.group, TicketGroup::Element, "element");
                ui.selectable_value(&mut form.group, TicketGroup::Rule, "rule");
            })
            .response
            .labelled_by(l.id);
        ui.end_row();
        let l = ui.label("Labels");
        let mut labels = form.labels.join(", ");
        if ui.add(egui::TextEdit::singleline(&mut labels).hint_text("threat").desired_width(280.0)).labelled_by(l.id).changed() {
            form.labels = labels.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect();
        }
        ui.end_row();
    });
    // The credential is never shown or stored: only where it is read from, and whether it is there.
    let vars = threatmap_tickets::token_variables(form);
    let set = vars.iter().find(|v| std::env::var(v).is_ok_and(|s| !s.trim().is_empty()));
    match set {
        Some(v) => ui.label(format!("Credential: read from {v} (set)")),
        None => ui.colored_label(
            ui.visuals().warn_fg_color,
            format!("Credential: set {} before starting Threatmap; it is never stored in the model.", vars.join(" or ")),
        ),
    };
    let valid = (form.url.starts_with("https://") || form.url.starts_with("http://")) && !form.project.trim().is_empty();
    let changed = current.as_ref() != Some(&*form);
    let mut apply = false;
    let mut remove = false;
    ui.horizontal(|ui| {
        apply = ui.add_enabled(valid && changed, egui::Button::new("Apply")).clicked();
        if current.is_some() {
            remove = ui.button("Remove tracker").on_hover_text("The tickets already recorded stay on the findings").clicked();
        }
    });
    if !valid {
        ui.label(RichText::new("A URL (http:// or https://) and a project are needed.").weak());
    }
    if apply {
        let mut t = form.clone();
        t.url = t.url.trim().trim_end_matches('/').to_owned();
        t.project = t.project.trim().to_owned();
        app.doc.edit(|m| m.tracker = Some(t));
        app.status = "Tracker set: choose findings in the table, then Create tickets".to_owned();
        app.handoff.show_settings = false;
    }
    if remove {
        app.doc.edit(|m| m.tracker = None);
        app.handoff.show_settings = false;
    }
}

/// The ticket of a finding, in the inspector: its link and state, and what that state means.
pub fn ticket_ui(ui: &mut egui::Ui, kind: &str, d: &Decision) {
    let Some(t) = &d.tracked else { return };
    let id = t.shown_id();
    ui.horizontal_wrapped(|ui| {
        ui.label(RichText::new("Ticket").strong());
        if t.url.is_empty() {
            ui.label(format!("{kind} {id}"));
        } else {
            ui.hyperlink_to(format!("{kind} {id}"), &t.url);
        }
        let state = if t.state == "missing" { "gone from the tracker (deleted or moved)".to_owned() } else { t.state.clone() };
        ui.label(RichText::new(state).weak());
    });
    use threatmap_core::lifecycle::Status;
    if t.done && matches!(d.status, Status::Open | Status::NeedsInvestigation | Status::InProgress) {
        ui.label(RichText::new("Reopened here: the next Create ticket reopens the ticket and posts the justification on it.").weak());
    }
    if t.done && d.status == Status::FixReported {
        // The finding is shown, so its rule still fires on the model.
        ui.colored_label(
            ui.visuals().warn_fg_color,
            "Remediation failure? The ticket is done but the rule still fires: record the fix in the model (a control), \
             or reopen the finding with a note for the developers.",
        );
    }
}
