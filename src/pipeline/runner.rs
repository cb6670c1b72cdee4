//! Runs stages in dependency order, reusing cached artifacts whose key is unchanged.

use super::cache::{hash_key, Cache, Corruption, Lookup};
use super::{Artifact, Progress, Stage, StageContext, StageError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

/// Which stages to recompute even if cached.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Force {
    #[default]
    None,
    All,
    Stages(Vec<String>),
}

impl Force {
    fn applies(&self, stage: &str) -> bool {
        match self {
            Force::None => false,
            Force::All => true,
            Force::Stages(s) => s.iter().any(|x| x == stage),
        }
    }
}

/// Error of a pipeline run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("unknown stage '{name}' (valid: {valid})")]
    UnknownStage { name: String, valid: String },
    #[error("stage '{stage}' failed: {source}")]
    Stage { stage: String, source: StageError },
    #[error(transparent)]
    Cache(#[from] super::CacheError),
}

/// What the cache stores for a stage. The stage, version and key are checked on load: an artifact
/// of another stage, version or key is treated like a corrupt one (reported, removed, recomputed).
#[derive(Debug, Serialize, Deserialize)]
pub struct StoredArtifact {
    pub stage: String,
    pub version: u32,
    pub key: String,
    /// Wall-clock seconds the computation took.
    pub seconds: f64,
    /// Threads it ran with.
    pub jobs: usize,
    pub artifact: Artifact,
}

/// The outcome of one stage in a run.
#[derive(Debug, Clone)]
pub struct StageRecord {
    pub name: String,
    pub version: u32,
    pub key: String,
    /// Whether the artifact came from the cache.
    pub cached: bool,
    /// Compute time (of the run that produced the artifact).
    pub seconds: f64,
    pub jobs: usize,
    pub artifact: Arc<Artifact>,
    /// The chapter the stage renders, if any.
    pub chapter: Option<super::Chapter>,
}

impl StageRecord {
    /// The record of `stage` holding `artifact` as if just computed (key `k`, one thread): what a
    /// test hands to the renderer without running the pipeline.
    pub fn computed(stage: &dyn Stage, artifact: Artifact) -> Self {
        Self {
            name: stage.name().into(),
            version: stage.version(),
            key: "k".into(),
            cached: false,
            seconds: 0.0,
            jobs: 1,
            artifact: Arc::new(artifact),
            chapter: stage.chapter(),
        }
    }
}

/// The pipeline: stages, profile, cache.
pub struct Runner<'a> {
    pub stages: &'a [Box<dyn Stage>],
    pub cache: Cache,
    pub progress: Progress,
    pub jobs: usize,
    pub force: Force,
    pub shard: Option<(usize, usize)>,
}

const NS: &str = "stages";

