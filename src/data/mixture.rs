//! Mixtures of 2-D Gaussians, the mode-collapse benchmarks' data (ring of 8, grid of 25), and how
//! many of their modes a sample set captures (Srivastava et al. 2017; Lin et al. 2018, PacGAN).
//! Below the models and the evaluation: the data set, the training loop's reports and the
//! benchmarks all read them.

use burn::prelude::Tensor;
use rand::Rng;
use rand_distr::StandardNormal;

use crate::error::{GanError, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mixture {
    /// 8 Gaussians evenly on the unit circle, standard deviation 0.01.
    Ring8,
    /// 25 Gaussians at {−4, −2, 0, 2, 4}², standard deviation 0.05.
    Grid25,
}

impl Mixture {
    /// `mixture:ring8` or `mixture:grid25`.
    pub fn parse(spec: &str) -> Result<Self> {
        match spec {
            "mixture:ring8" => Ok(Mixture::Ring8),
            "mixture:grid25" => Ok(Mixture::Grid25),
            other => Err(GanError::config(
                "data",
                format!("is `{other}`: the mixtures are `mixture:ring8` and `mixture:grid25`"),
            )),
        }
    }

    pub fn centres(&self) -> Vec<[f64; 2]> {
        match self {
            Mixture::Ring8 => (0..8)
                .map(|i| {
                    let a = i as f64 * std::f64::consts::TAU / 8.0;
                    [a.cos(), a.sin()]
                })
                .collect(),
            Mixture::Grid25 => (0..25)
                .map(|i| [-4.0 + 2.0 * (i / 5) as f64, -4.0 + 2.0 * (i % 5) as f64])
                .collect(),
        }
    }

    pub fn std(&self) -> f64 {
        match self {
            Mixture::Ring8 => 0.01,
            Mixture::Grid25 => 0.05,
        }
    }

    /// Half the side of a square that shows every mode with a margin.
    pub fn extent(&self) -> f64 {
        match self {
            Mixture::Ring8 => 1.5,
            Mixture::Grid25 => 6.0,
        }
    }

    /// The data spec naming it.
    pub fn name(&self) -> &'static str {
        match self {
            Mixture::Ring8 => "ring8",
            Mixture::Grid25 => "grid25",
        }
    }

    /// `n` points, each from a uniformly chosen mode.
    pub fn sample(&self, rng: &mut impl Rng, n: usize) -> Vec<[f64; 2]> {
        self.sample_labelled(rng, n).0
    }

    /// `n` points, each from a uniformly chosen mode, and the mode of each.
    pub fn sample_labelled(&self, rng: &mut impl Rng, n: usize) -> (Vec<[f64; 2]>, Vec<usize>) {
        let centres = self.centres();
        (0..n)
            .map(|_| {
                let mode = rng.random_range(0..centres.len());
                let c = centres[mode];
                let point = [
                    c[0] + self.std() * rng.sample::<f64, _>(StandardNormal),
                    c[1] + self.std() * rng.sample::<f64, _>(StandardNormal),
                ];
                (point, mode)
            })
            .unzip()
    }
}

/// How well a sample set covers a mixture's modes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModeCoverage {
    /// Modes with at least one high-quality sample nearest to them.
    pub modes_captured: usize,
    pub modes: usize,
    /// Share of samples within 3 standard deviations of their nearest mode's centre.
    pub high_quality: f64,
    /// KL(p ‖ uniform) of the high-quality samples' histogram over the modes: 0 when they are
    /// spread evenly, log(modes / k) when they sit evenly on k modes; infinite with none.
    pub reverse_kl: f64,
}

impl ModeCoverage {
    /// "modes 7/8 · high quality 93.1% · reverse KL 0.152".
    pub fn summary(&self) -> String {
        format!(
            "modes {}/{} · high quality {:.1}% · reverse KL {:.3}",
            self.modes_captured,
            self.modes,
            100.0 * self.high_quality,
            self.reverse_kl
        )
    }
}

/// Generated samples `[n, 2, 1, 1]` as points.
pub fn points_of(samples: Tensor<4>) -> Vec<[f64; 2]> {
    crate::tensor_values(samples)
        .chunks_exact(2)
        .map(|p| [p[0] as f64, p[1] as f64])
        .collect()
}

/// The coverage of `mixture` by `samples`.
pub fn mode_coverage(mixture: Mixture, samples: &[[f64; 2]]) -> ModeCoverage {
    let centres = mixture.centres();
    let mut counts = vec![0usize; centres.len()];
    let mut good = 0usize;
    for p in samples {
        let (nearest, d2) = centres
            .iter()
            .enumerate()
            .map(|(i, c)| (i, (p[0] - c[0]).powi(2) + (p[1] - c[1]).powi(2)))
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .expect("a mixture has modes");
        if d2.sqrt() <= 3.0 * mixture.std() {
            counts[nearest] += 1;
            good += 1;
        }
    }
    ModeCoverage {
        modes_captured: counts.iter().filter(|&&c| c > 0).count(),
        modes: centres.len(),
        high_quality: good as f64 / samples.len().max(1) as f64,
        reverse_kl: reverse_kl(&counts),
    }
}

/// KL(p ‖ uniform) of the histogram `counts` over its modes: 0 when spread evenly, log(modes / k)
/// when on k modes evenly, infinite when empty.
pub fn reverse_kl(counts: &[usize]) -> f64 {
    let total: usize = counts.iter().sum();
    if total == 0 {
        return f64::INFINITY;
    }
    let k = counts.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / total as f64;
            p * (p * k).ln()
        })
        .sum()
}
