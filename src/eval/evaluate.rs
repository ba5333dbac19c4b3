//! `ganforge eval`: a run's generator against the real data, through a judge.

use std::path::{Path, PathBuf};

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::feature_net::load_classifier;
use super::judge::{Judge, JudgeTraining, accuracy, fit_classifier, stratified_split};
use super::scores::{
    Moments, frechet_distance, inception_score, kernel_distance, precision_recall,
};
use crate::data::{ImageSet, LoadOptions};
use crate::device::DeviceChoice;
use crate::error::{GanError, Result};
use crate::output::run_dir::RunDir;
use crate::output::write_atomic;
use crate::sample::{Draw, generate};

/// Nearest neighbours of the precision/recall manifolds (Kynkäänniemi et al. use 3).
pub const NEIGHBOURS: usize = 3;

pub use super::judge::default_judge_dir;

/// `eval.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    pub run: String,
    pub step: usize,
    pub judge: String,
    /// Absent for a feature network of the user's, whose accuracy ganforge does not know.
    pub judge_held_out_accuracy: Option<f64>,
    /// Generated images scored: `n`, at most the held-out half of the real data.
    pub generated: usize,
    /// Images of the reference half of the real data that both sets are compared with.
    pub real: usize,
    /// How the real data was halved ([`real_halves`]): `stratified by label` or `alternate
    /// images`.
    pub real_split: String,
    pub inception_score_generated: f64,
    /// On the judge's features as they are.
    pub frechet_distance: f64,
    /// KID on the judge's features divided by the reference features' RMS.
    pub kernel_distance: f64,
    pub precision: f64,
    pub recall: f64,
    /// The same scores of as many held-out real images against the same reference: what a
    /// generator that draws from the data itself would score at this sample size.
    pub real_reference: SampleScores,
    /// FID between the two real halves (`real_reference.frechet_distance`): the floor the
    /// generated FID is read against, which is not 0 at a finite sample size.
    pub fid_real_halves: f64,
    /// Conditional runs: the share of generated images of each asked class the judge assigns to
    /// that class.
    pub per_class_accuracy: Option<Vec<f64>>,
    /// Conditional runs: the images asked of each class behind `per_class_accuracy`, a draw of
    /// its own ([`EvalOptions::per_class`]); absent when they were the labels of the `n` scored
    /// images (about n / classes a class).
    #[serde(default)]
    pub per_class_images: Option<usize>,
    /// Conditional runs: the same share on the held-out real images of each class, the ceiling
    /// each generated class is read against (the judge errs on real digits too).
    #[serde(default)]
    pub per_class_accuracy_real: Option<Vec<f64>>,
    /// Conditional runs: accuracy on held-out real images of a classifier trained only on
    /// generated labelled images (train on synthetic, test on real)…
    pub tstr_accuracy: Option<f64>,
    /// …and of the same classifier trained on the other real images (train on real, test on
    /// real), the reference TSTR is read against.
    pub trtr_accuracy: Option<f64>,
}

/// The scores of one set of images against the reference half of the real data.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SampleScores {
    /// Images scored.
    pub images: usize,
    pub inception_score: f64,
    pub frechet_distance: f64,
    pub kernel_distance: f64,
    pub precision: f64,
    pub recall: f64,
}

/// The real data halved for `eval`: (reference, held out). Labelled data is halved within each
/// class (its images in order, alternately to the reference and the held-out half), so both
/// halves keep the class shares; unlabelled data alternately by index. Each half is listed class
/// by class, so that evenly spaced picks from it ([`spread`]) keep the shares too.
pub fn real_halves(data: &ImageSet) -> (Vec<usize>, Vec<usize>) {
    let (mut reference, mut held_out) = (Vec::new(), Vec::new());
    let classes: Vec<Vec<usize>> = match &data.labels {
        Some(labels) => (0..labels.iter().max().map_or(0, |m| m + 1))
            .map(|c| (0..labels.len()).filter(|&i| labels[i] == c).collect())
            .collect(),
        None => vec![(0..data.len()).collect()],
    };
    for members in classes {
        for (k, i) in members.into_iter().enumerate() {
            if k % 2 == 0 {
                reference.push(i);
            } else {
                held_out.push(i);
            }
        }
    }
    (reference, held_out)
}

