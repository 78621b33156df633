//! Triage decisions: what the team decided about each finding, kept in the model file under the
//! finding's stable key (`rule@element`), so decisions survive renames, moves and re-runs of
//! the rules. A decision whose finding is no longer generated is kept and reported as orphaned.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::engine::{Analysis, Finding};

/// Where a finding stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Not looked at yet.
    #[default]
    Open,
    /// Someone has to find out whether it applies.
    NeedsInvestigation,
    /// A fix is being made.
    InProgress,
    /// The development team's ticket says it is fixed: the analyst has to verify it (then marks
    /// it mitigated, or reopens it).
    FixReported,
    /// Fixed or otherwise mitigated.
    Mitigated,
    /// The risk is accepted as it is.
    AcceptedRisk,
    /// Does not apply here (false positive).
    NotApplicable,
    /// Handed to someone else (another team, a vendor).
    Transferred,
}

impl Status {
    /// Every status, in workflow order.
    pub const ALL: [Status; 8] = [
        Status::Open,
        Status::NeedsInvestigation,
        Status::InProgress,
        Status::FixReported,
        Status::Mitigated,
        Status::AcceptedRisk,
        Status::NotApplicable,
        Status::Transferred,
    ];

    /// True while the finding still needs work: open, needs investigation, in progress, or a fix
    /// reported but not yet verified.
    pub const fn is_open(self) -> bool {
        matches!(self, Status::Open | Status::NeedsInvestigation | Status::InProgress | Status::FixReported)
    }

    /// The name in files and on the command line.
    pub const fn key(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::NeedsInvestigation => "needs-investigation",
            Status::InProgress => "in-progress",
            Status::FixReported => "fix-reported",
            Status::Mitigated => "mitigated",
            Status::AcceptedRisk => "accepted-risk",
            Status::NotApplicable => "not-applicable",
            Status::Transferred => "transferred",
        }
    }

    /// The name shown to people.
    pub const fn label(self) -> &'static str {
        match self {
            Status::Open => "Open",
            Status::NeedsInvestigation => "Needs investigation",
            Status::InProgress => "In progress",
            Status::FixReported => "Fix reported, to verify",
            Status::Mitigated => "Mitigated",
            Status::AcceptedRisk => "Accepted risk",
            Status::NotApplicable => "Not applicable",
            Status::Transferred => "Transferred",
        }
    }

    /// Parses a status key or label (case, spaces and dashes do not matter).
    pub fn parse(s: &str) -> Option<Status> {
        let norm = |x: &str| x.chars().filter(|c| c.is_alphanumeric()).collect::<String>().to_lowercase();
        let want = norm(s);
        Status::ALL.into_iter().find(|st| norm(st.key()) == want || norm(st.label()) == want).or(match want.as_str() {
            "falsepositive" | "fp" => Some(Status::NotApplicable),
            "accepted" => Some(Status::AcceptedRisk),
            "fixed" | "resolved" => Some(Status::Mitigated),
            _ => None,
        })
    }
}

/// One change of a decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Change {
    /// Status before.
    pub from: Status,
    /// Status after.
    pub to: Status,
    /// When (UTC, RFC 3339).
    pub at: String,
    /// Who (user name).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub by: String,
    /// Why, in a few words.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
}

/// The team's decision about one finding.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    /// Where the finding stands.
    #[serde(default)]
    pub status: Status,
    /// Why (required in practice for accepted risks and false positives).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub justification: String,
    /// Who owns the follow-up.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub owner: String,
    /// Tracker ticket: an id or a URL.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub ticket: String,
    /// Due date (YYYY-MM-DD).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due: Option<String>,
    /// Free tags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Every status change, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<Change>,
    /// The tracker ticket `threatmap tickets push` created for the finding, as the tracker last
    /// confirmed it. Set only once the tracker has answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracked: Option<TicketLink>,
}

