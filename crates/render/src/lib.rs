//! Threatmap's diagrams and reports: everything that turns an analysed model into something to
//! look at, natively and offline (no Graphviz, Java or pandoc).
//!
//! - [`layout`]: the layered layout with trust boundaries as clusters;
//! - [`dfd`]: the data-flow diagram (scene, badges, SVG), shared with the app's canvas;
//! - [`seq`]: the sequence diagram;
//! - [`svg`]: SVG writing, escaping and PNG rasterisation with the bundled [`font`];
//! - [`pytm_text`]: DOT and PlantUML text in the shapes pytm emits, for existing pipelines;
//! - [`report`]: the self-contained HTML report and pytm's Markdown templates;
//! - [`sqldump`]: the model and findings as an SQLite database;
//! - [`export`]: findings and decisions for trackers (SARIF, DefectDojo, CSV, JSON);
//! - [`portfolio`]: every application's model summed up in one dashboard (HTML, JSON, CSV).
//!
//! Every output is deterministic (same model, same bytes) and escapes everything a user types.

pub mod dfd;
pub mod export;
pub mod font;
pub mod layout;
pub mod portfolio;
pub mod pytm_text;
pub mod report;
pub mod seq;
pub mod sqldump;
pub mod svg;
pub mod template;

/// Errors from rendering.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The SVG could not be parsed for rasterisation (a bug: our SVG should always parse).
    #[error("cannot rasterise the SVG: {0}")]
    Svg(String),
    /// The image is too large to allocate.
    #[error("image of {0}x{1} pixels is too large")]
    TooLarge(u32, u32),
    /// PNG encoding failed.
    #[error("cannot encode PNG: {0}")]
    Png(String),
}

/// An attribute value as report text: booleans as yes/no, enums by member name.
pub(crate) fn value_text(v: &threatmap_core::attr::Value<'_>) -> String {
    use threatmap_core::attr::Value;
    match v {
        Value::None => String::new(),
        Value::Bool(b) => if *b { "yes" } else { "no" }.to_owned(),
        Value::Int(i) => i.to_string(),
        Value::Str(s) => (*s).to_owned(),
        Value::Enum(e) => e.member().to_owned(),
        _ => String::new(),
    }
}
