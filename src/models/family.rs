//! What a single-G/D model family provides, as two traits, and the one list that registers the
//! families ([`gan_families!`]): from it come the [`Generator`](super::Generator) and
//! [`Discriminator`](super::Discriminator) enums the training loop holds, their `From` impls and
//! their methods, each dispatching to the family's own. A new family is a module implementing
//! both traits plus one line in the list (and its `ModelKind` variant and constructor: see the
//! README's "Add a model family").

use burn::nn::Embedding;
use burn::prelude::{Int, Tensor};

/// A generator: noise `[batch, latent]` (and labels `[batch]`, conditional) to samples
/// `[batch, channels, spatial, spatial]`.
pub trait GeneratorNet {
    /// Samples for noise (an unconditional generator).
    fn forward(&self, noise: Tensor<2>) -> Tensor<4> {
        self.forward_conditioned(noise, None)
    }
    /// Samples for noise and, for a conditional generator, labels.
    ///
    /// # Panics
    /// When labels are given to an unconditional generator or missing for a conditional one.
    fn forward_conditioned(&self, noise: Tensor<2>, labels: Option<Tensor<1, Int>>) -> Tensor<4>;
    fn is_conditional(&self) -> bool;
    /// Floating-point operations of one forward pass over `batch` noise vectors, counted from
    /// the family's own layers (a multiply-add is two; convolutions and dense layers only).
    fn forward_flops(&self, batch: usize) -> u64;
}

/// A discriminator: raw scores `[batch / pack, 1]` for samples `[batch, c, h, w]`, with the
/// input gradient the penalties (WGAN-GP, R1) need as differentiable operations.
pub trait DiscriminatorNet {
    /// Raw scores (logits for `bce`) of an unconditional discriminator.
    fn forward(&self, samples: Tensor<4>) -> Tensor<2> {
        self.forward_conditioned(samples, None)
    }
    /// Raw scores (logits for `bce`) for samples and, for a conditional discriminator, their
    /// labels, with the pooled features `[batch / pack, width]` that D's head and class
    /// projection read.
    ///
    /// # Panics
    /// When labels are given to an unconditional discriminator or missing for a conditional one.
    fn scores_and_features(
        &self,
        samples: Tensor<4>,
        labels: Option<Tensor<1, Int>>,
    ) -> (Tensor<2>, Tensor<2>);
    /// The class embeddings of a projection discriminator (Miyato & Koyama 2018); `None` for an
    /// unconditional one.
    fn class_projection(&self) -> Option<&Embedding>;
    /// Raw scores for samples and, for a conditional discriminator, their labels.
    ///
    /// # Panics
    /// When labels are given to an unconditional discriminator or missing for a conditional one.
    fn forward_conditioned(&self, samples: Tensor<4>, labels: Option<Tensor<1, Int>>) -> Tensor<2> {
        self.scores_and_features(samples, labels).0
    }
    /// Raw scores as [`DiscriminatorNet::forward_conditioned`] gives them and, for a projection
    /// discriminator, its class logits φ(x)·Eᵀ `[batch, classes]` from the same pass: the
    /// projection's inner products with every class embedding, which the dual projection's
    /// classification term (`class_loss`) trains. `None` for a discriminator without a class
    /// projection.
    fn forward_with_class_logits(
        &self,
        samples: Tensor<4>,
        labels: Option<Tensor<1, Int>>,
    ) -> (Tensor<2>, Option<Tensor<2>>) {
        let (scores, features) = self.scores_and_features(samples, labels);
        let logits = super::shared::class_logits(features, self.class_projection());
        (scores, logits)
    }
    /// The features D's head reads (what feature matching matches), one row per packed group.
    fn features(&self, samples: Tensor<4>) -> Tensor<2>;
    /// The number of D outputs for a batch of `samples` samples.
    fn outputs_for(&self, samples: usize) -> usize;
    /// ∂(Σᵢ D(xᵢ, yᵢ))/∂x, built from differentiable operations (burn's autodiff is first-order,
    /// so a penalty on it must not go through `backward`).
    fn input_gradient(&self, samples: Tensor<4>, labels: Option<Tensor<1, Int>>) -> Tensor<4>;
    /// Floating-point operations of one forward pass over samples of shape `[batch, c, h, w]`.
    fn forward_flops(&self, samples: [usize; 4]) -> u64;
    /// Floating-point operations of [`DiscriminatorNet::input_gradient`] on `samples`.
    fn input_gradient_flops(&self, samples: [usize; 4]) -> u64;
}

