//! Debian's own binaries, unmodified, on both libraries: tdbtool scripted through its
//! command interface, tdbdump, tdbbackup (with -v verify and restore) and tdbrestore.
//! Standard output and exit status must be the same; standard error is not compared
//! (it carries each library's log messages in its own words). Every file these tools
//! write is compared byte for byte: C tdb writes deterministically (no times, pids or
//! uninitialised bytes), except the file `speed` fills, which holds as many records as
//! the machine managed in its timed runs.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::util::{
    assert_same, assert_same_file, debian_present, installed, on, run, testdata, Lib, Run,
};

const LIMIT: Duration = Duration::from_secs(30);

fn tools_present() -> bool {
    debian_present()
        && ["tdbtool", "tdbdump", "tdbbackup", "tdbrestore"]
            .iter()
            .all(|t| installed(&format!("/usr/bin/{t}")))
}

fn script(name: &str) -> Vec<u8> {
    std::fs::read(testdata().join("tdbtool").join(name)).expect("a tdbtool script")
}

/// Runs tdbtool on `lib` in `dir` with a command script on its standard input.
fn tdbtool(lib: Lib, dir: &Path, commands: &[u8]) -> Run {
    let mut cmd = on(lib, "/usr/bin/tdbtool");
    cmd.current_dir(dir);
    run(&mut cmd, commands, LIMIT)
}

/// Runs a tool on `lib` in `dir`; the status joins the output, so both are compared.
fn tool(lib: Lib, dir: &Path, program: &str, args: &[&str], input: &[u8]) -> String {
    let mut cmd = on(lib, format!("/usr/bin/{program}"));
    cmd.current_dir(dir).args(args);
    let out = run(&mut cmd, input, LIMIT);
    assert!(
        !out.timed_out(),
        "{program} {args:?} on {} hung",
        lib.name()
    );
    format!(
        "{}[{program} {args:?} exit {:?}]\n",
        out.stdout,
        out.status.and_then(|s| s.code())
    )
}

/// Runs `f` once per library, each in a directory of its own holding the same fixture
/// database (made on Debian's); returns what each run printed, and the directories.
fn on_fixture(f: impl Fn(Lib, &Path) -> String) -> ([String; 2], [tempfile::TempDir; 2]) {
    let dirs = Lib::BOTH.map(|_| {
        let dir = tempfile::tempdir().expect("a temporary directory");
        tdbtool(Lib::Debian, dir.path(), &script("fixture.txt")).assert_ok("the fixture");
        dir
    });
    (Lib::BOTH.map(|lib| f(lib, dirs[lib as usize].path())), dirs)
}

fn copy(dir: &Path, from: &str, to: &str) -> PathBuf {
    let target = dir.join(to);
    std::fs::copy(dir.join(from), &target).expect("copying a database");
    target
}

#[test]
fn tdbtool_commands_agree() {
    if !tools_present() {
        return;
    }
    let dirs = Lib::BOTH.map(|lib| {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let out = tdbtool(lib, dir.path(), &script("commands.txt"));
        out.assert_ok(&format!("tdbtool commands on {}", lib.name()));
        copy(dir.path(), "t.tdb", "after-commands.tdb");
        let erase = tdbtool(lib, dir.path(), &script("erase.txt"));
        erase.assert_ok(&format!("tdbtool erase on {}", lib.name()));
        (out.stdout + &erase.stdout, dir)
    });
    let [(debian, d), (ours, o)] = dirs;
    assert!(debian.contains("Database integrity is OK"), "{debian}");
    assert_same("tdbtool commands", &debian, &ours);
    for file in ["after-commands.tdb", "t.tdb"] {
        assert_same_file(file, &d.path().join(file), &o.path().join(file));
    }
}

/// `speed` prints timings: only the shape of its output is compared (numbers masked).
/// Both libraries run at once, each on its own file (it runs 4 × 5 seconds).
#[test]
fn tdbtool_speed_runs() {
    if !tools_present() {
        return;
    }
    let runs = std::thread::scope(|s| {
        let handles = Lib::BOTH.map(|lib| {
            s.spawn(move || {
                let dir = tempfile::tempdir().expect("a temporary directory");
                let mut cmd = on(lib, "/usr/bin/tdbtool");
                cmd.current_dir(dir.path());
                let out = run(&mut cmd, &script("speed.txt"), Duration::from_secs(60));
                out.assert_ok(&format!("tdbtool speed on {}", lib.name()));
                mask_numbers(&out.stdout)
            })
        });
        handles.map(|h| h.join().expect("a speed run"))
    });
    assert!(runs[0].contains("Testing traverse speed"), "{}", runs[0]);
    assert_same("tdbtool speed (numbers masked)", &runs[0], &runs[1]);
}

/// Replaces every number by `N` and drops the padding before it.
fn mask_numbers(text: &str) -> String {
    let mut out = String::new();
    let mut in_number = false;
    for c in text.chars() {
        let digit = c.is_ascii_digit() || (in_number && c == '.');
        if digit && !in_number {
            out.truncate(out.trim_end_matches(' ').len());
            out.push('N');
        } else if !digit {
            out.push(c);
        }
        in_number = digit;
    }
    out
}

/// Writes garbage over the hash table of `path` (tdbdump then fails, tdbbackup -v
/// restores).
fn corrupt(path: &Path) {
    use std::os::unix::fs::FileExt;
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .expect("the database");
    file.write_all_at(b"garbage garbage garbage garbage garbage", 200)
        .expect("writing");
}

