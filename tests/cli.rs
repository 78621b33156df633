//! End-to-end tests of the `threatmap` command line: every subcommand, the bundled examples and
//! packs, and clear errors (exit 2) for bad input.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;
use common::*;

const IOT_RULES: &[(&str, &str)] = &[
    ("UART01", "External Entity Unauthenticated User Potentially Denies Receiving Data"),
    ("UART02", "Spoofing of the Unauthenticated User External Destination Entity"),
    ("UART03", "Elevation by Changing the Execution Flow in Generic Process"),
    ("UART04", "Elevation by Changing the Execution Flow in Sends and Transmits Signals Wirelessly"),
    ("UART05", "Sends and Transmits Signals Wirelessly May be Subject to Elevation of Privilege Using Remote Code Execution"),
    ("UART06", "Potential Process Crash or Stop for Sends and Transmits Signals Wirelessly"),
    ("WIFI01", "Spoofing of the Attacker External Destination Entity"),
    ("WIFI02", "External Entity Attacker Potentially Denies Receiving Data"),
    ("WIFI03", "Spoofing the Unauthenticated User External Entity"),
    ("WIFI04", "Elevation Using Impersonation"),
    ("WIFI05", "Spoofing the Connect to the Board Process"),
    ("WIFI06", "Potential Lack of Input Validation for Connect to the Board"),
    ("WIFI07", "Potential Data Repudation by Connect to Board"),
    ("WIFI08", "Data Flow Sniffing"),
    ("WIFI09", "Potential Process Crash or Stop for Connect to the Board"),
    ("WIFI10", "Denial of Service happens when the process or datastore is not able to service incoming requests or perform up to spec"),
    ("WIFI11", "Connect to the Board May be Subject to Elevation of Privilege Using Remote Code Execution"),
    ("CLOUD01", "Data Logs from an Unknown Source"),
    ("CLOUD02", "Lower Trusted Subject Updates Logs"),
    ("CLOUD03", "Data Store Inaccessible"),
    ("CLOUD04", "Data Flow Generic Data Flow Is Potentially Interrupted"),
    ("CLOUD05", "Data Store Denies Cloud Server Potentially Writing Data"),
    ("CLOUD06", "The Cloud Server Data Store Could Be Corrupted"),
    ("CLOUD07", "Spoofing of Destination Data Store Cloud Server"),
    ("PC01", "Data Logs from an Unknown Source"),
    ("PC02", "Lower Trusted Subject Updates Logs"),
    ("PC03", "Authenticated Data Flow Compromised"),
    ("PC04", "Data Store Inaccessible"),
    ("PC05", "Data Flow Generic Data Flow Is Potentially Interrupted"),
    ("PC06", "Data Store Denies PC Potentially Writing Data"),
    ("PC07", "The PC Data Store Could Be Corrupted"),
    ("PC08", "Spoofing of Destination Data Store PC"),
    ("ICSP01", "Spoofing of the Unauthenticated User External Destination Entity"),
    ("ICSP02", "Potential Data Repudation by Connects Board to the Computer for Programming"),
    ("ICSP03", "Elevation using Impersonation"),
    ("ICSP04", "Potential Lack of Input Validation for Connects Board to the Computer for Programming"),
    ("ICSP05", "Spoofing the Connects Board to the Computer for Programming Process"),
    ("SPI01", "Unauthenticated User claims that it did not receive data from a process on the other side of the trust boundary"),
    ("SPI02", "Spoofing of the Unauthenticated User External Destination Entity"),
    ("SPI03", "Elevation by Changing the Execution Flow in Send Data Between Microcontrollers and Small Peripherals"),
    (
        "SPI04",
        "Send Data Between Microcontrollers and Small Peripherals May be subject to Elevation of Privilege Using Remote Code Execution",
    ),
    ("SPI05", "Elevation using Impersonation"),
    ("SPI06", "Data Flow SPI is Potentially Interrupted"),
    ("SPI07", "Potential Process Crash or Stop for Send Data Between Microcontrollers and Small Peripherals"),
    ("SPI08", "Potential Data Repudiation by Send Data Between Microcontrollers and Small Peripherals"),
];

#[test]
fn iot_pack_has_exactly_the_specified_rules_and_all_fire_on_the_example() {
    let listed = ok(&["list", "--rules", "iot"]);
    let got: Vec<(String, String)> = listed
        .lines()
        .map(|l| {
            let mut parts = l.splitn(2, ' ');
            let id = parts.next().unwrap().to_owned();
            let rest = parts.next().unwrap().trim_start();
            // Skip the severity column (one or two words).
            let title = rest.split_once("  ").map(|(_, t)| t.trim_start()).unwrap_or(rest);
            (id, title.to_owned())
        })
        .collect();
    let want: Vec<(String, String)> = IOT_RULES.iter().map(|(a, b)| ((*a).to_owned(), (*b).to_owned())).collect();
    assert_eq!(got, want);

    let tsv = ok(&["findings", &example("iot-board.threatmap.json"), "--rules", "iot", "--format", "tsv"]);
    for (id, title) in IOT_RULES {
        assert!(tsv.lines().any(|l| l.split('\t').nth(4) == Some(id) && l.ends_with(title)), "{id} does not fire on iot-board");
    }
}

/// The methodology packs and the bundled example made for each: every rule of the pack fires
/// there, the example names the pack, and `list --rules` shows each rule with its pack's title
/// and the references its category.
#[test]
fn methodology_packs_fire_every_rule_on_their_examples() {
    for (pack, example_name, prefix, reference) in [
        ("linddun", "clinic-portal.threatmap.json", "LDN-", "LINDDUN: "),
        ("cia", "clinic-portal.threatmap.json", "CIA-", "CIA: "),
        ("ai", "support-assistant.threatmap.json", "AI-", "OWASP-LLM"),
    ] {
        let listed = ok(&["list", "--rules", pack]);
        let ids: Vec<&str> = listed.lines().filter_map(|l| l.split_whitespace().next()).collect();
        assert!(ids.len() >= 10 && ids.iter().all(|i| i.starts_with(prefix)), "{pack}: {listed}");
        let text = std::fs::read_to_string(root().join(format!("rules/{pack}.toml"))).unwrap();
        let refs = text.lines().filter(|l| l.starts_with("references = ")).collect::<Vec<_>>();
        assert_eq!(refs.len(), ids.len(), "{pack}: one references line per rule");
        assert!(refs.iter().all(|l| l.contains(reference)), "{pack}: every rule names {reference}");

        let model = example(example_name);
        let tsv = ok(&["findings", &model, "--rules", pack, "--format", "tsv"]);
        let fired: Vec<&str> = tsv.lines().skip(1).filter_map(|l| l.split('\t').nth(4)).collect();
        for id in &ids {
            assert!(fired.contains(id), "{id} ({pack}) does not fire on {example_name}");
        }
        // The example runs the pack without `--rules`.
        let default_run = ok(&["findings", &model, "--format", "tsv"]);
        assert!(
            default_run.lines().any(|l| l.split('\t').nth(4).is_some_and(|i| i.starts_with(prefix))),
            "{example_name} does not name {pack}"
        );
    }
    // The AI pack reaches through flows: titles name the element at the other end.
    let tsv = ok(&["findings", &example("support-assistant.threatmap.json"), "--rules", "ai", "--format", "tsv"]);
    assert!(tsv.contains("Model output used unchecked by Orders database"), "{tsv}");
    assert!(tsv.contains("Poisoned retrieval data in Help-centre index"), "{tsv}");
}

/// `new` starts a model from each bundled template: valid, canonical, with findings from
/// every pack it names; it never overwrites a file and names the templates when one is wrong.
#[test]
fn new_starts_models_from_the_templates() {
    let dir = tempfile::tempdir().unwrap();
    let listed = ok(&["new", "--list"]);
    let names: Vec<&str> = listed.lines().filter_map(|l| l.split_whitespace().next()).collect();
    assert_eq!(names, ["web-application", "mobile-app-api", "kubernetes-microservices", "iot-device", "llm-application"]);
    for name in &names {
        let path = dir.path().join(format!("{name}.threatmap.json")).display().to_string();
        assert!(ok(&["new", &path, "--template", name]).contains(&format!("new model from template {name}")));
        assert!(ok(&["validate", &path]).contains("0 warning(s)"), "{name}");
        ok(&["fmt", "--check", &path]);
        let model = threatmap_core::file::load(std::path::Path::new(&path)).unwrap();
        let tsv = ok(&["findings", &path, "--format", "tsv"]);
        // Each pack the template names finds something in it.
        for pack in &model.rule_packs {
            let ids = ok(&["list", "--rules", pack]);
            let ids: Vec<&str> = ids.lines().filter_map(|l| l.split_whitespace().next()).collect();
            assert!(
                tsv.lines().skip(1).any(|l| l.split('\t').nth(4).is_some_and(|i| ids.contains(&i))),
                "{name}: no findings of the {pack} pack"
            );
        }
        fails(&["new", &path, "--template", name], &["exists", "does not overwrite"]);
    }
    let empty = dir.path().join("empty.threatmap.json").display().to_string();
    ok(&["new", &empty]);
    assert!(ok(&["validate", &empty]).contains("valid: 0 elements"));
    fails(&["new", &dir.path().join("x.threatmap.json").display().to_string(), "-t", "iot"], &["no template called iot", "iot-device"]);
}

