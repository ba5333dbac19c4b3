//! Datasets held in memory as the tutorial does: every image decoded once, scaled to [-1, 1], in
//! one contiguous NCHW buffer that batches are gathered from.

mod background;
mod digits;
mod emoji;
mod folder;
mod image_set;
pub mod mixture;

use std::path::PathBuf;

use crate::error::{GanError, Result};

use mixture::Mixture;

pub use background::Background;
pub use emoji::{EmojiHalf, EmojiStyle, emoji_base, emoji_files, emoji_half_files, emoji_halves};
pub(crate) use folder::square_to_pixels;
pub use folder::{
    MAX_DECODE_BYTES, MAX_SIDE, NativeRgb, decode_file, decode_native_rgb, image_files,
    resize_weights,
};
pub use image_set::{FEW_IMAGES, ImageSet, LoadOptions, SkippedFile, summarize_skipped};

/// Where images come from, parsed from `--data`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataSpec {
    /// The UCI handwritten digits embedded in the binary.
    Digits,
    /// The Noto emoji embedded in the binary: 3786 RGBA images of 64×64, labelled by category.
    Emoji,
    /// Every JPEG/PNG/BMP/WebP file below a folder.
    Folder(PathBuf),
    /// The first half of the digits: domain A of the shipped CycleGAN task.
    DigitsA,
    /// The second half of the digits, restyled (thick, inverted, coloured strokes): domain B.
    DigitsB,
    /// The emoji of one half of the file names ([`EmojiHalf`]) drawn in one style:
    /// `emoji-noto-a` (domain A of the emoji CycleGAN task), `emoji-twemoji-b` (its domain B),
    /// and the held-out counterparts `emoji-noto-b` and `emoji-twemoji-a`.
    EmojiDomain(EmojiStyle, EmojiHalf),
    /// Three independent digits stacked as the channels of one image: 1000 modes.
    StackedDigits,
    /// 2-D points from a mixture of Gaussians (the mode-collapse benchmarks), labelled by mode.
    Mixture(Mixture),
    /// A CycleGAN's two domains: `cyclegan:DIR` for `DIR/trainA` and `DIR/trainB`, or plain
    /// `cyclegan` when they are given as `data_a` and `data_b`. Not a set of images itself.
    Domains(Option<PathBuf>),
}

/// Every data kind as `--data` spells it, with what it is: the one list that `--help` and the
/// unknown-dataset error show.
pub const KINDS: &[(&str, &str)] = &[
    ("digits", "the embedded UCI handwritten digits"),
    (
        "stacked-digits",
        "three digits as the channels of one image: 1000 modes",
    ),
    ("digits-a", "domain A of the shipped CycleGAN task"),
    ("digits-b", "domain B of the shipped CycleGAN task"),
    (
        "emoji",
        "the embedded Noto emoji: 3786 RGBA images of 64×64 in 10 categories",
    ),
    (
        "emoji-noto-a",
        "domain A of the emoji CycleGAN task: the Noto emoji of half A of the file names",
    ),
    (
        "emoji-twemoji-b",
        "domain B of the emoji CycleGAN task: the Twemoji emoji of half B",
    ),
    (
        "emoji-noto-b, emoji-twemoji-a",
        "the emoji task's held-out counterparts: Noto of half B, Twemoji of half A",
    ),
    ("folder:DIR", "every JPEG/PNG/BMP/WebP file below DIR"),
    ("mixture:ring8", "2-D points from 8 Gaussians on a circle"),
    ("mixture:grid25", "2-D points from 25 Gaussians on a grid"),
    (
        "mixture:ring:K:RADIUS:STD",
        "K Gaussians of standard deviation STD on a circle of RADIUS",
    ),
    (
        "mixture:grid:N:SPACING:STD",
        "N × N Gaussians of standard deviation STD, SPACING apart",
    ),
    (
        "cyclegan:DIR",
        "with model cyclegan: the domains DIR/trainA and DIR/trainB",
    ),
];

