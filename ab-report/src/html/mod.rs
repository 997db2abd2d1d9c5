//! The HTML report: one self-contained page (inline SVG and CSS, no scripts, nothing
//! fetched from the network) with the verdicts, tables and three plots.

mod canvas;
mod distribution;
mod forest;
mod latency;
mod legend;
mod slots;
mod tables;

use std::fmt::Write;

use crate::compare::EngineComparison;
use crate::samples::EngineSamples;

/// The page's style sheet.
const STYLE: &str = "\
body{font-family:sans-serif;margin:2em auto;max-width:1000px;padding:0 1em;color:#222}\
h1{font-size:1.6em}h2{font-size:1.25em;margin-top:2em;border-bottom:1px solid #ccc}\
table{border-collapse:collapse;margin:1em 0;font-size:.95em}\
th,td{border:1px solid #ccc;padding:.3em .6em;text-align:right;white-space:nowrap}\
th:first-child,td:first-child,th.text,td.text{text-align:left}\
td:first-child,td.text{white-space:normal;overflow-wrap:anywhere}th{background:#f3f3f3}\
li.faster{color:#1a7f37}li.slower{color:#b42318}\
figure{margin:1em 0}figcaption{color:#555;font-size:.9em;margin-top:.3em}figure svg{max-width:100%;height:auto;display:block}\
p.note{color:#555;font-size:.9em}p.error{color:#b42318}";

/// Renders the report: `engines` as measured (the first is the baseline of
/// `comparisons`, as [`crate::compare`] made them). Every name is escaped.
pub fn render_html(
    title: &str,
    engines: &[EngineSamples],
    comparisons: &[EngineComparison],
) -> String {
    let title = escape(title);
    let mut page = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{title}</h1>\n"
    );
    page.push_str(&tables::verdicts(comparisons));
    page.push_str(&tables::engine_table(engines, comparisons));
    page.push_str("<h2>Replay time</h2>\n");
    figure(
        &mut page,
        "replay-distribution",
        distribution::replay_distribution(engines),
        REPLAY_CAPTION,
    );
    page.push_str("<h2>Latency per op type</h2>\n");
    let svg = latency::latency_cdfs(engines);
    figure(&mut page, "latency-cdfs", svg, LATENCY_CAPTION);
    page.push_str("<h2>A/B ratios</h2>\n");
    figure(
        &mut page,
        "ratio-forest",
        forest::ratio_forest(engines, comparisons),
        FOREST_CAPTION,
    );
    page.push_str(&tables::op_table(comparisons));
    page.push_str(tables::METHOD_NOTE);
    page.push_str("</body>\n</html>\n");
    page
}

/// How to read each plot, under it.
const REPLAY_CAPTION: &str = "One dot per timed run; the box spans the middle half of an \
engine's runs, the line across it is the median.";
const LATENCY_CAPTION: &str = "For each op type, the share of ops that took at most a given \
latency (time axis logarithmic). A curve further left is faster; the gap at 50% is the \
difference of the medians, the top of the curves the slow tail.";
const FOREST_CAPTION: &str = "Each engine against the baseline: the dot is the estimated \
ratio of median times, the bar its 95% confidence interval. A filled dot marks a significant \
difference (the bar does not cross 1), a hollow dot none.";

/// Appends a plot as a figure with its caption, or the reason it could not be drawn.
fn figure(page: &mut String, id: &str, svg: Result<String, String>, caption: &str) {
    match svg {
        Ok(svg) => {
            let _ = write!(
                page,
                "<figure id=\"{id}\">\n{svg}\n<figcaption>{caption}</figcaption>\n</figure>\n"
            );
        }
        Err(error) => {
            let _ = writeln!(
                page,
                "<p class=\"error\">The plot could not be drawn: {}</p>",
                escape(&error)
            );
        }
    }
}

/// `text` with the characters HTML gives a meaning to replaced by entities.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_replaces_markup() {
        assert_eq!(
            escape("<a href='x'>&\"</a>"),
            "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;"
        );
        assert_eq!(escape("lib:patched"), "lib:patched");
    }
}
