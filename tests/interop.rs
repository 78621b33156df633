//! Interoperability end to end: hand-off exports (SARIF, DefectDojo, CSV, JSON, OTM), imports
//! (Microsoft TMT `.tm7`, Threat Dragon, OTM), model diff, and hostile import files.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use std::collections::BTreeSet;

use serde_json::Value;

mod common;
use common::*;

/// A copy of the web-app example with two decisions: one mitigated finding and one accepted.
fn triaged_example(dir: &std::path::Path) -> String {
    let m = dir.join("web-app.threatmap.json");
    std::fs::copy(example("web-app.threatmap.json"), &m).unwrap();
    let m = m.display().to_string();
    ok(&[
        "triage",
        &m,
        "GEN-INJ-01@web",
        "--status",
        "mitigated",
        "--note",
        "ORM only, no raw SQL",
        "--ticket",
        "SEC-12",
        "--due",
        "2026-12-31",
    ]);
    ok(&["triage", &m, "GEN-ACT-03@user", "--status", "accepted-risk", "--note", "audit log covers it", "--owner", "alice"]);
    m
}

/// Keys a SARIF 2.1.0 object may have (from the 2.1.0 schema; its objects allow no others).
fn allowed(object: &str) -> &'static [&'static str] {
    match object {
        "log" => &["$schema", "version", "runs", "inlineExternalProperties", "properties"],
        "run" => &[
            "tool",
            "invocations",
            "conversion",
            "language",
            "versionControlProvenance",
            "originalUriBaseIds",
            "artifacts",
            "logicalLocations",
            "graphs",
            "results",
            "automationDetails",
            "runAggregates",
            "baselineGuid",
            "redactionTokens",
            "defaultEncoding",
            "defaultSourceLanguage",
            "newlineSequences",
            "columnKind",
            "externalPropertyFileReferences",
            "threadFlowLocations",
            "taxonomies",
            "addresses",
            "translations",
            "policies",
            "webRequests",
            "webResponses",
            "specialLocations",
            "properties",
        ],
        "driver" => &[
            "guid",
            "name",
            "organization",
            "product",
            "productSuite",
            "shortDescription",
            "fullDescription",
            "fullName",
            "version",
            "semanticVersion",
            "dottedQuadFileVersion",
            "releaseDateUtc",
            "downloadUri",
            "informationUri",
            "globalMessageStrings",
            "notifications",
            "rules",
            "taxa",
            "locations",
            "language",
            "contents",
            "isComprehensive",
            "localizedDataSemanticVersion",
            "minimumRequiredLocalizedDataSemanticVersion",
            "associatedComponent",
            "translationMetadata",
            "supportedTaxonomies",
            "properties",
        ],
        "rule" => &[
            "id",
            "deprecatedIds",
            "guid",
            "deprecatedGuids",
            "name",
            "deprecatedNames",
            "shortDescription",
            "fullDescription",
            "messageStrings",
            "defaultConfiguration",
            "helpUri",
            "help",
            "relationships",
            "properties",
        ],
        "result" => &[
            "ruleId",
            "ruleIndex",
            "rule",
            "kind",
            "level",
            "message",
            "analysisTarget",
            "locations",
            "guid",
            "correlationGuid",
            "occurrenceCount",
            "partialFingerprints",
            "fingerprints",
            "stacks",
            "codeFlows",
            "graphs",
            "graphTraversals",
            "relatedLocations",
            "suppressions",
            "baselineState",
            "rank",
            "attachments",
            "hostedViewerUri",
            "workItemUris",
            "provenance",
            "fixes",
            "taxa",
            "webRequest",
            "webResponse",
            "properties",
        ],
        "location" => &["id", "physicalLocation", "logicalLocations", "message", "annotations", "relationships", "properties"],
        "logicalLocation" => &["name", "index", "fullyQualifiedName", "decoratedName", "parentIndex", "kind", "properties"],
        "suppression" => &["guid", "kind", "status", "justification", "location", "properties"],
        _ => &[],
    }
}

fn only_allowed(v: &Value, object: &str) {
    let obj = v.as_object().unwrap_or_else(|| panic!("{object} is not an object: {v}"));
    for k in obj.keys() {
        assert!(allowed(object).contains(&k.as_str()), "`{k}` is not a property of a SARIF {object}");
    }
}

fn text_message(v: &Value) {
    assert!(v["text"].as_str().is_some_and(|t| !t.is_empty()), "message without text: {v}");
}

#[test]
fn sarif_export_has_the_2_1_0_structure_and_suppresses_decided_findings() {
    let dir = tempfile::tempdir().unwrap();
    let m = triaged_example(dir.path());
    let model_text = std::fs::read_to_string(&m).unwrap();
    let model_lines: Vec<&str> = model_text.lines().collect();
    let tsv = ok(&["findings", &m, "--format", "tsv"]);
    let findings = tsv.lines().count() - 1;
    let log: Value = serde_json::from_str(&ok(&["export", &m, "--format", "sarif"])).unwrap();

    only_allowed(&log, "log");
    assert_eq!(log["version"], "2.1.0");
    let runs = log["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    only_allowed(run, "run");
    let driver = &run["tool"]["driver"];
    only_allowed(driver, "driver");
    assert_eq!(driver["name"], "Threatmap");
    let rules = driver["rules"].as_array().unwrap();
    let mut ids = BTreeSet::new();
    for r in rules {
        only_allowed(r, "rule");
        assert!(ids.insert(r["id"].as_str().unwrap().to_owned()), "duplicate rule {}", r["id"]);
        text_message(&r["shortDescription"]);
        assert!(["none", "note", "warning", "error"].contains(&r["defaultConfiguration"]["level"].as_str().unwrap()));
        let score: f64 = r["properties"]["security-severity"].as_str().unwrap().parse().unwrap();
        assert!((0.0..=10.0).contains(&score), "GitHub's security-severity is a score from 0 to 10");
    }
    let sql_rule = rules.iter().find(|r| r["id"] == "GEN-INJ-01").unwrap();
    assert_eq!(sql_rule["properties"]["security-severity"], "9.5", "Very High is critical for code scanning");

    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), findings, "one result per finding");
    let mut keys = BTreeSet::new();
    let mut suppressed = Vec::new();
    for r in results {
        only_allowed(r, "result");
        text_message(&r["message"]);
        assert!(["none", "note", "warning", "error"].contains(&r["level"].as_str().unwrap()));
        let index = r["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[index]["id"], r["ruleId"], "ruleIndex points at the rule");
        let key = r["partialFingerprints"]["threatmapFindingKey/v1"].as_str().unwrap();
        assert!(keys.insert(key.to_owned()), "fingerprints are unique");
        assert_eq!(
            key,
            format!(
                "{}@{}",
                r["ruleId"].as_str().unwrap(),
                r["locations"][0]["logicalLocations"][0]["fullyQualifiedName"].as_str().unwrap()
            )
        );
        for l in r["locations"].as_array().unwrap() {
            only_allowed(l, "location");
            assert!(l["physicalLocation"]["artifactLocation"]["uri"].as_str().unwrap().ends_with("web-app.threatmap.json"));
            // The region is the element's line in the model file (code scanning needs one).
            let id = l["logicalLocations"][0]["fullyQualifiedName"].as_str().unwrap();
            let line = l["physicalLocation"]["region"]["startLine"].as_u64().unwrap() as usize;
            assert_eq!(model_lines.get(line - 1).map(|t| t.trim()), Some(format!("\"id\": \"{id}\",").as_str()), "{id}: line {line}");
            for ll in l["logicalLocations"].as_array().unwrap() {
                only_allowed(ll, "logicalLocation");
            }
        }
        if let Some(s) = r["suppressions"].as_array() {
            for x in s {
                only_allowed(x, "suppression");
                assert!(["inSource", "external"].contains(&x["kind"].as_str().unwrap()));
                assert!(["accepted", "underReview", "rejected"].contains(&x["status"].as_str().unwrap()));
            }
            suppressed.push((key.to_owned(), s[0]["justification"].as_str().unwrap().to_owned()));
        }
    }
    assert_eq!(
        suppressed,
        vec![
            ("GEN-ACT-03@user".to_owned(), "Accepted risk: audit log covers it".to_owned()),
            ("GEN-INJ-01@web".to_owned(), "Mitigated: ORM only, no raw SQL".to_owned()),
        ]
    );
    let sql = results.iter().find(|r| r["ruleId"] == "GEN-INJ-01").unwrap();
    assert_eq!(sql["level"], "error", "Very High maps to error");
    // Same model, same bytes.
    assert_eq!(ok(&["export", &m, "--format", "sarif"]), ok(&["export", &m, "--format", "sarif"]));
}

