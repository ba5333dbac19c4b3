//! An image set in memory: every image decoded once, scaled to [-1, 1], in one contiguous NCHW
//! buffer that batches are gathered from; the loaders (`digits`, `folder`, the mixtures) build it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use burn::prelude::*;

use super::background::Background;

/// A file that was found but not used, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedFile {
    pub path: PathBuf,
    pub reason: String,
}

/// How to turn stored images into training tensors.
#[derive(Debug, Clone, Copy)]
pub struct LoadOptions {
    pub spatial: usize,
    pub channels: usize,
    /// Read at most this many images (the tutorial's NUM_LOAD).
    pub limit: Option<usize>,
    /// What transparent pixels become: images with alpha are composited onto it.
    pub background: Background,
}

/// Below this many images a run warns that it can only memorise them ([`ImageSet::size_warning`]).
pub const FEW_IMAGES: usize = 100;

impl LoadOptions {
    /// Every image at `spatial`×`spatial`×`channels`, transparency on the default background.
    pub fn new(spatial: usize, channels: usize) -> Self {
        LoadOptions {
            spatial,
            channels,
            limit: None,
            background: Background::default(),
        }
    }
}

/// A labelled image set in memory.
#[derive(Debug, Clone)]
pub struct ImageSet {
    /// `len × channels × spatial × spatial` values in [-1, 1], image after image.
    pixels: Vec<f32>,
    len: usize,
    pub channels: usize,
    pub spatial: usize,
    /// One label a image when the data has classes.
    pub labels: Option<Vec<usize>>,
    /// Class names, indexed by label.
    pub class_names: Vec<String>,
    /// Files that were found but could not be used, with the reason.
    pub skipped: Vec<SkippedFile>,
}

impl ImageSet {
    /// An image set from its parts (`pixels` channel-major, image after image, in [-1, 1]).
    pub fn from_parts(
        pixels: Vec<f32>,
        channels: usize,
        spatial: usize,
        labels: Option<Vec<usize>>,
        class_names: Vec<String>,
        skipped: Vec<SkippedFile>,
    ) -> Self {
        let len = pixels.len() / (channels * spatial * spatial);
        debug_assert_eq!(pixels.len(), len * channels * spatial * spatial);
        ImageSet {
            pixels,
            len,
            channels,
            spatial,
            labels,
            class_names,
            skipped,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn image_len(&self) -> usize {
        self.channels * self.spatial * self.spatial
    }

    /// Pixels of image `index`, channel-major.
    pub fn image(&self, index: usize) -> &[f32] {
        let n = self.image_len();
        &self.pixels[index * n..(index + 1) * n]
    }

    /// Bytes the decoded images take in memory.
    pub fn memory_bytes(&self) -> usize {
        self.pixels.len() * std::mem::size_of::<f32>()
    }

    /// The images at `indices` as a `[indices.len(), channels, spatial, spatial]` tensor.
    pub fn batch(&self, indices: &[usize], device: &Device) -> Tensor<4> {
        let mut data = Vec::with_capacity(indices.len() * self.image_len());
        for &i in indices {
            data.extend_from_slice(self.image(i));
        }
        Tensor::from_data(
            TensorData::new(
                data,
                [indices.len(), self.channels, self.spatial, self.spatial],
            ),
            device,
        )
    }

    /// A one-line account of what was loaded, for the start of a run.
    /// The warning a run on this data needs when it is too small to learn a distribution from:
    /// fewer images than the batch (each batch repeats them), or a handful (under
    /// [`FEW_IMAGES`]). Either way G can at best copy them: memorisation, not new images. `None`
    /// for data of a healthy size.
    pub fn size_warning(&self, batch: usize) -> Option<String> {
        let n = self.len;
        let what = if n == 1 {
            "one image".to_string()
        } else {
            format!("{n} images")
        };
        if n < batch {
            Some(format!(
                "warning: the data is {what}, fewer than the batch of {batch}: every batch holds the same images again, so G can only learn to copy them (memorisation), and D sees no variety. Add images (hundreds at least), or lower --batch to {n} or less to at least stop the repeats"
            ))
        } else if n < FEW_IMAGES {
            Some(format!(
                "warning: the data is only {what}: a GAN trained on so few learns to copy them (memorisation) rather than to draw new ones. Add images (hundreds at least); `--augment translation` delays D's memorising them"
            ))
        } else {
            None
        }
    }

    pub fn summary(&self) -> String {
        let classes = if self.class_names.is_empty() {
            "no classes".to_string()
        } else {
            format!("{} classes", self.class_names.len())
        };
        let mut line = format!(
            "{} images of {}×{}×{} ({}), {:.1} MiB in memory",
            self.len,
            self.channels,
            self.spatial,
            self.spatial,
            classes,
            self.memory_bytes() as f64 / (1024.0 * 1024.0)
        );
        if !self.skipped.is_empty() {
            line.push_str(&format!(
                "; skipped {} unusable file(s): {}",
                self.skipped.len(),
                summarize_skipped(&self.skipped)
            ));
        }
        line
    }
}

/// "3 × damaged or truncated image (a.png, b.jpg, …)" for each reason.
pub fn summarize_skipped(skipped: &[SkippedFile]) -> String {
    let mut by_reason: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for s in skipped {
        let name = s
            .path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_else(|| s.path.display().to_string());
        by_reason.entry(s.reason.as_str()).or_default().push(name);
    }
    by_reason
        .iter()
        .map(|(reason, names)| {
            let shown: Vec<&str> = names.iter().take(3).map(String::as_str).collect();
            let more = if names.len() > 3 { ", …" } else { "" };
            format!("{} × {reason} ({}{more})", names.len(), shown.join(", "))
        })
        .collect::<Vec<_>>()
        .join("; ")
}
