//! CycleGAN's networks (Zhu et al. 2017): a ResNet generator with instance normalisation that
//! translates an image of one domain into the other, and a PatchGAN discriminator that judges
//! overlapping patches rather than the whole image.

use crate::kernels;
use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::{InstanceNorm, InstanceNormConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::ops::PadMode;

/// Reflection padding of `p` pixels on every side, as CycleGAN pads before its 7×7 and residual
/// convolutions: borders are continued rather than darkened.
fn reflect(x: Tensor<4>, p: usize) -> Tensor<4> {
    x.pad([(p, p), (p, p)], PadMode::Reflect)
}

fn conv(
    channels_in: usize,
    channels_out: usize,
    kernel: usize,
    stride: usize,
    pad: usize,
    device: &Device,
) -> Conv2d {
    Conv2dConfig::new([channels_in, channels_out], [kernel, kernel])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
        .init(device)
}

fn instance_norm(channels: usize, device: &Device) -> InstanceNorm {
    InstanceNormConfig::new(channels).init(device)
}

/// x + (reflect-pad → Conv3×3 → IN → ReLU → reflect-pad → Conv3×3 → IN)(x).
#[derive(Module, Debug)]
pub struct ResidualBlock {
    conv1: Conv2d,
    norm1: InstanceNorm,
    conv2: Conv2d,
    norm2: InstanceNorm,
}

impl ResidualBlock {
    pub fn new(channels: usize, device: &Device) -> Self {
        ResidualBlock {
            conv1: conv(channels, channels, 3, 1, 0, device),
            norm1: instance_norm(channels, device),
            conv2: conv(channels, channels, 3, 1, 0, device),
            norm2: instance_norm(channels, device),
        }
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let y = kernels::instance_norm(
            &self.norm1,
            kernels::conv(&self.conv1, reflect(x.clone(), 1)),
            Some(0.0),
        );
        let y =
            kernels::instance_norm(&self.norm2, kernels::conv(&self.conv2, reflect(y, 1)), None);
        x + y
    }
}

/// CycleGAN's translator, a ResNet generator: 7×7 stem → two stride-2 downsamplings (×2 filters
/// each) → `blocks` residual blocks → two stride-2 transposed convolutions → 7×7 head with tanh.
#[derive(Config, Debug)]
pub struct CycleGeneratorConfig {
    /// Channels of the images in and out.
    pub channels: usize,
    /// Filters of the stem (Zhu et al.: 64); the residual blocks have 2^downsamplings × (4×).
    #[config(default = 64)]
    pub filters: usize,
    /// Residual blocks (Zhu et al.: 6 at 128 px, 9 at 256 px).
    #[config(default = 6)]
    pub blocks: usize,
    /// Stride-2 convolutions before the residual blocks, each mirrored by a transposed one after
    /// (Zhu et al.: 2); each doubles the filters. Fewer keep the blocks at a finer grid.
    #[config(default = 2)]
    pub downsamplings: usize,
}

#[derive(Module, Debug)]
pub struct CycleGenerator {
    stem: Conv2d,
    stem_norm: InstanceNorm,
    down: Vec<Conv2d>,
    down_norms: Vec<InstanceNorm>,
    blocks: Vec<ResidualBlock>,
    up: Vec<ConvTranspose2d>,
    up_norms: Vec<InstanceNorm>,
    head: Conv2d,
}

impl CycleGeneratorConfig {
    pub fn init(&self, device: &Device) -> CycleGenerator {
        let f = self.filters;
        let down_widths: Vec<(usize, usize)> = (0..self.downsamplings)
            .map(|i| (f << i, f << (i + 1)))
            .collect();
        let up_widths: Vec<(usize, usize)> =
            down_widths.iter().rev().map(|&(i, o)| (o, i)).collect();
        let inner = f << self.downsamplings;
        CycleGenerator {
            stem: conv(self.channels, f, 7, 1, 0, device),
            stem_norm: instance_norm(f, device),
            down: down_widths
                .iter()
                .map(|&(i, o)| conv(i, o, 3, 2, 1, device))
                .collect(),
            down_norms: down_widths
                .iter()
                .map(|&(_, o)| instance_norm(o, device))
                .collect(),
            blocks: (0..self.blocks)
                .map(|_| ResidualBlock::new(inner, device))
                .collect(),
            up: up_widths
                .iter()
                .map(|&(i, o)| {
                    // Output padding 1: exactly twice the input size.
                    ConvTranspose2dConfig::new([i, o], [3, 3])
                        .with_stride([2, 2])
                        .with_padding([1, 1])
                        .with_padding_out([1, 1])
                        .init(device)
                })
                .collect(),
            up_norms: up_widths
                .iter()
                .map(|&(_, o)| instance_norm(o, device))
                .collect(),
            head: conv(f, self.channels, 7, 1, 0, device),
        }
    }
}

impl CycleGenerator {
    /// Images `[batch, channels, s, s]` in [-1, 1] to the other domain's, same shape. `s` must be
    /// a multiple of 4 and at least 8 (the reflection padding needs 4 pixels).
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let mut x = kernels::instance_norm(
            &self.stem_norm,
            kernels::conv(&self.stem, reflect(x, 3)),
            Some(0.0),
        );
        for (conv, norm) in self.down.iter().zip(&self.down_norms) {
            x = kernels::instance_norm(norm, kernels::conv(conv, x), Some(0.0));
        }
        for block in &self.blocks {
            x = block.forward(x);
        }
        for (conv, norm) in self.up.iter().zip(&self.up_norms) {
            x = kernels::instance_norm(norm, kernels::conv_transpose(conv, x), Some(0.0));
        }
        kernels::tanh(kernels::conv(&self.head, reflect(x, 3)))
    }
}