/// For each class `c < classes`, the share of the images labelled `c` whose most probable class
/// is `c` (0 for a class with no image).
pub fn class_accuracy(
    labels: &[Option<usize>],
    probabilities: &[Vec<f64>],
    classes: usize,
) -> Vec<f64> {
    (0..classes)
        .map(|c| {
            let asked: Vec<&Vec<f64>> = labels
                .iter()
                .zip(probabilities)
                .filter(|(label, _)| **label == Some(c))
                .map(|(_, p)| p)
                .collect();
            let right = asked.iter().filter(|p| argmax(p) == c).count();
            right as f64 / asked.len().max(1) as f64
        })
        .collect()
}

/// `count` entries of `list`, evenly spaced from its first.
fn spread(list: &[usize], count: usize) -> Vec<usize> {
    (0..count).map(|i| list[i * list.len() / count]).collect()
}

/// How `evaluate` works.
#[derive(Debug, Clone)]
pub struct EvalOptions {
    /// Generated images to score.
    pub n: usize,
    pub seed: u64,
    /// The judge; default the data set's.
    pub judge: Option<PathBuf>,
    pub device: DeviceChoice,
    /// How the TSTR and TRTR classifiers are trained.
    pub classifier_training: JudgeTraining,
    /// Conditional runs: images drawn of each class for the per-class accuracy, apart from the
    /// `n` images the other scores use. At n / classes images a class (90 for the digits at the
    /// default `n`) one image moves a class's share by over a point, so a class's accuracy
    /// could not be told from 95% by less than about 5 points; 500 a class narrow that to
    /// about 2 (binomial standard error 1% at 95%). 0 reads the `n` images' labels instead.
    pub per_class: usize,
}

impl EvalOptions {
    pub fn new(n: usize, device: DeviceChoice) -> Self {
        EvalOptions {
            n,
            seed: 0,
            judge: None,
            device,
            classifier_training: JudgeTraining::new().with_epochs(30),
            per_class: 500,
        }
    }
}

/// TSTR and TRTR accuracies of a conditional run: real data split as the judge's held-out split
/// is; the synthetic training set has as many images as the real one, classes in turn.
fn train_on_synthetic(
    run: &Path,
    data: &ImageSet,
    options: &EvalOptions,
    width: usize,
    device: &Device,
) -> Result<(f64, f64)> {
    let labels = data
        .labels
        .as_ref()
        .ok_or_else(|| GanError::config("conditional", "needs labelled data"))?;
    let training = &options.classifier_training;
    let classes = data.class_names.len();
    let (train, test) = stratified_split(labels, training.held_out, training.seed);
    let real_model = fit_classifier(data, labels, classes, &train, training, width, device);
    let trtr = accuracy(&real_model, data, labels, &test, device);

    let synthetic = generate(
        run,
        Draw::Any(train.len()),
        options.seed + 1,
        options.device,
    )?;
    let synthetic_labels: Vec<usize> = synthetic.iter().map(|(_, l)| l.unwrap_or(0)).collect();
    let pixels: Vec<f32> = synthetic.into_iter().flat_map(|(p, _)| p).collect();
    let synthetic_set = ImageSet::from_parts(
        pixels,
        data.channels,
        data.spatial,
        Some(synthetic_labels.clone()),
        data.class_names.clone(),
        Vec::new(),
    );
    let all: Vec<usize> = (0..synthetic_set.len()).collect();
    let synthetic_model = fit_classifier(
        &synthetic_set,
        &synthetic_labels,
        classes,
        &all,
        training,
        width,
        device,
    );
    let tstr = accuracy(&synthetic_model, data, labels, &test, device);
    Ok((tstr, trtr))
}

pub(crate) struct Judged {
    pub(crate) probabilities: Vec<Vec<f64>>,
    pub(crate) features: Vec<Vec<f64>>,
}

pub(crate) fn judge_images(
    judge: &Judge,
    images: &[Vec<f32>],
    shape: [usize; 3],
    device: &Device,
) -> Judged {
    let [c, h, w] = shape;
    let mut out = Judged {
        probabilities: Vec::new(),
        features: Vec::new(),
    };
    for chunk in images.chunks(256) {
        let data: Vec<f32> = chunk.concat();
        let batch = Tensor::<4>::from_data(TensorData::new(data, [chunk.len(), c, h, w]), device);
        let rows = |t: Tensor<2>| -> Vec<Vec<f64>> {
            let [_, d] = t.dims();
            crate::tensor_values(t)
                .chunks_exact(d)
                .map(|r| r.iter().map(|&v| v as f64).collect())
                .collect()
        };
        let (features, probabilities) = judge.features_and_probabilities(batch);
        out.features.extend(rows(features));
        out.probabilities.extend(rows(probabilities));
    }
    out
}

