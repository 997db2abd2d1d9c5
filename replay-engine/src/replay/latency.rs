//! Per-operation latency: a compact log-linear histogram (HdrHistogram-style, 32
//! sub-buckets per power of two, so every recorded value is kept to within 1/32 = 3%),
//! one per op type, and their summaries (count, total, p50, p99, p99.9, max).
//!
//! The executor reads the op clock ([`super::clock`], the CPU's time-stamp counter)
//! once per op, when the op finishes: an op's latency is the time from the end of the
//! previous op of its trace (or the end of the dependency wait before it) to its own end,
//! so waiting for other traces is never counted. A traverse start counts until its first
//! record, each traverse entry the engine's step to that record, the end the rest of the
//! walk. Forked workers copy their histograms into shared memory when their trace is done
//! ([`SharedLatencies`]), and the supervisor merges them per backend.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

use crate::backend::{ChainLockOp, LockAllOp, TraverseKind};
use crate::trace::OpKind;

/// Sub-buckets per power of two (as a power of two).
const SUB_BITS: u32 = 5;
const SUB: usize = 1 << SUB_BITS;
/// Values from 2^MAX_EXP ns (about 36 minutes) up share the last bucket range.
const MAX_EXP: u32 = 41;
/// Buckets of one histogram.
pub const BUCKETS: usize = SUB + (MAX_EXP - SUB_BITS + 1) as usize * SUB;

/// The bucket of a value in nanoseconds.
#[inline]
pub fn bucket_of(value: u64) -> usize {
    if value < SUB as u64 {
        return value as usize;
    }
    let value = value.min((1u64 << (MAX_EXP + 1)) - 1);
    let exp = 63 - value.leading_zeros();
    let shift = exp - SUB_BITS;
    (shift as usize + 1) * SUB + ((value >> shift) as usize - SUB)
}

/// The smallest and largest value of bucket `index`.
pub fn bucket_range(index: usize) -> (u64, u64) {
    if index < SUB {
        return (index as u64, index as u64);
    }
    let shift = (index / SUB - 1) as u32;
    let sub = (index % SUB + SUB) as u64;
    (sub << shift, ((sub + 1) << shift) - 1)
}

/// A histogram of durations in nanoseconds.
#[derive(Clone)]
pub struct Histogram {
    /// Values recorded.
    pub count: u64,
    /// Their sum.
    pub total_ns: u64,
    /// The largest.
    pub max_ns: u64,
    buckets: Box<[u64]>,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            count: 0,
            total_ns: 0,
            max_ns: 0,
            buckets: vec![0; BUCKETS].into_boxed_slice(),
        }
    }
}

impl std::fmt::Debug for Histogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Histogram")
            .field("count", &self.count)
            .field("total_ns", &self.total_ns)
            .field("max_ns", &self.max_ns)
            .finish_non_exhaustive()
    }
}

impl Histogram {
    /// Record one value.
    #[inline]
    pub fn record(&mut self, ns: u64) {
        self.count += 1;
        self.total_ns = self.total_ns.saturating_add(ns);
        self.max_ns = self.max_ns.max(ns);
        self.buckets[bucket_of(ns)] += 1;
    }

    /// Add another histogram's values.
    pub fn merge(&mut self, other: &Histogram) {
        self.count += other.count;
        self.total_ns = self.total_ns.saturating_add(other.total_ns);
        self.max_ns = self.max_ns.max(other.max_ns);
        for (mine, theirs) in self.buckets.iter_mut().zip(other.buckets.iter()) {
            *mine += theirs;
        }
    }

    /// The non-empty buckets, in order: the smallest and largest value each can hold, and
    /// how many values it holds.
    pub fn buckets(&self) -> impl Iterator<Item = (u64, u64, u64)> + '_ {
        self.buckets
            .iter()
            .enumerate()
            .filter(|(_, &count)| count > 0)
            .map(|(index, &count)| {
                let (lo, hi) = bucket_range(index);
                (lo, hi, count)
            })
    }

    /// The value at quantile `q` (0..=1): the largest value of the bucket holding the
    /// `ceil(q * count)`-th smallest value (never above the maximum); 0 when empty.
    pub fn quantile(&self, q: f64) -> u64 {
        if self.count == 0 {
            return 0;
        }
        let rank = ((q * self.count as f64).ceil() as u64).clamp(1, self.count);
        let mut seen = 0;
        for (index, &n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return bucket_range(index).1.min(self.max_ns);
            }
        }
        self.max_ns
    }
}

