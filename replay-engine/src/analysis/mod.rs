//! From parsed traces to a replay plan: groups, key users, an order per key (which also
//! decides the records that must exist before the run), and the dependencies between
//! traces that make the replay reproduce every recorded result.

pub mod deps;
pub mod groups;
pub mod keys;
pub mod order;

use std::fmt;

pub use deps::Dep;
pub use groups::{Groups, ReplayMode, NONE};

use crate::backend::LockingModel;
use crate::trace::Trace;
use keys::Values;
use order::Initial;

/// The traces cannot be replayed as they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnalysisError {
    /// The trace file.
    pub file: String,
    /// 1-based line.
    pub line: u32,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for AnalysisError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)
    }
}

impl std::error::Error for AnalysisError {}

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
    op_counts: Vec<usize>,
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
    pub fn add_dependencies(&mut self, extra: &[Dep]) -> Result<(), deps::Cycle> {
        let mut all = self.deps.clone();
        all.extend_from_slice(extra);
        deps::optimise(&mut all, self.op_counts.len());
        if let Some(cycle) = deps::find_cycle(&all, &self.op_counts) {
            return Err(cycle);
        }
        self.deps = all;
        self.stats.dependencies = self.deps.len();
        Ok(())
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
/// locking is described by `locking`.
pub fn analyse(traces: &[Trace], locking: LockingModel) -> Result<Analysis, AnalysisError> {
    let groups = traces
        .iter()
        .map(groups::find_groups)
        .collect::<Result<Vec<_>, _>>()?;
    let mut values = Values {
        traces,
        computed: Vec::new(),
    };
    let key_users = keys::collect(traces, &groups, &mut values);
    let ctx = deps::Context {
        traces,
        groups: &groups,
        locking,
    };

    let mut stats = AnalysisStats {
        keys: key_users.keys.len(),
        ..AnalysisStats::default()
    };
    let mut orders: Vec<Option<order::Ordering>> = key_users
        .users
        .iter()
        .map(|users| order::order_key(users, &values, None))
        .collect();
    // A wipe is a user of every key; make every key agree on where it falls.
    let wipes = traces.len() > 1 && key_users.users.iter().flatten().any(|u| u.wipes);
    if wipes {
        let bounds = order::cut_bounds(&key_users.users, &orders, traces.len());
        let choices: &[bool] = if bounds.conflicting() {
            &[true, false]
        } else {
            &[false]
        };
        let mut best: Option<(usize, Vec<Option<order::Ordering>>)> = None;
        for &prefer_upper in choices {
            let pins = bounds.pins(prefer_upper);
            let pinned: Vec<Option<order::Ordering>> = key_users
                .users
                .iter()
                .map(|users| order::order_key(users, &values, Some(&pins)))
                .collect();
            let failures = pinned.iter().filter(|o| o.is_none()).count();
            if best.as_ref().is_none_or(|(fewest, _)| failures < *fewest) {
                best = Some((failures, pinned));
            }
            if failures == 0 {
                break;
            }
        }
        if let Some((_, pinned)) = best {
            // Where even the pinned search fails, keep the key's unpinned order.
            for (ordering, pinned) in orders.iter_mut().zip(pinned) {
                if pinned.is_some() {
                    *ordering = pinned;
                }
            }
        }
    }

    let mut all_deps = Vec::new();
    let mut preexisting = Vec::new();
    for ((key, users), ordering) in key_users.keys.iter().zip(&key_users.users).zip(orders) {
        stats.users += users.len();
        let Some(ordering) = ordering else {
            return Err(unresolvable(traces, &values, *key, users));
        };
        if ordering.fuzz != Some(0) {
            stats.fuzzed_keys += 1;
        }
        if let Initial::Present(value) = ordering.initial {
            let first = &users[ordering.order[0]];
            let trace = &traces[first.file as usize];
            preexisting.push(Preexisting {
                key: values.bytes(*key).to_vec(),
                data: values.bytes(value).to_vec(),
                needed_at: format!("{}:{}", trace.name, trace.ops[first.rep as usize].line),
            });
        }
        deps::from_order(&ctx, users, &ordering.order, &mut all_deps);
    }
    deps::traverse_order(&ctx, &mut all_deps);
    stats.raw_dependencies = all_deps.len();
    deps::optimise(&mut all_deps, traces.len());
    stats.dependencies = all_deps.len();

    let op_counts: Vec<usize> = traces.iter().map(|trace| trace.ops.len()).collect();
    if let Some(cycle) = deps::find_cycle(&all_deps, &op_counts) {
        return Err(cycle_error(traces, &cycle));
    }
    Ok(Analysis {
        groups,
        deps: all_deps,
        preexisting,
        stats,
        op_counts,
    })
}

/// A key as people can read it: text if it is printable, hex otherwise, shortened.
pub fn describe_key(bytes: &[u8]) -> String {
    let trimmed = bytes.strip_suffix(&[0]).unwrap_or(bytes);
    let printable = trimmed.iter().all(|&b| (0x20..0x7f).contains(&b));
    let mut text = if printable && !trimmed.is_empty() {
        format!("\"{}\"", String::from_utf8_lossy(trimmed))
    } else {
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    };
    if text.len() > 64 {
        text.truncate(61);
        text.push_str("...");
    }
    text
}

fn unresolvable(
    traces: &[Trace],
    values: &Values<'_>,
    key: keys::Val,
    users: &[keys::User],
) -> AnalysisError {
    let first = users
        .iter()
        .min_by_key(|user| user.seqnum)
        .expect("a key has at least one user");
    let trace = &traces[first.file as usize];
    let files = {
        let mut files: Vec<u32> = users.iter().map(|user| user.file).collect();
        files.dedup();
        files.len()
    };
    if std::env::var_os("TDB_REPLAY_DEBUG").is_some() {
        for user in users {
            let t = &traces[user.file as usize];
            eprintln!(
                "  {}:{} seq {} need {:?} effect {:?}{}",
                t.name,
                t.ops[user.rep as usize].line,
                user.seqnum,
                user.need,
                user.effect,
                if user.cancelled { " (cancelled)" } else { "" }
            );
        }
    }
    AnalysisError {
        file: trace.name.clone(),
        line: trace.ops[first.rep as usize].line,
        message: format!(
            "cannot order the {} uses of key {} (from {} trace{}) so that every recorded \
             result holds, even assuming the record existed before the trace; the traces \
             do not belong together, or one is damaged",
            users.len(),
            describe_key(values.bytes(key)),
            files,
            if files == 1 { "" } else { "s" },
        ),
    }
}

fn cycle_error(traces: &[Trace], cycle: &deps::Cycle) -> AnalysisError {
    let at = |file: u32, op: u32| {
        let trace = &traces[file as usize];
        format!("{}:{}", trace.name, trace.ops[op as usize].line)
    };
    let chain: Vec<String> = cycle
        .0
        .iter()
        .map(|dep| {
            format!(
                "{} waits for {}",
                at(dep.file, dep.op),
                at(dep.target_file, dep.target)
            )
        })
        .collect();
    let first = cycle.0[0];
    let trace = &traces[first.file as usize];
    AnalysisError {
        file: trace.name.clone(),
        line: trace.ops[first.op as usize].line,
        message: format!(
            "the traces wait for each other in a circle: {}",
            chain.join(", ")
        ),
    }
}

#[cfg(test)]
mod tests;
