//! Dependencies between traces: "op `op` of trace `file` may not start before op
//! `target` of trace `target_file` has finished".
//!
//! Built from each key's chosen order (depend on the last change, or on the readers of
//! the previous value), adjusted for groups (a dependency on a transaction is one on its
//! end; a traverse that waits for a transaction waits before it starts), completed by an
//! order between conflicting traverses, then pruned of everything the traces' own order
//! already implies.

use super::groups::{Groups, NONE};
use super::keys::{KeyUse, User};
use super::order::{Ordered, Ordering, Pins};
use crate::backend::{LockingModel, TraverseKind};
use crate::trace::{OpKind, Trace};

/// One dependency.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Dep {
    /// The waiting trace.
    pub file: u32,
    /// The op that waits.
    pub op: u32,
    /// The trace waited for.
    pub target_file: u32,
    /// The op that must have finished.
    pub target: u32,
}

impl Dep {
    /// `file:line waits for file:line`, for people.
    pub fn describe(&self, traces: &[Trace]) -> String {
        let at = |file: u32, op: u32| traces[file as usize].location(op);
        format!(
            "{} waits for {}",
            at(self.file, self.op),
            at(self.target_file, self.target)
        )
    }
}

/// The fourth pass's plan: the key users, each key's order with the dependencies it
/// gives, and the order between traverses.
pub struct Planned<'t> {
    /// The second pass's plan.
    pub used: KeyUse<'t>,
    /// The wipe pins the orders respect.
    pub pins: Option<Pins>,
    /// Per key: its order and dependencies.
    pub keys: Vec<KeyPlan>,
    /// The dependencies between traverses that exclude each other.
    pub traverse_deps: Vec<Dep>,
    /// The backend's locking.
    pub locking: LockingModel,
}

impl Planned<'_> {
    /// Every dependency of the plan, sorted and without duplicates.
    pub fn all_deps(&self) -> Vec<Dep> {
        let mut all: Vec<Dep> = self.traverse_deps.clone();
        for plan in &self.keys {
            all.extend_from_slice(&plan.deps);
        }
        all.sort_unstable();
        all.dedup();
        all
    }
}

/// The fourth pass: the dependencies every key's order gives, and those between
/// traverses.
pub fn plan(ordered: Ordered<'_>, locking: LockingModel) -> Planned<'_> {
    let Ordered { used, orders, pins } = ordered;
    let ctx = Context {
        traces: used.grouped.traces,
        groups: &used.grouped.groups,
        locking,
    };
    let keys = used
        .key_users
        .users
        .iter()
        .zip(orders)
        .map(|(users, ordering)| KeyPlan::new(&ctx, users, ordering, Vec::new()))
        .collect();
    let mut traverse_deps = Vec::new();
    traverse_order(&ctx, &mut traverse_deps);
    Planned {
        used,
        pins,
        keys,
        traverse_deps,
        locking,
    }
}

/// One key's chosen order and the dependencies it produced, with the pair of users each
/// dependency came from and the precedence constraints the order was found under.
pub struct KeyPlan {
    /// The order.
    pub ordering: Ordering,
    /// The dependencies it gives.
    pub deps: Vec<Dep>,
    /// Per dependency: the users (waiting, waited for) it came from.
    pub origins: Vec<(usize, usize)>,
    /// Pairs of users `(a, b)` the order had to put `a` before `b` (cycle repairs).
    pub before: Vec<(usize, usize)>,
}

impl KeyPlan {
    /// The dependencies of `ordering`, an order of `users` found under `before`.
    pub fn new(
        ctx: &Context<'_>,
        users: &[User],
        ordering: Ordering,
        before: Vec<(usize, usize)>,
    ) -> KeyPlan {
        let mut plan = KeyPlan {
            ordering,
            deps: Vec::new(),
            origins: Vec::new(),
            before,
        };
        from_order(
            ctx,
            users,
            &plan.ordering.order,
            &mut plan.deps,
            &mut plan.origins,
        );
        plan
    }
}

/// What the adjustment rules need to know about the traces and the backend.
pub struct Context<'a> {
    pub traces: &'a [Trace],
    pub groups: &'a [Groups],
    pub locking: LockingModel,
}

