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

/// One process's expectations as text: `P key value`, `S key value`, `W`.
pub(super) fn encode(expect: &Expectations) -> String {
    let mut text = String::new();
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
    let mut expect = Expectations::default();
    for line in text.lines() {
        let words: Vec<&str> = line.split(' ').collect();
        match words.as_slice() {
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
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verified {
    /// Records in the database.
    pub records: usize,
    /// Private records whose exact value was checked.
    pub private_checked: usize,
    /// Shared records whose value was found among those written.
    pub shared_checked: usize,
}

/// Open `db_path` with engine `R` and check it against every process's expectations.
pub fn verify<R: Backend>(
    db_path: &Path,
    hash_size: u32,
    all: &[Expectations],
) -> Result<Verified, Violation> {
    let fail = |what: String| Violation(format!("{} ({}): {what}", db_path.display(), R::NAME));
    // A mutex file needs `TDB_MUTEX_LOCKING` for a locked open; never `TDB_CLEAR_IF_FIRST`
    // here (this open must not wipe).
    let mut options = OpenOptions {
        open_flags: libc::O_RDWR,
        ..super::open_options(hash_size, false)
    };
    if super::has_mutex_feature(db_path) {
        options.tdb_flags |= crate::backend::tdb_flags::MUTEX_LOCKING;
    }
    let mut db = R::open(db_path, &options).map_err(|error| fail(format!("open: {error}")))?;
    db.check()
        .map_err(|error| fail(format!("check fails: {error}")))?;
    let mut records: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    db.traverse(TraverseKind::Read, &mut |_, key, data| {
        records.insert(key.to_vec(), data.to_vec());
        std::ops::ControlFlow::Continue(())
    })
    .map_err(|error| fail(format!("traverse: {error}")))?;
    db.close()
        .map_err(|error| fail(format!("close: {error}")))?;

    let wiped = all.iter().any(|expect| expect.wiped);
    let mut verified = Verified {
        records: records.len(),
        private_checked: 0,
        shared_checked: 0,
    };
    let owner = |key: &[u8]| -> Option<usize> {
        let rest = key.strip_prefix(b"p")?;
        let dot = rest.iter().position(|&byte| byte == b'.')?;
        std::str::from_utf8(&rest[..dot]).ok()?.parse().ok()
    };
    for (key, value) in &records {
        if key.starts_with(b"key") {
            let written = all
                .iter()
                .filter_map(|expect| expect.shared_values.get(key))
                .any(|values| values.contains(value));
            if !written {
                return Err(fail(format!(
                    "shared key {} holds {}, which no process wrote to it",
                    describe_key(key),
                    describe_key(value)
                )));
            }
            verified.shared_checked += 1;
        } else if let Some(k) = owner(key).filter(|&k| k < all.len()) {
            if wiped {
                continue;
            }
            match all[k].private.get(key) {
                Some(expected) if expected == value => verified.private_checked += 1,
                Some(expected) => {
                    return Err(fail(format!(
                        "process {k}'s key {} holds {}, but its writes left {}",
                        describe_key(key),
                        describe_key(value),
                        describe_key(expected)
                    )))
                }
                None => {
                    return Err(fail(format!(
                        "process {k}'s key {} holds {}, but its writes deleted it",
                        describe_key(key),
                        describe_key(value)
                    )))
                }
            }
        } else {
            return Err(fail(format!(
                "a key no process wrote: {}",
                describe_key(key)
            )));
        }
    }
    if !wiped {
        for (k, expect) in all.iter().enumerate() {
            if let Some(key) = expect
                .private
                .keys()
                .find(|key| !records.contains_key(*key))
            {
                return Err(fail(format!(
                    "process {k}'s key {} is missing, but its writes left it holding {}",
                    describe_key(key),
                    describe_key(&expect.private[key])
                )));
            }
        }
    }
    Ok(verified)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expectations_survive_the_trip_between_processes() {
        let mut expect = Expectations::default();
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
}
