//! Ordering one key's users: find an interleaving of the traces' users of a key that
//! explains every recorded result, staying as close as possible to seqnum order.
//!
//! The search is a depth-first search over "how far each trace has got" plus the
//! record's current value, memoising dead ends, so it is polynomial in the number of
//! users when few traces touch a key (the original was an exponential recursion). It runs
//! with a growing seqnum *fuzz* (how far a user may run ahead of the earliest pending user
//! of another trace): 0, 2, 6, 14, 30, 62 as the original did, then without limit. A
//! user's seqnum is an interval (from the previous line's to its own, since a process can
//! be descheduled between an op and reading the counter), and it may run first if the
//! start of its interval is within the fuzz.
//! If no order works from an absent record, the key must have existed before the traces
//! started: the candidates come from what the first users needed.

use std::collections::HashSet;

use super::keys::{Effect, FxHashMap, KeyUse, KeyUsers, Need, User, Val, Values};
use super::AnalysisError;

/// The fuzz levels tried, in order; `None` is "no limit".
const FUZZ_LEVELS: [Option<u32>; 7] = [
    Some(0),
    Some(2),
    Some(6),
    Some(14),
    Some(30),
    Some(62),
    None,
];

/// Node expansions allowed per search attempt before giving up on it.
const BUDGET: usize = 200_000;

/// The record's value before the traces start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Initial {
    /// Not in the database.
    Absent,
    /// In the database with these bytes (a pre-existing record).
    Present(Val),
}

/// Where each `tdb_wipe_all` falls in the other traces, fixed once for every key so that
/// the keys' orders agree: for the wipe user `(file, rep)`, `cuts[g]` is the first op of
/// trace `g` that runs after the wipe (the ops before it run before).
#[derive(Debug, Default)]
pub struct Pins {
    pub cuts: FxHashMap<(u32, u32), Vec<u32>>,
}

/// A successful ordering.
#[derive(Debug)]
pub struct Ordering {
    /// Indices into the key's users, in the order they must run.
    pub order: Vec<usize>,
    /// The record's value before the traces start.
    pub initial: Initial,
    /// The fuzz level that succeeded (`None`: unlimited).
    pub fuzz: Option<u32>,
}

/// The third pass's plan: the key users, with an order for every key.
pub struct Ordered<'t> {
    /// The second pass's plan.
    pub used: KeyUse<'t>,
    /// Per key (as in [`KeyUsers::keys`]): its order.
    pub orders: Vec<Ordering>,
    /// The wipe pins the orders respect, if the traces wipe.
    pub pins: Option<Pins>,
}

