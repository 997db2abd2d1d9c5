//! `tdb-replay microbench`: single operations on C tdb and tdb-pure, side by side in the
//! same run, at a few database sizes. Every workload checks its results, so a backend
//! that fails an operation is reported instead of being timed doing nothing.

mod workloads;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use replay_engine::backend::Backend;
use serde::Serialize;

use replay_engine::backend::engines::EngineVisitor;
use replay_engine::backend::runtime::{Engine, EngineSpec};

use crate::args::engine::{self, parse_engines, EngineList};
use crate::args::BenchBackends;
use crate::exit::bad_input;
use crate::output::Out;
use workloads::{Figures, DATA_LEN, WORKLOADS};

/// The workloads shown again under robust-mutex locking (indexes into `WORKLOADS`): the
/// keyed operations, whose cost is mostly the chain lock.
const MUTEX_ROWS: [usize; 5] = [0, 1, 2, 3, 5];

/// tdb's default hash size, used when `--hash-size` is 0.
const DEFAULT_HASH_SIZE: u32 = 131;

/// The arguments of `microbench`.
#[derive(Args, Debug)]
pub struct MicrobenchArgs {
    /// Database sizes to measure at, in records.
    #[arg(long, value_delimiter = ',', default_values_t = [100usize, 1000, 10000])]
    pub records: Vec<usize>,
    /// Operations per timed workload (transactions of one store run a tenth as many,
    /// of 1000 stores a thousandth).
    #[arg(long, default_value_t = 20000)]
    pub ops: usize,
    /// Hash chains of the databases (0: tdb's default, 131).
    #[arg(long, default_value_t = 0)]
    pub hash_size: u32,
    /// Runs per size; the best time of each workload is kept.
    #[arg(long, short = 'n', default_value_t = 3)]
    pub runs: u32,
    /// Where to put the scratch databases (default: a temporary directory, removed after).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Backends to measure (one alone is for profiling it).
    #[arg(long, value_enum, default_value = "both")]
    pub backend: BenchBackends,
    /// One or two engines for the two columns instead (c, pure, lib:PATH or
    /// lib:PATH=NAME): the first in the `c` column (and the JSON's `c_` fields), the
    /// second in the `pure` column.
    #[arg(long, value_parser = parse_engines, conflicts_with = "backend", value_name = "A[,B]")]
    pub engines: Option<EngineList>,
    /// Print one JSON document on stdout (the human report goes to stderr).
    #[arg(long)]
    pub json: bool,
}

/// What `microbench` measures, resolved from [`MicrobenchArgs`].
#[derive(Clone, Debug)]
pub struct MicrobenchSettings {
    /// Database sizes, in records (each at least one).
    pub records: Vec<usize>,
    /// Operations per timed workload (at least one).
    pub ops: usize,
    /// Hash chains of the databases (0: tdb's default).
    pub hash_size: u32,
    /// Runs per size (at least one).
    pub runs: u32,
    /// Where to put the scratch databases (a temporary directory if `None`).
    pub dir: Option<PathBuf>,
    /// The engines of the two columns (the first where C tdb's figures go, the second
    /// where tdb-pure's go); `None` for a column not measured.
    pub columns: [Option<EngineSpec>; 2],
    /// Print a JSON document on stdout.
    pub json: bool,
}

impl TryFrom<MicrobenchArgs> for MicrobenchSettings {
    type Error = anyhow::Error;

    /// The settings: every size at least one record.
    fn try_from(args: MicrobenchArgs) -> Result<MicrobenchSettings> {
        if args.records.contains(&0) {
            return Err(bad_input(
                "--records: every database size must be at least 1 record",
            ));
        }
        Ok(MicrobenchSettings {
            records: args.records,
            ops: args.ops.max(1),
            hash_size: args.hash_size,
            runs: args.runs.max(1),
            dir: args.dir,
            columns: columns(args.backend, args.engines)?,
            json: args.json,
        })
    }
}

