//! Scatter plots of 2-D samples over a mixture's modes: the sample figures of mixture runs and the
//! figure of `ganforge bench modes`.

use plotters::prelude::*;

use super::{FONT, ensure_font, png_bytes};
use crate::error::{GanError, Result};

/// One panel: generated points over the real distribution's mode centres.
#[derive(Debug, Clone)]
pub struct ScatterPanel {
    pub title: String,
    pub points: Vec<[f64; 2]>,
    pub centres: Vec<[f64; 2]>,
    /// Half the side of the square shown, centred on the origin.
    pub extent: f64,
}

/// The side of one panel in pixels.
pub const PANEL: u32 = 400;

/// PNG bytes of `panels` side by side in rows of `columns`, under a `title`.
pub fn scatter_png(title: &str, panels: &[ScatterPanel], columns: usize) -> Result<Vec<u8>> {
    ensure_font();
    let err = |e: &dyn std::fmt::Display| GanError::Output(format!("cannot draw scatter: {e}"));
    let columns = columns.clamp(1, panels.len().max(1));
    let rows = panels.len().div_ceil(columns).max(1);
    let width = PANEL * columns as u32;
    // One header line per line of the title, later ones (such as the paper's figures) smaller,
    // each wrapped at spaces to the figure's width: a one-panel figure is narrow.
    let lines: Vec<(String, u32)> = title
        .lines()
        .enumerate()
        .flat_map(|(i, line)| {
            let size = if i == 0 { 20 } else { 15 };
            wrap_to_width(line, size, width.saturating_sub(24))
                .into_iter()
                .map(move |l| (l, size))
        })
        .collect();
    let header = 36 + 22 * lines.len().saturating_sub(1) as u32;
    let height = PANEL * rows as u32 + header;
    let mut rgb = vec![255u8; (width * height * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (width, height)).into_drawing_area();
        let (top, body) = root.split_vertically(header);
        for (i, (line, size)) in lines.iter().enumerate() {
            let y = if i == 0 { 8 } else { 14 + 22 * i as i32 };
            top.draw_text(line, &(FONT, *size).into_font().color(&BLACK), (12, y))
                .map_err(|e| err(&e))?;
        }
        let areas = body.split_evenly((rows, columns));
        for (panel, area) in panels.iter().zip(areas) {
            let e = panel.extent;
            let mut chart = ChartBuilder::on(&area)
                .caption(&panel.title, (FONT, 13))
                .margin(8)
                .x_label_area_size(24)
                .y_label_area_size(32)
                .build_cartesian_2d(-e..e, -e..e)
                .map_err(|e| err(&e))?;
            chart
                .configure_mesh()
                .disable_mesh()
                .label_style((FONT, 11))
                .draw()
                .map_err(|e| err(&e))?;
            chart
                .draw_series(
                    panel
                        .points
                        .iter()
                        .filter(|p| p[0].abs() <= e && p[1].abs() <= e)
                        .map(|p| Circle::new((p[0], p[1]), 1, BLUE.mix(0.35).filled())),
                )
                .map_err(|e| err(&e))?;
            chart
                .draw_series(
                    panel
                        .centres
                        .iter()
                        .map(|c| Cross::new((c[0], c[1]), 5, RED.stroke_width(2))),
                )
                .map_err(|e| err(&e))?;
        }
        root.present().map_err(|e| err(&e))?;
    }
    png_bytes(width, height, rgb)
}

/// `line` broken at spaces into pieces no wider than `width` pixels in the figure's font at
/// `size`; a single word wider than that stays whole.
pub fn wrap_to_width(line: &str, size: u32, width: u32) -> Vec<String> {
    let font: FontDesc = (FONT, size as f64).into_font();
    let fits = |text: &str| font.box_size(text).map(|(w, _)| w <= width).unwrap_or(true);
    let mut pieces = Vec::new();
    let mut current = String::new();
    for word in line.split(' ') {
        let joined = if current.is_empty() {
            word.to_string()
        } else {
            format!("{current} {word}")
        };
        if current.is_empty() || fits(&joined) {
            current = joined;
        } else {
            pieces.push(std::mem::replace(&mut current, word.to_string()));
        }
    }
    pieces.push(current);
    pieces
}
