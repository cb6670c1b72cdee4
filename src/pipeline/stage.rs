//! The stage trait every chapter implements.

use super::{Artifact, Cache, ConfigError, Progress};
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::sync::Arc;

/// A boxed error from the library code a stage calls (mean-field engine, training, plotting ...).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Error of a stage's computation.
#[derive(Debug, thiserror::Error)]
pub enum StageError {
    #[error("stage '{stage}' needs the artifact of '{missing}', which was not provided")]
    MissingInput { stage: String, missing: String },
    #[error("artifact of stage '{stage}' has an unexpected shape: {source}")]
    BadInput { stage: String, source: serde_json::Error },
    #[error("invalid configuration: {0}")]
    Config(#[from] ConfigError),
    /// A computation failed: `what` says which, `source` why.
    #[error("{what}: {source}")]
    Compute { what: String, source: BoxError },
    #[error(transparent)]
    Cache(#[from] super::CacheError),
}

impl StageError {
    /// A failed computation with its cause.
    pub fn compute(what: impl Into<String>, source: impl Into<BoxError>) -> Self {
        StageError::Compute { what: what.into(), source: source.into() }
    }
}

/// The report chapter a stage renders.
#[derive(Debug, Clone, Copy)]
pub struct Chapter {
    /// Section title.
    pub title: &'static str,
    /// The chapter's minijinja template (Markdown); it sees the stage's summary as `s`.
    pub template: &'static str,
}

/// What a running stage sees. It receives no profile: a stage's configuration is part of the
/// stage itself (see [`Stage::config`]), so the cache key covers everything the stage reads.
pub struct StageContext<'a> {
    /// Artifacts of the stages it declared in [`Stage::deps`].
    pub inputs: &'a BTreeMap<String, Arc<Artifact>>,
    /// The cache, for stages that cache finer-grained work (e.g. one training run per grid point).
    pub cache: &'a Cache,
    pub progress: &'a Progress,
    /// Worker threads (the rayon global pool is already sized to this).
    pub jobs: usize,
    /// Only compute this share of sub-tasks (`--shard K/N`): `(k, n)` with `1 <= k <= n`.
    pub shard: Option<(usize, usize)>,
}

impl StageContext<'_> {
    /// The artifact of an upstream stage.
    pub fn artifact(&self, stage: &str) -> Result<&Arc<Artifact>, StageError> {
        self.inputs.get(stage).ok_or_else(|| StageError::MissingInput { stage: "?".into(), missing: stage.to_string() })
    }

    /// The summary of an upstream stage, deserialized.
    pub fn input<T: DeserializeOwned>(&self, stage: &str) -> Result<T, StageError> {
        let a = self.artifact(stage)?;
        serde_json::from_value(a.summary.clone())
            .map_err(|source| StageError::BadInput { stage: stage.to_string(), source })
    }
}

/// One stage of the pipeline (one chapter of the report, or an appendix).
///
/// A stage is built from its own validated configuration section (so an invalid value is
/// reported before any stage runs). Its cache key is a hash of its name, version, configuration
/// and the keys of its inputs, so changing any of them recomputes it and everything downstream.
pub trait Stage: Send + Sync {
    /// Stable name: the profile section, the cache namespace and the template name.
    fn name(&self) -> &'static str;
    /// Bump when the computation changes in a way that changes results.
    fn version(&self) -> u32;
    /// Names of the stages whose artifacts this one reads.
    fn deps(&self) -> &'static [&'static str];
    /// The stage's configuration, serialized (hashed into the key).
    fn config(&self) -> serde_json::Value;
    /// The chapter this stage renders; `None` for stages read only by the appendices.
    fn chapter(&self) -> Option<Chapter>;
    /// Computes the artifact.
    fn run(&self, ctx: &StageContext) -> Result<Artifact, StageError>;
}
