//! Datasets held in memory as the tutorial does: every image decoded once, scaled to [-1, 1], in
//! one contiguous NCHW buffer that batches are gathered from.

mod digits;
mod folder;

use std::path::PathBuf;

use burn::prelude::*;

use crate::config::TrainOverrides;
use crate::error::{GanError, Result};
use crate::eval::modes::Mixture;
use crate::models::{ModelKind, NormKind};

pub(crate) use folder::square_to_pixels;
pub use folder::{MAX_DECODE_BYTES, MAX_SIDE, SkippedFile, decode_file};

/// Where images come from, parsed from `--data`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataSpec {
    /// The UCI handwritten digits embedded in the binary.
    Digits,
    /// Every JPEG/PNG/BMP/WebP file below a folder.
    Folder(PathBuf),
    /// The first half of the digits: domain A of the shipped CycleGAN task.
    DigitsA,
    /// The second half of the digits, restyled (thick, inverted, coloured strokes): domain B.
    DigitsB,
    /// Three independent digits stacked as the channels of one image: 1000 modes.
    StackedDigits,
    /// 2-D points from a mixture of Gaussians (the mode-collapse benchmarks), labelled by mode.
    Mixture(Mixture),
}

impl DataSpec {
    pub fn parse(spec: &str) -> Result<Self> {
        match spec.split_once(':') {
            None if spec == "digits" => Ok(DataSpec::Digits),
            None if spec == "stacked-digits" => Ok(DataSpec::StackedDigits),
            None if spec == "digits-a" => Ok(DataSpec::DigitsA),
            None if spec == "digits-b" => Ok(DataSpec::DigitsB),
            Some(("folder", dir)) if !dir.is_empty() => Ok(DataSpec::Folder(PathBuf::from(dir))),
            Some(("mixture", _)) => Ok(DataSpec::Mixture(Mixture::parse(spec)?)),
            _ => Err(GanError::UnknownDataset(spec.to_string())),
        }
    }

    /// A short name for run directories.
    pub fn short_name(&self) -> String {
        match self {
            DataSpec::Digits => "digits".to_string(),
            DataSpec::StackedDigits => "stacked-digits".to_string(),
            DataSpec::DigitsA => "digits-a".to_string(),
            DataSpec::DigitsB => "digits-b".to_string(),
            DataSpec::Folder(dir) => dir
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_else(|| "folder".to_string()),
            DataSpec::Mixture(m) => m.name().to_string(),
        }
    }

    /// Defaults a run on this data starts from, under the user's keys. Photo folders get the
    /// tutorial's 64×64 RGB. The digits are 8×8 grey, so they train at the smallest size the
    /// models allow, with a layer-normalised D: with the tutorial's BatchNorm D (separate real and
    /// fake batches) the generator collapses on this small set, in PyTorch as in ganforge (README,
    /// "The digits preset"). Eight epochs keep the README's main job within 5 minutes.
    pub fn preset(&self) -> TrainOverrides {
        match self {
            DataSpec::Digits => TrainOverrides {
                spatial: Some(16),
                channels: Some(1),
                d_norm: Some(NormKind::Layer),
                // 1600 iterations: about 3.5 minutes on one core of a 2-core machine.
                epochs: Some(8),
                ..Default::default()
            },
            // The CycleGAN task's domains, as RGB.
            DataSpec::DigitsA | DataSpec::DigitsB => TrainOverrides {
                spatial: Some(16),
                channels: Some(3),
                d_norm: Some(NormKind::Layer),
                epochs: Some(8),
                ..Default::default()
            },
            // As the digits, in three channels.
            DataSpec::StackedDigits => TrainOverrides {
                spatial: Some(16),
                channels: Some(3),
                d_norm: Some(NormKind::Layer),
                epochs: Some(8),
                ..Default::default()
            },
            DataSpec::Folder(_) => TrainOverrides {
                spatial: Some(64),
                channels: Some(3),
                ..Default::default()
            },
            // PacGAN's 2-D networks (Lin et al. 2018, after VEEGAN): fully connected G (4 × 400
            // units) and maxout D (3 × 200), a 2-D latent, batches of 100. PacGAN trains 400 000
            // iterations at Adam 1e-4; at 1e-3 with a moving average of G the modes form in 3000
            // (README, "Mode collapse").
            DataSpec::Mixture(_) => TrainOverrides {
                model: Some(ModelKind::Mlp),
                spatial: Some(1),
                channels: Some(2),
                latent: Some(2),
                capacity: Some(200),
                batch: Some(100),
                lr_d: Some(1e-3),
                lr_g: Some(1e-3),
                g_ema: Some(0.99),
                iterations_per_epoch: Some(500),
                progress_interval: Some(500),
                checkpoint_interval: Some(1000),
                epochs: Some(10),
                ..Default::default()
            },
        }
    }
}

/// Points of a mixture in a fixed data set: `limit` of them (default 100 000), from a fixed seed
/// so that every run sees the same set, labelled by their mode.
fn mixture_points(mixture: Mixture, options: LoadOptions) -> ImageSet {
    use rand::SeedableRng;
    let n = options.limit.unwrap_or(100_000);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0x6d69_7874);
    let (points, labels) = mixture.sample_labelled(&mut rng, n);
    let pixels = points
        .iter()
        .flat_map(|p| [p[0] as f32, p[1] as f32])
        .collect();
    let class_names = (0..mixture.centres().len())
        .map(|m| format!("mode {m}"))
        .collect();
    ImageSet::from_parts(pixels, 2, 1, Some(labels), class_names, Vec::new())
}

/// How to turn stored images into training tensors.
#[derive(Debug, Clone, Copy)]
pub struct LoadOptions {
    pub spatial: usize,
    pub channels: usize,
    /// Read at most this many images (the tutorial's NUM_LOAD).
    pub limit: Option<usize>,
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
    pub fn load(spec: &DataSpec, options: LoadOptions) -> Result<Self> {
        match spec {
            DataSpec::Digits => digits::load(options),
            DataSpec::StackedDigits => digits::load_stacked(options),
            DataSpec::DigitsA => digits::load_half(options, false),
            DataSpec::DigitsB => digits::load_half(options, true),
            DataSpec::Folder(dir) => folder::load(dir, options),
            DataSpec::Mixture(m) => Ok(mixture_points(*m, options)),
        }
    }

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
                folder::summarize_skipped(&self.skipped)
            ));
        }
        line
    }
}
