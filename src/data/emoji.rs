//! The emoji (see `data/README.md` for provenance and licences), embedded in the binary as the
//! upstream archives, so that `--data emoji` and the emoji CycleGAN task need no download: the
//! same 3786 emoji (RGBA PNGs of 64×64, labelled by their Unicode category) drawn by Google
//! (Noto, `--data emoji`) and by Twitter (Twemoji), under the same file names.
//!
//! The CycleGAN task's domains are halves of the file names ([`EmojiHalf`]): domain A is the
//! Noto images of half A, domain B the Twemoji images of half B, so no emoji is ever seen in both
//! styles; the other two sets (Noto of half B, Twemoji of half A) are the held-out counterparts
//! that the task is measured on.

use std::collections::{BTreeSet, HashMap};
use std::io::Read;

use flate2::read::GzDecoder;
use image::ImageFormat;
use rayon::prelude::*;

use super::folder::image_to_pixels;
use super::{ImageSet, LoadOptions};
use crate::error::{GanError, Result};

static NOTO_TAR_GZ: &[u8] = include_bytes!("../../data/emoji-noto-64.tar.gz");
static TWEMOJI_TAR_GZ: &[u8] = include_bytes!("../../data/emoji-twemoji-64.tar.gz");

/// Who drew the emoji: the two embedded archives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EmojiStyle {
    /// Google's Noto Color Emoji (Apache 2.0).
    Noto,
    /// Twitter's Twemoji (CC-BY 4.0).
    Twemoji,
}

impl EmojiStyle {
    pub const ALL: [EmojiStyle; 2] = [EmojiStyle::Noto, EmojiStyle::Twemoji];

    /// As `--data` spells it: `noto`, `twemoji`.
    pub fn name(self) -> &'static str {
        match self {
            EmojiStyle::Noto => "noto",
            EmojiStyle::Twemoji => "twemoji",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }

    fn archive(self) -> &'static [u8] {
        match self {
            EmojiStyle::Noto => NOTO_TAR_GZ,
            EmojiStyle::Twemoji => TWEMOJI_TAR_GZ,
        }
    }

    /// The archive's top folder.
    fn root(self) -> &'static str {
        match self {
            EmojiStyle::Noto => "emoji-noto-64",
            EmojiStyle::Twemoji => "emoji-twemoji-64",
        }
    }
}

/// One of the two disjoint halves of the emoji file names that the CycleGAN task splits them
/// into. The rule: a file's *base* is its name with the skin-tone modifiers (code points
/// `1f3fb`–`1f3ff`) taken out, so that every skin tone of one emoji has the same base; the
/// distinct bases in sorted (byte) order go alternately to half A (the 1st, 3rd, …) and half B
/// (the 2nd, 4th, …). Every skin tone of an emoji is in the same half as the others, so neither
/// domain sees a near-copy (another skin tone) of an emoji the other domain has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EmojiHalf {
    A,
    B,
}

impl EmojiHalf {
    pub const ALL: [EmojiHalf; 2] = [EmojiHalf::A, EmojiHalf::B];

    pub fn name(self) -> &'static str {
        match self {
            EmojiHalf::A => "a",
            EmojiHalf::B => "b",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|h| h.name() == name)
    }
}

/// `file` (`1f44b-1f3fd.png`) without its extension and skin-tone modifiers (`1f44b`): what
/// [`EmojiHalf`] splits by.
pub fn emoji_base(file: &str) -> String {
    let stem = file.strip_suffix(".png").unwrap_or(file);
    stem.split('-')
        .filter(|part| !matches!(*part, "1f3fb" | "1f3fc" | "1f3fd" | "1f3fe" | "1f3ff"))
        .collect::<Vec<_>>()
        .join("-")
}

/// The half of each of `files` by [`EmojiHalf`]'s rule, in their order.
pub fn emoji_halves(files: &[String]) -> Vec<EmojiHalf> {
    let bases: Vec<String> = files.iter().map(|f| emoji_base(f)).collect();
    let sorted: Vec<&String> = bases.iter().collect::<BTreeSet<_>>().into_iter().collect();
    bases
        .iter()
        .map(|b| {
            let rank = sorted.binary_search(&b).expect("every base is listed");
            if rank % 2 == 0 {
                EmojiHalf::A
            } else {
                EmojiHalf::B
            }
        })
        .collect()
}

fn corrupt(why: impl std::fmt::Display) -> GanError {
    GanError::Output(format!("embedded emoji data is corrupt: {why}"))
}

/// The archive's files that the loader reads, still encoded.
struct Archive {
    labels_csv: Vec<u8>,
    /// The PNG of each file name of `images/`.
    images: HashMap<String, Vec<u8>>,
}

fn unpack(style: EmojiStyle, with_images: bool) -> Result<Archive> {
    let mut archive = tar::Archive::new(GzDecoder::new(style.archive()));
    let mut labels = None;
    let mut images = HashMap::new();
    for entry in archive.entries().map_err(corrupt)? {
        let mut entry = entry.map_err(corrupt)?;
        let path = entry.path().map_err(corrupt)?.to_string_lossy().to_string();
        let Some(inner) = path
            .strip_prefix(style.root())
            .map(|p| p.trim_start_matches('/'))
        else {
            continue;
        };
        let wanted = if inner == "labels.csv" {
            None
        } else if let Some(name) = inner
            .strip_prefix("images/")
            .filter(|n| with_images && n.ends_with(".png"))
        {
            Some(name.to_string())
        } else {
            continue;
        };
        let mut bytes = Vec::with_capacity(entry.size() as usize);
        entry.read_to_end(&mut bytes).map_err(corrupt)?;
        match wanted {
            Some(name) => {
                images.insert(name, bytes);
            }
            None => labels = Some(bytes),
        }
    }
    let labels_csv = labels.ok_or_else(|| corrupt("no labels.csv"))?;
    Ok(Archive { labels_csv, images })
}

