//! Line differences between two outputs (a longest-common-subsequence diff), and the
//! differences a test knows about and tolerates, each with its reason.

/// A run of lines that differ: `debian`'s lines replaced by `ours`.
#[derive(Debug, PartialEq, Eq)]
pub struct Hunk {
    /// The first differing line of Debian's output (1-based).
    pub line: usize,
    /// Debian's lines.
    pub debian: Vec<String>,
    /// Our lines.
    pub ours: Vec<String>,
}

impl Hunk {
    fn render(&self) -> String {
        let mut out = format!("at Debian's line {}:\n", self.line);
        for l in &self.debian {
            out += &format!("  - debian: {l}\n");
        }
        for l in &self.ours {
            out += &format!("  + ours:   {l}\n");
        }
        out
    }
}

/// A difference a test tolerates until our library is fixed: Debian's lines, ours, and
/// why they differ (a known failure of our library, reported, not hidden).
pub struct Known {
    /// Debian's lines, joined with '\n'.
    pub debian: &'static str,
    /// Our lines, joined with '\n'.
    pub ours: &'static str,
    /// What is wrong, in a sentence.
    pub reason: &'static str,
}

/// The hunks in which `ours` differs from `debian`.
pub fn hunks(debian: &str, ours: &str) -> Vec<Hunk> {
    let (a, b): (Vec<&str>, Vec<&str>) = (debian.lines().collect(), ours.lines().collect());
    // common[i][j]: the longest common subsequence of a[i..] and b[j..].
    let mut common = vec![vec![0u32; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            common[i][j] = if a[i] == b[j] {
                common[i + 1][j + 1] + 1
            } else {
                common[i + 1][j].max(common[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    let mut open: Option<Hunk> = None;
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            out.extend(open.take());
            i += 1;
            j += 1;
            continue;
        }
        let hunk = open.get_or_insert_with(|| Hunk {
            line: i + 1,
            debian: vec![],
            ours: vec![],
        });
        if j < b.len() && (i == a.len() || common[i][j + 1] >= common[i + 1][j]) {
            hunk.ours.push(b[j].to_string());
            j += 1;
        } else {
            hunk.debian.push(a[i].to_string());
            i += 1;
        }
    }
    out.extend(open);
    out
}

/// Panics, listing the hunks, unless `ours` equals `debian` but for `known`
/// differences (each of which is printed as a known failure when it occurs).
pub fn assert_same_except(what: &str, debian: &str, ours: &str, known: &[Known]) {
    let mut unexpected = String::new();
    for hunk in hunks(debian, ours) {
        let (d, o) = (hunk.debian.join("\n"), hunk.ours.join("\n"));
        match known.iter().find(|k| k.debian == d && k.ours == o) {
            Some(k) => eprintln!(
                "KNOWN FAILURE of our library ({what}): {}\n{}",
                k.reason,
                hunk.render()
            ),
            None => unexpected += &hunk.render(),
        }
    }
    assert!(
        unexpected.is_empty(),
        "{what}: Debian's library and ours differ\n{unexpected}"
    );
}

#[test]
fn hunks_pair_replaced_inserted_and_deleted_lines() {
    let d = "a\nb\nc\nd\n";
    let o = "a\nB\nc\nd\ne\n";
    assert_eq!(
        hunks(d, o),
        vec![
            Hunk {
                line: 2,
                debian: vec!["b".into()],
                ours: vec!["B".into()]
            },
            Hunk {
                line: 5,
                debian: vec![],
                ours: vec!["e".into()]
            },
        ]
    );
    assert!(hunks(d, d).is_empty());
}
