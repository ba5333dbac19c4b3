//! What several model families share: the conditioning parts (label embedding, class projection
//! and its input gradient), "same" padding, the module visitors (finiteness, parameter values,
//! weight clipping, normal initialisation, materialisation, moving average) and the per-layer
//! FLOP counts the families' `forward_flops` add up.

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::nn::conv::{Conv2d, ConvTranspose2d};
use burn::nn::{Embedding, Linear, PaddingConfig2d};
use burn::prelude::{Int, Tensor, TensorData};
use burn::tensor::ops::ConvTransposeOptions;

/// Images `[batch, channels, from, from]` resized to `to × to` by the data loader's own resize
/// ([`crate::data::resize_weights`]), applied along each axis as a fixed matrix product: no
/// parameters, and differentiable, so G's gradient flows through it.
pub fn loader_resize(images: Tensor<4>, to: usize) -> Tensor<4> {
    let from = images.dims()[2];
    per_axis(images, crate::data::resize_weights(from, to), [to, from])
}

/// Square images `[batch, channels, from, from]` mapped to `[…, to, to]` by the row-major
/// `[to, from]` matrix `weights` along each axis: W·X·Wᵀ per channel.
fn per_axis(images: Tensor<4>, weights: Vec<f32>, [to, from]: [usize; 2]) -> Tensor<4> {
    let [batch, channels, height, width] = images.dims();
    assert_eq!(
        (height, width),
        (from, from),
        "square images of side {from}"
    );
    let weights = Tensor::<2>::from_data(TensorData::new(weights, [to, from]), &images.device())
        .cast(images.dtype())
        .transpose();
    // Along the width, then (after swapping the axes) along the height.
    let along_width = images
        .reshape([batch * channels * from, from])
        .matmul(weights.clone())
        .reshape([batch, channels, from, to])
        .swap_dims(2, 3);
    along_width
        .reshape([batch * channels * to, from])
        .matmul(weights)
        .reshape([batch, channels, to, to])
        .swap_dims(2, 3)
}

/// `x` `[b, c, h, w]` doubled in size, each value repeated over 2×2 (nearest up-sampling).
pub(crate) fn upsample_nearest(x: Tensor<4>) -> Tensor<4> {
    let [b, c, h, w] = x.dims();
    x.reshape([b, c, h, 1, w, 1])
        .repeat_dim(3, 2)
        .repeat_dim(5, 2)
        .reshape([b, c, 2 * h, 2 * w])
}

/// FLOPs of [`loader_resize`] on `[batch, channels, from, from]` images.
pub(crate) fn loader_resize_flops([batch, channels, from, _]: [usize; 4], to: usize) -> u64 {
    flops_of(batch * channels * (from * to * from + to * to * from))
}

/// Class-conditional BatchNorm's per-class part (de Vries et al. 2017; BigGAN): normalised
/// `x` scaled by 1 + its label's gain and shifted by its label's bias, one value per channel.
pub(crate) fn class_gain_and_bias(
    x: Tensor<4>,
    gain: &Embedding,
    bias: &Embedding,
    labels: &Tensor<1, Int>,
) -> Tensor<4> {
    let [b, c, _, _] = x.dims();
    let per_class = |e: &Embedding| {
        e.forward(labels.clone().reshape([b, 1]))
            .reshape([b, c, 1, 1])
    };
    x * per_class(gain).add_scalar(1.0) + per_class(bias)
}

/// Noise `[batch, latent]` joined with the learned embedding of each label when the generator is
/// conditional.
///
/// # Panics
/// When labels are given without an embedding or missing with one.
pub(crate) fn join_label_embedding(
    noise: Tensor<2>,
    embedding: Option<&Embedding>,
    labels: Option<Tensor<1, Int>>,
) -> Tensor<2> {
    match (embedding, labels) {
        (Some(embedding), Some(labels)) => {
            let [batch, _] = noise.dims();
            let [_, d] = embedding.weight.dims();
            let embedded = embedding
                .forward(labels.reshape([batch, 1]))
                .reshape([batch, d]);
            Tensor::cat(vec![noise, embedded], 1)
        }
        (None, None) => noise,
        (Some(_), None) => panic!("a conditional generator needs labels"),
        (None, Some(_)) => panic!("an unconditional generator takes no labels"),
    }
}

