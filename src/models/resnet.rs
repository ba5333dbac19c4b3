//! The residual G and D of SNGAN and BigGAN (Miyato et al. 2018; Brock et al. 2019), for 16 to
//! 256 pixels: G grows a 4×4 map by up-sampling residual blocks, D shrinks the image by
//! down-sampling ones to 4×4, then ReLU, a global sum pool and a dense head (with a class
//! projection when conditional). A conditional G normalises with class-conditional BatchNorm: a
//! gain and a bias per class in every block, so that the class acts at every scale while the
//! noise still decides the rest (joining the label to the noise, as the tutorial's G does, lets G
//! ignore the noise within a class). D's layers take spectral normalisation when asked.

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{
    BatchNorm, BatchNormConfig, Embedding, EmbeddingConfig, Initializer, Linear, LinearConfig,
    PaddingConfig2d,
};
use burn::prelude::*;

use crate::kernels;
use crate::models::shared;
use crate::models::spectral_norm::{SpectralNorm, dense_of, kernel_of};
use crate::models::{DiscriminatorNet, GeneratorNet};

/// Residual blocks between 4×4 and `spatial` (a power of two ≥ 8).
fn blocks_for(spatial: usize) -> usize {
    (spatial / 4).trailing_zeros() as usize
}

/// The mean of every 2×2 window (average pooling, stride 2).
fn downsample(x: Tensor<4>) -> Tensor<4> {
    let [b, c, h, w] = x.dims();
    x.reshape([b, c, h / 2, 2, w / 2, 2])
        .mean_dims(&[3, 5])
        .reshape([b, c, h / 2, w / 2])
}

/// The gradient of [`downsample`]'s input for an output gradient `g`: a quarter of it to each
/// pixel of its window.
fn downsample_input_gradient(g: Tensor<4>) -> Tensor<4> {
    shared::upsample_nearest(g).div_scalar(4.0)
}

/// ReLU, one pass each way on the project's kernels ([`kernels::leaky`] with slope 0).
fn relu(x: Tensor<4>) -> Tensor<4> {
    kernels::leaky(x, 0.0)
}

/// ReLU's derivative at `pre` (its input), as a constant mask.
fn relu_mask(pre: &Tensor<4>, dtype: burn::tensor::DType) -> Tensor<4> {
    pre.clone().detach().greater_elem(0.0).float().cast(dtype)
}

/// A "same" convolution of odd kernel `k`.
fn conv(channels: [usize; 2], k: usize, device: &Device) -> Conv2d {
    let pad = k / 2;
    Conv2dConfig::new(channels, [k, k])
        .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
        .init(device)
}

/// BatchNorm, class-conditional when `classes` > 0: the normalised map times (1 + γ_y) plus β_y,
/// γ and β embeddings of the label y that start at zero (so at first it is plain BatchNorm).
#[derive(Module, Debug)]
pub struct ConditionalBatchNorm {
    norm: BatchNorm,
    gain: Option<Embedding>,
    bias: Option<Embedding>,
}

impl ConditionalBatchNorm {
    fn new(channels: usize, classes: usize, device: &Device) -> Self {
        let embedding = || {
            EmbeddingConfig::new(classes, channels)
                .with_initializer(Initializer::Zeros)
                .init(device)
        };
        ConditionalBatchNorm {
            norm: BatchNormConfig::new(channels).init(device),
            gain: (classes > 0).then(embedding),
            bias: (classes > 0).then(embedding),
        }
    }

    /// ReLU of the (conditional) normalisation of `x`.
    fn forward_relu(&self, x: Tensor<4>, labels: Option<&Tensor<1, Int>>) -> Tensor<4> {
        match (&self.gain, &self.bias, labels) {
            (Some(gain), Some(bias), Some(labels)) => {
                let x = kernels::batch_norm(&self.norm, x, None);
                relu(shared::class_gain_and_bias(x, gain, bias, labels))
            }
            (None, None, None) => kernels::batch_norm(&self.norm, x, Some(0.0)),
            _ => panic!("labels must be given exactly to a conditional generator"),
        }
    }
}

/// G's residual block: BN-ReLU-up-conv3-BN-ReLU-conv3, plus up-conv1 of its input.
#[derive(Module, Debug)]
pub struct UpBlock {
    norm_a: ConditionalBatchNorm,
    conv_a: Conv2d,
    norm_b: ConditionalBatchNorm,
    conv_b: Conv2d,
    shortcut: Conv2d,
}

