//! `tdb_append`: Samba's line `K previous = appended`, ccan's `K appended = result`.
//!
//! The record is never copied: under the chain lock (held across the append, as tdb
//! holds it) the length of the record before is probed with `tdb_parse_record`, and the
//! line is written from inside a second `tdb_parse_record` of the record after, whose
//! bytes are `previous` followed by `appended`.

use std::ffi::{c_int, c_void};

use replay_engine::record::Layout;

use super::records::{traced, under_chain_lock};
use crate::ffi::{real, TdbContext, TdbData};
use crate::handles::Call;

/// `tdb_append`, under the chain lock.
///
/// # Safety
/// As tdb.h.
#[no_mangle]
pub unsafe extern "C" fn tdb_append(tdb: *mut TdbContext, key: TdbData, data: TdbData) -> c_int {
    let Some(call) = Call::enter(tdb) else {
        // SAFETY: the program's arguments, passed on unchanged.
        return unsafe { real::tdb_append(tdb, key, data) };
    };
    let layout = call.with(|trace| trace.layout).unwrap_or_default();
    // SAFETY: the program's handle, key and data.
    unsafe {
        under_chain_lock(&call, key, |locked| {
            let before = record_len(tdb, key);
            let ret = real::tdb_append(tdb, key, data);
            if traced(tdb, ret, locked) {
                let seqnum = call.seqnum();
                let (key_bytes, appended) = (key.key(), data.bytes());
                with_record(tdb, key, |now| {
                    // The record before: the head of the one now if the append worked,
                    // all of it if not.
                    let previous = before
                        .and(now)
                        .map(|now| &now[..before.unwrap_or(0).min(now.len())]);
                    call.line_at(seqnum, |out, seqnum| match layout {
                        Layout::Samba => out.append_previous(seqnum, key_bytes, previous, appended),
                        Layout::Ccan if ret == 0 => {
                            out.append_words(seqnum, key_bytes, appended, now)
                        }
                        Layout::Ccan => {
                            // A failed append (rare): ccan traces the record it meant to
                            // store, which is built here.
                            let mut meant = previous.unwrap_or_default().to_vec();
                            meant.extend_from_slice(appended.unwrap_or_default());
                            out.append_words(seqnum, key_bytes, appended, Some(&meant))
                        }
                    });
                });
            }
            ret
        })
    }
}

/// The length of `key`'s record now, `None` if there is none.
///
/// # Safety
/// `tdb` live, `key` valid.
unsafe fn record_len(tdb: *mut TdbContext, key: TdbData) -> Option<usize> {
    let mut len = None;
    // SAFETY: the caller's promise; the closure outlives the call.
    unsafe { with_record(tdb, key, |record| len = record.map(<[u8]>::len)) };
    len
}

/// Run `f` on `key`'s record as it is now (`None` if there is none), without copying it.
///
/// # Safety
/// `tdb` live, `key` valid.
unsafe fn with_record(tdb: *mut TdbContext, key: TdbData, f: impl FnOnce(Option<&[u8]>)) {
    let mut f = Some(f);
    let mut visit = |record: Option<&[u8]>| {
        if let Some(f) = f.take() {
            f(record);
        }
    };
    let mut visit: &mut dyn FnMut(Option<&[u8]>) = &mut visit;
    let context = std::ptr::from_mut(&mut visit).cast::<c_void>();
    // SAFETY: the caller's promise; our parser with its context, alive for the call.
    unsafe { real::tdb_parse_record(tdb, key, Some(visit_record), context) };
    visit(None);
}

unsafe extern "C" fn visit_record(_key: TdbData, data: TdbData, private: *mut c_void) -> c_int {
    // SAFETY: `private` is the `&mut dyn FnMut` with_record passed, alive for the call.
    let visit = unsafe { &mut *private.cast::<&mut dyn FnMut(Option<&[u8]>)>() };
    // SAFETY: the record's bytes, valid while the parser runs. A present record of no
    // bytes may come with a NULL pointer: it is still present.
    let bytes = unsafe { data.bytes() }.unwrap_or_default();
    visit(Some(bytes));
    0
}
