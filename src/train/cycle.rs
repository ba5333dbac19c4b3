//! CycleGAN training (Zhu et al. 2017): G translates domain A to B and F translates B to A; D_A
//! and D_B tell real images of their domain from translations. G and F are trained together on
//! least-squares adversarial losses, the cycle-consistency loss λ·(‖F(G(a)) − a‖₁ + ‖G(F(b)) − b‖₁)
//! and the identity loss; each D on real images and on a buffer of past translations.

use burn::module::Module;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use std::path::Path;

use super::gan::gradient_norm;
use super::random::{DataOrder, Stream, gaussian, stream};
use crate::config::TrainConfig;
use crate::data::{DataSpec, ImageSet, LoadOptions};
use crate::error::{GanError, Result};
use crate::losses::{l1_distance, least_squares};
use crate::models::with_seed;
use crate::models::{CycleGenerator, PatchDiscriminator, materialize_parameters};
use crate::output::checkpoint::{
    self, CheckpointState, module_bytes, optimizer_bytes, read_module, read_optimizer,
};
use crate::output::loss_log::CycleRecord;
use crate::output::run_dir::RunDir;

/// The history of generated images a discriminator is shown (Shrivastava et al. 2017): until it
/// holds `capacity` images every new one is stored and returned; then each new image is, with
/// probability ½, swapped for a random stored one (which is returned instead), else returned as is.
/// D thus also sees what G made a while ago, which damps oscillation.
#[derive(Debug, Clone, PartialEq)]
pub struct ImagePool {
    capacity: usize,
    stored: Vec<Vec<f32>>,
}

impl ImagePool {
    pub fn new(capacity: usize) -> Self {
        ImagePool {
            capacity,
            stored: Vec::with_capacity(capacity),
        }
    }

    pub fn len(&self) -> usize {
        self.stored.len()
    }

    pub fn is_empty(&self) -> bool {
        self.stored.is_empty()
    }

    /// The images D is shown for a batch of new `images`.
    pub fn query(&mut self, images: Vec<Vec<f32>>, rng: &mut impl Rng) -> Vec<Vec<f32>> {
        if self.capacity == 0 {
            return images;
        }
        images
            .into_iter()
            .map(|image| {
                if self.stored.len() < self.capacity {
                    self.stored.push(image.clone());
                    image
                } else if rng.random_bool(0.5) {
                    let slot = rng.random_range(0..self.stored.len());
                    std::mem::replace(&mut self.stored[slot], image)
                } else {
                    image
                }
            })
            .collect()
    }
}

pub use crate::networks::scheduled_lr;

/// Which way an image is translated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Direction {
    /// Domain A to domain B, by G.
    A2b,
    /// Domain B to domain A, by F.
    B2a,
}

/// The four networks, their optimizers and the two image buffers.
pub struct CycleGan {
    /// G: A → B.
    pub g_ab: CycleGenerator,
    /// F: B → A.
    pub g_ba: CycleGenerator,
    pub d_a: PatchDiscriminator,
    pub d_b: PatchDiscriminator,
    optim_g_ab: ModuleOptimizer,
    optim_g_ba: ModuleOptimizer,
    optim_d_a: ModuleOptimizer,
    optim_d_b: ModuleOptimizer,
    /// Past F(b), shown to D_A.
    pool_a: ImagePool,
    /// Past G(a), shown to D_B.
    pool_b: ImagePool,
    pub step: usize,
    pub config: TrainConfig,
    device: Device,
}

fn scalar(t: Tensor<1>) -> f64 {
    t.into_scalar::<f32>() as f64
}