/// A threat written on an element is a finding in every output, survives OTM both ways, is
/// refused with its element named when it is malformed, and is said to be lost in pytm.
#[test]
fn threats_written_on_elements_reach_every_output() {
    let dir = tempfile::tempdir().unwrap();
    let mut m: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(example("web-app.threatmap.json")).unwrap()).unwrap();
    let threat = serde_json::json!({
        "id": "T-1", "title": "Admin console <reachable> from the internet", "severity": "Very High",
        "stride": ["Elevation of Privilege"], "description": "The /admin path is served on the public listener.",
        "mitigations": ["Serve /admin on the internal listener only"], "references": ["CWE-284"]
    });
    let web = m["elements"].as_array_mut().unwrap().iter_mut().find(|e| e["id"] == "web").unwrap();
    web["threats"] = serde_json::json!([threat]);
    let path = write(dir.path(), "hw.threatmap.json", &serde_json::to_string_pretty(&m).unwrap());
    ok(&["validate", &path]);
    let tsv = ok(&["findings", &path, "--format", "tsv"]);
    let row = tsv.lines().find(|l| l.starts_with("T-1@web\t")).unwrap_or_else(|| panic!("{tsv}"));
    assert!(row.contains("Very High") && row.contains("Admin console <reachable> from the internet"), "{row}");
    let json = ok(&["findings", &path, "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let list = v.as_array().or_else(|| v["findings"].as_array()).unwrap();
    let f = list.iter().find(|f| f["key"] == "T-1@web").unwrap();
    assert_eq!(f["mitigations"][0], "Serve /admin on the internal listener only");
    assert_eq!(f["references"][0], "CWE-284");
    assert_eq!(f["stride"][0], "Elevation of Privilege");
    for format in ["sarif", "defectdojo", "csv", "json", "otm", "tm-bom"] {
        let out = ok(&["export", &path, "--format", format]);
        assert!(out.contains("Admin console") && out.contains("T-1"), "{format} leaves the threat out");
    }
    let html = ok(&["report", &path]);
    assert!(html.contains("Admin console &lt;reachable&gt; from the internet"), "the report shows it, escaped");
    // Triage by key, as any finding.
    ok(&["triage", &path, "T-1@web", "--status", "mitigated", "--note", "moved to the internal listener"]);
    assert!(!ok(&["findings", &path, "--format", "tsv"]).lines().any(|l| l.starts_with("T-1@web\t") && l.contains("\topen\t")));
    // OTM out and back in another folder: the threat is still written on its element.
    let otm = write(dir.path(), "hw.otm.json", &ok(&["export", &path, "--format", "otm"]));
    let other = tempfile::tempdir().unwrap();
    let back = other.path().join("back.threatmap.json").display().to_string();
    ok(&["import", "otm", &otm, "-o", &back]);
    let model = threatmap_core::file::load(std::path::Path::new(&back)).unwrap();
    let t = &model.elements.iter().find(|e| e.id == "web").unwrap().threats;
    assert_eq!(t.len(), 1, "{t:?}");
    assert_eq!(t[0].title, "Admin console <reachable> from the internet");
    assert!(ok(&["findings", &back, "--format", "tsv"]).lines().filter(|l| l.starts_with("T-1@")).count() == 1);
    // pytm has no threats of its own per element: the export says so.
    let o = run(&["export", &path, "--format", "pytm"]);
    assert!(stderr(&o).contains("1 threat(s) written on elements are not carried"), "{}", stderr(&o));
    assert!(!stdout(&o).contains("Admin console"));
    // Malformed threats are refused, naming the element and the threat.
    let web = m["elements"].as_array_mut().unwrap().iter_mut().find(|e| e["id"] == "web").unwrap();
    web["threats"] = serde_json::json!([
        {"id": "T-1", "title": "a", "severity": "Severe"},
        {"id": "T-1", "title": "", "severity": "Low", "stride": ["Sniffing"]}
    ]);
    let bad = write(dir.path(), "bad.threatmap.json", &serde_json::to_string_pretty(&m).unwrap());
    fails(
        &["validate", &bad],
        &[
            "Web Server",
            "threat T-1: unknown severity `Severe`",
            "the id is used by another threat",
            "needs a `title`",
            "unknown STRIDE category `Sniffing`",
        ],
    );
    // A threat id a rule pack already uses is skipped with a message; the pack's rule stands.
    let web = m["elements"].as_array_mut().unwrap().iter_mut().find(|e| e["id"] == "web").unwrap();
    web["threats"] = serde_json::json!([{"id": "GEN-INJ-01", "title": "mine", "severity": "Low"}]);
    let clash = write(dir.path(), "clash.threatmap.json", &serde_json::to_string_pretty(&m).unwrap());
    let o = run(&["findings", &clash, "--format", "tsv"]);
    assert!(stderr(&o).contains("GEN-INJ-01") && stderr(&o).contains("duplicate rule id"), "{}", stderr(&o));
    assert!(!stdout(&o).contains("\tmine"));
}

/// A privacy control set on an element answers the LINDDUN threat it mitigates, and only that.
#[test]
fn privacy_controls_mitigate_linddun_threats() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(root().join("assets/examples/clinic-portal.threatmap.json")).unwrap();
    let before = ok(&["findings", &example("clinic-portal.threatmap.json"), "--rules", "linddun", "--format", "tsv"]);
    assert!(before.contains("LDN-DD01@records") && before.contains("LDN-L01@records"), "{before}");
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let records = v["elements"].as_array_mut().unwrap().iter_mut().find(|e| e["id"] == "records").unwrap();
    records["controls"]["enforcesRetention"] = serde_json::Value::Bool(true);
    let model = write(dir.path(), "clinic.threatmap.json", &serde_json::to_string_pretty(&v).unwrap());
    let after = ok(&["findings", &model, "--rules", "linddun", "--format", "tsv"]);
    assert!(!after.contains("LDN-DD01@records"), "{after}");
    assert!(after.contains("LDN-L01@records"), "{after}");
    assert!(ok(&["describe", "Controls"]).contains("enforcesRetention"));
}

#[test]
fn model_rule_packs_apply_without_rules_flag() {
    // iot-board names `rulePacks: ["general", "iot"]`.
    let tsv = ok(&["findings", &example("iot-board.threatmap.json"), "--format", "tsv"]);
    let ids: Vec<&str> = tsv.lines().skip(1).filter_map(|l| l.split('\t').nth(4)).collect();
    assert!(ids.contains(&"UART01") && ids.iter().any(|i| i.starts_with("GEN-")), "{ids:?}");
    assert!(!ids.iter().any(|i| i.starts_with("SI-")), "the default packs are not added");
}

/// The first fenced block of `lang` after `heading` in the README.
fn readme_block(heading: &str, lang: &str) -> String {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let section = readme.split(heading).nth(1).unwrap_or_else(|| panic!("README has no {heading}"));
    let start = section.find(&format!("```{lang}\n")).unwrap() + lang.len() + 4;
    section[start..].split("\n```").next().unwrap().to_owned()
}

#[test]
fn readme_examples_work() {
    let dir = tempfile::tempdir().unwrap();
    let model = write(dir.path(), "readme.threatmap.json", &readme_block("## Models", "json"));
    assert!(ok(&["validate", &model]).contains("valid:"));
    let pack = write(dir.path(), "readme.toml", &readme_block("## Rules", "toml"));
    let o = run(&["list", "--rules", &pack]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("MY-01") && stderr(&o).is_empty(), "{}{}", stdout(&o), stderr(&o));
    // The rule fires on the README model's flow that crosses into the VPC.
    let tsv = ok(&["findings", &model, "--rules", &pack, "--format", "tsv"]);
    assert!(tsv.contains("MY-01@post") && tsv.contains("Unencrypted Post comment leaves User"), "{tsv}");
}

#[test]
fn list_shows_the_default_packs() {
    let out = ok(&["list"]);
    assert!(out.contains("GEN-INJ-01") && out.contains("SI-S-01"), "{out}");
    assert!(!out.contains("UART01"), "iot is not a default pack");
}

#[test]
fn describe_and_list_elements() {
    let out = ok(&["describe", "Server", "Lambda", "Controls", "Data"]);
    assert!(out.lines().any(|l| l.trim_start().starts_with("usesCache") && l.contains("False") && l.contains("caches")), "{out}");
    let lambda = out.split("Lambda:").nth(1).unwrap();
    assert!(lambda.lines().any(|l| l.trim_start().starts_with("onAWS") && l.contains("True")), "Lambda's onAWS defaults to True");
    assert!(out.contains("sanitizesInput") && out.contains("credentialsLife"));
    fails(&["describe", "Sever"], &["unknown kind `Sever`", "did you mean `Server`"]);
    let out = ok(&["list-elements"]);
    for word in ["SetOfProcesses", "LLM", "Agent", "Boundary", "TOP_SECRET", "TLSv13", "HARDCODED", "AWS_S3", "NO_ACTION"] {
        assert!(out.contains(word), "{word}: {out}");
    }
}

#[test]
fn examples_are_valid_and_canonical() {
    let mut all: Vec<String> = std::fs::read_dir(root().join("assets/examples"))
        .unwrap()
        .map(|e| e.unwrap().path().to_string_lossy().into_owned())
        .filter(|p| p.ends_with(".threatmap.json"))
        .collect();
    all.sort();
    assert!(all.len() >= 4, "{all:?}");
    for path in &all {
        let out = ok(&["validate", path]);
        assert!(out.contains("valid:") && out.contains("0 warning(s)"), "{out}");
    }
    let mut args = vec!["fmt", "--check"];
    args.extend(all.iter().map(String::as_str));
    ok(&args);
}

#[test]
fn schema_asset_is_current() {
    let generated = ok(&["schema"]);
    let stored = std::fs::read_to_string(root().join("assets/threatmap.schema.json")).unwrap();
    assert_eq!(generated, stored, "assets/threatmap.schema.json is stale: run `threatmap schema > assets/threatmap.schema.json`");
}

