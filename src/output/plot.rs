//! `losses.png`: the tutorial's plot of per-epoch mean D and G losses, with the critic's
//! Wasserstein estimate for WGAN runs.

use plotters::prelude::*;

use super::loss_log::EpochMeans;
use super::{FONT, ensure_font, png_bytes};
use crate::error::{GanError, Result};

const WIDTH: u32 = 900;
const HEIGHT: u32 = 450;

/// PNG bytes of the loss plot; epochs are numbered from 1 on the x axis.
pub fn loss_plot(epochs: &[EpochMeans]) -> Result<Vec<u8>> {
    ensure_font();
    let err = |e: &dyn std::fmt::Display| GanError::Output(format!("cannot draw loss plot: {e}"));
    let d: Vec<(f64, f64)> = epochs
        .iter()
        .map(|m| (m.epoch as f64 + 1.0, m.d_loss))
        .collect();
    let g: Vec<(f64, f64)> = epochs
        .iter()
        .map(|m| (m.epoch as f64 + 1.0, m.g_loss))
        .collect();
    // The critic's Wasserstein estimate, for the objectives that have one.
    let w: Vec<(f64, f64)> = epochs
        .iter()
        .filter_map(|m| m.wasserstein.map(|w| (m.epoch as f64 + 1.0, w)))
        .collect();
    let values = d
        .iter()
        .chain(&g)
        .chain(&w)
        .map(|p| p.1)
        .filter(|v| v.is_finite());
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    let (lo, hi) = if lo.is_finite() {
        let pad = ((hi - lo) * 0.1).max(0.05);
        ((lo - pad).min(0.0).max(lo - pad), hi + pad)
    } else {
        (0.0, 1.0)
    };
    let last = epochs.len().max(2) as f64;

    let mut rgb = vec![255u8; (WIDTH * HEIGHT * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (WIDTH, HEIGHT)).into_drawing_area();
        let mut chart = ChartBuilder::on(&root)
            .caption("Mean per epoch", (FONT, 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(1.0..last, lo..hi)
            .map_err(|e| err(&e))?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .y_desc("loss / estimate")
            .label_style((FONT, 14))
            .draw()
            .map_err(|e| err(&e))?;
        let mut series_list = vec![(&d, "discriminator", RED), (&g, "generator", BLUE)];
        if !w.is_empty() {
            series_list.push((&w, "Wasserstein estimate", GREEN));
        }
        for (series, name, color) in series_list {
            chart
                .draw_series(LineSeries::new(
                    series.iter().copied(),
                    color.stroke_width(2),
                ))
                .map_err(|e| err(&e))?
                .label(name)
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color));
            chart
                .draw_series(series.iter().map(|&p| Circle::new(p, 3, color.filled())))
                .map_err(|e| err(&e))?;
        }
        chart
            .configure_series_labels()
            .label_font((FONT, 14))
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(|e| err(&e))?;
        root.present().map_err(|e| err(&e))?;
    }
    png_bytes(WIDTH, HEIGHT, rgb)
}
