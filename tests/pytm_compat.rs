//! Compatibility with OWASP pytm 1.4.0: for every golden model in `$THREATMAP_SHARED/compat/pytm`
//! (default `../shared` beside the project), importing pytm's `out.json` and running pytm's own
//! `threats.json` must give exactly pytm's (target, threat id) findings and excluded findings,
//! with and without `--exclude INP03,DE01`. Skipped, loudly, when the folder is absent.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use threatmap_core::attr::Kind;
use threatmap_core::engine::{Options, analyze};
use threatmap_core::model::{Element, Model};
use threatmap_core::pytm;
use threatmap_core::rules::RuleSet;

fn shared() -> Option<PathBuf> {
    let dir = std::env::var_os("THREATMAP_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"));
    if dir.join("compat/pytm/threats.json").is_file() {
        Some(dir)
    } else {
        eprintln!("SKIPPED: pytm compatibility data not found at {} (set THREATMAP_SHARED)", dir.display());
        None
    }
}

type Pairs = BTreeMap<(String, String), usize>;

/// (target, threat id) multisets of findings and excluded findings in a findings TSV.
fn read_tsv(path: &Path) -> (Pairs, Pairs) {
    let text = std::fs::read_to_string(path).unwrap();
    let (mut found, mut excluded) = (Pairs::new(), Pairs::new());
    for line in text.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let key = (cols[1].to_owned(), cols[3].to_owned());
        let bucket = if cols[6] == "finding" { &mut found } else { &mut excluded };
        *bucket.entry(key).or_default() += 1;
    }
    (found, excluded)
}

fn run(model_dir: &Path, threats: &Path, exclude: &[&str]) -> (Pairs, Pairs) {
    let text = std::fs::read_to_string(model_dir.join("out.json")).unwrap();
    let imported = pytm::import(&text, "out.json").unwrap_or_else(|e| panic!("{e}"));
    run_model(&imported.model, threats, exclude)
}

fn run_model(model: &Model, threats: &Path, exclude: &[&str]) -> (Pairs, Pairs) {
    let mut rules = RuleSet::new();
    rules.add_file(threats).unwrap();
    assert!(rules.diagnostics.is_empty(), "{:?}", rules.diagnostics);
    assert_eq!(rules.rules.len(), 113, "all active pytm threats load");
    let options = Options { exclude: exclude.iter().map(|s| (*s).to_owned()).collect() };
    let analysis = analyze(model, &rules, &options);
    let pairs = |list: &[threatmap_core::engine::Finding]| {
        let mut out = Pairs::new();
        for f in list {
            let key = (analysis.prepared.element(f.element).name.clone(), analysis.rule(f).id.clone());
            *out.entry(key).or_default() += 1;
        }
        out
    };
    (pairs(&analysis.findings), pairs(&analysis.excluded))
}

/// pytm's golden findings files and the `--exclude` each was made with.
const GOLDENS: [(&str, &[&str]); 2] = [("findings.tsv", &[]), ("findings_exclude_INP03_DE01.tsv", &["INP03", "DE01"])];

/// Fails, listing the differences, unless the findings and excluded findings are pytm's.
fn assert_same(what: &str, (found, excluded): (&Pairs, &Pairs), (want_found, want_excluded): (&Pairs, &Pairs)) {
    let mut problems = diff("finding", found, want_found);
    problems.extend(diff("excluded", excluded, want_excluded));
    assert!(problems.is_empty(), "{what}:\n{}", problems.join("\n"));
}

fn diff(what: &str, got: &Pairs, want: &Pairs) -> Vec<String> {
    let mut out = Vec::new();
    for (k, n) in want {
        if got.get(k) != Some(n) {
            out.push(format!("{what}: missing {k:?} (pytm {n}, ours {})", got.get(k).unwrap_or(&0)));
        }
    }
    for (k, n) in got {
        if !want.contains_key(k) {
            out.push(format!("{what}: extra {k:?} ({n})"));
        }
    }
    out
}

#[test]
fn pytm_goldens_give_the_same_findings() {
    let Some(shared) = shared() else { return };
    let threats = shared.join("compat/pytm/threats.json");
    let mut models = 0;
    let mut compared = 0;
    for entry in std::fs::read_dir(shared.join("compat/pytm/models")).unwrap() {
        let dir = entry.unwrap().path();
        if !dir.join("out.json").is_file() {
            continue;
        }
        models += 1;
        for (tsv, exclude) in GOLDENS {
            let (want_found, want_excluded) = read_tsv(&dir.join(tsv));
            let (found, excluded) = run(&dir, &threats, exclude);
            assert_same(&format!("{} {tsv}", dir.display()), (&found, &excluded), (&want_found, &want_excluded));
            compared += want_found.values().sum::<usize>() + want_excluded.values().sum::<usize>();
        }
    }
    assert!(models >= 2, "expected the pytm golden models");
    eprintln!("pytm compatibility: {models} models, {compared} findings matched");
}