/// `(file, category)` of each row of `labels.csv`, in its order.
fn rows(csv_bytes: &[u8]) -> Result<Vec<(String, String)>> {
    let mut reader = csv::Reader::from_reader(csv_bytes);
    let headers = reader.headers().map_err(corrupt)?.clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| corrupt(format!("labels.csv has no `{name}` column")))
    };
    let (file, category) = (column("file")?, column("category")?);
    reader
        .records()
        .map(|record| {
            let record = record.map_err(corrupt)?;
            match (record.get(file), record.get(category)) {
                (Some(f), Some(c)) if !f.is_empty() && !c.is_empty() => {
                    Ok((f.to_string(), c.to_string()))
                }
                _ => Err(corrupt(format!(
                    "labels.csv line {} lacks a file or category",
                    record.position().map_or(0, |p| p.line())
                ))),
            }
        })
        .collect()
}

/// The file names of `style`'s emoji, in the order of its `labels.csv` (the order
/// `--data emoji` loads them in).
pub fn emoji_files(style: EmojiStyle) -> Result<Vec<String>> {
    Ok(rows(&unpack(style, false)?.labels_csv)?
        .into_iter()
        .map(|(file, _)| file)
        .collect())
}

/// The file names of `half`, in the order its sets load: sorted, so that the i-th image of the
/// Noto and of the Twemoji set of one half are the same emoji. The Noto archive's names decide
/// (the two archives name the same files).
pub fn emoji_half_files(half: EmojiHalf) -> Result<Vec<String>> {
    let files = emoji_files(EmojiStyle::Noto)?;
    let halves = emoji_halves(&files);
    let mut chosen: Vec<String> = files
        .into_iter()
        .zip(halves)
        .filter(|(_, h)| *h == half)
        .map(|(f, _)| f)
        .collect();
    chosen.sort();
    Ok(chosen)
}

/// Decodes `rows` (file, category) of `archive` as `options` say, labelled by their index in
/// `class_names`.
fn decode_rows(
    archive: &Archive,
    rows: &[(String, String)],
    class_names: &[String],
    options: &LoadOptions,
) -> Result<ImageSet> {
    let decoded: Vec<Vec<f32>> = rows
        .par_iter()
        .map(|(file, _)| {
            let bytes = archive
                .images
                .get(file)
                .ok_or_else(|| corrupt(format!("labels.csv names {file}, which is missing")))?;
            let image = image::load_from_memory_with_format(bytes, ImageFormat::Png)
                .map_err(|e| corrupt(format!("{file}: {e}")))?;
            Ok(image_to_pixels(image, options))
        })
        .collect::<Result<_>>()?;
    let labels = rows
        .iter()
        .map(|(_, c)| {
            class_names
                .binary_search(c)
                .map_err(|_| corrupt(format!("unknown category {c}")))
        })
        .collect::<Result<_>>()?;
    Ok(ImageSet::from_parts(
        decoded.concat(),
        options.channels,
        options.spatial,
        Some(labels),
        class_names.to_vec(),
        Vec::new(),
    ))
}

/// Every category of the whole set, sorted, so that a label means the same class whatever
/// subset is loaded.
fn class_names(rows: &[(String, String)]) -> Vec<String> {
    rows.iter()
        .map(|(_, c)| c.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// Every emoji of `style`, in the order of its `labels.csv`; `limit` keeps the first.
pub(super) fn load(options: LoadOptions, style: EmojiStyle) -> Result<ImageSet> {
    let archive = unpack(style, true)?;
    let rows = rows(&archive.labels_csv)?;
    let class_names = class_names(&rows);
    let take = options.limit.unwrap_or(rows.len()).min(rows.len());
    decode_rows(&archive, &rows[..take], &class_names, &options)
}

/// The emoji of `half` ([`EmojiHalf`]) drawn in `style`, sorted by file name
/// ([`emoji_half_files`]); `limit` keeps the first.
pub(super) fn load_half(
    options: LoadOptions,
    style: EmojiStyle,
    half: EmojiHalf,
) -> Result<ImageSet> {
    let archive = unpack(style, true)?;
    let all = rows(&archive.labels_csv)?;
    let class_names = class_names(&all);
    let category: HashMap<&str, &str> = all.iter().map(|(f, c)| (f.as_str(), c.as_str())).collect();
    let files = emoji_half_files(half)?;
    let take = options.limit.unwrap_or(files.len()).min(files.len());
    let rows = files[..take]
        .iter()
        .map(|f| {
            category
                .get(f.as_str())
                .map(|c| (f.clone(), c.to_string()))
                .ok_or_else(|| corrupt(format!("{} has no {f}", style.root())))
        })
        .collect::<Result<Vec<_>>>()?;
    decode_rows(&archive, &rows, &class_names, &options)
}