/// The engines of the two columns: `--engines` (one or two), else `--backend`'s.
fn columns(backend: BenchBackends, engines: Option<EngineList>) -> Result<[Option<EngineSpec>; 2]> {
    let Some(EngineList(engines)) = engines else {
        return Ok([
            backend.c().then_some(EngineSpec::C),
            backend.pure().then_some(EngineSpec::Pure),
        ]);
    };
    match <[EngineSpec; 1]>::try_from(engines.clone()) {
        Ok([first]) => Ok([Some(first), None]),
        Err(_) => <[EngineSpec; 2]>::try_from(engines)
            .map(|pair| pair.map(Some))
            .map_err(|list| {
                bad_input(format!(
                    "--engines: microbench compares one or two engines, not {}",
                    list.len()
                ))
            }),
    }
}

/// Measure in the chosen directory (or a temporary one) and print the tables.
pub fn run(settings: &MicrobenchSettings) -> Result<()> {
    let engines = [
        resolve_column(settings.columns[0].as_ref())?,
        resolve_column(settings.columns[1].as_ref())?,
    ];
    match &settings.dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            run_in(settings, engines, dir)
        }
        None => {
            let temporary = tempfile::Builder::new()
                .prefix("tdb-microbench.")
                .tempdir()
                .context("cannot create a temporary directory")?;
            run_in(settings, engines, temporary.path())
        }
    }
}

fn resolve_column(spec: Option<&EngineSpec>) -> Result<Option<Engine>> {
    spec.map(engine::resolve_one).transpose()
}

/// The two columns' engines, resolved.
type Columns = [Option<Engine>; 2];

/// A column's header (`-` when not measured).
fn header(column: Option<Engine>) -> &'static str {
    column.map_or("-", |engine| engine.label())
}

/// The JSON document of `microbench --json`.
#[derive(Serialize)]
struct MicrobenchJson {
    /// Always `"microbench"`.
    command: &'static str,
    /// Hash chains of the databases (131 when tdb's default).
    hash_size: u32,
    /// Length of every record's data.
    data_bytes: usize,
    /// Runs per size (the best time of each workload is kept).
    runs: u32,
    /// Operations per timed workload.
    ops: usize,
    /// One row per size and workload, fcntl locking.
    rows: Vec<RowJson>,
    /// The keyed operations again on robust-mutex files.
    mutex_rows: Vec<MutexRowJson>,
}

/// One workload at one size, fcntl locking.
#[derive(Serialize)]
struct RowJson {
    /// Records in the database.
    records: usize,
    /// The workload (`fetch`, `store (replace)`, ...).
    operation: &'static str,
    /// Nanoseconds per operation on C tdb, or the first of `--engines` (null if not
    /// measured).
    c_ns: Option<f64>,
    /// Nanoseconds per operation on tdb-pure, or the second of `--engines` (null if not
    /// measured).
    pure_ns: Option<f64>,
    /// pure / C (null unless both were measured).
    pure_over_c: Option<f64>,
}

/// One keyed workload at one size, on a robust-mutex file.
#[derive(Serialize)]
struct MutexRowJson {
    /// Records in the database.
    records: usize,
    /// The workload.
    operation: &'static str,
    /// Nanoseconds per operation on C tdb with mutexes.
    c_mutex_ns: Option<f64>,
    /// Nanoseconds per operation on tdb-pure with mutexes.
    pure_mutex_ns: Option<f64>,
    /// pure / C, both with mutexes.
    pure_over_c: Option<f64>,
    /// C with mutexes / C with fcntl locks.
    c_mutex_over_fcntl: Option<f64>,
    /// tdb-pure with mutexes / tdb-pure with fcntl locks.
    pure_mutex_over_fcntl: Option<f64>,
}

/// The best figures of one database size, per backend and locking.
struct SizeFigures {
    records: usize,
    c: Figures,
    pure: Figures,
    c_mutex: Figures,
    pure_mutex: Figures,
}

