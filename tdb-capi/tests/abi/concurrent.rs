//! Both libraries on one file at once: two processes on Debian's libtdb.so.1 and two
//! on ours run transactions, chain-locked increments and traverses (read-only ones
//! that validate every record, and writing ones that delete the worker's temporary
//! records). Afterwards the file must pass both engines' checks (through each library,
//! through tdbtool on each, and tdb-pure's own) and hold exactly what the successful
//! operations imply.

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;

use crate::util::c_program::abi_check;
use crate::util::{assert_same, debian_present, installed, on, run, Lib};

const ROUNDS: u32 = 150;

/// A worker's report: (transactions committed, chain-locked increments).
fn parse_report(line: &str) -> (u32, u32) {
    let field = |name: &str| -> u32 {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(name))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {line:?}"))
    };
    assert_eq!(
        field("bad="),
        0,
        "a traverse saw a malformed record: {line}"
    );
    (field("tx="), field("cl="))
}

fn start(lib: Lib, file: &Path, id: u32) -> Child {
    on(lib, abi_check())
        .arg("worker")
        .arg(file)
        .arg(id.to_string())
        .arg(ROUNDS.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting a worker")
}

#[test]
fn two_processes_per_library_share_one_file() {
    if !debian_present() {
        return;
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = dir.path().join("shared.tdb");
    let mut create = on(Lib::Debian, abi_check());
    create.arg("worker").arg(&file).args(["0", "0"]);
    run(&mut create, b"", Duration::from_secs(10)).assert_ok("creating the file");

    let workers: Vec<(Lib, Child)> = [Lib::Debian, Lib::Ours, Lib::Debian, Lib::Ours]
        .into_iter()
        .enumerate()
        .map(|(i, lib)| (lib, start(lib, &file, i as u32 + 1)))
        .collect();
    let (mut tx, mut cl) = (0, 0);
    for (lib, child) in workers {
        let out = child.wait_with_output().expect("a worker");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "worker on {}: {stdout}{}",
            lib.name(),
            String::from_utf8_lossy(&out.stderr)
        );
        let (t, c) = parse_report(&stdout);
        assert!(
            t > 0 && c > 0,
            "worker on {} did nothing: {stdout}",
            lib.name()
        );
        tx += t;
        cl += c;
    }

    let verify = Lib::BOTH.map(|lib| {
        let mut cmd = on(lib, abi_check());
        cmd.arg("verify").arg(&file);
        let out = run(&mut cmd, b"", Duration::from_secs(10));
        out.assert_ok(&format!("verify on {}", lib.name()));
        out.stdout
    });
    let implied = format!(
        "check: 0\nrecords={} w={tx} tmp=0 tx_count={tx} cl_count={cl}\n",
        tx + 2
    );
    assert_same(
        "the shared file, as Debian's library and ours read it",
        &verify[0],
        &verify[1],
    );
    assert_eq!(
        verify[0], implied,
        "the file does not hold what the operations imply"
    );

    if installed("/usr/bin/tdbtool") {
        for lib in Lib::BOTH {
            let mut cmd = on(lib, "/usr/bin/tdbtool");
            cmd.arg(&file).arg("check");
            let out = run(&mut cmd, b"", Duration::from_secs(10));
            let want = format!("Database integrity is OK and has {} records.", tx + 2);
            assert!(
                out.stdout.contains(&want),
                "tdbtool check on {}: {}",
                lib.name(),
                out.stdout
            );
        }
    }
    let options = tdb_pure::OpenFlags {
        hash_size: 0,
        tdb_flags: 0,
        open_flags: libc::O_RDWR,
        mode: 0,
    };
    let mut db = tdb_pure::Tdb::open(&file, &options).expect("tdb-pure opens the file");
    db.check().expect("tdb-pure's check passes");
}