/// The third pass: order every key's users; fails at the first key that has no order.
pub fn order_keys(used: KeyUse<'_>) -> Result<Ordered<'_>, AnalysisError> {
    let traces = used.grouped.traces.len();
    let (orders, pins) = order_all_keys(&used.key_users, &used.values, traces);
    let orders = orders
        .into_iter()
        .zip(&used.key_users.keys)
        .zip(&used.key_users.users)
        .map(|((ordering, &key), users)| {
            ordering.ok_or_else(|| AnalysisError::unorderable(&used.values, key, users))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Ordered { used, orders, pins })
}

/// Order every key; where wipes make keys depend on each other, pin each wipe's place in
/// the other traces so that all keys agree. Returns the orders and the pins used.
fn order_all_keys(
    key_users: &KeyUsers,
    values: &Values<'_>,
    traces: usize,
) -> (Vec<Option<Ordering>>, Option<Pins>) {
    let orders: Vec<Option<Ordering>> = key_users
        .users
        .iter()
        .map(|users| order_key(users, values, None, &[]))
        .collect();
    let wipes = traces > 1 && key_users.users.iter().flatten().any(|u| u.wipes);
    if !wipes {
        return (orders, None);
    }
    let bounds = cut_bounds(&key_users.users, &orders, traces);
    match best_pinned(key_users, values, &bounds) {
        Some((pinned, pins)) => (keep_pinned(orders, pinned), Some(pins)),
        None => (orders, None),
    }
}

/// The pinned orders with the fewest keys left unordered: pins from the lower cut bounds,
/// or where the bounds conflict, from the upper ones if that orders more keys.
fn best_pinned(
    key_users: &KeyUsers,
    values: &Values<'_>,
    bounds: &CutBounds,
) -> Option<(Vec<Option<Ordering>>, Pins)> {
    let choices: &[bool] = if bounds.conflicting() {
        &[true, false]
    } else {
        &[false]
    };
    let mut best: Option<(usize, Vec<Option<Ordering>>, Pins)> = None;
    for &prefer_upper in choices {
        let pins = bounds.pins(prefer_upper);
        let pinned: Vec<Option<Ordering>> = key_users
            .users
            .iter()
            .map(|users| order_key(users, values, Some(&pins), &[]))
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
    best.map(|(_, pinned, pins)| (pinned, pins))
}

/// Each key's pinned order, or where even the pinned search fails, its unpinned one.
fn keep_pinned(
    mut orders: Vec<Option<Ordering>>,
    pinned: Vec<Option<Ordering>>,
) -> Vec<Option<Ordering>> {
    for (ordering, pinned) in orders.iter_mut().zip(pinned) {
        if pinned.is_some() {
            *ordering = pinned;
        }
    }
    orders
}

/// A record value interned per key: `ABSENT` or the index of a distinct byte string.
type State = u32;
const ABSENT: State = u32::MAX;

#[derive(Clone, Copy)]
enum INeed {
    Any,
    Exists,
    Absent,
    AbsentOrEmpty,
    Exactly(u32),
}

/// The key's users with values interned, split by trace.
struct Problem<'u> {
    users: &'u [User],
    /// Extra precedence constraints: `(a, b)` means user `a` runs before user `b`.
    before: &'u [(usize, usize)],
    /// Per user: its trace slot.
    slot_of: Vec<usize>,
    /// Pinned wipes among the users: (user index, its trace slot, cut per file).
    pinned: Vec<(usize, usize, &'u [u32])>,
    /// Per active trace: the range of `users` it owns.
    ranges: Vec<(usize, usize)>,
    needs: Vec<INeed>,
    effects: Vec<Option<State>>,
    empty: State,
}

impl Problem<'_> {
    fn meets(&self, state: State, need: INeed) -> bool {
        match need {
            INeed::Any => true,
            INeed::Exists => state != ABSENT,
            INeed::Absent => state == ABSENT,
            INeed::AbsentOrEmpty => state == ABSENT || state == self.empty,
            INeed::Exactly(value) => state == value,
        }
    }
}

/// Order the users of one key (users grouped by trace, file order within a trace),
/// respecting the wipe `pins` if given.
pub fn order_key<'u>(
    users: &'u [User],
    values: &Values<'_>,
    pins: Option<&'u Pins>,
    before: &'u [(usize, usize)],
) -> Option<Ordering> {
    let mut intern: FxHashMap<&[u8], u32> = FxHashMap::default();
    let mut interned = |val: Val| -> u32 {
        let next = intern.len() as u32;
        *intern.entry(values.bytes(val)).or_insert(next)
    };
    let needs: Vec<INeed> = users
        .iter()
        .map(|user| match user.need {
            Need::Any => INeed::Any,
            Need::Exists => INeed::Exists,
            Need::Absent => INeed::Absent,
            Need::AbsentOrEmpty => INeed::AbsentOrEmpty,
            Need::Exactly(val) => INeed::Exactly(interned(val)),
        })
        .collect();
    let effects: Vec<Option<State>> = users
        .iter()
        .map(|user| match user.effect {
            Effect::Unchanged => None,
            Effect::Delete => Some(ABSENT),
            Effect::Set(val) => Some(interned(val)),
        })
        .collect();
    let empty = {
        let next = intern.len() as u32;
        *intern.entry(&[]).or_insert(next)
    };
    let mut ranges = Vec::new();
    let mut start = 0;
    while start < users.len() {
        let file = users[start].file;
        let end = start + users[start..].iter().take_while(|u| u.file == file).count();
        ranges.push((start, end));
        start = end;
    }
    let pinned = pins
        .map(|pins| {
            users
                .iter()
                .enumerate()
                .filter(|(_, user)| user.wipes)
                .filter_map(|(index, user)| {
                    let cuts = pins.cuts.get(&(user.file, user.rep))?;
                    let slot = ranges.iter().position(|&(a, b)| (a..b).contains(&index))?;
                    Some((index, slot, cuts.as_slice()))
                })
                .collect()
        })
        .unwrap_or_default();
    let mut slot_of = vec![0; users.len()];
    for (slot, &(start, end)) in ranges.iter().enumerate() {
        slot_of[start..end].fill(slot);
    }
    let problem = Problem {
        users,
        before,
        slot_of,
        pinned,
        ranges,
        needs,
        effects,
        empty,
    };

    for initial in initial_candidates(&problem, values) {
        let state = match initial {
            Initial::Absent => ABSENT,
            Initial::Present(val) => *intern_lookup(&intern, values.bytes(val)),
        };
        for fuzz in FUZZ_LEVELS {
            if let Some(order) = search(&problem, state, fuzz) {
                return Some(Ordering {
                    order,
                    initial,
                    fuzz,
                });
            }
        }
    }
    None
}

fn intern_lookup<'a>(intern: &'a FxHashMap<&[u8], u32>, bytes: &[u8]) -> &'a u32 {
    intern
        .get(bytes)
        .expect("initial candidates are drawn from interned values")
}

