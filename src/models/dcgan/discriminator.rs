use crate::kernels;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{
    BatchNorm, BatchNormConfig, Embedding, EmbeddingConfig, GroupNorm, GroupNormConfig, Identity,
    Initializer, Linear, LinearConfig, PaddingConfig2d,
};
use burn::prelude::*;
use burn::tensor::activation::sigmoid;

use crate::models::DiscriminatorNet;
use crate::models::shared::{self, same_padding};
use crate::models::spectral_norm::{SpectralNorm, dense_of, kernel_of};

/// How D normalises activations inside its encoder blocks.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum NormKind {
    /// BatchNorm, the tutorial's. With separate real and fake batches each batch is normalised
    /// by its own statistics, which D can exploit and which makes small data sets collapse.
    Batch,
    /// Per-sample normalisation over channels and pixels (LayerNorm, as GroupNorm with one
    /// group): each image is judged on its own, whatever else is in the batch.
    Layer,
    /// No normalisation.
    None,
}

/// One normalisation layer of the kind a [`NormKind`] names.
#[derive(Module, Debug)]
pub enum Normalization {
    Batch(BatchNorm),
    Layer(GroupNorm),
    None(Identity),
}

impl Normalization {
    pub fn new(kind: NormKind, channels: usize, device: &Device) -> Self {
        match kind {
            NormKind::Batch => Normalization::Batch(BatchNormConfig::new(channels).init(device)),
            NormKind::Layer => Normalization::Layer(GroupNormConfig::new(1, channels).init(device)),
            NormKind::None => Normalization::None(Identity::new()),
        }
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        match self {
            Normalization::Batch(n) => kernels::batch_norm(n, x, None),
            Normalization::Layer(n) => kernels::group_norm(n, x, None),
            Normalization::None(n) => n.forward(x),
        }
    }

    /// `leaky(self.forward(x), slope)`, fused into one operation for BatchNorm and LayerNorm.
    pub fn forward_leaky(&self, x: Tensor<4>, slope: f64) -> Tensor<4> {
        match self {
            Normalization::Batch(n) => kernels::batch_norm(n, x, Some(slope)),
            Normalization::Layer(n) => kernels::group_norm(n, x, Some(slope)),
            Normalization::None(n) => kernels::leaky(n.forward(x), slope),
        }
    }

    /// The gradient with respect to this layer's input `x` of a function whose gradient with
    /// respect to the layer's output is `g`, written as differentiable tensor operations.
    /// LayerNorm over (c, h, w) with a per-channel scale γ: with x̂ = (x − μ)/σ and g' = γg,
    /// ∂/∂x = (g' − mean(g') − x̂ · mean(g'x̂)) / σ, the means per image.
    ///
    /// # Panics
    /// For BatchNorm, which mixes the images of a batch: the gradient penalty is per image, and the
    /// configuration refuses `wgan-gp` with `d_norm = "batch"`.
    pub fn input_gradient(&self, x: Tensor<4>, g: Tensor<4>) -> Tensor<4> {
        match self {
            Normalization::None(_) => g,
            Normalization::Layer(n) => {
                let [b, c, h, w] = x.dims();
                let g = match &n.gamma {
                    Some(gamma) => g * gamma.val().reshape([1, c, 1, 1]),
                    None => g,
                };
                let (x, g) = (x.reshape([b, c * h * w]), g.reshape([b, c * h * w]));
                let centred = x.clone() - x.mean_dim(1);
                let inv_std = centred
                    .clone()
                    .square()
                    .mean_dim(1)
                    .add_scalar(n.epsilon)
                    .sqrt()
                    .recip();
                let x_hat = centred * inv_std.clone();
                let projection = (g.clone() * x_hat.clone()).mean_dim(1);
                ((g.clone() - g.mean_dim(1) - x_hat * projection) * inv_std).reshape([b, c, h, w])
            }
            Normalization::Batch(_) => {
                panic!("BatchNorm has no per-image input gradient; use d_norm layer or none")
            }
        }
    }
}

/// What an encoder block's forward pass keeps for its input gradient.
struct BlockTrace {
    input: [usize; 2],
    /// The kernels the forward pass used.
    kernels: (Tensor<4>, Tensor<4>),
    conv: Tensor<4>,
    conv_down: Tensor<4>,
    norm_down: Tensor<4>,
}

