//! The workload: transaction N's operations are a function of N alone.

use std::collections::BTreeMap;

use crate::util::Rng;

#[derive(Clone, Debug)]
pub(super) enum Op {
    Store(Vec<u8>, Vec<u8>),
    Delete(Vec<u8>),
    Append(Vec<u8>, Vec<u8>),
}

/// `len` bytes that encode transaction `n` and item `i`.
pub(super) fn value(n: u64, i: u64, len: usize) -> Vec<u8> {
    let mut v = format!("{n}:{i}:").into_bytes();
    let fill = b'a' + ((n * 7 + i) % 26) as u8;
    v.resize(len.max(v.len()), fill);
    v
}

pub(super) fn gen_store(n: u64) -> Op {
    Op::Store(b"gen".to_vec(), n.to_string().into_bytes())
}

/// Transaction `n` of the random-kill workload: the generation key, then by `n % 10`
/// nothing more (0-2: one store in all), a few operations (3-8), or hundreds of them on
/// a key range that widens with `n`, so the file keeps growing and the recovery area has
/// to move (9).
pub(super) fn tx_ops(n: u64) -> Vec<Op> {
    let mut rng = Rng(n.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut ops = vec![gen_store(n)];
    match n % 10 {
        0..=2 => {}
        3..=8 => {
            ops.push(Op::Store(
                format!("a{}", n % 16).into_bytes(),
                value(n, 0, 8),
            ));
            for i in 0..2 + rng.below(6) {
                let key = format!("s{}", rng.below(60)).into_bytes();
                ops.push(match rng.below(3) {
                    0 => Op::Store(key, value(n, i, 1 + rng.below(200) as usize)),
                    1 => Op::Delete(key),
                    _ => Op::Append(
                        format!("a{}", rng.below(16)).into_bytes(),
                        value(n, i, 1 + rng.below(60) as usize),
                    ),
                });
            }
        }
        _ => {
            let range = 300 + n / 4;
            for i in 0..200 + rng.below(200) {
                let key = format!("b{}", rng.below(range)).into_bytes();
                if rng.below(5) == 0 {
                    ops.push(Op::Delete(key));
                } else {
                    ops.push(Op::Store(key, value(n, i, 1 + rng.below(1500) as usize)));
                }
            }
        }
    }
    ops
}

/// The transactions of the fault-point test, by shape.
pub(super) fn shape_ops(shape: &str, n: u64) -> Vec<Op> {
    let mut ops = vec![gen_store(n)];
    match shape {
        // One store: only the generation key.
        "one" => {}
        "few" => {
            ops.push(Op::Store(b"s1".to_vec(), value(n, 1, 40)));
            ops.push(Op::Delete(b"s2".to_vec()));
            ops.push(Op::Append(b"a3".to_vec(), value(n, 3, 30)));
            ops.push(Op::Store(b"s4".to_vec(), value(n, 4, 300)));
        }
        // Hundreds of records rewritten all over the file and hundreds of new ones: the
        // file grows, and the recovery area must move to hold the old blocks.
        "grow" => {
            for i in 0..500 {
                ops.push(Op::Store(format!("g{i}").into_bytes(), value(n, i, 1000)));
            }
            for i in 0..300 {
                ops.push(Op::Store(
                    format!("grow{i}").into_bytes(),
                    value(n, i, 1200),
                ));
            }
            ops.push(Op::Delete(b"s5".to_vec()));
        }
        // Hundreds of new records and few changed blocks: the file grows, and the
        // recovery area, big enough for the old blocks, stays where it is (before the old
        // end of file, so that recovery keeps it and its end-of-file mark).
        "extend" => {
            for i in 0..300 {
                ops.push(Op::Store(format!("ext{i}").into_bytes(), value(n, i, 1200)));
            }
        }
        // The first transaction on a new file: no recovery area yet.
        "fresh" => {
            for i in 0..20 {
                ops.push(Op::Store(format!("f{i}").into_bytes(), value(n, i, 100)));
            }
        }
        other => panic!("unknown shape {other}"),
    }
    ops
}

pub(super) type State = BTreeMap<Vec<u8>, Vec<u8>>;

pub(super) fn apply(state: &mut State, ops: &[Op]) {
    for op in ops {
        match op {
            Op::Store(k, v) => {
                state.insert(k.clone(), v.clone());
            }
            Op::Delete(k) => {
                state.remove(k);
            }
            Op::Append(k, v) => state.entry(k.clone()).or_default().extend_from_slice(v),
        }
    }
}

/// The expected database after each generation of the random-kill workload, advanced
/// on demand.
pub(super) struct Model {
    pub(super) gen: u64,
    pub(super) state: State,
}

impl Model {
    pub(super) fn new() -> Model {
        Model {
            gen: 0,
            state: State::new(),
        }
    }

    pub(super) fn advance_to(&mut self, gen: u64) {
        assert!(
            gen >= self.gen,
            "generation went back from {} to {gen}",
            self.gen
        );
        while self.gen < gen {
            self.gen += 1;
            apply(&mut self.state, &tx_ops(self.gen));
        }
    }
}

pub(super) fn gen_of(state: &State) -> u64 {
    state
        .get(&b"gen"[..])
        .map_or(0, |v| std::str::from_utf8(v).unwrap().parse().unwrap())
}
