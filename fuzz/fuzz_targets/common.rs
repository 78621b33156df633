//! Shared by the fuzz targets: the checks every importer's output must pass.
#![allow(dead_code)]

use threatmap_core::engine::{Options, analyze};
use threatmap_core::file;
use threatmap_core::model::Model;
use threatmap_core::rules::{BUILTIN_PACKS, RuleSet};
use threatmap_render::dfd::{DfdOptions, Diagram};

/// The example model the condition and template targets evaluate against.
pub const EXAMPLE: &str = include_str!("../../assets/examples/web-app.threatmap.json");

/// Every built-in pack.
pub fn builtin_rules() -> RuleSet {
    let mut rules = RuleSet::new();
    for p in BUILTIN_PACKS {
        rules.add_builtin(p.name);
    }
    rules
}

pub fn example() -> Model {
    match file::parse(EXAMPLE, "web-app.threatmap.json") {
        Ok(m) => m,
        Err(e) => panic!("bundled example does not load: {e}"),
    }
}

/// What every model that loaded or imported must survive: the built-in rules, the canonical
/// file (which must load back to the same model), and for small models the DFD drawing.
pub fn exercise(model: &Model) {
    let rules = builtin_rules();
    let analysis = analyze(model, &rules, &Options::default());
    let text = file::to_canonical_json(model);
    let back = match file::parse(&text, "canonical") {
        Ok(m) => m,
        Err(e) => panic!("canonical file of a loaded model does not load: {e}\n{text}"),
    };
    let again = file::to_canonical_json(&back);
    assert_eq!(text, again, "canonical form is not stable");
    if model.elements.len() <= 64 {
        let opts = DfdOptions { badges: true, ..DfdOptions::default() };
        let svg = Diagram::new(&analysis, &opts).to_svg(&analysis);
        assert!(svg.starts_with("<svg") || svg.starts_with("<?xml"), "not an SVG");
    }
}

/// What every import from another tool must survive: [`exercise`] on its model, and its
/// generated rule pack must load and run beside the built-in packs.
pub fn exercise_converted(converted: &threatmap_core::file::Converted) {
    exercise(&converted.model);
    let mut rules = builtin_rules();
    if let Err(e) = rules.add_text(&converted.pack, "pack.toml", "pack") {
        panic!("generated pack does not load: {e:?}\n{}", converted.pack);
    }
    let _ = analyze(&converted.model, &rules, &Options::default());
}