#[test]
fn bad_models_give_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let head = r#"{"threatmap": 1, "name": "m", "elements": ["#;
    let tail = "]}";
    let m = |name: &str, body: &str| write(d, name, &format!("{head}{body}{tail}"));

    let f = write(
        d,
        "syntax.json",
        "{\n  \"threatmap\": 1,\n  \"name\": \"m\",\n  \"elements\": [\n    {\"id\": \"a\" \"kind\": \"Actor\"}\n  ]\n}\n",
    );
    fails(&["validate", &f], &["syntax.json:5:16", "expected `,` or `}`"]);

    let f = m("typo.json", "\n{\"id\": \"web\", \"kind\": \"Server\", \"name\": \"Web\", \"sanitizesInput\": false}");
    fails(
        &["validate", &f],
        &["typo.json:2:", "Server \"Web\" (web)", "unknown attribute `sanitizesInput`", "did you mean `controls.sanitizesInput`"],
    );

    let f = m("typo2.json", r#"{"id": "web", "kind": "Server", "name": "Web", "usesCach": true}"#);
    fails(&["validate", &f], &["did you mean `usesCache`"]);

    let f = m("kind.json", r#"{"id": "web", "kind": "Sever", "name": "Web"}"#);
    fails(&["validate", &f], &["unknown value `Sever`", "did you mean `Server`"]);

    let f = m("applies.json", r#"{"id": "db", "kind": "Datastore", "name": "DB", "usesCache": true}"#);
    fails(&["validate", &f], &["Datastore \"DB\" (db)", "`usesCache` does not apply to a Datastore", "Server"]);

    let f = m(
        "dangling.json",
        r#"{"id": "a", "kind": "Actor", "name": "A"}, {"id": "f", "kind": "Dataflow", "name": "F", "source": "a", "sink": "web"}"#,
    );
    fails(&["validate", &f], &["Dataflow \"F\" (f)", "sink `web` names no element"]);

    let f = m(
        "cycle.json",
        r#"{"id": "b1", "kind": "Boundary", "name": "B1", "inBoundary": "b2"}, {"id": "b2", "kind": "Boundary", "name": "B2", "inBoundary": "b1"}"#,
    );
    fails(&["validate", &f], &["boundaries contain each other in a cycle", "b1 → b2 → b1"]);

    let f = m("dup.json", r#"{"id": "a", "kind": "Actor", "name": "A"}, {"id": "a", "kind": "Server", "name": "B"}"#);
    fails(&["validate", &f], &["duplicate id `a`", "Actor \"A\""]);

    let f = m("noends.json", r#"{"id": "f", "kind": "Dataflow", "name": "F"}"#);
    fails(&["validate", &f], &["a dataflow needs a `source`", "a dataflow needs a `sink`"]);

    let f = m("override.json", r#"{"id": "web", "kind": "Server", "name": "Web", "overrides": {"INP03": {"severity": "Severe"}}}"#);
    fails(&["validate", &f], &["Server \"Web\" (web)", "override of INP03: unknown severity `Severe`"]);

    let f = write(d, "version.json", r#"{"threatmap": 99, "name": "m"}"#);
    fails(&["validate", &f], &["file format version 99 is not supported"]);

    let f = d.join("binary.json").display().to_string();
    let bytes = [b"{\"name\": \"".as_slice(), &[0xff, 0xfe], b"\"}"].concat();
    std::fs::write(&f, bytes).unwrap();
    fails(&["validate", &f], &["not valid UTF-8"]);

    fails(&["findings", &d.join("missing.json").display().to_string()], &["missing.json", "cannot read"]);
    // The same problems stop analysis commands too.
    let f = m("typo3.json", r#"{"id": "web", "kind": "Server", "name": "Web", "sanitizesInput": false}"#);
    fails(&["findings", &f], &["unknown attribute `sanitizesInput`"]);
    fails(&["check", &f, "--fail-on", "high"], &["unknown attribute"]);
}

#[test]
fn findings_formats_and_exclusions() {
    let web = example("web-app.threatmap.json");
    let table = ok(&["findings", &web]);
    assert!(table.contains("Web Server (Server)") && table.lines().last().unwrap().contains("finding(s)"), "{table}");

    let tsv = ok(&["findings", &web, "--format", "tsv", "--all"]);
    let rows: Vec<Vec<&str>> = tsv.lines().skip(1).map(|l| l.split('\t').collect()).collect();
    assert!(rows.iter().all(|r| r.len() == 9 && r[0] == format!("{}@{}", r[4], r[1])), "keys are `rule@element`");
    assert!(rows.iter().any(|r| r[7] == "excluded" && r[4] == "GEN-INJ-06"), "the model's assumption excludes GEN-INJ-06");

    let json: serde_json::Value = serde_json::from_str(&ok(&["findings", &web, "--format", "json"])).unwrap();
    let first = &json.as_array().unwrap()[0];
    assert!(first["why"].as_array().is_some_and(|w| !w.is_empty()), "{first}");
    assert!(first["title"].as_str().is_some_and(|t| !t.contains('{')), "titles are filled in: {first}");
    assert!(json.as_array().unwrap().iter().all(|f| !f["description"].as_str().unwrap().contains("{sink.name}")));

    let excluded = ok(&["findings", &web, "--format", "tsv", "--exclude", "GEN-INF-07,SI-I-01"]);
    assert!(!excluded.contains("\tGEN-INF-07\t") && !excluded.contains("\tSI-I-01\t"));
    assert!(tsv.contains("\tGEN-INF-07\t"));
}

#[test]
fn check_exit_codes() {
    let web = example("web-app.threatmap.json");
    let o = run(&["check", &web, "--fail-on", "very-high"]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(stdout(&o).contains("check failed"));

    let dir = tempfile::tempdir().unwrap();
    let pack = write(
        dir.path(),
        "low.toml",
        r#"
[[rule]]
id = "LOW-1"
title = "Low finding on {target.name}"
targets = ["Server"]
condition = "True"
severity = "Low"
mitigations = []
references = []
"#,
    );
    let out = ok(&["check", &web, "--fail-on", "medium", "--rules", &pack]);
    assert!(out.contains("check passed") && out.contains("1 finding(s): 1 Low"), "{out}");
    let o = run(&["check", &web, "--fail-on", "low", "--rules", &pack]);
    assert_eq!(o.status.code(), Some(1));
    fails(&["check", &web, "--fail-on", "severe"], &["unknown severity"]);
}

#[test]
fn bad_rules_are_reported_and_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let pack = write(
        dir.path(),
        "mixed.toml",
        r#"[pack]
name = "mixed"

[[rule]]
id = "OK-1"
targets = ["Server"]
condition = "target.controls.isHardened is False"
severity = "High"
mitigations = ["Harden it."]
references = ["CWE-16"]

[[rule]]
id = "BAD-1"
targets = ["Server"]
condition = "target.controls.isHardned is False"
severity = "High"
mitigations = []
references = []

[[rule]]
id = "BAD-2"
targets = ["Servr"]
condition = "True"
severity = "High"
mitigations = []
references = []

[[rule]]
id = "BAD-3"
targets = ["Server"]
condition = "__import__('os').system('id')"
severity = "High"
mitigations = []
references = []
"#,
    );
    let o = run(&["list", "--rules", &pack]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("OK-1") && !stdout(&o).contains("BAD"), "{}", stdout(&o));
    let err = stderr(&o);
    assert!(err.contains("mixed.toml:15:30: rule BAD-1") && err.contains("did you mean `isHardened`"), "{err}");
    assert!(err.contains("rule BAD-2") && err.contains("unknown target class `Servr`"), "{err}");
    assert!(err.contains("rule BAD-3") && err.contains("dunder"), "{err}");

    let broken = write(dir.path(), "broken.toml", "[[rule]\nid = 1\n");
    fails(&["list", "--rules", &broken], &["broken.toml:1", "invalid rule file"]);
    fails(&["list", "--rules", "nosuchpack"], &["nosuchpack", "built-in packs: general, stride-interactions, iot, linddun, ai, cia"]);

    let json = write(
        dir.path(),
        "threats.json",
        r#"[{"SID": "X1", "target": ["Server"], "condition": "target.controls.isHardened is False", "severity": "High", "description": "d", "mitigations": "m", "references": "r"}, {"SID": "X2", "target": ["Server"], "condition": "target.x(", "severity": "High"}]"#,
    );
    let o = run(&["list", "--rules", &json]);
    assert!(stdout(&o).contains("X1") && stderr(&o).contains("rule X2"), "{}{}", stdout(&o), stderr(&o));
}

#[test]
fn pytm_json_output_is_deterministic_and_pytm_shaped() {
    let dir = tempfile::tempdir().unwrap();
    let web = example("web-app.threatmap.json");
    let a = dir.path().join("a.json");
    let b = dir.path().join("b.json");
    ok(&["json", &web, "-o", a.to_str().unwrap()]);
    ok(&["json", &web, "-o", b.to_str().unwrap()]);
    let (ta, tb) = (std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    assert_eq!(ta, tb, "same model, same bytes");
    let v: serde_json::Value = serde_json::from_slice(&ta).unwrap();
    for key in ["actors", "assets", "boundaries", "data", "elements", "flows", "findings", "excluded_findings", "isOrdered", "name"] {
        assert!(v.get(key).is_some(), "missing {key}");
    }
    let tsv = ok(&["findings", &web, "--format", "tsv"]);
    assert_eq!(v["findings"].as_array().unwrap().len(), tsv.lines().count() - 1);
    let f = &v["findings"][0];
    assert_eq!(f["id"], "1");
    assert!(f["target"].is_string() && f["threat_id"].is_string() && f["severity"].is_string());
}

#[test]
fn import_pytm_load_format() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(
        dir.path(),
        "model.json",
        r#"{
          "name": "Shop", "description": "A shop", "isOrdered": true,
          "boundaries": [{"name": "Internet"}, {"name": "DC"}],
          "data": [{"name": "Card number", "classification": "SECRET", "isPII": true}],
          "elements": [
            {"__class__": "Actor", "name": "Customer", "inBoundary": "Internet"},
            {"__class__": "Server", "name": "Shop front", "inBoundary": "DC", "protocol": "HTTPS", "controls": {"sanitizesInput": true}},
            {"__class__": "Datastore", "name": "Orders", "inBoundary": "DC", "isEncryptedAtRest": true}
          ],
          "flows": [
            {"name": "Checkout", "source": "Customer", "sink": "Shop front", "data": ["Card number"]},
            {"name": "Save order", "source": "Shop front", "sink": "Orders"}
          ]
        }"#,
    );
    let out_path = dir.path().join("shop.threatmap.json");
    let o = run(&["import", "pytm", &input, "-o", out_path.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("3 elements, 2 dataflows, 2 boundaries, 1 data items"), "{}", stdout(&o));
    assert!(
        stderr(&o).contains("attribute `isEncryptedAtRest` is not pytm's")
            && stderr(&o).contains("did you mean `controls.isEncryptedAtRest`"),
        "{}",
        stderr(&o)
    );
    let text = std::fs::read_to_string(&out_path).unwrap();
    assert!(text.contains("\"id\": \"shop-front\"") && text.contains("\"sanitizesInput\": true"), "{text}");
    assert!(!text.contains("\"usesCache\""), "defaults are left out");
    ok(&["validate", out_path.to_str().unwrap()]);
    ok(&["fmt", "--check", out_path.to_str().unwrap()]);
    let keys = write(dir.path(), "keys.json", r#"{"name": "k", "data": [{"name": "API key", "isCredentials": true, "lifetime": "LONG"}]}"#);
    let keys_out = dir.path().join("keys.threatmap.json");
    ok(&["import", "pytm", &keys, "-o", keys_out.to_str().unwrap()]);
    let keys_text = std::fs::read_to_string(&keys_out).unwrap();
    assert!(keys_text.contains("\"credentialsLife\": \"LONG\""), "pytm's `lifetime` key is read as credentialsLife: {keys_text}");

    // Commands that take a model accept pytm JSON directly, with the same result as the import.
    let direct = ok(&["findings", &input, "--format", "tsv"]);
    assert_eq!(direct, ok(&["findings", out_path.to_str().unwrap(), "--format", "tsv"]));
    assert!(direct.lines().count() > 1);
    assert!(ok(&["validate", &input]).contains("valid: 3 elements, 2 dataflows, 2 boundaries, 1 data items"));

    let bad = write(dir.path(), "bad.json", r#"{"name": "x", "elements": [{"__class__": "Sevrer", "name": "S"}]}"#);
    fails(
        &["import", "pytm", &bad, "-o", dir.path().join("x.json").to_str().unwrap()],
        &["unknown class `Sevrer`", "did you mean `Server`"],
    );
    let bad = write(
        dir.path(),
        "bad2.json",
        r#"{"name": "x", "elements": [{"__class__": "Actor", "name": "A"}], "flows": [{"name": "F", "source": "A", "sink": "B"}]}"#,
    );
    fails(&["import", "pytm", &bad, "-o", dir.path().join("x.json").to_str().unwrap()], &["flows[0] \"F\": sink \"B\" names no element"]);
}

#[test]
fn help_lists_the_app_and_the_subcommands() {
    let out = ok(&["--help"]);
    assert!(out.contains("Usage: threatmap [OPTIONS] [FILE]") && out.contains("findings") && out.contains("report"), "{out}");
    // A file and a subcommand do not mix.
    let o = run(&["model.json", "findings"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn diagram_and_report_commands() {
    let dir = tempfile::tempdir().unwrap();
    let web = example("web-app.threatmap.json");
    // Standard output when no -o is given, so pytm-style pipes keep working.
    let svg = ok(&["dfd", &web]);
    assert!(svg.starts_with("<svg ") && svg.trim_end().ends_with("</svg>"), "{}", &svg[..80.min(svg.len())]);
    let dot = ok(&["dfd", &web, "--format", "dot", "--levels", "0"]);
    assert!(dot.starts_with("digraph tm {") && dot.contains("subgraph cluster_boundary_"));
    let puml = ok(&["seq", &web, "--format", "plantuml"]);
    assert!(puml.starts_with("@startuml") && puml.contains("actor actor_User_"));
    // Files, atomically written.
    let png = dir.path().join("dfd.png");
    ok(&["dfd", &web, "--format", "png", "--scale", "2", "-o", png.to_str().unwrap()]);
    assert!(std::fs::read(&png).unwrap().starts_with(b"\x89PNG\r\n\x1a\n"));
    let seq_png = dir.path().join("seq.png");
    ok(&["seq", &web, "--format", "png", "--transparent", "-o", seq_png.to_str().unwrap()]);
    assert!(std::fs::read(&seq_png).unwrap().starts_with(b"\x89PNG"));
    let html = dir.path().join("report.html");
    ok(&["report", &web, "-o", html.to_str().unwrap()]);
    let text = std::fs::read_to_string(&html).unwrap();
    assert!(text.starts_with("<!DOCTYPE html>") && text.contains("Findings by element"));
    let db = dir.path().join("model.sqlite");
    let said = ok(&["sqldump", &web, db.to_str().unwrap()]);
    assert!(said.contains("63 findings, 1 excluded"), "{said}");
    // A template report, and its errors.
    let tpl = write(dir.path(), "t.md", "# {tm.name}\n{actors:repeat:- {{item.name}}\n}");
    let md = ok(&["report", &web, "--template", &tpl, "--format", "md"]);
    assert_eq!(md, "# Comment web application\n- User\n\n");
    let bad = write(dir.path(), "bad.md", "{tm.nmae}");
    fails(&["report", &web, "--template", &bad], &["bad.md", "nmae"]);
    fails(&["report", &web, "--format", "md"], &["--template"]);
    // Badges can be left out; --auto-layout ignores stored positions.
    assert!(svg.contains("class=\"badge\""));
    assert!(!ok(&["dfd", &web, "--no-badges"]).contains("class=\"badge\""));
    let mut placed: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&web).unwrap()).unwrap();
    let ids: Vec<String> = placed["elements"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] != "Dataflow")
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    for (k, id) in ids.iter().enumerate() {
        placed["layout"][id] = serde_json::json!({ "x": 1000.0 + 300.0 * k as f64, "y": 500.0, "width": 400.0, "height": 300.0 });
    }
    let placed_path = write(dir.path(), "placed.threatmap.json", &serde_json::to_string_pretty(&placed).unwrap());
    let kept = ok(&["dfd", &placed_path]);
    let auto = ok(&["dfd", &placed_path, "--auto-layout"]);
    assert_ne!(kept, auto);
    assert!(kept.len() > 100 && auto.starts_with("<svg "));
    // A template rendered to HTML.
    let page = dir.path().join("t.html");
    ok(&["report", &web, "--template", &tpl, "-o", page.to_str().unwrap()]);
    let page = std::fs::read_to_string(&page).unwrap();
    assert!(
        page.starts_with("<!DOCTYPE html>") && page.contains("<h1>Comment web application</h1>") && page.contains("<li>User</li>"),
        "{page}"
    );
    // pytm JSON models draw too.
    let pytm_json = dir.path().join("pytm.json");
    ok(&["json", &web, "-o", pytm_json.to_str().unwrap()]);
    assert!(ok(&["dfd", pytm_json.to_str().unwrap()]).starts_with("<svg "));
}

#[test]
fn triage_decisions_survive_edits_and_orphans_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.threatmap.json");
    std::fs::copy(example("web-app.threatmap.json"), &model).unwrap();
    let m = model.to_str().unwrap();
    let very_high = |m: &str| {
        let o = run(&["check", m, "--fail-on", "very-high"]);
        stdout(&o).lines().filter(|l| l.trim_start().starts_with("Very High")).count()
    };
    let before = very_high(m);
    let said = ok(&[
        "triage",
        m,
        "GEN-INJ-01@web",
        "--status",
        "mitigated",
        "--note",
        "prepared statements",
        "--owner",
        "ana",
        "--ticket",
        "SEC-12",
        "--due",
        "2026-12-31",
        "--tag",
        "sql",
    ]);
    assert!(said.contains("GEN-INJ-01@web: Mitigated"), "{said}");
    assert_eq!(very_high(m), before - 1, "check counts only findings that still need work");
    let tsv = ok(&["findings", m, "--format", "tsv", "--status", "mitigated"]);
    assert_eq!(tsv.lines().count(), 2, "{tsv}");
    assert!(tsv.contains("GEN-INJ-01@web") && tsv.contains("\tmitigated\t"));
    let json: serde_json::Value = serde_json::from_str(&ok(&["findings", m, "--format", "json"])).unwrap();
    let d = json.as_array().unwrap().iter().find(|f| f["key"] == "GEN-INJ-01@web").unwrap();
    assert_eq!(d["decision"]["owner"], "ana");
    assert_eq!(d["decision"]["history"][0]["to"], "mitigated");

    // Rename and move the element, re-run: the decision still applies.
    let mut model_json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&model).unwrap()).unwrap();
    for e in model_json["elements"].as_array_mut().unwrap() {
        if e["id"] == "web" {
            e["name"] = "Comment API".into();
        }
    }
    model_json["layout"]["web"] = serde_json::json!({ "x": 900.0, "y": 40.0, "width": 140.0, "height": 70.0 });
    std::fs::write(&model, serde_json::to_string_pretty(&model_json).unwrap()).unwrap();
    let tsv = ok(&["findings", m, "--format", "tsv", "--status", "mitigated"]);
    assert!(tsv.contains("GEN-INJ-01@web") && tsv.contains("Comment API"), "{tsv}");

    // Remove the cause: the finding goes, the decision stays and is reported as orphaned.
    for e in model_json["elements"].as_array_mut().unwrap() {
        if e["id"] == "web" {
            e["controls"]["usesParameterizedInput"] = true.into();
        }
    }
    std::fs::write(&model, serde_json::to_string_pretty(&model_json).unwrap()).unwrap();
    let o = run(&["findings", m]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stderr(&o).contains("decision for `GEN-INJ-01@web` (Mitigated) matches no current finding; it is kept"), "{}", stderr(&o));
    assert!(std::fs::read_to_string(&model).unwrap().contains("GEN-INJ-01@web"));

    // Bad input: unknown key (with a hint), bad date, bad status.
    fails(&["triage", m, "GEN-INJ-02@wbe", "--status", "mitigated"], &["no finding `GEN-INJ-02@wbe`", "did you mean `GEN-INJ-02@web`"]);
    fails(&["triage", m, "GEN-INJ-02@web", "--status", "mitigated", "--due", "next week"], &["YYYY-MM-DD"]);
    fails(&["triage", m, "GEN-INJ-02@web", "--status", "done-ish"], &["unknown status"]);
}

/// A file that is not a model never passes a gate: every model command refuses it (exit 2),
/// saying what the file looks like and which command reads it. An empty model fails `check`
/// unless `--allow-empty` is given.
#[test]
fn files_that_are_not_models_are_refused_by_every_model_command() {
    let dir = tempfile::tempdir().unwrap();
    let mut cases: Vec<(String, Vec<&str>)> = vec![
        (write(dir.path(), "empty.json", "{}"), vec!["none of the keys of a threat model", "`threatmap` version key"]),
        (
            write(dir.path(), "bom.json", r#"{"bomFormat": "CycloneDX", "specVersion": "1.5", "components": [{"name": "x"}]}"#),
            vec!["CycloneDX bill of materials"],
        ),
        (write(dir.path(), "list.json", "[]"), vec!["not an object"]),
        (
            write(dir.path(), "td.json", r#"{"version": "2.3.0", "summary": {"title": "T"}, "detail": {"diagrams": []}}"#),
            vec!["Threat Dragon v2 model", "`threatmap import threat-dragon"],
        ),
        (
            write(dir.path(), "m.otm.json", r#"{"otmVersion": "0.2.0", "project": {"name": "p", "id": "p"}}"#),
            vec!["Open Threat Model", "`threatmap import otm"],
        ),
    ];
    if let Some(shared) = shared("compat/threat-dragon/v2-threat-model.json") {
        let c = shared.join("compat");
        for (f, needle) in [
            ("threat-dragon/v2-threat-model.json", "Threat Dragon v2"),
            ("threat-dragon/v1-demo-threat-model.json", "Threat Dragon v1"),
            ("otm/example-open-threat-model.json", "Open Threat Model"),
            ("tm-bom/hashicorp-vault-threat-model.json", "TM-BOM"),
            ("tmt/sample_core_kb.tm7", "`threatmap import tm7"),
        ] {
            cases.push((c.join(f).display().to_string(), vec![needle]));
        }
    }
    for (file, needles) in &cases {
        for cmd in
            [&["check", file, "--fail-on", "low"][..], &["validate", file], &["findings", file], &["export", file, "--format", "sarif"]]
        {
            let err = fails(cmd, needles);
            assert!(err.contains(file.as_str()), "the message names the file: {err}");
        }
        let out = dir.path().join("out.threatmap.json").display().to_string();
        fails(&["import", "pytm", file, "-o", &out], &["not pytm JSON"]);
        assert!(!std::path::Path::new(&out).exists(), "nothing is written for a refused file");
    }
    // The wrong importer names the right one.
    let td = &cases[3].0;
    let out = dir.path().join("td.threatmap.json").display().to_string();
    fails(&["import", "otm", td, "-o", &out], &["Threat Dragon v2 model, not an OTM file", "import threat-dragon"]);

    // An empty model is a model, but a gate on it checks nothing.
    for empty in [
        write(dir.path(), "empty.threatmap.json", r#"{"threatmap": 1, "name": "Nothing yet", "elements": []}"#),
        write(dir.path(), "empty-pytm.json", r#"{"name": "Nothing yet", "elements": [], "flows": [], "boundaries": []}"#),
        write(dir.path(), "empty.py", "from pytm import TM\ntm = TM(\"Nothing yet\")\ntm.process()\n"),
    ] {
        fails(&["check", &empty, "--fail-on", "low"], &["no elements", "nothing was checked", "--allow-empty"]);
        assert!(ok(&["check", &empty, "--fail-on", "low", "--allow-empty"]).contains("check passed"));
        ok(&["validate", &empty]);
    }
}

/// A pytm script is read directly, never run: every model command takes it, `import pytm`
/// converts it, and a construct that would need running is refused with its line and column.
#[test]
fn pytm_scripts_are_read_without_python() {
    let dir = tempfile::tempdir().unwrap();
    let script = write(
        dir.path(),
        "tm.py",
        "#!/usr/bin/env python3\nfrom pytm import TM, Actor, Server, Dataflow, Boundary\n\ntm = TM(\"Shop\")\n\
         internet = Boundary(\"Internet\")\nuser = Actor(\"User\", inBoundary=internet)\nweb = Server(\"Web\")\n\
         web.controls.sanitizesInput = False\nDataflow(user, web, \"Order\", protocol=\"HTTP\")\n\n\
         if __name__ == \"__main__\":\n    tm.process()\n",
    );
    let validated = ok(&["validate", &script]);
    assert!(validated.contains("2 elements, 1 dataflows, 1 boundaries"), "{validated}");
    let findings = ok(&["findings", &script]);
    assert!(findings.contains("Order"), "{findings}");
    let gate = run(&["check", &script, "--fail-on", "low"]);
    assert_eq!(gate.status.code(), Some(1), "the gate fails on the script's findings: {}", stdout(&gate));
    let out = dir.path().join("shop.threatmap.json").display().to_string();
    ok(&["import", "pytm", &script, "-o", &out]);
    assert!(ok(&["validate", &out]).contains("2 elements, 1 dataflows, 1 boundaries"));
    fails(&["import", "tm7", &script, "-o", &out], &["pytm model script", "import pytm"]);
    // SARIF points code scanning at the line that builds each element.
    let sarif: serde_json::Value = serde_json::from_str(&ok(&["export", &script, "--format", "sarif"])).unwrap();
    let text = std::fs::read_to_string(&script).unwrap();
    for r in sarif["runs"][0]["results"].as_array().unwrap() {
        let l = &r["locations"][0];
        let line = l["physicalLocation"]["region"]["startLine"].as_u64().unwrap() as usize;
        let name = l["logicalLocations"][0]["name"].as_str().unwrap_or("");
        let at = text.lines().nth(line - 1).unwrap();
        assert!(at.contains(&format!("\"{name}\"")), "{name}: line {line} is {at:?}");
    }

    let looped = write(dir.path(), "loop.py", "from pytm import TM, Server\ntm = TM(\"x\")\nfor n in [\"a\", \"b\"]:\n    Server(n)\n");
    for cmd in [&["validate", &looped][..], &["import", "pytm", &looped, "-o", &out]] {
        fails(cmd, &["loop.py:3:1", "`for` loop is not read", "without running it"]);
    }
}

/// pytm accepts several flows, nodes and data items of one name (its duplicate check is off by
/// default); real models do this. Each is imported with an id of its own, stable when other
/// flows come and go, and findings keep pytm's targets (the names).
#[test]
fn pytm_models_with_repeated_names_import_whole() {
    let dir = tempfile::tempdir().unwrap();
    let model = r#"{
      "name": "Cluster",
      "boundaries": [{"name": "Cluster"}],
      "data": [{"name": "Status"}, {"name": "Status", "isPII": true}],
      "elements": [
        {"__class__": "Process", "name": "kubelet", "inBoundary": "Cluster"},
        {"__class__": "Process", "name": "scheduler", "inBoundary": "Cluster"},
        {"__class__": "Server", "name": "kube-apiserver", "inBoundary": "Cluster"},
        {"__class__": "Server", "name": "webserver"},
        {"__class__": "Server", "name": "webserver"}
      ],
      "flows": [
        {"name": "HTTP watch for resources on kube-apiserver", "source": "kubelet", "sink": "kube-apiserver"},
        {"name": "HTTP watch for resources on kube-apiserver", "source": "scheduler", "sink": "kube-apiserver"},
        {"name": "retrieve webserver status", "source": "kubelet", "sink": "webserver", "data": ["Status"]},
        {"name": "retrieve webserver status", "source": "scheduler", "sink": "webserver"}
      ]
    }"#;
    let input = write(dir.path(), "cluster.json", model);
    let out = dir.path().join("cluster.threatmap.json");
    let o = run(&["import", "pytm", &input, "-o", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("5 elements, 4 dataflows, 1 boundaries, 2 data items"), "{}", stdout(&o));
    assert!(stderr(&o).contains("2 elements are named \"webserver\""), "{}", stderr(&o));
    let m: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let ids: Vec<&str> = m["elements"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap()).collect();
    let unique: std::collections::BTreeSet<&&str> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "every element has its own id: {ids:?}");
    for id in
        ["kubelet-to-kube-apiserver-http-watch", "scheduler-to-kube-apiserver-http-watch", "kubelet-to-webserver-retrieve-webserver-status"]
    {
        assert!(ids.iter().any(|i| i.starts_with(id)), "{id} in {ids:?}");
    }
    assert!(ids.contains(&"webserver") && ids.contains(&"webserver-2"), "{ids:?}");
    // Every flow gets its own findings, targeted by name as pytm does.
    let tsv = ok(&["findings", &input, "--format", "tsv"]);
    let on = |flow: &str| tsv.lines().filter(|l| l.contains(flow)).count();
    let watch = on("HTTP watch for resources on kube-apiserver");
    let single = ok(&[
        "findings",
        &write(
            dir.path(),
            "one.json",
            &model
                .replace(r#"{"name": "HTTP watch for resources on kube-apiserver", "source": "scheduler", "sink": "kube-apiserver"},"#, ""),
        ),
        "--format",
        "tsv",
    ]);
    let one = single.lines().filter(|l| l.contains("HTTP watch for resources on kube-apiserver")).count();
    assert!(one > 0 && watch == 2 * one, "both flows of the name have findings: {watch} vs {one}");
    assert_eq!(ok(&["findings", out.to_str().unwrap(), "--format", "tsv"]), tsv, "the import finds what the pytm JSON finds");
}

/// Teams with their own pytm threat library set controls and attributes pytm does not declare
/// (pytm accepts any): they are kept, typed, rules read them, and they survive the native file
/// and pytm's JSON. A near miss of a known name is still called out.
#[test]
fn custom_controls_and_attributes_are_kept_and_rules_read_them() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(
        dir.path(),
        "custom.json",
        r#"{
          "name": "Custom",
          "elements": [
            {"__class__": "Server", "name": "Gateway", "zoneTier": 2, "team": "edge", "controls": {"isNetworkFlow": true, "sanitizesInpt": true}},
            {"__class__": "Server", "name": "Backend", "zoneTier": 3}
          ],
          "flows": [{"name": "Call", "source": "Gateway", "sink": "Backend", "controls": {"isPlaintext": true}}]
        }"#,
    );
    let library = write(
        dir.path(),
        "library.json",
        r#"[
          {"SID": "OWN01", "target": ["Dataflow"], "description": "Plaintext on the wire", "details": "", "severity": "High",
           "condition": "target.controls.isPlaintext is True", "mitigations": "", "example": "", "references": ""},
          {"SID": "OWN02", "target": ["Server"], "description": "Network-facing tier-2 server", "details": "", "severity": "Medium",
           "condition": "target.controls.isNetworkFlow is True and target.zoneTier == 2 and target.team == 'edge'",
           "mitigations": "", "example": "", "references": ""},
          {"SID": "OWN03", "target": ["Server"], "description": "A typo in a known control", "details": "", "severity": "Low",
           "condition": "target.controls.sanitizesInpt is True", "mitigations": "", "example": "", "references": ""}
        ]"#,
    );
    let o = run(&["findings", &input, "--rules", &library, "--format", "tsv"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let (out, err) = (stdout(&o), stderr(&o));
    assert!(out.lines().any(|l| l.contains("OWN01") && l.contains("call")), "{out}");
    assert!(out.lines().any(|l| l.contains("OWN02") && l.contains("gateway")), "{out}");
    assert!(!out.lines().any(|l| l.contains("OWN02") && l.contains("backend")), "{out}");
    assert!(err.contains("OWN03") && err.contains("did you mean `sanitizesInput`"), "a rule's typo is still reported: {err}");
    assert!(err.contains("control `sanitizesInpt` is not pytm's") && err.contains("did you mean `sanitizesInput`"), "{err}");

    // `--strict` refuses an import with anything to warn about, and writes nothing.
    let strict = dir.path().join("strict.threatmap.json");
    fails(&["import", "pytm", &input, "-o", strict.to_str().unwrap(), "--strict"], &["not imported (--strict)", "sanitizesInpt"]);
    assert!(!strict.exists());

    // Kept in the native model, typed, and read the same from there.
    let native = dir.path().join("custom.threatmap.json");
    ok(&["import", "pytm", &input, "-o", native.to_str().unwrap()]);
    let m: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&native).unwrap()).unwrap();
    let gateway = m["elements"].as_array().unwrap().iter().find(|e| e["id"] == "gateway").unwrap();
    assert_eq!(gateway["controls"]["custom"]["isNetworkFlow"], serde_json::json!(true), "{gateway}");
    assert_eq!(gateway["properties"]["zoneTier"], serde_json::json!(2), "{gateway}");
    assert_eq!(gateway["properties"]["team"], serde_json::json!("edge"), "{gateway}");
    ok(&["fmt", "--check", native.to_str().unwrap()]);
    assert_eq!(ok(&["findings", native.to_str().unwrap(), "--rules", &library, "--format", "tsv"]), out);

    // pytm's JSON carries the custom controls among pytm's, and reads back the same.
    let json = dir.path().join("out.json");
    ok(&["json", native.to_str().unwrap(), "-o", json.to_str().unwrap(), "--rules", &library]);
    let j: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let flow = j["flows"].as_array().unwrap().iter().find(|f| f["name"] == "Call").unwrap();
    assert_eq!(flow["controls"]["isPlaintext"], serde_json::json!(true), "{flow}");
    assert_eq!(ok(&["findings", json.to_str().unwrap(), "--rules", &library, "--format", "tsv"]), out);
}

/// Names with line breaks (TMT and Threat Dragon keep the breaks the user typed, for the
/// drawing) read as one line in finding titles and descriptions.
#[test]
fn names_drawn_on_two_lines_read_as_one_line_in_findings() {
    let dir = tempfile::tempdir().unwrap();
    let model = write(
        dir.path(),
        "m.threatmap.json",
        r#"{"threatmap": 1, "name": "Keys", "elements": [
            {"id": "key", "kind": "Datastore", "name": "Private \nEncryption Key"},
            {"id": "app", "kind": "Process", "name": "Signer"},
            {"id": "f", "kind": "Dataflow", "name": "Read\r\nkey", "source": "key", "sink": "app"}]}"#,
    );
    let findings: Vec<serde_json::Value> = serde_json::from_str(&ok(&["findings", &model, "--format", "json"])).unwrap();
    assert!(findings.len() > 3);
    for f in &findings {
        for k in ["title", "description"] {
            let t = f[k].as_str().unwrap();
            assert!(!t.contains('\n') && !t.contains('\r'), "{k}: {t:?}");
        }
    }
    assert!(findings.iter().any(|f| f["title"].as_str().unwrap().contains("Private Encryption Key")));
}

/// Each status change records who made it: `THREATMAP_USER`, else the login name, else (where
/// the environment names no user, as in services and containers) the account's name.
#[test]
fn triage_history_records_who() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.threatmap.json");
    std::fs::copy(example("web-app.threatmap.json"), &model).unwrap();
    let m = model.to_str().unwrap();
    let triage = |key: &str, env: &[(&str, &str)]| {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_threatmap"));
        c.args(["triage", m, key, "--status", "mitigated", "--note", "fixed"]);
        for v in ["THREATMAP_USER", "USER", "USERNAME", "LOGNAME"] {
            c.env_remove(v);
        }
        c.envs(env.iter().copied());
        let o = c.output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    };
    triage("GEN-INJ-01@web", &[("THREATMAP_USER", "ana"), ("USER", "root")]);
    triage("GEN-INJ-02@web", &[("USER", "bo")]);
    triage("GEN-INJ-10@web", &[]);
    let saved: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&model).unwrap()).unwrap();
    let by = |key: &str| saved["decisions"][key]["history"][0]["by"].as_str().unwrap_or("").to_owned();
    assert_eq!(by("GEN-INJ-01@web"), "ana");
    assert_eq!(by("GEN-INJ-02@web"), "bo");
    if cfg!(target_os = "linux") {
        assert!(!by("GEN-INJ-10@web").is_empty(), "the account's name when the environment names no user");
    }
}

/// Diagram names are the user's text: escaped in the drawings and the report, like element names.
#[test]
fn diagram_names_are_escaped_in_drawings_and_reports() {
    let dir = tempfile::tempdir().unwrap();
    let model = r#"{"threatmap": 1, "name": "m",
      "elements": [{"id": "a", "kind": "Actor", "name": "A"}, {"id": "b", "kind": "Server", "name": "B"},
                   {"id": "f", "kind": "Dataflow", "name": "F", "source": "a", "sink": "b"}],
      "diagrams": [{"name": "<script>alert(1)</script>", "layout": {"a": {"x": 0, "y": 0}, "b": {"x": 300, "y": 0}}},
                   {"name": "Tom & \"Jerry\" <img src=x onerror=alert(2)>", "layout": {"b": {"x": 0, "y": 0}}}]}"#;
    let path = write(dir.path(), "m.threatmap.json", model);
    let out = ok(&["validate", &path]);
    assert!(out.contains("2 diagrams"), "{out}");
    for args in [vec!["dfd", path.as_str()], vec!["report", path.as_str()], vec!["dfd", path.as_str(), "--diagram", "2"]] {
        let text = ok(&args);
        assert!(!text.contains("<script>alert") && !text.contains("<img src=x"), "{args:?}: a diagram name is markup");
    }
    let svg = ok(&["dfd", &path]);
    assert!(svg.contains("&lt;script&gt;alert(1)&lt;/script&gt;") && svg.contains("Tom &amp; "), "{svg}");
    // pytm has levels only: the export says the diagrams do not travel.
    let o = run(&["export", &path, "--format", "pytm", "-o", dir.path().join("tm.py").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("are not carried: pytm draws one diagram of the whole model"), "{}", stderr(&o));
}

/// Completion scripts for each shell name every subcommand; bash's completes a partial one.
#[test]
fn completions_cover_every_subcommand() {
    let subcommands = ["list", "describe", "validate", "findings", "check", "import", "report", "export", "completions", "man"];
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let script = ok(&["completions", shell]);
        for sub in subcommands {
            assert!(script.contains(sub), "{shell} completion lacks `{sub}`");
        }
    }
    fails(&["completions", "tcsh"], &["tcsh", "bash"]);
    if std::process::Command::new("bash").arg("--version").output().is_ok() {
        let script = ok(&["completions", "bash"]);
        let dir = tempfile::tempdir().unwrap();
        let file = write(dir.path(), "threatmap.bash", &script);
        let probe = format!(
            "source '{file}'; COMP_WORDS=(threatmap che); COMP_CWORD=1; _threatmap threatmap che threatmap; echo \"${{COMPREPLY[@]}}\""
        );
        let o = std::process::Command::new("bash").arg("-c").arg(probe).output().unwrap();
        assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "check", "{}", String::from_utf8_lossy(&o.stderr));
    }
}

/// `man` writes one page per subcommand, each a roff page naming its options.
#[test]
fn man_pages_for_the_command_and_each_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("man1");
    let listed = ok(&["man", "--output", &out_dir.display().to_string()]);
    assert!(listed.lines().count() >= 20, "{listed}");
    let top = std::fs::read_to_string(out_dir.join("threatmap.1")).unwrap();
    assert!(top.starts_with(".ie") || top.contains(".TH threatmap 1"), "{}", &top[..top.len().min(300)]);
    let check = std::fs::read_to_string(out_dir.join("threatmap-check.1")).unwrap();
    assert!(check.contains(".TH threatmap-check 1") && check.contains("fail\\-on") && check.contains("allow\\-empty"), "{check}");
    for line in listed.lines() {
        assert!(std::path::Path::new(line).exists(), "{line} listed but not written");
    }
}

