//! CycleGAN: networks, losses, the image buffer, the schedule, training on the shipped digits
//! task, `translate`, and the refusals.

use burn::prelude::*;
use ganforge::config::{TrainConfig, TrainOverrides};
use ganforge::data::{DataSpec, ImageSet, LoadOptions};
use ganforge::device::DeviceChoice;
use ganforge::eval::translation::{DomainJudges, TranslationReport, evaluate_translation};
use ganforge::losses::{l1_distance, least_squares};
use ganforge::models::{CycleGeneratorConfig, ModelKind, PatchDiscriminatorConfig};
use ganforge::output::loss_log::CycleRecord;
use ganforge::output::loss_log::LossLog;
use ganforge::train::cycle::{CycleGan, Direction, ImagePool, scheduled_lr};
use ganforge::train::random::DataOrder;
use ganforge::translate::{TranslateOptions, translate};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::snapshot;

#[test]
fn generators_keep_the_shape_and_patchgan_scores_patches() {
    let device = Device::flex();
    for (spatial, channels) in [(16, 3), (32, 1), (64, 3)] {
        let g = CycleGeneratorConfig::new(channels)
            .with_filters(4)
            .with_blocks(2)
            .init(&device);
        let out = g.forward(Tensor::zeros([2, channels, spatial, spatial], &device));
        assert_eq!(out.dims(), [2, channels, spatial, spatial]);
        let layers = PatchDiscriminatorConfig::layers_for(spatial);
        let config = PatchDiscriminatorConfig::new(channels)
            .with_filters(4)
            .with_layers(layers);
        let d = config.init(&device);
        let side = config.output_side(spatial);
        assert!(side >= 2, "{spatial}: {side}");
        assert_eq!(
            d.forward(Tensor::zeros([2, channels, spatial, spatial], &device))
                .dims(),
            [2, 1, side, side]
        );
    }
    assert_eq!(
        (
            PatchDiscriminatorConfig::layers_for(16),
            PatchDiscriminatorConfig::layers_for(32),
            PatchDiscriminatorConfig::layers_for(256)
        ),
        (2, 3, 3)
    );
    // Fewer downsamplings keep the residual blocks on a finer grid with fewer filters: blocks of
    // f·2^d filters, 3×3 convolutions of them twice a block.
    for downsamplings in [0, 1, 2] {
        let g = CycleGeneratorConfig::new(3)
            .with_filters(4)
            .with_blocks(1)
            .with_downsamplings(downsamplings)
            .init(&device);
        let out = g.forward(Tensor::zeros([1, 3, 16, 16], &device));
        assert_eq!(out.dims(), [1, 3, 16, 16]);
        let inner = 4 << downsamplings;
        let widths: Vec<usize> = ganforge::models::parameter_values(&g)
            .iter()
            .map(|p| p.values.len())
            .collect();
        assert!(
            widths.contains(&(inner * inner * 9)),
            "{downsamplings}: a block's 3×3 kernel of {inner} filters"
        );
    }
    // Zhu et al.'s 70×70 PatchGAN, and its 30×30 score map at 256 px.
    let full = PatchDiscriminatorConfig::new(3);
    assert_eq!((full.receptive_field(), full.output_side(256)), (70, 30));
}

#[test]
fn the_losses_match_a_hand_computation() {
    let device = Device::flex();
    let t = |v: Vec<f32>| Tensor::<4>::from_data(TensorData::new(v, [1, 1, 2, 2]), &device);
    let a = t(vec![1.0, -1.0, 0.5, 0.0]);
    let b = t(vec![0.0, 1.0, 0.5, -0.5]);
    // (1 + 2 + 0 + 0.5) / 4
    assert_eq!(l1_distance(a.clone(), b).into_scalar::<f32>(), 0.875);
    // ((1−1)² + (−1−1)² + (0.5−1)² + (0−1)²) / 4 = (0 + 4 + 0.25 + 1) / 4
    assert_eq!(least_squares(a.clone(), 1.0).into_scalar::<f32>(), 1.3125);
    assert_eq!(least_squares(a, 0.0).into_scalar::<f32>(), 0.5625);
}

