//! Our library exports exactly Debian's symbols with the same versions and SONAME, and
//! a program run with `LD_LIBRARY_PATH` really loads the library we meant.

use std::collections::BTreeSet;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::{debian_present, installed, on, Lib};

/// The defined dynamic symbols of a library as `nm -D --with-symbol-versions` lists
/// them: `kind name@@version` (kind `T` for code, `D` for data of any section) and the
/// version nodes (`A TDB_x.y.z`).
fn exports(lib: Lib) -> BTreeSet<String> {
    let out = Command::new("nm")
        .args(["-D", "--with-symbol-versions", "--defined-only"])
        .arg(lib.file())
        .output()
        .expect("running nm (binutils)");
    assert!(
        out.status.success(),
        "nm {}: {:?}",
        lib.file().display(),
        out.status
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace().rev();
            let (name, kind) = (fields.next()?, fields.next()?);
            let kind = match kind {
                "T" | "t" | "W" | "i" => "T",
                "A" => "A",
                _ => "D", // B, D, R, G, S: a data object wherever it lives
            };
            Some(format!("{kind} {name}"))
        })
        .collect()
}

fn soname(lib: Lib) -> String {
    let out = Command::new("objdump")
        .arg("-p")
        .arg(lib.file())
        .output()
        .expect("objdump");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("SONAME")
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_default()
}

#[test]
fn our_exports_are_exactly_debians() {
    if !debian_present() {
        return;
    }
    let (debian, ours) = (exports(Lib::Debian), exports(Lib::Ours));
    let functions = debian.iter().filter(|s| s.starts_with("T tdb_")).count();
    assert_eq!(
        functions, 73,
        "Debian's library should export 73 functions: {debian:?}"
    );
    assert!(debian.contains("D tdb_null@@TDB_1.2.2"), "{debian:?}");
    let missing: Vec<_> = debian.difference(&ours).collect();
    let extra: Vec<_> = ours.difference(&debian).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{}: missing {missing:?}, extra {extra:?}",
        Lib::Ours.file().display()
    );
    assert_eq!(soname(Lib::Ours), "libtdb.so.1");
    assert_eq!(soname(Lib::Debian), "libtdb.so.1");
}

/// Starts Debian's unmodified tdbtool on each library, reads its /proc/PID/maps, and
/// requires that exactly that library's file is mapped.
#[test]
fn ld_library_path_loads_the_intended_library() {
    if !debian_present() || !installed("/usr/bin/tdbtool") {
        return;
    }
    for lib in Lib::BOTH {
        let mut child = on(lib, "/usr/bin/tdbtool")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting tdbtool");
        let maps_path = format!("/proc/{}/maps", child.id());
        let deadline = Instant::now() + Duration::from_secs(10);
        let mapped = loop {
            let maps = std::fs::read_to_string(&maps_path).unwrap_or_default();
            let libs: BTreeSet<&str> = maps
                .lines()
                .filter_map(|l| l.split_whitespace().nth(5))
                .filter(|p| p.contains("libtdb"))
                .collect();
            if !libs.is_empty() || Instant::now() > deadline {
                break libs.into_iter().map(str::to_string).collect::<Vec<_>>();
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let mut stdin = child.stdin.take().expect("stdin");
        let _ = stdin.write_all(b"quit\n");
        drop(stdin);
        let _ = child.wait();
        let want = lib.file().to_string_lossy().into_owned();
        assert_eq!(
            mapped,
            vec![want],
            "tdbtool on {} mapped the wrong library",
            lib.name()
        );
    }
}
