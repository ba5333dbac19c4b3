//! `losses.png` and the report's curves: every iteration's value, faint, under its smoothed
//! curve (TensorBoard's smoothing: a debiased exponential moving average), so that a reader sees
//! both the trend and the spread around it. D and G losses, with the critic's Wasserstein
//! estimate for WGAN runs.

use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use super::loss_log::StepRecord;
use super::{FONT, ensure_font, png_bytes};
use crate::error::{GanError, Result};

const WIDTH: u32 = 900;
const HEIGHT: u32 = 450;

/// (iteration, value) points.
pub type Points = Vec<(f64, f64)>;

/// A named series of points.
pub type Series = (String, Points);

/// PNG bytes of the loss plot of a GAN run's rows, per iteration.
pub fn loss_plot(rows: &[StepRecord]) -> Result<Vec<u8>> {
    let per_step = |f: &dyn Fn(&StepRecord) -> Option<f64>| -> Vec<(f64, f64)> {
        rows.iter()
            .filter_map(|r| f(r).map(|v| (r.step as f64, v)))
            .collect()
    };
    let mut series = vec![
        ("discriminator".to_string(), per_step(&|r| Some(r.d_loss))),
        ("generator".to_string(), per_step(&|r| Some(r.g_loss))),
    ];
    // The critic's Wasserstein estimate, for the objectives that have one.
    let w = per_step(&|r| r.wasserstein);
    if !w.is_empty() {
        series.push(("Wasserstein estimate".to_string(), w));
    }
    curve_plot("Losses per iteration", "loss / estimate", &series)
}

/// The weight of the moving average for a curve of `points` points: about 40 points' worth of
/// memory (TensorBoard's default 0.6 at 100 points), none below 40, at most 0.99.
pub fn smoothing_for(points: usize) -> f64 {
    (1.0 - 40.0 / points.max(1) as f64).clamp(0.0, 0.99)
}

/// TensorBoard's smoothing of `points`: an exponential moving average of weight `weight`,
/// divided by 1 − weightⁿ after n points so that its start is not pulled towards zero.
/// Non-finite values are passed over (they keep their place, smoothed as the last value).
pub fn smoothed(points: &[(f64, f64)], weight: f64) -> Vec<(f64, f64)> {
    let (mut average, mut seen) = (0.0, 0i32);
    let mut last = f64::NAN;
    points
        .iter()
        .map(|&(x, y)| {
            if y.is_finite() {
                average = average * weight + (1.0 - weight) * y;
                seen += 1;
                last = average / (1.0 - weight.powi(seen));
            }
            (x, last)
        })
        .collect()
}

/// The `q` quantile (0..=1) of the finite values of `values`.
fn quantile(values: &mut [f64], q: f64) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    (n > 0).then(|| values[((n - 1) as f64 * q).round() as usize])
}

/// PNG bytes of named per-iteration series: each as its raw values (a thin, faint line) under
/// its smoothed curve. The y range holds the smoothed curves and the 2nd to 98th percentile of
/// the raw values, so that one spike does not flatten the rest.
pub fn curve_plot(caption: &str, y_desc: &str, series: &[Series]) -> Result<Vec<u8>> {
    // Each series with its smoothed curve.
    let curves: Vec<(String, Points, Points)> = series
        .iter()
        .map(|(name, points)| {
            let smooth = smoothed(points, smoothing_for(points.len()));
            (name.clone(), points.clone(), smooth)
        })
        .collect();
    let mut raw: Vec<f64> = curves
        .iter()
        .flat_map(|(_, points, _)| points.iter().map(|p| p.1))
        .filter(|v| v.is_finite())
        .collect();
    let raw_range = (quantile(&mut raw, 0.02), quantile(&mut raw, 0.98));
    let smooth = curves
        .iter()
        .flat_map(|(_, _, points)| points.iter().map(|p| p.1))
        .filter(|v| v.is_finite());
    let (lo, hi) = smooth.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    let (lo, hi) = match raw_range {
        (Some(a), Some(b)) => (lo.min(a), hi.max(b)),
        _ => (lo, hi),
    };
    let y_range = padded(lo, hi);
    let last = curves
        .iter()
        .flat_map(|(_, points, _)| points.iter().map(|p| p.0))
        .fold(2.0f64, f64::max);
    draw(
        caption,
        ("iteration", y_desc),
        (1.0..last, y_range),
        |chart| {
            for ((name, points, smooth), color) in curves.iter().zip(PALETTE.iter().cycle()) {
                let color = *color;
                chart
                    .draw_series(LineSeries::new(
                        points.iter().copied(),
                        color.mix(0.25).stroke_width(1),
                    ))
                    .map_err(|e| e.to_string())?;
                chart
                    .draw_series(LineSeries::new(
                        smooth.iter().copied(),
                        color.stroke_width(2),
                    ))
                    .map_err(|e| e.to_string())?
                    .label(format!("{name} (smoothed)"))
                    .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color));
            }
            Ok(())
        },
    )
}

