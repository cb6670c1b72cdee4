//! What a stage produces: a JSON summary for the templates and downstream stages, data tables,
//! SVG figures, and the paper's claims it checked.

use serde::{Deserialize, Serialize};

/// The output of one stage, stored in the cache as JSON.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Artifact {
    /// Everything the chapter template and downstream stages read (`stages.NAME` in templates).
    pub summary: serde_json::Value,
    /// Machine-readable tables, written to `data/NAME.json` and `data/NAME.csv`.
    pub tables: Vec<DataTable>,
    /// Figures, written to `figures/NAME.svg` and inlined in the HTML.
    pub figures: Vec<Figure>,
    /// Claims of the paper this stage checked, gathered into the report's ledger.
    pub claims: Vec<Claim>,
}

/// A table exported with the report.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct DataTable {
    /// File stem: `data/{name}.json` and `data/{name}.csv`.
    pub name: String,
    /// One JSON object per row. CSV columns are the keys in first-seen order; nested values are
    /// written as JSON text.
    pub rows: Vec<serde_json::Value>,
    /// If set, the JSON file is an object `{ key: rows, ...extra }` instead of a bare array.
    pub json_key: Option<String>,
    /// Extra top-level fields of the JSON object (only with `json_key`).
    #[serde(default)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// An SVG figure.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Figure {
    /// File stem, unique across the report: `figures/{name}.svg`. Use `stage-what`.
    pub name: String,
    /// Caption (Markdown, may contain `$...$` math). The number is added by the report.
    pub caption: String,
    /// The SVG document.
    pub svg: String,
}

/// Outcome of checking one claim of the paper.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ClaimStatus {
    /// The pre-stated criterion holds.
    Reproduced,
    /// The data contradict the claim by the pre-stated criterion.
    NotReproduced,
    /// The data were measured but cannot decide (e.g. a confidence interval that straddles both the
    /// claim's margin and its negation).
    Inconclusive,
    /// This profile has no data for the claim.
    NotTested,
}

/// One checkable statement of the paper with its criterion and what this run measured.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Claim {
    /// Stable id, e.g. `C1a`.
    pub id: String,
    /// Chapter (stage name) that checked it.
    pub chapter: String,
    pub claim: String,
    pub criterion: String,
    /// The measured figure(s), as text computed from the data.
    pub measured: String,
    pub status: ClaimStatus,
}
