//! The model families the session driver trains, in one list: `train` and `resume` pick a run's
//! [`Trainer`](super::session::Trainer) by its `model` key. A new family is a new trainer module
//! and one line in each match here.

use super::cycle_trainer::CycleTrainer;
use super::gan_trainer::GanTrainer;
use super::session::{ResumeOptions, TrainOptions, TrainSummary, restart, resumed_config, start};
use crate::config::TrainConfig;
use crate::error::Result;
use crate::models::ModelKind;

/// Trains a new run. Everything that can be wrong with the input (configuration, device, data)
/// is checked before the run directory is made, so a refused run leaves nothing behind.
pub fn train(config: TrainConfig, options: TrainOptions) -> Result<TrainSummary> {
    config.validate()?;
    match config.networks.model {
        ModelKind::Dcgan | ModelKind::Mlp | ModelKind::Resnet => {
            start::<GanTrainer>(config, options)
        }
        ModelKind::Cyclegan => start::<CycleTrainer>(config, options),
    }
}

/// Continues a run from its latest checkpoint: same step, optimizer moments and random streams.
pub fn resume(options: ResumeOptions) -> Result<TrainSummary> {
    let (run, config, changed) = resumed_config(&options)?;
    match config.networks.model {
        ModelKind::Dcgan | ModelKind::Mlp | ModelKind::Resnet => {
            restart::<GanTrainer>(run, config, changed, &options)
        }
        ModelKind::Cyclegan => restart::<CycleTrainer>(run, config, changed, &options),
    }
}