/// ∂D/∂φ for each of `rows` feature vectors φ of a (projection) discriminator whose output is
/// w·φ + b (+ e_y·φ): the head's weight `[features, 1]` (as the forward pass uses it), plus the
/// label's embedding when conditional.
///
/// # Panics
/// When labels are given without a projection or missing with one.
pub(crate) fn head_input_gradient(
    head_weight: Tensor<2>,
    projection: Option<&Embedding>,
    labels: Option<Tensor<1, Int>>,
    rows: usize,
) -> Tensor<2> {
    let [features, _] = head_weight.dims();
    let grad = head_weight.reshape([1, features]).repeat_dim(0, rows);
    match (projection, labels) {
        (Some(embedding), Some(labels)) => {
            grad + embedding
                .forward(labels.reshape([rows, 1]))
                .reshape([rows, features])
        }
        (None, None) => grad,
        _ => panic!("labels must be given exactly to a conditional discriminator"),
    }
}

/// A projection discriminator's output (Miyato & Koyama 2018): the unconditional score plus the
/// inner product of the features with the label's embedding.
///
/// # Panics
/// When labels are given without a projection or missing with one.
pub(crate) fn add_class_projection(
    unconditional: Tensor<2>,
    features: Tensor<2>,
    projection: Option<&Embedding>,
    labels: Option<Tensor<1, Int>>,
) -> Tensor<2> {
    match (projection, labels) {
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

/// A projection discriminator's class logits: the pooled features' inner product with every
/// class embedding, `[batch, classes]` (its score for label y is the unconditional head plus
/// column y). `None` without a projection.
pub(crate) fn class_logits(
    features: Tensor<2>,
    projection: Option<&Embedding>,
) -> Option<Tensor<2>> {
    projection.map(|embedding| features.matmul(embedding.weight.val().transpose()))
}

/// The gradient with respect to a convolution's input (of spatial size `input`) of a function
/// whose gradient with respect to the convolution's output is `g`: the transposed convolution
/// with the same weights (`weight`, the kernel the forward pass used: spectrally normalised
/// where the layer is), which is differentiable in them.
pub(crate) fn conv_input_gradient(
    conv: &Conv2d,
    weight: Tensor<4>,
    g: Tensor<4>,
    input: [usize; 2],
) -> Tensor<4> {
    let [_, _, k, _] = weight.dims();
    let [_, _, out_h, out_w] = g.dims();
    let stride = conv.stride;
    let pad = same_padding(k);
    // The rows and columns the strided convolution skipped at the far edge.
    let extra = |input: usize, out: usize, s: usize| input + 2 * pad - ((out - 1) * s + k);
    let options = ConvTransposeOptions::new(
        stride,
        [pad, pad],
        [
            extra(input[0], out_h, stride[0]),
            extra(input[1], out_w, stride[1]),
        ],
        [1, 1],
        1,
    );
    crate::kernels::conv_transpose2d(g, weight, None, options)
}

/// Images `[batch, c, h, w]` as a packed D's input (PacGAN): `pack` consecutive images joined
/// along the channels, `[batch / pack, pack·c, h, w]`.
///
/// # Panics
/// When the batch is not a multiple of `pack` (the configuration rules that out).
pub(crate) fn pack_images(images: Tensor<4>, pack: usize) -> Tensor<4> {
    if pack == 1 {
        return images;
    }
    let [b, c, h, w] = images.dims();
    assert!(b % pack == 0, "a batch of {b} cannot be packed by {pack}");
    images.reshape([b / pack, pack * c, h, w])
}

/// `x · weight + bias` for a dense layer whose weight `[inputs, outputs]` is given (the layer's
/// own, or its spectrally normalised form).
pub(crate) fn dense_with_weight(layer: &Linear, weight: Tensor<2>, x: Tensor<2>) -> Tensor<2> {
    let out = x.matmul(weight);
    match &layer.bias {
        Some(bias) => out + bias.val().unsqueeze(),
        None => out,
    }
}

/// The gradient with respect to maps `[groups, features, h, w]` of a global pool for a gradient
/// `grad` `[groups, features]` with respect to the pooled features: every position gets the
/// feature's gradient times `scale` (1 for a sum pool, 1/(h·w) for a mean).
pub(crate) fn spread_over_positions(grad: Tensor<2>, [h, w]: [usize; 2], scale: f64) -> Tensor<4> {
    let [groups, features] = grad.dims();
    grad.reshape([groups, features, 1, 1])
        .repeat_dim(2, h)
        .repeat_dim(3, w)
        .mul_scalar(scale)
}

/// Padding that keeps a stride-1 convolution's size and halves it at stride 2, with the kernel
/// centred ("same" in Keras). Explicit symmetric padding of `(k - 1) / 2` gives exactly that for
/// odd kernels (it is `k / 2` there, and matches the PyTorch reference layer for layer), and for
/// an even kernel at stride 2, PyTorch DCGAN's 4×4 with padding 1, it halves the side exactly.
pub(crate) fn same_padding(filter: usize) -> usize {
    filter.saturating_sub(1) / 2
}

/// The output padding that makes a stride-2 transposed convolution of kernel `filter` with
/// [`same_padding`] exactly double its input: `2n = 2(n − 1) − 2p + k + o`, so `o = 2 + 2p − k`
/// (1 for odd kernels, as Keras' "same" does; 0 for even ones).
pub(crate) fn doubling_output_padding(filter: usize) -> usize {
    2 + 2 * same_padding(filter) - filter
}

/// The values of one parameter or running statistic of a module.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamValues {
    pub id: u64,
    /// True for weights the optimizer trains; false for buffers such as BatchNorm's running
    /// mean and variance.
    pub trainable: bool,
    pub shape: Vec<usize>,
    pub values: Vec<f32>,
}

/// True when every weight and buffer of `module` is finite (no NaN, no infinity).
pub fn all_finite<M: Module>(module: &M) -> bool {
    struct Finite(bool);
    impl ModuleVisitor for Finite {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            // A NaN or an infinity anywhere makes the sum non-finite.
            if self.0 {
                self.0 = param.val().sum().into_scalar::<f32>().is_finite();
            }
        }
    }
    let mut check = Finite(true);
    module.visit(&mut check);
    check.0
}

