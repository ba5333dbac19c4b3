//! The speed benchmarks' arithmetic and plumbing (their numbers are measured by `bench`, not here).

use ganforge::bench::train::{forward_flops, parse_torch_line, step_flops, time_training_step};
use ganforge::config::TrainOverrides;
use ganforge::device::DeviceChoice;

fn tutorial(batch: usize) -> ganforge::config::TrainConfig {
    TrainOverrides {
        data: Some("folder:.".into()),
        batch: Some(batch),
        ..Default::default()
    }
    .resolve()
    .unwrap()
}

#[test]
fn the_tutorial_step_costs_46_gflop() {
    let config = tutorial(32);
    assert_eq!(
        (
            config.spatial,
            config.channels,
            config.capacity,
            config.filter
        ),
        (64, 3, 16, 5)
    );
    // By hand, 2·Cin·Cout·25·(output side)² per convolution:
    let d = 2.0
        * 25.0
        * (3.0 * 16.0 * 4096.0
            + 16.0 * 16.0 * 1024.0
            + 16.0 * 32.0 * 1024.0
            + 32.0 * 32.0 * 256.0
            + 32.0 * 64.0 * 256.0
            + 64.0 * 64.0 * 64.0
            + 64.0 * 128.0 * 64.0
            + 128.0 * 128.0 * 16.0)
        + 2.0 * 128.0;
    // Dense 100 → 4·4·128, transposed convolutions 2·Cin·Cout·25·(input side)², last conv 16→3.
    let g = 2.0 * 100.0 * 2048.0
        + 2.0
            * 25.0
            * (128.0 * 64.0 * 16.0
                + 64.0 * 32.0 * 64.0
                + 32.0 * 16.0 * 256.0
                + 16.0 * 16.0 * 1024.0)
        + 2.0 * 25.0 * 16.0 * 3.0 * 4096.0;
    let f = forward_flops(&config);
    assert_eq!((f.discriminator, f.generator), (d, g));
    let step = step_flops(&config) / 1e9;
    assert!(
        (45.0..47.0).contains(&step),
        "{step} GFLOP, the issue's figure is about 46"
    );
    assert_eq!(step_flops(&tutorial(64)), 2.0 * step_flops(&config));
}

#[test]
fn the_torch_reference_line_parses() {
    let line = "torch 2.15.0+cpu threads=2 batch=32 spatial=64 capacity=16 iters=20 s_per_iter=0.3800 img_per_s=84.2 peak_mib=512\n";
    let t = parse_torch_line(line).unwrap();
    assert_eq!((t.version.as_str(), t.threads), ("2.15.0+cpu", 2));
    assert_eq!(
        (t.seconds_per_step, t.images_per_second, t.peak_mib),
        (0.38, 84.2, Some(512.0))
    );
    assert!(parse_torch_line("Traceback (most recent call last)").is_none());
}

#[test]
fn a_tiny_step_is_timed_both_ways() {
    let config = TrainOverrides {
        data: Some("folder:.".into()),
        spatial: Some(16),
        batch: Some(4),
        capacity: Some(2),
        ..Default::default()
    }
    .resolve()
    .unwrap();
    let (from_data, in_memory) = time_training_step(&config, DeviceChoice::Cpu, 1, 2).unwrap();
    for t in [from_data, in_memory] {
        assert!(t.seconds_per_step > 0.0 && t.images_per_second > 0.0 && t.gflops > 0.0);
        assert!((t.images_per_second * t.seconds_per_step - 4.0).abs() < 1e-9);
    }
}

#[test]
fn the_operation_profile_covers_every_layer_of_the_step() {
    let config = TrainOverrides {
        data: Some("folder:.".into()),
        spatial: Some(16),
        batch: Some(2),
        capacity: Some(2),
        ..Default::default()
    }
    .resolve()
    .unwrap();
    let ops = ganforge::bench::ops::profile_ops(&config, DeviceChoice::Cpu, 0, 1).unwrap();
    let count = |prefix: &str, alternative: bool| {
        ops.iter()
            .filter(|o| o.name.starts_with(prefix) && o.alternative == alternative)
            .count()
    };
    // D's 8 convolutions and G's last, G's 4 transposed convolutions, 3 normalisations: each in
    // the form the models use and in burn's own.
    for alternative in [false, true] {
        assert_eq!(
            (
                count("conv ", alternative),
                count("conv-transpose", alternative),
                count("batchnorm + leaky-relu", alternative)
            ),
            (9, 4, 3)
        );
    }
    assert!(
        ops.iter()
            .all(|o| o.forward_ms > 0.0 && o.forward_backward_ms > 0.0)
    );
    // The first convolution: 2·3·2·25·16² FLOPs per image, burn's form then ours.
    for op in &ops[..2] {
        assert_eq!(op.input, [2, 3, 16, 16]);
        assert_eq!(op.flops, 2.0 * 2.0 * 3.0 * 2.0 * 25.0 * 256.0);
    }
    assert!(ops[0].alternative && ops[0].name.ends_with("(burn)") && !ops[1].alternative);
}

#[test]
fn the_gemm_ceiling_is_a_finite_rate_and_its_product_is_right() {
    // The ceiling times the GEMM the kernels use; a wrong product would make it meaningless, so
    // check one against a hand computation first: [[1, 2], [3, 4]] · [[5, 6], [7, 8]].
    use ganforge::kernels::gemm_conv::{Mat, matmul};
    let mut c = vec![0.0f32; 4];
    let (a, b) = ([1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]);
    matmul(
        &mut c,
        2,
        Mat::new(&a, 2, 2),
        Mat::new(&b, 2, 2),
        false,
        gemm::Parallelism::None,
    );
    assert_eq!(c, [19.0, 22.0, 43.0, 50.0]);
    let ceiling = ganforge::bench::train::gemm_ceiling_gflops(64);
    assert!(ceiling.is_finite() && ceiling > 0.0, "{ceiling}");
}
