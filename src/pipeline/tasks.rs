//! Fine-grained caching inside a stage: a list of independent tasks (e.g. one training run per grid
//! point), each cached under its own key, computed in parallel, resumable, and shardable.
//!
//! An interrupted run keeps every task that finished (each is written atomically as soon as it is
//! done), a changed list recomputes only new tasks, and `--shard K/N` computes only the tasks whose
//! index `i` satisfies `i % N == K - 1`, so N processes (or cluster jobs) can share a grid and their
//! cache directories can be merged with `cache merge`.

use super::cache::{hash_key, Corruption, Lookup};
use super::{StageContext, StageError};
use rayon::prelude::*;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// Result of [`run_tasks`]: one entry per task, `None` for tasks outside this shard that no cache
/// holds yet.
pub struct TaskResults<R> {
    pub results: Vec<Option<R>>,
    /// How many were computed by this call (the rest came from the cache).
    pub computed: usize,
    /// Compute seconds of every task in [`TaskResults::results`], cached or not: each task's own
    /// time, measured by the process that computed it (summed over tasks, so with several
    /// threads it exceeds the wall-clock time).
    pub compute_seconds: f64,
}

/// What the cache stores for one task: its result and the seconds it took to compute. The task's
/// key is recorded (and checked on load) by the cache itself.
#[derive(Serialize, Deserialize)]
struct StoredTask<R> {
    seconds: f64,
    result: R,
}

/// Whether task `i` belongs to the shard `(k, n)`.
pub fn in_shard(i: usize, shard: Option<(usize, usize)>) -> bool {
    match shard {
        None => true,
        Some((k, n)) => i % n == k - 1,
    }
}

/// The cache key of a task: the hash of `(salt, task)`.
pub fn task_key<T: Serialize + ?Sized>(salt: &str, task: &T) -> String {
    hash_key(&(salt, task))
}

/// Indices of the tasks of this shard that [`run_tasks`] would compute (not in the cache under
/// `ns`; entries are not verified, so a corrupt one counts as cached here).
pub fn pending_tasks<T: Serialize>(ctx: &StageContext, ns: &str, salt: &str, tasks: &[T]) -> Vec<usize> {
    (0..tasks.len())
        .filter(|&i| in_shard(i, ctx.shard) && !ctx.cache.contains(ns, &task_key(salt, &tasks[i])))
        .collect()
}

/// Loads the cached result of one task (as [`run_tasks`] stored it, under `ns` and `key` =
/// [`task_key`]) without computing it: how a shard reads the tasks of the other shards. A record
/// that fails verification is removed by the cache and reported as [`Lookup::Corrupt`].
pub fn load_task<R: DeserializeOwned>(ctx: &StageContext, ns: &str, key: &str) -> Result<Lookup<R>, StageError> {
    Ok(match ctx.cache.load::<StoredTask<R>>(ns, key)? {
        Lookup::Hit(t) => Lookup::Hit(t.result),
        Lookup::Miss => Lookup::Miss,
        Lookup::Corrupt { path, why } => Lookup::Corrupt { path, why },
    })
}

