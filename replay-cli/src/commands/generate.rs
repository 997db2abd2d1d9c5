//! `tdb-replay generate`: record a new multi-process trace set by running a random
//! torture workload.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use replay_engine::backend::Backend;
use replay_engine::generate::{self, GenerateOptions};

use crate::args::{BackendChoice, LayoutArg};
use crate::engine::{CBackend, PureBackend};

/// The arguments of `generate`.
#[derive(Args, Debug)]
pub struct GenerateArgs {
    /// Backend the workload runs on.
    #[arg(long, value_enum, default_value = "c")]
    pub backend: BackendChoice,
    /// Directory for the traces (`<name>.<k>.trace`) and the database.
    #[arg(long, default_value = "generated")]
    pub dir: PathBuf,
    /// Base name of the files.
    #[arg(long, default_value = "torture")]
    pub name: String,
    /// Concurrent processes, one trace each.
    #[arg(long, default_value_t = 3)]
    pub processes: usize,
    /// Top-level operations per process.
    #[arg(long, default_value_t = 400)]
    pub ops: usize,
    /// Seed of the random workload.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Hash size of the database.
    #[arg(long, default_value_t = 7)]
    pub hash_size: u32,
    /// Distinct keys.
    #[arg(long, default_value_t = 40)]
    pub keys: usize,
    /// Also use firstkey/nextkey walks, all-record read locks and wipe_all (their locks
    /// are invisible to the dependency analysis, so concurrent sets may need back-offs).
    #[arg(long)]
    pub exotic: bool,
    /// The trace layout.
    #[arg(long, value_enum, default_value = "ccan")]
    pub layout: LayoutArg,
}

/// What `generate` records, resolved from [`GenerateArgs`].
#[derive(Clone, Debug)]
pub struct GenerateSettings {
    /// The engine the workload runs on.
    pub backend: BackendChoice,
    /// Directory for the traces and the database.
    pub dir: PathBuf,
    /// Base name of the files.
    pub name: String,
    /// The workload.
    pub options: GenerateOptions,
}

impl TryFrom<GenerateArgs> for GenerateSettings {
    type Error = anyhow::Error;

    /// The settings (counts of zero taken as one).
    fn try_from(args: GenerateArgs) -> Result<GenerateSettings> {
        Ok(GenerateSettings {
            backend: args.backend,
            dir: args.dir,
            name: args.name,
            options: GenerateOptions {
                processes: args.processes.max(1),
                ops: args.ops,
                seed: args.seed,
                hash_size: args.hash_size.max(1),
                keys: args.keys.max(1),
                exotic: args.exotic,
                layout: args.layout.layout(),
                mutex: false,
            },
        })
    }
}

/// Record the traces and print their paths.
pub fn run(settings: &GenerateSettings) -> Result<()> {
    let (dir, name, options) = (&settings.dir, &settings.name, &settings.options);
    let paths = match settings.backend {
        BackendChoice::C => generate_with::<CBackend>(dir, name, options)?,
        BackendChoice::Pure => generate_with::<PureBackend>(dir, name, options)?,
    };
    for path in &paths {
        println!("{}", path.display());
    }
    Ok(())
}

fn generate_with<B: Backend>(
    dir: &Path,
    name: &str,
    options: &GenerateOptions,
) -> Result<Vec<PathBuf>> {
    generate::generate::<B>(dir, name, options)
        .with_context(|| format!("generating traces in {}", dir.display()))
}
