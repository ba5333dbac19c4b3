use burn::prelude::*;
use ganforge::models::{DcganDiscriminatorConfig, DcganGeneratorConfig};
use ganforge::models::{DiscriminatorNet, GeneratorNet};

#[test]
fn generator_and_discriminator_shapes_follow_the_configuration() {
    let device = Device::flex();
    for (spatial, channels, capacity, latent) in [
        (16, 1, 4, 10),
        (32, 3, 4, 100),
        (64, 3, 8, 100),
        (64, 1, 2, 7),
        (128, 3, 2, 20),
    ] {
        let g = DcganGeneratorConfig::new(spatial, channels)
            .with_capacity(capacity)
            .with_latent(latent)
            .init(&device);
        let images = g.forward(Tensor::random(
            [3, latent],
            burn::tensor::Distribution::Normal(0.0, 1.0),
            &device,
        ));
        assert_eq!(images.dims(), [3, channels, spatial, spatial]);
        let values = ganforge::tensor_values(images.clone());
        assert!(
            values.iter().all(|v| (-1.0..=1.0).contains(v)),
            "tanh output lies in [-1, 1]"
        );

        let d = DcganDiscriminatorConfig::new(channels)
            .with_capacity(capacity)
            .init(&device);
        assert_eq!(d.features(images.clone()).dims(), [3, 8 * capacity]);
        assert_eq!(d.forward(images.clone()).dims(), [3, 1]);
        let p = ganforge::tensor_values(d.probability(images));
        assert!(p.iter().all(|v| *v > 0.0 && *v < 1.0));
    }
}

#[test]
fn kernel_size_changes_weights_not_shapes() {
    let device = Device::flex();
    for filter in [3, 5, 7] {
        let g = DcganGeneratorConfig::new(32, 3)
            .with_capacity(2)
            .with_filter(filter)
            .init(&device);
        let images = g.forward(Tensor::zeros([2, 100], &device));
        assert_eq!(images.dims(), [2, 3, 32, 32]);
        let d = DcganDiscriminatorConfig::new(3)
            .with_capacity(2)
            .with_filter(filter)
            .init(&device);
        assert_eq!(d.forward(images).dims(), [2, 1]);
    }
    // The stride-2 kernels apart (`resample_filter`): every side from 2 to 7, even ones too,
    // still halves and doubles the side exactly.
    for (resample, spatial) in (2..=7).flat_map(|k| [(k, 16), (k, 64)]) {
        let g = DcganGeneratorConfig::new(spatial, 3)
            .with_capacity(2)
            .with_filter(3)
            .with_resample_filter(Some(resample))
            .init(&device);
        let images = g.forward(Tensor::zeros([2, 100], &device));
        assert_eq!(images.dims(), [2, 3, spatial, spatial], "{resample}");
        let d = DcganDiscriminatorConfig::new(3)
            .with_capacity(2)
            .with_filter(3)
            .with_resample_filter(Some(resample))
            .init(&device);
        assert_eq!(d.features(images.clone()).dims(), [2, 16], "{resample}");
        assert_eq!(d.forward(images).dims(), [2, 1]);
    }
}

#[test]
fn discriminator_has_the_tutorial_layer_sizes() {
    // 4 blocks × 2 convolutions of k×k with capacity × 1, 2, 4, 8 filters, each followed by a
    // BatchNorm (γ, β), and a dense head: count the trainable weights by hand.
    let (c, k, ch) = (4usize, 5usize, 3usize);
    let widths = [c, 2 * c, 4 * c, 8 * c];
    let mut expected = 0;
    let mut cin = ch;
    for w in widths {
        expected += cin * w * k * k + w + 2 * w; // conv + bias + BN
        expected += w * w * k * k + w + 2 * w; // strided conv + bias + BN
        cin = w;
    }
    expected += 8 * c + 1;
    let d = DcganDiscriminatorConfig::new(ch)
        .with_capacity(c)
        .init(&Device::flex().autodiff());
    let trainable: usize = ganforge::models::parameter_values(&d)
        .iter()
        .filter(|p| p.trainable)
        .map(|p| p.values.len())
        .sum();
    assert_eq!(trainable, expected);
}