impl CycleGan {
    /// Fresh networks for `config` on `device` (autodiff is added here), drawn from its seed.
    pub fn new(config: &TrainConfig, device: &Device) -> Self {
        let device = device.clone().autodiff();
        let (g_ab, g_ba, d_a, d_b) = with_seed(&device, config.schedule.seed, || {
            let g = config.cycle_generator_config();
            let d = config.patch_discriminator_config();
            let nets = (
                g.init(&device),
                g.init(&device),
                d.init(&device),
                d.init(&device),
            );
            materialize_parameters(&nets.0);
            materialize_parameters(&nets.1);
            materialize_parameters(&nets.2);
            materialize_parameters(&nets.3);
            nets
        });
        CycleGan {
            g_ab,
            g_ba,
            d_a,
            d_b,
            optim_g_ab: config.cycle_optimizer(),
            optim_g_ba: config.cycle_optimizer(),
            optim_d_a: config.cycle_optimizer(),
            optim_d_b: config.cycle_optimizer(),
            pool_a: ImagePool::new(config.cycle.pool_size),
            pool_b: ImagePool::new(config.cycle.pool_size),
            step: 0,
            config: config.clone(),
            device,
        }
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The learning rate of the current step.
    pub fn lr(&self) -> f64 {
        self.config.lr_at(self.config.optimiser.lr_g, self.step)
    }

    /// One iteration on a batch of each domain: G and F together, then D_A and D_B. Returns its
    /// row of `losses.csv`: every term (λ included), the gradient norms and the learning rate
    /// (its timing left for the session to set).
    pub fn iteration(
        &mut self,
        domain_a: &ImageSet,
        domain_b: &ImageSet,
        order_a: &mut DataOrder,
        order_b: &mut DataOrder,
    ) -> CycleRecord {
        let batch = self.config.schedule.batch;
        let position = (self.step * batch) as u64;
        let real_a = domain_a.batch(&order_a.indices(position, batch), &self.device);
        let real_b = domain_b.batch(&order_b.indices(position, batch), &self.device);
        let (lambda, lambda_id) = (
            self.config.cycle.cycle_weight,
            self.config.cycle.identity_weight,
        );
        let lr = self.lr();
        let d_lr = self.config.lr_at(self.config.optimiser.lr_d, self.step);

        // G and F through frozen copies of the discriminators.
        let (frozen_a, frozen_b) = (
            self.d_a.valid().train().no_grad(),
            self.d_b.valid().train().no_grad(),
        );
        let fake_b = self.g_ab.forward(real_a.clone());
        let fake_a = self.g_ba.forward(real_b.clone());
        let adversarial_ab = least_squares(frozen_b.forward(fake_b.clone()), 1.0);
        let adversarial_ba = least_squares(frozen_a.forward(fake_a.clone()), 1.0);
        // Noise on the translations before the way back (none at 0): a faint hidden copy of
        // the source cannot survive it, so what the translation shows must carry the cycle.
        let (back_from_b, back_from_a) = {
            let sigma = self.config.cycle.cycle_noise;
            if sigma > 0.0 {
                let mut rng = stream(
                    self.config.schedule.seed,
                    self.step as u64,
                    Stream::CycleNoise,
                );
                let noise_b = gaussian(&mut rng, sigma, fake_b.dims(), &self.device);
                let noise_a = gaussian(&mut rng, sigma, fake_a.dims(), &self.device);
                (fake_b.clone() + noise_b, fake_a.clone() + noise_a)
            } else {
                (fake_b.clone(), fake_a.clone())
            }
        };
        let cycle_a =
            l1_distance(self.g_ba.forward(back_from_b), real_a.clone()).mul_scalar(lambda);
        let cycle_b =
            l1_distance(self.g_ab.forward(back_from_a), real_b.clone()).mul_scalar(lambda);
        let (identity_a, identity_b) = if lambda_id > 0.0 {
            (
                l1_distance(self.g_ba.forward(real_a.clone()), real_a.clone())
                    .mul_scalar(lambda * lambda_id),
                l1_distance(self.g_ab.forward(real_b.clone()), real_b.clone())
                    .mul_scalar(lambda * lambda_id),
            )
        } else {
            let zero = Tensor::zeros([1], &self.device);
            (zero.clone(), zero)
        };
        let mut stats = CycleRecord {
            step: self.step + 1,
            epoch: self.step / self.config.schedule.iterations_per_epoch,
            lr,
            adversarial_ab: scalar(adversarial_ab.clone()),
            adversarial_ba: scalar(adversarial_ba.clone()),
            cycle_a: scalar(cycle_a.clone()),
            cycle_b: scalar(cycle_b.clone()),
            identity_a: scalar(identity_a.clone()),
            identity_b: scalar(identity_b.clone()),
            ..CycleRecord::default()
        };
        let total = adversarial_ab + adversarial_ba + cycle_a + cycle_b + identity_a + identity_b;
        let mut grads = total.backward();
        let grads_ab = GradientsParams::from_module(&mut grads, &self.g_ab);
        let grads_ba = GradientsParams::from_module(&mut grads, &self.g_ba);
        stats.g_grad_norm =
            gradient_norm(&self.g_ab, &grads_ab).hypot(gradient_norm(&self.g_ba, &grads_ba));
        self.g_ab = self.optim_g_ab.step(lr, self.g_ab.clone(), grads_ab);
        self.g_ba = self.optim_g_ba.step(lr, self.g_ba.clone(), grads_ba);

        // Each D on real images of its domain and on translations from its buffer.
        let mut rng = stream(
            self.config.schedule.seed,
            self.step as u64,
            Stream::ImagePool,
        );
        let shown_b = self.buffered(fake_b, true, &mut rng);
        let shown_a = self.buffered(fake_a, false, &mut rng);
        let loss_d_a = (least_squares(self.d_a.forward(real_a), 1.0)
            + least_squares(self.d_a.forward(shown_a), 0.0))
        .mul_scalar(0.5);
        let loss_d_b = (least_squares(self.d_b.forward(real_b), 1.0)
            + least_squares(self.d_b.forward(shown_b), 0.0))
        .mul_scalar(0.5);
        stats.d_a = scalar(loss_d_a.clone());
        stats.d_b = scalar(loss_d_b.clone());
        let mut grads = (loss_d_a + loss_d_b).backward();
        let grads_a = GradientsParams::from_module(&mut grads, &self.d_a);
        let grads_b = GradientsParams::from_module(&mut grads, &self.d_b);
        stats.d_grad_norm =
            gradient_norm(&self.d_a, &grads_a).hypot(gradient_norm(&self.d_b, &grads_b));
        self.d_a = self.optim_d_a.step(d_lr, self.d_a.clone(), grads_a);
        self.d_b = self.optim_d_b.step(d_lr, self.d_b.clone(), grads_b);
        self.step += 1;
        stats
    }

    /// The translations D is shown for the new `fakes` (detached), through the buffer of domain B
    /// (`to_b`) or A.
    fn buffered(&mut self, fakes: Tensor<4>, to_b: bool, rng: &mut ChaCha8Rng) -> Tensor<4> {
        let [b, c, h, w] = fakes.dims();
        let images: Vec<Vec<f32>> = crate::tensor_values(fakes.detach())
            .chunks_exact(c * h * w)
            .map(<[f32]>::to_vec)
            .collect();
        let pool = if to_b {
            &mut self.pool_b
        } else {
            &mut self.pool_a
        };
        let shown: Vec<f32> = pool.query(images, rng).concat();
        Tensor::from_data(TensorData::new(shown, [b, c, h, w]), &self.device)
    }

    /// Translations of `images` (inference: no autodiff).
    pub fn translate(&self, images: Tensor<4>, direction: Direction) -> Tensor<4> {
        let inner = self.device.clone().without_autodiff();
        let images = images.to_device(&inner);
        match direction {
            Direction::A2b => self.g_ab.valid().forward(images),
            Direction::B2a => self.g_ba.valid().forward(images),
        }
    }
}

/// The networks' files in a CycleGAN checkpoint: G, F, D_A, D_B.
const NETWORKS: [&str; 4] = ["g_ab.bpk", "g_ba.bpk", "d_a.bpk", "d_b.bpk"];
/// Their optimizers' files, in the same order.
const OPTIMIZERS: [&str; 4] = [
    "optim_g_ab.bpk",
    "optim_g_ba.bpk",
    "optim_d_a.bpk",
    "optim_d_b.bpk",
];

impl CycleGan {
    /// The networks and optimizers of checkpoint `dir`, whose `state` has been checked against
    /// the run. The image buffers start empty again.
    pub(crate) fn restore(
        config: &TrainConfig,
        dir: &Path,
        state: &CheckpointState,
        device: &Device,
    ) -> Result<Self> {
        let mut gan = CycleGan::new(config, device);
        let [g_ab, g_ba, d_a, d_b] = NETWORKS.map(|n| dir.join(n));
        gan.g_ab = read_module(gan.g_ab, &g_ab)?;
        gan.g_ba = read_module(gan.g_ba, &g_ba)?;
        gan.d_a = read_module(gan.d_a, &d_a)?;
        gan.d_b = read_module(gan.d_b, &d_b)?;
        let [o1, o2, o3, o4] = OPTIMIZERS.map(|n| dir.join(n));
        let fresh = || config.cycle_optimizer();
        gan.optim_g_ab = read_optimizer(fresh(), &o1)?;
        gan.optim_g_ba = read_optimizer(fresh(), &o2)?;
        gan.optim_d_a = read_optimizer(fresh(), &o3)?;
        gan.optim_d_b = read_optimizer(fresh(), &o4)?;
        gan.step = state.step;
        Ok(gan)
    }

