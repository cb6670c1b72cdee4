//! The pipeline: the [`Stage`] trait, the content-addressed [`Cache`], the [`Runner`] and
//! [`Progress`] reporting.

mod artifact;
pub mod cache;
mod check;
mod key;
pub mod lock;
pub mod progress;
pub mod runner;
mod stage;
mod tasks;

pub use artifact::{Artifact, Claim, ClaimStatus, DataTable, Figure};
pub use cache::{hash_key, key_value, Cache, CacheError, CacheLock, Corruption, Lookup, MergeReport};
pub use check::{shown, ConfigError, Section};
pub use progress::{Bar, Progress, Verbosity};
pub use runner::{Force, RunError, Runner, StageRecord};
pub use stage::{BoxError, Chapter, Stage, StageContext, StageError};
pub use tasks::{in_shard, load_task, pending_tasks, run_tasks, task_key, TaskResults};
