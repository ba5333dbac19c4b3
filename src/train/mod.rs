//! The one training loop. [`Gan`] holds the networks and their optimizers and performs the
//! tutorial's iteration; [`run`] drives it and writes the run directory.

pub mod random;
mod run;

pub use run::{Progress, ResumeOptions, TrainOptions, TrainSummary, resume, train};

use std::sync::Mutex;

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use burn::tensor::activation::sigmoid;

use crate::config::TrainConfig;
use crate::data::ImageSet;
use crate::losses::BceObjective;
use crate::models::{Discriminator, DiscriminatorConfig, Generator, GeneratorConfig};
use random::{DataOrder, Stream, noise, stream};

/// Backends such as flex keep one process-wide RNG: seeding it and drawing the initial weights
/// happen under this lock so that concurrent runs in one process (tests) stay reproducible.
static INIT_LOCK: Mutex<()> = Mutex::new(());

impl TrainConfig {
    pub fn generator_config(&self) -> GeneratorConfig {
        GeneratorConfig::new(self.spatial, self.channels)
            .with_latent(self.latent)
            .with_capacity(self.capacity)
            .with_filter(self.filter)
            .with_leaky_slope(self.leaky_slope)
    }

    pub fn discriminator_config(&self) -> DiscriminatorConfig {
        DiscriminatorConfig::new(self.channels)
            .with_capacity(self.capacity)
            .with_filter(self.filter)
            .with_leaky_slope(self.leaky_slope)
            .with_norm(self.d_norm)
    }

    pub(crate) fn adam(&self) -> ModuleOptimizer {
        AdamConfig::new()
            .with_beta_1(self.beta1 as f32)
            .with_beta_2(self.beta2 as f32)
            .with_epsilon(1e-8)
            .init()
    }

    /// Networks with their initial weights, drawn from `seed` (on the non-autodiff device).
    pub fn init_networks(&self, device: &Device) -> (Generator, Discriminator) {
        let _guard = INIT_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        device.seed(self.seed);
        let generator = self.generator_config().init(device);
        let discriminator = self.discriminator_config().init(device);
        (generator, discriminator)
    }
}

/// Means over one iteration's updates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IterationStats {
    pub d_loss: f64,
    pub g_loss: f64,
    pub d_real: f64,
    pub d_fake: f64,
}

/// A GAN in training: both networks, both optimizers and the number of iterations done.
pub struct Gan {
    pub generator: Generator,
    pub discriminator: Discriminator,
    pub(crate) optim_g: ModuleOptimizer,
    pub(crate) optim_d: ModuleOptimizer,
    /// Iterations completed.
    pub step: usize,
    pub config: TrainConfig,
    objective: BceObjective,
    /// The autodiff device training runs on.
    device: Device,
}

fn scalar(t: Tensor<1>) -> f64 {
    t.into_scalar::<f32>() as f64
}

impl Gan {
    /// Fresh networks for `config` on `device` (autodiff is added here).
    pub fn new(config: &TrainConfig, device: &Device) -> Self {
        let (generator, discriminator) = config.init_networks(&device.clone().autodiff());
        Self::from_parts(
            config,
            device,
            generator,
            discriminator,
            config.adam(),
            config.adam(),
            0,
        )
    }

