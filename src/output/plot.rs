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
    let per_epoch = |f: &dyn Fn(&EpochMeans) -> Option<f64>| -> Vec<(f64, f64)> {
        epochs
            .iter()
            .filter_map(|m| f(m).map(|v| (m.epoch as f64 + 1.0, v)))
            .collect()
    };
    let mut series = vec![
        ("discriminator".to_string(), per_epoch(&|m| Some(m.d_loss))),
        ("generator".to_string(), per_epoch(&|m| Some(m.g_loss))),
    ];
    // The critic's Wasserstein estimate, for the objectives that have one.
    let w = per_epoch(&|m| m.wasserstein);
    if !w.is_empty() {
        series.push(("Wasserstein estimate".to_string(), w));
    }
    line_plot("Mean per epoch", "loss / estimate", &series)
}

/// Colours of the series of a plot, in order.
const PALETTE: [RGBColor; 8] = [
    RED,
    BLUE,
    GREEN,
    RGBColor(230, 140, 0),
    MAGENTA,
    CYAN,
    RGBColor(120, 80, 40),
    BLACK,
];

/// PNG bytes of named series of (epoch, value) points drawn as lines with markers, against
/// epochs numbered from 1.
pub fn line_plot(
    caption: &str,
    y_desc: &str,
    series: &[(String, Vec<(f64, f64)>)],
) -> Result<Vec<u8>> {
    ensure_font();
    let err = |e: &dyn std::fmt::Display| GanError::Output(format!("cannot draw {caption}: {e}"));
    let values = series
        .iter()
        .flat_map(|(_, points)| points.iter().map(|p| p.1))
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
    let last = series
        .iter()
        .flat_map(|(_, points)| points.iter().map(|p| p.0))
        .fold(2.0f64, f64::max);

    let mut rgb = vec![255u8; (WIDTH * HEIGHT * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (WIDTH, HEIGHT)).into_drawing_area();
        let mut chart = ChartBuilder::on(&root)
            .caption(caption, (FONT, 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(1.0..last, lo..hi)
            .map_err(|e| err(&e))?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .y_desc(y_desc)
            .label_style((FONT, 14))
            .draw()
            .map_err(|e| err(&e))?;
        for ((name, points), color) in series.iter().zip(PALETTE.iter().cycle()) {
            let color = *color;
            chart
                .draw_series(LineSeries::new(
                    points.iter().copied(),
                    color.stroke_width(2),
                ))
                .map_err(|e| err(&e))?
                .label(name.as_str())
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color));
            chart
                .draw_series(points.iter().map(|&p| Circle::new(p, 3, color.filled())))
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