impl Context<'_> {
    fn seqnum(&self, file: u32, op: u32) -> u32 {
        self.traces[file as usize].ops[op as usize].seqnum
    }

    /// Whether the traverse starting at `start` holds the transaction lock while it
    /// walks (a write traverse always; a read traverse only on some tdb versions).
    fn traverse_holds_transaction_lock(&self, file: u32, start: u32) -> bool {
        match self.traces[file as usize].ops[start as usize].kind {
            OpKind::TraverseStart {
                kind: TraverseKind::Write,
            } => true,
            OpKind::TraverseStart {
                kind: TraverseKind::Read,
            } => self.locking.read_traverse_takes_transaction_lock,
            _ => false,
        }
    }

    /// Whether `op` takes the transaction lock: a transaction start, or the start of a
    /// traverse that holds it.
    fn takes_transaction_lock(&self, file: u32, op: u32) -> bool {
        matches!(
            self.traces[file as usize].ops[op as usize].kind,
            OpKind::TransactionStart
        ) || self.traverse_holds_transaction_lock(file, op)
    }

    /// The outermost traverse around `op`, if it holds the transaction lock.
    fn locking_traverse(&self, file: u32, op: u32) -> Option<u32> {
        self.outer_traverse(file, op)
            .filter(|&start| self.traverse_holds_transaction_lock(file, start))
    }

    fn outer_traverse(&self, file: u32, op: u32) -> Option<u32> {
        self.groups[file as usize].outer_traverse(op)
    }

    /// Add `waiter` → `target` to `deps` after applying the group rules; dependencies
    /// within one trace are dropped (the trace's own order implies them).
    pub fn add(&self, deps: &mut Vec<Dep>, waiter: (u32, u32), target: (u32, u32)) {
        let (file, mut op) = waiter;
        let (target_file, mut target) = target;
        if file == target_file {
            return;
        }
        let waiter_traverse = self.outer_traverse(file, op);
        let target_traverse = self.outer_traverse(target_file, target);
        let conflicting = (self.locking_traverse(target_file, target).is_some()
            && self.takes_transaction_lock(file, op))
            || (self.locking_traverse(file, op).is_some()
                && self.takes_transaction_lock(target_file, target));
        if conflicting {
            // A traverse holding the transaction lock excludes transactions and other such
            // traverses: wait for the whole of the other, and do it before starting.
            if let Some(start) = target_traverse {
                target = self.groups[target_file as usize].end_of(start);
            }
            if let Some(start) = waiter_traverse {
                op = start;
            }
        } else if let Some(start) = waiter_traverse {
            // The target happened before this traverse began: waiting inside the traverse
            // could block a transaction the target's trace must get through first.
            if self.seqnum(file, start) > self.seqnum(target_file, target) {
                op = start;
            }
        }
        // Depending on an atomic region means depending on its end; waiting inside one
        // means waiting before it starts.
        let target_groups = &self.groups[target_file as usize];
        let region = target_groups.atomic[target as usize];
        if region != NONE {
            target = target_groups.end_of(region);
        }
        let region = self.groups[file as usize].atomic[op as usize];
        if region != NONE {
            op = region;
        }
        deps.push(Dep {
            file,
            op,
            target_file,
            target,
        });
    }
}

/// Dependencies for one key from its chosen order: a user that changes the record waits
/// for the previous change and for every trace's last reader since; a reader waits for
/// the previous change. For each dependency pushed onto `deps`, `origins` gets the pair
/// of users (waiting, waited for) it came from.
pub fn from_order(
    ctx: &Context<'_>,
    users: &[User],
    order: &[usize],
    deps: &mut Vec<Dep>,
    origins: &mut Vec<(usize, usize)>,
) {
    let traces = ctx.traces.len();
    let mut previous_change: Option<usize> = None;
    let mut readers_since: Vec<Option<usize>> = vec![None; traces];
    let mut add = |deps: &mut Vec<Dep>, waiter: usize, target: usize| {
        let before = deps.len();
        let (w, t) = (&users[waiter], &users[target]);
        ctx.add(deps, (w.file, w.rep), (t.file, t.rep));
        if deps.len() > before {
            origins.push((waiter, target));
        }
    };
    for &index in order {
        let user = &users[index];
        if let Some(previous) = previous_change {
            add(deps, index, previous);
        }
        if user.changes() {
            for reader in readers_since.iter_mut() {
                if let Some(reader) = reader.take() {
                    add(deps, index, reader);
                }
            }
            previous_change = Some(index);
        } else {
            readers_since[user.file as usize] = Some(index);
        }
    }
}

/// Order the traverses that exclude each other (those holding the transaction lock) by
/// seqnum; traverses that take no transaction lock, and traverses inside transactions,
/// are left alone.
pub fn traverse_order(ctx: &Context<'_>, deps: &mut Vec<Dep>) {
    struct Walk {
        file: u32,
        start: u32,
        end: u32,
        read: bool,
        key: (u32, u32),
    }
    let mut walks = Vec::new();
    for (file, (trace, groups)) in ctx.traces.iter().zip(ctx.groups).enumerate() {
        let mut open_until: Option<u32> = None;
        for (index, op) in trace.ops.iter().enumerate() {
            let index = index as u32;
            if open_until.is_some_and(|end| index <= end) {
                continue;
            }
            open_until = None;
            let OpKind::TraverseStart { kind } = op.kind else {
                continue;
            };
            let end = groups.end_of(index);
            open_until = Some(end);
            if groups.atomic[index as usize] != NONE {
                continue;
            }
            if kind == TraverseKind::Read && !ctx.locking.read_traverse_takes_transaction_lock {
                continue;
            }
            walks.push(Walk {
                file: file as u32,
                start: index,
                end,
                read: kind == TraverseKind::Read,
                key: (op.seqnum, trace.ops[end as usize].seqnum),
            });
        }
    }
    walks.sort_by_key(|walk| (walk.key, walk.file, walk.start));
    for pair in walks.windows(2) {
        let (before, after) = (&pair[0], &pair[1]);
        if (before.read && after.read) || before.key == after.key {
            continue;
        }
        ctx.add(deps, (after.file, after.start), (before.file, before.end));
    }
}
