//! An axis of named slots (engines, comparison rows): slot `i` is centred on `i`, so a
//! plot can place marks anywhere within a slot, and a tick label sits on every centre.

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

    /// Every slot centre, whatever the hint: each slot's label matters, and the plots
    /// give every slot room for its label.
    fn key_points<Hint: KeyPointHint>(&self, _hint: Hint) -> Vec<f64> {
        (0..self.count).map(|i| i as f64).collect()
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
        assert_eq!(Slots::new(3).key_points(1usize), vec![0.0, 1.0, 2.0]);
    }
}
