//! Mode-collapse remedies: packing, the minibatch standard deviation and feature matching.

use burn::module::Module;
use burn::prelude::*;
use ganforge::config::TrainOverrides;
use ganforge::models::{DcganDiscriminator, DcganDiscriminatorConfig, parameter_values};
use ganforge::output::loss_log::LossLog;
use ganforge::train::Gan;
use ganforge::train::random::{DataOrder, Stream};

use super::tiny_config;
use ganforge::models::{DiscriminatorNet, GeneratorNet};

fn images(values: &[f32], shape: [usize; 4]) -> Tensor<4> {
    Tensor::from_data(TensorData::new(values.to_vec(), shape), &Device::flex())
}

#[test]
fn packing_joins_consecutive_images_along_the_channels() {
    let d = DcganDiscriminatorConfig::new(1)
        .with_capacity(2)
        .with_pack(2)
        .init(&Device::flex());
    // Four 16×16 grey images, image i filled with the value i.
    let values: Vec<f32> = (0..4).flat_map(|i| vec![i as f32; 256]).collect();
    let batch = images(&values, [4, 1, 16, 16]);
    let packed = d.pack(batch.clone());
    assert_eq!(packed.dims(), [2, 2, 16, 16]);
    let packed = ganforge::tensor_values(packed);
    for group in 0..2 {
        for member in 0..2 {
            let start = (group * 2 + member) * 256;
            assert!(
                packed[start..start + 256]
                    .iter()
                    .all(|&v| v == (group * 2 + member) as f32)
            );
        }
    }
    assert_eq!(d.forward(batch).dims(), [2, 1], "one score per pack");
    assert_eq!(d.outputs_for(4), 2);
}

#[test]
fn the_minibatch_stddev_is_the_mean_spread_across_the_batch() {
    // Two maps, one all 1.0 and one all 3.0: every value's standard deviation is 1.
    let values: Vec<f32> = [vec![1.0f32; 2 * 4 * 4], vec![3.0f32; 2 * 4 * 4]].concat();
    let s = DcganDiscriminator::minibatch_stddev(images(&values, [2, 2, 4, 4]));
    assert_eq!(s.dims(), [2, 1]);
    for v in ganforge::tensor_values(s) {
        assert!((v - 1.0).abs() < 1e-4, "{v}");
    }
    let same = DcganDiscriminator::minibatch_stddev(images(&[2.0; 2 * 2 * 4 * 4], [2, 2, 4, 4]));
    assert!(ganforge::tensor_values(same).iter().all(|&v| v < 1e-3));

    // D's head takes one more input.
    let count = |stddev: bool| {
        let d = DcganDiscriminatorConfig::new(1)
            .with_capacity(2)
            .with_minibatch_stddev(stddev)
            .init(&Device::flex().autodiff());
        parameter_values(&d)
            .iter()
            .map(|p| p.values.len())
            .sum::<usize>()
    };
    assert_eq!(count(true), count(false) + 1);
}

#[test]
fn feature_matching_minimises_the_distance_of_mean_features() {
    let mut config = tiny_config(1);
    config.remedies.feature_matching = true;
    let data = super::small_digits(64);
    let mut gan = Gan::new(&config, &Device::flex());
    let mut order = DataOrder::new(1, data.len());
    let real = data.batch(&order.indices(0, 8), gan.device());
    let latent = gan.latent(Stream::GeneratorNoise, 0, 8);

    // By hand, before the step: D's pooled features, batch means, squared distance.
    let d = gan.discriminator.valid().train().no_grad();
    let fakes = gan.generator.forward(latent.noise.clone()).detach();
    let mean = |t: Tensor<2>| ganforge::tensor_values(t.mean_dim(0));
    let (r, f) = (mean(d.features(real.clone())), mean(d.features(fakes)));
    let expected: f64 = r
        .iter()
        .zip(&f)
        .map(|(a, b)| ((a - b) as f64).powi(2))
        .sum();
    let (loss, grad_norm) = gan.generator_step_matching(latent, real);
    assert!(
        (loss - expected).abs() < 1e-5 * expected.max(1.0),
        "{loss} vs {expected}"
    );
    assert!(grad_norm > 0.0);
    let stats = gan.iteration(&data, &mut order);
    assert!(stats.g_loss.is_finite() && stats.g_loss >= 0.0);
}