/// PNG bytes of a few measured points per series (scores at checkpoints), each joined by lines
/// with a marker at every point, beside horizontal dashed lines at `references` (what real data
/// scores), so that a reader sees where the series peaked and how far from the ceiling.
pub fn points_plot(
    caption: &str,
    y_desc: &str,
    series: &[Series],
    references: &[(String, f64)],
) -> Result<Vec<u8>> {
    let values = series
        .iter()
        .flat_map(|(_, points)| points.iter().map(|p| p.1))
        .chain(references.iter().map(|r| r.1))
        .filter(|v| v.is_finite());
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    let xs = series
        .iter()
        .flat_map(|(_, points)| points.iter().map(|p| p.0));
    let (first, last) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
        (a.min(x), b.max(x))
    });
    let (first, last) = if first.is_finite() && last > first {
        let pad = (last - first) * 0.05;
        (first - pad, last + pad)
    } else {
        (0.0, first.max(1.0) * 2.0)
    };
    draw(
        caption,
        ("iteration", y_desc),
        (first..last, padded(lo, hi)),
        |chart| {
            for ((name, points), color) in series.iter().zip(PALETTE.iter().cycle()) {
                let color = *color;
                chart
                    .draw_series(LineSeries::new(
                        points.iter().copied(),
                        color.stroke_width(2),
                    ))
                    .map_err(|e| e.to_string())?
                    .label(name.clone())
                    .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color));
                chart
                    .draw_series(points.iter().map(|&p| Circle::new(p, 4, color.filled())))
                    .map_err(|e| e.to_string())?;
            }
            for ((name, value), color) in references.iter().zip(PALETTE.iter().cycle()) {
                let color = *color;
                let dashes = DashedLineSeries::new(
                    [(first, *value), (last, *value)],
                    8,
                    6,
                    color.mix(0.6).stroke_width(1),
                );
                chart
                    .draw_series(dashes)
                    .map_err(|e| e.to_string())?
                    .label(name.clone())
                    .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color.mix(0.6)));
            }
            Ok(())
        },
    )
}

/// `lo..hi` with a margin of a tenth of the span (at least 0.05), or 0..1 with no finite value.
fn padded(lo: f64, hi: f64) -> std::ops::Range<f64> {
    if lo.is_finite() && hi.is_finite() {
        let pad = ((hi - lo) * 0.1).max(0.05);
        (lo - pad)..(hi + pad)
    } else {
        0.0..1.0
    }
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

/// The chart both plots draw on: `caption`, axis descriptions, ranges, a mesh, whatever `series`
/// draws, and the legend of what it labelled.
fn draw(
    caption: &str,
    (x_desc, y_desc): (&str, &str),
    (x_range, y_range): (std::ops::Range<f64>, std::ops::Range<f64>),
    series: impl FnOnce(
        &mut ChartContext<'_, BitMapBackend<'_>, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    ) -> std::result::Result<(), String>,
) -> Result<Vec<u8>> {
    ensure_font();
    let err = |e: &dyn std::fmt::Display| GanError::Output(format!("cannot draw {caption}: {e}"));
    let mut rgb = vec![255u8; (WIDTH * HEIGHT * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (WIDTH, HEIGHT)).into_drawing_area();
        let mut chart = ChartBuilder::on(&root)
            .caption(caption, (FONT, 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(x_range, y_range)
            .map_err(|e| err(&e))?;
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .y_desc(y_desc)
            .x_label_formatter(&|x| format!("{x:.0}"))
            .label_style((FONT, 14))
            .draw()
            .map_err(|e| err(&e))?;
        series(&mut chart).map_err(|e| err(&e))?;
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