/// `--version` names the version, and the commit when built from a checkout.
#[test]
fn version_names_the_commit() {
    let v = ok(&["--version"]);
    assert!(v.starts_with(&format!("threatmap {}", env!("CARGO_PKG_VERSION"))), "{v}");
    let git = std::process::Command::new("git").arg("-C").arg(root()).args(["log", "-1", "--format=%h", "--abbrev=10"]).output();
    if let Some(g) = git.ok().filter(|g| g.status.success()) {
        let head = String::from_utf8_lossy(&g.stdout).trim().to_owned();
        // The binary may be a commit behind while a commit is being made; a hex id is there.
        let inside = v.split_once('(').map(|(_, r)| r).unwrap_or_default();
        assert!(inside.len() >= 10 && inside[..10].chars().all(|c| c.is_ascii_hexdigit()), "{v} (HEAD is {head})");
    }
}

/// Colour: never unless asked or on a terminal; `--color always` colours even through a pipe,
/// `--color never` never does.
#[test]
fn colour_follows_the_color_option() {
    let plain = run(&["check", "--bogus"]);
    assert!(!stderr(&plain).contains('\u{1b}'), "{}", stderr(&plain));
    let coloured = run(&["check", "--color", "always", "--bogus"]);
    assert!(stderr(&coloured).contains("\u{1b}["), "{}", stderr(&coloured));
    let never = run(&["check", "--color=never", "--bogus"]);
    assert!(!stderr(&never).contains('\u{1b}'));
    assert_eq!(coloured.status.code(), Some(2));
}