fn run_in(settings: &MicrobenchSettings, engines: Columns, dir: &Path) -> Result<()> {
    let out = Out::new(settings.json, false);
    let hash_size = match settings.hash_size {
        0 => DEFAULT_HASH_SIZE,
        given => given,
    };
    let hash = if settings.hash_size == 0 {
        format!("{DEFAULT_HASH_SIZE} (default)")
    } else {
        hash_size.to_string()
    };
    out.line(format!(
        "hash size {hash}, {DATA_LEN}-byte data, TDB_NOSYNC; best of {} runs; ns per operation",
        settings.runs
    ));
    out.line(format!(
        "{:>8}  {:<28}{:>12}{:>12}{:>9}",
        "records",
        "operation",
        header(engines[0]),
        header(engines[1]),
        match engines {
            [Some(Engine::C), Some(Engine::Pure)] => "pure/c",
            _ => "2nd/1st",
        }
    ));
    let (mut sizes, mut rows) = (Vec::with_capacity(settings.records.len()), Vec::new());
    for &records in &settings.records {
        let size = measure_size(settings, engines, dir, records)?;
        rows.extend(fcntl_rows(out, engines, &size));
        sizes.push(size);
    }
    out.document(&MicrobenchJson {
        command: "microbench",
        hash_size,
        data_bytes: DATA_LEN,
        runs: settings.runs,
        ops: settings.ops,
        rows,
        mutex_rows: mutex_table(out, engines, &sizes),
    })
}

/// The best of `--runs` runs of every workload at one size, on each backend and locking.
fn measure_size(
    settings: &MicrobenchSettings,
    engines: Columns,
    dir: &Path,
    records: usize,
) -> Result<SizeFigures> {
    let mut best = SizeFigures {
        records,
        c: [Duration::MAX; WORKLOADS.len()],
        pure: [Duration::MAX; WORKLOADS.len()],
        c_mutex: [Duration::MAX; WORKLOADS.len()],
        pure_mutex: [Duration::MAX; WORKLOADS.len()],
    };
    let (with_c, with_pure) = (engines[0].is_some(), engines[1].is_some());
    let once = |mutex: bool, pure: bool| -> Result<Figures> {
        let engine = engines[usize::from(pure)].context("a column measured has an engine")?;
        engine.visit::<0, _>(MeasureOn {
            settings,
            dir,
            records,
            mutex,
        })
    };
    for _ in 0..settings.runs {
        // Alternate so neither backend nor locking always runs on a warmer machine.
        if with_c {
            keep_best(&mut best.c, &once(false, false)?);
        }
        if with_pure {
            keep_best(&mut best.pure, &once(false, true)?);
        }
        if with_c {
            keep_best(&mut best.c_mutex, &once(true, false)?);
        }
        if with_pure {
            keep_best(&mut best.pure_mutex, &once(true, true)?);
        }
    }
    Ok(best)
}

/// Every workload once on backend `B`, on a scratch file named after the backend, the
/// locking and the size.
fn measure_on<B: Backend>(
    settings: &MicrobenchSettings,
    dir: &Path,
    records: usize,
    mutex: bool,
) -> Result<Figures> {
    let locking = if mutex { "mutex" } else { "fcntl" };
    // A `lib:` label is a path: only its letters and digits go into the file name.
    let name: String = B::label()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let path = dir.join(format!("{name}-{locking}-{records}.tdb"));
    workloads::measure::<B>(&path, records, settings.hash_size, settings.ops, mutex)
}

