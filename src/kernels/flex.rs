//! The GEMM convolutions registered on burn's flex backend through its backend-extension
//! mechanism, with handwritten backward passes for the autodiff decorator.

use burn::backend::TensorMetadata;
use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, AutodiffBackend, Backend, Flex, backend_extension};
use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};
use burn::tensor::{Shape, TensorData};

use super::activation;
use super::batch_norm::{self, BatchStats, NormParams};
use super::direct_conv;
use super::gemm_conv::{self, Geometry};
use super::group_norm::{self, GroupLayout, GroupStats};
use super::translate;

/// The project's kernels. Convolutions computed as im2col + GEMM (see [`gemm_conv`]) support
/// only dilation 1 and one group; [`super::conv2d`] routes anything else to burn's own kernels.
#[backend_extension(Flex, Autodiff)]
pub trait KernelBackend: Backend {
    /// `x [n, c_in, h, w]`, `weight [c_out, c_in, kh, kw]`, `bias [c_out]`.
    fn gemm_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self>;

    /// `x [n, c_in, h, w]`, `weight [c_in, c_out, kh, kw]`, `bias [c_out]`.
    fn gemm_conv_transpose2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        options: ConvTransposeOptions<2>,
    ) -> FloatTensor<Self>;

    /// `tanh` of every element (see [`activation`]).
    fn fast_tanh(x: FloatTensor<Self>) -> FloatTensor<Self>;

    /// LeakyReLU(`slope`) of every element, `slope ≥ 0` (see [`activation`]).
    fn fast_leaky(x: FloatTensor<Self>, slope: f64) -> FloatTensor<Self>;

    /// Every image `n` of `x [n, c, h, w]` moved by whole pixels, `shifts[n] = (dy, dx)`, zeros
    /// where the source lies outside (see [`translate`](super::translate)).
    fn fast_translate(x: FloatTensor<Self>, shifts: Vec<(i64, i64)>) -> FloatTensor<Self>;

    /// Training-mode batch norm then LeakyReLU(`slope`) over `x [n, c, h, w]` (see
    /// [`batch_norm`]): the output, the batch mean and the biased batch variance.
    fn fused_batch_norm(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
        slope: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);

    /// Group norm in `groups` groups then LeakyReLU(`slope`) over `x [n, c, h, w]` (see
    /// [`group_norm`]); `gamma` and `beta` per channel.
    fn fused_group_norm(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        groups: usize,
        epsilon: f64,
        slope: f64,
    ) -> FloatTensor<Self>;
}

/// The tensor's values, contiguous (copied only when they are not already).
fn values(t: &FlexTensor) -> std::borrow::Cow<'_, [f32]> {
    match t.as_slice::<f32>() {
        Some(v) => std::borrow::Cow::Borrowed(v),
        None => std::borrow::Cow::Owned(t.to_contiguous().as_slice::<f32>().map_or_else(
            || {
                panic!(
                    "GEMM convolution on {:?} values: only f32 is routed here",
                    t.dtype()
                )
            },
            <[f32]>::to_vec,
        )),
    }
}

fn tensor(values: Vec<f32>, shape: impl Into<Shape>) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape.into()))
}

fn dims4(t: &FlexTensor) -> [usize; 4] {
    let shape = t.shape();
    [shape[0], shape[1], shape[2], shape[3]]
}

/// A convolution's geometry: the image side is its input.
fn conv_geometry(x: [usize; 4], weight: [usize; 4], options: &ConvOptions<2>) -> Geometry {
    let [_, channels, h, w] = x;
    let [_, _, kh, kw] = weight;
    let out = |size: usize, k: usize, (begin, end): (usize, usize), stride: usize| {
        (size + begin + end).saturating_sub(k) / stride + 1
    };
    Geometry {
        channels,
        size: [h, w],
        kernel: [kh, kw],
        stride: options.stride,
        pad: options.padding_begin(),
        windows: [
            out(h, kh, options.padding[0], options.stride[0]),
            out(w, kw, options.padding[1], options.stride[1]),
        ],
    }
}