/// Every op type's name, in the order of [`op_type`].
pub const OP_TYPES: [&str; 38] = [
    "tdb_fetch",
    "tdb_parse_record",
    "tdb_exists",
    "tdb_delete",
    "tdb_store",
    "tdb_storev",
    "tdb_append",
    "tdb_wipe_all",
    "tdb_repack",
    "tdb_transaction_start",
    "tdb_transaction_prepare_commit",
    "tdb_transaction_commit",
    "tdb_transaction_cancel",
    "tdb_traverse_start",
    "tdb_traverse_read_start",
    "traverse",
    "traversefn",
    "tdb_traverse_end",
    "tdb_firstkey",
    "tdb_nextkey",
    "tdb_chainlock",
    "tdb_chainlock_nonblock",
    "tdb_chainlock_read",
    "tdb_chainlock_read_nonblock",
    "tdb_chainlock_mark",
    "tdb_chainlock_unmark",
    "tdb_chainunlock",
    "tdb_chainunlock_read",
    "tdb_lockall",
    "tdb_lockall_nonblock",
    "tdb_lockall_read",
    "tdb_lockall_read_nonblock",
    "tdb_lockall_mark",
    "tdb_lockall_unmark",
    "tdb_unlockall",
    "tdb_unlockall_read",
    "tdb_get_seqnum",
    "other",
];

/// The index of an op's type in [`OP_TYPES`] (its traced name).
pub fn op_type(kind: &OpKind) -> usize {
    match kind {
        OpKind::Fetch { .. } => 0,
        OpKind::ParseRecord { .. } => 1,
        OpKind::Exists { .. } => 2,
        OpKind::Delete { .. } => 3,
        OpKind::Store { .. } => 4,
        OpKind::StoreV { .. } => 5,
        OpKind::Append { .. } => 6,
        OpKind::WipeAll => 7,
        OpKind::Repack => 8,
        OpKind::TransactionStart => 9,
        OpKind::TransactionPrepareCommit => 10,
        OpKind::TransactionCommit => 11,
        OpKind::TransactionCancel { .. } => 12,
        OpKind::TraverseStart {
            kind: TraverseKind::Write,
        } => 13,
        OpKind::TraverseStart {
            kind: TraverseKind::Read,
        } => 14,
        OpKind::TraverseEntry { record: Some(_) } => 15,
        OpKind::TraverseEntry { record: None } => 16,
        OpKind::TraverseEnd { .. } => 17,
        OpKind::FirstKey { .. } => 18,
        OpKind::NextKey { .. } => 19,
        OpKind::ChainLock { op, .. } => {
            20 + match op {
                ChainLockOp::Lock => 0,
                ChainLockOp::LockNonblock => 1,
                ChainLockOp::LockRead => 2,
                ChainLockOp::LockReadNonblock => 3,
                ChainLockOp::Mark => 4,
                ChainLockOp::Unmark => 5,
                ChainLockOp::Unlock => 6,
                ChainLockOp::UnlockRead => 7,
            }
        }
        OpKind::LockAll { op, .. } => {
            28 + match op {
                LockAllOp::Lock => 0,
                LockAllOp::LockNonblock => 1,
                LockAllOp::LockRead => 2,
                LockAllOp::LockReadNonblock => 3,
                LockAllOp::Mark => 4,
                LockAllOp::Unmark => 5,
                LockAllOp::Unlock => 6,
                LockAllOp::UnlockRead => 7,
            }
        }
        OpKind::GetSeqnum { .. } => 36,
    }
}

/// One histogram per op type (allocated when the type is first seen).
#[derive(Clone, Debug, Default)]
pub struct OpLatencies {
    per_type: Vec<Option<Histogram>>,
}

impl OpLatencies {
    /// Record `ns` for an op of type `op_type`.
    #[inline]
    pub fn record(&mut self, op_type: usize, ns: u64) {
        if self.per_type.len() <= op_type {
            self.per_type.resize_with(OP_TYPES.len(), || None);
        }
        self.per_type[op_type]
            .get_or_insert_with(Histogram::default)
            .record(ns);
    }

    /// The histogram of an op type, if any op of it was recorded.
    pub fn get(&self, op_type: usize) -> Option<&Histogram> {
        self.per_type.get(op_type).and_then(Option::as_ref)
    }

