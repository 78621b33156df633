//! Rule files (native TOML and pytm's threats.json): load any text, then run what loaded over
//! the example model and render every finding's text.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;
use threatmap_core::engine::{Options, analyze};
use threatmap_core::model::Model;
use threatmap_core::rules::RuleSet;

static MODEL: LazyLock<Model> = LazyLock::new(common::example);

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut rules = RuleSet::new();
    if rules.add_text(text, "fuzz.toml", "fuzz").is_err() {
        return;
    }
    let analysis = analyze(&MODEL, &rules, &Options::default());
    for f in &analysis.findings {
        let _ = analysis.view(f);
        let _ = analysis.explain(f);
    }
});
