//! `analyse --stats`: what a trace set does, in figures. The op mix per trace and in
//! total; the keys and how skewed their access is (the hottest keys and their share of
//! the keyed ops); the hash chains that receive the most ops (tdb's default hash, or
//! Jenkins when the first trace opened with `TDB_INCOMPATIBLE_HASH`, modulo the first
//! trace's hash size); the cross-trace dependencies per pair of traces and the ops most
//! waited for; the sizes of transactions and traverses.

use rustc_hash::FxHashMap;
use serde::Serialize;

use super::{Analysis, NONE};
use crate::replay::latency::{op_type, OP_TYPES};
use crate::trace::{OpKind, Trace};

/// `TDB_INCOMPATIBLE_HASH`: the file uses the Jenkins hash.
const INCOMPATIBLE_HASH: u32 = 0x800;
/// tdb's hash size when the caller asks for 0.
const DEFAULT_HASH_SIZE: u32 = 131;

/// Ops of one type. JSON: an element of a [`TraceMix`]'s `mix`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OpCount {
    /// The op type (its traced name). JSON `op`, a string.
    pub op: &'static str,
    /// How many. JSON `count`, an integer.
    pub count: u64,
}

/// One trace's op mix. JSON: an element of `stats.traces`, or `stats.total`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TraceMix {
    /// The trace's name (the file name; `total` for all traces). JSON `name`, a string.
    pub name: String,
    /// Its ops (the open line excluded). JSON `ops`, an integer.
    pub ops: u64,
    /// Per op type, in the order of [`OP_TYPES`], types not seen left out. JSON `mix`,
    /// an array of [`OpCount`].
    pub mix: Vec<OpCount>,
}

/// A key, a chain or an op and how many ops (or dependencies) it has. JSON: an element
/// of `stats.hottest_keys`, `stats.hottest_chains` or `stats.most_waited_for`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Hot {
    /// The key (`describe_key`: quoted text, or hex), the chain number or the
    /// `file:line`. JSON `what`, a string.
    pub what: String,
    /// Its ops (or dependencies). JSON `count`, an integer.
    pub count: u64,
    /// Its share of all of them (0..=1). JSON `share`, a float.
    pub share: f64,
}

/// Dependencies of one trace on another. JSON: an element of `stats.dependency_pairs`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PairDeps {
    /// The waiting trace. JSON `from`, a string.
    pub from: String,
    /// The trace waited for. JSON `to`, a string.
    pub to: String,
    /// How many dependencies. JSON `count`, an integer.
    pub count: u64,
}

/// The sizes of a kind of group. JSON: `stats.transactions` or `stats.traverses`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Sizes {
    /// Groups seen. JSON `count`, an integer.
    pub count: u64,
    /// Mean size (0 when there are none). JSON `mean`, a float.
    pub mean: f64,
    /// Median size. JSON `p50`, an integer.
    pub p50: u64,
    /// Largest. JSON `max`, an integer.
    pub max: u64,
}

impl Sizes {
    fn of(mut sizes: Vec<u64>) -> Sizes {
        sizes.sort_unstable();
        let count = sizes.len() as u64;
        Sizes {
            count,
            mean: if count == 0 {
                0.0
            } else {
                sizes.iter().sum::<u64>() as f64 / count as f64
            },
            p50: sizes.get(sizes.len() / 2).copied().unwrap_or(0),
            max: sizes.last().copied().unwrap_or(0),
        }
    }
}

