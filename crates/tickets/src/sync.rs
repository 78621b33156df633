//! Push and pull: findings out to the tracker as tickets, the tickets' states back into the
//! decisions.
//!
//! A decision records its ticket only once the tracker has confirmed it, and the model is saved
//! after every ticket, so a run that stops half way (a crash, a network failure, a cancel) loses
//! nothing. A ticket created just before such a stop, whose confirmation never reached the model,
//! is found again by the key in its text: the next push records it instead of creating another.

use std::collections::BTreeMap;

use threatmap_core::engine::{Options, analyze};
use threatmap_core::lifecycle::{Change, Status, TicketLink, TrackerSettings, now_utc};
use threatmap_core::model::Model;
use threatmap_core::rules::RuleSet;

use crate::text::{self, Draft, Selection};
use crate::{Error, Found, Op, Remote, Tracker};

/// What a push or pull did (or, with `dry_run`, would do), one line per ticket touched.
#[derive(Debug, Default)]
pub struct PushReport {
    /// Tickets created, as (key, ticket id).
    pub created: Vec<(String, String)>,
    /// Tickets found on the tracker that an earlier, interrupted push had created, now recorded.
    pub recovered: Vec<(String, String)>,
    /// Tickets whose text changed and was rewritten.
    pub updated: Vec<String>,
    /// Tickets reopened because the analyst reopened their findings.
    pub reopened: Vec<String>,
    /// Tickets already up to date.
    pub unchanged: usize,
    /// Findings left alone because their ticket is gone from the tracker (see `recreate`).
    pub skipped: usize,
    /// Tickets that could not be written, with why (the run went on with the others).
    pub failed: Vec<(String, String)>,
    /// Drafts not reached because the run stopped (network gone, cancelled): the next run does them.
    pub not_reached: usize,
    /// What happened, in order, for people.
    pub lines: Vec<String>,
}

/// What a pull did.
#[derive(Debug, Default)]
pub struct PullReport {
    /// Tickets read.
    pub read: usize,
    /// Decisions moved, as lines for people.
    pub changes: Vec<String>,
    /// Findings whose ticket is done while their rule still fires on the current model: the
    /// model does not show the fix (ThreadFix's remediation failure).
    pub remediation_failures: Vec<String>,
    /// Tickets the tracker no longer has.
    pub missing: Vec<String>,
    /// Tickets that could not be read, with why.
    pub failed: Vec<(String, String)>,
    /// What happened, in order, for people (with `dry_run`: the requests it would make).
    pub lines: Vec<String>,
}

/// Either report's outcome for an exit code: everything done, or not.
pub trait Outcome {
    /// True when some ticket was not written or read.
    fn incomplete(&self) -> bool;
}

impl Outcome for PushReport {
    fn incomplete(&self) -> bool {
        !self.failed.is_empty() || self.not_reached > 0
    }
}

impl Outcome for PullReport {
    fn incomplete(&self) -> bool {
        !self.failed.is_empty()
    }
}

/// Where a push or pull saves the model after each confirmed change, and how it learns whether
/// to stop (the app's Cancel) and reports progress.
pub struct Hooks<'a> {
    /// Saves the model (atomically); an error stops the run.
    pub save: &'a mut dyn FnMut(&Model) -> Result<(), String>,
    /// Called before each ticket with (done, total, the report's lines so far); returning false
    /// stops the run there.
    pub progress: &'a mut dyn FnMut(usize, usize, &[String]) -> bool,
}

impl std::fmt::Debug for Hooks<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Hooks")
    }
}

/// The label of a ticket in lines for people: "Redmine #12".
fn label(settings: &TrackerSettings, id: &str) -> String {
    format!("{} {}", settings.kind.label(), threatmap_core::lifecycle::shown_ticket_id(id))
}

fn link_of(r: &Remote, key: &str, pushed: &str) -> TicketLink {
    TicketLink {
        id: r.id.clone(),
        url: r.url.clone(),
        state: r.state.clone(),
        done: r.done,
        key: key.to_owned(),
        pushed: pushed.to_owned(),
        synced: now_utc(),
    }
}