/// [`KINDS`] as one line: `` `digits` (…), `stacked-digits` (…), … ``.
pub fn kinds_list() -> String {
    KINDS
        .iter()
        .map(|(name, what)| format!("`{name}` ({what})"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl DataSpec {
    pub fn parse(spec: &str) -> Result<Self> {
        match spec.split_once(':') {
            None if spec == "digits" => Ok(DataSpec::Digits),
            None if spec == "stacked-digits" => Ok(DataSpec::StackedDigits),
            None if spec == "digits-a" => Ok(DataSpec::DigitsA),
            None if spec == "digits-b" => Ok(DataSpec::DigitsB),
            None if spec == "emoji" => Ok(DataSpec::Emoji),
            None if spec.starts_with("emoji-") => {
                let rest = &spec["emoji-".len()..];
                rest.rsplit_once('-')
                    .and_then(|(style, half)| {
                        Some(DataSpec::EmojiDomain(
                            EmojiStyle::parse(style)?,
                            EmojiHalf::parse(half)?,
                        ))
                    })
                    .ok_or_else(|| GanError::UnknownDataset(spec.to_string(), kinds_list()))
            }
            Some(("folder", dir)) if !dir.is_empty() => Ok(DataSpec::Folder(PathBuf::from(dir))),
            Some(("mixture", _)) => Ok(DataSpec::Mixture(Mixture::parse(spec)?)),
            None if spec == "cyclegan" => Ok(DataSpec::Domains(None)),
            Some(("cyclegan", dir)) if !dir.is_empty() => {
                Ok(DataSpec::Domains(Some(PathBuf::from(dir))))
            }
            _ => Err(GanError::UnknownDataset(spec.to_string(), kinds_list())),
        }
    }

    /// A short name for run directories.
    pub fn short_name(&self) -> String {
        match self {
            DataSpec::Digits => "digits".to_string(),
            DataSpec::StackedDigits => "stacked-digits".to_string(),
            DataSpec::DigitsA => "digits-a".to_string(),
            DataSpec::DigitsB => "digits-b".to_string(),
            DataSpec::Emoji => "emoji".to_string(),
            DataSpec::EmojiDomain(..) => self.to_string(),
            DataSpec::Folder(dir) => dir
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_else(|| "folder".to_string()),
            DataSpec::Mixture(m) => m.file_name(),
            // As run names have called CycleGAN runs since before the domains had a type.
            DataSpec::Domains(_) => "data".to_string(),
        }
    }
}

/// The spec as `--data` spells it: what `config.toml` records, and what [`DataSpec::parse`]
/// reads back.
impl std::fmt::Display for DataSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DataSpec::Digits => f.write_str("digits"),
            DataSpec::StackedDigits => f.write_str("stacked-digits"),
            DataSpec::DigitsA => f.write_str("digits-a"),
            DataSpec::DigitsB => f.write_str("digits-b"),
            DataSpec::Emoji => f.write_str("emoji"),
            DataSpec::EmojiDomain(style, half) => {
                write!(f, "emoji-{}-{}", style.name(), half.name())
            }
            DataSpec::Folder(dir) => write!(f, "folder:{}", dir.display()),
            DataSpec::Mixture(m) => write!(f, "mixture:{}", m.name()),
            DataSpec::Domains(None) => f.write_str("cyclegan"),
            DataSpec::Domains(Some(dir)) => write!(f, "cyclegan:{}", dir.display()),
        }
    }
}

impl std::str::FromStr for DataSpec {
    type Err = GanError;
    fn from_str(spec: &str) -> Result<Self> {
        DataSpec::parse(spec)
    }
}

impl serde::Serialize for DataSpec {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for DataSpec {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        let spec = String::deserialize(deserializer)?;
        DataSpec::parse(&spec).map_err(serde::de::Error::custom)
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

// Here rather than in `image_set`, which the loaders below build on.
impl ImageSet {
    /// The images `spec` names, prepared as `options` say.
    pub fn load(spec: &DataSpec, options: LoadOptions) -> Result<Self> {
        match spec {
            DataSpec::Digits => digits::load(options),
            DataSpec::StackedDigits => digits::load_stacked(options),
            DataSpec::DigitsA => digits::load_half(options, false),
            DataSpec::DigitsB => digits::load_half(options, true),
            DataSpec::Emoji => emoji::load(options, EmojiStyle::Noto),
            DataSpec::EmojiDomain(style, half) => emoji::load_half(options, *style, *half),
            DataSpec::Folder(dir) => folder::load(dir, options),
            DataSpec::Mixture(m) => Ok(mixture_points(*m, options)),
            DataSpec::Domains(_) => Err(GanError::Output(format!(
                "`{spec}` names a CycleGAN's two domains, not one set of images: load `data_a` and `data_b`"
            ))),
        }
    }
}
