//! Training-mode batch normalisation fused with a LeakyReLU, on plain `f32` slices in NCHW.
//!
//! burn's default `batch_norm_train` (which flex inherits) works through transposed copies of
//! the activation, and its backward through several more: 27 ms forward + backward for the
//! step's 32×16×64×64 activations against about 1 ms forward. Here each channel is two passes
//! forward (statistics, then the output) and two backward (the sums, then the input gradient),
//! the channels spread over the cores. The activation's slope is part of the operation so that
//! the step's "BatchNorm → LeakyReLU" costs one pass over memory, not two; a slope of 1 is a plain
//! batch norm.

use rayon::prelude::*;

/// One batch's statistics, per channel: the mean and the biased variance (as burn's
/// `batch_norm_train` returns them, for the running statistics).
#[derive(Debug, Clone, PartialEq)]
pub struct BatchStats {
    pub mean: Vec<f32>,
    pub variance: Vec<f32>,
}

/// The shape `[batch, channels, plane]` of an NCHW activation (plane = height × width).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub batch: usize,
    pub channels: usize,
    pub plane: usize,
}

impl Layout {
    fn len(&self) -> usize {
        self.batch * self.channels * self.plane
    }

    /// The ranges of channel `c`'s values: one plane per image.
    fn planes(&self, c: usize) -> impl Iterator<Item = std::ops::Range<usize>> + '_ {
        (0..self.batch).map(move |n| {
            let start = (n * self.channels + c) * self.plane;
            start..start + self.plane
        })
    }
}

/// The learned scale and shift, the variance floor and the activation's negative slope.
#[derive(Debug, Clone, Copy)]
pub struct NormParams<'a> {
    pub gamma: &'a [f32],
    pub beta: &'a [f32],
    pub epsilon: f64,
    /// LeakyReLU's slope for negative values; 1 for no activation.
    pub slope: f32,
}

/// Accumulator lanes: one AVX-512 register of f32 (two AVX2 ones). Summing in lanes lets the
/// compiler vectorise the reductions, which a single running sum (or an f64 one) forbids; each
/// plane's lane sums are then added in f64, so the rounding stays that of a few thousand terms.
const LANES: usize = 16;

/// `Σ f(xᵢ)` over one plane, in [`LANES`] partial sums.
#[inline(always)]
fn lane_sum(x: &[f32], f: impl Fn(f32) -> f32) -> f64 {
    let mut acc = [0.0f32; LANES];
    let chunks = x.chunks_exact(LANES);
    let rest: f32 = chunks.remainder().iter().map(|&v| f(v)).sum();
    for chunk in chunks {
        for (a, &v) in acc.iter_mut().zip(chunk) {
            *a += f(v);
        }
    }
    acc.iter().map(|&a| a as f64).sum::<f64>() + rest as f64
}

/// LeakyReLU without a branch (so that it vectorises): `max(z, 0) + slope·min(z, 0)`.
#[inline(always)]
fn leaky(z: f32, slope: f32) -> f32 {
    z.max(0.0) + slope * z.min(0.0)
}

/// LeakyReLU's derivative at `z` times `d`, without a branch.
#[inline(always)]
fn through(z: f32, d: f32, slope: f32) -> f32 {
    d * if z > 0.0 { 1.0 } else { slope }
}

// The per-plane loops, compiled for AVX-512 and AVX2 besides the baseline and picked at run time
// (the binary stays portable; `bench ops` measured the scalar loops at 30% of the training step).

/// `Σ x` over one plane, in lanes (also the bias gradients' column sums).
#[multiversion::multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma"))]
pub(super) fn plane_sum(x: &[f32]) -> f64 {
    lane_sum(x, |v| v)
}

#[multiversion::multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma"))]
pub(super) fn plane_centred_squares(x: &[f32], mean: f32) -> f64 {
    lane_sum(x, |v| (v - mean) * (v - mean))
}

#[multiversion::multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma"))]
pub(super) fn plane_output(y: &mut [f32], x: &[f32], scale: f32, shift: f32, slope: f32) {
    for (y, &x) in y.iter_mut().zip(x) {
        *y = leaky(x * scale + shift, slope);
    }
}

/// `(Σ g, Σ g·(x − mean))` over one plane, with `g = dy · leaky′(x·scale + shift)`.
#[multiversion::multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma"))]
pub(super) fn plane_gradient_sums(
    x: &[f32],
    dy: &[f32],
    (scale, shift): (f32, f32),
    slope: f32,
    mean: f32,
) -> (f64, f64) {
    let (mut sg, mut sgx) = ([0.0f32; LANES], [0.0f32; LANES]);
    let (xs, ds) = (x.chunks_exact(LANES), dy.chunks_exact(LANES));
    let (mut rest_g, mut rest_gx) = (0.0f32, 0.0f32);
    for (&x, &d) in xs.remainder().iter().zip(ds.remainder()) {
        let g = through(x * scale + shift, d, slope);
        rest_g += g;
        rest_gx += g * (x - mean);
    }
    for (xc, dc) in xs.zip(ds) {
        for i in 0..LANES {
            let g = through(xc[i] * scale + shift, dc[i], slope);
            sg[i] += g;
            sgx[i] += g * (xc[i] - mean);
        }
    }
    let total =
        |acc: [f32; LANES], rest: f32| acc.iter().map(|&a| a as f64).sum::<f64>() + rest as f64;
    (total(sg, rest_g), total(sgx, rest_gx))
}