#[test]
fn the_masked_leaky_relu_has_burns_values_and_gradients() {
    use burn::tensor::activation::leaky_relu;
    let device = Device::flex().autodiff();
    let values: Vec<f32> = (0..64).map(|i| (i as f32 - 31.5) / 7.0).collect();
    let x = || {
        Tensor::<4>::from_data(TensorData::new(values.clone(), [2, 2, 4, 4]), &device)
            .require_grad()
    };
    let (a, b) = (x(), x());
    let (ya, yb) = (
        ganforge::models::leaky(a.clone(), 0.3),
        leaky_relu(b.clone(), 0.3),
    );
    assert_eq!(
        ganforge::tensor_values(ya.clone()),
        ganforge::tensor_values(yb.clone())
    );
    // A weighted sum, so that each element's gradient is its slope times its weight.
    let w = Tensor::<4>::from_data(
        TensorData::new((0..64).map(|i| i as f32).collect::<Vec<_>>(), [2, 2, 4, 4]),
        &device,
    );
    let (ga, gb) = ((ya * w.clone()).sum().backward(), (yb * w).sum().backward());
    assert_eq!(
        ganforge::tensor_values(a.grad(&ga).unwrap()),
        ganforge::tensor_values(b.grad(&gb).unwrap())
    );
}

// The hand computation keeps its factors of 1, one per channel count.
#[allow(clippy::identity_op)]
#[test]
fn a_tiny_dcgan_counts_its_flops_as_by_hand() {
    use ganforge::models::{Discriminator, Generator, NormKind};
    let device = Device::flex();
    // D on 16×16 grey, capacity 1, 3×3 kernels: per image, Cin·Cout·9·(output side)² multiply-adds
    // per convolution, then the 8 → 1 head.
    let d = DcganDiscriminatorConfig::new(1)
        .with_capacity(1)
        .with_filter(3)
        .with_norm(NormKind::None)
        .init(&device);
    let convs = 9 * (1 * 1 * 256 + 1 * 1 * 64) // block 1: 16×16, then stride 2 to 8×8
        + 9 * (1 * 2 * 64 + 2 * 2 * 16) // block 2: 8×8, 4×4
        + 9 * (2 * 4 * 16 + 4 * 4 * 4) // block 3: 4×4, 2×2
        + 9 * (4 * 8 * 4 + 8 * 8 * 1); // block 4: 2×2, 1×1
    assert_eq!(convs, 8064);
    assert_eq!(d.forward_flops([2, 1, 16, 16]), 2 * 2 * (convs + 8));
    assert_eq!(d.input_gradient_flops([2, 1, 16, 16]), 2 * 2 * 2 * convs);
    // At 32×32 every activation has 4× the pixels, the head the same.
    assert_eq!(d.forward_flops([1, 1, 32, 32]), 2 * (4 * convs + 8));
    let d = Discriminator::from(d);
    assert_eq!(d.forward_flops([3, 1, 16, 16]), 3 * 2 * (convs + 8));
    // Packed by 2: half the inputs, the first convolution reads 2 channels; conditional: one
    // 8-value inner product with the class embedding per input.
    let packed = DcganDiscriminatorConfig::new(1)
        .with_capacity(1)
        .with_filter(3)
        .with_pack(2)
        .with_classes(10)
        .init(&device);
    assert_eq!(
        packed.forward_flops([4, 1, 16, 16]),
        2 * 2 * (convs + 9 * 256 + 8 + 8)
    );

    // G to 16×16 grey from 4 noise values, capacity 1, 3×3 kernels: dense 4 → 1·1·8, transposed
    // convolutions Cin·Cout·9·(input side)² (8→4 at 1×1, 4→2 at 2×2, 2→1 at 4×4, 1→1 at 8×8),
    // the last convolution 1→1 at 16×16.
    let g = DcganGeneratorConfig::new(16, 1)
        .with_latent(4)
        .with_capacity(1)
        .with_filter(3)
        .init(&device);
    let per_image = 4 * 8 + 9 * (8 * 4 + 4 * 2 * 4 + 2 * 16 + 64) + 9 * 256;
    assert_eq!(per_image, 3776);
    assert_eq!(g.forward_flops(3), 2 * 3 * per_image);
    assert_eq!(Generator::from(g).forward_flops(1), 2 * per_image);
    // Conditional, with a 5-value label embedding: the dense layer reads 4 + 5 inputs.
    let g = DcganGeneratorConfig::new(16, 1)
        .with_latent(4)
        .with_capacity(1)
        .with_filter(3)
        .with_classes(10)
        .with_label_embedding(5)
        .init(&device);
    assert_eq!(g.forward_flops(1), 2 * (per_image + 5 * 8));

    // Doubling by nearest neighbour, each block's convolution then runs at its output side:
    // 8→4 at 2×2, 4→2 at 4×4, 2→1 at 8×8, 1→1 at 16×16.
    let g = DcganGeneratorConfig::new(16, 1)
        .with_latent(4)
        .with_capacity(1)
        .with_filter(3)
        .with_upsample(ganforge::models::Upsampling::Nearest)
        .init(&device);
    let per_image = 4 * 8 + 9 * (8 * 4 * 4 + 4 * 2 * 16 + 2 * 64 + 256) + 9 * 256;
    assert_eq!(g.forward_flops(2), 2 * 2 * per_image);
}

