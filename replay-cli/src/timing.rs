//! Timing a step and showing durations: the one millisecond conversion and format.

use std::time::{Duration, Instant};

/// Run `f` and time it.
pub fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let started = Instant::now();
    let value = f();
    (value, started.elapsed())
}

/// Best and median of some durations.
pub fn best_median(mut times: Vec<Duration>) -> (Duration, Duration) {
    times.sort();
    (
        times.first().copied().unwrap_or_default(),
        times.get(times.len() / 2).copied().unwrap_or_default(),
    )
}

/// Milliseconds as a float, the unit of every `*_ms` JSON field.
pub fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

/// A duration as people read it: milliseconds with one decimal (`12.3 ms`).
pub fn show_ms(duration: Duration) -> String {
    format!("{:.1} ms", ms(duration))
}

/// Operations per second (a zero duration counts as a nanosecond).
pub fn per_second(ops: u64, duration: Duration) -> f64 {
    ops as f64 / duration.as_secs_f64().max(1e-9)
}

/// `a / b` (a zero `b` counts as a nanosecond).
pub fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64().max(1e-9)
}
