//! `ganforge interpolate`: walks between points of G's latent space along great circles
//! (spherical interpolation: Gaussian noise concentrates near a sphere, so a straight line between
//! two samples passes through improbably short vectors), as an image grid or an animated GIF.

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::prelude::*;

use crate::device::DeviceChoice;
use crate::error::{GanError, Result};
use crate::models::GeneratorNet;
use crate::output::checkpoint;
use crate::output::figure::SampleFigure;
use crate::output::run_dir::RunDir;
use crate::output::write_atomic;
use crate::sample::pixels_to_image;
use crate::train::label_tensor;
use crate::train::random::{Stream, noise, stream};

#[derive(Debug, Clone)]
pub struct InterpolateOptions {
    pub run: PathBuf,
    /// Images along each walk, ends included (at least 2).
    pub steps: usize,
    /// Walks, each between two random latent points.
    pub rows: usize,
    pub seed: u64,
    /// `.png` for a grid (a row per walk), `.gif` for an animation (a frame per step).
    pub out: PathBuf,
    pub device: DeviceChoice,
}

/// Spherical interpolation between `a` and `b` at `t` ∈ [0, 1]; linear when they are (nearly)
/// parallel, where the sphere's formula divides by sin Ω ≈ 0.
pub fn slerp(a: &[f32], b: &[f32], t: f32) -> Vec<f32> {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    let cos = (dot / (norm(a) * norm(b)).max(1e-12)).clamp(-1.0, 1.0);
    let omega = cos.acos();
    let (wa, wb) = if omega.sin().abs() < 1e-4 {
        (1.0 - t, t)
    } else {
        (
            ((1.0 - t) * omega).sin() / omega.sin(),
            (t * omega).sin() / omega.sin(),
        )
    };
    a.iter().zip(b).map(|(x, y)| wa * x + wb * y).collect()
}

/// Writes the walks; returns the path written.
pub fn interpolate(options: &InterpolateOptions) -> Result<PathBuf> {
    if options.steps < 2 || options.rows == 0 {
        return Err(GanError::config(
            "steps",
            "must be at least 2 (the two ends) and `rows` at least 1",
        ));
    }
    let gif = match extension(&options.out).as_deref() {
        Some("png") => false,
        Some("gif") => true,
        _ => {
            return Err(GanError::config(
                "out",
                format!(
                    "is {}: name a .png (a grid) or a .gif (an animation)",
                    options.out.display()
                ),
            ));
        }
    };
    if options.out.exists() {
        return Err(GanError::Output(format!(
            "{} exists: choose another --out (nothing was changed)",
            options.out.display()
        )));
    }
    let run = RunDir::open(&options.run)?;
    let config = run.read_config()?;
    config.require_images("ganforge interpolate")?;
    let device = options.device.device()?;
    let dir = checkpoint::latest(&run.checkpoints_dir())?;
    let generator = checkpoint::load_generator(&config, &dir, &device)?.valid();

    let mut rng = stream(options.seed, 0, Stream::Sample);
    let ends = noise(
        &mut rng,
        config.schedule.noise,
        2 * options.rows,
        config.networks.latent,
        &device,
    );
    let ends = crate::tensor_values(ends);
    let latent = config.networks.latent;
    let mut points = Vec::with_capacity(options.rows * options.steps * latent);
    for r in 0..options.rows {
        let a = &ends[2 * r * latent..(2 * r + 1) * latent];
        let b = &ends[(2 * r + 1) * latent..(2 * r + 2) * latent];
        for s in 0..options.steps {
            let t = s as f32 / (options.steps - 1) as f32;
            points.extend(slerp(a, b, t));
        }
    }
    let n = options.rows * options.steps;
    let z = Tensor::<2>::from_data(TensorData::new(points, [n, latent]), &device);
    // A conditional run walks within one class per row.
    let classes = config.condition_classes();
    let labels = (classes > 0).then(|| {
        let l: Vec<usize> = (0..n).map(|i| (i / options.steps) % classes).collect();
        label_tensor(&l, &device)
    });
    let images = generator.forward_conditioned(z, labels);
    let [_, c, h, w] = images.dims();
    let images: Vec<Vec<f32>> = crate::tensor_values(images)
        .chunks_exact(c * h * w)
        .map(<[f32]>::to_vec)
        .collect();
    let bytes = if gif {
        animation(
            &images,
            options,
            config.input.channels,
            config.input.spatial,
        )?
    } else {
        SampleFigure::grid(
            images,
            config.input.channels,
            config.input.spatial,
            options.steps,
        )
        .to_png()?
    };
    write_atomic(&options.out, &bytes)?;
    Ok(options.out.clone())
}

fn extension(path: &Path) -> Option<String> {
    path.extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
}

/// A GIF whose frame `s` shows step `s` of every walk side by side, going there and back.
fn animation(
    images: &[Vec<f32>],
    options: &InterpolateOptions,
    channels: usize,
    spatial: usize,
) -> Result<Vec<u8>> {
    use image::codecs::gif::{GifEncoder, Repeat};
    use image::{Delay, Frame, RgbaImage};
    let scale = (64 / spatial).max(1) as u32;
    let side = spatial as u32 * scale;
    let (width, height) = (side * options.rows as u32, side);
    let forward = 0..options.steps;
    let back = (1..options.steps - 1).rev();
    let mut out = Vec::new();
    {
        let mut encoder = GifEncoder::new_with_speed(&mut out, 10);
        encoder
            .set_repeat(Repeat::Infinite)
            .map_err(|e| GanError::Output(format!("cannot encode GIF: {e}")))?;
        for s in forward.chain(back) {
            let mut frame = RgbaImage::new(width, height);
            for r in 0..options.rows {
                let tile = pixels_to_image(&images[r * options.steps + s], channels, spatial)
                    .resize_exact(side, side, image::imageops::FilterType::Nearest)
                    .to_rgba8();
                image::imageops::replace(&mut frame, &tile, (r as u32 * side) as i64, 0);
            }
            encoder
                .encode_frame(Frame::from_parts(
                    frame,
                    0,
                    0,
                    Delay::from_numer_denom_ms(120, 1),
                ))
                .map_err(|e| GanError::Output(format!("cannot encode GIF: {e}")))?;
        }
    }
    Ok(out)
}
