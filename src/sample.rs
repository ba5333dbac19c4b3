//! `ganforge sample`: images from a saved run's generator.

use std::path::{Path, PathBuf};

use burn::module::Module;

use crate::device::DeviceChoice;
use crate::error::{GanError, Result};
use crate::models::GeneratorNet;
use crate::output::checkpoint;
use crate::output::figure::SampleFigure;
use crate::output::run_dir::RunDir;
use crate::output::write_atomic;
use crate::train::label_tensor;
use crate::train::random::{Stream, noise, stream};

/// Images generated per forward pass, to bound memory for large `n`.
const CHUNK: usize = 256;

#[derive(Debug, Clone)]
pub struct SampleOptions {
    pub run: PathBuf,
    pub n: usize,
    pub seed: u64,
    /// The grid's PNG; default `<run>/samples/sample_seed<S>_n<N>.png`.
    pub out: Option<PathBuf>,
    /// Also one PNG per image in this (new or empty) folder.
    pub each: Option<PathBuf>,
    /// Draw only this class (conditional runs). Without it a conditional run's grid has one row
    /// per class.
    pub label: Option<usize>,
    pub device: DeviceChoice,
}

#[derive(Debug, Clone)]
pub struct SampleResult {
    pub grid: PathBuf,
    pub each: Vec<PathBuf>,
}

/// What `generate` draws: `n` images, or for a conditional run either `n` of one class or, when
/// no class is given, rows of the same count for every class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Draw {
    /// `n` images (of any class).
    Any(usize),
    /// `n` images of class `label`.
    Class { label: usize, n: usize },
    /// `per_class` images of each class, class by class.
    EveryClass { per_class: usize },
}

/// Images from the run's latest generator (its moving average when it keeps one), channel-major
/// in [-1, 1], each with its class in a conditional run; the same seed gives the same images.
pub fn generate(
    run: &Path,
    draw: Draw,
    seed: u64,
    device: DeviceChoice,
) -> Result<Vec<(Vec<f32>, Option<usize>)>> {
    let run = RunDir::open(run)?;
    let config = run.read_config()?;
    let classes = config.condition_classes();
    let labels: Option<Vec<usize>> = match draw {
        Draw::Any(_) if classes == 0 => None,
        Draw::Any(n) => Some((0..n).map(|i| i % classes).collect()),
        Draw::Class { label, n } => {
            if classes == 0 {
                return Err(GanError::config(
                    "label",
                    "applies to conditional runs only; this run was trained without labels",
                ));
            }
            if label >= classes {
                return Err(GanError::config(
                    "label",
                    format!("is {label}: this run's classes are 0 to {}", classes - 1),
                ));
            }
            Some(vec![label; n])
        }
        Draw::EveryClass { per_class } => Some(
            (0..classes.max(1))
                .flat_map(|c| std::iter::repeat_n(c, per_class))
                .collect(),
        ),
    };
    let n = match (draw, &labels) {
        (_, Some(l)) => l.len(),
        (Draw::Any(n), None) => n,
        _ => 0,
    };
    let device = device.device()?;
    let dir = checkpoint::latest(&run.checkpoints_dir())?;
    let generator = checkpoint::load_generator(&config, &dir, &device)?.valid();
    let mut rng = stream(seed, 0, Stream::Sample);
    let mut images = Vec::with_capacity(n);
    let mut start = 0;
    while start < n {
        let count = (n - start).min(CHUNK);
        let z = noise(
            &mut rng,
            config.schedule.noise,
            count,
            config.networks.latent,
            &device,
        );
        let chunk_labels = labels.as_ref().map(|l| &l[start..start + count]);
        let out = generator.forward_conditioned(z, chunk_labels.map(|l| label_tensor(l, &device)));
        let [_, c, h, w] = out.dims();
        let values = crate::tensor_values(out);
        for (i, image) in values.chunks_exact(c * h * w).enumerate() {
            images.push((image.to_vec(), chunk_labels.map(|l| l[i])));
        }
        start += count;
    }
    Ok(images)
}