    /// A GAN from networks already on the autodiff `device`.
    pub(crate) fn from_parts(
        config: &TrainConfig,
        device: &Device,
        generator: Generator,
        discriminator: Discriminator,
        optim_g: ModuleOptimizer,
        optim_d: ModuleOptimizer,
        step: usize,
    ) -> Self {
        let device = device.clone().autodiff();
        Gan {
            generator,
            discriminator,
            optim_g,
            optim_d,
            step,
            config: config.clone(),
            objective: BceObjective {
                real_target: config.label_smoothing,
            },
            device,
        }
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Noise for stream `purpose` at `index`, on the training device.
    pub fn noise(&self, purpose: Stream, index: u64, count: usize) -> Tensor<2> {
        noise(
            &mut stream(self.config.seed, index, purpose),
            self.config.noise,
            count,
            self.config.latent,
            &self.device,
        )
    }

    /// One D update on `logits_of(D)` with `loss`; returns (loss, mean D probability).
    fn discriminator_update(
        &mut self,
        images: Tensor<4>,
        loss_of: impl Fn(&BceObjective, Tensor<2>) -> Tensor<1>,
    ) -> (f64, f64) {
        let logits = self.discriminator.forward(images);
        let mean_probability = sigmoid(logits.clone().detach()).mean();
        let loss = loss_of(&self.objective, logits);
        let grads = GradientsParams::from_grads(loss.backward(), &self.discriminator);
        self.discriminator = self
            .optim_d
            .step(self.config.lr_d, self.discriminator.clone(), grads);
        (scalar(loss), scalar(mean_probability))
    }

    /// D on a batch of real images, target 1 (or the smoothed target).
    pub fn discriminator_step_real(&mut self, real: Tensor<4>) -> (f64, f64) {
        self.discriminator_update(real, BceObjective::discriminator_real)
    }

    /// D on a separate batch of fakes G makes from `noise`, target 0. G is not updated: it runs
    /// without gradient tracking, with batch statistics as in training.
    pub fn discriminator_step_fake(&mut self, noise: Tensor<2>) -> (f64, f64) {
        let fake = self.generator.forward(noise).detach();
        self.discriminator_update(fake, BceObjective::discriminator_fake)
    }

    /// G through a frozen D, target 1. D's weights take no gradient and its BatchNorm layers
    /// normalise with the batch's statistics (as when D is trained on a fake batch) on a
    /// detached copy, so that the G step changes nothing of D, not even its running averages.
    pub fn generator_step(&mut self, noise: Tensor<2>) -> f64 {
        let frozen_d = self.discriminator.valid().train().no_grad();
        let logits = frozen_d.forward(self.generator.forward(noise));
        let loss = self.objective.generator(logits);
        let grads = GradientsParams::from_grads(loss.backward(), &self.generator);
        self.generator = self
            .optim_g
            .step(self.config.lr_g, self.generator.clone(), grads);
        scalar(loss)
    }

    /// The tutorial's iteration: `disc_updates` × (D on real, D on fake), then `gen_updates` × G.
    pub fn iteration(&mut self, data: &ImageSet, order: &mut DataOrder) -> IterationStats {
        let c = &self.config;
        let (batch, disc_updates, gen_updates) = (c.batch, c.disc_updates, c.gen_updates);
        let mut stats = IterationStats {
            d_loss: 0.0,
            g_loss: 0.0,
            d_real: 0.0,
            d_fake: 0.0,
        };
        for k in 0..disc_updates {
            let draw = (self.step * disc_updates + k) as u64;
            let real = data.batch(&order.indices(draw * batch as u64, batch), &self.device);
            let (loss_real, d_real) = self.discriminator_step_real(real);
            let noise = self.noise(Stream::DiscriminatorNoise, draw, batch);
            let (loss_fake, d_fake) = self.discriminator_step_fake(noise);
            stats.d_loss += 0.5 * (loss_real + loss_fake) / disc_updates as f64;
            stats.d_real += d_real / disc_updates as f64;
            stats.d_fake += d_fake / disc_updates as f64;
        }
        for k in 0..gen_updates {
            let draw = (self.step * gen_updates + k) as u64;
            let noise = self.noise(Stream::GeneratorNoise, draw, batch);
            stats.g_loss += self.generator_step(noise) / gen_updates as f64;
        }
        self.step += 1;
        stats
    }

    /// D(x) for one batch as D judges batches in training (BatchNorm on the batch's own
    /// statistics), computed on a detached copy so that nothing of D changes.
    pub fn training_scores(&self, images: Tensor<4>) -> Vec<f32> {
        let d = self.discriminator.valid().train().no_grad();
        crate::tensor_values(d.probability(images.to_device(&self.device)))
    }

    /// G(z) in inference mode for noise `z`, channel-major images in [-1, 1].
    pub fn generate(&self, noise: Tensor<2>) -> Tensor<4> {
        let g = self.generator.valid();
        g.forward(noise.to_device(&self.device.clone().without_autodiff()))
    }
}