/// A transposed convolution's geometry: the image side is its output.
fn transpose_geometry(
    x: [usize; 4],
    weight: [usize; 4],
    options: &ConvTransposeOptions<2>,
) -> Geometry {
    let [_, _, h, w] = x;
    let [_, c_out, kh, kw] = weight;
    let out = |size: usize, k: usize, i: usize| {
        ((size - 1) * options.stride[i] + k + options.padding_out[i])
            .saturating_sub(2 * options.padding[i])
    };
    Geometry {
        channels: c_out,
        size: [out(h, kh, 0), out(w, kw, 1)],
        kernel: [kh, kw],
        stride: options.stride,
        pad: options.padding,
        windows: [h, w],
    }
}

fn conv_forward(
    x: &FlexTensor,
    weight: &FlexTensor,
    bias: &FlexTensor,
    options: &ConvOptions<2>,
) -> FlexTensor {
    let [n, _, _, _] = dims4(x);
    let w = dims4(weight);
    let g = conv_geometry(dims4(x), w, options);
    let y = direct_conv::correlate(&values(x), &g, &values(weight), w[0], Some(&values(bias)));
    tensor(y, [n, w[0], g.windows[0], g.windows[1]])
}

fn transpose_forward(
    x: &FlexTensor,
    weight: &FlexTensor,
    bias: &FlexTensor,
    options: &ConvTransposeOptions<2>,
) -> FlexTensor {
    let [n, _, _, _] = dims4(x);
    let w = dims4(weight);
    let g = transpose_geometry(dims4(x), w, options);
    let y = direct_conv::scatter(&values(x), &g, &values(weight), w[0], Some(&values(bias)));
    tensor(y, [n, g.channels, g.size[0], g.size[1]])
}

fn bias_gradient(grad: &[f32], shape: [usize; 4]) -> FlexTensor {
    let [_, c, h, w] = shape;
    tensor(gemm_conv::channel_sums(grad, c, h * w), [c])
}

fn tanh_forward(x: &FlexTensor) -> FlexTensor {
    tensor(activation::tanh(&values(x)), x.shape())
}

fn leaky_forward(x: &FlexTensor, slope: f64) -> FlexTensor {
    tensor(activation::leaky(&values(x), slope as f32), x.shape())
}

fn translate_forward(x: &FlexTensor, shifts: &[(i64, i64)]) -> FlexTensor {
    tensor(
        translate::translate(&values(x), dims4(x), shifts),
        x.shape(),
    )
}

impl KernelBackend for Flex {
    fn fast_tanh(x: FlexTensor) -> FlexTensor {
        tanh_forward(&x)
    }

    fn fast_leaky(x: FlexTensor, slope: f64) -> FlexTensor {
        leaky_forward(&x, slope)
    }

    fn fast_translate(x: FlexTensor, shifts: Vec<(i64, i64)>) -> FlexTensor {
        translate_forward(&x, &shifts)
    }

    fn gemm_conv2d(
        x: FlexTensor,
        weight: FlexTensor,
        bias: FlexTensor,
        options: ConvOptions<2>,
    ) -> FlexTensor {
        conv_forward(&x, &weight, &bias, &options)
    }

    fn gemm_conv_transpose2d(
        x: FlexTensor,
        weight: FlexTensor,
        bias: FlexTensor,
        options: ConvTransposeOptions<2>,
    ) -> FlexTensor {
        transpose_forward(&x, &weight, &bias, &options)
    }

    fn fused_batch_norm(
        x: FlexTensor,
        gamma: FlexTensor,
        beta: FlexTensor,
        epsilon: f64,
        slope: f64,
    ) -> (FlexTensor, FlexTensor, FlexTensor) {
        let (y, stats) = norm_forward(&x, &gamma, &beta, epsilon, slope);
        let channels = stats.mean.len();
        (
            y,
            tensor(stats.mean, [channels]),
            tensor(stats.variance, [channels]),
        )
    }