/// The Linux desktop integration the .deb installs: a valid desktop entry that opens the types
/// the MIME file defines, the icon it names, and every packaged file present.
#[test]
fn desktop_entry_mime_types_and_package_assets_agree() {
    let linux = root().join("assets/linux");
    let entry = std::fs::read_to_string(linux.join("threatmap.desktop")).unwrap();
    let key = |k: &str| {
        entry.lines().find_map(|l| l.strip_prefix(&format!("{k}="))).unwrap_or_else(|| panic!("no {k}= in the desktop entry")).to_owned()
    };
    assert_eq!(key("Exec"), "threatmap %f");
    assert_eq!(key("Icon"), "threatmap");
    assert!(root().join("assets/icons/threatmap.svg").exists());
    let mime = std::fs::read_to_string(linux.join("threatmap.xml")).unwrap();
    let ours: Vec<String> = mime.split("<mime-type type=\"").skip(1).map(|s| s.split('"').next().unwrap().to_owned()).collect();
    assert_eq!(ours, ["application/x-threatmap+json", "application/x-microsoft-tm7"]);
    let types = key("MimeType");
    for t in &ours {
        assert!(types.split(';').any(|x| x == t), "the desktop entry does not open {t}");
    }

    // Every packaged file outside target/ exists (target/ holds what the build writes).
    let manifest = std::fs::read_to_string(root().join("crates/app/Cargo.toml")).unwrap();
    let sources: Vec<&str> =
        manifest.lines().filter_map(|l| l.trim().strip_prefix("[\"../../")).map(|l| l.split('"').next().unwrap()).collect();
    assert!(sources.len() >= 15, "{sources:?}");
    for src in sources.iter().filter(|s| !s.starts_with("target/")) {
        if let Some((dir, pattern)) = src.rsplit_once("/*") {
            let n = std::fs::read_dir(root().join(dir))
                .unwrap()
                .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().ends_with(pattern))
                .count();
            assert!(n > 0, "nothing matches {src}");
        } else {
            assert!(root().join(src).exists(), "{src} is packaged but missing");
        }
    }

    let tools = ["desktop-file-validate", "update-mime-database"];
    if tools.iter().any(|t| std::process::Command::new(t).arg("--help").output().is_err()) {
        assert!(std::env::var_os("THREATMAP_REQUIRE_DESKTOP_TOOLS").is_none(), "{tools:?} required but missing");
        eprintln!("SKIPPED: {tools:?} not installed (desktop-file-utils, shared-mime-info)");
        return;
    }
    let o = std::process::Command::new("desktop-file-validate").arg(linux.join("threatmap.desktop")).output().unwrap();
    assert!(o.status.success() && o.stdout.is_empty(), "{}{}", stdout(&o), stderr(&o));
    // shared-mime-info reads the file and maps the globs to our types.
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("packages")).unwrap();
    std::fs::copy(linux.join("threatmap.xml"), dir.path().join("packages/threatmap.xml")).unwrap();
    let o = std::process::Command::new("update-mime-database").arg(dir.path()).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let globs = std::fs::read_to_string(dir.path().join("globs2")).unwrap();
    assert!(globs.contains("80:application/x-threatmap+json:*.threatmap.json"), "{globs}");
    assert!(globs.contains(":application/x-microsoft-tm7:*.tm7"), "{globs}");
}

