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
        pixels.extend(image_to_pixels(
            DynamicImage::ImageLuma8(grey),
            options.spatial,
            options.channels,
        ));
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
