//! Renderings of a [`Report`]: text ([`Report::render_text`]), a text chart and SVG
//! ([`Report::render_svg`]). One place for presentation; the model knows nothing of it. Every
//! rendering returns a string: writing files is the caller's.

mod chart;
mod svg;
mod text;
pub(crate) mod units;

use crate::model::Report;

pub use chart::text_chart;

impl Report {
    /// An SVG chart: one panel per resource with the samples, the warm-up shaded and the fitted
    /// slope drawn over the part after the warm-up.
    pub fn render_svg(&self) -> String {
        svg::render(self)
    }

    /// The report as pretty-printed JSON (the versioned shape of [`crate::SCHEMA_VERSION`]).
    pub fn render_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }
}
