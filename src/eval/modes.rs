//! Mode counting: how many of a benchmark's modes a sample set captures (Srivastava et al. 2017;
//! Lin et al. 2018, PacGAN). The 2-D mixtures and their coverage live with the data
//! ([`crate::data::mixture`]) and are re-exported here; the stacked digits' modes need the judge.

use burn::prelude::Tensor;

use super::judge::Judge;

pub use crate::data::mixture::{Mixture, ModeCoverage, mode_coverage, points_of, reverse_kl};

/// How well a set of stacked-digit images covers the 1000 modes.
#[derive(Debug, Clone, PartialEq)]
pub struct StackedCoverage {
    pub modes_captured: usize,
    pub modes: usize,
    pub reverse_kl: f64,
    /// KL(p ‖ uniform) of each channel's digit histogram (10 bins): how unevenly G draws the
    /// single digits. For independent channels the modes' KL is the sum of these, so what the
    /// sum leaves of `reverse_kl` is the channels' dependence and the sample's own noise.
    pub digit_kl: Vec<f64>,
    /// Mode of each image, 100·d₀ + 10·d₁ + d₂.
    pub assigned: Vec<usize>,
}

/// The modes of stacked-digit images `[n, 3, s, s]`: each channel classified by `judge`, a
/// 1-channel digits judge.
pub fn stacked_coverage(judge: &Judge, images: Tensor<4>) -> StackedCoverage {
    let [n, c, h, w] = images.dims();
    // Channel by channel as grey images: [n·c, 1, h, w], image-major so rows n·c..n·c+2 are
    // one image's digits.
    let digits = judge
        .forward(images.reshape([n * c, 1, h, w]))
        .argmax(1)
        .into_data()
        .try_into_vec_as::<i64>()
        .expect("argmax gives integers");
    let modes = 10usize.pow(c as u32);
    let assigned: Vec<usize> = digits
        .chunks_exact(c)
        .map(|d| d.iter().fold(0, |m, &x| 10 * m + x as usize))
        .collect();
    let mut counts = vec![0usize; modes];
    for &m in &assigned {
        counts[m] += 1;
    }
    let mut digit_counts = vec![[0usize; 10]; c];
    for one in digits.chunks_exact(c) {
        for (channel, &d) in one.iter().enumerate() {
            digit_counts[channel][d as usize] += 1;
        }
    }
    StackedCoverage {
        modes_captured: counts.iter().filter(|&&c| c > 0).count(),
        modes,
        reverse_kl: reverse_kl(&counts),
        digit_kl: digit_counts.iter().map(|h| reverse_kl(h)).collect(),
        assigned,
    }
}
