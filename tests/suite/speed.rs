//! The speed benchmarks' arithmetic and plumbing (their numbers are measured by `bench`, not here).

use std::time::Instant;

use burn::prelude::Device;
use ganforge::bench::train::{forward_flops, parse_torch_line, step_flops, time_training_step};
use ganforge::config::{TrainConfig, TrainOverrides};
use ganforge::device::DeviceChoice;
use ganforge::losses::LossKind;
use ganforge::models::{DiscriminatorNet, GeneratorNet};

fn tutorial(batch: usize) -> TrainConfig {
    TrainOverrides {
        data: Some("folder:.".parse().unwrap()),
        batch: Some(batch),
        ..Default::default()
    }
    .resolve()
    .unwrap()
}

/// The embedded digits' preset (16×16 grey), with `keys` set on top.
/// The digits with `keys`, with the tutorial's G (drawing at the full side), which the old
/// formula counts; G drawing at 8×8 is counted by hand in `models.rs`.
fn digits(keys: TrainOverrides) -> TrainConfig {
    let mut config = keys.resolve().unwrap();
    config.networks.g_draw_side = None;
    config
}

/// The count `bench train` used before the networks counted their own layers: the DCGAN's
/// layers written out, per image (a multiply-add is two), D's share of a packed input. The
/// networks' own counts must give exactly these numbers for every DCGAN configuration.
fn dcgan_formula(config: &TrainConfig) -> (f64, f64) {
    let k2 = (config.networks.filter * config.networks.filter) as f64;
    let c = config.networks.capacity as f64;
    let conv = |cin: f64, cout: f64, side_out: f64| 2.0 * cin * cout * k2 * side_out * side_out;
    let mut d = 0.0;
    let mut side = config.input.spatial as f64;
    let mut cin = (config.input.channels * config.remedies.pack) as f64;
    for m in [1.0, 2.0, 4.0, 8.0] {
        let cout = m * c;
        d += conv(cin, cout, side) + conv(cout, cout, side / 2.0);
        side /= 2.0;
        cin = cout;
    }
    d += 2.0 * 8.0 * c;
    d /= config.remedies.pack as f64;
    let start = (config.input.spatial / 16) as f64;
    let mut g = 2.0 * config.networks.latent as f64 * start * start * 8.0 * c;
    let mut side = start;
    let mut cin = 8.0 * c;
    for m in [4.0, 2.0, 1.0, 1.0] {
        g += 2.0 * cin * m * c * k2 * side * side;
        side *= 2.0;
        cin = m * c;
    }
    g += conv(c, config.input.channels as f64, side);
    (d, g)
}

/// The old step formula: D on real (3 D), fakes without gradient (1 G), D on fake (3 D) per D
/// update; G through D (3 D + 3 G) per G update; per image, times the batch.
fn dcgan_step_formula(config: &TrainConfig) -> f64 {
    let (d, g) = dcgan_formula(config);
    let (nd, ng) = (
        config.schedule.disc_updates as f64,
        config.schedule.gen_updates as f64,
    );
    config.schedule.batch as f64 * (nd * (6.0 * d + g) + ng * (3.0 * d + 3.0 * g))
}

