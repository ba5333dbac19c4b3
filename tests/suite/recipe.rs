//! The modern recipe's parts: spectral normalisation against a known SVD, the R1 penalty's
//! gradient against finite differences, differentiable augmentation (values, gradients, draws),
//! exact resume with their state, and how the recipes resolve.

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::prelude::*;
use burn::tensor::DType;
use ganforge::augment::AugmentPolicy;
use ganforge::config::{Recipe, TrainOverrides};
use ganforge::losses::{LossKind, r1_penalty};
use ganforge::models::{
    DcganDiscriminatorConfig, DcganGeneratorConfig, Discriminator, DiscriminatorNet, GeneratorNet,
    NormKind, ResnetDiscriminatorConfig, ResnetGeneratorConfig, SpectralNorm, parameter_values,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn device() -> Device {
    Device::flex().autodiff()
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f64> {
    t.into_data().try_into_vec_as::<f64>().unwrap()
}

/// A random `n × n` orthogonal matrix (Gram–Schmidt on random columns), row-major.
fn orthogonal(rng: &mut ChaCha8Rng, n: usize) -> Vec<Vec<f64>> {
    let mut basis: Vec<Vec<f64>> = Vec::new();
    while basis.len() < n {
        let mut v: Vec<f64> = (0..n).map(|_| rng.random_range(-1.0..1.0)).collect();
        for b in &basis {
            let dot: f64 = v.iter().zip(b).map(|(x, y)| x * y).sum();
            v.iter_mut().zip(b).for_each(|(x, y)| *x -= dot * y);
        }
        let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        if norm > 1e-3 {
            basis.push(v.into_iter().map(|x| x / norm).collect());
        }
    }
    basis
}

/// The largest singular value of a row-major `rows × cols` matrix by 2000 steps of power
/// iteration on WᵀW in f64, independent of the code under test.
fn largest_singular_value(m: &[f64], rows: usize, cols: usize) -> f64 {
    let mut v = vec![1.0; cols];
    let mut sigma = 0.0;
    for _ in 0..2000 {
        let wv: Vec<f64> = (0..rows)
            .map(|i| (0..cols).map(|j| m[i * cols + j] * v[j]).sum())
            .collect();
        let wtwv: Vec<f64> = (0..cols)
            .map(|j| (0..rows).map(|i| m[i * cols + j] * wv[i]).sum())
            .collect();
        let norm = wtwv.iter().map(|x| x * x).sum::<f64>().sqrt();
        sigma = norm.sqrt();
        v = wtwv.into_iter().map(|x| x / norm).collect();
    }
    sigma
}

#[test]
fn the_spectral_norm_estimate_converges_to_the_largest_singular_value_of_a_known_svd() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    for (rows, cols) in [(3, 5), (6, 4), (8, 8)] {
        // W = U Σ Vᵀ with Σ = diag(3, 1.5, 0.75, …): σ₁ = 3.
        let (u, v) = (orthogonal(&mut rng, rows), orthogonal(&mut rng, cols));
        let mut w = vec![0.0; rows * cols];
        for k in 0..rows.min(cols) {
            let s = 3.0 / 2f64.powi(k as i32);
            for i in 0..rows {
                for j in 0..cols {
                    w[i * cols + j] += s * u[k][i] * v[k][j];
                }
            }
        }
        let matrix = Tensor::<2>::from_data(
            TensorData::new(w.clone(), [rows, cols]),
            (&device(), DType::F64),
        )
        .require_grad();
        let norm = SpectralNorm::new(rows, &device());
        let first = values(norm.sigma(matrix.clone()))[0];
        for _ in 0..60 {
            let _ = norm.sigma(matrix.clone());
        }
        let sigma = values(norm.sigma(matrix.clone()))[0];
        assert!(
            (sigma - 3.0).abs() < 1e-6,
            "{rows}×{cols}: σ estimate {sigma}, SVD 3"
        );
        assert!(
            first <= 3.0 + 1e-9,
            "an estimate uᵀWv never exceeds σ₁: {first}"
        );
        // The estimate's vector is the leading left singular vector (up to sign).
        let estimate = values(norm.u());
        let dot: f64 = estimate.iter().zip(&u[0]).map(|(a, b)| a * b).sum();
        assert!((dot.abs() - 1.0).abs() < 1e-6, "|u·u₁| = {}", dot.abs());
        // Without gradients (inference) nothing moves.
        let frozen = values(norm.u());
        let _ = norm.sigma(matrix.clone().set_require_grad(false));
        assert_eq!(frozen, values(norm.u()));
        // The normalised matrix has spectral norm 1.
        let normalised = values(norm.normalise(matrix));
        let s = largest_singular_value(&normalised, rows, cols);
        assert!((s - 1.0).abs() < 1e-6, "normalised σ₁ = {s}");
        assert!((largest_singular_value(&w, rows, cols) - 3.0).abs() < 1e-9);
    }
}

#[test]
fn a_spectrally_normalised_kernel_has_spectral_norm_one_as_a_matrix() {
    let device = device();
    let kernel = Tensor::<4>::random(
        [8, 3, 5, 5],
        burn::tensor::Distribution::Normal(0.0, 1.0),
        &device,
    )
    .require_grad();
    let norm = SpectralNorm::new(8, &device);
    for _ in 0..100 {
        let _ = norm.normalise_kernel(kernel.clone());
    }
    let normalised = values(norm.normalise_kernel(kernel.clone()));
    let s = largest_singular_value(&normalised, 8, 75);
    assert!((s - 1.0).abs() < 1e-3, "σ₁ of the normalised kernel: {s}");
    let raw = largest_singular_value(&values(kernel), 8, 75);
    assert!(raw > 5.0, "the raw kernel was far from 1: {raw}");
}

/// A small f64 spectrally normalised D (casting materialises every weight), its power
/// iteration run to convergence so that a forward pass no longer moves its estimates; its
/// stride-2 kernels of side `resample` (`filter`, 5, when `None`).
fn sn_critic(norm: NormKind, classes: usize, resample: Option<usize>) -> Discriminator {
    let d: Discriminator = ganforge::train::with_seed(&device(), 7, || {
        super::penalty::to_f64(
            DcganDiscriminatorConfig::new(1)
                .with_capacity(2)
                .with_norm(norm)
                .with_classes(classes)
                .with_spectral_norm(true)
                .with_resample_filter(resample)
                .init(&device()),
        )
        .into()
    });
    let x = Tensor::<4>::zeros([1, 1, 16, 16], (&device(), DType::F64));
    for _ in 0..300 {
        let _ = d.forward_conditioned(x.clone(), labels(classes, 1));
    }
    d
}

/// A small f64 residual D, its spectral norms (when it has them) converged as [`sn_critic`]'s.
fn resnet_critic(classes: usize, spectral_norm: bool) -> Discriminator {
    let d: Discriminator = ganforge::train::with_seed(&device(), 8, || {
        super::penalty::to_f64(
            ResnetDiscriminatorConfig::new(1, 16)
                .with_capacity(3)
                .with_classes(classes)
                .with_spectral_norm(spectral_norm)
                .init(&device()),
        )
        .into()
    });
    let x = Tensor::<4>::zeros([1, 1, 16, 16], (&device(), DType::F64));
    for _ in 0..300 {
        let _ = d.forward_conditioned(x.clone(), labels(classes, 1));
    }
    d
}

fn labels(classes: usize, batch: usize) -> Option<Tensor<1, Int>> {
    (classes > 0).then(|| {
        let l: Vec<usize> = (0..batch).map(|i| i % classes).collect();
        ganforge::train::label_tensor(&l, &device())
    })
}

#[test]
fn the_r1_penalty_and_its_weight_gradient_match_finite_differences() {
    use super::penalty::relative_error;
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let (batch, h) = (3, 1e-6);
    for (norm, classes, sn, resnet, resample) in [
        (NormKind::None, 0, true, false, None),
        (NormKind::Layer, 3, true, false, None),
        (NormKind::None, 0, false, false, None),
        (NormKind::None, 0, true, true, None),
        (NormKind::None, 3, true, true, None),
        (NormKind::None, 0, false, true, None),
        // PyTorch DCGAN's 4×4 stride-2 kernels (padding 1): the input gradient's transposed
        // convolution must rebuild that padding, and the 3×3 ones' too.
        (NormKind::None, 0, true, false, Some(4)),
        (NormKind::Layer, 3, true, false, Some(3)),
    ] {
        let d: Discriminator = if resnet {
            resnet_critic(classes, sn)
        } else if sn {
            sn_critic(norm, classes, resample)
        } else {
            ganforge::train::with_seed(&device(), 7, || {
                super::penalty::to_f64(
                    DcganDiscriminatorConfig::new(1)
                        .with_capacity(2)
                        .with_norm(norm)
                        .init(&device()),
                )
                .into()
            })
        };
        let shape = [batch, 1, 16, 16];
        let real: Vec<f64> = (0..batch * 256)
            .map(|_| rng.random_range(-1.0..1.0))
            .collect();
        let x = || {
            Tensor::<4>::from_data(
                TensorData::new(real.clone(), shape),
                (&device(), DType::F64),
            )
        };
        // γ making the penalty 10, so that its weight gradients stand well above the finite
        // differences' noise whatever the scale of this small D's input gradients.
        let gamma = 10.0 / values(r1_penalty(&d, x(), labels(classes, batch), 1.0))[0];
        let penalty = |d: &Discriminator| r1_penalty(d, x(), labels(classes, batch), gamma);
        // The penalty is γ/2 · mean ‖∇D‖², the gradient from finite differences of D itself.
        let gradient = values(d.input_gradient(x(), labels(classes, batch)));
        let by_hand = gradient.iter().map(|g| g * g).sum::<f64>() / batch as f64 * gamma / 2.0;
        let value = values(penalty(&d))[0];
        // Both sides are the same sum reached in different orders, through whichever SIMD kernels
        // the CPU has: on CI's machine they differed by 2e-9 (relative), on this one by less. A
        // slip in the formula (γ for γ/2, a sum for a mean) is off by a factor of two or more.
        assert!(
            (value - by_hand).abs() < 1e-7 * by_hand.max(1.0),
            "{norm:?}/{classes} classes/sn {sn}/resnet {resnet}/{resample:?}: {value} vs {by_hand}"
        );
        let total = |images: Vec<f64>| {
            values(
                d.forward_conditioned(
                    Tensor::from_data(TensorData::new(images, shape), (&device(), DType::F64)),
                    labels(classes, batch),
                )
                .sum(),
            )[0]
        };
        for _ in 0..6 {
            let i = rng.random_range(0..real.len());
            let (mut up, mut down) = (real.clone(), real.clone());
            up[i] += 1e-5;
            down[i] -= 1e-5;
            let finite = (total(up) - total(down)) / 2e-5;
            assert!(
                (finite - gradient[i]).abs() < 1e-4 * gradient[i].abs().max(1e-2),
                "∂D/∂x: {finite} vs {}",
                gradient[i]
            );
        }
        let (analytic, finite) =
            super::penalty::weight_gradient_and_finite_differences(&d, penalty, &mut rng, h);
        let largest = finite.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        assert!(
            largest > 1e-3,
            "{norm:?}/{classes}/{sn}/{resnet}/{resample:?}: the check is vacuous (largest {largest})"
        );
        let error = relative_error(&analytic, &finite);
        assert!(
            error < 1e-3,
            "{norm:?}/{classes} classes/sn {sn}/resnet {resnet}/{resample:?}: relative error {error}"
        );
    }
}

fn images(rng: &mut ChaCha8Rng, shape: [usize; 4]) -> Vec<f32> {
    (0..shape.iter().product())
        .map(|_| rng.random_range(-1.0f32..1.0))
        .collect()
}

#[test]
fn translation_shifts_whole_pixels_with_zeros_and_cutout_zeroes_a_square() {
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let shape = [4, 2, 16, 16];
    let x = images(&mut rng, shape);
    let input = Tensor::<4>::from_data(TensorData::new(x.clone(), shape), &Device::flex());
    let translate = AugmentPolicy {
        translation: true,
        ..AugmentPolicy::NONE
    };
    let out = values(translate.apply(input.clone(), &mut ChaCha8Rng::seed_from_u64(5)));
    for b in 0..4 {
        // Every output image is its input moved by one (dy, dx) within ±2 pixels (16/8).
        let at = |v: &[f64], c: usize, i: i64, j: i64| {
            v[((b * 2 + c) * 16 + i as usize) * 16 + j as usize]
        };
        let x64: Vec<f64> = x.iter().map(|&v| v as f64).collect();
        let found = (-2i64..=2)
            .flat_map(|dy| (-2i64..=2).map(move |dx| (dy, dx)))
            .find(|&(dy, dx)| {
                (0..2).all(|c| {
                    (0..16).all(|i| {
                        (0..16).all(|j| {
                            let (si, sj) = (i + dy, j + dx);
                            let expected = if (0..16).contains(&si) && (0..16).contains(&sj) {
                                at(&x64, c, si, sj)
                            } else {
                                0.0
                            };
                            (at(&out, c, i, j) - expected).abs() < 1e-6
                        })
                    })
                })
            });
        assert!(
            found.is_some(),
            "image {b} is not a whole-pixel shift of its input"
        );
    }
    let cut = AugmentPolicy {
        cutout: true,
        ..AugmentPolicy::NONE
    };
    let ones = Tensor::<4>::ones(shape, &Device::flex());
    let out = values(cut.apply(ones, &mut ChaCha8Rng::seed_from_u64(6)));
    for b in 0..4 {
        let image = &out[b * 512..b * 512 + 256];
        assert_eq!(
            image,
            &out[b * 512 + 256..(b + 1) * 512],
            "both channels cut alike"
        );
        let zeros = image.iter().filter(|&&v| v == 0.0).count();
        // An 8×8 square, cropped where it reaches over the edge.
        assert!((16..=64).contains(&zeros), "image {b}: {zeros} zeros");
        assert!(image.iter().all(|&v| v == 0.0 || v == 1.0));
    }
}

#[test]
fn colour_augmentation_matches_its_formula_and_leaves_grey_saturation_alone() {
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let shape = [2, 1, 4, 4];
    let x = images(&mut rng, shape);
    let colour = AugmentPolicy {
        color: true,
        ..AugmentPolicy::NONE
    };
    let input = Tensor::<4>::from_data(TensorData::new(x.clone(), shape), &Device::flex());
    let out = values(colour.apply(input, &mut ChaCha8Rng::seed_from_u64(8)));
    // The same draws, by hand: brightness per image, then saturation (no effect on one
    // channel), then contrast around the image mean.
    let mut draws = ChaCha8Rng::seed_from_u64(8);
    let brightness: Vec<f64> = (0..2).map(|_| draws.random::<f32>() as f64 - 0.5).collect();
    let _saturation: Vec<f32> = (0..2).map(|_| draws.random::<f32>()).collect();
    let contrast: Vec<f64> = (0..2).map(|_| draws.random::<f32>() as f64 + 0.5).collect();
    for b in 0..2 {
        let image: Vec<f64> = x[b * 16..(b + 1) * 16]
            .iter()
            .map(|&v| v as f64 + brightness[b])
            .collect();
        let mean = image.iter().sum::<f64>() / 16.0;
        for (k, v) in image.iter().enumerate() {
            let expected = (v - mean) * contrast[b] + mean;
            assert!(
                (out[b * 16 + k] - expected).abs() < 1e-5,
                "{} vs {expected}",
                out[b * 16 + k]
            );
        }
    }
}

#[test]
fn augmentation_passes_gradients_and_repeats_with_the_same_draw() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let shape = [3, 3, 16, 16];
    let x = Tensor::<4>::from_data(TensorData::new(images(&mut rng, shape), shape), &device())
        .require_grad();
    let a = AugmentPolicy::ALL.apply(x.clone(), &mut ChaCha8Rng::seed_from_u64(10));
    let b = AugmentPolicy::ALL.apply(x.clone(), &mut ChaCha8Rng::seed_from_u64(10));
    let c = AugmentPolicy::ALL.apply(x.clone(), &mut ChaCha8Rng::seed_from_u64(11));
    assert_eq!(values(a.clone()), values(b));
    assert_ne!(values(a.clone()), values(c));
    let grads = a.square().sum().backward();
    let g = values(x.grad(&grads).expect("the images get a gradient"));
    let nonzero = g.iter().filter(|v| v.abs() > 0.0).count();
    // Cutout and the shifted-out border take no gradient; most pixels do.
    assert!(
        nonzero > g.len() / 3,
        "{nonzero} of {} pixels get a gradient",
        g.len()
    );
    assert!(g.iter().all(|v| v.is_finite()));
    assert_eq!(
        "color,translation,cutout".parse::<AugmentPolicy>().unwrap(),
        AugmentPolicy::ALL
    );
    assert_eq!(AugmentPolicy::ALL.to_string(), "color,translation,cutout");
    assert_eq!(
        "none".parse::<AugmentPolicy>().unwrap(),
        AugmentPolicy::NONE
    );
    let err = "color,flip".parse::<AugmentPolicy>().unwrap_err();
    assert!(err.contains("flip") && err.contains("cutout"), "{err}");
}