/// One image (channel-major, values in [-1, 1]) as an 8-bit grey or RGB image.
pub fn pixels_to_image(pixels: &[f32], channels: usize, spatial: usize) -> image::DynamicImage {
    let plane = spatial * spatial;
    let byte = |v: f32| (((v.clamp(-1.0, 1.0) + 1.0) * 127.5).round()) as u8;
    let side = spatial as u32;
    if channels == 1 {
        let buffer = pixels.iter().map(|&v| byte(v)).collect();
        image::DynamicImage::ImageLuma8(
            image::GrayImage::from_raw(side, side, buffer).expect("one byte a pixel"),
        )
    } else {
        let buffer = (0..plane)
            .flat_map(|i| (0..3).map(move |c| byte(pixels[c * plane + i])))
            .collect();
        image::DynamicImage::ImageRgb8(
            image::RgbImage::from_raw(side, side, buffer).expect("three bytes a pixel"),
        )
    }
}

/// One image as PNG bytes (grey or RGB).
pub fn image_png(pixels: &[f32], channels: usize, spatial: usize) -> Result<Vec<u8>> {
    let mut out = std::io::Cursor::new(Vec::new());
    pixels_to_image(pixels, channels, spatial)
        .write_to(&mut out, image::ImageFormat::Png)
        .map_err(|e| GanError::Output(format!("cannot encode PNG: {e}")))?;
    Ok(out.into_inner())
}

pub fn sample(options: &SampleOptions) -> Result<SampleResult> {
    if options.n == 0 {
        return Err(GanError::config("n", "is 0: ask for at least one image"));
    }
    let run = RunDir::open(&options.run)?;
    let grid_path = options.out.clone().unwrap_or_else(|| {
        run.samples_dir()
            .join(format!("sample_seed{}_n{}.png", options.seed, options.n))
    });
    let is_png = grid_path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("png"));
    if !is_png {
        return Err(GanError::config(
            "out",
            format!(
                "is {}: the grid is written as PNG, give a path ending in .png",
                grid_path.display()
            ),
        ));
    }
    if let Some(each) = &options.each {
        crate::output::require_empty_dir(
            each,
            "`--each` writes into a new or empty folder so that no file is overwritten",
        )?;
    }
    let config = run.read_config()?;
    config.require_images("ganforge sample")?;
    let classes = config.condition_classes();
    let (draw, columns) = match options.label {
        Some(label) => (
            Draw::Class {
                label,
                n: options.n,
            },
            (options.n as f64).sqrt().ceil() as usize,
        ),
        None if classes > 0 => {
            let per_class = options.n.div_ceil(classes);
            (Draw::EveryClass { per_class }, per_class)
        }
        None => (
            Draw::Any(options.n),
            (options.n as f64).sqrt().ceil() as usize,
        ),
    };
    let images = generate(&options.run, draw, options.seed, options.device)?;

    // Everything is encoded before anything is written.
    let pixels: Vec<Vec<f32>> = images.iter().map(|(p, _)| p.clone()).collect();
    let grid = SampleFigure::grid(pixels, config.input.channels, config.input.spatial, columns)
        .to_png()?;
    let singles = match &options.each {
        Some(_) => images
            .iter()
            .map(|(p, label)| {
                Ok((
                    image_png(p, config.input.channels, config.input.spatial)?,
                    *label,
                ))
            })
            .collect::<Result<Vec<_>>>()?,
        None => Vec::new(),
    };
    if let Some(parent) = grid_path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|e| GanError::io(format!("cannot create {}", parent.display()), e))?;
    }
    write_atomic(&grid_path, &grid)?;
    let each_paths = match &options.each {
        // The folder appears complete or not at all.
        Some(each) => {
            let files: Vec<(PathBuf, Vec<u8>)> = singles
                .into_iter()
                .enumerate()
                .map(|(i, (png, label))| {
                    let name = match label {
                        Some(label) => format!("sample_{i:05}_class{label}.png"),
                        None => format!("sample_{i:05}.png"),
                    };
                    (PathBuf::from(name), png)
                })
                .collect();
            crate::output::write_folder_atomic(each, &files)?
        }
        None => Vec::new(),
    };
    Ok(SampleResult {
        grid: grid_path,
        each: each_paths,
    })
}
