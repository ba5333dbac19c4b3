//! The Noto emoji (see `data/README.md` for provenance and licences), embedded in the binary as
//! the upstream archive, so that `--data emoji` needs no download: 3786 RGBA PNGs of 64×64,
//! labelled by their Unicode category.

use std::collections::{BTreeSet, HashMap};
use std::io::Read;

use flate2::read::GzDecoder;
use image::ImageFormat;
use rayon::prelude::*;

use super::folder::image_to_pixels;
use super::{ImageSet, LoadOptions};
use crate::error::{GanError, Result};

static EMOJI_TAR_GZ: &[u8] = include_bytes!("../../data/emoji-noto-64.tar.gz");

/// The archive's top folder.
const ROOT: &str = "emoji-noto-64";

fn corrupt(why: impl std::fmt::Display) -> GanError {
    GanError::Output(format!("embedded emoji data is corrupt: {why}"))
}

/// The archive's files that the loader reads, still encoded.
struct Archive {
    labels_csv: Vec<u8>,
    /// The PNG of each file name of `images/`.
    images: HashMap<String, Vec<u8>>,
}

fn unpack() -> Result<Archive> {
    let mut archive = tar::Archive::new(GzDecoder::new(EMOJI_TAR_GZ));
    let mut labels = None;
    let mut images = HashMap::new();
    for entry in archive.entries().map_err(corrupt)? {
        let mut entry = entry.map_err(corrupt)?;
        let path = entry.path().map_err(corrupt)?.to_string_lossy().to_string();
        let Some(inner) = path.strip_prefix(ROOT).map(|p| p.trim_start_matches('/')) else {
            continue;
        };
        let wanted = if inner == "labels.csv" {
            None
        } else if let Some(name) = inner
            .strip_prefix("images/")
            .filter(|n| n.ends_with(".png"))
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

pub(super) fn load(options: LoadOptions) -> Result<ImageSet> {
    let Archive { labels_csv, images } = unpack()?;
    let rows = rows(&labels_csv)?;
    // Every category of the whole set, sorted, so that a label means the same class whatever
    // `num_load` keeps.
    let class_names: Vec<String> = rows
        .iter()
        .map(|(_, c)| c.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let take = options.limit.unwrap_or(rows.len()).min(rows.len());
    let rows = &rows[..take];
    let decoded: Vec<Vec<f32>> = rows
        .par_iter()
        .map(|(file, _)| {
            let bytes = images
                .get(file)
                .ok_or_else(|| corrupt(format!("labels.csv names {file}, which is missing")))?;
            let image = image::load_from_memory_with_format(bytes, ImageFormat::Png)
                .map_err(|e| corrupt(format!("{file}: {e}")))?;
            Ok(image_to_pixels(image, &options))
        })
        .collect::<Result<_>>()?;
    let labels = rows
        .iter()
        .map(|(_, c)| {
            class_names
                .binary_search(c)
                .expect("every category is among the class names")
        })
        .collect();
    Ok(ImageSet::from_parts(
        decoded.concat(),
        options.channels,
        options.spatial,
        Some(labels),
        class_names,
        Vec::new(),
    ))
}
