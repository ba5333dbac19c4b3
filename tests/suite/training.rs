use burn::module::Module;
use burn::prelude::*;
use ganforge::config::TrainOverrides;
use ganforge::data::{DataSpec, ImageSet, LoadOptions};
use ganforge::device::DeviceChoice;
use ganforge::models::{NormKind, ParamValues, parameter_values};
use ganforge::output::loss_log::LossLog;
use ganforge::output::run_dir::RunDir;
use ganforge::train::random::{DataOrder, Stream};
use ganforge::train::{Gan, Progress, ResumeOptions, TrainOptions, resume, train};

use super::tiny_config;
use ganforge::models::{DiscriminatorNet, GeneratorNet};

fn options(out: &std::path::Path) -> TrainOptions {
    TrainOptions {
        device: DeviceChoice::Cpu,
        out: Some(out.to_path_buf()),
        runs_root: out.to_path_buf(),
        progress: Progress::Quiet,
    }
}

fn digits(config: &ganforge::config::TrainConfig) -> ImageSet {
    ImageSet::load(
        &DataSpec::Digits,
        LoadOptions {
            limit: config.input.num_load,
            ..LoadOptions::new(config.input.spatial, config.input.channels)
        },
    )
    .unwrap()
}

#[test]
fn a_short_run_writes_every_output_and_they_parse() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let config = tiny_config(12);
    let summary = train(config.clone(), options(&out)).unwrap();
    assert_eq!(summary.steps, 12);

    let run = RunDir::open(&out).unwrap();
    assert_eq!(
        run.read_config().unwrap(),
        config,
        "config.toml round-trips"
    );

    let rows = LossLog::<ganforge::output::loss_log::StepRecord>::read(&run.losses_csv()).unwrap();
    assert_eq!(rows.len(), 12);
    assert_eq!(
        rows.iter().map(|r| r.step).collect::<Vec<_>>(),
        (1..=12).collect::<Vec<_>>()
    );
    for r in &rows {
        assert!(r.d_loss.is_finite() && r.g_loss.is_finite());
        assert!((0.0..=1.0).contains(&r.d_real) && (0.0..=1.0).contains(&r.d_fake));
        assert!(r.seconds > 0.0 && r.images_per_second > 0.0);
        assert_eq!(r.epoch, (r.step - 1) / 5);
    }

    let plot = image::open(run.losses_png()).unwrap();
    assert_eq!((plot.width(), plot.height()), (900, 450));
    for step in [5, 10, 12] {
        let figure = image::open(run.sample_figure(step)).unwrap();
        assert!(figure.width() > 8 * 64 && figure.height() > 2 * 64);
    }
    assert!(!run.sample_figure(11).exists());
    let latest = std::fs::read_to_string(run.checkpoints_dir().join("latest")).unwrap();
    assert_eq!(latest, "step_0000012");
    for file in [
        "generator.bpk",
        "discriminator.bpk",
        "optim_g.bpk",
        "optim_d.bpk",
        "state.toml",
    ] {
        assert!(run.checkpoints_dir().join(&latest).join(file).is_file());
    }
    // The checkpoint before the newest is kept; older ones are pruned.
    assert!(run.checkpoints_dir().join("step_0000010").is_dir());
    assert!(!run.checkpoints_dir().join("step_0000005").exists());
    let log = std::fs::read_to_string(run.log_path()).unwrap();
    assert!(log.contains("300 images of 1×16×16") && log.contains("finished at step 12"));
}

/// How often D ranks a real image above a fake one, over every (real, fake) pair of a batch of
/// `count` real digits and a batch of as many fresh fakes, judged as D judges batches in training.
/// This is the area under D's ROC curve: 0.5 is chance. Unlike accuracy at a 0.5 threshold it does
/// not depend on where D's outputs sit early on, when the tutorial's small learning rate leaves
/// them all near 0.5.
fn discriminator_auc(gan: &Gan, data: &ImageSet, count: usize) -> f64 {
    let indices: Vec<usize> = (0..count).map(|i| i * data.len() / count).collect();
    let real = gan.training_scores(data.batch(&indices, gan.device()), None);
    let fakes = gan
        .generator
        .forward(gan.latent(Stream::Sample, 99, count).noise)
        .detach();
    let fake = gan.training_scores(fakes, None);
    let ordered: usize = real
        .iter()
        .map(|r| fake.iter().filter(|&&f| *r > f).count())
        .sum();
    ordered as f64 / (count * count) as f64
}