/// Every float parameter and buffer of `module`, in visiting order.
pub fn parameter_values<M: Module>(module: &M) -> Vec<ParamValues> {
    struct Collect(Vec<ParamValues>);
    impl ModuleVisitor for Collect {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let tensor = param.val();
            self.0.push(ParamValues {
                id: param.id.val(),
                trainable: tensor.is_require_grad(),
                shape: tensor.dims().to_vec(),
                values: crate::tensor_values(tensor),
            });
        }
    }
    let mut collect = Collect(Vec::new());
    module.visit(&mut collect);
    collect.0
}

/// `module` with every trainable weight clamped to [-c, c] (WGAN's weight clipping). Buffers such
/// as BatchNorm's running statistics are left as they are.
pub fn clip_weights<M: Module>(module: M, c: f64) -> M {
    struct Clip(f64);
    impl ModuleMapper for Clip {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            let c = self.0;
            param.map(|t| {
                if t.is_require_grad() {
                    // Clamped outside autodiff, then a fresh leaf again: the clamp must not become
                    // part of the next step's graph.
                    Tensor::from_inner(t.inner().clamp(-c, c)).require_grad()
                } else {
                    t
                }
            })
        }
    }
    module.map(&mut Clip(c))
}

/// `module` with every trainable weight matrix or kernel (rank ≥ 2) redrawn from N(0, std²):
/// WGAN's small initial weights. Biases and normalisation parameters keep their initial values.
/// Draws from the device's RNG; call it where the initial weights are drawn.
pub fn normal_init<M: Module>(module: M, std: f64) -> M {
    struct Normal(f64);
    impl ModuleMapper for Normal {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            let std = self.0;
            param.map(|t| {
                if D >= 2 && t.is_require_grad() {
                    Tensor::<D>::random(
                        t.shape(),
                        burn::tensor::Distribution::Normal(0.0, std),
                        &t.device(),
                    )
                    .require_grad()
                } else {
                    t
                }
            })
        }
    }
    module.map(&mut Normal(std))
}