/// The keys DefectDojo's Generic Findings Import accepts in a finding (it rejects others).
const DEFECTDOJO_KEYS: &[&str] = &[
    "title",
    "severity",
    "description",
    "date",
    "cwe",
    "cve",
    "epss_score",
    "epss_percentile",
    "cvssv3",
    "cvssv3_score",
    "mitigation",
    "impact",
    "steps_to_reproduce",
    "severity_justification",
    "references",
    "active",
    "verified",
    "false_p",
    "out_of_scope",
    "risk_accepted",
    "is_mitigated",
    "thread_id",
    "mitigated",
    "numerical_severity",
    "param",
    "payload",
    "line",
    "file_path",
    "component_name",
    "component_version",
    "static_finding",
    "dynamic_finding",
    "scanner_confidence",
    "unique_id_from_tool",
    "vuln_id_from_tool",
    "sast_source_object",
    "sast_sink_object",
    "sast_source_line",
    "sast_source_file_path",
    "nb_occurences",
    "publish_date",
    "service",
    "planned_remediation_date",
    "planned_remediation_version",
    "effort_for_fixing",
    "tags",
    "endpoints",
    "files",
    "vulnerability_ids",
];

#[test]
fn defectdojo_export_uses_only_accepted_keys_and_maps_statuses() {
    let dir = tempfile::tempdir().unwrap();
    let m = triaged_example(dir.path());
    let doc: Value = serde_json::from_str(&ok(&["export", &m, "--format", "defectdojo"])).unwrap();
    let findings = doc["findings"].as_array().unwrap();
    let tsv = ok(&["findings", &m, "--format", "tsv"]);
    assert_eq!(findings.len(), tsv.lines().count() - 1);
    let mut ids = BTreeSet::new();
    for f in findings {
        for k in f.as_object().unwrap().keys() {
            assert!(DEFECTDOJO_KEYS.contains(&k.as_str()), "DefectDojo rejects `{k}`");
        }
        for required in ["title", "severity", "description"] {
            assert!(f[required].as_str().is_some_and(|s| !s.is_empty()), "{required} missing in {f}");
        }
        assert!(["Info", "Low", "Medium", "High", "Critical"].contains(&f["severity"].as_str().unwrap()));
        assert!(ids.insert(f["unique_id_from_tool"].as_str().unwrap().to_owned()));
        if let Some(cwe) = f.get("cwe") {
            assert!(cwe.as_u64().is_some(), "cwe is a number: {cwe}");
        }
    }
    let by_key = |k: &str| findings.iter().find(|f| f["unique_id_from_tool"] == k).unwrap();
    let sql = by_key("GEN-INJ-01@web");
    assert_eq!(sql["severity"], "Critical");
    assert_eq!(sql["cwe"], 89);
    assert_eq!((sql["active"].clone(), sql["is_mitigated"].clone()), (false.into(), true.into()));
    assert_eq!(sql["severity_justification"], "Mitigated: ORM only, no raw SQL");
    assert_eq!(sql["planned_remediation_date"], "2026-12-31");
    let accepted = by_key("GEN-ACT-03@user");
    assert_eq!((accepted["active"].clone(), accepted["risk_accepted"].clone()), (false.into(), true.into()));
    let open = findings.iter().find(|f| f["active"] == true).unwrap();
    assert_eq!((open["verified"].clone(), open["false_p"].clone()), (false.into(), false.into()));

    // Tags fit DefectDojo's rules (no spaces or commas, at most 255 characters), also for
    // decisions imported from TMT's free-text fields.
    let Some(shared) = shared("compat/tmt/simple_line_boundary.tm7") else { return };
    let tm7 = dir.path().join("slb.threatmap.json");
    ok(&["import", "tm7", shared.join("compat/tmt/simple_line_boundary.tm7").to_str().unwrap(), "-o", tm7.to_str().unwrap()]);
    let doc: Value = serde_json::from_str(&ok(&["export", tm7.to_str().unwrap(), "--format", "defectdojo"])).unwrap();
    let tags: Vec<&str> =
        doc["findings"].as_array().unwrap().iter().flat_map(|f| f["tags"].as_array().unwrap()).map(|t| t.as_str().unwrap()).collect();
    assert!(tags.len() > 24, "{} tags", tags.len());
    for t in tags {
        assert!(!t.is_empty() && t.chars().count() <= 255 && !t.contains([' ', ',', '\n', '\t']), "DefectDojo refuses the tag {t:?}");
    }
}

#[test]
fn csv_and_json_exports_carry_decisions() {
    let dir = tempfile::tempdir().unwrap();
    let m = triaged_example(dir.path());
    let csv = ok(&["export", &m, "--format", "csv"]);
    assert!(csv.starts_with("key,element_id,element,kind,threat_id,title,severity,status,owner,ticket,due,justification,mitigations\r\n"));
    let row = csv.lines().find(|l| l.starts_with("GEN-INJ-01@web,")).unwrap();
    assert!(row.contains(",Very High,mitigated,,SEC-12,2026-12-31,\"ORM only, no raw SQL\",\"Use parameterized queries"), "{row}");

    let out = dir.path().join("findings.json");
    ok(&["export", &m, "--format", "json", "-o", out.to_str().unwrap()]);
    let items: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let sql = items.iter().find(|i| i["key"] == "GEN-INJ-01@web").unwrap();
    assert_eq!(sql["status"], "mitigated");
    assert_eq!(sql["decision"]["ticket"], "SEC-12");
    assert!(!sql["why"].as_array().unwrap().is_empty() || sql["forced"] == true);
}

#[test]
fn csv_cells_cannot_run_as_formulas() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(example("web-app.threatmap.json"))
        .unwrap()
        .replace("\"name\": \"Web Server\"", "\"name\": \"=HYPERLINK(\\\"http://x\\\")\"");
    let m = write(dir.path(), "m.threatmap.json", &text);
    let csv = ok(&["export", &m, "--format", "csv"]);
    assert!(csv.contains("'=HYPERLINK"), "{csv}");
    assert!(!csv.lines().any(|l| l.split(',').any(|c| c.trim_start_matches('"').starts_with('='))), "{csv}");
}

fn tmt_status(state: &str) -> &'static str {
    match state {
        "AutoGenerated" | "NeedsMitigation" | "Migrated" => "open",
        "NeedsInvestigation" => "needs-investigation",
        "Mitigated" => "mitigated",
        "NotApplicable" => "not-applicable",
        other => panic!("state {other} has no mapping"),
    }
}

fn tmt_severity(priority: &str) -> &'static str {
    match priority {
        "Critical" => "Very High",
        "High" => "High",
        "Medium" => "Medium",
        "Low" => "Low",
        other => panic!("priority {other} has no mapping"),
    }
}

#[test]
fn tmt_files_import_and_their_own_templates_give_exactly_the_stored_threats() {
    let Some(shared) = shared("compat/tmt") else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut files: Vec<_> = std::fs::read_dir(shared.join("compat/tmt"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "tm7"))
        .collect();
    files.sort();
    assert!(files.len() >= 2, "{files:?}");
    for tm7 in files {
        let stem = tm7.file_stem().unwrap().to_string_lossy().into_owned();
        let out = dir.path().join(format!("{stem}.threatmap.json"));
        let said = ok(&["import", "tm7", tm7.to_str().unwrap(), "-o", out.to_str().unwrap()]);
        assert!(said.contains(&format!("{stem}.template.toml")), "{said}");
        let model: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
        assert_eq!(model["rulePacks"], serde_json::json!([format!("{stem}.template.toml")]));
        let pack = std::fs::read_to_string(dir.path().join(format!("{stem}.template.toml"))).unwrap();
        let folder = tm7.parent().unwrap().to_string_lossy().into_owned();
        assert!(!pack.contains(&folder), "the pack names the .tm7 without the converting machine's path");

        // Every stencil and line of every diagram is an element, placed where TMT drew it.
        let xml = std::fs::read_to_string(&tm7).unwrap();
        let drawn = xml.matches("<a:KeyValueOfguidanyType>").count();
        let elements = model["elements"].as_array().unwrap();
        assert_eq!(elements.len(), drawn, "{stem}: every stencil, flow and boundary");
        for e in elements {
            let id = e["id"].as_str().unwrap();
            assert!(xml.contains(id), "{stem}: element ids are TMT's GUIDs");
            assert!(e["stereotype"].as_str().is_some_and(|s| !s.is_empty()), "{stem}: {id} keeps its template type");
            if e["kind"] != "Dataflow" {
                assert!(model["layout"][id]["x"].is_number(), "{stem}: {id} keeps its position");
            }
        }

        // The file's own template, run by Threatmap, gives exactly the stored (type, flow) pairs,
        // with the stored state and priority.
        let tsv = ok(&["findings", out.to_str().unwrap(), "--format", "tsv"]);
        let got: BTreeSet<(String, String, String, String)> = tsv
            .lines()
            .skip(1)
            .map(|l| {
                let c: Vec<&str> = l.split('\t').collect();
                (c[4].to_owned(), c[1].to_owned(), c[7].to_owned(), c[5].to_owned())
            })
            .collect();
        let expected_text = std::fs::read_to_string(tm7.with_extension("expected.tsv")).unwrap();
        let expected: BTreeSet<(String, String, String, String)> = expected_text
            .lines()
            .skip(1)
            .map(|l| {
                let c: Vec<&str> = l.split('\t').collect();
                (c[0].to_owned(), c[1].to_owned(), tmt_status(c[4]).to_owned(), tmt_severity(c[5]).to_owned())
            })
            .collect();
        assert_eq!(got, expected, "{stem}: (type id, flow, status, severity)");
        assert_eq!(got.len(), expected_text.lines().count() - 1, "{stem}: no duplicates");

        // Line boundaries are drawn as lines where TMT drew them.
        let lines = elements.iter().filter(|e| model["layout"][e["id"].as_str().unwrap()]["line"].is_array()).count();
        let svg = ok(&["dfd", out.to_str().unwrap()]);
        assert_eq!(svg.matches("<polyline class=\"b\"").count(), lines, "{stem}");
    }
}

