//! The condition language: Python semantics on the model, load-time path checking, evidence,
//! and robustness against hostile input.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;
use common::shared;

use std::time::{Duration, Instant};

use threatmap_core::attr::{Kind, KindSet, Value};
use threatmap_core::engine::Prepared;
use threatmap_core::expr::{Condition, Observed};
use threatmap_core::file;
use threatmap_core::model::Model;

fn model() -> Model {
    file::parse(
        r#"{
          "threatmap": 1,
          "name": "t",
          "data": [
            {"id": "token", "name": "Token", "classification": "SECRET", "isCredentials": true},
            {"id": "page", "name": "Page", "format": "JSON", "classification": "PUBLIC", "isStored": true}
          ],
          "elements": [
            {"id": "net", "kind": "Boundary", "name": "Internet"},
            {"id": "dmz", "kind": "Boundary", "name": "DMZ"},
            {"id": "user", "kind": "Actor", "name": "User", "inBoundary": "net", "data": ["token"]},
            {"id": "web", "kind": "Server", "name": "Web", "inBoundary": "dmz", "protocol": "HTTPS", "port": 443,
             "minTLSVersion": "TLSv12", "maxClassification": "SECRET", "controls": {"isEncrypted": true, "isEncryptedAtRest": true}},
            {"id": "job", "kind": "SetOfProcesses", "name": "Workers", "inBoundary": "dmz"},
            {"id": "db", "kind": "Datastore", "name": "DB"},
            {"id": "f1", "kind": "Dataflow", "name": "Login", "source": "user", "sink": "web", "tlsVersion": "TLSv11", "data": ["page"]},
            {"id": "f2", "kind": "Dataflow", "name": "Reply", "source": "web", "sink": "user", "isResponse": true},
            {"id": "f3", "kind": "Dataflow", "name": "Store", "source": "web", "sink": "db", "protocol": "MySQL", "data": ["page"]}
          ]
        }"#,
        "t.json",
    )
    .unwrap()
}

fn idx(p: &Prepared<'_>, id: &str) -> u32 {
    p.index_of(id).unwrap()
}

fn holds(cond: &str, targets: KindSet, on: &str) -> bool {
    let m = model();
    let p = Prepared::new(&m);
    let c = Condition::compile(cond, targets).unwrap_or_else(|e| panic!("{cond}: {e}"));
    c.holds(&p, idx(&p, on))
}

const FLOW: KindSet = Kind::Dataflow.set();
const SERVER: KindSet = Kind::Server.set();

#[test]
fn python_truthiness_identity_and_comparisons() {
    assert!(holds("target.controls.isEncrypted is True", SERVER, "web"));
    assert!(holds("target.controls.sanitizesInput is False", SERVER, "web"));
    assert!(!holds("target.protocol is True", SERVER, "web"), "`is True` needs a real bool");
    assert!(holds("target.protocol", SERVER, "web"), "non-empty strings are truthy");
    assert!(!holds("target.OS", SERVER, "web"), "empty strings are falsy");
    assert!(holds("target.port == 443 and target.port >= 443 and target.port < 444", SERVER, "web"));
    assert!(holds("440 < target.port < 444", SERVER, "web"), "chained comparisons");
    assert!(!holds("440 < target.port < 443", SERVER, "web"));
    assert!(holds("target.protocol != 'HTTP' and target.protocol in ('HTTPS', 'TLS')", SERVER, "web"));
    assert!(holds("'TTP' in target.protocol", SERVER, "web"), "substring test");
    assert!(holds("target.protocol not in ('HTTP',)", SERVER, "web"));
    assert!(holds("target.minTLSVersion > TLSVersion.TLSv11", SERVER, "web"), "ordered enums compare");
    assert!(holds("target.maxClassification == Classification.SECRET", SERVER, "web"));
    assert!(holds("not target.controls.sanitizesInput", SERVER, "web"));
    assert!(holds("target.inBoundary is not None and target.inBoundary.name == 'DMZ'", SERVER, "web"));
    assert!(holds("target.description == '' and len(target.description) == 0", SERVER, "web"));
}

#[test]
fn or_and_return_values_and_short_circuit() {
    // `or` short-circuits: the failing right side is never evaluated.
    assert!(holds("target.controls.isEncrypted or target.usesCache", KindSet::ALL, "web"));
    // The right side raises on a flow (no usesCache): the whole condition is false, as in pytm.
    assert!(!holds("target.controls.isHardened or target.usesCache", FLOW.with(SERVER), "f1"));
    assert!(holds("(target.protocol or 'none') == 'HTTPS'", SERVER, "web"));
}

