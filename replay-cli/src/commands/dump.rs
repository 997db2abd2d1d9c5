//! `tdb-replay dump`: every record of a database, in the format of Samba's tdbdump.

use std::path::Path;

use anyhow::{Context, Result};
use replay_engine::backend::Backend;
use replay_engine::inspect;

use crate::args::{BackendChoice, InspectSettings};
use crate::engine::{CBackend, PureBackend};

/// Print every record.
pub fn run(settings: &InspectSettings) -> Result<()> {
    let text = match settings.backend {
        BackendChoice::C => dump_with::<CBackend>(&settings.tdbfile)?,
        BackendChoice::Pure => dump_with::<PureBackend>(&settings.tdbfile)?,
    };
    print!("{text}");
    Ok(())
}

fn dump_with<B: Backend>(path: &Path) -> Result<String> {
    let mut db: B = inspect::open_existing(path).map_err(|error| {
        anyhow::anyhow!("{}: {} cannot open it: {error}", path.display(), B::label())
    })?;
    inspect::dump(&mut db).with_context(|| format!("{}: dumping failed", path.display()))
}
