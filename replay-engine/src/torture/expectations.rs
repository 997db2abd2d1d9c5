//! What a torture run's successful operations imply about the final database, carried
//! from each process to the parent (a small text file per process), and the check of a
//! database against all of them.
//!
//! The final database must hold exactly each process's private keys with the values its
//! own writes left (unless some process wiped the database), every shared key it holds
//! must hold a value some process gave it, and it must hold no other key.

use std::collections::BTreeMap;
use std::path::Path;

use super::workload::{Expectations, Violation};
use crate::analysis::describe_key;
use crate::backend::{Backend, OpenOptions, TraverseKind};

fn hex(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len() * 2 + 1);
    for byte in bytes {
        text.push_str(&format!("{byte:02x}"));
    }
    // An empty value still needs a word.
    text.push('.');
    text
}

fn unhex(word: &str) -> Result<Vec<u8>, String> {
    let digits = word
        .strip_suffix('.')
        .ok_or_else(|| format!("bad word {word:?}"))?;
    if digits.len() % 2 != 0 {
        return Err(format!("odd hex {word:?}"));
    }
    (0..digits.len())
        .step_by(2)
        .map(|at| {
            u8::from_str_radix(&digits[at..at + 2], 16).map_err(|_| format!("bad hex {word:?}"))
        })
        .collect()
}

/// One line of a process's intents file: `I key value`.
pub(super) fn intent_line(key: &[u8], value: &[u8]) -> String {
    format!("I {} {}\n", hex(key), hex(value))
}

/// What a killed process with private keys `prefix` may have left: every value it
/// noted in its intents file at `path` (a last line torn by the kill is ignored).
pub(super) fn read_intents(path: &Path, prefix: &[u8]) -> Result<Expectations, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(error) => return Err(error.to_string()),
    };
    let mut expect = Expectations {
        prefix: prefix.to_vec(),
        complete: false,
        ..Expectations::default()
    };
    for line in text.split_inclusive('\n') {
        let Some(line) = line.strip_suffix('\n') else {
            break;
        };
        match line.split(' ').collect::<Vec<_>>().as_slice() {
            ["I", key, value] => {
                expect
                    .shared_values
                    .entry(unhex(key)?)
                    .or_default()
                    .insert(unhex(value)?);
            }
            _ => return Err(format!("bad intent {line:?}")),
        }
    }
    Ok(expect)
}

/// One process's expectations as text: `X prefix`, `P key value`, `S key value`, `W`.
pub(super) fn encode(expect: &Expectations) -> String {
    let mut text = format!("X {}\n", hex(&expect.prefix));
    for (key, value) in &expect.private {
        text.push_str(&format!("P {} {}\n", hex(key), hex(value)));
    }
    for (key, values) in &expect.shared_values {
        for value in values {
            text.push_str(&format!("S {} {}\n", hex(key), hex(value)));
        }
    }
    if expect.wiped {
        text.push_str("W\n");
    }
    text
}

/// The inverse of [`encode`].
pub(super) fn decode(text: &str) -> Result<Expectations, String> {
    let mut expect = Expectations {
        complete: true,
        ..Expectations::default()
    };
    for line in text.lines() {
        let words: Vec<&str> = line.split(' ').collect();
        match words.as_slice() {
            ["X", prefix] => expect.prefix = unhex(prefix)?,
            ["P", key, value] => {
                expect.private.insert(unhex(key)?, unhex(value)?);
            }
            ["S", key, value] => {
                expect
                    .shared_values
                    .entry(unhex(key)?)
                    .or_default()
                    .insert(unhex(value)?);
            }
            ["W"] => expect.wiped = true,
            _ => return Err(format!("bad line {line:?}")),
        }
    }
    Ok(expect)
}

/// What [`verify`] found right.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// Records in the database.
    pub records: usize,
    /// Private records whose exact value was checked.
    pub private_checked: usize,
    /// Shared records whose value was found among those written.
    pub shared_checked: usize,
    /// A complaint of C's `check` that is accepted: its known misreading of the zeros a
    /// rolled-back growing commit leaves at the end of the file (see
    /// [`is_dead_space_to_end_of_file`]), or its rejection of what such a commit, killed
    /// while writing the space it had added, leaves past the old end of file (which
    /// tdb-pure's check skips and reports in `leftovers`).
    pub tolerated_check: Option<String>,
    /// What tdb-pure's check skipped as a killed commit's leftovers
    /// (`tdb_pure::CheckReport`), shown to the user.
    pub leftovers: Option<String>,
}

