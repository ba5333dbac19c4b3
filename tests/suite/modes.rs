//! Mode-collapse benchmark metrics on samplers whose answer is known.

use ganforge::eval::modes::{Mixture, mode_coverage};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

#[test]
fn a_perfect_sampler_captures_every_mode() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    for (mixture, modes) in [(Mixture::RING8, 8), (Mixture::GRID25, 25)] {
        let c = mode_coverage(mixture, &mixture.sample(&mut rng, 2500));
        assert_eq!((c.modes_captured, c.modes), (modes, modes));
        // Within 3σ of the centre in 2-D: 1 − e^(−9/2) ≈ 0.989.
        assert!((c.high_quality - 0.989).abs() < 0.01, "{c:?}");
        assert!(c.reverse_kl < 0.02, "{c:?}");
    }
}

#[test]
fn a_two_mode_sampler_is_caught() {
    let centres = Mixture::RING8.centres();
    let samples: Vec<[f64; 2]> = (0..100).map(|i| centres[i % 2]).collect();
    let c = mode_coverage(Mixture::RING8, &samples);
    assert_eq!(c.modes_captured, 2);
    assert_eq!(c.high_quality, 1.0);
    assert!((c.reverse_kl - 4f64.ln()).abs() < 1e-12, "log(8 / 2)");

    let lost = vec![[10.0, 10.0]; 50];
    let c = mode_coverage(Mixture::RING8, &lost);
    assert_eq!((c.modes_captured, c.high_quality), (0, 0.0));
    assert!(c.reverse_kl.is_infinite());
}

#[test]
fn mixture_specs_parse_or_name_the_valid_ones() {
    assert_eq!(Mixture::parse("mixture:grid25").unwrap(), Mixture::GRID25);
    let err = Mixture::parse("mixture:ring9").unwrap_err().to_string();
    assert!(
        err.contains("mixture:ring8") && err.contains("mixture:grid25"),
        "{err}"
    );
    let grid = Mixture::GRID25.centres();
    assert!(grid.contains(&[-4.0, 4.0]) && grid.contains(&[0.0, 0.0]));
}

#[test]
fn any_ring_or_grid_parses_with_its_centres_and_threshold() {
    // The named ones are the general forms with PacGAN's numbers.
    assert_eq!(
        Mixture::parse("mixture:ring:8:1:0.01").unwrap(),
        Mixture::RING8
    );
    assert_eq!(
        Mixture::parse("mixture:grid:5:2:0.05").unwrap(),
        Mixture::GRID25
    );
    assert_eq!(Mixture::RING8.name(), "ring8");

    let ring = Mixture::parse("mixture:ring:4:2.5:0.1").unwrap();
    assert_eq!(ring.modes(), 4);
    assert_eq!(ring.name(), "ring:4:2.5:0.1");
    assert_eq!(
        Mixture::parse(&format!("mixture:{}", ring.name())).unwrap(),
        ring
    );
    let centres = ring.centres();
    let expected = [[2.5, 0.0], [0.0, 2.5], [-2.5, 0.0], [0.0, -2.5]];
    for (c, e) in centres.iter().zip(expected) {
        assert!(
            (c[0] - e[0]).abs() < 1e-12 && (c[1] - e[1]).abs() < 1e-12,
            "{c:?}"
        );
    }
    // High quality is within 3 of the given std: 0.29 from a centre counts, 0.31 does not.
    let c = mode_coverage(ring, &[[2.5 + 0.29, 0.0], [0.0, 2.5 + 0.31]]);
    assert_eq!((c.modes_captured, c.high_quality), (1, 0.5));

    let grid = Mixture::parse("mixture:grid:3:1.5:0.02").unwrap();
    assert_eq!(grid.modes(), 9);
    let centres = grid.centres();
    assert!(centres.contains(&[-1.5, -1.5]) && centres.contains(&[0.0, 0.0]));
    assert!(centres.contains(&[1.5, 1.5]) && !centres.contains(&[2.0, 0.0]));
    // (0.7, 0.05) is nearest (0, 0) (0.70 against 0.80 from (1.5, 0)) but beyond its 3 std
    // (0.06), so it is not high quality; (1.49, 0.01) is within 3 std of (1.5, 0).
    let c = mode_coverage(grid, &[[0.7, 0.05], [1.49, 0.01]]);
    assert_eq!((c.modes_captured, c.high_quality), (1, 0.5));
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let c = mode_coverage(grid, &grid.sample(&mut rng, 900));
    assert_eq!(c.modes_captured, 9);
    assert!((c.high_quality - 0.989).abs() < 0.02, "{c:?}");

    // The data spec round-trips through its text and names a directory without colons.
    let spec = DataSpec::parse("mixture:grid:3:1.5:0.02").unwrap();
    assert_eq!(spec.to_string(), "mixture:grid:3:1.5:0.02");
    assert_eq!(spec.short_name(), "grid-3-1.5-0.02");
}

