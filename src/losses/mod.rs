//! GAN objectives, on D's raw output (a logit for `bce`, a critic value for the others): the
//! [`Adversarial`] trait, one type per objective, the one list of them; the gradient penalty, R1,
//! the mode-seeking and class terms, and CycleGAN's least-squares and L1 terms.

use burn::prelude::*;
use burn::tensor::activation::{log_sigmoid, log_softmax};
use serde::{Deserialize, Serialize};

use crate::models::Discriminator;
use crate::models::DiscriminatorNet;

mod objectives;

pub use objectives::{Bce, Hinge, Lsgan, Wgan, WganGp};

/// An adversarial objective: D's losses on real and on generated samples, G's loss, and what the
/// rest of the toolkit needs to know of it. Each objective is one type (`objectives.rs`),
/// registered in the [`objectives!`] list that makes [`LossKind`].
pub trait Adversarial {
    /// D's loss on a batch of real samples; `real_target` is 1, or below for one-sided label
    /// smoothing (objectives with no target ignore it).
    fn discriminator_real(&self, real: Tensor<2>, real_target: f64) -> Tensor<1>;
    /// D's loss on a batch of generated samples.
    fn discriminator_fake(&self, fake: Tensor<2>) -> Tensor<1>;
    /// G's loss on D's output for its samples: D should call them real.
    fn generator(&self, fake: Tensor<2>) -> Tensor<1>;
    /// D's output as it is reported (a probability for `bce`); the raw value by default.
    fn score(&self, output: Tensor<2>) -> Tensor<2> {
        output
    }
    /// True when mean D(x) − mean D(G(z)) estimates a distance worth logging.
    fn has_wasserstein_estimate(&self) -> bool {
        false
    }
    /// True when each critic step adds the WGAN-GP gradient penalty (a step of its own in the
    /// loop, and constraints on D in `validate`).
    fn gradient_penalty(&self) -> bool {
        false
    }
    /// True when D's mean loss `d_loss` and mean reported D(G(z)) `d_fake` over recent steps
    /// are below `threshold`, as far as this objective's values say D wins too easily (the
    /// tutorial's "discriminator too strong"); never by default, as for a critic whose loss has
    /// no floor.
    fn discriminator_too_strong(&self, d_loss: f64, d_fake: f64, threshold: f64) -> bool {
        let _ = (d_loss, d_fake, threshold);
        false
    }
}

