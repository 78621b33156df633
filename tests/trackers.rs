//! The GitHub and Jira Cloud adapters against local stand-ins held to the vendors' published API
//! descriptions (`../shared/trackers/`): every request the adapters make must be an operation of
//! the description with valid parameters and body, and the stand-ins answer in the
//! description's own response shapes (its examples, checked against its schemas). The hosted
//! trackers cannot be reached from here; Redmine is tested for real in `tickets.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;
#[path = "common/standin.rs"]
mod standin;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use common::*;
use serde_json::{Value, json};
use standin::{Description, Reply, Request, StandIn};

const TOKEN: &str = "tok-7f3a-secret-never-printed";

fn tickets(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_threatmap"));
    c.arg("tickets").args(args).env_remove("THREATMAP_TRACKER_TOKEN").env("THREATMAP_USER", "Sam Analyst");
    for (k, v) in env {
        c.env(k, v);
    }
    let o = c.output().unwrap();
    let (out, err) = (stdout(&o), stderr(&o));
    assert!(!out.contains(TOKEN) && !err.contains(TOKEN), "the credential was printed:\n{out}\n{err}");
    (o.status.code().unwrap_or(-1), out, err)
}

fn model(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// One issue as the GitHub stand-in keeps it.
#[derive(Clone)]
struct GhIssue {
    title: String,
    body: String,
    labels: Vec<String>,
    state: String,
    closed_by: Option<String>,
    comments: Vec<String>,
    /// Transferred to another repository (answers 301) or deleted (410).
    gone: Option<u16>,
}

#[derive(Default)]
struct GhState {
    issues: BTreeMap<i64, GhIssue>,
    /// Answers to refuse with a spent rate limit before serving again.
    rate_limited: u32,
}

fn github_standin(desc: Arc<Description>, state: Arc<Mutex<GhState>>) -> StandIn {
    let d = desc.clone();
    StandIn::start(desc, move |r: &Request, template: &str| {
        let mut s = state.lock().unwrap();
        if r.header("authorization") != Some(&format!("Bearer {TOKEN}")) {
            return Reply::json(401, json!({"message": "Bad credentials"}));
        }
        if s.rate_limited > 0 && r.method != "GET" {
            s.rate_limited -= 1;
            let reset = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() + 1;
            return Reply::json(403, json!({"message": "API rate limit exceeded", "documentation_url": "https://docs.github.com"}))
                .with_header("x-ratelimit-remaining", "0")
                .with_header("x-ratelimit-reset", &reset.to_string());
        }
        let issue_json = |n: i64, i: &GhIssue, status: u16, method: &str| {
            let mut v = d.example(method, template, status);
            if v.is_array() {
                v = v[0].clone();
            }
            v["number"] = json!(n);
            v["title"] = json!(i.title);
            v["body"] = json!(i.body);
            v["state"] = json!(i.state);
            v["html_url"] = json!(format!("https://github.com/acme/shop/issues/{n}"));
            let label_template = v["labels"][0].clone();
            v["labels"] = Value::Array(
                i.labels
                    .iter()
                    .map(|l| {
                        let mut x = label_template.clone();
                        x["name"] = json!(l);
                        x
                    })
                    .collect(),
            );
            if let Some(obj) = v.as_object_mut() {
                obj.remove("pull_request");
            }
            v["closed_by"] = match &i.closed_by {
                Some(login) => {
                    let mut u = v["user"].clone();
                    u["login"] = json!(login);
                    u
                }
                None => Value::Null,
            };
            v
        };
        let number = r.path.rsplit('/').next().and_then(|n| n.parse::<i64>().ok());
        match (r.method.as_str(), template) {
            ("POST", "/repos/{owner}/{repo}/issues") => {
                let b = r.body.clone().unwrap_or_default();
                let n = s.issues.len() as i64 + 1;
                let i = GhIssue {
                    title: b["title"].as_str().unwrap_or_default().to_owned(),
                    body: b["body"].as_str().unwrap_or_default().to_owned(),
                    labels: b["labels"]
                        .as_array()
                        .map(|l| l.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect())
                        .unwrap_or_default(),
                    state: "open".into(),
                    closed_by: None,
                    comments: Vec::new(),
                    gone: None,
                };
                let v = issue_json(n, &i, 201, "POST");
                s.issues.insert(n, i);
                Reply::json(201, v)
            }
            ("GET", "/repos/{owner}/{repo}/issues") => {
                let label = r.param("labels").unwrap_or("");
                let per_page: usize = r.param("per_page").and_then(|p| p.parse().ok()).unwrap_or(30);
                let page: usize = r.param("page").and_then(|p| p.parse().ok()).unwrap_or(1);
                let all: Vec<(i64, GhIssue)> = s
                    .issues
                    .iter()
                    .filter(|(_, i)| i.gone.is_none() && (label.is_empty() || i.labels.iter().any(|l| l == label)))
                    .map(|(n, i)| (*n, i.clone()))
                    .collect();
                let chunk: Vec<Value> =
                    all.iter().skip((page - 1) * per_page).take(per_page).map(|(n, i)| issue_json(*n, i, 200, "GET")).collect();
                let mut reply = Reply::json(200, Value::Array(chunk));
                if page * per_page < all.len() {
                    let mut q: Vec<String> = r.query.iter().filter(|(k, _)| k != "page").map(|(k, v)| format!("{k}={v}")).collect();
                    q.push(format!("page={}", page + 1));
                    let next = format!("http://{}{}?{}", r.header("host").unwrap_or(""), r.path, q.join("&"));
                    reply = reply.with_header("Link", &format!("<{next}>; rel=\"next\""));
                }
                reply
            }
            ("GET", "/repos/{owner}/{repo}/issues/{issue_number}") => match number.and_then(|n| s.issues.get(&n).map(|i| (n, i.clone()))) {
                Some((_, GhIssue { gone: Some(301), .. })) => {
                    Reply::empty(301).with_header("Location", "https://api.github.com/repositories/99/issues/1")
                }
                Some((_, GhIssue { gone: Some(code), .. })) => {
                    Reply::json(code, json!({"message": "This issue was deleted", "documentation_url": "https://docs.github.com"}))
                }
                Some((n, i)) => Reply::json(200, issue_json(n, &i, 200, "GET")),
                None => Reply::json(404, json!({"message": "Not Found", "documentation_url": "https://docs.github.com"})),
            },
            ("PATCH", "/repos/{owner}/{repo}/issues/{issue_number}") => {
                let b = r.body.clone().unwrap_or_default();
                let Some(n) = number.filter(|n| s.issues.contains_key(n)) else {
                    return Reply::json(404, json!({"message": "Not Found", "documentation_url": "https://docs.github.com"}));
                };
                let i = s.issues.get_mut(&n).unwrap();
                if let Some(t) = b["title"].as_str() {
                    i.title = t.to_owned();
                }
                if let Some(t) = b["body"].as_str() {
                    i.body = t.to_owned();
                }
                if let Some(l) = b["labels"].as_array() {
                    i.labels = l.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect();
                }
                if let Some(st) = b["state"].as_str() {
                    i.state = st.to_owned();
                    if st == "open" {
                        i.closed_by = None;
                    }
                }
                let i = i.clone();
                Reply::json(200, issue_json(n, &i, 200, "PATCH"))
            }
            ("POST", "/repos/{owner}/{repo}/issues/{issue_number}/comments") => {
                let n = r.path.split('/').nth(5).and_then(|x| x.parse::<i64>().ok()).unwrap_or(0);
                let body = r.body.as_ref().and_then(|b| b["body"].as_str()).unwrap_or_default().to_owned();
                match s.issues.get_mut(&n) {
                    Some(i) => {
                        i.comments.push(body.clone());
                        let mut v = d.example("POST", template, 201);
                        v["body"] = json!(body);
                        Reply::json(201, v)
                    }
                    None => Reply::json(404, json!({"message": "Not Found", "documentation_url": "https://docs.github.com"})),
                }
            }
            _ => Reply::json(404, json!({"message": "Not Found", "documentation_url": "https://docs.github.com"})),
        }
    })
}

#[test]
fn the_github_adapter_keeps_to_githubs_api_description() {
    let Some(shared) = shared("trackers/github-rest-api.json") else { return };
    let desc = Arc::new(Description::load(&shared.join("trackers/github-rest-api.json")));
    let state = Arc::new(Mutex::new(GhState::default()));
    let gh = github_standin(desc, state.clone());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.threatmap.json");
    std::fs::copy(example("web-app.threatmap.json"), &path).unwrap();
    let p = path.to_str().unwrap();
    ok(&["tickets", "setup", p, "--kind", "github", "--url", &gh.url, "--project", "acme/shop", "--label", "security"]);
    let env = [("GITHUB_TOKEN", TOKEN)];

    // The first creation meets a spent rate limit: the push waits for the reset and goes on.
    state.lock().unwrap().rate_limited = 1;
    let (code, out, err) = tickets(&["push", p, "--severity", "high"], &env);
    assert_eq!(code, 0, "{out}\n{err}");
    let n = state.lock().unwrap().issues.len();
    assert!(n >= 10 && out.contains(&format!("{n} created")), "{out}");
    {
        let s = state.lock().unwrap();
        let i = &s.issues[&1];
        assert!(i.labels.contains(&"security".to_owned()) && i.labels.contains(&"threatmap".to_owned()), "{:?}", i.labels);
        assert!(i.labels.iter().any(|l| l.starts_with("priority:")), "{:?}", i.labels);
        assert!(i.body.contains("Threatmap key: `comment-web-application/"), "{}", i.body);
    }
    let m = model(&path);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains(TOKEN));
    let key_of = |n: i64| -> String {
        m["decisions"]
            .as_object()
            .unwrap()
            .iter()
            .find(|(_, d)| d["tracked"]["id"].as_str() == Some(n.to_string().as_str()))
            .map(|(k, _)| k.clone())
            .unwrap()
    };
    assert_eq!(m["decisions"][key_of(1)]["ticket"], "https://github.com/acme/shop/issues/1");

    // Again: nothing new. With the model's links lost, the push finds its tickets by key.
    let (_, out, _) = tickets(&["push", p, "--severity", "high"], &env);
    assert!(out.contains(&format!("0 created, 0 recorded from an earlier push, 0 updated, 0 reopened, {n} unchanged")), "{out}");
    let mut lost = model(&path);
    for d in lost["decisions"].as_object_mut().unwrap().values_mut() {
        d.as_object_mut().unwrap().remove("tracked");
    }
    std::fs::write(&path, serde_json::to_string_pretty(&lost).unwrap()).unwrap();
    let (_, out, _) = tickets(&["push", p, "--severity", "high"], &env);
    assert!(out.contains(&format!("0 created, {n} recorded from an earlier push")), "{out}");
    assert_eq!(state.lock().unwrap().issues.len(), n);

    // A developer closes one, another is transferred, a third deleted.
    let (k1, k2, k3) = (key_of(1), key_of(2), key_of(3));
    {
        let mut s = state.lock().unwrap();
        let i = s.issues.get_mut(&1).unwrap();
        i.state = "closed".into();
        i.closed_by = Some("octodev".into());
        s.issues.get_mut(&2).unwrap().gone = Some(301);
        s.issues.get_mut(&3).unwrap().gone = Some(410);
    }
    let (code, out, err) = tickets(&["pull", p], &env);
    assert_eq!(code, 0, "{out}\n{err}");
    let m = model(&path);
    let d1 = &m["decisions"][&k1];
    assert_eq!(d1["status"], "fix-reported", "{out}");
    assert_eq!(d1["history"].as_array().unwrap().last().unwrap()["by"], "octodev (GitHub)");
    assert!(out.contains(&format!("remediation failure: {k1}")), "{out}");
    assert!(m["decisions"][&k2]["history"].as_array().unwrap().last().unwrap()["note"].as_str().unwrap().contains("transferred"), "{out}");
    assert_eq!(m["decisions"][&k3]["tracked"]["state"], "missing");

    // The analyst reopens with a reason: the push comments and reopens.
    ok(&["triage", p, &k1, "--status", "in-progress", "--note", "Still reachable through the legacy route."]);
    let (_, out, _) = tickets(&["push", p, "--severity", "high"], &env);
    assert!(out.contains("1 reopened"), "{out}");
    let s = state.lock().unwrap();
    assert_eq!(s.issues[&1].state, "open");
    assert!(s.issues[&1].comments.iter().any(|c| c.contains("Still reachable through the legacy route.")), "{:?}", s.issues[&1].comments);
    drop(s);

    let violations = gh.violations();
    assert!(violations.is_empty(), "requests or answers outside GitHub's description:\n{}", violations.join("\n"));
    let reqs = gh.requests.lock().unwrap();
    assert!(reqs.iter().all(|r| r.header("authorization").is_some()));
    assert!(reqs.iter().any(|r| r.method == "PATCH") && reqs.iter().any(|r| r.path.ends_with("/comments")));
}

