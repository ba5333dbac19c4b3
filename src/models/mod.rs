//! The networks of ganforge, one module per architecture: `dcgan` (the tutorial's convolutional
//! G and D), `mlp` (fully connected, the 2-D mixture benchmarks') and `cyclegan` (ResNet G,
//! PatchGAN D); `shared` holds what several families use (label embedding, class projection,
//! padding, module visitors, per-layer FLOP counts), `init` the seeded initialisation. Each model is a
//! `#[derive(Module)]` struct built from a `#[derive(Config)]` whose `init(&device)` creates it,
//! as burn's own layers are. A single-G/D family implements [`GeneratorNet`] and
//! [`DiscriminatorNet`] (`family`). This file holds the list of architectures ([`ModelKind`]),
//! the one list of single-G/D families (from which [`Generator`] and [`Discriminator`] come), and
//! the re-exports.

mod cyclegan;
mod dcgan;
mod family;
mod init;
mod mlp;
mod resnet;
mod shared;
pub mod spectral_norm;

pub use cyclegan::{
    CycleGenerator, CycleGeneratorConfig, PatchDiscriminator, PatchDiscriminatorConfig,
    ResidualBlock,
};
pub use dcgan::{
    DcganDiscriminator, DcganDiscriminatorConfig, DcganGenerator, DcganGeneratorConfig,
    DecoderBlock, DecoderBlockConfig, EncoderBlock, EncoderBlockConfig, NormKind, Normalization,
    Upsampling,
};
pub use family::{DiscriminatorNet, GeneratorNet};
pub use init::with_seed;
pub use mlp::{MlpDiscriminator, MlpDiscriminatorConfig, MlpGenerator, MlpGeneratorConfig};
pub use resnet::{
    ConditionalBatchNorm, DownBlock, ResnetDiscriminator, ResnetDiscriminatorConfig,
    ResnetGenerator, ResnetGeneratorConfig, UpBlock,
};
pub use shared::{
    ParamValues, all_finite, clip_weights, loader_resize, materialize_parameters, moving_average,
    normal_init, parameter_values,
};
pub use spectral_norm::SpectralNorm;

pub use crate::kernels::leaky;

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
    /// SNGAN/BigGAN residual networks (class-conditional BatchNorm in a conditional G).
    Resnet,
    /// Unpaired translation between two image domains (Zhu et al. 2017): two ResNet
    /// generators, two PatchGAN discriminators.
    Cyclegan,
}

family::gan_families! {
    /// The tutorial's convolutional networks.
    Dcgan(DcganGenerator, DcganDiscriminator),
    /// PacGAN's fully connected G and maxout D.
    Mlp(MlpGenerator, MlpDiscriminator),
    /// SNGAN/BigGAN's residual G and D.
    Resnet(ResnetGenerator, ResnetDiscriminator),
}
