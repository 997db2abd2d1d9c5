//! A clear-if-first restart after a torture run: one more process opens the database with
//! `TDB_CLEAR_IF_FIRST` once every other has closed, so tdb wipes it, and runs its own
//! workload. This is what a Samba restart does to its temporary databases (and
//! `tdbtorture -k` when a child restarts after the others finished); recorded, it gives a
//! set of two clear-if-first epochs (see `analysis::epochs`).

use std::path::{Path, PathBuf};

use super::{expectations, open_options, workload, Expectations, TortureError, TortureOptions};
use crate::backend::{tdb_flags, Backend};
use crate::process;
use crate::record::{self, Recording};

/// What the restart did.
#[derive(Debug)]
pub struct WipeRestart {
    /// What the database must hold afterwards: the restarted process's expectations only
    /// (the wipe removed every earlier record).
    pub expectations: Expectations,
    /// The trace it recorded, if recording.
    pub trace: Option<PathBuf>,
}

/// After [`super::run`] has returned (every process closed, no active lock held), fork
/// process `options.processes` (a new one, so its keys are its own), open `db_path` with
/// the run's flags plus `TDB_CLEAR_IF_FIRST` on `B`, recording as `options` says, and run
/// its workload. The caller must be single-threaded (it forks).
pub fn restart_wiping<B: Backend>(
    db_path: &Path,
    options: &TortureOptions,
) -> Result<WipeRestart, TortureError> {
    let setup = |what: String| TortureError::Setup(format!("{}: {what}", db_path.display()));
    let process_failed =
        |what: String| TortureError::Process(format!("{}: {what}", db_path.display()));
    let results = tempfile::tempdir()
        .map_err(|error| setup(format!("cannot make a temporary directory: {error}")))?;
    let result_path = results.path().join("result.wipe");
    let before = recorded(db_path, options)?;
    let k = options.processes;
    let mut open = open_options(options.hash_size, options.mutex);
    open.tdb_flags |= tdb_flags::CLEAR_IF_FIRST;
    let body = || {
        let run = || -> Result<Expectations, String> {
            let mut db = Recording::<B>::open_recorded(db_path, &open, options.record.as_ref())
                .map_err(|error| format!("open: {error}"))?;
            let seed = options.seed.wrapping_add(k as u64);
            let expect = workload::Workload::new(k, 0, seed, &options.mix, None)
                .with_mutexes(options.mutex)
                .run(&mut db)
                .map_err(|violation| violation.to_string())?;
            db.close().map_err(|error| format!("close: {error}"))?;
            Ok(expect)
        };
        let written = run().and_then(|expect| {
            std::fs::write(&result_path, expectations::encode(&expect))
                .map_err(|error| format!("cannot write its result: {error}"))
        });
        match written {
            Ok(()) => 0,
            Err(message) => {
                eprintln!("torture process {k} (clear-if-first restart): {message}");
                1
            }
        }
    };
    let pid = process::spawn(body).map_err(|error| setup(format!("cannot fork: {error}")))?;
    match process::wait(pid, true) {
        Ok(Some(exit)) if exit.success() => {}
        Ok(Some(exit)) => {
            return Err(process_failed(format!(
                "the clear-if-first restart {exit} (its message is above)"
            )))
        }
        _ => return Err(process_failed("the clear-if-first restart vanished".into())),
    }
    let expectations = std::fs::read_to_string(&result_path)
        .map_err(|error| error.to_string())
        .and_then(|text| expectations::decode(&text))
        .map_err(process_failed)?;
    let trace = recorded(db_path, options)?
        .into_iter()
        .find(|path| !before.contains(path));
    Ok(WipeRestart {
        expectations,
        trace,
    })
}

/// The traces recorded so far for `db_path` (none when not recording).
fn recorded(db_path: &Path, options: &TortureOptions) -> Result<Vec<PathBuf>, TortureError> {
    let Some(recording) = &options.record else {
        return Ok(Vec::new());
    };
    let name = db_path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    record::dir::traces_of(&recording.dir, &name)
        .map_err(|error| TortureError::Setup(error.to_string()))
}