/// Root mean square of every feature value.
fn rms(features: &[Vec<f64>]) -> f64 {
    let (sum, n) = features
        .iter()
        .flatten()
        .fold((0.0, 0usize), |(s, n), v| (s + v * v, n + 1));
    (sum / n.max(1) as f64).sqrt()
}

/// `features` divided by `scale`. KID's cubic kernel (x·y/d + 1)³ assumes features of unit scale
/// (Inception's pooled features are); the judge's are not, so both sets are divided by the real
/// features' RMS before it, which leaves KID independent of the judge's feature scale.
fn rms_scaled(features: &[Vec<f64>], scale: f64) -> Vec<Vec<f64>> {
    let scale = if scale > 0.0 { scale } else { 1.0 };
    features
        .iter()
        .map(|f| f.iter().map(|v| v / scale).collect())
        .collect()
}

fn argmax(p: &[f64]) -> usize {
    p.iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map_or(0, |(i, _)| i)
}

/// The scores of `sample` against `reference`, KID on features divided by `feature_rms`.
fn score_against(reference: &Judged, sample: &Judged, feature_rms: f64) -> SampleScores {
    let (precision, recall) = precision_recall(&reference.features, &sample.features, NEIGHBOURS);
    SampleScores {
        images: sample.features.len(),
        inception_score: inception_score(&sample.probabilities),
        frechet_distance: frechet_distance(
            &Moments::of(&reference.features),
            &Moments::of(&sample.features),
        ),
        kernel_distance: kernel_distance(
            &rms_scaled(&reference.features, feature_rms),
            &rms_scaled(&sample.features, feature_rms),
        ),
        precision,
        recall,
    }
}

/// What every evaluation of a run shares: its judge, the real data halved, the reference half's
/// features and the held-out half's scores against them (the ceiling).
struct Reference {
    config: crate::config::TrainConfig,
    run_dir: RunDir,
    judge: Judge,
    info: super::judge::JudgeInfo,
    judge_dir: std::path::PathBuf,
    data: ImageSet,
    /// Images a side: `n`, at most the held-out half.
    count: usize,
    /// Reference images scored against.
    real_images: usize,
    shape: [usize; 3],
    inference: Device,
    reference_judged: Judged,
    /// The held-out real images' labels (labelled data) and the judge's probabilities for them.
    held_out_labels: Option<Vec<usize>>,
    held_out_probabilities: Vec<Vec<f64>>,
    feature_rms: f64,
    real_reference: SampleScores,
}

impl Reference {
    fn prepare(run: &Path, options: &EvalOptions) -> Result<Reference> {
        let (n, device) = (options.n, options.device);
        let judge_dir = options.judge.as_deref();
        if n < 2 {
            return Err(GanError::config(
                "n",
                "must be at least 2 to compare distributions",
            ));
        }
        let run_dir = RunDir::open(run)?;
        let config = run_dir.read_config()?;
        config.require_images("ganforge eval")?;
        let judge_dir = judge_dir.map(Path::to_path_buf).unwrap_or_else(|| {
            default_judge_dir(
                &config.input.data,
                config.input.spatial,
                config.input.channels,
            )
        });
        if !judge_dir.exists() {
            return Err(GanError::Output(format!(
                "no judge in {}: train one with `ganforge classifier train --data {} --spatial {} --channels {}`, or pass --classifier DIR|FILE.safetensors",
                judge_dir.display(),
                config.input.data,
                config.input.spatial,
                config.input.channels
            )));
        }
        let inference = device.device()?;
        let (judge, info) = load_classifier(&judge_dir, config.input.channels, &inference)?;
        // A feature network that does not state its image size takes any.
        let spatial_ok = info.spatial == 0 || info.spatial == config.input.spatial;
        if !spatial_ok || info.channels != config.input.channels {
            return Err(GanError::Output(format!(
                "the judge in {} takes {}×{}×{} images, the run makes {}×{}×{}: train a judge for the run's shape",
                judge_dir.display(),
                info.channels,
                info.spatial,
                info.spatial,
                config.input.channels,
                config.input.spatial,
                config.input.spatial
            )));
        }
        let data = ImageSet::load(
            &config.input.data,
            LoadOptions {
                background: config.input.background,
                ..LoadOptions::new(config.input.spatial, config.input.channels)
            },
        )?;
        let (reference_half, held_out_half) = real_halves(&data);
        let count = n.min(held_out_half.len());
        if count < 2 {
            return Err(GanError::Output(format!(
                "{} has {} images: eval halves the real data and needs at least 2 in each half",
                config.input.data,
                data.len()
            )));
        }
        let real_images = |indices: Vec<usize>| -> Vec<Vec<f32>> {
            indices.iter().map(|&i| data.image(i).to_vec()).collect()
        };
        let reference = real_images(spread(&reference_half, count));
        let held_out_indices = spread(&held_out_half, count);
        let held_out_labels = data
            .labels
            .as_ref()
            .map(|labels| held_out_indices.iter().map(|&i| labels[i]).collect());
        let held_out = real_images(held_out_indices);
        let shape = [
            config.input.channels,
            config.input.spatial,
            config.input.spatial,
        ];
        let reference_judged = judge_images(&judge, &reference, shape, &inference);
        let held_out_judged = judge_images(&judge, &held_out, shape, &inference);
        let feature_rms = rms(&reference_judged.features);
        let real_reference = score_against(&reference_judged, &held_out_judged, feature_rms);
        Ok(Reference {
            config,
            run_dir,
            judge,
            info,
            judge_dir,
            data,
            count,
            real_images: reference.len(),
            shape,
            inference,
            reference_judged,
            held_out_labels,
            held_out_probabilities: held_out_judged.probabilities,
            feature_rms,
            real_reference,
        })
    }

