//! `ganforge fid DIR_A DIR_B`: the Fréchet distance between two folders of images, as
//! `python -m pytorch_fid DIR_A DIR_B` computes it, with the features of a ganforge judge, of a
//! user's feature network (`docs/feature-network.md`) or of pytorch-fid's own Inception network
//! (`docs/inception-fid.md`). For a judge or feature network, images of any size and mode are
//! read as `folder:` data is (transparency composited, centre-cropped, resized to the network's
//! side); for Inception, as pytorch-fid reads them (RGB with transparency dropped, resized to
//! 299×299 whatever their shape). Files that cannot be used are skipped and named.

use std::path::{Path, PathBuf};

use safetensors::SafeTensors;

use super::evaluate::judge_images;
use super::feature_net::{is_feature_network, load_feature_network, not_a_feature_network};
use super::inception::{
    INCEPTION_SIDE, inception_features_of_files, is_inception_file, load_inception,
};
use super::judge::load_judge;
use super::scores::{Moments, frechet_distance};
use crate::data::{DataSpec, ImageSet, LoadOptions, SkippedFile, image_files, summarize_skipped};
use crate::device::DeviceChoice;
use crate::error::{GanError, Result};

#[derive(Debug, Clone)]
pub struct FidOptions {
    pub a: PathBuf,
    pub b: PathBuf,
    /// A judge directory (`ganforge classifier train`), a feature network (`.safetensors`) or
    /// pytorch-fid's Inception weights (`.safetensors`, told apart by their tensor names).
    pub features: PathBuf,
    /// The side images are brought to; default the network's own (a judge's, or a feature
    /// network's `spatial` metadata).
    pub spatial: Option<usize>,
    pub device: DeviceChoice,
    /// Where to write every image's feature vector (`a`, `b`: `[images, dimensions]` f32, the
    /// files used in the metadata), for checks against another implementation.
    pub save_features: Option<PathBuf>,
}

/// One folder as the features saw it.
#[derive(Debug, Clone)]
pub struct FolderFeatures {
    pub dir: PathBuf,
    pub images: usize,
    pub skipped: Vec<SkippedFile>,
    pub summary: String,
    /// The files whose features were used, in order (Inception features only; the judge path
    /// reads them through the `folder:` loader).
    pub used: Vec<PathBuf>,
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
    folder_fid_with_progress(options, &mut |_, _, _| {})
}

/// [`folder_fid`], telling `progress` (folder, images done, images in it) as features are made.
pub fn folder_fid_with_progress(
    options: &FidOptions,
    progress: &mut dyn FnMut(&Path, usize, usize),
) -> Result<FidReport> {
    for dir in [&options.a, &options.b] {
        if !dir.is_dir() {
            return Err(GanError::Output(format!(
                "{} is not a folder: `ganforge fid` compares two folders of images",
                dir.display()
            )));
        }
    }
    let device = options.device.device()?;
    let (report, fa, fb) = if is_inception_file(&options.features) {
        inception_fid(options, &device, progress)?
    } else {
        judge_fid(options, &device)?
    };
    if let Some(out) = &options.save_features {
        save_features(out, &report, &fa, &fb)?;
    }
    Ok(report)
}

type Features = Vec<Vec<f64>>;

fn too_few(dir: &Path, images: usize) -> GanError {
    GanError::Output(format!(
        "{} has {images} usable image(s): the Fréchet distance needs at least 2 a side",
        dir.display()
    ))
}

