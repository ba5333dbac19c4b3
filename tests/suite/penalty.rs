//! WGAN-GP: D's hand-built input gradient and the penalty's gradient with respect to D's weights
//! against central finite differences, in f64.

use burn::module::{Module, ModuleMapper, Param};
use burn::optim::GradientsParams;
use burn::prelude::*;
use burn::tensor::DType;
use ganforge::losses::gradient_penalty;
use ganforge::models::DiscriminatorNet;
use ganforge::models::{
    DcganDiscriminatorConfig, Discriminator, MlpDiscriminatorConfig, ModelKind, NormKind,
    parameter_values,
};
use ganforge::train::label_tensor;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn device() -> Device {
    Device::flex().autodiff()
}

/// `module` with every tensor in f64, trainable weights staying trainable.
pub(crate) fn to_f64<M: Module>(module: M) -> M {
    struct Cast;
    impl ModuleMapper for Cast {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            param.map(|t| {
                let trainable = t.is_require_grad();
                let cast = Tensor::from_inner(t.inner().cast(DType::F64));
                if trainable { cast.require_grad() } else { cast }
            })
        }
    }
    module.map(&mut Cast)
}

/// `module` with element `index` of parameter `id` moved by `delta`.
pub(crate) fn perturbed<M: Module + Clone>(module: &M, id: u64, index: usize, delta: f64) -> M {
    struct Nudge {
        id: u64,
        index: usize,
        delta: f64,
    }
    impl ModuleMapper for Nudge {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            if param.id.val() != self.id {
                return param;
            }
            let (index, delta) = (self.index, self.delta);
            param.map(|t| {
                let (shape, device) = (t.shape(), t.device());
                let mut values = t.into_data().try_into_vec_as::<f64>().unwrap();
                values[index] += delta;
                Tensor::from_data(TensorData::new(values, shape), (&device, DType::F64))
                    .require_grad()
            })
        }
    }
    module.clone().map(&mut Nudge { id, index, delta })
}

fn tensor4(values: Vec<f64>, shape: [usize; 4]) -> Tensor<4> {
    Tensor::from_data(TensorData::new(values, shape), (&device(), DType::F64))
}

fn random(rng: &mut ChaCha8Rng, n: usize) -> Vec<f64> {
    (0..n).map(|_| rng.random_range(-1.0..1.0)).collect()
}

fn scalar(t: Tensor<1>) -> f64 {
    t.into_scalar::<f64>()
}

/// ‖a − b‖ / ‖b‖.
pub(crate) fn relative_error(a: &[f64], b: &[f64]) -> f64 {
    let diff: f64 = a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum();
    let norm: f64 = b.iter().map(|y| y * y).sum();
    (diff / norm).sqrt()
}

/// The analytic values agree with the finite differences to a relative error below 1e-3.
fn assert_matches(case: &Case, analytic: &[f64], finite: &[f64]) {
    let error = relative_error(analytic, finite);
    assert!(
        error < 1e-3,
        "{:?}/{:?}/{} classes/pack {}: relative error {error}",
        case.model,
        case.norm,
        case.classes,
        case.pack
    );
}

struct Case {
    model: ModelKind,
    norm: NormKind,
    classes: usize,
    pack: usize,
}

const CASES: [Case; 8] = [
    // The fully connected critic: maxout layers, with a class projection and with packing.
    Case {
        model: ModelKind::Mlp,
        norm: NormKind::None,
        classes: 3,
        pack: 1,
    },
    Case {
        model: ModelKind::Mlp,
        norm: NormKind::None,
        classes: 0,
        pack: 2,
    },
    Case {
        model: ModelKind::Dcgan,
        norm: NormKind::None,
        classes: 0,
        pack: 1,
    },
    Case {
        model: ModelKind::Dcgan,
        norm: NormKind::Layer,
        classes: 0,
        pack: 1,
    },
    Case {
        model: ModelKind::Dcgan,
        norm: NormKind::Layer,
        classes: 3,
        pack: 1,
    },
    Case {
        model: ModelKind::Dcgan,
        norm: NormKind::None,
        classes: 0,
        pack: 2,
    },
    // The residual critic, with a class projection and with packing.
    Case {
        model: ModelKind::Resnet,
        norm: NormKind::None,
        classes: 3,
        pack: 1,
    },
    Case {
        model: ModelKind::Resnet,
        norm: NormKind::None,
        classes: 0,
        pack: 2,
    },
];