/// Whether a `check` failure is C tdb's complaint about dead space that runs to the end
/// of the file (`Dead space at A-B (of B)`): the zeros a commit that grew the file and
/// was killed leaves once the next opener has rolled it back. C's `tdb_dead_space`
/// re-reads one byte instead of walking the region, so its check rejects them; the
/// records are all there, and tdb-pure's check (which must pass too) walks the region.
pub fn is_dead_space_to_end_of_file(message: &str) -> bool {
    let Some(rest) = message.split("Dead space at ").nth(1) else {
        return false;
    };
    let mut numbers = rest
        .split(|c: char| !c.is_ascii_digit())
        .filter(|word| !word.is_empty())
        .map(|word| word.parse::<u64>().ok());
    match (numbers.next(), numbers.next(), numbers.next()) {
        (Some(Some(start)), Some(Some(end)), Some(Some(size))) => start < end && end == size,
        _ => false,
    }
}

/// Open `db_path` with engine `R` and check it against every process's expectations.
pub fn verify<R: Backend>(
    db_path: &Path,
    hash_size: u32,
    all: &[Expectations],
) -> Result<Verified, Violation> {
    let fail = |what: String| Violation(format!("{} ({}): {what}", db_path.display(), R::label()));
    let state = read_final::<R>(db_path, hash_size).map_err(fail)?;
    let mut verified = Verified {
        records: state.records.len(),
        private_checked: 0,
        shared_checked: 0,
        tolerated_check: state.tolerated_check,
        leftovers: state.leftovers,
    };
    let wiped = all.iter().any(|expect| expect.wiped);
    for (key, value) in &state.records {
        match check_record(all, wiped, key, value).map_err(fail)? {
            Checked::Private => verified.private_checked += 1,
            Checked::Shared => verified.shared_checked += 1,
            Checked::Unknowable => {}
        }
    }
    if !wiped {
        check_nothing_missing(all, &state.records).map_err(fail)?;
    }
    Ok(verified)
}

/// What a database holds at the end of a torture run, and what its `check` said.
struct FinalState {
    records: BTreeMap<Vec<u8>, Vec<u8>>,
    tolerated_check: Option<String>,
    leftovers: Option<String>,
}

/// Open the database (locked, never wiping), run its `check` (accepting the known
/// complaints about a killed commit's leftovers, see [`Verified::tolerated_check`]),
/// read every record, and close it.
fn read_final<R: Backend>(db_path: &Path, hash_size: u32) -> Result<FinalState, String> {
    // A mutex file needs `TDB_MUTEX_LOCKING` for a locked open; never `TDB_CLEAR_IF_FIRST`
    // here (this open must not wipe).
    let mut options = OpenOptions {
        open_flags: libc::O_RDWR,
        ..super::open_options(hash_size, false)
    };
    if super::has_mutex_feature(db_path) {
        options.tdb_flags |= crate::backend::tdb_flags::MUTEX_LOCKING;
    }
    let mut db = R::open(db_path, &options).map_err(|error| format!("open: {error}"))?;
    #[cfg(feature = "pure")]
    let leftovers =
        crate::backend::pure::crash_leftovers(db_path, &options).map(|report| report.to_string());
    #[cfg(not(feature = "pure"))]
    let leftovers: Option<String> = None;
    let tolerated_check = match db.check() {
        Ok(()) => None,
        Err(error) if is_dead_space_to_end_of_file(&error.to_string()) => Some(error.to_string()),
        Err(error) if leftovers.is_some() => Some(error.to_string()),
        Err(error) => return Err(format!("check fails: {error}")),
    };
    let mut records: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    db.traverse(TraverseKind::Read, &mut |_, key, data| {
        records.insert(key.to_vec(), data.to_vec());
        std::ops::ControlFlow::Continue(())
    })
    .map_err(|error| format!("traverse: {error}"))?;
    db.close().map_err(|error| format!("close: {error}"))?;
    Ok(FinalState {
        records,
        tolerated_check,
        leftovers,
    })
}

