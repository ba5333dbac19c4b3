//! `folder:DIR`: every JPEG, PNG, BMP and WebP file below a folder, decoded in parallel.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use image::imageops::FilterType;
use image::{DynamicImage, ImageReader};
use rayon::prelude::*;
use walkdir::WalkDir;

use super::image_set::{ImageSet, LoadOptions, SkippedFile, summarize_skipped};
use crate::error::{GanError, Result};

/// The filter every loaded image is resized with (bilinear, the `image` crate's triangle).
const RESIZE_FILTER: FilterType = FilterType::Triangle;

/// The loader's resize of one row of `from` values to `to` values, as a `[to, from]` matrix of
/// weights (row-major): `resize(v) = W·v`. The resize is separable, so an image is resized by W
/// along each axis. Read off the loader's own resize of unit impulses, so that a network that
/// draws at `from` and applies W sees exactly the operation that made the data.
pub fn resize_weights(from: usize, to: usize) -> Vec<f32> {
    let mut weights = vec![0.0f32; to * from];
    for j in 0..from {
        let mut impulse = image::Rgb32FImage::new(from as u32, 1);
        impulse.put_pixel(j as u32, 0, image::Rgb([1.0; 3]));
        let resized = DynamicImage::ImageRgb32F(impulse)
            .resize_exact(to as u32, 1, RESIZE_FILTER)
            .to_rgb32f();
        for (i, p) in resized.pixels().enumerate() {
            weights[i * from + j] = p.0[0];
        }
    }
    weights
}

const EXTENSIONS: [&str; 5] = ["jpg", "jpeg", "png", "bmp", "webp"];

fn is_image_file(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Image files below `dir`, in a stable (sorted) order, and the entries that could not be read.
fn find_images(dir: &Path) -> (Vec<PathBuf>, Vec<SkippedFile>) {
    let mut files = Vec::new();
    let mut skipped = Vec::new();
    for entry in WalkDir::new(dir).follow_links(true).sort_by_file_name() {
        match entry {
            Ok(e) if e.file_type().is_file() && is_image_file(e.path()) => {
                files.push(e.into_path())
            }
            Ok(_) => {}
            Err(err) => skipped.push(SkippedFile {
                path: err.path().map(Path::to_path_buf).unwrap_or_default(),
                reason: match err.loop_ancestor() {
                    Some(_) => "symlink loop".to_string(),
                    None => err
                        .io_error()
                        .map(|e| e.kind().to_string())
                        .unwrap_or_else(|| err.to_string()),
                },
            }),
        }
    }
    (files, skipped)
}

/// The class of each file: its immediate subfolder, when every file sits in one.
fn classes_of(dir: &Path, files: &[PathBuf]) -> Option<(Vec<usize>, Vec<String>)> {
    let names: Vec<String> = files
        .iter()
        .map(|f| {
            let rel = f.strip_prefix(dir).ok()?;
            let mut parts = rel.components();
            let first = parts.next()?;
            parts.next()?; // the file itself must lie below the first component
            Some(first.as_os_str().to_string_lossy().to_string())
        })
        .collect::<Option<_>>()?;
    let index: BTreeMap<&str, usize> = {
        let mut sorted: Vec<&str> = names.iter().map(String::as_str).collect();
        sorted.sort_unstable();
        sorted.dedup();
        sorted
            .into_iter()
            .enumerate()
            .map(|(i, n)| (n, i))
            .collect()
    };
    let labels = names.iter().map(|n| index[n.as_str()]).collect();
    Some((labels, index.keys().map(|k| k.to_string()).collect()))
}

/// Composites any transparency onto `options.background` (first, so that the resize filter
/// never averages the colour hidden under a transparent pixel into its neighbours), centre-crops
/// to a square (keeping the aspect ratio, as DCGAN's CelebA pipeline does), resizes to `spatial`,
/// converts to grey or RGB and scales to [-1, 1], channel-major.
pub(crate) fn image_to_pixels(image: DynamicImage, options: &LoadOptions) -> Vec<f32> {
    let (spatial, channels) = (options.spatial, options.channels);
    let image = options.background.composite(image);
    let (w, h) = (image.width(), image.height());
    let side = w.min(h);
    let square = image.crop_imm((w - side) / 2, (h - side) / 2, side, side);
    let s = spatial as u32;
    let resized = if side == s {
        square
    } else {
        square.resize_exact(s, s, RESIZE_FILTER)
    };
    square_to_pixels(resized, channels)
}

/// A square image as channel-major values in [-1, 1], grey or RGB.
pub(crate) fn square_to_pixels(resized: DynamicImage, channels: usize) -> Vec<f32> {
    let spatial = resized.width() as usize;
    let plane = spatial * spatial;
    let mut out = vec![0.0f32; channels * plane];
    if channels == 1 {
        for (dst, p) in out.iter_mut().zip(resized.to_luma32f().pixels()) {
            *dst = p.0[0] * 2.0 - 1.0;
        }
    } else {
        for (i, p) in resized.to_rgb32f().pixels().enumerate() {
            for c in 0..3 {
                out[c * plane + i] = p.0[c] * 2.0 - 1.0;
            }
        }
    }
    out
}

/// The largest image side a file may declare; a larger one is refused before decoding, so that a
/// small file claiming a huge size (a decompression bomb) costs nothing.
pub const MAX_SIDE: u32 = 16_384;
/// The most memory one decode may allocate.
pub const MAX_DECODE_BYTES: u64 = 512 * 1024 * 1024;

/// Opens and decodes one file within the size limits, or says, in words that group well in a
/// summary, why it cannot be used.
fn open_image(path: &Path) -> std::result::Result<DynamicImage, String> {
    let size = std::fs::metadata(path)
        .map_err(|e| e.kind().to_string())?
        .len();
    if size == 0 {
        return Err("empty file".to_string());
    }
    let mut reader = ImageReader::open(path)
        .map_err(|e| e.kind().to_string())?
        .with_guessed_format()
        .map_err(|e| e.kind().to_string())?;
    if reader.format().is_none() {
        return Err("not an image (unknown format)".to_string());
    }
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    // A decoder that panics on hostile bytes costs that file, not the run.
    let decoded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| reader.decode()))
        .map_err(|_| "the decoder failed on it".to_string())?;
    let image = decoded.map_err(|e| match e {
        image::ImageError::Limits(_) => format!(
            "too large (over {MAX_SIDE} pixels a side or {} MiB to decode)",
            MAX_DECODE_BYTES >> 20
        ),
        image::ImageError::Unsupported(_) => "unsupported image format".to_string(),
        _ => "damaged or truncated image".to_string(),
    })?;
    if image.width() == 0 || image.height() == 0 {
        return Err("empty image".to_string());
    }
    Ok(image)
}