    fn fused_group_norm(
        x: FlexTensor,
        gamma: FlexTensor,
        beta: FlexTensor,
        groups: usize,
        epsilon: f64,
        slope: f64,
    ) -> FlexTensor {
        group_norm_forward(&x, &gamma, &beta, groups, epsilon, slope).0
    }
}

fn group_layout(x: &FlexTensor, groups: usize) -> GroupLayout {
    let [batch, channels, h, w] = dims4(x);
    GroupLayout {
        batch,
        channels,
        groups,
        plane: h * w,
    }
}

fn group_norm_forward(
    x: &FlexTensor,
    gamma: &FlexTensor,
    beta: &FlexTensor,
    groups: usize,
    epsilon: f64,
    slope: f64,
) -> (FlexTensor, GroupStats) {
    let (y, stats) = with_norm_params(gamma, beta, epsilon, slope, |params| {
        group_norm::forward(&values(x), group_layout(x, groups), params)
    });
    (tensor(y, dims4(x)), stats)
}

/// `f` given a normalisation's parameters read from its tensors.
fn with_norm_params<R>(
    gamma: &FlexTensor,
    beta: &FlexTensor,
    epsilon: f64,
    slope: f64,
    f: impl FnOnce(&NormParams) -> R,
) -> R {
    let (gamma, beta) = (values(gamma), values(beta));
    f(&NormParams {
        gamma: &gamma,
        beta: &beta,
        epsilon,
        slope: slope as f32,
    })
}

fn norm_layout(x: &FlexTensor) -> batch_norm::Layout {
    let [batch, channels, h, w] = dims4(x);
    batch_norm::Layout {
        batch,
        channels,
        plane: h * w,
    }
}

fn norm_forward(
    x: &FlexTensor,
    gamma: &FlexTensor,
    beta: &FlexTensor,
    epsilon: f64,
    slope: f64,
) -> (FlexTensor, BatchStats) {
    let (y, stats) = with_norm_params(gamma, beta, epsilon, slope, |params| {
        batch_norm::forward(&values(x), norm_layout(x), params)
    });
    (tensor(y, dims4(x)), stats)
}

#[derive(Debug)]
struct TanhBackward;

impl Backward<Flex, 1> for TanhBackward {
    /// The output.
    type State = FlexTensor;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x] = ops.parents;
        let grad = grads.consume::<Flex>(&ops.node);
        if let Some(node) = node_x {
            let y = ops.state;
            let dx = activation::tanh_backward(&values(&y), &values(&grad));
            grads.register::<Flex>(node.id, tensor(dx, y.shape()));
        }
    }
}

#[derive(Debug)]
struct LeakyBackward;

impl Backward<Flex, 1> for LeakyBackward {
    /// The output and the slope.
    type State = (FlexTensor, f64);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x] = ops.parents;
        let grad = grads.consume::<Flex>(&ops.node);
        if let Some(node) = node_x {
            let (y, slope) = ops.state;
            let dx = activation::leaky_backward(&values(&y), &values(&grad), slope as f32);
            grads.register::<Flex>(node.id, tensor(dx, y.shape()));
        }
    }
}

#[derive(Debug)]
struct TranslateBackward;

impl Backward<Flex, 1> for TranslateBackward {
    /// Each image's shift.
    type State = Vec<(i64, i64)>;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x] = ops.parents;
        let grad = grads.consume::<Flex>(&ops.node);
        if let Some(node) = node_x {
            // The adjoint of a translation is the opposite one.
            let dx = translate_forward(&grad, &translate::opposite(&ops.state));
            grads.register::<Flex>(node.id, dx);
        }
    }
}

#[derive(Debug)]
struct BatchNormBackward;

