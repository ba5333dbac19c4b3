use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::{
    BatchNorm, BatchNormConfig, Embedding, EmbeddingConfig, Initializer, Linear, LinearConfig,
    PaddingConfig2d,
};
use burn::prelude::*;

use crate::models::GeneratorNet;
use crate::models::shared::{self, same_padding};

/// How a decoder block doubles its input's side.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Upsampling {
    /// A transposed convolution of stride 2 (the tutorial's). With an odd kernel its taps
    /// overlap unevenly, one output pixel in four getting more of them than its neighbours,
    /// which prints a checkerboard that small kernels (3×3) leave visible.
    Transposed,
    /// Nearest-neighbour doubling, then a "same" convolution (Odena et al. 2016, "Deconvolution
    /// and checkerboard artifacts"): every output pixel sees the same number of taps. The
    /// convolution runs at the doubled side, so it costs 4·k² multiply-adds per input pixel and
    /// channel pair against the transposed one's k².
    Nearest,
}

/// One block of the tutorial's generator: ConvTranspose(k, stride 2, same) (or, with
/// [`Upsampling::Nearest`], nearest doubling and Conv(k, same)) → BatchNorm → LeakyReLU. It
/// doubles the spatial size. With `classes`, the BatchNorm is class-conditional:
/// each class has its own gain and bias per channel, starting at zero (the plain BatchNorm).
#[derive(Config, Debug)]
pub struct DecoderBlockConfig {
    pub channels_in: usize,
    pub channels_out: usize,
    #[config(default = 5)]
    pub filter: usize,
    #[config(default = 0.3)]
    pub leaky_slope: f64,
    /// Classes of a class-conditional BatchNorm; 0 for the plain one.
    #[config(default = 0)]
    pub classes: usize,
    #[config(default = "Upsampling::Transposed")]
    pub upsample: Upsampling,
    /// Kernel side of the stride-2 transposed convolution ([`Upsampling::Transposed`]);
    /// `filter` when unset. An even side (4, PyTorch's DCGAN) gives every output pixel the same
    /// number of taps, so the layer has no checkerboard of its own (an odd one prints one even
    /// with equal weights); a learned kernel can still draw one.
    #[config(default = "None")]
    pub resample_filter: Option<usize>,
}

#[derive(Module, Debug)]
pub struct DecoderBlock {
    /// The transposed convolution of [`Upsampling::Transposed`].
    conv_up: Option<ConvTranspose2d>,
    /// The convolution after the nearest doubling of [`Upsampling::Nearest`].
    conv: Option<Conv2d>,
    norm: BatchNorm,
    /// Per-class gain and bias of a class-conditional BatchNorm.
    class_gain: Option<Embedding>,
    class_bias: Option<Embedding>,
    leaky_slope: f64,
}

impl DecoderBlockConfig {
    pub fn init(&self, device: &Device) -> DecoderBlock {
        let pad = same_padding(self.filter);
        let embedding = || {
            EmbeddingConfig::new(self.classes, self.channels_out)
                .with_initializer(Initializer::Zeros)
                .init(device)
        };
        let channels = [self.channels_in, self.channels_out];
        let kernel = [self.filter, self.filter];
        let transposed = self.upsample == Upsampling::Transposed;
        let up = self.resample_filter.unwrap_or(self.filter);
        let (up_pad, up_out) = (same_padding(up), shared::doubling_output_padding(up));
        DecoderBlock {
            conv_up: transposed.then(|| {
                ConvTranspose2dConfig::new(channels, [up, up])
                    .with_stride([2, 2])
                    .with_padding([up_pad, up_pad])
                    .with_padding_out([up_out, up_out])
                    .init(device)
            }),
            conv: (!transposed).then(|| {
                Conv2dConfig::new(channels, kernel)
                    .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
                    .init(device)
            }),
            norm: BatchNormConfig::new(self.channels_out).init(device),
            class_gain: (self.classes > 0).then(embedding),
            class_bias: (self.classes > 0).then(embedding),
            leaky_slope: self.leaky_slope,
        }
    }
}

