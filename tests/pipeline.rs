//! The cache's contract, on stand-in stages: a second run recomputes nothing, a configuration
//! change recomputes that stage and what is downstream only, and a corrupt artifact is recomputed.

use edge_of_chaos::pipeline::{Artifact, Cache, Chapter, Force, Progress, Runner, Stage, StageContext, StageError};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

struct Counted {
    name: &'static str,
    deps: &'static [&'static str],
    runs: Arc<AtomicUsize>,
    /// The stage's configuration (hashed into its key).
    config: serde_json::Value,
}

impl Stage for Counted {
    fn name(&self) -> &'static str {
        self.name
    }
    fn version(&self) -> u32 {
        1
    }
    fn deps(&self) -> &'static [&'static str] {
        self.deps
    }
    fn config(&self) -> serde_json::Value {
        self.config.clone()
    }
    fn chapter(&self) -> Option<Chapter> {
        None
    }
    fn run(&self, ctx: &StageContext) -> Result<Artifact, StageError> {
        self.runs.fetch_add(1, Ordering::SeqCst);
        let upstream: f64 = self.deps.iter().map(|d| ctx.input::<f64>(d).unwrap_or(0.0)).sum();
        Ok(Artifact { summary: serde_json::json!(upstream + 1.0), ..Default::default() })
    }
}

/// Stages a → b → c; `b_config` is b's configuration.
fn stages_with(b_config: &str, counters: &[Arc<AtomicUsize>]) -> Vec<Box<dyn Stage>> {
    let empty = serde_json::json!({});
    vec![
        Box::new(Counted { name: "a", deps: &[], runs: counters[0].clone(), config: empty.clone() }),
        Box::new(Counted {
            name: "b",
            deps: &["a"],
            runs: counters[1].clone(),
            config: serde_json::json!({ "d": b_config }),
        }),
        Box::new(Counted { name: "c", deps: &["b"], runs: counters[2].clone(), config: empty }),
    ]
}

fn stages() -> (Vec<Box<dyn Stage>>, Vec<Arc<AtomicUsize>>) {
    let counters: Vec<_> = (0..3).map(|_| Arc::new(AtomicUsize::new(0))).collect();
    (stages_with("x", &counters), counters)
}

fn counts(c: &[Arc<AtomicUsize>]) -> Vec<usize> {
    c.iter().map(|x| x.load(Ordering::SeqCst)).collect()
}

fn all() -> Vec<String> {
    vec!["a".into(), "b".into(), "c".into()]
}

#[test]
fn second_run_is_cached_and_changes_propagate_downstream_only() {
    let dir = tempfile::tempdir().unwrap();
    let counters: Vec<_> = (0..3).map(|_| Arc::new(AtomicUsize::new(0))).collect();
    let run = |b_config: &str| {
        let stages = stages_with(b_config, &counters);
        let runner = Runner {
            stages: &stages,
            cache: Cache::new(dir.path()),
            progress: Progress::silent(),
            jobs: 1,
            force: Force::None,
            shard: None,
        };
        runner.run(&all()).unwrap()
    };
    let first = run("x");
    assert_eq!(counts(&counters), vec![1, 1, 1]);
    assert!(first.iter().all(|r| !r.cached));
    assert_eq!(first[2].artifact.summary, serde_json::json!(3.0));

    let second = run("x");
    assert_eq!(counts(&counters), vec![1, 1, 1], "nothing recomputed");
    assert!(second.iter().all(|r| r.cached));
    assert_eq!(second[2].artifact.summary, serde_json::json!(3.0));

    let third = run("x (changed)");
    assert_eq!(counts(&counters), vec![1, 2, 2], "b changed: b and c recompute, a does not");
    assert!(third[0].cached && !third[1].cached && !third[2].cached);
}

#[test]
fn corrupt_artifact_is_recomputed_not_used() {
    let dir = tempfile::tempdir().unwrap();
    let (stages, counters) = stages();
    let runner = Runner {
        stages: &stages,
        cache: Cache::new(dir.path()),
        progress: Progress::silent(),
        jobs: 1,
        force: Force::None,
        shard: None,
    };
    runner.run(&all()).unwrap();
    let key = runner.keys().unwrap()["b"].clone();
    let path = runner.cache.path("stages/b", &key);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();

    let records = runner.run(&all()).unwrap();
    assert_eq!(counts(&counters), vec![1, 2, 1], "only the corrupt stage is recomputed");
    assert!(!records[1].cached);
    assert!(records[2].cached, "c's key does not depend on b's artifact bytes, only on b's key");
    assert_eq!(records[2].artifact.summary, serde_json::json!(3.0));
    // And the repaired artifact verifies again.
    runner.run(&all()).unwrap();
    assert_eq!(counts(&counters), vec![1, 2, 1]);
}

#[test]
fn force_recomputes_the_named_stage_only() {
    let dir = tempfile::tempdir().unwrap();
    let (stages, counters) = stages();
    let mut runner = Runner {
        stages: &stages,
        cache: Cache::new(dir.path()),
        progress: Progress::silent(),
        jobs: 1,
        force: Force::None,
        shard: None,
    };
    runner.run(&all()).unwrap();
    runner.force = Force::Stages(vec!["a".into()]);
    runner.run(&all()).unwrap();
    assert_eq!(counts(&counters), vec![2, 1, 1]);
    runner.force = Force::All;
    runner.run(&["b".to_string()]).unwrap();
    assert_eq!(counts(&counters), vec![3, 2, 1], "run b forces its closure a, b");
    assert!(runner.validate(&["nope".to_string()]).unwrap_err().to_string().contains("valid: a, b, c"));
}
