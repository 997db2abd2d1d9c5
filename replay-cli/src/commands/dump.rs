//! `tdb-replay dump`: every record of a database, in the format of Samba's tdbdump.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use replay_engine::backend::Backend;
use replay_engine::inspect;

use crate::args::{BackendChoice, InspectArgs};
use crate::engine::{CBackend, PureBackend};
use crate::files::existing_database;

/// What `dump` reads, resolved from [`InspectArgs`].
#[derive(Clone, Debug)]
pub struct DumpSettings {
    /// The engine that reads the file.
    pub backend: BackendChoice,
    /// The database, an existing tdb file.
    pub tdbfile: PathBuf,
}

impl TryFrom<InspectArgs> for DumpSettings {
    type Error = anyhow::Error;

    /// The settings: the file must exist and be a tdb.
    fn try_from(args: InspectArgs) -> Result<DumpSettings> {
        Ok(DumpSettings {
            backend: args.backend,
            tdbfile: existing_database(&args.tdbfile)?,
        })
    }
}

/// Print every record.
pub fn run(settings: &DumpSettings) -> Result<()> {
    let text = match settings.backend {
        BackendChoice::C => dump_with::<CBackend>(&settings.tdbfile)?,
        BackendChoice::Pure => dump_with::<PureBackend>(&settings.tdbfile)?,
    };
    print!("{text}");
    Ok(())
}

fn dump_with<B: Backend>(path: &Path) -> Result<String> {
    let mut db: B = inspect::open_existing(path).map_err(|error| {
        anyhow::anyhow!("{}: {} cannot open it: {error}", path.display(), B::NAME)
    })?;
    inspect::dump(&mut db).with_context(|| format!("{}: dumping failed", path.display()))
}
