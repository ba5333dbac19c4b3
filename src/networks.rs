//! What a run's configuration builds: its networks, each family's from its keys, drawn from its
//! seed; its optimizers and its objective. Between the configuration and everything that trains,
//! samples or loads a checkpoint, so that each of those builds the same networks.

use burn::optim::{AdamConfig, ModuleOptimizer, RmsPropConfig};
use burn::prelude::*;

use crate::config::{OptimizerKind, TrainConfig};
use crate::data::DataSpec;
use crate::losses::Objective;
use crate::models::{
    CycleGeneratorConfig, DcganDiscriminatorConfig, DcganGeneratorConfig, Discriminator, Generator,
    MlpDiscriminatorConfig, MlpGeneratorConfig, ModelKind, PatchDiscriminatorConfig,
    ResnetDiscriminatorConfig, ResnetGeneratorConfig, materialize_parameters, normal_init,
    with_seed,
};

/// The single-G/D families' networks, optimizers and objective.
impl TrainConfig {
    /// Classes the networks are conditioned on; 0 for an unconditional run.
    pub fn condition_classes(&self) -> usize {
        if self.input.conditional {
            self.input.classes.unwrap_or(0)
        } else {
            0
        }
    }

    /// G of the configured architecture, with burn's initial weights (drawn lazily).
    pub fn init_generator(&self, device: &Device) -> Generator {
        let classes = self.condition_classes();
        match self.networks.model {
            ModelKind::Dcgan => DcganGeneratorConfig::new(self.input.spatial, self.input.channels)
                .with_classes(classes)
                .with_latent(self.networks.latent)
                .with_capacity(self.networks.capacity)
                .with_filter(self.networks.filter)
                .with_leaky_slope(self.networks.leaky_slope)
                .with_draw_side(self.networks.g_draw_side)
                .with_class_norm(self.networks.g_class_norm)
                .with_upsample(self.networks.g_upsample)
                .with_resample_filter(self.networks.resample_filter)
                .init(device)
                .into(),
            ModelKind::Resnet => {
                ResnetGeneratorConfig::new(self.input.spatial, self.input.channels)
                    .with_latent(self.networks.latent)
                    .with_capacity(self.networks.capacity)
                    .with_classes(classes)
                    .init(device)
                    .into()
            }
            ModelKind::Mlp => MlpGeneratorConfig::new(self.input.channels, self.input.spatial)
                .with_classes(classes)
                .with_latent(self.networks.latent)
                .with_width(2 * self.networks.capacity)
                // Images are in [-1, 1]; points of a mixture are not bounded.
                .with_tanh(!matches!(self.input.data, DataSpec::Mixture(_)))
                .init(device)
                .into(),
            ModelKind::Cyclegan => {
                unreachable!("a CycleGAN run trains with train::cycle::CycleGan")
            }
        }
    }

    /// D of the configured architecture, with burn's initial weights (drawn lazily).
    pub fn init_discriminator(&self, device: &Device) -> Discriminator {
        let classes = self.condition_classes();
        match self.networks.model {
            ModelKind::Dcgan => DcganDiscriminatorConfig::new(self.input.channels)
                .with_capacity(self.networks.capacity)
                .with_filter(self.networks.filter)
                .with_leaky_slope(self.networks.leaky_slope)
                .with_norm(self.networks.d_norm)
                .with_classes(classes)
                .with_pack(self.remedies.pack)
                .with_minibatch_stddev(self.remedies.minibatch_stddev)
                .with_spectral_norm(self.networks.spectral_norm)
                .with_resample_filter(self.networks.resample_filter)
                .init(device)
                .into(),
            ModelKind::Resnet => {
                ResnetDiscriminatorConfig::new(self.input.channels, self.input.spatial)
                    .with_capacity(self.networks.capacity)
                    .with_classes(classes)
                    .with_pack(self.remedies.pack)
                    .with_spectral_norm(self.networks.spectral_norm)
                    .init(device)
                    .into()
            }
            ModelKind::Mlp => MlpDiscriminatorConfig::new(
                self.input.channels * self.input.spatial * self.input.spatial,
            )
            .with_width(self.networks.capacity)
            .with_classes(classes)
            .with_pack(self.remedies.pack)
            .with_minibatch_stddev(self.remedies.minibatch_stddev)
            .init(device)
            .into(),
            ModelKind::Cyclegan => {
                unreachable!("a CycleGAN run trains with train::cycle::CycleGan")
            }
        }
    }

