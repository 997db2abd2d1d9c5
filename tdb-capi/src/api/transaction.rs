//! Transactions: start (blocking or not), prepare, commit, cancel, and whether one is
//! active.

use crate::ffi::call_infallible;
use crate::types::TdbContext;

handle_calls! {
    /// `tdb_transaction_start`.
    tdb_transaction_start => transaction_start;
    /// `tdb_transaction_start_nonblock`.
    tdb_transaction_start_nonblock => transaction_start_nonblock;
    /// `tdb_transaction_prepare_commit`.
    tdb_transaction_prepare_commit => transaction_prepare_commit;
    /// `tdb_transaction_commit`.
    tdb_transaction_commit => transaction_commit;
    /// `tdb_transaction_cancel`.
    tdb_transaction_cancel => transaction_cancel;
}

/// `tdb_transaction_active`.
#[no_mangle]
pub unsafe extern "C" fn tdb_transaction_active(tdb: *mut TdbContext) -> bool {
    // SAFETY: `tdb` is a live handle (tdb.h's contract).
    unsafe {
        call_infallible(tdb, "tdb_transaction_active", false, |t| {
            t.transaction_active()
        })
    }
}
