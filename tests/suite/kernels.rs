//! The project's GEMM convolution kernels against burn's own convolutions: values and the
//! gradients of x, the weights and the bias, over random shapes with odd sizes, strides and
//! (asymmetric) paddings, batches smaller and larger than the thread count.

use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2dConfig, ConvTranspose2dConfig};
use burn::prelude::*;
use burn::tensor::module;
use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};
use ganforge::kernels::direct_conv::Isa;
use ganforge::kernels::{self, direct_conv, gemm_conv};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn device() -> Device {
    Device::flex().autodiff()
}

fn random_tensor<const D: usize>(
    rng: &mut ChaCha8Rng,
    shape: [usize; D],
    device: &Device,
) -> Tensor<D> {
    let n = shape.iter().product();
    let values: Vec<f32> = (0..n).map(|_| rng.random_range(-1.0..1.0)).collect();
    Tensor::<1>::from_floats(values.as_slice(), device).reshape(shape)
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .expect("f32 values")
}

/// Largest difference relative to the reference's largest magnitude.
fn assert_close(what: &str, ours: &[f32], reference: &[f32]) {
    assert_eq!(ours.len(), reference.len(), "{what}: sizes");
    let scale = reference.iter().fold(1e-3f32, |m, v| m.max(v.abs()));
    let worst = ours
        .iter()
        .zip(reference)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(
        worst <= 1e-4 * scale,
        "{what}: off by {worst} (scale {scale})"
    );
}

/// Output, and the gradients of Σ out·r with respect to x, weight and bias.
struct Run {
    out: Vec<f32>,
    dx: Vec<f32>,
    dw: Vec<f32>,
    db: Vec<f32>,
}

fn run(
    x: &Tensor<4>,
    w: &Tensor<4>,
    b: &Tensor<1>,
    r_seed: u64,
    op: impl Fn(Tensor<4>, Tensor<4>, Tensor<1>) -> Tensor<4>,
) -> Run {
    let (x, w, b) = (
        x.clone().detach().require_grad(),
        w.clone().detach().require_grad(),
        b.clone().detach().require_grad(),
    );
    let out = op(x.clone(), w.clone(), b.clone());
    let r = random_tensor(
        &mut ChaCha8Rng::seed_from_u64(r_seed),
        out.dims(),
        &out.device(),
    );
    let grads = (out.clone() * r).sum().backward();
    Run {
        out: values(out),
        dx: values(x.grad(&grads).expect("x gradient")),
        dw: values(w.grad(&grads).expect("weight gradient")),
        db: values(b.grad(&grads).expect("bias gradient")),
    }
}

fn assert_runs_match(case: &str, ours: Run, burn: Run) {
    assert_close(&format!("{case} forward"), &ours.out, &burn.out);
    assert_close(&format!("{case} x gradient"), &ours.dx, &burn.dx);
    assert_close(&format!("{case} weight gradient"), &ours.dw, &burn.dw);
    assert_close(&format!("{case} bias gradient"), &ours.db, &burn.db);
}

/// The project's convolution and burn's on the same input, weights, bias and output weighting
/// (`r_seed`, see [`run`]).
fn conv_against_burn(
    x: &Tensor<4>,
    w: &Tensor<4>,
    b: &Tensor<1>,
    options: &ConvOptions<2>,
    r_seed: u64,
) -> (Run, Run) {
    (
        run(x, w, b, r_seed, |x, w, b| {
            kernels::conv2d(x, w, Some(b), options.clone())
        }),
        run(x, w, b, r_seed, |x, w, b| {
            module::conv2d(x, w, Some(b), options.clone())
        }),
    )
}

/// As [`conv_against_burn`], for the transposed convolution.
fn conv_transpose_against_burn(
    x: &Tensor<4>,
    w: &Tensor<4>,
    b: &Tensor<1>,
    options: &ConvTransposeOptions<2>,
    r_seed: u64,
) -> (Run, Run) {
    (
        run(x, w, b, r_seed, |x, w, b| {
            kernels::conv_transpose2d(x, w, Some(b), options.clone())
        }),
        run(x, w, b, r_seed, |x, w, b| {
            module::conv_transpose2d(x, w, Some(b), options.clone())
        }),
    )
}

#[test]
fn gemm_convolution_matches_burn_in_values_and_gradients() {
    let device = device();
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    for case in 0..40 {
        let batch = [1, 2, 3, 5][case % 4];
        let c_in = rng.random_range(1..6);
        let c_out = rng.random_range(1..6);
        let k = [rng.random_range(1..6), rng.random_range(1..6)];
        let stride = [rng.random_range(1..4), rng.random_range(1..4)];
        let size = [rng.random_range(k[0]..14), rng.random_range(k[1]..14)];
        let padding = [
            (rng.random_range(0..3), rng.random_range(0..3)),
            (rng.random_range(0..3), rng.random_range(0..3)),
        ];
        let options = ConvOptions::new_with_padding(stride, padding, [1, 1], 1);
        let x = random_tensor(&mut rng, [batch, c_in, size[0], size[1]], &device);
        let w = random_tensor(&mut rng, [c_out, c_in, k[0], k[1]], &device);
        let b = random_tensor(&mut rng, [c_out], &device);
        let label = format!(
            "conv case {case}: x {:?} w {:?} {options:?}",
            x.dims(),
            w.dims()
        );
        let (ours, reference) = conv_against_burn(&x, &w, &b, &options, case as u64);
        assert_runs_match(&label, ours, reference);
    }
}

#[test]
fn a_kernel_tap_wholly_in_the_far_padding_reads_and_writes_nothing() {
    // 2×2 image, 5×5 kernel, 3 pixels of padding after: taps 2–4 of the single window lie past
    // the image's last column, at the end of the buffer (once an out-of-range slice start).
    let device = device();
    let mut rng = ChaCha8Rng::seed_from_u64(23);
    let options = ConvOptions::new_with_padding([1, 1], [(0, 3), (0, 3)], [1, 1], 1);
    let x = random_tensor(&mut rng, [1, 2, 2, 2], &device);
    let w = random_tensor(&mut rng, [3, 2, 5, 5], &device);
    let b = random_tensor(&mut rng, [3], &device);
    let (ours, reference) = conv_against_burn(&x, &w, &b, &options, 5);
    assert_eq!(ours.out.len(), 3);
    assert_runs_match("far padding", ours, reference);
}