#[test]
fn the_default_recipe_is_the_modern_one_and_tutorial_is_every_key_at_its_default() {
    let modern = TrainOverrides::default().resolve().unwrap();
    assert_eq!(modern.networks.recipe, Recipe::Modern);
    assert_eq!(modern.objective.loss, LossKind::Hinge);
    assert!(modern.networks.spectral_norm);
    assert_eq!(modern.networks.d_norm, NormKind::None);
    assert_eq!((modern.optimiser.lr_d, modern.optimiser.lr_g), (2e-4, 2e-4));
    assert_eq!(modern.remedies.augment.to_string(), "translation");
    assert!(modern.remedies.g_ema.is_some());
    // The data's shape still comes from its preset; the digits' DCGAN draws at their 8×8 and
    // steps D twice, with 3×3 kernels in 2400 iterations.
    assert_eq!((modern.input.spatial, modern.input.channels), (16, 1));
    assert_eq!(modern.networks.g_draw_side, Some(8));
    assert_eq!(modern.schedule.disc_updates, 2);
    assert_eq!(modern.networks.filter, 3);
    assert_eq!(modern.total_steps(), 2400);

    let tutorial = TrainOverrides {
        recipe: Some(Recipe::Tutorial),
        ..Default::default()
    }
    .resolve()
    .unwrap();
    assert_eq!(tutorial.objective.loss, LossKind::Bce);
    assert!(!tutorial.networks.spectral_norm);
    assert_eq!(
        tutorial.networks.d_norm,
        NormKind::Layer,
        "the digits preset's"
    );
    assert!(tutorial.remedies.augment.is_none() && tutorial.remedies.g_ema.is_none());
    assert_eq!(tutorial.networks.g_draw_side, None, "the tutorial's G");
    assert_eq!(tutorial.networks.filter, 5, "the tutorial's kernels");
    assert_eq!(tutorial.schedule.disc_updates, 1);
    assert_eq!(
        (tutorial.optimiser.lr_d, tutorial.optimiser.beta1),
        (2e-4, 0.5)
    );

    // A key set by the user wins over the recipe; an objective's preset too.
    let mine = TrainOverrides {
        augment: Some(AugmentPolicy::NONE),
        loss: Some(LossKind::WganGp),
        ..Default::default()
    }
    .resolve()
    .unwrap();
    assert!(mine.remedies.augment.is_none() && mine.networks.spectral_norm);
    assert_eq!(mine.objective.loss, LossKind::WganGp);
    assert_eq!(mine.schedule.disc_updates, 5);
    // A conditional run on the digits gets the DCGAN with class-conditional BatchNorm and the
    // mode-seeking term; on other data the residual networks (class-conditional BatchNorm);
    // unless the user names a model.
    let conditional = TrainOverrides {
        conditional: Some(true),
        ..Default::default()
    };
    let resolved = conditional.clone().resolve().unwrap();
    assert_eq!(resolved.networks.model, ganforge::models::ModelKind::Dcgan);
    assert!(resolved.networks.g_class_norm && resolved.remedies.mode_seeking.is_some());
    assert_eq!(resolved.objective.class_loss, Some(0.1), "the class term");
    assert_eq!(resolved.networks.g_draw_side, Some(8));
    // A conditional run has its own directory name beside the unconditional one's.
    assert_eq!(
        resolved.run_name(),
        "dcgan-cond-hinge_digits_s16_c1_lat100_cap16_b64_k3_du2_gu1"
    );
    // …in batches of 64 for 1400 iterations, over the digits' 2400 of 32.
    assert_eq!(
        (resolved.schedule.batch, resolved.total_steps()),
        (64, 1400)
    );
    assert_eq!(modern.schedule.batch, 32);
    assert_eq!(
        modern.run_name(),
        "dcgan-hinge_digits_s16_c1_lat100_cap16_b32_k3_du2_gu1"
    );
    assert!(resolved.networks.spectral_norm);
    let emoji = TrainOverrides {
        data: Some(ganforge::data::DataSpec::Emoji),
        ..conditional.clone()
    }
    .resolve()
    .unwrap();
    assert_eq!(emoji.networks.model, ganforge::models::ModelKind::Resnet);
    assert!(!emoji.networks.g_class_norm && emoji.networks.g_draw_side.is_none());
    // Stacked digits are the same 8×8 digits, three to an image: the digits' DCGAN settings.
    let stacked = TrainOverrides {
        data: Some(ganforge::data::DataSpec::StackedDigits),
        ..Default::default()
    }
    .resolve()
    .unwrap();
    assert_eq!(stacked.input.channels, 3);
    assert_eq!(stacked.networks.g_draw_side, Some(8));
    assert_eq!(stacked.schedule.disc_updates, 2);
    assert_eq!(
        (stacked.networks.filter, stacked.total_steps()),
        (5, 1400),
        "stacked digits keep the kernels and length their benchmark was measured with"
    );
    let named = TrainOverrides {
        model: Some(ganforge::models::ModelKind::Dcgan),
        ..conditional
    }
    .resolve()
    .unwrap();
    assert_eq!(named.networks.model, ganforge::models::ModelKind::Dcgan);
    // The 2-D benchmarks keep their protocol.
    let points = TrainOverrides {
        data: Some("mixture:ring8".parse().unwrap()),
        ..Default::default()
    }
    .resolve()
    .unwrap();
    assert!(!points.networks.spectral_norm && points.remedies.augment.is_none());
    assert_eq!(points.objective.loss, LossKind::Bce);
    for (keys, key) in [
        (
            TrainOverrides {
                r1_gamma: Some(1.0),
                d_norm: Some(NormKind::Batch),
                ..Default::default()
            },
            "`d_norm`",
        ),
        (
            TrainOverrides {
                r1_interval: Some(0),
                ..Default::default()
            },
            "`r1_interval`",
        ),
        (
            TrainOverrides {
                data: Some("mixture:ring8".parse().unwrap()),
                spectral_norm: Some(true),
                ..Default::default()
            },
            "`spectral_norm`",
        ),
    ] {
        let err = keys.resolve().unwrap_err().to_string();
        assert!(err.contains(key), "{err}");
    }
}