#[test]
fn a_tiny_mlp_counts_its_flops_as_by_hand() {
    use ganforge::models::{Discriminator, MlpDiscriminatorConfig, MlpGeneratorConfig};
    let device = Device::flex();
    // G: 2 → 3 → 3 → 1·2·2, per row 2·3 + 3·3 + 3·4 multiply-adds.
    let g = MlpGeneratorConfig::new(1, 2)
        .with_latent(2)
        .with_width(3)
        .with_layers(2)
        .init(&device);
    assert_eq!(g.forward_flops(5), 2 * 5 * (6 + 9 + 12));
    // D: 2 samples of 4 values packed into rows of 8 → maxout 3 units × 2 pieces → 3 × 2 → 1.
    let d = MlpDiscriminatorConfig::new(4)
        .with_width(3)
        .with_layers(2)
        .with_pieces(2)
        .with_pack(2)
        .init(&device);
    // 6 samples are 3 rows of 8·6 + 3·6 + 3·1 multiply-adds.
    assert_eq!(d.forward_flops([6, 1, 2, 2]), 2 * 3 * (48 + 18 + 3));
    // The input gradient: each hidden product forward and back with the transposed weights.
    assert_eq!(d.input_gradient_flops([6, 1, 2, 2]), 2 * 3 * 2 * (48 + 18));
    assert_eq!(
        Discriminator::from(d).forward_flops([2, 1, 2, 2]),
        2 * (48 + 18 + 3)
    );
}

#[test]
fn the_flop_counts_follow_the_layers_a_forward_pass_runs() {
    // The count's layer shapes are the ones the forward pass produces: on a 32×32 RGB DCGAN, G's
    // output is D's input, and D's count at that shape is what it runs on G's images.
    let device = Device::flex();
    let g = DcganGeneratorConfig::new(32, 3)
        .with_capacity(2)
        .with_latent(5)
        .init(&device);
    let images = g.forward(Tensor::zeros([2, 5], &device));
    assert_eq!(images.dims(), [2, 3, 32, 32]);
    let d = DcganDiscriminatorConfig::new(3)
        .with_capacity(2)
        .init(&device);
    // Kernel 5: D's convolutions 3→2 at 32², 2→2 at 16², 2→4 at 16², 4→4 at 8², 4→8 at 8², 8→8
    // at 4², 8→16 at 4², 16→16 at 2², then the 16 → 1 head.
    let convs = 25
        * (3 * 2 * 1024
            + 2 * 2 * 256
            + 2 * 4 * 256
            + 4 * 4 * 64
            + 4 * 8 * 64
            + 8 * 8 * 16
            + 8 * 16 * 16
            + 16 * 16 * 4);
    assert_eq!(d.forward_flops(images.dims()), 2 * 2 * (convs + 16));
}

