//! The project's own CPU kernels for the step's hot operations, and the routing to them.
//!
//! On the flex backend (with or without autodiff) the convolutions and transposed convolutions
//! of the models read their windows in place on CPUs with AVX-512 or AVX2 + FMA
//! ([`direct_conv`], where the geometry suits it: mostly grids 16 wide and up) and run as
//! im2col + GEMM elsewhere ([`gemm_conv`]); training-mode BatchNorm,
//! fused with the LeakyReLU that follows it, runs in two passes ([`batch_norm`](mod@batch_norm)), and
//! group normalisation (D's LayerNorm, CycleGAN's InstanceNorm) likewise
//! ([`group_norm`](mod@group_norm)); tanh and LeakyReLU in one vectorised pass each way
//! ([`activation`]); DiffAugment's translation as one row copy per row each way
//! ([`translate`](mod@translate)); all have
//! handwritten backward passes registered through burn's backend extensions (in `flex`). Every
//! other backend, dtype or configuration (dilation, groups) goes to burn's own operation, so the
//! models stay portable. [`set_enabled`] switches the kernels off at run time, per thread:
//! `bench` uses it to time burn's path against ours in the same run, and the tests to compare
//! the two.

pub mod activation;
pub mod batch_norm;
pub mod direct_conv;
#[cfg(feature = "flex")]
mod flex;
pub mod gemm_conv;
pub mod group_norm;
pub mod translate;

use std::cell::Cell;

use burn::module::Param;
use burn::nn::conv::{Conv2d, ConvTranspose2d};
use burn::nn::{BatchNorm, GroupNorm, InstanceNorm, PaddingConfig2d};
use burn::tensor::module;
use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};
use burn::tensor::{DType, Device, Tensor};

thread_local! {
    // Per thread, so that a benchmark or a test comparing the two paths leaves the others alone.
    static ENABLED: Cell<bool> = const { Cell::new(true) };
}

/// Routes this thread's convolutions to the project's kernels (the default) or to burn's.
pub fn set_enabled(enabled: bool) {
    ENABLED.with(|e| e.set(enabled));
}

/// Whether this thread's convolutions use the project's kernels.
pub fn enabled() -> bool {
    ENABLED.with(Cell::get)
}

/// Whether tensors of these dtypes on this device can go to the project's kernels: f32 on
/// flex, kernels switched on.
fn on_flex_kernels(device: &Device, dtypes: &[DType]) -> bool {
    #[cfg(feature = "flex")]
    {
        enabled() && dtypes.iter().all(|&d| d == DType::F32) && *device == Device::flex()
    }
    #[cfg(not(feature = "flex"))]
    {
        let _ = (device, dtypes);
        false
    }
}

/// Whether a convolution can run on the GEMM kernels.
fn on_gemm_kernels(x: &Tensor<4>, weight: &Tensor<4>, dilation: [usize; 2], groups: usize) -> bool {
    dilation == [1, 1] && groups == 1 && on_flex_kernels(&x.device(), &[x.dtype(), weight.dtype()])
}

/// A 2-D convolution, as burn's [`module::conv2d`]: `x [n, c_in, h, w]`, `weight [c_out, c_in,
/// kh, kw]`.
pub fn conv2d(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    options: ConvOptions<2>,
) -> Tensor<4> {
    if !on_gemm_kernels(&x, &weight, options.dilation, options.groups) {
        return module::conv2d(x, weight, bias, options);
    }
    #[cfg(feature = "flex")]
    {
        use flex::KernelBackend;
        let [c_out, ..] = weight.dims();
        let bias = bias.unwrap_or_else(|| Tensor::zeros([c_out], &x.device()));
        Tensor::from_dispatch(<burn::backend::Dispatch as KernelBackend>::gemm_conv2d(
            x.into_dispatch(),
            weight.into_dispatch(),
            bias.into_dispatch(),
            options,
        ))
    }
    #[cfg(not(feature = "flex"))]
    unreachable!("the GEMM kernels exist only with the flex backend")
}

