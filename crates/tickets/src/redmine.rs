//! Redmine's REST API: issues in a project, the API key in `X-Redmine-API-Key`. Redmine has no
//! labels, so they are written into the text; its statuses say themselves whether they close.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use threatmap_core::lifecycle::TrackerSettings;

use crate::http::{Answer, Auth, Client, enc};
use crate::{Draft, Error, Found, Op, Remote, Tracker, key_in};

#[derive(Debug)]
pub(crate) struct Redmine {
    client: Client,
    project: String,
    issue_type: String,
    done_states: Vec<String>,
    /// Looked up once: the project's numeric id, status closedness, priority and tracker ids.
    known: Option<Known>,
}

#[derive(Debug)]
struct Known {
    project_id: i64,
    /// Status id → (name, closes).
    statuses: BTreeMap<i64, (String, bool)>,
    priorities: BTreeMap<String, i64>,
    tracker_id: Option<i64>,
}

impl Redmine {
    pub fn new(mut client: Client, settings: &TrackerSettings) -> Redmine {
        client.auth = Auth::Header("X-Redmine-API-Key");
        let done_states = if settings.done_states.is_empty() { vec!["Resolved".to_owned()] } else { settings.done_states.clone() };
        Redmine {
            client,
            project: settings.project.trim().to_owned(),
            issue_type: if settings.issue_type.is_empty() { "Bug".to_owned() } else { settings.issue_type.clone() },
            done_states,
            known: None,
        }
    }

    fn get_ok(&self, path: &str) -> Result<Value, Error> {
        let a = self.client.get(path)?;
        if !a.ok() {
            return Err(self.client.refused("GET", path, &a));
        }
        Ok(a.body)
    }

    fn known(&mut self) -> Result<&Known, Error> {
        if self.known.is_none() {
            // A public project answers anyone: check the key itself first.
            let me = self.client.get("/users/current.json")?;
            if me.status == 401 {
                return Err(Error::Setup(format!(
                    "Redmine at {} refused the API key (check REDMINE_API_KEY, or the variable the tracker settings name)",
                    self.client.base
                )));
            }
            let path = format!("/projects/{}.json", enc(&self.project));
            let a = self.client.get(&path)?;
            if a.status == 404 {
                return Err(Error::Setup(format!(
                    "Redmine at {} has no project `{}` (or this API key cannot see it)",
                    self.client.base, self.project
                )));
            }
            if !a.ok() {
                return Err(self.client.refused("GET", &path, &a));
            }
            let project_id = a.body["project"]["id"].as_i64().ok_or_else(|| Error::Answer(format!("GET {path}: no project id")))?;
            let statuses = self.get_ok("/issue_statuses.json")?["issue_statuses"]
                .as_array()
                .map(|l| {
                    l.iter()
                        .filter_map(|s| {
                            Some((s["id"].as_i64()?, (s["name"].as_str()?.to_owned(), s["is_closed"].as_bool().unwrap_or(false))))
                        })
                        .collect()
                })
                .unwrap_or_default();
            let priorities = self.get_ok("/enumerations/issue_priorities.json")?["issue_priorities"]
                .as_array()
                .map(|l| l.iter().filter_map(|p| Some((p["name"].as_str()?.to_lowercase(), p["id"].as_i64()?))).collect())
                .unwrap_or_default();
            let tracker_id = self.get_ok("/trackers.json")?["trackers"].as_array().and_then(|l| {
                l.iter().find(|t| t["name"].as_str().is_some_and(|n| n.eq_ignore_ascii_case(&self.issue_type)))?["id"].as_i64()
            });
            self.known = Some(Known { project_id, statuses, priorities, tracker_id });
        }
        self.known.as_ref().ok_or_else(|| Error::Answer("Redmine: project not known".to_owned()))
    }

    fn done(&self, status: &Value) -> bool {
        let name = status["name"].as_str().unwrap_or_default();
        let closed = status["is_closed"].as_bool().or_else(|| {
            let id = status["id"].as_i64()?;
            self.known.as_ref()?.statuses.get(&id).map(|s| s.1)
        });
        closed.unwrap_or(false) || self.done_states.iter().any(|d| d.eq_ignore_ascii_case(name))
    }

    fn remote(&self, issue: &Value) -> Remote {
        let id = issue["id"].as_i64().map(|i| i.to_string()).unwrap_or_default();
        // Who last changed the status, and what they wrote: the newest journal entry that did.
        let change = issue["journals"]
            .as_array()
            .and_then(|j| j.iter().rev().find(|e| e["details"].as_array().is_some_and(|d| d.iter().any(|x| x["name"] == "status_id"))));
        let changed_by = change.and_then(|e| e["user"]["name"].as_str()).unwrap_or_default().to_owned();
        let note = change.and_then(|e| e["notes"].as_str()).unwrap_or_default().trim().to_owned();
        Remote {
            url: format!("{}/issues/{id}", self.client.base),
            id,
            state: issue["status"]["name"].as_str().unwrap_or_default().to_owned(),
            done: self.done(&issue["status"]),
            changed_by,
            note,
            key: issue["description"].as_str().and_then(key_in),
        }
    }

