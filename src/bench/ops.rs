//! `ganforge bench ops`: each operation of the tutorial's training step at its real shape, forward
//! and forward + backward, so that the slow parts of a step are visible.

use std::time::Instant;

use burn::nn::conv::{Conv2dConfig, ConvTranspose2dConfig};
use burn::nn::{BatchNormConfig, GroupNormConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::leaky_relu;

use crate::config::TrainConfig;
use crate::device::DeviceChoice;
use crate::error::Result;
use crate::kernels;

/// One operation at one shape.
#[derive(Debug, Clone)]
pub struct OpTiming {
    pub name: String,
    /// Input shape, `[batch, channels, side, side]`.
    pub input: [usize; 4],
    pub forward_ms: f64,
    pub forward_backward_ms: f64,
    /// Forward FLOPs (a multiply-add is two); 0 for element-wise operations.
    pub flops: f64,
    /// burn's own form of an operation the models run another way, shown for comparison.
    pub alternative: bool,
}

impl OpTiming {
    fn alternative(self) -> Self {
        Self {
            alternative: true,
            ..self
        }
    }

    /// Forward GFLOP/s, for the operations that have a FLOP count.
    pub fn forward_gflops(&self) -> Option<f64> {
        (self.flops > 0.0).then(|| self.flops / (self.forward_ms / 1e3) / 1e9)
    }
}

/// Milliseconds per call of `f`, after `warmup` calls, over `iters`.
fn time_ms(warmup: usize, iters: usize, mut f: impl FnMut()) -> f64 {
    for _ in 0..warmup {
        f();
    }
    let started = Instant::now();
    for _ in 0..iters {
        f();
    }
    started.elapsed().as_secs_f64() * 1e3 / iters.max(1) as f64
}

/// Forces a lazy backend to finish.
fn sync<const D: usize>(t: Tensor<D>) {
    let _ = t.sum().into_scalar::<f32>();
}

fn random(shape: [usize; 4], device: &Device) -> Tensor<4> {
    Tensor::<4>::random(shape, burn::tensor::Distribution::Normal(0.0, 1.0), device)
}

/// Where and how long to time.
struct Timing<'a> {
    inner: &'a Device,
    autodiff: &'a Device,
    warmup: usize,
    iters: usize,
}

impl Timing<'_> {
    /// One operation forward (on the inference device) and forward + backward (on the autodiff
    /// device, the input requiring a gradient as inside a network).
    fn op(
        &self,
        name: String,
        input: [usize; 4],
        flops: f64,
        forward: impl Fn(Tensor<4>) -> Tensor<4>,
        forward_ad: impl Fn(Tensor<4>) -> Tensor<4>,
    ) -> OpTiming {
        let x = random(input, self.inner);
        let forward_ms = time_ms(self.warmup, self.iters, || sync(forward(x.clone())));
        let x_ad = random(input, self.autodiff).require_grad();
        let forward_backward_ms = time_ms(self.warmup, self.iters, || {
            let _ = forward_ad(x_ad.clone()).sum().backward();
        });
        OpTiming {
            name,
            input,
            forward_ms,
            forward_backward_ms,
            flops,
            alternative: false,
        }
    }

    /// burn's form of an operation (`burn`: forward, forward under autodiff), named `name
    /// (burn)`, then the form the models use (`ours`).
    fn compare<A, B, C, D>(
        &self,
        name: String,
        input: [usize; 4],
        flops: f64,
        burn: (A, B),
        ours: (C, D),
    ) -> [OpTiming; 2]
    where
        A: Fn(Tensor<4>) -> Tensor<4>,
        B: Fn(Tensor<4>) -> Tensor<4>,
        C: Fn(Tensor<4>) -> Tensor<4>,
        D: Fn(Tensor<4>) -> Tensor<4>,
    {
        [
            self.op(format!("{name} (burn)"), input, flops, burn.0, burn.1)
                .alternative(),
            self.op(name, input, flops, ours.0, ours.1),
        ]
    }
}

