//! From parsed traces to a replay plan: groups, key users, an order per key (which also
//! decides the records that must exist before the run), and the dependencies between
//! traces that make the replay reproduce every recorded result.

pub mod deps;
pub mod groups;
pub mod keys;
pub mod order;

use std::fmt;

#[cfg(feature = "pure")]
pub mod stats;

pub use deps::Dep;
pub use groups::{Groups, ReplayMode, NONE};

use crate::backend::LockingModel;
use crate::trace::Trace;
use keys::Values;
use order::Initial;

/// The traces cannot be replayed as they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnalysisError {
    /// What kind of problem; what callers branch on (the message is for people).
    pub kind: AnalysisErrorKind,
    /// The trace file.
    pub file: String,
    /// 1-based line.
    pub line: u32,
    /// What is wrong.
    pub message: String,
}

/// The kinds of [`AnalysisError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnalysisErrorKind {
    /// One trace's own structure is broken (a transaction, traverse or lock that does
    /// not nest).
    Structure,
    /// The uses of one key cannot be ordered so that every recorded result holds.
    UnorderableKey,
    /// The dependencies make the traces wait for each other in a circle (the analysis's
    /// one known gap on some self-recorded sets).
    Cycle,
}

impl AnalysisError {
    /// Whether this is the dependency circle.
    pub fn is_cycle(&self) -> bool {
        self.kind == AnalysisErrorKind::Cycle
    }
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

    let (orders, pins) = order_all_keys(&key_users, &values, traces.len());
    let mut keyed: Vec<KeyPlan> = Vec::with_capacity(orders.len());
    for ((key, users), ordering) in key_users.keys.iter().zip(&key_users.users).zip(orders) {
        let Some(ordering) = ordering else {
            return Err(unresolvable(traces, &values, *key, users));
        };
        keyed.push(KeyPlan::new(&ctx, users, ordering));
    }
    let mut traverse_deps = Vec::new();
    deps::traverse_order(&ctx, &mut traverse_deps);

    let op_counts: Vec<usize> = traces.iter().map(|trace| trace.ops.len()).collect();
    repair_cycles(
        &ctx,
        &key_users,
        &values,
        pins.as_ref(),
        &mut keyed,
        &traverse_deps,
        &op_counts,
    )
    .map_err(|cycle| cycle_error(traces, &cycle))?;