impl Runner<'_> {
    fn find(&self, name: &str) -> Result<&dyn Stage, RunError> {
        self.stages.iter().find(|s| s.name() == name).map(|s| s.as_ref()).ok_or_else(|| RunError::UnknownStage {
            name: name.to_string(),
            valid: self.stages.iter().map(|s| s.name()).collect::<Vec<_>>().join(", "),
        })
    }

    /// Checks that every name is a stage.
    pub fn validate(&self, names: &[String]) -> Result<(), RunError> {
        names.iter().try_for_each(|n| self.find(n).map(|_| ()))
    }

    /// The targets and all they depend on, dependencies first.
    pub fn closure(&self, targets: &[String]) -> Result<Vec<&dyn Stage>, RunError> {
        let mut order: Vec<&dyn Stage> = Vec::new();
        fn visit<'s>(r: &'s Runner<'_>, name: &str, order: &mut Vec<&'s dyn Stage>) -> Result<(), RunError> {
            if order.iter().any(|s| s.name() == name) {
                return Ok(());
            }
            let s = r.find(name)?;
            for d in s.deps() {
                visit(r, d, order)?;
            }
            order.push(s);
            Ok(())
        }
        for t in targets {
            visit(self, t, &mut order)?;
        }
        Ok(order)
    }

    /// Cache keys of every stage, computed in dependency order.
    pub fn keys(&self) -> Result<BTreeMap<String, String>, RunError> {
        let all: Vec<String> = self.stages.iter().map(|s| s.name().to_string()).collect();
        let mut keys = BTreeMap::new();
        for s in self.closure(&all)? {
            let inputs: BTreeMap<&str, &String> = s.deps().iter().map(|d| (*d, &keys[*d])).collect();
            let key = hash_key(&serde_json::json!({
                "stage": s.name(),
                "version": s.version(),
                "config": s.config(),
                "inputs": inputs,
            }));
            keys.insert(s.name().to_string(), key);
        }
        Ok(keys)
    }

    /// Whether a stage's current key is in the cache.
    pub fn is_cached(&self, name: &str) -> Result<bool, RunError> {
        let keys = self.keys()?;
        Ok(self.cache.contains(&format!("{NS}/{name}"), &keys[name]))
    }

    /// Runs the targets (and what they need), reusing the cache. Returns one record per stage run
    /// or loaded, dependencies first. Holds the cache directory's lock throughout (a second run
    /// on the same cache waits).
    pub fn run(&self, targets: &[String]) -> Result<Vec<StageRecord>, RunError> {
        let keys = self.keys()?;
        let order = self.closure(targets)?;
        let _lock = self.cache.lock(&self.progress)?;
        let mut done: BTreeMap<String, Arc<Artifact>> = BTreeMap::new();
        let mut records = Vec::new();
        for stage in order {
            let name = stage.name();
            let key = &keys[name];
            let ns = format!("{NS}/{name}");
            let is_target = targets.iter().any(|t| t == name);
            let sharded = self.shard.is_some() && is_target;
            if !self.force.applies(name) && !sharded {
                let lookup = match self.cache.load::<StoredArtifact>(&ns, key)? {
                    Lookup::Hit(stored)
                        if (stored.stage.as_str(), stored.version, &stored.key) != (name, stage.version(), key) =>
                    {
                        let why = format!(
                            "it holds the artifact of stage '{}' version {} key {}, not of '{name}' version {} key {}",
                            stored.stage,
                            stored.version,
                            short(&stored.key),
                            stage.version(),
                            short(key)
                        );
                        self.cache.reject(&ns, key, Corruption::Mismatch(why))
                    }
                    other => other,
                };
                match lookup {
                    Lookup::Hit(stored) => {
                        self.progress.info(&format!("{name:>12}: cached ({})", short(key)));
                        let artifact = Arc::new(stored.artifact);
                        done.insert(name.to_string(), artifact.clone());
                        records.push(StageRecord {
                            name: name.to_string(),
                            version: stored.version,
                            key: key.clone(),
                            cached: true,
                            seconds: stored.seconds,
                            jobs: stored.jobs,
                            artifact,
                            chapter: stage.chapter(),
                        });
                        continue;
                    }
                    Lookup::Corrupt { path, why } => {
                        self.progress.warn(&format!(
                            "cached artifact {} is corrupt ({why}); recomputing stage '{name}'",
                            path.display()
                        ));
                    }
                    Lookup::Miss => {}
                }
            }
            self.progress.info(&format!("{name:>12}: computing ({})", short(key)));
            let inputs: BTreeMap<String, Arc<Artifact>> =
                stage.deps().iter().map(|d| (d.to_string(), done[*d].clone())).collect();
            let ctx = StageContext {
                inputs: &inputs,
                cache: &self.cache,
                progress: &self.progress,
                jobs: self.jobs,
                shard: if is_target { self.shard } else { None },
            };
            let t0 = Instant::now();
            let artifact = stage.run(&ctx).map_err(|source| RunError::Stage { stage: name.to_string(), source })?;
            let seconds = t0.elapsed().as_secs_f64();
            let stored = StoredArtifact {
                stage: name.to_string(),
                version: stage.version(),
                key: key.clone(),
                seconds,
                jobs: self.jobs,
                artifact,
            };
            if sharded {
                self.progress.info(&format!("{name:>12}: shard done in {seconds:.1}s (stage artifact not stored)"));
            } else {
                self.cache.store(&ns, key, &stored)?;
                self.progress.info(&format!("{name:>12}: done in {seconds:.1}s"));
            }
            let artifact = Arc::new(stored.artifact);
            done.insert(name.to_string(), artifact.clone());
            records.push(StageRecord {
                name: name.to_string(),
                version: stage.version(),
                key: key.clone(),
                cached: false,
                seconds,
                jobs: self.jobs,
                artifact,
                chapter: stage.chapter(),
            });
        }
        Ok(records)
    }
}