/// Declares the single-G/D families, one `Variant(GeneratorType, DiscriminatorType)` a line, and
/// generates the `Generator` and `Discriminator` enums over them.
macro_rules! gan_families {
    ($( $(#[doc = $doc:literal])* $variant:ident($g:ty, $d:ty) ),* $(,)?) => {
        /// G, of any registered family.
        // The variants differ in size, but a generator is built once and moved a few times per
        // step: not worth a box (which burn's Module derive does not take).
        #[allow(clippy::large_enum_variant)]
        #[derive(burn::module::Module, Debug)]
        pub enum Generator {
            $( $(#[doc = $doc])* $variant($g), )*
        }

        /// D, of any registered family.
        #[allow(clippy::large_enum_variant)]
        #[derive(burn::module::Module, Debug)]
        pub enum Discriminator {
            $( $(#[doc = $doc])* $variant($d), )*
        }

        $(
            impl From<$g> for Generator {
                fn from(g: $g) -> Self {
                    Generator::$variant(g)
                }
            }

            impl From<$d> for Discriminator {
                fn from(d: $d) -> Self {
                    Discriminator::$variant(d)
                }
            }
        )*

        impl $crate::models::GeneratorNet for Generator {
            fn forward_conditioned(
                &self,
                noise: burn::prelude::Tensor<2>,
                labels: Option<burn::prelude::Tensor<1, burn::prelude::Int>>,
            ) -> burn::prelude::Tensor<4> {
                match self { $( Generator::$variant(g) => g.forward_conditioned(noise, labels), )* }
            }
            fn is_conditional(&self) -> bool {
                match self { $( Generator::$variant(g) => g.is_conditional(), )* }
            }
            fn forward_flops(&self, batch: usize) -> u64 {
                match self { $( Generator::$variant(g) => g.forward_flops(batch), )* }
            }
        }

        impl $crate::models::DiscriminatorNet for Discriminator {
            fn scores_and_features(
                &self,
                samples: burn::prelude::Tensor<4>,
                labels: Option<burn::prelude::Tensor<1, burn::prelude::Int>>,
            ) -> (burn::prelude::Tensor<2>, burn::prelude::Tensor<2>) {
                match self { $( Discriminator::$variant(d) => d.scores_and_features(samples, labels), )* }
            }
            fn class_projection(&self) -> Option<&burn::nn::Embedding> {
                match self { $( Discriminator::$variant(d) => d.class_projection(), )* }
            }
            fn features(&self, samples: burn::prelude::Tensor<4>) -> burn::prelude::Tensor<2> {
                match self { $( Discriminator::$variant(d) => d.features(samples), )* }
            }
            fn outputs_for(&self, samples: usize) -> usize {
                match self { $( Discriminator::$variant(d) => d.outputs_for(samples), )* }
            }
            fn input_gradient(
                &self,
                samples: burn::prelude::Tensor<4>,
                labels: Option<burn::prelude::Tensor<1, burn::prelude::Int>>,
            ) -> burn::prelude::Tensor<4> {
                match self { $( Discriminator::$variant(d) => d.input_gradient(samples, labels), )* }
            }
            fn forward_flops(&self, samples: [usize; 4]) -> u64 {
                match self { $( Discriminator::$variant(d) => d.forward_flops(samples), )* }
            }
            fn input_gradient_flops(&self, samples: [usize; 4]) -> u64 {
                match self { $( Discriminator::$variant(d) => d.input_gradient_flops(samples), )* }
            }
        }
    };
}
pub(crate) use gan_families;