#[test]
fn stride_one_convolutions_narrowing_the_channels_match_burn() {
    // Their input gradient is computed as a correlation with the flipped kernels, not a scatter.
    let device = device();
    let mut rng = ChaCha8Rng::seed_from_u64(21);
    for case in 0..16 {
        let c_out = rng.random_range(1..4);
        let c_in = c_out + rng.random_range(1..5);
        let k = [rng.random_range(1..6), rng.random_range(1..6)];
        let padding = [
            (rng.random_range(0..k[0]), rng.random_range(0..3)),
            (rng.random_range(0..k[1]), rng.random_range(0..3)),
        ];
        let size = [rng.random_range(k[0]..12), rng.random_range(k[1]..12)];
        let options = ConvOptions::new_with_padding([1, 1], padding, [1, 1], 1);
        let x = random_tensor(&mut rng, [1 + case % 3, c_in, size[0], size[1]], &device);
        let w = random_tensor(&mut rng, [c_out, c_in, k[0], k[1]], &device);
        let b = random_tensor(&mut rng, [c_out], &device);
        let label = format!(
            "narrowing case {case}: x {:?} w {:?} {options:?}",
            x.dims(),
            w.dims()
        );
        let (ours, reference) = conv_against_burn(&x, &w, &b, &options, case as u64);
        assert_runs_match(&label, ours, reference);
    }
}

#[test]
fn gemm_transposed_convolution_matches_burn_in_values_and_gradients() {
    let device = device();
    let mut rng = ChaCha8Rng::seed_from_u64(12);
    for case in 0..40 {
        let batch = [1, 2, 3, 5][case % 4];
        let c_in = rng.random_range(1..6);
        let c_out = rng.random_range(1..6);
        let k = [rng.random_range(1..6), rng.random_range(1..6)];
        let stride = [rng.random_range(1..4), rng.random_range(1..4)];
        // burn requires padding_out < stride and padding < kernel.
        let padding = [rng.random_range(0..k[0]), rng.random_range(0..k[1])];
        let padding_out = [
            rng.random_range(0..stride[0]),
            rng.random_range(0..stride[1]),
        ];
        let size = [rng.random_range(2..10), rng.random_range(2..10)];
        let options = ConvTransposeOptions::new(stride, padding, padding_out, [1, 1], 1);
        let out_side = |i: usize| (size[i] - 1) * stride[i] + k[i] + padding_out[i];
        if out_side(0) <= 2 * padding[0] || out_side(1) <= 2 * padding[1] {
            continue;
        }
        let x = random_tensor(&mut rng, [batch, c_in, size[0], size[1]], &device);
        let w = random_tensor(&mut rng, [c_in, c_out, k[0], k[1]], &device);
        let b = random_tensor(&mut rng, [c_out], &device);
        let label = format!(
            "transpose case {case}: x {:?} w {:?} {options:?}",
            x.dims(),
            w.dims()
        );
        let (ours, reference) = conv_transpose_against_burn(&x, &w, &b, &options, case as u64);
        assert_runs_match(&label, ours, reference);
    }
}

#[test]
fn the_tutorial_layers_match_burn_at_their_real_shapes() {
    // Full-resolution layers of the step, large enough to be cut into several cache tiles.
    let device = device();
    let mut rng = ChaCha8Rng::seed_from_u64(13);
    let conv = Conv2dConfig::new([3, 16], [5, 5])
        .with_padding(PaddingConfig2d::Explicit(2, 2, 2, 2))
        .with_stride([2, 2])
        .init(&device);
    let x = random_tensor(&mut rng, [3, 3, 64, 64], &device);
    let (w, b) = (conv.weight.val(), conv.bias.as_ref().expect("bias").val());
    let options = ConvOptions::new([2, 2], [2, 2], [1, 1], 1);
    let (ours, reference) = conv_against_burn(&x, &w, &b, &options, 1);
    assert_runs_match("strided layer", ours, reference);
    assert_close(
        "the layer helper",
        &values(kernels::conv(&conv, x.clone())),
        &values(conv.forward(x)),
    );

    let up = ConvTranspose2dConfig::new([16, 8], [5, 5])
        .with_stride([2, 2])
        .with_padding([2, 2])
        .with_padding_out([1, 1])
        .init(&device);
    let x = random_tensor(&mut rng, [3, 16, 32, 32], &device);
    let (w, b) = (up.weight.val(), up.bias.as_ref().expect("bias").val());
    let options = ConvTransposeOptions::new([2, 2], [2, 2], [1, 1], [1, 1], 1);
    let (ours, reference) = conv_transpose_against_burn(&x, &w, &b, &options, 2);
    assert_eq!(ours.out.len(), 3 * 8 * 64 * 64);
    assert_runs_match("up layer", ours, reference);
    assert_close(
        "the transposed layer helper",
        &values(kernels::conv_transpose(&up, x.clone())),
        &values(up.forward(x)),
    );
}

#[test]
fn switching_the_kernels_off_routes_to_burn_and_inference_tensors_work_too() {
    // On the plain flex device (no autodiff) the kernels run too, and agree with burn.
    let device = Device::flex();
    let mut rng = ChaCha8Rng::seed_from_u64(14);
    let x = random_tensor(&mut rng, [2, 3, 9, 7], &device);
    let w = random_tensor(&mut rng, [4, 3, 3, 3], &device);
    let options = ConvOptions::new([2, 1], [1, 1], [1, 1], 1);
    let ours = values(kernels::conv2d(x.clone(), w.clone(), None, options.clone()));
    kernels::set_enabled(false);
    assert!(!kernels::enabled());
    let routed = values(kernels::conv2d(x.clone(), w.clone(), None, options.clone()));
    kernels::set_enabled(true);
    let reference = values(module::conv2d(x, w, None, options));
    assert_close("inference conv", &ours, &reference);
    assert_eq!(
        routed, reference,
        "switched off, the result is burn's own, bit for bit"
    );
}

