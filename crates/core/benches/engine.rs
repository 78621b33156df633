//! Rule engine benchmark on synthetic models shaped like `shared/bench/gen_pytm_model.py`:
//! N nodes (actors, servers, processes, data stores, lambdas), 1.5·N flows (a quarter of them
//! responses), N/20 boundaries (a third nested), N/10 data items, random controls, 5 % out of
//! scope, some assumptions and overrides.
//!
//! Runs pytm's 113 rules (from `$THREATMAP_SHARED/compat/pytm/threats.json`) and the built-in
//! packs, with and without pytm's `--json` output, and prints the peak heap of one full run.
//! Target at N = 10,000: under 0.5 s and 150 MB (pytm 1.4.0: 117 s and 1.09 GB).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use threatmap_core::attr::{Classification, DatastoreType, Kind, Lifetime, TlsVersion};
use threatmap_core::engine::{Options, analyze};
use threatmap_core::model::{Assumption, Controls, DataItem, Element, Model, Override};
use threatmap_core::rules::RuleSet;

/// Resident memory of this process from `/proc/self/status` (Linux): `(current, peak)` in bytes.
fn rss() -> Option<(u64, u64)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| {
        status.lines().find(|l| l.starts_with(name)).and_then(|l| l.split_whitespace().nth(1)).and_then(|kb| kb.parse::<u64>().ok()).map(|kb| kb * 1024)
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// Resets the peak-RSS mark (Linux `clear_refs` 5), so the next reading covers one run only.
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// xorshift64*: small, fast, deterministic.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

fn random_controls(rng: &mut Rng, p: f64) -> Controls {
    let mut c = Controls::default();
    for def in Controls::ATTRIBUTES {
        if def.ty == threatmap_core::attr::Ty::Bool && rng.chance(p) {
            let _ = c.set_json(def.key, &serde_json::Value::Bool(true));
        }
    }
    if rng.chance(0.3) {
        c.uses_encryption_algorithm = Some(rng.pick(&["AES", "RSA", "DES", ""]).to_owned());
    }
    c
}

/// A synthetic model with `n` nodes, in the shape of pytm's generator.
pub fn synthetic(n: usize, seed: u64) -> Model {
    let mut rng = Rng(seed.max(1));
    let mut m = Model::new(format!("synthetic model N={n}"));
    m.is_ordered = true;
    m.assumptions = vec![
        Assumption { name: "Synthetic assumption".into(), ..Default::default() },
        Assumption { name: "Global exclusion".into(), exclude: vec!["INP07".into()], ..Default::default() },
    ];
    let classes = Classification::MEMBERS;
    let tls = TlsVersion::MEMBERS;
    let protocols = ["HTTP", "HTTPS", "HTTPS", "MySQL", "SOAP", "IMAP", "SMTP", "gRPC", ""];
    let n_boundaries = (n / 20).max(2);
    for i in 0..n_boundaries {
        let mut b = Element::new(format!("b{i}"), Kind::Boundary, format!("Boundary {i}"));
        if i > 0 && rng.chance(0.33) {
            b.in_boundary = Some(format!("b{}", rng.below(i)));
        }
        m.elements.push(b);
    }
    for i in 0..(n / 10).max(5) {
        let creds = rng.chance(0.15);
        m.data.push(DataItem {
            id: format!("d{i}"),
            name: format!("Data {i}"),
            description: Some(format!("datum {i}")),
            format: Some(rng.pick(&["JSON", "XML", "CSV", "binary", ""]).to_owned()),
            classification: Some(rng.pick(classes)),
            is_pii: Some(rng.chance(0.2)),
            is_credentials: Some(creds),
            is_stored: Some(rng.chance(0.3)),
            credentials_life: creds.then(|| rng.pick(Lifetime::MEMBERS)),
            ..Default::default()
        });
    }
    let n_data = m.data.len();
    let kinds = [(Kind::Actor, 0.15), (Kind::Server, 0.30), (Kind::Process, 0.25), (Kind::Datastore, 0.18), (Kind::Lambda, 0.12)];
    for i in 0..n {
        let r = (rng.next() >> 11) as f64 / (1u64 << 53) as f64;
        let mut acc = 0.0;
        let mut kind = Kind::Lambda;
        for (k, w) in kinds {
            acc += w;
            if r < acc {
                kind = k;
                break;
            }
        }
        let mut e = Element::new(format!("n{i}"), kind, format!("{kind} {i}"));
        if rng.chance(0.85) {
            e.in_boundary = Some(format!("b{}", rng.below(n_boundaries)));
        }
        e.in_scope = Some(rng.chance(0.95));
        e.max_classification = Some(rng.pick(classes));
        e.min_tls_version = Some(rng.pick(tls));
        e.levels = Some(rng.pick(&[&[0u32][..], &[0], &[1], &[0, 1], &[2]]).to_vec());
        e.controls = random_controls(&mut rng, 0.5);
        if kind == Kind::Actor {
            e.is_admin = Some(rng.chance(0.2));
        } else {
            e.os = Some(rng.pick(&["Linux", "Windows", ""]).to_owned());
            e.uses_environment_variables = Some(rng.chance(0.3));
            e.protocol = Some(rng.pick(&protocols).to_owned());
            e.port = Some(rng.pick(&[-1, 80, 443, 3306, 8080]));
        }
        match kind {
            Kind::Server => {
                e.uses_session_tokens = Some(rng.chance(0.4));
                e.uses_cache = Some(rng.chance(0.3));
                e.uses_xml_parser = Some(rng.chance(0.3));
                e.uses_vpn = Some(rng.chance(0.2));
            }
            Kind::Process | Kind::Lambda => {
                e.implements_api = Some(rng.chance(0.4));
                e.environment = Some(rng.pick(&["Production", "Staging", ""]).to_owned());
                if kind == Kind::Process {
                    e.allows_client_side_scripting = Some(rng.chance(0.2));
                    for _ in 0..rng.below(3) {
                        e.data.push(format!("d{}", rng.below(n_data)));
                    }
                }
            }
            Kind::Datastore => {
                e.is_shared = Some(rng.chance(0.3));
                e.stores_pii = Some(rng.chance(0.3));
                e.datastore_type = Some(rng.pick(DatastoreType::MEMBERS));
            }
            _ => {}
        }
        if rng.chance(0.05) {
            let ids = ["INP03", "AA01", "AC01", "DO02", "CR05"];
            e.assumptions.push(Assumption { name: format!("assumption on {}", e.name), exclude: vec![rng.pick(&ids).into(), rng.pick(&ids).into()], ..Default::default() });
        }
        if rng.chance(0.03) {
            e.overrides.insert(rng.pick(&["AC01", "DO02", "INP08"]).into(), Override { response: Some("mitigated".into()), cvss: Some("5.0".into()), ..Default::default() });
        }
        m.elements.push(e);
    }
    let first_node = n_boundaries;
    let mut flows: Vec<(usize, usize)> = Vec::new();
    for i in 0..(n * 3 / 2) {
        let (s, t, req) = if !flows.is_empty() && rng.chance(0.25) {
            let r = rng.below(flows.len());
            (flows[r].1, flows[r].0, Some(r))
        } else {
            let s = rng.below(n);
            let mut t = rng.below(n);
            if t == s {
                t = (t + 1) % n;
            }
            (s, t, None)
        };
        let name = if req.is_some() { format!("Flow {i} (response)") } else { format!("Flow {i}") };
        let mut f = Element::flow(format!("f{i}"), name, format!("n{s}"), format!("n{t}"));
        f.response_to = req.map(|r| format!("f{r}"));
        f.protocol = Some(rng.pick(&protocols).to_owned());
        f.dst_port = Some(rng.pick(&[-1, 80, 443, 3306]));
        f.tls_version = Some(rng.pick(tls));
        f.uses_vpn = Some(rng.chance(0.2));
        f.uses_session_tokens = Some(rng.chance(0.3));
        f.max_classification = Some(rng.pick(classes));
        for _ in 0..rng.below(4) {
            f.data.push(format!("d{}", rng.below(n_data)));
        }
        f.controls = random_controls(&mut rng, 0.4);
        m.elements.push(f);
        flows.push((s, t));
    }
    let _ = first_node;
    m
}

fn rule_sets() -> Vec<(&'static str, RuleSet)> {
    let shared = std::env::var_os("THREATMAP_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"));
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
        .unwrap_or_else(|| vec![1_000, 10_000]);
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