/// Every float of a module (weights and buffers such as the spectral norms' vectors).
fn state_of<M: Module>(module: &M) -> Vec<f32> {
    parameter_values(module)
        .into_iter()
        .flat_map(|p| p.values)
        .collect()
}

#[test]
fn a_resumed_modern_run_has_the_same_vectors_augmentation_and_average_as_an_uninterrupted_one() {
    use ganforge::output::checkpoint;
    let dir = tempfile::tempdir().unwrap();
    let config = |steps| {
        let mut c = super::tiny_modern_config(steps);
        c.objective.r1_gamma = Some(1.0);
        c.objective.r1_interval = 2;
        c.remedies.g_ema_warmup = 3;
        // G's nearest up-sampling (the transposed one resumes in training.rs).
        c.networks.g_upsample = ganforge::models::Upsampling::Nearest;
        c
    };
    assert!(config(1).networks.spectral_norm && !config(1).remedies.augment.is_none());
    let whole = super::train_quiet(config(8), &dir.path().join("whole"));
    let split = dir.path().join("split");
    super::train_quiet(config(5), &split);
    ganforge::train::resume(ganforge::train::ResumeOptions {
        keep_checkpoints: None,
        tensorboard: None,
        device: ganforge::device::DeviceChoice::Cpu,
        out: split.clone(),
        steps: Some(8),
        epochs: None,
        progress: ganforge::train::Progress::Quiet,
    })
    .unwrap();
    let load = |run: &std::path::Path| {
        let cfg = ganforge::output::run_dir::RunDir::open(run)
            .unwrap()
            .read_config()
            .unwrap();
        let dir = checkpoint::latest(&run.join("checkpoints")).unwrap();
        ganforge::train::Gan::load(&cfg, &dir, &Device::flex()).unwrap()
    };
    let (a, b) = (load(&whole.run_dir), load(&split));
    assert_eq!(a.step, 8);
    assert_eq!(b.step, 8);
    let (da, db) = (state_of(&a.discriminator), state_of(&b.discriminator));
    let worst = da
        .iter()
        .zip(&db)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0f32, f32::max);
    assert!(
        worst < 1e-5,
        "D (with its spectral-norm vectors) differs by {worst}"
    );
    let ema = |g: &ganforge::train::Gan| state_of(g.generator_ema.as_ref().unwrap());
    let worst = ema(&a)
        .iter()
        .zip(&ema(&b))
        .map(|(x, y)| (x - y).abs())
        .fold(0.0f32, f32::max);
    assert!(worst < 1e-5, "G's average differs by {worst}");
}