/// Draws every lazily initialised parameter of `module` now. burn initialises a parameter at
/// its first use; forcing it here lets the caller decide under which RNG state that happens.
pub fn materialize_parameters<M: Module>(module: &M) {
    struct Touch;
    impl ModuleVisitor for Touch {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let _ = param.val();
        }
    }
    module.visit(&mut Touch);
}

/// `average` moved towards `current` (the same model, matched by parameter id):
/// `decay · average + (1 − decay) · current` for trainable weights; buffers such as running
/// statistics are copied from `current`. `average` lives on an inference device; `current` is the
/// model in training (its tensors say which weights are trainable).
pub fn moving_average<M: Module>(average: M, current: &M, decay: f64) -> M {
    use std::collections::HashMap;
    struct Collect(HashMap<u64, (Tensor<1>, bool)>);
    impl ModuleVisitor for Collect {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let t = param.val();
            let trainable = t.is_require_grad();
            let n = t.shape().num_elements();
            let flat = t.without_autodiff().reshape([n]);
            self.0.insert(param.id.val(), (flat, trainable));
        }
    }
    struct Blend(HashMap<u64, (Tensor<1>, bool)>, f64);
    impl ModuleMapper for Blend {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            let Some((value, trainable)) = self.0.remove(&param.id.val()) else {
                return param;
            };
            let decay = self.1;
            param.map(|avg| {
                let value = value.reshape(avg.shape());
                if trainable {
                    avg.mul_scalar(decay) + value.mul_scalar(1.0 - decay)
                } else {
                    value
                }
            })
        }
    }
    let mut collect = Collect(HashMap::new());
    current.visit(&mut collect);
    average.map(&mut Blend(collect.0, decay))
}

// FLOP counts. The speed figures' convention: a multiply-add is two floating-point operations,
// and only the multiply-adds of convolutions, dense layers and inner products count; biases,
// normalisation, activations, pooling and reshapes are left out (they are a few percent of a
// convolutional network's work and depend on how a backend fuses them).

/// FLOPs of `multiply_adds` multiply-adds.
pub(crate) fn flops_of(multiply_adds: usize) -> u64 {
    2 * multiply_adds as u64
}

/// Output side of a convolution with this kernel, stride, dilation and padding before and after.
fn conv_output_side(
    input: usize,
    kernel: usize,
    stride: usize,
    dilation: usize,
    pad: (usize, usize),
) -> usize {
    let span = dilation * (kernel - 1) + 1;
    (input + pad.0 + pad.1).saturating_sub(span) / stride + 1
}

