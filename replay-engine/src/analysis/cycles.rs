//! The last pass: check that the traces can run to completion with the pruned
//! dependencies (no circle of traces waiting for each other), giving the finished plan.

use super::deps::Dep;
use super::prune::Pruned;
use super::{Analysis, AnalysisError};

/// The last pass: the finished plan, or the circle the traces would wait in.
pub fn check(pruned: Pruned<'_>) -> Result<Analysis, AnalysisError> {
    let op_counts: Vec<usize> = pruned.traces.iter().map(|trace| trace.ops.len()).collect();
    if let Some(cycle) = find_cycle(&pruned.deps, &op_counts) {
        return Err(AnalysisError::cycle(pruned.traces, cycle.0));
    }
    Ok(Analysis {
        groups: pruned.groups,
        deps: pruned.deps,
        preexisting: pruned.preexisting,
        stats: pruned.stats,
        op_counts,
    })
}

/// A dependency cycle: each entry waits for the next, the last for the first.
#[derive(Debug)]
pub struct Cycle(pub Vec<Dep>);

/// Check that the traces can run to completion with these dependencies (sorted by
/// waiting file and op, as [`optimise`](super::prune::optimise) leaves them), by simulating the run.
pub fn find_cycle(deps: &[Dep], op_counts: &[usize]) -> Option<Cycle> {
    let traces = op_counts.len();
    // Per trace: its deps (a slice of the sorted list) and how far it has got.
    let mut starts = vec![0usize; traces + 1];
    for dep in deps {
        starts[dep.file as usize + 1] += 1;
    }
    for file in 0..traces {
        starts[file + 1] += starts[file];
    }
    let mut next_dep = starts[..traces].to_vec();
    let mut done = vec![0usize; traces]; // ops finished
    loop {
        let mut progressed = false;
        for file in 0..traces {
            loop {
                let dep = (next_dep[file] < starts[file + 1]).then(|| deps[next_dep[file]]);
                match dep {
                    Some(dep) if dep.op as usize > done[file] => {
                        done[file] = dep.op as usize;
                        progressed = true;
                    }
                    Some(dep) => {
                        if done[dep.target_file as usize] > dep.target as usize {
                            next_dep[file] += 1;
                            continue;
                        }
                        break;
                    }
                    None => {
                        if done[file] < op_counts[file] {
                            done[file] = op_counts[file];
                            progressed = true;
                        }
                        break;
                    }
                }
            }
        }
        if !progressed {
            break;
        }
    }
    let stuck = (0..traces).find(|&file| done[file] < op_counts[file])?;
    // Follow "waits for" from the stuck trace until a trace repeats.
    let mut chain: Vec<Dep> = Vec::new();
    let mut seen = vec![None; traces];
    let mut file = stuck;
    loop {
        if let Some(position) = seen[file] {
            return Some(Cycle(chain.split_off(position)));
        }
        seen[file] = Some(chain.len());
        let dep = deps[next_dep[file]];
        chain.push(dep);
        file = dep.target_file as usize;
    }
}