/// One block of the tutorial's discriminator: Conv(k, same) → norm → Conv(k, stride 2, same) →
/// norm → LeakyReLU, the norm being BatchNorm in the tutorial. It halves the spatial size.
#[derive(Config, Debug)]
pub struct EncoderBlockConfig {
    pub channels_in: usize,
    pub channels_out: usize,
    #[config(default = 5)]
    pub filter: usize,
    #[config(default = 0.3)]
    pub leaky_slope: f64,
    #[config(default = "NormKind::Batch")]
    pub norm: NormKind,
    /// Spectrally normalise both convolutions.
    #[config(default = false)]
    pub spectral_norm: bool,
    /// Kernel side of the stride-2 convolution; `filter` when unset. An odd kernel at stride 2
    /// covers half the rows and columns twice and the others once, so the gradient D passes back
    /// to G carries a period-2 pattern; an even one (4, PyTorch's DCGAN) covers each twice.
    #[config(default = "None")]
    pub resample_filter: Option<usize>,
}

#[derive(Module, Debug)]
pub struct EncoderBlock {
    conv: Conv2d,
    norm: Normalization,
    conv_down: Conv2d,
    norm_down: Normalization,
    leaky_slope: f64,
    /// The convolutions' spectral normalisation, when the block has it.
    conv_sn: Option<SpectralNorm>,
    conv_down_sn: Option<SpectralNorm>,
}

impl EncoderBlockConfig {
    pub fn init(&self, device: &Device) -> EncoderBlock {
        let pad = same_padding(self.filter);
        let padding = PaddingConfig2d::Explicit(pad, pad, pad, pad);
        let k = [self.filter, self.filter];
        let down = self.resample_filter.unwrap_or(self.filter);
        let down_pad = same_padding(down);
        EncoderBlock {
            conv: Conv2dConfig::new([self.channels_in, self.channels_out], k)
                .with_padding(padding.clone())
                .init(device),
            norm: Normalization::new(self.norm, self.channels_out, device),
            conv_down: Conv2dConfig::new([self.channels_out, self.channels_out], [down, down])
                .with_stride([2, 2])
                .with_padding(PaddingConfig2d::Explicit(
                    down_pad, down_pad, down_pad, down_pad,
                ))
                .init(device),
            norm_down: Normalization::new(self.norm, self.channels_out, device),
            leaky_slope: self.leaky_slope,
            conv_sn: self
                .spectral_norm
                .then(|| SpectralNorm::new(self.channels_out, device)),
            conv_down_sn: self
                .spectral_norm
                .then(|| SpectralNorm::new(self.channels_out, device)),
        }
    }
}

impl EncoderBlock {
    /// The two convolutions' kernels as the forward pass uses them (in a training pass, each
    /// spectral normalisation takes its power-iteration step here).
    fn kernels(&self) -> (Tensor<4>, Tensor<4>) {
        (
            kernel_of(self.conv.weight.val(), self.conv_sn.as_ref()),
            kernel_of(self.conv_down.weight.val(), self.conv_down_sn.as_ref()),
        )
    }

    /// The block with each spectral normalisation folded into its kernel (W / σ at the current
    /// estimate, no power-iteration step): a plain block that computes what this one computes in
    /// evaluation, as an export to a framework without ganforge's estimate needs it.
    fn with_spectral_norm_folded(mut self) -> Self {
        let fold = |weight: Tensor<4>, norm: Option<&SpectralNorm>| {
            burn::module::Param::from_tensor(kernel_of(weight.detach(), norm))
        };
        self.conv.weight = fold(self.conv.weight.val(), self.conv_sn.as_ref());
        self.conv_down.weight = fold(self.conv_down.weight.val(), self.conv_down_sn.as_ref());
        self.conv_sn = None;
        self.conv_down_sn = None;
        self
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let (kernel, kernel_down) = self.kernels();
        let x = self
            .norm
            .forward(kernels::conv_with_kernel(&self.conv, kernel, x));
        self.norm_down.forward_leaky(
            kernels::conv_with_kernel(&self.conv_down, kernel_down, x),
            self.leaky_slope,
        )
    }

    fn forward_traced(&self, x: Tensor<4>) -> (Tensor<4>, BlockTrace) {
        let [_, _, h, w] = x.dims();
        let (kernel, kernel_down) = self.kernels();
        let conv = kernels::conv_with_kernel(&self.conv, kernel.clone(), x);
        let conv_down = kernels::conv_with_kernel(
            &self.conv_down,
            kernel_down.clone(),
            self.norm.forward(conv.clone()),
        );
        let norm_down = self.norm_down.forward(conv_down.clone());
        let out = kernels::leaky(norm_down.clone(), self.leaky_slope);
        let trace = BlockTrace {
            input: [h, w],
            kernels: (kernel, kernel_down),
            conv,
            conv_down,
            norm_down,
        };
        (out, trace)
    }