#[test]
fn tdbdump_agrees() {
    if !tools_present() {
        return;
    }
    let (outputs, dirs) = on_fixture(|lib, dir| {
        let mut out = String::new();
        for args in [
            &["fixture.tdb"][..],
            &["-k", "beta", "fixture.tdb"],
            &["-k", "nope", "fixture.tdb"],
            &["-e", "fixture.tdb"],
        ] {
            out += &tool(lib, dir, "tdbdump", args, b"");
        }
        corrupt(&copy(dir, "fixture.tdb", "broken.tdb"));
        out += &tool(lib, dir, "tdbdump", &["broken.tdb"], b"");
        out += &tool(lib, dir, "tdbdump", &["-e", "broken.tdb"], b"");
        out += &tool(lib, dir, "tdbdump", &["missing.tdb"], b"");
        if let Some(files) = std::env::var_os("TDB_PURE_TEST_FILES") {
            let sample = Path::new(&files).join("sample_tdb.tdb");
            let sample = sample.to_string_lossy();
            out += &tool(lib, dir, "tdbdump", &[&sample], b"");
        }
        out
    });
    assert!(outputs[0].contains("second-value"), "{}", outputs[0]);
    assert_same("tdbdump", &outputs[0], &outputs[1]);
    // Made alike by Debian's library, each dumped by one library: still alike.
    assert_same_file(
        "fixture.tdb after tdbdump",
        &dirs[0].path().join("fixture.tdb"),
        &dirs[1].path().join("fixture.tdb"),
    );
}

#[test]
fn tdbbackup_backs_up_verifies_and_restores() {
    if !tools_present() {
        return;
    }
    let (outputs, dirs) = on_fixture(|lib, dir| {
        let backup = |args: &[&str]| tool(lib, dir, "tdbbackup", args, b"");
        let verify = ["-v", "-s", ".bak", "fixture.tdb"];
        let mut out = backup(&["-s", ".bak", "fixture.tdb"]);
        out += &backup(&["-n", "17", "-s", ".n17", "fixture.tdb"]);
        out += &backup(&verify);
        copy(dir, "fixture.tdb", "original.tdb");
        corrupt(&dir.join("fixture.tdb"));
        out += &backup(&verify);
        out += &tool(lib, dir, "tdbdump", &["fixture.tdb"], b"");
        mask_library_messages(&out)
    });
    assert!(
        outputs[0].contains("restoring fixture.tdb"),
        "{}",
        outputs[0]
    );
    assert_same("tdbbackup", &outputs[0], &outputs[1]);
    let (d, o) = (dirs[0].path(), dirs[1].path());
    for file in ["fixture.tdb.bak", "fixture.tdb.n17", "fixture.tdb"] {
        assert_same_file(file, &d.join(file), &o.join(file));
    }
    let original = tool(Lib::Debian, d, "tdbdump", &["original.tdb"], b"");
    let restored = tool(Lib::Debian, o, "tdbdump", &["fixture.tdb"], b"");
    assert_same(
        "ours' restored file, dumped by Debian's",
        &original.replace("original", "fixture"),
        &restored,
    );
}

/// tdbbackup opens databases without a log context, so the library's default log
/// messages reach its standard output: they are in each library's own words, so each
/// is replaced by a marker (its presence is still compared). The lines tdbbackup
/// prints itself stay.
fn mask_library_messages(stdout: &str) -> String {
    stdout
        .lines()
        .map(|line| {
            let own = line.starts_with("restoring ")
                || line.starts_with("Failed to ")
                || line.starts_with("[tdb")
                || line.starts_with('{')
                || line.starts_with('}')
                || line.starts_with("key(")
                || line.starts_with("data(")
                || line.ends_with(" records");
            if own {
                format!("{line}\n")
            } else {
                "<a log message of the library>\n".to_string()
            }
        })
        .collect()
}

#[test]
fn tdbrestore_round_trips() {
    if !tools_present() {
        return;
    }
    let dump = std::sync::OnceLock::new();
    let (outputs, dirs) = on_fixture(|lib, dir| {
        // Debian's tdbdump of the fixture (made alike in every directory), on Debian's.
        let dump: &Vec<u8> = dump.get_or_init(|| {
            let fixture = dir.join("fixture.tdb");
            let fixture = fixture.to_string_lossy();
            let out = tool(Lib::Debian, dir, "tdbdump", &[&fixture], b"");
            out.split("[tdbdump")
                .next()
                .unwrap_or_default()
                .as_bytes()
                .to_vec()
        });
        let mut out = tool(lib, dir, "tdbrestore", &["restored.tdb"], dump);
        out += &tool(lib, dir, "tdbdump", &["restored.tdb"], b"");
        out += &tool(
            lib,
            dir,
            "tdbrestore",
            &["restored.tdb"],
            b"{\nkey(2) = \"bad",
        );
        out
    });
    let (debian_dump, _) = outputs[0].split_once("[tdbdump").expect("a dump");
    let dump = dump.get().expect("the fixture's dump");
    assert!(
        debian_dump.contains(&*String::from_utf8_lossy(dump)),
        "{}",
        outputs[0]
    );
    assert_same("tdbrestore", &outputs[0], &outputs[1]);
    assert_same_file(
        "restored.tdb",
        &dirs[0].path().join("restored.tdb"),
        &dirs[1].path().join("restored.tdb"),
    );
}