#[test]
fn only_the_papers_benchmarks_have_published_rows() {
    use ganforge::bench::modes::published_rows;
    assert_eq!(published_rows("mixture:grid25")[1].name, "PacGAN4");
    assert_eq!(published_rows("mixture:grid25")[1].reverse_kl, 0.04);
    assert_eq!(published_rows("stacked-digits")[0].modes, 1000.0);
    assert!(published_rows("mixture:ring:8:1:0.02").is_empty());
}

#[test]
fn the_papers_protocol_sets_its_rates_batches_and_lengths() {
    use ganforge::bench::modes::{Protocol, cell_config};
    let fast = ModesBenchOptions::for_data("mixture:grid25", DeviceChoice::Cpu).unwrap();
    assert_eq!(
        (fast.protocol, fast.steps, fast.seeds),
        (Protocol::Fast, 6000, 3)
    );
    let paper =
        ModesBenchOptions::for_protocol("mixture:grid25", DeviceChoice::Cpu, Protocol::Pacgan)
            .unwrap();
    assert_eq!((paper.steps, paper.seeds), (400_000, 10));
    let c = cell_config(&paper, 4, 7).unwrap();
    assert_eq!((c.optimiser.lr_d, c.optimiser.lr_g), (1e-4, 1e-4));
    assert_eq!((c.optimiser.beta1, c.optimiser.beta2), (0.8, 0.999));
    assert_eq!((c.schedule.batch, c.remedies.pack), (400, 4));
    assert_eq!(c.remedies.g_ema, None, "the paper samples G itself");
    assert_eq!(c.networks.model, ModelKind::Mlp);
    // Nor does it penalise D's gradient, step G twice or decay the rates: the preset's choices.
    let r1_g_steps_decay = |c: &ganforge::config::TrainConfig| {
        (
            c.objective.r1_gamma,
            c.schedule.gen_updates,
            c.optimiser.lr_decay_start,
        )
    };
    assert_eq!(r1_g_steps_decay(&c), (None, 1, None));
    // The fast protocol keeps the preset's average of G, R1, two G steps and the decay over
    // the second half of its 6000 steps.
    let c = cell_config(&fast, 1, 0).unwrap();
    assert_eq!(c.remedies.g_ema, Some(0.99));
    assert_eq!(r1_g_steps_decay(&c), (Some(0.1), 2, Some(3000)));
    // Under the paper's protocol a user's keys still win.
    let mut paper_with_r1 = paper.clone();
    paper_with_r1.keys = TrainOverrides {
        r1_gamma: Some(1.0),
        gen_updates: Some(3),
        lr_decay_start: Some(1000),
        ..Default::default()
    };
    let c = cell_config(&paper_with_r1, 1, 0).unwrap();
    assert_eq!(r1_g_steps_decay(&c), (Some(1.0), 3, Some(1000)));

    // A user's keys go over the protocol's in every run.
    let mut tuned = fast.clone();
    tuned.keys = TrainOverrides {
        lr_decay_start: Some(1500),
        lr_g: Some(5e-4),
        ..Default::default()
    };
    let c = cell_config(&tuned, 2, 3).unwrap();
    assert_eq!(
        (c.optimiser.lr_decay_start, c.optimiser.lr_g),
        (Some(1500), 5e-4)
    );
    assert_eq!(
        (c.optimiser.lr_d, c.schedule.batch, c.schedule.seed),
        (1e-3, 200, 3)
    );

    let stacked =
        ModesBenchOptions::for_protocol("stacked-digits", DeviceChoice::Cpu, Protocol::Pacgan)
            .unwrap();
    assert_eq!(stacked.steps, 100_000);
    let c = cell_config(&stacked, 2, 0).unwrap();
    assert_eq!((c.networks.capacity, c.schedule.gen_updates), (64, 2));
    assert_eq!(
        (c.schedule.batch, c.optimiser.lr_g, c.optimiser.beta1),
        (128, 2e-4, 0.5)
    );
}

