//! The objectives, one type each; `mod.rs` lists them.

use burn::prelude::*;
use burn::tensor::activation::{relu, sigmoid};

use super::{Adversarial, bce_with_logits};

/// Binary cross-entropy on D's logit, the tutorial's.
#[derive(Debug, Clone, Copy)]
pub struct Bce;

impl Adversarial for Bce {
    fn discriminator_real(&self, real: Tensor<2>, real_target: f64) -> Tensor<1> {
        bce_with_logits(real, real_target)
    }
    fn discriminator_fake(&self, fake: Tensor<2>) -> Tensor<1> {
        bce_with_logits(fake, 0.0)
    }
    fn generator(&self, fake: Tensor<2>) -> Tensor<1> {
        bce_with_logits(fake, 1.0)
    }
    fn score(&self, output: Tensor<2>) -> Tensor<2> {
        sigmoid(output)
    }
    // D(G(z)) is a probability only here: D wins when it is near 0 as well as its loss.
    fn discriminator_too_strong(&self, d_loss: f64, d_fake: f64, threshold: f64) -> bool {
        d_loss < threshold && d_fake < threshold
    }
}

/// Least squares: D regresses real to the target and fake to 0, with LSGAN's ½.
#[derive(Debug, Clone, Copy)]
pub struct Lsgan;

impl Adversarial for Lsgan {
    fn discriminator_real(&self, real: Tensor<2>, real_target: f64) -> Tensor<1> {
        real.sub_scalar(real_target).square().mean().mul_scalar(0.5)
    }
    fn discriminator_fake(&self, fake: Tensor<2>) -> Tensor<1> {
        fake.square().mean().mul_scalar(0.5)
    }
    fn generator(&self, fake: Tensor<2>) -> Tensor<1> {
        fake.sub_scalar(1.0).square().mean().mul_scalar(0.5)
    }
    fn discriminator_too_strong(&self, d_loss: f64, _d_fake: f64, threshold: f64) -> bool {
        d_loss < threshold
    }
}

/// Hinge: D pushes real scores above 1 and fake ones below −1; G raises its samples' scores.
#[derive(Debug, Clone, Copy)]
pub struct Hinge;

impl Adversarial for Hinge {
    fn discriminator_real(&self, real: Tensor<2>, _real_target: f64) -> Tensor<1> {
        relu(real.neg().add_scalar(1.0)).mean()
    }
    fn discriminator_fake(&self, fake: Tensor<2>) -> Tensor<1> {
        relu(fake.add_scalar(1.0)).mean()
    }
    fn generator(&self, fake: Tensor<2>) -> Tensor<1> {
        fake.mean().neg()
    }
    fn discriminator_too_strong(&self, d_loss: f64, _d_fake: f64, threshold: f64) -> bool {
        d_loss < threshold
    }
}

/// Wasserstein GAN: a linear critic (its weights clipped by the `clip` key).
#[derive(Debug, Clone, Copy)]
pub struct Wgan;

impl Adversarial for Wgan {
    fn discriminator_real(&self, real: Tensor<2>, _real_target: f64) -> Tensor<1> {
        real.mean().neg()
    }
    fn discriminator_fake(&self, fake: Tensor<2>) -> Tensor<1> {
        fake.mean()
    }
    fn generator(&self, fake: Tensor<2>) -> Tensor<1> {
        fake.mean().neg()
    }
    fn has_wasserstein_estimate(&self) -> bool {
        true
    }
}

/// WGAN with gradient penalty: WGAN's losses, and each critic step adds the penalty.
#[derive(Debug, Clone, Copy)]
pub struct WganGp;

impl Adversarial for WganGp {
    fn discriminator_real(&self, real: Tensor<2>, real_target: f64) -> Tensor<1> {
        Wgan.discriminator_real(real, real_target)
    }
    fn discriminator_fake(&self, fake: Tensor<2>) -> Tensor<1> {
        Wgan.discriminator_fake(fake)
    }
    fn generator(&self, fake: Tensor<2>) -> Tensor<1> {
        Wgan.generator(fake)
    }
    fn has_wasserstein_estimate(&self) -> bool {
        true
    }
    fn gradient_penalty(&self) -> bool {
        true
    }
}
