//! `ganforge fid DIR_A DIR_B`: the Fréchet distance between two folders of images, as
//! `python -m pytorch_fid DIR_A DIR_B` computes it, with the features of a ganforge judge or of a
//! user's feature network (`docs/feature-network.md`). Images of any size and mode are read as
//! `folder:` data is (transparency composited, centre-cropped, resized to the network's side);
//! files that cannot be used are skipped and named.

use std::path::{Path, PathBuf};

use safetensors::SafeTensors;

use super::evaluate::judge_images;
use super::feature_net::{is_feature_network, load_feature_network, not_a_feature_network};
use super::judge::load_judge;
use super::scores::{Moments, frechet_distance};
use crate::data::{DataSpec, ImageSet, LoadOptions, SkippedFile};
use crate::device::DeviceChoice;
use crate::error::{GanError, Result};

#[derive(Debug, Clone)]
pub struct FidOptions {
    pub a: PathBuf,
    pub b: PathBuf,
    /// A judge directory (`ganforge classifier train`) or a feature network (`.safetensors`).
    pub features: PathBuf,
    /// The side images are brought to; default the network's own (a judge's, or a feature
    /// network's `spatial` metadata).
    pub spatial: Option<usize>,
    pub device: DeviceChoice,
}

/// One folder as the features saw it.
#[derive(Debug, Clone)]
pub struct FolderFeatures {
    pub dir: PathBuf,
    pub images: usize,
    pub skipped: Vec<SkippedFile>,
    pub summary: String,
}

#[derive(Debug, Clone)]
pub struct FidReport {
    pub fid: f64,
    pub a: FolderFeatures,
    pub b: FolderFeatures,
    /// The feature vectors' length.
    pub dimensions: usize,
    pub spatial: usize,
    pub channels: usize,
}

/// The image channels a feature network's first convolution takes.
fn feature_network_channels(path: &Path) -> Result<usize> {
    let bad = |why: String| not_a_feature_network(path, why);
    let bytes = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    let (_, header) = SafeTensors::read_metadata(&bytes).map_err(|e| bad(e.to_string()))?;
    let tensors = header.tensors();
    let first = tensors
        .get("convs.0.weight")
        .ok_or_else(|| bad("it has no `convs.0.weight`".into()))?;
    match first.shape.as_slice() {
        [_, c, _, _] => Ok(*c),
        other => Err(bad(format!("`convs.0.weight` has shape {other:?}"))),
    }
}

/// The Fréchet distance between the images of `options.a` and `options.b`.
pub fn folder_fid(options: &FidOptions) -> Result<FidReport> {
    for dir in [&options.a, &options.b] {
        if !dir.is_dir() {
            return Err(GanError::Output(format!(
                "{} is not a folder: `ganforge fid` compares two folders of images",
                dir.display()
            )));
        }
    }
    let device = options.device.device()?;
    // A judge states its channels; a feature network's first convolution tells them.
    let (judge, info) = if is_feature_network(&options.features) {
        let channels = feature_network_channels(&options.features)?;
        load_feature_network(&options.features, channels, &device)?
    } else {
        load_judge(&options.features, &device)?
    };
    let channels = info.channels;
    let spatial = match (options.spatial, info.spatial) {
        (Some(s), 0) => s,
        (Some(s), own) if s == own => s,
        (Some(s), own) => {
            return Err(GanError::config(
                "spatial",
                format!(
                    "is {s}: {} was trained on {own}×{own} images; leave --spatial out",
                    options.features.display()
                ),
            ));
        }
        (None, 0) => {
            return Err(GanError::config(
                "spatial",
                format!(
                    "is needed: {} does not say the image side it was trained on (metadata \
                     `spatial`); give --spatial S",
                    options.features.display()
                ),
            ));
        }
        (None, own) => own,
    };
    let load = |dir: &PathBuf| -> Result<(ImageSet, FolderFeatures)> {
        let set = ImageSet::load(
            &DataSpec::Folder(dir.clone()),
            LoadOptions::new(spatial, channels),
        )?;
        if set.len() < 2 {
            return Err(GanError::Output(format!(
                "{} has {} usable image(s): the Fréchet distance needs at least 2 a side",
                dir.display(),
                set.len()
            )));
        }
        let folder = FolderFeatures {
            dir: dir.clone(),
            images: set.len(),
            skipped: set.skipped.clone(),
            summary: set.summary(),
        };
        Ok((set, folder))
    };
    let (set_a, a) = load(&options.a)?;
    let (set_b, b) = load(&options.b)?;
    let features = |set: &ImageSet| {
        let images: Vec<Vec<f32>> = (0..set.len()).map(|i| set.image(i).to_vec()).collect();
        judge_images(&judge, &images, [channels, spatial, spatial], &device).features
    };
    let (fa, fb) = (features(&set_a), features(&set_b));
    let dimensions = fa.first().map_or(0, Vec::len);
    Ok(FidReport {
        fid: frechet_distance(&Moments::of(&fa), &Moments::of(&fb)),
        a,
        b,
        dimensions,
        spatial,
        channels,
    })
}
