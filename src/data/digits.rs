//! The UCI handwritten digits (see `data/README.md` for provenance), embedded in the binary so a
//! fresh checkout trains with no download.

use std::io::Read;

use flate2::read::GzDecoder;
use image::{DynamicImage, GrayImage};

use super::folder::image_to_pixels;
use super::{ImageSet, LoadOptions};
use crate::error::{GanError, Result};

static DIGITS_CSV_GZ: &[u8] = include_bytes!("../../data/digits.csv.gz");

/// Side of a stored digit.
pub const DIGIT_SIDE: usize = 8;
/// Grey levels run 0..=16.
const MAX_LEVEL: u32 = 16;

/// One stored digit: 64 grey levels (row-major) and its class.
pub(crate) struct RawDigit {
    pub levels: [u8; DIGIT_SIDE * DIGIT_SIDE],
    pub label: usize,
}

/// Parses the embedded CSV: 64 grey levels then the label on each line.
pub(crate) fn raw_digits() -> Result<Vec<RawDigit>> {
    let corrupt = |why: String| GanError::Output(format!("embedded digits data is corrupt: {why}"));
    let mut text = String::new();
    GzDecoder::new(DIGITS_CSV_GZ)
        .read_to_string(&mut text)
        .map_err(|e| corrupt(e.to_string()))?;
    text.lines()
        .enumerate()
        .map(|(row, line)| {
            let values: Vec<u32> = line
                .split(',')
                .map(|v| v.trim().parse::<u32>())
                .collect::<std::result::Result<_, _>>()
                .map_err(|e| corrupt(format!("line {}: {e}", row + 1)))?;
            if values.len() != DIGIT_SIDE * DIGIT_SIDE + 1
                || values[..64].iter().any(|&v| v > MAX_LEVEL)
                || values[64] > 9
            {
                return Err(corrupt(format!("line {} is malformed", row + 1)));
            }
            let mut levels = [0u8; 64];
            for (dst, &v) in levels.iter_mut().zip(&values[..64]) {
                *dst = v as u8;
            }
            Ok(RawDigit {
                levels,
                label: values[64] as usize,
            })
        })
        .collect()
}

pub(super) fn load(options: LoadOptions) -> Result<ImageSet> {
    let raw = raw_digits()?;
    let take = options.limit.unwrap_or(raw.len()).min(raw.len());
    let mut pixels = Vec::with_capacity(take * options.channels * options.spatial.pow(2));
    let mut labels = Vec::with_capacity(take);
    for digit in &raw[..take] {
        // 17 grey levels spread over the 8-bit range: 16 → 255.
        let bytes: Vec<u8> = digit
            .levels
            .iter()
            .map(|&v| ((v as u32 * 255 + MAX_LEVEL / 2) / MAX_LEVEL) as u8)
            .collect();
        let grey = GrayImage::from_raw(DIGIT_SIDE as u32, DIGIT_SIDE as u32, bytes)
            .expect("64 bytes make an 8×8 image");
        pixels.extend(image_to_pixels(DynamicImage::ImageLuma8(grey), &options));
        labels.push(digit.label);
    }
    let class_names = (0..10).map(|d| d.to_string()).collect();
    Ok(ImageSet::from_parts(
        pixels,
        options.channels,
        options.spatial,
        Some(labels),
        class_names,
        Vec::new(),
    ))
}

/// Stacked digits (Metz et al. 2017; PacGAN): 3-channel images whose channels are three digits
/// drawn independently, so the data has 10³ = 1000 modes, labelled 100·d₀ + 10·d₁ + d₂. `limit`
/// images (default 30 000) from a fixed seed, so every run sees the same set.
pub(super) fn load_stacked(options: LoadOptions) -> Result<ImageSet> {
    use rand::{Rng, SeedableRng};
    let single = load(LoadOptions {
        channels: 1,
        limit: None,
        ..options
    })?;
    let single_labels = single.labels.clone().unwrap_or_default();
    let n = options.limit.unwrap_or(30_000);
    let side = options.spatial * options.spatial;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0x5374_6163);
    let mut pixels = Vec::with_capacity(n * 3 * side);
    let mut labels = Vec::with_capacity(n);
    for _ in 0..n {
        let mut label = 0;
        for _ in 0..3 {
            let pick = rng.random_range(0..single.len());
            pixels.extend_from_slice(single.image(pick));
            label = 10 * label + single_labels[pick];
        }
        labels.push(label);
    }
    let class_names = (0..1000).map(|m| format!("{m:03}")).collect();
    Ok(ImageSet::from_parts(
        pixels,
        3,
        options.spatial,
        Some(labels),
        class_names,
        Vec::new(),
    ))
}

/// The halves of the digits that make the shipped CycleGAN task: domain A is the first half as
/// they are (white strokes on black, in every channel asked for); domain B is the second half
/// restyled — strokes thickened (a 3×3 maximum filter), inverted onto a light background and
/// coloured — so the two sets share no image, yet the right translation of a digit is known: the
/// same digit in the other style. Labels are kept, for measuring whether translation preserves
/// the class.
pub(super) fn load_half(options: LoadOptions, restyled: bool) -> Result<ImageSet> {
    let all = load(LoadOptions {
        channels: 1,
        limit: None,
        ..options
    })?;
    let labels = all.labels.clone().unwrap_or_default();
    let half = all.len() / 2;
    let range = if restyled { half..all.len() } else { 0..half };
    let take = options.limit.unwrap_or(usize::MAX).min(range.len());
    let side = options.spatial;
    let mut pixels = Vec::with_capacity(take * options.channels * side * side);
    for i in range.clone().take(take) {
        let grey = all.image(i);
        if restyled {
            pixels.extend(restyle(grey, side, options.channels));
        } else {
            for _ in 0..options.channels {
                pixels.extend_from_slice(grey);
            }
        }
    }
    Ok(ImageSet::from_parts(
        pixels,
        options.channels,
        side,
        Some(labels[range].iter().take(take).copied().collect()),
        all.class_names.clone(),
        Vec::new(),
    ))
}

/// Stroke and background colours of domain B (RGB in [0, 1]): dark blue ink on pale yellow.
const INK: [f32; 3] = [0.10, 0.20, 0.60];
const PAPER: [f32; 3] = [1.00, 0.95, 0.70];

/// One grey digit (`side`², values in [-1, 1]) in domain B's style, `channels` channel-major.
fn restyle(grey: &[f32], side: usize, channels: usize) -> Vec<f32> {
    // Ink in [0, 1], thickened by taking the strongest of each 3×3 neighbourhood.
    let ink: Vec<f32> = (0..side * side)
        .map(|p| {
            let (y, x) = (p / side, p % side);
            let mut strongest = 0.0f32;
            for dy in y.saturating_sub(1)..=(y + 1).min(side - 1) {
                for dx in x.saturating_sub(1)..=(x + 1).min(side - 1) {
                    strongest = strongest.max((grey[dy * side + dx] + 1.0) / 2.0);
                }
            }
            strongest
        })
        .collect();
    let colour = |c: usize| -> Vec<f32> {
        let (ink_c, paper_c) = if channels == 3 {
            (INK[c], PAPER[c])
        } else {
            // Grey: the luminance of the colours.
            let lum = |rgb: [f32; 3]| 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2];
            (lum(INK), lum(PAPER))
        };
        ink.iter()
            .map(|&v| 2.0 * (paper_c * (1.0 - v) + ink_c * v) - 1.0)
            .collect()
    };
    (0..channels).flat_map(colour).collect()
}