    /// The scores of judged images against the reference half.
    fn score(&self, judged: &Judged) -> SampleScores {
        score_against(&self.reference_judged, judged, self.feature_rms)
    }
}

/// The judge's accuracy on `per_class` images drawn of each class of a conditional run: for
/// each class, the share of its images the judge assigns to it.
fn asked_class_accuracy(
    run: &Path,
    reference: &Reference,
    per_class: usize,
    seed: u64,
    device: DeviceChoice,
) -> Result<Vec<f64>> {
    let drawn = generate(run, Draw::EveryClass { per_class }, seed, device)?;
    let (images, asked): (Vec<Vec<f32>>, Vec<Option<usize>>) = drawn.into_iter().unzip();
    let judged = judge_images(
        &reference.judge,
        &images,
        reference.shape,
        &reference.inference,
    );
    Ok(class_accuracy(
        &asked,
        &judged.probabilities,
        reference.config.condition_classes(),
    ))
}

/// `eval_checkpoints.json`: the scores of the generator of every checkpoint the run kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointScores {
    pub run: String,
    pub judge: String,
    /// Images a side at every checkpoint.
    pub generated: usize,
    /// Held-out real images against the same reference: the ceiling of each score.
    pub real_reference: SampleScores,
    pub checkpoints: Vec<ScoredCheckpoint>,
}

/// One checkpoint's scores.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ScoredCheckpoint {
    pub step: usize,
    pub scores: SampleScores,
}

impl CheckpointScores {
    /// The checkpoint of lowest FID.
    pub fn best(&self) -> Option<&ScoredCheckpoint> {
        self.checkpoints.iter().min_by(|a, b| {
            a.scores
                .frechet_distance
                .total_cmp(&b.scores.frechet_distance)
        })
    }
}

/// Scores the generator of every checkpoint the run kept (as `evaluate` scores the latest, with
/// the same images a side, the same reference and the same noise at every checkpoint, TSTR
/// left out), writes `eval_checkpoints.json` and redraws the report, whose curves then show when
/// quality peaked. A run keeps `keep_checkpoints` of them (`--keep-checkpoints` on `train` or
/// `--resume`).
pub fn evaluate_checkpoints(run: &Path, options: &EvalOptions) -> Result<CheckpointScores> {
    let reference = Reference::prepare(run, options)?;
    let checkpoints = crate::output::checkpoint::all_complete(&reference.run_dir.checkpoints_dir());
    if checkpoints.is_empty() {
        return Err(GanError::Output(format!(
            "{} has no checkpoint yet: train it first",
            run.display()
        )));
    }
    let mut scored = Vec::with_capacity(checkpoints.len());
    for dir in &checkpoints {
        let step = crate::output::checkpoint::read_state(dir)?.step;
        let generated = crate::sample::generate_at(
            run,
            dir,
            Draw::Any(reference.count),
            options.seed,
            options.device,
        )?;
        let images: Vec<Vec<f32>> = generated.into_iter().map(|(p, _)| p).collect();
        let judged = judge_images(
            &reference.judge,
            &images,
            reference.shape,
            &reference.inference,
        );
        scored.push(ScoredCheckpoint {
            step,
            scores: reference.score(&judged),
        });
    }
    let scores = CheckpointScores {
        run: run.display().to_string(),
        judge: reference.judge_dir.display().to_string(),
        generated: reference.count,
        real_reference: reference.real_reference,
        checkpoints: scored,
    };
    let json = serde_json::to_string_pretty(&scores).expect("the scores serialise");
    write_atomic(&reference.run_dir.checkpoint_scores(), json.as_bytes())?;
    crate::output::report::write_report(reference.run_dir.root())?;
    Ok(scores)
}

