//! Conditional GAN: labels reach both networks, and sampling draws the asked classes.

use burn::module::Module;
use burn::prelude::*;
use ganforge::device::DeviceChoice;
use ganforge::output::checkpoint;
use ganforge::output::run_dir::RunDir;
use ganforge::sample::{Draw, SampleOptions, generate, sample};
use ganforge::train::random::{Stream, noise, stream};
use ganforge::train::{Progress, TrainOptions, label_tensor, train};

use super::{snapshot, tiny_config};
use ganforge::models::{DiscriminatorNet, GeneratorNet};

fn conditional_run(dir: &std::path::Path) -> std::path::PathBuf {
    let out = dir.join("cond");
    let mut config = tiny_config(4);
    config.input.conditional = true;
    let summary = super::train_quiet(config, &out);
    assert_eq!(summary.steps, 4);
    out
}

#[test]
fn sampling_label_k_feeds_label_k_to_the_generator() {
    let dir = tempfile::tempdir().unwrap();
    let run = conditional_run(dir.path());
    let config = RunDir::open(&run).unwrap().read_config().unwrap();
    assert_eq!(
        config.input.classes,
        Some(10),
        "classes come from the digits"
    );

    let drawn = generate(&run, Draw::Class { label: 3, n: 4 }, 7, DeviceChoice::Cpu).unwrap();
    assert!(drawn.iter().all(|(_, label)| *label == Some(3)));

    // The same noise through the saved generator with label 3, by hand.
    let device = Device::flex();
    let g = checkpoint::load_generator(
        &config,
        &checkpoint::latest(&run.join("checkpoints")).unwrap(),
        &device,
    )
    .unwrap()
    .valid();
    let z = || {
        noise(
            &mut stream(7, 0, Stream::Sample),
            config.schedule.noise,
            4,
            config.networks.latent,
            &device,
        )
    };
    let by_hand = |label: usize| {
        ganforge::tensor_values(
            g.forward_conditioned(z(), Some(label_tensor(&[label; 4], &device))),
        )
    };
    let drawn: Vec<f32> = drawn.into_iter().flat_map(|(p, _)| p).collect();
    assert_eq!(drawn, by_hand(3));
    assert_ne!(drawn, by_hand(4), "the label changes the image");
}

#[test]
fn a_conditional_grid_has_one_row_per_class() {
    let dir = tempfile::tempdir().unwrap();
    let run = conditional_run(dir.path());
    let each = dir.path().join("each");
    let result = sample(&SampleOptions {
        run: run.clone(),
        n: 20,
        seed: 0,
        out: Some(dir.path().join("grid.png")),
        each: Some(each.clone()),
        label: None,
        tensors: None,
        device: DeviceChoice::Cpu,
    })
    .unwrap();
    // 20 images over 10 classes: 10 rows of 2 tiles of 64 pixels.
    let grid = image::open(&result.grid).unwrap();
    assert_eq!(grid.width(), 2 * 8 + 2 * 64 + 4);
    assert_eq!(grid.height(), 2 * 8 + 10 * (64 + 4));
    assert_eq!(result.each.len(), 20);
    for class in 0..10 {
        let count = result
            .each
            .iter()
            .filter(|p| p.to_string_lossy().ends_with(&format!("_class{class}.png")))
            .count();
        assert_eq!(count, 2, "class {class}");
    }
    // The training figure likewise: a row of generated images per class, then the real row.
    let figure = image::open(run.join("samples/step_0000004.png")).unwrap();
    let rows = 11;
    assert_eq!(figure.height(), 2 * 8 + 26 + rows * (20 + 64 + 18 + 4));
}

#[test]
fn labels_reach_the_discriminator() {
    let device = Device::flex();
    let d = ganforge::models::DcganDiscriminatorConfig::new(1)
        .with_capacity(2)
        .with_classes(3)
        .init(&device);
    let images = Tensor::<4>::random(
        [2, 1, 16, 16],
        burn::tensor::Distribution::Normal(0.0, 1.0),
        &device,
    );
    let out = |labels: [usize; 2]| {
        ganforge::tensor_values(
            d.valid()
                .forward_conditioned(images.clone(), Some(label_tensor(&labels, &device))),
        )
    };
    let (a, b) = (out([0, 0]), out([2, 0]));
    assert_ne!(a[0], b[0], "the first image's label changed its score");
    assert_eq!(a[1], b[1], "the second image's did not");
}

#[test]
fn conditional_training_needs_labelled_data() {
    let dir = tempfile::tempdir().unwrap();
    let images = dir.path().join("flat");
    std::fs::create_dir(&images).unwrap();
    for i in 0..3 {
        image::RgbImage::new(8, 8)
            .save(images.join(format!("{i}.png")))
            .unwrap();
    }
    let before = snapshot(dir.path());
    let mut config = tiny_config(2);
    config.input.data = format!("folder:{}", images.display()).parse().unwrap();
    config.input.conditional = true;
    let err = train(
        config,
        TrainOptions {
            device: DeviceChoice::Cpu,
            out: Some(dir.path().join("run")),
            runs_root: dir.path().into(),
            progress: Progress::Quiet,
        },
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("needs class labels"), "{err}");
    assert_eq!(snapshot(dir.path()), before, "nothing written");
}