/// The tracker settings of a model, or an error saying how to add them.
pub fn settings_of(model: &Model) -> Result<TrackerSettings, Error> {
    model.tracker.clone().ok_or_else(|| {
        Error::Setup(
            "the model names no tracker: add a \"tracker\" section (kind, url, project), e.g. \
             `threatmap tickets setup MODEL --kind redmine --url https://redmine.example.com --project webapp`"
                .to_owned(),
        )
    })
}

/// Pushes the selected findings of `model` as tickets: creates those not yet on the tracker,
/// rewrites those whose text changed, and reopens those the analyst reopened (posting the
/// reason). A finding whose ticket the tracker no longer has (deleted, moved) is left alone
/// unless `recreate` says to hand it over again. With `dry_run`, nothing is sent and the report
/// lists the requests a push would make.
#[allow(clippy::too_many_arguments)]
pub fn push(
    model: &mut Model,
    rules: &RuleSet,
    options: &Options,
    selection: &Selection,
    tracker: &mut dyn Tracker,
    hooks: Hooks<'_>,
    dry_run: bool,
    recreate: bool,
) -> Result<PushReport, Error> {
    let settings = settings_of(model)?;
    let who = threatmap_core::lifecycle::current_user();
    let drafts = {
        let a = analyze(model, rules, options);
        text::drafts(&a, &settings, selection)?
    };
    let mut report = PushReport::default();
    // The ticket each draft already has, from its findings' decisions.
    let linked = |model: &Model, d: &Draft| -> Option<TicketLink> {
        d.findings.iter().find_map(|k| model.decisions.get(k)?.tracked.clone().filter(|l| l.key == d.key && l.state != "missing"))
    };
    let unlinked = drafts.iter().filter(|d| linked(model, d).is_none()).count();
    // Tickets an interrupted push created but could not record.
    let mut on_tracker: BTreeMap<String, Remote> = BTreeMap::new();
    if unlinked > 0 {
        if dry_run {
            report.lines.extend(tracker.would(&Op::Find).into_iter().map(|r| format!("read: {r}")));
        } else {
            let scope = text::scope(&settings, &model.name);
            // Only this model's tickets: their keys start with its scope.
            for r in tracker.find()? {
                if let Some(k) = r.key.clone().filter(|k| k.starts_with(&format!("{scope}/"))) {
                    on_tracker.entry(k).or_insert(r);
                }
            }
        }
    }
    let total = drafts.len();
    for (i, d) in drafts.iter().enumerate() {
        if !(hooks.progress)(i, total, &report.lines) {
            report.not_reached = total - i;
            report.lines.push(format!("stopped: {} ticket(s) not reached; push again to finish", total - i));
            break;
        }
        let digest = d.digest();
        let existing = linked(model, d);
        if existing.is_none() && !recreate {
            let gone = d.findings.iter().find_map(|k| model.decisions.get(k)?.tracked.clone().filter(|l| l.state == "missing"));
            if let Some(l) = gone {
                report.skipped += 1;
                report.lines.push(format!(
                    "skipped: {} ({}): its ticket {} is gone from the tracker; push with --recreate to hand it over again",
                    d.key,
                    d.findings.join(", "),
                    label(&settings, &l.id)
                ));
                continue;
            }
        }
        // The analyst reopened a finding whose ticket the developers closed: say why on the ticket.
        let reopen_note = existing.as_ref().filter(|l| l.done).and_then(|_| {
            d.findings.iter().find_map(|k| {
                let dec = model.decisions.get(k)?;
                matches!(dec.status, Status::Open | Status::NeedsInvestigation | Status::InProgress).then(|| {
                    // The reason: the note of the reopening, else the justification written for it.
                    let note = dec
                        .history
                        .last()
                        .map(|c| c.note.trim().to_owned())
                        .filter(|n| !n.is_empty())
                        .or_else(|| Some(dec.justification.trim().to_owned()).filter(|j| !j.is_empty()));
                    format!(
                        "Reopened by the security review of `{k}`: {}",
                        note.unwrap_or_else(|| "the fix could not be verified.".to_owned())
                    )
                })
            })
        });
        let result: Result<(TicketLink, &str), Error> = match (existing, on_tracker.get(&d.key)) {
            (Some(link), _) if dry_run => {
                if let Some(note) = &reopen_note {
                    report.lines.extend(tracker.would(&Op::Reopen(&link.id, note)).into_iter().map(|r| format!("reopen: {r}")));
                }
                if link.pushed != digest {
                    report.lines.extend(tracker.would(&Op::Update(&link.id, d)).into_iter().map(|r| format!("update: {r}")));
                } else if reopen_note.is_none() {
                    report.unchanged += 1;
                }
                continue;
            }
            (None, _) if dry_run => {
                report.lines.extend(tracker.would(&Op::Create(d)).into_iter().map(|r| format!("create: {r}")));
                report.lines.push(format!("        title: {}", d.title));
                report.lines.push(format!("        findings: {}", d.findings.join(", ")));
                continue;
            }
            (Some(mut link), _) => (|| {
                let mut what = "unchanged";
                if let Some(note) = &reopen_note {
                    let r = tracker.reopen(&link.id, note)?;
                    link = TicketLink { pushed: link.pushed.clone(), ..link_of(&r, &d.key, "") };
                    what = "reopened";
                }
                if link.pushed != digest {
                    tracker.update(&link.id, d)?;
                    link.pushed = digest.clone();
                    link.synced = now_utc();
                    if what == "unchanged" {
                        what = "updated";
                    }
                }
                Ok((link, what))
            })(),
            (None, Some(found)) => {
                let mut link = link_of(found, &d.key, "");
                (|| {
                    tracker.update(&link.id, d)?;
                    link.pushed = digest.clone();
                    Ok((link, "recovered"))
                })()
            }
            (None, None) => tracker.create(d).map(|r| (link_of(&r, &d.key, &digest), "created")),
        };
        let (link, what) = match result {
            Ok(x) => x,
            Err(Error::Network(e)) => {
                report.failed.push((d.key.clone(), e.clone()));
                report.not_reached = total - i - 1;
                report.lines.push(format!("failed: {}: {e}", d.key));
                report
                    .lines
                    .push(format!("stopped: the tracker cannot be reached; {} ticket(s) not reached; push again to finish", total - i - 1));
                break;
            }
            Err(e) => {
                report.failed.push((d.key.clone(), e.to_string()));
                report.lines.push(format!("failed: {}: {e}", d.key));
                continue;
            }
        };
        let name = label(&settings, &link.id);
        for k in &d.findings {
            let dec = model.decisions.entry(k.clone()).or_default();
            let fresh = dec.tracked.as_ref().is_none_or(|l| l.id != link.id);
            if fresh {
                dec.history.push(Change {
                    from: dec.status,
                    to: dec.status,
                    at: now_utc(),
                    by: who.clone(),
                    note: format!("handed to the developers: {name} {}", link.url).trim().to_owned(),
                });
                if dec.ticket.is_empty() || dec.tracked.is_some() {
                    dec.ticket = if link.url.is_empty() { link.id.clone() } else { link.url.clone() };
                }
            }
            dec.tracked = Some(link.clone());
        }
        match what {
            "created" => report.created.push((d.key.clone(), link.id.clone())),
            "recovered" => report.recovered.push((d.key.clone(), link.id.clone())),
            "updated" => report.updated.push(link.id.clone()),
            "reopened" => report.reopened.push(link.id.clone()),
            _ => report.unchanged += 1,
        }
        if what != "unchanged" {
            report.lines.push(format!("{what}: {name} {} ({})", link.url, d.findings.join(", ")));
        }
        (hooks.save)(model).map_err(Error::Setup)?;
    }
    Ok(report)
}