    let mut stats = AnalysisStats {
        keys: key_users.keys.len(),
        ..AnalysisStats::default()
    };
    let mut all_deps = traverse_deps;
    let mut preexisting = Vec::new();
    for ((key, users), plan) in key_users.keys.iter().zip(&key_users.users).zip(&keyed) {
        stats.users += users.len();
        if plan.ordering.fuzz != Some(0) {
            stats.fuzzed_keys += 1;
        }
        if let Initial::Present(value) = plan.ordering.initial {
            let first = &users[plan.ordering.order[0]];
            let trace = &traces[first.file as usize];
            preexisting.push(Preexisting {
                key: values.bytes(*key).to_vec(),
                data: values.bytes(value).to_vec(),
                needed_at: format!("{}:{}", trace.name, trace.ops[first.rep as usize].line),
            });
        }
        all_deps.extend_from_slice(&plan.deps);
    }
    stats.raw_dependencies = all_deps.len();
    deps::optimise(&mut all_deps, traces.len());
    stats.dependencies = all_deps.len();
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

/// One key's chosen order and the dependencies it produced, with the pair of users each
/// dependency came from and the precedence constraints added to break cycles.
struct KeyPlan {
    ordering: order::Ordering,
    deps: Vec<Dep>,
    origins: Vec<(usize, usize)>,
    before: Vec<(usize, usize)>,
}

impl KeyPlan {
    fn new(ctx: &deps::Context<'_>, users: &[keys::User], ordering: order::Ordering) -> KeyPlan {
        let mut plan = KeyPlan {
            ordering,
            deps: Vec::new(),
            origins: Vec::new(),
            before: Vec::new(),
        };
        deps::from_order(
            ctx,
            users,
            &plan.ordering.order,
            &mut plan.deps,
            &mut plan.origins,
        );
        plan
    }
}

/// Order every key; where wipes make keys depend on each other, pin each wipe's place in
/// the other traces so that all keys agree. Returns the orders and the pins used.
fn order_all_keys(
    key_users: &keys::KeyUsers,
    values: &Values<'_>,
    traces: usize,
) -> (Vec<Option<order::Ordering>>, Option<order::Pins>) {
    let mut orders: Vec<Option<order::Ordering>> = key_users
        .users
        .iter()
        .map(|users| order::order_key(users, values, None, &[]))
        .collect();
    let wipes = traces > 1 && key_users.users.iter().flatten().any(|u| u.wipes);
    if !wipes {
        return (orders, None);
    }
    let bounds = order::cut_bounds(&key_users.users, &orders, traces);
    let choices: &[bool] = if bounds.conflicting() {
        &[true, false]
    } else {
        &[false]
    };
    let mut best: Option<(usize, Vec<Option<order::Ordering>>, order::Pins)> = None;
    for &prefer_upper in choices {
        let pins = bounds.pins(prefer_upper);
        let pinned: Vec<Option<order::Ordering>> = key_users
            .users
            .iter()
            .map(|users| order::order_key(users, values, Some(&pins), &[]))
            .collect();
        let failures = pinned.iter().filter(|o| o.is_none()).count();
        let better = best
            .as_ref()
            .is_none_or(|(fewest, _, _)| failures < *fewest);
        if better {
            best = Some((failures, pinned, pins));
        }
        if failures == 0 {
            break;
        }
    }
    let Some((_, pinned, pins)) = best else {
        return (orders, None);
    };
    // Where even the pinned search fails, keep the key's unpinned order.
    for (ordering, pinned) in orders.iter_mut().zip(pinned) {
        if pinned.is_some() {
            *ordering = pinned;
        }
    }
    (orders, Some(pins))
}

/// Rounds of cycle repair before giving up.
const MAX_REPAIRS: usize = 64;

/// Each key is ordered on its own, so where many ops share a seqnum two keys can break
/// a tie in opposite ways and the traces end up waiting for each other in a circle.
/// Repair: take a dependency in the cycle that some key's order produced, require that
/// key to order the two users the other way round, and order it again.
fn repair_cycles(
    ctx: &deps::Context<'_>,
    key_users: &keys::KeyUsers,
    values: &Values<'_>,
    pins: Option<&order::Pins>,
    keyed: &mut [KeyPlan],
    traverse_deps: &[Dep],
    op_counts: &[usize],
) -> Result<(), deps::Cycle> {
    for _ in 0..MAX_REPAIRS {
        let mut all: Vec<Dep> = traverse_deps.to_vec();
        for plan in keyed.iter() {
            all.extend_from_slice(&plan.deps);
        }
        all.sort_unstable();
        all.dedup();
        let Some(cycle) = deps::find_cycle(&all, op_counts) else {
            return Ok(());
        };
        // Every key-order edge in the cycle, least plausible first: the one whose
        // waited-for user's seqnum interval starts furthest after the waiter's end.
        let mut candidates: Vec<(i64, usize, usize)> = Vec::new();
        for dep in &cycle.0 {
            for (key, plan) in keyed.iter().enumerate() {
                for (at, _) in plan.deps.iter().enumerate().filter(|(_, d)| *d == dep) {
                    let (waiter, target) = plan.origins[at];
                    let users = &key_users.users[key];
                    let implausible =
                        i64::from(users[target].earliest) - i64::from(users[waiter].seqnum);
                    // An edge the seqnums agree with is evidence, not a tie-break: keep it.
                    if implausible >= 0 {
                        candidates.push((implausible, key, at));
                    }
                }
            }
        }
        candidates.sort_by_key(|&(implausible, key, at)| (std::cmp::Reverse(implausible), key, at));
        let mut repaired = false;
        for (_, key, at) in candidates {
            let plan = &mut keyed[key];
            let (waiter, target) = plan.origins[at];
            let mut before = plan.before.clone();
            before.push((waiter, target));
            let users = &key_users.users[key];
            let reordered = order::order_key(users, values, pins, &before);
            if std::env::var_os("TDB_REPLAY_DEBUG").is_some() {
                let (w, t) = (&users[waiter], &users[target]);
                eprintln!(
                    "repair: key {} user {}:{} before {}:{} -> {}",
                    key,
                    w.file,
                    w.rep,
                    t.file,
                    t.rep,
                    if reordered.is_some() {
                        "reordered"
                    } else {
                        "impossible"
                    }
                );
            }
            if let Some(ordering) = reordered {
                let mut replanned = KeyPlan::new(ctx, users, ordering);
                replanned.before = before;
                *plan = replanned;
                repaired = true;
                break;
            }
        }
        if !repaired {
            return Err(cycle);
        }
    }
    let mut all: Vec<Dep> = traverse_deps.to_vec();
    for plan in keyed.iter() {
        all.extend_from_slice(&plan.deps);
    }
    all.sort_unstable();
    all.dedup();
    deps::find_cycle(&all, op_counts).map_or(Ok(()), Err)
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
        kind: AnalysisErrorKind::UnorderableKey,
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
    let at = |file: u32, op: u32| traces[file as usize].location(op);
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
        kind: AnalysisErrorKind::Cycle,
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
