//! Output safety in a real browser: a model whose every user-typed field carries script
//! payloads is rendered to the HTML report (built-in and pytm-template), the portfolio and to SVG diagrams,
//! and each file is opened in headless Chromium. The payloads would mark the document
//! (`data-xss`, the title) if any script ran; the test reads the DOM back with `--dump-dom` and
//! checks that no mark is there, no element carries an event handler and no link has a
//! scripting scheme.
//!
//! Needs Debian's `chromium` (CI installs it and sets `THREATMAP_REQUIRE_CHROMIUM=1`); without it
//! the test says so and passes only when not required.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use common::{example, ok};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// What a script that ran would leave: built at run time, so the payload text itself never
/// contains it.
const MARK: &str = "PWNED";

/// One payload per injection route; every one would set the mark if it ran.
fn payload(tag: &str) -> String {
    let set = "document.documentElement.setAttribute('data-xss','PW'+'NED');document.title='PW'+'NED'";
    format!(
        "{tag}<script>{set}</script><img src=x onerror=\"{set}\"><svg onload=\"{set}\"></svg></style><script>{set}</script>\
         </title></textarea><iframe src=\"javascript:{set}\"></iframe><a href=\"javascript:{set}\">link</a>\
         ]]><!--<script>{set}</script>-->\"'`{{{{item}}}}"
    )
}

fn chromium() -> Option<PathBuf> {
    for c in ["chromium", "chromium-browser", "google-chrome"] {
        if let Ok(o) = Command::new("sh").arg("-c").arg(format!("command -v {c}")).output() {
            let p = String::from_utf8_lossy(&o.stdout).trim().to_owned();
            if o.status.success() && !p.is_empty() {
                return Some(PathBuf::from(p));
            }
        }
    }
    if std::env::var_os("THREATMAP_REQUIRE_CHROMIUM").is_some() {
        panic!("THREATMAP_REQUIRE_CHROMIUM is set but no chromium is installed");
    }
    eprintln!("SKIPPED: chromium not found (apt-get install chromium); output safety not checked in a browser");
    None
}

/// Loads `file` in headless Chromium, lets its events and timers run, and returns the DOM.
fn dump_dom(browser: &Path, file: &Path, profile: &Path) -> String {
    let o = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-quic",
            "--no-first-run",
            "--allow-file-access-from-files",
            "--virtual-time-budget=3000",
            "--run-all-compositor-stages-before-draw",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", file.display()))
        .output()
        .expect("run chromium");
    let dom = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(o.status.success() && dom.len() > 100, "chromium failed on {}: {}", file.display(), String::from_utf8_lossy(&o.stderr));
    dom
}

/// The model: the web-app example with a payload in every text a user types.
fn hostile_model(dir: &Path) -> String {
    let mut m: Value = serde_json::from_str(&std::fs::read_to_string(example("web-app.threatmap.json")).unwrap()).unwrap();
    fn poison(v: &mut Value, path: &str) {
        match v {
            Value::Object(map) => {
                for (k, x) in map.iter_mut() {
                    let typed_by_user = ["name", "description", "note", "OS", "environment", "protocol", "format"].contains(&k.as_str());
                    if typed_by_user && x.is_string() {
                        *x = Value::String(format!("{}{}", x.as_str().unwrap(), payload(&format!(" [{path}.{k}]"))));
                    } else {
                        poison(x, &format!("{path}.{k}"));
                    }
                }
            }
            Value::Array(a) => a.iter_mut().for_each(|x| poison(x, path)),
            _ => {}
        }
    }
    poison(&mut m, "");
    let web = m["elements"].as_array_mut().unwrap().iter_mut().find(|e| e["id"] == "web").unwrap();
    web["properties"] = serde_json::json!({ payload("prop-name"): payload("prop-value") });
    web["overrides"] = serde_json::json!({ "GEN-INJ-01": { "response": payload("override"), "cvss": payload("cvss") } });
    // A pack of the user's own, its texts and references carrying payloads too.
    let pack = format!(
        "[pack]\nname = \"hostile\"\n\n[[rule]]\nid = \"HOST-1\"\ntargets = [\"Server\"]\ncondition = \"True\"\nseverity = \"High\"\ntitle = {t}\ndescription = {t}\ndetails = {t}\nexample = {t}\nmitigations = [{t}]\nreferences = [\"javascript:document.title='PW'+'NED'\", {t}, \"https://example.com/\\\"onmouseover=\\\"x\"]\n",
        t = serde_json::to_string(&payload("rule")).unwrap()
    );
    std::fs::write(dir.join("hostile.toml"), pack).unwrap();
    m["rulePacks"] = serde_json::json!(["general", "stride-interactions", "hostile.toml"]);
    let path = dir.join("hostile.threatmap.json");
    std::fs::write(&path, serde_json::to_string_pretty(&m).unwrap()).unwrap();
    let p = path.display().to_string();
    ok(&["validate", &p]);
    ok(&[
        "triage",
        &p,
        "GEN-INJ-01@web",
        "--status",
        "accepted-risk",
        "--note",
        &payload("justification"),
        "--owner",
        &payload("owner"),
        "--ticket",
        "javascript:document.title='PW'+'NED'",
        "--tag",
        &payload("tag"),
    ]);
    p
}