/// PatchGAN: Conv4×4/2 → LeakyReLU(0.2), then `layers − 1` × (Conv4×4/2 → IN → LeakyReLU) with
/// doubling filters (at most 8×), one Conv4×4/1 → IN → LeakyReLU, and a Conv4×4/1 to one channel:
/// a score per overlapping patch. Three layers see 70×70 patches (Zhu et al. at 256 px); small
/// images need fewer ([`PatchDiscriminatorConfig::layers_for`]).
#[derive(Config, Debug)]
pub struct PatchDiscriminatorConfig {
    pub channels: usize,
    #[config(default = 64)]
    pub filters: usize,
    #[config(default = 3)]
    pub layers: usize,
}

impl PatchDiscriminatorConfig {
    /// The most stride-2 layers (up to CycleGAN's 3) that leave a map of at least 2×2 after the
    /// two stride-1 4×4 convolutions on `spatial`-pixel images.
    pub fn layers_for(spatial: usize) -> usize {
        (1..=3).rev().find(|&n| spatial >> n >= 4).unwrap_or(1)
    }

    /// The side of the score map for `spatial`-pixel images.
    pub fn output_side(&self, spatial: usize) -> usize {
        // Each stride-2 4×4 convolution with padding 1 halves; each stride-1 one takes one pixel.
        (spatial >> self.layers).saturating_sub(2)
    }

    /// The side of the patch each score sees.
    pub fn receptive_field(&self) -> usize {
        // Back from one output pixel: two stride-1 k4 layers, then `layers` stride-2 k4 layers.
        let mut field = 1;
        for _ in 0..2 {
            field += 3;
        }
        for _ in 0..self.layers {
            field = 2 * field + 2;
        }
        field
    }

    pub fn init(&self, device: &Device) -> PatchDiscriminator {
        let mut widths = vec![self.filters];
        for n in 1..self.layers {
            widths.push(self.filters * (1 << n.min(3)));
        }
        let last = *widths.last().expect("at least one layer");
        let penultimate = self.filters * (1 << self.layers.min(3));
        let mut convs = vec![conv(self.channels, widths[0], 4, 2, 1, device)];
        let mut norms = Vec::new();
        for pair in widths.windows(2) {
            convs.push(conv(pair[0], pair[1], 4, 2, 1, device));
            norms.push(instance_norm(pair[1], device));
        }
        convs.push(conv(last, penultimate, 4, 1, 1, device));
        norms.push(instance_norm(penultimate, device));
        PatchDiscriminator {
            convs,
            norms,
            head: conv(penultimate, 1, 4, 1, 1, device),
        }
    }
}

#[derive(Module, Debug)]
pub struct PatchDiscriminator {
    /// The first convolution has no normalisation; `norms[i]` follows `convs[i + 1]`.
    convs: Vec<Conv2d>,
    norms: Vec<InstanceNorm>,
    head: Conv2d,
}

impl PatchDiscriminator {
    /// Scores `[batch, 1, h', w']`, one per patch (raw: the least-squares loss regresses them).
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let mut x = kernels::leaky(kernels::conv(&self.convs[0], x), 0.2);
        for (conv, norm) in self.convs[1..].iter().zip(&self.norms) {
            x = kernels::instance_norm(norm, kernels::conv(conv, x), Some(0.2));
        }
        kernels::conv(&self.head, x)
    }
}