#[test]
fn im2col_and_col2im_are_adjoint_and_match_a_hand_computation() {
    // A 1-channel 3×3 image, 2×2 kernel, stride 1, padding 1 before: windows 3×3 (far edge 0).
    let g = gemm_conv::Geometry {
        channels: 1,
        size: [3, 3],
        kernel: [2, 2],
        stride: [1, 1],
        pad: [1, 1],
        windows: [3, 3],
    };
    let image: Vec<f32> = (1..=9).map(|v| v as f32).collect();
    let mut cols = vec![f32::NAN; g.rows() * g.positions()];
    gemm_conv::im2col(&image, &g, &(0..3), &mut cols);
    // Tap (0, 0) reads the pixel up-left of each window position.
    assert_eq!(&cols[0..9], &[0., 0., 0., 0., 1., 2., 0., 4., 5.]);
    // Tap (1, 1) reads the pixel at the position itself.
    assert_eq!(&cols[27..36], &[1., 2., 3., 4., 5., 6., 7., 8., 9.]);
    // ⟨im2col(x), c⟩ = ⟨x, col2im(c)⟩ for random x and c.
    let mut rng = ChaCha8Rng::seed_from_u64(15);
    let g = gemm_conv::Geometry {
        channels: 2,
        size: [7, 6],
        kernel: [3, 4],
        stride: [2, 3],
        pad: [1, 2],
        windows: [4, 3],
    };
    let x: Vec<f32> = (0..g.image_len())
        .map(|_| rng.random_range(-1.0..1.0))
        .collect();
    let c: Vec<f32> = (0..g.rows() * g.positions())
        .map(|_| rng.random_range(-1.0..1.0))
        .collect();
    let mut cols = vec![0.0; c.len()];
    gemm_conv::im2col(&x, &g, &(0..4), &mut cols);
    let mut back = vec![0.0; x.len()];
    gemm_conv::col2im(&c, &g, &(0..4), &mut back);
    let lhs: f64 = cols.iter().zip(&c).map(|(a, b)| (a * b) as f64).sum();
    let rhs: f64 = x.iter().zip(&back).map(|(a, b)| (a * b) as f64).sum();
    assert!((lhs - rhs).abs() < 1e-4, "{lhs} vs {rhs}");
}

#[test]
fn im2col_and_col2im_are_adjoint_on_random_geometries() {
    // Strides up to 3 (read through stride phases), paddings on both sides, windows that reach
    // past the image into the far padding, kernels larger than the image.
    let mut rng = ChaCha8Rng::seed_from_u64(24);
    for case in 0..200 {
        let kernel: [usize; 2] = [rng.random_range(1..6), rng.random_range(1..6)];
        let stride: [usize; 2] = [rng.random_range(1..4), rng.random_range(1..4)];
        let size: [usize; 2] = [rng.random_range(1..10), rng.random_range(1..10)];
        let pad: [usize; 2] = [rng.random_range(0..3), rng.random_range(0..3)];
        let windows = [0, 1].map(|i| {
            let far = rng.random_range(0..4usize);
            (size[i] + pad[i] + far).saturating_sub(kernel[i]) / stride[i] + 1
        });
        let g = gemm_conv::Geometry {
            channels: rng.random_range(1..4),
            size,
            kernel,
            stride,
            pad,
            windows,
        };
        let x: Vec<f32> = (0..g.image_len())
            .map(|_| rng.random_range(-1.0..1.0))
            .collect();
        let c: Vec<f32> = (0..g.rows() * g.positions())
            .map(|_| rng.random_range(-1.0..1.0))
            .collect();
        let tile = 0..g.windows[0];
        let mut cols = vec![f32::NAN; c.len()];
        gemm_conv::im2col(&x, &g, &tile, &mut cols);
        assert!(
            cols.iter().all(|v| v.is_finite()),
            "case {case}: every column entry written"
        );
        let mut back = vec![0.0; x.len()];
        gemm_conv::col2im(&c, &g, &tile, &mut back);
        let lhs: f64 = cols.iter().zip(&c).map(|(a, b)| (a * b) as f64).sum();
        let rhs: f64 = x.iter().zip(&back).map(|(a, b)| (a * b) as f64).sum();
        assert!(
            (lhs - rhs).abs() < 1e-3,
            "case {case} {g:?}: {lhs} vs {rhs}"
        );
    }
}

/// The pixel of image channel `channel` that kernel tap `(kh, kw)` reads at window position
/// `(oh, ow)`, as an index into one image, or `None` where it falls in the zero padding.
fn tap_pixel(
    g: &gemm_conv::Geometry,
    channel: usize,
    tap: [usize; 2],
    window: [usize; 2],
) -> Option<usize> {
    let at = |i: usize| {
        (window[i] * g.stride[i] + tap[i])
            .checked_sub(g.pad[i])
            .filter(|&p| p < g.size[i])
    };
    Some((channel * g.size[0] + at(0)?) * g.size[1] + at(1)?)
}

/// Every (im2col row, window position, image pixel) a geometry connects: row `(channel, kh,
/// kw)`, the positions in row-major order, padding taps left out.
fn taps(g: &gemm_conv::Geometry) -> Vec<(usize, usize, usize)> {
    let mut out = Vec::new();
    for channel in 0..g.channels {
        for kh in 0..g.kernel[0] {
            for kw in 0..g.kernel[1] {
                let row = (channel * g.kernel[0] + kh) * g.kernel[1] + kw;
                for oh in 0..g.windows[0] {
                    for ow in 0..g.windows[1] {
                        if let Some(pixel) = tap_pixel(g, channel, [kh, kw], [oh, ow]) {
                            out.push((row, oh * g.windows[1] + ow, pixel));
                        }
                    }
                }
            }
        }
    }
    out
}

/// The three products of a convolution by their definition, one multiply-add at a time in f64:
/// `y = W · im2col(image) + bias`, `image = col2im(Wᵀ · y) + bias`, `dW = Σₙ yₙ · im2col(imageₙ)ᵀ`.
struct Definition {
    taps: Vec<(usize, usize, usize)>,
    g: gemm_conv::Geometry,
    c: usize,
}

impl Definition {
    fn new(g: &gemm_conv::Geometry, c: usize) -> Self {
        Definition {
            taps: taps(g),
            g: *g,
            c,
        }
    }

    fn correlate(&self, images: &[f32], weight: &[f32], bias: Option<&[f32]>) -> Vec<f32> {
        let (rows, positions) = (self.g.rows(), self.g.positions());
        let batch = images.len() / self.g.image_len();
        let mut y = vec![0.0f64; batch * self.c * positions];
        for n in 0..batch {
            let image = &images[n * self.g.image_len()..];
            for o in 0..self.c {
                let out = &mut y[(n * self.c + o) * positions..][..positions];
                if let Some(bias) = bias {
                    out.fill(bias[o] as f64);
                }
                for &(row, position, pixel) in &self.taps {
                    out[position] += (weight[o * rows + row] * image[pixel]) as f64;
                }
            }
        }
        y.into_iter().map(|v| v as f32).collect()
    }