/// Absent first; then what the first user of each trace needed, earliest seqnum first.
fn initial_candidates(problem: &Problem<'_>, values: &Values<'_>) -> Vec<Initial> {
    let mut firsts: Vec<&User> = problem
        .ranges
        .iter()
        .filter_map(|&(start, end)| {
            problem.users[start..end]
                .iter()
                .find(|user| user.need != Need::Any)
        })
        .collect();
    firsts.sort_by_key(|user| user.seqnum);
    // The first value any user reveals, for users that only need "exists".
    let revealed = problem.users.iter().find_map(|user| match user.need {
        Need::Exactly(val) => Some(val),
        _ => None,
    });
    let mut candidates = vec![Initial::Absent];
    for user in firsts {
        let candidate = match user.need {
            Need::Exactly(val) => Initial::Present(val),
            Need::Exists => match revealed {
                Some(val) => Initial::Present(val),
                None => Initial::Present(empty_val(problem)),
            },
            Need::AbsentOrEmpty => Initial::Present(empty_val(problem)),
            Need::Absent | Need::Any => continue,
        };
        let duplicate = candidates.iter().any(|known| match (known, &candidate) {
            (Initial::Present(a), Initial::Present(b)) => values.bytes(*a) == values.bytes(*b),
            _ => false,
        });
        if !duplicate {
            candidates.push(candidate);
        }
    }
    candidates
}

/// A value with no bytes (any empty span will do).
fn empty_val(problem: &Problem<'_>) -> Val {
    Val::Trace {
        file: problem.users[0].file,
        span: crate::trace::Span::EMPTY,
    }
}

struct Frame {
    candidates: Vec<usize>,
    next: usize,
}

/// Depth-first search for an order from `initial` at one fuzz level.
fn search(problem: &Problem<'_>, initial: State, fuzz: Option<u32>) -> Option<Vec<usize>> {
    let traces = problem.ranges.len();
    let total = problem.users.len();
    let mut position: Vec<usize> = problem.ranges.iter().map(|&(start, _)| start).collect();
    let mut state = initial;
    let mut order: Vec<usize> = Vec::with_capacity(total);
    // Per step: (trace moved, state before it).
    let mut undo: Vec<(usize, State)> = Vec::with_capacity(total);
    let mut frames: Vec<Frame> = Vec::with_capacity(total);
    let mut dead: HashSet<(Vec<usize>, State), rustc_hash::FxBuildHasher> = HashSet::default();
    let mut budget = BUDGET;

    frames.push(Frame {
        candidates: candidates(problem, &position, state, fuzz),
        next: 0,
    });
    loop {
        if order.len() == total {
            return Some(order);
        }
        let frame = frames
            .last_mut()
            .expect("the root frame is never popped while searching");
        if frame.next < frame.candidates.len() {
            let trace = frame.candidates[frame.next];
            frame.next += 1;
            let user = position[trace];
            undo.push((trace, state));
            order.push(user);
            position[trace] += 1;
            if let Some(effect) = problem.effects[user] {
                state = effect;
            }
            if traces > 1 && dead.contains(&(position.clone(), state)) {
                step_back(&mut position, &mut state, &mut order, &mut undo);
                continue;
            }
            if budget == 0 {
                return None;
            }
            budget -= 1;
            frames.push(Frame {
                candidates: candidates(problem, &position, state, fuzz),
                next: 0,
            });
        } else {
            frames.pop();
            if frames.is_empty() {
                return None;
            }
            if traces > 1 {
                dead.insert((position.clone(), state));
            }
            step_back(&mut position, &mut state, &mut order, &mut undo);
        }
    }
}

fn step_back(
    position: &mut [usize],
    state: &mut State,
    order: &mut Vec<usize>,
    undo: &mut Vec<(usize, State)>,
) {
    let (trace, previous) = undo.pop().expect("a step to undo");
    position[trace] -= 1;
    *state = previous;
    order.pop();
}

