//! Jira: Cloud (REST v3, descriptions and comments as Atlassian Document Format, an account
//! e-mail and API token as Basic auth) and Server/Data Center (REST v2, plain-text bodies, a
//! personal access token as `Bearer`). A ticket is done when its status is in the `done`
//! category; reopening takes a transition out of it.

use serde_json::{Value, json};
use threatmap_core::lifecycle::{TrackerKind, TrackerSettings};

use crate::http::{Auth, Client, enc};
use crate::text::{adf, adf_text};
use crate::{Draft, Error, Found, MARKER_LABEL, Op, Remote, Tracker, key_in};

#[derive(Debug)]
pub(crate) struct Jira {
    client: Client,
    project: String,
    issue_type: String,
    done_states: Vec<String>,
    /// `3` for Cloud, `2` for Server.
    version: u8,
}

impl Jira {
    pub fn new(mut client: Client, settings: &TrackerSettings) -> Result<Jira, Error> {
        let version = if settings.kind == TrackerKind::Jira { 3 } else { 2 };
        client.auth = if version == 3 {
            let user = if settings.user.trim().is_empty() { std::env::var("JIRA_USER").unwrap_or_default() } else { settings.user.clone() };
            if user.trim().is_empty() {
                return Err(Error::Setup(
                    "Jira Cloud needs the account e-mail the API token belongs to: set tracker.user or JIRA_USER".to_owned(),
                ));
            }
            Auth::Basic(user.trim().to_owned())
        } else {
            Auth::Bearer
        };
        Ok(Jira {
            client,
            project: settings.project.trim().to_owned(),
            issue_type: if settings.issue_type.is_empty() { "Bug".to_owned() } else { settings.issue_type.clone() },
            done_states: settings.done_states.clone(),
            version,
        })
    }

    fn api(&self, rest: &str) -> String {
        format!("/rest/api/{}{rest}", self.version)
    }

    /// A rich-text body as this version takes it.
    fn rich(&self, markdown: &str) -> Value {
        if self.version == 3 { adf(markdown) } else { Value::String(markdown.to_owned()) }
    }

    fn remote(&self, issue: &Value) -> Remote {
        let key = issue["key"].as_str().unwrap_or_default().to_owned();
        let fields = &issue["fields"];
        let state = fields["status"]["name"].as_str().unwrap_or_default().to_owned();
        let done = fields["status"]["statusCategory"]["key"].as_str() == Some("done")
            || self.done_states.iter().any(|d| d.eq_ignore_ascii_case(&state));
        let description = match &fields["description"] {
            Value::String(s) => s.clone(),
            v if v.is_object() => adf_text(v),
            _ => String::new(),
        };
        Remote {
            url: format!("{}/browse/{key}", self.client.base),
            id: key,
            state,
            done,
            changed_by: fields["assignee"]["displayName"].as_str().unwrap_or_default().to_owned(),
            note: String::new(),
            key: key_in(&description),
        }
    }

    fn fields(&self, d: &Draft, create: bool) -> Value {
        let mut f = json!({
            "summary": d.title,
            "description": self.rich(&d.body),
            // Jira labels cannot hold spaces.
            "labels": d.labels.iter().map(|l| l.replace(' ', "-")).collect::<Vec<_>>(),
            "priority": { "name": d.priority },
        });
        if create {
            f["project"] = json!({ "key": self.project });
            f["issuetype"] = json!({ "name": self.issue_type });
        }
        json!({ "fields": f })
    }
}

impl Tracker for Jira {
    fn describe(&self) -> String {
        format!("Jira at {}, project {}", self.client.base, self.project)
    }

    fn find(&mut self) -> Result<Vec<Remote>, Error> {
        let path = self.api("/search");
        let mut out = Vec::new();
        let mut start = 0;
        loop {
            let body = json!({
                "jql": format!("project = \"{}\" AND labels = {MARKER_LABEL} ORDER BY created ASC", self.project.replace('"', "")),
                "startAt": start,
                "maxResults": 100,
                "fields": ["summary", "status", "description", "assignee"],
            });
            let a = self.client.send("POST", &path, Some(&body))?;
            if !a.ok() {
                return Err(self.client.refused("POST", &path, &a));
            }
            let issues = a.body["issues"].as_array().cloned().unwrap_or_default();
            for i in &issues {
                let r = self.remote(i);
                if r.key.is_some() {
                    out.push(r);
                }
            }
            start += issues.len();
            if issues.is_empty() || start as u64 >= a.body["total"].as_u64().unwrap_or(0) {
                break;
            }
        }
        Ok(out)
    }

