//! The delta-debugging core, over anything: a list of elements, a test that says whether
//! a subset of them still fails, and the smallest subset it can find.
//!
//! It tries to remove chunks of the elements kept so far, starting with halves; after a
//! round in which nothing could go, the chunks are halved, down to single elements. A
//! round that removed something is repeated at the same size (a removal can make others
//! possible), with chunks of at most half of what is left. It stops after a round of single elements removes nothing, so the result is
//! 1-minimal: no single element of it can go.

/// Shrink the elements `0..count`. `fails` gets a candidate subset (indices, ascending)
/// and says whether it still fails the same way; it is never asked about the whole set
/// (the caller knows that fails) nor about a subset of fewer than `min_keep` elements.
/// Returns the elements kept, ascending.
pub fn minimise(
    count: usize,
    min_keep: usize,
    fails: &mut dyn FnMut(&[usize]) -> bool,
) -> Vec<usize> {
    let mut kept: Vec<usize> = (0..count).collect();
    let mut size = (count / 2).max(1);
    let mut candidate = Vec::with_capacity(count);
    while kept.len() > min_keep {
        let mut removed_any = false;
        let mut start = 0;
        while start < kept.len() {
            let end = (start + size).min(kept.len());
            if kept.len() - (end - start) >= min_keep {
                candidate.clear();
                candidate.extend_from_slice(&kept[..start]);
                candidate.extend_from_slice(&kept[end..]);
                if fails(&candidate) {
                    std::mem::swap(&mut kept, &mut candidate);
                    removed_any = true;
                    // The next chunk has moved to `start`.
                    continue;
                }
            }
            start = end;
        }
        if removed_any {
            // Chunks never cover more than half of what is left.
            size = size.min((kept.len() / 2).max(1));
        } else {
            if size == 1 {
                break;
            }
            size = size.div_ceil(2);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::minimise;
    use std::collections::BTreeSet;

    /// Runs `minimise` with `fails`, checking the contract as it goes.
    fn run(count: usize, min_keep: usize, fails: impl Fn(&[usize]) -> bool) -> (Vec<usize>, usize) {
        let mut asked = 0;
        let mut seen = BTreeSet::new();
        let kept = minimise(count, min_keep, &mut |subset| {
            asked += 1;
            assert!(subset.len() < count, "never asked about the whole set");
            assert!(subset.len() >= min_keep);
            assert!(
                subset.windows(2).all(|w| w[0] < w[1]),
                "ascending, no repeats"
            );
            seen.insert(subset.to_vec());
            fails(subset)
        });
        (kept, asked)
    }

    #[test]
    fn finds_the_two_elements_that_make_it_fail() {
        let (kept, asked) = run(100, 0, |s| s.contains(&17) && s.contains(&83));
        assert_eq!(kept, [17, 83]);
        assert!(asked < 100, "asked {asked} times");
    }

    #[test]
    fn finds_a_single_culprit_in_logarithmic_time() {
        let (kept, asked) = run(1024, 0, |s| s.contains(&700));
        assert_eq!(kept, [700]);
        assert!(asked <= 2 * 11 + 2, "asked {asked} times");
    }

    #[test]
    fn the_result_is_one_minimal_for_a_non_monotone_test() {
        // Fails when an odd number of the elements 3, 5, 9, 12 are in (and 0 is).
        let test = |s: &[usize]| {
            s.contains(&0) && [3, 5, 9, 12].iter().filter(|e| s.contains(e)).count() % 2 == 1
        };
        let (kept, _) = run(16, 0, test);
        assert!(test(&kept));
        for drop in 0..kept.len() {
            let mut smaller = kept.clone();
            smaller.remove(drop);
            assert!(!test(&smaller), "{kept:?} without {}", kept[drop]);
        }
    }

    #[test]
    fn keeps_at_least_min_keep_and_handles_tiny_sets() {
        let (kept, _) = run(5, 1, |_| true);
        assert_eq!(kept.len(), 1);
        let (kept, _) = run(5, 0, |_| true);
        assert!(kept.is_empty());
        let (kept, asked) = run(0, 0, |_| true);
        assert!(kept.is_empty() && asked == 0);
        let (kept, asked) = run(1, 1, |_| true);
        assert_eq!((kept, asked), (vec![0], 0));
        // Nothing can go.
        let (kept, _) = run(6, 0, |s| s.len() == 6);
        assert_eq!(kept, [0, 1, 2, 3, 4, 5]);
    }
}