impl Backward<Flex, 3> for BatchNormBackward {
    /// The input, gamma, beta, the batch statistics, epsilon and the slope.
    type State = (FlexTensor, FlexTensor, FlexTensor, BatchStats, f64, f64);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let parents = ops.parents.map(|node| node.map(|node| node.id));
        let grad = grads.consume::<Flex>(&ops.node);
        let (x, gamma, beta, stats, epsilon, slope) = ops.state;
        let (dx, d_gamma, d_beta) = with_norm_params(&gamma, &beta, epsilon, slope, |params| {
            batch_norm::backward(&values(&x), &values(&grad), norm_layout(&x), params, &stats)
        });
        register_norm_gradients(grads, parents, dims4(&x), dx, d_gamma, d_beta);
    }
}

/// Hands a normalisation's gradients (input, gamma, beta) to the parents that track them.
fn register_norm_gradients(
    grads: &mut Gradients,
    [node_x, node_gamma, node_beta]: [Option<NodeId>; 3],
    shape: [usize; 4],
    dx: Vec<f32>,
    d_gamma: Vec<f32>,
    d_beta: Vec<f32>,
) {
    let channels = d_gamma.len();
    if let Some(id) = node_x {
        grads.register::<Flex>(id, tensor(dx, shape));
    }
    if let Some(id) = node_gamma {
        grads.register::<Flex>(id, tensor(d_gamma, [channels]));
    }
    if let Some(id) = node_beta {
        grads.register::<Flex>(id, tensor(d_beta, [channels]));
    }
}

#[derive(Debug)]
struct GroupNormBackward;

impl Backward<Flex, 3> for GroupNormBackward {
    /// The input, gamma, beta, the statistics, the groups, epsilon and the slope.
    type State = (
        FlexTensor,
        FlexTensor,
        FlexTensor,
        GroupStats,
        usize,
        f64,
        f64,
    );

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let parents = ops.parents.map(|node| node.map(|node| node.id));
        let grad = grads.consume::<Flex>(&ops.node);
        let (x, gamma, beta, stats, groups, epsilon, slope) = ops.state;
        let (dx, d_gamma, d_beta) = with_norm_params(&gamma, &beta, epsilon, slope, |params| {
            let layout = group_layout(&x, groups);
            group_norm::backward(&values(&x), &values(&grad), layout, params, &stats)
        });
        register_norm_gradients(grads, parents, dims4(&x), dx, d_gamma, d_beta);
    }
}

/// Whether a convolution's input gradient costs less as [`flipped_correlation`] than as a
/// scatter: at stride 1, when it has fewer output than input channels (G's last layer, 16 → 3:
/// columns of 75 rows instead of 400).
fn flipped_correlation_is_smaller(g: &Geometry, weight: [usize; 4]) -> bool {
    let [c_out, c_in, kh, kw] = weight;
    g.stride == [1, 1] && c_out < c_in && g.pad[0] < kh && g.pad[1] < kw
}

/// A stride-1 convolution's input gradient as a correlation of the output gradient with the
/// kernels flipped and their channel axes swapped: `dx[ci] = Σ_co grad[co] ⋆ flip(w[co, ci])`,
/// with `k − 1 − pad` padding before. Same values as the scatter; its im2col columns have
/// `c_out·k²` rows where the scatter's have `c_in·k²`.
fn flipped_correlation(
    grad: &[f32],
    grad_shape: [usize; 4],
    weight: &[f32],
    [c_out, c_in, kh, kw]: [usize; 4],
    g: &Geometry,
) -> Vec<f32> {
    let mut flipped = vec![0.0; weight.len()];
    for o in 0..c_out {
        for i in 0..c_in {
            for a in 0..kh {
                for b in 0..kw {
                    flipped[((i * c_out + o) * kh + kh - 1 - a) * kw + kw - 1 - b] =
                        weight[((o * c_in + i) * kh + a) * kw + b];
                }
            }
        }
    }
    let gradient_side = Geometry {
        channels: c_out,
        size: [grad_shape[2], grad_shape[3]],
        kernel: [kh, kw],
        stride: [1, 1],
        pad: [kh - 1 - g.pad[0], kw - 1 - g.pad[1]],
        windows: g.size,
    };
    gemm_conv::correlate(grad, &gradient_side, &flipped, c_in, None)
}