/// Everything `analyse --stats` prints.
///
/// JSON schema: the `stats` object of `analyse --stats --json`; each field below is the
/// key of the same name.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TraceStats {
    /// Per trace, in the order given. JSON `traces`, an array of [`TraceMix`].
    pub traces: Vec<TraceMix>,
    /// All traces together. JSON `total`, a [`TraceMix`].
    pub total: TraceMix,
    /// Distinct keys the ops name (keyed ops: fetch, parse_record, exists, delete, store,
    /// storev, append, nextkey and the chain-lock family).
    pub keys: u64,
    /// Keyed ops.
    pub keyed_ops: u64,
    /// The keys with the most ops, hottest first (ties by name; `--top` of them). JSON
    /// `hottest_keys`, an array of [`Hot`].
    pub hottest_keys: Vec<Hot>,
    /// The hash function used for chains (`old` or `jenkins`).
    pub hash: &'static str,
    /// The hash size used for chains.
    pub hash_size: u32,
    /// Chains that received at least one keyed op.
    pub chains_used: u64,
    /// The chains with the most keyed ops (`--top` of them). JSON `hottest_chains`, an
    /// array of [`Hot`].
    pub hottest_chains: Vec<Hot>,
    /// Dependencies across traces, in all.
    pub dependencies: u64,
    /// Per (waiting trace, trace waited for), most first. JSON `dependency_pairs`, an
    /// array of [`PairDeps`].
    pub dependency_pairs: Vec<PairDeps>,
    /// The ops most waited for (`file:line`), most first (`--top` of them). JSON
    /// `most_waited_for`, an array of [`Hot`].
    pub most_waited_for: Vec<Hot>,
    /// Ops inside each transaction (start and end excluded).
    pub transactions: Sizes,
    /// Records visited by each traverse (its `traverse`/`traversefn` entries).
    pub traverses: Sizes,
}

fn mix(name: &str, counts: &[u64]) -> TraceMix {
    TraceMix {
        name: name.to_string(),
        ops: counts.iter().sum(),
        mix: counts
            .iter()
            .enumerate()
            .filter(|(_, &n)| n > 0)
            .map(|(index, &count)| OpCount {
                op: OP_TYPES[index],
                count,
            })
            .collect(),
    }
}

/// The `top` entries of `counts` by count (ties by name), with their share of `total`.
fn hottest(mut counts: Vec<(String, u64)>, total: u64, top: usize) -> Vec<Hot> {
    counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    counts
        .into_iter()
        .take(top)
        .map(|(what, count)| Hot {
            what,
            count,
            share: count as f64 / total.max(1) as f64,
        })
        .collect()
}

/// The statistics of `traces` with their plan, listing `top` hottest keys, chains and
/// ops.
pub fn stats(traces: &[Trace], analysis: &Analysis, top: usize) -> TraceStats {
    let tally = tally(traces, analysis);
    let (hash_kind, hash_size) = chain_hash(traces);
    let keyed_ops: u64 = tally.keys.values().sum();
    let mut chains: FxHashMap<u32, u64> = FxHashMap::default();
    for (key, &n) in &tally.keys {
        *chains.entry(hash_kind.hash(key) % hash_size).or_default() += n;
    }
    let waits = waits(traces, analysis, top);
    TraceStats {
        traces: tally.per_trace,
        total: mix("total", &tally.total),
        keys: tally.keys.len() as u64,
        keyed_ops,
        hottest_keys: hottest(
            tally
                .keys
                .iter()
                .map(|(key, &n)| (super::describe_key(key), n))
                .collect(),
            keyed_ops,
            top,
        ),
        hash: match hash_kind {
            tdb_pure::HashKind::Old => "old",
            tdb_pure::HashKind::Jenkins => "jenkins",
        },
        hash_size,
        chains_used: chains.len() as u64,
        hottest_chains: hottest(
            chains
                .into_iter()
                .map(|(chain, n)| (chain.to_string(), n))
                .collect(),
            keyed_ops,
            top,
        ),
        dependencies: waits.dependencies,
        dependency_pairs: waits.pairs,
        most_waited_for: waits.most_waited_for,
        transactions: Sizes::of(tally.transactions),
        traverses: Sizes::of(tally.traverses),
    }
}

