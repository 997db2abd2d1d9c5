//! A legend of engine colours laid out in rows across the top of a plot, wrapping
//! where the names do not fit on one line.

use plotters::prelude::*;

use super::canvas::{engine_color, plot_label, Area, PlotResult, FONT, LABEL_SIZE, WIDTH};

/// Room for one legend row, the swatch's length, and the margin on either side.
const ROW_HEIGHT: i32 = 24;
const SWATCH: i32 = 24;
const MARGIN: i32 = 20;

/// Estimated width of a character of the legend's font, in pixels.
const CHAR_WIDTH: i32 = 8;

/// Where each engine's entry starts, and the height the legend needs.
pub(crate) fn layout(names: &[String]) -> (Vec<(i32, i32)>, u32) {
    let mut places = Vec::with_capacity(names.len());
    let (mut x, mut y) = (MARGIN, 0);
    for name in names {
        let width = SWATCH + 8 + plot_label(name).chars().count() as i32 * CHAR_WIDTH + 24;
        if x > MARGIN && x + width > WIDTH as i32 - MARGIN {
            x = MARGIN;
            y += ROW_HEIGHT;
        }
        places.push((x, y));
        x += width;
    }
    let height = if names.is_empty() { 0 } else { y + ROW_HEIGHT };
    (places, height as u32)
}

/// Draws the legend of `names` (engine `i` in its colour) on `area`.
pub(crate) fn draw(area: &Area<'_>, names: &[String]) -> PlotResult {
    let style = (FONT, LABEL_SIZE).into_text_style(area);
    let (places, _) = layout(names);
    for (index, (name, (x, y))) in names.iter().zip(places).enumerate() {
        let middle = y + ROW_HEIGHT / 2;
        let swatch = vec![(x, middle), (x + SWATCH, middle)];
        area.draw(&PathElement::new(
            swatch,
            engine_color(index).stroke_width(3),
        ))?;
        area.draw_text(&plot_label(name), &style, (x + SWATCH + 8, middle - 8))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_names_wrap_to_new_rows() {
        let short: Vec<String> = ["c", "pure"].map(String::from).to_vec();
        let (places, height) = layout(&short);
        assert_eq!(
            places,
            vec![(MARGIN, 0), (MARGIN + SWATCH + 8 + CHAR_WIDTH + 24, 0)]
        );
        assert_eq!(height, ROW_HEIGHT as u32);
        let long = vec!["x".repeat(40); 4];
        let (places, height) = layout(&long);
        assert!(places.iter().all(|(x, _)| *x < WIDTH as i32));
        assert!(height >= 2 * ROW_HEIGHT as u32, "{places:?}");
        assert_eq!(layout(&[]).1, 0);
    }
}
