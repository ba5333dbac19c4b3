//! Group normalisation (LayerNorm over channels and pixels is one group) fused with a LeakyReLU,
//! on plain `f32` slices in NCHW.
//!
//! burn's `GroupNorm` is six tensor operations forward (a reshape, a mean, a subtraction, a
//! square and a second mean, a division, the affine map), each a pass over the activation, and
//! its autodiff backward as many again; with the LeakyReLU after it, D's `d_norm = "layer"` made
//! the tutorial step a quarter slower than BatchNorm's fused kernel ([`super::batch_norm`]). In
//! NCHW a group's channels are one contiguous run, so each (image, group) is two passes forward
//! (the mean, then the centred squares) and each plane one pass for the output; backward, one
//! pass per plane for its sums and one for the input gradient. The per-plane loops are the
//! batch norm's own.

use rayon::prelude::*;

use super::batch_norm::{
    NormParams, plane_centred_squares, plane_gradient_sums, plane_output, plane_sum,
};

/// The shape of an NCHW activation split into `groups` groups of channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupLayout {
    pub batch: usize,
    pub channels: usize,
    pub groups: usize,
    /// Height × width.
    pub plane: usize,
}

impl GroupLayout {
    fn len(&self) -> usize {
        self.batch * self.channels * self.plane
    }

    fn channels_per_group(&self) -> usize {
        self.channels / self.groups
    }

    /// Values in one (image, group): its channels' planes, contiguous.
    fn segment(&self) -> usize {
        self.channels_per_group() * self.plane
    }

    /// The (image, group) that plane `i` (image `i / channels`, channel `i % channels`) is in.
    fn group_of_plane(&self, i: usize) -> usize {
        let (n, c) = (i / self.channels, i % self.channels);
        n * self.groups + c / self.channels_per_group()
    }
}

/// Each (image, group)'s mean and `1/√(var + ε)`, the biased variance, image-major.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupStats {
    pub mean: Vec<f32>,
    pub inv_std: Vec<f32>,
}

fn check(x: &[f32], layout: GroupLayout, p: &NormParams) {
    assert!(
        layout.groups > 0 && layout.channels.is_multiple_of(layout.groups),
        "group norm: {} channels in {} groups",
        layout.channels,
        layout.groups
    );
    assert_eq!(x.len(), layout.len(), "group norm: input size");
    assert_eq!(p.gamma.len(), layout.channels, "group norm: gamma size");
    assert_eq!(p.beta.len(), layout.channels, "group norm: beta size");
}

/// `leaky(gamma·(x − mean)/√(var + ε) + beta)`, the statistics those of each image's group.
pub fn forward(x: &[f32], layout: GroupLayout, p: &NormParams) -> (Vec<f32>, GroupStats) {
    check(x, layout, p);
    let segment = layout.segment().max(1);
    let count = segment as f64;
    // Two passes per segment: the mean, then the centred squares (no cancellation).
    let (mean, inv_std): (Vec<f32>, Vec<f32>) = x
        .par_chunks(segment)
        .map(|s| {
            let mean = (plane_sum(s) / count) as f32;
            let variance = plane_centred_squares(s, mean) / count;
            (mean, (1.0 / (variance + p.epsilon).sqrt()) as f32)
        })
        .unzip();
    let stats = GroupStats { mean, inv_std };
    let mut y = vec![0.0; x.len()];
    let plane = layout.plane.max(1);
    y.par_chunks_mut(plane)
        .zip(x.par_chunks(plane))
        .enumerate()
        .for_each(|(i, (y, x))| {
            let (scale, shift) = affine(&stats, layout, p, i);
            plane_output(y, x, scale, shift, p.slope);
        });
    (y, stats)
}

/// Plane `i`'s affine map `x ↦ x·scale + shift`, equal to `gamma·(x − mean)·inv_std + beta`.
fn affine(stats: &GroupStats, layout: GroupLayout, p: &NormParams, i: usize) -> (f32, f32) {
    let (c, s) = (i % layout.channels, layout.group_of_plane(i));
    let scale = p.gamma[c] as f64 * stats.inv_std[s] as f64;
    let shift = p.beta[c] as f64 - stats.mean[s] as f64 * scale;
    (scale as f32, shift as f32)
}

