//! Key users: for every key, which ops of which traces touch it, what each needs the
//! record to be beforehand and what it leaves behind.
//!
//! An op inside an atomic region (transaction or chain lock) is folded into one *user*:
//! the region, represented by its start op. `tdb_wipe_all` is a user of every key.

use std::hash::BuildHasherDefault;

use rustc_hash::FxHasher;

use super::groups::{Grouped, Groups, NONE};
use crate::backend::StoreFlag;
use crate::trace::{Append, OpKind, Span, Trace};

pub(crate) type FxHashMap<K, V> = std::collections::HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// A byte string known to the analysis: a span of one trace's arena, or a value the
/// analysis computed (a Samba append's result).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Val {
    /// Bytes in trace `file`'s arena.
    Trace { file: u32, span: Span },
    /// Bytes in [`Values::computed`].
    Computed(u32),
}

/// Resolves [`Val`]s to bytes.
pub struct Values<'t> {
    pub traces: &'t [Trace],
    pub computed: Vec<Vec<u8>>,
}

impl Values<'_> {
    /// The bytes of `val`.
    pub fn bytes(&self, val: Val) -> &[u8] {
        match val {
            Val::Trace { file, span } => self.traces[file as usize].bytes(span),
            Val::Computed(index) => &self.computed[index as usize],
        }
    }
}

/// What a user requires of the record before it runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// Anything.
    Any,
    /// The record exists (any value).
    Exists,
    /// The record does not exist.
    Absent,
    /// Absent, or present and empty.
    AbsentOrEmpty,
    /// Present with exactly these bytes.
    Exactly(Val),
}

/// What a user leaves behind (all effects are absolute).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    /// The record is unchanged.
    Unchanged,
    /// The record is deleted.
    Delete,
    /// The record holds these bytes.
    Set(Val),
}

/// One user of one key: a single op, or an atomic region represented by its start.
#[derive(Clone, Copy, Debug)]
pub struct User {
    /// Trace index.
    pub file: u32,
    /// The op (or the region start) that stands for this user.
    pub rep: u32,
    /// Seqnum of `rep` (read after the op: its latest possible position).
    pub seqnum: u32,
    /// The earliest seqnum at which the op can have happened: the previous line's (a
    /// process can be descheduled between an op and reading the counter, while others
    /// move it on a long way).
    pub earliest: u32,
    /// Requirement on the record before the user runs.
    pub need: Need,
    /// What the user leaves.
    pub effect: Effect,
    /// A transaction that ends cancelled: harmless to run first on equal seqnums.
    pub cancelled: bool,
    /// It is (or contains) a `tdb_wipe_all`, so it is a user of every key.
    pub wipes: bool,
}

impl User {
    /// Whether the user changes the database (for dependency creation).
    pub fn changes(&self) -> bool {
        self.effect != Effect::Unchanged
    }
}

/// Every key's users, per key grouped by file and in file order.
pub struct KeyUsers {
    /// The key bytes (first occurrence) for messages.
    pub keys: Vec<Val>,
    /// Per key: its users, file by file (file order within a file).
    pub users: Vec<Vec<User>>,
}

