//! An axis of named slots (engines, comparison rows): slot `i` is centred on `i`, so a
//! plot can place marks anywhere within a slot, and tick labels sit on the centres.

use std::ops::Range;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};

/// `count` slots, from -0.5 to `count - 0.5`, with a tick at every slot centre.
pub(crate) struct Slots {
    count: usize,
}

impl Slots {
    /// An axis of `count` slots (at least one is drawn).
    pub(crate) fn new(count: usize) -> Slots {
        Slots {
            count: count.max(1),
        }
    }
}

impl Ranged for Slots {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, (from, to): (i32, i32)) -> i32 {
        let share = (value + 0.5) / self.count as f64;
        from + (share * f64::from(to - from)).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        let step = self.count.div_ceil(hint.max_num_points().max(1)).max(1);
        (0..self.count).step_by(step).map(|i| i as f64).collect()
    }

    fn range(&self) -> Range<f64> {
        -0.5..self.count as f64 - 0.5
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_centres_map_to_the_middle_of_their_share() {
        let axis = Slots::new(2);
        assert_eq!(axis.map(&0.0, (0, 400)), 100);
        assert_eq!(axis.map(&1.0, (0, 400)), 300);
        assert_eq!(axis.map(&-0.5, (400, 0)), 400);
        assert_eq!(axis.key_points(10usize), vec![0.0, 1.0]);
        assert_eq!(Slots::new(10).key_points(3usize), vec![0.0, 4.0, 8.0]);
    }
}
