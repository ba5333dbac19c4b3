//! The emoji CycleGAN task's measures, on the held-out halves whose right answers are known
//! (`src/data/emoji.rs`): domain A is the Noto emoji of half A of the file names, domain B the
//! Twemoji of half B. G is measured on the Noto images of half B (which A never showed it), F on
//! the Twemoji images of half A; the true counterpart of each is the same file in the other
//! style.
//!
//! - **Content kept**: the share of translations whose nearest image, among the target style's
//!   images of the same half (the gallery, which holds every true counterpart), is their true
//!   counterpart. The feature space is the pixels at 16×16 ([`CONTENT_SIDE`], RGB composited on
//!   the run's background, white by default), squared Euclidean distance. Why pixels and not a
//!   judge's features: the judges are trained to tell 10 categories and pool over the image, so
//!   their features do not tell one face from another (or one skin tone from another: every
//!   tone of an emoji is in the gallery); the pixels keep where each part is and its colour,
//!   and at 16×16 blur away the fine detail (outlines, shading) in which the two styles differ.
//!   The baseline is the same share for the untranslated images.
//! - **Style reached**: the Fréchet distance (FID's formula) between the translations and the
//!   target style's *other* half (images of emoji that the translations are not of, so that it
//!   measures the style and not the content), on the features of the target domain's judge
//!   (`judges/<domain>_s<spatial>_c<channels>`, trained on the target domain's categories, so
//!   its features are the target style's); beside it the same distance of the untranslated
//!   images (the baseline) and of the target style's own images of the same half (the true
//!   counterparts: the floor a perfect translator would score at this sample size).

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::prelude::*;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::evaluate::judge_images;
use super::feature_net::load_classifier;
use super::judge::{Judge, default_judge_dir};
use super::scores::{Moments, frechet_distance};
use super::translation::DomainJudges;
use crate::data::{DataSpec, EmojiHalf, EmojiStyle, ImageSet, LoadOptions};
use crate::device::DeviceChoice;
use crate::error::{GanError, Result};
use crate::models::{CycleGenerator, ModelKind};
use crate::output::run_dir::RunDir;
use crate::output::write_atomic;
use crate::train::cycle::Direction;
use crate::train::load_translator;

/// Side of the images compared for content kept.
pub const CONTENT_SIDE: usize = 16;

/// One direction of the emoji task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmojiDirectionScores {
    /// Held-out images translated (and the gallery's size: one counterpart each).
    pub images: usize,
    /// The share of translations whose nearest gallery image is their true counterpart.
    pub content_kept: f64,
    /// The same share for the untranslated images.
    pub content_kept_untranslated: f64,
    /// Fréchet distance of the translations to the target style's other half.
    pub fid: f64,
    /// …of the untranslated images.
    pub fid_untranslated: f64,
    /// …of the true counterparts: the floor.
    pub fid_counterparts: f64,
}

/// `emoji_eval.json` of an emoji-task run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmojiTaskReport {
    pub run: String,
    pub step: usize,
    /// G on the source style's images of the target domain's half.
    pub a2b: EmojiDirectionScores,
    /// F on the target style's images of the source domain's half.
    pub b2a: EmojiDirectionScores,
    /// The judges whose features the Fréchet distances use: A's for B→A, B's for A→B.
    pub judge_a: String,
    pub judge_b: String,
}

/// `image` (`channels` planes of `spatial`²) average-pooled to [`CONTENT_SIDE`]² when `spatial`
/// is a multiple of it, else as it is: the features content kept compares.
pub fn content_features(image: &[f32], channels: usize, spatial: usize) -> Vec<f32> {
    if spatial <= CONTENT_SIDE || !spatial.is_multiple_of(CONTENT_SIDE) {
        return image.to_vec();
    }
    let (k, side) = (spatial / CONTENT_SIDE, CONTENT_SIDE);
    let mut out = vec![0.0f32; channels * side * side];
    for c in 0..channels {
        let plane = &image[c * spatial * spatial..(c + 1) * spatial * spatial];
        for y in 0..spatial {
            for x in 0..spatial {
                out[c * side * side + (y / k) * side + x / k] += plane[y * spatial + x];
            }
        }
    }
    let cells = (k * k) as f32;
    out.iter_mut().for_each(|v| *v /= cells);
    out
}

