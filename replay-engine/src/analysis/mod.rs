//! From parsed traces to a replay plan: groups, key users, an order per key (which also
//! decides the records that must exist before the run), and the dependencies between
//! traces that make the replay reproduce every recorded result.
//!
//! [`analyse`] is a pipeline; each pass is a function from one typed plan to the next,
//! and no pass calls back into an earlier one:
//!
//! | pass | function | hands on |
//! | --- | --- | --- |
//! | groups | [`groups::group_traces`] | [`groups::Grouped`] |
//! | key users | [`keys::collect`] | [`keys::KeyUse`] |
//! | per-key order | [`order::order_keys`] | [`order::Ordered`] |
//! | dependencies | [`deps::plan`] | [`deps::Planned`] |
//! | cycle repair | `repair::repair_cycles` | [`deps::Planned`] |
//! | pruning | [`prune::prune`] | [`prune::Pruned`] |
//! | cycle check | [`cycles::check`] | [`Analysis`] |
//!
//! The cycle repair searches a key's order again under extra precedence constraints: it
//! uses the per-key search ([`order::order_key`]) and [`deps::KeyPlan::new`] as building
//! blocks on the plan it was handed, and hands on a plan of the same shape.

pub mod cycles;
pub mod deps;
pub mod epochs;
mod error;
pub mod groups;
pub mod keys;
pub mod order;
pub mod prune;
mod repair;

#[cfg(feature = "pure")]
pub mod stats;

pub use deps::Dep;
pub use epochs::analyse_finding_wipes;
pub use error::{describe_key, AnalysisError, AnalysisErrorKind};
pub use groups::{Groups, ReplayMode, NONE};

use crate::backend::LockingModel;
use crate::trace::Trace;

/// Figures about an analysis, for the summary.
#[derive(Debug, Default, Clone)]
pub struct AnalysisStats {
    /// Distinct keys used.
    pub keys: usize,
    /// Users over all keys (ops and atomic regions).
    pub users: usize,
    /// Keys whose order needed a seqnum fuzz above 0.
    pub fuzzed_keys: usize,
    /// Dependencies created before pruning.
    pub raw_dependencies: usize,
    /// Dependencies left after pruning.
    pub dependencies: usize,
}

/// A record that must be in the database before the replay starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preexisting {
    /// Key bytes.
    pub key: Vec<u8>,
    /// Value bytes.
    pub data: Vec<u8>,
    /// Where the analysis found it was needed (`file:line`).
    pub needed_at: String,
}

/// The replay plan for a set of traces.
#[derive(Debug)]
pub struct Analysis {
    /// Per trace: its groups.
    pub groups: Vec<Groups>,
    /// All dependencies, sorted by waiting trace and op.
    pub deps: Vec<Dep>,
    /// Records to create before each run.
    pub preexisting: Vec<Preexisting>,
    /// Figures for the summary.
    pub stats: AnalysisStats,
    pub(crate) op_counts: Vec<usize>,
}

impl Analysis {
    /// The dependencies of trace `file`, sorted by op.
    pub fn deps_of(&self, file: usize) -> &[Dep] {
        let start = self.deps.partition_point(|dep| (dep.file as usize) < file);
        let end = self.deps.partition_point(|dep| (dep.file as usize) <= file);
        &self.deps[start..end]
    }

    /// Add dependencies learned at run time (a deadlock back-off) and re-prune. Fails,
    /// leaving the plan unchanged, if they would make the traces wait for each other in a
    /// circle.
    pub fn add_dependencies(&mut self, extra: &[Dep]) -> Result<(), cycles::Cycle> {
        let mut all = self.deps.clone();
        all.extend_from_slice(extra);
        prune::optimise(&mut all, self.op_counts.len());
        if let Some(cycle) = cycles::find_cycle(&all, &self.op_counts) {
            return Err(cycle);
        }
        self.deps = all;
        self.stats.dependencies = self.deps.len();
        Ok(())
    }

    /// The number of ops of every trace.
    pub fn op_counts(&self) -> &[usize] {
        &self.op_counts
    }

    /// A digest of the dependency set, to compare plans between runs or backends.
    pub fn digest(&self) -> u64 {
        // FNV-1a over the sorted dependency list: stable across runs and platforms.
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for dep in &self.deps {
            for word in [dep.file, dep.op, dep.target_file, dep.target] {
                for byte in word.to_le_bytes() {
                    hash ^= u64::from(byte);
                    hash = hash.wrapping_mul(0x0100_0000_01b3);
                }
            }
        }
        hash
    }
}

/// Analyse a set of traces (one per process, replayed together) for a backend whose
/// locking is described by `locking`. Each pass takes the previous pass's plan and hands
/// on the next: groups, key users, an order per key, the dependencies those orders give,
/// the repair of circles between keys' orders, pruning, and the final cycle check. A set
/// whose clear-if-first wipes are marked ([`epochs::analyse_finding_wipes`]) is analysed one epoch at
/// a time and the plans joined ([`epochs::analyse_epochs`]).
pub fn analyse(traces: &[Trace], locking: LockingModel) -> Result<Analysis, AnalysisError> {
    let epochs = epochs::epochs(traces);
    if epochs.len() > 1 {
        return epochs::analyse_epochs(traces, &epochs, locking);
    }
    analyse_one(traces, locking)
}

/// [`analyse`] for one epoch.
fn analyse_one(traces: &[Trace], locking: LockingModel) -> Result<Analysis, AnalysisError> {
    let grouped = groups::group_traces(traces)?;
    let used = keys::collect(grouped);
    let ordered = order::order_keys(used)?;
    let planned = deps::plan(ordered, locking);
    let repaired = repair::repair_cycles(planned)?;
    let pruned = prune::prune(repaired);
    cycles::check(pruned)
}

#[cfg(test)]
mod tests;