#[test]
fn bad_mixture_specs_are_refused_by_name() {
    for (spec, says) in [
        ("mixture:ring:0:1:0.01", "at least one mode"),
        ("mixture:grid:0:1:0.01", "at least one mode"),
        (
            "mixture:ring:8:1:-0.01",
            "standard deviation `-0.01` is not a positive number",
        ),
        (
            "mixture:ring:8:1:0",
            "standard deviation `0` is not a positive number",
        ),
        ("mixture:grid:5:2:nan", "standard deviation `nan`"),
        (
            "mixture:ring:8:-1:0.01",
            "radius `-1` is not a positive number",
        ),
        (
            "mixture:grid:5:inf:0.05",
            "spacing `inf` is not a positive number",
        ),
        (
            "mixture:ring:eight:1:0.01",
            "mode count `eight` is not a whole number",
        ),
        ("mixture:ring:-8:1:0.01", "mode count `-8`"),
        ("mixture:ring:8:1", "mixture:ring:K:RADIUS:STD"),
        ("mixture:grid:5:2:0.05:1", "mixture:grid:N:SPACING:STD"),
        ("mixture:spiral:5:2:0.05", "mixture:ring:K:RADIUS:STD"),
        ("mixture:", "mixture:ring8"),
        // 8 modes on the unit circle are 0.765 apart: 3 std of 0.2 each overlap.
        ("mixture:ring:8:1:0.2", "overlap"),
        ("mixture:grid:5:0.5:0.1", "overlap"),
    ] {
        let err = DataSpec::parse(spec).unwrap_err().to_string();
        assert!(err.contains(spec) && err.contains(says), "{spec}: {err}");
    }
}

use burn::prelude::*;
use ganforge::bench::modes::{MeanSe, ModesBenchOptions, run_modes_bench, write_report};
use ganforge::config::TrainOverrides;
use ganforge::data::{DataSpec, ImageSet, LoadOptions};
use ganforge::device::DeviceChoice;
use ganforge::eval::modes::stacked_coverage;
use ganforge::models::{DiscriminatorNet, GeneratorNet};
use ganforge::models::{MlpDiscriminatorConfig, MlpGeneratorConfig, ModelKind, NormKind};

#[test]
fn the_fully_connected_networks_have_the_shapes_of_the_loop() {
    let device = Device::flex();
    let g = MlpGeneratorConfig::new(2, 1).with_width(8).init(&device);
    let points = g.forward_conditioned(Tensor::zeros([6, 2], &device), None);
    assert_eq!(points.dims(), [6, 2, 1, 1]);
    // On images, flattened in and reshaped out; tanh bounds them.
    let g = MlpGeneratorConfig::new(1, 4)
        .with_latent(3)
        .with_classes(5)
        .with_tanh(true)
        .init(&device);
    let labels = Tensor::from_data(TensorData::new(vec![0i64, 4, 2], [3]), &device);
    let images =
        g.forward_conditioned(Tensor::ones([3, 3], &device).mul_scalar(50.0), Some(labels));
    assert_eq!(images.dims(), [3, 1, 4, 4]);
    assert!(
        ganforge::tensor_values(images)
            .iter()
            .all(|v| v.abs() <= 1.0)
    );
    for pack in [1, 2, 3] {
        let d = MlpDiscriminatorConfig::new(2)
            .with_width(4)
            .with_pack(pack)
            .init(&device);
        assert_eq!(
            d.forward_conditioned(Tensor::zeros([6, 2, 1, 1], &device), None)
                .dims(),
            [6 / pack, 1]
        );
        assert_eq!(
            d.features(Tensor::zeros([6, 2, 1, 1], &device)).dims(),
            [6 / pack, 4]
        );
    }
}

