//! What the tests of this binary share: the crate's library (loading, analysing,
//! replaying on C, the oracles), recording an analysable set, and a deliberately broken
//! engine ([`faulty`]).

pub mod faulty;

use std::path::Path;

pub use integration_tests::*;
use replay_engine::analysis::Analysis;
use replay_engine::backend::Backend;
use replay_engine::generate::{generate, GenerateOptions};
use replay_engine::record::{Layout, RecordOptions};
use replay_engine::torture::{Mix, TortureOptions};
use replay_engine::trace::Trace;

/// Records a workload on engine `B` (`generate` with `options`) and analyses it for `B`.
/// Known gap: about one heavily stalled set in a hundred (a process descheduled for
/// hundreds of other processes' ops) cannot be analysed; such a set is recorded again,
/// at most twice, with the seed moved on by 100, saying so.
pub fn record_analysable<B: Backend>(
    dir: &Path,
    name: &str,
    options: &GenerateOptions,
) -> (Vec<Trace>, Analysis) {
    for attempt in 0..3 {
        let options = GenerateOptions {
            seed: options.seed + 100 * attempt,
            ..options.clone()
        };
        let paths = generate::<B>(dir, name, &options).expect("workload runs");
        let traces = load(&paths);
        match replay_engine::analysis::analyse(&traces, B::LOCKING) {
            Ok(plan) => return (traces, plan),
            Err(error) => eprintln!("{name}: known analysis gap, recording again: {error}"),
        }
    }
    panic!("{name}: no analysable set in three recordings");
}

/// A three-process set of 300 top-level ops per process recorded on engine `B` with
/// `seed` (see [`record_analysable`]).
pub fn recorded_set<B: Backend>(dir: &Path, name: &str, seed: u64) -> (Vec<Trace>, Analysis) {
    let options = GenerateOptions {
        seed,
        ops: 300,
        ..GenerateOptions::default()
    };
    record_analysable::<B>(dir, name, &options)
}

/// A torture run of `processes` processes of `ops` top-level ops each, with
/// transactions, over 12 keys of each kind and 5 hash chains (so chains collide), no
/// kills; recorded into `record` in `layout` when given.
pub fn torture_options(
    processes: usize,
    ops: usize,
    seed: u64,
    record: Option<&Path>,
    layout: Layout,
) -> TortureOptions {
    TortureOptions {
        processes,
        mix: Mix {
            ops,
            keys: 12,
            transactions: true,
            exotic: false,
            always_transactions: false,
        },
        seed,
        hash_size: 5,
        record: record.map(|dir| RecordOptions {
            dir: dir.to_path_buf(),
            layout,
            retry_lock_errors: true,
        }),
        kills: 0,
        mutex: false,
    }
}
