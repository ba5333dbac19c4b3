//! Fully connected networks, the models of the mode-collapse benchmarks on 2-D mixtures (after
//! VEEGAN and PacGAN, Lin et al. 2018): a generator of ReLU layers with BatchNorm and a
//! discriminator of maxout layers. Inputs and outputs are shaped like images, `[batch, c, h, w]`,
//! so that the models plug into the same loop as the convolutional ones; a 2-D point is a 2-channel
//! 1×1 image.

use burn::nn::{
    BatchNorm, BatchNormConfig, Embedding, EmbeddingConfig, Initializer, Linear, LinearConfig,
};
use burn::prelude::*;
use burn::tensor::activation::{relu, tanh};

use super::shared;

/// G: [noise (+ label embedding)] → `layers` × (Linear → BatchNorm → ReLU) → Linear, reshaped to
/// `[batch, channels, spatial, spatial]`; tanh on the output when the data is bounded to [-1, 1].
#[derive(Config, Debug)]
pub struct MlpGeneratorConfig {
    pub channels: usize,
    pub spatial: usize,
    #[config(default = 2)]
    pub latent: usize,
    /// Units of each hidden layer (PacGAN: 400).
    #[config(default = 400)]
    pub width: usize,
    /// Hidden layers (PacGAN: 4).
    #[config(default = 4)]
    pub layers: usize,
    /// Squash the output to [-1, 1] (images); off for data such as mixtures that are not bounded.
    #[config(default = false)]
    pub tanh: bool,
    #[config(default = 0)]
    pub classes: usize,
    #[config(default = 50)]
    pub label_embedding: usize,
}

#[derive(Module, Debug)]
pub struct MlpGenerator {
    label_embedding: Option<Embedding>,
    hidden: Vec<Linear>,
    norms: Vec<BatchNorm>,
    output: Linear,
    channels: usize,
    spatial: usize,
    tanh: bool,
}

impl MlpGeneratorConfig {
    pub fn init(&self, device: &Device) -> MlpGenerator {
        let (label_embedding, embedded) = if self.classes > 0 {
            let e = EmbeddingConfig::new(self.classes, self.label_embedding).init(device);
            (Some(e), self.label_embedding)
        } else {
            (None, 0)
        };
        let mut inputs = self.latent + embedded;
        let mut hidden = Vec::new();
        let mut norms = Vec::new();
        for _ in 0..self.layers {
            hidden.push(LinearConfig::new(inputs, self.width).init(device));
            norms.push(BatchNormConfig::new(self.width).init(device));
            inputs = self.width;
        }
        let outputs = self.channels * self.spatial * self.spatial;
        MlpGenerator {
            label_embedding,
            hidden,
            norms,
            output: LinearConfig::new(inputs, outputs).init(device),
            channels: self.channels,
            spatial: self.spatial,
            tanh: self.tanh,
        }
    }
}

impl MlpGenerator {}

/// D: the input flattened (`pack` samples joined) → `layers` × maxout(Linear → max over `pieces`)
/// → a linear head, with the same class projection and minibatch standard deviation as the
/// convolutional D.
#[derive(Config, Debug)]
pub struct MlpDiscriminatorConfig {
    /// Values of one sample: channels × spatial × spatial (2 for a point).
    pub inputs: usize,
    /// Units of each hidden layer (PacGAN: 200).
    #[config(default = 200)]
    pub width: usize,
    /// Hidden layers (PacGAN: 3).
    #[config(default = 3)]
    pub layers: usize,
    /// Linear pieces each maxout unit takes the maximum of (PacGAN: 5).
    #[config(default = 5)]
    pub pieces: usize,
    #[config(default = 0)]
    pub classes: usize,
    #[config(default = 1)]
    pub pack: usize,
    #[config(default = false)]
    pub minibatch_stddev: bool,
}

#[derive(Module, Debug)]
pub struct MlpDiscriminator {
    hidden: Vec<Linear>,
    head: Linear,
    class_projection: Option<Embedding>,
    width: usize,
    pieces: usize,
    pack: usize,
    minibatch_stddev: bool,
}

impl MlpDiscriminatorConfig {
    pub fn init(&self, device: &Device) -> MlpDiscriminator {
        let pack = self.pack.max(1);
        let mut inputs = self.inputs * pack;
        let mut hidden = Vec::new();
        for _ in 0..self.layers {
            hidden.push(LinearConfig::new(inputs, self.width * self.pieces).init(device));
            inputs = self.width;
        }
        let class_projection = (self.classes > 0).then(|| {
            EmbeddingConfig::new(self.classes, inputs)
                .with_initializer(Initializer::Normal {
                    mean: 0.0,
                    std: 1.0 / (inputs as f64).sqrt(),
                })
                .init(device)
        });
        MlpDiscriminator {
            hidden,
            head: LinearConfig::new(inputs + usize::from(self.minibatch_stddev), 1).init(device),
            class_projection,
            width: self.width,
            pieces: self.pieces,
            pack,
            minibatch_stddev: self.minibatch_stddev,
        }
    }
}

/// What a maxout layer's forward pass keeps for its input gradient: which piece won.
struct MaxoutTrace {
    winners: Tensor<3>,
}

impl MlpDiscriminator {
    /// `[batch, …]` samples as `[batch / pack, pack · values]` rows.
    fn packed_rows(&self, samples: Tensor<4>) -> Tensor<2> {
        let [b, c, h, w] = samples.dims();
        assert!(
            b % self.pack == 0,
            "a batch of {b} cannot be packed by {}",
            self.pack
        );
        samples.reshape([b / self.pack, self.pack * c * h * w])
    }