/// Checks a dumped DOM: no mark, and among the real tags (text shows `<` as `&lt;`) no script,
/// no frame, no event-handler attribute and no link or source with a scripting scheme.
fn assert_inert(dom: &str, what: &str) {
    assert!(!dom.contains(MARK), "{what}: a payload ran:\n{}", excerpt(dom, MARK));
    for (tag, attrs) in tags(dom) {
        assert!(!matches!(tag.as_str(), "script" | "iframe" | "object" | "embed"), "{what}: a live <{tag}> element");
        for (name, value) in attrs {
            assert!(!name.starts_with("on"), "{what}: <{tag}> has the handler {name}={value:?}");
            let v = value.trim().to_lowercase();
            if matches!(name.as_str(), "href" | "src" | "xlink:href" | "action" | "formaction") {
                assert!(!v.starts_with("javascript:") && !v.starts_with("data:"), "{what}: <{tag} {name}={value:?}>");
            }
        }
    }
}

/// The start tags of a serialized DOM with their attributes (values are always double-quoted
/// in Chromium's serialization).
fn tags(dom: &str) -> Vec<(String, Vec<(String, String)>)> {
    let mut out = Vec::new();
    let b = dom.as_bytes();
    let mut i = 0;
    while let Some(off) = dom[i..].find('<') {
        i += off + 1;
        if i >= b.len() || !b[i].is_ascii_alphabetic() {
            continue;
        }
        let name_end = dom[i..].find(|c: char| c.is_whitespace() || c == '>' || c == '/').map_or(dom.len(), |n| i + n);
        let tag = dom[i..name_end].to_lowercase();
        i = name_end;
        let mut attrs = Vec::new();
        loop {
            while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b'/') {
                i += 1;
            }
            if i >= b.len() || b[i] == b'>' {
                break;
            }
            let n_end = dom[i..].find(|c: char| c.is_whitespace() || c == '=' || c == '>').map_or(dom.len(), |n| i + n);
            let name = dom[i..n_end].to_lowercase();
            i = n_end;
            let mut value = String::new();
            if i < b.len() && b[i] == b'=' {
                i += 1;
                if i < b.len() && b[i] == b'"' {
                    let v_end = dom[i + 1..].find('"').map_or(dom.len(), |n| i + 1 + n);
                    value = dom[i + 1..v_end].to_owned();
                    i = (v_end + 1).min(dom.len());
                } else {
                    let v_end = dom[i..].find(|c: char| c.is_whitespace() || c == '>').map_or(dom.len(), |n| i + n);
                    value = dom[i..v_end].to_owned();
                    i = v_end;
                }
            }
            attrs.push((name, value));
        }
        out.push((tag, attrs));
    }
    out
}

fn excerpt(s: &str, needle: &str) -> String {
    let at = s.find(needle).unwrap_or(0);
    let start = s[..at].char_indices().rev().nth(200).map_or(0, |(i, _)| i);
    s[start..].chars().take(400).collect()
}

#[test]
fn no_payload_runs_in_the_report_or_the_diagrams() {
    let Some(browser) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = hostile_model(d);
    let out = |name: &str| d.join(name).display().to_string();
    ok(&["report", &model, "-o", &out("report.html")]);
    let template = common::shared("compat/pytm/templates/advanced_template.md")
        .map(|s| s.join("compat/pytm/templates/advanced_template.md").display().to_string());
    let own_template = common::write(
        d,
        "t.md",
        "# {tm.name}\n\n{tm.description}\n\n{findings:repeat:* {{item.threat_id}} {{item.description}} {{item.target}} {{item.references}}\n}\n",
    );
    ok(&["report", &model, "--template", template.as_deref().unwrap_or(&own_template), "-o", &out("template.html")]);
    ok(&["report", &model, "--template", &own_template, "-o", &out("own-template.html")]);
    ok(&["dfd", &model, "-o", &out("dfd.svg")]);
    ok(&["dfd", &model, "--auto-layout", "--colormap", "-o", &out("dfd-auto.svg")]);
    ok(&["seq", &model, "-o", &out("seq.svg")]);
    // The portfolio of the folder: the hostile model's names, owner and tag on its dashboard.
    ok(&["portfolio", &d.display().to_string(), "-o", &out("portfolio.html")]);

    let profile = d.join("profile");
    for name in ["report.html", "template.html", "own-template.html", "dfd.svg", "dfd-auto.svg", "seq.svg", "portfolio.html"] {
        let file = d.join(name);
        let dom = dump_dom(&browser, &file, &profile);
        assert_inert(&dom, name);
        // The payload text is shown, as text: the page carries what the user typed.
        assert!(dom.contains("&lt;script&gt;"), "{name}: the payload should show as text");
    }
    // The check itself works: the same payload unescaped does run in this browser.
    let control = d.join("control.html");
    std::fs::write(&control, format!("<!doctype html><html><head><title>t</title></head><body>{}</body></html>", payload("control")))
        .unwrap();
    let dom = dump_dom(&browser, &control, &profile);
    assert!(dom.contains(MARK), "the unescaped control page should have run its payload:\n{dom}");
    assert!(std::panic::catch_unwind(|| assert_inert(&dom.replace(MARK, "x"), "control")).is_err(), "the tag check must see the live tags");
}