    /// The files of a checkpoint: the four networks and their optimizers.
    pub(crate) fn checkpoint_files(&self, hint: &Path) -> Result<Vec<(&'static str, Vec<u8>)>> {
        let [g_ab, g_ba, d_a, d_b] = NETWORKS;
        let [o_g_ab, o_g_ba, o_d_a, o_d_b] = OPTIMIZERS;
        Ok(vec![
            (g_ab, module_bytes(self.g_ab.valid(), hint)?),
            (g_ba, module_bytes(self.g_ba.valid(), hint)?),
            (d_a, module_bytes(self.d_a.valid(), hint)?),
            (d_b, module_bytes(self.d_b.valid(), hint)?),
            (o_g_ab, optimizer_bytes(&self.optim_g_ab, hint)?),
            (o_g_ba, optimizer_bytes(&self.optim_g_ba, hint)?),
            (o_d_a, optimizer_bytes(&self.optim_d_a, hint)?),
            (o_d_b, optimizer_bytes(&self.optim_d_b, hint)?),
        ])
    }

    /// True when every weight of the four networks is finite.
    pub(crate) fn weights_finite(&self) -> bool {
        use crate::models::all_finite;
        all_finite(&self.g_ab)
            && all_finite(&self.g_ba)
            && all_finite(&self.d_a)
            && all_finite(&self.d_b)
    }
}

/// Both domains of `config`, each loaded at the run's size and channels. An empty or unreadable
/// domain is an error that names it.
pub fn load_domains(config: &TrainConfig) -> Result<(ImageSet, ImageSet)> {
    let (a, b) = config.domain_specs()?;
    let load = |spec: &DataSpec, key: &str| {
        ImageSet::load(
            spec,
            LoadOptions {
                spatial: config.input.spatial,
                channels: config.input.channels,
                limit: config.input.num_load,
                background: config.input.background,
            },
        )
        .map_err(|e| GanError::config(key, format!("cannot be used: {e}")))
    };
    Ok((load(&a, "data_a")?, load(&b, "data_b")?))
}

/// The generator of `direction` from a CycleGAN run's latest checkpoint, for inference.
pub fn load_translator(
    config: &TrainConfig,
    run: &RunDir,
    direction: Direction,
    device: &Device,
) -> Result<CycleGenerator> {
    let dir = checkpoint::latest(&run.checkpoints_dir())?;
    checkpoint::read_state_of_run(&dir, config)?;
    let file = match direction {
        Direction::A2b => NETWORKS[0],
        Direction::B2a => NETWORKS[1],
    };
    read_module(
        config.cycle_generator_config().init(device),
        &dir.join(file),
    )
}