    /// The block's backward pass for an output gradient `g`, as differentiable operations.
    fn input_gradient(&self, trace: BlockTrace, g: Tensor<4>) -> Tensor<4> {
        // LeakyReLU's derivative is 1 or the slope: piecewise constant, so a detached mask.
        let positive = trace
            .norm_down
            .detach()
            .greater_elem(0.0)
            .float()
            .cast(g.dtype());
        let slope = self.leaky_slope;
        let g = g * positive.mul_scalar(1.0 - slope).add_scalar(slope);
        let (kernel, kernel_down) = trace.kernels;
        let g = self.norm_down.input_gradient(trace.conv_down, g);
        let [_, _, h, w] = trace.conv.dims();
        let g = shared::conv_input_gradient(&self.conv_down, kernel_down, g, [h, w]);
        let g = self.norm.input_gradient(trace.conv, g);
        shared::conv_input_gradient(&self.conv, kernel, g, trace.input)
    }

    /// FLOPs of [`EncoderBlock::forward`] on an input of shape `input` (its two convolutions;
    /// see [`DcganDiscriminator::forward_flops`]), and its output's shape.
    pub fn forward_flops(&self, input: [usize; 4]) -> (u64, [usize; 4]) {
        let (conv, shape) = shared::conv2d_flops(&self.conv, input);
        let (conv_down, shape) = shared::conv2d_flops(&self.conv_down, shape);
        (conv + conv_down, shape)
    }
}

/// The tutorial's discriminator: four encoder blocks with capacity × 1, 2, 4, 8 filters, a global
/// average pool and a one-unit dense layer.
#[derive(Config, Debug)]
pub struct DcganDiscriminatorConfig {
    /// Image channels: 1 (grey) or 3 (RGB).
    pub channels: usize,
    /// Filters of the first block; the blocks use capacity × 1, 2, 4, 8.
    #[config(default = 16)]
    pub capacity: usize,
    /// Kernel size of every convolution (odd).
    #[config(default = 5)]
    pub filter: usize,
    /// Kernel side of the blocks' stride-2 convolutions; `filter` when unset.
    #[config(default = "None")]
    pub resample_filter: Option<usize>,
    #[config(default = 0.3)]
    pub leaky_slope: f64,
    #[config(default = "NormKind::Batch")]
    pub norm: NormKind,
    /// Classes of a conditional discriminator; 0 for an unconditional one.
    #[config(default = 0)]
    pub classes: usize,
    /// PacGAN (Lin et al. 2018): D judges this many images joined along the channels.
    #[config(default = 1)]
    pub pack: usize,
    /// Append the minibatch standard deviation (Karras et al. 2018) to the features D judges.
    #[config(default = false)]
    pub minibatch_stddev: bool,
    /// Spectral normalisation (Miyato et al. 2018) of every convolution and of the dense head.
    #[config(default = false)]
    pub spectral_norm: bool,
}

/// D(x). [`DcganDiscriminator::forward`] returns the logit of "x is real"; the tutorial's sigmoid output
/// is [`DcganDiscriminator::probability`]. Losses work on the logit because `log(sigmoid(l))` computed
/// from a logit stays finite where a saturated probability would give `log(0)`.
///
/// A conditional D is a projection discriminator (Miyato & Koyama 2018): with φ(x) the pooled
/// features, D(x, y) = w·φ(x) + b + e_y·φ(x), e_y a learned class embedding. The label acts where
/// the class is decidable (on the features, not the pixels), at a cost that does not grow with
/// the number of classes, and the convolutional stack stays the tutorial's.
///
/// Two remedies for mode collapse are options of D. Packing (`pack` m > 1): D judges m images
/// joined along the channels, so a generator whose images look alike is easy to catch together.
/// The minibatch standard deviation: one more feature, the mean over D's last feature maps of
/// their standard deviation across the batch, tells D how varied the batch is. It is chosen over
/// Salimans et al.'s minibatch discrimination for having no parameters and, at one feature,
/// no cost to speak of.
#[derive(Module, Debug)]
pub struct DcganDiscriminator {
    blocks: Vec<EncoderBlock>,
    head: Linear,
    /// The head's spectral normalisation, when D has it.
    head_sn: Option<SpectralNorm>,
    class_projection: Option<Embedding>,
    pack: usize,
    minibatch_stddev: bool,
}