    /// Add another set's values.
    pub fn merge(&mut self, other: &OpLatencies) {
        for (index, theirs) in other.per_type.iter().enumerate() {
            if let Some(theirs) = theirs {
                if self.per_type.len() <= index {
                    self.per_type.resize_with(OP_TYPES.len(), || None);
                }
                self.per_type[index]
                    .get_or_insert_with(Histogram::default)
                    .merge(theirs);
            }
        }
    }

    /// Every type that has values, with its histogram, in [`OP_TYPES`] order.
    pub fn types(&self) -> impl Iterator<Item = (&'static str, &Histogram)> + '_ {
        self.per_type
            .iter()
            .enumerate()
            .filter_map(|(index, histogram)| Some((OP_TYPES[index], histogram.as_ref()?)))
    }

    /// Values recorded over every type.
    pub fn count(&self) -> u64 {
        self.per_type.iter().flatten().map(|h| h.count).sum()
    }

    /// The summary of every type that has values, in [`OP_TYPES`] order.
    pub fn summaries(&self) -> Vec<LatencySummary> {
        self.per_type
            .iter()
            .enumerate()
            .filter_map(|(index, histogram)| {
                let histogram = histogram.as_ref()?;
                Some(LatencySummary::of(OP_TYPES[index], histogram))
            })
            .collect()
    }
}

/// The figures of one op type's histogram (times in nanoseconds).
///
/// JSON schema: one object of `replay --json`'s `latency[].ops` (per backend, every run
/// together), and the `c` and `pure` objects of `bench --json`'s `latency[]`. An op's
/// time runs from the end of the previous op of its trace, or of the dependency wait
/// before it, so waiting for other traces never counts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LatencySummary {
    /// The op type (its traced name, e.g. `tdb_fetch`; `traverse` is one step of a
    /// traverse to its next record). JSON `op`, a string.
    pub op: String,
    /// Ops timed. JSON `count`, an integer.
    pub count: u64,
    /// Their total time. JSON `total_ns`, an integer (nanoseconds).
    pub total_ns: u64,
    /// Median, from the log-linear histogram (within 3%). JSON `p50_ns`, an integer
    /// (nanoseconds).
    pub p50_ns: u64,
    /// 99th percentile, from the histogram. JSON `p99_ns`, an integer (nanoseconds).
    pub p99_ns: u64,
    /// 99.9th percentile, from the histogram. JSON `p999_ns`, an integer (nanoseconds).
    pub p999_ns: u64,
    /// The slowest, exact. JSON `max_ns`, an integer (nanoseconds).
    pub max_ns: u64,
}

impl LatencySummary {
    /// Summarise a histogram.
    pub fn of(op: &str, histogram: &Histogram) -> LatencySummary {
        LatencySummary {
            op: op.to_string(),
            count: histogram.count,
            total_ns: histogram.total_ns,
            p50_ns: histogram.quantile(0.5),
            p99_ns: histogram.quantile(0.99),
            p999_ns: histogram.quantile(0.999),
            max_ns: histogram.max_ns,
        }
    }
}

/// One histogram in shared memory: written by one worker, read by the supervisor after
/// the worker exited. Zero bytes are an empty histogram.
#[repr(C)]
struct SharedHistogram {
    count: AtomicU64,
    total_ns: AtomicU64,
    max_ns: AtomicU64,
    buckets: [AtomicU64; BUCKETS],
}

/// Every op type's histogram for one trace slot.
#[repr(C)]
pub struct SharedLatencies {
    per_type: [SharedHistogram; OP_TYPES.len()],
}

impl SharedLatencies {
    /// Forget every value.
    pub fn clear(&self) {
        for histogram in &self.per_type {
            if histogram.count.load(Ordering::Relaxed) == 0 {
                continue;
            }
            histogram.count.store(0, Ordering::Relaxed);
            histogram.total_ns.store(0, Ordering::Relaxed);
            histogram.max_ns.store(0, Ordering::Relaxed);
            for bucket in &histogram.buckets {
                bucket.store(0, Ordering::Relaxed);
            }
        }
    }