/// The fcntl table's lines of one size: one per workload.
fn fcntl_rows(out: Out, engines: Columns, size: &SizeFigures) -> Vec<RowJson> {
    let (with_c, with_pure) = (engines[0].is_some(), engines[1].is_some());
    let (records, c, pure) = (size.records, &size.c, &size.pure);
    let mut rows = Vec::new();
    for (i, name) in WORKLOADS.iter().enumerate() {
        let row = RowJson {
            records,
            operation: name,
            c_ns: with_c.then(|| nanos(c[i])),
            pure_ns: with_pure.then(|| nanos(pure[i])),
            pure_over_c: ratio(pure[i], c[i], with_c && with_pure),
        };
        out.line(format!(
            "{records:>8}  {name:<28}{:>12}{:>12}{:>9}",
            column(c[i], with_c),
            column(pure[i], with_pure),
            shown(row.pure_over_c),
        ));
        rows.push(row);
    }
    rows
}

/// The robust-mutex table: the keyed workloads, against their fcntl figures.
fn mutex_table(out: Out, engines: Columns, sizes: &[SizeFigures]) -> Vec<MutexRowJson> {
    let (with_c, with_pure) = (engines[0].is_some(), engines[1].is_some());
    out.line(
        "\nrobust-mutex locking (TDB_MUTEX_LOCKING; chain locks are mutexes in the file), \
         against the fcntl figures above",
    );
    out.line(format!(
        "{:>8}  {:<28}{:>12}{:>12}{:>9}{:>13}{:>13}",
        "records", "operation", "c mutex", "pure mutex", "pure/c", "c mtx/fcntl", "pure mtx/fc"
    ));
    let mut rows = Vec::new();
    for size in sizes {
        let (records, c, pure) = (size.records, &size.c, &size.pure);
        let (c_mutex, pure_mutex) = (&size.c_mutex, &size.pure_mutex);
        for i in MUTEX_ROWS {
            let row = MutexRowJson {
                records,
                operation: WORKLOADS[i],
                c_mutex_ns: with_c.then(|| nanos(c_mutex[i])),
                pure_mutex_ns: with_pure.then(|| nanos(pure_mutex[i])),
                pure_over_c: ratio(pure_mutex[i], c_mutex[i], with_c && with_pure),
                c_mutex_over_fcntl: ratio(c_mutex[i], c[i], with_c),
                pure_mutex_over_fcntl: ratio(pure_mutex[i], pure[i], with_pure),
            };
            out.line(format!(
                "{records:>8}  {:<28}{:>12}{:>12}{:>9}{:>13}{:>13}",
                WORKLOADS[i],
                column(c_mutex[i], with_c),
                column(pure_mutex[i], with_pure),
                shown(row.pure_over_c),
                shown(row.c_mutex_over_fcntl),
                shown(row.pure_mutex_over_fcntl),
            ));
            rows.push(row);
        }
    }
    rows
}

/// [`measure_on`] as an engine visitor.
struct MeasureOn<'a> {
    settings: &'a MicrobenchSettings,
    dir: &'a Path,
    records: usize,
    mutex: bool,
}

impl EngineVisitor for MeasureOn<'_> {
    type Output = Result<Figures>;

    fn visit<B: Backend>(self) -> Result<Figures> {
        measure_on::<B>(self.settings, self.dir, self.records, self.mutex)
    }
}

fn nanos(d: Duration) -> f64 {
    d.as_secs_f64() * 1e9
}

/// `a / b` in nanoseconds, if `on`.
fn ratio(a: Duration, b: Duration, on: bool) -> Option<f64> {
    on.then(|| nanos(a) / nanos(b).max(1e-3))
}

/// A ratio as printed (`-` when there is none).
fn shown(ratio: Option<f64>) -> String {
    ratio.map_or("-".to_string(), |r| format!("{r:.3}"))
}

/// A time per operation as printed (`-` when not measured).
fn column(d: Duration, on: bool) -> String {
    if on {
        format!("{:.0}", nanos(d))
    } else {
        "-".to_string()
    }
}

fn keep_best(best: &mut Figures, run: &Figures) {
    for (b, r) in best.iter_mut().zip(run) {
        *b = (*b).min(*r);
    }
}