pub fn tiny_cycle(steps: usize) -> TrainConfig {
    TrainOverrides {
        model: Some(ModelKind::Cyclegan),
        capacity: Some(4),
        res_blocks: Some(1),
        batch: Some(4),
        steps: Some(steps),
        progress_interval: Some(5),
        iterations_per_epoch: Some(5),
        checkpoint_interval: Some(5),
        num_load: Some(64),
        ..Default::default()
    }
    .resolve()
    .expect("a valid CycleGAN config")
}

fn domains(config: &TrainConfig) -> (ImageSet, ImageSet) {
    ganforge::train::load_domains(config).unwrap()
}

#[test]
fn an_iteration_reports_the_cycle_and_identity_terms_of_its_networks() {
    let config = tiny_cycle(1);
    let (a, b) = domains(&config);
    let mut gan = CycleGan::new(&config, &Device::flex());
    // The batches the iteration draws, and the terms by hand from the networks before it.
    let real_a = a.batch(
        &DataOrder::new(config.schedule.seed, a.len()).indices(0, 4),
        &Device::flex(),
    );
    let real_b = b.batch(
        &DataOrder::new(config.schedule.seed ^ 0x0b0b_0b0b, b.len()).indices(0, 4),
        &Device::flex(),
    );
    let mean_abs = |x: Tensor<4>, y: Tensor<4>| {
        let (x, y) = (ganforge::tensor_values(x), ganforge::tensor_values(y));
        x.iter()
            .zip(&y)
            .map(|(p, q)| (p - q).abs() as f64)
            .sum::<f64>()
            / x.len() as f64
    };
    let g_of_a = gan.translate(real_a.clone(), Direction::A2b);
    let cycle_a = 10.0 * mean_abs(gan.translate(g_of_a, Direction::B2a), real_a.clone());
    let identity_b = 5.0 * mean_abs(gan.translate(real_b.clone(), Direction::A2b), real_b);
    let identity_a = 5.0 * mean_abs(gan.translate(real_a.clone(), Direction::B2a), real_a);
    let stats = gan.iteration(
        &a,
        &b,
        &mut DataOrder::new(config.schedule.seed, a.len()),
        &mut DataOrder::new(config.schedule.seed ^ 0x0b0b_0b0b, b.len()),
    );
    for (got, want) in [
        (stats.cycle_a, cycle_a),
        (stats.identity_a, identity_a),
        (stats.identity_b, identity_b),
    ] {
        assert!((got - want).abs() < 1e-4 * want.max(1.0), "{got} vs {want}");
    }
    assert!(stats.d_a.is_finite() && stats.d_b.is_finite() && stats.g_grad_norm > 0.0);
}

#[test]
fn cycle_noise_is_added_to_the_translation_before_the_way_back() {
    use ganforge::train::random::{Stream, gaussian, stream};
    let mut config = tiny_cycle(1);
    config.cycle.cycle_noise = 0.3;
    let (a, b) = domains(&config);
    let device = Device::flex();
    let mut gan = CycleGan::new(&config, &device);
    let real_a = a.batch(
        &DataOrder::new(config.schedule.seed, a.len()).indices(0, 4),
        &device,
    );
    // The noise of step 0: G(a)'s first, from the run's named stream.
    let mut rng = stream(config.schedule.seed, 0, Stream::CycleNoise);
    let noise = gaussian(&mut rng, 0.3, [4, 3, 16, 16], &device);
    let spread = ganforge::tensor_values(noise.clone());
    let std = (spread.iter().map(|v| v * v).sum::<f32>() / spread.len() as f32).sqrt();
    assert!((std - 0.3).abs() < 0.02, "the noise has std {std}");
    let back = gan.translate(
        gan.translate(real_a.clone(), Direction::A2b) + noise,
        Direction::B2a,
    );
    let (x, y) = (
        ganforge::tensor_values(back),
        ganforge::tensor_values(real_a),
    );
    let want = 10.0
        * x.iter()
            .zip(&y)
            .map(|(p, q)| (p - q).abs() as f64)
            .sum::<f64>()
        / x.len() as f64;
    let stats = gan.iteration(
        &a,
        &b,
        &mut DataOrder::new(config.schedule.seed, a.len()),
        &mut DataOrder::new(config.schedule.seed ^ 0x0b0b_0b0b, b.len()),
    );
    assert!(
        (stats.cycle_a - want).abs() < 1e-4 * want.max(1.0),
        "{} vs {want}",
        stats.cycle_a
    );

    let err = TrainOverrides {
        model: Some(ModelKind::Cyclegan),
        cycle_noise: Some(-0.1),
        ..Default::default()
    }
    .resolve()
    .unwrap_err()
    .to_string();
    assert!(err.contains("`cycle_noise`"), "{err}");
}