#[test]
fn each_remedy_trains_and_writes_its_run() {
    let dir = tempfile::tempdir().unwrap();
    for (name, edit) in [
        (
            "pack",
            (|c: &mut ganforge::config::TrainConfig| c.remedies.pack = 2) as fn(&mut _),
        ),
        ("mbstd", |c| c.remedies.minibatch_stddev = true),
        ("fm", |c| c.remedies.feature_matching = true),
        ("ms", |c| c.remedies.mode_seeking = Some(1.0)),
    ] {
        let mut config = tiny_config(6);
        edit(&mut config);
        let summary = super::train_quiet(config, &dir.path().join(name));
        let rows = LossLog::<ganforge::output::loss_log::StepRecord>::read(
            &summary.run_dir.join("losses.csv"),
        )
        .unwrap();
        assert_eq!(rows.len(), 6, "{name}");
        assert!(
            rows.iter()
                .all(|r| r.d_loss.is_finite() && r.g_loss.is_finite())
        );
        assert!(summary.run_dir.join("samples/step_0000006.png").is_file());
    }
}

#[test]
fn packing_needs_whole_packs_and_no_labels() {
    let err = TrainOverrides {
        batch: Some(8),
        pack: Some(3),
        ..Default::default()
    }
    .resolve()
    .unwrap_err()
    .to_string();
    assert!(err.contains("`pack`") && err.contains("multiple"), "{err}");
    let err = TrainOverrides {
        pack: Some(2),
        conditional: Some(true),
        ..Default::default()
    }
    .resolve()
    .unwrap_err()
    .to_string();
    assert!(err.contains("conditional"), "{err}");
}

#[test]
fn the_mode_seeking_term_has_its_hand_value_and_pushes_pairs_apart() {
    let device = Device::flex().autodiff();
    // Pairs (first half, second half): images a = [0, 1], b = [2, 1], mean |a − b| = 1; noise
    // z₁ = [0, 0], z₂ = [1, 3], mean |z₁ − z₂| = 2; ratio ½, term w / (½ + 1e-5).
    let a = Tensor::<4>::from_data(
        TensorData::new(vec![0.0f32, 1.0, 2.0, 1.0], [2, 1, 1, 2]),
        &device,
    )
    .require_grad();
    let z = Tensor::<2>::from_data(
        TensorData::new(vec![0.0f32, 0.0, 1.0, 3.0], [2, 2]),
        &device,
    );
    let term = ganforge::losses::mode_seeking(a.clone(), z, 2.0);
    let value = term.clone().into_scalar::<f32>();
    assert!((value - 2.0 / (0.5 + 1e-5)).abs() < 1e-4, "{value}");
    // d term / d a₀ = −w / ratio² · ∂ratio/∂a₀ = −2 / ¼ · (−1 / (2 · 2)) = 2 (to the 1e-5): a step
    // against the gradient moves a₀ away from b₀; a₁ = b₁ gets no push (|·|' is 0 at 0).
    let grads = term.backward();
    let g: Vec<f32> = a.grad(&grads).unwrap().into_data().try_to_vec().unwrap();
    assert!(
        (g[0] - 2.0).abs() < 1e-3 && (g[2] + 2.0).abs() < 1e-3,
        "{g:?}"
    );
    assert!(g[1].abs() < 1e-6 && g[3].abs() < 1e-6, "{g:?}");
}

#[test]
fn mode_seeking_needs_an_even_batch_and_a_positive_weight() {
    for (keys, needle) in [
        (
            TrainOverrides {
                batch: Some(7),
                mode_seeking: Some(1.0),
                ..Default::default()
            },
            "even batch",
        ),
        (
            TrainOverrides {
                mode_seeking: Some(-1.0),
                ..Default::default()
            },
            "positive",
        ),
        (
            TrainOverrides {
                mode_seeking: Some(1.0),
                feature_matching: Some(true),
                ..Default::default()
            },
            "feature_matching",
        ),
    ] {
        let err = keys.resolve().unwrap_err().to_string();
        assert!(
            err.contains("`mode_seeking`") && err.contains(needle),
            "{err}"
        );
    }
}
