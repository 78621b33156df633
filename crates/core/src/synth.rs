//! Synthetic models in the shape of pytm's benchmark generator (`gen_pytm_model.py`): N nodes
//! (actors, servers, processes, data stores, lambdas), 1.5·N flows (a quarter of them
//! responses), N/20 boundaries (a third nested), N/10 data items, random controls, 5 % out of
//! scope, some assumptions and overrides. For benchmarks and tests; deterministic per seed.

use crate::attr::{Classification, DatastoreType, Kind, Lifetime, TlsVersion};
use crate::model::{Assumption, Controls, DataItem, Element, Model, Override};

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
        // Threatmap's own controls are left out: the model stays the one pytm's generator makes.
        if def.ty == crate::attr::Ty::Bool && !crate::model::THREATMAP_CONTROLS.contains(&def.name) && rng.chance(p) {
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
            e.assumptions.push(Assumption {
                name: format!("assumption on {}", e.name),
                exclude: vec![rng.pick(&ids).into(), rng.pick(&ids).into()],
                ..Default::default()
            });
        }
        if rng.chance(0.03) {
            e.overrides.insert(
                rng.pick(&["AC01", "DO02", "INP08"]).into(),
                Override { response: Some("mitigated".into()), cvss: Some("5.0".into()), ..Default::default() },
            );
        }
        m.elements.push(e);
    }
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
    m
}

/// The reference data folder beside the project (`$THREATMAP_SHARED`, else `../shared`), for
/// benchmarks that read other tools' files.
pub fn shared_dir() -> std::path::PathBuf {
    std::env::var_os("THREATMAP_SHARED")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"))
}

/// The median wall time of `runs` calls of `f`, for benchmark summaries.
pub fn median_time(mut f: impl FnMut(), runs: usize) -> std::time::Duration {
    let mut t: Vec<std::time::Duration> = (0..runs.max(1))
        .map(|_| {
            let s = std::time::Instant::now();
            f();
            s.elapsed()
        })
        .collect();
    t.sort();
    t[t.len() / 2]
}
