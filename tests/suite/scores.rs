//! The evaluation scores on inputs whose answer is known.

use ganforge::eval::scores::{
    Moments, frechet_distance, inception_score, kernel_distance, precision_recall,
};
use nalgebra::{DMatrix, DVector};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

fn moments(mean: &[f64], cov: &[f64]) -> Moments {
    let d = mean.len();
    Moments {
        mean: DVector::from_column_slice(mean),
        cov: DMatrix::from_row_slice(d, d, cov),
    }
}

fn gaussian(rng: &mut ChaCha8Rng, n: usize, mean: &[f64]) -> Vec<Vec<f64>> {
    (0..n)
        .map(|_| {
            mean.iter()
                .map(|m| m + rng.sample::<f64, _>(StandardNormal))
                .collect()
        })
        .collect()
}

#[test]
fn frechet_distance_matches_closed_forms_and_a_reference() {
    let a = moments(
        &[0.0, 0.0, 0.0],
        &[2.0, 1.0, 0.2, 1.0, 2.0, 0.3, 0.2, 0.3, 1.5],
    );
    assert!(frechet_distance(&a, &a).abs() < 1e-9, "identical: 0");
    // Same covariance, shifted mean: only ‖δ‖² remains.
    let shifted = moments(
        &[1.0, 2.0, -0.5],
        &[2.0, 1.0, 0.2, 1.0, 2.0, 0.3, 0.2, 0.3, 1.5],
    );
    assert!((frechet_distance(&a, &shifted) - 5.25).abs() < 1e-9);
    // Σa = I, Σb = 4I in 3 dimensions: Tr(I + 4I − 2·2I) = 3.
    let identity = moments(&[0.0; 3], &[1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]);
    let four = moments(&[0.0; 3], &[4.0, 0.0, 0.0, 0.0, 4.0, 0.0, 0.0, 0.0, 4.0]);
    assert!((frechet_distance(&identity, &four) - 3.0).abs() < 1e-9);
    // Reference: SciPy's general sqrtm of ΣaΣb gives 5.970869797614304 for these moments.
    let b = moments(
        &[1.0, 2.0, -0.5],
        &[1.0, 0.0, 0.4, 0.0, 3.0, 0.1, 0.4, 0.1, 0.8],
    );
    let fd = frechet_distance(&a, &b);
    assert!((fd - 5.970869797614304).abs() < 1e-9, "{fd}");
    assert!((frechet_distance(&b, &a) - fd).abs() < 1e-9, "symmetric");
}

#[test]
fn frechet_distance_of_samples_approaches_the_shift() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let a = Moments::of(&gaussian(&mut rng, 20_000, &[0.0; 4]));
    let b = Moments::of(&gaussian(&mut rng, 20_000, &[1.0, 0.0, -1.0, 0.5]));
    let fd = frechet_distance(&a, &b);
    assert!((fd - 2.25).abs() < 0.05, "{fd}");
    let same = Moments::of(&gaussian(&mut rng, 20_000, &[0.0; 4]));
    assert!(frechet_distance(&a, &same) < 0.01);
}

#[test]
fn kernel_distance_is_zero_for_one_distribution_and_large_for_two() {
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let a = gaussian(&mut rng, 400, &[0.0; 8]);
    let b = gaussian(&mut rng, 400, &[0.0; 8]);
    let far = gaussian(&mut rng, 400, &[1.0; 8]);
    let same = kernel_distance(&a, &b);
    assert!(same.abs() < 0.05, "{same}");
    // Cubic kernel: within `far` (x·y/d ≈ 1) ≈ 8, within `a` ≈ 1, across ≈ 1: MMD² ≈ 7.
    let apart = kernel_distance(&a, &far);
    assert!((apart - 7.0).abs() < 1.5, "{apart}");
}

#[test]
fn inception_score_counts_confident_distinct_classes() {
    let one_class = vec![vec![1.0, 0.0, 0.0, 0.0]; 50];
    assert!((inception_score(&one_class) - 1.0).abs() < 1e-12);
    let every_class: Vec<Vec<f64>> = (0..40)
        .map(|i| (0..4).map(|c| if c == i % 4 { 1.0 } else { 0.0 }).collect())
        .collect();
    assert!((inception_score(&every_class) - 4.0).abs() < 1e-12);
    let unsure = vec![vec![0.25; 4]; 10];
    assert!((inception_score(&unsure) - 1.0).abs() < 1e-12);
}

#[test]
fn a_one_point_generator_is_precise_but_has_no_recall() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let real = gaussian(&mut rng, 200, &[0.0; 2]);
    let collapsed = vec![real[0].clone(); 200];
    let (precision, recall) = precision_recall(&real, &collapsed, 3);
    assert_eq!(precision, 1.0);
    assert!((recall - 1.0 / 200.0).abs() < 1e-12, "{recall}");
    let fresh = gaussian(&mut rng, 200, &[0.0; 2]);
    let (precision, recall) = precision_recall(&real, &fresh, 3);
    assert!(precision > 0.8 && recall > 0.8, "{precision} {recall}");
}