    fn scatter(&self, y: &[f32], weight: &[f32], bias: Option<&[f32]>) -> Vec<f32> {
        let (rows, positions, len) = (self.g.rows(), self.g.positions(), self.g.image_len());
        let batch = y.len() / (self.c * positions);
        let plane = self.g.size[0] * self.g.size[1];
        let mut images = vec![0.0f64; batch * len];
        for n in 0..batch {
            let image = &mut images[n * len..][..len];
            if let Some(bias) = bias {
                for (i, v) in image.iter_mut().enumerate() {
                    *v = bias[i / plane] as f64;
                }
            }
            for o in 0..self.c {
                let yo = &y[(n * self.c + o) * positions..][..positions];
                for &(row, position, pixel) in &self.taps {
                    image[pixel] += (weight[o * rows + row] * yo[position]) as f64;
                }
            }
        }
        images.into_iter().map(|v| v as f32).collect()
    }

    fn weight_gradient(&self, images: &[f32], y: &[f32]) -> Vec<f32> {
        let (rows, positions) = (self.g.rows(), self.g.positions());
        let batch = images.len() / self.g.image_len();
        let mut dw = vec![0.0f64; self.c * rows];
        for n in 0..batch {
            let image = &images[n * self.g.image_len()..];
            for o in 0..self.c {
                let yo = &y[(n * self.c + o) * positions..][..positions];
                for &(row, position, pixel) in &self.taps {
                    dw[o * rows + row] += (yo[position] * image[pixel]) as f64;
                }
            }
        }
        dw.into_iter().map(|v| v as f32).collect()
    }
}

/// The instruction sets of the in-place kernels that this CPU runs; for each it lacks, a
/// "SKIPPED" line saying so.
fn in_place_isas(test: &str) -> Vec<Isa> {
    Isa::ALL
        .into_iter()
        .filter(|&isa| {
            let supported = isa.supported();
            if !supported {
                let needs = match isa {
                    Isa::Avx512 => "AVX-512F",
                    Isa::Avx2 => "AVX2 and FMA",
                };
                eprintln!(
                    "SKIPPED: {test}: the {isa:?} in-place kernels need {needs}, which this CPU \
                     lacks (the other forms were checked)"
                );
            }
            supported
        })
        .collect()
}

/// A form of the three products: what the layers call, im2col + GEMM, or in place on an
/// instruction set.
#[derive(Debug, Clone, Copy)]
enum Form {
    Dispatched,
    Gemm,
    InPlace(Isa),
}

impl Form {
    /// The dispatching functions and the GEMM forms, and the in-place forms on every instruction
    /// set this CPU runs.
    fn all(test: &str) -> Vec<Form> {
        let in_place = in_place_isas(test).into_iter().map(Form::InPlace);
        [Form::Dispatched, Form::Gemm]
            .into_iter()
            .chain(in_place)
            .collect()
    }

    fn correlate(
        self,
        images: &[f32],
        g: &gemm_conv::Geometry,
        weight: &[f32],
        c: usize,
        bias: Option<&[f32]>,
    ) -> Vec<f32> {
        match self {
            Form::Dispatched => direct_conv::correlate(images, g, weight, c, bias),
            Form::Gemm => gemm_conv::correlate(images, g, weight, c, bias),
            Form::InPlace(isa) => direct_conv::correlate_in_place(isa, images, g, weight, c, bias),
        }
    }

    fn scatter(
        self,
        y: &[f32],
        g: &gemm_conv::Geometry,
        weight: &[f32],
        c: usize,
        bias: Option<&[f32]>,
    ) -> Vec<f32> {
        match self {
            Form::Dispatched => direct_conv::scatter(y, g, weight, c, bias),
            Form::Gemm => gemm_conv::scatter(y, g, weight, c, bias),
            Form::InPlace(isa) => direct_conv::scatter_in_place(isa, y, g, weight, c, bias),
        }
    }

    fn weight_gradient(
        self,
        images: &[f32],
        y: &[f32],
        g: &gemm_conv::Geometry,
        c: usize,
    ) -> Vec<f32> {
        match self {
            Form::Dispatched => direct_conv::weight_gradient(images, y, g, c),
            Form::Gemm => gemm_conv::weight_gradient(images, y, g, c),
            Form::InPlace(isa) => direct_conv::weight_gradient_in_place(isa, images, y, g, c),
        }
    }
}

/// Every form of the three products against their definition on `cases` random geometries:
/// the in-place (indirect) products on every instruction set this CPU runs, and always the
/// dispatching functions the layers call (`direct_conv::correlate` and co., which take im2col +
/// GEMM on a CPU without the in-place kernels and on the geometries that do not suit them) and
/// the GEMM forms. Strides up to 3, paddings on both sides, windows reaching into the far
/// padding, grids narrower and wider than a vector; output channels from `channels` in turn.
fn check_random_geometries(test: &str, seed: u64, cases: usize, channels: &[usize]) {
    check_geometries(
        test,
        seed,
        cases,
        channels,
        Shapes {
            image_channels: &[],
            max_size: 40,
            max_batch: 3,
        },
    );
}

/// What [`check_geometries`] draws: the image side's channels (each case takes the next, or a
/// random count under 20 where empty), sizes below `max_size`, batches up to `max_batch`.
struct Shapes<'a> {
    image_channels: &'a [usize],
    max_size: usize,
    max_batch: usize,
}

