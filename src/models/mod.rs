//! The networks of ganforge, one module per architecture: `dcgan` (the tutorial's convolutional
//! G and D), `mlp` (fully connected, the 2-D mixture benchmarks') and `cyclegan` (ResNet G,
//! PatchGAN D); `shared` holds what several families use (label embedding, class projection,
//! padding, module visitors, per-layer FLOP counts), `init` the seeded initialisation. Each model is a
//! `#[derive(Module)]` struct built from a `#[derive(Config)]` whose `init(&device)` creates it,
//! as burn's own layers are. This file holds the list of architectures ([`ModelKind`]), the
//! [`Generator`] and [`Discriminator`] over the single-G/D families, and the re-exports.

mod cyclegan;
mod dcgan;
mod init;
mod mlp;
mod shared;

pub use cyclegan::{
    CycleGenerator, CycleGeneratorConfig, PatchDiscriminator, PatchDiscriminatorConfig,
    ResidualBlock,
};
pub use dcgan::{
    DcganDiscriminator, DcganDiscriminatorConfig, DcganGenerator, DcganGeneratorConfig,
    DecoderBlock, DecoderBlockConfig, EncoderBlock, EncoderBlockConfig, NormKind, Normalization,
};
pub use init::with_seed;
pub use mlp::{MlpDiscriminator, MlpDiscriminatorConfig, MlpGenerator, MlpGeneratorConfig};
pub use shared::{
    ParamValues, all_finite, clip_weights, materialize_parameters, moving_average, normal_init,
    parameter_values,
};

pub use crate::kernels::leaky;

use burn::module::Module;
use burn::prelude::{Int, Tensor};

/// The architecture of a run's networks (`--model`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    /// The tutorial's convolutional networks.
    Dcgan,
    /// Fully connected networks: the 2-D mixture benchmarks' (PacGAN's G and maxout D).
    Mlp,
    /// Unpaired translation between two image domains (Zhu et al. 2017): two ResNet
    /// generators, two PatchGAN discriminators.
    Cyclegan,
}

/// G, of either architecture. Both map noise `[batch, latent]` (and labels, conditional) to
/// samples shaped `[batch, channels, spatial, spatial]`, so the training loop is the same.
// The variants differ in size, but a generator is built once and moved a few times per step: not
// worth a box (which burn's Module derive does not take).
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Generator {
    Dcgan(DcganGenerator),
    Mlp(MlpGenerator),
}

impl Generator {
    /// Samples for noise (an unconditional generator).
    pub fn forward(&self, noise: Tensor<2>) -> Tensor<4> {
        self.forward_conditioned(noise, None)
    }

    /// Samples for noise `[batch, latent]` and, for a conditional generator, labels `[batch]`.
    ///
    /// # Panics
    /// When labels are given to an unconditional generator or missing for a conditional one.
    pub fn forward_conditioned(
        &self,
        noise: Tensor<2>,
        labels: Option<Tensor<1, Int>>,
    ) -> Tensor<4> {
        match self {
            Generator::Dcgan(g) => g.forward_conditioned(noise, labels),
            Generator::Mlp(g) => g.forward_conditioned(noise, labels),
        }
    }

    pub fn is_conditional(&self) -> bool {
        match self {
            Generator::Dcgan(g) => g.is_conditional(),
            Generator::Mlp(g) => g.is_conditional(),
        }
    }

    /// Floating-point operations of one forward pass over `batch` noise vectors, counted from
    /// the architecture's own layers (a multiply-add is two; convolutions and dense layers only:
    /// see [`DcganGenerator::forward_flops`], [`MlpGenerator::forward_flops`]).
    pub fn forward_flops(&self, batch: usize) -> u64 {
        match self {
            Generator::Dcgan(g) => g.forward_flops(batch),
            Generator::Mlp(g) => g.forward_flops(batch),
        }
    }
}

/// D, of either architecture: raw scores `[batch / pack, 1]` for samples `[batch, c, h, w]`.
#[derive(Module, Debug)]
pub enum Discriminator {
    Dcgan(DcganDiscriminator),
    Mlp(MlpDiscriminator),
}

impl From<DcganDiscriminator> for Discriminator {
    fn from(d: DcganDiscriminator) -> Self {
        Discriminator::Dcgan(d)
    }
}

impl From<MlpDiscriminator> for Discriminator {
    fn from(d: MlpDiscriminator) -> Self {
        Discriminator::Mlp(d)
    }
}

impl From<DcganGenerator> for Generator {
    fn from(g: DcganGenerator) -> Self {
        Generator::Dcgan(g)
    }
}

impl From<MlpGenerator> for Generator {
    fn from(g: MlpGenerator) -> Self {
        Generator::Mlp(g)
    }
}

impl Discriminator {
    /// Raw scores (logits for `bce`) of an unconditional discriminator.
    pub fn forward(&self, samples: Tensor<4>) -> Tensor<2> {
        self.forward_conditioned(samples, None)
    }

    /// Raw scores for samples and, for a conditional discriminator, their labels `[batch]`.
    ///
    /// # Panics
    /// When labels are given to an unconditional discriminator or missing for a conditional one.
    pub fn forward_conditioned(
        &self,
        samples: Tensor<4>,
        labels: Option<Tensor<1, Int>>,
    ) -> Tensor<2> {
        match self {
            Discriminator::Dcgan(d) => d.forward_conditioned(samples, labels),
            Discriminator::Mlp(d) => d.forward_conditioned(samples, labels),
        }
    }

    /// The features D's head reads (what feature matching matches), one row per packed group.
    pub fn features(&self, samples: Tensor<4>) -> Tensor<2> {
        match self {
            Discriminator::Dcgan(d) => d.features(samples),
            Discriminator::Mlp(d) => d.features(samples),
        }
    }

    /// The number of D outputs for a batch of `samples` samples.
    pub fn outputs_for(&self, samples: usize) -> usize {
        match self {
            Discriminator::Dcgan(d) => d.outputs_for(samples),
            Discriminator::Mlp(d) => d.outputs_for(samples),
        }
    }

    /// ∂(Σᵢ D(xᵢ, yᵢ))/∂x as differentiable operations (see the architectures' own).
    pub fn input_gradient(&self, samples: Tensor<4>, labels: Option<Tensor<1, Int>>) -> Tensor<4> {
        match self {
            Discriminator::Dcgan(d) => d.input_gradient(samples, labels),
            Discriminator::Mlp(d) => d.input_gradient(samples, labels),
        }
    }

    /// Floating-point operations of one forward pass over samples of shape `samples`
    /// (`[batch, c, h, w]`), counted from the architecture's own layers (a multiply-add is two:
    /// see [`DcganDiscriminator::forward_flops`], [`MlpDiscriminator::forward_flops`]).
    pub fn forward_flops(&self, samples: [usize; 4]) -> u64 {
        match self {
            Discriminator::Dcgan(d) => d.forward_flops(samples),
            Discriminator::Mlp(d) => d.forward_flops(samples),
        }
    }

    /// Floating-point operations of [`Discriminator::input_gradient`] on `samples`.
    pub fn input_gradient_flops(&self, samples: [usize; 4]) -> u64 {
        match self {
            Discriminator::Dcgan(d) => d.input_gradient_flops(samples),
            Discriminator::Mlp(d) => d.input_gradient_flops(samples),
        }
    }
}