    /// Store a worker's histograms (replacing what was there).
    pub fn store(&self, latencies: &OpLatencies) {
        self.clear();
        for (index, histogram) in latencies.per_type.iter().enumerate() {
            let Some(histogram) = histogram else { continue };
            let shared = &self.per_type[index];
            shared.total_ns.store(histogram.total_ns, Ordering::Relaxed);
            shared.max_ns.store(histogram.max_ns, Ordering::Relaxed);
            for (to, &from) in shared.buckets.iter().zip(histogram.buckets.iter()) {
                if from != 0 {
                    to.store(from, Ordering::Relaxed);
                }
            }
            // The count last: a histogram with a count is complete.
            shared.count.store(histogram.count, Ordering::SeqCst);
        }
    }

    /// Read back what a worker stored.
    pub fn load(&self) -> OpLatencies {
        let mut latencies = OpLatencies::default();
        for (index, shared) in self.per_type.iter().enumerate() {
            let count = shared.count.load(Ordering::SeqCst);
            if count == 0 {
                continue;
            }
            let mut histogram = Histogram {
                count,
                total_ns: shared.total_ns.load(Ordering::Relaxed),
                max_ns: shared.max_ns.load(Ordering::Relaxed),
                ..Histogram::default()
            };
            for (to, from) in histogram.buckets.iter_mut().zip(shared.buckets.iter()) {
                *to = from.load(Ordering::Relaxed);
            }
            if latencies.per_type.len() <= index {
                latencies.per_type.resize_with(OP_TYPES.len(), || None);
            }
            latencies.per_type[index] = Some(histogram);
        }
        latencies
    }
}

/// One backend's latencies in a run (a mixed replay has two).
#[derive(Clone, Debug)]
pub struct BackendLatencies {
    /// The backend's name (`c`, `pure`).
    pub backend: &'static str,
    /// Its workers' histograms, merged.
    pub latencies: OpLatencies,
}

/// Merge `latencies` of a worker on `backend` into `into`.
pub fn merge_into(
    into: &mut Vec<BackendLatencies>,
    backend: &'static str,
    latencies: &OpLatencies,
) {
    match into.iter_mut().find(|b| b.backend == backend) {
        Some(found) => found.latencies.merge(latencies),
        None => into.push(BackendLatencies {
            backend,
            latencies: latencies.clone(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_every_value_in_order() {
        let mut previous = 0;
        for value in (0..5000u64).chain([1 << 20, (1 << 20) + 1, 1 << 40, u64::MAX]) {
            let index = bucket_of(value);
            assert!(index < BUCKETS);
            assert!(index >= previous || value > 5000);
            previous = index;
            let (low, high) = bucket_range(index);
            if value < 1 << 42 {
                assert!(low <= value && value <= high, "{value} in {low}..={high}");
                // 1/32 precision.
                assert!((high - low) * 32 <= low.max(32), "{low}..{high}");
            }
        }
        assert_eq!(bucket_of(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn quantiles_of_known_values() {
        let mut h = Histogram::default();
        for v in 1..=1000u64 {
            h.record(v * 1000);
        }
        assert_eq!(h.count, 1000);
        assert_eq!(h.max_ns, 1_000_000);
        assert_eq!(h.total_ns, 500_500_000);
        let within = |got: u64, want: u64| got >= want && got <= want + want / 32;
        assert!(within(h.quantile(0.5), 500_000), "{}", h.quantile(0.5));
        assert!(within(h.quantile(0.99), 990_000), "{}", h.quantile(0.99));
        assert!(within(h.quantile(0.999), 999_000), "{}", h.quantile(0.999));
        assert_eq!(h.quantile(1.0), 1_000_000);
        let mut merged = Histogram::default();
        merged.merge(&h);
        merged.merge(&h);
        assert_eq!(merged.count, 2000);
        assert_eq!(merged.quantile(0.5), h.quantile(0.5));
    }

    #[test]
    fn shared_round_trip() {
        let mut latencies = OpLatencies::default();
        latencies.record(0, 100);
        latencies.record(0, 300);
        latencies.record(20, 7);
        let shared: Box<SharedLatencies> = {
            // SAFETY: SharedLatencies is atomics only, for which zero bytes are valid.
            unsafe { Box::new_zeroed().assume_init() }
        };
        shared.store(&latencies);
        let back = shared.load();
        assert_eq!(back.count(), 3);
        assert_eq!(back.summaries(), latencies.summaries());
        shared.clear();
        assert_eq!(shared.load().count(), 0);
    }
}
