//! The benchmark's samples and its table: the best (lowest) nanoseconds per operation
//! over the rounds on each
//! side, ours against Debian's, and the ABI layer's cost (ours through the C ABI
//! against tdb-pure called from Rust).

use std::collections::BTreeMap;

/// The operations, in the order the programs run and the table shows them.
pub const OPS: [&str; 7] = [
    "fetch",
    "store",
    "traverse",
    "chainlock",
    "tx1",
    "tx1000",
    "delete",
];

/// What each operation means, for the table.
const MEANING: [&str; 7] = [
    "fetch (per record)",
    "store, replacing (per record)",
    "traverse (per record)",
    "chainlock + chainunlock",
    "transaction of 1 store",
    "transaction of 1000 stores",
    "delete (per record)",
];

/// Nanoseconds per operation, every round, by side ("debian", "ours", "pure") and op.
#[derive(Default)]
pub struct Samples(BTreeMap<(String, String), Vec<f64>>);

impl Samples {
    /// Adds one round of one side.
    pub fn add(&mut self, side: &str, figures: Vec<(String, f64)>) {
        for (op, ns) in figures {
            self.0.entry((side.to_string(), op)).or_default().push(ns);
        }
    }

    /// The operations every side reported, in `OPS` order (to check completeness).
    pub fn ops(&self) -> Vec<&'static str> {
        OPS.into_iter()
            .filter(|op| {
                ["debian", "ours", "pure"]
                    .iter()
                    .all(|side| self.best(side, op).is_some())
            })
            .collect()
    }

    /// The best round: on a shared machine the lowest time is the one least disturbed
    /// (as `tdb-replay microbench` reports too).
    fn best(&self, side: &str, op: &str) -> Option<f64> {
        let v = self.0.get(&(side.to_string(), op.to_string()))?;
        v.iter().copied().min_by(f64::total_cmp)
    }

    /// The Markdown table.
    pub fn render(&self) -> String {
        let mut out = String::from(
            "| operation | Debian libtdb.so.1 (ns) | ours, via the ABI (ns) | ours / Debian | tdb-pure from Rust (ns) | ABI layer cost |\n\
             |---|---:|---:|---:|---:|---:|\n",
        );
        for (op, meaning) in OPS.iter().zip(MEANING) {
            let (Some(d), Some(o), Some(p)) = (
                self.best("debian", op),
                self.best("ours", op),
                self.best("pure", op),
            ) else {
                continue;
            };
            out += &format!(
                "| {meaning} | {} | {} | {:.2} | {} | {:+.1}% |\n",
                fmt_ns(d),
                fmt_ns(o),
                o / d,
                fmt_ns(p),
                (o / p - 1.0) * 100.0
            );
        }
        out
    }
}

fn fmt_ns(ns: f64) -> String {
    if ns >= 10_000.0 {
        format!("{:.0}", ns)
    } else {
        format!("{:.1}", ns)
    }
}