#[derive(Debug)]
struct ConvBackward;

impl Backward<Flex, 3> for ConvBackward {
    type State = (FlexTensor, FlexTensor, ConvOptions<2>);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x, node_weight, node_bias] = ops.parents;
        let grad = grads.consume::<Flex>(&ops.node);
        let (x, weight, options) = ops.state;
        let w = dims4(&weight);
        let x_shape = dims4(&x);
        let g = conv_geometry(x_shape, w, &options);
        let grad_shape = dims4(&grad);
        let grad = values(&grad);
        if let Some(node) = node_x {
            let dx = if !direct_conv::scatters_in_place(&g, w[0])
                && flipped_correlation_is_smaller(&g, w)
            {
                flipped_correlation(&grad, grad_shape, &values(&weight), w, &g)
            } else {
                direct_conv::scatter(&grad, &g, &values(&weight), w[0], None)
            };
            grads.register::<Flex>(node.id, tensor(dx, x_shape));
        }
        if let Some(node) = node_weight {
            let dw = direct_conv::weight_gradient(&values(&x), &grad, &g, w[0]);
            grads.register::<Flex>(node.id, tensor(dw, w));
        }
        if let Some(node) = node_bias {
            grads.register::<Flex>(node.id, bias_gradient(&grad, grad_shape));
        }
    }
}

#[derive(Debug)]
struct ConvTransposeBackward;

impl Backward<Flex, 3> for ConvTransposeBackward {
    type State = (FlexTensor, FlexTensor, ConvTransposeOptions<2>);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x, node_weight, node_bias] = ops.parents;
        let grad = grads.consume::<Flex>(&ops.node);
        let (x, weight, options) = ops.state;
        let w = dims4(&weight);
        let x_shape = dims4(&x);
        let g = transpose_geometry(x_shape, w, &options);
        let grad_shape = dims4(&grad);
        let grad = values(&grad);
        if let Some(node) = node_x {
            let dx = direct_conv::correlate(&grad, &g, &values(&weight), w[0], None);
            grads.register::<Flex>(node.id, tensor(dx, x_shape));
        }
        if let Some(node) = node_weight {
            let dw = direct_conv::weight_gradient(&grad, &values(&x), &g, w[0]);
            grads.register::<Flex>(node.id, tensor(dw, w));
        }
        if let Some(node) = node_bias {
            grads.register::<Flex>(node.id, bias_gradient(&grad, grad_shape));
        }
    }
}

/// A convolution or transposed convolution under autodiff: the forward pass on the inner
/// tensors, and the input and weights kept for `backward` when the graph tracks it.
fn tracked_convolution<C: CheckpointStrategy, O: Clone + Send + std::fmt::Debug + 'static>(
    backward: impl Backward<Flex, 3, State = (FlexTensor, FlexTensor, O)>,
    [x, weight, bias]: [FloatTensor<Autodiff<Flex, C>>; 3],
    options: O,
    forward: fn(&FlexTensor, &FlexTensor, &FlexTensor, &O) -> FlexTensor,
) -> FloatTensor<Autodiff<Flex, C>> {
    let prep = backward
        .prepare::<C>([x.node(), weight.node(), bias.node()])
        .compute_bound()
        .stateful();
    let output = forward(
        x.primitive(),
        weight.primitive(),
        bias.primitive(),
        &options,
    );
    match prep {
        OpsKind::Tracked(prep) => prep.finish(
            (x.into_primitive(), weight.into_primitive(), options),
            output,
        ),
        OpsKind::UnTracked(prep) => prep.finish(output),
    }
}