impl UpBlock {
    fn new(channels: [usize; 2], classes: usize, device: &Device) -> Self {
        let [c_in, c_out] = channels;
        UpBlock {
            norm_a: ConditionalBatchNorm::new(c_in, classes, device),
            conv_a: conv([c_in, c_out], 3, device),
            norm_b: ConditionalBatchNorm::new(c_out, classes, device),
            conv_b: conv([c_out, c_out], 3, device),
            shortcut: conv([c_in, c_out], 1, device),
        }
    }

    fn forward(&self, x: Tensor<4>, labels: Option<&Tensor<1, Int>>) -> Tensor<4> {
        let h = shared::upsample_nearest(self.norm_a.forward_relu(x.clone(), labels));
        let h = kernels::conv(&self.conv_a, h);
        let h = kernels::conv(&self.conv_b, self.norm_b.forward_relu(h, labels));
        h + kernels::conv(&self.shortcut, shared::upsample_nearest(x))
    }

    fn forward_flops(&self, input: [usize; 4]) -> (u64, [usize; 4]) {
        let [b, c, h, w] = input;
        let up = [b, c, 2 * h, 2 * w];
        let (a, shape) = shared::conv2d_flops(&self.conv_a, up);
        let (bb, _) = shared::conv2d_flops(&self.conv_b, shape);
        let (s, _) = shared::conv2d_flops(&self.shortcut, up);
        (a + bb + s, shape)
    }
}

/// The residual generator.
#[derive(Config, Debug)]
pub struct ResnetGeneratorConfig {
    /// Image side, a power of two from 16.
    pub spatial: usize,
    pub channels: usize,
    #[config(default = 100)]
    pub latent: usize,
    /// Channels of the last block; the 4×4 map has capacity × 2^blocks.
    #[config(default = 32)]
    pub capacity: usize,
    /// Classes of a conditional generator (class-conditional BatchNorm); 0 for none.
    #[config(default = 0)]
    pub classes: usize,
}

#[derive(Module, Debug)]
pub struct ResnetGenerator {
    project: Linear,
    blocks: Vec<UpBlock>,
    out_norm: BatchNorm,
    to_image: Conv2d,
    start_channels: usize,
    classes: usize,
}

impl ResnetGeneratorConfig {
    pub fn init(&self, device: &Device) -> ResnetGenerator {
        let n = blocks_for(self.spatial);
        let start_channels = self.capacity << n;
        let blocks = (0..n)
            .map(|k| {
                let c_in = start_channels >> k;
                UpBlock::new([c_in, c_in / 2], self.classes, device)
            })
            .collect();
        ResnetGenerator {
            project: LinearConfig::new(self.latent, 16 * start_channels).init(device),
            blocks,
            out_norm: BatchNormConfig::new(self.capacity).init(device),
            to_image: conv([self.capacity, self.channels], 3, device),
            start_channels,
            classes: self.classes,
        }
    }
}

impl GeneratorNet for ResnetGenerator {
    fn forward_conditioned(&self, noise: Tensor<2>, labels: Option<Tensor<1, Int>>) -> Tensor<4> {
        let [batch, _] = noise.dims();
        assert_eq!(
            labels.is_some(),
            self.classes > 0,
            "labels must be given exactly to a conditional generator"
        );
        let x = self
            .project
            .forward(noise)
            .reshape([batch, self.start_channels, 4, 4]);
        let x = self
            .blocks
            .iter()
            .fold(x, |x, block| block.forward(x, labels.as_ref()));
        let x = kernels::batch_norm(&self.out_norm, x, Some(0.0));
        kernels::tanh(kernels::conv(&self.to_image, x))
    }

    fn is_conditional(&self) -> bool {
        self.classes > 0
    }

    fn forward_flops(&self, batch: usize) -> u64 {
        let (mut total, _) = shared::linear_flops(&self.project, batch);
        let mut shape = [batch, self.start_channels, 4, 4];
        for block in &self.blocks {
            let (flops, out) = block.forward_flops(shape);
            total += flops;
            shape = out;
        }
        total + shared::conv2d_flops(&self.to_image, shape).0
    }
}

/// D's residual block: (ReLU)-conv3-ReLU-conv3-pool plus a shortcut. The first block takes the
/// image itself: no ReLU before its first convolution, and its shortcut pools before its
/// convolution (SNGAN's "optimised" block).
#[derive(Module, Debug)]
pub struct DownBlock {
    conv_a: Conv2d,
    conv_b: Conv2d,
    shortcut: Conv2d,
    sn: Option<[SpectralNorm; 3]>,
    first: bool,
}

