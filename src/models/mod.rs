//! The networks of ganforge. Each model is a `#[derive(Module)]` struct built from a
//! `#[derive(Config)]` whose `init(&device)` creates it, as burn's own layers are.

mod cyclegan;
mod discriminator;
mod generator;
mod mlp;

pub use cyclegan::{
    PatchDiscriminator, PatchDiscriminatorConfig, ResidualBlock, ResnetGenerator,
    ResnetGeneratorConfig,
};
pub use discriminator::{
    DcganDiscriminator, DcganDiscriminatorConfig, EncoderBlock, EncoderBlockConfig, NormKind,
    Normalization,
};
pub use generator::{DcganGenerator, DcganGeneratorConfig, DecoderBlock, DecoderBlockConfig};
pub use mlp::{MlpDiscriminator, MlpDiscriminatorConfig, MlpGenerator, MlpGeneratorConfig};

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::nn::Embedding;
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
}

/// Noise `[batch, latent]` joined with the learned embedding of each label when the generator is
/// conditional.
///
/// # Panics
/// When labels are given without an embedding or missing with one.
pub(crate) fn join_label_embedding(
    noise: Tensor<2>,
    embedding: Option<&Embedding>,
    labels: Option<Tensor<1, Int>>,
) -> Tensor<2> {
    match (embedding, labels) {
        (Some(embedding), Some(labels)) => {
            let [batch, _] = noise.dims();
            let [_, d] = embedding.weight.dims();
            let embedded = embedding
                .forward(labels.reshape([batch, 1]))
                .reshape([batch, d]);
            Tensor::cat(vec![noise, embedded], 1)
        }
        (None, None) => noise,
        (Some(_), None) => panic!("a conditional generator needs labels"),
        (None, Some(_)) => panic!("an unconditional generator takes no labels"),
    }
}

/// ∂D/∂φ for each of `rows` feature vectors φ of a (projection) discriminator whose output is
/// w·φ + b (+ e_y·φ): the head's weight, plus the label's embedding when conditional.
///
/// # Panics
/// When labels are given without a projection or missing with one.
pub(crate) fn head_input_gradient(
    head: &burn::nn::Linear,
    projection: Option<&Embedding>,
    labels: Option<Tensor<1, Int>>,
    rows: usize,
) -> Tensor<2> {
    let [features, _] = head.weight.dims();
    let grad = head.weight.val().reshape([1, features]).repeat_dim(0, rows);
    match (projection, labels) {
        (Some(embedding), Some(labels)) => {
            grad + embedding
                .forward(labels.reshape([rows, 1]))
                .reshape([rows, features])
        }
        (None, None) => grad,
        _ => panic!("labels must be given exactly to a conditional discriminator"),
    }
}

/// A projection discriminator's output (Miyato & Koyama 2018): the unconditional score plus the
/// inner product of the features with the label's embedding.
///
/// # Panics
/// When labels are given without a projection or missing with one.
pub(crate) fn add_class_projection(
    unconditional: Tensor<2>,
    features: Tensor<2>,
    projection: Option<&Embedding>,
    labels: Option<Tensor<1, Int>>,
) -> Tensor<2> {
    match (projection, labels) {
        (Some(embedding), Some(labels)) => {
            let [batch, d] = features.dims();
            let e = embedding
                .forward(labels.reshape([batch, 1]))
                .reshape([batch, d]);
            unconditional + (features * e).sum_dim(1)
        }
        (None, None) => unconditional,
        (Some(_), None) => panic!("a conditional discriminator needs labels"),
        (None, Some(_)) => panic!("an unconditional discriminator takes no labels"),
    }
}

/// Padding that keeps a stride-1 convolution's size and halves it at stride 2, with the kernel
/// centred ("same" in Keras). Explicit symmetric padding of `k / 2` gives exactly that for odd
/// kernels, and matches the PyTorch reference layer for layer.
pub(crate) fn same_padding(filter: usize) -> usize {
    filter / 2
}

/// The values of one parameter or running statistic of a module.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamValues {
    pub id: u64,
    /// True for weights the optimizer trains; false for buffers such as BatchNorm's running
    /// mean and variance.
    pub trainable: bool,
    pub shape: Vec<usize>,
    pub values: Vec<f32>,
}

