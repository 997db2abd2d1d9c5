//! `shrink` on a recorded three-process set (about 300 ops per process) run against a
//! deliberately broken engine: the fault is keyed on content (a fetch of one record, a
//! store of one record), so it means the same in every candidate; the shrunk set must be
//! tiny, fail the same way, and do so again once written to files and loaded back.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::util::faulty::{inject, Fault, Faulty};
use crate::util::{analyse, load, recorded_set};
use replay_engine::backend::c::CTdb;
use replay_engine::backend::pure::PureTdb;
use replay_engine::diff::{self, DiffReport};
use replay_engine::shrink::{self, DiffCheck, Shrunk};
use replay_engine::trace::emit::emit_all;
use replay_engine::trace::{OpKind, Trace};

/// Takes the fault out again however the test ends.
struct Injected;

impl Injected {
    fn new(fault: Fault) -> Injected {
        inject(fault);
        Injected
    }
}

impl Drop for Injected {
    fn drop(&mut self) {
        inject(Fault::None);
    }
}

fn run_diff(dir: &Path, traces: &[Trace]) -> DiffReport {
    let plan = analyse(traces);
    diff::diff::<CTdb, Faulty<PureTdb>>(traces, &plan, &dir.join("a.tdb"), &dir.join("b.tdb"), None)
        .unwrap_or_else(|error| panic!("{error}"))
}

/// The (key, data) of every fetch that found a non-empty record, in trace order.
fn fetched(traces: &[Trace]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut found = Vec::new();
    for trace in traces {
        for op in &trace.ops {
            let (key, data) = match op.kind {
                OpKind::Fetch {
                    key,
                    result: Some(data),
                } => (key, data),
                _ => continue,
            };
            if data.len > 0 {
                found.push((trace.bytes(key).to_vec(), trace.bytes(data).to_vec()));
            }
        }
    }
    found
}

/// Shrink `traces` against the engine broken by `fault`, check the result and write it
/// to `out`; returns the result and the seconds it took.
fn shrink_with(traces: &[Trace], fault: &Fault, out: &Path) -> (Shrunk, f64) {
    let _fault = Injected::new(fault.clone());
    let mut check = DiffCheck::<CTdb, Faulty<PureTdb>>::new().expect("temporary directory");
    let started = Instant::now();
    let shrunk = shrink::shrink(traces, &mut check, &mut |_| {})
        .unwrap_or_else(|error| panic!("{fault:?}: {error}"));
    let seconds = started.elapsed().as_secs_f64();
    assert_eq!(shrunk.failure.signature, shrunk.original.signature);
    assert!(
        shrunk.ops_after <= 20,
        "{fault:?}: {} ops left of {}:\n{}",
        shrunk.ops_after,
        shrunk.ops_before,
        shrunk.failure.message
    );
    assert!(shrunk.ops_after >= 1 && shrunk.ops_after < shrunk.ops_before);

    // Written out and loaded back as files, the set still fails the same way.
    std::fs::create_dir_all(out).expect("output directory");
    let paths: Vec<PathBuf> = shrunk
        .traces
        .iter()
        .map(|trace| {
            let path = out.join(shrink::output_name(&trace.name));
            std::fs::write(&path, emit_all(trace)).expect("write the shrunk trace");
            path
        })
        .collect();
    let written = load(&paths);
    let dir = tempfile::tempdir().expect("temp dir");
    let divergence = run_diff(dir.path(), &written)
        .divergence
        .unwrap_or_else(|| panic!("{fault:?}: the written set does not fail"));
    let (kind, op) = divergence.signature();
    assert_eq!(
        shrunk.original.signature,
        format!(
            "{} at {op}",
            match kind {
                diff::DivergenceKind::Result => "different results",
                diff::DivergenceKind::FinalRecords => "different final records",
                diff::DivergenceKind::Check => "a failed check",
            }
        ),
        "{divergence}"
    );
    // It is the engine that is broken, not the set.
    drop(_fault);
    assert!(run_diff(dir.path(), &written).divergence.is_none());
    (shrunk, seconds)
}

pub fn shrink_minimises_a_set_that_diverges_on_a_broken_engine() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (traces, _) = recorded_set::<CTdb>(dir.path(), "shrink", 41);
    let ops: usize = traces.iter().map(|trace| trace.ops.len()).sum();
    assert!(ops >= 600, "a set of {ops} ops");

    // Written back and parsed again, every trace is the same.
    for trace in &traces {
        let text = emit_all(trace);
        let again = replay_engine::trace::parse_trace(&trace.name, &text, &Default::default())
            .unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(again.ops.len(), trace.ops.len());
        assert_eq!(emit_all(&again), text);
        assert!(again
            .ops
            .iter()
            .zip(&trace.ops)
            .all(|(a, b)| a.seqnum == b.seqnum && a.name() == b.name()));
    }

    // A fetch of one record that comes back damaged, and a store of one record that goes
    // in damaged: the first of a few candidates that makes the unshrunk set diverge.
    let fetched = fetched(&traces);
    let mut scenarios = Vec::new();
    let middle = fetched.len() / 2;
    for (key, data) in fetched.iter().skip(middle).take(10) {
        let fault = Fault::FetchOf {
            key: key.clone(),
            data: data.clone(),
        };
        let _fault = Injected::new(fault.clone());
        if let Some(divergence) = run_diff(dir.path(), &traces).divergence {
            assert_eq!(divergence.op, "tdb_fetch", "{divergence}");
            scenarios.push(fault);
            break;
        }
    }
    for (key, data) in fetched.iter().skip(middle).take(10) {
        let fault = Fault::StoreOf {
            key: key.clone(),
            data: data.clone(),
        };
        let _fault = Injected::new(fault.clone());
        if run_diff(dir.path(), &traces).divergence.is_some() {
            scenarios.push(fault);
            break;
        }
    }
    assert_eq!(scenarios.len(), 2, "no fault made the set diverge");
    for (index, fault) in scenarios.iter().enumerate() {
        let out = dir.path().join(format!("shrunk-{index}"));
        let (shrunk, seconds) = shrink_with(&traces, fault, &out);
        println!(
            "  {}: {} ops in {} traces -> {} ops in {} traces, {} candidates, {} rounds, {seconds:.1} s; {}",
            match fault {
                Fault::FetchOf { .. } => "fetch fault",
                _ => "store fault",
            },
            shrunk.ops_before,
            shrunk.traces_before,
            shrunk.ops_after,
            shrunk.traces.len(),
            shrunk.candidates,
            shrunk.rounds,
            shrunk.failure.signature
        );
    }
}
