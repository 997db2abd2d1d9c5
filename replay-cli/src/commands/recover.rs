//! `tdb-replay recover`: roll back a commit that a crash interrupted (what the next
//! read-write opener does), then check the database with both engines.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use replay_engine::inspect;

use crate::args::{BackendChoice, InspectSettings};
use crate::commands::check::check_with;
use crate::engine::{CBackend, PureBackend};
use crate::exit::bad_input;
use replay_engine::backend::runtime::EngineSpec;

/// The arguments of `recover`.
#[derive(Args, Debug)]
pub struct RecoverArgs {
    /// Engine that runs the recovery (`pure` also puts the space the interrupted commit
    /// had added back on the freelist, and so does it for a commit C's recovery rolled
    /// back earlier, as long as nothing references that space yet; C's recovery leaves
    /// it unreferenced).
    #[arg(long, value_enum, default_value = "pure")]
    pub backend: BackendChoice,
    /// The database file.
    pub tdbfile: PathBuf,
}

impl TryFrom<RecoverArgs> for InspectSettings {
    type Error = anyhow::Error;

    fn try_from(args: RecoverArgs) -> Result<InspectSettings> {
        InspectSettings::new(args.backend.spec(), &args.tdbfile)
    }
}

/// Open the file read-write with the chosen engine (the open rolls back an interrupted
/// commit), then check it with both engines.
pub fn run(settings: &InspectSettings) -> Result<()> {
    let path = &settings.tdbfile;
    let needed = inspect::needs_recovery(path);
    let pure = match &settings.backend {
        EngineSpec::C => false,
        EngineSpec::Pure => true,
        EngineSpec::Lib { .. } => return Err(bad_input("recover runs on c or pure")),
    };
    if pure {
        inspect::open_read_write::<PureBackend>(path)
    } else {
        inspect::open_read_write::<CBackend>(path)
    }
    .map_err(anyhow::Error::msg)?;
    println!(
        "{}: {}",
        path.display(),
        if needed {
            "rolled back the commit a crash had interrupted"
        } else {
            "no interrupted commit to roll back"
        }
    );
    if pure {
        let reclaimed = inspect::reclaim_crash_leftovers(path).map_err(anyhow::Error::msg)?;
        if reclaimed > 0 {
            println!(
                "{}: put the {reclaimed} bytes a killed commit had left past the old end of \
                 file back on the freelist",
                path.display()
            );
        }
    }
    check_with(&EngineSpec::Pure, path)?;
    check_with(&EngineSpec::C, path)
}
