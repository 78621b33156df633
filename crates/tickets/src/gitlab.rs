//! GitLab Issues (REST v4): `/api/v4/projects/{id}/issues…`, a token in `PRIVATE-TOKEN`. The
//! project is its path (`group/project`) or numeric id; priority travels as a `priority:` label.

use serde_json::{Value, json};
use threatmap_core::lifecycle::TrackerSettings;

use crate::http::{Auth, Client, enc};
use crate::{Draft, Error, Found, MARKER_LABEL, Op, Remote, Tracker, key_in};

#[derive(Debug)]
pub(crate) struct Gitlab {
    client: Client,
    project: String,
}

impl Gitlab {
    pub fn new(mut client: Client, settings: &TrackerSettings) -> Gitlab {
        client.auth = Auth::Header("PRIVATE-TOKEN");
        Gitlab { client, project: settings.project.trim().trim_matches('/').to_owned() }
    }

    fn issues(&self) -> String {
        format!("/api/v4/projects/{}/issues", enc(&self.project))
    }

    fn remote(&self, issue: &Value) -> Remote {
        let state = issue["state"].as_str().unwrap_or_default();
        Remote {
            id: issue["iid"].as_i64().map(|n| n.to_string()).unwrap_or_default(),
            url: issue["web_url"].as_str().unwrap_or_default().to_owned(),
            state: state.to_owned(),
            done: state == "closed",
            changed_by: issue["closed_by"]["username"].as_str().unwrap_or_default().to_owned(),
            note: String::new(),
            key: issue["description"].as_str().and_then(key_in),
        }
    }

    fn fields(d: &Draft) -> Value {
        json!({ "title": d.title, "description": d.body, "labels": d.labels.join(",") })
    }
}

impl Tracker for Gitlab {
    fn describe(&self) -> String {
        format!("GitLab at {}, project {}", self.client.base, self.project)
    }

    fn find(&mut self) -> Result<Vec<Remote>, Error> {
        let items = self.client.pages(&format!("{}?labels={MARKER_LABEL}&scope=all&state=all&per_page=100", self.issues()))?;
        Ok(items.iter().map(|i| self.remote(i)).filter(|r| r.key.is_some()).collect())
    }

    fn create(&mut self, d: &Draft) -> Result<Remote, Error> {
        let path = self.issues();
        let a = self.client.send("POST", &path, Some(&Self::fields(d)))?;
        if a.status != 201 {
            return Err(self.client.refused("POST", &path, &a));
        }
        let r = self.remote(&a.body);
        if r.id.is_empty() {
            return Err(Error::Answer(format!("POST {path}: the answer has no issue iid")));
        }
        Ok(r)
    }

    fn update(&mut self, id: &str, d: &Draft) -> Result<(), Error> {
        let path = format!("{}/{id}", self.issues());
        let a = self.client.send("PUT", &path, Some(&Self::fields(d)))?;
        if !a.ok() {
            return Err(self.client.refused("PUT", &path, &a));
        }
        Ok(())
    }

    fn get(&mut self, id: &str) -> Result<Found, Error> {
        let path = format!("{}/{id}", self.issues());
        let a = self.client.get(&path)?;
        match a.status {
            200 if a.body["moved_to_id"].is_number() => Ok(Found::Missing("was moved to another project".to_owned())),
            200 => Ok(Found::Ticket(self.remote(&a.body))),
            404 | 410 => Ok(Found::Missing("was deleted".to_owned())),
            _ => Err(self.client.refused("GET", &path, &a)),
        }
    }

    fn reopen(&mut self, id: &str, note: &str) -> Result<Remote, Error> {
        let notes = format!("{}/{id}/notes", self.issues());
        let a = self.client.send("POST", &notes, Some(&json!({ "body": note })))?;
        if a.status != 201 {
            return Err(self.client.refused("POST", &notes, &a));
        }
        let path = format!("{}/{id}", self.issues());
        let a = self.client.send("PUT", &path, Some(&json!({ "state_event": "reopen" })))?;
        if !a.ok() {
            return Err(self.client.refused("PUT", &path, &a));
        }
        Ok(self.remote(&a.body))
    }

    fn would(&self, op: &Op<'_>) -> Vec<String> {
        let base = format!("{}{}", self.client.base, self.issues());
        match op {
            Op::Find => vec![format!("GET {base}?labels={MARKER_LABEL}&scope=all&state=all (tickets an earlier push created)")],
            Op::Create(d) => vec![format!("POST {base} (labels {}, {})", d.labels.join(", "), d.key)],
            Op::Update(id, d) => vec![format!("PUT {base}/{id} (new text: {})", d.title)],
            Op::Get(id) => vec![format!("GET {base}/{id}")],
            Op::Reopen(id, note) => vec![format!("POST {base}/{id}/notes ({note})"), format!("PUT {base}/{id} (state_event reopen)")],
        }
    }
}