#[test]
fn the_discriminator_learns_within_a_few_dozen_steps() {
    // The tutorial's D (BatchNorm) and sizes (capacity 16, batch 32) on the digits.
    let config = TrainOverrides {
        d_norm: Some(NormKind::Batch),
        recipe: Some(ganforge::config::Recipe::Tutorial),
        ..Default::default()
    }
    .resolve()
    .unwrap();
    let data = digits(&config);
    let mut gan = Gan::new(&config, &Device::flex());
    let untrained = discriminator_auc(&gan, &data, 64);
    assert!(
        (0.35..0.65).contains(&untrained),
        "an untrained D is near chance: {untrained}"
    );
    let mut order = DataOrder::new(config.schedule.seed, data.len());
    let mut losses = Vec::new();
    for _ in 0..60 {
        losses.push(gan.iteration(&data, &mut order).d_loss);
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    assert!(
        mean(&losses[50..]) < mean(&losses[..10]),
        "D's loss falls: {:?} → {:?}",
        &losses[..10],
        &losses[50..]
    );
    let trained = discriminator_auc(&gan, &data, 64);
    assert!(
        trained > 0.75,
        "D tells real from fake: AUC {untrained} before, {trained} after 60 steps"
    );
}

#[test]
fn a_layer_normalised_discriminator_learns_too() {
    // A per-sample D already tells an untrained G's output apart; training must sharpen it.
    let config = TrainOverrides {
        recipe: Some(ganforge::config::Recipe::Tutorial),
        ..Default::default()
    }
    .resolve()
    .unwrap();
    assert_eq!(config.networks.d_norm, NormKind::Layer, "the digits preset");
    let data = digits(&config);
    let mut gan = Gan::new(&config, &Device::flex());
    let untrained = discriminator_auc(&gan, &data, 64);
    let mut order = DataOrder::new(config.schedule.seed, data.len());
    for _ in 0..30 {
        gan.iteration(&data, &mut order);
    }
    let trained = discriminator_auc(&gan, &data, 64);
    assert!(
        trained > untrained && trained > 0.9,
        "AUC {untrained} → {trained}"
    );
}

fn changed(before: &[ParamValues], after: &[ParamValues], trainable_only: bool) -> usize {
    before
        .iter()
        .zip(after)
        .filter(|(b, _)| b.trainable || !trainable_only)
        .filter(|(b, a)| {
            assert_eq!(b.id, a.id);
            b.values != a.values
        })
        .count()
}

#[test]
fn each_step_trains_only_its_own_network() {
    for norm in [NormKind::Batch, NormKind::Layer] {
        let mut config = tiny_config(1);
        config.networks.d_norm = norm;
        let data = digits(&config);
        let mut gan = Gan::new(&config, &Device::flex());
        let mut order = DataOrder::new(config.schedule.seed, data.len());
        // A few iterations first, so that Adam has moments and the running statistics move.
        for _ in 0..3 {
            gan.iteration(&data, &mut order);
        }

        let d_before = parameter_values(&gan.discriminator);
        let g_before = parameter_values(&gan.generator);
        let has_running_stats = d_before.iter().any(|p| !p.trainable);
        assert_eq!(has_running_stats, norm == NormKind::Batch);
        gan.generator_step(gan.latent(Stream::GeneratorNoise, 1000, 8));
        let d_after = parameter_values(&gan.discriminator);
        assert_eq!(
            changed(&d_before, &d_after, false),
            0,
            "{norm:?}: a G step leaves every D weight and running statistic bit-identical"
        );
        assert!(changed(&g_before, &parameter_values(&gan.generator), true) > 0);

        let g_before = parameter_values(&gan.generator);
        let real = data.batch(&order.indices(0, 8), gan.device());
        gan.discriminator_step_real(real, None);
        gan.discriminator_step_fake(gan.latent(Stream::DiscriminatorNoise, 1000, 8));
        let g_after = parameter_values(&gan.generator);
        assert_eq!(
            changed(&g_before, &g_after, true),
            0,
            "{norm:?}: D steps leave every trainable G weight bit-identical"
        );
        let d_trained = parameter_values(&gan.discriminator);
        let trainable = d_after.iter().filter(|p| p.trainable).count();
        assert_eq!(
            changed(&d_after, &d_trained, true),
            trainable,
            "{norm:?}: every trainable D weight moves on D steps"
        );
    }
}

#[test]
fn same_seed_and_config_give_the_same_losses() {
    let dir = tempfile::tempdir().unwrap();
    let config = tiny_config(6);
    let a = train(config.clone(), options(&dir.path().join("a"))).unwrap();
    let b = train(config.clone(), options(&dir.path().join("b"))).unwrap();
    let rows_a =
        LossLog::<ganforge::output::loss_log::StepRecord>::read(&a.run_dir.join("losses.csv"))
            .unwrap();
    let rows_b =
        LossLog::<ganforge::output::loss_log::StepRecord>::read(&b.run_dir.join("losses.csv"))
            .unwrap();
    for (x, y) in rows_a.iter().zip(&rows_b) {
        assert!((x.d_loss - y.d_loss).abs() < 1e-5 && (x.g_loss - y.g_loss).abs() < 1e-5);
    }
    let mut other = config;
    other.schedule.seed += 1;
    let c = train(other, options(&dir.path().join("c"))).unwrap();
    let rows_c =
        LossLog::<ganforge::output::loss_log::StepRecord>::read(&c.run_dir.join("losses.csv"))
            .unwrap();
    assert!(
        rows_a
            .iter()
            .zip(&rows_c)
            .any(|(x, y)| (x.g_loss - y.g_loss).abs() > 1e-4)
    );
}

#[test]
fn a_resumed_run_continues_exactly_where_it_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let whole = train(tiny_config(10), options(&dir.path().join("whole"))).unwrap();

    let split = dir.path().join("split");
    train(tiny_config(5), options(&split)).unwrap();
    let resumed = resume(ResumeOptions {
        keep_checkpoints: None,
        tensorboard: None,
        device: DeviceChoice::Cpu,
        out: split.clone(),
        steps: Some(10),
        epochs: None,
        progress: Progress::Quiet,
    })
    .unwrap();
    assert_eq!(resumed.steps, 10);

    let a =
        LossLog::<ganforge::output::loss_log::StepRecord>::read(&whole.run_dir.join("losses.csv"))
            .unwrap();
    let b =
        LossLog::<ganforge::output::loss_log::StepRecord>::read(&split.join("losses.csv")).unwrap();
    assert_eq!(b.len(), 10, "the log continues, no row lost or repeated");
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x.step, y.step);
        for (u, v) in [
            (x.d_loss, y.d_loss),
            (x.g_loss, y.g_loss),
            (x.d_fake, y.d_fake),
        ] {
            assert!(
                (u - v).abs() <= 1e-4 * u.abs().max(1.0),
                "step {}: {u} vs {v}",
                x.step
            );
        }
    }
    let config = RunDir::open(&split).unwrap().read_config().unwrap();
    assert_eq!(config.schedule.steps, Some(10), "the new total is recorded");
}

