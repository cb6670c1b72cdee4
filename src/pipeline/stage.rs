//! The stage trait every chapter implements.

use super::{Artifact, Cache, Progress};
use crate::config::Profile;
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Error of a stage's computation.
#[derive(Debug, thiserror::Error)]
pub enum StageError {
    #[error("stage '{stage}' needs the artifact of '{missing}', which was not provided")]
    MissingInput { stage: String, missing: String },
    #[error("artifact of stage '{stage}' has an unexpected shape: {source}")]
    BadInput { stage: String, source: serde_json::Error },
    #[error("{0}")]
    Failed(String),
    #[error(transparent)]
    Cache(#[from] super::CacheError),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// What a running stage sees.
pub struct StageContext<'a> {
    pub profile: &'a Profile,
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
        self.inputs.get(stage).ok_or_else(|| StageError::MissingInput {
            stage: "?".into(),
            missing: stage.to_string(),
        })
    }

    /// The summary of an upstream stage, deserialized.
    pub fn input<T: DeserializeOwned>(&self, stage: &str) -> Result<T, StageError> {
        let a = self.artifact(stage)?;
        serde_json::from_value(a.summary.clone())
            .map_err(|source| StageError::BadInput { stage: stage.to_string(), source })
    }
}

/// One stage of the pipeline (one chapter of the report).
///
/// Its cache key is a hash of its name, version, configuration and the keys of its inputs, so
/// changing any of them recomputes it and everything downstream.
pub trait Stage: Send + Sync {
    /// Stable name, also the chapter's template name: `templates/chapters/{name}.md.j2`.
    fn name(&self) -> &'static str;
    /// Bump when the computation changes in a way that changes results.
    fn version(&self) -> u32;
    /// Names of the stages whose artifacts this one reads.
    fn deps(&self) -> &'static [&'static str];
    /// The part of the profile this stage reads (hashed into the key).
    fn config(&self, profile: &Profile) -> serde_json::Value;
    /// Computes the artifact.
    fn run(&self, ctx: &StageContext) -> Result<Artifact, StageError>;
}
