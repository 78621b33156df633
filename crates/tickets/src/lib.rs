//! Threatmap's hand-off to the development team's tracker.
//!
//! Findings selected from an analysed model become tickets ([`text`] writes them), pushed to
//! Redmine, GitHub Issues, GitLab Issues or Jira through one [`Tracker`] interface; the tickets'
//! states are read back and move the findings' decisions ([`sync`]). The model keeps the
//! tracker's settings and, on each decision, the ticket the tracker confirmed; credentials come
//! from the environment only and are redacted from every error this crate returns.

use std::fmt;

use threatmap_core::lifecycle::{TrackerKind, TrackerSettings};

mod github;
mod gitlab;
mod http;
mod jira;
mod redmine;
pub mod sync;
pub mod text;

pub use http::Retry;
pub use sync::{Outcome, PullReport, PushReport};
pub use text::{Draft, Selection};

/// What went wrong talking to a tracker. Messages never contain the credential.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The settings or the environment do not allow a connection (no token, bad URL).
    #[error("{0}")]
    Setup(String),
    /// The tracker could not be reached, or kept refusing (rate limits) after every retry.
    #[error("{0}")]
    Network(String),
    /// The tracker answered with an error.
    #[error("{method} {url}: {status} {message}")]
    Refused {
        /// The request's method.
        method: &'static str,
        /// The request's URL (no credential is ever in one).
        url: String,
        /// The HTTP status.
        status: u16,
        /// What the tracker said, shortened.
        message: String,
    },
    /// The tracker answered in a shape this adapter does not understand.
    #[error("{0}")]
    Answer(String),
}

/// A ticket as the tracker has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remote {
    /// The tracker's id (`42`, `SEC-7`).
    pub id: String,
    /// Where people open it.
    pub url: String,
    /// Its state in the tracker's words.
    pub state: String,
    /// True when the state means the developers consider the work done.
    pub done: bool,
    /// Who last changed its state, when the tracker says.
    pub changed_by: String,
    /// What they wrote with that change (Redmine's note on the status change), if anything.
    pub note: String,
    /// The Threatmap key in its text, if any.
    pub key: Option<String>,
}

/// What reading one ticket found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// The ticket, as it is now.
    Ticket(Remote),
    /// The tracker no longer has it in the project: deleted, or moved (the reason says which).
    Missing(String),
}

/// One development tracker, as the hand-off sees it. Every method is one or a few requests; the
/// implementations retry transient failures themselves.
pub trait Tracker: Send {
    /// "Redmine at http://…, project webapp".
    fn describe(&self) -> String;
    /// Every ticket of the project that carries a Threatmap key (of any model).
    fn find(&mut self) -> Result<Vec<Remote>, Error>;
    /// Creates a ticket; returns it only once the tracker confirmed it.
    fn create(&mut self, draft: &Draft) -> Result<Remote, Error>;
    /// Rewrites a ticket's title, text, labels and priority.
    fn update(&mut self, id: &str, draft: &Draft) -> Result<(), Error>;
    /// Reads one ticket.
    fn get(&mut self, id: &str) -> Result<Found, Error>;
    /// Reopens a ticket the developers closed, posting `note` as a comment.
    fn reopen(&mut self, id: &str, note: &str) -> Result<Remote, Error>;
    /// The requests a push or pull would make for these operations, for `--dry-run`.
    fn would(&self, op: &Op<'_>) -> Vec<String>;
}

/// An operation, described for `--dry-run`.
#[derive(Debug, Clone, Copy)]
pub enum Op<'a> {
    /// Finding the project's Threatmap tickets.
    Find,
    /// Creating a ticket.
    Create(&'a Draft),
    /// Updating one.
    Update(&'a str, &'a Draft),
    /// Reading one.
    Get(&'a str),
    /// Reopening one with a note.
    Reopen(&'a str, &'a str),
}

/// The credential for a tracker, read from the environment. Its `Debug` never shows it.
#[derive(Clone)]
pub struct Secret(String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(…)")
    }
}

impl Secret {
    /// No credential: for a dry run, which sends nothing.
    pub fn none() -> Secret {
        Secret(String::new())
    }

    /// The credential's text, for the one header that carries it.
    fn expose(&self) -> &str {
        &self.0
    }
}

/// The environment variables the credential of `settings` is read from, in order.
pub fn token_variables(settings: &TrackerSettings) -> Vec<String> {
    let usual = match settings.kind {
        TrackerKind::Redmine => "REDMINE_API_KEY",
        TrackerKind::Github => "GITHUB_TOKEN",
        TrackerKind::Gitlab => "GITLAB_TOKEN",
        TrackerKind::Jira | TrackerKind::JiraServer => "JIRA_API_TOKEN",
    };
    let mut vars = Vec::new();
    if !settings.token_env.trim().is_empty() {
        vars.push(settings.token_env.trim().to_owned());
    }
    vars.extend(["THREATMAP_TRACKER_TOKEN".to_owned(), usual.to_owned()]);
    vars
}

/// Reads the credential from the environment.
pub fn secret_from_env(settings: &TrackerSettings) -> Result<Secret, Error> {
    let vars = token_variables(settings);
    vars.iter().find_map(|v| std::env::var(v).ok().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())).map(Secret).ok_or_else(|| {
        Error::Setup(format!(
            "no credential for {}: set {} (credentials are never read from the model file)",
            settings.kind.label(),
            vars.join(" or ")
        ))
    })
}

/// Connects to the tracker `settings` name, with the credential `secret`. Nothing is sent yet.
pub fn connect(settings: &TrackerSettings, secret: Secret, retry: Retry) -> Result<Box<dyn Tracker>, Error> {
    let base = settings.url.trim().trim_end_matches('/').to_owned();
    if !(base.starts_with("https://") || base.starts_with("http://")) {
        return Err(Error::Setup(format!("tracker url `{}`: expected an http:// or https:// URL", settings.url)));
    }
    if settings.project.trim().is_empty() {
        return Err(Error::Setup("tracker project is empty".to_owned()));
    }
    let client = http::Client::new(&base, secret, retry);
    Ok(match settings.kind {
        TrackerKind::Redmine => Box::new(redmine::Redmine::new(client, settings)),
        TrackerKind::Github => Box::new(github::Github::new(client, settings)?),
        TrackerKind::Gitlab => Box::new(gitlab::Gitlab::new(client, settings)),
        TrackerKind::Jira | TrackerKind::JiraServer => Box::new(jira::Jira::new(client, settings)?),
    })
}

/// The marker every ticket's text ends with; a later push finds the ticket by it.
pub const KEY_MARKER: &str = "Threatmap key: `";

/// The Threatmap key in a ticket's text, if it carries one.
pub fn key_in(text: &str) -> Option<String> {
    let start = text.rfind(KEY_MARKER)? + KEY_MARKER.len();
    let rest = &text[start..];
    let end = rest.find('`')?;
    Some(rest[..end].to_owned()).filter(|k| !k.is_empty())
}

/// The label every Threatmap ticket carries where the tracker has labels.
pub const MARKER_LABEL: &str = "threatmap";
