//! Rendering: templates -> Markdown -> HTML, figures, data tables.
//!
//! - [`render`]: the template environment, filters and the assembly of `index.html`, `report.md`,
//!   `figures/` and `data/`;
//! - [`markdown`]: Markdown with `$...$` math to self-contained HTML (MathML, inline SVG);
//! - [`figures`]: plotters SVG figures (line plots, heatmaps with contours);
//! - [`export`]: JSON/CSV of the data tables; [`format`]: number formatting.

pub mod export;
pub mod figures;
pub mod format;
pub mod markdown;
pub mod render;

pub use render::{render, write_report, RunInfo};
