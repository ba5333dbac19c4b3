//! [`Gan`]: a single-generator, single-discriminator GAN in training (the tutorial's DCGAN, the
//! fully connected `mlp`, every objective and remedy): both networks, both optimizers, and the
//! tutorial's iteration. `gan_trainer` plugs it into the session driver.

use std::path::Path;

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::prelude::*;

use super::random::{DataOrder, Stream, noise, stream};
use crate::config::TrainConfig;
use crate::data::ImageSet;
use crate::error::Result;
use crate::losses::{Objective, class_cross_entropy, gradient_penalty, r1_penalty};
use crate::models::{Discriminator, Generator, clip_weights, moving_average};
use crate::output::checkpoint::{
    self, CheckpointState, module_bytes, optimizer_bytes, read_module, read_optimizer,
};
use crate::output::loss_log::StepRecord;

use crate::models::{DiscriminatorNet, GeneratorNet};

/// G's input: noise and, for a conditional run, the class of each image.
#[derive(Debug, Clone)]
pub struct Latent {
    pub noise: Tensor<2>,
    pub labels: Option<Tensor<1, Int>>,
}

/// Class labels as an integer tensor.
pub fn label_tensor(labels: &[usize], device: &Device) -> Tensor<1, Int> {
    let values: Vec<i64> = labels.iter().map(|&l| l as i64).collect();
    Tensor::from_data(TensorData::new(values, [labels.len()]), device)
}

/// What one D update measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UpdateStats {
    pub loss: f64,
    /// Mean reported D output on the batch.
    pub score: f64,
    /// Mean raw D output on the batch.
    pub raw: f64,
    pub grad_norm: f64,
}

/// L2 norm of the gradients `grads` holds for `module`'s weights.
pub fn gradient_norm<M: Module>(module: &M, grads: &GradientsParams) -> f64 {
    struct SumSquares<'a> {
        grads: &'a GradientsParams,
        total: f64,
    }
    impl ModuleVisitor for SumSquares<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if let Some(g) = self.grads.get::<D>(param.id) {
                self.total += g.square().sum().into_scalar::<f32>() as f64;
            }
        }
    }
    let mut sum = SumSquares { grads, total: 0.0 };
    module.visit(&mut sum);
    sum.total.sqrt()
}

/// D's scores for `images` and, when the run has the class term (`class_loss`, its weight) and
/// D a class projection, that term for `labels`.
fn scores_and_class_term(
    discriminator: &Discriminator,
    class_loss: Option<f64>,
    images: Tensor<4>,
    labels: Option<Tensor<1, Int>>,
) -> (Tensor<2>, Option<Tensor<1>>) {
    let Some(weight) = class_loss else {
        return (discriminator.forward_conditioned(images, labels), None);
    };
    let (scores, logits) = discriminator.forward_with_class_logits(images, labels.clone());
    let term = logits
        .zip(labels)
        .map(|(logits, labels)| class_cross_entropy(logits, labels, weight));
    (scores, term)
}

/// A GAN in training: both networks, both optimizers and the number of iterations done.
pub struct Gan {
    pub generator: Generator,
    /// Exponential moving average of G's weights (`g_ema`), on the inference device; what
    /// samples are drawn from when present.
    pub generator_ema: Option<Generator>,
    pub discriminator: Discriminator,
    pub(crate) optim_g: ModuleOptimizer,
    pub(crate) optim_d: ModuleOptimizer,
    /// Iterations completed.
    pub step: usize,
    pub config: TrainConfig,
    objective: Objective,
    /// The autodiff device training runs on.
    device: Device,
    /// Augmentation draws made in this iteration: with the step, the index of the next draw's
    /// stream, so that the draws depend only on (seed, step, order of D's and G's passes).
    augment_draws: u64,
}

/// Augmentation draws an iteration may make (D's passes and G's); they index its streams.
const AUGMENT_DRAWS_PER_STEP: u64 = 1 << 16;

fn scalar(t: Tensor<1>) -> f64 {
    t.into_scalar::<f32>() as f64
}