impl<C: CheckpointStrategy> KernelBackend for Autodiff<Flex, C> {
    fn fast_tanh(x: FloatTensor<Self>) -> FloatTensor<Self> {
        // Compute-bound in the checkpointer's sense: the state kept is the output itself.
        let prep = TanhBackward
            .prepare::<C>([x.node()])
            .compute_bound()
            .stateful();
        let output = tanh_forward(x.primitive());
        match prep {
            OpsKind::Tracked(prep) => prep.finish(output.clone(), output),
            OpsKind::UnTracked(prep) => prep.finish(output),
        }
    }

    fn fast_translate(x: FloatTensor<Self>, shifts: Vec<(i64, i64)>) -> FloatTensor<Self> {
        // The backward pass needs only the shifts.
        let prep = TranslateBackward
            .prepare::<C>([x.node()])
            .compute_bound()
            .stateful();
        let output = translate_forward(x.primitive(), &shifts);
        match prep {
            OpsKind::Tracked(prep) => prep.finish(shifts, output),
            OpsKind::UnTracked(prep) => prep.finish(output),
        }
    }

    fn fast_leaky(x: FloatTensor<Self>, slope: f64) -> FloatTensor<Self> {
        // As tanh: the backward pass needs only the output (positive where the input is).
        let prep = LeakyBackward
            .prepare::<C>([x.node()])
            .compute_bound()
            .stateful();
        let output = leaky_forward(x.primitive(), slope);
        match prep {
            OpsKind::Tracked(prep) => prep.finish((output.clone(), slope), output),
            OpsKind::UnTracked(prep) => prep.finish(output),
        }
    }

    fn gemm_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        tracked_convolution::<C, _>(ConvBackward, [x, weight, bias], options, conv_forward)
    }

    fn gemm_conv_transpose2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        options: ConvTransposeOptions<2>,
    ) -> FloatTensor<Self> {
        tracked_convolution::<C, _>(
            ConvTransposeBackward,
            [x, weight, bias],
            options,
            transpose_forward,
        )
    }

    fn fused_batch_norm(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
        slope: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let prep = BatchNormBackward
            .prepare::<C>([x.node(), gamma.node(), beta.node()])
            .compute_bound()
            .stateful();
        let (y, stats) = norm_forward(
            x.primitive(),
            gamma.primitive(),
            beta.primitive(),
            epsilon,
            slope,
        );
        let channels = stats.mean.len();
        // The statistics feed the running averages only: constants to the graph.
        let mean = Self::from_inner(tensor(stats.mean.clone(), [channels]));
        let variance = Self::from_inner(tensor(stats.variance.clone(), [channels]));
        let y = match prep {
            OpsKind::Tracked(prep) => prep.finish(
                (
                    x.into_primitive(),
                    gamma.into_primitive(),
                    beta.into_primitive(),
                    stats,
                    epsilon,
                    slope,
                ),
                y,
            ),
            OpsKind::UnTracked(prep) => prep.finish(y),
        };
        (y, mean, variance)
    }

    fn fused_group_norm(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        groups: usize,
        epsilon: f64,
        slope: f64,
    ) -> FloatTensor<Self> {
        let prep = GroupNormBackward
            .prepare::<C>([x.node(), gamma.node(), beta.node()])
            .compute_bound()
            .stateful();
        let (y, stats) = group_norm_forward(
            x.primitive(),
            gamma.primitive(),
            beta.primitive(),
            groups,
            epsilon,
            slope,
        );
        match prep {
            OpsKind::Tracked(prep) => prep.finish(
                (
                    x.into_primitive(),
                    gamma.into_primitive(),
                    beta.into_primitive(),
                    stats,
                    groups,
                    epsilon,
                    slope,
                ),
                y,
            ),
            OpsKind::UnTracked(prep) => prep.finish(y),
        }
    }
}