#[test]
fn data_order_is_a_fixed_sequence_of_shuffled_passes() {
    let mut order = DataOrder::new(7, 10);
    let first_pass = order.indices(0, 10);
    let mut sorted = first_pass.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        (0..10).collect::<Vec<_>>(),
        "a pass is a permutation"
    );
    assert_ne!(first_pass, (0..10).collect::<Vec<_>>());
    let spanning = order.indices(8, 4);
    let mut fresh = DataOrder::new(7, 10);
    assert_eq!(
        spanning,
        fresh.indices(8, 4),
        "draws depend on position only"
    );
    assert_eq!(&spanning[..2], &first_pass[8..]);
}

#[test]
fn divergence_stops_at_once_and_keeps_the_last_good_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    train(tiny_config(5), options(&out)).unwrap();
    let checkpoints = out.join("checkpoints");
    let before = super::snapshot(&checkpoints);

    // Learning rates no run survives: the first resumed step blows up. Adam moves each weight
    // by about the learning rate, and D's LayerNorm rescales whatever its convolutions give (its
    // statistics in f64), so only a step near f32's limit (3.4e38) is sure to overflow at once.
    let config_path = out.join("config.toml");
    let text = std::fs::read_to_string(&config_path).unwrap();
    let text = text
        .replace("lr_d = 0.0002", "lr_d = 1e38")
        .replace("lr_g = 0.0002", "lr_g = 1e38");
    std::fs::write(&config_path, text).unwrap();
    let err = resume(ResumeOptions {
        keep_checkpoints: None,
        tensorboard: None,
        device: DeviceChoice::Cpu,
        out: out.clone(),
        steps: Some(10),
        epochs: None,
        progress: Progress::Quiet,
    })
    .unwrap_err()
    .to_string();
    assert!(err.contains("diverged at step 6"), "{err}");
    assert_eq!(
        super::snapshot(&checkpoints),
        before,
        "the checkpoint is intact"
    );
    let rows =
        LossLog::<ganforge::output::loss_log::StepRecord>::read(&out.join("losses.csv")).unwrap();
    assert_eq!(
        rows.len(),
        6,
        "the diverging step is logged, nothing after it"
    );
    assert!(!rows[5].d_loss.is_finite() || !rows[5].g_loss.is_finite());
    assert!(
        std::fs::read_to_string(out.join("train.log"))
            .unwrap()
            .contains("diverged")
    );
}

