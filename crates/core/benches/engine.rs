//! Rule engine benchmark on synthetic models shaped like `shared/bench/gen_pytm_model.py`:
//! N nodes (actors, servers, processes, data stores, lambdas), 1.5·N flows (a quarter of them
//! responses), N/20 boundaries (a third nested), N/10 data items, random controls, 5 % out of
//! scope, some assumptions and overrides.
//!
//! Runs pytm's 113 rules (from `$THREATMAP_SHARED/compat/pytm/threats.json`) and the built-in
//! packs, with and without pytm's `--json` output, and prints the peak heap of one full run.
//! Sizes 1,000, 10,000 and 50,000 (`THREATMAP_BENCH_SIZES` overrides). Target at N = 10,000:
//! under 0.5 s and 150 MB (pytm 1.4.0 on the same shape: 73 s and 1.06 GB, see BENCHMARKS.md).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use threatmap_core::engine::{Options, analyze};
use threatmap_core::rules::RuleSet;
use threatmap_core::synth::synthetic;

/// Resident memory of this process from `/proc/self/status` (Linux): `(current, peak)` in bytes.
fn rss() -> Option<(u64, u64)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<u64>().ok())
            .map(|kb| kb * 1024)
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// Resets the peak-RSS mark (Linux `clear_refs` 5), so the next reading covers one run only.
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

fn rule_sets() -> Vec<(&'static str, RuleSet)> {
    let shared = threatmap_core::synth::shared_dir();
    let mut out = Vec::new();
    let mut pytm = RuleSet::new();
    match pytm.add_file(&shared.join("compat/pytm/threats.json")) {
        Ok(()) => out.push(("pytm-113", pytm)),
        Err(e) => eprintln!("pytm rules not found ({e}); set THREATMAP_SHARED to benchmark them"),
    }
    let mut builtin = RuleSet::new();
    builtin.add_builtin("general");
    builtin.add_builtin("stride-interactions");
    out.push(("general+stride", builtin));
    out
}

fn bench(c: &mut Criterion) {
    let sizes: Vec<usize> = std::env::var("THREATMAP_BENCH_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1_000, 10_000, 50_000]);
    let sets = rule_sets();
    let mut summary = Vec::new();
    for &n in &sizes {
        let model = synthetic(n, 42);
        for (name, rules) in &sets {
            let mut group = c.benchmark_group(format!("{name}/N={n}"));
            group.sample_size(10);
            group.bench_function("rules", |b| b.iter(|| black_box(analyze(&model, rules, &Options::default()).findings.len())));
            group.bench_function("rules+pytm-json", |b| {
                b.iter(|| {
                    let a = analyze(&model, rules, &Options::default());
                    let mut sink = std::io::sink();
                    threatmap_core::pytm::write_json(&a, &mut sink).ok();
                    black_box(a.findings.len())
                })
            });
            group.finish();

            // One measured run: wall time, findings, bytes of JSON, peak resident memory.
            let reset = reset_peak();
            let start = Instant::now();
            let a = analyze(&model, rules, &Options::default());
            let mut counter = CountingWriter(0);
            threatmap_core::pytm::write_json(&a, &mut counter).ok();
            let took = start.elapsed();
            let memory = match rss() {
                Some((_, peak)) if reset => format!("peak RSS={:>6.1} MB", peak as f64 / 1e6),
                _ => "peak RSS=n/a".to_owned(),
            };
            summary.push(format!(
                "{name:<15} N={n:<6} flows={:<6} findings={:<8} json={:>7.1} MB  time={:>7.3} s  {memory} (process, model included)",
                n * 3 / 2,
                a.findings.len(),
                counter.0 as f64 / 1e6,
                took.as_secs_f64(),
            ));
        }
    }
    println!("\nThreatmap rule engine, one full run (rules + pytm --json to a counting sink):");
    for line in summary {
        println!("  {line}");
    }
}

struct CountingWriter(usize);
impl std::io::Write for CountingWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
