//! Debian's python3-tdb runs our script (testdata/python/api.py) on both libraries:
//! the module's whole API, with identical output and identical files.

use std::time::Duration;

use crate::util::{
    assert_mapped, assert_same, assert_same_file, debian_present, installed, on, run, testdata, Lib,
};

#[test]
fn python3_tdb_agrees() {
    if !debian_present() || !installed("/usr/bin/python3") {
        return;
    }
    let module = std::process::Command::new("/usr/bin/python3")
        .args(["-c", "import tdb"])
        .output();
    if !module.is_ok_and(|o| o.status.success()) {
        eprintln!("skipped: python3-tdb is not installed (apt-get install python3-tdb)");
        return;
    }
    let runs = Lib::BOTH.map(|lib| {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut cmd = on(lib, "/usr/bin/python3");
        cmd.arg(testdata().join("python/api.py")).arg(dir.path());
        let out = run(&mut cmd, b"", Duration::from_secs(30));
        out.assert_ok(&format!("api.py on {}", lib.name()));
        assert_mapped(&out, lib);
        (out.stdout, dir)
    });
    let [(debian, d), (ours, o)] = runs;
    assert!(debian.ends_with("done\n"), "{debian}");
    assert_same("python3-tdb api.py", &debian, &ours);
    for file in ["api.tdb", "nested.tdb", "ro.tdb", "nonest.tdb"] {
        assert_same_file(file, &d.path().join(file), &o.path().join(file));
    }
}