/// A small f64 critic, drawn from a fixed seed (casting materialises every weight).
fn critic(case: &Case) -> Discriminator {
    ganforge::train::with_seed(&device(), 11, || {
        to_f64(match case.model {
            ModelKind::Resnet => ganforge::models::ResnetDiscriminatorConfig::new(1, 16)
                .with_capacity(2)
                .with_classes(case.classes)
                .with_pack(case.pack)
                .init(&device())
                .into(),
            ModelKind::Dcgan | ModelKind::Cyclegan => DcganDiscriminatorConfig::new(1)
                .with_capacity(2)
                .with_norm(case.norm)
                .with_classes(case.classes)
                .with_pack(case.pack)
                .init(&device())
                .into(),
            ModelKind::Mlp => MlpDiscriminatorConfig::new(2)
                .with_width(6)
                .with_layers(2)
                .with_pieces(3)
                .with_classes(case.classes)
                .with_pack(case.pack)
                .init(&device())
                .into(),
        })
    })
}

/// The shape of a batch the critic of `case` takes: 16×16 grey images or 2-D points.
fn shape(case: &Case, batch: usize) -> [usize; 4] {
    match case.model {
        ModelKind::Dcgan | ModelKind::Cyclegan | ModelKind::Resnet => [batch, 1, 16, 16],
        ModelKind::Mlp => [batch, 2, 1, 1],
    }
}

/// `critic` with its head and class projection (the rank-2 weights, in which D's output is
/// linear) scaled so that its input gradients have a norm near 0.8 on `images`: there the
/// penalty (‖g‖ − 1)² is far from both its minimum and its linear regime.
fn with_gradient_norm_near_one(
    critic: Discriminator,
    images: Tensor<4>,
    case: &Case,
) -> Discriminator {
    let [b, c, h, w] = images.dims();
    let g = critic.input_gradient(images, labels(case, b));
    let groups = critic.outputs_for(b);
    let norm = g
        .reshape([groups, (b / groups) * c * h * w])
        .square()
        .sum_dim(1)
        .sqrt()
        .mean()
        .into_scalar::<f64>();
    struct Scale(f64);
    impl ModuleMapper for Scale {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            let factor = self.0;
            param.map(|t| {
                if D == 2 {
                    Tensor::from_inner(t.inner().mul_scalar(factor)).require_grad()
                } else {
                    t
                }
            })
        }
    }
    critic.map(&mut Scale(0.8 / norm))
}

fn labels(case: &Case, batch: usize) -> Option<Tensor<1, Int>> {
    (case.classes > 0).then(|| {
        let l: Vec<usize> = (0..batch).map(|i| i % case.classes).collect();
        label_tensor(&l, &device())
    })
}

/// The gradient of `penalty` with respect to two random elements of each trainable weight of
/// `d`, from backpropagation and from central differences of step `h`: (analytic, finite).
pub(crate) fn weight_gradient_and_finite_differences(
    d: &Discriminator,
    penalty: impl Fn(&Discriminator) -> Tensor<1>,
    rng: &mut ChaCha8Rng,
    h: f64,
) -> (Vec<f64>, Vec<f64>) {
    let grads = GradientsParams::from_grads(penalty(d).backward(), d);
    let mut analytic = Vec::new();
    let mut finite = Vec::new();
    for p in parameter_values(d).iter().filter(|p| p.trainable) {
        let id = burn::module::ParamId::from(p.id);
        let values = |data: Option<TensorData>| {
            data.map(|d| d.try_into_vec_as::<f64>().unwrap())
                .unwrap_or_else(|| vec![0.0; p.values.len()])
        };
        // Every weight tensor of D has rank 1, 2 or 4.
        let gradient = match p.shape.len() {
            1 => values(grads.get::<1>(id).map(Tensor::into_data)),
            2 => values(grads.get::<2>(id).map(Tensor::into_data)),
            4 => values(grads.get::<4>(id).map(Tensor::into_data)),
            rank => panic!("unexpected rank {rank}"),
        };
        for _ in 0..2 {
            let k = rng.random_range(0..p.values.len());
            let up = scalar(penalty(&perturbed(d, p.id, k, h)));
            let down = scalar(penalty(&perturbed(d, p.id, k, -h)));
            finite.push((up - down) / (2.0 * h));
            analytic.push(gradient[k]);
        }
    }
    (analytic, finite)
}