    fn create(&mut self, d: &Draft) -> Result<Remote, Error> {
        let path = self.api("/issue");
        let a = self.client.send("POST", &path, Some(&self.fields(d, true)))?;
        if a.status != 201 {
            return Err(self.client.refused("POST", &path, &a));
        }
        let key = a.body["key"].as_str().unwrap_or_default().to_owned();
        if key.is_empty() {
            return Err(Error::Answer(format!("POST {path}: the answer has no issue key")));
        }
        // The answer has only the key: read the state the new ticket is in.
        match self.get(&key)? {
            Found::Ticket(r) => Ok(r),
            Found::Missing(_) => Ok(Remote {
                url: format!("{}/browse/{key}", self.client.base),
                id: key,
                state: String::new(),
                done: false,
                changed_by: String::new(),
                note: String::new(),
                key: Some(d.key.clone()),
            }),
        }
    }

    fn update(&mut self, id: &str, d: &Draft) -> Result<(), Error> {
        let path = self.api(&format!("/issue/{}", enc(id)));
        let a = self.client.send("PUT", &path, Some(&self.fields(d, false)))?;
        if !a.ok() {
            return Err(self.client.refused("PUT", &path, &a));
        }
        Ok(())
    }

    fn get(&mut self, id: &str) -> Result<Found, Error> {
        let path = self.api(&format!("/issue/{}?fields=summary,status,description,assignee", enc(id)));
        let a = self.client.get(&path)?;
        match a.status {
            200 => {
                let r = self.remote(&a.body);
                // Jira answers for a moved issue under its new key.
                if !r.id.eq_ignore_ascii_case(id) {
                    return Ok(Found::Missing(format!("was moved (now {})", r.id)));
                }
                Ok(Found::Ticket(r))
            }
            404 | 410 => Ok(Found::Missing("was deleted".to_owned())),
            _ => Err(self.client.refused("GET", &path, &a)),
        }
    }

    fn reopen(&mut self, id: &str, note: &str) -> Result<Remote, Error> {
        let comment = self.api(&format!("/issue/{}/comment", enc(id)));
        let a = self.client.send("POST", &comment, Some(&json!({ "body": self.rich(note) })))?;
        if a.status != 201 {
            return Err(self.client.refused("POST", &comment, &a));
        }
        let path = self.api(&format!("/issue/{}/transitions", enc(id)));
        let a = self.client.get(&path)?;
        if !a.ok() {
            return Err(self.client.refused("GET", &path, &a));
        }
        // A transition out of the done category; "Reopen" or "In Progress" where offered.
        let transitions = a.body["transitions"].as_array().cloned().unwrap_or_default();
        let open: Vec<&Value> = transitions.iter().filter(|t| t["to"]["statusCategory"]["key"].as_str() != Some("done")).collect();
        let pick = open
            .iter()
            .find(|t| t["name"].as_str().is_some_and(|n| n.to_lowercase().contains("reopen")))
            .or_else(|| open.iter().find(|t| t["to"]["statusCategory"]["key"].as_str() == Some("indeterminate")))
            .or_else(|| open.first())
            .and_then(|t| t["id"].as_str().map(str::to_owned))
            .ok_or_else(|| Error::Answer(format!("Jira {id}: no transition leads out of its done state")))?;
        let a = self.client.send("POST", &path, Some(&json!({ "transition": { "id": pick } })))?;
        if !a.ok() {
            return Err(self.client.refused("POST", &path, &a));
        }
        match self.get(id)? {
            Found::Ticket(r) => Ok(r),
            Found::Missing(why) => Err(Error::Answer(format!("Jira {id} {why}"))),
        }
    }

    fn would(&self, op: &Op<'_>) -> Vec<String> {
        let base = format!("{}{}", self.client.base, self.api(""));
        match op {
            Op::Find => vec![format!("POST {base}/search (JQL: project = {} AND labels = {MARKER_LABEL})", self.project)],
            Op::Create(d) => {
                vec![format!("POST {base}/issue (project {}, {}, priority {}, {})", self.project, self.issue_type, d.priority, d.key)]
            }
            Op::Update(id, d) => vec![format!("PUT {base}/issue/{id} (new text: {})", d.title)],
            Op::Get(id) => vec![format!("GET {base}/issue/{id}")],
            Op::Reopen(id, note) => vec![
                format!("POST {base}/issue/{id}/comment ({note})"),
                format!("GET {base}/issue/{id}/transitions"),
                format!("POST {base}/issue/{id}/transitions (out of done)"),
            ],
        }
    }
}
