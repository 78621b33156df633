//! Threatmap's core: the threat model and the rule engine.
//!
//! Data flows one way: a [`model::Model`] (loaded from a native file or imported from pytm) is
//! prepared with pytm's pre-rule defaults, the [`rules`] turn it into findings, and the render
//! and app crates show them. Nothing here draws, opens windows or touches the network; rule
//! conditions are data, evaluated by [`expr`] with no code execution and bounded time.

pub mod artefacts;
pub mod attr;
pub mod diff;
pub mod engine;
pub mod expr;
pub mod file;
pub mod lifecycle;
pub mod model;
pub mod otm;
pub mod pytm;
pub mod pytm_script;
pub mod rules;
pub mod shape;
pub mod synth;
pub mod templates;
pub mod threat_dragon;
pub mod tm_bom;
pub mod tmt;

/// The JSON Schema of the native model file, generated from the model types. The copy in
/// `assets/threatmap.schema.json` is checked against it by the tests.
pub fn schema_json() -> String {
    let schema = schemars::schema_for!(model::Model);
    serde_json::to_string_pretty(&schema).unwrap_or_default()
}
