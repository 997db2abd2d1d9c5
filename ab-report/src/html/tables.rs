//! The report's text: verdict lines, the per-engine table, the per-op table and a note
//! on the method.

use std::fmt::Write;

use super::escape;
use crate::compare::{Comparison, EngineComparison, Verdict};
use crate::samples::{best, median, usable, EngineSamples};

/// The method, in a sentence or two, under the tables.
pub(crate) const METHOD_NOTE: &str = "<p class=\"note\">Runs were interleaved between the \
engines. A ratio is the Hodges-Lehmann estimate of engine / baseline median time (the \
median of all pairwise ratios of runs); its 95% interval comes from the Mann-Whitney test \
(exact for up to 100 runs, deterministic). A difference is called significant only when \
the whole interval lies on one side of 1.</p>\n";

/// The verdict lines of the replay comparisons.
pub(crate) fn verdicts(comparisons: &[EngineComparison]) -> String {
    if comparisons.is_empty() {
        return "<p>Only one engine: nothing to compare.</p>\n".to_string();
    }
    let mut out = String::from("<ul class=\"verdicts\">\n");
    for c in comparisons {
        let _ = writeln!(
            out,
            "<li class=\"{}\">Replay time: {}</li>",
            verdict_class(c.replay.verdict),
            escape(&c.replay.to_string())
        );
    }
    out.push_str("</ul>\n");
    out
}

/// The CSS class of a verdict's line.
fn verdict_class(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Faster => "faster",
        Verdict::Slower => "slower",
        Verdict::NoSignificantDifference => "same",
        Verdict::NotEnoughRuns => "unknown",
    }
}

/// A number with `decimals` decimals, or an en dash for NaN.
fn number(value: f64, decimals: usize) -> String {
    if value.is_finite() {
        format!("{value:.decimals$}")
    } else {
        "\u{2013}".to_string()
    }
}

/// Ratio, interval and verdict cells of a comparison.
fn ratio_cells(c: &Comparison) -> String {
    format!(
        "<td>{}</td><td>{} \u{2013} {}</td><td class=\"text\">{}</td>",
        number(c.median_ratio, 3),
        number(c.ci_low, 3),
        number(c.ci_high, 3),
        verdict_word(c.verdict)
    )
}

/// A verdict in a word or two.
fn verdict_word(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Faster => "faster",
        Verdict::Slower => "slower",
        Verdict::NoSignificantDifference => "no significant difference",
        Verdict::NotEnoughRuns => "not enough runs",
    }
}

/// Per engine: runs, best and median replay time, and the comparison with the baseline.
pub(crate) fn engine_table(engines: &[EngineSamples], comparisons: &[EngineComparison]) -> String {
    let mut out = String::from(
        "<table class=\"engines\">\n<tr><th>engine</th><th>runs</th><th>best (ms)</th>\
         <th>median (ms)</th><th>ratio to baseline</th><th>95% CI</th><th class=\"text\">verdict</th></tr>\n",
    );
    for (index, engine) in engines.iter().enumerate() {
        let runs = usable(&engine.replay_ms).len();
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{runs}</td><td>{}</td><td>{}</td>",
            escape(&engine.name),
            number(best(&engine.replay_ms).unwrap_or(f64::NAN), 2),
            number(median(&engine.replay_ms).unwrap_or(f64::NAN), 2),
        );
        let comparison = comparisons.iter().find(|c| c.replay.engine == engine.name);
        match comparison {
            Some(c) => out.push_str(&ratio_cells(&c.replay)),
            None if index == 0 => out.push_str("<td colspan=\"3\" class=\"text\">baseline</td>"),
            None => out.push_str("<td colspan=\"3\"></td>"),
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
    out
}

/// Per op type and compared engine: the medians, ratio, interval and verdict.
pub(crate) fn op_table(comparisons: &[EngineComparison]) -> String {
    let rows: Vec<String> = comparisons
        .iter()
        .flat_map(|group| &group.ops)
        .map(|op| {
            let c = &op.comparison;
            format!(
                "<tr><td>{}</td><td class=\"text\">{} vs {}</td><td>{}</td><td>{}</td>{}</tr>\n",
                escape(&op.op),
                escape(&c.engine),
                escape(&c.baseline),
                number(c.baseline_median, 0),
                number(c.engine_median, 0),
                ratio_cells(c)
            )
        })
        .collect();
    if rows.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        "<h2>Per op type</h2>\n<table class=\"ops\">\n<tr><th>op type</th><th class=\"text\">engines</th>\
         <th>baseline median (ns)</th><th>engine median (ns)</th><th>ratio</th>\
         <th>95% CI</th><th class=\"text\">verdict</th></tr>\n",
    );
    out.extend(rows);
    out.push_str("</table>\n");
    out
}