fn check_geometries(test: &str, seed: u64, cases: usize, channels: &[usize], shapes: Shapes) {
    let forms = Form::all(test);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let random = |rng: &mut ChaCha8Rng, n: usize| -> Vec<f32> {
        (0..n).map(|_| rng.random_range(-1.0..1.0)).collect()
    };
    for case in 0..cases {
        let kernel: [usize; 2] = [rng.random_range(1..6), rng.random_range(1..6)];
        let stride: [usize; 2] = [rng.random_range(1..4), rng.random_range(1..4)];
        let size: [usize; 2] = [
            rng.random_range(1..shapes.max_size),
            rng.random_range(1..shapes.max_size),
        ];
        let pad: [usize; 2] = [rng.random_range(0..3), rng.random_range(0..3)];
        let windows = [0, 1].map(|i| {
            let far = rng.random_range(0..4usize);
            (size[i] + pad[i] + far).saturating_sub(kernel[i]) / stride[i] + 1
        });
        let image_channels = match shapes.image_channels {
            [] => rng.random_range(1..20),
            list => list[case % list.len()],
        };
        let g = gemm_conv::Geometry {
            channels: image_channels,
            size,
            kernel,
            stride,
            pad,
            windows,
        };
        let c = channels[case % channels.len()];
        let batch = rng.random_range(1..=shapes.max_batch);
        let images = random(&mut rng, batch * g.image_len());
        let y = random(&mut rng, batch * c * g.positions());
        let weight = random(&mut rng, c * g.rows());
        let (bias_y, bias_image) = (random(&mut rng, c), random(&mut rng, g.channels));
        let label = format!("case {case}: {g:?}, c {c}, batch {batch}");
        let definition = Definition::new(&g, c);
        let correlated = definition.correlate(&images, &weight, Some(&bias_y));
        let scattered = definition.scatter(&y, &weight, Some(&bias_image));
        let gradient = definition.weight_gradient(&images, &y);
        for &form in &forms {
            let bias = (Some(bias_y.as_slice()), Some(bias_image.as_slice()));
            let y_form = form.correlate(&images, &g, &weight, c, bias.0);
            let image_form = form.scatter(&y, &g, &weight, c, bias.1);
            let dw_form = form.weight_gradient(&images, &y, &g, c);
            assert_close(
                &format!("{label}: {form:?} correlate"),
                &y_form,
                &correlated,
            );
            assert_close(
                &format!("{label}: {form:?} scatter"),
                &image_form,
                &scattered,
            );
            assert_close(
                &format!("{label}: {form:?} weight gradient"),
                &dw_form,
                &gradient,
            );
        }
    }
}

#[test]
fn in_place_and_portable_convolutions_match_the_definition_on_random_geometries() {
    // Output channels in whole vectors (the outer-product weight gradient, and on grids narrower
    // than a vector the channels-in-vectors forward) or not (the lane sums).
    check_random_geometries("random geometries", 31, 60, &[1, 3, 5, 16, 32]);
}

#[test]
fn in_place_convolutions_with_many_output_channels_match_the_definition() {
    // The wider tiles: 48 and 64 output channels (AVX-512's outer products take 4, 2 and 1
    // vectors of channels at once, AVX2's 2 registers; the GEMMs' row chunks of 8 and 6 with a
    // remainder), 7 and 13 (remainders of both).
    check_random_geometries("many channels", 47, 12, &[64, 7, 48, 13]);
}

#[test]
fn channel_vectorised_forms_on_narrow_grids_match_the_definition() {
    // Images and grids narrower than a vector with both channel counts in whole vectors: the
    // forward and the input gradient with the channels in the vectors, and the outer-product
    // weight gradient over groups of images (batches up to 9, so groups of several images and a
    // short last group on any thread count).
    check_geometries(
        "narrow grids by channels",
        53,
        16,
        &[16, 32, 48],
        Shapes {
            image_channels: &[16, 32, 64],
            max_size: 14,
            max_batch: 9,
        },
    );
    // Weights past 512 KiB for most kernels (the dispatching functions then take these forms on
    // AVX-512, and the weight gradient sums over groups of images).
    check_geometries(
        "narrow grids, large weights",
        59,
        8,
        &[160, 256],
        Shapes {
            image_channels: &[128, 144],
            max_size: 10,
            max_batch: 9,
        },
    );
}

/// D's 64→128 and 128→128 layers and G's 128→64 transposed layer at the tutorial's shapes (8×8
/// and 4×4 grids, weights past 512 KiB: the channel-vectorised forms on AVX-512), values and
/// the gradients of x, the weights and the bias against burn's own operations.
#[test]
fn the_tutorial_narrow_layers_match_burn_at_their_real_shapes() {
    let device = device();
    let mut rng = ChaCha8Rng::seed_from_u64(17);
    for (cin, cout, stride) in [(64, 128, 1), (128, 128, 2)] {
        let conv = Conv2dConfig::new([cin, cout], [5, 5])
            .with_padding(PaddingConfig2d::Explicit(2, 2, 2, 2))
            .with_stride([stride, stride])
            .init(&device);
        let x = random_tensor(&mut rng, [5, cin, 8, 8], &device);
        let (w, b) = (conv.weight.val(), conv.bias.as_ref().expect("bias").val());
        let options = ConvOptions::new([stride, stride], [2, 2], [1, 1], 1);
        let (ours, reference) = conv_against_burn(&x, &w, &b, &options, 3);
        assert_runs_match(&format!("D's {cin}→{cout} layer"), ours, reference);
    }
    let up = ConvTranspose2dConfig::new([128, 64], [5, 5])
        .with_stride([2, 2])
        .with_padding([2, 2])
        .with_padding_out([1, 1])
        .init(&device);
    let x = random_tensor(&mut rng, [5, 128, 4, 4], &device);
    let (w, b) = (up.weight.val(), up.bias.as_ref().expect("bias").val());
    let options = ConvTransposeOptions::new([2, 2], [2, 2], [1, 1], [1, 1], 1);
    let (ours, reference) = conv_transpose_against_burn(&x, &w, &b, &options, 4);
    assert_eq!(ours.out.len(), 5 * 64 * 8 * 8);
    assert_runs_match("G's 128→64 transposed layer", ours, reference);
}

#[test]
fn in_place_and_portable_convolutions_match_a_hand_computation() {
    // One 1-channel 2×3 image, 2×2 kernel, stride 1, no padding: windows 1×2.
    let g = gemm_conv::Geometry {
        channels: 1,
        size: [2, 3],
        kernel: [2, 2],
        stride: [1, 1],
        pad: [0, 0],
        windows: [1, 2],
    };
    let image = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
    let weight = [1.0, 10.0, 100.0, 1000.0];
    // The dispatching functions (what a CPU without the in-place kernels runs, and every CPU on a
    // grid this narrow), the GEMM forms, and the in-place forms on every instruction set this
    // CPU runs.
    for form in Form::all("hand computation") {
        // Window 0 reads 1, 2, 4, 5; window 1 reads 2, 3, 5, 6.
        let y = form.correlate(&image, &g, &weight, 1, Some(&[0.5]));
        assert_eq!(y, vec![5421.5, 6532.5], "{form:?} correlate");
        // The weight gradient of Σ y·[1, −1]: window 0's entries minus window 1's.
        let dw = form.weight_gradient(&image, &[1.0, -1.0], &g, 1);
        assert_eq!(dw, vec![-1.0, -1.0, -1.0, -1.0], "{form:?} weight gradient");
        // The transposed product: each y value spread over its window.
        let back = form.scatter(&[1.0, 2.0], &g, &weight, 1, None);
        assert_eq!(
            back,
            vec![1.0, 12.0, 20.0, 100.0, 1200.0, 2000.0],
            "{form:?} scatter"
        );
    }
}

