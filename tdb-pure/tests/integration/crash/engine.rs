//! The two engines.

use std::ops::ControlFlow;
use std::path::Path;

use tdb_pure::{code, OpenFlags, StoreFlag, Tdb};

use super::workload::{Op, State};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Engine {
    C,
    Pure,
}

impl Engine {
    pub(super) fn name(self) -> &'static str {
        match self {
            Engine::C => "c",
            Engine::Pure => "pure",
        }
    }

    pub(super) fn parse(s: &str) -> Engine {
        match s {
            "c" => Engine::C,
            "pure" => Engine::Pure,
            _ => panic!("engine {s}"),
        }
    }

    pub(super) fn other(self) -> Engine {
        match self {
            Engine::C => Engine::Pure,
            Engine::Pure => Engine::C,
        }
    }
}

/// Syncs on (no `TDB_NOSYNC`).
pub(super) fn rw(create: bool) -> OpenFlags {
    OpenFlags {
        hash_size: 0,
        tdb_flags: 0,
        open_flags: libc::O_RDWR | if create { libc::O_CREAT } else { 0 },
        mode: 0o600,
    }
}

pub(super) fn c_opts(create: bool) -> tdb_sys::OpenOptions {
    let o = rw(create);
    tdb_sys::OpenOptions {
        hash_size: o.hash_size,
        tdb_flags: o.tdb_flags,
        open_flags: o.open_flags,
        mode: o.mode,
    }
}

/// A read-write handle on either engine.
#[allow(clippy::large_enum_variant)]
pub(super) enum Db {
    C(tdb_sys::Tdb),
    Pure(Tdb),
}

impl Db {
    pub(super) fn open(engine: Engine, path: &Path, create: bool) -> Result<Db, String> {
        match engine {
            Engine::C => tdb_sys::Tdb::open(path, &c_opts(create))
                .map(Db::C)
                .map_err(|e| format!("C open: {e}")),
            Engine::Pure => Tdb::open(path, &rw(create))
                .map(Db::Pure)
                .map_err(|e| format!("tdb-pure open: {e}")),
        }
    }

    pub(super) fn start(&mut self) {
        match self {
            Db::C(c) => c.transaction_start().unwrap(),
            Db::Pure(p) => p.transaction_start().unwrap(),
        }
    }

    pub(super) fn apply(&mut self, ops: &[Op]) {
        for op in ops {
            match (&mut *self, op) {
                (Db::C(c), Op::Store(k, v)) => c.store(k, v, tdb_sys::StoreFlag::Replace).unwrap(),
                (Db::C(c), Op::Delete(k)) => {
                    if let Err(e) = c.delete(k) {
                        assert_eq!(e.code(), tdb_sys::ErrorCode::NoExist, "{e}");
                    }
                }
                (Db::C(c), Op::Append(k, v)) => c.append(k, v).unwrap(),
                (Db::Pure(p), Op::Store(k, v)) => p.store(k, v, StoreFlag::Replace).unwrap(),
                (Db::Pure(p), Op::Delete(k)) => {
                    if let Err(e) = p.delete(k) {
                        assert_eq!(e.code(), code::NOEXIST, "{e}");
                    }
                }
                (Db::Pure(p), Op::Append(k, v)) => p.append(k, v).unwrap(),
            }
        }
    }

    pub(super) fn commit(&mut self) {
        match self {
            Db::C(c) => c.transaction_commit().unwrap(),
            Db::Pure(p) => p.transaction_commit().unwrap(),
        }
    }

    /// The engine's check; `Ok(true)` when tdb-pure's passed by skipping what a killed
    /// commit left past the old end of file (see `tdb_pure::CheckReport`).
    pub(super) fn check(&mut self) -> Result<bool, String> {
        match self {
            Db::C(c) => c
                .check()
                .map(|()| false)
                .map_err(|e| format!("C check: {e}")),
            Db::Pure(p) => p
                .check_report()
                .map(|report| report.has_leftovers())
                .map_err(|e| format!("tdb-pure check: {e}")),
        }
    }

    pub(super) fn state(&mut self) -> Result<State, String> {
        let mut out = State::new();
        match self {
            Db::C(c) => {
                c.traverse_read(|_, k, d| {
                    assert!(out.insert(k.to_vec(), d.to_vec()).is_none(), "key twice");
                    ControlFlow::Continue(())
                })
                .map_err(|e| format!("C traverse: {e}"))?;
            }
            Db::Pure(p) => {
                for (k, d) in p.entries().map_err(|e| format!("tdb-pure traverse: {e}"))? {
                    if out.insert(k, d).is_some() {
                        return Err("tdb-pure traverse: key twice".into());
                    }
                }
            }
        }
        Ok(out)
    }
}