#[test]
fn the_buffer_returns_stored_fakes_half_the_time_once_full() {
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let mut pool = ImagePool::new(50);
    let first: Vec<Vec<f32>> = (0..50).map(|i| vec![i as f32]).collect();
    assert_eq!(
        pool.query(first.clone(), &mut rng),
        first,
        "filling returns the new images"
    );
    assert_eq!(pool.len(), 50);
    let mut from_store = 0;
    for k in 0..1000 {
        let new = vec![1000.0 + k as f32];
        let shown = pool.query(vec![new.clone()], &mut rng);
        if shown[0] != new {
            from_store += 1;
        }
    }
    // Binomial(1000, ½): 500 ± 16 (one standard deviation).
    assert!((440..=560).contains(&from_store), "{from_store}");
    assert_eq!(pool.len(), 50, "a swap keeps the size");
    assert!(ImagePool::new(0).query(first.clone(), &mut rng) == first);
}

#[test]
fn the_learning_rate_is_constant_then_falls_linearly_to_zero() {
    let lr = |step| scheduled_lr(2e-4, step, 100, 50);
    assert_eq!((lr(0), lr(49), lr(50)), (2e-4, 2e-4, 2e-4));
    assert!((lr(75) - 1e-4).abs() < 1e-15);
    assert!((lr(99) - 2e-4 / 50.0).abs() < 1e-15);
}

#[test]
fn the_shipped_task_has_two_unpaired_labelled_domains() {
    let options = LoadOptions::new(16, 3);
    let a = ImageSet::load(&DataSpec::DigitsA, options).unwrap();
    let b = ImageSet::load(&DataSpec::DigitsB, options).unwrap();
    assert_eq!((a.len(), b.len()), (898, 899));
    assert_eq!(a.labels.as_ref().unwrap().len(), 898);
    let mean = |s: &ImageSet| {
        (0..s.len())
            .map(|i| s.image(i).iter().sum::<f32>())
            .sum::<f32>()
            / (s.len() * 3 * 256) as f32
    };
    // A: light strokes on black; B: dark strokes on pale paper.
    assert!(
        mean(&a) < -0.2 && mean(&b) > 0.1,
        "{} {}",
        mean(&a),
        mean(&b)
    );
    // B is coloured: its channels differ.
    let b0 = b.image(0);
    assert!(b0[..256] != b0[512..]);
    // The task's generators keep full resolution; photos get Zhu et al.'s two downsamplings,
    // and a side the downsamplings cannot halve is refused by name.
    let task = TrainOverrides {
        model: Some(ModelKind::Cyclegan),
        ..Default::default()
    }
    .resolve()
    .unwrap();
    assert_eq!(task.cycle.downsamplings, 0);
    assert_eq!((task.optimiser.lr_d, task.optimiser.lr_g), (5e-5, 2e-4));
    let err = TrainOverrides {
        model: Some(ModelKind::Cyclegan),
        downsamplings: Some(3),
        spatial: Some(20),
        ..Default::default()
    }
    .resolve()
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("spatial") && err.contains("multiple of 8"),
        "{err}"
    );
    let err = TrainOverrides {
        model: Some(ModelKind::Cyclegan),
        downsamplings: Some(5),
        ..Default::default()
    }
    .resolve()
    .unwrap_err()
    .to_string();
    assert!(err.contains("downsamplings"), "{err}");
}