/// One issue as the Jira stand-in keeps it.
#[derive(Clone)]
struct JiraIssue {
    summary: String,
    description: Value,
    labels: Vec<String>,
    status: (&'static str, &'static str),
    assignee: Option<String>,
    comments: Vec<Value>,
}

#[test]
fn the_jira_cloud_adapter_keeps_to_jiras_api_description() {
    let Some(shared) = shared("trackers/jira-platform-rest-v3.json") else { return };
    let desc = Arc::new(Description::load(&shared.join("trackers/jira-platform-rest-v3.json")));
    let issues: Arc<Mutex<BTreeMap<String, JiraIssue>>> = Arc::new(Mutex::new(BTreeMap::new()));
    let busy = Arc::new(Mutex::new(0u32));
    let (d, store, busy2) = (desc.clone(), issues.clone(), busy.clone());
    let basic = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("sam@example.com:{TOKEN}")));
    let jira = StandIn::start(desc, move |r: &Request, template: &str| {
        if r.header("authorization") != Some(basic.as_str()) {
            return Reply::empty(401);
        }
        let mut s = store.lock().unwrap();
        let issue_bean = |key: &str, i: &JiraIssue| {
            let mut v = d.example("GET", "/rest/api/3/issue/{issueIdOrKey}", 200);
            v["key"] = json!(key);
            v["fields"] = json!({
                "summary": i.summary,
                "description": i.description,
                "labels": i.labels,
                "status": {"name": i.status.0, "statusCategory": {"key": i.status.1}},
                "assignee": i.assignee.as_ref().map(|a| json!({"displayName": a})).unwrap_or(Value::Null),
            });
            v
        };
        let key = r.path.split('/').nth(5).unwrap_or("").to_owned();
        match (r.method.as_str(), template) {
            ("POST", "/rest/api/3/issue") => {
                let mut b = busy2.lock().unwrap();
                *b += 1;
                match *b {
                    // Jira Cloud's rate limit (documented apart from the description): wait and retry.
                    1 => return Reply::empty(429).with_header("Retry-After", "1"),
                    // A refusal the description lists: this ticket fails, the push goes on.
                    2 => return Reply::json(400, json!({"errorMessages": ["Field 'priority' is required"], "errors": {}})),
                    _ => {}
                }
                let f = &r.body.as_ref().unwrap()["fields"];
                let key = format!("SEC-{}", s.len() + 1);
                s.insert(
                    key.clone(),
                    JiraIssue {
                        summary: f["summary"].as_str().unwrap_or_default().to_owned(),
                        description: f["description"].clone(),
                        labels: f["labels"]
                            .as_array()
                            .map(|l| l.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect())
                            .unwrap_or_default(),
                        status: ("To Do", "new"),
                        assignee: None,
                        comments: Vec::new(),
                    },
                );
                let mut v = d.example("POST", template, 201);
                v["key"] = json!(key);
                v["id"] = json!(format!("{}", 10000 + s.len()));
                Reply::json(201, v)
            }
            ("GET", "/rest/api/3/issue/{issueIdOrKey}") => match s.get(&key) {
                Some(i) => Reply::json(200, issue_bean(&key, i)),
                None => Reply::empty(404),
            },
            ("PUT", "/rest/api/3/issue/{issueIdOrKey}") => match s.get_mut(&key) {
                Some(i) => {
                    let f = &r.body.as_ref().unwrap()["fields"];
                    i.summary = f["summary"].as_str().unwrap_or_default().to_owned();
                    i.description = f["description"].clone();
                    Reply::empty(204)
                }
                None => Reply::empty(404),
            },
            ("POST", "/rest/api/3/search") => {
                let jql = r.body.as_ref().unwrap()["jql"].as_str().unwrap_or_default().to_owned();
                assert!(jql.contains("labels = threatmap"), "{jql}");
                let mut v = d.example("POST", template, 200);
                let list: Vec<Value> =
                    s.iter().filter(|(_, i)| i.labels.iter().any(|l| l == "threatmap")).map(|(k, i)| issue_bean(k, i)).collect();
                v["total"] = json!(list.len());
                v["startAt"] = json!(0);
                v["maxResults"] = json!(100);
                v["issues"] = Value::Array(list);
                Reply::json(200, v)
            }
            ("GET", "/rest/api/3/issue/{issueIdOrKey}/transitions") => {
                let ex = d.example("GET", template, 200);
                let mut reopen = ex["transitions"][0].clone();
                reopen["id"] = json!("31");
                reopen["name"] = json!("Reopen");
                reopen["to"]["name"] = json!("In Progress");
                reopen["to"]["statusCategory"] = json!({"key": "indeterminate", "name": "In Progress"});
                let mut done = reopen.clone();
                done["id"] = json!("41");
                done["name"] = json!("Done");
                done["to"]["statusCategory"] = json!({"key": "done", "name": "Done"});
                Reply::json(200, json!({"transitions": [done, reopen]}))
            }
            ("POST", "/rest/api/3/issue/{issueIdOrKey}/transitions") => {
                let id = r.body.as_ref().unwrap()["transition"]["id"].as_str().unwrap_or_default().to_owned();
                match s.get_mut(&key) {
                    Some(i) if id == "31" => {
                        i.status = ("In Progress", "indeterminate");
                        Reply::empty(204)
                    }
                    Some(_) => Reply::empty(400),
                    None => Reply::empty(404),
                }
            }
            ("POST", "/rest/api/3/issue/{issueIdOrKey}/comment") => match s.get_mut(&key) {
                Some(i) => {
                    i.comments.push(r.body.as_ref().unwrap()["body"].clone());
                    Reply::json(201, d.example("POST", template, 201))
                }
                None => Reply::empty(404),
            },
            _ => Reply::empty(404),
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.threatmap.json");
    std::fs::copy(example("iot-board.threatmap.json"), &path).unwrap();
    let p = path.to_str().unwrap();
    ok(&[
        "tickets",
        "setup",
        p,
        "--kind",
        "jira",
        "--url",
        &jira.url,
        "--project",
        "SEC",
        "--user",
        "sam@example.com",
        "--group",
        "element",
    ]);
    let env = [("JIRA_API_TOKEN", TOKEN)];
    // The first creation meets the rate limit and is retried; the second is refused: that ticket
    // is reported, the others go on, and the next push creates it.
    let (code, out, _) = tickets(&["push", p, "--severity", "medium"], &env);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("failed: ") && out.contains("Field 'priority' is required") && out.contains("1 failed"), "{out}");
    let (code, out, err) = tickets(&["push", p, "--severity", "medium"], &env);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("1 created"), "{out}");
    let n = issues.lock().unwrap().len();
    assert!(n >= 3, "{out}");
    {
        let s = issues.lock().unwrap();
        let (_, i) = s.iter().next().unwrap();
        assert_eq!(i.description["type"], "doc", "ADF");
        assert_eq!(i.description["version"], 1);
        assert!(threatmap_tickets::text::adf_text(&i.description).contains("Threatmap key: `"), "{}", i.description);
        assert!(i.labels.contains(&"threatmap".to_owned()));
    }
    // One ticket per element: its findings share it.
    let m = model(&path);
    let mut per_ticket: BTreeMap<String, usize> = BTreeMap::new();
    for d in m["decisions"].as_object().unwrap().values() {
        if let Some(id) = d["tracked"]["id"].as_str() {
            *per_ticket.entry(id.to_owned()).or_default() += 1;
        }
    }
    assert_eq!(per_ticket.len(), n);
    assert!(per_ticket.values().any(|c| *c > 1), "{per_ticket:?}");

    // Done in Jira → fix reported; the analyst reopens with a note → comment and transition.
    issues.lock().unwrap().get_mut("SEC-1").unwrap().status = ("Done", "done");
    issues.lock().unwrap().get_mut("SEC-1").unwrap().assignee = Some("Dev Eloper".into());
    let (code, out, _) = tickets(&["pull", p], &env);
    assert_eq!(code, 0, "{out}");
    let m = model(&path);
    let on_first: Vec<String> =
        m["decisions"].as_object().unwrap().iter().filter(|(_, d)| d["tracked"]["id"] == "SEC-1").map(|(k, _)| k.clone()).collect();
    for k in &on_first {
        assert_eq!(m["decisions"][k]["status"], "fix-reported", "{k}: {out}");
        assert_eq!(m["decisions"][k]["history"].as_array().unwrap().last().unwrap()["by"], "Dev Eloper (Jira Cloud)");
    }
    ok(&["triage", p, &on_first[0], "--status", "in-progress", "--note", "Firmware still ships the debug port."]);
    let (_, out, _) = tickets(&["push", p, "--severity", "medium"], &env);
    assert!(out.contains("1 reopened"), "{out}");
    let s = issues.lock().unwrap();
    assert_eq!(s["SEC-1"].status.0, "In Progress");
    assert!(threatmap_tickets::text::adf_text(&s["SEC-1"].comments[0]).contains("Firmware still ships the debug port."));
    drop(s);

    // Only the rate limit's 429 is outside the description (Atlassian documents it apart).
    let violations: Vec<String> = jira.violations().into_iter().filter(|v| !v.starts_with("POST /rest/api/3/issue answer 429:")).collect();
    assert!(busy.lock().unwrap().to_owned() > 2);
    assert!(violations.is_empty(), "requests or answers outside Jira's description:\n{}", violations.join("\n"));
}