#[test]
fn threat_dragon_model_imports_every_element_flow_boundary_and_threat() {
    let Some(shared) = shared("compat/threat-dragon/v2-threat-model.json") else { return };
    let src = shared.join("compat/threat-dragon/v2-threat-model.json");
    let td: Value = serde_json::from_str(&std::fs::read_to_string(&src).unwrap()).unwrap();
    let cells: Vec<&Value> = td["detail"]["diagrams"].as_array().unwrap().iter().flat_map(|d| d["cells"].as_array().unwrap()).collect();
    let count = |shapes: &[&str]| cells.iter().filter(|c| shapes.contains(&c["shape"].as_str().unwrap())).count();
    let threats: Vec<(&str, &str, &str)> = cells
        .iter()
        .flat_map(|c| {
            c["data"]["threats"]
                .as_array()
                .into_iter()
                .flatten()
                .map(move |t| (t["id"].as_str().unwrap(), c["id"].as_str().unwrap(), t["status"].as_str().unwrap()))
        })
        .collect();
    assert_eq!(
        (count(&["actor", "process", "store"]), count(&["flow"]), count(&["trust-boundary-box", "trust-boundary-curve"]), threats.len()),
        (7, 10, 3, 14)
    );

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo.threatmap.json");
    let said = ok(&["import", "threat-dragon", src.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert!(said.contains("7 elements, 10 dataflows, 3 boundaries"), "{said}");
    let model: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(model["name"], "Demo Threat Model");
    assert!(!dir.path().join("demo.threats.toml").exists(), "no pack: the threats are the elements' own");
    for e in model["elements"].as_array().unwrap() {
        let id = e["id"].as_str().unwrap();
        if e["kind"] != "Dataflow" {
            assert!(model["layout"][id]["x"].is_number(), "{id} keeps its position");
        }
    }
    let curves = model["layout"].as_object().unwrap().values().filter(|p| p["line"].as_array().is_some_and(|l| l.len() >= 2)).count();
    assert_eq!(curves, 3, "boundary curves keep their bends");

    // Every threat is its element's own threat; every in-scope one a finding, with its status.
    let own = |cell: &str, tid: &str| {
        model["elements"].as_array().unwrap().iter().find(|e| e["id"] == cell).unwrap()["threats"]
            .as_array()
            .is_some_and(|ts| ts.iter().any(|t| t["id"] == tid))
    };
    // The model runs its threats beside the default packs: rows of the Threat Dragon threats only.
    let recorded: BTreeSet<String> = threats.iter().map(|(tid, cell, _)| format!("{tid}@{cell}")).collect();
    let tsv = ok(&["findings", out.to_str().unwrap(), "--format", "tsv"]);
    let rows: Vec<Vec<&str>> = tsv.lines().skip(1).map(|l| l.split('\t').collect::<Vec<_>>()).filter(|r| recorded.contains(r[0])).collect();
    assert!(tsv.lines().count() > rows.len() + 1, "the default packs run too");
    let all_tsv = ok(&["findings", out.to_str().unwrap(), "--format", "tsv", "--all"]);
    let all_rows: Vec<Vec<&str>> = all_tsv.lines().skip(1).map(|l| l.split('\t').collect()).collect();
    let out_of_scope: BTreeSet<&str> =
        model["elements"].as_array().unwrap().iter().filter(|e| e["inScope"] == false).map(|e| e["id"].as_str().unwrap()).collect();
    for (tid, cell, status) in &threats {
        assert!(own(cell, tid), "{tid} is a threat of {cell}");
        let row = rows.iter().find(|r| r[0] == format!("{tid}@{cell}"));
        if out_of_scope.contains(cell) {
            assert!(row.is_none(), "no open finding on an out-of-scope element");
            let kept = all_rows.iter().find(|r| r[0] == format!("{tid}@{cell}")).expect("the threat is kept");
            assert_eq!(kept[7], "excluded", "marked out of scope");
            continue;
        }
        let row = row.unwrap_or_else(|| panic!("{tid}@{cell} is a finding"));
        assert_eq!(row[7], if *status == "Mitigated" { "mitigated" } else { "open" }, "{tid}");
    }
    assert_eq!(rows.len(), 13, "14 threats, one on an out-of-scope store");
}

/// Threat Dragon 1.x files (JointJS cells, names in the drawing's text) import as Threat Dragon
/// 2.x opens them: every node, flow, boundary and threat, with its name, position and status.
#[test]
fn threat_dragon_v1_model_imports_whole() {
    let Some(shared) = shared("compat/threat-dragon/v1-demo-threat-model.json") else { return };
    let src = shared.join("compat/threat-dragon/v1-demo-threat-model.json");
    let td: Value = serde_json::from_str(&std::fs::read_to_string(&src).unwrap()).unwrap();
    let cells: Vec<&Value> =
        td["detail"]["diagrams"].as_array().unwrap().iter().flat_map(|d| d["diagramJson"]["cells"].as_array().unwrap()).collect();
    let of = |t: &str| cells.iter().filter(|c| c["type"] == t).count();
    let name_of = |c: &Value| {
        c.pointer("/attrs/text/text").or_else(|| c.pointer("/labels/0/attrs/text/text")).and_then(Value::as_str).unwrap_or("").to_owned()
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("v1.threatmap.json");
    let said = ok(&["import", "threat-dragon", src.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    let nodes = of("tm.Actor") + of("tm.Process") + of("tm.Store");
    assert!(said.contains(&format!("{nodes} elements, {} dataflows, {} boundaries", of("tm.Flow"), of("tm.Boundary"))), "{said}");
    let model: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(model["name"], td["summary"]["title"]);
    let elements = model["elements"].as_array().unwrap();
    for c in cells.iter().filter(|c| c["type"] != "tm.Boundary") {
        let id = c["id"].as_str().unwrap();
        let e = elements.iter().find(|e| e["id"] == id).unwrap_or_else(|| panic!("{id} is imported"));
        let want = name_of(c);
        if !want.is_empty() {
            assert_eq!(e["name"].as_str().unwrap(), want.trim(), "{id}: the name, line breaks kept");
        }
        if c["type"] == "tm.Flow" {
            assert_eq!(e["source"], c["source"]["id"], "{id}");
            assert_eq!(e["sink"], c["target"]["id"], "{id}");
        } else {
            assert_eq!(model["layout"][id]["x"].as_f64(), c["position"]["x"].as_f64(), "{id} keeps its position");
        }
    }
    // Every threat is its element's own and a finding with its status (none is out of scope).
    let threats: Vec<(&str, &str)> = cells
        .iter()
        .flat_map(|c| {
            c["threats"].as_array().into_iter().flatten().map(move |t| (c["id"].as_str().unwrap(), t["status"].as_str().unwrap()))
        })
        .collect();
    assert_eq!(threats.len(), 14);
    let keys: BTreeSet<String> = elements
        .iter()
        .flat_map(|e| {
            e["threats"]
                .as_array()
                .into_iter()
                .flatten()
                .map(move |t| format!("{}@{}", t["id"].as_str().unwrap(), e["id"].as_str().unwrap()))
        })
        .collect();
    assert_eq!(keys.len(), threats.len(), "each threat is its element's own");
    assert!(!dir.path().join("v1.threats.toml").exists());
    let tsv = ok(&["findings", out.to_str().unwrap(), "--format", "tsv"]);
    let mut statuses: Vec<(String, String)> = tsv
        .lines()
        .skip(1)
        .map(|l| l.split('\t').collect::<Vec<_>>())
        .filter(|r| keys.contains(r[0]))
        .map(|r| (r[1].to_owned(), r[7].to_owned()))
        .collect();
    let mut want: Vec<(String, String)> = threats.iter().map(|(c, s)| ((*c).to_owned(), s.to_lowercase())).collect();
    statuses.sort();
    want.sort();
    assert_eq!(statuses, want);
}

#[test]
fn otm_round_trip_keeps_elements_flows_boundaries_and_decisions() {
    let dir = tempfile::tempdir().unwrap();
    let m = triaged_example(dir.path());
    let otm = dir.path().join("model.otm.json");
    ok(&["export", &m, "--format", "otm", "-o", otm.to_str().unwrap()]);
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&otm).unwrap()).unwrap();
    // The standard structure other tools read.
    assert_eq!(doc["otmVersion"], "0.2.0");
    for c in doc["components"].as_array().unwrap() {
        assert!(c["parent"]["trustZone"].is_string(), "every component has a trust zone: {c}");
        let zone = c["parent"]["trustZone"].as_str().unwrap();
        assert!(doc["trustZones"].as_array().unwrap().iter().any(|z| z["id"] == zone), "{zone} is defined");
        for t in c["threats"].as_array().unwrap() {
            assert!(
                doc["threats"].as_array().unwrap().iter().any(|x| x["id"] == t["threat"]),
                "threat {} is in the catalogue",
                t["threat"]
            );
        }
    }
    let web = doc["components"].as_array().unwrap().iter().find(|c| c["id"] == "web").unwrap();
    let sql = web["threats"].as_array().unwrap().iter().find(|t| t["threat"] == "GEN-INJ-01").unwrap();
    assert_eq!(sql["state"], "MITIGATED");

    let back = dir.path().join("back.threatmap.json");
    ok(&["import", "otm", otm.to_str().unwrap(), "-o", back.to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(&back).unwrap(), std::fs::read_to_string(&m).unwrap(), "lossless round trip");

    // A line boundary from a TMT file survives too.
    if let Some(shared) = shared("compat/tmt/simple_line_boundary.tm7") {
        let tm = dir.path().join("slb.threatmap.json");
        ok(&["import", "tm7", shared.join("compat/tmt/simple_line_boundary.tm7").to_str().unwrap(), "-o", tm.to_str().unwrap()]);
        ok(&["export", tm.to_str().unwrap(), "--format", "otm", "-o", otm.to_str().unwrap()]);
        ok(&["import", "otm", otm.to_str().unwrap(), "-o", back.to_str().unwrap()]);
        assert_eq!(std::fs::read_to_string(&back).unwrap(), std::fs::read_to_string(&tm).unwrap());
    }
}

/// An OTM document as another tool writes it (no Threatmap attributes).
const FOREIGN_OTM: &str = r#"{
  "otmVersion": "0.2.0",
  "project": { "name": "Shop", "id": "shop", "description": "An online shop" },
  "representations": [{ "name": "Architecture", "id": "arch", "type": "diagram" }],
  "trustZones": [
    { "id": "internet", "name": "Internet", "risk": { "trustRating": 1 } },
    { "id": "dmz", "name": "DMZ", "risk": { "trustRating": 40 },
      "representations": [{ "representation": "arch", "id": "dmz-r", "position": { "x": 200, "y": 0 }, "size": { "width": 400, "height": 300 } }] },
    { "id": "core", "name": "Core network", "risk": { "trustRating": 80 }, "parent": { "trustZone": "dmz" } }
  ],
  "components": [
    { "id": "shopper", "name": "Shopper", "type": "generic-client", "parent": { "trustZone": "internet" } },
    { "id": "api", "name": "Shop API", "type": "web-service", "parent": { "trustZone": "dmz" },
      "representations": [{ "representation": "arch", "id": "api-r", "position": { "x": 250, "y": 50 }, "size": { "width": 120, "height": 60 } }],
      "threats": [ { "threat": "T-INJ", "state": "EXPOSE", "mitigations": [ { "mitigation": "M-PARAM", "state": "RECOMMENDED" } ] },
                   { "threat": "T-DOS", "state": "MITIGATED" } ] },
    { "id": "orders", "name": "Orders DB", "type": "postgresql", "parent": { "trustZone": "core" },
      "threats": [ { "threat": "T-INJ", "state": "ACCEPT" } ] },
    { "id": "worker", "name": "Worker", "type": "container", "parent": { "component": "api" } }
  ],
  "dataflows": [
    { "id": "f1", "name": "Checkout", "source": "shopper", "destination": "api", "bidirectional": true,
      "threats": [ { "threat": "T-SNIFF", "state": "NOT_APPLICABLE" } ] },
    { "id": "f2", "name": "Store order", "source": "api", "destination": "orders" }
  ],
  "threats": [
    { "id": "T-INJ", "name": "SQL injection", "description": "Input reaches {queries}.", "categories": ["Tampering"], "cwes": ["CWE-89"], "risk": { "likelihood": 80, "impact": 90 } },
    { "id": "T-DOS", "name": "Flooding", "categories": ["Denial of Service"], "risk": { "likelihood": 40, "impact": 50 } },
    { "id": "T-SNIFF", "name": "Eavesdropping", "categories": ["Information Disclosure"], "risk": { "likelihood": 20, "impact": 30 } },
    { "id": "T-UNUSED", "name": "Never found", "risk": { "likelihood": 10, "impact": 10 } }
  ],
  "mitigations": [ { "id": "M-PARAM", "name": "Parameterise", "description": "Use parameterised queries.", "riskReduction": 80 } ]
}"#;

#[test]
fn otm_from_another_tool_imports_zones_components_flows_and_threat_states() {
    let dir = tempfile::tempdir().unwrap();
    let src = write(dir.path(), "shop.otm.json", FOREIGN_OTM);
    let out = dir.path().join("shop.threatmap.json");
    let said = ok(&["import", "otm", &src, "-o", out.to_str().unwrap()]);
    assert!(said.contains("shop.threats.toml") && said.contains("4 elements, 3 dataflows, 3 boundaries"), "{said}");
    let model: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let el = |id: &str| model["elements"].as_array().unwrap().iter().find(|e| e["id"] == id).unwrap().clone();
    assert_eq!(
        (el("shopper")["kind"].clone(), el("api")["kind"].clone(), el("orders")["kind"].clone()),
        ("Actor".into(), "Server".into(), "Datastore".into())
    );
    assert_eq!(el("orders")["inBoundary"], "core");
    assert_eq!(el("core")["inBoundary"], "dmz");
    assert_eq!(el("worker")["inBoundary"], "dmz", "a component inside a component sits in its parent's zone");
    assert_eq!(el("api")["stereotype"], "web-service");
    assert_eq!(model["layout"]["api"]["width"], 120.0);
    assert_eq!(el("f1-reverse")["responseTo"], "f1", "bidirectional flows get their response");

    let tsv =
        ok(&["findings", out.to_str().unwrap(), "--rules", dir.path().join("shop.threats.toml").to_str().unwrap(), "--format", "tsv"]);
    let rows: BTreeSet<(String, String, String)> = tsv
        .lines()
        .skip(1)
        .map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            (c[0].to_owned(), c[5].to_owned(), c[7].to_owned())
        })
        .collect();
    let expected: BTreeSet<(String, String, String)> = [
        ("T-INJ@api", "Very High", "open"),
        ("T-INJ@orders", "Very High", "accepted-risk"),
        ("T-DOS@api", "Medium", "mitigated"),
        ("T-SNIFF@f1", "Low", "not-applicable"),
    ]
    .into_iter()
    .map(|(a, b, c)| (a.to_owned(), b.to_owned(), c.to_owned()))
    .collect();
    assert_eq!(rows, expected);
    let json: Vec<Value> = serde_json::from_str(&ok(&["findings", out.to_str().unwrap(), "--format", "json"])).unwrap();
    let inj = json.iter().find(|f| f["key"] == "T-INJ@api").unwrap();
    assert_eq!(inj["mitigations"][0], "Parameterise: Use parameterised queries.", "the mitigation's name and description");
    assert_eq!(inj["description"], "Input reaches {queries}.", "braces in text stay literal");
}

#[test]
fn diff_reports_element_finding_and_decision_changes() {
    let dir = tempfile::tempdir().unwrap();
    let old = triaged_example(dir.path());
    let mut m: Value = serde_json::from_str(&std::fs::read_to_string(&old).unwrap()).unwrap();
    let elements = m["elements"].as_array_mut().unwrap();
    for e in elements.iter_mut() {
        match e["id"].as_str().unwrap() {
            "web" => e["name"] = "Comment API".into(),
            "db" => e["controls"]["isEncryptedAtRest"] = true.into(),
            _ => {}
        }
    }
    let answered: BTreeSet<String> = elements.iter().filter_map(|e| e["responseTo"].as_str().map(str::to_owned)).collect();
    let removed = elements.iter().position(|e| e["kind"] == "Dataflow" && !answered.contains(e["id"].as_str().unwrap())).unwrap();
    let gone_flow = elements.remove(removed);
    elements.push(serde_json::json!({ "id": "cdn", "kind": "Server", "name": "CDN" }));
    m["layout"]["user"] = serde_json::json!({ "x": 999.0, "y": 20.0, "width": 120.0, "height": 60.0 });
    m["decisions"]["GEN-ACT-03@user"]["status"] = "open".into();
    let new = write(dir.path(), "new.threatmap.json", &serde_json::to_string_pretty(&m).unwrap());

    let text = ok(&["diff", &old, &new]);
    assert!(text.contains("+ Server `CDN` (cdn)"), "{text}");
    assert!(
        text.contains(&format!("- Dataflow `{}` ({})", gone_flow["name"].as_str().unwrap(), gone_flow["id"].as_str().unwrap())),
        "{text}"
    );
    assert!(text.contains("~ Server `Comment API` (web): renamed from `Web Server`"), "{text}");
    assert!(text.contains("(db): controls.isEncryptedAtRest"), "{text}");
    assert!(text.contains("(user): moved"), "{text}");
    assert!(text.contains("decision       GEN-ACT-03@user: accepted-risk -> open (status)"), "{text}");

    let d: Value = serde_json::from_str(&ok(&["diff", &old, &new, "--format", "json"])).unwrap();
    let keys = |k: &str| d[k].as_array().unwrap().iter().map(|f| f["key"].as_str().unwrap().to_owned()).collect::<BTreeSet<_>>();
    // The new server brings findings; the removed flow takes its findings away.
    assert!(keys("new_findings").iter().any(|k| k.ends_with("@cdn")), "{d}");
    assert!(keys("gone_findings").iter().any(|k| k.ends_with(&format!("@{}", gone_flow["id"].as_str().unwrap()))), "{d}");
    // Renaming keeps every key of the renamed element: no finding of `web` is new or gone.
    assert!(!keys("new_findings").iter().chain(keys("gone_findings").iter()).any(|k| k.ends_with("@web")), "{d}");

    assert_eq!(ok(&["diff", &old, &old]), "no changes\n");
    let o = run(&["diff", &old, &new, "--fail-on-new", "low"]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    ok(&["diff", &old, &old, "--fail-on-new", "info"]);
}

/// Runs an import that must fail: exit 2 within a few seconds, a clear message, no panic.
fn import_fails(format: &str, path: &str, dir: &std::path::Path, needles: &[&str]) {
    let out = dir.join("never.threatmap.json");
    let started = std::time::Instant::now();
    fails(&["import", format, path, "-o", out.to_str().unwrap()], needles);
    assert!(started.elapsed() < std::time::Duration::from_secs(20), "{format} {path}: took {:?}", started.elapsed());
    assert!(!out.exists(), "nothing is written on failure");
}

#[test]
fn hostile_imports_fail_clearly_and_quickly() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    // Billion laughs: any DTD is refused, so no entity is ever expanded.
    let laughs = "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n<!ENTITY lol \"lol\">\n<!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n<!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">\n<!ENTITY lol9 \"&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;\">\n]>\n<ThreatModel>&lol9;</ThreatModel>\n";
    import_fails("tm7", &write(d, "laughs.tm7", laughs), d, &["laughs.tm7:1:", "declares a DTD"]);
    // External entities: refused the same way.
    let xxe = "<!DOCTYPE t [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><ThreatModel>&x;</ThreatModel>";
    import_fails("tm7", &write(d, "xxe.tm7", xxe), d, &["xxe.tm7:1:", "declares a DTD"]);
    // Not a threat model at all, and truncated XML (with its position).
    import_fails("tm7", &write(d, "other.tm7", "<svg></svg>"), d, &["root element is <svg>"]);
    let real = shared("compat/tmt/sample_core_kb.tm7").map(|s| std::fs::read_to_string(s.join("compat/tmt/sample_core_kb.tm7")).unwrap());
    let real = real.unwrap_or_else(|| "<ThreatModel><DrawingSurfaceList><DrawingSurfaceModel><Borders>".repeat(50));
    let cut = real.char_indices().nth(real.chars().count() / 2).unwrap().0;
    import_fails("tm7", &write(d, "cut.tm7", &real[..cut]), d, &["cut.tm7:1:", "not a readable .tm7 file"]);
    // Files over the 64 MB .tm7 cap (65 MB here) and a 200 MB one are refused before they are
    // read (sparse, so the test stays cheap).
    let over = d.join("over.tm7");
    std::fs::File::create(&over).unwrap().set_len(65 * 1024 * 1024).unwrap();
    import_fails("tm7", over.to_str().unwrap(), d, &["over.tm7", "the limit is 67108864"]);
    let big = d.join("big.tm7");
    std::fs::File::create(&big).unwrap().set_len(200 * 1024 * 1024).unwrap();
    import_fails("tm7", big.to_str().unwrap(), d, &["big.tm7", "limit"]);
    let big_json = d.join("big.json");
    std::fs::File::create(&big_json).unwrap().set_len(300 * 1024 * 1024).unwrap();
    import_fails("otm", big_json.to_str().unwrap(), d, &["big.json", "limit"]);
    import_fails("threat-dragon", big_json.to_str().unwrap(), d, &["big.json", "limit"]);

    // Wrong types.
    import_fails(
        "threat-dragon",
        &write(d, "td.json", r#"{"summary": {"title": "x"}, "detail": {"diagrams": [{"title": "D", "cells": "many"}]}}"#),
        d,
        &["td.json", "`cells` is missing or not a list"],
    );
    import_fails("threat-dragon", &write(d, "td2.json", r#"{"summary": 5}"#), d, &["td2.json", "not a Threat Dragon model"]);
    import_fails("threat-dragon", &write(d, "td3.json", "{\"summary\": {\n  \"title\": \"x\",\n"), d, &["td3.json:3:", "not valid JSON"]);
    import_fails(
        "otm",
        &write(d, "o.json", r#"{"otmVersion": "0.2.0", "project": {"name": "x", "id": "x"}, "components": {"a": 1}}"#),
        d,
        &["o.json", "`components` must be a list, not an object"],
    );
    import_fails(
        "otm",
        &write(d, "o2.json", r#"{"otmVersion": "0.2.0", "project": {"name": "x", "id": "x"}, "trustZones": [{"id": 7, "name": "z"}]}"#),
        d,
        &["o2.json", "`trustZones[0].id` must be a string"],
    );
    import_fails("otm", &write(d, "o3.json", r#"{"project": {"name": "x"}}"#), d, &["o3.json", "`otmVersion` and `project` are required"]);
    import_fails(
        "otm",
        &write(
            d,
            "o4.json",
            r#"{"otmVersion": "0.2.0", "project": {"name": "x", "id": "x"}, "dataflows": [{"id": "f", "name": "f", "source": "a", "destination": "b"}]}"#,
        ),
        d,
        &["o4.json", "names no element"],
    );
}

#[test]
fn unknown_enum_values_are_imported_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let td = r#"{"summary": {"title": "T"}, "detail": {"diagrams": [{"title": "D", "cells": [
        {"id": "p", "shape": "process", "position": {"x": 0, "y": 0}, "size": {"width": 100, "height": 100},
         "data": {"type": "tm.Process", "name": "P", "threats": [{"id": "t1", "title": "X", "status": "Pondering", "severity": "Apocalyptic", "type": "Spoofing"}]}},
        {"id": "s", "shape": "store", "position": {"x": 300, "y": 0}, "size": {"width": 100, "height": 100}, "data": {"type": "tm.Store", "name": "S"}},
        {"id": "f", "shape": "flow", "source": {"cell": "p"}, "target": {"cell": "s"}, "data": {"type": "tm.Flow", "name": "Sync", "isBidirectional": true}},
        {"id": "w", "shape": "wormhole", "data": {"name": "W"}}]}]}}"#;
    let out = d.join("t.threatmap.json");
    let o = run(&["import", "threat-dragon", &write(d, "t.json", td), "-o", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let err = stderr(&o);
    for needle in ["status `Pondering` read as open", "severity `apocalyptic` read as Medium", "shape `wormhole`"] {
        assert!(err.contains(needle), "{needle}: {err}");
    }
    // A bidirectional Threat Dragon flow is a request and its response.
    let model: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let back = model["elements"].as_array().unwrap().iter().find(|e| e["id"] == "f-reverse").expect("the response flow");
    assert_eq!((back["source"].clone(), back["sink"].clone(), back["responseTo"].clone()), ("s".into(), "p".into(), "f".into()));
    let otm = r#"{"otmVersion": "0.2.0", "project": {"name": "x", "id": "x"}, "trustZones": [{"id": "z", "name": "Z", "risk": {"trustRating": 1}}],
        "components": [{"id": "c", "name": "C", "type": "quantum-thing", "parent": {"trustZone": "z"}, "threats": [{"threat": "t", "state": "SCHRODINGER"}]}],
        "threats": [{"id": "t", "name": "T", "risk": {"likelihood": 50, "impact": 50}}]}"#;
    let o = run(&["import", "otm", &write(d, "x.otm.json", otm), "-o", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("state `SCHRODINGER` read as open"), "{}", stderr(&o));
}

/// OTM positions may be absolute or relative to the parent trust zone (tools write both): the
/// reading that puts the components inside their zones is used, and the import says so.
#[test]
fn otm_positions_relative_to_their_zone_are_read_as_such() {
    let otm = |cx: f64, cy: f64| {
        serde_json::json!({
            "otmVersion": "0.2.0", "project": {"name": "Zones", "id": "zones"},
            "trustZones": [{"id": "dmz", "name": "DMZ", "risk": {"trustRating": 40},
                "representations": [{"representation": "d", "id": "dmz-r", "position": {"x": 500, "y": 300}, "size": {"width": 400, "height": 300}}]}],
            "components": [
                {"id": "api", "name": "API", "type": "web-service", "parent": {"trustZone": "dmz"},
                 "representations": [{"representation": "d", "id": "api-r", "position": {"x": cx, "y": cy}, "size": {"width": 100, "height": 60}}]},
                {"id": "db", "name": "Orders", "type": "postgresql", "parent": {"trustZone": "dmz"},
                 "representations": [{"representation": "d", "id": "db-r", "position": {"x": cx + 150.0, "y": cy}, "size": {"width": 100, "height": 60}}]}
            ],
            "dataflows": [{"id": "f", "name": "Store", "source": "api", "destination": "db"}]
        })
        .to_string()
    };
    let dir = tempfile::tempdir().unwrap();
    for (name, (x, y), relative) in [("relative", (50.0, 50.0), true), ("absolute", (550.0, 350.0), false)] {
        let src = dir.path().join(format!("{name}.otm.json"));
        std::fs::write(&src, otm(x, y)).unwrap();
        let out = dir.path().join(format!("{name}.threatmap.json"));
        let o = run(&["import", "otm", src.to_str().unwrap(), "-o", out.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        assert_eq!(stderr(&o).contains("read as relative to their parent trust zone"), relative, "{name}: {}", stderr(&o));
        let m: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
        assert_eq!((m["layout"]["api"]["x"].as_f64(), m["layout"]["api"]["y"].as_f64()), (Some(550.0), Some(350.0)), "{name}");
        assert_eq!(m["layout"]["db"]["x"].as_f64(), Some(700.0), "{name}");
        assert_eq!(m["layout"]["dmz"]["x"].as_f64(), Some(500.0), "{name}: the zone stays where it is");
    }
    // Positions that put the components outside their zone either way contradict the model:
    // they are not kept (the drawing would take the components out of their zone), and the
    // diagram is laid out from the zones.
    let src = dir.path().join("neither.otm.json");
    std::fs::write(&src, otm(2000.0, 40.0)).unwrap();
    let out = dir.path().join("neither.threatmap.json");
    let o = run(&["import", "otm", src.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("positions not kept"), "{}", stderr(&o));
    let m: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert!(m["layout"]["api"].is_null() && m["layout"]["dmz"].is_null(), "{}", m["layout"]);
    assert_eq!(m["elements"].as_array().unwrap().iter().filter(|e| e["inBoundary"] == "dmz").count(), 2, "memberships kept");
}

/// A validator of the OWASP Threat Model Library schema (formats asserted: the schema's
/// date-or-datetime `oneOf` needs them).
fn tm_bom_validator(shared: &std::path::Path) -> jsonschema::Validator {
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(shared.join("compat/tm-bom/threat-model.schema.json")).unwrap()).unwrap();
    jsonschema::options().should_validate_formats(true).build(&schema).unwrap()
}

fn schema_errors(v: &jsonschema::Validator, doc: &Value) -> Vec<String> {
    v.iter_errors(doc).map(|e| format!("{}: {e}", e.instance_path())).collect()
}

/// TM-BOM (the OWASP Threat Model Library format): a published model imports with its zones,
/// actors, components, stores, data sets and flows, and its hand-written threats as a rule pack;
/// every export validates against the format's schema and imports back to the same model.
#[test]
fn tm_bom_models_import_and_exports_validate_against_the_schema() {
    let Some(shared) = shared("compat/tm-bom/threat-model.schema.json") else { return };
    let validator = tm_bom_validator(&shared);
    let vault = shared.join("compat/tm-bom/hashicorp-vault-threat-model.json");
    let original: Value = serde_json::from_str(&std::fs::read_to_string(&vault).unwrap()).unwrap();
    assert!(schema_errors(&validator, &original).is_empty(), "the validator accepts the published model");

    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("vault.threatmap.json");
    let o = run(&["import", "tm-bom", vault.to_str().unwrap(), "-o", model.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let err = stderr(&o);
    for said in [
        "trust zone `public-internet` is not among the trust zones",
        "placed on the 8 flow(s) crossing",
        "gives no finding",
        "record count",
    ] {
        assert!(err.contains(said), "the import says {said:?}:\n{err}");
    }
    let m: Value = serde_json::from_str(&std::fs::read_to_string(&model).unwrap()).unwrap();
    let count = |kind: &str| m["elements"].as_array().unwrap().iter().filter(|e| e["kind"] == kind).count();
    assert_eq!((count("Boundary"), count("Dataflow"), count("Datastore")), (4, 24, 3));
    assert_eq!(count("Actor") + count("ExternalEntity") + count("Process"), 15, "3 actors and 12 components");
    assert_eq!(m["data"].as_array().unwrap().len(), 3);
    assert_eq!(m["properties"]["scope.tier"], original["scope"]["tier"]);
    let raft = m["elements"].as_array().unwrap().iter().find(|e| e["id"] == "vault-raft-storage").unwrap();
    assert_eq!(raft["inBoundary"], "k8s-namespace-vault");
    assert!(raft["data"].as_array().unwrap().iter().any(|d| d == "data-vault-secrets"), "{raft}");
    let pack = std::fs::read_to_string(dir.path().join("vault.threats.toml")).unwrap();
    assert_eq!(pack.matches("[[rule]]").count(), 8, "one rule per threat");
    assert!(pack.contains("CWE-284") && pack.contains("CAPEC-122") && pack.contains("Darius"), "references and persona kept");
    let findings = ok(&["findings", model.to_str().unwrap(), "--format", "json"]);
    let list: Value = serde_json::from_str(&findings).unwrap();
    let threats: BTreeSet<&str> = list.as_array().unwrap().iter().filter_map(|f| f["threat_id"].as_str()).collect();
    assert!(
        threats.contains("compromised-workload-abuse-auth") && threats.contains("insider-exfiltrate-secrets-via-kubectl"),
        "{threats:?}"
    );

    // Exports validate, and import back to the same elements, memberships, data and flows.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    for source in
        [model.clone(), root.join("assets/examples/web-app.threatmap.json"), root.join("assets/examples/iot-board.threatmap.json")]
    {
        let out = dir.path().join("out.tmbom.json");
        ok(&["export", source.to_str().unwrap(), "--format", "tm-bom", "-o", out.to_str().unwrap()]);
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
        let errors = schema_errors(&validator, &doc);
        assert!(errors.is_empty(), "{}: the export is valid TM-BOM:\n{}", source.display(), errors.join("\n"));
        // A threat on several components is named for all of them, not after the first.
        let titles: std::collections::BTreeMap<&str, &str> = ["components", "actors", "data_stores"]
            .iter()
            .flat_map(|k| doc[*k].as_array().unwrap().iter())
            .map(|c| (c["symbolic_name"].as_str().unwrap(), c["title"].as_str().unwrap()))
            .collect();
        for t in doc["threats"].as_array().unwrap() {
            let on: Vec<&str> =
                t["components_affected"].as_array().unwrap().iter().filter_map(|c| titles.get(c.as_str().unwrap()).copied()).collect();
            if on.len() > 1 {
                let title = t["title"].as_str().unwrap();
                assert!(on.iter().all(|n| !title.contains(&format!(" {n}"))), "{title} names one of {on:?}");
            }
        }
        let back = dir.path().join("back.threatmap.json");
        let o = run(&["import", "tm-bom", out.to_str().unwrap(), "-o", back.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let (a, b): (Value, Value) = (
            serde_json::from_str(&std::fs::read_to_string(&source).unwrap()).unwrap(),
            serde_json::from_str(&std::fs::read_to_string(&back).unwrap()).unwrap(),
        );
        let shape = |m: &Value| -> BTreeSet<(String, String, String)> {
            let name_of = |id: &Value| {
                m["elements"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|e| &e["id"] == id)
                    .map(|e| e["name"].as_str().unwrap_or("").to_owned())
                    .unwrap_or_default()
            };
            m["elements"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| {
                    let kind = match e["kind"].as_str().unwrap() {
                        "Actor" | "ExternalEntity" => "actor",
                        "Datastore" => "store",
                        "Boundary" => "zone",
                        "Dataflow" => "flow",
                        _ => "component",
                    };
                    let at = if kind == "flow" {
                        format!("{} -> {}", name_of(&e["source"]), name_of(&e["sink"]))
                    } else {
                        name_of(&e["inBoundary"])
                    };
                    (kind.to_owned(), e["name"].as_str().unwrap().to_owned(), at)
                })
                .collect()
        };
        assert_eq!(shape(&b), shape(&a), "{}: elements, zones and flows survive the round trip", source.display());
        let data = |m: &Value| m["data"].as_array().map(|d| d.iter().map(|x| x["name"].clone()).collect::<Vec<_>>()).unwrap_or_default();
        assert_eq!(data(&b), data(&a), "{}: data items", source.display());
        assert_eq!(b["name"], a["name"]);
    }
}

/// Another tool's OTM comes in whole: assets (their confidentiality, integrity and availability
/// ratings), where components process and store them, tags, trust ratings, the project's owner
/// and attributes, mitigation names and each threat instance's mitigation states, and threat
/// categories and risk comments; nothing is dropped without a word.
#[test]
fn otm_assets_ratings_tags_and_mitigation_states_are_kept() {
    let Some(shared) = shared("compat/otm/example-open-threat-model.json") else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("otm.threatmap.json");
    let src = shared.join("compat/otm/example-open-threat-model.json");
    let o = run(&["import", "otm", src.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let m: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(m["properties"]["otm:owner"], "John Doe");
    assert_eq!(m["properties"]["otm:tags"], "test tag 1, test tag 2");
    assert_eq!(m["properties"]["otm:cmdbId"], "MyApp123");
    let data = |id: &str| m["data"].as_array().unwrap().iter().find(|d| d["id"] == id).unwrap().clone();
    assert_eq!(data("cc-data")["classification"], "SECRET", "confidentiality 100");
    assert_eq!(data("public-info")["classification"], "PUBLIC", "confidentiality 0");
    assert!(data("public-info")["description"].as_str().unwrap().contains("integrity 100, availability 50"));
    assert_eq!(data("public-info")["isStored"], true);
    let el = |id: &str| m["elements"].as_array().unwrap().iter().find(|e| e["id"] == id).unwrap().clone();
    assert_eq!(el("web-service")["data"], serde_json::json!(["cc-data", "public-info"]));
    assert_eq!(el("cc-store-in-db")["data"], serde_json::json!(["cc-data"]));
    assert_eq!(el("web-service")["properties"]["otm:tags"], "tomcat");
    assert_eq!(el("f0ba7722-39b6-4c81-8290-a30a248bb8d9")["properties"]["otm:trustRating"], 20);
    let decision = &m["decisions"]["22724267-be7e-44c0-8b1f-d7d33e9a34ec@web-service"];
    assert_eq!(decision["tags"], serde_json::json!(["mitigation This is the name of mitigation 1 (implemented)"]));
    let pack = std::fs::read_to_string(dir.path().join("otm.threats.toml")).unwrap();
    assert!(pack.contains(r#"stride = ["Spoofing", "Tampering"]"#), "{pack}");
    assert!(pack.contains("This is the name of mitigation 1: Description for mitigation 1"), "{pack}");
    assert!(pack.contains("Tags: sql, cwe-123") && pack.contains("Likelihood: It is reasonable"), "{pack}");
    assert!(!pack.contains("shared/compat"), "the pack names the source file, not where it was");
}

/// A model exported to OTM runs wherever the OTM file is imported: its own threats travel in
/// the file, and so do the rule pack files it names, written beside the imported model.
/// `validate` fails on a model whose rule pack is missing (so does `findings`).
#[test]
fn otm_round_trip_works_in_another_folder_and_validate_checks_rule_packs() {
    let Some(root) = shared("compat/threat-dragon/v2-threat-model.json") else { return };
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    std::fs::create_dir_all(&a).unwrap();
    std::fs::create_dir_all(&b).unwrap();
    let findings = |m: &std::path::Path| -> BTreeSet<String> {
        ok(&["findings", m.to_str().unwrap(), "--format", "tsv"])
            .lines()
            .skip(1)
            .map(|l| l.split('\t').take(8).collect::<Vec<_>>().join("\t"))
            .collect()
    };
    // Threat Dragon's threats are the elements' own: they come back as such.
    let model = a.join("td.threatmap.json");
    let td = root.join("compat/threat-dragon/v2-threat-model.json");
    let o = run(&["import", "threat-dragon", td.to_str().unwrap(), "-o", model.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let otm = a.join("td.otm.json");
    ok(&["export", model.to_str().unwrap(), "--format", "otm", "-o", otm.to_str().unwrap()]);
    let back = b.join("back.threatmap.json");
    ok(&["import", "otm", otm.to_str().unwrap(), "-o", back.to_str().unwrap()]);
    let (before, after) = (findings(&model), findings(&back));
    assert!(before.len() > 50);
    assert_eq!(after, before, "the same findings, with the model's own threats, in the other folder");
    let own = |m: &std::path::Path| -> usize {
        let v: Value = serde_json::from_str(&std::fs::read_to_string(m).unwrap()).unwrap();
        v["elements"].as_array().unwrap().iter().map(|e| e["threats"].as_array().map_or(0, Vec::len)).sum()
    };
    assert_eq!((own(&model), own(&back)), (14, 14), "every Threat Dragon threat is an element's own, both sides");
    assert!(ok(&["validate", back.to_str().unwrap()]).contains("valid"));

    // A model's rule pack file (TM-BOM's threats) travels in the OTM file under its name.
    let model = a.join("vault.threatmap.json");
    ok(&[
        "import",
        "tm-bom",
        root.join("compat/tm-bom/hashicorp-vault-threat-model.json").to_str().unwrap(),
        "-o",
        model.to_str().unwrap(),
    ]);
    let otm = a.join("vault.otm.json");
    ok(&["export", model.to_str().unwrap(), "--format", "otm", "-o", otm.to_str().unwrap()]);
    let back = b.join("vault-back.threatmap.json");
    let said = ok(&["import", "otm", otm.to_str().unwrap(), "-o", back.to_str().unwrap()]);
    assert!(said.contains("vault.threats.toml: rule pack the model uses"), "the pack keeps the name the model gives it: {said}");
    assert_eq!(findings(&back), findings(&model), "the same findings in the other folder");
    assert!(ok(&["validate", back.to_str().unwrap()]).contains("valid"));
    // Another file of the pack's name is never overwritten by an import.
    let mine = b.join("vault.threats.toml");
    std::fs::write(&mine, "# my own notes\n").unwrap();
    let again = b.join("again.threatmap.json");
    fails(&["import", "otm", otm.to_str().unwrap(), "-o", again.to_str().unwrap()], &["vault.threats.toml", "not overwritten"]);
    assert_eq!(std::fs::read_to_string(&mine).unwrap(), "# my own notes\n");
    std::fs::remove_file(&mine).unwrap();
    fails(&["validate", back.to_str().unwrap()], &["rule pack `vault.threats.toml`", "invalid"]);
    fails(&["findings", back.to_str().unwrap()], &["vault.threats.toml"]);
}

/// `text` with every GUID in it changed (its first group replaced), the same way each time.
fn regraft_guids(text: &str) -> String {
    let b = text.as_bytes();
    let is_guid = |s: &[u8]| {
        s.len() == 36 && s.iter().enumerate().all(|(k, c)| if [8, 13, 18, 23].contains(&k) { *c == b'-' } else { c.is_ascii_hexdigit() })
    };
    let mut out = String::with_capacity(text.len());
    let mut k = 0;
    while k < b.len() {
        if k + 36 <= b.len() && is_guid(&b[k..k + 36]) {
            out.push_str("0ddba11e");
            out.push_str(&text[k + 8..k + 36]);
            k += 36;
        } else {
            let c = text[k..].chars().next().unwrap();
            out.push(c);
            k += c.len_utf8();
        }
    }
    out
}

/// A Microsoft TMT file with two diagram tabs (the shared sample's tab and a copy of it with
/// new GUIDs) imports as two diagrams, each with TMT's own positions; the template runs on the
/// second tab's drawing as on the first (boundary crossings are read per tab), and every export
/// draws both.
#[test]
fn tmt_diagram_tabs_and_threat_dragon_diagrams_stay_separate_diagrams() {
    let Some(shared) = shared("compat/tmt/sample_core_kb.tm7") else { return };
    assert!(shared.join("compat/threat-dragon/v2-threat-model.json").exists(), "the shared folder holds Threat Dragon's demo too");
    let dir = tempfile::tempdir().unwrap();
    let xml = std::fs::read_to_string(shared.join("compat/tmt/sample_core_kb.tm7")).unwrap();
    let (start, end) = (xml.find("<DrawingSurfaceModel").unwrap(), xml.find("</DrawingSurfaceModel>").unwrap() + 22);
    let copy = regraft_guids(&xml[start..end]).replace("<Header>Diagram 1</Header>", "<Header>Second tab</Header>");
    let two_tabs = format!("{}{copy}{}", &xml[..end], &xml[end..]);
    let tm7 = dir.path().join("tabs.tm7");
    std::fs::write(&tm7, two_tabs).unwrap();
    let out = dir.path().join("tabs.threatmap.json");
    ok(&["import", "tm7", tm7.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    let model: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert!(model.get("layout").is_none(), "positions live in the diagrams");
    let diagrams = model["diagrams"].as_array().unwrap();
    let names: Vec<&str> = diagrams.iter().map(|d| d["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Diagram 1", "Second tab"]);
    let (first, second) = (diagrams[0]["layout"].as_object().unwrap(), diagrams[1]["layout"].as_object().unwrap());
    assert_eq!(first.len(), second.len());
    for (id, p) in first {
        assert_eq!(&second[&regraft_guids(id)], p, "{id}: the copy is drawn where TMT drew it, not beside the first tab");
    }

    // Findings: the stored threats on the first tab, and the same threat types on the copy's flows.
    let tsv = ok(&["findings", out.to_str().unwrap(), "--format", "tsv"]);
    let pairs: BTreeSet<(String, String)> = tsv
        .lines()
        .skip(1)
        .map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            (c[4].to_owned(), c[1].to_owned())
        })
        .collect();
    let (on_first, on_copy): (BTreeSet<_>, BTreeSet<_>) = pairs.iter().cloned().partition(|(_, flow)| first.contains_key(flow));
    assert_eq!(on_first.len(), 29, "the stored threats of the first tab");
    let mirrored: BTreeSet<(String, String)> = on_first.iter().map(|(t, f)| (t.clone(), regraft_guids(f))).collect();
    assert_eq!(on_copy, mirrored, "the template reads the second tab's drawing as it reads the first");

    // The diagram export draws both tabs, one below the other; one can be picked by name.
    let svg = ok(&["dfd", out.to_str().unwrap()]);
    assert_eq!(svg.matches("<g class=\"diagram\"").count(), 2, "both diagrams");
    assert!(svg.contains("1. Diagram 1") && svg.contains("2. Second tab"));
    let one = ok(&["dfd", out.to_str().unwrap(), "--diagram", "second TAB"]);
    assert!(!one.contains("<g class=\"diagram\"") && one.contains("Second tab"), "one diagram by name");
    let nodes = |s: &str| s.matches("<g class=\"node").count();
    assert_eq!(nodes(&svg), 2 * nodes(&one));
    fails(&["dfd", out.to_str().unwrap(), "--diagram", "Third"], &["no diagram is called \"Third\"", "2. \"Second tab\""]);
    let report = ok(&["report", out.to_str().unwrap()]);
    assert!(report.contains("<h3 id=\"dfd-1\">Diagram 1</h3>") && report.contains("<h3 id=\"dfd-2\">Second tab</h3>"));

    // OTM: one representation per diagram, and back again.
    let otm = dir.path().join("tabs.otm.json");
    ok(&["export", out.to_str().unwrap(), "--format", "otm", "-o", otm.to_str().unwrap()]);
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&otm).unwrap()).unwrap();
    let reps: Vec<&str> = doc["representations"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(reps, ["Diagram 1", "Second tab"]);
    let back = dir.path().join("back").join("tabs.threatmap.json");
    std::fs::create_dir_all(back.parent().unwrap()).unwrap();
    ok(&["import", "otm", otm.to_str().unwrap(), "-o", back.to_str().unwrap()]);
    let again: Value = serde_json::from_str(&std::fs::read_to_string(&back).unwrap()).unwrap();
    assert_eq!(again["diagrams"], model["diagrams"], "OTM keeps each diagram and its positions");

    // Threat Dragon: a model with two diagrams (the demo's and a copy) gives two diagrams.
    let mut td: Value =
        serde_json::from_str(&std::fs::read_to_string(shared.join("compat/threat-dragon/v2-threat-model.json")).unwrap()).unwrap();
    let mut second: Value = serde_json::from_str(&regraft_guids(&td["detail"]["diagrams"][0].to_string())).unwrap();
    second["title"] = Value::from("Admin flows");
    td["detail"]["diagrams"].as_array_mut().unwrap().push(second);
    let src = dir.path().join("two.json");
    std::fs::write(&src, td.to_string()).unwrap();
    let out = dir.path().join("two.threatmap.json");
    ok(&["import", "threat-dragon", src.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    let model: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let names: Vec<&str> = model["diagrams"].as_array().unwrap().iter().map(|d| d["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Main Request Data Flow", "Admin flows"]);
    let (a, b) = (model["diagrams"][0]["layout"].as_object().unwrap(), model["diagrams"][1]["layout"].as_object().unwrap());
    assert_eq!(a.len(), b.len());
    for (id, p) in a {
        assert_eq!(&b[&regraft_guids(id)], p, "{id}: each diagram keeps Threat Dragon's positions");
    }
}

/// Threats TMT stored on an element that is out of scope stay on record: not open findings, but
/// listed (with `--all`, in the JSON, the report) as out of scope, each with its stored state.
#[test]
fn recorded_threats_on_out_of_scope_elements_are_kept_and_marked() {
    let Some(shared) = shared("compat/tmt/sample_core_kb.tm7") else { return };
    let dir = tempfile::tempdir().unwrap();
    let xml = std::fs::read_to_string(shared.join("compat/tmt/sample_core_kb.tm7")).unwrap();
    let flag = "<b:Name>71f3d9aa-b8ef-4e54-8126-607a1d903103</b:Name><b:Value i:type=\"c:boolean\" xmlns:c=\"http://www.w3.org/2001/XMLSchema\">false</b:Value>";
    let lines = xml.find("<Lines").unwrap();
    let at = lines + xml[lines..].find(flag).expect("a flow with an Out Of Scope flag");
    let flow = {
        let guid = xml[..at].rfind("<a:Key>").unwrap() + 7;
        xml[guid..guid + 36].to_owned()
    };
    let edited = format!("{}{}{}", &xml[..at], flag.replace(">false<", ">true<"), &xml[at + flag.len()..]);
    let tm7 = dir.path().join("oos.tm7");
    std::fs::write(&tm7, edited).unwrap();
    let out = dir.path().join("oos.threatmap.json");
    ok(&["import", "tm7", tm7.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    let expected = std::fs::read_to_string(shared.join("compat/tmt/sample_core_kb.expected.tsv")).unwrap();
    let stored_on_flow: BTreeSet<String> =
        expected.lines().skip(1).map(|l| l.split('\t').collect::<Vec<_>>()).filter(|c| c[1] == flow).map(|c| c[0].to_owned()).collect();
    assert!(!stored_on_flow.is_empty(), "TMT stored threats on {flow}");

    let rows =
        |args: &[&str]| -> Vec<Vec<String>> { ok(args).lines().skip(1).map(|l| l.split('\t').map(str::to_owned).collect()).collect() };
    let open = rows(&["findings", out.to_str().unwrap(), "--format", "tsv"]);
    assert!(open.iter().all(|r| r[1] != flow), "no open finding on the out-of-scope flow");
    let all = rows(&["findings", out.to_str().unwrap(), "--format", "tsv", "--all"]);
    let kept: BTreeSet<String> = all.iter().filter(|r| r[1] == flow).map(|r| r[4].clone()).collect();
    assert_eq!(kept, stored_on_flow, "every threat TMT stored on the flow is kept");
    assert!(all.iter().filter(|r| r[1] == flow).all(|r| r[7] == "excluded"), "marked, not open");
    assert_eq!(open.len() + kept.len(), expected.lines().count() - 1, "nothing else changes");
    let summary = ok(&["check", out.to_str().unwrap(), "--fail-on", "critical"]);
    assert!(summary.contains(&format!("{} on out-of-scope elements", kept.len())), "{summary}");
    let report = ok(&["report", out.to_str().unwrap()]);
    assert!(report.contains("The element is out of scope; the threat is on record as"), "the report says why");
}

/// Cloud templates (AWS's among them) draw databases and storage as external interactors; such a
/// stencil is imported as a data store, by its type's name, with a warning, while the file's own
/// template still gives exactly the threats TMT stored.
#[test]
fn tmt_storage_stencils_drawn_as_external_interactors_import_as_data_stores() {
    let Some(shared) = shared("compat/tmt/sample_core_kb.tm7") else { return };
    let dir = tempfile::tempdir().unwrap();
    let xml = std::fs::read_to_string(shared.join("compat/tmt/sample_core_kb.tm7")).unwrap();
    let kb_name = "<a:Name>Generic External Interactor</a:Name><a:ParentId>ROOT";
    assert!(xml.contains(kb_name));
    let tm7 = dir.path().join("rds.tm7");
    std::fs::write(&tm7, xml.replace(kb_name, "<a:Name>Amazon RDS</a:Name><a:ParentId>ROOT")).unwrap();
    let out = dir.path().join("rds.threatmap.json");
    let o = run(&["import", "tm7", tm7.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("is an external interactor of type \"Amazon RDS\" in its template; imported as a data store"),
        "{}",
        stderr(&o)
    );
    let model: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let interactor = model["elements"].as_array().unwrap().iter().find(|e| e["name"] == "Generic External Interactor").unwrap();
    assert_eq!(interactor["kind"], "Datastore");
    assert_eq!(interactor["stereotype"], "GE.EI", "the template type is kept");
    let tsv = ok(&["findings", out.to_str().unwrap(), "--format", "tsv"]);
    let got: BTreeSet<(String, String)> =
        tsv.lines().skip(1).map(|l| l.split('\t').collect::<Vec<_>>()).map(|c| (c[4].to_owned(), c[1].to_owned())).collect();
    let expected = std::fs::read_to_string(shared.join("compat/tmt/sample_core_kb.expected.tsv")).unwrap();
    let want: BTreeSet<(String, String)> =
        expected.lines().skip(1).map(|l| l.split('\t').collect::<Vec<_>>()).map(|c| (c[0].to_owned(), c[1].to_owned())).collect();
    assert_eq!(got, want, "the template still reads the stencil by its type, as TMT does");
}