    /// A fresh optimizer of the configured kind (each network has its own).
    pub(crate) fn optimizer(&self) -> ModuleOptimizer {
        match self.optimiser.optimizer {
            OptimizerKind::Adam => AdamConfig::new()
                .with_beta_1(self.optimiser.beta1 as f32)
                .with_beta_2(self.optimiser.beta2 as f32)
                .with_epsilon(1e-8)
                .init(),
            OptimizerKind::Rmsprop => RmsPropConfig::new()
                .with_momentum(0.0)
                .with_epsilon(1e-8)
                .init(),
        }
    }

    pub fn objective(&self) -> Objective {
        Objective {
            kind: self.objective.loss,
            real_target: self.objective.label_smoothing,
        }
    }

    /// Networks with their initial weights, drawn from `seed` (on the non-autodiff device).
    pub fn init_networks(&self, device: &Device) -> (Generator, Discriminator) {
        with_seed(device, self.schedule.seed, || self.draw_networks(device))
    }

    fn draw_networks(&self, device: &Device) -> (Generator, Discriminator) {
        let generator = self.init_generator(device);
        let discriminator = self.init_discriminator(device);
        let (generator, discriminator) = match self.networks.init_std {
            Some(std) => (normal_init(generator, std), normal_init(discriminator, std)),
            None => (generator, discriminator),
        };
        // burn draws a parameter at its first use: draw them all while the seeded RNG is ours.
        materialize_parameters(&generator);
        materialize_parameters(&discriminator);
        (generator, discriminator)
    }
}

/// CycleGAN's networks, optimizers and schedule.
impl TrainConfig {
    pub fn cycle_generator_config(&self) -> CycleGeneratorConfig {
        CycleGeneratorConfig::new(self.input.channels)
            .with_filters(self.networks.capacity)
            .with_blocks(self.cycle.res_blocks)
            .with_downsamplings(self.cycle.downsamplings)
    }

    pub fn patch_discriminator_config(&self) -> PatchDiscriminatorConfig {
        PatchDiscriminatorConfig::new(self.input.channels)
            .with_filters(self.networks.capacity)
            .with_layers(PatchDiscriminatorConfig::layers_for(self.input.spatial))
    }

    /// The step from which the learning rates fall linearly to zero: `lr_decay_start`, or for
    /// CycleGAN half the run (Zhu et al.); `None` for a GAN that keeps its rates.
    pub fn decay_start(&self) -> Option<usize> {
        match (self.optimiser.lr_decay_start, self.networks.model) {
            (Some(start), _) => Some(start),
            (None, ModelKind::Cyclegan) => Some(self.total_steps() / 2),
            (None, _) => None,
        }
    }

    /// A learning rate of `lr` as scheduled at `step` (0-based): [`scheduled_lr`] from
    /// [`TrainConfig::decay_start`], or `lr` throughout.
    pub fn lr_at(&self, lr: f64, step: usize) -> f64 {
        match self.decay_start() {
            Some(start) => scheduled_lr(lr, step, self.total_steps(), start),
            None => lr,
        }
    }

    /// A fresh optimizer of one of CycleGAN's networks: Adam with the run's betas.
    pub(crate) fn cycle_optimizer(&self) -> ModuleOptimizer {
        AdamConfig::new()
            .with_beta_1(self.optimiser.beta1 as f32)
            .with_beta_2(self.optimiser.beta2 as f32)
            .with_epsilon(1e-8)
            .init()
    }
}

/// The learning rate at `step` (0-based) of `total`: `lr` until `decay_start`, then falling
/// linearly to 0 at `total` (CycleGAN's schedule, and any GAN's with `lr_decay_start`).
pub fn scheduled_lr(lr: f64, step: usize, total: usize, decay_start: usize) -> f64 {
    if step < decay_start || total <= decay_start {
        lr
    } else {
        lr * (total - step) as f64 / (total - decay_start) as f64
    }
}