/// The stand-ins' checks have teeth: what the description does not allow is caught.
#[test]
fn the_stand_in_catches_what_the_description_does_not_allow() {
    let Some(shared) = shared("trackers/github-rest-api.json") else { return };
    let desc = Description::load(&shared.join("trackers/github-rest-api.json"));
    let req = |method: &str, path: &str, query: &[(&str, &str)], body: Option<Value>| Request {
        method: method.to_owned(),
        path: path.to_owned(),
        query: query.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
        headers: Vec::new(),
        body,
    };
    let problems = |r: &Request| desc.check_request(r).1;
    assert!(problems(&req("POST", "/repos/o/r/issues", &[], Some(json!({"title": "t", "labels": ["a"]})))).is_empty());
    assert!(!problems(&req("POST", "/repos/o/r/issues", &[], Some(json!({"title": 5})))).is_empty(), "a title must be a string");
    assert!(!problems(&req("POST", "/repos/o/r/issues", &[], Some(json!({"body": "no title"})))).is_empty(), "title is required");
    assert!(!problems(&req("GET", "/repos/o/r/issues", &[("stat", "all")], None)).is_empty(), "undeclared query parameter");
    assert!(!problems(&req("GET", "/repos/o/r/issues", &[("state", "done")], None)).is_empty(), "state is an enum");
    assert!(!problems(&req("PUT", "/repos/o/r/issues/1", &[], Some(json!({})))).is_empty(), "no PUT on an issue");
    let template = "/repos/{owner}/{repo}/issues/{issue_number}";
    let good = desc.example("GET", template, 200);
    assert!(desc.check_response("GET", template, 200, Some(&good)).is_empty());
    let mut bad = good.clone();
    bad.as_object_mut().unwrap().remove("number");
    assert!(!desc.check_response("GET", template, 200, Some(&bad)).is_empty(), "number is required");
    assert!(!desc.check_response("GET", template, 418, None).is_empty(), "status not described");
}