/// Our `json` output has pytm's shape and values: the same keys in the same order for every
/// element, flow, boundary and data item, and the same values (pytm's goldens, model `tm`,
/// where explicit `processedBy` in the script is the only thing a JSON import cannot carry).
#[test]
fn json_output_matches_pytm_out_json() {
    let Some(shared) = shared() else { return };
    let dir = shared.join("compat/pytm/models/tm");
    let text = std::fs::read_to_string(dir.join("out.json")).unwrap();
    let imported = pytm::import(&text, "out.json").unwrap();
    let mut rules = RuleSet::new();
    rules.add_file(&shared.join("compat/pytm/threats.json")).unwrap();
    let analysis = analyze(&imported.model, &rules, &Options::default());
    let mut ours = Vec::new();
    pytm::write_json(&analysis, &mut ours).unwrap();
    let ours: serde_json::Value = serde_json::from_slice(&ours).unwrap();
    let theirs: serde_json::Value = serde_json::from_str(&text).unwrap();
    let keys = |v: &serde_json::Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&ours), keys(&theirs));
    let mut compared = 0;
    for section in ["actors", "assets", "boundaries", "elements", "flows", "data"] {
        let by_name = |v: &serde_json::Value| {
            v[section].as_array().unwrap().iter().map(|e| (e["name"].as_str().unwrap().to_owned(), e.clone())).collect::<BTreeMap<_, _>>()
        };
        let (a, b) = (by_name(&ours), by_name(&theirs));
        assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>(), "{section}");
        for (name, x) in &a {
            let y = &b[name];
            assert_eq!(keys(x), keys(y), "{section} {name}: key order");
            for k in keys(x) {
                if k == "findings" || (k == "processedBy" && name == "User ID Token") {
                    continue;
                }
                assert_eq!(x[&k], y[&k], "{section} {name}: {k}");
                compared += 1;
            }
        }
    }
    assert_eq!(ours["findings"].as_array().unwrap().len(), theirs["findings"].as_array().unwrap().len());
    eprintln!("pytm json: {compared} values identical");
}

/// A pytm script read directly (never run) gives the model its `--json` output gives, except
/// for what pytm 1.4.0 loses before writing that JSON: flows' protocol and ports (which it
/// overwrites with their endpoints', where Threatmap keeps what the script says), attributes
/// that are not pytm's (which its JSON leaves out), and what it derives (flow order and levels,
/// which Threatmap derives too). With the flow values reset as pytm 1.4.0 resets them, the
/// findings are pytm's exactly.
#[test]
fn pytm_scripts_read_directly_import_as_their_json_output() {
    let Some(shared) = shared() else { return };
    let threats = shared.join("compat/pytm/threats.json");
    let overwritten = ["protocol", "dstPort", "srcPort"];
    let mut models = 0;
    for entry in std::fs::read_dir(shared.join("compat/pytm/models")).unwrap() {
        let dir = entry.unwrap().path();
        let (Ok(script), Ok(json)) = (std::fs::read_to_string(dir.join("model.py")), std::fs::read_to_string(dir.join("out.json"))) else {
            continue;
        };
        models += 1;
        let from_script = pytm::import(&script, "model.py").unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let from_json = pytm::import(&json, "out.json").unwrap();
        let (s, j) = (serde_json::to_value(&from_script.model).unwrap(), serde_json::to_value(&from_json.model).unwrap());
        for key in s.as_object().unwrap().keys().filter(|k| *k != "elements") {
            assert_eq!(s[key], j[key], "{}: model `{key}`", dir.display());
        }
        let (se, je) = (s["elements"].as_array().unwrap(), j["elements"].as_array().unwrap());
        let ids = |v: &[serde_json::Value]| v.iter().map(|e| e["id"].as_str().unwrap().to_owned()).collect::<Vec<_>>();
        assert_eq!(ids(se), ids(je), "{}: the same elements, in the same order", dir.display());
        let mut kept = 0;
        for (a, b) in se.iter().zip(je) {
            let flow = a["kind"] == "Dataflow";
            let keys: std::collections::BTreeSet<&String> = a.as_object().unwrap().keys().chain(b.as_object().unwrap().keys()).collect();
            for key in keys {
                if a[key] == b[key] {
                    continue;
                }
                let lost_by_pytm =
                    (flow && overwritten.contains(&key.as_str()) && b[key].is_null()) || (key == "properties" && b[key].is_null());
                let derived = flow && (key == "order" || key == "levels") && a[key].is_null();
                assert!(
                    lost_by_pytm || derived,
                    "{} {}: `{key}` is {} from the script, {} from the JSON",
                    dir.display(),
                    a["id"],
                    a[key],
                    b[key]
                );
                kept += usize::from(lost_by_pytm);
            }
        }
        if dir.ends_with("tm") {
            assert!(kept >= 11, "tm.py's flow protocols and ports are kept ({kept} values)");
            let flow = from_script.model.elements.iter().find(|e| e.name == "User enters comments (*)").unwrap();
            assert_eq!(serde_json::to_value(flow).unwrap()["protocol"], "HTTP");
        }
        // pytm 1.4.0's findings come from the flows as it resets them.
        let mut as_pytm = from_script.model.clone();
        for el in as_pytm.elements.iter_mut().filter(|e| e.kind == Kind::Dataflow) {
            for name in overwritten {
                el.clear(Element::attribute(name).unwrap().key);
            }
        }
        for (tsv, exclude) in GOLDENS {
            let (want_found, want_excluded) = read_tsv(&dir.join(tsv));
            let (found, excluded) = run_model(&as_pytm, &threats, exclude);
            assert_same(&format!("{} (script) {tsv}", dir.display()), (&found, &excluded), (&want_found, &want_excluded));
        }
    }
    assert!(models >= 2, "expected the pytm golden models with their scripts");
}