/// A 2-D transposed convolution, as burn's [`module::conv_transpose2d`]: `x [n, c_in, h, w]`,
/// `weight [c_in, c_out, kh, kw]`.
pub fn conv_transpose2d(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    options: ConvTransposeOptions<2>,
) -> Tensor<4> {
    if !on_gemm_kernels(&x, &weight, options.dilation, options.groups) {
        return module::conv_transpose2d(x, weight, bias, options);
    }
    #[cfg(feature = "flex")]
    {
        use flex::KernelBackend;
        let [_, c_out, ..] = weight.dims();
        let bias = bias.unwrap_or_else(|| Tensor::zeros([c_out], &x.device()));
        Tensor::from_dispatch(
            <burn::backend::Dispatch as KernelBackend>::gemm_conv_transpose2d(
                x.into_dispatch(),
                weight.into_dispatch(),
                bias.into_dispatch(),
                options,
            ),
        )
    }
    #[cfg(not(feature = "flex"))]
    unreachable!("the GEMM kernels exist only with the flex backend")
}

/// The padding burn's `Conv2d` applies to an input of this size: `(begin, end)` per axis.
fn padding_pairs(layer: &Conv2d, height: usize, width: usize) -> [(usize, usize); 2] {
    let same = |k: usize, stride: usize, size: usize| {
        let out = size.div_ceil(stride);
        let total = ((out.max(1) - 1) * stride + k).saturating_sub(size);
        (total / 2, total - total / 2)
    };
    match layer.padding {
        PaddingConfig2d::Valid => [(0, 0), (0, 0)],
        PaddingConfig2d::Same => [
            same(layer.kernel_size[0], layer.stride[0], height),
            same(layer.kernel_size[1], layer.stride[1], width),
        ],
        PaddingConfig2d::Explicit(top, left, bottom, right) => [(top, bottom), (left, right)],
    }
}

/// `layer.forward(x)` on the project's kernels where they apply.
pub fn conv(layer: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    conv_with_kernel(layer, layer.weight.val(), x)
}

/// `layer.forward(x)` with `kernel` in place of the layer's own weight (a spectrally normalised
/// one), on the project's kernels where they apply.
pub fn conv_with_kernel(layer: &Conv2d, kernel: Tensor<4>, x: Tensor<4>) -> Tensor<4> {
    let [_, _, h, w] = x.dims();
    let options = ConvOptions::new_with_padding(
        layer.stride,
        padding_pairs(layer, h, w),
        layer.dilation,
        layer.groups,
    );
    conv2d(x, kernel, layer.bias.as_ref().map(|b| b.val()), options)
}

/// `layer.forward(x)` on the project's kernels where they apply.
pub fn conv_transpose(layer: &ConvTranspose2d, x: Tensor<4>) -> Tensor<4> {
    let options = ConvTransposeOptions::new(
        layer.stride,
        layer.padding,
        layer.padding_out,
        layer.dilation,
        layer.groups,
    );
    conv_transpose2d(
        x,
        layer.weight.val(),
        layer.bias.as_ref().map(|b| b.val()),
        options,
    )
}

/// `tanh(x)`, on the project's kernel on flex (vectorised and parallel; burn's is scalar libm on
/// one core), burn's own elsewhere.
pub fn tanh<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    if !on_flex_kernels(&x.device(), &[x.dtype()]) {
        return burn::tensor::activation::tanh(x);
    }
    #[cfg(feature = "flex")]
    {
        use flex::KernelBackend;
        Tensor::from_dispatch(<burn::backend::Dispatch as KernelBackend>::fast_tanh(
            x.into_dispatch(),
        ))
    }
    #[cfg(not(feature = "flex"))]
    unreachable!("the tanh kernel exists only with the flex backend")
}