/// Pulls the state of every ticket the model's decisions record and moves the decisions: a ticket
/// the developers closed (or resolved) makes its findings "fix reported, to verify"; a ticket
/// reopened puts them back in progress; a ticket the tracker no longer has is noted and the
/// decision kept. Findings whose ticket is done while their rule still fires on the model are
/// reported as remediation failures.
pub fn pull(
    model: &mut Model,
    rules: &RuleSet,
    options: &Options,
    tracker: &mut dyn Tracker,
    hooks: Hooks<'_>,
    dry_run: bool,
) -> Result<PullReport, Error> {
    let settings = settings_of(model)?;
    let mut report = PullReport::default();
    // Each ticket once, with the decisions that record it.
    let mut tickets: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, d) in &model.decisions {
        if let Some(l) = &d.tracked {
            tickets.entry(l.id.clone()).or_default().push(k.clone());
        }
    }
    if dry_run {
        for id in tickets.keys() {
            report.lines.extend(tracker.would(&Op::Get(id)).into_iter().map(|r| format!("read: {r}")));
        }
        return Ok(report);
    }
    let total = tickets.len();
    for (i, (id, keys)) in tickets.iter().enumerate() {
        if !(hooks.progress)(i, total, &report.lines) {
            report.lines.push(format!("stopped: {} ticket(s) not read; pull again to finish", total - i));
            report.failed.push((id.clone(), "cancelled".to_owned()));
            break;
        }
        let name = label(&settings, id);
        let found = match tracker.get(id) {
            Ok(f) => f,
            Err(e) => {
                report.lines.push(format!("failed: {name}: {e}"));
                report.failed.push((id.clone(), e.to_string()));
                if matches!(e, Error::Network(_)) {
                    break;
                }
                continue;
            }
        };
        report.read += 1;
        for k in keys {
            let Some(dec) = model.decisions.get_mut(k) else { continue };
            let Some(old) = dec.tracked.clone() else { continue };
            match &found {
                Found::Missing(why) => {
                    if old.state != "missing" {
                        dec.history.push(Change {
                            from: dec.status,
                            to: dec.status,
                            at: now_utc(),
                            by: settings.kind.label().to_owned(),
                            note: format!("{name} {why}; the decision is kept"),
                        });
                        report.missing.push(format!("{k}: {name} {why}"));
                        report.lines.push(format!("missing: {name} {why} ({k}); the decision is kept"));
                    }
                    dec.tracked = Some(TicketLink { state: "missing".to_owned(), done: false, synced: now_utc(), ..old });
                }
                Found::Ticket(r) => {
                    let by = if r.changed_by.is_empty() {
                        settings.kind.label().to_owned()
                    } else {
                        format!("{} ({})", r.changed_by, settings.kind.label())
                    };
                    let to = if r.done && !old.done && matches!(dec.status, Status::Open | Status::NeedsInvestigation | Status::InProgress)
                    {
                        let said = if r.note.is_empty() { String::new() } else { format!(": “{}”", r.note) };
                        Some((Status::FixReported, format!("{name} is {}{said}; the developers report a fix: verify it", r.state)))
                    } else if !r.done
                        && (old.done || old.state == "missing")
                        && matches!(dec.status, Status::FixReported | Status::Mitigated)
                    {
                        let said = if r.note.is_empty() { String::new() } else { format!(": “{}”", r.note) };
                        Some((Status::InProgress, format!("{name} was reopened ({}){said}", r.state)))
                    } else {
                        None
                    };
                    if let Some((status, note)) = to {
                        report.changes.push(format!("{k}: {} → {} ({note})", dec.status.label(), status.label()));
                        report.lines.push(format!("moved: {k}: {} → {}: {note}", dec.status.label(), status.label()));
                        dec.set_status(status, &by, &note);
                    }
                    dec.tracked = Some(TicketLink {
                        id: r.id.clone(),
                        url: if r.url.is_empty() { old.url.clone() } else { r.url.clone() },
                        state: r.state.clone(),
                        done: r.done,
                        synced: now_utc(),
                        ..old
                    });
                }
            }
        }
        (hooks.save)(model).map_err(Error::Setup)?;
    }
    report.remediation_failures = remediation_failures(model, rules, options);
    for line in &report.remediation_failures {
        report.lines.push(format!("remediation failure: {line}"));
    }
    Ok(report)
}

/// Findings whose ticket the developers closed, still awaiting verification, while their rule
/// still fires on the current model: the model does not show the fix the ticket reports.
pub fn remediation_failures(model: &Model, rules: &RuleSet, options: &Options) -> Vec<String> {
    let a = analyze(model, rules, options);
    let tracker = model.tracker.as_ref().map(|t| t.kind.label()).unwrap_or("tracker");
    a.remediation_failures()
        .into_iter()
        .map(|(k, d)| {
            let (id, state) = d.tracked.as_ref().map(|l| (l.shown_id(), l.state.as_str())).unwrap_or_default();
            format!("{k}: {tracker} {id} is {state}, but the rule still fires on the model: the model does not show the fix")
        })
        .collect()
}
