//! The built-in rule packs and the native model file.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;
use common::shared;

use std::collections::BTreeSet;
use std::path::PathBuf;

use threatmap_core::attr::Kind;
use threatmap_core::engine::{Options, Prepared, analyze};
use threatmap_core::file;
use threatmap_core::model::{Element, Model};
use threatmap_core::rules::{BUILTIN_PACKS, RuleSet, Stride};

fn pack(name: &str) -> RuleSet {
    let mut set = RuleSet::new();
    assert!(set.add_builtin(name));
    set
}

/// A model with one default element of every node kind, plus flows between them that cross a
/// boundary, so every path a rule may read exists.
fn every_kind() -> Model {
    let mut m = Model::new("every kind");
    m.elements.push(Element::new("b", Kind::Boundary, "B"));
    let nodes: Vec<Kind> = Kind::ALL.into_iter().filter(|k| k.is_node()).collect();
    for k in &nodes {
        let mut e = Element::new(k.name().to_lowercase(), *k, k.name());
        if *k != Kind::Actor {
            e.in_boundary = Some("b".into());
        }
        m.elements.push(e);
    }
    for (i, s) in nodes.iter().enumerate() {
        let t = nodes[(i + 1) % nodes.len()];
        let id = format!("f{i}");
        m.elements.push(Element::flow(id.clone(), id, s.name().to_lowercase(), t.name().to_lowercase()));
    }
    assert!(file::check(&m).iter().all(|p| p.level != file::Level::Error));
    m
}

#[test]
fn builtin_packs_load_cleanly_and_are_complete() {
    for p in BUILTIN_PACKS {
        let set = pack(p.name);
        assert!(set.diagnostics.is_empty(), "{}: {:?}", p.name, set.diagnostics);
        assert!(!set.rules.is_empty());
        for r in &set.rules {
            assert!(!r.description.is_empty(), "{} has no description", r.id);
            assert!(!r.mitigations.is_empty(), "{} has no mitigations", r.id);
            assert!(!r.references.is_empty(), "{} has no references", r.id);
            // LINDDUN's Non-repudiation, Unawareness and Non-compliance have no STRIDE counterpart.
            let privacy_only = ["LINDDUN: Non-repudiation", "LINDDUN: Unawareness", "LINDDUN: Non-compliance"];
            if !r.references.iter().any(|x| privacy_only.contains(&x.as_str())) {
                assert!(!r.stride.is_empty(), "{} has no STRIDE category", r.id);
            }
            assert!(!r.likelihood.is_empty(), "{} has no likelihood", r.id);
        }
    }
    let mut all = RuleSet::new();
    for p in BUILTIN_PACKS {
        all.add_builtin(p.name);
    }
    assert!(all.diagnostics.is_empty(), "rule ids are unique across packs: {:?}", all.diagnostics);
}

#[test]
fn builtin_conditions_read_only_attributes_their_targets_have() {
    // pytm treats a missing attribute as "false"; our own rules must never rely on that.
    let m = every_kind();
    let p = Prepared::new(&m);
    for pk in BUILTIN_PACKS {
        for r in &pack(pk.name).rules {
            for (i, e) in m.elements.iter().enumerate() {
                if r.targets.contains(e.kind) {
                    let v = r.condition.evaluate(&p, i as u32);
                    assert!(v.is_ok(), "{} on a default {}: {:?}", r.id, e.kind, v);
                }
            }
        }
    }
}

#[test]
fn general_pack_gives_stride_threats_to_actors_stores_and_boundary_flows() {
    let m = every_kind();
    let rules = pack("general");
    let a = analyze(&m, &rules, &Options::default());
    let kinds: BTreeSet<Kind> = a.findings.iter().map(|f| a.prepared.element(f.element).kind).collect();
    for k in [
        Kind::Actor,
        Kind::ExternalEntity,
        Kind::Datastore,
        Kind::Dataflow,
        Kind::Server,
        Kind::Process,
        Kind::Lambda,
        Kind::Llm,
        Kind::Agent,
    ] {
        assert!(kinds.contains(&k), "no finding on a {k}");
    }
    let crossing = a.findings.iter().any(|f| a.rule(f).id == "GEN-TB-01");
    assert!(crossing, "flows that cross a boundary get a tampering threat");
    let categories: BTreeSet<Stride> = rules.rules.iter().flat_map(|r| r.stride.iter().copied()).collect();
    assert_eq!(categories.len(), 6, "all six STRIDE categories are covered");
}