/// How one record was checked.
enum Checked {
    /// Its exact value, against its owner's own writes.
    Private,
    /// Its value is among those some process wrote to it.
    Shared,
    /// A private record after a wipe: any value its owner wrote before or after.
    Unknowable,
}

/// Check one final record against what the processes did: a shared key (`key...`) must
/// hold a value some process wrote to it; a process's own key the value its writes left
/// (any value it wrote, if it was killed); no other key may exist.
fn check_record(
    all: &[Expectations],
    wiped: bool,
    key: &[u8],
    value: &[u8],
) -> Result<Checked, String> {
    let written_by_any = |key: &[u8], value: &[u8]| {
        all.iter()
            .filter_map(|expect| expect.shared_values.get(key))
            .any(|values| values.contains(value))
    };
    if key.starts_with(b"key") {
        if !written_by_any(key, value) {
            return Err(format!(
                "shared key {} holds {}, which no process wrote to it",
                describe_key(key),
                describe_key(value)
            ));
        }
        return Ok(Checked::Shared);
    }
    let Some(k) = all
        .iter()
        .position(|expect| !expect.prefix.is_empty() && key.starts_with(&expect.prefix))
    else {
        return Err(format!("a key no process wrote: {}", describe_key(key)));
    };
    if !all[k].complete {
        // Killed: any value it was about to write may have landed.
        if !written_by_any(key, value) {
            return Err(format!(
                "killed process {}'s key {} holds {}, which it never wrote",
                String::from_utf8_lossy(&all[k].prefix),
                describe_key(key),
                describe_key(value)
            ));
        }
        return Ok(Checked::Shared);
    }
    if wiped {
        return Ok(Checked::Unknowable);
    }
    match all[k].private.get(key) {
        Some(expected) if expected == value => Ok(Checked::Private),
        Some(expected) => Err(format!(
            "process {k}'s key {} holds {}, but its writes left {}",
            describe_key(key),
            describe_key(value),
            describe_key(expected)
        )),
        None => Err(format!(
            "process {k}'s key {} holds {}, but its writes deleted it",
            describe_key(key),
            describe_key(value)
        )),
    }
}

/// Every key a process that ran to its end left must be there.
fn check_nothing_missing(
    all: &[Expectations],
    records: &BTreeMap<Vec<u8>, Vec<u8>>,
) -> Result<(), String> {
    for (k, expect) in all.iter().enumerate().filter(|(_, expect)| expect.complete) {
        if let Some(key) = expect
            .private
            .keys()
            .find(|key| !records.contains_key(*key))
        {
            return Err(format!(
                "process {k}'s key {} is missing, but its writes left it holding {}",
                describe_key(key),
                describe_key(&expect.private[key])
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expectations_survive_the_trip_between_processes() {
        let mut expect = Expectations {
            prefix: b"p1g0.".to_vec(),
            complete: true,
            ..Expectations::default()
        };
        expect.private.insert(b"p1.key3\0".to_vec(), vec![]);
        expect
            .private
            .insert(b"p1.key4\0".to_vec(), vec![0, 255, 7]);
        expect
            .shared_values
            .entry(b"key1\0".to_vec())
            .or_default()
            .insert(vec![1, 2]);
        expect.wiped = true;
        assert_eq!(decode(&encode(&expect)).unwrap(), expect);
        assert!(decode("P 00 11.").is_err());
        assert!(decode("Q").is_err());
    }

    #[test]
    fn only_dead_space_to_the_end_of_the_file_is_tolerated() {
        assert!(is_dead_space_to_end_of_file(
            "corrupt database: Dead space at 421888-663552 (of 663552)"
        ));
        assert!(!is_dead_space_to_end_of_file(
            "corrupt database: Dead space at 4096-8192 (of 663552)"
        ));
        assert!(!is_dead_space_to_end_of_file("corrupt database: bad magic"));
    }
}
