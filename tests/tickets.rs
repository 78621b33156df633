//! Ticket hand-off end to end against a real tracker: Debian's Redmine, started here on a free
//! loopback port with a copy of its SQLite database. Findings of the bundled examples are pushed,
//! a developer closes, resolves, reopens, deletes and moves tickets through Redmine's API, and
//! pulls move the decisions; a push killed half way is finished by the next with no duplicates.
//!
//! Needs Debian's `redmine`, `redmine-sqlite` and `thin` (CI installs them and sets
//! `THREATMAP_REQUIRE_REDMINE=1`); without them the test says so and passes only when not required.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};

const REDMINE: &str = "/usr/share/redmine";
const SYSTEM_DB: &str = "/var/lib/dbconfig-common/sqlite3/redmine/instances/default/redmine_default";

/// A Redmine server of this test's own, stopped when dropped.
struct Redmine {
    child: Child,
    url: String,
    admin_key: String,
    dev_key: String,
    _dir: tempfile::TempDir,
}

impl Drop for Redmine {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn rails(dir: &Path) -> Command {
    let mut c = Command::new("ruby");
    c.current_dir(REDMINE)
        .env("X_DEBIAN_SITEID", "default")
        .env("RAILS_ENV", "production")
        .env("DATABASE_URL", format!("sqlite3:{}", dir.join("redmine.sqlite3").display()))
        .env("REDMINE_LANG", "en");
    c
}

fn start_redmine() -> Option<Redmine> {
    if !Path::new(REDMINE).join("bin/rails").exists() || !Path::new(SYSTEM_DB).exists() {
        assert!(std::env::var_os("THREATMAP_REQUIRE_REDMINE").is_none(), "THREATMAP_REQUIRE_REDMINE is set but Redmine is not installed");
        eprintln!("SKIPPED: Redmine not installed (apt-get install redmine redmine-sqlite thin)");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(SYSTEM_DB, dir.path().join("redmine.sqlite3")).unwrap();
    // Trackers, statuses and priorities (the package loads them; this is a no-op then).
    let out = rails(dir.path()).args(["bin/rake", "redmine:load_default_data"]).output().unwrap();
    assert!(out.status.success(), "load_default_data: {}", String::from_utf8_lossy(&out.stderr));
    // REST on, Markdown text, and a developer account with a key of its own.
    let script = "Setting.rest_api_enabled = '1'; Setting.text_formatting = 'common_mark'; \
        u = User.new(firstname: 'Dana', lastname: 'Developer', mail: 'dana@example.com'); u.login = 'dana'; \
        u.password = 'dana-secret-pw-1'; u.admin = true; u.save!; \
        puts 'KEYS ' + User.find_by_login('admin').api_key + ' ' + u.api_key";
    let out = rails(dir.path()).args(["bin/rails", "runner", script]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let keys: Vec<&str> = text.lines().find_map(|l| l.strip_prefix("KEYS ")).unwrap_or_default().split(' ').collect();
    assert_eq!(keys.len(), 2, "rails runner: {text}\n{}", String::from_utf8_lossy(&out.stderr));
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = rails(dir.path())
        .args(["bin/rails", "server", "-u", "thin", "-b", "127.0.0.1", "-p", &port.to_string()])
        .arg("-P")
        .arg(dir.path().join("server.pid"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let r =
        Redmine { child, url: format!("http://127.0.0.1:{port}"), admin_key: keys[0].to_owned(), dev_key: keys[1].to_owned(), _dir: dir };
    let started = Instant::now();
    while r.call("GET", "/issue_statuses.json", None, &r.admin_key).0 != 200 {
        assert!(started.elapsed() < Duration::from_secs(180), "Redmine did not start on {}", r.url);
        std::thread::sleep(Duration::from_millis(300));
    }
    Some(r)
}

impl Redmine {
    /// One API request as the holder of `key`: (status, JSON body).
    fn call(&self, method: &str, path: &str, body: Option<Value>, key: &str) -> (u16, Value) {
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        let url = format!("{}{path}", self.url);
        let result = match (method, body) {
            ("GET", _) => agent.get(&url).header("X-Redmine-API-Key", key).call(),
            ("DELETE", _) => agent.delete(&url).header("X-Redmine-API-Key", key).call(),
            ("POST", b) => agent
                .post(&url)
                .header("X-Redmine-API-Key", key)
                .header("Content-Type", "application/json")
                .send(b.unwrap_or_default().to_string()),
            (_, b) => agent
                .put(&url)
                .header("X-Redmine-API-Key", key)
                .header("Content-Type", "application/json")
                .send(b.unwrap_or_default().to_string()),
        };
        match result {
            Ok(mut resp) => {
                let status = resp.status().as_u16();
                let text = resp.body_mut().read_to_string().unwrap_or_default();
                (status, serde_json::from_str(&text).unwrap_or(Value::Null))
            }
            Err(_) => (0, Value::Null),
        }
    }

    /// As the developer: moves a ticket to a status, with a note.
    fn developer_sets(&self, id: &str, status_id: u32, note: &str) {
        let (s, _) =
            self.call("PUT", &format!("/issues/{id}.json"), Some(json!({"issue": {"status_id": status_id, "notes": note}})), &self.dev_key);
        assert_eq!(s, 204, "PUT /issues/{id}.json");
    }

    fn issue(&self, id: &str) -> Value {
        let (s, v) = self.call("GET", &format!("/issues/{id}.json?include=journals"), None, &self.admin_key);
        assert_eq!(s, 200, "GET /issues/{id}.json");
        v["issue"].clone()
    }

    /// Every issue of a project (all statuses).
    fn issues(&self, project: &str) -> Vec<Value> {
        let mut out = Vec::new();
        loop {
            let (s, v) = self.call(
                "GET",
                &format!("/issues.json?project_id={project}&status_id=*&limit=100&offset={}", out.len()),
                None,
                &self.admin_key,
            );
            assert_eq!(s, 200);
            let page = v["issues"].as_array().cloned().unwrap_or_default();
            if page.is_empty() {
                return out;
            }
            out.extend(page);
        }
    }

    fn project(&self, identifier: &str) {
        let (s, v) = self.call(
            "POST",
            "/projects.json",
            Some(json!({"project": {"name": identifier, "identifier": identifier, "is_public": true}})),
            &self.admin_key,
        );
        assert_eq!(s, 201, "POST /projects.json: {v}");
    }
}

fn tickets(args: &[&str], key: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_threatmap"))
        .arg("tickets")
        .args(args)
        .env_remove("THREATMAP_TRACKER_TOKEN")
        .env("REDMINE_API_KEY", key)
        .env("THREATMAP_USER", "Sam Analyst")
        .output()
        .unwrap()
}

/// Runs `threatmap tickets ARGS` with the credential; checks exit 0 and that the credential is
/// in neither output.
fn tickets_ok(args: &[&str], key: &str) -> String {
    let o = tickets(args, key);
    let (out, err) = (stdout(&o), stderr(&o));
    assert_eq!(o.status.code(), Some(0), "tickets {args:?}\nstdout: {out}\nstderr: {err}");
    assert!(!out.contains(key) && !err.contains(key), "the credential was printed");
    out
}

fn model(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn decision<'a>(m: &'a Value, key: &str) -> &'a Value {
    &m["decisions"][key]
}

fn copy_example(dir: &Path, name: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::copy(example(name), &p).unwrap();
    p
}

#[test]
fn findings_go_to_redmine_and_come_back_verified() {
    let Some(rm) = start_redmine() else { return };
    rm.project("webapp");
    rm.project("elsewhere");
    let dir = tempfile::tempdir().unwrap();
    let path = copy_example(dir.path(), "web-app.threatmap.json");
    let p = path.to_str().unwrap();
    let key = rm.admin_key.clone();
    ok(&[
        "tickets",
        "setup",
        p,
        "--kind",
        "redmine",
        "--url",
        &rm.url,
        "--project",
        "webapp",
        "--model-url",
        "https://git.example.com/webapp/threat-model",
    ]);

    // A dry run sends nothing and changes nothing, and needs no credential.
    let before = std::fs::read(&path).unwrap();
    let dry = ok(&["tickets", "push", p, "--severity", "high", "--dry-run"]);
    assert!(dry.contains("create: POST ") && dry.contains("/issues.json"), "{dry}");
    assert_eq!(std::fs::read(&path).unwrap(), before, "a dry run changed the model");
    assert!(rm.issues("webapp").is_empty());

    // Without a credential, a push says where to put one.
    let o = Command::new(env!("CARGO_BIN_EXE_threatmap"))
        .args(["tickets", "push", p])
        .env_remove("REDMINE_API_KEY")
        .env_remove("THREATMAP_TRACKER_TOKEN")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("REDMINE_API_KEY"), "{}", stderr(&o));

    // Push the High and Very High findings: one ticket each.
    let out = tickets_ok(&["push", p, "--severity", "high"], &key);
    let tsv = ok(&["findings", p, "--format", "tsv"]);
    let high: Vec<String> = tsv
        .lines()
        .skip(1)
        .filter(|l| l.split('\t').nth(5).is_some_and(|s| s == "High" || s == "Very High"))
        .map(|l| l.split('\t').next().unwrap().to_owned())
        .collect();
    assert!(high.len() >= 10, "{tsv}");
    let issues = rm.issues("webapp");
    assert_eq!(issues.len(), high.len(), "{out}");
    assert!(out.contains(&format!("{} created", high.len())), "{out}");
    let m = model(&path);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains(&key) && !text.contains(&rm.dev_key), "a credential reached the model file");
    for k in &high {
        let t = &decision(&m, k)["tracked"];
        let id = t["id"].as_str().unwrap_or_else(|| panic!("{k} has no ticket"));
        assert_eq!(decision(&m, k)["ticket"], format!("{}/issues/{id}", rm.url));
        let issue = rm.issue(id);
        let body = issue["description"].as_str().unwrap();
        assert!(body.contains(&format!("Threatmap key: `comment-web-application/{k}`")), "{body}");
        assert!(body.contains("https://git.example.com/webapp/threat-model"), "{body}");
        assert!(["Immediate", "Urgent"].contains(&issue["priority"]["name"].as_str().unwrap()), "{issue}");
        assert_eq!(decision(&m, k)["history"][0]["by"], "Sam Analyst");
    }

    // Pushing again changes nothing and creates nothing.
    let out = tickets_ok(&["push", p, "--severity", "high"], &key);
    assert!(out.contains(&format!("0 created, 0 recorded from an earlier push, 0 updated, 0 reopened, {} unchanged", high.len())), "{out}");
    assert_eq!(rm.issues("webapp").len(), high.len());

    // A confirmation lost (the push stopped between the tracker's answer and the save): the next
    // push finds the tickets by their key instead of creating them again.
    let mut m = model(&path);
    for k in &high[..3] {
        m["decisions"][k].as_object_mut().unwrap().remove("tracked");
    }
    std::fs::write(&path, serde_json::to_string_pretty(&m).unwrap()).unwrap();
    let out = tickets_ok(&["push", p, "--severity", "high"], &key);
    assert!(out.contains("0 created, 3 recorded from an earlier push"), "{out}");
    assert_eq!(rm.issues("webapp").len(), high.len());

    // The developers work: close two, resolve one, delete one, move one to another project.
    let m = model(&path);
    let id = |k: &str| decision(&m, k)["tracked"]["id"].as_str().unwrap().to_owned();
    let sqli = "GEN-INJ-01@web";
    let others: Vec<&String> = high.iter().filter(|k| !k.ends_with("@web")).collect();
    assert!(high.contains(&sqli.to_owned()) && others.len() >= 4, "{high:?}");
    let cmdi = others[3].as_str();
    let unfixed = others[0].as_str();
    let (fixed, resolved, closed, deleted, moved) = (id(sqli), id(cmdi), id(unfixed), id(others[1]), id(others[2]));
    rm.developer_sets(&fixed, 5, "Queries are parameterised now.");
    rm.developer_sets(&resolved, 3, "Arguments are passed as a list.");
    rm.developer_sets(&closed, 5, "Done.");
    let (s, _) = rm.call("DELETE", &format!("/issues/{deleted}.json"), None, &rm.dev_key);
    assert_eq!(s, 204);
    let (s, _) = rm.call("PUT", &format!("/issues/{moved}.json"), Some(json!({"issue": {"project_id": "elsewhere"}})), &rm.dev_key);
    assert_eq!(s, 204);
    // The analyst records the SQL fix in the model: the web server now uses parameterised input
    // and sanitises it, so that rule no longer fires there.
    let mut m = model(&path);
    for e in m["elements"].as_array_mut().unwrap() {
        if e["id"] == "web" {
            e["controls"]["usesParameterizedInput"] = json!(true);
            e["controls"]["sanitizesInput"] = json!(true);
        }
    }
    std::fs::write(&path, serde_json::to_string_pretty(&m).unwrap()).unwrap();
    assert!(!ok(&["findings", p, "--format", "tsv"]).contains(sqli));

    let out = tickets_ok(&["pull", p], &key);
    let m = model(&path);
    for k in [sqli, cmdi, unfixed] {
        let d = decision(&m, k);
        assert_eq!(d["status"], "fix-reported", "{k}: {out}");
        let last = d["history"].as_array().unwrap().last().unwrap();
        assert_eq!(last["by"], "Dana Developer (Redmine)", "{last}");
        assert_eq!(last["from"], "open");
        assert!(last["note"].as_str().unwrap().contains("Redmine #"), "{last}");
    }
    assert_eq!(decision(&m, sqli)["tracked"]["state"], "Closed");
    // The developer's words on closing are in the history, for the analyst who verifies.
    let note = decision(&m, sqli)["history"].as_array().unwrap().last().unwrap()["note"].as_str().unwrap().to_owned();
    assert!(note.contains("“Queries are parameterised now.”"), "{note}");
    assert_eq!(decision(&m, cmdi)["tracked"]["state"], "Resolved");
    // Two rules still fire on the model: it does not show the fix the tickets report.
    assert!(out.contains(&format!("remediation failure: {cmdi}")) && out.contains(&format!("remediation failure: {unfixed}")), "{out}");
    // The one the model shows fixed is no failure.
    assert!(!out.contains(&format!("remediation failure: {sqli}")), "{out}");
    assert!(out.contains("2 remediation failure(s)"), "{out}");
    for (k, why) in [(others[1], "was deleted"), (others[2], "was moved to elsewhere")] {
        let d = decision(&m, k);
        assert_eq!(d["tracked"]["state"], "missing", "{k}");
        assert_eq!(d["status"], "open", "the decision is kept");
        assert!(d["history"].as_array().unwrap().last().unwrap()["note"].as_str().unwrap().contains(why), "{d}");
    }
    assert!(out.contains("missing: Redmine #"), "{out}");
    // A push leaves the missing ones alone unless told to hand them over again.
    let out = tickets_ok(&["push", p, "--severity", "high"], &key);
    assert!(out.contains("2 skipped") && out.contains("--recreate"), "{out}");
    assert_eq!(rm.issues("webapp").len(), high.len() - 2);
    // `--key` takes just one finding; `--recreate` hands a gone one over again.
    let out = tickets_ok(&["push", p, "--key", others[1], "--recreate"], &key);
    assert!(out.contains("1 created") && out.contains(others[1].as_str()), "{out}");
    assert_eq!(rm.issues("webapp").len(), high.len() - 1);

    // `status` lists the tickets offline and fails on remediation failures.
    let o = tickets(&["status", p], &key);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains(&format!("remediation failure: {unfixed}")), "{}", stdout(&o));

    // The analyst verifies: one fix is not complete and is reopened with a note, which the next
    // push posts on the ticket; another fix is accepted as verified.
    ok(&["triage", p, unfixed, "--status", "in-progress", "--note", "The admin endpoint still lacks the check."]);
    ok(&["triage", p, cmdi, "--status", "mitigated", "--note", "Verified in review."]);
    let out = tickets_ok(&["push", p, "--severity", "high"], &key);
    assert!(out.contains("1 reopened"), "{out}");
    let issue = rm.issue(&closed);
    assert_eq!(issue["status"]["name"], "In Progress", "{issue}");
    let notes: Vec<&str> = issue["journals"].as_array().unwrap().iter().filter_map(|j| j["notes"].as_str()).collect();
    assert!(notes.iter().any(|n| n.contains("The admin endpoint still lacks the check.")), "{notes:?}");
    assert_eq!(decision(&model(&path), unfixed)["tracked"]["done"], Value::Null, "reopened: not done");

    // The developer reopens the accepted one on Redmine: the pull puts it back in progress.
    rm.developer_sets(&resolved, 2, "Found another call site.");
    let out = tickets_ok(&["pull", p], &key);
    let d = decision(&model(&path), cmdi).clone();
    assert_eq!(d["status"], "in-progress", "{out}");
    assert_eq!(d["history"].as_array().unwrap().last().unwrap()["by"], "Dana Developer (Redmine)", "{d}");
    assert!(out.contains("0 remediation failure(s)") && !out.contains("remediation failure:"), "{out}");
}

#[test]
fn a_push_killed_half_way_is_finished_by_the_next_without_duplicates() {
    let Some(rm) = start_redmine() else { return };
    rm.project("clinic");
    let dir = tempfile::tempdir().unwrap();
    let path = copy_example(dir.path(), "clinic-portal.threatmap.json");
    let p = path.to_str().unwrap();
    ok(&["tickets", "setup", p, "--kind", "redmine", "--url", &rm.url, "--project", "clinic"]);
    let dry = ok(&["tickets", "push", p, "--dry-run"]);
    let drafts = dry.lines().filter(|l| l.starts_with("create: ")).count();
    assert!(drafts >= 20, "{dry}");

    let mut child = Command::new(env!("CARGO_BIN_EXE_threatmap"))
        .args(["tickets", "push", p])
        .env("REDMINE_API_KEY", &rm.admin_key)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while rm.issues("clinic").len() < drafts / 3 {
        assert!(started.elapsed() < Duration::from_secs(120), "the push made no progress");
        assert!(child.try_wait().unwrap().is_none(), "the push ended before it could be stopped");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let made = rm.issues("clinic").len();
    assert!(made < drafts, "the push finished before it was stopped ({made} of {drafts})");
    // The model file is whole (saves are atomic) and records some of the tickets.
    let recorded = model(&path)["decisions"].as_object().map(|d| d.values().filter(|d| d["tracked"].is_object()).count()).unwrap_or(0);
    assert!(recorded <= made, "{recorded} recorded, {made} on Redmine");

    let out = tickets_ok(&["push", p], &rm.admin_key);
    let issues = rm.issues("clinic");
    assert_eq!(issues.len(), drafts, "duplicates or missing tickets after the second push:\n{out}");
    let mut keys: Vec<String> = issues.iter().filter_map(|i| threatmap_tickets::key_in(i["description"].as_str()?)).collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), drafts, "two tickets carry one key");
    let m = model(&path);
    let tracked = m["decisions"].as_object().unwrap().values().filter(|d| d["tracked"].is_object()).count();
    assert_eq!(tracked, drafts, "{out}");
    assert!(out.contains(&format!("{} created, {} recorded from an earlier push", drafts - made, made - recorded)), "{out}");
}