/// The input gradient over one plane: `inv_std·(gamma·g − mean_g − x̂·mean_gx)`, with
/// `g = dy·leaky′(x·scale + shift)` and `x̂ = (x − mean)·inv_std`.
#[multiversion::multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma"))]
fn plane_input_gradient(
    dx: &mut [f32],
    x: &[f32],
    dy: &[f32],
    (scale, shift, slope, gamma): (f32, f32, f32, f32),
    (mean, inv_std): (f32, f32),
    (mean_g, mean_gx): (f32, f32),
) {
    for ((dx, &x), &d) in dx.iter_mut().zip(x).zip(dy) {
        let z = x * scale + shift;
        let g = d * if z > 0.0 { 1.0 } else { slope };
        let x_hat = (x - mean) * inv_std;
        *dx = inv_std * (gamma * g - mean_g - x_hat * mean_gx);
    }
}

/// The gradients of [`forward`]'s output with respect to x, gamma and beta, given the output's
/// gradient `dy` and the statistics the forward pass used.
///
/// With `g = dy·leaky′` and `g' = gamma·g`: `dbeta_c = Σ g`, `dgamma_c = Σ g·x̂` over the images
/// and pixels of channel c, and per (image, group) `dx = inv_std·(g' − mean(g') − x̂·mean(g'·x̂))`.
pub fn backward(
    x: &[f32],
    dy: &[f32],
    layout: GroupLayout,
    p: &NormParams,
    stats: &GroupStats,
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    check(x, layout, p);
    assert_eq!(dy.len(), layout.len(), "group norm backward: gradient size");
    let plane = layout.plane.max(1);
    // Per plane: Σ g and Σ g·(x − mean).
    let sums: Vec<(f64, f64)> = x
        .par_chunks(plane)
        .zip(dy.par_chunks(plane))
        .enumerate()
        .map(|(i, (x, dy))| {
            let s = layout.group_of_plane(i);
            plane_gradient_sums(x, dy, affine(stats, layout, p, i), p.slope, stats.mean[s])
        })
        .collect();
    let (channels, groups) = (layout.channels, layout.groups);
    let mut d_beta = vec![0.0f64; channels];
    let mut d_gamma = vec![0.0f64; channels];
    // Per (image, group): Σ g' and Σ g'·x̂.
    let mut group_sums = vec![(0.0f64, 0.0f64); layout.batch * groups];
    for (i, &(g, gx)) in sums.iter().enumerate() {
        let (c, s) = (i % channels, layout.group_of_plane(i));
        let gx_hat = gx * stats.inv_std[s] as f64;
        d_beta[c] += g;
        d_gamma[c] += gx_hat;
        let gamma = p.gamma[c] as f64;
        group_sums[s].0 += gamma * g;
        group_sums[s].1 += gamma * gx_hat;
    }
    let count = layout.segment().max(1) as f64;
    let mut dx = vec![0.0; x.len()];
    dx.par_chunks_mut(plane)
        .zip(x.par_chunks(plane).zip(dy.par_chunks(plane)))
        .enumerate()
        .for_each(|(i, (dx, (x, dy)))| {
            let (c, s) = (i % channels, layout.group_of_plane(i));
            let (scale, shift) = affine(stats, layout, p, i);
            let (sum_g, sum_gx) = group_sums[s];
            plane_input_gradient(
                dx,
                x,
                dy,
                (scale, shift, p.slope, p.gamma[c]),
                (stats.mean[s], stats.inv_std[s]),
                ((sum_g / count) as f32, (sum_gx / count) as f32),
            );
        });
    let narrow = |v: Vec<f64>| v.into_iter().map(|v| v as f32).collect();
    (dx, narrow(d_gamma), narrow(d_beta))
}
