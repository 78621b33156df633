//! The hostile-input corpus (`tests/hostile/`, described in its README): every loader and
//! importer gets malformed, oversized, deeply nested and malicious files, and must answer with a
//! clear error (file and position or element), exit 2, no panic, within the memory and time caps;
//! nothing is written. Files too big to commit (200 MB, 100k-deep nesting, 1 MB names) are made
//! here in a temporary folder.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use common::{example, root, stderr, stdout};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Address space a run may use (`ulimit -v`): an allocation beyond it aborts the run, which the
/// exit-code check then reports.
const MEMORY_CAP_KB: u64 = 512 * 1024;
/// Wall time a run may take (debug build).
const TIME_CAP: Duration = Duration::from_secs(10);

/// Runs `threatmap` under the caps; kills it at the time cap.
fn run_capped(args: &[&str]) -> (Output, Duration) {
    let started = Instant::now();
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -v {MEMORY_CAP_KB} && exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_threatmap"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if started.elapsed() > TIME_CAP {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let out = child.wait_with_output().unwrap();
    (out, started.elapsed())
}

/// The command that loads a file of the corpus folder `kind`, and the file it must not write.
fn command_for(kind: &str, file: &str, out: &Path) -> Vec<String> {
    let out = out.display().to_string();
    let v = |a: &[&str]| a.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    match kind {
        "model" => v(&["validate", file]),
        "pytm" | "tm7" | "threat-dragon" | "otm" => v(&["import", kind, file, "-o", &out]),
        "rules" => v(&["list", "--rules", file]),
        "template" => v(&["report", &example("web-app.threatmap.json"), "--template", file, "--format", "md", "-o", &out]),
        other => panic!("no loader for corpus folder {other}"),
    }
}

/// Loads `file` as `kind` and checks the answer: `code`, every needle and the file's name in
/// stderr, no panic, within the caps, and nothing written.
fn expect(kind: &str, file: &Path, code: i32, needles: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let f = file.display().to_string();
    let args = command_for(kind, &f, &out);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (o, took) = run_capped(&args);
    let err = stderr(&o);
    let name = file.file_name().unwrap().to_string_lossy();
    assert!(took < TIME_CAP, "{kind}/{name}: took {took:?} (cap {TIME_CAP:?})");
    assert_eq!(o.status.code(), Some(code), "{kind}/{name}: exit {:?}\nstdout: {}\nstderr: {err}", o.status, stdout(&o));
    assert!(!err.contains("panicked"), "{kind}/{name}: {err}");
    assert!(err.contains(&*name), "{kind}/{name}: the message must name the file:\n{err}");
    for n in needles {
        assert!(err.contains(n), "{kind}/{name}: stderr lacks {n:?}:\n{err}");
    }
    assert!(err.len() < 64 * 1024, "{kind}/{name}: {} bytes of messages", err.len());
    if code != 0 {
        assert!(!out.exists(), "{kind}/{name}: wrote output on failure");
    }
}