/// The share of `translated` whose nearest image of `gallery` ([`content_features`], squared
/// Euclidean distance) is the one at the same index, the true counterpart. A tie with another
/// image counts as a miss. Both lists are `channels × spatial²` images; 0 when empty.
pub fn content_kept(
    translated: &[Vec<f32>],
    gallery: &[Vec<f32>],
    channels: usize,
    spatial: usize,
) -> f64 {
    let features = |set: &[Vec<f32>]| -> Vec<Vec<f32>> {
        set.par_iter()
            .map(|image| content_features(image, channels, spatial))
            .collect()
    };
    let (queries, gallery) = (features(translated), features(gallery));
    let distance =
        |a: &[f32], b: &[f32]| -> f32 { a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum() };
    let kept = queries
        .par_iter()
        .enumerate()
        .filter(|(i, query)| {
            let Some(truth) = gallery.get(*i) else {
                return false;
            };
            let to_truth = distance(query, truth);
            gallery
                .iter()
                .enumerate()
                .all(|(j, other)| j == *i || distance(query, other) > to_truth)
        })
        .count();
    kept as f64 / translated.len().max(1) as f64
}

/// The Fréchet distance between `a` and `b` (images of `shape`) on `judge`'s features.
pub fn judged_frechet_distance(
    judge: &Judge,
    a: &[Vec<f32>],
    b: &[Vec<f32>],
    shape: [usize; 3],
    device: &Device,
) -> f64 {
    let features =
        |set: &[Vec<f32>]| Moments::of(&judge_images(judge, set, shape, device).features);
    frechet_distance(&features(a), &features(b))
}

/// Images translated at a time.
const CHUNK: usize = 128;

fn images_of(set: &ImageSet) -> Vec<Vec<f32>> {
    (0..set.len()).map(|i| set.image(i).to_vec()).collect()
}

fn translate(generator: &CycleGenerator, set: &ImageSet, device: &Device) -> Vec<Vec<f32>> {
    let indices: Vec<usize> = (0..set.len()).collect();
    indices
        .chunks(CHUNK)
        .flat_map(|chunk| {
            crate::output::figure::split_images(generator.forward(set.batch(chunk, device)))
        })
        .collect()
}

/// The sets of one direction: the held-out sources, the gallery of their counterparts (the
/// target style, same half) and the target style's other half.
pub struct DirectionSets {
    pub source: ImageSet,
    pub gallery: ImageSet,
    pub other_half: ImageSet,
}

/// The emoji task's domains of a run's configuration: `(style, half)` of A and of B, or why the
/// run is not the emoji task.
pub fn emoji_domains(
    config: &crate::config::TrainConfig,
) -> Result<((EmojiStyle, EmojiHalf), (EmojiStyle, EmojiHalf))> {
    let not_task = || {
        GanError::config(
            "data_a",
            "the emoji task's measures need `data_a` and `data_b` to be emoji domains of different styles and halves, as `emoji-noto-a` and `emoji-twemoji-b`",
        )
    };
    match (&config.cycle.data_a, &config.cycle.data_b) {
        (Some(DataSpec::EmojiDomain(sa, ha)), Some(DataSpec::EmojiDomain(sb, hb)))
            if sa != sb && ha != hb =>
        {
            Ok(((*sa, *ha), (*sb, *hb)))
        }
        _ => Err(not_task()),
    }
}

/// Loads the held-out sets of both directions: (A→B, B→A).
pub fn direction_sets(
    config: &crate::config::TrainConfig,
) -> Result<(DirectionSets, DirectionSets)> {
    let ((style_a, half_a), (style_b, half_b)) = emoji_domains(config)?;
    let options = LoadOptions {
        spatial: config.input.spatial,
        channels: config.input.channels,
        limit: None,
        background: config.input.background,
    };
    let load = |style, half| ImageSet::load(&DataSpec::EmojiDomain(style, half), options);
    // A's style on B's half and B's style on A's half are held out; the other two are the
    // training domains, which hold the counterparts.
    let (held_a_style, held_b_style) = (load(style_a, half_b)?, load(style_b, half_a)?);
    let (train_a, train_b) = (load(style_a, half_a)?, load(style_b, half_b)?);
    Ok((
        DirectionSets {
            source: held_a_style.clone(),
            gallery: train_b,
            other_half: held_b_style.clone(),
        },
        DirectionSets {
            source: held_b_style,
            gallery: train_a,
            other_half: held_a_style,
        },
    ))
}

/// Content kept and Fréchet distances of one direction, given its translations.
pub fn score_direction(
    sets: &DirectionSets,
    translated: &[Vec<f32>],
    judge: &Judge,
    device: &Device,
) -> EmojiDirectionScores {
    let (channels, spatial) = (sets.source.channels, sets.source.spatial);
    let shape = [channels, spatial, spatial];
    let (source, gallery, other) = (
        images_of(&sets.source),
        images_of(&sets.gallery),
        images_of(&sets.other_half),
    );
    let fid = |set: &[Vec<f32>]| judged_frechet_distance(judge, set, &other, shape, device);
    EmojiDirectionScores {
        images: source.len(),
        content_kept: content_kept(translated, &gallery, channels, spatial),
        content_kept_untranslated: content_kept(&source, &gallery, channels, spatial),
        fid: fid(translated),
        fid_untranslated: fid(&source),
        fid_counterparts: fid(&gallery),
    }
}

