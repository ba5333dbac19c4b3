//! `ganforge sample`: images from a saved run's generator.

use std::path::{Path, PathBuf};

use burn::module::Module;

use image::ImageEncoder;

use crate::device::DeviceChoice;
use crate::error::{GanError, Result};
use crate::output::checkpoint;
use crate::output::figure::SampleFigure;
use crate::output::run_dir::RunDir;
use crate::output::write_atomic;
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
    pub device: DeviceChoice,
}

#[derive(Debug, Clone)]
pub struct SampleResult {
    pub grid: PathBuf,
    pub each: Vec<PathBuf>,
}

/// `n` images from the run's latest generator, channel-major in [-1, 1]; the same seed gives the
/// same images.
pub fn generate(run: &Path, n: usize, seed: u64, device: DeviceChoice) -> Result<Vec<Vec<f32>>> {
    let run = RunDir::open(run)?;
    let config = run.read_config()?;
    let device = device.device()?;
    let dir = checkpoint::latest(&run.checkpoints_dir())?;
    let generator = checkpoint::load_generator(&config, &dir, &device)?.valid();
    let mut rng = stream(seed, 0, Stream::Sample);
    let mut images = Vec::with_capacity(n);
    let mut left = n;
    while left > 0 {
        let count = left.min(CHUNK);
        let z = noise(&mut rng, config.noise, count, config.latent, &device);
        let out = generator.forward(z);
        let [_, c, h, w] = out.dims();
        let values = crate::tensor_values(out);
        images.extend(values.chunks_exact(c * h * w).map(<[f32]>::to_vec));
        left -= count;
    }
    Ok(images)
}

/// One image as PNG bytes (grey or RGB).
pub fn image_png(pixels: &[f32], channels: usize, spatial: usize) -> Result<Vec<u8>> {
    let plane = spatial * spatial;
    let byte = |v: f32| (((v.clamp(-1.0, 1.0) + 1.0) * 127.5).round()) as u8;
    let side = spatial as u32;
    let (buffer, color) = if channels == 1 {
        (
            pixels.iter().map(|&v| byte(v)).collect::<Vec<u8>>(),
            image::ExtendedColorType::L8,
        )
    } else {
        (
            (0..plane)
                .flat_map(|i| (0..3).map(move |c| byte(pixels[c * plane + i])))
                .collect(),
            image::ExtendedColorType::Rgb8,
        )
    };
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(&buffer, side, side, color)
        .map_err(|e| GanError::Output(format!("cannot encode PNG: {e}")))?;
    Ok(out)
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
    if let Some(each) = &options.each
        && each.exists()
        && std::fs::read_dir(each)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        return Err(GanError::Output(format!(
            "{} is not empty: `--each` writes into a new or empty folder so that no file is overwritten",
            each.display()
        )));
    }
    let config = run.read_config()?;
    let images = generate(&options.run, options.n, options.seed, options.device)?;

    // Everything is encoded before anything is written.
    let columns = (options.n as f64).sqrt().ceil() as usize;
    let grid =
        SampleFigure::grid(images.clone(), config.channels, config.spatial, columns).to_png()?;
    let singles = match &options.each {
        Some(_) => images
            .iter()
            .map(|p| image_png(p, config.channels, config.spatial))
            .collect::<Result<Vec<_>>>()?,
        None => Vec::new(),
    };
    if let Some(parent) = grid_path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|e| GanError::io(format!("cannot create {}", parent.display()), e))?;
    }
    write_atomic(&grid_path, &grid)?;
    let mut each_paths = Vec::new();
    if let Some(each) = &options.each {
        std::fs::create_dir_all(each)
            .map_err(|e| GanError::io(format!("cannot create {}", each.display()), e))?;
        for (i, png) in singles.iter().enumerate() {
            let path = each.join(format!("sample_{i:05}.png"));
            write_atomic(&path, png)?;
            each_paths.push(path);
        }
    }
    Ok(SampleResult {
        grid: grid_path,
        each: each_paths,
    })
}
