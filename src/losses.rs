//! GAN objectives, on D's raw output (a logit for `bce`, a critic value for the others).

use burn::prelude::*;
use burn::tensor::activation::{log_sigmoid, relu, sigmoid};
use serde::{Deserialize, Serialize};

use crate::models::Discriminator;
use crate::models::DiscriminatorNet;

/// Which adversarial objective a run trains with (`--loss`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum LossKind {
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
        match self.kind {
            LossKind::Bce => bce_with_logits(real, self.real_target),
            LossKind::Lsgan => real
                .sub_scalar(self.real_target)
                .square()
                .mean()
                .mul_scalar(0.5),
            LossKind::Hinge => relu(real.neg().add_scalar(1.0)).mean(),
            LossKind::Wgan | LossKind::WganGp => real.mean().neg(),
        }
    }

    /// D's loss on a batch of generated images.
    pub fn discriminator_fake(&self, fake: Tensor<2>) -> Tensor<1> {
        match self.kind {
            LossKind::Bce => bce_with_logits(fake, 0.0),
            LossKind::Lsgan => fake.square().mean().mul_scalar(0.5),
            LossKind::Hinge => relu(fake.add_scalar(1.0)).mean(),
            LossKind::Wgan | LossKind::WganGp => fake.mean(),
        }
    }

    /// G's loss on D's output for its images: D should call them real.
    pub fn generator(&self, fake: Tensor<2>) -> Tensor<1> {
        match self.kind {
            LossKind::Bce => bce_with_logits(fake, 1.0),
            LossKind::Lsgan => fake.sub_scalar(1.0).square().mean().mul_scalar(0.5),
            LossKind::Hinge | LossKind::Wgan | LossKind::WganGp => fake.mean().neg(),
        }
    }

    /// D's output as it is reported: a probability for `bce`, the raw value otherwise.
    pub fn score(&self, output: Tensor<2>) -> Tensor<2> {
        match self.kind {
            LossKind::Bce => sigmoid(output),
            _ => output,
        }
    }

    /// True when mean D(x) − mean D(G(z)) estimates a distance worth logging.
    pub fn has_wasserstein_estimate(&self) -> bool {
        matches!(self.kind, LossKind::Wgan | LossKind::WganGp)
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

/// mean((output − target)²) over every element: the least-squares adversarial loss on a
/// discriminator's scores (CycleGAN's, on every patch of a PatchGAN), without LSGAN's ½.
pub fn least_squares<const D: usize>(output: Tensor<D>, target: f64) -> Tensor<1> {
    output.sub_scalar(target).square().mean()
}

/// mean |a − b| over every element: the L1 distance of CycleGAN's cycle and identity losses.
pub fn l1_distance(a: Tensor<4>, b: Tensor<4>) -> Tensor<1> {
    (a - b).abs().mean()
}