impl DecoderBlock {
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.forward_conditioned(x, None)
    }

    /// The block on `x`, with its class-conditional BatchNorm taking `labels`.
    ///
    /// # Panics
    /// When labels are given to a plain block or missing for a class-conditional one.
    pub fn forward_conditioned(&self, x: Tensor<4>, labels: Option<&Tensor<1, Int>>) -> Tensor<4> {
        let x = self.upsample(x);
        match (&self.class_gain, &self.class_bias, labels) {
            (Some(gain), Some(bias), Some(labels)) => {
                let x = crate::kernels::batch_norm(&self.norm, x, None);
                crate::kernels::leaky(
                    shared::class_gain_and_bias(x, gain, bias, labels),
                    self.leaky_slope,
                )
            }
            (None, None, None) => crate::kernels::batch_norm(&self.norm, x, Some(self.leaky_slope)),
            _ => panic!("labels must be given exactly to a class-conditional block"),
        }
    }

    /// `x` at twice its side and with the block's output channels, before normalisation.
    fn upsample(&self, x: Tensor<4>) -> Tensor<4> {
        match (&self.conv_up, &self.conv) {
            (Some(conv_up), None) => crate::kernels::conv_transpose(conv_up, x),
            (None, Some(conv)) => crate::kernels::conv(conv, shared::upsample_nearest(x)),
            _ => unreachable!("a decoder block has exactly one of its two convolutions"),
        }
    }

    /// FLOPs of [`DecoderBlock::forward`] on an input of shape `input` (see
    /// [`DcganGenerator::forward_flops`]), and its output's shape.
    pub fn forward_flops(&self, input: [usize; 4]) -> (u64, [usize; 4]) {
        match (&self.conv_up, &self.conv) {
            (Some(conv_up), _) => shared::conv_transpose2d_flops(conv_up, input),
            (None, Some(conv)) => {
                let [b, c, h, w] = input;
                shared::conv2d_flops(conv, [b, c, 2 * h, 2 * w])
            }
            (None, None) => unreachable!("a decoder block has one of its two convolutions"),
        }
    }
}

/// The tutorial's generator: Dense(latent → s·s·8·capacity) → BatchNorm → reshape to s×s (s =
/// spatial / 16) → four decoder blocks (capacity × 4, 2, 1, 1) → Conv(channels, k, same) → tanh.
/// With a `draw_side` below 16 it starts at 1×1 with as many blocks as reach that side (the
/// first of those widths, the last at `capacity`), and the loader's resize brings the image to
/// `spatial`.
#[derive(Config, Debug)]
pub struct DcganGeneratorConfig {
    /// Side of the square output image: a power of two, at least 16.
    pub spatial: usize,
    /// Image channels: 1 (grey) or 3 (RGB).
    pub channels: usize,
    #[config(default = 100)]
    pub latent: usize,
    #[config(default = 16)]
    pub capacity: usize,
    #[config(default = 5)]
    pub filter: usize,
    #[config(default = 0.3)]
    pub leaky_slope: f64,
    /// Classes of a conditional generator; 0 for an unconditional one.
    #[config(default = 0)]
    pub classes: usize,
    /// Size of the learned label embedding joined to the noise of a conditional generator.
    #[config(default = 50)]
    pub label_embedding: usize,
    /// Class-conditional BatchNorm in every block of a conditional generator, besides the
    /// label embedding.
    #[config(default = false)]
    pub class_norm: bool,
    /// Side G draws at, when smaller than `spatial`: its images are then brought to `spatial`
    /// by the data loader's own (bilinear) resize, so that a G for data made by upscaling
    /// (the 8×8 digits shown at 16×16) draws in the data's own grid and cannot add detail the
    /// data never has. A power of two from 2 to `spatial`.
    #[config(default = "None")]
    pub draw_side: Option<usize>,
    /// How each block doubles the side.
    #[config(default = "Upsampling::Transposed")]
    pub upsample: Upsampling,
    /// Kernel side of the blocks' stride-2 transposed convolutions; `filter` when unset.
    #[config(default = "None")]
    pub resample_filter: Option<usize>,
}

/// G(z) or, conditional, G(z, y): the label's learned embedding is joined to the noise.
#[derive(Module, Debug)]
pub struct DcganGenerator {
    label_embedding: Option<Embedding>,
    project: Linear,
    project_norm: BatchNorm,
    blocks: Vec<DecoderBlock>,
    to_image: Conv2d,
    start: usize,
    start_channels: usize,
    /// Side of `to_image`'s output; below `spatial`, the loader's resize follows it.
    draw_side: usize,
    spatial: usize,
}