#[test]
fn the_residual_networks_have_the_shapes_of_every_size_and_a_conditional_g_uses_its_class_gains() {
    let device = Device::flex();
    for spatial in [16, 32, 64] {
        let g = ResnetGeneratorConfig::new(spatial, 3)
            .with_latent(8)
            .with_capacity(4)
            .init(&device);
        let images = g.forward(Tensor::random(
            [2, 8],
            burn::tensor::Distribution::Normal(0.0, 1.0),
            &device,
        ));
        assert_eq!(images.dims(), [2, 3, spatial, spatial]);
        let d = ResnetDiscriminatorConfig::new(3, spatial)
            .with_capacity(4)
            .with_spectral_norm(true)
            .init(&device);
        assert_eq!(d.forward(images.clone()).dims(), [2, 1]);
        assert_eq!(
            d.features(images).dims(),
            [2, 4 << ((spatial / 4).trailing_zeros() - 1)]
        );
    }
    // Class-conditional BatchNorm: the gains start at zero (plain BatchNorm), and after a step
    // only the classes in the batch have moved.
    let device = Device::flex().autodiff();
    let g = ResnetGeneratorConfig::new(16, 1)
        .with_latent(8)
        .with_capacity(4)
        .with_classes(3)
        .init(&device);
    class_gains_start_at_zero_and_move_for_the_batch_classes_only(&g, 16, &device);
}

