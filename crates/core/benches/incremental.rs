//! Incremental analysis after an edit, as the desktop app runs it: one control of one server
//! toggled on synthetic models of 1,000 and 10,000 elements (`threatmap_core::synth`), the
//! built-in default packs. Prints the median of an edit's re-analysis beside a full run's, and
//! how many elements the edit evaluated again. Targets (the app's edit → badges): ≤ 2 ms at
//! 1,000 elements, ≤ 10 ms at 10,000.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use threatmap_core::attr::Kind;
use threatmap_core::engine::{Incremental, Options, analyze};
use threatmap_core::rules::{DEFAULT_PACKS, RuleSet};
use threatmap_core::synth::{median_time, synthetic};

fn bench(c: &mut Criterion) {
    let mut rules = RuleSet::new();
    for p in DEFAULT_PACKS {
        rules.add_builtin(p);
    }
    let mut summary = Vec::new();
    let mut group = c.benchmark_group("incremental");
    group.sample_size(10);
    for n in [1_000, 10_000] {
        let mut model = synthetic(n, 7);
        let k = model.elements.iter().position(|e| e.kind == Kind::Server).unwrap();
        let mut inc = Incremental::new();
        inc.analyze(&model, &rules, &Options::default());
        let mut flip = false;
        let mut edit = |model: &mut threatmap_core::model::Model, inc: &mut Incremental| {
            flip = !flip;
            model.elements[k].controls.sanitizes_input = Some(flip);
            black_box(inc.analyze(model, &rules, &Options::default()).findings.len())
        };
        group.bench_function(format!("edit/{n}"), |b| b.iter(|| edit(&mut model, &mut inc)));
        let t_edit = median_time(|| _ = edit(&mut model, &mut inc), 15);
        let evaluated = inc.evaluated;
        let t_full = median_time(|| _ = black_box(analyze(&model, &rules, &Options::default()).findings.len()), 7);
        summary.push(format!(
            "N={n:<6} elements={:<6} edit → findings {:>7.2} ms ({evaluated} element(s) evaluated again), full run {:>7.2} ms",
            model.elements.len(),
            t_edit.as_secs_f64() * 1e3,
            t_full.as_secs_f64() * 1e3
        ));
    }
    group.finish();
    println!("\nThreatmap incremental analysis, medians:");
    for line in summary {
        println!("  {line}");
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
