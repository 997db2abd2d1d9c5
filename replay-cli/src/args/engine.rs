//! Engine specs on the command line (`c`, `pure`, `lib:PATH`, `lib:PATH=NAME`), and
//! what a choice of engines runs as.
//!
//! `--backend c|pure|mixed` and the `--engines` lists that name only the two built-in
//! engines run on the compile-time backends ([`Planned::Builtin`]); any list with a
//! `lib:` engine, or with three engines, runs on the run-time roster.

use anyhow::Result;
use replay_engine::backend::runtime::{self, Engine, EngineSpec};
use replay_engine::trace::Trace;

use super::EngineChoice;
use crate::exit::bad_input;

/// The value of `--engines A,B,...`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EngineList(pub Vec<EngineSpec>);

/// Parses `--engines A,B,...` for clap.
pub fn parse_engines(text: &str) -> std::result::Result<EngineList, String> {
    runtime::parse_list(text).map(EngineList)
}

/// Parses one engine spec for clap.
pub fn parse_engine(text: &str) -> std::result::Result<EngineSpec, String> {
    text.parse()
}

/// How a concurrent command runs its engines.
#[derive(Debug)]
pub enum Planned {
    /// On the compiled-in backends: `c`, `pure`, or the two alternating.
    Builtin(EngineChoice),
    /// On these engines, installed as the roster.
    Roster(Vec<Engine>),
}

/// The engines of `--engines` (when given) or `--backend`; libraries are loaded and
/// checked here (a bad one is bad input, exit 2).
pub fn plan(backend: EngineChoice, engines: &[EngineSpec]) -> Result<Planned> {
    let builtin = match engines {
        [] => Some(backend),
        [EngineSpec::C] => Some(EngineChoice::C),
        [EngineSpec::Pure] => Some(EngineChoice::Pure),
        [EngineSpec::C, EngineSpec::Pure] => Some(EngineChoice::Mixed),
        _ => None,
    };
    if let Some(choice) = builtin {
        return Ok(Planned::Builtin(choice));
    }
    Ok(Planned::Roster(resolve(engines)?))
}

/// Loads and checks every spec's library: the first unusable one is bad input.
pub fn resolve(specs: &[EngineSpec]) -> Result<Vec<Engine>> {
    runtime::resolve_all(specs).map_err(|error| bad_input(format!("lib:{error}")))
}

/// Loads `spec` (see [`resolve`]).
pub fn resolve_one(spec: &EngineSpec) -> Result<Engine> {
    Engine::resolve(spec).map_err(|error| bad_input(format!("lib:{error}")))
}

/// Refuses traces that call a function one of the engines' libraries lacks.
pub fn check_traces(engines: &[Engine], traces: &[Trace]) -> Result<()> {
    for engine in engines {
        for trace in traces {
            if let Some(problem) = engine.unsupported(trace) {
                return Err(bad_input(problem));
            }
        }
    }
    Ok(())
}

/// The names of `engines`, comma-separated (`c,lib:patched`).
pub fn names(engines: &[Engine]) -> String {
    engines
        .iter()
        .map(Engine::label)
        .collect::<Vec<_>>()
        .join(",")
}