/// The app's hand-off, driven through its UI: name the tracker in the Tracker window, choose
/// findings in the table, Create tickets, and Sync after a developer closed one. The credential
/// comes from the environment, so the test runs itself again in a child process that has it.
#[test]
fn the_app_creates_and_syncs_tickets_from_the_findings_table() {
    if std::env::var_os("THREATMAP_TEST_CHILD").is_none() {
        let o = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "the_app_creates_and_syncs_tickets_from_the_findings_table", "--nocapture"])
            .env("THREATMAP_TEST_CHILD", "1")
            .env("GITHUB_TOKEN", TOKEN)
            .env_remove("THREATMAP_TRACKER_TOKEN")
            .output()
            .unwrap();
        let text = format!("{}{}", stdout(&o), stderr(&o));
        assert!(o.status.success() && text.contains("1 passed"), "{text}");
        return;
    }
    use egui_kittest::Harness;
    use egui_kittest::kittest::Queryable;
    use threatmap_app::gui::ThreatmapApp;
    let Some(shared) = shared("trackers/github-rest-api.json") else { return };
    let desc = Arc::new(Description::load(&shared.join("trackers/github-rest-api.json")));
    let state = Arc::new(Mutex::new(GhState::default()));
    let gh = github_standin(desc, state.clone());
    let model = threatmap_core::file::load_any(Path::new(&example("web-app.threatmap.json"))).unwrap().model;
    let mut h = Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .build_ui_state(|ui, app: &mut ThreatmapApp| app.ui(ui), ThreatmapApp::new(model, None, None));
    h.state_mut().show_table = true;
    h.run_steps(3);
    let typed = |h: &mut Harness<'_, ThreatmapApp>, text: &str| {
        for c in text.chars() {
            h.event(egui::Event::Text(c.to_string()));
            h.run_steps(1);
        }
    };
    // Tickets → Tracker…: GitHub, the stand-in's URL, the repository.
    h.get_by_label("Tickets").click();
    h.run_steps(2);
    h.get_by_label("Tracker…").click();
    h.run_steps(3);
    h.get_all_by_role(egui::accesskit::Role::ComboBox).find(|c| c.value().as_deref() == Some("Redmine")).unwrap().click();
    h.run_steps(2);
    h.get_by_label("GitHub").click();
    h.run_steps(2);
    h.get_by_label("URL").click();
    h.run_steps(1);
    typed(&mut h, &gh.url);
    h.get_by_label("Project").click();
    h.run_steps(1);
    typed(&mut h, "acme/shop");
    assert!(h.query_by_label_contains("read from GITHUB_TOKEN (set)").is_some(), "the window says where the credential comes from");
    h.get_by_label("Apply").click();
    h.run_steps(3);
    let t = h.state().doc.model.tracker.clone().unwrap();
    assert_eq!(
        (t.kind, t.url.as_str(), t.project.as_str()),
        (threatmap_core::lifecycle::TrackerKind::Github, gh.url.as_str(), "acme/shop")
    );
    assert!(!serde_json::to_string(&h.state().doc.model).unwrap().contains(TOKEN));

    // Choose three findings and create their tickets.
    let rows: Vec<String> = {
        use egui_kittest::kittest::NodeT;
        // A row's label ends with its status, which the run changes: rows are found by the rest.
        h.query_all_by_label_contains(" on ")
            .filter_map(|n| n.accesskit_node().label())
            .filter(|l| l.starts_with("Very High "))
            .map(|l| l.rsplit_once(", ").map_or(l.clone(), |(row, _)| row.to_owned()))
            .collect()
    };
    assert!(rows.len() >= 3, "{rows:?}");
    h.get_by_label_contains(&rows[0]).click();
    h.run_steps(2);
    h.get_by_label_contains(&rows[2]).click_modifiers(egui::Modifiers::SHIFT);
    h.run_steps(2);
    let chosen = h.state().table_selection.clone();
    assert_eq!(chosen.len(), 3);
    h.get_by_label("Create 3 tickets").click();
    let wait = |h: &mut Harness<'_, ThreatmapApp>| {
        h.run_steps(2);
        assert!(
            h.state().handoff.job.is_some() || h.state().failure.is_some() || h.state().status.contains(" tickets "),
            "no ticket run started"
        );
        let started = std::time::Instant::now();
        while h.state().handoff.job.is_some() {
            assert!(started.elapsed() < std::time::Duration::from_secs(60), "the ticket run did not end");
            std::thread::sleep(std::time::Duration::from_millis(20));
            h.step();
        }
        h.run_steps(2);
    };
    wait(&mut h);
    assert!(h.state().failure.is_none(), "{:?}", h.state().failure);
    assert!(h.state().status.contains("3 created"), "{}", h.state().status);
    assert_eq!(state.lock().unwrap().issues.len(), 3);
    for k in &chosen {
        let d = &h.state().doc.model.decisions[k];
        assert!(d.tracked.is_some(), "{k}");
    }
    assert!(h.query_by_label_contains("#1 open").is_some(), "the ticket column shows the ticket");

    // A developer closes the first; Sync tickets moves its finding to "fix reported".
    {
        let mut s = state.lock().unwrap();
        let i = s.issues.get_mut(&1).unwrap();
        i.state = "closed".into();
        i.closed_by = Some("octodev".into());
    }
    h.get_by_label("Sync tickets").click();
    wait(&mut h);
    let moved: Vec<&String> =
        chosen.iter().filter(|k| h.state().doc.model.decisions[*k].status == threatmap_core::lifecycle::Status::FixReported).collect();
    assert_eq!(moved.len(), 1, "{}", h.state().status);
    assert!(h.state().status.contains("1 decision(s) moved, 0 missing, 1 remediation failure(s)"), "{}", h.state().status);
    // The inspector shows the ticket and what its state means.
    h.get_by_label_contains(&rows[0]).click();
    h.run_steps(3);
    assert!(h.query_by_label_contains("Remediation failure?").is_some());
    assert!(h.query_by_label_contains("#1 closed · still fires").is_some(), "the table marks the remediation failure");
    // The analyst reopens it: status back to In progress, the reason in the justification
    // (taken in as it is typed), then Create ticket reopens the ticket and posts the reason.
    let key = moved[0].clone();
    // With the keyboard: the palette's Triage, the status, then the reason where the cursor is.
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::K);
    h.run_steps(2);
    let rule = key.split('@').next().unwrap().to_owned();
    typed(&mut h, &format!("triage {rule}"));
    h.key_press(egui::Key::Enter);
    h.run_steps(2);
    assert!(
        h.state().palette.as_ref().is_some_and(|p| p.triage.as_deref() == Some(key.as_str())),
        "the palette asks for the status of {key}"
    );
    typed(&mut h, "in progress");
    h.key_press(egui::Key::Enter);
    h.run_steps(4);
    assert_eq!(h.state().doc.model.decisions[&key].status, threatmap_core::lifecycle::Status::InProgress);
    assert!(h.query_by_label_contains("the next Create ticket reopens the ticket").is_some(), "the inspector says what happens next");
    typed(&mut h, "The legacy route still builds SQL by hand.");
    assert_eq!(
        h.state().doc.model.decisions[&key].justification,
        "The legacy route still builds SQL by hand.",
        "typed text is in the model at once"
    );
    h.key_press(egui::Key::Tab);
    h.run_steps(2);
    h.get_by_label_contains(&rows[0]).click();
    h.run_steps(2);
    h.get_by_label("Create ticket").click();
    wait(&mut h);
    assert!(h.state().status.contains("1 reopened"), "{}", h.state().status);
    {
        let s = state.lock().unwrap();
        assert_eq!(s.issues[&1].state, "open");
        assert!(
            s.issues[&1].comments.iter().any(|c| c.contains("The legacy route still builds SQL by hand.")),
            "{:?}",
            s.issues[&1].comments
        );
    }
    assert!(gh.violations().is_empty(), "{:?}", gh.violations());
}

