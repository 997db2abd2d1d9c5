//! What can be removed from a trace without breaking it: its ops as a tree of regions.
//!
//! A region is a transaction (start to commit or cancel, Samba's untraced nested closes
//! included), a traverse (start to end), a chain-lock or all-record-lock section (lock to
//! unlock), or a key walk (`tdb_firstkey` to the `tdb_nextkey` that found nothing). Its
//! *frame* is the ops that open, chain and close it; they only ever go together, with
//! everything between them. Everything else inside a region (a store in a transaction, a
//! traverse entry, an op run by a traverse callback, a nested region) is a child that can
//! go on its own. Regions that cross each other (a chain lock taken inside a transaction
//! and released after it), or whose frame runs through a nested region (a key walk whose
//! `tdb_nextkey` is inside a transaction) are merged into one, so removing any node of the
//! tree leaves every remaining region well formed.
//!
//! [`unwrappings`] lists, per region, the frame ops (and a traverse's entries) whose
//! removal keeps the region's content but not the region.
//!
//! A region left open at the end of the trace has no frame to keep whole: its opening op
//! is a node of its own (removing it leaves its former content outside any region).

use crate::backend::{ChainLockOp, LockAllOp};
use crate::trace::{OpKind, Trace};

/// A removable part of a trace: ops `first..=last`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// First op.
    pub first: u32,
    /// Last op (inclusive).
    pub last: u32,
    /// For a region, the ops that open, chain and close it (ascending); empty for a
    /// single op.
    pub frame: Vec<u32>,
    /// For a region, the parts between its frame ops that can go on their own.
    pub children: Vec<Node>,
}

/// The top-level nodes of `trace`, in order, covering every op.
pub fn tree(trace: &Trace) -> Vec<Node> {
    let mut regions = crossing_merged(frames(trace));
    regions.sort_by_key(|region| (region.first, std::cmp::Reverse(region.last)));
    let mut next = 0;
    let count = trace.ops.len() as u32;
    let mut roots = if count == 0 {
        Vec::new()
    } else {
        build(0, count - 1, &regions, &mut next, &[])
    };
    for root in &mut roots {
        absorb_frame_holders(root);
    }
    roots
}

/// The nodes `depth` levels down (0: the top-level ones), in order.
pub fn at_depth(roots: &[Node], depth: usize) -> Vec<&Node> {
    let mut level: Vec<&Node> = roots.iter().collect();
    for _ in 0..depth {
        level = level.iter().flat_map(|node| node.children.iter()).collect();
    }
    level
}

/// For every region of the tree, at any depth, the ops that *unwrapping* it removes: its
/// frame and, for a traverse, the entries directly in it (an entry means nothing outside
/// a traverse). What the region holds stays where it is, now outside it.
pub fn unwrappings(trace: &Trace, roots: &[Node]) -> Vec<Vec<u32>> {
    let mut found = Vec::new();
    let mut pending: Vec<&Node> = roots.iter().rev().collect();
    while let Some(node) = pending.pop() {
        if node.frame.is_empty() {
            continue;
        }
        let traverse = node
            .frame
            .iter()
            .any(|&op| matches!(trace.ops[op as usize].kind, OpKind::TraverseStart { .. }));
        let mut ops = node.frame.clone();
        if traverse {
            ops.extend(
                node.children
                    .iter()
                    .filter(|child| {
                        child.frame.is_empty()
                            && matches!(
                                trace.ops[child.first as usize].kind,
                                OpKind::TraverseEntry { .. }
                            )
                    })
                    .map(|child| child.first),
            );
            ops.sort_unstable();
        }
        found.push(ops);
        pending.extend(node.children.iter().rev());
    }
    found
}

/// A region as found: its extent and its frame ops.
#[derive(Debug)]
struct Region {
    first: u32,
    last: u32,
    frame: Vec<u32>,
}

impl Region {
    fn new(open: u32, close: u32) -> Region {
        Region {
            first: open,
            last: close,
            frame: vec![open, close],
        }
    }
}