/// A Python that has pytm (`$THREATMAP_PYTM_PYTHON`, else `python3` if it imports pytm).
fn pytm_python() -> Option<PathBuf> {
    let candidates = std::env::var_os("THREATMAP_PYTM_PYTHON").map(PathBuf::from).into_iter().chain([PathBuf::from("python3")]);
    for python in candidates {
        let has_pytm = std::process::Command::new(&python)
            .args(["-c", "import pytm"])
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if has_pytm {
            return Some(python);
        }
    }
    assert!(std::env::var_os("THREATMAP_REQUIRE_PYTM").is_none(), "THREATMAP_REQUIRE_PYTM is set but no Python with pytm was found");
    eprintln!("SKIPPED: running exported scripts in pytm (no Python with pytm; set THREATMAP_PYTM_PYTHON)");
    None
}

/// The model as pytm 1.4.0 sees it: it overwrites a flow's protocol, ports, levels and some
/// controls with its endpoints' (Threatmap fills them only where unset), so they are unset here.
fn as_pytm_1_4(model: &Model) -> Model {
    use threatmap_core::model::Controls;
    let mut m = model.clone();
    for el in m.elements.iter_mut().filter(|e| e.kind == Kind::Dataflow) {
        for name in ["protocol", "dstPort", "srcPort", "levels"] {
            el.clear(Element::attribute(name).unwrap().key);
        }
        for name in ["isEncrypted", "authenticatesDestination", "checksDestinationRevocation"] {
            el.controls.clear(Controls::attribute(name).unwrap().key);
        }
    }
    m
}

