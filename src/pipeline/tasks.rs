//! Fine-grained caching inside a stage: a list of independent tasks (e.g. one training run per grid
//! point), each cached under its own key, computed in parallel, resumable, and shardable.
//!
//! An interrupted run keeps every task that finished (each is written atomically as soon as it is
//! done), a changed list recomputes only new tasks, and `--shard K/N` computes only the tasks whose
//! index `i` satisfies `i % N == K - 1`, so N processes (or cluster jobs) can share a grid and their
//! cache directories can be merged with `cache merge`.

use super::cache::{hash_key, Lookup};
use super::{StageContext, StageError};
use rayon::prelude::*;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Result of [`run_tasks`]: one entry per task, `None` for tasks outside this shard that no cache
/// holds yet.
pub struct TaskResults<R> {
    pub results: Vec<Option<R>>,
    /// How many were computed by this call (the rest came from the cache).
    pub computed: usize,
}

/// Whether task `i` belongs to the shard `(k, n)`.
pub fn in_shard(i: usize, shard: Option<(usize, usize)>) -> bool {
    match shard {
        None => true,
        Some((k, n)) => i % n == k - 1,
    }
}

/// Runs `f` on every task not already cached under namespace `ns`, in parallel on the rayon
/// pool, storing each result as soon as it is computed. `salt` is hashed into every key (put the
/// code version there, so a change of the computation invalidates old results).
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
    let keys: Vec<String> = tasks.iter().map(|t| hash_key(&(salt, t))).collect();
    let mut results: Vec<Option<R>> = Vec::with_capacity(tasks.len());
    let mut todo = Vec::new();
    for (i, key) in keys.iter().enumerate() {
        match ctx.cache.load::<R>(ns, key)? {
            Lookup::Hit(r) => results.push(Some(r)),
            Lookup::Corrupt { path, why } => {
                ctx.progress.warn(&format!("cached result {} is corrupt ({why}); recomputing it", path.display()));
                results.push(None);
                if in_shard(i, ctx.shard) {
                    todo.push(i);
                }
            }
            Lookup::Miss => {
                results.push(None);
                if in_shard(i, ctx.shard) {
                    todo.push(i);
                }
            }
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
    let computed: Vec<(usize, R)> = todo
        .par_iter()
        .map(|&i| {
            let r = f(&tasks[i])?;
            ctx.cache.store(ns, &keys[i], &r)?;
            bar.inc(1);
            Ok((i, r))
        })
        .collect::<Result<_, StageError>>()?;
    bar.finish();
    let n = computed.len();
    for (i, r) in computed {
        results[i] = Some(r);
    }
    Ok(TaskResults { results, computed: n })
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
            Ok(t * t)
        };
        let whole = tempfile::tempdir().unwrap();
        let all = with_ctx(whole.path(), None, |ctx| run_tasks(ctx, "t", "v1", "sq", &tasks, square).unwrap());
        assert_eq!(all.computed, 10);

        let shard_dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
        let mut total = 0;
        for (k, d) in shard_dirs.iter().enumerate() {
            let r = with_ctx(d.path(), Some((k + 1, 3)), |ctx| run_tasks(ctx, "t", "v1", "sq", &tasks, square).unwrap());
            total += r.computed;
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

        // A new salt (code version) recomputes everything.
        let r = with_ctx(merged.path(), None, |ctx| run_tasks(ctx, "t", "v2", "sq", &tasks, square).unwrap());
        assert_eq!(r.computed, 10);
    }
}
