//! Engines chosen at run time: specs (`c`, `pure`, `lib:PATH[=NAME]`), the engines they
//! resolve to, and the [`Roster`] of those that take turns on one file.
//!
//! [`Engines::visit`] calls a generic job with the backend type
//! of one position: [`CTdb`] for `c`, [`PureTdb`] for `pure`, and [`Loaded`] for a
//! `lib:` engine, whose slot is set to that engine's library first. So the `c` and
//! `pure` paths are the same monomorphised code as before, and a `lib:` engine is the C
//! adapter over another function table: one indirect call per tdb call, no per-op
//! dispatch on the engine.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::{Mutex, PoisonError, RwLock};

use tdb_sys as sys;

use super::c::CTdb;
use super::engines::{EngineVisitor, Engines};
use super::loaded::{self, Loaded, LoadedLibrary};
use super::pure::PureTdb;
use super::{Backend, LockingModel};
use crate::trace::Trace;

/// An engine as the user names it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum EngineSpec {
    /// The vendored static build of C tdb 1.4.8.
    C,
    /// tdb-pure.
    Pure,
    /// A libtdb shared library loaded at run time, with an optional report name.
    Lib {
        /// The library file.
        path: PathBuf,
        /// The name reports give it (`lib:NAME`); the path when absent.
        name: Option<String>,
    },
}

impl EngineSpec {
    /// The engine's name in reports: `c`, `pure`, `lib:PATH` or `lib:NAME`.
    pub fn label(&self) -> String {
        match self {
            EngineSpec::C => "c".into(),
            EngineSpec::Pure => "pure".into(),
            EngineSpec::Lib {
                name: Some(name), ..
            } => format!("lib:{name}"),
            EngineSpec::Lib { path, name: None } => format!("lib:{}", path.display()),
        }
    }
}

impl fmt::Display for EngineSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label())
    }
}

impl FromStr for EngineSpec {
    type Err = String;

    /// `c`, `pure`, `lib:PATH` or `lib:PATH=NAME`.
    fn from_str(text: &str) -> Result<EngineSpec, String> {
        match text {
            "c" => return Ok(EngineSpec::C),
            "pure" => return Ok(EngineSpec::Pure),
            _ => {}
        }
        let Some(rest) = text.strip_prefix("lib:") else {
            return Err(format!(
                "unknown engine '{text}': use c, pure, lib:PATH or lib:PATH=NAME"
            ));
        };
        let (path, name) = match rest.rsplit_once('=') {
            Some((path, name)) if !name.is_empty() && !name.contains('/') => {
                (path, Some(name.to_string()))
            }
            _ => (rest, None),
        };
        if path.is_empty() {
            return Err(format!(
                "engine '{text}' names no library: use lib:PATH or lib:PATH=NAME"
            ));
        }
        Ok(EngineSpec::Lib {
            path: PathBuf::from(path),
            name,
        })
    }
}

/// Parses a comma-separated list of specs (`c,lib:/x/libtdb.so.1,pure`).
pub fn parse_list(text: &str) -> Result<Vec<EngineSpec>, String> {
    let specs = text
        .split(',')
        .map(str::trim)
        .map(EngineSpec::from_str)
        .collect::<Result<Vec<_>, _>>()?;
    if specs.is_empty() {
        return Err("no engine given".into());
    }
    Ok(specs)
}