fn decode(path: &Path, options: &LoadOptions) -> std::result::Result<Vec<f32>, String> {
    open_image(path).map(|image| image_to_pixels(image, options))
}

/// One image at its own size, as PIL's `Image.open(path).convert("RGB")` and torchvision's
/// `ToTensor` give it to pytorch-fid: RGB, channel-major, values in [0, 1], transparency dropped
/// (not composited), no crop and no resize.
#[derive(Debug, Clone, PartialEq)]
pub struct NativeRgb {
    pub height: usize,
    pub width: usize,
    pub pixels: Vec<f32>,
}

/// Decodes one file as [`NativeRgb`], or says why it cannot be used.
pub fn decode_native_rgb(path: &Path) -> std::result::Result<NativeRgb, String> {
    let rgb = open_image(path)?.to_rgb8();
    let (width, height) = (rgb.width() as usize, rgb.height() as usize);
    let plane = width * height;
    let mut pixels = vec![0.0f32; 3 * plane];
    for (i, p) in rgb.pixels().enumerate() {
        for c in 0..3 {
            pixels[c * plane + i] = f32::from(p.0[c]) / 255.0;
        }
    }
    Ok(NativeRgb {
        height,
        width,
        pixels,
    })
}

/// The image files below `dir` in the loader's order and the entries that could not be read, or
/// the loader's error for a missing or empty folder.
pub fn image_files(dir: &Path) -> Result<(Vec<PathBuf>, Vec<SkippedFile>)> {
    if !dir.is_dir() {
        return Err(GanError::MissingFolder(dir.to_path_buf()));
    }
    let (files, skipped) = find_images(dir);
    if files.is_empty() {
        return Err(GanError::EmptyFolder(dir.to_path_buf()));
    }
    Ok((files, skipped))
}

/// Decodes one file as the loader does (for tests and tools): its pixels, or why it is skipped.
pub fn decode_file(path: &Path, options: &LoadOptions) -> std::result::Result<Vec<f32>, String> {
    decode(path, options)
}

pub(super) fn load(dir: &Path, options: LoadOptions) -> Result<ImageSet> {
    let (mut files, mut skipped) = image_files(dir)?;
    if let Some(limit) = options.limit {
        files.truncate(limit);
    }
    let decoded: Vec<_> = files.par_iter().map(|f| decode(f, &options)).collect();
    let mut pixels = Vec::new();
    let mut kept = Vec::new();
    for (file, result) in files.iter().zip(decoded) {
        match result {
            Ok(p) => {
                pixels.extend(p);
                kept.push(file.clone());
            }
            Err(reason) => skipped.push(SkippedFile {
                path: file.clone(),
                reason,
            }),
        }
    }
    if kept.is_empty() {
        return Err(GanError::NoDecodableImages {
            dir: dir.to_path_buf(),
            found: files.len(),
            summary: summarize_skipped(&skipped),
        });
    }
    let (labels, class_names) = match classes_of(dir, &kept) {
        Some((labels, names)) => (Some(labels), names),
        None => (None, Vec::new()),
    };
    Ok(ImageSet::from_parts(
        pixels,
        options.channels,
        options.spatial,
        labels,
        class_names,
        skipped,
    ))
}
