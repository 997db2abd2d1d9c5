//! Damaged files: a database made by Debian's tdbtool, then damaged at seeded random
//! places (1 to 4 words overwritten after the header), judged by Debian's tdbtool
//! `check`, tdbdump and tdbdump -e on both libraries. The verdicts, dumps and exit
//! statuses must agree; where C hangs (stopped after its time limit), ours must still
//! finish.

use std::path::Path;
use std::time::Duration;

use crate::util::{assert_same, debian_present, installed, on, run, Lib};

const VARIANTS: u64 = 40;

/// A database of 60 records, 15 of them deleted again (so the freelist has entries).
fn make_base(dir: &Path) -> Vec<u8> {
    let mut script = String::from("create base.tdb\n");
    for i in 0..60 {
        script += &format!("store key{i} value-{i}-{}\n", "x".repeat(i % 7));
    }
    for i in (0..60).step_by(4) {
        script += &format!("delete key{i}\n");
    }
    script += "quit\n";
    let mut cmd = on(Lib::Debian, "/usr/bin/tdbtool");
    cmd.current_dir(dir);
    run(&mut cmd, script.as_bytes(), Duration::from_secs(30)).assert_ok("the base database");
    std::fs::read(dir.join("base.tdb")).expect("base.tdb")
}

/// `base` with 1 to 4 words after the 168-byte header overwritten (a small LCG, so
/// every run damages the same places).
fn damaged(base: &[u8], seed: u64) -> Vec<u8> {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut next = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        state >> 33
    };
    let mut bytes = base.to_vec();
    for _ in 0..1 + seed % 4 {
        let off = 168 + next() as usize % (bytes.len() - 168 - 4);
        let word = (next() as u32).to_le_bytes();
        bytes[off..off + 4].copy_from_slice(&word);
    }
    bytes
}

/// What `program args` (`FILE` standing for a copy of `file`) prints on `lib`, or
/// `None` if it hung.
fn judge(lib: Lib, dir: &Path, file: &[u8], program: &str, args: &[&str]) -> Option<String> {
    let copy = dir.join(format!("{}.tdb", lib.name()));
    std::fs::write(&copy, file).expect("writing a damaged copy");
    let mut cmd = on(lib, format!("/usr/bin/{program}"));
    cmd.args(args.iter().map(|a| {
        if *a == "FILE" {
            copy.as_os_str()
        } else {
            a.as_ref()
        }
    }));
    let out = run(&mut cmd, b"", Duration::from_secs(5));
    let status = out.status?;
    let printed = out.stdout.replace(&*copy.to_string_lossy(), "FILE");
    Some(format!("{printed}[exit {:?}]\n", status.code()))
}

#[test]
fn damaged_files_are_judged_alike() {
    if !debian_present() || !installed("/usr/bin/tdbtool") || !installed("/usr/bin/tdbdump") {
        return;
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    let base = make_base(dir.path());
    let (mut agreed, mut refused) = (0, 0);
    for seed in 0..VARIANTS {
        let file = damaged(&base, seed);
        for (program, args) in [
            ("tdbtool", &["FILE", "check"][..]),
            ("tdbdump", &["FILE"]),
            ("tdbdump", &["-e", "FILE"]),
        ] {
            let what = format!("{program} {args:?} on damaged file {seed}");
            let ours = judge(Lib::Ours, dir.path(), &file, program, args);
            let ours = ours.unwrap_or_else(|| panic!("{what}: ours hung"));
            assert!(
                ours.contains("[exit Some("),
                "{what}: ours was killed by a signal:\n{ours}"
            );
            refused += usize::from(program == "tdbtool" && !ours.contains("integrity is OK"));
            // C hanging or killed by a signal on a damaged file is C's failure, not a
            // verdict to compare.
            let debian = judge(Lib::Debian, dir.path(), &file, program, args);
            if let Some(debian) = debian.filter(|d| !d.contains("[exit None]")) {
                assert_same(&what, &debian, &ours);
                agreed += 1;
            }
        }
    }
    assert!(agreed > 0, "Debian's tools hung on every damaged file");
    // The damage must matter sometimes, and not always (else the variants test little).
    assert!(
        (1..VARIANTS as usize).contains(&refused),
        "{refused} of {VARIANTS} refused"
    );
    eprintln!("{agreed} verdicts agreed; ours' check refused {refused} of {VARIANTS} files");
}
