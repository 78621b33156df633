//! GitHub Issues (REST): `POST/PATCH/GET /repos/{owner}/{repo}/issues…`, a token as `Bearer`.
//! Priority travels as a `priority:` label, since issues have no priority field.

use serde_json::{Value, json};
use threatmap_core::lifecycle::TrackerSettings;

use crate::http::{Auth, Client};
use crate::{Draft, Error, Found, MARKER_LABEL, Op, Remote, Tracker, key_in};

#[derive(Debug)]
pub(crate) struct Github {
    client: Client,
    repo: String,
}

impl Github {
    pub fn new(mut client: Client, settings: &TrackerSettings) -> Result<Github, Error> {
        let repo = settings.project.trim().trim_matches('/').to_owned();
        let parts: Vec<&str> = repo.split('/').collect();
        if parts.len() != 2 || parts.iter().any(|p| p.is_empty() || !p.chars().all(|c| c.is_alphanumeric() || "-_.".contains(c))) {
            return Err(Error::Setup(format!("tracker project `{repo}`: GitHub needs `owner/repository`")));
        }
        client.auth = Auth::Bearer;
        client.header("Accept", "application/vnd.github+json");
        client.header("X-GitHub-Api-Version", "2022-11-28");
        Ok(Github { client, repo })
    }

    fn remote(&self, issue: &Value) -> Remote {
        let state = issue["state"].as_str().unwrap_or_default();
        let reason = issue["state_reason"].as_str().filter(|r| !r.is_empty() && *r != "completed" && *r != "reopened");
        Remote {
            id: issue["number"].as_i64().map(|n| n.to_string()).unwrap_or_default(),
            url: issue["html_url"].as_str().unwrap_or_default().to_owned(),
            state: match reason {
                Some(r) => format!("{state} ({})", r.replace('_', " ")),
                None => state.to_owned(),
            },
            done: state == "closed",
            changed_by: issue["closed_by"]["login"].as_str().unwrap_or_default().to_owned(),
            note: String::new(),
            key: issue["body"].as_str().and_then(key_in),
        }
    }

    fn fields(d: &Draft) -> Value {
        json!({ "title": d.title, "body": d.body, "labels": d.labels })
    }
}

impl Tracker for Github {
    fn describe(&self) -> String {
        format!("GitHub at {}, repository {}", self.client.base, self.repo)
    }

    fn find(&mut self) -> Result<Vec<Remote>, Error> {
        let items = self.client.pages(&format!("/repos/{}/issues?state=all&labels={MARKER_LABEL}&per_page=100", self.repo))?;
        Ok(items
            .iter()
            // The issues list also holds pull requests.
            .filter(|i| i.get("pull_request").is_none_or(Value::is_null))
            .map(|i| self.remote(i))
            .filter(|r| r.key.is_some())
            .collect())
    }

    fn create(&mut self, d: &Draft) -> Result<Remote, Error> {
        let path = format!("/repos/{}/issues", self.repo);
        let a = self.client.send("POST", &path, Some(&Self::fields(d)))?;
        if a.status != 201 {
            return Err(self.client.refused("POST", &path, &a));
        }
        let r = self.remote(&a.body);
        if r.id.is_empty() {
            return Err(Error::Answer(format!("POST {path}: the answer has no issue number")));
        }
        Ok(r)
    }

    fn update(&mut self, id: &str, d: &Draft) -> Result<(), Error> {
        let path = format!("/repos/{}/issues/{id}", self.repo);
        let a = self.client.send("PATCH", &path, Some(&Self::fields(d)))?;
        if !a.ok() {
            return Err(self.client.refused("PATCH", &path, &a));
        }
        Ok(())
    }

    fn get(&mut self, id: &str) -> Result<Found, Error> {
        let path = format!("/repos/{}/issues/{id}", self.repo);
        let a = self.client.get(&path)?;
        match a.status {
            200 => Ok(Found::Ticket(self.remote(&a.body))),
            301 => Ok(Found::Missing(format!(
                "was transferred to another repository{}",
                a.location.map(|l| format!(" ({l})")).unwrap_or_default()
            ))),
            404 | 410 => Ok(Found::Missing("was deleted".to_owned())),
            _ => Err(self.client.refused("GET", &path, &a)),
        }
    }

    fn reopen(&mut self, id: &str, note: &str) -> Result<Remote, Error> {
        let comments = format!("/repos/{}/issues/{id}/comments", self.repo);
        let a = self.client.send("POST", &comments, Some(&json!({ "body": note })))?;
        if a.status != 201 {
            return Err(self.client.refused("POST", &comments, &a));
        }
        let path = format!("/repos/{}/issues/{id}", self.repo);
        let a = self.client.send("PATCH", &path, Some(&json!({ "state": "open" })))?;
        if !a.ok() {
            return Err(self.client.refused("PATCH", &path, &a));
        }
        Ok(self.remote(&a.body))
    }

    fn would(&self, op: &Op<'_>) -> Vec<String> {
        let base = format!("{}/repos/{}/issues", self.client.base, self.repo);
        match op {
            Op::Find => vec![format!("GET {base}?state=all&labels={MARKER_LABEL} (tickets an earlier push created)")],
            Op::Create(d) => vec![format!("POST {base} (labels {}, {})", d.labels.join(", "), d.key)],
            Op::Update(id, d) => vec![format!("PATCH {base}/{id} (new text: {})", d.title)],
            Op::Get(id) => vec![format!("GET {base}/{id}")],
            Op::Reopen(id, note) => vec![format!("POST {base}/{id}/comments ({note})"), format!("PATCH {base}/{id} (state open)")],
        }
    }
}