/// A model's tracker section is checked like the rest of it, and the ticket commands say what
/// is missing before sending anything.
#[test]
fn tracker_settings_are_validated_and_ticket_commands_explain_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let mut m: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(example("web-app.threatmap.json")).unwrap()).unwrap();
    let plain = write(dir.path(), "plain.threatmap.json", &serde_json::to_string_pretty(&m).unwrap());
    fails(&["tickets", "push", &plain], &["names no tracker", "tickets setup"]);
    fails(&["tickets", "pull", &plain], &["names no tracker"]);
    m["tracker"] =
        serde_json::json!({"kind": "github", "url": "ftp://example.com", "project": "just-a-name", "priorities": {"urgent": "P1"}});
    let bad = write(dir.path(), "bad.threatmap.json", &serde_json::to_string_pretty(&m).unwrap());
    fails(&["validate", &bad], &["tracker.url `ftp://example.com`", "GitHub needs `owner/repository`", "`urgent` is not a severity"]);
    m["tracker"] = serde_json::json!({"kind": "trac", "url": "https://example.com", "project": "x"});
    let unknown = write(dir.path(), "unknown.threatmap.json", &serde_json::to_string_pretty(&m).unwrap());
    fails(&["validate", &unknown], &["trac"]);
    // Setup writes the section; the credential is read from the environment, never written.
    let ok_path = write(dir.path(), "ok.threatmap.json", &std::fs::read_to_string(example("web-app.threatmap.json")).unwrap());
    let out = ok(&["tickets", "setup", &ok_path, "--kind", "gitlab", "--url", "https://gitlab.example.com/", "--project", "sec/shop"]);
    assert!(out.contains("GITLAB_TOKEN"), "{out}");
    let written: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&ok_path).unwrap()).unwrap();
    assert_eq!(written["tracker"], serde_json::json!({"kind": "gitlab", "url": "https://gitlab.example.com", "project": "sec/shop"}));
    ok(&["validate", &ok_path]);
    // A dry run needs no credential and sends nothing (the host does not exist).
    let dry = ok(&["tickets", "push", &ok_path, "--severity", "very-high", "--dry-run"]);
    assert!(dry.contains("create: POST https://gitlab.example.com/api/v4/projects/sec%2Fshop/issues"), "{dry}");
    let o = run(&["tickets", "push", &ok_path]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("GITLAB_TOKEN"), "{}", stderr(&o));
}

