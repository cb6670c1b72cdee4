//! Rendering: templates -> Markdown -> HTML with the figures inlined, data tables (the figures
//! themselves are drawn by the stages with [`crate::plot`]).
//!
//! - [`render`]: the template environment, filters and the assembly of `index.html`, `report.md`,
//!   `figures/` and `data/`;
//! - [`markdown`]: Markdown with `$...$` math to self-contained HTML (MathML, inline SVG);
//! - [`ledger`]: the claims as the summary table and the ledger show them;
//! - [`export`]: JSON/CSV of the data tables; [`format`]: number formatting;
//! - [`outdir`]: the report directory, written aside and swapped in as a unit under a lock.

pub mod export;
pub mod format;
pub mod ledger;
pub mod markdown;
pub mod outdir;
pub mod render;

pub use render::{render, write_report, write_report_with, RunInfo};
