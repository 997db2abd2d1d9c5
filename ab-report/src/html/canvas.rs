//! What every plot shares: an SVG canvas drawn into a string, colours and fonts.

use std::error::Error;

use plotters::coord::Shift;
use plotters::prelude::*;

/// The drawing area every plot draws on.
pub(crate) type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

/// A plot's outcome; errors only come from plotters' drawing.
pub(crate) type PlotResult = Result<(), Box<dyn Error>>;

/// Width of every plot, in pixels (the page scales it down on narrow screens).
pub(crate) const WIDTH: u32 = 960;

/// The font of labels and legends; browsers pick their sans-serif, nothing is embedded.
pub(crate) const FONT: &str = "sans-serif";

/// Text sizes: captions, axis descriptions, tick labels and legends (plotters draws
/// text at about 80% of these, in pixels of the 960-pixel-wide plot).
pub(crate) const CAPTION_SIZE: u32 = 22;
pub(crate) const DESC_SIZE: u32 = 18;
pub(crate) const LABEL_SIZE: u32 = 16;

/// The longest engine name a plot shows whole; longer ones lose their middle (the
/// tables show them whole).
pub(crate) const MAX_LABEL_CHARS: usize = 40;

/// `name` as plots show it: whole up to [`MAX_LABEL_CHARS`] characters, else its start
/// and end around an ellipsis.
pub(crate) fn plot_label(name: &str) -> String {
    let count = name.chars().count();
    if count <= MAX_LABEL_CHARS {
        return name.to_string();
    }
    let keep = MAX_LABEL_CHARS - 1;
    let head: String = name.chars().take(keep / 2).collect();
    let tail: String = name.chars().skip(count - (keep - keep / 2)).collect();
    format!("{head}\u{2026}{tail}")
}

/// Colours for the engines, in order (Tableau 10, readable on white and for most
/// colour-blind readers); engines past the tenth reuse them.
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// The colour of the `index`-th engine.
pub(crate) fn engine_color(index: usize) -> RGBColor {
    PALETTE[index % PALETTE.len()]
}

/// Draws a `width` x `height` plot with `draw` and returns the SVG text, or the drawing
/// error as text.
pub(crate) fn svg_plot(
    (width, height): (u32, u32),
    draw: impl FnOnce(&Area<'_>) -> PlotResult,
) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        draw(&root).map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

/// The `(low, high)` of all values, widened by `pad` of the span on each side (or by 10%
/// of the value when all are equal); `None` for no values.
pub(crate) fn padded_range(values: impl IntoIterator<Item = f64>, pad: f64) -> Option<(f64, f64)> {
    let (low, high) = values
        .into_iter()
        .fold(None, |acc: Option<(f64, f64)>, v| match acc {
            None => Some((v, v)),
            Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
        })?;
    let span = if high > low {
        high - low
    } else {
        low.abs().max(1.0) * 0.2
    };
    Some((low - span * pad, high + span * pad))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_names_lose_their_middle() {
        assert_eq!(plot_label("lib:patched"), "lib:patched");
        let long = format!("lib:/home/dev/{}/libtdb.so.1=x", "d".repeat(40));
        let label = plot_label(&long);
        assert_eq!(label.chars().count(), MAX_LABEL_CHARS);
        assert!(label.starts_with("lib:/home/dev/") && label.ends_with("/libtdb.so.1=x"));
        assert!(label.contains('\u{2026}'));
    }

    #[test]
    fn padded_range_handles_empty_single_and_spread_values() {
        assert_eq!(padded_range([], 0.1), None);
        assert_eq!(padded_range([10.0, 20.0], 0.1), Some((9.0, 21.0)));
        let (lo, hi) = padded_range([5.0], 0.5).unwrap();
        assert!(lo < 5.0 && hi > 5.0);
    }
}
