//! The traces' `tdb_open` lines taken together: which open created the database in the
//! recording, and whether the opens disagree on how the file is shaped.
//!
//! Tracing switches `TDB_SEQNUM` on, so the sequence number an open line starts with
//! orders the opens in recorded time: the creating open is the one with the lowest. That
//! is not the order the files are given in: Samba's `tdbtorture` writes its parent's
//! final check (`tdb_open` with `TDB_NOLOCK`) with the lowest pid, which a shell glob
//! puts first, although it opens last.

use crate::backend::tdb_flags;

use super::{OpenLine, Trace};

/// The `TDB_*` flags that decide the layout or locking of the file an open creates.
pub const SHAPE_FLAGS: u32 =
    tdb_flags::INCOMPATIBLE_HASH | tdb_flags::MUTEX_LOCKING | tdb_flags::BIGENDIAN;

/// The trace whose `tdb_open` created the database in the recording: the lowest open
/// sequence number; among equals, an open that may create the file (`O_CREAT`) and
/// writes (not `O_RDONLY`), then the order given. `None` for no traces.
pub fn creating_open(traces: &[Trace]) -> Option<usize> {
    (0..traces.len()).min_by_key(|&i| {
        let open = &traces[i].open;
        let creates = open.open_flags as i32 & libc::O_CREAT != 0;
        let writes = open.open_flags as i32 & libc::O_ACCMODE != libc::O_RDONLY;
        (open.seqnum, !creates, !writes, i)
    })
}

/// How an open shapes the file it creates: the hash size and the shaping flags.
fn shape(open: &OpenLine) -> (u32, u32) {
    (open.hash_size, open.tdb_flags & SHAPE_FLAGS)
}

/// One line saying how the opens disagree on the file's shape (hash size or shaping
/// flags), naming the creating open, whose shape the replay uses; `None` when they
/// agree.
pub fn shape_disagreement(traces: &[Trace]) -> Option<String> {
    let creator = creating_open(traces)?;
    let wanted = shape(&traces[creator].open);
    let differing: Vec<&Trace> = traces
        .iter()
        .filter(|trace| shape(&trace.open) != wanted)
        .collect();
    let first = differing.first()?;
    let describe = |trace: &Trace| {
        format!(
            "hash size {}, flags {:#x}",
            trace.open.hash_size, trace.open.tdb_flags
        )
    };
    let others = match differing.len() {
        1 => String::new(),
        n => format!(" (and {} more)", n - 1),
    };
    Some(format!(
        "the traces' opens disagree on the file's shape: {}:1 created it ({}), {}:1 opens \
         with {}{others}; the database is created as the first open recorded did",
        traces[creator].name,
        describe(&traces[creator]),
        first.name,
        describe(first),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::{parse_trace, LoadOptions};

    fn trace(name: &str, open: &str) -> Trace {
        let text = format!("{open}\n{} tdb_close\n", 1000);
        parse_trace(name, text.as_bytes(), &LoadOptions::default()).expect("parses")
    }

    #[test]
    fn the_lowest_open_seqnum_created_the_file_whatever_the_argument_order() {
        // tdbtorture's parent check: lowest pid, opens last.
        let set = [
            trace("t.1", "900 tdb_open 2 0x4 0x2"),
            trace("t.2", "0 tdb_open 2 0x1801 0x42"),
            trace("t.3", "4 tdb_open 2 0x1801 0x42"),
        ];
        assert_eq!(creating_open(&set), Some(1));
        let line = shape_disagreement(&set).expect("they disagree");
        assert!(line.starts_with("the traces' opens disagree on the file's shape: t.2:1"));
        assert!(
            line.contains("t.1:1 opens with hash size 2, flags 0x4"),
            "{line}"
        );
    }

    #[test]
    fn ties_prefer_a_creating_writable_open_then_the_order_given() {
        let set = [
            trace("r", "0 tdb_open 2 0x0 0x0"),
            trace("w", "0 tdb_open 2 0x0 0x2"),
            trace("c", "0 tdb_open 2 0x0 0x42"),
            trace("c2", "0 tdb_open 2 0x0 0x42"),
        ];
        assert_eq!(creating_open(&set), Some(2));
        assert_eq!(creating_open(&set[..2]), Some(1));
        assert_eq!(creating_open(&[]), None);
    }

    #[test]
    fn opens_that_agree_on_the_shape_say_nothing() {
        // CLEAR_IF_FIRST and NOSYNC do not shape the file; the hash size does.
        let set = [
            trace("a", "0 tdb_open 7 0x1 0x42"),
            trace("b", "3 tdb_open 7 0x40 0x2"),
        ];
        assert_eq!(shape_disagreement(&set), None);
        let set = [
            trace("a", "0 tdb_open 7 0x0 0x42"),
            trace("b", "3 tdb_open 9 0x0 0x42"),
        ];
        assert!(shape_disagreement(&set).is_some());
    }
}