#[test]
fn the_input_gradient_matches_finite_differences() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let (batch, h) = (4, 1e-5);
    for case in &CASES {
        let d = critic(case);
        let shape = shape(case, batch);
        let x = random(&mut rng, shape.iter().product());
        let total = |x: Vec<f64>| {
            scalar(
                d.forward_conditioned(tensor4(x, shape), labels(case, batch))
                    .sum(),
            )
        };
        let gradient = d
            .input_gradient(tensor4(x.clone(), shape), labels(case, batch))
            .into_data()
            .try_into_vec_as::<f64>()
            .unwrap();
        let picked: Vec<usize> = (0..24).map(|_| rng.random_range(0..x.len())).collect();
        let finite: Vec<f64> = picked
            .iter()
            .map(|&i| {
                let (mut up, mut down) = (x.clone(), x.clone());
                up[i] += h;
                down[i] -= h;
                (total(up) - total(down)) / (2.0 * h)
            })
            .collect();
        let analytic: Vec<f64> = picked.iter().map(|&i| gradient[i]).collect();
        assert_matches(case, &analytic, &finite);
    }
}

#[test]
fn the_penalty_weight_gradient_matches_finite_differences() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let (batch, h) = (4, 1e-6);
    for case in &CASES {
        let shape = shape(case, batch);
        let n = shape.iter().product();
        let (real, fake) = (random(&mut rng, n), random(&mut rng, n));
        let d = with_gradient_norm_near_one(critic(case), tensor4(real.clone(), shape), case);
        let epsilon: Vec<f64> = (0..batch).map(|_| rng.random_range(0.0..1.0)).collect();
        let penalty = |d: &Discriminator| {
            gradient_penalty(
                d,
                tensor4(real.clone(), shape),
                tensor4(fake.clone(), shape),
                labels(case, batch),
                Tensor::from_data(
                    TensorData::new(epsilon.clone(), [batch]),
                    (&device(), DType::F64),
                ),
                10.0,
            )
        };
        let (analytic, finite) =
            weight_gradient_and_finite_differences(&d, |d| penalty(d), &mut rng, h);
        assert!(
            finite.iter().any(|v| v.abs() > 1e-3),
            "the check is not vacuous"
        );
        assert_matches(case, &analytic, &finite);
    }
}

#[test]
fn wgan_gp_has_its_recipe_and_trains() {
    use ganforge::config::TrainOverrides;
    use ganforge::losses::LossKind;
    let config = TrainOverrides {
        loss: Some(LossKind::WganGp),
        ..Default::default()
    }
    .resolve()
    .unwrap();
    assert_eq!(config.schedule.disc_updates, 5);
    assert_eq!(
        (
            config.optimiser.lr_d,
            config.optimiser.beta1,
            config.optimiser.beta2
        ),
        (1e-4, 0.0, 0.9)
    );
    assert_eq!(
        (config.objective.gp_weight, config.objective.clip),
        (10.0, None)
    );
    assert_eq!(config.networks.d_norm, NormKind::Layer);
    for (overrides, key) in [
        (
            TrainOverrides {
                loss: Some(LossKind::WganGp),
                d_norm: Some(NormKind::Batch),
                ..Default::default()
            },
            "`d_norm`",
        ),
        (
            TrainOverrides {
                loss: Some(LossKind::WganGp),
                minibatch_stddev: Some(true),
                ..Default::default()
            },
            "`minibatch_stddev`",
        ),
    ] {
        let err = overrides.resolve().unwrap_err().to_string();
        assert!(err.contains(key), "{err}");
    }

    let dir = tempfile::tempdir().unwrap();
    let mut config = super::tiny_config(3);
    config.objective.loss = LossKind::WganGp;
    config.schedule.disc_updates = 2;
    let summary = super::train_quiet(config, &dir.path().join("gp"));
    let rows = ganforge::output::loss_log::LossLog::<ganforge::output::loss_log::StepRecord>::read(
        &summary.run_dir.join("losses.csv"),
    )
    .unwrap();
    assert_eq!(rows.len(), 3);
    assert!(
        rows.iter()
            .all(|r| r.wasserstein.is_some() && r.d_loss.is_finite())
    );
}