#[test]
fn the_loader_resize_is_bilinear_with_clamped_edges_and_matches_the_data() {
    use ganforge::data::{DataSpec, ImageSet, LoadOptions, resize_weights};
    // 8 → 16: output x samples input (x + 0.5) / 2 − 0.5; the edges clamp.
    let w = resize_weights(8, 16);
    let row = |i: usize| &w[i * 8..(i + 1) * 8];
    assert_eq!(row(0), &[1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
    assert_eq!(row(1), &[0.75, 0.25, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
    assert_eq!(row(2), &[0.25, 0.75, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
    assert_eq!(row(15), &[0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]);
    for i in 0..16 {
        assert!((row(i).iter().sum::<f32>() - 1.0).abs() < 1e-6);
    }

    // The digits loaded at 8×8 and resized by it are the digits the loader makes at 16×16, up
    // to the loader's rounding to 8-bit levels (half a level, 1/255 in [-1, 1]).
    let device = Device::flex();
    let load = |spatial| {
        let options = LoadOptions {
            limit: Some(40),
            ..LoadOptions::new(spatial, 1)
        };
        ImageSet::load(&DataSpec::Digits, options).unwrap()
    };
    let (small, large) = (load(8), load(16));
    let all: Vec<usize> = (0..40).collect();
    let resized = ganforge::models::loader_resize(small.batch(&all, &device), 16);
    assert_eq!(resized.dims(), [40, 1, 16, 16]);
    let resized = ganforge::tensor_values(resized);
    let expected = ganforge::tensor_values(large.batch(&all, &device));
    let worst = resized
        .iter()
        .zip(&expected)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(worst <= 1.0 / 255.0 + 1e-5, "worst difference {worst}");
}

#[test]
fn a_generator_drawing_at_8_gives_resized_8x8_images_and_counts_its_flops() {
    let device = Device::flex();
    let g = DcganGeneratorConfig::new(16, 1)
        .with_latent(4)
        .with_capacity(1)
        .with_filter(3)
        .with_draw_side(Some(8))
        .init(&device);
    // Dense 4 → 8 at 1×1, transposed convolutions 8→4 at 1×1, 4→2 at 2×2, 2→1 at 4×4, the
    // last convolution 1→1 at 8×8, then the resize: 16 outputs of 8 inputs per row of 8, and
    // 16 of 8 per column of 16.
    let per_image = 4 * 8 + 9 * (8 * 4 + 4 * 2 * 4 + 2 * 16) + 9 * 64 + (16 * 8 * 8 + 16 * 16 * 8);
    assert_eq!(g.forward_flops(2), 2 * 2 * per_image);

    let images = g.forward(Tensor::random(
        [3, 4],
        burn::tensor::Distribution::Normal(0.0, 1.0),
        &device,
    ));
    assert_eq!(images.dims(), [3, 1, 16, 16]);
    // Every row of 16 is a bilinear ×2 of 8 values a: out[0] = a0, out[2k+1] = ¾a_k + ¼a_{k+1},
    // out[2k+2] = ¼a_k + ¾a_{k+1}, out[15] = a7. Recover a from the odd pixels and check that
    // it gives back all 16.
    let values = ganforge::tensor_values(images);
    let mut worst = 0.0f32;
    for row in values.chunks(16) {
        let mut a = [0.0f32; 8];
        for (k, ak) in a.iter_mut().enumerate().take(7) {
            *ak = (3.0 * row[2 * k + 1] - row[2 * k + 2]) / 2.0;
        }
        a[7] = row[15];
        let mut back = [0.0f32; 16];
        back[0] = a[0];
        for k in 0..7 {
            back[2 * k + 1] = 0.75 * a[k] + 0.25 * a[k + 1];
            back[2 * k + 2] = 0.25 * a[k] + 0.75 * a[k + 1];
        }
        back[15] = a[7];
        for (x, y) in row.iter().zip(&back) {
            worst = worst.max((x - y).abs());
        }
    }
    assert!(worst < 1e-5, "a row is not a resized 8-pixel row: {worst}");
}

#[test]
fn a_generator_drawing_at_32_starts_at_2x2_and_gives_64x64_images() {
    let device = Device::flex();
    let g = DcganGeneratorConfig::new(64, 3)
        .with_latent(4)
        .with_capacity(1)
        .with_filter(3)
        .with_draw_side(Some(32))
        .init(&device);
    // Dense 4 → 8·2·2 (starting at 32 / 16 = 2), transposed convolutions 8→4 at 2×2, 4→2 at
    // 4×4, 2→1 at 8×8 and 1→1 at 16×16, the last convolution 1→3 at 32×32, then the resize: 64
    // outputs of 32 inputs per row of 32, and 64 of 32 per column of 64, for each of 3 channels.
    let convs = 9 * (8 * 4 * 4 + 4 * 2 * 16 + 2 * 64 + 256) + 9 * 3 * 1024;
    let resize = 3 * (32 * 64 * 32 + 64 * 64 * 32);
    let per_image = 4 * 32 + convs + resize;
    assert_eq!(g.forward_flops(2), 2 * 2 * per_image);
    let images = g.forward(Tensor::random(
        [2, 4],
        burn::tensor::Distribution::Normal(0.0, 1.0),
        &device,
    ));
    assert_eq!(images.dims(), [2, 3, 64, 64]);
}

#[test]
fn nearest_upsampling_and_4x4_transposed_kernels_leave_no_checkerboard_where_3x3_ones_do() {
    use ganforge::models::{DecoderBlockConfig, Upsampling};
    let device = Device::flex();
    let x = Tensor::<4>::ones([1, 2, 6, 6], &device);
    // The spread of each output channel over the pixels that no border reaches, for a constant
    // input: a block that treats every output pixel alike gives one value there.
    let interior_spread = |upsample, resample: Option<usize>| {
        let block = DecoderBlockConfig::new(2, 3)
            .with_filter(3)
            .with_upsample(upsample)
            .with_resample_filter(resample)
            .init(&device);
        // Every kernel weight equal: only the count of taps per output pixel can vary.
        struct EqualKernels;
        impl burn::module::ModuleMapper for EqualKernels {
            fn map_float<const D: usize>(
                &mut self,
                param: burn::module::Param<Tensor<D>>,
            ) -> burn::module::Param<Tensor<D>> {
                if D == 4 {
                    param.map(|t| t.ones_like())
                } else {
                    param
                }
            }
        }
        let block = block.map(&mut EqualKernels);
        let y = block.forward(x.clone());
        assert_eq!(y.dims(), [1, 3, 12, 12]);
        let values = ganforge::tensor_values(y);
        values
            .chunks(144)
            .map(|channel| {
                let inner: Vec<f32> = (2..10)
                    .flat_map(|r| (2..10).map(move |c| channel[r * 12 + c]))
                    .collect();
                let (lo, hi) = inner
                    .iter()
                    .fold((f32::MAX, f32::MIN), |(l, h), v| (l.min(*v), h.max(*v)));
                hi - lo
            })
            .fold(0.0f32, f32::max)
    };
    // A stride-2 transposed 3×3 kernel gives even output pixels one tap per axis and odd ones
    // two: a period-2 pattern on a flat input, even with equal weights. A 4×4 one
    // (`resample_filter`, PyTorch's DCGAN) gives every pixel two.
    assert!(
        interior_spread(Upsampling::Transposed, None) > 1e-3,
        "the transposed 3×3 convolution prints a checkerboard"
    );
    assert!(
        interior_spread(Upsampling::Transposed, Some(4)) < 1e-5,
        "the transposed 4×4 convolution keeps a flat input flat"
    );
    assert!(
        interior_spread(Upsampling::Nearest, None) < 1e-5,
        "nearest doubling and a convolution keep a flat input flat"
    );
}