    fn maxout(&self, linear: &Linear, x: Tensor<2>) -> (Tensor<2>, MaxoutTrace) {
        let [rows, _] = x.dims();
        let pieces = linear.forward(x).reshape([rows, self.width, self.pieces]);
        let best = pieces.clone().max_dim(2);
        let winners = pieces
            .detach()
            .equal(best.clone().detach())
            .float()
            .cast(best.dtype());
        (best.reshape([rows, self.width]), MaxoutTrace { winners })
    }

    /// The hidden layers' FLOPs on `rows` packed rows.
    fn hidden_flops(&self, rows: usize) -> u64 {
        self.hidden
            .iter()
            .map(|linear| shared::linear_flops(linear, rows).0)
            .sum()
    }
}

impl super::GeneratorNet for MlpGenerator {
    /// Samples `[batch, channels, spatial, spatial]` for noise `[batch, latent]` and, for a
    /// conditional generator, labels `[batch]`.
    fn forward_conditioned(&self, noise: Tensor<2>, labels: Option<Tensor<1, Int>>) -> Tensor<4> {
        let [batch, _] = noise.dims();
        let mut x = shared::join_label_embedding(noise, self.label_embedding.as_ref(), labels);
        for (linear, norm) in self.hidden.iter().zip(&self.norms) {
            x = relu(norm.forward(linear.forward(x)));
        }
        let x = self.output.forward(x);
        let x = if self.tanh { tanh(x) } else { x };
        x.reshape([batch, self.channels, self.spatial, self.spatial])
    }

    fn is_conditional(&self) -> bool {
        self.label_embedding.is_some()
    }

    /// Floating-point operations of one forward pass over `batch` noise vectors: the dense
    /// layers' multiply-adds, two each, from their weight shapes (normalisation, activations and
    /// the label lookup do not count).
    fn forward_flops(&self, batch: usize) -> u64 {
        let hidden: u64 = self
            .hidden
            .iter()
            .map(|linear| shared::linear_flops(linear, batch).0)
            .sum();
        hidden + shared::linear_flops(&self.output, batch).0
    }
}

impl super::DiscriminatorNet for MlpDiscriminator {
    /// Raw scores (with the class projection for `labels`) and the features they were computed
    /// from.
    fn scores_and_features(
        &self,
        samples: Tensor<4>,
        labels: Option<Tensor<1, Int>>,
    ) -> (Tensor<2>, Tensor<2>) {
        let features = self.features(samples);
        let head_input = if self.minibatch_stddev {
            let [rows, _] = features.dims();
            let std = features.clone().var_bias(0).add_scalar(1e-8).sqrt().mean();
            Tensor::cat(
                vec![features.clone(), std.reshape([1, 1]).repeat_dim(0, rows)],
                1,
            )
        } else {
            features.clone()
        };
        let unconditional = self.head.forward(head_input);
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

    /// The last hidden layer's output, `[batch / pack, width]`.
    fn features(&self, samples: Tensor<4>) -> Tensor<2> {
        self.hidden
            .iter()
            .fold(self.packed_rows(samples), |x, linear| {
                self.maxout(linear, x).0
            })
    }

    fn outputs_for(&self, samples: usize) -> usize {
        samples / self.pack
    }

    /// ∂(Σᵢ D(xᵢ, yᵢ))/∂x as differentiable operations (for the WGAN-GP penalty): back through the
    /// head, then each maxout layer (the gradient flows through the winning piece only; a tie,
    /// of probability zero, would count twice).
    ///
    /// # Panics
    /// With the minibatch standard deviation, which couples the samples of a batch.
    fn input_gradient(&self, samples: Tensor<4>, labels: Option<Tensor<1, Int>>) -> Tensor<4> {
        assert!(
            !self.minibatch_stddev,
            "the minibatch standard deviation couples the samples of a batch"
        );
        let dims = samples.dims();
        let mut x = self.packed_rows(samples);
        let mut traces = Vec::with_capacity(self.hidden.len());
        for linear in &self.hidden {
            let (out, trace) = self.maxout(linear, x);
            traces.push(trace);
            x = out;
        }
        let [rows, _] = x.dims();
        let mut grad = shared::head_input_gradient(
            self.head.weight.val(),
            self.class_projection.as_ref(),
            labels,
            rows,
        );
        for (linear, trace) in self.hidden.iter().zip(traces).rev() {
            let per_piece = grad.reshape([rows, self.width, 1]) * trace.winners;
            // Linear's weight is [in, out]: ∂/∂x = g · Wᵀ.
            grad = per_piece
                .reshape([rows, self.width * self.pieces])
                .matmul(linear.weight.val().transpose());
        }
        grad.reshape(dims)
    }

    /// Floating-point operations of one forward pass over samples of shape `samples`
    /// (`[batch, c, h, w]`; `batch / pack` packed rows): the dense layers' multiply-adds (every
    /// piece of a maxout unit), the head's and the class projection's, two each.
    fn forward_flops(&self, samples: [usize; 4]) -> u64 {
        let rows = samples[0] / self.pack;
        self.hidden_flops(rows)
            + shared::linear_flops(&self.head, rows).0
            + shared::class_projection_flops(self.class_projection.as_ref(), rows)
    }

    /// Floating-point operations of [`DiscriminatorNet::input_gradient`](super::DiscriminatorNet::input_gradient) on `samples`: the
    /// hidden layers forward, then each product again with the transposed weight; the head's
    /// gradient is its weight, no product.
    fn input_gradient_flops(&self, samples: [usize; 4]) -> u64 {
        2 * self.hidden_flops(samples[0] / self.pack)
    }
}