#[test]
fn flows_take_pytm_defaults_only_where_unset() {
    // f1 has no protocol: it takes its sink's; f3 keeps its own.
    assert!(holds("target.protocol == 'HTTPS' and target.dstPort == 443", FLOW, "f1"));
    assert!(holds("target.protocol == 'MySQL'", FLOW, "f3"));
    // isEncrypted comes from the sink for requests and from the source for responses.
    assert!(holds("target.controls.isEncrypted is True", FLOW, "f1"));
    assert!(holds("target.controls.isEncrypted is True and target.isResponse", FLOW, "f2"));
    // A flow carries its source's data too.
    assert!(holds("'Token' in target.data and 'Page' in target.data", FLOW, "f1"));
    assert!(holds(
        "any(d.isCredentials for d in target.data) and all(d.classification >= Classification.PUBLIC for d in target.data)",
        FLOW,
        "f1"
    ));
    // Stored data takes encryption at rest from the endpoints.
    assert!(holds("any(d.isSourceEncryptedAtRest for d in target.data)", FLOW, "f3"));
    // Credentials without a lifetime get UNKNOWN.
    assert!(holds("any(d.credentialsLife == Lifetime.UNKNOWN for d in target.data)", FLOW, "f1"));
    // Responses pair with the one reverse flow.
    assert!(holds("target.responseTo.name == 'Login'", FLOW, "f2"));
    assert!(holds("target.response.name == 'Reply'", FLOW, "f1"));
}

#[test]
fn element_helpers() {
    assert!(holds("target.sink.oneOf(Server, Datastore)", FLOW, "f1"));
    assert!(holds("target.oneOf(Process)", KindSet::PROCESSES, "job"), "Process matches SetOfProcesses");
    assert!(holds("target.inside('DMZ') and not target.inside('net')", SERVER, "web"));
    assert!(holds("target.crosses(Boundary) and target.crosses('net')", FLOW, "f1"));
    assert!(!holds("target.enters('dmz')", FLOW, "f1"), "the source is inside a boundary");
    assert!(holds("target.exits('dmz')", FLOW, "f3"));
    assert!(holds("target.checkTLSVersion(target.inputs)", SERVER, "web"), "TLSv11 input below TLSv12 minimum");
    assert!(holds("target.hasDataLeaks()", FLOW, "f1"), "SECRET token above the user's UNKNOWN clearance");
    assert!(holds("len(target.inputs) == 1 and len(target.outputs) == 1", SERVER, "web"), "responses are not inputs");
}

#[test]
fn runtime_attribute_errors_make_the_condition_false() {
    // usesCache is a Server attribute; on a Process it raises, so the condition is false.
    assert!(!holds("target.usesCache is False", KindSet::PROCESSES.with(SERVER), "job"));
    assert!(holds("target.usesCache is False", KindSet::PROCESSES.with(SERVER), "web"));
    assert!(!holds("target.inBoundary.name == 'x'", Kind::Datastore.set(), "db"), "attribute of None");
    assert!(!holds("target.protocol < 3", SERVER, "web"), "type errors");
}

#[test]
fn load_time_diagnostics_name_the_column() {
    let err = |c: &str, k: KindSet| Condition::compile(c, k).unwrap_err();
    let e = err("target.controls.sanitizesInput is False or target.usesCach is True", SERVER);
    assert_eq!(e.column, 51, "{e}");
    assert!(e.message.contains("did you mean `usesCache`"), "{e}");
    let e = err("target.usesCache is True", Kind::Datastore.set());
    assert!(e.message.contains("belongs to Server"), "{e}");
    let e = err("target.sanitizesInput is False", SERVER);
    assert!(e.message.contains("controls.sanitizesInput"), "{e}");
    let e = err("target.controls.sanitizeInput is False", SERVER);
    assert!(e.message.contains("did you mean `sanitizesInput`"), "{e}");
    let e = err("any(d.formt == 'XML' for d in target.data)", FLOW);
    assert!(e.message.contains("did you mean `format`"), "{e}");
    assert!(err("Lifetime.FOREVER == target.x", FLOW).message.contains("not a member of Lifetime"));
    assert!(err("target.oneOff(Server)", FLOW).message.contains("did you mean `oneOf`"));
}

#[test]
fn hostile_input_is_rejected_quickly() {
    let deep_parens = format!("{}True{}", "(".repeat(100_000), ")".repeat(100_000));
    let deep_not = "not ".repeat(100_000) + "True";
    let long_or = vec!["target.controls.isHardened"; 500].join(" or ");
    let huge_literal = format!("target.protocol == '{}'", "a".repeat(20_000));
    let huge_int = format!("target.port == {}", "9".repeat(400));
    let cases: Vec<String> = vec![
        "__import__('os').system('id')".into(),
        "target.__class__.__mro__".into(),
        "target.__dict__".into(),
        "9**9**9".into(),
        "target.port * 9".into(),
        "'unterminated".into(),
        "\"also unterminated".into(),
        "eval('1')".into(),
        "open('/etc/passwd')".into(),
        "lambda: 1".into(),
        "[x for x in target.data]".into(),
        "target.data[0]".into(),
        "{'a': 1}".into(),
        "target.name if True else 1".into(),
        "any(x for x in target.data if x)".into(),
        "f'{target}'".into(),
        "target.port == 0x10".into(),
        "\u{0}".into(),
        "()".into(),
        ")".into(),
        "target.".into(),
        "any(".into(),
        "not".into(),
        "target.controls.isHardened is".into(),
        deep_parens,
        deep_not,
        huge_literal,
        huge_int,
        "a".repeat(40_000),
    ];
    for c in &cases {
        let start = Instant::now();
        let r = std::panic::catch_unwind(|| Condition::compile(c, KindSet::ALL));
        let took = start.elapsed();
        let shown: String = c.chars().take(40).collect();
        assert!(r.is_ok(), "panicked on {shown:?}");
        assert!(took < Duration::from_secs(1), "{shown:?} took {took:?}");
        if let Ok(Ok(cond)) = r {
            // Whatever compiles must evaluate without panicking, within the budget.
            let m = model();
            let p = Prepared::new(&m);
            let _ = cond.holds(&p, 0);
            assert!(c.as_str() == "()", "{shown:?} should have been rejected");
        }
    }
    // A long but legitimate condition compiles and evaluates.
    let c = Condition::compile(&long_or, SERVER).unwrap();
    let m = model();
    let p = Prepared::new(&m);
    assert!(!c.holds(&p, idx(&p, "web")));
}

