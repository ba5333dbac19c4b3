//! Evaluation: scores of a generator against real data, from a classifier's outputs and features.

pub mod emoji_task;
pub mod evaluate;
pub mod export;
pub mod feature_net;
pub mod folder_fid;
pub mod inception;
pub mod judge;
pub mod modes;
pub mod scores;
pub mod translation;

use std::path::Path;

use crate::error::Result;
use crate::models::ModelKind;
use crate::output::run_dir::RunDir;

/// What `eval` measures of a run: a generator's scores against real data, or a CycleGAN's
/// translations (cycle error, class preservation).
#[derive(Debug, Clone)]
pub enum RunScores {
    Generator(evaluate::EvalReport),
    Translation(translation::TranslationReport),
}

/// Scores the run in `run` as its model calls for: a CycleGAN run with the judges of its two
/// domains, any other with `options` (and its `eval.json` written).
pub fn evaluate_run(
    run: &Path,
    options: &evaluate::EvalOptions,
    judges: &translation::DomainJudges,
) -> Result<RunScores> {
    let config = RunDir::open(run)?.read_config()?;
    Ok(match config.networks.model {
        ModelKind::Cyclegan => RunScores::Translation(translation::evaluate_translation(
            run,
            judges,
            options.device,
        )?),
        ModelKind::Dcgan | ModelKind::Mlp | ModelKind::Resnet => {
            RunScores::Generator(evaluate::evaluate(run, options)?)
        }
    })
}