/// A finding's ticket in the development team's tracker, as last seen there.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TicketLink {
    /// The tracker's id of the ticket (`42`, `SEC-7`).
    pub id: String,
    /// Where people open it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub url: String,
    /// The ticket's state in the tracker's words (`New`, `Closed`, `open`), or `missing` when
    /// the tracker no longer has it (deleted, or moved out of the project).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub state: String,
    /// True when that state means the developers consider the work done (closed, resolved).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub done: bool,
    /// The key the ticket carries in its text (`model/RULE@element`, or a group's key when one
    /// ticket carries several findings): how a later push finds it again.
    pub key: String,
    /// A digest of the text last pushed, so that a push changes only the tickets whose text changed.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub pushed: String,
    /// When the ticket was last read from or written to the tracker (UTC, RFC 3339).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub synced: String,
}

impl Decision {
    /// The decision another tool's file records for a threat: its status (a history entry says
    /// where it came from, `at` and `by` as that file gives them) and tags.
    pub fn recorded(status: Status, tags: Vec<String>, at: String, by: String, note: String) -> Decision {
        let mut d = Decision { status, tags, ..Decision::default() };
        if status != Status::Open {
            d.history.push(Change { from: Status::Open, to: status, at, by, note });
        }
        d
    }

    /// True for an accepted risk or a "not applicable" with no justification: a reviewer
    /// cannot tell why the finding was set aside.
    pub fn missing_justification(&self) -> bool {
        matches!(self.status, Status::AcceptedRisk | Status::NotApplicable) && self.justification.trim().is_empty()
    }

    /// Moves to `to`, recording the change (also when only the note changes).
    pub fn set_status(&mut self, to: Status, by: &str, note: &str) {
        self.history.push(Change { from: self.status, to, at: now_utc(), by: by.to_owned(), note: note.to_owned() });
        self.status = to;
    }
}

impl TicketLink {
    /// The ticket as people name it: `#42` for a number, `SEC-7` as it is.
    pub fn shown_id(&self) -> String {
        shown_ticket_id(&self.id)
    }
}

/// A tracker's ticket id as people name it: `#42` for a number, `SEC-7` as it is.
pub fn shown_ticket_id(id: &str) -> String {
    if !id.is_empty() && id.chars().all(|c| c.is_ascii_digit()) { format!("#{id}") } else { id.to_owned() }
}

/// The kinds of tracker a model's findings can be handed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum TrackerKind {
    /// Redmine's REST API (`X-Redmine-API-Key`).
    Redmine,
    /// GitHub Issues (REST, a token).
    Github,
    /// GitLab Issues (REST v4, a token).
    Gitlab,
    /// Jira Cloud (REST v3, Atlassian Document Format; an account e-mail and API token).
    Jira,
    /// Jira Server or Data Center (REST v2; a personal access token).
    JiraServer,
}

impl TrackerKind {
    /// Every kind, as the `kind` field names them.
    pub const ALL: [TrackerKind; 5] =
        [TrackerKind::Redmine, TrackerKind::Github, TrackerKind::Gitlab, TrackerKind::Jira, TrackerKind::JiraServer];

    /// The name in model files.
    pub const fn key(self) -> &'static str {
        match self {
            TrackerKind::Redmine => "redmine",
            TrackerKind::Github => "github",
            TrackerKind::Gitlab => "gitlab",
            TrackerKind::Jira => "jira",
            TrackerKind::JiraServer => "jira-server",
        }
    }

    /// The name shown to people.
    pub const fn label(self) -> &'static str {
        match self {
            TrackerKind::Redmine => "Redmine",
            TrackerKind::Github => "GitHub",
            TrackerKind::Gitlab => "GitLab",
            TrackerKind::Jira => "Jira Cloud",
            TrackerKind::JiraServer => "Jira Server",
        }
    }
}

/// How findings are gathered into tickets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum TicketGroup {
    /// One ticket per finding.
    #[default]
    Finding,
    /// One ticket per element, carrying all of its selected findings.
    Element,
    /// One ticket per rule, carrying every element it fired on.
    Rule,
}

