//! A trace cut into units: the spans the deterministic interleaving never splits.
//!
//! A unit is a whole lock-holding region (a transaction, a chain-lock or all-record-lock
//! section, a traverse with everything its callback ran, a firstkey..nextkey walk), with
//! overlapping regions merged, or one op outside every region. Another process could
//! not have run inside such a region in a way one shared handle can reproduce (it would
//! see an open transaction, or take part in the walk), so the interleaving only switches
//! traces between units.

use crate::analysis::{Groups, NONE};

/// One unit: ops `start..=end` of one trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unit {
    /// First op.
    pub start: u32,
    /// Last op (inclusive).
    pub end: u32,
}

/// The units of a trace of `ops` ops with groups `groups`, in order, covering every op.
pub fn units(groups: &Groups, ops: usize) -> Vec<Unit> {
    let mut units = Vec::new();
    let mut start = 0usize;
    while start < ops {
        let mut end = start;
        let mut at = start;
        // Grow the unit until no op inside it belongs to a region reaching further.
        while at <= end {
            end = end.max(region_end(groups, at, ops));
            at += 1;
        }
        units.push(Unit {
            start: start as u32,
            end: end as u32,
        });
        start = end + 1;
    }
    units
}

/// The last op of every region op `at` is in (itself when it is in none).
fn region_end(groups: &Groups, at: usize, ops: usize) -> usize {
    let last = ops - 1;
    let mut end = at;
    for start in [groups.atomic[at], groups.outer_traverse[at]] {
        if start != NONE {
            let region_end = groups.end_of(start);
            if region_end != NONE {
                end = end.max(region_end as usize);
            } else {
                // An unterminated region runs to the end of the trace.
                end = last;
            }
        }
    }
    let walk = groups.walk[at];
    if walk != NONE {
        // A walk holds its record lock up to its last op: the run of ops sharing it.
        let mut next = at;
        while next < last && groups.walk[next + 1] == walk {
            next += 1;
        }
        end = end.max(next);
    }
    end.min(last)
}
