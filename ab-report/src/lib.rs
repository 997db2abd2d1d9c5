//! A/B statistics and an HTML report for interleaved benchmarks.
//!
//! An interleaved bench runs engines A B A B ... and hands over each engine's samples
//! ([`EngineSamples`]). [`compare`] estimates, against a baseline engine, the ratio of
//! median times with a 95% confidence interval (Hodges-Lehmann on log times with the
//! Mann-Whitney interval; exact for small run counts, no randomness), for the replay time
//! and for each op type, and gives a [`Verdict`]. [`render_html`] draws one
//! self-contained page with inline SVG plots.

mod compare;
mod html;
pub mod mann_whitney;
mod samples;
mod shift;

pub use compare::{compare, Comparison, EngineComparison, OpComparison, Verdict};
pub use html::render_html;
pub use samples::{best, median, usable, EngineSamples, LatencyBucket, OpSamples};
pub use shift::{ratio_estimate, RatioEstimate};
