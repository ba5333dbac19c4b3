//! `ganforge bench cycle`: a CycleGAN task trained and measured from one command: judges for
//! both domains (trained once, kept where `eval` looks), the CycleGAN run, then its cycle error
//! and class preservation. Two tasks: the shipped digits ↔ restyled digits (`--task digits`, the
//! default), and Noto ↔ Twemoji emoji (`--task emoji`), which also measures content kept and
//! style reached on the held-out halves (`eval::emoji_task`) and draws `emoji_translations.png`.

use std::path::PathBuf;
use std::time::Instant;

use crate::config::{TrainOverrides, cyclegan_emoji_preset};
use crate::device::DeviceChoice;
use crate::error::Result;
use crate::eval::emoji_task::{EmojiTaskReport, emoji_figure, evaluate_emoji_task};
use crate::eval::judge::{JudgeRequest, JudgeTraining, default_judge_dir, train_and_save};
use crate::eval::translation::{DomainJudges, TranslationReport, evaluate_translation};
use crate::models::ModelKind;
use crate::train::{Progress, TrainOptions, train};

/// Which CycleGAN task `bench cycle` runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum CycleTask {
    /// Digits ↔ restyled digits, 16×16 (`digits-a`, `digits-b`).
    #[default]
    Digits,
    /// Noto ↔ Twemoji emoji, 32×32, on disjoint halves of the emoji (`emoji-noto-a`,
    /// `emoji-twemoji-b`).
    Emoji,
}

/// Rows of each direction in the emoji task's figure.
pub const EMOJI_FIGURE_COLUMNS: usize = 12;

/// The emoji task's figure in its run directory.
pub const EMOJI_FIGURE: &str = "emoji_translations.png";

#[derive(Debug, Clone)]
pub struct CycleBenchOptions {
    pub task: CycleTask,
    /// Keys over the task's preset (`--config`, `--seed`).
    pub keys: TrainOverrides,
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
    /// The emoji task's measures and its figure's path.
    pub emoji: Option<(EmojiTaskReport, PathBuf)>,
}

/// Judges of the task's two domains, trained (and saved) unless they exist.
fn ensure_judges(
    names: [String; 2],
    spatial: usize,
    channels: usize,
    device: DeviceChoice,
) -> Result<Vec<(String, f64)>> {
    let mut trained = Vec::new();
    let defaults = JudgeTraining::new();
    for name in names {
        if default_judge_dir(&name, spatial, channels).exists() {
            continue;
        }
        let saved = train_and_save(
            &JudgeRequest {
                data: name.clone(),
                spatial: Some(spatial),
                channels: Some(channels),
                epochs: defaults.epochs,
                seed: defaults.seed,
                background: crate::data::Background::default(),
                out: None,
            },
            &device.device()?,
        )?;
        trained.push((name, saved.info.held_out_accuracy.unwrap_or(f64::NAN)));
    }
    Ok(trained)
}

pub fn run_cycle_bench(options: &CycleBenchOptions) -> Result<CycleBenchReport> {
    let preset = match options.task {
        CycleTask::Digits => TrainOverrides::default(),
        CycleTask::Emoji => cyclegan_emoji_preset(),
    };
    let config = preset
        .overridden_by(options.keys.clone())
        .overridden_by(TrainOverrides {
            model: Some(ModelKind::Cyclegan),
            steps: options.steps,
            ..Default::default()
        })
        .resolve()?;
    let (data_a, data_b) = config.domain_specs()?;
    let judges_trained = ensure_judges(
        [data_a.to_string(), data_b.to_string()],
        config.input.spatial,
        config.input.channels,
        options.device,
    )?;
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
    let emoji = match options.task {
        CycleTask::Digits => None,
        CycleTask::Emoji => {
            let report =
                evaluate_emoji_task(&summary.run_dir, &DomainJudges::default(), options.device)?;
            let png = emoji_figure(&summary.run_dir, EMOJI_FIGURE_COLUMNS, options.device)?;
            let path = summary.run_dir.join(EMOJI_FIGURE);
            crate::output::write_atomic(&path, &png)?;
            Some((report, path))
        }
    };
    Ok(CycleBenchReport {
        run_dir: summary.run_dir,
        steps: summary.steps,
        train_seconds,
        judges_trained,
        translation,
        emoji,
    })
}