/// What a D block's forward pass keeps for its input gradient.
struct DownTrace {
    input: Tensor<4>,
    pre_b: Tensor<4>,
    kernels: [Tensor<4>; 3],
}

impl DownBlock {
    fn new(channels: [usize; 2], first: bool, spectral_norm: bool, device: &Device) -> Self {
        let [c_in, c_out] = channels;
        DownBlock {
            conv_a: conv([c_in, c_out], 3, device),
            conv_b: conv([c_out, c_out], 3, device),
            shortcut: conv([c_in, c_out], 1, device),
            sn: spectral_norm.then(|| [0; 3].map(|_| SpectralNorm::new(c_out, device))),
            first,
        }
    }

    fn kernels(&self) -> [Tensor<4>; 3] {
        let sn = |i: usize| self.sn.as_ref().map(|s| &s[i]);
        [
            kernel_of(self.conv_a.weight.val(), sn(0)),
            kernel_of(self.conv_b.weight.val(), sn(1)),
            kernel_of(self.shortcut.weight.val(), sn(2)),
        ]
    }

    fn forward_traced(&self, x: Tensor<4>) -> (Tensor<4>, DownTrace) {
        let [ka, kb, ks] = self.kernels();
        let pre_a = if self.first {
            x.clone()
        } else {
            relu(x.clone())
        };
        let pre_b = kernels::conv_with_kernel(&self.conv_a, ka.clone(), pre_a);
        let h = kernels::conv_with_kernel(&self.conv_b, kb.clone(), relu(pre_b.clone()));
        let h = downsample(h);
        let shortcut = if self.first {
            kernels::conv_with_kernel(&self.shortcut, ks.clone(), downsample(x.clone()))
        } else {
            downsample(kernels::conv_with_kernel(
                &self.shortcut,
                ks.clone(),
                x.clone(),
            ))
        };
        let trace = DownTrace {
            input: x,
            pre_b,
            kernels: [ka, kb, ks],
        };
        (h + shortcut, trace)
    }

    /// The block's backward pass for an output gradient `g`, as differentiable operations.
    fn input_gradient(&self, trace: DownTrace, g: Tensor<4>) -> Tensor<4> {
        let [ka, kb, ks] = trace.kernels;
        let [_, _, h, w] = trace.input.dims();
        let dtype = g.dtype();
        let g_pool = downsample_input_gradient(g.clone());
        let g_b = shared::conv_input_gradient(&self.conv_b, kb, g_pool.clone(), [h, w]);
        let g_a = g_b * relu_mask(&trace.pre_b, dtype);
        let mut g_x = shared::conv_input_gradient(&self.conv_a, ka, g_a, [h, w]);
        if !self.first {
            g_x = g_x * relu_mask(&trace.input, dtype);
        }
        let g_short = if self.first {
            downsample_input_gradient(shared::conv_input_gradient(
                &self.shortcut,
                ks,
                g,
                [h / 2, w / 2],
            ))
        } else {
            shared::conv_input_gradient(&self.shortcut, ks, g_pool, [h, w])
        };
        g_x + g_short
    }

    fn forward_flops(&self, input: [usize; 4]) -> (u64, [usize; 4]) {
        let [b, c, h, w] = input;
        let (a, shape) = shared::conv2d_flops(&self.conv_a, input);
        let (bb, [_, c_out, ..]) = shared::conv2d_flops(&self.conv_b, shape);
        let short_input = if self.first {
            [b, c, h / 2, w / 2]
        } else {
            input
        };
        let (s, _) = shared::conv2d_flops(&self.shortcut, short_input);
        (a + bb + s, [b, c_out, h / 2, w / 2])
    }
}

/// The residual discriminator.
#[derive(Config, Debug)]
pub struct ResnetDiscriminatorConfig {
    pub channels: usize,
    /// Image side, a power of two from 16.
    pub spatial: usize,
    /// Channels of the first block; each next block doubles them.
    #[config(default = 32)]
    pub capacity: usize,
    /// Classes of a conditional (projection) discriminator; 0 for none.
    #[config(default = 0)]
    pub classes: usize,
    /// PacGAN: D judges this many images joined along the channels.
    #[config(default = 1)]
    pub pack: usize,
    #[config(default = false)]
    pub spectral_norm: bool,
}

#[derive(Module, Debug)]
pub struct ResnetDiscriminator {
    blocks: Vec<DownBlock>,
    head: Linear,
    head_sn: Option<SpectralNorm>,
    class_projection: Option<Embedding>,
    pack: usize,
}