/// Every closed region of `trace`, as the analysis pairs them (see `analysis::groups`).
fn frames(trace: &Trace) -> Vec<Region> {
    let mut regions: Vec<Region> = Vec::new();
    let mut transactions: Vec<u32> = Vec::new();
    // The outermost transaction closed last, which a Samba nested close extends.
    let mut last_closed: Option<usize> = None;
    let mut traverses: Vec<u32> = Vec::new();
    let mut chainlocks: Vec<(u32, &[u8])> = Vec::new();
    let mut lockalls: Vec<u32> = Vec::new();
    let mut walk: Option<usize> = None;
    for (index, op) in trace.ops.iter().enumerate() {
        let i = index as u32;
        match op.kind {
            OpKind::TransactionStart => {
                transactions.push(i);
                last_closed = None;
            }
            OpKind::TransactionCommit | OpKind::TransactionCancel { .. } => {
                if let Some(start) = transactions.pop() {
                    regions.push(Region::new(start, i));
                    if transactions.is_empty() {
                        last_closed = Some(regions.len() - 1);
                    }
                } else if let Some(closed) = last_closed {
                    let region = &mut regions[closed];
                    region.last = i;
                    region.frame.push(i);
                }
            }
            OpKind::TraverseStart { .. } => traverses.push(i),
            OpKind::TraverseEnd { .. } => {
                if let Some(start) = traverses.pop() {
                    regions.push(Region::new(start, i));
                }
            }
            OpKind::ChainLock { key, op: lock, ret } => match lock {
                ChainLockOp::Lock | ChainLockOp::LockRead => chainlocks.push((i, trace.bytes(key))),
                ChainLockOp::LockNonblock | ChainLockOp::LockReadNonblock if ret == Some(0) => {
                    chainlocks.push((i, trace.bytes(key)));
                }
                ChainLockOp::Unlock | ChainLockOp::UnlockRead => {
                    let key = trace.bytes(key);
                    if let Some(at) = chainlocks.iter().rposition(|open| open.1 == key) {
                        let (start, _) = chainlocks.remove(at);
                        regions.push(Region::new(start, i));
                    }
                }
                _ => {}
            },
            OpKind::LockAll { op: lock, ret } => match lock {
                LockAllOp::Lock | LockAllOp::LockRead => lockalls.push(i),
                LockAllOp::LockNonblock | LockAllOp::LockReadNonblock if ret == Some(0) => {
                    lockalls.push(i);
                }
                LockAllOp::Unlock | LockAllOp::UnlockRead => {
                    if let Some(start) = lockalls.pop() {
                        regions.push(Region::new(start, i));
                    }
                }
                _ => {}
            },
            OpKind::FirstKey { result } => {
                walk = result.is_some().then(|| {
                    regions.push(Region {
                        first: i,
                        last: i,
                        frame: vec![i],
                    });
                    regions.len() - 1
                });
            }
            OpKind::NextKey { result, .. } => {
                if let Some(open) = walk {
                    let region = &mut regions[open];
                    region.last = i;
                    region.frame.push(i);
                    if result.is_none() {
                        walk = None;
                    }
                }
            }
            _ => {}
        }
    }
    // A walk that never got past its firstkey is just that op.
    regions.retain(|region| region.frame.len() > 1);
    regions
}

/// Merge regions that cross (each holds one end of the other) until every two are
/// nested or apart.
fn crossing_merged(mut regions: Vec<Region>) -> Vec<Region> {
    regions.sort_by_key(|region| (region.first, std::cmp::Reverse(region.last)));
    let mut merged: Vec<Region> = Vec::with_capacity(regions.len());
    let mut alive: Vec<bool> = Vec::with_capacity(regions.len());
    // Regions still open at the current position, outermost first (indices in `merged`).
    let mut open: Vec<usize> = Vec::new();
    for region in regions {
        while open
            .last()
            .is_some_and(|&top| merged[top].last < region.first)
        {
            open.pop();
        }
        match open.last() {
            Some(&top) if region.last > merged[top].last => {
                let top_region = &mut merged[top];
                top_region.last = region.last;
                top_region.frame.extend(region.frame);
                // The grown region may now cross the one around it, and so on out.
                while open.len() >= 2 {
                    let (outer, inner) = (open[open.len() - 2], open[open.len() - 1]);
                    if merged[inner].last <= merged[outer].last {
                        break;
                    }
                    let frame = std::mem::take(&mut merged[inner].frame);
                    let last = merged[inner].last;
                    merged[outer].frame.extend(frame);
                    merged[outer].last = last;
                    alive[inner] = false;
                    open.pop();
                }
            }
            _ => {
                merged.push(region);
                alive.push(true);
                open.push(merged.len() - 1);
            }
        }
    }
    let mut out: Vec<Region> = merged
        .into_iter()
        .zip(alive)
        .filter_map(|(region, alive)| alive.then_some(region))
        .collect();
    for region in &mut out {
        region.frame.sort_unstable();
        region.frame.dedup();
    }
    out
}

/// The nodes of ops `lo..=hi`, leaving out the ops of `frame` (the enclosing region's);
/// `regions` are sorted and laminar, `next` the first not yet placed.
fn build(lo: u32, hi: u32, regions: &[Region], next: &mut usize, frame: &[u32]) -> Vec<Node> {
    let mut nodes = Vec::new();
    let mut at = lo;
    while at <= hi {
        // Regions are nested or apart, so one starting here lies within lo..=hi.
        if let Some(region) = regions.get(*next).filter(|region| region.first == at) {
            *next += 1;
            let children = build(region.first, region.last, regions, next, &region.frame);
            nodes.push(Node {
                first: region.first,
                last: region.last,
                frame: region.frame.clone(),
                children,
            });
            at = region.last + 1;
        } else {
            if frame.binary_search(&at).is_err() {
                nodes.push(Node {
                    first: at,
                    last: at,
                    frame: Vec::new(),
                    children: Vec::new(),
                });
            }
            at += 1;
        }
    }
    nodes
}

/// A child region holding one of its parent's frame ops (a key walk's `tdb_nextkey`
/// inside a transaction) cannot go without breaking the parent: merge it into the parent,
/// its frame joining the parent's and its children becoming the parent's (except those
/// that are frame ops themselves).
fn absorb_frame_holders(node: &mut Node) {
    let mut at = 0;
    while at < node.children.len() {
        let child = &node.children[at];
        let from = node.frame.partition_point(|&op| op < child.first);
        let holds = node.frame.get(from).is_some_and(|&op| op <= child.last);
        if holds {
            // A single op that is now a frame op goes; a region gives up its frame and
            // its children take its place (and are looked at in turn).
            let child = node.children.remove(at);
            node.frame.extend(child.frame);
            node.frame.sort_unstable();
            node.children.splice(at..at, child.children);
        } else {
            at += 1;
        }
    }
    for child in &mut node.children {
        absorb_frame_holders(child);
    }
}

#[cfg(test)]
mod tests;