impl Gan {
    /// Fresh networks for `config` on `device` (autodiff is added here).
    pub fn new(config: &TrainConfig, device: &Device) -> Self {
        let device = device.clone().autodiff();
        let (generator, discriminator) = config.init_networks(&device);
        let generator_ema = config.remedies.g_ema.map(|_| generator.valid());
        Gan {
            generator,
            generator_ema,
            discriminator,
            optim_g: config.optimizer(),
            optim_d: config.optimizer(),
            step: 0,
            config: config.clone(),
            objective: config.objective(),
            device,
            augment_draws: 0,
        }
    }

    /// The GAN saved in checkpoint `dir` of a run configured by `config`, on `device`, after
    /// checking the checkpoint against the run (format, checksums, model, seed).
    pub fn load(config: &TrainConfig, dir: &Path, device: &Device) -> Result<Self> {
        let state = checkpoint::read_state_of_run(dir, config)?;
        Self::restore(config, dir, &state, device)
    }

    /// The networks and optimizers of checkpoint `dir`, whose `state` has been checked.
    pub(crate) fn restore(
        config: &TrainConfig,
        dir: &Path,
        state: &CheckpointState,
        device: &Device,
    ) -> Result<Self> {
        let mut gan = Gan::new(config, device);
        gan.generator = read_module(gan.generator, &dir.join(checkpoint::GENERATOR))?;
        gan.discriminator = read_module(gan.discriminator, &dir.join(checkpoint::DISCRIMINATOR))?;
        if let Some(average) = gan.generator_ema.take() {
            // The average must keep G's parameter ids, by which `moving_average` pairs its
            // weights with G's: loading keeps the ids of the module loaded into.
            let average = read_module(average, &dir.join(checkpoint::GENERATOR_EMA))?;
            gan.generator_ema = Some(average);
        }
        gan.optim_g = read_optimizer(config.optimizer(), &dir.join(checkpoint::OPTIM_G))?;
        gan.optim_d = read_optimizer(config.optimizer(), &dir.join(checkpoint::OPTIM_D))?;
        gan.step = state.step;
        Ok(gan)
    }