#[test]
fn a_mixture_is_a_fixed_labelled_set_of_points_with_its_own_preset() {
    let load = || {
        ImageSet::load(
            &DataSpec::parse("mixture:grid25").unwrap(),
            LoadOptions {
                limit: Some(500),
                ..LoadOptions::new(1, 2)
            },
        )
        .unwrap()
    };
    let (a, b) = (load(), load());
    assert_eq!((a.len(), a.channels, a.spatial), (500, 2, 1));
    assert_eq!(a.image(17), b.image(17), "the same set every time");
    let centres = Mixture::GRID25.centres();
    let labels = a.labels.as_ref().unwrap();
    for i in 0..a.len() {
        let p = a.image(i);
        let c = centres[labels[i]];
        let d = ((p[0] as f64 - c[0]).powi(2) + (p[1] as f64 - c[1]).powi(2)).sqrt();
        assert!(d < 0.3, "point {i} is {d} from its mode");
    }

    let config = TrainOverrides {
        data: Some("mixture:ring8".parse().unwrap()),
        ..Default::default()
    }
    .resolve()
    .unwrap();
    assert_eq!(
        (
            config.networks.model,
            config.input.spatial,
            config.input.channels,
            config.networks.latent
        ),
        (ModelKind::Mlp, 1, 2, 2)
    );
    // R1 on a D without normalisation, two G steps, and the rates falling over the second half
    // of the run, whatever its length; a decay the user places stays where it is.
    assert_eq!(config.objective.r1_gamma, Some(0.1));
    assert_eq!(config.networks.d_norm, NormKind::None);
    assert_eq!(config.schedule.gen_updates, 2);
    assert_eq!(config.total_steps(), 6000);
    assert_eq!(config.optimiser.lr_decay_start, Some(3000));
    let grid_decay = |keys: TrainOverrides| {
        TrainOverrides {
            data: Some("mixture:grid25".parse().unwrap()),
            ..keys
        }
        .resolve()
        .unwrap()
        .optimiser
        .lr_decay_start
    };
    let short = TrainOverrides {
        steps: Some(800),
        ..Default::default()
    };
    assert_eq!(grid_decay(short), Some(400));
    let placed = TrainOverrides {
        lr_decay_start: Some(5000),
        ..Default::default()
    };
    assert_eq!(grid_decay(placed), Some(5000));
    for (overrides, key) in [
        (
            TrainOverrides {
                data: Some("mixture:ring8".parse().unwrap()),
                model: Some(ModelKind::Dcgan),
                ..Default::default()
            },
            "`model`",
        ),
        (
            TrainOverrides {
                data: Some("mixture:ring8".parse().unwrap()),
                spatial: Some(16),
                ..Default::default()
            },
            "`spatial`",
        ),
        (
            TrainOverrides {
                data: Some("stacked-digits".parse().unwrap()),
                channels: Some(1),
                ..Default::default()
            },
            "`channels`",
        ),
    ] {
        let err = overrides.resolve().unwrap_err().to_string();
        assert!(err.contains(key), "{err}");
    }
}