/// Every image `n` of `x [n, c, h, w]` moved by whole pixels: `out[n, c, i, j] = x[n, c, i + dy,
/// j + dx]` where that lies inside the image, else 0, with `(dy, dx) = shifts[n]`. On flex f32
/// one row copy per row, forward and backward (the opposite shift; [`translate`](mod@translate)).
/// Elsewhere two gathers of clamped indices times the mask of the positions that came from
/// inside: the same values and gradients.
pub fn translate(x: Tensor<4>, shifts: &[(i64, i64)]) -> Tensor<4> {
    let [b, c, h, w] = x.dims();
    assert_eq!(shifts.len(), b, "translate: one shift per image");
    if on_flex_kernels(&x.device(), &[x.dtype()]) {
        #[cfg(feature = "flex")]
        {
            use flex::KernelBackend;
            return Tensor::from_dispatch(
                <burn::backend::Dispatch as KernelBackend>::fast_translate(
                    x.into_dispatch(),
                    shifts.to_vec(),
                ),
            );
        }
    }
    let device = x.device();
    let mut rows = Vec::with_capacity(b * c * h * w);
    let mut cols = Vec::with_capacity(b * c * h * w);
    let mut inside = Vec::with_capacity(b * h * w);
    for &(dy, dx) in shifts {
        let mut image_rows = Vec::with_capacity(h * w);
        let mut image_cols = Vec::with_capacity(h * w);
        for i in 0..h as i64 {
            for j in 0..w as i64 {
                let (si, sj) = (i + dy, j + dx);
                image_rows.push(si.clamp(0, h as i64 - 1));
                image_cols.push(sj.clamp(0, w as i64 - 1));
                let ok = (0..h as i64).contains(&si) && (0..w as i64).contains(&sj);
                inside.push(if ok { 1.0f32 } else { 0.0 });
            }
        }
        for _ in 0..c {
            rows.extend_from_slice(&image_rows);
            cols.extend_from_slice(&image_cols);
        }
    }
    let index = |v: Vec<i64>| {
        Tensor::<4, burn::tensor::Int>::from_data(
            burn::tensor::TensorData::new(v, [b, c, h, w]),
            &device,
        )
    };
    let mask = Tensor::<4>::from_data(burn::tensor::TensorData::new(inside, [b, 1, h, w]), &device);
    x.gather(2, index(rows)).gather(3, index(cols)) * mask
}

/// LeakyReLU(`slope`), `slope ≥ 0` (0 is ReLU). On flex f32 one vectorised pass forward and one
/// backward from the output ([`activation::leaky`]). Elsewhere `x · m` with the slope mask `m` (1
/// where x > 0, else `slope`) computed off the autodiff graph: the value and the gradient are
/// LeakyReLU's (the mask is piecewise constant), but the backward pass is one multiply, where
/// burn's own `leaky_relu` routes the gradient through a masked select of two branches of `x`,
/// measured 15× slower forward + backward under autodiff on flex (`bench ops`; README, Speed).
pub fn leaky(x: Tensor<4>, slope: f64) -> Tensor<4> {
    if slope >= 0.0 && on_flex_kernels(&x.device(), &[x.dtype()]) {
        #[cfg(feature = "flex")]
        {
            use flex::KernelBackend;
            return Tensor::from_dispatch(<burn::backend::Dispatch as KernelBackend>::fast_leaky(
                x.into_dispatch(),
                slope,
            ));
        }
    }
    let mask = x
        .clone()
        .detach()
        .greater_elem(0.0)
        .float()
        .cast(x.dtype())
        .mul_scalar(1.0 - slope)
        .add_scalar(slope);
    x * mask
}

/// `layer.forward(x)`, then LeakyReLU(`slope`) when one is given, as one fused operation in
/// training mode on flex. The running statistics are updated as burn's `BatchNorm` does.
pub fn batch_norm(layer: &BatchNorm, x: Tensor<4>, slope: Option<f64>) -> Tensor<4> {
    let training = x.device().is_autodiff() && layer.training.is_enabled();
    if !training {
        let y = layer.forward(x);
        return slope.map_or(y.clone(), |s| leaky(y, s));
    }
    let (gamma, beta) = (layer.gamma.val(), layer.beta.val());
    let (y, mean, variance) = if on_flex_kernels(&x.device(), &[x.dtype(), gamma.dtype()]) {
        fused_batch_norm(x, gamma, beta, layer.epsilon, slope.unwrap_or(1.0))
    } else {
        let result = module::batch_norm_train(x, gamma, beta, layer.epsilon);
        let y = result.output;
        let y = slope.map_or(y.clone(), |s| leaky(y, s));
        (y, result.mean, result.variance)
    };
    let device = y.device();
    let momentum = layer.momentum;
    let running_mean = layer.running_mean.value_sync().to_device(&device);
    let running_var = layer.running_var.value_sync().to_device(&device);
    layer.running_mean.update(
        running_mean
            .mul_scalar(1.0 - momentum)
            .add(mean.detach().mul_scalar(momentum))
            .detach(),
    );
    layer.running_var.update(
        running_var
            .mul_scalar(1.0 - momentum)
            .add(variance.detach().mul_scalar(momentum))
            .detach(),
    );
    y
}