/// The first 12 characters of a key (as printed in progress lines).
fn short(key: &str) -> &str {
    key.get(..12).unwrap_or(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::{Chapter, Progress};

    struct Fixed(&'static str, f64);

    impl Stage for Fixed {
        fn name(&self) -> &'static str {
            self.0
        }
        fn version(&self) -> u32 {
            1
        }
        fn deps(&self) -> &'static [&'static str] {
            &[]
        }
        fn config(&self) -> serde_json::Value {
            serde_json::json!({ "x": self.1 })
        }
        fn chapter(&self) -> Option<Chapter> {
            None
        }
        fn run(&self, _: &StageContext) -> Result<Artifact, StageError> {
            Ok(Artifact { summary: serde_json::json!(self.1), ..Default::default() })
        }
    }

    fn runner<'a>(stages: &'a [Box<dyn Stage>], dir: &std::path::Path) -> Runner<'a> {
        Runner {
            stages,
            cache: Cache::new(dir),
            progress: Progress::silent(),
            jobs: 1,
            force: Force::None,
            shard: None,
        }
    }

    #[test]
    fn an_artifact_of_another_stage_or_key_is_recomputed_not_used() {
        let dir = tempfile::tempdir().unwrap();
        let a: Vec<Box<dyn Stage>> = vec![Box::new(Fixed("a", 1.0)), Box::new(Fixed("b", 2.0))];
        let r = runner(&a, dir.path());
        r.run(&["a".into(), "b".into()]).unwrap();
        let keys = r.keys().unwrap();
        let (pa, pb) = (r.cache.path("stages/a", &keys["a"]), r.cache.path("stages/b", &keys["b"]));

        // Another stage's artifact over b.
        std::fs::copy(&pa, &pb).unwrap();
        let rec = r.run(&["b".into()]).unwrap();
        assert!(!rec[0].cached, "recomputed");
        assert_eq!(rec[0].artifact.summary, serde_json::json!(2.0));

        // Another profile's artifact of the same stage (another key) over this key.
        let other: Vec<Box<dyn Stage>> = vec![Box::new(Fixed("a", 7.0)), Box::new(Fixed("b", 8.0))];
        let o = runner(&other, dir.path());
        o.run(&["b".into()]).unwrap();
        std::fs::copy(o.cache.path("stages/b", &o.keys().unwrap()["b"]), &pb).unwrap();
        let rec = r.run(&["b".into()]).unwrap();
        assert!(!rec[0].cached);
        assert_eq!(rec[0].artifact.summary, serde_json::json!(2.0), "never the other profile's result");
        assert!(r.run(&["b".into()]).unwrap()[0].cached, "the recomputed artifact is stored");
    }

    #[test]
    fn a_stored_artifact_naming_another_stage_is_rejected() {
        // The body's own fields are checked too (an entry re-signed with the right namespace and
        // key but holding another stage's artifact).
        let dir = tempfile::tempdir().unwrap();
        let a: Vec<Box<dyn Stage>> = vec![Box::new(Fixed("a", 1.0))];
        let r = runner(&a, dir.path());
        let key = r.keys().unwrap()["a"].clone();
        let wrong = StoredArtifact {
            stage: "b".into(),
            version: 1,
            key: key.clone(),
            seconds: 0.0,
            jobs: 1,
            artifact: Artifact { summary: serde_json::json!(99.0), ..Default::default() },
        };
        r.cache.store("stages/a", &key, &wrong).unwrap();
        let rec = r.run(&["a".into()]).unwrap();
        assert!(!rec[0].cached);
        assert_eq!(rec[0].artifact.summary, serde_json::json!(1.0));
    }
}