/// `--tag` narrows findings, exports, reports and checks to the findings tagged so.
#[test]
fn tags_filter_findings_exports_reports_and_checks() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "m.threatmap.json", &std::fs::read_to_string(example("web-app.threatmap.json")).unwrap());
    for key in ["GEN-INJ-01@web", "GEN-AUTH-04@db"] {
        ok(&["triage", &p, key, "--status", "in-progress", "--tag", "pci"]);
    }
    ok(&["triage", &p, "GEN-INJ-02@web", "--status", "open", "--tag", "gdpr"]);
    let tsv = ok(&["findings", &p, "--format", "tsv", "--tag", "PCI"]);
    let keys: Vec<&str> = tsv.lines().skip(1).filter_map(|l| l.split('\t').next()).collect();
    assert_eq!(keys, ["GEN-INJ-01@web", "GEN-AUTH-04@db"], "{tsv}");
    let both = ok(&["findings", &p, "--format", "tsv", "--tag", "pci,gdpr"]);
    assert_eq!(both.lines().count(), 4, "{both}");
    let csv = ok(&["export", &p, "--format", "csv", "--tag", "gdpr"]);
    assert!(csv.contains("GEN-INJ-02@web") && !csv.contains("GEN-INJ-01@web") && !csv.contains("GEN-AUTH-04@db"), "{csv}");
    let report = ok(&["report", &p, "--tag", "pci"]);
    assert!(report.contains("GEN-AUTH-04"), "the report keeps the tagged findings");
    assert!(
        !report.contains("GEN-INJ-02"),
        "the report keeps only the tagged findings: {}",
        report.match_indices("GEN-INJ-02").map(|(i, _)| &report[i.saturating_sub(200)..i + 20]).collect::<Vec<_>>().join("\n---\n")
    );
    let o = run(&["check", &p, "--fail-on", "info", "--tag", "pci"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("check failed: 2 open finding(s)"), "{}", stdout(&o));
    ok(&["check", &p, "--fail-on", "info", "--tag", "no-such-tag"]);
}