/// A BatchNorm layer with random gamma and beta (the same for the same seed).
/// One normalisation layer's run on a copy of `x` that requires its gradient, with the kernels on
/// (`fused`) or off: its output, and the gradients of Σ y·r (r drawn from `r_seed`) with respect
/// to x and to the layer's gamma and beta (empty for a layer without them).
fn norm_run(
    x: &Tensor<4>,
    fused: bool,
    r_seed: u64,
    forward: impl FnOnce(Tensor<4>) -> Tensor<4>,
    [gamma, beta]: [Option<&burn::module::Param<Tensor<1>>>; 2],
) -> Run {
    let x = x.clone().detach().require_grad();
    kernels::set_enabled(fused);
    let y = forward(x.clone());
    kernels::set_enabled(true);
    let r = random_tensor(
        &mut ChaCha8Rng::seed_from_u64(r_seed),
        x.dims(),
        &x.device(),
    );
    let grads = (y.clone() * r).sum().backward();
    let param_grad = |p: Option<&burn::module::Param<Tensor<1>>>| {
        p.map_or_else(Vec::new, |p| {
            values(p.grad(&grads).expect("a parameter's gradient"))
        })
    };
    Run {
        out: values(y),
        dx: values(x.grad(&grads).expect("x gradient")),
        dw: param_grad(gamma),
        db: param_grad(beta),
    }
}

fn batch_norm_layer(channels: usize, seed: u64, device: &Device) -> burn::nn::BatchNorm {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut layer = burn::nn::BatchNormConfig::new(channels).init(device);
    layer.gamma = burn::module::Param::from_tensor(random_tensor(&mut rng, [channels], device));
    layer.beta = burn::module::Param::from_tensor(random_tensor(&mut rng, [channels], device));
    layer
}

#[test]
fn fused_batch_norm_matches_burn_with_and_without_leaky_relu() {
    let device = device();
    let mut rng = ChaCha8Rng::seed_from_u64(16);
    for (case, (shape, slope)) in [
        ([4, 3, 5, 7], Some(0.3)),
        ([1, 2, 3, 3], None),
        ([7, 5, 1, 1], Some(0.2)),
        ([3, 16, 64, 64], Some(0.3)),
    ]
    .into_iter()
    .enumerate()
    {
        let channels = shape[1];
        let x = random_tensor(&mut rng, shape, &device)
            .mul_scalar(3.0)
            .add_scalar(0.5);
        let label = format!("batch norm case {case} {shape:?} slope {slope:?}");
        let run_layer = |fused: bool| {
            let layer = batch_norm_layer(channels, case as u64, &device);
            let run = norm_run(
                &x,
                fused,
                99,
                |x| kernels::batch_norm(&layer, x, slope),
                [Some(&layer.gamma), Some(&layer.beta)],
            );
            let running = [
                values(layer.running_mean.value()),
                values(layer.running_var.value()),
            ];
            (run, running)
        };
        let (ours, our_running) = run_layer(true);
        let (reference, burn_running) = run_layer(false);
        assert_close(
            &format!("{label} running mean"),
            &our_running[0],
            &burn_running[0],
        );
        assert_close(
            &format!("{label} running variance"),
            &our_running[1],
            &burn_running[1],
        );
        assert_runs_match(&label, ours, reference);
    }
}

/// A GroupNorm layer with random gamma and beta (the same for the same seed), or none.
fn group_norm_layer(
    groups: usize,
    channels: usize,
    affine: bool,
    seed: u64,
    device: &Device,
) -> burn::nn::GroupNorm {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut layer = burn::nn::GroupNormConfig::new(groups, channels)
        .with_affine(affine)
        .init(device);
    if affine {
        layer.gamma = Some(burn::module::Param::from_tensor(random_tensor(
            &mut rng,
            [channels],
            device,
        )));
        layer.beta = Some(burn::module::Param::from_tensor(random_tensor(
            &mut rng,
            [channels],
            device,
        )));
    }
    layer
}

#[test]
fn fused_group_norm_matches_burn_in_values_and_gradients() {
    let device = device();
    let mut rng = ChaCha8Rng::seed_from_u64(18);
    // LayerNorm (one group) as D uses it, several groups, instance norm (a group per channel),
    // no affine parameters; a batch of one, odd planes, 1×1 planes, the step's 64×64.
    for (case, (shape, groups, affine, slope)) in [
        ([4, 3, 5, 7], 1, true, Some(0.3)),
        ([1, 6, 3, 3], 3, true, None),
        ([5, 4, 1, 1], 2, true, Some(0.2)),
        ([3, 5, 4, 3], 5, true, Some(0.3)),
        ([2, 4, 3, 5], 1, false, Some(0.3)),
        ([3, 16, 64, 64], 1, true, Some(0.3)),
    ]
    .into_iter()
    .enumerate()
    {
        let channels = shape[1];
        // Offset and scaled per image so that each image's statistics differ.
        let x = random_tensor(&mut rng, shape, &device)
            .mul_scalar(3.0)
            .add_scalar(0.5);
        let label = format!("group norm case {case} {shape:?} groups {groups} slope {slope:?}");
        let run_layer = |fused: bool| {
            let layer = group_norm_layer(groups, channels, affine, case as u64, &device);
            norm_run(
                &x,
                fused,
                98,
                |x| kernels::group_norm(&layer, x, slope),
                [layer.gamma.as_ref(), layer.beta.as_ref()],
            )
        };
        assert_runs_match(&label, run_layer(true), run_layer(false));
    }
}