#[test]
fn a_mixture_run_trains_draws_scatter_figures_and_refuses_image_commands() {
    let dir = tempfile::tempdir().unwrap();
    let config = TrainOverrides {
        data: Some("mixture:ring8".parse().unwrap()),
        capacity: Some(8),
        steps: Some(6),
        progress_interval: Some(3),
        num_load: Some(1000),
        ..Default::default()
    }
    .resolve()
    .unwrap();
    let run = dir.path().join("ring");
    let summary = super::train_quiet(config, &run);
    assert_eq!(summary.steps, 6);
    for step in [3, 6] {
        let figure = image::open(run.join(format!("samples/step_{step:07}.png"))).unwrap();
        assert!(figure.width() >= 400 && figure.height() >= 400);
    }
    let log = std::fs::read_to_string(run.join("train.log")).unwrap();
    assert!(log.contains("step 6: modes "), "{log}");
    let options = ganforge::sample::SampleOptions {
        run: run.clone(),
        n: 4,
        seed: 0,
        out: None,
        each: None,
        label: None,
        tensors: None,
        device: DeviceChoice::Cpu,
    };
    let err = ganforge::sample::sample(&options).unwrap_err().to_string();
    assert!(
        err.contains("2-D points") && err.contains("bench modes"),
        "{err}"
    );
}

#[test]
fn stacked_digits_hold_three_independent_labelled_digits() {
    let options = LoadOptions {
        limit: Some(200),
        ..LoadOptions::new(16, 3)
    };
    let stacked = ImageSet::load(&DataSpec::StackedDigits, options).unwrap();
    let single = super::small_digits(1797);
    let single_labels = single.labels.as_ref().unwrap();
    assert_eq!(
        (stacked.len(), stacked.channels, stacked.class_names.len()),
        (200, 3, 1000)
    );
    let labels = stacked.labels.as_ref().unwrap();
    for (i, &label) in labels.iter().enumerate().take(20) {
        let image = stacked.image(i);
        for (k, channel) in image.chunks_exact(256).enumerate() {
            let digit = label / 10usize.pow(2 - k as u32) % 10;
            let source = (0..single.len()).find(|&j| single.image(j) == channel);
            let source = source.expect("each channel is one of the digits");
            assert_eq!(single_labels[source], digit, "image {i} channel {k}");
        }
    }
    let distinct: std::collections::HashSet<&usize> = labels.iter().collect();
    assert!(
        distinct.len() > 150,
        "200 draws of 1000 modes are mostly distinct"
    );
}

/// A one-convolution digits "judge" that reads a channel of constant value (d + 1) / 10 as digit
/// d: feature f = mean(relu(x)), logit_k = 2c_k·f − c_k² with c_k = (k + 1) / 10, whose argmax is
/// the c_k nearest f.
fn brightness_judge(dir: &std::path::Path) -> ganforge::eval::judge::Judge {
    let path = dir.join("brightness.safetensors");
    let c: Vec<f32> = (0..10).map(|k| (k + 1) as f32 / 10.0).collect();
    super::feature_net::write_safetensors(
        &path,
        &[
            ("convs.0.weight", vec![1, 1, 1, 1], vec![1.0]),
            ("convs.0.bias", vec![1], vec![0.0]),
            (
                "head.weight",
                vec![10, 1],
                c.iter().map(|c| 2.0 * c).collect(),
            ),
            ("head.bias", vec![10], c.iter().map(|c| -c * c).collect()),
        ],
        &[],
    );
    ganforge::eval::feature_net::load_feature_network(&path, 1, &Device::flex())
        .unwrap()
        .0
}

#[test]
fn stacked_modes_are_read_channel_by_channel() {
    let dir = tempfile::tempdir().unwrap();
    let judge = brightness_judge(dir.path());
    let triples = [[1, 2, 3], [1, 2, 3], [9, 0, 4], [0, 0, 0]];
    let mut values = Vec::new();
    for t in triples {
        for d in t {
            values.extend(std::iter::repeat_n((d + 1) as f32 / 10.0, 16));
        }
    }
    let images = Tensor::<4>::from_data(TensorData::new(values, [4, 3, 4, 4]), &Device::flex());
    let coverage = stacked_coverage(&judge, images);
    assert_eq!(coverage.assigned, [123, 123, 904, 0]);
    assert_eq!((coverage.modes_captured, coverage.modes), (3, 1000));
    // p = (1/2, 1/4, 1/4): Σ p·ln(1000p).
    let kl = 0.5 * (500f64).ln() + 2.0 * 0.25 * (250f64).ln();
    assert!((coverage.reverse_kl - kl).abs() < 1e-9, "{coverage:?}");
    // Each channel's digits over 10, Σ p·ln(10p): (1, 1, 9, 0) and (3, 3, 4, 0) are
    // p = (½, ¼, ¼); (2, 2, 0, 0) is p = (½, ½).
    let three = 0.5 * (5f64).ln() + 2.0 * 0.25 * (2.5f64).ln();
    let two = (5f64).ln();
    assert_eq!(coverage.digit_kl.len(), 3);
    for (k, hand) in coverage.digit_kl.iter().zip([three, two, three]) {
        assert!((k - hand).abs() < 1e-9, "{coverage:?}");
    }
}