/// `layer.forward(x)` (group normalisation: LayerNorm over channels and pixels with one group),
/// then LeakyReLU(`slope`) when one is given, as one fused operation on flex ([`group_norm`]
/// (mod@group_norm)); burn's `GroupNorm` elsewhere. It has no running statistics, so training
/// and evaluation compute the same.
pub fn group_norm(layer: &GroupNorm, x: Tensor<4>, slope: Option<f64>) -> Tensor<4> {
    let affine = layer.gamma.as_ref().zip(layer.beta.as_ref());
    let groups = GroupShape {
        groups: layer.num_groups,
        channels: layer.num_channels,
        epsilon: layer.epsilon,
    };
    normalise_groups(groups, affine, x, slope, |x| layer.forward(x))
}

/// `layer.forward(x)` (instance normalisation: group normalisation with a group per channel),
/// then LeakyReLU(`slope`) when one is given (0 for ReLU), as one fused operation on flex; burn's
/// `InstanceNorm` elsewhere.
pub fn instance_norm(layer: &InstanceNorm, x: Tensor<4>, slope: Option<f64>) -> Tensor<4> {
    let affine = layer.gamma.as_ref().zip(layer.beta.as_ref());
    let groups = GroupShape {
        groups: layer.num_channels,
        channels: layer.num_channels,
        epsilon: layer.epsilon,
    };
    normalise_groups(groups, affine, x, slope, |x| layer.forward(x))
}

/// What a group normalisation layer normalises over.
struct GroupShape {
    groups: usize,
    channels: usize,
    epsilon: f64,
}

/// The fused group normalisation (+ LeakyReLU) where the kernels take it, else `burn_forward`
/// then [`leaky`].
fn normalise_groups(
    shape: GroupShape,
    affine: Option<(&Param<Tensor<1>>, &Param<Tensor<1>>)>,
    x: Tensor<4>,
    slope: Option<f64>,
    burn_forward: impl FnOnce(Tensor<4>) -> Tensor<4>,
) -> Tensor<4> {
    let [_, channels, ..] = x.dims();
    let device = x.device();
    let on_kernels = on_flex_kernels(&device, &[x.dtype()])
        && channels == shape.channels
        && affine
            .is_none_or(|(g, b)| g.val().dtype() == DType::F32 && b.val().dtype() == DType::F32);
    if !on_kernels {
        let y = burn_forward(x);
        return slope.map_or(y.clone(), |s| leaky(y, s));
    }
    let (gamma, beta) = match affine {
        Some((gamma, beta)) => (gamma.val(), beta.val()),
        None => (
            Tensor::ones([channels], &device),
            Tensor::zeros([channels], &device),
        ),
    };
    fused_group_norm(
        x,
        gamma,
        beta,
        shape.groups,
        shape.epsilon,
        slope.unwrap_or(1.0),
    )
}

#[cfg(feature = "flex")]
fn fused_group_norm(
    x: Tensor<4>,
    gamma: Tensor<1>,
    beta: Tensor<1>,
    groups: usize,
    epsilon: f64,
    slope: f64,
) -> Tensor<4> {
    use flex::KernelBackend;
    Tensor::from_dispatch(
        <burn::backend::Dispatch as KernelBackend>::fused_group_norm(
            x.into_dispatch(),
            gamma.into_dispatch(),
            beta.into_dispatch(),
            groups,
            epsilon,
            slope,
        ),
    )
}

#[cfg(not(feature = "flex"))]
fn fused_group_norm(
    _: Tensor<4>,
    _: Tensor<1>,
    _: Tensor<1>,
    _: usize,
    _: f64,
    _: f64,
) -> Tensor<4> {
    unreachable!("the fused group norm exists only with the flex backend")
}

#[cfg(feature = "flex")]
fn fused_batch_norm(
    x: Tensor<4>,
    gamma: Tensor<1>,
    beta: Tensor<1>,
    epsilon: f64,
    slope: f64,
) -> (Tensor<4>, Tensor<1>, Tensor<1>) {
    use flex::KernelBackend;
    let (y, mean, variance) = <burn::backend::Dispatch as KernelBackend>::fused_batch_norm(
        x.into_dispatch(),
        gamma.into_dispatch(),
        beta.into_dispatch(),
        epsilon,
        slope,
    );
    (
        Tensor::from_dispatch(y),
        Tensor::from_dispatch(mean),
        Tensor::from_dispatch(variance),
    )
}

#[cfg(not(feature = "flex"))]
fn fused_batch_norm(
    _: Tensor<4>,
    _: Tensor<1>,
    _: Tensor<1>,
    _: f64,
    _: f64,
) -> (Tensor<4>, Tensor<1>, Tensor<1>) {
    unreachable!("the fused batch norm exists only with the flex backend")
}
