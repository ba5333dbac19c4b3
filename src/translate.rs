//! `ganforge translate`: every image of a folder through one of a CycleGAN run's generators,
//! written under the same relative names into another folder.

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::prelude::*;
use image::imageops::FilterType;

use crate::data::square_to_pixels;
use crate::device::DeviceChoice;
use crate::error::{GanError, Result};
use crate::models::ModelKind;
use crate::output::figure::split_images;
use crate::output::run_dir::RunDir;
use crate::sample::pixels_to_image;
use crate::train::cycle::Direction;
use crate::train::load_translator;

#[derive(Debug, Clone)]
pub struct TranslateOptions {
    pub run: PathBuf,
    pub direction: Direction,
    /// A folder of images (searched recursively).
    pub input: PathBuf,
    /// A new or empty folder, not inside the input.
    pub output: PathBuf,
    /// Resize each translation back to its input's size (default: the size the run trained at).
    pub original_size: bool,
    pub device: DeviceChoice,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TranslateResult {
    /// The files written, in input order.
    pub written: Vec<PathBuf>,
    /// Input files that could not be read, with the reason.
    pub skipped: Vec<(PathBuf, String)>,
}

const EXTENSIONS: [&str; 5] = ["png", "jpg", "jpeg", "bmp", "webp"];

/// Images translated at a time.
const CHUNK: usize = 16;

/// Translates every image below `options.input`. Everything is checked (the run, the folders,
/// that some image is readable) before anything is written.
pub fn translate(options: &TranslateOptions) -> Result<TranslateResult> {
    let run = RunDir::open(&options.run)?;
    let config = run.read_config()?;
    if config.networks.model != ModelKind::Cyclegan {
        return Err(GanError::config(
            "run",
            format!(
                "is {}, a {} run: `translate` needs a CycleGAN run (`ganforge train --model cyclegan`)",
                options.run.display(),
                config.model_name()
            ),
        ));
    }
    let input = options.input.canonicalize().map_err(|e| {
        GanError::io(
            format!("cannot read the input folder {}", options.input.display()),
            e,
        )
    })?;
    if !input.is_dir() {
        return Err(GanError::config(
            "input",
            format!("is {}: it must be a folder of images", input.display()),
        ));
    }
    let output = absolute(&options.output)?;
    if output.starts_with(&input) {
        return Err(GanError::config(
            "output",
            format!(
                "is {}, inside the input folder {}: the translations would mix with (or overwrite) the inputs; choose a folder outside it",
                options.output.display(),
                input.display()
            ),
        ));
    }
    crate::output::require_empty_dir(&options.output, "choose a new or empty --output")?;

    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(&input)
        .sort_by_file_name()
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .filter(|p| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
        })
        .collect();
    files.sort();
    let mut images = Vec::new();
    let mut skipped = Vec::new();
    for path in files {
        match image::ImageReader::open(&path)
            .map_err(|e| e.to_string())
            .and_then(|r| r.with_guessed_format().map_err(|e| e.to_string()))
            .and_then(|r| r.decode().map_err(|e| e.to_string()))
        {
            Ok(image) => images.push((path, image)),
            Err(why) => skipped.push((path, why)),
        }
    }
    if images.is_empty() {
        return Err(GanError::config(
            "input",
            format!(
                "{} holds no readable image (PNG, JPEG, BMP or WebP){}",
                input.display(),
                if skipped.is_empty() {
                    String::new()
                } else {
                    format!("; {} file(s) could not be decoded", skipped.len())
                }
            ),
        ));
    }
    let device = options.device.device()?;
    let generator = load_translator(&config, &run, options.direction, &device)?.valid();

    let (spatial, channels) = (config.input.spatial, config.input.channels);
    let side = spatial as u32;
    let mut written = Vec::with_capacity(images.len());
    // The output folder appears complete or not at all, whatever stops the translation.
    crate::output::write_folder_atomic_with(&output, |tmp| {
        for chunk in images.chunks(CHUNK) {
            let pixels: Vec<f32> = chunk
                .iter()
                .flat_map(|(_, image)| {
                    // The whole image, squeezed to the trained size (not cropped: nothing is
                    // lost), its transparency on the background the run's domains were loaded on.
                    square_to_pixels(
                        config
                            .input
                            .background
                            .composite(image.clone())
                            .resize_exact(side, side, FilterType::Triangle),
                        channels,
                    )
                })
                .collect();
            let batch = Tensor::<4>::from_data(
                TensorData::new(pixels, [chunk.len(), channels, spatial, spatial]),
                &device,
            );
            let translated = split_images(generator.forward(batch));
            for ((path, original), pixels) in chunk.iter().zip(translated) {
                let mut result = pixels_to_image(&pixels, channels, spatial);
                if options.original_size {
                    result = result.resize_exact(
                        original.width(),
                        original.height(),
                        FilterType::Triangle,
                    );
                }
                let relative = path.strip_prefix(&input).expect("found below the input");
                let target = output.join(relative);
                let format =
                    image::ImageFormat::from_path(&target).unwrap_or(image::ImageFormat::Png);
                let mut bytes = std::io::Cursor::new(Vec::new());
                result.write_to(&mut bytes, format).map_err(|e| {
                    GanError::Output(format!("cannot encode {}: {e}", target.display()))
                })?;
                crate::output::write_file_in(tmp, relative, &bytes.into_inner())?;
                written.push(target);
            }
        }
        Ok(())
    })?;
    Ok(TranslateResult { written, skipped })
}

/// `path` made absolute without requiring it to exist (its existing ancestor canonicalised, so
/// that symbolic links and `..` cannot hide that it lies inside the input).
fn absolute(path: &Path) -> Result<PathBuf> {
    let path = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map_err(|e| GanError::io("cannot read the current directory", e))?
            .join(path)
    };
    let mut existing = path.as_path();
    let mut rest = Vec::new();
    while !existing.exists() {
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                existing = parent;
            }
            _ => break,
        }
    }
    let mut resolved = existing
        .canonicalize()
        .unwrap_or_else(|_| existing.to_path_buf());
    for name in rest.iter().rev() {
        resolved.push(name);
    }
    Ok(resolved)
}
