//! A/B statistics and an HTML report for interleaved benchmarks.
//!
//! An interleaved bench runs engines A B A B ... and hands over each engine's samples
//! ([`EngineSamples`]). [`compare`] estimates, against a baseline engine, the ratio of
//! median times with a 95% confidence interval (Hodges-Lehmann on log times with the
//! Mann-Whitney interval; exact for small run counts, no randomness), for the replay time
//! and for each op type, and gives a [`Verdict`]. [`render_html`] draws one
//! self-contained page with inline SVG plots.
//!
//! ```
//! use ab_report::{compare_all, render_html, EngineSamples, Verdict};
//!
//! let engine = |name: &str, ms: &[f64]| EngineSamples {
//!     name: name.to_string(),
//!     replay_ms: ms.to_vec(),
//!     ops: Vec::new(),
//! };
//! let engines = [
//!     engine("c", &[50.1, 49.8, 50.4, 50.0, 49.9, 50.2]),
//!     engine("lib:patched", &[47.9, 48.2, 48.0, 47.7, 48.1, 48.3]),
//! ];
//! let comparisons = compare_all(&engines);
//! let replay = &comparisons[0].replay;
//! assert_eq!(replay.verdict, Verdict::Faster);
//! assert!(replay.ci_low <= replay.median_ratio && replay.median_ratio <= replay.ci_high);
//! assert!(replay.to_string().starts_with("lib:patched is 4.0% faster than c (95% CI "));
//! let page = render_html("bench", &engines, &comparisons);
//! assert_eq!(page.matches("<svg").count(), 3);
//! ```

mod compare;
mod html;
pub mod mann_whitney;
mod samples;
mod shift;

pub use compare::{compare, compare_all, Comparison, EngineComparison, OpComparison, Verdict};
pub use html::render_html;
pub use samples::{best, median, usable, EngineSamples, LatencyBucket, OpSamples};
pub use shift::{ratio_estimate, RatioEstimate};