/// Every committed file of the corpus, with the exit code and the words its message must carry
/// (a position `line:col` where the format has one, else the element or the JSON path).
const CORPUS: &[(&str, i32, &[&str])] = &[
    ("model/truncated.threatmap.json", 2, &[":5:36:", "EOF while parsing"]),
    ("model/wrong-type.threatmap.json", 2, &[":5:", "Server \"Web\" (web)", "expected a boolean", "controls.isHardened"]),
    ("model/unknown-kind.threatmap.json", 2, &[":5:", "unknown value `Wizard` for `kind`"]),
    ("model/duplicate-ids.threatmap.json", 2, &["Datastore \"DB\" (web)", "duplicate id `web`"]),
    ("model/dangling-flow.threatmap.json", 2, &["Dataflow \"Login\" (login)", "sink `ghost` names no element"]),
    ("model/boundary-cycle.threatmap.json", 2, &["cycle: a → b → a"]),
    ("model/nul-byte.threatmap.json", 2, &[":3:15:", "control character"]),
    ("model/nul-in-name.threatmap.json", 2, &["(web)", "control characters"]),
    ("model/invalid-utf8.threatmap.json", 2, &[":3:20:", "not valid UTF-8"]),
    ("model/future-format.threatmap.json", 2, &["file format version 99 is not supported"]),
    ("pytm/truncated.json", 2, &[":1:1500:", "EOF while parsing"]),
    ("pytm/wrong-type.json", 2, &["`flows` must be a list, not an object"]),
    ("pytm/unknown-class.json", 2, &["elements[0] \"Gandalf\"", "unknown class `Wizard`"]),
    ("pytm/dangling-flow.json", 2, &["flows[0] \"Login\"", "sink \"Ghost\" names no element"]),
    ("pytm/dangling-boundary.json", 2, &["elements[0] \"Web\"", "inBoundary \"Nowhere\" names no boundary"]),
    ("pytm/duplicate-names.json", 0, &["2 elements are named \"User\"", "go to the first"]),
    ("pytm/invalid-utf8.json", 2, &[":1:12:", "not valid UTF-8"]),
    ("tm7/billion-laughs.tm7", 2, &[":1:1:", "declares a DTD"]),
    ("tm7/external-entity.tm7", 2, &[":1:1:", "declares a DTD"]),
    ("tm7/truncated.tm7", 2, &["not a readable .tm7 file"]),
    ("tm7/wrong-root.tm7", 2, &["the root element is <svg>"]),
    ("tm7/invalid-utf8.tm7", 2, &[":1:48:", "not valid UTF-8"]),
    ("tm7/nul-byte.tm7", 2, &[":1:14:", "non-XML character"]),
    ("threat-dragon/truncated.json", 2, &[":2:66:", "not valid JSON"]),
    ("threat-dragon/wrong-type.json", 2, &["diagram 1 (`D`)", "`cells` is missing or not a list"]),
    ("threat-dragon/duplicate-ids.json", 2, &["Datastore \"S\" (p)", "duplicate id `p`"]),
    // Threat Dragon's editor leaves flows with loose ends: one naming no cell is skipped with a
    // warning that names it, and the rest of the diagram is imported.
    ("threat-dragon/dangling-flow.json", 0, &["warning: flow f connects a cell that is not an element; skipped"]),
    ("threat-dragon/invalid-utf8.json", 2, &[":1:24:", "not valid UTF-8"]),
    ("otm/truncated.json", 2, &[":3:31:", "not valid JSON"]),
    ("otm/wrong-type.json", 2, &["`trustZones[0].id` must be a string"]),
    ("otm/dangling-flow.json", 2, &["Dataflow \"f\" (f)", "source `a` names no element"]),
    ("otm/duplicate-ids.json", 2, &["Datastore \"D\" (c)", "duplicate id `c`"]),
    ("otm/zone-cycle.json", 2, &["cycle: a → b → a"]),
    ("otm/nul-byte.json", 2, &[":1:47:", "control character"]),
    ("rules/truncated.toml", 2, &[":7:36:", "invalid rule file"]),
    ("rules/wrong-type.toml", 2, &[":4:1:", "unknown field `rule`"]),
    ("rules/nul-byte.toml", 2, &[":5:8:", "invalid rule file"]),
    ("rules/invalid-utf8.toml", 2, &[":2:16:", "not valid UTF-8"]),
    ("rules/threats-truncated.json", 2, &[":1:53:", "invalid JSON rule file"]),
    // Bad rules inside a readable file are reported and skipped; the good rules still load.
    (
        "rules/bad-rules-among-good.toml",
        0,
        &[
            ":12: rule SEV-1: unknown severity `Catastrophic`",
            ":20: rule GOOD-1: duplicate rule id",
            ":31:14: rule EVAL-1: `__import__`: dunder names are not allowed",
            ":39:14: rule OPEN-1: `open` is not a function conditions may call",
            ":47:21: rule LAMBDA-1:",
            ":55:39: rule DANGLING-1: expected a value",
        ],
    ),
    ("rules/threats-wrong-type.json", 0, &[":2: not a threat entry", ":3: not a threat entry"]),
    ("template/unterminated.md", 2, &[":3:1: template: unclosed `{`"]),
    ("template/unknown-field.md", 2, &[":3:1: template: TM has no attribute `nosuchfield`"]),
    ("template/bad-call.md", 2, &[":1:1: template: unknown report utility `__import__`"]),
    ("template/invalid-utf8.md", 2, &[":1:3:", "not valid UTF-8"]),
];

fn corpus_dir() -> PathBuf {
    root().join("tests/hostile")
}

#[test]
fn every_corpus_file_fails_clearly_within_the_caps() {
    for (path, code, needles) in CORPUS {
        let kind = path.split('/').next().unwrap();
        expect(kind, &corpus_dir().join(path), *code, needles);
    }
    // Good rules beside bad ones still run.
    let (o, _) = run_capped(&["list", "--rules", corpus_dir().join("rules/bad-rules-among-good.toml").to_str().unwrap()]);
    assert!(stdout(&o).contains("GOOD-1") && !stdout(&o).contains("EVAL-1"), "{}", stdout(&o));
}