/// `export --format pytm` writes a script that Threatmap reads back to the same model, and that
/// pytm 1.4.0 runs with the findings Threatmap gives the model with pytm's threat library.
#[test]
fn exported_pytm_scripts_read_back_and_run_in_pytm_with_the_same_findings() {
    let Some(shared) = shared() else { return };
    let threats = shared.join("compat/pytm/threats.json");
    let python = pytm_python();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut models: Vec<(String, Model)> = Vec::new();
    for name in ["tm", "test_dfd_model"] {
        let text = std::fs::read_to_string(shared.join("compat/pytm/models").join(name).join("out.json")).unwrap();
        models.push((name.to_owned(), pytm::import(&text, "out.json").unwrap().model));
    }
    for name in ["web-app", "iot-board"] {
        let path = root.join(format!("assets/examples/{name}.threatmap.json"));
        models.push((name.to_owned(), threatmap_core::file::load(&path).unwrap()));
    }
    let dir = tempfile::tempdir().unwrap();
    let mut ran = 0;
    for (name, model) in &models {
        let (script, lost) = threatmap_core::pytm_script::write(model);
        let back = pytm::import(&script, "tm.py").unwrap_or_else(|e| panic!("{name}: {e}\n{script}"));
        let ours = run_model(model, &threats, &[]);
        assert_eq!(run_model(&back.model, &threats, &[]), ours, "{name}: the script read back gives the same findings");
        if name == "tm" || name == "test_dfd_model" {
            // Ids come from names on both sides: the very same model.
            assert_eq!(back.model, *model, "{name}: read back whole");
            assert!(lost.is_empty(), "{name}: {lost:?}");
        } else {
            let names = |m: &Model| m.elements.iter().map(|e| (e.kind, e.name.clone())).collect::<Vec<_>>();
            assert_eq!(names(&back.model), names(model), "{name}");
            assert_eq!(lost.iter().any(|l| l.contains("layout")), !model.layout.is_empty(), "{name}: {lost:?}");
            if name == "web-app" {
                assert!(lost.iter().any(|l| l.contains("GEN-INJ-06") && l.contains("exclude nothing")), "{lost:?}");
            }
        }
        let Some(python) = &python else { continue };
        let file = dir.path().join(format!("{name}.py"));
        std::fs::write(&file, &script).unwrap();
        let out = dir.path().join(format!("{name}.out.json"));
        let run = std::process::Command::new(python)
            .arg(&file)
            .arg("--json")
            .arg(&out)
            .env("PYTHONHASHSEED", "0")
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(run.status.success(), "{name}: pytm failed:\n{}", String::from_utf8_lossy(&run.stderr));
        let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
        let mut theirs = Pairs::new();
        for f in json["findings"].as_array().unwrap() {
            *theirs.entry((f["target"].as_str().unwrap().to_owned(), f["threat_id"].as_str().unwrap().to_owned())).or_default() += 1;
        }
        let (want, _) = run_model(&as_pytm_1_4(model), &threats, &[]);
        let problems = diff("finding", &theirs, &want);
        assert!(problems.is_empty(), "{name}: pytm's findings on the exported script:\n{}", problems.join("\n"));
        ran += 1;
    }
    if python.is_some() {
        eprintln!("pytm ran {ran} exported scripts with Threatmap's findings");
    }
}

/// pytm's levels are diagrams: `Level N` shows what pytm's `--dfd --levels N` draws (the nodes
/// its DOT declares and those its edges name, which Graphviz draws too).
#[test]
fn pytm_levels_are_diagrams_that_show_what_pytm_draws_on_each_level() {
    use std::collections::BTreeSet;
    use threatmap_render::dfd::{DfdOptions, Scene};
    let Some(shared) = shared() else { return };
    let dir = shared.join("compat/pytm/models/tm");
    let model = pytm::import(&std::fs::read_to_string(dir.join("model.py")).unwrap(), "model.py").unwrap().model;
    let diagrams: Vec<(&str, Option<u32>)> = model.diagrams.iter().map(|d| (d.name.as_str(), d.level)).collect();
    assert_eq!(diagrams, [("Level 0", Some(0)), ("Level 1", Some(1)), ("Level 2", Some(2))]);
    let squash = |s: &str| s.chars().filter(char::is_ascii_alphanumeric).flat_map(char::to_lowercase).collect::<String>();
    let rules = RuleSet::new();
    let a = analyze(&model, &rules, &Options::default());
    for level in 0..3u32 {
        let dot = std::fs::read_to_string(dir.join(format!("dfd_levels_{level}.dot"))).unwrap();
        // pytm names a DOT node `kind_Name_hash`.
        let name_of = |id: &str| id.split_once('_').and_then(|(_, rest)| rest.rsplit_once('_')).map(|(n, _)| squash(n));
        let mut want = BTreeSet::new();
        for line in dot.lines().map(str::trim) {
            if let Some((from, to)) = line.trim_end_matches(" [").split_once(" -> ") {
                want.extend([name_of(from), name_of(to)].into_iter().flatten());
            } else if let Some(id) = line.strip_suffix(" [").filter(|id| !id.contains(' ') && !["graph", "node", "edge"].contains(id)) {
                want.extend(name_of(id));
            }
        }
        assert!(!want.is_empty(), "Level {level}: pytm draws something");
        let scene = Scene::build(&a, &DfdOptions { diagram: Some(level as usize), ..DfdOptions::default() });
        let got: BTreeSet<String> = scene.nodes.iter().map(|n| squash(&model.elements[n.element as usize].name)).collect();
        assert_eq!(got, want, "Level {level}");
    }
}