/// The need and the effect of a single op on its key; `None` if the op has no key.
fn op_need_effect(
    file: u32,
    kind: &OpKind,
    computed: &mut Vec<Vec<u8>>,
    trace: &Trace,
) -> Option<(Span, Need, Effect)> {
    let at = |span: Span| Val::Trace { file, span };
    let set = |data: Option<Span>| Effect::Set(at(data.unwrap_or(Span::EMPTY)));
    Some(match *kind {
        OpKind::Fetch { key, result } => match result {
            None => (key, Need::Absent, Effect::Unchanged),
            Some(data) => (key, Need::Exactly(at(data)), Effect::Unchanged),
        },
        OpKind::Exists { key, ret } => {
            let need = if ret == 1 { Need::Exists } else { Need::Absent };
            (key, need, Effect::Unchanged)
        }
        OpKind::ParseRecord { key, ret } => {
            let need = if ret < 0 { Need::Absent } else { Need::Exists };
            (key, need, Effect::Unchanged)
        }
        OpKind::Delete { key, ret } => {
            if ret < 0 {
                (key, Need::Absent, Effect::Unchanged)
            } else {
                (key, Need::Exists, Effect::Delete)
            }
        }
        OpKind::Store {
            key,
            data,
            flag,
            ret,
        } => {
            let failed = ret < 0;
            let need = match (flag, failed) {
                (StoreFlag::Insert, false) => Need::Absent,
                (StoreFlag::Insert, true) => Need::Exists,
                (StoreFlag::Modify, false) => Need::Exists,
                // Not proof of absence: tdb 1.4.8 also fails a MODIFY of a record it cannot
                // update in place when an earlier call left TDB_ERR_NOEXIST behind.
                (StoreFlag::Modify, true) => Need::Any,
                _ => Need::Any,
            };
            let effect = if failed { Effect::Unchanged } else { set(data) };
            (key, need, effect)
        }
        OpKind::StoreV { key, data, flag } => {
            // The traced ret is meaningless; assume the store worked.
            let need = match flag {
                StoreFlag::Insert => Need::Absent,
                StoreFlag::Modify => Need::Exists,
                _ => Need::Any,
            };
            (key, need, set(Some(data)))
        }
        OpKind::Append { key, append } => match append {
            Append::Result { appended, result } => {
                let appended_len = appended.map_or(0, |span| span.len);
                match result {
                    Some(result) if result.len >= appended_len => {
                        let previous = Span {
                            start: result.start,
                            len: result.len - appended_len,
                        };
                        let need = if previous.len == 0 {
                            Need::AbsentOrEmpty
                        } else {
                            Need::Exactly(at(previous))
                        };
                        (key, need, Effect::Set(at(result)))
                    }
                    _ => (key, Need::Any, Effect::Unchanged),
                }
            }
            Append::Previous { previous, appended } => {
                let mut joined = previous.map_or(&[][..], |span| trace.bytes(span)).to_vec();
                joined.extend_from_slice(appended.map_or(&[][..], |span| trace.bytes(span)));
                computed.push(joined);
                let result = Val::Computed(computed.len() as u32 - 1);
                let need = match previous {
                    Some(span) if span.len > 0 => Need::Exactly(at(span)),
                    _ => Need::AbsentOrEmpty,
                };
                (key, need, Effect::Set(result))
            }
        },
        OpKind::NextKey { key, .. } => (key, Need::Any, Effect::Unchanged),
        OpKind::ChainLock {
            key,
            op: crate::backend::ChainLockOp::Mark | crate::backend::ChainLockOp::Unmark,
            ..
        } => (key, Need::Any, Effect::Unchanged),
        _ => return None,
    })
}

/// Whether the op writes (so that tdb refuses it inside a read traverse).
pub(crate) fn effect_kind_writes(kind: &OpKind) -> bool {
    matches!(
        kind,
        OpKind::Store { .. }
            | OpKind::StoreV { .. }
            | OpKind::Append { .. }
            | OpKind::Delete { .. }
    )
}

/// Combine two requirements on the same initial record; `None` if they contradict.
fn both(values: &Values<'_>, a: Need, b: Need) -> Option<Need> {
    use Need::*;
    let empty = |v: Val| values.bytes(v).is_empty();
    Some(match (a, b) {
        (Any, x) | (x, Any) => x,
        (Exists, Exists) => Exists,
        (Absent, Absent) | (Absent, AbsentOrEmpty) | (AbsentOrEmpty, Absent) => Absent,
        (AbsentOrEmpty, AbsentOrEmpty) => AbsentOrEmpty,
        (Exists, Exactly(v)) | (Exactly(v), Exists) => Exactly(v),
        (AbsentOrEmpty, Exactly(v)) | (Exactly(v), AbsentOrEmpty) if empty(v) => Exactly(v),
        (Exactly(x), Exactly(y)) if values.bytes(x) == values.bytes(y) => Exactly(x),
        _ => return None,
    })
}

/// A member of a user: one op on the key (or a wipe), in file order.
#[derive(Clone)]
struct Member {
    op: u32,
    rep: u32,
    need: Need,
    effect: Effect,
    wipe: bool,
}

/// The second pass's plan: the groups, and every key's users.
pub struct KeyUse<'t> {
    /// The first pass's plan.
    pub grouped: Grouped<'t>,
    /// The byte strings the users refer to.
    pub values: Values<'t>,
    /// Every key's users.
    pub key_users: KeyUsers,
}

