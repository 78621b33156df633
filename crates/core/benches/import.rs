//! Import benchmarks on real files from `$THREATMAP_SHARED/compat`: Microsoft TMT `.tm7`
//! (both samples, and a 2 MB file made from the core-KB sample by repeating its diagram with
//! fresh element GUIDs, as a large real model would be), Threat Dragon's demo, and the native
//! loader on a 10,000-node synthetic model, and pytm's JSON of a 2,000-node one. Prints a summary of medians at the end.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use threatmap_core::engine::{Options, analyze};
use threatmap_core::rules::RuleSet;
use threatmap_core::synth::{median_time, shared_dir};
use threatmap_core::{file, pytm, synth, threat_dragon, tmt};

/// The GUIDs used as element keys in `surface` (`<a:Key>GUID</a:Key>`) and the surface's own.
fn element_guids(surface: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for tag in ["<a:Key>", "Abstracts\">"] {
        let mut rest = surface;
        while let Some(i) = rest.find(tag) {
            rest = &rest[i + tag.len()..];
            let g = &rest[..rest.len().min(36)];
            if g.len() == 36 && g.chars().all(|c| c.is_ascii_hexdigit() || c == '-') && g.matches('-').count() == 4 {
                out.insert(g.to_owned());
            }
        }
    }
    out
}

/// The sample with its diagram repeated until the file reaches `bytes`; each copy's element
/// GUIDs get a copy number in their first four digits so every element stays distinct.
fn enlarged(tm7: &str, bytes: usize) -> String {
    let (start, end) = (tm7.find("<DrawingSurfaceModel").unwrap(), tm7.find("</DrawingSurfaceList>").unwrap());
    let surface = &tm7[start..end];
    let guids = element_guids(surface);
    let mut copies = String::new();
    let mut k = 1u32;
    while tm7.len() + copies.len() < bytes {
        let mut copy = surface.to_owned();
        for g in &guids {
            copy = copy.replace(g.as_str(), &format!("{k:04x}{}", &g[4..]));
        }
        copies.push_str(&copy);
        k += 1;
    }
    format!("{}{copies}{}", &tm7[..end], &tm7[end..])
}

fn bench(c: &mut Criterion) {
    let mut summary = Vec::new();
    let mut group = c.benchmark_group("import");
    group.sample_size(10);
    let core = std::fs::read_to_string(shared_dir().join("compat/tmt/sample_core_kb.tm7")).ok();
    let line = std::fs::read_to_string(shared_dir().join("compat/tmt/simple_line_boundary.tm7")).ok();
    let big = core.as_deref().map(|t| enlarged(t, 2 * 1024 * 1024));
    for (name, text) in [("tm7_core_kb", &core), ("tm7_line_boundary", &line), ("tm7_2mb", &big)] {
        let Some(text) = text else {
            eprintln!("{name}: TMT samples not found in {}; set THREATMAP_SHARED", shared_dir().display());
            continue;
        };
        let converted = tmt::import(text, "bench.tm7", "bench", "bench.template.toml").unwrap();
        group.bench_function(name, |b| b.iter(|| black_box(tmt::import(text, "bench.tm7", "bench", "bench.template.toml").unwrap())));
        let t = median_time(|| drop(black_box(tmt::import(text, "bench.tm7", "bench", "bench.template.toml").unwrap())), 5);
        summary.push(format!(
            "{name:<20} {:>6.2} MB, {:>4} elements, {:>4} template rules: {:>7.1} ms",
            text.len() as f64 / 1e6,
            converted.model.elements.len(),
            converted.pack.matches("[[rule]]").count(),
            t.as_secs_f64() * 1e3
        ));
    }
    if let Ok(td) = std::fs::read_to_string(shared_dir().join("compat/threat-dragon/v2-threat-model.json")) {
        group.bench_function("threat_dragon_demo", |b| b.iter(|| black_box(threat_dragon::import(&td, "td.json").unwrap())));
        let t = median_time(|| drop(black_box(threat_dragon::import(&td, "td.json").unwrap())), 9);
        summary.push(format!("{:<20} {:>6.2} MB: {:>7.1} ms", "threat_dragon_demo", td.len() as f64 / 1e6, t.as_secs_f64() * 1e3));
    }
    let native = file::to_canonical_json(&synth::synthetic(10_000, 42));
    group.bench_function("native_load/10000", |b| b.iter(|| black_box(file::parse(&native, "m.json").unwrap())));
    let t = median_time(|| drop(black_box(file::parse(&native, "m.json").unwrap())), 5);
    summary.push(format!(
        "{:<20} {:>6.2} MB: {:>7.1} ms (parse and check)",
        "native_load/10000",
        native.len() as f64 / 1e6,
        t.as_secs_f64() * 1e3
    ));
    // pytm's JSON as pytm writes it (every node under `elements` and again under `actors`
    // and `assets`), without findings: a synthetic 2,000-node model through the pytm writer.
    let model = synth::synthetic(2_000, 42);
    let mut pytm_json = Vec::new();
    pytm::write_json(&analyze(&model, &RuleSet::new(), &Options::default()), &mut pytm_json).unwrap();
    let pytm_json = String::from_utf8(pytm_json).unwrap();
    group.bench_function("pytm_json/2000", |b| b.iter(|| black_box(pytm::import(&pytm_json, "pytm.json").unwrap())));
    let t = median_time(|| drop(black_box(pytm::import(&pytm_json, "pytm.json").unwrap())), 5);
    summary.push(format!(
        "{:<20} {:>6.2} MB: {:>7.1} ms (parse, build and check)",
        "pytm_json/2000",
        pytm_json.len() as f64 / 1e6,
        t.as_secs_f64() * 1e3
    ));
    group.finish();
    println!("\nThreatmap imports, medians:");
    for line in summary {
        println!("  {line}");
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