    /// The files of a checkpoint of this GAN: both networks, G's average, both optimizers.
    pub(crate) fn checkpoint_files(&self, hint: &Path) -> Result<Vec<(&'static str, Vec<u8>)>> {
        let mut files = vec![
            (
                checkpoint::GENERATOR,
                module_bytes(self.generator.valid(), hint)?,
            ),
            (
                checkpoint::DISCRIMINATOR,
                module_bytes(self.discriminator.valid(), hint)?,
            ),
            (checkpoint::OPTIM_G, optimizer_bytes(&self.optim_g, hint)?),
            (checkpoint::OPTIM_D, optimizer_bytes(&self.optim_d, hint)?),
        ];
        if let Some(average) = &self.generator_ema {
            files.push((
                checkpoint::GENERATOR_EMA,
                module_bytes(average.clone(), hint)?,
            ));
        }
        Ok(files)
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// G's input for stream `purpose` at `index`: noise and, for a conditional run, classes
    /// drawn uniformly from the same stream.
    pub fn latent(&self, purpose: Stream, index: u64, count: usize) -> Latent {
        let mut rng = stream(self.config.schedule.seed, index, purpose);
        let noise = noise(
            &mut rng,
            self.config.schedule.noise,
            count,
            self.config.networks.latent,
            &self.device,
        );
        let classes = self.config.condition_classes();
        let labels = (classes > 0).then(|| {
            let drawn: Vec<usize> = (0..count)
                .map(|_| rand::Rng::random_range(&mut rng, 0..classes))
                .collect();
            label_tensor(&drawn, &self.device)
        });
        Latent { noise, labels }
    }

    /// G's input for stream `purpose` at `index` with the given classes.
    pub fn latent_with_labels(&self, purpose: Stream, index: u64, labels: &[usize]) -> Latent {
        let noise = self.latent(purpose, index, labels.len()).noise;
        Latent {
            noise,
            labels: Some(label_tensor(labels, &self.device)),
        }
    }

    /// `images` as D sees them: through the run's augmentation (`augment`; unchanged when it is
    /// `none`), each call drawing from the next of the iteration's augmentation streams.
    fn augmented(&mut self, images: Tensor<4>) -> Tensor<4> {
        let policy = self.config.remedies.augment;
        if policy.is_none() {
            return images;
        }
        let index = self.step as u64 * AUGMENT_DRAWS_PER_STEP + self.augment_draws;
        self.augment_draws += 1;
        let mut rng = stream(self.config.schedule.seed, index, Stream::Augmentation);
        policy.apply(images, &mut rng)
    }

    /// The R1 penalty's term for this step's real batch (as D saw it), when the run has one and
    /// this is one of its steps: γ/2·mean‖∇D‖², times the interval when lazy (every k steps,
    /// scaled by k, so its mean weight stays γ).
    fn r1_term(&self, real: &Tensor<4>, labels: &Option<Tensor<1, Int>>) -> Option<Tensor<1>> {
        let gamma = self.config.objective.r1_gamma?;
        let interval = self.config.objective.r1_interval.max(1);
        self.step.is_multiple_of(interval).then(|| {
            r1_penalty(
                &self.discriminator,
                real.clone(),
                labels.clone(),
                gamma * interval as f64,
            )
        })
    }

    /// Backpropagates `loss` into D, steps D's optimizer and clips D's weights when the
    /// configuration says so; returns the L2 norm of the gradient.
    fn apply_discriminator_loss(&mut self, loss: Tensor<1>) -> f64 {
        let grads = GradientsParams::from_grads(loss.backward(), &self.discriminator);
        let grad_norm = gradient_norm(&self.discriminator, &grads);
        self.discriminator = self.optim_d.step(
            self.config.lr_at(self.config.optimiser.lr_d, self.step),
            self.discriminator.clone(),
            grads,
        );
        if let Some(c) = self.config.objective.clip {
            self.discriminator = clip_weights(self.discriminator.clone(), c);
        }
        grad_norm
    }

    /// The statistics of D's `output` on one batch.
    fn update_stats(&self, output: Tensor<2>, loss: f64, grad_norm: f64) -> UpdateStats {
        let output = output.detach();
        UpdateStats {
            loss,
            score: scalar(self.objective.score(output.clone()).mean()),
            raw: scalar(output.mean()),
            grad_norm,
        }
    }

    /// D on a batch of real images (target 1, or the smoothed target), with their labels in a
    /// conditional run; augmented and with the R1 and class terms when the run has them.
    pub fn discriminator_step_real(
        &mut self,
        real: Tensor<4>,
        labels: Option<Tensor<1, Int>>,
    ) -> UpdateStats {
        let real = self.augmented(real);
        let (output, class_term) = scores_and_class_term(
            &self.discriminator,
            self.config.objective.class_loss,
            real.clone(),
            labels.clone(),
        );
        let mut loss = self.objective.discriminator_real(output.clone());
        if let Some(penalty) = self.r1_term(&real, &labels) {
            loss = loss + penalty;
        }
        if let Some(term) = class_term {
            loss = loss + term;
        }
        let value = scalar(loss.clone());
        let grad_norm = self.apply_discriminator_loss(loss);
        self.update_stats(output, value, grad_norm)
    }

    /// G's images for `latent`, for D to judge. G is not updated: its output is detached, and
    /// its graph dropped.
    fn fakes_for_discriminator(&self, latent: &Latent) -> Tensor<4> {
        self.generator
            .forward_conditioned(latent.noise.clone(), latent.labels.clone())
            .detach()
    }

    /// D on a separate batch of fakes G makes from `latent` (target 0), augmented when the run
    /// augments.
    pub fn discriminator_step_fake(&mut self, latent: Latent) -> UpdateStats {
        let fakes = self.fakes_for_discriminator(&latent);
        let fakes = self.augmented(fakes);
        let output = self.discriminator.forward_conditioned(fakes, latent.labels);
        let loss = self.objective.discriminator_fake(output.clone());
        let value = scalar(loss.clone());
        let grad_norm = self.apply_discriminator_loss(loss);
        self.update_stats(output, value, grad_norm)
    }

    /// D on one batch holding the real images and as many fakes (`mixed_batches`), one update on
    /// the mean of the two losses; returns the statistics of the real and of the fake half.
    pub fn discriminator_step_mixed(
        &mut self,
        real: Tensor<4>,
        real_labels: Option<Tensor<1, Int>>,
        latent: Latent,
    ) -> (UpdateStats, UpdateStats) {
        let fake = self.fakes_for_discriminator(&latent);
        let (real, fake) = (self.augmented(real), self.augmented(fake));
        let (n_real, n_fake) = (real.dims()[0], fake.dims()[0]);
        let penalty = self.r1_term(&real, &real_labels);
        let labels = match (real_labels, latent.labels) {
            (Some(r), Some(f)) => Some(Tensor::cat(vec![r, f], 0)),
            _ => None,
        };
        let images = Tensor::cat(vec![real, fake], 0);
        let (output, class_term) = match self.config.objective.class_loss {
            // The class term is on the real half only (D learns the classes from the data).
            Some(weight) => {
                let (output, logits) = self
                    .discriminator
                    .forward_with_class_logits(images, labels.clone());
                let term = logits.zip(labels).map(|(logits, labels)| {
                    class_cross_entropy(
                        logits.narrow(0, 0, n_real),
                        labels.narrow(0, 0, n_real),
                        weight,
                    )
                });
                (output, term)
            }
            None => (self.discriminator.forward_conditioned(images, labels), None),
        };
        let out_real = output.clone().narrow(0, 0, n_real);
        let out_fake = output.narrow(0, n_real, n_fake);
        let mut loss_real = self.objective.discriminator_real(out_real.clone());
        // The terms on the real half count at full weight in the update below, which halves the
        // sum of the two halves' losses.
        for term in [penalty, class_term].into_iter().flatten() {
            loss_real = loss_real + term.mul_scalar(2.0);
        }
        let loss_fake = self.objective.discriminator_fake(out_fake.clone());
        let (value_real, value_fake) = (scalar(loss_real.clone()), scalar(loss_fake.clone()));
        let grad_norm = self.apply_discriminator_loss((loss_real + loss_fake).mul_scalar(0.5));
        (
            self.update_stats(out_real, value_real, grad_norm),
            self.update_stats(out_fake, value_fake, grad_norm),
        )
    }

    /// One WGAN-GP critic update (Gulrajani et al. 2017) on a real batch and as many fakes:
    /// −mean D(x) + mean D(G(z)) + λ·penalty, one optimizer step. In a conditional run the
    /// fakes take the real images' labels, so that each interpolate has one label. Returns the
    /// statistics of the real and the fake half; the fake half's loss includes the penalty.
    pub fn critic_step_gradient_penalty(
        &mut self,
        real: Tensor<4>,
        real_labels: Option<Tensor<1, Int>>,
        latent: Latent,
        draw: u64,
    ) -> (UpdateStats, UpdateStats) {
        let latent = Latent {
            labels: real_labels.clone().or(latent.labels),
            ..latent
        };
        let fake = self.fakes_for_discriminator(&latent);
        let (real, fake) = (self.augmented(real), self.augmented(fake));
        let n = real.dims()[0];
        let (out_real, class_term) = scores_and_class_term(
            &self.discriminator,
            self.config.objective.class_loss,
            real.clone(),
            real_labels.clone(),
        );
        let out_fake = self
            .discriminator
            .forward_conditioned(fake.clone(), latent.labels.clone());
        let mut loss_real = self.objective.discriminator_real(out_real.clone());
        if let Some(term) = class_term {
            loss_real = loss_real + term;
        }
        let loss_fake = self.objective.discriminator_fake(out_fake.clone());
        let epsilon: Vec<f32> = {
            let mut rng = stream(self.config.schedule.seed, draw, Stream::Interpolation);
            (0..n).map(|_| rand::Rng::random::<f32>(&mut rng)).collect()
        };
        let epsilon = Tensor::from_data(TensorData::new(epsilon, [n]), &self.device);
        let penalty = gradient_penalty(
            &self.discriminator,
            real,
            fake,
            real_labels,
            epsilon,
            self.config.objective.gp_weight,
        );
        let values = (
            scalar(loss_real.clone()),
            scalar(loss_fake.clone()) + scalar(penalty.clone()),
        );
        let grad_norm = self.apply_discriminator_loss(loss_real + loss_fake + penalty);
        (
            self.update_stats(out_real, values.0, grad_norm),
            self.update_stats(out_fake, values.1, grad_norm),
        )
    }

    /// G through a frozen D, target 1; returns (loss, gradient norm). D's weights take no
    /// gradient and its BatchNorm layers normalise with the batch's statistics (as when D is
    /// trained on a fake batch) on a detached copy, so that the G step changes nothing of D, not
    /// even its running averages (nor its spectral-norm estimates). G's images are augmented as
    /// D's inputs are when the run augments, so G's gradient flows through the augmentation.
    /// The mode-seeking and class terms are added when the run has them.
    pub fn generator_step(&mut self, latent: Latent) -> (f64, f64) {
        let frozen_d = self.discriminator.valid().train().no_grad();
        let fakes = self
            .generator
            .forward_conditioned(latent.noise.clone(), latent.labels.clone());
        let diversity = self
            .config
            .remedies
            .mode_seeking
            .map(|weight| crate::losses::mode_seeking(fakes.clone(), latent.noise, weight));
        let fakes = self.augmented(fakes);
        let (output, class_term) = scores_and_class_term(
            &frozen_d,
            self.config.objective.class_loss,
            fakes,
            latent.labels,
        );
        let mut loss = self.objective.generator(output);
        for term in [diversity, class_term].into_iter().flatten() {
            loss = loss + term;
        }
        self.apply_generator_loss(loss)
    }

    /// G's feature-matching step (Salimans et al. 2016): G minimises the squared distance
    /// between the mean of D's pooled last-block features on `real` and on its own images,
    /// through a frozen D as in [`Gan::generator_step`]; returns (loss, gradient norm).
    pub fn generator_step_matching(&mut self, latent: Latent, real: Tensor<4>) -> (f64, f64) {
        let frozen_d = self.discriminator.valid().train().no_grad();
        let real = self.augmented(real);
        let target = frozen_d.features(real).mean_dim(0).detach();
        let fakes = self
            .generator
            .forward_conditioned(latent.noise, latent.labels);
        let fakes = self.augmented(fakes);
        let loss = (frozen_d.features(fakes).mean_dim(0) - target)
            .square()
            .sum();
        self.apply_generator_loss(loss)
    }

    /// Backpropagates `loss` into G, steps G's optimizer and moves its average; returns (loss,
    /// gradient norm).
    fn apply_generator_loss(&mut self, loss: Tensor<1>) -> (f64, f64) {
        let grads = GradientsParams::from_grads(loss.backward(), &self.generator);
        let grad_norm = gradient_norm(&self.generator, &grads);
        self.generator = self.optim_g.step(
            self.config.lr_at(self.config.optimiser.lr_g, self.step),
            self.generator.clone(),
            grads,
        );
        if let (Some(decay), Some(average)) =
            (self.config.remedies.g_ema, self.generator_ema.take())
        {
            // `valid` brings G's running statistics up to date before they are copied.
            let _ = self.generator.valid();
            // During the warm-up the average is G itself: averaging G's first, poor weights
            // would only slow the average down.
            let decay = if self.step < self.config.remedies.g_ema_warmup {
                0.0
            } else {
                decay
            };
            self.generator_ema = Some(moving_average(average, &self.generator, decay));
        }
        (scalar(loss), grad_norm)
    }

    /// The tutorial's iteration: `disc_updates` × (D on real, D on fake), then `gen_updates` × G.
    pub fn iteration(&mut self, data: &ImageSet, order: &mut DataOrder) -> StepRecord {
        let c = &self.config;
        let (batch, disc_updates, gen_updates) = (
            c.schedule.batch,
            c.schedule.disc_updates,
            c.schedule.gen_updates,
        );
        // The row of `losses.csv`: means over the iteration's updates (timing left to the
        // session).
        let mut stats = StepRecord {
            step: self.step + 1,
            epoch: self.step / self.config.schedule.iterations_per_epoch,
            ..StepRecord::default()
        };
        let mut raw_gap = 0.0;
        self.augment_draws = 0;
        let (nd, ng) = (disc_updates as f64, gen_updates as f64);
        let mut last_real = Vec::new();
        for k in 0..disc_updates {
            let draw = (self.step * disc_updates + k) as u64;
            let indices = order.indices(draw * batch as u64, batch);
            let real = data.batch(&indices, &self.device);
            let real_labels = self.real_labels(data, &indices);
            last_real = indices;
            let latent = self.latent(Stream::DiscriminatorNoise, draw, batch);
            let (real, fake) = if self.config.objective.loss.objective().gradient_penalty() {
                self.critic_step_gradient_penalty(real, real_labels, latent, draw)
            } else if self.config.remedies.mixed_batches {
                self.discriminator_step_mixed(real, real_labels, latent)
            } else {
                let real = self.discriminator_step_real(real, real_labels);
                (real, self.discriminator_step_fake(latent))
            };
            stats.d_loss += 0.5 * (real.loss + fake.loss) / nd;
            stats.d_real += real.score / nd;
            stats.d_fake += fake.score / nd;
            stats.d_grad_norm += 0.5 * (real.grad_norm + fake.grad_norm) / nd;
            raw_gap += (real.raw - fake.raw) / nd;
        }
        for k in 0..gen_updates {
            let draw = (self.step * gen_updates + k) as u64;
            let mut latent = self.latent(Stream::GeneratorNoise, draw, batch);
            if self.config.remedies.mode_seeking.is_some() {
                // The mode-seeking pairs (first half, second half) share their labels.
                latent.labels = latent.labels.map(|labels| {
                    let first = labels.narrow(0, 0, batch / 2);
                    Tensor::cat(vec![first.clone(), first], 0)
                });
            }
            let (loss, grad_norm) = if self.config.remedies.feature_matching {
                // The real images D last saw are the ones G's features are matched to.
                let real = data.batch(&last_real, &self.device);
                self.generator_step_matching(latent, real)
            } else {
                self.generator_step(latent)
            };
            stats.g_loss += loss / ng;
            stats.g_grad_norm += grad_norm / ng;
        }
        if self.objective.has_wasserstein_estimate() {
            stats.wasserstein = Some(raw_gap);
        }
        self.step += 1;
        stats
    }

    /// The labels of data images `indices` as a tensor, in a conditional run.
    pub fn real_labels(&self, data: &ImageSet, indices: &[usize]) -> Option<Tensor<1, Int>> {
        if self.config.condition_classes() == 0 {
            return None;
        }
        let labels = data.labels.as_ref()?;
        let picked: Vec<usize> = indices.iter().map(|&i| labels[i]).collect();
        Some(label_tensor(&picked, &self.device))
    }

    /// D's reported score (a probability for `bce`, the critic value otherwise) for one batch
    /// (with its labels in a conditional run), as D judges batches in training (BatchNorm on the
    /// batch's own statistics), computed on a detached copy so that nothing of D changes.
    pub fn training_scores(&self, images: Tensor<4>, labels: Option<Tensor<1, Int>>) -> Vec<f32> {
        let d = self.discriminator.valid().train().no_grad();
        let labels = labels.map(|l| l.to_device(&self.device));
        let output = d.forward_conditioned(images.to_device(&self.device), labels);
        // A packed D scores groups of images: each image gets its group's score.
        crate::tensor_values(self.objective.score(output))
            .into_iter()
            .flat_map(|score| std::iter::repeat_n(score, self.config.remedies.pack))
            .collect()
    }

    /// G(z) in inference mode for noise `z` (from the moving average of G when the run keeps
    /// one), channel-major images in [-1, 1].
    pub fn generate(&self, latent: Latent) -> Tensor<4> {
        let inner = self.device.clone().without_autodiff();
        let noise = latent.noise.to_device(&inner);
        let labels = latent.labels.map(|l| l.to_device(&inner));
        match &self.generator_ema {
            Some(average) => average.forward_conditioned(noise, labels),
            None => self.generator.valid().forward_conditioned(noise, labels),
        }
    }
}
