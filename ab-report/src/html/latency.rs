//! Plot 2: per op type, the latency distribution of each engine as a cumulative curve on
//! a logarithmic time axis (one panel per op type, one line per engine, one legend).

use plotters::prelude::*;

use super::canvas::{
    engine_color, svg_plot, Area, PlotResult, CAPTION_SIZE, DESC_SIZE, FONT, LABEL_SIZE, WIDTH,
};
use super::legend;
use crate::samples::{EngineSamples, LatencyBucket};

/// Panels per row, and each panel's height in pixels.
const COLUMNS: usize = 2;
const PANEL_HEIGHT: u32 = 300;

/// Height of the title above the panels, and the space under the legend.
const TITLE_HEIGHT: u32 = 40;
const LEGEND_GAP: u32 = 8;

/// The SVG of the per-op-type latency CDFs.
pub(crate) fn latency_cdfs(engines: &[EngineSamples]) -> Result<String, String> {
    let ops = op_names(engines);
    let rows = ops.len().div_ceil(COLUMNS).max(1);
    let names: Vec<String> = engines.iter().map(|e| e.name.clone()).collect();
    let legend_height = legend::layout(&names).1 + LEGEND_GAP;
    let height = TITLE_HEIGHT + legend_height + PANEL_HEIGHT * rows as u32;
    svg_plot((WIDTH, height), |root| {
        let body = root.titled(
            "Latency per op type: share of ops at or below a latency",
            (FONT, CAPTION_SIZE),
        )?;
        let (legend_area, body) = body.split_vertically(legend_height);
        legend::draw(&legend_area, &names)?;
        if ops.is_empty() {
            body.draw_text(
                "No per-op latency histograms were recorded for these engines.",
                &(FONT, DESC_SIZE).into_text_style(&body),
                (20, 40),
            )?;
            return Ok(());
        }
        let panels = body.split_evenly((rows, COLUMNS));
        for (panel, op) in panels.iter().zip(&ops) {
            draw_panel(panel, op, engines)?;
        }
        Ok(())
    })
}

/// Every op type any engine has, in first-seen order.
fn op_names(engines: &[EngineSamples]) -> Vec<&str> {
    let mut names: Vec<&str> = Vec::new();
    for op in engines.iter().flat_map(|e| &e.ops) {
        if !names.contains(&op.op.as_str()) {
            names.push(&op.op);
        }
    }
    names
}

/// The cumulative curve of a histogram: `(latency_ns, percent of ops at or below)`,
/// starting at 0% at the lowest bucket's lower edge; empty without counted ops. Edges
/// below 1 ns are drawn at 1 ns (the axis is logarithmic).
pub(crate) fn cdf_points(buckets: &[LatencyBucket]) -> Vec<(f64, f64)> {
    let mut sorted: Vec<&LatencyBucket> = buckets.iter().filter(|b| b.count > 0).collect();
    sorted.sort_by_key(|b| (b.lo_ns, b.hi_ns));
    let total: f64 = sorted.iter().map(|b| b.count as f64).sum();
    let Some(first) = sorted.first() else {
        return Vec::new();
    };
    let mut points = vec![(first.lo_ns.max(1) as f64, 0.0)];
    let mut below = 0.0;
    for bucket in sorted {
        below += bucket.count as f64;
        let edge = bucket.hi_ns.max(bucket.lo_ns).max(1) as f64;
        points.push((edge, below / total * 100.0));
    }
    points
}

/// A latency for an axis label: "250 ns", "1.5 µs", "20 ms".
pub(crate) fn format_ns(ns: f64) -> String {
    let (value, unit) = match ns {
        v if v >= 1e9 => (v / 1e9, "s"),
        v if v >= 1e6 => (v / 1e6, "ms"),
        v if v >= 1e3 => (v / 1e3, "µs"),
        v => (v, "ns"),
    };
    let text = format!("{value:.2}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text} {unit}")
}

fn draw_panel(panel: &Area<'_>, op: &str, engines: &[EngineSamples]) -> PlotResult {
    // Each engine's curve, with the engine's index for its colour (the legend's).
    let curves: Vec<(usize, Vec<(f64, f64)>)> = engines
        .iter()
        .enumerate()
        .filter_map(|(i, e)| Some((i, cdf_points(&e.op(op)?.buckets))))
        .filter(|(_, points)| !points.is_empty())
        .collect();
    let xs = curves.iter().flat_map(|(_, p)| p.iter().map(|(x, _)| *x));
    let (low, high) = xs.fold((f64::MAX, f64::MIN), |(lo, hi), x| (lo.min(x), hi.max(x)));
    let (low, high) = if low < high {
        (low / 1.5, high * 1.5)
    } else if low <= high {
        (low / 2.0, high * 2.0)
    } else {
        (1.0, 1000.0)
    };
    let mut chart = ChartBuilder::on(panel)
        .caption(op, (FONT, DESC_SIZE + 2))
        .margin(12)
        .x_label_area_size(42)
        .y_label_area_size(56)
        .build_cartesian_2d((low.max(1.0)..high).log_scale(), 0.0..100.0)?;
    chart
        .configure_mesh()
        .x_label_formatter(&|x| format_ns(*x))
        .y_label_formatter(&|y| format!("{y:.0}%"))
        .x_desc("latency (log scale)")
        .y_desc("ops at or below")
        .axis_desc_style((FONT, LABEL_SIZE))
        .label_style((FONT, LABEL_SIZE - 2))
        .draw()?;
    if curves.is_empty() {
        chart.draw_series([Text::new(
            "no ops counted",
            (low.max(1.0) * 1.2, 50.0),
            (FONT, LABEL_SIZE),
        )])?;
    }
    for (index, points) in curves {
        let color = engine_color(index);
        chart.draw_series(LineSeries::new(points, color.stroke_width(2)))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket(lo_ns: u64, hi_ns: u64, count: u64) -> LatencyBucket {
        LatencyBucket {
            lo_ns,
            hi_ns,
            count,
        }
    }

    #[test]
    fn cdf_accumulates_sorted_buckets_to_100_percent() {
        let points = cdf_points(&[bucket(200, 400, 3), bucket(0, 100, 1), bucket(100, 200, 0)]);
        assert_eq!(points, vec![(1.0, 0.0), (100.0, 25.0), (400.0, 100.0)]);
        assert!(cdf_points(&[bucket(1, 2, 0)]).is_empty());
        assert!(cdf_points(&[]).is_empty());
    }

    #[test]
    fn latencies_read_in_their_unit() {
        assert_eq!(format_ns(250.0), "250 ns");
        assert_eq!(format_ns(1500.0), "1.5 µs");
        assert_eq!(format_ns(20e6), "20 ms");
        assert_eq!(format_ns(3e9), "3 s");
    }
}
