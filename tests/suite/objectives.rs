//! Objectives and the WGAN recipe, checked against hand computations.

use burn::nn::LinearConfig;
use burn::optim::GradientsParams;
use burn::prelude::*;
use ganforge::config::{OptimizerKind, TrainOverrides};
use ganforge::data::ImageSet;
use ganforge::losses::{LossKind, Objective};
use ganforge::models::{NormKind, parameter_values};
use ganforge::output::loss_log::LossLog;
use ganforge::train::random::DataOrder;
use ganforge::train::{Gan, gradient_norm};

const REAL: [f64; 3] = [2.0, -1.0, 0.25];
const FAKE: [f64; 3] = [0.5, -3.0, 1.5];

fn column(values: [f64; 3]) -> Tensor<2> {
    Tensor::from_data(
        TensorData::new(values.map(|v| v as f32).to_vec(), [3, 1]),
        &Device::flex(),
    )
}

fn value(t: Tensor<1>) -> f64 {
    t.into_scalar::<f32>() as f64
}

fn mean(v: impl Iterator<Item = f64>) -> f64 {
    let v: Vec<f64> = v.collect();
    v.iter().sum::<f64>() / v.len() as f64
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

fn close(a: f64, b: f64) {
    assert!((a - b).abs() < 1e-5, "{a} vs {b}");
}

#[test]
fn each_loss_matches_its_formula() {
    let bce = |l: f64, t: f64| -t * sigmoid(l).ln() - (1.0 - t) * (1.0 - sigmoid(l)).ln();
    for target in [1.0, 0.9] {
        let o = Objective {
            kind: LossKind::Bce,
            real_target: target,
        };
        close(
            value(o.discriminator_real(column(REAL))),
            mean(REAL.iter().map(|&l| bce(l, target))),
        );
        close(
            value(o.discriminator_fake(column(FAKE))),
            mean(FAKE.iter().map(|&l| bce(l, 0.0))),
        );
        close(
            value(o.generator(column(FAKE))),
            mean(FAKE.iter().map(|&l| bce(l, 1.0))),
        );

        let o = Objective {
            kind: LossKind::Lsgan,
            real_target: target,
        };
        close(
            value(o.discriminator_real(column(REAL))),
            0.5 * mean(REAL.iter().map(|&l| (l - target).powi(2))),
        );
        close(
            value(o.discriminator_fake(column(FAKE))),
            0.5 * mean(FAKE.iter().map(|&l| l * l)),
        );
        close(
            value(o.generator(column(FAKE))),
            0.5 * mean(FAKE.iter().map(|&l| (l - 1.0).powi(2))),
        );
    }
    let o = Objective {
        kind: LossKind::Hinge,
        real_target: 1.0,
    };
    close(
        value(o.discriminator_real(column(REAL))),
        mean(REAL.iter().map(|&l| (1.0 - l).max(0.0))),
    );
    close(
        value(o.discriminator_fake(column(FAKE))),
        mean(FAKE.iter().map(|&l| (1.0 + l).max(0.0))),
    );
    close(value(o.generator(column(FAKE))), -mean(FAKE.into_iter()));
    let o = Objective {
        kind: LossKind::Wgan,
        real_target: 1.0,
    };
    close(
        value(o.discriminator_real(column(REAL))),
        -mean(REAL.into_iter()),
    );
    close(
        value(o.discriminator_fake(column(FAKE))),
        mean(FAKE.into_iter()),
    );
    close(value(o.generator(column(FAKE))), -mean(FAKE.into_iter()));
}

#[test]
fn bce_stays_finite_where_probabilities_saturate() {
    let o = Objective {
        kind: LossKind::Bce,
        real_target: 1.0,
    };
    let loss = value(o.discriminator_fake(column([200.0, 0.0, -200.0])));
    close(loss, (200.0 + 2f64.ln()) / 3.0);
}

#[test]
fn gradient_norm_is_the_l2_norm_of_every_weight_gradient() {
    let device = Device::flex().autodiff();
    let linear = LinearConfig::new(2, 1).init(&device);
    let input = Tensor::<2>::from_data(
        TensorData::new(vec![1.0f32, 2.0, 3.0, 4.0], [2, 2]),
        &device,
    );
    // d(sum(xW + b))/dW = column sums of x = (4, 6); d/db = 2 rows.
    let grads = GradientsParams::from_grads(linear.forward(input).sum().backward(), &linear);
    close(
        gradient_norm(&linear, &grads),
        (16.0f64 + 36.0 + 4.0).sqrt(),
    );
}

#[test]
fn the_wgan_preset_and_user_keys_layer_in_order() {
    let config = TrainOverrides {
        loss: Some(LossKind::Wgan),
        recipe: Some(ganforge::config::Recipe::Tutorial),
        ..Default::default()
    }
    .resolve()
    .unwrap();
    assert_eq!(config.schedule.disc_updates, 5);
    assert_eq!(config.optimiser.optimizer, OptimizerKind::Rmsprop);
    assert_eq!((config.optimiser.lr_d, config.optimiser.lr_g), (5e-5, 5e-5));
    assert_eq!(config.objective.clip, Some(0.01));
    assert_eq!(config.networks.init_std, Some(0.02));
    assert_eq!(
        config.networks.d_norm,
        NormKind::Layer,
        "the digits preset still applies"
    );
    assert!(config.run_name().starts_with("dcgan-wgan_digits"));

    let config = TrainOverrides {
        loss: Some(LossKind::Wgan),
        disc_updates: Some(2),
        clip: Some(0.05),
        ..Default::default()
    }
    .resolve()
    .unwrap();
    assert_eq!(
        (config.schedule.disc_updates, config.objective.clip),
        (2, Some(0.05))
    );
    let bce = TrainOverrides::default().resolve().unwrap();
    assert_eq!(
        (
            bce.objective.clip,
            bce.networks.init_std,
            bce.schedule.disc_updates
        ),
        (None, None, 2),
        "the modern digits preset's two D steps"
    );
    let bad = TrainOverrides {
        clip: Some(-1.0),
        ..Default::default()
    }
    .resolve()
    .unwrap_err();
    assert!(bad.to_string().contains("`clip`"), "{bad}");
}

fn wgan_gan(norm: NormKind) -> (Gan, ImageSet) {
    let mut config = super::tiny_config(1);
    config.objective.loss = LossKind::Wgan;
    config.optimiser.optimizer = OptimizerKind::Rmsprop;
    config.objective.clip = Some(0.01);
    config.networks.init_std = Some(0.02);
    config.networks.d_norm = norm;
    let data = super::small_digits(64);
    (Gan::new(&config, &Device::flex()), data)
}

#[test]
fn weight_clipping_holds_every_critic_weight_after_each_step() {
    for norm in [NormKind::Batch, NormKind::Layer] {
        let (mut gan, data) = wgan_gan(norm);
        let weights = parameter_values(&gan.discriminator);
        let kernels: Vec<f32> = weights
            .iter()
            .filter(|p| p.trainable && p.values.len() > 64)
            .flat_map(|p| p.values.clone())
            .collect();
        let std =
            (kernels.iter().map(|v| (v * v) as f64).sum::<f64>() / kernels.len() as f64).sqrt();
        assert!(
            (0.017..0.023).contains(&std),
            "small initial weights: std {std}"
        );

        let mut order = DataOrder::new(1, data.len());
        for step in 0..4 {
            let real = data.batch(&order.indices(step * 8, 8), gan.device());
            gan.discriminator_step_real(real, None);
            let within = |gan: &Gan| {
                parameter_values(&gan.discriminator)
                    .iter()
                    .filter(|p| p.trainable)
                    .all(|p| p.values.iter().all(|v| v.abs() <= 0.01 + 1e-7))
            };
            assert!(within(&gan), "{norm:?}: after a D step on real images");
            gan.iteration(&data, &mut order);
            assert!(within(&gan), "{norm:?}: after an iteration");
        }
        let clipped = parameter_values(&gan.discriminator)
            .iter()
            .filter(|p| p.trainable)
            .flat_map(|p| p.values.clone())
            .filter(|v| (v.abs() - 0.01).abs() < 1e-7)
            .count();
        assert!(clipped > 0, "some weights sit at the clip bound");
    }
}

#[test]
fn a_wgan_run_logs_its_wasserstein_estimate_and_gradient_norms() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = super::tiny_config(4);
    config.objective.loss = LossKind::Wgan;
    config.objective.clip = Some(0.01);
    let summary = super::train_quiet(config, &dir.path().join("w"));
    let rows = LossLog::<ganforge::output::loss_log::StepRecord>::read(
        &summary.run_dir.join("losses.csv"),
    )
    .unwrap();
    for r in &rows {
        // For the critic the reported scores are raw, so the estimate is their difference.
        let w = r.wasserstein.expect("a WGAN row has an estimate");
        close(w, r.d_real - r.d_fake);
        assert!(r.d_grad_norm > 0.0 && r.g_grad_norm > 0.0);
    }
    let (_guard, bce_run) = super::tiny_run(3);
    let bce_rows =
        LossLog::<ganforge::output::loss_log::StepRecord>::read(&bce_run.join("losses.csv"))
            .unwrap();
    assert!(bce_rows.iter().all(|r| r.wasserstein.is_none()));
    assert!(
        bce_rows
            .iter()
            .all(|r| r.d_grad_norm > 0.0 && r.g_grad_norm > 0.0)
    );
}