fn inception_fid(
    options: &FidOptions,
    device: &burn::prelude::Device,
    progress: &mut dyn FnMut(&Path, usize, usize),
) -> Result<(FidReport, Features, Features)> {
    if options.spatial.is_some_and(|s| s != INCEPTION_SIDE) {
        return Err(GanError::config(
            "spatial",
            format!(
                "is {}: the Inception network sees every image at {INCEPTION_SIDE}×{INCEPTION_SIDE}; \
                 leave --spatial out",
                options.spatial.unwrap_or_default()
            ),
        ));
    }
    let network = load_inception(&options.features, device)?;
    let mut folder = |dir: &PathBuf| -> Result<(FolderFeatures, Features)> {
        let (files, mut skipped) = image_files(dir)?;
        let made = inception_features_of_files(&network, &files, device, &mut |done, all| {
            progress(dir, done, all)
        });
        skipped.extend(made.skipped);
        if made.used.len() < 2 {
            return Err(too_few(dir, made.used.len()));
        }
        let mut summary = format!(
            "{} images, read as RGB and resized to {INCEPTION_SIDE}×{INCEPTION_SIDE}",
            made.used.len()
        );
        if !skipped.is_empty() {
            summary.push_str(&format!(
                "; skipped {} unusable file(s): {}",
                skipped.len(),
                summarize_skipped(&skipped)
            ));
        }
        let features = FolderFeatures {
            dir: dir.clone(),
            images: made.used.len(),
            skipped,
            summary,
            used: made.used,
        };
        Ok((features, made.features))
    };
    let (a, fa) = folder(&options.a)?;
    let (b, fb) = folder(&options.b)?;
    let report = FidReport {
        fid: frechet_distance(&Moments::of(&fa), &Moments::of(&fb)),
        a,
        b,
        dimensions: super::inception::INCEPTION_FEATURES,
        spatial: INCEPTION_SIDE,
        channels: 3,
    };
    Ok((report, fa, fb))
}

fn judge_fid(
    options: &FidOptions,
    device: &burn::prelude::Device,
) -> Result<(FidReport, Features, Features)> {
    let device = device.clone();
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
            return Err(too_few(dir, set.len()));
        }
        let folder = FolderFeatures {
            dir: dir.clone(),
            images: set.len(),
            skipped: set.skipped.clone(),
            summary: set.summary(),
            used: Vec::new(),
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
    let report = FidReport {
        fid: frechet_distance(&Moments::of(&fa), &Moments::of(&fb)),
        a,
        b,
        dimensions,
        spatial,
        channels,
    };
    Ok((report, fa, fb))
}

/// Writes `a` and `b`, each `[images, dimensions]` f32, with the files used (one per line) in the
/// metadata `a_files` and `b_files` where they are known. Written beside and renamed, so that an
/// interrupted write leaves no half file.
fn save_features(out: &Path, report: &FidReport, fa: &Features, fb: &Features) -> Result<()> {
    let fail = |e: String| GanError::Output(format!("cannot write {}: {e}", out.display()));
    let matrix = |rows: &Features| -> (Vec<u8>, Vec<usize>) {
        let bytes = rows
            .iter()
            .flatten()
            .flat_map(|&v| (v as f32).to_le_bytes())
            .collect();
        (bytes, vec![rows.len(), report.dimensions])
    };
    let (a_bytes, a_shape) = matrix(fa);
    let (b_bytes, b_shape) = matrix(fb);
    fn view(bytes: &[u8], shape: Vec<usize>) -> Result<safetensors::tensor::TensorView<'_>> {
        safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape, bytes)
            .map_err(|e| GanError::Output(e.to_string()))
    }
    let names = |folder: &FolderFeatures| {
        folder
            .used
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join("\n")
    };
    let metadata = std::collections::HashMap::from([
        ("a_files".to_string(), names(&report.a)),
        ("b_files".to_string(), names(&report.b)),
        ("fid".to_string(), format!("{}", report.fid)),
    ]);
    let bytes = safetensors::serialize(
        [
            ("a".to_string(), view(&a_bytes, a_shape)?),
            ("b".to_string(), view(&b_bytes, b_shape)?),
        ],
        Some(metadata),
    )
    .map_err(|e| fail(e.to_string()))?;
    crate::output::write_atomic(out, &bytes)
}