#[test]
fn general_pack_covers_every_capec_and_cwe_pytm_cites() {
    let Some(shared) = shared() else { return };
    let text = std::fs::read_to_string(shared.join("compat/pytm/threats.json")).unwrap();
    let entries: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    let mut wanted = BTreeSet::new();
    for e in entries.iter().filter(|e| e.get("DEPRECATED").is_none()) {
        let refs = e["references"].as_str().unwrap_or("");
        for (marker, prefix) in [("capec.mitre.org/data/definitions/", "CAPEC"), ("cwe.mitre.org/data/definitions/", "CWE")] {
            for part in refs.split(marker).skip(1) {
                let n: String = part.chars().take_while(char::is_ascii_digit).collect();
                if !n.is_empty() {
                    wanted.insert(format!("{prefix}-{n}"));
                }
            }
        }
    }
    let ours: BTreeSet<String> = pack("general").rules.iter().flat_map(|r| r.references.iter().cloned()).collect();
    let missing: Vec<&String> = wanted.iter().filter(|w| !ours.contains(*w)).collect();
    assert!(missing.is_empty(), "general pack lacks {missing:?}");
    assert!(wanted.len() > 150, "expected pytm's ~97 CAPEC and ~90 CWE ids, got {}", wanted.len());
}

#[test]
fn save_and_load_are_inverse_and_canonical() {
    let dir = tempfile::tempdir().unwrap();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../assets/examples");
    for name in ["web-app.threatmap.json", "iot-board.threatmap.json"] {
        let original = std::fs::read_to_string(root.join(name)).unwrap();
        let model = file::load(&root.join(name)).unwrap();
        let path = dir.path().join(name);
        file::save(&model, &path).unwrap();
        let saved = std::fs::read_to_string(&path).unwrap();
        assert_eq!(saved, original, "{name}: examples are stored canonically");
        assert_eq!(file::load(&path).unwrap(), model, "{name}: load(save(m)) == m");
    }
    // Moving a shape touches only the layout section.
    let mut m = file::load(&root.join("web-app.threatmap.json")).unwrap();
    let before = file::to_canonical_json(&m);
    m.layout.insert(
        "web".into(),
        threatmap_core::model::Placement { x: 10.0, y: 20.0, width: Some(120.0), height: Some(60.0), line: Vec::new() },
    );
    let after = file::to_canonical_json(&m);
    let strip = |t: &str| {
        let mut v: serde_json::Value = serde_json::from_str(t).unwrap();
        v.as_object_mut().unwrap().remove("layout");
        v
    };
    assert_ne!(before, after);
    assert_eq!(strip(&before), strip(&after), "only the layout section changed");
    // Renaming keeps the id, so references survive.
    let el = m.elements.iter_mut().find(|e| e.id == "web").unwrap();
    el.name = "Front end".into();
    assert!(file::check(&m).iter().all(|p| p.level != file::Level::Error));
}

#[test]
fn out_of_scope_elements_get_no_findings() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../assets/examples");
    let mut m = file::load(&root.join("web-app.threatmap.json")).unwrap();
    let mut rules = pack("general");
    rules.add_builtin("stride-interactions");
    let on_web = |m: &Model| {
        let a = analyze(m, &rules, &Options::default());
        a.findings.iter().filter(|f| a.prepared.element(f.element).id == "web").count()
    };
    assert!(on_web(&m) > 0);
    m.elements.iter_mut().find(|e| e.id == "web").unwrap().in_scope = Some(false);
    assert_eq!(on_web(&m), 0);
}

#[test]
fn atomic_save_leaves_no_temporary_files_and_replaces_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.threatmap.json");
    let mut m = Model::new("first");
    file::save(&m, &path).unwrap();
    m.name = "second".into();
    file::save(&m, &path).unwrap();
    assert_eq!(file::load(&path).unwrap().name, "second");
    let names: Vec<String> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(names, ["m.threatmap.json"]);
    // A save into a directory that does not exist fails and leaves nothing behind.
    assert!(file::save(&m, &dir.path().join("missing/m.json")).is_err());
}

#[test]
fn deep_or_huge_json_is_an_error_not_a_crash() {
    let deep = format!("{{\"threatmap\": 1, \"name\": \"x\", \"elements\": {}{}}}", "[".repeat(100_000), "]".repeat(100_000));
    let e = file::parse(&deep, "deep.json").unwrap_err();
    assert!(e.to_string().contains("deep.json:1:"), "{e}");
    let long_name = "n".repeat(1 << 20);
    let big = format!(
        "{{\"threatmap\": 1, \"name\": \"{long_name}\", \"elements\": [{{\"id\": \"a\", \"kind\": \"Actor\", \"name\": \"{long_name}\"}}]}}"
    );
    // Element names are capped; the message quotes a short piece of the name.
    let e = file::parse(&big, "big.json").unwrap_err().to_string();
    assert!(e.contains("the name is 1048576 characters long; the limit is 1024") && e.len() < 500, "{}", &e[..e.len().min(500)]);
}

#[test]
fn threatmap_controls_are_declared_controls() {
    for name in threatmap_core::model::THREATMAP_CONTROLS {
        assert!(threatmap_core::model::Controls::attribute(name).is_some(), "{name} is not a control");
    }
}

#[test]
fn builtin_pack_titles_are_the_packs_own() {
    for p in BUILTIN_PACKS {
        let head = p.text.split("[[rule]]").next().unwrap_or_default();
        assert!(head.contains(&format!("name = \"{}\"", p.name)), "{}", p.name);
        assert!(head.contains(&format!("title = \"{}\"", p.title)), "{}: title {:?}", p.name, p.title);
    }
}