#[test]
fn the_tutorial_step_costs_46_gflop() {
    let config = tutorial(32);
    assert_eq!(
        (
            config.input.spatial,
            config.input.channels,
            config.networks.capacity,
            config.networks.filter
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
    // Per D update 6 D + 1 G, per G update 3 D + 3 G, each per image times the batch of 32.
    let step = step_flops(&config);
    assert_eq!(step, 32.0 * (6.0 * d + g + 3.0 * d + 3.0 * g));
    assert_eq!(step, dcgan_step_formula(&config));
    eprintln!("tutorial step (64×64×3, batch 32): {step} FLOP");
    let step = step / 1e9;
    assert!(
        (45.0..47.0).contains(&step),
        "{step} GFLOP, the issue's figure is about 46"
    );
    assert_eq!(step_flops(&tutorial(64)), 2.0 * step_flops(&config));
}

#[test]
fn the_networks_count_the_old_formulas_flops_for_every_dcgan_shape() {
    // The count used to be the DCGAN's layers written out in `bench`; now each network counts its
    // own layers. For the DCGAN the two must agree exactly, whatever the shape.
    let cases = [
        ("tutorial 64×64×3, batch 32", tutorial(32)),
        ("digits 16×16×1", digits(TrainOverrides::default())),
        (
            "digits packed by 2",
            digits(TrainOverrides {
                pack: Some(2),
                ..Default::default()
            }),
        ),
        (
            "digits, k3, capacity 8, 2 D and 3 G updates",
            digits(TrainOverrides {
                filter: Some(3),
                capacity: Some(8),
                disc_updates: Some(2),
                gen_updates: Some(3),
                ..Default::default()
            }),
        ),
        (
            "32×32 RGB, latent 7, batch 12",
            digits(TrainOverrides {
                data: Some("folder:.".parse().unwrap()),
                spatial: Some(32),
                latent: Some(7),
                batch: Some(12),
                ..Default::default()
            }),
        ),
    ];
    for (what, config) in cases {
        let (d, g) = dcgan_formula(&config);
        let f = forward_flops(&config);
        assert_eq!((f.discriminator, f.generator), (d, g), "{what}: per image");
        let step = step_flops(&config);
        assert_eq!(step, dcgan_step_formula(&config), "{what}: step");
        eprintln!(
            "{what}: D {d} + G {g} FLOP per image, step {step} FLOP (old formula {})",
            dcgan_step_formula(&config)
        );
    }
    let digits = digits(TrainOverrides::default());
    assert_eq!(
        (
            digits.input.spatial,
            digits.input.channels,
            digits.schedule.batch
        ),
        (16, 1, 32)
    );
}

#[test]
fn the_step_count_follows_the_updates_the_loop_makes() {
    // The tutorial's DCGAN (the modern recipe gives a conditional run the residual networks).
    let base = || TrainOverrides {
        recipe: Some(ganforge::config::Recipe::Tutorial),
        d_norm: Some(ganforge::models::NormKind::Layer),
        disc_updates: Some(5),
        gen_updates: Some(2),
        ..Default::default()
    };
    let plain = digits(base());
    let step = step_flops(&plain);
    assert_eq!(step, dcgan_step_formula(&plain));
    let (d, g) = dcgan_formula(&plain);
    let b = plain.schedule.batch as f64;
    // D's convolutions alone, on one image: its forward less the dense head (8·capacity → 1).
    let convs = d - 2.0 * 8.0 * plain.networks.capacity as f64;
    // Mixed batches: one D pass over real and fake together, the same work as two.
    let mixed = digits(TrainOverrides {
        mixed_batches: Some(true),
        ..base()
    });
    assert_eq!(step_flops(&mixed), step);
    // Feature matching: D's forward on the real batch in each G update, without gradient.
    let matching = digits(TrainOverrides {
        feature_matching: Some(true),
        ..base()
    });
    assert_eq!(step_flops(&matching), step + 2.0 * b * d);
    // WGAN-GP: the penalty's input gradient (D's convolutions forward and back, twice D's
    // convolutions), backpropagated (× 3), in each of the 5 critic updates.
    let penalty = digits(TrainOverrides {
        loss: Some(LossKind::WganGp),
        ..base()
    });
    assert_eq!(penalty.schedule.disc_updates, 5);
    assert_eq!(step_flops(&penalty), step + 5.0 * 3.0 * 2.0 * b * convs);
    // R1 every 4 iterations: the same input gradient on the real batch of each D update, a
    // quarter of the time.
    let r1 = digits(TrainOverrides {
        r1_gamma: Some(1.0),
        r1_interval: Some(4),
        ..base()
    });
    assert_eq!(step_flops(&r1), step + 5.0 * 3.0 * 2.0 * b * convs / 4.0);
    // A conditional D adds one inner product per image with its class embedding (8·capacity).
    let conditional = digits(TrainOverrides {
        conditional: Some(true),
        classes: Some(10),
        ..base()
    });
    let f = forward_flops(&conditional);
    assert_eq!(
        f.discriminator,
        d + 2.0 * 8.0 * plain.networks.capacity as f64
    );
    // … and G's dense projection reads the label's embedding (50 values) beside the noise.
    let start = (plain.input.spatial / 16) as f64;
    assert_eq!(
        f.generator,
        g + 2.0 * 50.0 * start * start * 8.0 * plain.networks.capacity as f64
    );
    eprintln!(
        "digits, 5 D and 2 G updates: {step} FLOP; with the penalty {}",
        step_flops(&penalty)
    );
}

#[test]
fn the_mlp_step_is_counted_from_its_own_layers() {
    // PacGAN's networks on a 2-D mixture: G 2 → 4 × 32 → 2 (width 2·capacity), D maxout 2 → 3 ×
    // (16 units × 5 pieces) → 1 (width capacity).
    let config = TrainOverrides {
        data: Some("mixture:ring8".parse().unwrap()),
        capacity: Some(16),
        batch: Some(10),
        latent: Some(2),
        ..Default::default()
    }
    .resolve()
    .unwrap();
    assert_eq!(
        (
            config.networks.model,
            config.input.channels,
            config.input.spatial
        ),
        (ganforge::models::ModelKind::Mlp, 2, 1)
    );
    let g = 2.0 * (2.0 * 32.0 + 3.0 * 32.0 * 32.0 + 32.0 * 2.0);
    let d = 2.0 * (2.0 * 80.0 + 2.0 * 16.0 * 80.0 + 16.0);
    let f = forward_flops(&config);
    assert_eq!((f.generator, f.discriminator), (g, d));
    let (nd, ng) = (
        config.schedule.disc_updates as f64,
        config.schedule.gen_updates as f64,
    );
    // The mixtures' preset adds R1 to every D update: the input gradient runs back through the
    // hidden layers twice (their products, without the head), and its own backward triples it.
    assert_eq!(config.objective.r1_gamma, Some(0.1));
    let hidden = 2.0 * (2.0 * 80.0 + 2.0 * 16.0 * 80.0);
    let r1 = 3.0 * 2.0 * hidden;
    assert_eq!(
        step_flops(&config),
        10.0 * (nd * (6.0 * d + g + r1) + ng * (3.0 * d + 3.0 * g))
    );
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
    assert_eq!((t.device, t.gpu_peak_mib), (None, None));
    // A CUDA run of the reference names its card and its peak GPU memory at the end of the line.
    let line = "torch 2.11.0+cu130 threads=16 batch=64 spatial=64 capacity=16 iters=20 s_per_iter=0.0100 img_per_s=6400.0 peak_mib=2100 recipe=modern device=cuda:NVIDIA_H200 gpu_peak_mib=310.5\n";
    let t = parse_torch_line(line).unwrap();
    assert_eq!(t.device.as_deref(), Some("cuda:NVIDIA_H200"));
    assert_eq!((t.images_per_second, t.gpu_peak_mib), (6400.0, Some(310.5)));
    assert!(parse_torch_line("Traceback (most recent call last)").is_none());
}

/// No CPU does more fp32 work than this, in FLOP/s: every logical core at 6 GHz issuing two
/// 16-lane fused multiply-adds per cycle (AVX-512's most; hyperthreads share the units).
fn machine_bound_flops_per_second() -> f64 {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    cores * 6e9 * 2.0 * 16.0 * 2.0
}

#[test]
fn a_tiny_step_is_timed_both_ways() {
    // Two D updates per iteration: the loop from the data set makes them, the in-memory loop
    // makes the tutorial's one, and each timing's FLOP rate must use its own step's count.
    let keys = || TrainOverrides {
        data: Some("folder:.".parse().unwrap()),
        spatial: Some(16),
        batch: Some(4),
        capacity: Some(2),
        disc_updates: Some(2),
        ..Default::default()
    };
    let config = keys().resolve().unwrap();
    let tutorial_step = TrainOverrides {
        disc_updates: Some(1),
        ..keys()
    }
    .resolve()
    .unwrap();
    let (warmup, iters) = (1, 4);
    let started = Instant::now();
    let (from_data, in_memory) =
        time_training_step(&config, DeviceChoice::Cpu, warmup, iters).unwrap();
    let wall = started.elapsed().as_secs_f64();
    // The timed steps are part of the call: together they fit in its wall time, and (after one
    // warm-up step each and the networks' set-up) they make up a good share of it.
    let timed = iters as f64 * (from_data.seconds_per_step + in_memory.seconds_per_step);
    eprintln!("{timed:.4} s of steps timed in a call of {wall:.4} s");
    assert!(timed <= wall, "{timed} s timed in a call of {wall} s");
    assert!(
        timed >= 0.2 * wall,
        "{timed} s timed in a call of {wall} s: most of the call is its timed steps"
    );
    for (t, step) in [(&from_data, &config), (&in_memory, &tutorial_step)] {
        // Images per second: the batch over the step's time, which is at most the call's wall
        // time over the timed steps.
        assert!(
            t.images_per_second >= (4 * iters) as f64 / wall,
            "{} images/s in {wall} s",
            t.images_per_second
        );
        let flops = step_flops(step);
        let rate = t.gflops * 1e9;
        assert!(
            (rate * t.seconds_per_step - flops).abs() <= 1e-9 * flops,
            "{} GFLOP/s × {} s is not the step's {flops} FLOP",
            t.gflops,
            t.seconds_per_step
        );
        assert!(rate <= machine_bound_flops_per_second(), "{rate} FLOP/s");
    }
    assert!(step_flops(&config) > step_flops(&tutorial_step));
}

#[test]
fn the_operation_profile_covers_every_layer_of_the_step() {
    let config = TrainOverrides {
        data: Some("folder:.".parse().unwrap()),
        spatial: Some(16),
        batch: Some(2),
        capacity: Some(2),
        ..Default::default()
    }
    .resolve()
    .unwrap();
    let (warmup, iters) = (0, 1);
    let started = Instant::now();
    let ops = ganforge::bench::ops::profile_ops(&config, DeviceChoice::Cpu, warmup, iters).unwrap();
    let wall_ms = started.elapsed().as_secs_f64() * 1e3;
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
    // Every timed call is part of the profile's wall time, and no operation beats the machine.
    let timed_ms: f64 = ops
        .iter()
        .map(|o| iters as f64 * (o.forward_ms + o.forward_backward_ms))
        .sum();
    assert!(timed_ms <= wall_ms, "{timed_ms} ms timed in {wall_ms} ms");
    for op in &ops {
        assert!(
            op.forward_ms > 0.0 && op.forward_backward_ms > 0.0,
            "{}",
            op.name
        );
        if let Some(rate) = op.forward_gflops() {
            assert!(
                rate * 1e9 <= machine_bound_flops_per_second(),
                "{}: {rate} GFLOP/s",
                op.name
            );
        }
    }
    // The first convolution: 2·3·2·25·16² FLOPs per image, burn's form then ours.
    for op in &ops[..2] {
        assert_eq!(op.input, [2, 3, 16, 16]);
        assert_eq!(op.flops, 2.0 * 2.0 * 3.0 * 2.0 * 25.0 * 256.0);
    }
    assert!(ops[0].alternative && ops[0].name.ends_with("(burn)") && !ops[1].alternative);
    // The profile's (transposed) convolutions are the networks' layers: their FLOPs add up to
    // the networks' own counts less the dense layers (G's latent → 1·1·16 projection, D's
    // 16 → 1 head).
    let device = Device::flex();
    let generator = config.init_generator(&device);
    let discriminator = config.init_discriminator(&device);
    let b = config.schedule.batch as u64;
    let dense = 2 * b * (config.networks.latent as u64 * 16) + 2 * b * 16;
    let networks = generator.forward_flops(config.schedule.batch)
        + discriminator.forward_flops([config.schedule.batch, 3, 16, 16])
        - dense;
    let profiled: f64 = ops.iter().filter(|o| !o.alternative).map(|o| o.flops).sum();
    assert_eq!(profiled, networks as f64);
}

#[test]
fn the_gemm_ceiling_is_a_measured_rate_and_its_product_is_right() {
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
    // The best of 5 products of 2·256³ FLOPs: at least their mean rate over the whole call,
    // at most what the machine can do.
    let size = 256;
    let started = Instant::now();
    let ceiling = ganforge::bench::train::gemm_ceiling_gflops(size);
    let wall = started.elapsed().as_secs_f64();
    let mean = 5.0 * 2.0 * (size as f64).powi(3) / wall / 1e9;
    assert!(
        ceiling >= mean,
        "{ceiling} GFLOP/s, below the call's mean {mean}"
    );
    assert!(
        ceiling * 1e9 <= machine_bound_flops_per_second(),
        "{ceiling} GFLOP/s is more than this machine can do"
    );
}

#[test]
fn the_peak_resident_memory_holds_a_known_allocation() {
    let Some(before) = ganforge::bench::train::peak_resident_mib() else {
        eprintln!("skipped: no /proc/self/status VmHWM on this system");
        return;
    };
    // 256 MiB written (so resident) and alive while the peak is read: the peak is at least that,
    // never less than before, and within the machine's memory.
    let buffer = vec![1u8; 256 << 20];
    std::hint::black_box(&buffer);
    let after = ganforge::bench::train::peak_resident_mib().unwrap();
    drop(buffer);
    assert!(
        after >= 256.0 && after >= before,
        "{before} then {after} MiB"
    );
    let total_mib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            let line = m.lines().find(|l| l.starts_with("MemTotal:"))?.to_string();
            line.split_whitespace().nth(1)?.parse::<f64>().ok()
        })
        .map(|kib| kib / 1024.0)
        .expect("MemTotal in /proc/meminfo");
    assert!(
        after <= total_mib,
        "{after} MiB on a machine of {total_mib}"
    );
}

