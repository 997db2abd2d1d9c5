//! Plot 3: every A/B ratio with its 95% interval (a forest plot), replay time first,
//! then each op type, one group per compared engine.

use plotters::prelude::*;

use super::canvas::{
    engine_color, plot_label, svg_plot, Area, PlotResult, CAPTION_SIZE, DESC_SIZE, FONT,
    LABEL_SIZE, WIDTH,
};
use super::slots::Slots;
use crate::compare::{Comparison, EngineComparison};
use crate::samples::EngineSamples;

/// Height of one row and of the plot's frame (caption, axis), in pixels.
const ROW_HEIGHT: u32 = 26;
const FRAME_HEIGHT: u32 = 130;

/// Height of the plot when there is nothing to compare (a line of text).
const EMPTY_HEIGHT: u32 = 60;

/// Ratios that make good tick marks on the logarithmic ratio axis.
const TICKS: [f64; 27] = [
    0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.5, 0.67, 0.8, 0.9, 0.95, 0.98, 0.99, 1.0, 1.01, 1.02, 1.05,
    1.1, 1.25, 1.5, 2.0, 4.0, 5.0, 10.0, 20.0, 50.0, 100.0,
];

/// The most tick marks the axis shows.
const MAX_TICKS: usize = 12;

/// One row of the plot.
struct Row<'a> {
    label: String,
    comparison: &'a Comparison,
    color: RGBColor,
}

/// The SVG of the forest plot of `comparisons`; engine colours follow `engines`.
pub(crate) fn ratio_forest(
    engines: &[EngineSamples],
    comparisons: &[EngineComparison],
) -> Result<String, String> {
    let rows = rows(engines, comparisons);
    let height = match rows.len() {
        0 => EMPTY_HEIGHT,
        count => FRAME_HEIGHT + ROW_HEIGHT * count as u32,
    };
    svg_plot((WIDTH, height), |root| draw(root, &rows))
}

fn rows<'a>(engines: &[EngineSamples], comparisons: &'a [EngineComparison]) -> Vec<Row<'a>> {
    let mut rows = Vec::new();
    for group in comparisons {
        let replay = &group.replay;
        let index = engines.iter().position(|e| e.name == replay.engine);
        let color = engine_color(index.unwrap_or(rows.len()));
        let prefix = format!(
            "{} vs {}",
            plot_label(&replay.engine),
            plot_label(&replay.baseline)
        );
        rows.push(Row {
            label: format!("{prefix}: replay time"),
            comparison: replay,
            color,
        });
        rows.extend(group.ops.iter().map(|op| Row {
            label: format!("{prefix}: {}", op.op),
            comparison: &op.comparison,
            color,
        }));
    }
    rows
}

