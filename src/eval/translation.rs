//! How well a CycleGAN run translates: the cycle reconstruction error of every image of both
//! domains, and, where the domains have labels and a judge, the share of translations a judge of
//! the target domain assigns to the source image's class.

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::feature_net::load_classifier;
use super::judge::Judge;
use super::judge::default_judge_dir;
use crate::data::ImageSet;
use crate::device::DeviceChoice;
use crate::error::{GanError, Result};
use crate::models::{CycleGenerator, ModelKind};
use crate::output::run_dir::RunDir;
use crate::output::write_atomic;
use crate::train::cycle::Direction;
use crate::train::{load_domains, load_translator};

/// `eval.json` of a CycleGAN run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TranslationReport {
    pub run: String,
    pub step: usize,
    pub images_a: usize,
    pub images_b: usize,
    /// mean |F(G(a)) − a| over every pixel of every image of A, pixels in [-1, 1].
    pub cycle_error_a: f64,
    /// mean |G(F(b)) − b| over B.
    pub cycle_error_b: f64,
    /// The share of A's images whose translation G(a) the judge of B assigns to a's class.
    pub class_preserved_ab: Option<f64>,
    /// The share of B's images whose translation F(b) the judge of A assigns to b's class.
    pub class_preserved_ba: Option<f64>,
    pub judge_a: Option<String>,
    pub judge_b: Option<String>,
}

/// Where the judges of the domains are: given, or the defaults of `classifier train`.
#[derive(Debug, Clone, Default)]
pub struct DomainJudges {
    pub a: Option<PathBuf>,
    pub b: Option<PathBuf>,
}

/// Images translated at a time.
const CHUNK: usize = 128;

/// Runs `images` through `generator` in chunks, on `device`.
fn translate_all(generator: &CycleGenerator, set: &ImageSet, device: &Device) -> Vec<Tensor<4>> {
    let indices: Vec<usize> = (0..set.len()).collect();
    indices
        .chunks(CHUNK)
        .map(|chunk| generator.forward(set.batch(chunk, device)))
        .collect()
}

fn predicted(judge: &Judge, images: &[Tensor<4>]) -> Vec<usize> {
    images
        .iter()
        .flat_map(|t| {
            judge
                .forward(t.clone())
                .argmax(1)
                .into_data()
                .try_into_vec_as::<i64>()
                .expect("argmax gives integers")
                .into_iter()
                .map(|p| p as usize)
        })
        .collect()
}

/// Measures the CycleGAN run in `run` on its own domains and writes `eval.json`.
pub fn evaluate_translation(
    run: &Path,
    judges: &DomainJudges,
    device: DeviceChoice,
) -> Result<TranslationReport> {
    let run_dir = RunDir::open(run)?;
    let config = run_dir.read_config()?;
    if config.networks.model != ModelKind::Cyclegan {
        return Err(GanError::config(
            "run",
            "is not a CycleGAN run: `evaluate_translation` measures translations",
        ));
    }
    let device = device.device()?;
    let (a, b) = load_domains(&config)?;
    let g = load_translator(&config, &run_dir, Direction::A2b, &device)?.valid();
    let f = load_translator(&config, &run_dir, Direction::B2a, &device)?.valid();
    let (to_b, to_a) = (
        translate_all(&g, &a, &device),
        translate_all(&f, &b, &device),
    );
    let cycle_error = |there: &[Tensor<4>], back: &CycleGenerator, original: &ImageSet| {
        let mut sum = 0.0f64;
        let mut start = 0;
        for t in there {
            let n = t.dims()[0];
            let indices: Vec<usize> = (start..start + n).collect();
            let diff = (back.forward(t.clone()) - original.batch(&indices, &device))
                .abs()
                .sum()
                .into_scalar::<f32>() as f64;
            sum += diff;
            start += n;
        }
        let values = original.len() * original.channels * original.spatial * original.spatial;
        sum / values.max(1) as f64
    };
    let cycle_error_a = cycle_error(&to_b, &f, &a);
    let cycle_error_b = cycle_error(&to_a, &g, &b);

    let (data_a, data_b) = (
        config
            .cycle
            .data_a
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        config
            .cycle
            .data_b
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
    );
    let judge_path = |given: &Option<PathBuf>, data: &str| {
        given
            .clone()
            .unwrap_or_else(|| default_judge_dir(data, config.input.spatial, config.input.channels))
    };
    let (path_a, path_b) = (
        judge_path(&judges.a, &data_a),
        judge_path(&judges.b, &data_b),
    );
    // Class preservation A→B: B's judge reads G(a), compared with a's label.
    let preserved =
        |judge_dir: &Path, translated: &[Tensor<4>], source: &ImageSet| -> Result<Option<f64>> {
            let Some(labels) = source.labels.as_ref() else {
                return Ok(None);
            };
            if !judge_dir.exists() {
                return Ok(None);
            }
            let (judge, _) = load_classifier(judge_dir, config.input.channels, &device)?;
            let predicted = predicted(&judge, translated);
            let right = predicted.iter().zip(labels).filter(|(p, l)| p == l).count();
            Ok(Some(right as f64 / labels.len().max(1) as f64))
        };
    let class_preserved_ab = preserved(&path_b, &to_b, &a)?;
    let class_preserved_ba = preserved(&path_a, &to_a, &b)?;
    let step = crate::output::checkpoint::latest(&run_dir.checkpoints_dir())
        .and_then(|dir| crate::output::checkpoint::read_state(&dir))
        .map(|s| s.step)?;
    let report = TranslationReport {
        run: run.display().to_string(),
        step,
        images_a: a.len(),
        images_b: b.len(),
        cycle_error_a,
        cycle_error_b,
        class_preserved_ab,
        class_preserved_ba,
        judge_a: class_preserved_ba.map(|_| path_a.display().to_string()),
        judge_b: class_preserved_ab.map(|_| path_b.display().to_string()),
    };
    let json = serde_json::to_string_pretty(&report).expect("the report serialises");
    write_atomic(&run_dir.root().join("eval.json"), json.as_bytes())?;
    // The run's report shows the scores from now on.
    crate::output::report::write_report(run_dir.root())?;
    Ok(report)
}