#[test]
fn fused_instance_norm_matches_burn_with_relu_and_leaky() {
    // CycleGAN's InstanceNorm + ReLU (slope 0) in its generator, + LeakyReLU 0.2 in its
    // discriminator, and without an activation at a residual block's end.
    let device = device();
    let mut rng = ChaCha8Rng::seed_from_u64(19);
    for (case, (shape, slope)) in [
        ([2, 8, 16, 16], Some(0.0)),
        ([3, 4, 5, 6], Some(0.2)),
        ([2, 6, 7, 7], None),
    ]
    .into_iter()
    .enumerate()
    {
        let channels = shape[1];
        let x = random_tensor(&mut rng, shape, &device)
            .mul_scalar(2.0)
            .sub_scalar(0.4);
        let label = format!("instance norm case {case} {shape:?} slope {slope:?}");
        let run_layer = |fused: bool| {
            let mut layer = burn::nn::InstanceNormConfig::new(channels).init(&device);
            let mut prng = ChaCha8Rng::seed_from_u64(case as u64);
            layer.gamma = Some(burn::module::Param::from_tensor(random_tensor(
                &mut prng,
                [channels],
                &device,
            )));
            layer.beta = Some(burn::module::Param::from_tensor(random_tensor(
                &mut prng,
                [channels],
                &device,
            )));
            norm_run(
                &x,
                fused,
                97,
                |x| kernels::instance_norm(&layer, x, slope),
                [layer.gamma.as_ref(), layer.beta.as_ref()],
            )
        };
        let (fused, burn) = (run_layer(true), run_layer(false));
        if slope == Some(0.0) {
            // ReLU: about half the outputs are exactly zero, as burn's.
            let zeros = fused.out.iter().filter(|&&v| v == 0.0).count();
            assert!(zeros * 3 > fused.out.len(), "{label}: {zeros} zeros");
        }
        assert_runs_match(&label, fused, burn);
    }
}

#[test]
fn group_norm_kernel_normalises_each_image_by_hand() {
    // Two images of two channels of two pixels, one group: image 0 holds 1, 2 | 3, 4 (mean 2.5,
    // variance 1.25), image 1 holds 0, 0 | 4, 4 (mean 2, variance 4); gamma 2 and 1, beta 0 and
    // −½, LeakyReLU slope ½.
    use ganforge::kernels::batch_norm::NormParams;
    use ganforge::kernels::group_norm::{self, GroupLayout};
    let x = [1.0, 2.0, 3.0, 4.0, 0.0, 0.0, 4.0, 4.0];
    let layout = GroupLayout {
        batch: 2,
        channels: 2,
        groups: 1,
        plane: 2,
    };
    let params = NormParams {
        gamma: &[2.0, 1.0],
        beta: &[0.0, -0.5],
        epsilon: 1e-5,
        slope: 0.5,
    };
    let (y, stats) = group_norm::forward(&x, layout, &params);
    let (s0, s1) = (1.0 / (1.25f64 + 1e-5).sqrt(), 1.0 / (4.0f64 + 1e-5).sqrt());
    let z = [
        2.0 * (1.0 - 2.5) * s0,
        2.0 * (2.0 - 2.5) * s0,
        (3.0 - 2.5) * s0 - 0.5,
        (4.0 - 2.5) * s0 - 0.5,
        2.0 * (0.0 - 2.0) * s1,
        2.0 * (0.0 - 2.0) * s1,
        (4.0 - 2.0) * s1 - 0.5,
        (4.0 - 2.0) * s1 - 0.5,
    ];
    let expected: Vec<f32> = z
        .iter()
        .map(|&z: &f64| (if z > 0.0 { z } else { 0.5 * z }) as f32)
        .collect();
    assert_close("hand group norm", &y, &expected);
    assert_eq!(stats.mean, vec![2.5, 2.0]);
    // The gradients of Σ y. beta's counts each channel's values at slope 1 or ½: channel 0 is
    // negative throughout (4 × ½), channel 1 negative once (½ + 3).
    let (dx, _, d_beta) = group_norm::backward(&x, &[1.0; 8], layout, &params, &stats);
    assert_close("hand beta gradient", &d_beta, &[2.0, 3.5]);
    // A normalised group's input gradient sums to zero over the group (a shift of the whole
    // image changes nothing).
    for image in dx.chunks(4) {
        let total: f32 = image.iter().sum();
        assert!(
            total.abs() < 1e-5,
            "an image's input gradient sums to {total}"
        );
    }
}

#[test]
fn batch_norm_in_inference_uses_the_running_statistics() {
    let device = Device::flex();
    let mut rng = ChaCha8Rng::seed_from_u64(17);
    let layer = batch_norm_layer(3, 5, &device);
    let x = random_tensor(&mut rng, [2, 3, 4, 4], &device);
    // Fresh running statistics are mean 0 and variance 1: y = leaky(gamma·x/√(1 + ε) + beta).
    let gamma = values(layer.gamma.val());
    let beta = values(layer.beta.val());
    let expected: Vec<f32> = values(x.clone())
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let c = (i / 16) % 3;
            let z = gamma[c] * v / (1.0f32 + 1e-5).sqrt() + beta[c];
            if z > 0.0 { z } else { 0.3 * z }
        })
        .collect();
    assert_close(
        "inference batch norm",
        &values(kernels::batch_norm(&layer, x, Some(0.3))),
        &expected,
    );
}

#[test]
fn tanh_kernel_matches_libm_to_a_few_ulp_and_burn_in_value_and_gradient() {
    use ganforge::kernels::activation;
    // Every scale from 1e-8 to 100, both signs, zeros, and the saturated tails.
    let mut xs: Vec<f32> = vec![0.0, -0.0, 1e-30, 9.0, -9.0, 50.0, -88.0, 1e4, f32::MAX];
    let mut x = 1e-8f32;
    while x < 100.0 {
        xs.extend([x, -x]);
        x *= 1.001;
    }
    let specials = activation::tanh(&[f32::NAN, f32::INFINITY, f32::NEG_INFINITY]);
    assert!(specials[0].is_nan(), "a NaN stays NaN: {}", specials[0]);
    assert_eq!(&specials[1..], &[1.0, -1.0]);
    let ours = activation::tanh(&xs);
    for (&x, &y) in xs.iter().zip(&ours) {
        let reference = x.tanh();
        assert!(
            (y - reference).abs() <= 4.0 * f32::EPSILON * reference.abs().max(1e-30),
            "tanh({x}) = {y}, libm {reference}"
        );
        assert_eq!(y.is_sign_negative(), x.is_sign_negative(), "tanh({x}) sign");
    }
    // Through the backend extension, under autodiff: value and gradient of Σ tanh(x)·r.
    let device = device();
    let mut rng = ChaCha8Rng::seed_from_u64(25);
    let x = random_tensor(&mut rng, [2, 3, 5, 7], &device).mul_scalar(3.0);
    let r = random_tensor(&mut rng, [2, 3, 5, 7], &device);
    let run = |ours: bool| {
        let x = x.clone().detach().require_grad();
        let y = if ours {
            kernels::tanh(x.clone())
        } else {
            burn::tensor::activation::tanh(x.clone())
        };
        let grads = (y.clone() * r.clone()).sum().backward();
        (values(y), values(x.grad(&grads).expect("x gradient")))
    };
    let ((y, dx), (y_burn, dx_burn)) = (run(true), run(false));
    assert_close("tanh value", &y, &y_burn);
    assert_close("tanh gradient", &dx, &dx_burn);
}

