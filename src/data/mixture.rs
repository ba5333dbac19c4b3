//! Mixtures of 2-D Gaussians, the mode-collapse benchmarks' data (ring of 8, grid of 25, or any
//! ring or grid), and how many of their modes a sample set captures (Srivastava et al. 2017; Lin
//! et al. 2018, PacGAN). Below the models and the evaluation: the data set, the training loop's
//! reports and the benchmarks all read them.

use burn::prelude::Tensor;
use rand::Rng;
use rand_distr::StandardNormal;

use crate::error::{GanError, Result};

/// A mixture of equally weighted isotropic Gaussians with the same standard deviation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mixture {
    /// `modes` Gaussians evenly on a circle of `radius` about the origin, the first on the x axis.
    Ring { modes: usize, radius: f64, std: f64 },
    /// `side` × `side` Gaussians on a square grid `spacing` apart, centred on the origin.
    Grid { side: usize, spacing: f64, std: f64 },
}

// Parsing refuses non-finite numbers, so `==` is an equivalence.
impl Eq for Mixture {}

/// The fields of the two general forms, for the error messages.
const FORMS: &str = "`mixture:ring8`, `mixture:grid25`, `mixture:ring:K:RADIUS:STD` (K modes on a \
                     circle) or `mixture:grid:N:SPACING:STD` (N × N modes)";

impl Mixture {
    /// PacGAN's ring: 8 Gaussians on the unit circle, standard deviation 0.01.
    pub const RING8: Mixture = Mixture::Ring {
        modes: 8,
        radius: 1.0,
        std: 0.01,
    };
    /// PacGAN's grid: 25 Gaussians at {−4, −2, 0, 2, 4}², standard deviation 0.05.
    pub const GRID25: Mixture = Mixture::Grid {
        side: 5,
        spacing: 2.0,
        std: 0.05,
    };

    /// `mixture:ring8`, `mixture:grid25`, `mixture:ring:K:RADIUS:STD` or
    /// `mixture:grid:N:SPACING:STD`. Refused, each by name: zero modes, a radius, spacing or
    /// standard deviation that is not a positive number, missing or extra fields, and modes so
    /// close that their 3-std high-quality discs touch (the mode count would then be ambiguous).
    pub fn parse(spec: &str) -> Result<Self> {
        let refuse = |why: String| GanError::config("data", format!("is `{spec}`: {why}"));
        let body = spec
            .strip_prefix("mixture:")
            .ok_or_else(|| refuse(format!("a mixture is {FORMS}")))?;
        let fields: Vec<&str> = body.split(':').collect();
        let mixture = match fields.as_slice() {
            ["ring8"] => Mixture::RING8,
            ["grid25"] => Mixture::GRID25,
            [kind @ ("ring" | "grid"), count, length, std] => {
                let count: usize = count.parse().map_err(|_| {
                    refuse(format!("the mode count `{count}` is not a whole number"))
                })?;
                let length_name = if *kind == "ring" { "radius" } else { "spacing" };
                let positive = |name: &str, text: &str| -> Result<f64> {
                    match text.parse::<f64>() {
                        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
                        _ => Err(refuse(format!(
                            "the {name} `{text}` is not a positive number"
                        ))),
                    }
                };
                let length = positive(length_name, length)?;
                let std = positive("standard deviation", std)?;
                if count == 0 {
                    return Err(refuse("a mixture needs at least one mode".to_string()));
                }
                if *kind == "ring" {
                    Mixture::Ring {
                        modes: count,
                        radius: length,
                        std,
                    }
                } else {
                    Mixture::Grid {
                        side: count,
                        spacing: length,
                        std,
                    }
                }
            }
            _ => return Err(refuse(format!("a mixture is {FORMS}"))),
        };
        let reach = 3.0 * mixture.std();
        if let Some(gap) = mixture.nearest_gap()
            && 2.0 * reach >= gap
        {
            return Err(refuse(format!(
                "neighbouring modes are {gap:.4} apart, so their high-quality discs (3 std = \
                 {reach:.4} each) overlap; use a smaller standard deviation or wider modes"
            )));
        }
        if mixture.modes() > 100_000 {
            return Err(refuse(format!(
                "{} modes; at most 100 000 are measured",
                mixture.modes()
            )));
        }
        Ok(mixture)
    }

    /// How many Gaussians it has.
    pub fn modes(&self) -> usize {
        match *self {
            Mixture::Ring { modes, .. } => modes,
            Mixture::Grid { side, .. } => side * side,
        }
    }

    /// The distance between neighbouring centres; `None` with one mode.
    fn nearest_gap(&self) -> Option<f64> {
        match *self {
            Mixture::Ring { modes, radius, .. } if modes > 1 => {
                Some(2.0 * radius * (std::f64::consts::PI / modes as f64).sin())
            }
            Mixture::Grid { side, spacing, .. } if side > 1 => Some(spacing),
            _ => None,
        }
    }

    pub fn centres(&self) -> Vec<[f64; 2]> {
        match *self {
            Mixture::Ring { modes, radius, .. } => (0..modes)
                .map(|i| {
                    let a = i as f64 * std::f64::consts::TAU / modes as f64;
                    [radius * a.cos(), radius * a.sin()]
                })
                .collect(),
            Mixture::Grid { side, spacing, .. } => {
                let first = -spacing * (side - 1) as f64 / 2.0;
                (0..side * side)
                    .map(|i| {
                        [
                            first + spacing * (i / side) as f64,
                            first + spacing * (i % side) as f64,
                        ]
                    })
                    .collect()
            }
        }
    }

    pub fn std(&self) -> f64 {
        match *self {
            Mixture::Ring { std, .. } | Mixture::Grid { std, .. } => std,
        }
    }

    /// Half the side of a square that shows every mode with a margin.
    pub fn extent(&self) -> f64 {
        let outermost = match *self {
            Mixture::Ring { radius, .. } => radius,
            Mixture::Grid { side, spacing, .. } => spacing * (side - 1) as f64 / 2.0,
        };
        let margin = match *self {
            Mixture::Ring { radius, .. } => 0.5 * radius,
            Mixture::Grid { spacing, .. } => spacing,
        };
        outermost + margin.max(4.0 * self.std())
    }

    /// The spec naming it, after `mixture:`: `ring8`, `grid25`, `ring:K:RADIUS:STD` or
    /// `grid:N:SPACING:STD`; [`Mixture::parse`] reads it back.
    pub fn name(&self) -> String {
        match *self {
            m if m == Mixture::RING8 => "ring8".to_string(),
            m if m == Mixture::GRID25 => "grid25".to_string(),
            Mixture::Ring {
                modes, radius, std, ..
            } => format!("ring:{modes}:{radius}:{std}"),
            Mixture::Grid { side, spacing, std } => format!("grid:{side}:{spacing}:{std}"),
        }
    }

    /// A name fit for a directory: [`Mixture::name`] with `-` for `:`.
    pub fn file_name(&self) -> String {
        self.name().replace(':', "-")
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