/// GitLab publishes no description of its issues API here, so its stand-in follows GitLab's
/// documentation (the operations, parameters and answers the adapter uses, written out below):
/// weaker than the GitHub and Jira checks, but every request still has to be one of these.
#[test]
fn the_gitlab_adapter_pushes_pulls_and_reopens_against_a_documented_stand_in() {
    let op = |params: &[(&str, &str, bool)], body: bool, statuses: &[u16]| {
        let mut o = json!({
            "parameters": params.iter().map(|(n, place, req)| json!({"name": n, "in": place, "required": req, "schema": {"type": "string"}})).collect::<Vec<_>>(),
            "responses": statuses.iter().map(|s| (s.to_string(), json!({"description": "answer"}))).collect::<serde_json::Map<_, _>>(),
        });
        if body {
            o["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": {"type": "object"}}}});
        }
        o
    };
    let id = ("id", "path", true);
    let iid = ("issue_iid", "path", true);
    let desc = Arc::new(Description::from_value(json!({
        "openapi": "3.0.0",
        "paths": {
            "/api/v4/projects/{id}/issues": {
                "get": op(&[id, ("labels", "query", false), ("scope", "query", false), ("state", "query", false), ("per_page", "query", false), ("page", "query", false)], false, &[200, 401, 404]),
                "post": op(&[id], true, &[201, 400, 401, 404]),
            },
            "/api/v4/projects/{id}/issues/{issue_iid}": {
                "get": op(&[id, iid], false, &[200, 401, 404]),
                "put": op(&[id, iid], true, &[200, 400, 401, 404]),
            },
            "/api/v4/projects/{id}/issues/{issue_iid}/notes": {"post": op(&[id, iid], true, &[201, 400, 401, 404])},
        }
    })));
    #[derive(Clone)]
    struct Issue {
        title: String,
        description: String,
        labels: Vec<String>,
        state: String,
        closed_by: Option<String>,
        notes: Vec<String>,
        moved: bool,
    }
    let issues: Arc<Mutex<BTreeMap<i64, Issue>>> = Arc::new(Mutex::new(BTreeMap::new()));
    let store = issues.clone();
    let gl = StandIn::start(desc, move |r: &Request, template: &str| {
        if r.header("private-token") != Some(TOKEN) {
            return Reply::json(401, json!({"message": "401 Unauthorized"}));
        }
        assert!(r.path.starts_with("/api/v4/projects/sec%2Fshop/"), "the project path is escaped: {}", r.path);
        let mut s = store.lock().unwrap();
        let as_json = |n: i64, i: &Issue| {
            json!({
                "iid": n, "id": 1000 + n, "title": i.title, "description": i.description, "labels": i.labels,
                "state": i.state, "web_url": format!("https://gitlab.example.com/sec/shop/-/issues/{n}"),
                "closed_by": i.closed_by.as_ref().map(|u| json!({"username": u})),
                "moved_to_id": if i.moved { json!(77) } else { Value::Null },
            })
        };
        let n = r.path.split('/').nth(6).and_then(|x| x.parse::<i64>().ok()).unwrap_or(0);
        let labels_of = |b: &Value| b["labels"].as_str().unwrap_or("").split(',').filter(|l| !l.is_empty()).map(str::to_owned).collect();
        match (r.method.as_str(), template) {
            ("POST", "/api/v4/projects/{id}/issues") => {
                let b = r.body.clone().unwrap_or_default();
                let n = s.len() as i64 + 1;
                let i = Issue {
                    title: b["title"].as_str().unwrap_or_default().to_owned(),
                    description: b["description"].as_str().unwrap_or_default().to_owned(),
                    labels: labels_of(&b),
                    state: "opened".into(),
                    closed_by: None,
                    notes: Vec::new(),
                    moved: false,
                };
                let v = as_json(n, &i);
                s.insert(n, i);
                Reply::json(201, v)
            }
            ("GET", "/api/v4/projects/{id}/issues") => {
                let label = r.param("labels").unwrap_or_default();
                Reply::json(200, s.iter().filter(|(_, i)| i.labels.iter().any(|l| l == label)).map(|(n, i)| as_json(*n, i)).collect())
            }
            ("GET", "/api/v4/projects/{id}/issues/{issue_iid}") => match s.get(&n) {
                Some(i) => Reply::json(200, as_json(n, i)),
                None => Reply::json(404, json!({"message": "404 Not found"})),
            },
            ("PUT", "/api/v4/projects/{id}/issues/{issue_iid}") => {
                let b = r.body.clone().unwrap_or_default();
                let Some(i) = s.get_mut(&n) else { return Reply::json(404, json!({"message": "404 Not found"})) };
                if let Some(t) = b["title"].as_str() {
                    i.title = t.to_owned();
                }
                if let Some(d) = b["description"].as_str() {
                    i.description = d.to_owned();
                }
                if b["labels"].is_string() {
                    i.labels = labels_of(&b);
                }
                if b["state_event"] == "reopen" {
                    i.state = "opened".into();
                    i.closed_by = None;
                }
                let v = as_json(n, i);
                Reply::json(200, v)
            }
            ("POST", "/api/v4/projects/{id}/issues/{issue_iid}/notes") => match s.get_mut(&n) {
                Some(i) => {
                    i.notes.push(r.body.as_ref().unwrap()["body"].as_str().unwrap_or_default().to_owned());
                    Reply::json(201, json!({"id": 1, "body": i.notes.last()}))
                }
                None => Reply::json(404, json!({"message": "404 Not found"})),
            },
            _ => Reply::json(404, json!({"message": "404 Not found"})),
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.threatmap.json");
    std::fs::copy(example("web-app.threatmap.json"), &path).unwrap();
    let p = path.to_str().unwrap();
    ok(&["tickets", "setup", p, "--kind", "gitlab", "--url", &gl.url, "--project", "sec/shop", "--group", "rule"]);
    let env = [("GITLAB_TOKEN", TOKEN)];
    let (code, out, err) = tickets(&["push", p, "--severity", "very-high"], &env);
    assert_eq!(code, 0, "{out}\n{err}");
    let n = issues.lock().unwrap().len();
    assert!(n >= 3, "{out}");
    {
        let s = issues.lock().unwrap();
        let first = &s[&1];
        assert!(
            first.labels.contains(&"threatmap".to_owned()) && first.labels.iter().any(|l| l == "priority:critical"),
            "{:?}",
            first.labels
        );
        assert!(first.description.contains("#### Findings"), "one ticket per rule lists its findings: {}", first.description);
    }
    let (_, out, _) = tickets(&["push", p, "--severity", "very-high"], &env);
    assert!(out.contains(&format!("0 created, 0 recorded from an earlier push, 0 updated, 0 reopened, {n} unchanged")), "{out}");
    // Closed by a developer, another moved: the pull moves and notes them.
    {
        let mut s = issues.lock().unwrap();
        let i = s.get_mut(&1).unwrap();
        i.state = "closed".into();
        i.closed_by = Some("dev".into());
        s.get_mut(&2).unwrap().moved = true;
    }
    let (code, out, _) = tickets(&["pull", p], &env);
    assert_eq!(code, 0, "{out}");
    let m = model(&path);
    let on = |id: &str| -> Vec<String> {
        m["decisions"].as_object().unwrap().iter().filter(|(_, d)| d["tracked"]["id"] == id).map(|(k, _)| k.clone()).collect()
    };
    for k in on("1") {
        assert_eq!(m["decisions"][&k]["status"], "fix-reported", "{k}: {out}");
        assert_eq!(m["decisions"][&k]["history"].as_array().unwrap().last().unwrap()["by"], "dev (GitLab)");
    }
    for k in on("2") {
        assert_eq!(m["decisions"][&k]["tracked"]["state"], "missing", "{k}: {out}");
    }
    let reopen = on("1")[0].clone();
    ok(&["triage", p, &reopen, "--status", "in-progress", "--note", "Not fixed on the admin route."]);
    let (_, out, _) = tickets(&["push", p, "--severity", "very-high"], &env);
    assert!(out.contains("1 reopened"), "{out}");
    let s = issues.lock().unwrap();
    assert_eq!(s[&1].state, "opened");
    assert!(s[&1].notes.iter().any(|n| n.contains("Not fixed on the admin route.")), "{:?}", s[&1].notes);
    drop(s);
    assert!(gl.violations().is_empty(), "{:?}", gl.violations());
}
