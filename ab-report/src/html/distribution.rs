//! Plot 1: each engine's replay times, one dot per run over a box of the middle half.

use plotters::prelude::*;

use super::canvas::{
    engine_color, padded_range, plot_label, svg_plot, Area, PlotResult, CAPTION_SIZE, DESC_SIZE,
    FONT, LABEL_SIZE, WIDTH,
};
use super::slots::Slots;
use crate::samples::{usable, EngineSamples};

/// Half the width of an engine's box, in x units (one engine per unit).
const BOX_HALF_WIDTH: f64 = 0.22;

/// The SVG of the replay-time distribution per engine.
pub(crate) fn replay_distribution(engines: &[EngineSamples]) -> Result<String, String> {
    svg_plot((WIDTH, 420), |root| draw(root, engines))
}

/// The lower quartile, median and upper quartile of sorted values (linear interpolation
/// between order statistics).
fn quartiles(sorted: &[f64]) -> (f64, f64, f64) {
    let at = |q: f64| {
        let pos = q * (sorted.len() - 1) as f64;
        let (below, frac) = (pos.floor() as usize, pos.fract());
        let above = (below + 1).min(sorted.len() - 1);
        sorted[below] + (sorted[above] - sorted[below]) * frac
    };
    (at(0.25), at(0.5), at(0.75))
}

/// A small deterministic horizontal offset for the `run`-th dot, so that equal times do
/// not hide each other.
fn jitter(run: usize) -> f64 {
    ((run as f64 * 0.618_034).fract() - 0.5) * BOX_HALF_WIDTH
}

fn draw(root: &Area<'_>, engines: &[EngineSamples]) -> PlotResult {
    let all = engines.iter().flat_map(|e| usable(&e.replay_ms));
    let (low, high) = padded_range(all, 0.08).unwrap_or((0.0, 1.0));
    let count = engines.len();
    let mut chart = ChartBuilder::on(root)
        .caption("Replay time per run", (FONT, CAPTION_SIZE))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(80)
        .build_cartesian_2d(Slots::new(count), low.max(0.0)..high)?;
    let name_of = |x: &f64| {
        let index = x.round();
        engines
            .get(index as usize)
            .filter(|_| index >= 0.0)
            .map_or(String::new(), |e| {
                let runs = usable(&e.replay_ms).len();
                let plural = if runs == 1 { "" } else { "s" };
                format!("{} ({runs} run{plural})", plot_label(&e.name))
            })
    };
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_label_formatter(&name_of)
        .x_desc("engine")
        .y_desc("replay time (ms)")
        .axis_desc_style((FONT, DESC_SIZE))
        .label_style((FONT, LABEL_SIZE))
        .draw()?;
    for (index, engine) in engines.iter().enumerate() {
        let color = engine_color(index);
        let x = index as f64;
        let mut sorted = usable(&engine.replay_ms);
        sorted.sort_by(f64::total_cmp);
        if !sorted.is_empty() {
            let (q1, q2, q3) = quartiles(&sorted);
            let (left, right) = (x - BOX_HALF_WIDTH, x + BOX_HALF_WIDTH);
            chart.draw_series([
                Rectangle::new([(left, q1), (right, q3)], color.mix(0.15).filled()),
                Rectangle::new([(left, q1), (right, q3)], color.stroke_width(2)),
            ])?;
            chart.draw_series([PathElement::new(
                vec![(left, q2), (right, q2)],
                color.stroke_width(3),
            )])?;
        }
        let dots = engine.replay_ms.iter().enumerate();
        let dots = dots.filter(|(_, v)| v.is_finite() && **v > 0.0);
        chart.draw_series(
            dots.map(|(run, v)| Circle::new((x + jitter(run), *v), 4, color.filled())),
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quartiles_interpolate() {
        assert_eq!(quartiles(&[1.0, 2.0, 3.0, 4.0, 5.0]), (2.0, 3.0, 4.0));
        assert_eq!(quartiles(&[7.0]), (7.0, 7.0, 7.0));
        assert_eq!(quartiles(&[0.0, 4.0]), (1.0, 2.0, 3.0));
    }

    #[test]
    fn jitter_stays_inside_the_box() {
        assert!((0..100).all(|run| jitter(run).abs() <= BOX_HALF_WIDTH / 2.0));
    }
}
