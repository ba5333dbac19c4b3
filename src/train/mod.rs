//! Training. One session driver (`session`) runs every model family through the same run
//! directory, step loop, divergence checks, checkpoints and end of run; a family plugs in as a
//! `session::Trainer`: `gan_trainer` for the single-G/D GANs ([`gan::Gan`]: the tutorial's
//! iteration, every objective and remedy), `cycle_trainer` for CycleGAN ([`cycle::CycleGan`]).

pub mod cycle;
mod cycle_trainer;
pub mod diagnostics;
mod families;
pub mod gan;
mod gan_trainer;
pub mod random;
mod reporter;
mod session;

pub use crate::models::with_seed;
pub use cycle::{load_domains, load_translator};
pub use families::{resume, train};
pub use gan::{Gan, Latent, UpdateStats, gradient_norm, label_tensor};
pub use reporter::Progress;
pub use session::{
    LastStep, ResumeOptions, TrainOptions, TrainSummary, install_stop_handler, request_stop,
};
