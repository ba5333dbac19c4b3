//! `ganforge sample`: images from a saved run's generator.

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::prelude::Device;

use crate::config::NoiseKind;
use crate::device::DeviceChoice;
use crate::error::{GanError, Result};
use crate::models::{DiscriminatorNet, Generator, GeneratorNet};
use crate::output::figure::SampleFigure;
use crate::output::run_dir::RunDir;
use crate::output::write_atomic;
use crate::output::{checkpoint, torch_weights};
use crate::train::label_tensor;
use crate::train::random::{Stream, noise, stream};

/// Images generated per forward pass, to bound memory for large `n`.
const CHUNK: usize = 256;

#[derive(Debug, Clone)]
pub struct SampleOptions {
    /// A run directory, or a generator's weights file (`.safetensors`).
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
    /// Also the noise, labels and images as float tensors in this `.safetensors` file.
    pub tensors: Option<PathBuf>,
    pub device: DeviceChoice,
}

#[derive(Debug, Clone)]
pub struct SampleResult {
    pub grid: PathBuf,
    pub each: Vec<PathBuf>,
    pub tensors: Option<PathBuf>,
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

/// A generator to draw from, with what drawing needs.
struct Source {
    generator: Generator,
    classes: usize,
    noise: NoiseKind,
    latent: usize,
    channels: usize,
    spatial: usize,
}

/// The generator at `path`: a run directory's latest (its moving average when it keeps one) or
/// the one of its checkpoint directory `checkpoint`, or a weights file (`.safetensors`, see
/// [`torch_weights`]).
fn open_source(path: &Path, checkpoint: Option<&Path>, device: &Device) -> Result<Source> {
    if torch_weights::is_weights_file(path) {
        let file = torch_weights::load_generator_file(path, device)?;
        return Ok(Source {
            generator: file.generator,
            classes: file.spec.classes,
            noise: file.noise,
            latent: file.spec.latent,
            channels: file.spec.channels,
            spatial: file.spec.spatial,
        });
    }
    let run = RunDir::open(path)?;
    let config = run.read_config()?;
    config.require_images("ganforge sample")?;
    let dir = match checkpoint {
        Some(dir) => dir.to_path_buf(),
        None => checkpoint::latest(&run.checkpoints_dir())?,
    };
    Ok(Source {
        generator: checkpoint::load_generator(&config, &dir, device)?,
        classes: config.condition_classes(),
        noise: config.schedule.noise,
        latent: config.networks.latent,
        channels: config.input.channels,
        spatial: config.input.spatial,
    })
}

/// What [`draw_images`] drew: the images with their classes, and the noise behind them.
#[derive(Debug, Clone)]
pub struct Drawn {
    /// Channel-major, in [-1, 1], each with its class in a conditional run.
    pub images: Vec<(Vec<f32>, Option<usize>)>,
    /// `[images, latent]`, row-major.
    pub noise: Vec<f32>,
    pub latent: usize,
    pub channels: usize,
    pub spatial: usize,
}

/// Images from the run's latest generator (its moving average when it keeps one), channel-major
/// in [-1, 1], each with its class in a conditional run; the same seed gives the same images.
pub fn generate(
    run: &Path,
    draw: Draw,
    seed: u64,
    device: DeviceChoice,
) -> Result<Vec<(Vec<f32>, Option<usize>)>> {
    Ok(draw_images(run, draw, seed, device)?.images)
}

/// [`generate`] from a run directory or a weights file, keeping the noise.
pub fn draw_images(source: &Path, draw: Draw, seed: u64, device: DeviceChoice) -> Result<Drawn> {
    let device = device.device()?;
    let source = open_source(source, None, &device)?;
    draw_from(source, draw, seed, &device)
}

/// [`generate`] from the generator of one checkpoint directory of the run.
pub fn generate_at(
    run: &Path,
    checkpoint: &Path,
    draw: Draw,
    seed: u64,
    device: DeviceChoice,
) -> Result<Vec<(Vec<f32>, Option<usize>)>> {
    let device = device.device()?;
    let source = open_source(run, Some(checkpoint), &device)?;
    Ok(draw_from(source, draw, seed, &device)?.images)
}

fn draw_from(source: Source, draw: Draw, seed: u64, device: &Device) -> Result<Drawn> {
    let classes = source.classes;
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
    let generator = source.generator.valid();
    let mut rng = stream(seed, 0, Stream::Sample);
    let mut images = Vec::with_capacity(n);
    let mut all_noise = Vec::with_capacity(n * source.latent);
    let mut start = 0;
    while start < n {
        let count = (n - start).min(CHUNK);
        let z = noise(&mut rng, source.noise, count, source.latent, device);
        all_noise.extend(crate::tensor_values(z.clone()));
        let chunk_labels = labels.as_ref().map(|l| &l[start..start + count]);
        let out = generator.forward_conditioned(z, chunk_labels.map(|l| label_tensor(l, device)));
        let [_, c, h, w] = out.dims();
        let values = crate::tensor_values(out);
        for (i, image) in values.chunks_exact(c * h * w).enumerate() {
            images.push((image.to_vec(), chunk_labels.map(|l| l[i])));
        }
        start += count;
    }
    Ok(Drawn {
        images,
        noise: all_noise,
        latent: source.latent,
        channels: source.channels,
        spatial: source.spatial,
    })
}

/// The run's latest discriminator's logits of the drawn images (`[n / pack, outputs]`), or None
/// when `source` is a weights file (no discriminator) or the images do not fill D's packs.
fn discriminator_logits(
    source: &Path,
    drawn: &Drawn,
    device: &Device,
) -> Result<Option<(Vec<f32>, Vec<usize>)>> {
    if torch_weights::is_weights_file(source) {
        return Ok(None);
    }
    let run = RunDir::open(source)?;
    let config = run.read_config()?;
    let n = drawn.images.len();
    if n == 0 || !n.is_multiple_of(config.remedies.pack) {
        return Ok(None);
    }
    let dir = checkpoint::latest(&run.checkpoints_dir())?;
    let discriminator = checkpoint::load_discriminator(&config, &dir, device)?;
    let values: Vec<f32> = drawn.images.iter().flat_map(|(p, _)| p.clone()).collect();
    let images = burn::tensor::Tensor::<4>::from_data(
        burn::tensor::TensorData::new(values, [n, drawn.channels, drawn.spatial, drawn.spatial]),
        device,
    );
    let labels: Option<Vec<usize>> = drawn.images.iter().map(|(_, l)| *l).collect();
    let logits =
        discriminator.forward_conditioned(images, labels.map(|l| label_tensor(&l, device)));
    let shape = logits.dims().to_vec();
    Ok(Some((crate::tensor_values(logits), shape)))
}

/// The noise, labels and images of `drawn` as a safetensors file (`noise` `[n, latent]` f32,
/// `labels` `[n]` i64 when conditional, `images` `[n, channels, side, side]` f32, and with
/// `d_logits` the discriminator's logits of the images, `[n / pack, outputs]` f32), so that
/// another implementation can be fed the same noise and compared value by value.
pub fn drawn_tensors(drawn: &Drawn, d_logits: Option<&(Vec<f32>, Vec<usize>)>) -> Result<Vec<u8>> {
    let n = drawn.images.len();
    let floats = |v: &[f32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    let image_values: Vec<f32> = drawn.images.iter().flat_map(|(p, _)| p.clone()).collect();
    let mut tensors = vec![
        (
            "noise".to_string(),
            safetensors::Dtype::F32,
            vec![n, drawn.latent],
            floats(&drawn.noise),
        ),
        (
            "images".to_string(),
            safetensors::Dtype::F32,
            vec![n, drawn.channels, drawn.spatial, drawn.spatial],
            floats(&image_values),
        ),
    ];
    if let Some((logits, shape)) = d_logits {
        tensors.push((
            "d_logits".to_string(),
            safetensors::Dtype::F32,
            shape.clone(),
            floats(logits),
        ));
    }
    if drawn.images.iter().all(|(_, l)| l.is_some()) && n > 0 {
        let labels: Vec<u8> = drawn
            .images
            .iter()
            .flat_map(|(_, l)| (l.unwrap_or(0) as i64).to_le_bytes())
            .collect();
        tensors.push((
            "labels".to_string(),
            safetensors::Dtype::I64,
            vec![n],
            labels,
        ));
    }
    let views = tensors
        .iter()
        .map(|(name, dtype, shape, data)| {
            safetensors::tensor::TensorView::new(*dtype, shape.clone(), data)
                .map(|v| (name.clone(), v))
        })
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| GanError::Output(format!("cannot encode the tensors: {e}")))?;
    safetensors::serialize(views, None)
        .map_err(|e| GanError::Output(format!("cannot encode the tensors: {e}")))
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
    let from_file = torch_weights::is_weights_file(&options.run);
    let grid_path = match (&options.out, from_file) {
        (Some(out), _) => out.clone(),
        (None, false) => RunDir::open(&options.run)?
            .samples_dir()
            .join(format!("sample_seed{}_n{}.png", options.seed, options.n)),
        (None, true) => {
            return Err(GanError::config(
                "out",
                "is needed when --run names a weights file: there is no run folder to write the \
                 grid into",
            ));
        }
    };
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
    if let Some(tensors) = &options.tensors
        && !torch_weights::is_weights_file(tensors)
    {
        return Err(GanError::config(
            "tensors",
            format!(
                "is {}: the tensors are written as safetensors, give a path ending in .safetensors",
                tensors.display()
            ),
        ));
    }
    if let Some(each) = &options.each {
        crate::output::require_empty_dir(
            each,
            "`--each` writes into a new or empty folder so that no file is overwritten",
        )?;
    }
    let device = options.device.device()?;
    let source = open_source(&options.run, None, &device)?;
    let classes = source.classes;
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
    let drawn = draw_from(source, draw, options.seed, &device)?;
    let (channels, spatial) = (drawn.channels, drawn.spatial);
    let images = &drawn.images;

    // Everything is encoded before anything is written.
    let pixels: Vec<Vec<f32>> = images.iter().map(|(p, _)| p.clone()).collect();
    let grid = SampleFigure::grid(pixels, channels, spatial, columns).to_png()?;
    let tensors = match &options.tensors {
        Some(_) => {
            let logits = discriminator_logits(&options.run, &drawn, &device)?;
            Some(drawn_tensors(&drawn, logits.as_ref())?)
        }
        None => None,
    };
    let singles = match &options.each {
        Some(_) => images
            .iter()
            .map(|(p, label)| Ok((image_png(p, channels, spatial)?, *label)))
            .collect::<Result<Vec<_>>>()?,
        None => Vec::new(),
    };
    if let Some(parent) = grid_path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|e| GanError::io(format!("cannot create {}", parent.display()), e))?;
    }
    write_atomic(&grid_path, &grid)?;
    if let (Some(path), Some(bytes)) = (&options.tensors, &tensors) {
        write_atomic(path, bytes)?;
    }
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
        tensors: options.tensors.clone(),
    })
}