impl DcganGeneratorConfig {
    pub fn init(&self, device: &Device) -> DcganGenerator {
        let draw_side = self.draw_side.unwrap_or(self.spatial);
        let start = (draw_side / 16).max(1);
        let start_channels = 8 * self.capacity;
        let features = start * start * start_channels;
        let blocks = (draw_side / start).trailing_zeros() as usize;
        // The tutorial's widths, the last block at `capacity` whatever the count.
        let widths = (0..blocks).map(|i| {
            let multiple = if i + 1 == blocks { 1 } else { [4, 2, 1][i] };
            multiple * self.capacity
        });
        let mut channels_in = start_channels;
        let blocks = widths
            .map(|channels_out| {
                let block = DecoderBlockConfig::new(channels_in, channels_out)
                    .with_filter(self.filter)
                    .with_leaky_slope(self.leaky_slope)
                    .with_classes(if self.class_norm { self.classes } else { 0 })
                    .with_upsample(self.upsample)
                    .with_resample_filter(self.resample_filter)
                    .init(device);
                channels_in = channels_out;
                block
            })
            .collect();
        let pad = same_padding(self.filter);
        let (label_embedding, embedded) = if self.classes > 0 {
            let e = EmbeddingConfig::new(self.classes, self.label_embedding).init(device);
            (Some(e), self.label_embedding)
        } else {
            (None, 0)
        };
        DcganGenerator {
            label_embedding,
            project: LinearConfig::new(self.latent + embedded, features).init(device),
            project_norm: BatchNormConfig::new(features).init(device),
            blocks,
            to_image: Conv2dConfig::new([self.capacity, self.channels], [self.filter; 2])
                .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
                .init(device),
            start,
            start_channels,
            draw_side,
            spatial: self.spatial,
        }
    }
}

impl DcganGenerator {
    /// Images in [-1, 1], `[batch, channels, spatial, spatial]`, from noise `[batch, latent]`
    /// (an unconditional generator).
    pub fn forward(&self, noise: Tensor<2>) -> Tensor<4> {
        self.forward_conditioned(noise, None)
    }
}

impl super::super::GeneratorNet for DcganGenerator {
    /// Images for noise `[batch, latent]` and, for a conditional generator, labels `[batch]`.
    ///
    /// # Panics
    /// When labels are given to an unconditional generator or missing for a conditional one.
    fn forward_conditioned(&self, noise: Tensor<2>, labels: Option<Tensor<1, Int>>) -> Tensor<4> {
        let [batch, _] = noise.dims();
        let class_norm = self.blocks.first().is_some_and(|b| b.class_gain.is_some());
        let block_labels = labels.clone().filter(|_| class_norm);
        let input = shared::join_label_embedding(noise, self.label_embedding.as_ref(), labels);
        let x = self.project_norm.forward(self.project.forward(input));
        let x = x.reshape([batch, self.start_channels, self.start, self.start]);
        let x = self.blocks.iter().fold(x, |x, block| {
            block.forward_conditioned(x, block_labels.as_ref())
        });
        let images = crate::kernels::tanh(crate::kernels::conv(&self.to_image, x));
        if self.draw_side < self.spatial {
            shared::loader_resize(images, self.spatial)
        } else {
            images
        }
    }

    /// True when the generator takes labels.
    fn is_conditional(&self) -> bool {
        self.label_embedding.is_some()
    }

    /// Floating-point operations of one forward pass over `batch` noise vectors, counted from
    /// the layers themselves (their weight shapes, strides and paddings, and the activation
    /// sizes they see): a multiply-add is two, and only the dense projection and the
    /// (transposed) convolutions count; normalisation, activations and the label lookup do not.
    fn forward_flops(&self, batch: usize) -> u64 {
        let (mut total, features) = shared::linear_flops(&self.project, batch);
        let mut shape = [batch, self.start_channels, self.start, self.start];
        assert_eq!(
            features,
            self.start_channels * self.start * self.start,
            "the projection fills the first feature maps"
        );
        for block in &self.blocks {
            let (flops, out) = block.forward_flops(shape);
            total += flops;
            shape = out;
        }
        let (flops, drawn) = shared::conv2d_flops(&self.to_image, shape);
        let resize = if self.draw_side < self.spatial {
            shared::loader_resize_flops(drawn, self.spatial)
        } else {
            0
        };
        total + flops + resize
    }
}