/// FLOPs of `conv` on an input `[batch, channels, h, w]`, and the shape of its output: every
/// output value is a dot product of `channels / groups × kh × kw` inputs with the kernel.
pub(crate) fn conv2d_flops(conv: &Conv2d, input: [usize; 4]) -> (u64, [usize; 4]) {
    let [batch, channels, h, w] = input;
    let [c_out, c_in_per_group, kh, kw] = conv.weight.lazy_shape().dims::<4>();
    assert_eq!(
        c_in_per_group * conv.groups,
        channels,
        "the convolution takes {} channels, the input has {channels}",
        c_in_per_group * conv.groups
    );
    let side = |i: usize, input: usize, pad: (usize, usize)| {
        conv_output_side(input, [kh, kw][i], conv.stride[i], conv.dilation[i], pad)
    };
    let [out_h, out_w] = match conv.padding {
        // Keras' "same": ceil(input / stride) whatever the kernel.
        PaddingConfig2d::Same => [h.div_ceil(conv.stride[0]), w.div_ceil(conv.stride[1])],
        PaddingConfig2d::Valid => [side(0, h, (0, 0)), side(1, w, (0, 0))],
        PaddingConfig2d::Explicit(top, left, bottom, right) => {
            [side(0, h, (top, bottom)), side(1, w, (left, right))]
        }
    };
    let multiply_adds = batch * c_out * out_h * out_w * c_in_per_group * kh * kw;
    (flops_of(multiply_adds), [batch, c_out, out_h, out_w])
}

/// FLOPs of the transposed convolution `conv` on an input `[batch, channels, h, w]`, and the
/// shape of its output: every input value meets every kernel tap of its output channels (the
/// zero-stuffed positions of a strided transposed convolution are not counted).
pub(crate) fn conv_transpose2d_flops(
    conv: &ConvTranspose2d,
    input: [usize; 4],
) -> (u64, [usize; 4]) {
    let [batch, channels, h, w] = input;
    let [c_in, c_out_per_group, kh, kw] = conv.weight.lazy_shape().dims::<4>();
    assert_eq!(
        c_in, channels,
        "the transposed convolution takes {c_in} channels, the input has {channels}"
    );
    let side = |i: usize, input: usize| {
        ((input - 1) * conv.stride[i]
            + conv.dilation[i] * ([kh, kw][i] - 1)
            + 1
            + conv.padding_out[i])
            .saturating_sub(2 * conv.padding[i])
    };
    let multiply_adds = batch * c_in * h * w * c_out_per_group * kh * kw;
    (
        flops_of(multiply_adds),
        [batch, c_out_per_group * conv.groups, side(0, h), side(1, w)],
    )
}

/// FLOPs of `linear` on `rows` input rows, and its output width.
pub(crate) fn linear_flops(linear: &Linear, rows: usize) -> (u64, usize) {
    let [inputs, outputs] = linear.weight.lazy_shape().dims::<2>();
    (flops_of(rows * inputs * outputs), outputs)
}

/// FLOPs of a chain of D's blocks on `samples` (`[batch, c, h, w]`, before packing by `pack`),
/// each block's count and output shape from `block_flops`, and the last shape.
pub(crate) fn chain_flops<B>(
    blocks: &[B],
    samples: [usize; 4],
    pack: usize,
    block_flops: impl Fn(&B, [usize; 4]) -> (u64, [usize; 4]),
) -> (u64, [usize; 4]) {
    let [b, c, h, w] = samples;
    blocks
        .iter()
        .fold((0, [b / pack, pack * c, h, w]), |(total, shape), block| {
            let (flops, out) = block_flops(block, shape);
            (total + flops, out)
        })
}

/// FLOPs of a D's dense head and class projection on `groups` feature rows.
pub(crate) fn head_flops(head: &Linear, projection: Option<&Embedding>, groups: usize) -> u64 {
    linear_flops(head, groups).0 + class_projection_flops(projection, groups)
}

/// FLOPs of a class projection on `rows` feature rows (one inner product each), 0 without one.
pub(crate) fn class_projection_flops(projection: Option<&Embedding>, rows: usize) -> u64 {
    projection.map_or(0, |embedding| {
        let [_, features] = embedding.weight.lazy_shape().dims::<2>();
        flops_of(rows * features)
    })
}