/// `portfolio` sums up every model of a git repository: findings, decisions, overdue dates,
/// owners, tags, tickets, remediation failures, orphans, last change (from git) and staleness;
/// a model that cannot be read is listed with why. `stale` follows pytm's `--stale_days`.
#[test]
fn portfolio_sums_up_a_repository_of_models_and_stale_follows_pytm() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let git = |args: &[&str], date: &str, who: &str| {
        let o = std::process::Command::new("git")
            .arg("-C")
            .arg(d)
            .args(args)
            .env("GIT_AUTHOR_DATE", date)
            .env("GIT_COMMITTER_DATE", date)
            .env("GIT_AUTHOR_NAME", who)
            .env("GIT_AUTHOR_EMAIL", "dev@example.com")
            .env("GIT_COMMITTER_NAME", who)
            .env("GIT_COMMITTER_EMAIL", "dev@example.com")
            .output()
            .unwrap();
        assert!(o.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&o.stderr));
    };
    git(&["init", "-q"], "2026-01-01T00:00:00Z", "Ana");
    std::fs::create_dir_all(d.join("shop/src")).unwrap();
    std::fs::create_dir_all(d.join("board")).unwrap();
    std::fs::create_dir_all(d.join("broken")).unwrap();
    let mut m: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(example("web-app.threatmap.json")).unwrap()).unwrap();
    for e in m["elements"].as_array_mut().unwrap() {
        if e["id"] == "web" {
            e["sourceFiles"] = serde_json::json!(["src/server.py"]);
        }
    }
    m["decisions"] = serde_json::json!({
        "GEN-INJ-01@web": {"status": "in-progress", "owner": "ana", "due": "2020-01-01", "tags": ["pci"],
                           "tracked": {"id": "8", "state": "New", "key": "shop/GEN-INJ-01@web"}},
        "GEN-INJ-02@web": {"status": "fix-reported", "tags": ["pci"],
                           "tracked": {"id": "7", "state": "Closed", "done": true, "key": "shop/GEN-INJ-02@web"}},
        "GONE-01@web": {"status": "open"}
    });
    let shop = d.join("shop/shop.threatmap.json");
    std::fs::write(&shop, serde_json::to_string_pretty(&m).unwrap()).unwrap();
    git(&["add", "shop/shop.threatmap.json"], "2026-01-01T00:00:00Z", "Ana");
    git(&["commit", "-qm", "shop model"], "2026-01-01T00:00:00Z", "Ana");
    std::fs::write(d.join("shop/src/server.py"), "print('hello')\n").unwrap();
    git(&["add", "shop/src/server.py"], "2026-03-01T00:00:00Z", "Ana");
    git(&["commit", "-qm", "server"], "2026-03-01T00:00:00Z", "Ana");
    std::fs::copy(example("iot-board.threatmap.json"), d.join("board/board.threatmap.json")).unwrap();
    git(&["add", "board"], "2026-02-01T00:00:00Z", "Ben");
    git(&["commit", "-qm", "board model"], "2026-02-01T00:00:00Z", "Ben");
    std::fs::write(d.join("broken/broken.threatmap.json"), "{\"threatmap\": 1, \"name\": \"x\",\n  \"elements\": [}\n").unwrap();

    let p = d.display().to_string();
    let json: serde_json::Value = serde_json::from_str(&ok(&["portfolio", &p, "--format", "json"])).unwrap();
    let apps = json["applications"].as_array().unwrap();
    let paths: Vec<&str> = apps.iter().map(|a| a["path"].as_str().unwrap()).collect();
    assert_eq!(paths, ["board/board.threatmap.json", "broken/broken.threatmap.json", "shop/shop.threatmap.json"]);
    let (board, broken, shop_app) = (&apps[0], &apps[1], &apps[2]);
    assert_eq!((board["changed"].as_str(), board["changedBy"].as_str()), (Some("2026-02-01T00:00:00Z"), Some("Ben")));
    assert_eq!(board["open"], ok(&["findings", &example("iot-board.threatmap.json"), "--format", "tsv"]).lines().count() - 1);
    assert!(broken["error"].as_str().unwrap().contains("broken.threatmap.json"), "{broken}");
    assert_eq!((shop_app["changed"].as_str(), shop_app["changedBy"].as_str()), (Some("2026-01-01T00:00:00Z"), Some("Ana")));
    assert_eq!(shop_app["overdue"], serde_json::json!([{"finding": "GEN-INJ-01@web", "due": "2020-01-01", "owner": "ana"}]));
    assert_eq!(shop_app["owners"], serde_json::json!({"ana": 1}));
    assert_eq!(shop_app["tags"], serde_json::json!({"pci": 2}));
    assert_eq!(shop_app["tickets"], serde_json::json!({"Closed": 1, "New": 1}));
    assert_eq!(shop_app["remediationFailures"], serde_json::json!(["GEN-INJ-02@web"]));
    assert_eq!(shop_app["orphanedDecisions"], 1);
    assert_eq!((shop_app["statuses"]["in-progress"].as_u64(), shop_app["statuses"]["fix-reported"].as_u64()), (Some(1), Some(1)));
    assert_eq!(shop_app["open"], 63, "fix reported is still open until verified");
    assert_eq!(shop_app["stale"], serde_json::json!([{"file": "src/server.py", "ageDays": 59}]));
    let json60: serde_json::Value = serde_json::from_str(&ok(&["portfolio", &p, "--format", "json", "--stale-days", "60"])).unwrap();
    assert_eq!(json60["applications"][2]["stale"], serde_json::json!([]));
    // `--tag` sums up only the findings tagged so, in every model.
    let pci: serde_json::Value = serde_json::from_str(&ok(&["portfolio", &p, "--format", "json", "--tag", "pci"])).unwrap();
    assert_eq!(pci["applications"][2]["open"], 2, "{}", pci["applications"][2]);
    assert_eq!(pci["applications"][2]["orphanedDecisions"], 0, "the untagged orphan is not counted");
    assert_eq!(pci["applications"][0]["open"], 0);
    // The same figures as CSV and HTML.
    let csv = ok(&["portfolio", &p, "--format", "csv"]);
    assert_eq!(csv.lines().count(), 4, "{csv}");
    let html = ok(&["portfolio", &p, "--title", "Payments <team>"]);
    assert!(
        html.contains("Payments &lt;team&gt;")
            && html.contains("1 remediation failure(s)")
            && html.contains("src/server.py: 59 day(s) newer")
    );
    assert!(!html.contains("<script"), "no script");
    assert_eq!(ok(&["portfolio", &p]), ok(&["portfolio", &p]), "deterministic");

    // pytm's --stale_days, on file times.
    let touch = |file: &std::path::Path, when: &str| {
        assert!(std::process::Command::new("touch").arg("-d").arg(when).arg(file).status().unwrap().success());
    };
    touch(&shop, "2026-01-01 00:00:00");
    touch(&d.join("shop/src/server.py"), "2026-03-01 12:00:00");
    let out = ok(&["stale", &shop.display().to_string(), "--days", "30"]);
    assert!(out.starts_with("Checking for code 30 days older than this model.\n"), "{out}");
    assert!(out.contains(&format!("This model is 59 days older than {}.", d.join("shop/src/server.py").display())), "{out}");
    let o = run(&["stale", &shop.display().to_string(), "--days", "30", "--check"]);
    assert_eq!(o.status.code(), Some(1));
    touch(&d.join("shop/src/server.py"), "2025-11-01 00:00:00");
    let out = ok(&["stale", &shop.display().to_string(), "--days", "30", "--check"]);
    assert!(out.contains(&format!("is only 61 days newer than source code file {}", d.join("shop/src/server.py").display())), "{out}");
    fails(&["portfolio", &d.join("board").join("nothing").display().to_string()], &["not a folder"]);
}

/// Attachments: copied beside the model, listed with their hash, checked, embedded (images) or
/// linked in the report, and refused when their names would leave the folder.
#[test]
fn attachments_are_kept_beside_the_model_checked_and_shown_in_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let p = write(d, "shop.threatmap.json", &std::fs::read_to_string(example("web-app.threatmap.json")).unwrap());
    std::fs::write(d.join("whiteboard.png"), include_bytes!("../assets/icons/threatmap-16.png")).unwrap();
    std::fs::write(d.join("notes.pdf"), b"%PDF-1.4 design notes").unwrap();
    std::fs::write(d.join("diagram.svg"), "<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'><script>alert(2)</script></svg>")
        .unwrap();
    let out = ok(&[
        "attach",
        &p,
        &d.join("whiteboard.png").display().to_string(),
        &d.join("notes.pdf").display().to_string(),
        "--title",
        "Design review",
    ]);
    assert!(out.contains("attached whiteboard.png (image/png") && out.contains("attached notes.pdf"), "{out}");
    ok(&["attach", &p, &d.join("diagram.svg").display().to_string()]);
    assert!(d.join("shop.artefacts/whiteboard.png").exists() && d.join("shop.artefacts/notes.pdf").exists());
    // The same file again is the same attachment.
    assert!(ok(&["attach", &p, &d.join("notes.pdf").display().to_string()]).contains("already attached as notes.pdf"));
    let m: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    let list = m["artefacts"].as_array().unwrap();
    assert_eq!(list.len(), 3);
    assert_eq!(list[1]["name"], "notes.pdf");
    assert_eq!(list[1]["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(list[1]["title"], "Design review");
    let listing = ok(&["attachments", &p]);
    assert_eq!(listing.matches("\tok\n").count(), 3, "{listing}");
    ok(&["validate", &p]);

    // The report embeds the images (the SVG as an image: its script cannot run) and links the PDF.
    let report = ok(&["report", &p]);
    assert!(report.contains("<img src=\"data:image/png;base64,"), "the PNG is embedded");
    assert!(report.contains("<img src=\"data:image/svg+xml;base64,"), "the SVG is an image only");
    assert!(!report.contains("alert(2)") && !report.contains("onload"), "the SVG's text is not in the page");
    assert!(report.contains("<a href=\"shop.artefacts/notes.pdf\">Design review (notes.pdf)</a>"), "the PDF is linked");

    // A changed file is noticed.
    std::fs::write(d.join("shop.artefacts/notes.pdf"), b"tampered").unwrap();
    let o = run(&["attachments", &p]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("notes.pdf") && stdout(&o).contains("has changed since it was attached"), "{}", stdout(&o));
    assert!(ok(&["validate", &p]).contains("has changed since it was attached"));
    assert!(ok(&["report", &p]).contains("not included: artefact `notes.pdf` has changed"));
    // A file in the folder that the model does not list is pointed out.
    std::fs::write(d.join("shop.artefacts/stray.txt"), b"left behind").unwrap();
    assert!(stdout(&run(&["attachments", &p])).contains("not listed in the model: stray.txt"));
    assert!(ok(&["validate", &p]).contains("does not list: stray.txt"));
    std::fs::remove_file(d.join("shop.artefacts/stray.txt")).unwrap();
    // Detach removes the entry and the file.
    ok(&["detach", &p, "notes.pdf"]);
    assert!(!d.join("shop.artefacts/notes.pdf").exists());
    fails(&["detach", &p, "nothing.pdf"], &["no attachment `nothing.pdf`", "whiteboard.png"]);

    // Names that would leave the folder are refused by validate.
    let mut m: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    m["artefacts"][0]["name"] = serde_json::json!("../../etc/passwd");
    let evil = write(d, "evil.threatmap.json", &serde_json::to_string_pretty(&m).unwrap());
    fails(&["validate", &evil], &["artefact name `../../etc/passwd`"]);
    let o = run(&["report", &evil]);
    assert_eq!(o.status.code(), Some(2), "an invalid model is refused: {}", stderr(&o));
}

/// `findings --format json` and `export --format json` are written as they go; the bytes are
/// those of the whole document printed at once (what they were before streaming).
#[test]
fn streamed_json_findings_are_the_bytes_of_the_whole_document() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["web-app.threatmap.json", "iot-board.threatmap.json", "clinic-portal.threatmap.json"] {
        let streamed = ok(&["findings", &example(name), "--format", "json"]);
        let whole: serde_json::Value = serde_json::from_str(&streamed).unwrap();
        assert!(whole.as_array().is_some_and(|a| a.len() > 50), "{name}");
        assert_eq!(streamed, serde_json::to_string_pretty(&whole).unwrap() + "\n", "{name}");
        let out = dir.path().join(format!("{name}.out.json"));
        ok(&["export", &example(name), "--format", "json", "-o", &out.display().to_string()]);
        assert_eq!(std::fs::read_to_string(&out).unwrap(), streamed, "{name}: export and findings agree");
    }
    // An empty model gives an empty array, as before.
    let empty = write(dir.path(), "empty.threatmap.json", "{\"threatmap\": 1, \"name\": \"e\"}");
    assert_eq!(ok(&["findings", &empty, "--format", "json"]), "[]\n");
}