#[test]
fn mean_and_standard_error() {
    let m = MeanSe::of(&[1.0, 2.0, 3.0]);
    assert_eq!(m.mean, 2.0);
    assert!((m.se - 1.0 / 3f64.sqrt()).abs() < 1e-12);
    assert_eq!(m.show(2), "2.00 ± 0.58");
    assert_eq!(
        MeanSe::of(&[4.0]).show(1),
        "4.0",
        "one run has no error bar"
    );
}

fn tiny_bench(data: &str, jobs: usize) -> ModesBenchOptions {
    let mut options = ModesBenchOptions::for_data(data, DeviceChoice::Cpu).unwrap();
    options.packs = vec![1, 2];
    options.seeds = 2;
    options.steps = 4;
    options.samples = 300;
    options.jobs = jobs;
    options
}

#[test]
fn the_mixture_benchmark_runs_every_cell_reproducibly_and_writes_its_report() {
    let options = tiny_bench("mixture:ring8", 2);
    let report = run_modes_bench(&options, None, |_| {}).unwrap();
    assert_eq!(report.cells.len(), 4);
    assert_eq!(report.modes, 8);
    for row in &report.rows {
        let of: Vec<f64> = report
            .cells
            .iter()
            .filter(|c| c.pack == row.pack)
            .map(|c| c.measures.reverse_kl)
            .collect();
        assert_eq!(row.runs, 2);
        // Debug form: an infinite KL has a NaN error, which is not equal to itself.
        assert_eq!(
            format!("{:?}", row.reverse_kl),
            format!("{:?}", MeanSe::of(&of))
        );
        assert!(row.high_quality.is_some());
    }
    // One at a time gives the same numbers: parallel runs do not disturb each other.
    let serial = run_modes_bench(&ModesBenchOptions { jobs: 1, ..options }, None, |_| {}).unwrap();
    for (a, b) in report.cells.iter().zip(&serial.cells) {
        assert_eq!((a.pack, a.seed, &a.measures), (b.pack, b.seed, &b.measures));
    }

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bench");
    let written = write_report(&report, &out).unwrap();
    assert_eq!(written.len(), 3);
    let table = std::fs::read_to_string(out.join("modes.md")).unwrap();
    assert!(
        table.contains("| plain | 2 |") && table.contains("| pack 2 | 2 |"),
        "{table}"
    );
    // The paper's rows stand beside the measured ones.
    assert!(
        table.contains("PacGAN, Table 1")
            && table.contains("| GAN | 6.3 | 98.2% | 0.45 |")
            && table.contains("| PacGAN2 | 7.9 | 95.6% | 0.07 |"),
        "{table}"
    );
    let cells = csv::Reader::from_path(out.join("cells.csv"))
        .unwrap()
        .records()
        .count();
    assert_eq!(cells, 4);
    let figure = image::open(out.join("scatter.png")).unwrap();
    assert_eq!(figure.width(), 2 * 400, "one panel per packing");
    assert!(
        write_report(&report, &out).is_err(),
        "an earlier report is kept"
    );
}