#[test]
fn the_tutorial_g_with_class_norm_uses_its_class_gains() {
    let device = Device::flex().autodiff();
    // Capacity 2: the first block has 4 · 2 = 8 channels.
    let g = DcganGeneratorConfig::new(16, 1)
        .with_latent(8)
        .with_capacity(2)
        .with_classes(3)
        .with_class_norm(true)
        .init(&device);
    class_gains_start_at_zero_and_move_for_the_batch_classes_only(&g, 8, &device);
    // Without it, the same G has no per-class gains (its record is the tutorial's).
    let plain = DcganGeneratorConfig::new(16, 1)
        .with_latent(8)
        .with_capacity(2)
        .with_classes(3)
        .init(&device);
    assert!(
        parameter_values(&plain)
            .iter()
            .all(|p| p.shape != vec![3, 8] && p.shape != vec![3, 4])
    );
}

/// A conditional G's class gains of `channels` channels start at zero, and a backward pass
/// through a batch of classes 0 and 1 reaches their rows and not class 2's.
fn class_gains_start_at_zero_and_move_for_the_batch_classes_only<G>(
    g: &G,
    channels: usize,
    device: &Device,
) where
    G: GeneratorNet + Module,
{
    assert!(g.is_conditional());
    let noise = Tensor::<2>::random([4, 8], burn::tensor::Distribution::Normal(0.0, 1.0), device);
    let images = g.forward_conditioned(
        noise,
        Some(ganforge::train::label_tensor(&[0, 0, 1, 1], device)),
    );
    let grads = GradientsParams::from_grads(images.sum().backward(), g);
    let gains: Vec<_> = parameter_values(g)
        .into_iter()
        .filter(|p| p.trainable && p.shape == vec![3, channels])
        .collect();
    assert!(
        !gains.is_empty(),
        "the first block's class gains and biases"
    );
    assert!(gains.iter().all(|p| p.values.iter().all(|&v| v == 0.0)));
    let mut moved_unused = false;
    let mut moved_used = false;
    for p in &gains {
        let Some(gr) = grads.get::<2>(burn::module::ParamId::from(p.id)) else {
            continue;
        };
        let v: Vec<f32> = gr.into_data().try_into_vec_as::<f32>().unwrap();
        moved_used |= v[..2 * channels].iter().any(|x| x.abs() > 0.0);
        moved_unused |= v[2 * channels..].iter().any(|x| x.abs() > 0.0);
    }
    assert!(
        moved_used && !moved_unused,
        "class 2 is not in the batch: its gains take no gradient"
    );
}

