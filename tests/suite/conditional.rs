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

/// −log softmax(row)[label] for each row, by hand in f64.
fn cross_entropy_by_hand(logits: &[f32], classes: usize, labels: &[usize]) -> Vec<f64> {
    logits
        .chunks(classes)
        .zip(labels)
        .map(|(row, &label)| {
            let sum: f64 = row.iter().map(|&l| (l as f64).exp()).sum();
            sum.ln() - row[label] as f64
        })
        .collect()
}

#[test]
fn the_class_term_is_the_weighted_cross_entropy_and_its_gradient_softmax_minus_one_hot() {
    let device = Device::flex().autodiff();
    let values = [1.0f32, 2.0, 0.0, 0.0, 0.0, 3.0];
    let logits =
        Tensor::<2>::from_data(TensorData::new(values.to_vec(), [2, 3]), &device).require_grad();
    let labels = [1, 2];
    let term =
        ganforge::losses::class_cross_entropy(logits.clone(), label_tensor(&labels, &device), 2.0);
    let by_hand: f64 = cross_entropy_by_hand(&values, 3, &labels)
        .iter()
        .sum::<f64>();
    let value = term.clone().into_scalar::<f32>() as f64;
    assert!((value - 2.0 * by_hand / 2.0).abs() < 1e-5, "{value}");
    // ∂/∂logit = weight / batch · (softmax − one-hot).
    let grads = term.backward();
    let g: Vec<f32> = logits
        .grad(&grads)
        .unwrap()
        .into_data()
        .try_to_vec()
        .unwrap();
    for (row, &label) in labels.iter().enumerate() {
        let row_values = &values[row * 3..row * 3 + 3];
        let sum: f64 = row_values.iter().map(|&l| (l as f64).exp()).sum();
        for k in 0..3 {
            let softmax = (row_values[k] as f64).exp() / sum;
            let expected = (softmax - f64::from(u8::from(k == label))) * 2.0 / 2.0;
            assert!((g[row * 3 + k] as f64 - expected).abs() < 1e-5, "{g:?}");
        }
    }
}

#[test]
fn the_class_logits_are_the_projection_of_each_label_in_every_family() {
    let device = Device::flex();
    let images = Tensor::<4>::random(
        [3, 1, 16, 16],
        burn::tensor::Distribution::Normal(0.0, 1.0),
        &device,
    );
    let dcgan: ganforge::models::Discriminator = ganforge::models::DcganDiscriminatorConfig::new(1)
        .with_capacity(2)
        .with_classes(4)
        .init(&device)
        .into();
    let resnet: ganforge::models::Discriminator =
        ganforge::models::ResnetDiscriminatorConfig::new(1, 16)
            .with_capacity(4)
            .with_classes(4)
            .init(&device)
            .into();
    for d in [dcgan, resnet] {
        let labels = [0, 3, 1];
        let (scores, logits) =
            d.forward_with_class_logits(images.clone(), Some(label_tensor(&labels, &device)));
        let logits = ganforge::tensor_values(logits.expect("a projection D has class logits"));
        let scores = ganforge::tensor_values(scores);
        let score_for = |label: usize| {
            ganforge::tensor_values(
                d.forward_conditioned(images.clone(), Some(label_tensor(&[label; 3], &device))),
            )
        };
        assert_eq!(
            scores,
            ganforge::tensor_values(
                d.forward_conditioned(images.clone(), Some(label_tensor(&labels, &device)))
            ),
            "the same scores as the plain forward pass"
        );
        // D(x, k) − D(x, 0) = logit_k − logit_0: the logits are the projection's terms.
        let base = score_for(0);
        for k in 1..4 {
            let with_k = score_for(k);
            for i in 0..3 {
                let expected = logits[i * 4 + k] - logits[i * 4];
                assert!(
                    (with_k[i] - base[i] - expected).abs() < 1e-4,
                    "label {k}, image {i}"
                );
            }
        }
    }
}

#[test]
fn the_class_term_is_added_to_d_on_real_images_and_to_g() {
    let conditional = |class_loss| {
        let mut config = tiny_config(4);
        config.input.conditional = true;
        config.input.classes = Some(10);
        config.objective.class_loss = class_loss;
        ganforge::train::Gan::new(&config, &Device::flex())
    };
    let (mut plain, mut with_term) = (conditional(None), conditional(Some(0.5)));
    // The same networks in both (a seeded initialisation can still differ when another test
    // draws from the backend's process-wide RNG meanwhile).
    with_term.generator = plain.generator.clone();
    with_term.discriminator = plain.discriminator.clone();
    let device = with_term.device().clone();
    let labels: Vec<usize> = (0..8).map(|i| i % 10).collect();
    let real = Tensor::<4>::random(
        [8, 1, 16, 16],
        burn::tensor::Distribution::Uniform(-1.0, 1.0),
        &device,
    );
    // D on real images: the term is the cross-entropy of D's class logits for their labels.
    let logits = with_term
        .discriminator
        .forward_with_class_logits(real.clone(), Some(label_tensor(&labels, &device)))
        .1
        .unwrap();
    let expected = 0.5
        * cross_entropy_by_hand(&ganforge::tensor_values(logits), 10, &labels)
            .iter()
            .sum::<f64>()
        / 8.0;
    let a = plain.discriminator_step_real(real.clone(), Some(label_tensor(&labels, &device)));
    let b = with_term.discriminator_step_real(real, Some(label_tensor(&labels, &device)));
    assert!(
        (b.loss - a.loss - expected).abs() < 1e-4,
        "{} − {} against {expected}",
        b.loss,
        a.loss
    );
    // G: the cross-entropy of D's logits for G's images against the labels G was asked for.
    plain.discriminator = with_term.discriminator.clone();
    let latent = with_term.latent_with_labels(Stream::GeneratorNoise, 0, &labels);
    let fakes = with_term
        .generator
        .forward_conditioned(latent.noise.clone(), latent.labels.clone());
    let logits = with_term
        .discriminator
        .forward_with_class_logits(fakes, latent.labels.clone())
        .1
        .unwrap();
    let expected = 0.5
        * cross_entropy_by_hand(&ganforge::tensor_values(logits), 10, &labels)
            .iter()
            .sum::<f64>()
        / 8.0;
    let (loss_plain, _) = plain.generator_step(latent.clone());
    let (loss_with, _) = with_term.generator_step(latent);
    assert!(
        (loss_with - loss_plain - expected).abs() < 1e-4,
        "{loss_with} − {loss_plain} against {expected}"
    );
}

#[test]
fn the_class_term_needs_a_conditional_run_and_a_positive_weight() {
    use ganforge::config::TrainOverrides;
    for (keys, needle) in [
        (
            TrainOverrides {
                class_loss: Some(1.0),
                ..Default::default()
            },
            "not conditional",
        ),
        (
            TrainOverrides {
                class_loss: Some(0.0),
                conditional: Some(true),
                ..Default::default()
            },
            "positive",
        ),
        (
            TrainOverrides {
                class_loss: Some(1.0),
                conditional: Some(true),
                feature_matching: Some(true),
                ..Default::default()
            },
            "feature_matching",
        ),
    ] {
        let err = keys.resolve().unwrap_err().to_string();
        assert!(
            err.contains("`class_loss`") && err.contains(needle),
            "{err}"
        );
    }
}