#[test]
fn the_real_reference_row_scores_the_mixtures_own_draws() {
    let mut options = tiny_bench("mixture:ring8", 1);
    options.packs = vec![1];
    options.seeds = 1;
    options.steps = 1;
    options.samples = 40_000;
    let report = run_modes_bench(&options, None, |_| {}).unwrap();
    let real = &report.real;
    assert_eq!(
        (real.modes_captured, real.modes, report.real_items),
        (8, 8, 40_000)
    );
    // A 2-D Gaussian puts 1 − exp(−3²/2) = 98.89% of its mass within 3 standard deviations of
    // its centre; 40 000 draws tell that to ±0.16% (three standard errors).
    let within = 1.0 - (-4.5f64).exp();
    let hq = real
        .high_quality
        .expect("a mixture has high-quality samples");
    assert!((hq - within).abs() < 0.0016, "{hq} against {within}");
    // Uniform over the modes up to the sample's noise: E[KL] ≈ (modes − 1) / (2 · samples).
    assert!(
        real.reverse_kl < 10.0 * 7.0 / 80_000.0,
        "{}",
        real.reverse_kl
    );
    let table = report.table();
    assert!(
        table.contains("| real data (40000 samples, the ceiling) | | 8 | 98.9% |"),
        "{table}"
    );
}

#[test]
fn the_stacked_digits_benchmark_reads_modes_with_the_judge() {
    let dir = tempfile::tempdir().unwrap();
    let judge = brightness_judge(dir.path());
    let mut options = tiny_bench("stacked-digits", 2);
    options.seeds = 1;
    options.steps = 2;
    options.samples = 64;
    let report = run_modes_bench(&options, Some(judge), |_| {}).unwrap();
    assert_eq!((report.cells.len(), report.modes), (2, 1000));
    // The reference row reads the first 64 real stacked digits with the same judge.
    assert_eq!((report.real.modes, report.real_items), (1000, 64));
    assert!((1..=64).contains(&report.real.modes_captured));
    assert_eq!(report.real.high_quality, None);
    assert!(report.real.digit_kl.is_some_and(f64::is_finite));
    assert!(report.rows.iter().all(|r| r.digit_kl.is_some()));
    assert!(report.table().contains("the digits' KL"));
    for cell in &report.cells {
        assert!((1..=64).contains(&cell.measures.modes_captured));
        assert_eq!(cell.measures.high_quality, None);
        assert_eq!(cell.samples[0].len(), 3 * 16 * 16);
    }
    let out = dir.path().join("bench");
    write_report(&report, &out).unwrap();
    assert!(image::open(out.join("samples.png")).is_ok());
    let err = run_modes_bench(&options, None, |_| {})
        .unwrap_err()
        .to_string();
    assert!(err.contains("judge"), "{err}");
}

#[test]
fn long_scatter_titles_wrap_to_the_figure_width_and_keep_every_word() {
    use ganforge::output::scatter::{PANEL, ScatterPanel, scatter_png, wrap_to_width};
    use plotters::style::{FontDesc, IntoFont};
    let line = "PacGAN paper (Table 1, 10 trials, about 400 000 iterations): GAN 6 modes, 98% hq; \
                PacGAN2 8 modes, 96% hq";
    let panel = ScatterPanel {
        title: "p".into(),
        points: vec![[0.0, 0.0]],
        centres: vec![[1.0, 0.0]],
        extent: 1.5,
    };
    // Drawing first registers the figure's font.
    let short =
        image::load_from_memory(&scatter_png("ring8", std::slice::from_ref(&panel), 1).unwrap())
            .unwrap();
    let pieces = wrap_to_width(line, 15, 376);
    assert!(pieces.len() >= 2, "{pieces:?}");
    let font: FontDesc = ("sans-serif", 15.0).into_font();
    for piece in &pieces {
        assert!(
            font.box_size(piece).unwrap().0 <= 376,
            "{piece} is too wide"
        );
    }
    assert_eq!(pieces.join(" "), line, "no word lost");
    assert_eq!(wrap_to_width("ring8", 20, 376), vec!["ring8".to_string()]);
    // The figure keeps its width and grows a header line per extra piece.
    let long =
        image::load_from_memory(&scatter_png(&format!("ring8\n{line}"), &[panel], 1).unwrap())
            .unwrap();
    assert_eq!((short.width(), long.width()), (PANEL, PANEL));
    assert_eq!(long.height(), short.height() + 22 * pieces.len() as u32);
}
