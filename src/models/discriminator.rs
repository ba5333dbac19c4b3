use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{
    BatchNorm, BatchNormConfig, Embedding, EmbeddingConfig, GroupNorm, GroupNormConfig, Identity,
    Initializer, Linear, LinearConfig, PaddingConfig2d,
};
use burn::prelude::*;
use burn::tensor::activation::{leaky_relu, sigmoid};

use super::same_padding;

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
            Normalization::Batch(n) => n.forward(x),
            Normalization::Layer(n) => n.forward(x),
            Normalization::None(n) => n.forward(x),
        }
    }
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
}

#[derive(Module, Debug)]
pub struct EncoderBlock {
    conv: Conv2d,
    norm: Normalization,
    conv_down: Conv2d,
    norm_down: Normalization,
    leaky_slope: f64,
}

impl EncoderBlockConfig {
    pub fn init(&self, device: &Device) -> EncoderBlock {
        let pad = same_padding(self.filter);
        let padding = PaddingConfig2d::Explicit(pad, pad, pad, pad);
        let k = [self.filter, self.filter];
        EncoderBlock {
            conv: Conv2dConfig::new([self.channels_in, self.channels_out], k)
                .with_padding(padding.clone())
                .init(device),
            norm: Normalization::new(self.norm, self.channels_out, device),
            conv_down: Conv2dConfig::new([self.channels_out, self.channels_out], k)
                .with_stride([2, 2])
                .with_padding(padding)
                .init(device),
            norm_down: Normalization::new(self.norm, self.channels_out, device),
            leaky_slope: self.leaky_slope,
        }
    }
}

impl EncoderBlock {
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = self.norm.forward(self.conv.forward(x));
        let x = self.norm_down.forward(self.conv_down.forward(x));
        leaky_relu(x, self.leaky_slope)
    }
}

/// The tutorial's discriminator: four encoder blocks with capacity × 1, 2, 4, 8 filters, a global
/// average pool and a one-unit dense layer.
#[derive(Config, Debug)]
pub struct DiscriminatorConfig {
    /// Image channels: 1 (grey) or 3 (RGB).
    pub channels: usize,
    /// Filters of the first block; the blocks use capacity × 1, 2, 4, 8.
    #[config(default = 16)]
    pub capacity: usize,
    /// Kernel size of every convolution (odd).
    #[config(default = 5)]
    pub filter: usize,
    #[config(default = 0.3)]
    pub leaky_slope: f64,
    #[config(default = "NormKind::Batch")]
    pub norm: NormKind,
    /// Classes of a conditional discriminator; 0 for an unconditional one.
    #[config(default = 0)]
    pub classes: usize,
}

/// D(x). [`Discriminator::forward`] returns the logit of "x is real"; the tutorial's sigmoid output
/// is [`Discriminator::probability`]. Losses work on the logit because `log(sigmoid(l))` computed
/// from a logit stays finite where a saturated probability would give `log(0)`.
///
/// A conditional D is a projection discriminator (Miyato & Koyama 2018): with φ(x) the pooled
/// features, D(x, y) = w·φ(x) + b + e_y·φ(x), e_y a learned class embedding. The label acts where
/// the class is decidable (on the features, not the pixels), at a cost that does not grow with
/// the number of classes, and the convolutional stack stays the tutorial's.
#[derive(Module, Debug)]
pub struct Discriminator {
    blocks: Vec<EncoderBlock>,
    head: Linear,
    class_projection: Option<Embedding>,
}

impl DiscriminatorConfig {
    pub fn init(&self, device: &Device) -> Discriminator {
        let widths = [1, 2, 4, 8].map(|m| m * self.capacity);
        let mut channels_in = self.channels;
        let blocks = widths
            .iter()
            .map(|&channels_out| {
                let block = EncoderBlockConfig::new(channels_in, channels_out)
                    .with_filter(self.filter)
                    .with_leaky_slope(self.leaky_slope)
                    .with_norm(self.norm)
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
        Discriminator {
            blocks,
            head: LinearConfig::new(widths[3], 1).init(device),
            class_projection,
        }
    }
}

impl Discriminator {
    /// Pooled features after the last encoder block, `[batch, 8 × capacity]`.
    pub fn features(&self, images: Tensor<4>) -> Tensor<2> {
        let x = self.blocks.iter().fold(images, |x, block| block.forward(x));
        x.mean_dims(&[2, 3]).flatten(1, 3)
    }

    /// Logits of "real", `[batch, 1]` (an unconditional discriminator).
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        self.forward_conditioned(images, None)
    }

    /// Logits of "real" for images and, for a conditional discriminator, their labels `[batch]`.
    ///
    /// # Panics
    /// When labels are given to an unconditional discriminator or missing for a conditional one.
    pub fn forward_conditioned(
        &self,
        images: Tensor<4>,
        labels: Option<Tensor<1, Int>>,
    ) -> Tensor<2> {
        let features = self.features(images);
        let unconditional = self.head.forward(features.clone());
        match (&self.class_projection, labels) {
            (Some(embedding), Some(labels)) => {
                let [batch, d] = features.dims();
                let e = embedding
                    .forward(labels.reshape([batch, 1]))
                    .reshape([batch, d]);
                unconditional + (features * e).sum_dim(1)
            }
            (None, None) => unconditional,
            (Some(_), None) => panic!("a conditional discriminator needs labels"),
            (None, Some(_)) => panic!("an unconditional discriminator takes no labels"),
        }
    }

    /// D(x) as the tutorial's sigmoid output, in (0, 1).
    pub fn probability(&self, images: Tensor<4>) -> Tensor<2> {
        sigmoid(self.forward(images))
    }
}