/// The second pass: collect every key's users from every trace.
pub fn collect(grouped: Grouped<'_>) -> KeyUse<'_> {
    let mut values = Values {
        traces: grouped.traces,
        computed: Vec::new(),
    };
    let key_users = collect_users(grouped.traces, &grouped.groups, &mut values);
    KeyUse {
        grouped,
        values,
        key_users,
    }
}

/// Every key's users in `traces`, computed values going into `values`.
fn collect_users(traces: &[Trace], groups: &[Groups], values: &mut Values<'_>) -> KeyUsers {
    let mut index: FxHashMap<&[u8], u32> = FxHashMap::default();
    let mut keys: Vec<Val> = Vec::new();
    // Per key, per file (in file order): members.
    let mut members: Vec<Vec<(u32, Member)>> = Vec::new();
    let mut wipes: Vec<Vec<Member>> = vec![Vec::new(); traces.len()];

    for (file, (trace, groups)) in traces.iter().zip(groups).enumerate() {
        let file = file as u32;
        for (op_index, op) in trace.ops.iter().enumerate() {
            let rep = match groups.atomic[op_index] {
                NONE => op_index as u32,
                start => start,
            };
            if matches!(op.kind, OpKind::WipeAll) {
                wipes[file as usize].push(Member {
                    op: op_index as u32,
                    rep,
                    need: Need::Any,
                    effect: Effect::Delete,
                    wipe: true,
                });
                continue;
            }
            let Some((key, mut need, mut effect)) =
                op_need_effect(file, &op.kind, &mut values.computed, trace)
            else {
                continue;
            };
            if groups.in_read_traverse[op_index] && effect_kind_writes(&op.kind) {
                // Refused with TDB_ERR_RDONLY whatever the record holds.
                need = Need::Any;
                effect = Effect::Unchanged;
            }
            let bytes = trace.bytes(key);
            let id = *index.entry(bytes).or_insert_with(|| {
                keys.push(Val::Trace { file, span: key });
                members.push(Vec::new());
                keys.len() as u32 - 1
            });
            members[id as usize].push((
                file,
                Member {
                    op: op_index as u32,
                    rep,
                    need,
                    effect,
                    wipe: false,
                },
            ));
        }
    }

    let users = members
        .into_iter()
        .map(|key_members| {
            let mut users = Vec::new();
            let mut start = 0;
            for file in 0..traces.len() as u32 {
                let end = start
                    + key_members[start..]
                        .iter()
                        .take_while(|(f, _)| *f == file)
                        .count();
                let own = &key_members[start..end];
                start = end;
                let wiped = &wipes[file as usize];
                if own.is_empty() && wiped.is_empty() {
                    continue;
                }
                fold_users(
                    file,
                    own.iter().map(|(_, m)| m),
                    wiped,
                    &traces[file as usize],
                    &groups[file as usize],
                    values,
                    &mut users,
                );
            }
            users
        })
        .collect();
    KeyUsers { keys, users }
}

/// Merge one file's members on a key with the file's wipes, in op order, and fold the
/// members of each atomic region into a single user.
fn fold_users<'m>(
    file: u32,
    own: impl Iterator<Item = &'m Member>,
    wipes: &'m [Member],
    trace: &Trace,
    groups: &Groups,
    values: &Values<'_>,
    out: &mut Vec<User>,
) {
    let mut own = own.peekable();
    let mut wipes = wipes.iter().peekable();
    let mut current: Option<(User, bool)> = None; // (user, state known inside the group)
    loop {
        let next = match (own.peek(), wipes.peek()) {
            (Some(a), Some(b)) => {
                if a.op <= b.op {
                    own.next()
                } else {
                    wipes.next()
                }
            }
            (Some(_), None) => own.next(),
            (None, Some(_)) => wipes.next(),
            (None, None) => None,
        };
        let Some(member) = next else { break };
        let discarded = groups.discarded[member.op as usize];
        match &mut current {
            Some((user, known)) if user.rep == member.rep => {
                user.wipes |= member.wipe;
                if !*known {
                    match both(values, user.need, member.need) {
                        Some(need) => user.need = need,
                        // Contradicting evidence: a value actually read beats what a
                        // failed write suggested (tdb 1.4.8 can fail a TDB_MODIFY of an
                        // existing record when a stale TDB_ERR_NOEXIST is left over).
                        None if matches!(member.need, Need::Exactly(_)) => user.need = member.need,
                        None => {}
                    }
                }
                if member.effect != Effect::Unchanged {
                    *known = true;
                    if !discarded {
                        user.effect = member.effect;
                    }
                }
            }
            _ => {
                if let Some((user, _)) = current.take() {
                    out.push(user);
                }
                let rep = member.rep;
                let cancelled = groups.is_atomic_start(rep)
                    && groups.discarded[groups.end_of(rep) as usize]
                    && groups.discarded[rep as usize];
                let seqnum = trace.ops[rep as usize].seqnum;
                let previous = match rep.checked_sub(1) {
                    Some(before) => trace.ops[before as usize].seqnum,
                    None => trace.open.seqnum,
                };
                let user = User {
                    file,
                    rep,
                    seqnum,
                    earliest: previous.min(seqnum),
                    need: member.need,
                    effect: if discarded {
                        Effect::Unchanged
                    } else {
                        member.effect
                    },
                    cancelled,
                    wipes: member.wipe,
                };
                current = Some((user, member.effect != Effect::Unchanged));
            }
        }
    }
    if let Some((user, _)) = current {
        out.push(user);
    }
}
