//! Rendering benchmarks on synthetic models (`threatmap_core::synth`) of 50, 200 and 1,000
//! nodes: DFD layout + SVG, the HTML report, and pytm's advanced report template. Prints a
//! summary of medians at the end. Targets: the report at 1,000 nodes well under 1 s (pytm
//! needs 296 s for 50 nodes). The layout alone, against Graphviz, is `benches/layout.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use threatmap_core::engine::{Options, analyze};
use threatmap_core::rules::RuleSet;
use threatmap_core::synth::{median_time, shared_dir, synthetic};
use threatmap_render::dfd::{DfdOptions, Diagram};
use threatmap_render::{report, seq, template};

fn bench(c: &mut Criterion) {
    let mut rules = RuleSet::new();
    assert!(rules.add_builtin("general"));
    assert!(rules.add_builtin("stride-interactions"));
    let mut pytm_rules = RuleSet::new();
    let threats = shared_dir().join("compat/pytm/threats.json");
    let have_pytm = pytm_rules.add_file(&threats).is_ok();
    let tpl = std::fs::read_to_string(shared_dir().join("compat/pytm/templates/advanced_template.md")).ok();
    let mut summary = Vec::new();
    let mut group = c.benchmark_group("render");
    group.sample_size(10);
    for n in [50usize, 200, 1000] {
        let model = synthetic(n, 42);
        let a = analyze(&model, &rules, &Options::default());
        let opts = DfdOptions { badges: true, auto_layout: true, ..DfdOptions::default() };
        group.bench_function(format!("dfd_layout_svg/{n}"), |b| b.iter(|| black_box(Diagram::new(&a, &opts).to_svg(&a))));
        let d = median_time(|| drop(black_box(Diagram::new(&a, &opts).to_svg(&a))), 5);
        let s = median_time(|| drop(black_box(seq::svg(&a))), 5);
        summary.push(format!("N={n:>5}: DFD layout+SVG {:>8.1} ms, sequence SVG {:>6.1} ms", d.as_secs_f64() * 1e3, s.as_secs_f64() * 1e3));
        if n == 1000 {
            group.bench_function("report_html/1000", |b| b.iter(|| black_box(report::html(&a))));
            let r = median_time(|| drop(black_box(report::html(&a))), 5);
            let bytes = report::html(&a).len();
            summary.push(format!(
                "N= 1000: HTML report {:>8.1} ms ({:.1} MB, {} findings)",
                r.as_secs_f64() * 1e3,
                bytes as f64 / 1e6,
                a.findings.len()
            ));
            if let (true, Some(tpl)) = (have_pytm, tpl.as_deref()) {
                let pa = analyze(&model, &pytm_rules, &Options::default());
                group.bench_function("pytm_template_md/1000", |b| b.iter(|| black_box(template::render(tpl, &pa).unwrap())));
                let t = median_time(|| drop(black_box(template::render(tpl, &pa).unwrap())), 5);
                let h = median_time(|| drop(black_box(report::markdown_page("m", &template::render(tpl, &pa).unwrap()))), 3);
                summary.push(format!(
                    "N= 1000: pytm advanced template {:>6.1} ms to Markdown, {:>6.1} ms to HTML ({} findings)",
                    t.as_secs_f64() * 1e3,
                    h.as_secs_f64() * 1e3,
                    pa.findings.len()
                ));
            }
        }
    }
    group.finish();
    println!("\nThreatmap rendering, medians:");
    for l in summary {
        println!("  {l}");
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