    fn fields(&mut self, d: &Draft) -> Result<Value, Error> {
        let known = self.known()?;
        let mut issue = json!({
            "project_id": known.project_id,
            "subject": d.title,
            "description": body_with_labels(d),
        });
        if let Some(p) = known.priorities.get(&d.priority.to_lowercase()) {
            issue["priority_id"] = json!(p);
        }
        if let Some(t) = known.tracker_id {
            issue["tracker_id"] = json!(t);
        }
        Ok(json!({ "issue": issue }))
    }

    fn expect_done(&self, method: &'static str, path: &str, a: &Answer) -> Result<(), Error> {
        if a.ok() { Ok(()) } else { Err(self.client.refused(method, path, a)) }
    }
}

/// Redmine has no labels: they lead the text.
fn body_with_labels(d: &Draft) -> String {
    if d.labels.is_empty() { d.body.clone() } else { format!("Labels: {}\n\n{}", d.labels.join(", "), d.body) }
}

impl Tracker for Redmine {
    fn describe(&self) -> String {
        format!("Redmine at {}, project {}", self.client.base, self.project)
    }

    fn find(&mut self) -> Result<Vec<Remote>, Error> {
        let project_id = self.known()?.project_id;
        let mut out = Vec::new();
        let mut offset = 0;
        loop {
            let path = format!("/issues.json?project_id={project_id}&status_id=*&limit=100&offset={offset}&sort=id");
            let body = self.get_ok(&path)?;
            let issues = body["issues"].as_array().cloned().unwrap_or_default();
            for i in &issues {
                let r = self.remote(i);
                if r.key.is_some() {
                    out.push(r);
                }
            }
            offset += issues.len();
            let total = body["total_count"].as_u64().unwrap_or(0) as usize;
            if issues.is_empty() || offset >= total {
                break;
            }
        }
        Ok(out)
    }

    fn create(&mut self, d: &Draft) -> Result<Remote, Error> {
        let body = self.fields(d)?;
        let a = self.client.send("POST", "/issues.json", Some(&body))?;
        if a.status != 201 && !a.ok() {
            return Err(self.client.refused("POST", "/issues.json", &a));
        }
        let r = self.remote(&a.body["issue"]);
        if r.id.is_empty() {
            return Err(Error::Answer("POST /issues.json: the answer has no issue id".to_owned()));
        }
        Ok(r)
    }

    fn update(&mut self, id: &str, d: &Draft) -> Result<(), Error> {
        let mut body = self.fields(d)?;
        if let Some(issue) = body["issue"].as_object_mut() {
            issue.remove("project_id");
            issue.remove("tracker_id");
        }
        let path = format!("/issues/{}.json", enc(id));
        let a = self.client.send("PUT", &path, Some(&body))?;
        self.expect_done("PUT", &path, &a)
    }

    fn get(&mut self, id: &str) -> Result<Found, Error> {
        let project_id = self.known()?.project_id;
        let path = format!("/issues/{}.json?include=journals", enc(id));
        let a = self.client.get(&path)?;
        if matches!(a.status, 404 | 410) {
            return Ok(Found::Missing("was deleted".to_owned()));
        }
        if !a.ok() {
            return Err(self.client.refused("GET", &path, &a));
        }
        let issue = &a.body["issue"];
        if issue["project"]["id"].as_i64().is_some_and(|p| p != project_id) {
            let to = issue["project"]["name"].as_str().unwrap_or("another project");
            return Ok(Found::Missing(format!("was moved to {to}")));
        }
        Ok(Found::Ticket(self.remote(issue)))
    }

    fn reopen(&mut self, id: &str, note: &str) -> Result<Remote, Error> {
        self.known()?;
        // The open status to go back to: "In Progress" where there is one, else the first open one.
        let statuses = self.known.as_ref().map(|k| k.statuses.clone()).unwrap_or_default();
        let open = statuses
            .iter()
            .find(|(_, (n, closed))| !closed && n.eq_ignore_ascii_case("In Progress"))
            .or_else(|| statuses.iter().find(|(_, (n, closed))| !closed && !self.done_states.iter().any(|d| d.eq_ignore_ascii_case(n))))
            .map(|(id, _)| *id);
        let mut issue = json!({ "notes": note });
        if let Some(s) = open {
            issue["status_id"] = json!(s);
        }
        let path = format!("/issues/{}.json", enc(id));
        let a = self.client.send("PUT", &path, Some(&json!({ "issue": issue })))?;
        self.expect_done("PUT", &path, &a)?;
        match self.get(id)? {
            Found::Ticket(r) => Ok(r),
            Found::Missing(why) => Err(Error::Answer(format!("Redmine #{id} {why}"))),
        }
    }

    fn would(&self, op: &Op<'_>) -> Vec<String> {
        let base = &self.client.base;
        match op {
            Op::Find => {
                vec![format!("GET {base}/issues.json?project_id={}&status_id=*&limit=100 (tickets an earlier push created)", self.project)]
            }
            Op::Create(d) => vec![format!("POST {base}/issues.json (project {}, priority {}, {})", self.project, d.priority, d.key)],
            Op::Update(id, d) => vec![format!("PUT {base}/issues/{id}.json (new text: {})", d.title)],
            Op::Get(id) => vec![format!("GET {base}/issues/{id}.json?include=journals")],
            Op::Reopen(id, note) => vec![format!("PUT {base}/issues/{id}.json (status In Progress, note: {note})")],
        }
    }
}