#[test]
fn every_corpus_file_is_listed() {
    let mut files = Vec::new();
    for kind in std::fs::read_dir(corpus_dir()).unwrap() {
        let kind = kind.unwrap().path();
        if kind.is_dir() {
            for f in std::fs::read_dir(&kind).unwrap() {
                let f = f.unwrap().path();
                files.push(f.strip_prefix(corpus_dir()).unwrap().display().to_string());
            }
        }
    }
    files.sort();
    let mut listed: Vec<String> = CORPUS.iter().map(|(p, _, _)| (*p).to_owned()).collect();
    listed.sort();
    assert_eq!(files, listed, "tests/hostile and CORPUS must list the same files");
}

fn sparse(dir: &Path, name: &str, bytes: u64) -> PathBuf {
    let p = dir.join(name);
    std::fs::File::create(&p).unwrap().set_len(bytes).unwrap();
    p
}

fn written(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn inputs_of_200_mb_are_refused_before_they_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let big = 200 * 1024 * 1024;
    for (kind, name) in [
        ("model", "big.threatmap.json"),
        ("pytm", "big.json"),
        ("tm7", "big.tm7"),
        ("threat-dragon", "big-td.json"),
        ("otm", "big.otm.json"),
        ("rules", "big.toml"),
        ("template", "big.md"),
    ] {
        expect(kind, &sparse(d, name, big), 2, &["209715200 bytes", "the limit is 67108864"]);
    }
}

#[test]
fn nesting_100k_deep_is_refused_without_overflowing_the_stack() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let n = 100_000;
    // Typed loaders refuse the outer list at once; the others stop at serde_json's depth limit.
    let deep_json = format!("{}{}", "[".repeat(n), "]".repeat(n));
    // A model command and the pytm import see a list where a model is an object, and say so.
    for kind in ["model", "pytm"] {
        expect(kind, &written(d, &format!("deep-{kind}.json"), &deep_json), 2, &["JSON that is not an object"]);
    }
    for kind in ["threat-dragon", "otm"] {
        expect(kind, &written(d, &format!("deep-{kind}.json"), &deep_json), 2, &[":1:"]);
    }
    let deep_value = format!(
        "{{\"threatmap\": 1, \"name\": \"x\", \"elements\": [{{\"id\": \"a\", \"kind\": \"Server\", \"name\": \"A\", \"properties\": {{\"p\": {}{}}}}}]}}",
        "[".repeat(n),
        "]".repeat(n)
    );
    expect("model", &written(d, "deep-value.threatmap.json", &deep_value), 2, &[":1:"]);
    let deep_pytm = format!(
        "{{\"name\": \"x\", \"elements\": [{{\"name\": \"A\", \"__class__\": \"Server\", \"x\": {}{}}}]}}",
        "[".repeat(n),
        "]".repeat(n)
    );
    expect("pytm", &written(d, "deep-value.json", &deep_pytm), 2, &[":1:", "recursion limit exceeded"]);
    let deep_xml = format!("<ThreatModel><DrawingSurfaceList>{}{}</DrawingSurfaceList></ThreatModel>", "<a>".repeat(n), "</a>".repeat(n));
    expect("tm7", &written(d, "deep.tm7", &deep_xml), 2, &["no diagram"]);
    let deep_toml = format!("[pack]\nname = \"d\"\nx = {}{}\n", "[".repeat(n), "]".repeat(n));
    expect("rules", &written(d, "deep.toml", &deep_toml), 2, &[":3:", "recursion"]);
    let deep_json_rules = format!("[{}{}]", "[".repeat(n), "]".repeat(n));
    // In pytm's list of threats, a 100k-deep entry is one bad entry: reported and skipped.
    expect("rules", &written(d, "deep-threats.json", &deep_json_rules), 0, &[":1: not a threat entry"]);
    // A condition nested 100k deep is one bad rule: skipped, the pack loads.
    let rule = |cond: &str| {
        format!(
            "[pack]\nname = \"d\"\n\n[[rule]]\nid = \"D-1\"\ntargets = [\"Server\"]\ncondition = \"{cond}\"\nseverity = \"High\"\nmitigations = []\nreferences = []\n"
        )
    };
    expect(
        "rules",
        &written(d, "deep-condition.toml", &rule(&format!("{}True{}", "(".repeat(n), ")".repeat(n)))),
        0,
        &["rule D-1", "limit"],
    );
    // Within the length limit, nesting beyond the depth limit is refused by the parser.
    expect(
        "rules",
        &written(d, "nested-condition.toml", &rule(&format!("{}True{}", "(".repeat(5000), ")".repeat(5000)))),
        0,
        &["rule D-1", "nested"],
    );
    expect("template", &written(d, "deep.md", &"{tm.findings:repeat:".repeat(n)), 2, &[":1:1: template: unclosed `{`"]);
}

