//! Sample-quality scores on classifier outputs and features, in f64.

use nalgebra::{DMatrix, DVector, SymmetricEigen};

/// Mean and covariance of a feature distribution.
#[derive(Debug, Clone)]
pub struct Moments {
    pub mean: DVector<f64>,
    pub cov: DMatrix<f64>,
}

impl Moments {
    /// Sample mean and unbiased covariance of `features` (rows; at least two).
    pub fn of(features: &[Vec<f64>]) -> Moments {
        let (n, d) = (features.len(), features.first().map_or(0, Vec::len));
        let x = DMatrix::from_fn(n, d, |i, j| features[i][j]);
        let mean = DVector::from_fn(d, |j, _| x.column(j).mean());
        let centred = DMatrix::from_fn(n, d, |i, j| x[(i, j)] - mean[j]);
        let cov = centred.transpose() * &centred / (n.max(2) - 1) as f64;
        Moments { mean, cov }
    }
}

/// The square root of a symmetric positive semi-definite matrix, through its eigendecomposition
/// (negative eigenvalues from rounding are taken as 0).
fn psd_sqrt(m: &DMatrix<f64>) -> DMatrix<f64> {
    let eigen = SymmetricEigen::new((m + m.transpose()) * 0.5);
    let roots = eigen.eigenvalues.map(|l| l.max(0.0).sqrt());
    &eigen.eigenvectors * DMatrix::from_diagonal(&roots) * eigen.eigenvectors.transpose()
}

/// Fréchet distance between Gaussians with these moments:
/// ‖μa − μb‖² + Tr(Σa + Σb − 2(ΣaΣb)^½). Tr((ΣaΣb)^½) is computed as Tr((Σa^½ Σb Σa^½)^½):
/// the two matrices are similar, and the second is symmetric, so symmetric eigendecompositions
/// are enough and no general matrix square root (with its complex round-off) is needed.
pub fn frechet_distance(a: &Moments, b: &Moments) -> f64 {
    let root_a = psd_sqrt(&a.cov);
    let middle = &root_a * &b.cov * &root_a;
    let trace_root: f64 = SymmetricEigen::new((&middle + middle.transpose()) * 0.5)
        .eigenvalues
        .iter()
        .map(|l| l.max(0.0).sqrt())
        .sum();
    (&a.mean - &b.mean).norm_squared() + a.cov.trace() + b.cov.trace() - 2.0 * trace_root
}

/// Kernel inception distance (Bińkowski et al. 2018): the unbiased estimate of the squared MMD
/// between two feature sets with the cubic polynomial kernel k(x, y) = (x·y/d + 1)³.
pub fn kernel_distance(a: &[Vec<f64>], b: &[Vec<f64>]) -> f64 {
    let d = a.first().map_or(1, Vec::len) as f64;
    let k =
        |x: &[f64], y: &[f64]| (x.iter().zip(y).map(|(u, v)| u * v).sum::<f64>() / d + 1.0).powi(3);
    let within = |s: &[Vec<f64>]| {
        let n = s.len() as f64;
        let mut sum = 0.0;
        for (i, x) in s.iter().enumerate() {
            for y in &s[i + 1..] {
                sum += 2.0 * k(x, y);
            }
        }
        sum / (n * (n - 1.0))
    };
    let across: f64 = a
        .iter()
        .map(|x| b.iter().map(|y| k(x, y)).sum::<f64>())
        .sum::<f64>()
        / (a.len() * b.len()) as f64;
    within(a) + within(b) - 2.0 * across
}

/// Inception-style score: exp(mean over x of KL(p(y|x) ‖ p(y))), p(y) the mean prediction.
/// 1 when every image gets the same prediction; the number of classes at best.
pub fn inception_score(probabilities: &[Vec<f64>]) -> f64 {
    let n = probabilities.len() as f64;
    let classes = probabilities.first().map_or(0, Vec::len);
    let marginal: Vec<f64> = (0..classes)
        .map(|c| probabilities.iter().map(|p| p[c]).sum::<f64>() / n)
        .collect();
    let mean_kl = probabilities
        .iter()
        .map(|p| {
            p.iter()
                .zip(&marginal)
                .filter(|(pc, _)| **pc > 0.0)
                .map(|(pc, mc)| pc * (pc / mc).ln())
                .sum::<f64>()
        })
        .sum::<f64>()
        / n;
    mean_kl.exp()
}

fn distance(x: &[f64], y: &[f64]) -> f64 {
    x.iter()
        .zip(y)
        .map(|(u, v)| (u - v).powi(2))
        .sum::<f64>()
        .sqrt()
}

/// Radius of each point's ball: the distance to its k-th nearest other point of the set.
fn knn_radii(set: &[Vec<f64>], k: usize) -> Vec<f64> {
    set.iter()
        .enumerate()
        .map(|(i, x)| {
            let mut d: Vec<f64> = set
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, y)| distance(x, y))
                .collect();
            d.sort_by(f64::total_cmp);
            d.get(k.saturating_sub(1)).copied().unwrap_or(f64::INFINITY)
        })
        .collect()
}

/// Share of `points` inside the manifold of `set`: the union of balls around each point of `set`
/// reaching its k-th nearest neighbour.
fn coverage(points: &[Vec<f64>], set: &[Vec<f64>], k: usize) -> f64 {
    let radii = knn_radii(set, k);
    let inside = points
        .iter()
        .filter(|p| set.iter().zip(&radii).any(|(s, r)| distance(p, s) <= *r))
        .count();
    inside as f64 / points.len().max(1) as f64
}

/// Improved precision and recall (Kynkäänniemi et al. 2019) with k nearest neighbours:
/// precision is the share of fakes inside the real manifold, recall the share of reals inside
/// the fake manifold.
pub fn precision_recall(real: &[Vec<f64>], fake: &[Vec<f64>], k: usize) -> (f64, f64) {
    (coverage(fake, real, k), coverage(real, fake, k))
}