#[test]
fn the_new_network_keys_are_refused_where_they_do_not_apply() {
    for (keys, needle) in [
        (
            TrainOverrides {
                model: Some(ganforge::models::ModelKind::Resnet),
                g_draw_side: Some(8),
                ..Default::default()
            },
            "only the dcgan generator",
        ),
        (
            TrainOverrides {
                g_draw_side: Some(6),
                ..Default::default()
            },
            "power of two",
        ),
        (
            TrainOverrides {
                g_draw_side: Some(32),
                ..Default::default()
            },
            "at most `spatial`",
        ),
        (
            TrainOverrides {
                g_class_norm: Some(true),
                ..Default::default()
            },
            "conditional run",
        ),
        (
            TrainOverrides {
                model: Some(ganforge::models::ModelKind::Cyclegan),
                g_draw_side: Some(8),
                ..Default::default()
            },
            "CycleGAN",
        ),
        (
            TrainOverrides {
                model: Some(ganforge::models::ModelKind::Resnet),
                g_upsample: Some(ganforge::models::Upsampling::Nearest),
                ..Default::default()
            },
            "g_upsample",
        ),
        (
            TrainOverrides {
                model: Some(ganforge::models::ModelKind::Cyclegan),
                g_upsample: Some(ganforge::models::Upsampling::Nearest),
                ..Default::default()
            },
            "g_upsample",
        ),
        (
            TrainOverrides {
                model: Some(ganforge::models::ModelKind::Resnet),
                resample_filter: Some(4),
                ..Default::default()
            },
            "resnet's blocks resample by pooling",
        ),
        (
            TrainOverrides {
                model: Some(ganforge::models::ModelKind::Cyclegan),
                resample_filter: Some(4),
                ..Default::default()
            },
            "resample_filter",
        ),
        (
            TrainOverrides {
                resample_filter: Some(8),
                ..Default::default()
            },
            "a stride-2 kernel from 2 to 7",
        ),
        (
            TrainOverrides {
                resample_filter: Some(1),
                ..Default::default()
            },
            "a stride-2 kernel from 2 to 7",
        ),
    ] {
        let err = keys.resolve().unwrap_err().to_string();
        assert!(err.contains(needle), "{err}");
    }
}