/// Times every operation of the DCGAN at `config`'s shape.
pub fn profile_ops(
    config: &TrainConfig,
    device: DeviceChoice,
    warmup: usize,
    iters: usize,
) -> Result<Vec<OpTiming>> {
    let inner = device.device()?;
    let ad = inner.clone().autodiff();
    let timing = Timing {
        inner: &inner,
        autodiff: &ad,
        warmup,
        iters,
    };
    let (b, k, c) = (
        config.schedule.batch,
        config.networks.filter,
        config.networks.capacity,
    );
    let pad = k / 2;
    let mut out = Vec::new();

    // Convolutions of D's blocks: (cin, cout, side in, stride).
    let mut side = config.input.spatial;
    let mut cin = config.input.channels;
    let mut convs = Vec::new();
    for m in [1, 2, 4, 8] {
        let cout = m * c;
        convs.push((cin, cout, side, 1));
        convs.push((cout, cout, side, 2));
        side /= 2;
        cin = cout;
    }
    // G's last layer: back to the image's channels at full resolution.
    convs.push((c, config.input.channels, config.input.spatial, 1));
    for (cin, cout, side, stride) in convs {
        let side_out = side / stride;
        let make = |device: &Device| {
            Conv2dConfig::new([cin, cout], [k, k])
                .with_stride([stride, stride])
                .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
                .init(device)
        };
        let (conv, conv_ad) = (make(&inner), make(&ad));
        let flops = 2.0 * (b * cin * cout * k * k * side_out * side_out) as f64;
        let name = format!("conv {cin}→{cout} k{k} s{stride}");
        let input = [b, cin, side, side];
        out.extend(timing.compare(
            name,
            input,
            flops,
            (|x| conv.forward(x), |x| conv_ad.forward(x)),
            (|x| kernels::conv(&conv, x), |x| kernels::conv(&conv_ad, x)),
        ));
    }

    // Transposed convolutions of G's blocks.
    let mut side = config.input.spatial / 16;
    let mut cin = 8 * c;
    for m in [4, 2, 1, 1] {
        let cout = m * c;
        let make = |device: &Device| {
            ConvTranspose2dConfig::new([cin, cout], [k, k])
                .with_stride([2, 2])
                .with_padding([pad, pad])
                .with_padding_out([1, 1])
                .init(device)
        };
        let (conv, conv_ad) = (make(&inner), make(&ad));
        let flops = 2.0 * (b * cin * cout * k * k * side * side) as f64;
        let name = format!("conv-transpose {cin}→{cout} k{k} s2");
        let input = [b, cin, side, side];
        out.extend(timing.compare(
            name,
            input,
            flops,
            (|x| conv.forward(x), |x| conv_ad.forward(x)),
            (
                |x| kernels::conv_transpose(&conv, x),
                |x| kernels::conv_transpose(&conv_ad, x),
            ),
        ));
        side *= 2;
        cin = cout;
    }

    // LeakyReLU alone, as the modern recipe's D (no normalisation) applies it.
    for (channels, side) in [(c, config.input.spatial), (2 * c, config.input.spatial / 2)] {
        let input = [b, channels, side, side];
        let name = format!("leaky-relu {channels}");
        out.extend(timing.compare(
            name,
            input,
            0.0,
            (|x| leaky_relu(x, 0.2), |x| leaky_relu(x, 0.2)),
            (|x| kernels::leaky(x, 0.2), |x| kernels::leaky(x, 0.2)),
        ));
    }

    // BatchNorm (training statistics) and LayerNorm, each then LeakyReLU, at the largest
    // activations of D and G: burn's two operations, and the fused kernel the models use.
    for (channels, side) in [
        (c, config.input.spatial),
        (c, config.input.spatial / 2),
        (4 * c, config.input.spatial / 8),
    ] {
        let input = [b, channels, side, side];
        let norm = BatchNormConfig::new(channels).init(&inner);
        let norm_ad = BatchNormConfig::new(channels).init(&ad);
        let name = format!("batchnorm + leaky-relu {channels}");
        out.extend(timing.compare(
            name,
            input,
            0.0,
            (
                |x| leaky_relu(norm.forward(x), 0.3),
                |x| leaky_relu(norm_ad.forward(x), 0.3),
            ),
            (
                |x| kernels::batch_norm(&norm, x, Some(0.3)),
                |x| kernels::batch_norm(&norm_ad, x, Some(0.3)),
            ),
        ));

        // D's `layer` normalisation: GroupNorm with one group, per image.
        let norm = GroupNormConfig::new(1, channels).init(&inner);
        let norm_ad = GroupNormConfig::new(1, channels).init(&ad);
        let name = format!("layernorm + leaky-relu {channels}");
        out.extend(timing.compare(
            name,
            input,
            0.0,
            (
                |x| leaky_relu(norm.forward(x), 0.3),
                |x| leaky_relu(norm_ad.forward(x), 0.3),
            ),
            (
                |x| kernels::group_norm(&norm, x, Some(0.3)),
                |x| kernels::group_norm(&norm_ad, x, Some(0.3)),
            ),
        ));
    }
    Ok(out)
}