#[test]
fn inputs_past_the_other_caps_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // 16 MB of empty XML elements: under the file cap, over the .tm7 node cap.
    let many = format!("<ThreatModel>{}</ThreatModel>", "<a/>".repeat(4_000_001));
    expect("tm7", &written(d, "many-nodes.tm7", &many), 2, &["more than 4000000 XML nodes"]);
    // A 3 MB body repeated for each of the example's findings: over the report cap.
    let big = format!("{{findings:repeat:{}}}", "x".repeat(3_000_000));
    expect("template", &written(d, "big-output.md", &big), 2, &[":1:1: template: report larger than 128 MiB"]);
}

#[test]
fn names_of_1_mb_are_refused_with_a_short_message() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let name = "N".repeat(1 << 20);
    let model =
        format!("{{\"threatmap\": 1, \"name\": \"m\", \"elements\": [{{\"id\": \"a\", \"kind\": \"Server\", \"name\": \"{name}\"}}]}}");
    expect("model", &written(d, "long.threatmap.json", &model), 2, &["the name is 1048576 characters long; the limit is 1024"]);
    let pytm = format!("{{\"name\": \"m\", \"elements\": [{{\"name\": \"{name}\", \"__class__\": \"Server\"}}], \"flows\": []}}");
    expect("pytm", &written(d, "long.json", &pytm), 2, &["characters long; the limit is 1024"]);
    let td = format!(
        "{{\"summary\": {{\"title\": \"T\"}}, \"detail\": {{\"diagrams\": [{{\"title\": \"D\", \"cells\": [{{\"id\": \"p\", \"shape\": \"process\", \"position\": {{\"x\": 0, \"y\": 0}}, \"size\": {{\"width\": 100, \"height\": 100}}, \"data\": {{\"type\": \"tm.Process\", \"name\": \"{name}\"}}}}]}}]}}}}"
    );
    expect("threat-dragon", &written(d, "long-td.json", &td), 2, &["the name is 1048576 characters long"]);
    let otm = format!(
        "{{\"otmVersion\": \"0.2.0\", \"project\": {{\"name\": \"x\", \"id\": \"x\"}}, \"trustZones\": [{{\"id\": \"z\", \"name\": \"Z\", \"risk\": {{\"trustRating\": 1}}}}], \"components\": [{{\"id\": \"{name}\", \"name\": \"C\", \"type\": \"web-service\", \"parent\": {{\"trustZone\": \"z\"}}}}]}}"
    );
    expect("otm", &written(d, "long.otm.json", &otm), 2, &["the id is 1048576 characters long"]);
}

#[test]
fn tm7_with_duplicate_or_dangling_guids_or_a_1_mb_name() {
    let Some(shared) = common::shared("compat/tmt/simple_line_boundary.tm7") else { return };
    let real = std::fs::read_to_string(shared.join("compat/tmt/simple_line_boundary.tm7")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (start, end) = (real.find("<DrawingSurfaceList").unwrap(), real.find("</DrawingSurfaceList>").unwrap());
    let surface = &real[start..end];
    // The process takes the external entity's GUID: two elements with one id.
    let (user, web) = ("b6775541-6516-4bc2-bb98-2d9914d8450c", "6b9ff635-5548-4571-8a65-87c3b3a77b70");
    assert!(surface.contains(user) && surface.contains(web));
    let dup = format!("{}{}{}", &real[..start], surface.replace(web, user), &real[end..]);
    expect("tm7", &written(d, "dup.tm7", &dup), 2, &[&format!("Process \"Web Application\" ({user})"), "duplicate id"]);
    // A connector whose end names no stencil: TMT allows loose connectors, so the flow is left
    // out with a warning naming it and the rest is imported.
    let dangling = real.replacen(&format!(">{web}</SourceGuid>"), ">11111111-2222-3333-4444-555555555555</SourceGuid>", 1);
    assert_ne!(dangling, real);
    expect("tm7", &written(d, "dangling.tm7", &dangling), 0, &["is not connected at both ends in the diagram; it is left out"]);
    // A stencil named with 1 MB of text.
    let named = "xmlns:c=\"http://www.w3.org/2001/XMLSchema\">Web Application</b:Value>";
    assert!(real.contains(named));
    let long = real.replacen(named, &named.replace("Web Application", &"W".repeat(1 << 20)), 1);
    expect("tm7", &written(d, "long-name.tm7", &long), 2, &["the name is 1048576 characters long; the limit is 1024"]);
}