/// Where a model's findings are handed to: the development team's tracker and how tickets are
/// written there. Credentials are never kept here: they come from the environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TrackerSettings {
    /// Which tracker.
    pub kind: TrackerKind,
    /// Its base URL (`https://redmine.example.com`, `https://api.github.com`,
    /// `https://gitlab.com`, `https://example.atlassian.net`).
    pub url: String,
    /// The project: a Redmine project identifier, a GitHub `owner/repository`, a GitLab project
    /// path or id, a Jira project key.
    pub project: String,
    /// Prefix of the key each ticket carries, telling this model's tickets from other models'
    /// in the same project (default: the model's name).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub scope: String,
    /// One ticket per finding (default), per element or per rule.
    #[serde(default, skip_serializing_if = "crate::model::is_default")]
    pub group: TicketGroup,
    /// Labels put on every ticket (default `threat`); the STRIDE categories are added to them.
    /// Redmine has no labels: they are written into the ticket's text.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    /// The tracker's priority for each severity (`high: Urgent`); unset severities use the
    /// tracker kind's defaults. GitHub and GitLab have no priority field: a `priority:` label
    /// carries it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub priorities: BTreeMap<String, String>,
    /// Redmine tracker or Jira issue type of new tickets (default `Bug`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub issue_type: String,
    /// Ticket states, besides closed ones, that mean the developers report a fix (Redmine's
    /// default: `Resolved`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub done_states: Vec<String>,
    /// The environment variable holding the credential (default: `THREATMAP_TRACKER_TOKEN`,
    /// then the kind's usual one: `REDMINE_API_KEY`, `GITHUB_TOKEN`, `GITLAB_TOKEN`, `JIRA_API_TOKEN`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub token_env: String,
    /// Jira Cloud: the account e-mail the API token belongs to (or set `JIRA_USER`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub user: String,
    /// Where the model can be read (a repository URL): linked from every ticket.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub model_url: String,
    /// Ticket title template (`{severity}: {title}` by default); fields in braces.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub title: String,
    /// Ticket body template (Markdown); fields in braces. Empty: the built-in body.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub body: String,
}

impl TrackerSettings {
    /// Settings naming a tracker and a project, everything else at its default.
    pub fn new(kind: TrackerKind, url: &str, project: &str) -> TrackerSettings {
        TrackerSettings {
            kind,
            url: url.to_owned(),
            project: project.to_owned(),
            scope: String::new(),
            group: TicketGroup::Finding,
            labels: Vec::new(),
            priorities: BTreeMap::new(),
            issue_type: String::new(),
            done_states: Vec::new(),
            token_env: String::new(),
            user: String::new(),
            model_url: String::new(),
            title: String::new(),
            body: String::new(),
        }
    }
}

/// Tags to narrow a model's findings to: those whose decision carries one of them (case does
/// not matter). No tags: every finding.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TagFilter(pub Vec<String>);

impl TagFilter {
    /// True if the decision carries one of the tags.
    pub fn matches(&self, d: &Decision) -> bool {
        d.tags.iter().any(|t| self.0.iter().any(|w| w.trim().eq_ignore_ascii_case(t)))
    }

    /// The model with only the decisions that carry one of the tags (all of it when none is
    /// given), so that a tagged decision whose finding is gone is still reported as orphaned
    /// and the others are not.
    pub fn narrow(&self, mut m: crate::model::Model) -> crate::model::Model {
        if !self.0.is_empty() {
            m.decisions.retain(|_, d| self.matches(d));
        }
        m
    }

    /// Keeps only the findings of `a` whose decision carries one of the tags.
    pub fn keep(&self, a: &mut Analysis<'_>) {
        if self.0.is_empty() {
            return;
        }
        let keep = |f: &Finding| a.decision(f).is_some_and(|d| self.matches(d));
        let findings: Vec<Finding> = a.findings.iter().filter(|f| keep(f)).cloned().collect();
        let excluded: Vec<Finding> = a.excluded.iter().filter(|f| keep(f)).cloned().collect();
        a.findings = findings;
        a.excluded = excluded;
    }
}