/// The hash function and size the chains are counted with: the first trace's.
fn chain_hash(traces: &[Trace]) -> (tdb_pure::HashKind, u32) {
    traces
        .first()
        .map_or((tdb_pure::HashKind::Old, DEFAULT_HASH_SIZE), |t| {
            let kind = if t.open.tdb_flags & INCOMPATIBLE_HASH != 0 {
                tdb_pure::HashKind::Jenkins
            } else {
                tdb_pure::HashKind::Old
            };
            let size = if t.open.hash_size == 0 {
                DEFAULT_HASH_SIZE
            } else {
                t.open.hash_size
            };
            (kind, size)
        })
}

/// What one pass over every op counts.
struct Tally<'t> {
    /// Per trace: its op mix.
    per_trace: Vec<TraceMix>,
    /// Per op type, over all traces.
    total: Vec<u64>,
    /// Per key: its ops.
    keys: FxHashMap<&'t [u8], u64>,
    /// Per transaction: the ops inside it.
    transactions: Vec<u64>,
    /// Per traverse: the entries it visited.
    traverses: Vec<u64>,
}

/// Count every op of every trace: by type, by key, and the sizes of the groups.
fn tally<'t>(traces: &'t [Trace], analysis: &Analysis) -> Tally<'t> {
    let mut tally = Tally {
        per_trace: Vec::with_capacity(traces.len()),
        total: vec![0u64; OP_TYPES.len()],
        keys: FxHashMap::default(),
        transactions: Vec::new(),
        traverses: Vec::new(),
    };
    for (file, trace) in traces.iter().enumerate() {
        let mut counts = vec![0u64; OP_TYPES.len()];
        let groups = &analysis.groups[file];
        for (at, op) in trace.ops.iter().enumerate() {
            counts[op_type(&op.kind)] += 1;
            if let Some(key) = op.kind.key() {
                *tally.keys.entry(trace.bytes(key)).or_default() += 1;
            }
            let end = groups.end_of(at as u32);
            if end == NONE || end as usize <= at {
                continue;
            }
            match op.kind {
                OpKind::TransactionStart => {
                    tally.transactions.push(u64::from(end) - at as u64 - 1);
                }
                OpKind::TraverseStart { .. } => {
                    let entries = (at + 1..end as usize)
                        .filter(|&i| {
                            groups.traverse[i] == at as u32
                                && matches!(trace.ops[i].kind, OpKind::TraverseEntry { .. })
                        })
                        .count();
                    tally.traverses.push(entries as u64);
                }
                _ => {}
            }
        }
        for (sum, n) in tally.total.iter_mut().zip(&counts) {
            *sum += n;
        }
        tally.per_trace.push(mix(&trace.name, &counts));
    }
    tally
}

/// The cross-trace dependencies in figures.
struct Waits {
    dependencies: u64,
    pairs: Vec<PairDeps>,
    most_waited_for: Vec<Hot>,
}

/// Count the plan's dependencies per pair of traces and per op waited for.
fn waits(traces: &[Trace], analysis: &Analysis, top: usize) -> Waits {
    let mut pairs: FxHashMap<(u32, u32), u64> = FxHashMap::default();
    let mut targets: FxHashMap<(u32, u32), u64> = FxHashMap::default();
    for dep in &analysis.deps {
        *pairs.entry((dep.file, dep.target_file)).or_default() += 1;
        *targets.entry((dep.target_file, dep.target)).or_default() += 1;
    }
    let mut dependency_pairs: Vec<PairDeps> = pairs
        .into_iter()
        .map(|((from, to), count)| PairDeps {
            from: traces[from as usize].name.clone(),
            to: traces[to as usize].name.clone(),
            count,
        })
        .collect();
    dependency_pairs.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then_with(|| (&a.from, &a.to).cmp(&(&b.from, &b.to)))
    });
    let dependencies = analysis.deps.len() as u64;
    Waits {
        dependencies,
        pairs: dependency_pairs,
        most_waited_for: hottest(
            targets
                .into_iter()
                .map(|((file, op), n)| (traces[file as usize].location(op), n))
                .collect(),
            dependencies,
            top,
        ),
    }
}