/// The judge of a domain: given, or where `classifier train --data DOMAIN` saves it.
fn domain_judge(
    given: &Option<PathBuf>,
    data: &DataSpec,
    config: &crate::config::TrainConfig,
    device: &Device,
) -> Result<(Judge, PathBuf)> {
    let (spatial, channels) = (config.input.spatial, config.input.channels);
    let dir = given
        .clone()
        .unwrap_or_else(|| default_judge_dir(data, spatial, channels));
    if !dir.exists() {
        return Err(GanError::config(
            "judge",
            format!(
                "{} does not exist: train it with `ganforge classifier train --data {data} --spatial {spatial} --channels {channels}` (or run `ganforge bench cycle --task emoji`, which does)",
                dir.display()
            ),
        ));
    }
    let (judge, _) = load_classifier(&dir, channels, device)?;
    Ok((judge, dir))
}

/// Measures the emoji-task run in `run` both ways and writes `emoji_eval.json` into it.
pub fn evaluate_emoji_task(
    run: &Path,
    judges: &DomainJudges,
    device: DeviceChoice,
) -> Result<EmojiTaskReport> {
    let run_dir = RunDir::open(run)?;
    let config = run_dir.read_config()?;
    if config.networks.model != ModelKind::Cyclegan {
        return Err(GanError::config(
            "run",
            "is not a CycleGAN run: the emoji task measures translations",
        ));
    }
    let (ab, ba) = direction_sets(&config)?;
    let device = device.device()?;
    let (data_a, data_b) = config.domain_specs()?;
    let (judge_a, path_a) = domain_judge(&judges.a, &data_a, &config, &device)?;
    let (judge_b, path_b) = domain_judge(&judges.b, &data_b, &config, &device)?;
    let g = load_translator(&config, &run_dir, Direction::A2b, &device)?.valid();
    let f = load_translator(&config, &run_dir, Direction::B2a, &device)?.valid();
    let a2b = score_direction(&ab, &translate(&g, &ab.source, &device), &judge_b, &device);
    let b2a = score_direction(&ba, &translate(&f, &ba.source, &device), &judge_a, &device);
    let step = crate::output::checkpoint::latest(&run_dir.checkpoints_dir())
        .and_then(|dir| crate::output::checkpoint::read_state(&dir))
        .map(|s| s.step)?;
    let report = EmojiTaskReport {
        run: run.display().to_string(),
        step,
        a2b,
        b2a,
        judge_a: path_a.display().to_string(),
        judge_b: path_b.display().to_string(),
    };
    let json = serde_json::to_string_pretty(&report).expect("the report serialises");
    write_atomic(&run_dir.root().join("emoji_eval.json"), json.as_bytes())?;
    Ok(report)
}

/// The figure of the task: for `count` held-out images of each direction, evenly spread, the
/// rows source | translation | true counterpart (A→B, then B→A), as PNG bytes.
pub fn emoji_figure(run: &Path, count: usize, device: DeviceChoice) -> Result<Vec<u8>> {
    use crate::output::figure::{SampleFigure, Tile};
    let run_dir = RunDir::open(run)?;
    let config = run_dir.read_config()?;
    let (ab, ba) = direction_sets(&config)?;
    let device = device.device()?;
    let g = load_translator(&config, &run_dir, Direction::A2b, &device)?.valid();
    let f = load_translator(&config, &run_dir, Direction::B2a, &device)?.valid();
    let tiles = |images: Vec<Vec<f32>>| -> Vec<Tile> {
        images
            .into_iter()
            .map(|pixels| Tile {
                pixels,
                caption: None,
            })
            .collect()
    };
    let mut rows = Vec::new();
    let ((style_a, _), (style_b, _)) = emoji_domains(&config)?;
    for (sets, generator, from, to, name) in [
        (&ab, &g, style_a, style_b, "G"),
        (&ba, &f, style_b, style_a, "F"),
    ] {
        let n = sets.source.len();
        let picks: Vec<usize> = (0..count.min(n)).map(|k| k * n / count.max(1)).collect();
        let source = sets.source.batch(&picks, &device);
        let translated = crate::output::figure::split_images(generator.forward(source.clone()));
        let source = crate::output::figure::split_images(source);
        let truth = crate::output::figure::split_images(sets.gallery.batch(&picks, &device));
        rows.push((format!("{} (held out)", from.name()), tiles(source)));
        rows.push((
            format!("{name}: {} → {}", from.name(), to.name()),
            tiles(translated),
        ));
        rows.push((format!("true {} counterpart", to.name()), tiles(truth)));
    }
    SampleFigure {
        title: None,
        channels: config.input.channels,
        spatial: config.input.spatial,
        rows,
    }
    .to_png()
}