#[test]
fn a_short_run_on_the_shipped_task_writes_everything_and_lowers_the_cycle_loss() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = tiny_cycle(40);
    config.optimiser.lr_g = 1e-3;
    config.optimiser.lr_d = 1e-3;
    config.optimiser.lr_decay_start = Some(40);
    let run = dir.path().join("cycle");
    super::train_quiet(config, &run);
    for file in [
        "config.toml",
        "losses.csv",
        "losses.png",
        "train.log",
        "checkpoints/latest",
    ] {
        assert!(run.join(file).is_file(), "{file}");
    }
    for step in [5, 40] {
        let panel = image::open(run.join(format!("samples/step_{step:07}.png"))).unwrap();
        assert!(panel.height() > 8 * 16, "eight rows of triples");
    }
    let rows = LossLog::<CycleRecord>::read(&run.join("losses.csv")).unwrap();
    assert_eq!(rows.len(), 40);
    let cycle = |rows: &[CycleRecord]| {
        rows.iter().map(|r| r.cycle_a + r.cycle_b).sum::<f64>() / rows.len() as f64
    };
    let (early, late) = (cycle(&rows[..5]), cycle(&rows[35..]));
    assert!(late < 0.7 * early, "cycle loss {early} → {late}");
    let header = std::fs::read_to_string(run.join("losses.csv")).unwrap();
    for column in [
        "adversarial_ab",
        "adversarial_ba",
        "cycle_a",
        "cycle_b",
        "identity_a",
        "identity_b",
    ] {
        assert!(header.lines().next().unwrap().contains(column), "{column}");
    }

    // Resumed further, it continues from its checkpoint.
    let summary = ganforge::train::resume(ganforge::train::ResumeOptions {
        keep_checkpoints: None,
        tensorboard: None,
        device: DeviceChoice::Cpu,
        out: run.clone(),
        steps: Some(45),
        epochs: None,
        progress: ganforge::train::Progress::Quiet,
    })
    .unwrap();
    assert_eq!(summary.steps, 45);
    assert_eq!(
        LossLog::<CycleRecord>::read(&run.join("losses.csv"))
            .unwrap()
            .len(),
        45
    );

    // translate: one output per input, same names; the unreadable one is skipped and named.
    let input = dir.path().join("photos");
    std::fs::create_dir_all(input.join("nested")).unwrap();
    let digits = super::small_digits(3);
    for (i, name) in ["one.png", "nested/two.png", "three.jpg"]
        .iter()
        .enumerate()
    {
        let image = ganforge::sample::pixels_to_image(digits.image(i), 1, 16).resize_exact(
            20 + i as u32,
            24,
            image::imageops::FilterType::Triangle,
        );
        image.to_rgb8().save(input.join(name)).unwrap();
    }
    std::fs::write(input.join("broken.png"), b"not a png").unwrap();
    let out = dir.path().join("translated");
    let options = TranslateOptions {
        run: run.clone(),
        direction: Direction::A2b,
        input: input.clone(),
        output: out.clone(),
        original_size: false,
        device: DeviceChoice::Cpu,
    };
    let result = translate(&options).unwrap();
    assert_eq!(result.written.len(), 3);
    assert_eq!(result.skipped.len(), 1);
    for name in ["one.png", "nested/two.png", "three.jpg"] {
        let image = image::open(out.join(name)).unwrap();
        assert_eq!((image.width(), image.height()), (16, 16), "{name}");
    }
    let resized = dir.path().join("resized");
    translate(&TranslateOptions {
        output: resized.clone(),
        original_size: true,
        direction: Direction::B2a,
        ..options.clone()
    })
    .unwrap();
    let three = image::open(resized.join("three.jpg")).unwrap();
    assert_eq!((three.width(), three.height()), (22, 24));

    // Measured: cycle error on every image, class preservation through each domain's judge.
    let judges = dir.path().join("judges");
    for (name, spec) in [("a", DataSpec::DigitsA), ("b", DataSpec::DigitsB)] {
        let data = ImageSet::load(
            &spec,
            LoadOptions {
                limit: Some(100),
                ..LoadOptions::new(16, 3)
            },
        )
        .unwrap();
        let (judge, info) = ganforge::eval::judge::train_judge(
            &data,
            name,
            &ganforge::eval::judge::JudgeTraining::new().with_epochs(1),
            4,
            &Device::flex(),
        )
        .unwrap();
        ganforge::eval::judge::save_judge(&judge, &info, &judges.join(name)).unwrap();
    }
    let with_judges = DomainJudges {
        a: Some(judges.join("a")),
        b: Some(judges.join("b")),
    };
    let report = evaluate_translation(&run, &with_judges, DeviceChoice::Cpu).unwrap();
    assert_eq!(
        (report.step, report.images_a, report.images_b),
        (45, 64, 64)
    );
    for error in [report.cycle_error_a, report.cycle_error_b] {
        assert!(error > 0.0 && error < 2.0, "{report:?}");
    }
    for share in [report.class_preserved_ab, report.class_preserved_ba] {
        assert!(
            share.is_some_and(|s| (0.0..=1.0).contains(&s)),
            "{report:?}"
        );
    }
    let written: TranslationReport =
        serde_json::from_str(&std::fs::read_to_string(run.join("eval.json")).unwrap()).unwrap();
    assert_eq!(written, report);
    let nowhere = DomainJudges {
        a: Some(dir.path().join("no-judge")),
        b: Some(dir.path().join("no-judge")),
    };
    let without = evaluate_translation(&run, &nowhere, DeviceChoice::Cpu).unwrap();
    assert_eq!(
        (without.class_preserved_ab, without.class_preserved_ba),
        (None, None)
    );
    assert_eq!(without.cycle_error_a, report.cycle_error_a);

    // Refusals, with nothing written.
    let before = snapshot(dir.path());
    let refuse = |options: TranslateOptions, expect: &str| {
        let err = translate(&options).unwrap_err().to_string();
        assert!(err.contains(expect), "`{expect}` not in: {err}");
    };
    refuse(
        TranslateOptions {
            output: input.join("inside"),
            ..options.clone()
        },
        "inside the input",
    );
    refuse(
        TranslateOptions {
            output: input.clone(),
            ..options.clone()
        },
        "inside the input",
    );
    refuse(options.clone(), "not empty");
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let before_empty = snapshot(dir.path());
    refuse(
        TranslateOptions {
            input: empty.clone(),
            output: dir.path().join("never"),
            ..options.clone()
        },
        "no readable image",
    );
    assert_eq!(snapshot(dir.path()), before_empty);
    std::fs::remove_dir(&empty).unwrap();
    let (_guard, dcgan) = super::tiny_run(2);
    refuse(
        TranslateOptions {
            run: dcgan,
            output: dir.path().join("never"),
            ..options.clone()
        },
        "needs a CycleGAN run",
    );
    assert_eq!(snapshot(dir.path()), before);
}