/// Declares the objectives, one type a line (its doc comment is its `--loss` help), and makes
/// [`LossKind`] (spelt in kebab-case by clap and serde) and its dispatch to them.
macro_rules! objectives {
    ($( $(#[doc = $doc:literal])* $variant:ident ),* $(,)?) => {
        /// Which adversarial objective a run trains with (`--loss`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
        #[serde(rename_all = "kebab-case")]
        pub enum LossKind {
            $( $(#[doc = $doc])* $variant, )*
        }

        impl LossKind {
            /// The objective itself.
            pub fn objective(self) -> &'static dyn Adversarial {
                match self { $( LossKind::$variant => &$variant, )* }
            }
        }
    };
}

objectives! {
    /// Binary cross-entropy, the tutorial's (non-saturating G loss, Goodfellow et al. 2014).
    Bce,
    /// Least squares (Mao et al. 2017): D regresses real to 1 and fake to 0.
    Lsgan,
    /// Hinge loss (Lim & Ye 2017; Miyato et al. 2018).
    Hinge,
    /// Wasserstein GAN (Arjovsky et al. 2017): linear critic with clipped weights.
    Wgan,
    /// WGAN with gradient penalty (Gulrajani et al. 2017): the critic's gradient norm is held
    /// near 1 on interpolates of real and fake images instead of clipping its weights.
    WganGp,
}

/// Binary cross-entropy of logits against a constant target `t` ∈ [0, 1]:
/// `mean(−t·log σ(l) − (1−t)·log(1−σ(l)))`, with `log(1−σ(l)) = log σ(−l)` so that no
/// saturated probability is ever logged.
pub fn bce_with_logits(logits: Tensor<2>, target: f64) -> Tensor<1> {
    let log_p = log_sigmoid(logits.clone());
    let log_not_p = log_sigmoid(logits.neg());
    (log_p.mul_scalar(-target) - log_not_p.mul_scalar(1.0 - target)).mean()
}

/// The losses of one objective. D's losses on real and on fake batches are separate because the
/// tutorial trains D on separate real and fake batches, each an optimizer step of its own.
#[derive(Debug, Clone, Copy)]
pub struct Objective {
    pub kind: LossKind,
    /// Target of real images in D's loss for `bce` and `lsgan`: 1, or below for one-sided label
    /// smoothing.
    pub real_target: f64,
}

impl Objective {
    /// D's loss on a batch of real images.
    pub fn discriminator_real(&self, real: Tensor<2>) -> Tensor<1> {
        self.kind
            .objective()
            .discriminator_real(real, self.real_target)
    }

    /// D's loss on a batch of generated images.
    pub fn discriminator_fake(&self, fake: Tensor<2>) -> Tensor<1> {
        self.kind.objective().discriminator_fake(fake)
    }

    /// G's loss on D's output for its images: D should call them real.
    pub fn generator(&self, fake: Tensor<2>) -> Tensor<1> {
        self.kind.objective().generator(fake)
    }

    /// D's output as it is reported: a probability for `bce`, the raw value otherwise.
    pub fn score(&self, output: Tensor<2>) -> Tensor<2> {
        self.kind.objective().score(output)
    }

    /// True when mean D(x) − mean D(G(z)) estimates a distance worth logging.
    pub fn has_wasserstein_estimate(&self) -> bool {
        self.kind.objective().has_wasserstein_estimate()
    }
}

/// The WGAN-GP penalty λ·mean((‖∇x̂ D(x̂)‖₂ − 1)²) at x̂ = ε·real + (1 − ε)·fake, with one ε per
/// image (`epsilon`, `[batch]`, in [0, 1]); norms are taken per packed group when D packs images.
/// The gradient comes from [`Discriminator::input_gradient`], so the penalty's own gradient with
/// respect to D's weights is exact under first-order autodiff.
pub fn gradient_penalty(
    critic: &Discriminator,
    real: Tensor<4>,
    fake: Tensor<4>,
    labels: Option<Tensor<1, Int>>,
    epsilon: Tensor<1>,
    weight: f64,
) -> Tensor<1> {
    let [b, c, h, w] = real.dims();
    let e = epsilon.reshape([b, 1, 1, 1]);
    let interpolates = (real * e.clone() + fake * e.neg().add_scalar(1.0)).detach();
    let gradient = critic.input_gradient(interpolates, labels);
    let groups = critic.outputs_for(b);
    let norms = gradient
        .reshape([groups, (b / groups) * c * h * w])
        .square()
        .sum_dim(1)
        .add_scalar(1e-12)
        .sqrt();
    norms.sub_scalar(1.0).square().mean().mul_scalar(weight)
}

/// The R1 penalty (Mescheder et al. 2018): γ/2 · mean ‖∇ₓD(x)‖² over the real images `real`
/// (per packed group when D packs images), which keeps D flat on the data so that training
/// converges instead of circling. Exact under first-order autodiff, as
/// [`gradient_penalty`] is, through [`Discriminator::input_gradient`].
pub fn r1_penalty(
    discriminator: &Discriminator,
    real: Tensor<4>,
    labels: Option<Tensor<1, Int>>,
    gamma: f64,
) -> Tensor<1> {
    let [b, c, h, w] = real.dims();
    let gradient = discriminator.input_gradient(real.detach(), labels);
    let groups = discriminator.outputs_for(b);
    gradient
        .reshape([groups, (b / groups) * c * h * w])
        .square()
        .sum_dim(1)
        .mean()
        .mul_scalar(gamma / 2.0)
}

/// The mode-seeking term of MSGAN (Mao et al. 2019), `weight / (ratio + 1e-5)` with `ratio` =
/// mean |G(z₁) − G(z₂)| / mean |z₁ − z₂| over the pairs (first half of the batch, second half):
/// G lowers it by drawing images as far apart as their noise is, which is what a generator that
/// collapses within a class (the same image for every z of a label) does not do. The pairs
/// share their labels in a conditional run. The noise distance is a constant.
///
/// # Panics
/// When the batch is odd (the configuration asks for an even one).
pub fn mode_seeking(images: Tensor<4>, noise: Tensor<2>, weight: f64) -> Tensor<1> {
    let b = images.dims()[0];
    assert!(
        b.is_multiple_of(2),
        "the mode-seeking pairs need an even batch"
    );
    let half = b / 2;
    let images_apart = (images.clone().narrow(0, 0, half) - images.narrow(0, half, half))
        .abs()
        .mean();
    let noise = noise.detach();
    let noise_apart = (noise.clone().narrow(0, 0, half) - noise.narrow(0, half, half))
        .abs()
        .mean();
    let ratio = images_apart / noise_apart;
    ratio.add_scalar(1e-5).recip().mul_scalar(weight)
}

/// The classification term of the dual projection discriminator (P2GAN, Han et al. 2021):
/// `weight` · mean −log softmax(`logits`)[label], the cross-entropy of D's class logits (its
/// projection's inner product with every class embedding) against `labels`. On real images it
/// teaches D's projection the classes; on G's images, with the labels G was asked for, it asks
/// G for images D names as that class, a direct class signal where the projection's own (the
/// score of one label, against real images of that label) leaves a weak class under-drawn.
pub fn class_cross_entropy(logits: Tensor<2>, labels: Tensor<1, Int>, weight: f64) -> Tensor<1> {
    let [batch, _] = logits.dims();
    log_softmax(logits, 1)
        .gather(1, labels.reshape([batch, 1]))
        .mean()
        .mul_scalar(-weight)
}

/// mean((output − target)²) over every element: the least-squares adversarial loss on a
/// discriminator's scores (CycleGAN's, on every patch of a PatchGAN), without LSGAN's ½.
pub fn least_squares<const D: usize>(output: Tensor<D>, target: f64) -> Tensor<1> {
    output.sub_scalar(target).square().mean()
}

/// mean |a − b| over every element: the L1 distance of CycleGAN's cycle and identity losses.
pub fn l1_distance(a: Tensor<4>, b: Tensor<4>) -> Tensor<1> {
    (a - b).abs().mean()
}