impl DcganDiscriminatorConfig {
    pub fn init(&self, device: &Device) -> DcganDiscriminator {
        let widths = [1, 2, 4, 8].map(|m| m * self.capacity);
        let mut channels_in = self.channels * self.pack.max(1);
        let blocks = widths
            .iter()
            .map(|&channels_out| {
                let block = EncoderBlockConfig::new(channels_in, channels_out)
                    .with_filter(self.filter)
                    .with_leaky_slope(self.leaky_slope)
                    .with_norm(self.norm)
                    .with_spectral_norm(self.spectral_norm)
                    .with_resample_filter(self.resample_filter)
                    .init(device);
                channels_in = channels_out;
                block
            })
            .collect();
        let class_projection = (self.classes > 0).then(|| {
            EmbeddingConfig::new(self.classes, widths[3])
                .with_initializer(Initializer::Normal {
                    mean: 0.0,
                    std: 1.0 / (widths[3] as f64).sqrt(),
                })
                .init(device)
        });
        let head_inputs = widths[3] + usize::from(self.minibatch_stddev);
        DcganDiscriminator {
            blocks,
            head: LinearConfig::new(head_inputs, 1).init(device),
            head_sn: self.spectral_norm.then(|| SpectralNorm::new(1, device)),
            class_projection,
            pack: self.pack.max(1),
            minibatch_stddev: self.minibatch_stddev,
        }
    }
}

impl DcganDiscriminator {
    /// Images `[batch, c, h, w]` as D's input: `pack` consecutive images joined along the
    /// channels, `[batch / pack, pack·c, h, w]`.
    ///
    /// # Panics
    /// When the batch is not a multiple of `pack` (the configuration rules that out).
    pub fn pack(&self, images: Tensor<4>) -> Tensor<4> {
        shared::pack_images(images, self.pack)
    }

    fn feature_maps(&self, images: Tensor<4>) -> Tensor<4> {
        let packed = self.pack(images);
        self.blocks.iter().fold(packed, |x, block| block.forward(x))
    }

    /// The head's weight `[features, 1]` as the forward pass uses it.
    fn head_weight(&self) -> Tensor<2> {
        dense_of(self.head.weight.val(), self.head_sn.as_ref())
    }

    /// The dense head on pooled features.
    fn head_forward(&self, features: Tensor<2>) -> Tensor<2> {
        if self.head_sn.is_none() {
            return self.head.forward(features);
        }
        shared::dense_with_weight(&self.head, self.head_weight(), features)
    }

    fn pool(maps: Tensor<4>) -> Tensor<2> {
        maps.mean_dims(&[2, 3]).flatten(1, 3)
    }

    /// The minibatch standard deviation of feature maps `[b, c, h, w]`: the standard deviation
    /// of every map value across the batch, averaged, as a `[b, 1]` column.
    pub fn minibatch_stddev(maps: Tensor<4>) -> Tensor<2> {
        let [b, _, _, _] = maps.dims();
        let std = maps.var_bias(0).add_scalar(1e-8).sqrt();
        std.mean().reshape([1, 1]).repeat_dim(0, b)
    }

    /// Logits of "real", `[batch, 1]` (an unconditional discriminator).
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        self.forward_conditioned(images, None)
    }

    /// The convolutions' FLOPs on `samples` (`[batch, c, h, w]`, before packing) and the shape
    /// of the last feature maps (`[batch / pack, …]`).
    fn blocks_flops(&self, samples: [usize; 4]) -> (u64, [usize; 4]) {
        shared::chain_flops(
            &self.blocks,
            samples,
            self.pack,
            EncoderBlock::forward_flops,
        )
    }

    /// D with every spectral normalisation folded into its weights (see
    /// [`EncoderBlock`]'s): the same scores in evaluation, from plain layers.
    pub fn with_spectral_norm_folded(mut self) -> Self {
        self.blocks = self
            .blocks
            .into_iter()
            .map(EncoderBlock::with_spectral_norm_folded)
            .collect();
        self.head.weight = burn::module::Param::from_tensor(dense_of(
            self.head.weight.val().detach(),
            self.head_sn.as_ref(),
        ));
        self.head_sn = None;
        self
    }

    /// True when any layer is spectrally normalised.
    pub fn has_spectral_norm(&self) -> bool {
        self.head_sn.is_some()
    }

    /// D(x) as the tutorial's sigmoid output, in (0, 1).
    pub fn probability(&self, images: Tensor<4>) -> Tensor<2> {
        sigmoid(self.forward(images))
    }
}

