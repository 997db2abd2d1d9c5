//! The clock that times every op of a replay.
//!
//! It reads the CPU's time-stamp counter through `quanta`, calibrated once per process
//! against the monotonic clock (about 0.6 ms, before the workers fork, which inherit the
//! calibration), and where the CPU has no invariant counter `quanta` reads the monotonic
//! clock instead. A read costs about 11 ns on the project's machine, against 29 ns for
//! `Instant::now` (`CLOCK_MONOTONIC` through the vDSO): at one read per op, that is the
//! difference between a few percent of a 0.45 µs op and next to nothing.

use std::sync::OnceLock;

use quanta::Clock;

/// The process's op clock (cheap to copy: it shares the calibration).
#[derive(Clone, Debug)]
pub struct OpClock(Clock);

impl OpClock {
    /// The clock, calibrated on first use in the process.
    pub fn get() -> OpClock {
        static CLOCK: OnceLock<Clock> = OnceLock::new();
        OpClock(CLOCK.get_or_init(Clock::new).clone())
    }

    /// A raw reading, only meaningful to [`OpClock::ns_between`].
    #[inline]
    pub fn now(&self) -> u64 {
        self.0.raw()
    }

    /// Nanoseconds from reading `start` to reading `end` (0 if `end` is earlier).
    #[inline]
    pub fn ns_between(&self, start: u64, end: u64) -> u64 {
        self.0.delta_as_nanos(start, end)
    }
}

/// What reading the op clock costs, in nanoseconds per read (the best of a few rounds).
pub fn cost_ns() -> f64 {
    let clock = OpClock::get();
    let reads = 100_000u32;
    let mut best = f64::MAX;
    for _ in 0..5 {
        let started = clock.now();
        let mut last = started;
        for _ in 0..reads {
            last = std::hint::black_box(clock.now());
        }
        best = best.min(clock.ns_between(started, last) as f64 / f64::from(reads));
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readings_follow_the_monotonic_clock() {
        let clock = OpClock::get();
        let started = (clock.now(), std::time::Instant::now());
        std::thread::sleep(std::time::Duration::from_millis(50));
        let ns = clock.ns_between(started.0, clock.now());
        let reference = started.1.elapsed().as_nanos() as u64;
        // Within 2% of the monotonic clock over 50 ms.
        assert!(
            ns.abs_diff(reference) * 50 < reference,
            "{ns} ns against {reference} ns"
        );
        assert!(cost_ns() > 0.0);
        // A raw difference converts like the readings it came from (the executor keeps
        // only differences).
        let (a, b) = (clock.now(), clock.now() + 3_000_000);
        assert_eq!(clock.ns_between(0, b - a), clock.ns_between(a, b));
    }
}
