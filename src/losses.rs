//! GAN objectives, on D's logits.

use burn::prelude::*;
use burn::tensor::activation::log_sigmoid;

/// Binary cross-entropy of logits against a constant target `t` ∈ [0, 1]:
/// `mean(−t·log σ(l) − (1−t)·log(1−σ(l)))`, with `log(1−σ(l)) = log σ(−l)` so that no
/// saturated probability is ever logged.
pub fn bce_with_logits(logits: Tensor<2>, target: f64) -> Tensor<1> {
    let log_p = log_sigmoid(logits.clone());
    let log_not_p = log_sigmoid(logits.neg());
    (log_p.mul_scalar(-target) - log_not_p.mul_scalar(1.0 - target)).mean()
}

/// The tutorial's objective (the non-saturating GAN loss of Goodfellow et al.).
#[derive(Debug, Clone, Copy)]
pub struct BceObjective {
    /// Target of real images in D's loss; below 1 is one-sided label smoothing.
    pub real_target: f64,
}

impl BceObjective {
    /// D's loss on a batch of real images.
    pub fn discriminator_real(&self, real_logits: Tensor<2>) -> Tensor<1> {
        bce_with_logits(real_logits, self.real_target)
    }

    /// D's loss on a batch of generated images.
    pub fn discriminator_fake(&self, fake_logits: Tensor<2>) -> Tensor<1> {
        bce_with_logits(fake_logits, 0.0)
    }

    /// G's loss: D should call its images real (target 1, never smoothed).
    pub fn generator(&self, fake_logits: Tensor<2>) -> Tensor<1> {
        bce_with_logits(fake_logits, 1.0)
    }
}
