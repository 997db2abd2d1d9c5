//! What a passing check skipped: the leftovers of a commit killed while it wrote the
//! space it had added, which C's `tdb_check` rejects.

use std::fmt;

/// One thing [`crate::Tdb::check_report`] skipped past the end of file of the last
/// commit, where no list references it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Leftover {
    /// Bytes `[start, end)` that do not scan as records: what a commit killed while it
    /// wrote the space it had added leaves once recovered.
    SkippedBytes {
        /// First byte skipped.
        start: u64,
        /// One past the last byte skipped.
        end: u64,
    },
    /// A whole record that no list reaches (the same leftovers, where the killed commit
    /// had written whole records).
    UnreachableRecord {
        /// The record's offset.
        offset: u64,
    },
}

/// What a passing check found besides valid records: the [`Leftover`]s it skipped, in
/// the order it met them (skipped bytes during the scan, unreachable records after it).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CheckReport {
    /// Everything the check skipped.
    pub leftovers: Vec<Leftover>,
}

impl CheckReport {
    /// Whether the check skipped anything (C's `tdb_check` fails on such a file).
    pub fn has_leftovers(&self) -> bool {
        !self.leftovers.is_empty()
    }

    /// The byte ranges `[start, end)` skipped because they do not scan as records.
    pub fn skipped_bytes(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.leftovers
            .iter()
            .filter_map(|leftover| match *leftover {
                Leftover::SkippedBytes { start, end } => Some((start, end)),
                Leftover::UnreachableRecord { .. } => None,
            })
    }

    /// The offsets of the records skipped because no list reaches them.
    pub fn unreachable_records(&self) -> impl Iterator<Item = u64> + '_ {
        self.leftovers
            .iter()
            .filter_map(|leftover| match *leftover {
                Leftover::UnreachableRecord { offset } => Some(offset),
                Leftover::SkippedBytes { .. } => None,
            })
    }
}

impl fmt::Display for CheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.has_leftovers() {
            return f.write_str("found no leftovers of a killed commit");
        }
        f.write_str("skipped what a killed commit left past the old end of file:")?;
        let unreachable = self.unreachable_records().count();
        if let Some((a, b)) = self.skipped_bytes().next() {
            let bytes: u64 = self.skipped_bytes().map(|(a, b)| b - a).sum();
            write!(
                f,
                " {bytes} bytes that do not scan as records in {} range(s) (first {a}-{b})",
                self.skipped_bytes().count()
            )?;
            if unreachable > 0 {
                f.write_str(" and")?;
            }
        }
        if let Some(first) = self.unreachable_records().next() {
            write!(
                f,
                " {unreachable} record(s) no list reaches (first at {first})"
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_sums_each_kind() {
        let report = CheckReport {
            leftovers: vec![
                Leftover::SkippedBytes {
                    start: 100,
                    end: 140,
                },
                Leftover::SkippedBytes {
                    start: 200,
                    end: 210,
                },
                Leftover::UnreachableRecord { offset: 300 },
            ],
        };
        assert_eq!(
            report.to_string(),
            "skipped what a killed commit left past the old end of file: 50 bytes that do \
             not scan as records in 2 range(s) (first 100-140) and 1 record(s) no list \
             reaches (first at 300)"
        );
        assert_eq!(
            CheckReport::default().to_string(),
            "found no leftovers of a killed commit"
        );
    }
}
