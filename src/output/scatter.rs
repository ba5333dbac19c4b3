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

const PANEL: u32 = 400;

/// PNG bytes of `panels` side by side in rows of `columns`, under a `title`.
pub fn scatter_png(title: &str, panels: &[ScatterPanel], columns: usize) -> Result<Vec<u8>> {
    ensure_font();
    let err = |e: &dyn std::fmt::Display| GanError::Output(format!("cannot draw scatter: {e}"));
    let columns = columns.clamp(1, panels.len().max(1));
    let rows = panels.len().div_ceil(columns).max(1);
    // One header line per line of the title; later lines (such as the paper's figures) smaller.
    let lines: Vec<&str> = title.lines().collect();
    let header = 36 + 22 * lines.len().saturating_sub(1) as u32;
    let (width, height) = (PANEL * columns as u32, PANEL * rows as u32 + header);
    let mut rgb = vec![255u8; (width * height * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (width, height)).into_drawing_area();
        let (top, body) = root.split_vertically(header);
        for (i, line) in lines.iter().enumerate() {
            let size = if i == 0 { 20 } else { 15 };
            let y = if i == 0 { 8 } else { 14 + 22 * i as i32 };
            top.draw_text(line, &(FONT, size).into_font().color(&BLACK), (12, y))
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