/// The ratio axis's `(low, high)`: every finite estimate and interval end, and 1.
fn ratio_range(rows: &[Row<'_>]) -> (f64, f64) {
    let values = rows.iter().flat_map(|r| {
        let c = r.comparison;
        [c.median_ratio, c.ci_low, c.ci_high]
    });
    let finite = values.filter(|v| v.is_finite() && *v > 0.0);
    let (low, high) = finite.fold((1.0f64, 1.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let pad = (high / low).powf(0.08).max(1.02);
    (low / pad, high * pad)
}

/// The tick marks inside `(low, high)`: 1, then outwards the ratios at least a
/// [`MAX_TICKS`]-th of the axis's (logarithmic) length away from the last one kept.
fn ticks(low: f64, high: f64) -> Vec<f64> {
    let gap = (high / low).ln() / MAX_TICKS as f64;
    let mut kept = vec![1.0];
    let below = TICKS.iter().rev().filter(|t| **t < 1.0);
    let above = TICKS.iter().filter(|t| **t > 1.0);
    for side in [below.collect::<Vec<_>>(), above.collect()] {
        let mut last = 1.0f64;
        for &tick in side {
            let inside = tick >= low && tick <= high;
            if inside && (tick / last).ln().abs() >= gap {
                kept.push(tick);
                last = tick;
            }
        }
    }
    kept.sort_by(f64::total_cmp);
    kept
}

fn draw(root: &Area<'_>, rows: &[Row<'_>]) -> PlotResult {
    if rows.is_empty() {
        let style = (FONT, DESC_SIZE).into_text_style(root);
        root.draw_text(
            "A/B time ratios: only one engine, nothing to compare.",
            &style,
            (20, 20),
        )?;
        return Ok(());
    }
    let (low, high) = ratio_range(rows);
    let count = rows.len().max(1);
    let y_of = |row: usize| (count - 1 - row) as f64;
    let label_chars = rows
        .iter()
        .map(|r| r.label.chars().count())
        .max()
        .unwrap_or(10);
    let x_axis = (low..high).log_scale().with_key_points(ticks(low, high));
    let mut chart = ChartBuilder::on(root)
        .caption(
            "A/B time ratios with 95% intervals (left of 1: faster than the baseline)",
            (FONT, CAPTION_SIZE),
        )
        .margin(16)
        .x_label_area_size(52)
        .y_label_area_size((label_chars as u32 * 8 + 16).min(WIDTH / 2))
        .build_cartesian_2d(x_axis, Slots::new(count))?;
    let label_of = |y: &f64| {
        let row = count as f64 - 1.0 - y.round();
        let row = (row >= 0.0).then_some(row as usize);
        row.and_then(|r| rows.get(r))
            .map_or(String::new(), |r| r.label.clone())
    };
    chart
        .configure_mesh()
        .disable_y_mesh()
        .x_label_formatter(&|x| format!("{x}"))
        .y_label_formatter(&label_of)
        .x_desc("time ratio, engine / baseline (log scale)")
        .axis_desc_style((FONT, DESC_SIZE))
        .label_style((FONT, LABEL_SIZE))
        .draw()?;
    let one = [(1.0, -0.5), (1.0, count as f64 - 0.5)];
    chart.draw_series([PathElement::new(
        one.to_vec(),
        BLACK.mix(0.6).stroke_width(2),
    )])?;
    for (row, r) in rows.iter().enumerate() {
        draw_row(&mut chart, y_of(row), r)?;
    }
    Ok(())
}

type Chart<'a, 'b> = ChartContext<
    'a,
    SVGBackend<'b>,
    Cartesian2d<plotters::coord::combinators::WithKeyPoints<LogCoord<f64>>, Slots>,
>;

/// One row: the interval as a bar, the estimate as a dot (filled when the interval
/// excludes 1), or a note when there is no estimate.
fn draw_row(chart: &mut Chart<'_, '_>, y: f64, row: &Row<'_>) -> PlotResult {
    let c = row.comparison;
    if !(c.median_ratio.is_finite() && c.median_ratio > 0.0) {
        chart.draw_series([Text::new("no usable runs", (1.0, y), (FONT, LABEL_SIZE))])?;
        return Ok(());
    }
    if c.ci_low.is_finite() && c.ci_high.is_finite() {
        let bar = vec![(c.ci_low, y), (c.ci_high, y)];
        chart.draw_series([PathElement::new(bar, row.color.stroke_width(3))])?;
        for end in [c.ci_low, c.ci_high] {
            let tick = vec![(end, y - 0.2), (end, y + 0.2)];
            chart.draw_series([PathElement::new(tick, row.color.stroke_width(2))])?;
        }
    }
    let point = (c.median_ratio, y);
    let style = if c.verdict.is_significant() {
        row.color.filled()
    } else {
        row.color.stroke_width(2)
    };
    chart.draw_series([Circle::new(point, 6, style)])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_keep_one_and_stay_few() {
        let all = ticks(0.001, 1000.0);
        assert!(all.len() <= MAX_TICKS + 1 && all.contains(&1.0), "{all:?}");
        assert_eq!(ticks(0.97, 1.03), vec![0.98, 0.99, 1.0, 1.01, 1.02]);
        assert_eq!(ticks(0.88, 1.4), vec![0.9, 0.95, 1.0, 1.05, 1.1, 1.25]);
    }
}