/// An engine ready to run: a spec whose library (if any) is loaded and checked.
#[derive(Clone, Copy, Debug)]
pub enum Engine {
    /// The static C build.
    C,
    /// tdb-pure.
    Pure,
    /// A loaded libtdb.
    Lib(&'static LoadedLibrary),
}

impl Engine {
    /// Loads `spec`'s library (once per path and name in a process) and checks it.
    pub fn resolve(spec: &EngineSpec) -> Result<Engine, sys::LoadError> {
        static LOADED: Mutex<Option<HashMap<EngineSpec, &'static LoadedLibrary>>> =
            Mutex::new(None);
        let EngineSpec::Lib { path, .. } = spec else {
            return Ok(match spec {
                EngineSpec::C => Engine::C,
                _ => Engine::Pure,
            });
        };
        let mut loaded = LOADED.lock().unwrap_or_else(PoisonError::into_inner);
        let loaded = loaded.get_or_insert_with(HashMap::new);
        if let Some(library) = loaded.get(spec) {
            return Ok(Engine::Lib(library));
        }
        let library: &'static LoadedLibrary = Box::leak(Box::new(LoadedLibrary {
            api: sys::Api::load(path)?,
            label: Box::leak(spec.label().into_boxed_str()),
        }));
        loaded.insert(spec.clone(), library);
        Ok(Engine::Lib(library))
    }

    /// The engine's name in reports.
    pub fn label(&self) -> &'static str {
        match self {
            Engine::C => CTdb::NAME,
            Engine::Pure => PureTdb::NAME,
            Engine::Lib(library) => library.label,
        }
    }

    /// Locking facts for the analysis. A libtdb older than 1.3.14 (it lacks
    /// `tdb_transaction_active`, new in that release) still takes the transaction lock
    /// for a read traverse: tdb 1.3.14 dropped it in the same release.
    pub fn locking(&self) -> LockingModel {
        match self {
            Engine::Lib(library) if !library.api.provides("tdb_transaction_active") => {
                LockingModel {
                    read_traverse_takes_transaction_lock: true,
                }
            }
            Engine::C | Engine::Lib(_) => CTdb::LOCKING,
            Engine::Pure => PureTdb::LOCKING,
        }
    }

    /// Runs `visitor` with this engine's backend type; a `lib:` engine runs as
    /// `Loaded<SLOT>`, whose slot is set to its library first.
    pub fn visit<const SLOT: usize, V: EngineVisitor>(&self, visitor: V) -> V::Output {
        match self {
            Engine::C => visitor.visit::<CTdb>(),
            Engine::Pure => visitor.visit::<PureTdb>(),
            Engine::Lib(library) => {
                loaded::set_slot(SLOT, library);
                visitor.visit::<Loaded<SLOT>>()
            }
        }
    }

    /// Why `trace` cannot run on this engine: a function it calls that this libtdb
    /// lacks (an older tdb), or `None`.
    pub fn unsupported(&self, trace: &Trace) -> Option<String> {
        let Engine::Lib(library) = self else {
            return None;
        };
        let op = trace.ops.iter().find(|op| {
            let name = op.name();
            sys::OPTIONAL_SYMBOLS.contains(&name) && !library.api.provides(name)
        })?;
        Some(format!(
            "{}: line {} calls {}, which {} lacks (a later tdb added it); replay this \
             trace on a newer libtdb",
            trace.name,
            op.line,
            op.name(),
            library.label
        ))
    }
}

/// Resolves every spec; the first library that cannot be used is the error.
pub fn resolve_all(specs: &[EngineSpec]) -> Result<Vec<Engine>, sys::LoadError> {
    specs.iter().map(Engine::resolve).collect()
}

/// The engines installed for this process with [`install`] (`--engines A,B,...`).
pub struct Roster;

static ROSTER: RwLock<Vec<Engine>> = RwLock::new(Vec::new());

/// Makes `engines` the [`Roster`] (replacing any earlier one); empty is refused.
pub fn install(engines: Vec<Engine>) {
    assert!(!engines.is_empty(), "a roster needs an engine");
    *ROSTER.write().unwrap_or_else(PoisonError::into_inner) = engines;
}

fn roster_engine(position: usize) -> Engine {
    let roster = ROSTER.read().unwrap_or_else(PoisonError::into_inner);
    assert!(
        !roster.is_empty(),
        "engines::install runs before the roster is used"
    );
    roster[position % roster.len()]
}

impl Engines for Roster {
    fn count() -> usize {
        ROSTER.read().unwrap_or_else(PoisonError::into_inner).len()
    }

    fn label(position: usize) -> &'static str {
        roster_engine(position).label()
    }

    fn locking(position: usize) -> LockingModel {
        roster_engine(position).locking()
    }

    fn visit<V: EngineVisitor>(position: usize, visitor: V) -> V::Output {
        roster_engine(position).visit::<0, V>(visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_and_label() {
        assert_eq!("c".parse::<EngineSpec>(), Ok(EngineSpec::C));
        assert_eq!("pure".parse::<EngineSpec>(), Ok(EngineSpec::Pure));
        let lib: EngineSpec = "lib:/x/libtdb.so.1=patched".parse().unwrap();
        assert_eq!(lib.label(), "lib:patched");
        let plain: EngineSpec = "lib:/x/a=b/libtdb.so".parse().unwrap();
        assert_eq!(plain.label(), "lib:/x/a=b/libtdb.so");
        assert!("lib:".parse::<EngineSpec>().is_err());
        assert!("mixed"
            .parse::<EngineSpec>()
            .unwrap_err()
            .contains("lib:PATH"));
        assert_eq!(parse_list("c, pure").unwrap().len(), 2);
    }
}