/// The traces whose next user may run now, best first.
fn candidates(
    problem: &Problem<'_>,
    position: &[usize],
    state: State,
    fuzz: Option<u32>,
) -> Vec<usize> {
    let heads: Vec<(usize, &User)> = position
        .iter()
        .enumerate()
        .filter(|&(trace, &at)| at < problem.ranges[trace].1)
        .map(|(trace, &at)| (trace, &problem.users[at]))
        .collect();
    let mut ready: Vec<(usize, &User)> = heads
        .iter()
        .copied()
        .filter(|&(trace, user)| {
            let within_fuzz = match fuzz {
                None => true,
                Some(fuzz) => heads.iter().all(|&(other, head)| {
                    other == trace || user.earliest <= head.seqnum.saturating_add(fuzz)
                }),
            };
            within_fuzz
                && problem.meets(state, problem.needs[position[trace]])
                && pins_allow(problem, position, trace)
                && precedence_allows(problem, position, trace)
        })
        .collect();
    // Seqnum order; on a tie a cancelled transaction first (it changes nothing), then
    // trace order for determinism.
    ready.sort_by_key(|&(trace, user)| (user.seqnum, !user.cancelled, trace));
    ready.into_iter().map(|(trace, _)| trace).collect()
}

/// Whether every user that must precede the next user of slot `trace` has run.
fn precedence_allows(problem: &Problem<'_>, position: &[usize], trace: usize) -> bool {
    let next = position[trace];
    problem
        .before
        .iter()
        .filter(|&&(_, b)| b == next)
        .all(|&(a, _)| position[problem.slot_of[a]] > a)
}

/// Whether the wipe pins let trace slot `trace` run its next user now: a pinned wipe
/// waits until every other trace has passed its cut, and nothing past a cut runs before
/// the wipe.
fn pins_allow(problem: &Problem<'_>, position: &[usize], trace: usize) -> bool {
    let next = position[trace];
    let user = &problem.users[next];
    for &(wipe, slot, cuts) in &problem.pinned {
        if wipe == next {
            let others_passed = position.iter().enumerate().all(|(other, &at)| {
                other == trace
                    || at >= problem.ranges[other].1
                    || problem.users[at].rep >= cuts[problem.users[at].file as usize]
            });
            if !others_passed {
                return false;
            }
        } else if slot != trace && position[slot] <= wipe && user.rep >= cuts[user.file as usize] {
            return false;
        }
    }
    true
}

/// The bounds a first set of orders puts on each wipe's cut in each other trace: at
/// least just after the last user some key placed before the wipe, at most the first user
/// some key placed after it.
#[derive(Debug, Default)]
pub struct CutBounds {
    bounds: FxHashMap<(u32, u32), Vec<(u32, u32)>>,
}

impl CutBounds {
    /// Whether some key's order contradicts another's.
    pub fn conflicting(&self) -> bool {
        self.bounds
            .values()
            .flatten()
            .any(|&(low, high)| low > high)
    }

    /// Pins using the lower bound, or where the bounds conflict, the upper one if
    /// `prefer_upper`.
    pub fn pins(&self, prefer_upper: bool) -> Pins {
        let cuts = self
            .bounds
            .iter()
            .map(|(&wipe, bounds)| {
                let cuts = bounds
                    .iter()
                    .map(|&(low, high)| {
                        if low > high && prefer_upper {
                            high
                        } else {
                            low
                        }
                    })
                    .collect();
                (wipe, cuts)
            })
            .collect();
        Pins { cuts }
    }
}

/// Collect the cut bounds of every wipe from a first, unpinned set of orders.
pub fn cut_bounds(users: &[Vec<User>], orders: &[Option<Ordering>], traces: usize) -> CutBounds {
    let mut bounds = CutBounds::default();
    for (users, ordering) in users.iter().zip(orders) {
        let Some(ordering) = ordering else { continue };
        // Per trace: the last user placed so far.
        let mut last_placed: Vec<Option<u32>> = vec![None; traces];
        let mut open_wipes: Vec<(u32, u32)> = Vec::new();
        for &index in &ordering.order {
            let user = &users[index];
            for wipe in &open_wipes {
                if wipe.0 != user.file {
                    let entry =
                        &mut bounds.bounds.get_mut(wipe).expect("inserted")[user.file as usize];
                    entry.1 = entry.1.min(user.rep);
                }
            }
            if user.wipes {
                let wipe = (user.file, user.rep);
                let entry = bounds
                    .bounds
                    .entry(wipe)
                    .or_insert_with(|| vec![(0, u32::MAX); traces]);
                for (file, last) in last_placed.iter().enumerate() {
                    if let Some(last) = last {
                        entry[file].0 = entry[file].0.max(last + 1);
                    }
                }
                open_wipes.push(wipe);
            }
            let slot = &mut last_placed[user.file as usize];
            *slot = Some(slot.map_or(user.rep, |last| last.max(user.rep)));
        }
    }
    bounds
}