/// The input gradient over one plane: `scale·(g − mean(g) − x̂·mean(g·x̂))`.
#[multiversion::multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma"))]
fn plane_input_gradient(
    dx: &mut [f32],
    x: &[f32],
    dy: &[f32],
    (scale, shift): (f32, f32),
    slope: f32,
    (mean, inv_std): (f32, f32),
    (mean_g, mean_gx): (f32, f32),
) {
    for ((dx, &x), &d) in dx.iter_mut().zip(x).zip(dy) {
        let g = through(x * scale + shift, d, slope);
        let x_hat = (x - mean) * inv_std;
        *dx = scale * (g - mean_g - x_hat * mean_gx);
    }
}

/// Per-channel scale and shift: the affine map `x ↦ x·scale + shift` equal to
/// `gamma·(x − mean)/√(var + ε) + beta`.
fn affine(stats: &BatchStats, p: &NormParams) -> Vec<(f32, f32)> {
    (0..p.gamma.len())
        .map(|c| {
            let inv_std = 1.0 / (stats.variance[c] as f64 + p.epsilon).sqrt();
            let scale = p.gamma[c] as f64 * inv_std;
            let shift = p.beta[c] as f64 - stats.mean[c] as f64 * scale;
            (scale as f32, shift as f32)
        })
        .collect()
}

/// `leaky(gamma·(x − mean)/√(var + ε) + beta)` with the batch's own statistics, and the
/// statistics.
pub fn forward(x: &[f32], layout: Layout, p: &NormParams) -> (Vec<f32>, BatchStats) {
    assert_eq!(x.len(), layout.len(), "batch norm: input size");
    assert_eq!(p.gamma.len(), layout.channels, "batch norm: gamma size");
    assert_eq!(p.beta.len(), layout.channels, "batch norm: beta size");
    let slope = p.slope;
    let count = (layout.batch * layout.plane).max(1) as f64;
    // Two passes: the mean, then the centred squares (no cancellation).
    let (mean, variance): (Vec<f32>, Vec<f32>) = (0..layout.channels)
        .into_par_iter()
        .map(|c| {
            let sum: f64 = layout.planes(c).map(|r| plane_sum(&x[r])).sum();
            let mean = (sum / count) as f32;
            let squares: f64 = layout
                .planes(c)
                .map(|r| plane_centred_squares(&x[r], mean))
                .sum();
            (mean, (squares / count) as f32)
        })
        .unzip();
    let stats = BatchStats { mean, variance };
    let affine = affine(&stats, p);
    let mut y = vec![0.0; x.len()];
    y.par_chunks_mut(layout.plane.max(1))
        .zip(x.par_chunks(layout.plane.max(1)))
        .enumerate()
        .for_each(|(i, (y, x))| {
            let (scale, shift) = affine[i % layout.channels];
            plane_output(y, x, scale, shift, slope);
        });
    (y, stats)
}

/// The gradients of [`forward`]'s output with respect to x, gamma and beta, given the output's
/// gradient `dy` and the statistics the forward pass used.
pub fn backward(
    x: &[f32],
    dy: &[f32],
    layout: Layout,
    p: &NormParams,
    stats: &BatchStats,
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let (epsilon, slope) = (p.epsilon, p.slope);
    assert_eq!(x.len(), layout.len(), "batch norm backward: input size");
    assert_eq!(dy.len(), layout.len(), "batch norm backward: gradient size");
    let count = (layout.batch * layout.plane).max(1) as f64;
    let affine = affine(stats, p);
    // Per channel: Σ g (beta's gradient) and Σ g·x̂ (gamma's), x̂ = (x − mean)·inv_std.
    let (d_beta, d_gamma): (Vec<f32>, Vec<f32>) = (0..layout.channels)
        .into_par_iter()
        .map(|c| {
            let inv_std = 1.0 / (stats.variance[c] as f64 + epsilon).sqrt();
            let (mut sum_g, mut sum_gx) = (0.0f64, 0.0f64);
            for r in layout.planes(c) {
                let (g, gx) =
                    plane_gradient_sums(&x[r.clone()], &dy[r], affine[c], slope, stats.mean[c]);
                sum_g += g;
                sum_gx += gx;
            }
            (sum_g as f32, (sum_gx * inv_std) as f32)
        })
        .unzip();
    // dx = gamma·inv_std·(g − mean(g) − x̂·mean(g·x̂)).
    let mut dx = vec![0.0; x.len()];
    dx.par_chunks_mut(layout.plane.max(1))
        .enumerate()
        .for_each(|(i, dx)| {
            let c = i % layout.channels;
            let range = i * layout.plane..(i + 1) * layout.plane;
            let inv_std = (1.0 / (stats.variance[c] as f64 + epsilon).sqrt()) as f32;
            let mean_g = (d_beta[c] as f64 / count) as f32;
            let mean_gx = (d_gamma[c] as f64 / count) as f32;
            plane_input_gradient(
                dx,
                &x[range.clone()],
                &dy[range],
                affine[c],
                slope,
                (stats.mean[c], inv_std),
                (mean_g, mean_gx),
            );
        });
    (dx, d_gamma, d_beta)
}
