//! Rendering: templates -> Markdown -> HTML, figures, data tables.

pub mod figures;
pub mod markdown;
