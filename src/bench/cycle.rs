//! `ganforge bench cycle`: the shipped CycleGAN task (digits ↔ restyled digits) trained and
//! measured from one command: judges for both domains (trained once, kept where `eval` looks),
//! the CycleGAN run, then its cycle error and class preservation.

use std::path::PathBuf;
use std::time::Instant;

use crate::config::TrainOverrides;
use crate::device::DeviceChoice;
use crate::error::Result;
use crate::eval::judge::{JudgeRequest, JudgeTraining, default_judge_dir, train_and_save};
use crate::eval::translation::{DomainJudges, TranslationReport, evaluate_translation};
use crate::models::ModelKind;
use crate::train::{Progress, TrainOptions, train};

#[derive(Debug, Clone)]
pub struct CycleBenchOptions {
    /// Training iterations [default: the task's preset].
    pub steps: Option<usize>,
    /// The run directory [default: runs/<name>].
    pub out: Option<PathBuf>,
    pub device: DeviceChoice,
    pub progress: Progress,
}

#[derive(Debug, Clone)]
pub struct CycleBenchReport {
    pub run_dir: PathBuf,
    pub steps: usize,
    pub train_seconds: f64,
    /// Held-out accuracy of each domain's judge, when it was trained by this command.
    pub judges_trained: Vec<(String, f64)>,
    pub translation: TranslationReport,
}

/// Judges of the task's two domains, trained (and saved) unless they exist.
fn ensure_judges(
    spatial: usize,
    channels: usize,
    device: DeviceChoice,
) -> Result<Vec<(String, f64)>> {
    let mut trained = Vec::new();
    let defaults = JudgeTraining::new();
    for name in ["digits-a", "digits-b"] {
        if default_judge_dir(name, spatial, channels).exists() {
            continue;
        }
        let saved = train_and_save(
            &JudgeRequest {
                data: name.to_string(),
                spatial: Some(spatial),
                channels: Some(channels),
                epochs: defaults.epochs,
                seed: defaults.seed,
                background: crate::data::Background::default(),
                out: None,
            },
            &device.device()?,
        )?;
        trained.push((
            name.to_string(),
            saved.info.held_out_accuracy.unwrap_or(f64::NAN),
        ));
    }
    Ok(trained)
}

pub fn run_cycle_bench(options: &CycleBenchOptions) -> Result<CycleBenchReport> {
    let config = TrainOverrides {
        model: Some(ModelKind::Cyclegan),
        steps: options.steps,
        ..Default::default()
    }
    .resolve()?;
    let judges_trained =
        ensure_judges(config.input.spatial, config.input.channels, options.device)?;
    let started = Instant::now();
    let summary = train(
        config,
        TrainOptions {
            device: options.device,
            out: options.out.clone(),
            runs_root: PathBuf::from("runs"),
            progress: options.progress,
        },
    )?;
    let train_seconds = started.elapsed().as_secs_f64();
    let translation =
        evaluate_translation(&summary.run_dir, &DomainJudges::default(), options.device)?;
    Ok(CycleBenchReport {
        run_dir: summary.run_dir,
        steps: summary.steps,
        train_seconds,
        judges_trained,
        translation,
    })
}