/// Scores generated images of the run in `run` with the judge in `judge_dir` (default: the data
/// set's), and writes `eval.json`. The real data is halved ([`real_halves`]): `n` generated
/// images (at most the held-out half) and as many held-out real ones are each scored against as
/// many of the reference half, with the same functions, so the real figures are the ceiling the
/// generated ones are read against.
pub fn evaluate(run: &Path, options: &EvalOptions) -> Result<EvalReport> {
    let reference = Reference::prepare(run, options)?;
    let Reference {
        config,
        run_dir,
        judge,
        info,
        judge_dir,
        data,
        count,
        shape,
        inference,
        real_reference,
        ..
    } = &reference;
    let (seed, device) = (options.seed, options.device);
    let classes = config.condition_classes();
    let generated = generate(run, Draw::Any(*count), seed, device)?;
    let fake_images: Vec<Vec<f32>> = generated.iter().map(|(p, _)| p.clone()).collect();
    let fake = judge_images(judge, &fake_images, *shape, inference);
    let scores = reference.score(&fake);
    let real_reference = *real_reference;

    let (per_class_accuracy, per_class_images) = if classes == 0 {
        (None, None)
    } else if options.per_class == 0 {
        let asked: Vec<Option<usize>> = generated.iter().map(|(_, label)| *label).collect();
        (
            Some(class_accuracy(&asked, &fake.probabilities, classes)),
            None,
        )
    } else {
        let per_class = options.per_class;
        (
            Some(asked_class_accuracy(
                run, &reference, per_class, seed, device,
            )?),
            Some(per_class),
        )
    };
    let per_class_accuracy_real = match (&reference.held_out_labels, classes > 0) {
        (Some(labels), true) => {
            let labels: Vec<Option<usize>> = labels.iter().map(|&l| Some(l)).collect();
            Some(class_accuracy(
                &labels,
                &reference.held_out_probabilities,
                classes,
            ))
        }
        _ => None,
    };
    // No epochs: the user asked to skip the two classifiers' training (minutes at 64×64).
    let (tstr_accuracy, trtr_accuracy) = if classes > 0 && options.classifier_training.epochs > 0 {
        let (tstr, trtr) = train_on_synthetic(run, data, options, info.width, inference)?;
        (Some(tstr), Some(trtr))
    } else {
        (None, None)
    };
    let step = crate::output::checkpoint::latest(&run_dir.checkpoints_dir())
        .and_then(|dir| crate::output::checkpoint::read_state(&dir))
        .map(|s| s.step)?;
    let report = EvalReport {
        run: run.display().to_string(),
        step,
        judge: judge_dir.display().to_string(),
        judge_held_out_accuracy: info.held_out_accuracy,
        generated: scores.images,
        real: reference.real_images,
        real_split: if data.labels.is_some() {
            "stratified by label"
        } else {
            "alternate images"
        }
        .to_string(),
        inception_score_generated: scores.inception_score,
        frechet_distance: scores.frechet_distance,
        kernel_distance: scores.kernel_distance,
        precision: scores.precision,
        recall: scores.recall,
        real_reference,
        fid_real_halves: real_reference.frechet_distance,
        per_class_accuracy,
        per_class_images,
        per_class_accuracy_real,
        tstr_accuracy,
        trtr_accuracy,
    };
    let json = serde_json::to_string_pretty(&report).expect("the report serialises");
    write_atomic(&run_dir.root().join("eval.json"), json.as_bytes())?;
    // The run's report shows the scores from now on.
    crate::output::report::write_report(run_dir.root())?;
    Ok(report)
}
