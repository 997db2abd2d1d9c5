//! `tdb-replay dump`: every record of a database, in the format of Samba's tdbdump.

use std::path::Path;

use anyhow::{Context, Result};
use replay_engine::backend::Backend;
use replay_engine::inspect;

use replay_engine::backend::engines::EngineVisitor;

use crate::args::{self, InspectSettings};

/// Print every record.
pub fn run(settings: &InspectSettings) -> Result<()> {
    let engine = args::engine::resolve_one(&settings.backend)?;
    let text = engine.visit::<0, _>(Dump(&settings.tdbfile))?;
    print!("{text}");
    Ok(())
}

fn dump_with<B: Backend>(path: &Path) -> Result<String> {
    let mut db: B = inspect::open_existing(path).map_err(|error| {
        anyhow::anyhow!("{}: {} cannot open it: {error}", path.display(), B::label())
    })?;
    inspect::dump(&mut db).with_context(|| format!("{}: dumping failed", path.display()))
}

/// [`dump_with`] as an engine visitor.
struct Dump<'a>(&'a Path);

impl EngineVisitor for Dump<'_> {
    type Output = Result<String>;

    fn visit<B: Backend>(self) -> Result<String> {
        dump_with::<B>(self.0)
    }
}
