//! One C tdb operation tried from another process: what C tdb in another process can do
//! while this one holds locks or an open transaction.

use std::path::Path;
use std::process::Stdio;

use super::child::{helper_command, helper_job, test_name, yes_or_no};

const ENV_PATH: &str = "TDB_PURE_C_PROBE_PATH";
const ENV_OP: &str = "TDB_PURE_C_PROBE_OP";

/// Whether C tdb, opened on `path` in a new process, can do `op` (non-blocking):
/// `chain:<key>`, `chain_read:<key>`, `lockall_read`, `transaction`, or
/// `fetch:<key>=<value>` (`-` for absent: whether C reads that value).
pub fn c_can(path: &Path, op: &str) -> bool {
    let status = helper_command(&test_name(module_path!(), "c_probe_child"))
        .env(ENV_PATH, path)
        .env(ENV_OP, op)
        .stdout(Stdio::null())
        .status()
        .expect("start the C probe");
    yes_or_no(status, op)
}

/// Child side of [`c_can`]: exit 0 on success or match, 1 on refusal or mismatch, 2 on
/// other failure.
#[test]
#[ignore = "helper"]
fn c_probe_child() {
    let Some([path, op]) = helper_job([ENV_PATH, ENV_OP]) else {
        return;
    };
    let Ok(mut c) = tdb_sys::Tdb::open(&path, &tdb_sys::OpenOptions::default()) else {
        std::process::exit(2)
    };
    let op = op.into_string().unwrap_or_default();
    let (name, arg) = op.split_once(':').unwrap_or((&op, ""));
    let ok = match name {
        "chain" => c.chainlock_nonblock(arg.as_bytes()).is_ok(),
        "chain_read" => c.chainlock_read_nonblock(arg.as_bytes()).is_ok(),
        "lockall_read" => c.lockall_read_nonblock().is_ok(),
        "transaction" => c.transaction_start_nonblock().is_ok(),
        "fetch" => {
            let Some((key, value)) = arg.split_once('=') else {
                std::process::exit(2)
            };
            let Ok(got) = c.fetch(key.as_bytes()) else {
                std::process::exit(2)
            };
            let want = (value != "-").then(|| value.as_bytes().to_vec());
            got.map(|d| d.as_slice().to_vec()) == want
        }
        _ => std::process::exit(2),
    };
    std::process::exit(if ok { 0 } else { 1 });
}