impl ResnetDiscriminatorConfig {
    pub fn init(&self, device: &Device) -> ResnetDiscriminator {
        let n = blocks_for(self.spatial);
        let mut c_in = self.channels * self.pack.max(1);
        let blocks = (0..n)
            .map(|k| {
                let c_out = self.capacity << k;
                let block = DownBlock::new([c_in, c_out], k == 0, self.spectral_norm, device);
                c_in = c_out;
                block
            })
            .collect();
        let class_projection = (self.classes > 0).then(|| {
            EmbeddingConfig::new(self.classes, c_in)
                .with_initializer(Initializer::Normal {
                    mean: 0.0,
                    std: 1.0 / (c_in as f64).sqrt(),
                })
                .init(device)
        });
        ResnetDiscriminator {
            blocks,
            head: LinearConfig::new(c_in, 1).init(device),
            head_sn: self.spectral_norm.then(|| SpectralNorm::new(1, device)),
            class_projection,
            pack: self.pack.max(1),
        }
    }
}

impl ResnetDiscriminator {
    /// The last blocks' maps and each block's trace.
    fn traced(&self, images: Tensor<4>) -> (Tensor<4>, Vec<DownTrace>) {
        let mut x = shared::pack_images(images, self.pack);
        let mut traces = Vec::with_capacity(self.blocks.len());
        for block in &self.blocks {
            let (out, trace) = block.forward_traced(x);
            traces.push(trace);
            x = out;
        }
        (x, traces)
    }

    /// ReLU and a global sum pool of the last maps: `[groups, channels]`.
    fn pool(maps: Tensor<4>) -> Tensor<2> {
        relu(maps).sum_dims(&[2, 3]).flatten(1, 3)
    }

    fn head_weight(&self) -> Tensor<2> {
        dense_of(self.head.weight.val(), self.head_sn.as_ref())
    }

    fn score(&self, features: Tensor<2>, labels: Option<Tensor<1, Int>>) -> Tensor<2> {
        let out = shared::dense_with_weight(&self.head, self.head_weight(), features.clone());
        shared::add_class_projection(out, features, self.class_projection.as_ref(), labels)
    }

    fn blocks_flops(&self, samples: [usize; 4]) -> (u64, [usize; 4]) {
        shared::chain_flops(&self.blocks, samples, self.pack, DownBlock::forward_flops)
    }
}

impl DiscriminatorNet for ResnetDiscriminator {
    fn scores_and_features(
        &self,
        images: Tensor<4>,
        labels: Option<Tensor<1, Int>>,
    ) -> (Tensor<2>, Tensor<2>) {
        let features = Self::pool(self.traced(images).0);
        (self.score(features.clone(), labels), features)
    }

    fn class_projection(&self) -> Option<&Embedding> {
        self.class_projection.as_ref()
    }

    fn features(&self, images: Tensor<4>) -> Tensor<2> {
        Self::pool(self.traced(images).0)
    }

    fn outputs_for(&self, images: usize) -> usize {
        images / self.pack
    }

    /// ∂(Σᵢ D(xᵢ, yᵢ))/∂x as differentiable operations: each block's backward pass written out
    /// (convolutions as transposed convolutions with the same normalised kernels, ReLUs as
    /// masks, pooling as spreading), for R1 and WGAN-GP under first-order autodiff.
    fn input_gradient(&self, images: Tensor<4>, labels: Option<Tensor<1, Int>>) -> Tensor<4> {
        let [b, c, h, w] = images.dims();
        let (maps, traces) = self.traced(images);
        let [groups, _, fh, fw] = maps.dims();
        let grad = shared::head_input_gradient(
            self.head_weight(),
            self.class_projection.as_ref(),
            labels,
            groups,
        );
        // Sum pool: every position gets the feature's gradient; then the ReLU before it.
        let mask = relu_mask(&maps, grad.dtype());
        let mut grad = shared::spread_over_positions(grad, [fh, fw], 1.0) * mask;
        for (block, trace) in self.blocks.iter().zip(traces).rev() {
            grad = block.input_gradient(trace, grad);
        }
        grad.reshape([b, c, h, w])
    }

    fn forward_flops(&self, samples: [usize; 4]) -> u64 {
        let (convs, [groups, ..]) = self.blocks_flops(samples);
        convs + shared::head_flops(&self.head, self.class_projection.as_ref(), groups)
    }

    fn input_gradient_flops(&self, samples: [usize; 4]) -> u64 {
        2 * self.blocks_flops(samples).0
    }
}