#[test]
fn the_moving_average_of_g_follows_its_formula_and_is_what_samples_come_from() {
    let mut config = tiny_config(1);
    config.remedies.g_ema = Some(0.9);
    let data = digits(&config);
    let mut gan = Gan::new(&config, &Device::flex());
    let mut order = DataOrder::new(config.schedule.seed, data.len());
    gan.iteration(&data, &mut order);

    let average_before = parameter_values(gan.generator_ema.as_ref().unwrap());
    gan.generator_step(gan.latent(Stream::GeneratorNoise, 500, 8));
    let _ = gan.generator.valid(); // brings G's running statistics up to date for reading
    let current = parameter_values(&gan.generator);
    let average_after = parameter_values(gan.generator_ema.as_ref().unwrap());
    let mut weights = 0;
    for ((before, after), g) in average_before.iter().zip(&average_after).zip(&current) {
        assert_eq!((before.id, after.id), (g.id, g.id));
        for ((b, a), v) in before.values.iter().zip(&after.values).zip(&g.values) {
            let expected = if g.trainable { 0.9 * b + 0.1 * v } else { *v };
            assert!((a - expected).abs() < 1e-6, "{a} vs {expected}");
        }
        weights += g.trainable as usize;
    }
    assert!(weights > 0);

    // A run with an average samples from it, and keeps it across a checkpoint.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ema");
    let mut config = tiny_config(4);
    config.remedies.g_ema = Some(0.5);
    train(config.clone(), options(&out)).unwrap();
    let sampled =
        ganforge::sample::generate(&out, ganforge::sample::Draw::Any(3), 0, DeviceChoice::Cpu)
            .unwrap();
    let checkpoint = ganforge::output::checkpoint::latest(&out.join("checkpoints")).unwrap();
    assert!(checkpoint.join("generator_ema.bpk").is_file());
    let gan = ganforge::train::Gan::load(&config, &checkpoint, &Device::flex()).unwrap();
    let z = ganforge::train::random::noise(
        &mut ganforge::train::random::stream(0, 0, Stream::Sample),
        config.schedule.noise,
        3,
        config.networks.latent,
        &Device::flex(),
    );
    let from_average = ganforge::tensor_values(gan.generate(ganforge::train::Latent {
        noise: z.clone(),
        labels: None,
    }));
    let from_raw = ganforge::tensor_values(gan.generator.valid().forward(z));
    let sampled: Vec<f32> = sampled.into_iter().flat_map(|(p, _)| p).collect();
    assert_eq!(sampled, from_average);
    assert_ne!(sampled, from_raw);
}

#[test]
fn a_mixed_batch_judges_real_and_fake_images_together() {
    for norm in [NormKind::Layer, NormKind::Batch] {
        let mut config = tiny_config(1);
        config.remedies.mixed_batches = true;
        config.networks.d_norm = norm;
        let data = digits(&config);
        let mut gan = Gan::new(&config, &Device::flex());
        let mut order = DataOrder::new(config.schedule.seed, data.len());
        let real = data.batch(&order.indices(0, 8), gan.device());
        let latent = gan.latent(Stream::DiscriminatorNoise, 0, 8);

        // D's losses on each half judged alone, before the update.
        let objective = config.objective();
        let alone = gan.discriminator.valid().train().no_grad();
        let fake = gan.generator.forward(latent.noise.clone()).detach();
        let alone_real = objective.discriminator_real(alone.forward(real.clone()));
        let alone_fake = objective.discriminator_fake(alone.forward(fake));
        let alone = (
            alone_real.into_scalar::<f32>() as f64,
            alone_fake.into_scalar::<f32>() as f64,
        );
        let (r, f) = gan.discriminator_step_mixed(real, None, latent);
        let same = (r.loss - alone.0).abs() < 1e-5 && (f.loss - alone.1).abs() < 1e-5;
        // Judging each image on its own, the layer-normalised D gives the same losses; the
        // BatchNorm D normalises the mixed batch as a whole, so its losses change.
        assert_eq!(
            same,
            norm == NormKind::Layer,
            "{norm:?}: {r:?} {f:?} vs {alone:?}"
        );
        assert_eq!(r.grad_norm, f.grad_norm, "one update for both halves");
        let stats = gan.iteration(&data, &mut order);
        assert!(stats.d_loss.is_finite() && stats.g_loss.is_finite());
    }
}