#[test]
fn leaky_kernel_matches_burn_in_value_and_gradient_and_by_hand() {
    use ganforge::kernels::activation;
    // By hand: positives pass, the rest scale by the slope; the gradient follows the output's
    // sign (positive exactly where the input is, for a slope ≥ 0).
    let x = [2.0, -1.0, 0.0, -4.0, 0.5];
    assert_eq!(
        activation::leaky(&x, 0.25),
        vec![2.0, -0.25, 0.0, -1.0, 0.5]
    );
    let y = activation::leaky(&x, 0.25);
    assert_eq!(
        activation::leaky_backward(&y, &[1.0, 2.0, 3.0, 4.0, 5.0], 0.25),
        vec![1.0, 0.5, 0.75, 1.0, 5.0]
    );
    assert!(
        activation::leaky(&[f32::NAN], 0.2)[0].is_nan(),
        "a NaN stays NaN"
    );
    // Through the backend extension, under autodiff, against burn's `leaky_relu` and `relu`: a
    // tensor larger than one parallel chunk, with a ragged end. A negative slope takes the
    // portable path and must agree too.
    let device = device();
    let mut rng = ChaCha8Rng::seed_from_u64(26);
    let shape = [3, 5, 67, 71];
    let x = random_tensor(&mut rng, shape, &device);
    let r = random_tensor(&mut rng, shape, &device);
    for slope in [0.2, 0.0, -0.5] {
        let run = |ours: bool| {
            let x = x.clone().detach().require_grad();
            let y = match (ours, slope == 0.0) {
                (true, _) => kernels::leaky(x.clone(), slope),
                (false, true) => burn::tensor::activation::relu(x.clone()),
                (false, false) => burn::tensor::activation::leaky_relu(x.clone(), slope),
            };
            let grads = (y.clone() * r.clone()).sum().backward();
            (values(y), values(x.grad(&grads).expect("x gradient")))
        };
        let ((y, dx), (y_burn, dx_burn)) = (run(true), run(false));
        assert_close(&format!("leaky {slope} value"), &y, &y_burn);
        assert_close(&format!("leaky {slope} gradient"), &dx, &dx_burn);
    }
}

#[test]
fn translation_kernel_matches_the_gather_form_in_value_and_gradient_and_by_hand() {
    let device = device();
    let mut rng = ChaCha8Rng::seed_from_u64(23);
    let shape = [5, 3, 7, 9];
    // Each image its own shift: none, within the image both ways, and wholly outside it.
    let shifts = [(0, 0), (2, -3), (-1, 4), (-7, 2), (6, -8)];
    let x = random_tensor(&mut rng, shape, &device);
    let r = random_tensor(&mut rng, shape, &device);
    let pass = |enabled: bool| {
        kernels::set_enabled(enabled);
        let x = x.clone().detach().require_grad();
        let out = kernels::translate(x.clone(), &shifts);
        let grads = (out.clone() * r.clone()).sum().backward();
        kernels::set_enabled(true);
        (values(out), values(x.grad(&grads).expect("x gradient")))
    };
    let (ours, ours_dx) = pass(true);
    let (gathered, gathered_dx) = pass(false);
    assert_eq!(ours, gathered, "values");
    assert_eq!(ours_dx, gathered_dx, "gradients");
    // By hand: out[n, c, i, j] = x[n, c, i + dy, j + dx] inside, else 0; the gradient is r moved
    // back the other way.
    let (xv, rv) = (values(x), values(r));
    let [_, c, h, w] = shape;
    let at = |n: usize, ch: usize, i: i64, j: i64| ((n * c + ch) * h + i as usize) * w + j as usize;
    let inside = |i: i64, j: i64| (0..h as i64).contains(&i) && (0..w as i64).contains(&j);
    for (n, &(dy, dx)) in shifts.iter().enumerate() {
        for ch in 0..c {
            for i in 0..h as i64 {
                for j in 0..w as i64 {
                    let expected = if inside(i + dy, j + dx) {
                        xv[at(n, ch, i + dy, j + dx)]
                    } else {
                        0.0
                    };
                    assert_eq!(ours[at(n, ch, i, j)], expected, "image {n} ({i}, {j})");
                    let back = if inside(i - dy, j - dx) {
                        rv[at(n, ch, i - dy, j - dx)]
                    } else {
                        0.0
                    };
                    assert_eq!(ours_dx[at(n, ch, i, j)], back, "gradient {n} ({i}, {j})");
                }
            }
        }
    }
    assert!(
        ours[at(3, 0, 0, 0)..at(4, 0, 0, 0)]
            .iter()
            .all(|&v| v == 0.0)
    );
}

#[test]
fn transposition_matches_the_definition_in_whole_and_partial_blocks() {
    // 16 × 16 blocks go through registers on AVX-512 (four rounds of shuffles), the edges and
    // other CPUs element by element; every value must land at its transposed place.
    for (m, n) in [
        (1, 1),
        (16, 16),
        (32, 48),
        (17, 33),
        (128, 64),
        (3, 100),
        (100, 16),
    ] {
        let matrix: Vec<f32> = (0..m * n).map(|v| v as f32).collect();
        let out = direct_conv::transposed(&matrix, m, n);
        for i in 0..m {
            for j in 0..n {
                assert_eq!(out[j * m + i], matrix[i * n + j], "{m}×{n} at ({i}, {j})");
            }
        }
    }
}
