//! pytm's report template language, rendered over the example model's analysis.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;
use threatmap_core::engine::{Options, analyze};
use threatmap_core::model::Model;
use threatmap_core::rules::RuleSet;
use threatmap_render::template;

static MODEL: LazyLock<Model> = LazyLock::new(common::example);
static RULES: LazyLock<RuleSet> = LazyLock::new(common::builtin_rules);

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let analysis = analyze(&MODEL, &RULES, &Options::default());
    if let Ok(md) = template::render(text, &analysis) {
        let _ = template::markdown_to_html(&md);
    }
});