pub use crate::kernels::leaky;

/// True when every weight and buffer of `module` is finite (no NaN, no infinity).
pub fn all_finite<M: Module>(module: &M) -> bool {
    struct Finite(bool);
    impl ModuleVisitor for Finite {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            // A NaN or an infinity anywhere makes the sum non-finite.
            if self.0 {
                self.0 = param.val().sum().into_scalar::<f32>().is_finite();
            }
        }
    }
    let mut check = Finite(true);
    module.visit(&mut check);
    check.0
}

/// Every float parameter and buffer of `module`, in visiting order.
pub fn parameter_values<M: Module>(module: &M) -> Vec<ParamValues> {
    struct Collect(Vec<ParamValues>);
    impl ModuleVisitor for Collect {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let tensor = param.val();
            self.0.push(ParamValues {
                id: param.id.val(),
                trainable: tensor.is_require_grad(),
                shape: tensor.dims().to_vec(),
                values: crate::tensor_values(tensor),
            });
        }
    }
    let mut collect = Collect(Vec::new());
    module.visit(&mut collect);
    collect.0
}

/// `module` with every trainable weight clamped to [-c, c] (WGAN's weight clipping). Buffers such
/// as BatchNorm's running statistics are left as they are.
pub fn clip_weights<M: Module>(module: M, c: f64) -> M {
    struct Clip(f64);
    impl ModuleMapper for Clip {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            let c = self.0;
            param.map(|t| {
                if t.is_require_grad() {
                    // Clamped outside autodiff, then a fresh leaf again: the clamp must not become
                    // part of the next step's graph.
                    Tensor::from_inner(t.inner().clamp(-c, c)).require_grad()
                } else {
                    t
                }
            })
        }
    }
    module.map(&mut Clip(c))
}

/// `module` with every trainable weight matrix or kernel (rank ≥ 2) redrawn from N(0, std²):
/// WGAN's small initial weights. Biases and normalisation parameters keep their initial values.
/// Draws from the device's RNG; call it where the initial weights are drawn.
pub fn normal_init<M: Module>(module: M, std: f64) -> M {
    struct Normal(f64);
    impl ModuleMapper for Normal {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            let std = self.0;
            param.map(|t| {
                if D >= 2 && t.is_require_grad() {
                    Tensor::<D>::random(
                        t.shape(),
                        burn::tensor::Distribution::Normal(0.0, std),
                        &t.device(),
                    )
                    .require_grad()
                } else {
                    t
                }
            })
        }
    }
    module.map(&mut Normal(std))
}

/// Draws every lazily initialised parameter of `module` now. burn initialises a parameter at
/// its first use; forcing it here lets the caller decide under which RNG state that happens.
pub fn materialize_parameters<M: Module>(module: &M) {
    struct Touch;
    impl ModuleVisitor for Touch {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let _ = param.val();
        }
    }
    module.visit(&mut Touch);
}

/// `average` moved towards `current` (the same model, matched by parameter id):
/// `decay · average + (1 − decay) · current` for trainable weights; buffers such as running
/// statistics are copied from `current`. `average` lives on an inference device; `current` is the
/// model in training (its tensors say which weights are trainable).
pub fn moving_average<M: Module>(average: M, current: &M, decay: f64) -> M {
    use std::collections::HashMap;
    struct Collect(HashMap<u64, (Tensor<1>, bool)>);
    impl ModuleVisitor for Collect {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let t = param.val();
            let trainable = t.is_require_grad();
            let n = t.shape().num_elements();
            let flat = t.without_autodiff().reshape([n]);
            self.0.insert(param.id.val(), (flat, trainable));
        }
    }
    struct Blend(HashMap<u64, (Tensor<1>, bool)>, f64);
    impl ModuleMapper for Blend {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            let Some((value, trainable)) = self.0.remove(&param.id.val()) else {
                return param;
            };
            let decay = self.1;
            param.map(|avg| {
                let value = value.reshape(avg.shape());
                if trainable {
                    avg.mul_scalar(decay) + value.mul_scalar(1.0 - decay)
                } else {
                    value
                }
            })
        }
    }
    let mut collect = Collect(HashMap::new());
    current.visit(&mut collect);
    average.map(&mut Blend(collect.0, decay))
}