impl super::super::DiscriminatorNet for DcganDiscriminator {
    /// Logits of "real" for images and, for a conditional discriminator, their labels `[batch]`
    /// (the class projection's term added), with the pooled features they were computed from.
    ///
    /// # Panics
    /// When labels are given to an unconditional discriminator or missing for a conditional one.
    fn scores_and_features(
        &self,
        images: Tensor<4>,
        labels: Option<Tensor<1, Int>>,
    ) -> (Tensor<2>, Tensor<2>) {
        let maps = self.feature_maps(images);
        let features = Self::pool(maps.clone());
        let head_input = if self.minibatch_stddev {
            Tensor::cat(vec![features.clone(), Self::minibatch_stddev(maps)], 1)
        } else {
            features.clone()
        };
        let unconditional = self.head_forward(head_input);
        let scores = shared::add_class_projection(
            unconditional,
            features.clone(),
            self.class_projection.as_ref(),
            labels,
        );
        (scores, features)
    }

    fn class_projection(&self) -> Option<&Embedding> {
        self.class_projection.as_ref()
    }

    /// Pooled features after the last encoder block, `[batch, 8 × capacity]`.
    fn features(&self, images: Tensor<4>) -> Tensor<2> {
        Self::pool(self.feature_maps(images))
    }

    /// The number of D outputs for a batch of `images` images.
    fn outputs_for(&self, images: usize) -> usize {
        images / self.pack
    }

    /// ∂(Σᵢ D(xᵢ, yᵢ))/∂x, the gradient of D's output for each image with respect to that image,
    /// built from differentiable tensor operations (each layer's backward pass written out), so
    /// that a loss on it — the WGAN-GP penalty — has exact gradients with respect to D's weights
    /// from burn's first-order autodiff.
    ///
    /// # Panics
    /// With BatchNorm or the minibatch standard deviation, which couple the images of a batch
    /// (the configuration refuses both for `wgan-gp`).
    fn input_gradient(&self, images: Tensor<4>, labels: Option<Tensor<1, Int>>) -> Tensor<4> {
        assert!(
            !self.minibatch_stddev,
            "the minibatch standard deviation couples the images of a batch"
        );
        let [b, c, h, w] = images.dims();
        let mut x = self.pack(images);
        let mut traces = Vec::with_capacity(self.blocks.len());
        for block in &self.blocks {
            let (out, trace) = block.forward_traced(x);
            traces.push(trace);
            x = out;
        }
        let [groups, _, fh, fw] = x.dims();
        // Head (and class projection): ∂D/∂φ = w (+ e_y) for every image.
        let grad = shared::head_input_gradient(
            self.head_weight(),
            self.class_projection.as_ref(),
            labels,
            groups,
        );
        // Global average pool: each position gets 1/(h·w) of the feature's gradient.
        let mut grad = shared::spread_over_positions(grad, [fh, fw], 1.0 / (fh * fw) as f64);
        for (block, trace) in self.blocks.iter().zip(traces).rev() {
            grad = block.input_gradient(trace, grad);
        }
        grad.reshape([b, c, h, w])
    }

    /// Floating-point operations of one forward pass over `samples` images (`[batch, c, h, w]`),
    /// counted from the layers themselves (weight shapes, strides, paddings and the activation
    /// sizes they see): a multiply-add is two; the convolutions, the dense head and the class
    /// projection's inner product count, normalisation, activations and pooling do not. A packed
    /// D sees `batch / pack` inputs of `pack · c` channels.
    fn forward_flops(&self, samples: [usize; 4]) -> u64 {
        let (convs, [groups, ..]) = self.blocks_flops(samples);
        convs + shared::head_flops(&self.head, self.class_projection.as_ref(), groups)
    }

    /// Floating-point operations of [`DcganDiscriminator::input_gradient`] on `samples`: the
    /// blocks' convolutions forward, then each again as the transposed convolution that carries
    /// the gradient back (the same multiply-adds); the head's gradient is its weight, no product.
    fn input_gradient_flops(&self, samples: [usize; 4]) -> u64 {
        2 * self.blocks_flops(samples).0
    }
}