#[test]
fn a_cyclegan_run_with_an_unusable_domain_is_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let mut config = tiny_cycle(2);
    config.cycle.data_b = Some(format!("folder:{}", empty.display()).parse().unwrap());
    let before = snapshot(dir.path());
    let err = ganforge::train::train(config, super::quiet(&dir.path().join("run")))
        .unwrap_err()
        .to_string();
    assert!(err.contains("`data_b`"), "{err}");
    assert_eq!(snapshot(dir.path()), before);

    // The public layout: cyclegan:DIR names trainA/ and trainB/.
    let config = TrainOverrides {
        model: Some(ModelKind::Cyclegan),
        data: Some("cyclegan:horse2zebra".parse().unwrap()),
        ..Default::default()
    }
    .resolve()
    .unwrap();
    assert_eq!(
        config
            .cycle
            .data_a
            .as_ref()
            .map(ToString::to_string)
            .as_deref(),
        Some("folder:horse2zebra/trainA")
    );
    assert_eq!(
        config
            .cycle
            .data_b
            .as_ref()
            .map(ToString::to_string)
            .as_deref(),
        Some("folder:horse2zebra/trainB")
    );
    let err = TrainOverrides {
        model: Some(ModelKind::Cyclegan),
        data: Some("digits".parse().unwrap()),
        ..Default::default()
    }
    .resolve()
    .unwrap_err()
    .to_string();
    assert!(err.contains("cyclegan:DIR"), "{err}");
}