#[test]
fn a_damaged_or_foreign_checkpoint_is_refused_before_anything_loads() {
    use ganforge::output::checkpoint::{latest, read_state};
    let (_guard, run) = super::tiny_run(3);
    let dir = latest(&run.join("checkpoints")).unwrap();
    let state = read_state(&dir).unwrap();
    assert!(
        [
            "generator.bpk",
            "discriminator.bpk",
            "optim_g.bpk",
            "optim_d.bpk"
        ]
        .iter()
        .all(|f| state.checksums.contains_key(*f)),
        "{state:?}"
    );
    // One flipped byte in the middle of G's weights.
    let path = dir.join("generator.bpk");
    let mut bytes = std::fs::read(&path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    std::fs::write(&path, &bytes).unwrap();
    let err = read_state(&dir).unwrap_err().to_string();
    assert!(err.contains("generator.bpk is damaged"), "{err}");
    let resumed = ganforge::train::resume(ganforge::train::ResumeOptions {
        keep_checkpoints: None,
        tensorboard: None,
        device: ganforge::device::DeviceChoice::Cpu,
        out: run.clone(),
        steps: Some(5),
        epochs: None,
        progress: ganforge::train::Progress::Quiet,
    });
    assert!(resumed.unwrap_err().to_string().contains("damaged"));
    bytes[middle] ^= 0x40;
    std::fs::write(&path, &bytes).unwrap();

    // Another model's checkpoint is refused by name, before any weight is read.
    let state_path = dir.join("state.toml");
    let text = std::fs::read_to_string(&state_path).unwrap();
    std::fs::write(
        &state_path,
        text.replace("model = \"dcgan\"", "model = \"cyclegan\""),
    )
    .unwrap();
    let config = ganforge::output::run_dir::RunDir::open(&run)
        .unwrap()
        .read_config()
        .unwrap();
    let err = ganforge::train::Gan::load(&config, &dir, &Device::flex())
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("holds a cyclegan model"), "{err}");
    std::fs::write(&state_path, &text).unwrap();

    // An older format is refused by its number, whatever else its state holds.
    let state_path = dir.join("state.toml");
    let text = std::fs::read_to_string(&state_path).unwrap();
    std::fs::write(&state_path, text.replace("format = 2", "format = 1")).unwrap();
    let err = read_state(&dir).unwrap_err().to_string();
    assert!(
        err.contains("format 1") && err.contains("format 2"),
        "{err}"
    );
}

#[test]
fn a_failing_checkpoint_write_is_a_clear_error_and_keeps_the_last_good_one() {
    use ganforge::output::checkpoint::{latest, read_state};
    let dir = tempfile::tempdir().unwrap();
    let mut config = super::tiny_config(4);
    config.schedule.checkpoint_interval = 2;
    let run = dir.path().join("run");
    super::train_quiet(config, &run);
    // A file where the next checkpoint's temporary directory must go: the write fails, as on a
    // full or read-only disk (and whatever the user's permissions, root included).
    let checkpoints = run.join("checkpoints");
    std::fs::write(checkpoints.join(".tmp_step_0000006"), b"in the way").unwrap();
    let err = ganforge::train::resume(ganforge::train::ResumeOptions {
        keep_checkpoints: None,
        tensorboard: None,
        device: ganforge::device::DeviceChoice::Cpu,
        out: run.clone(),
        steps: Some(6),
        epochs: None,
        progress: ganforge::train::Progress::Quiet,
    })
    .unwrap_err()
    .to_string();
    assert!(err.contains("cannot"), "{err}");
    let good = latest(&checkpoints).unwrap();
    assert!(good.ends_with("step_0000004"), "{}", good.display());
    assert_eq!(read_state(&good).unwrap().step, 4);
}

#[test]
fn a_nan_weight_is_detected() {
    use burn::module::{ModuleMapper, Param};
    use ganforge::models::all_finite;
    let config = super::tiny_config(1);
    let (generator, _) = config.init_networks(&Device::flex());
    assert!(all_finite(&generator));
    struct Poison;
    impl ModuleMapper for Poison {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            param.map(|t| t.mul_scalar(f32::NAN))
        }
    }
    assert!(!all_finite(&generator.map(&mut Poison)));
}