#[test]
fn bench_train_alternates_rounds_and_closes_with_their_medians() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "bench",
        "train",
        "--spatial",
        "16",
        "--batch",
        "4",
        "--capacity",
        "4",
        "--iters",
        "1",
        "--warmup",
        "0",
        "--no-torch",
        "--rounds",
        "3",
    ];
    let out = crate::cli::ganforge(&args, dir.path());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    for round in 1..=3 {
        assert!(text.contains(&format!("round {round}:")), "{text}");
    }
    assert_eq!(
        text.matches("from a data set in memory").count(),
        3,
        "{text}"
    );
    // The machine's limit is measured once.
    assert_eq!(text.matches("machine's limit").count(), 1, "{text}");
    let summary = text
        .lines()
        .find(|l| l.starts_with("over 3 rounds: ganforge "))
        .unwrap_or_else(|| panic!("no summary in {text}"));
    // The median lies within the rounds' range.
    let numbers: Vec<f64> = summary
        .split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .filter_map(|w| w.parse().ok())
        .collect();
    let [_, median, low, high, ..] = numbers[..] else {
        panic!("{summary}")
    };
    assert!(low <= median && median <= high, "{summary}");
    let zero = crate::cli::ganforge(&["bench", "train", "--rounds", "0"], dir.path());
    assert!(!zero.status.success());
    assert!(String::from_utf8_lossy(&zero.stderr).contains("--rounds"));
}