#[test]
fn random_strings_never_panic() {
    // A deterministic generator over the condition alphabet: errors are fine, panics and hangs
    // are not.
    let atoms = [
        "target", ".", "controls", "data", "sink", "(", ")", ",", " and ", " or ", " not ", " is ", " in ", "==", "<", "True", "None",
        "'x'", "1", "-", "any", "len", "for", "d", "[", "]", "Lifetime", "oneOf", "Boundary", "\"",
    ];
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let m = model();
    let p = Prepared::new(&m);
    for _ in 0..20_000 {
        let mut s = String::new();
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let n = (state % 24) as usize + 1;
        for _ in 0..n {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            s.push_str(atoms[(state % atoms.len() as u64) as usize]);
        }
        if let Ok(c) = Condition::compile(&s, KindSet::ALL) {
            for i in 0..m.elements.len() as u32 {
                let _ = c.holds(&p, i);
            }
        }
    }
}

#[test]
fn evaluation_is_bounded() {
    // A quadratic generator over many data items runs out of budget instead of hanging.
    let mut m = Model::new("big");
    let mut el = threatmap_core::model::Element::new("s", Kind::Server, "S");
    for i in 0..2_000 {
        m.data.push(threatmap_core::model::DataItem { id: format!("d{i}"), name: format!("D{i}"), ..Default::default() });
        el.data.push(format!("d{i}"));
    }
    m.elements.push(el);
    let p = Prepared::new(&m);
    let c = Condition::compile(
        "any(any(any(x.name == y.name == z.name == 'no' for z in target.data) for y in target.data) for x in target.data)",
        SERVER,
    )
    .unwrap();
    let start = Instant::now();
    assert!(c.evaluate(&p, 0).is_err());
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[test]
fn evidence_names_the_clauses_that_held() {
    let m = model();
    let p = Prepared::new(&m);
    let c = Condition::compile(
        "target.controls.validatesInput is True or (target.protocol == 'HTTPS' and any(d.isCredentials for d in target.data))",
        FLOW,
    )
    .unwrap();
    let ev = c.explain(&p, idx(&p, "f1"));
    let clauses: Vec<&str> = ev.iter().map(|e| e.clause.as_str()).collect();
    assert_eq!(clauses, ["target.protocol == 'HTTPS'", "d.isCredentials"], "{ev:?}");
    assert_eq!(ev[0].observed, [Observed { path: "target.protocol".into(), value: "\"HTTPS\"".into() }]);
    assert!(ev[1].observed.contains(&Observed { path: "d".into(), value: "Data(\"Token\")".into() }), "{ev:?}");
    let neg = Condition::compile("not target.controls.sanitizesInput", SERVER).unwrap();
    let ev = neg.explain(&p, idx(&p, "web"));
    assert_eq!(ev[0].clause, "not (target.controls.sanitizesInput)");
    assert_eq!(ev[0].observed[0].value, "False");
    assert!(matches!(neg.evaluate(&p, idx(&p, "web")), Ok(Value::Bool(true))));
}

#[test]
fn every_active_pytm_condition_compiles() {
    let Some(shared) = shared() else { return };
    let text = std::fs::read_to_string(shared.join("compat/pytm/threats.json")).unwrap();
    let entries: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    let mut active = 0;
    for e in &entries {
        if e.get("DEPRECATED").is_some() {
            continue;
        }
        active += 1;
        let targets = e["target"]
            .as_array()
            .unwrap()
            .iter()
            .fold(KindSet::EMPTY, |acc, t| acc.with(threatmap_core::attr::Class::from_name(t.as_str().unwrap()).unwrap().kinds()));
        let cond = e["condition"].as_str().unwrap();
        Condition::compile(cond, targets).unwrap_or_else(|err| panic!("{}: {err}: {cond}", e["SID"]));
    }
    assert_eq!(active, 113);
}