/// The current time, UTC, RFC 3339 to the second.
pub fn now_utc() -> String {
    let t = time::OffsetDateTime::now_utc().replace_nanosecond(0).unwrap_or_else(|_| time::OffsetDateTime::now_utc());
    t.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

/// True if `s` is a calendar date `YYYY-MM-DD`.
pub fn is_date(s: &str) -> bool {
    time::Date::parse(s, time::macros::format_description!("[year]-[month]-[day]")).is_ok()
}

/// Who is making a change: `THREATMAP_USER`, else the login name from the environment, else
/// (on Linux, where a service or container may set none) the account of the process's user.
pub fn current_user() -> String {
    ["THREATMAP_USER", "USER", "USERNAME", "LOGNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.trim().is_empty()))
        .or_else(account_name)
        .unwrap_or_default()
}

/// The name of the process's user in `/etc/passwd` (Linux).
fn account_name() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let uid = status.lines().find_map(|l| l.strip_prefix("Uid:"))?.split_whitespace().next()?.to_owned();
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let mut f = l.split(':');
        let name = f.next()?;
        (f.nth(1)? == uid).then(|| name.to_owned())
    })
}

/// The decisions of a model, keyed by finding key.
pub type Decisions = BTreeMap<String, Decision>;

impl Analysis<'_> {
    /// The decision about a finding, if any.
    pub fn decision(&self, f: &Finding) -> Option<&Decision> {
        let decisions = &self.prepared.model().decisions;
        // Most findings have no decision; the key is only built when there are some.
        if decisions.is_empty() {
            return None;
        }
        decisions.get(&self.key(f))
    }

    /// A finding's status: its decision's, or Open.
    pub fn status(&self, f: &Finding) -> Status {
        self.decision(f).map_or(Status::Open, |d| d.status)
    }

    /// True if a finding still needs work (not excluded by an assumption, and not decided
    /// mitigated, accepted, not applicable or transferred).
    pub fn is_open(&self, f: &Finding) -> bool {
        f.excluded_by.is_none() && self.status(f).is_open()
    }

    /// Findings that still need work.
    pub fn open_findings(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| self.is_open(f))
    }

    /// Findings whose ticket the developers closed, still awaiting verification, while their
    /// rule still fires on the model: the model does not show the fix the ticket reports
    /// (ThreadFix's remediation failure). By finding key, with the decision.
    pub fn remediation_failures(&self) -> Vec<(String, &Decision)> {
        self.findings
            .iter()
            .filter_map(|f| {
                let d = self.decision(f)?;
                (d.status == Status::FixReported && d.tracked.as_ref().is_some_and(|t| t.done)).then(|| (self.key(f), d))
            })
            .collect()
    }

    /// Decisions whose finding the rules no longer generate (kept, reported, never dropped).
    pub fn orphaned_decisions(&self) -> Vec<(&str, &Decision)> {
        let live: std::collections::HashSet<String> = self.findings.iter().chain(self.excluded.iter()).map(|f| self.key(f)).collect();
        self.prepared.model().decisions.iter().filter(|(k, _)| !live.contains(*k)).map(|(k, d)| (k.as_str(), d)).collect()
    }

    /// Counts of findings per (severity, status), excluded findings as Not applicable.
    pub fn status_counts(&self) -> BTreeMap<(crate::rules::Severity, Status), usize> {
        let mut out = BTreeMap::new();
        for f in &self.findings {
            *out.entry((self.severity(f), self.status(f))).or_insert(0) += 1;
        }
        for f in &self.excluded {
            *out.entry((self.severity(f), Status::NotApplicable)).or_insert(0) += 1;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_parse_and_classify() {
        for s in Status::ALL {
            assert_eq!(Status::parse(s.key()), Some(s));
            assert_eq!(Status::parse(s.label()), Some(s));
        }
        assert_eq!(Status::parse("False positive"), Some(Status::NotApplicable));
        assert_eq!(Status::parse("bogus"), None);
        assert!(Status::InProgress.is_open() && !Status::AcceptedRisk.is_open());
        assert!(is_date("2026-11-30") && !is_date("2026-13-01") && !is_date("tomorrow"));
        let mut d = Decision::default();
        d.set_status(Status::Mitigated, "ana", "patched");
        assert_eq!(d.history.len(), 1);
        assert_eq!((d.history[0].from, d.history[0].to), (Status::Open, Status::Mitigated));
        assert!(d.history[0].at.ends_with('Z') && d.history[0].at.len() == 20, "{}", d.history[0].at);
    }
}
