//! `tdb-replay check`: a database's invariants, checked by one engine; exit 0 only if it
//! is sound, otherwise say what is wrong and, where the tool knows, what to do about it.

use std::path::Path;

use anyhow::Result;
use replay_engine::inspect::{self, CheckProblem};

use replay_engine::backend::runtime::EngineSpec;

use crate::args::{self, InspectSettings};
use crate::engine::CheckFile;

/// Check the file and print the verdict.
pub fn run(settings: &InspectSettings) -> Result<()> {
    check_with(&settings.backend, &settings.tdbfile)
}

/// Check the file at `path` with `engine`: print how many records it holds if it is
/// sound, fail with what is wrong (and a hint) if not.
pub fn check_with(engine: &EngineSpec, path: &Path) -> Result<()> {
    let checked = args::engine::resolve_one(engine)?.visit::<0, _>(CheckFile(path));
    let records = checked.map_err(|text| anyhow::anyhow!("{text}{}", hint(engine, path, &text)))?;
    println!(
        "{}: sound ({} backend), {records} records",
        path.display(),
        engine.label()
    );
    if *engine == EngineSpec::Pure {
        if let Some(leftovers) = inspect::crash_leftovers(path) {
            println!("  tdb-pure's check {leftovers} (C's check rejects those bytes)");
        }
    }
    Ok(())
}

/// What to tell the user about a failed check whose message is `text` (empty if the tool
/// knows nothing more).
fn hint(engine: &EngineSpec, path: &Path, text: &str) -> String {
    // C's tdb_dead_space re-reads one byte, so dead space followed by records looks like
    // corruption to C tdb (see docs/DESIGN.md).
    let leftovers = match engine {
        EngineSpec::Pure => None,
        EngineSpec::C | EngineSpec::Lib { .. } => inspect::crash_leftovers(path),
    };
    if let Some(leftovers) = leftovers {
        return format!(
            "\n(tdb-pure's check {leftovers}: a commit killed while writing the space it had \
             added leaves those bytes, and C's recovery leaves them as they were (tdb-pure's \
             puts them back on the freelist); no list uses them. `check --backend pure` \
             explains and accepts them, and `tdb-replay recover {}` reclaims them while \
             nothing uses that space yet)",
            path.display()
        );
    }
    match (inspect::check_problem(path, text), engine) {
        (CheckProblem::InterruptedCommit, _) => format!(
            "\n(a commit was interrupted by a crash; `tdb-replay recover {}` rolls it back, as \
             the next read-write opener would)",
            path.display()
        ),
        (CheckProblem::DeadSpace, EngineSpec::C) => {
            "\n(C tdb 1.4.8 misreads dead space followed by records; `check --backend pure` \
             walks it properly)"
                .to_string()
        }
        _ => String::new(),
    }
}