/// Runs `f` on every task not already cached under namespace `ns`, in parallel on the rayon
/// pool, storing each result (with its compute time) as soon as it is computed. `salt` is hashed
/// into every key (put the code version there, so a change of the computation invalidates old
/// results).
pub fn run_tasks<T, R, F>(
    ctx: &StageContext,
    ns: &str,
    salt: &str,
    label: &str,
    tasks: &[T],
    f: F,
) -> Result<TaskResults<R>, StageError>
where
    T: Serialize + Sync,
    R: Serialize + DeserializeOwned + Send,
    F: Fn(&T) -> Result<R, StageError> + Sync,
{
    let keys: Vec<String> = tasks.iter().map(|t| task_key(salt, t)).collect();
    let mut results: Vec<Option<R>> = Vec::with_capacity(tasks.len());
    let mut compute_seconds = 0.0;
    let mut todo = Vec::new();
    for (i, key) in keys.iter().enumerate() {
        let lookup = match ctx.cache.load::<StoredTask<R>>(ns, key)? {
            Lookup::Hit(t) if !(t.seconds.is_finite() && t.seconds >= 0.0) => {
                ctx.cache.reject(ns, key, Corruption::Mismatch(format!("compute time {} is not a duration", t.seconds)))
            }
            other => other,
        };
        match lookup {
            Lookup::Hit(t) => {
                compute_seconds += t.seconds;
                results.push(Some(t.result));
                continue;
            }
            Lookup::Corrupt { path, why } => {
                ctx.progress.warn(&format!("cached result {} is corrupt ({why}); recomputing it", path.display()));
            }
            Lookup::Miss => {}
        }
        results.push(None);
        if in_shard(i, ctx.shard) {
            todo.push(i);
        }
    }
    if !todo.is_empty() {
        ctx.progress.detail(&format!(
            "{label}: {} of {} tasks cached, computing {}",
            results.iter().filter(|r| r.is_some()).count(),
            tasks.len(),
            todo.len()
        ));
    }
    let bar = ctx.progress.bar(todo.len() as u64, label);
    let computed: Vec<(usize, StoredTask<R>)> = todo
        .par_iter()
        .map(|&i| {
            let t0 = Instant::now();
            let result = f(&tasks[i])?;
            let stored = StoredTask { seconds: t0.elapsed().as_secs_f64(), result };
            ctx.cache.store(ns, &keys[i], &stored)?;
            bar.inc(1);
            Ok((i, stored))
        })
        .collect::<Result<_, StageError>>()?;
    bar.finish();
    let n = computed.len();
    for (i, t) in computed {
        compute_seconds += t.seconds;
        results[i] = Some(t.result);
    }
    Ok(TaskResults { results, computed: n, compute_seconds })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::{Cache, Progress};
    use std::collections::BTreeMap;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn with_ctx<X>(dir: &std::path::Path, shard: Option<(usize, usize)>, f: impl FnOnce(&StageContext) -> X) -> X {
        let inputs = BTreeMap::new();
        let cache = Cache::new(dir);
        let progress = Progress::silent();
        let ctx = StageContext { inputs: &inputs, cache: &cache, progress: &progress, jobs: 2, shard };
        f(&ctx)
    }

    #[test]
    fn shards_partition_the_tasks_and_merge_to_the_same_results() {
        let tasks: Vec<u64> = (0..10).collect();
        let calls = AtomicUsize::new(0);
        let square = |t: &u64| {
            calls.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(std::time::Duration::from_millis(2));
            Ok(t * t)
        };
        let whole = tempfile::tempdir().unwrap();
        let all = with_ctx(whole.path(), None, |ctx| run_tasks(ctx, "t", "v1", "sq", &tasks, square).unwrap());
        assert_eq!(all.computed, 10);

        let shard_dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
        let mut total = 0;
        let mut shard_seconds = 0.0;
        for (k, d) in shard_dirs.iter().enumerate() {
            let r =
                with_ctx(d.path(), Some((k + 1, 3)), |ctx| run_tasks(ctx, "t", "v1", "sq", &tasks, square).unwrap());
            total += r.computed;
            shard_seconds += r.compute_seconds;
            for (i, x) in r.results.iter().enumerate() {
                assert_eq!(x.is_some(), i % 3 == k);
            }
        }
        assert_eq!(total, 10, "the shards partition the tasks");

        let merged = tempfile::tempdir().unwrap();
        let cache = Cache::new(merged.path());
        for d in &shard_dirs {
            cache.merge_from(d.path()).unwrap();
        }
        let before = calls.load(Ordering::SeqCst);
        let r = with_ctx(merged.path(), None, |ctx| run_tasks(ctx, "t", "v1", "sq", &tasks, square).unwrap());
        assert_eq!(r.computed, 0, "merged shards hold every task");
        assert_eq!(calls.load(Ordering::SeqCst), before);
        assert_eq!(r.results, all.results);

        // Compute times are kept with the results: the merged run reports the shards' total.
        assert!(r.compute_seconds >= 10.0 * 0.002, "{}", r.compute_seconds);
        assert!(
            (r.compute_seconds - shard_seconds).abs() <= 1e-9 * shard_seconds,
            "{} vs {shard_seconds}",
            r.compute_seconds
        );

        // A new salt (code version) recomputes everything.
        let r = with_ctx(merged.path(), None, |ctx| run_tasks(ctx, "t", "v2", "sq", &tasks, square).unwrap());
        assert_eq!(r.computed, 10);
    }

    #[test]
    fn a_result_stored_under_another_task_is_recomputed() {
        let tasks: Vec<u64> = vec![2, 3];
        let dir = tempfile::tempdir().unwrap();
        let square = |t: &u64| Ok(t * t);
        with_ctx(dir.path(), None, |ctx| run_tasks(ctx, "t", "v1", "sq", &tasks, square).unwrap());
        let cache = Cache::new(dir.path());
        let (k2, k3) = (task_key("v1", &2u64), task_key("v1", &3u64));
        std::fs::copy(cache.path("t", &k2), cache.path("t", &k3)).unwrap();
        let r = with_ctx(dir.path(), None, |ctx| {
            assert_eq!(pending_tasks(ctx, "t", "v1", &tasks), Vec::<usize>::new());
            run_tasks(ctx, "t", "v1", "sq", &tasks, square).unwrap()
        });
        assert_eq!(r.computed, 1, "the copied entry is rejected and its task recomputed");
        assert_eq!(r.results, vec![Some(4), Some(9)]);
    }
}
