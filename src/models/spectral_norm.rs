//! Spectral normalisation (Miyato et al. 2018): a layer's weight divided by an estimate of its
//! largest singular value, so that the layer is 1-Lipschitz and D's output cannot grow steep
//! faster than G can follow. The estimate comes from one step of power iteration per training
//! forward pass, warm-started from the previous step's left singular vector `u`, which is a
//! buffer of the module: saved in checkpoints and restored on resume, so a resumed run goes on
//! with the same estimate.

use burn::module::RunningState;
use burn::prelude::*;
use burn::tensor::Distribution;

/// Power iteration's guard against dividing by a zero norm (PyTorch's `eps`).
const EPSILON: f64 = 1e-12;

/// The singular-vector estimate of one weight matrix `[rows, cols]` (a convolution's kernel is
/// the matrix `[c_out, c_in·kh·kw]`, a dense layer's `[outputs, inputs]`, as PyTorch reads them).
#[derive(Module, Debug)]
pub struct SpectralNorm {
    /// The current estimate of the leading left singular vector, `[rows]`, of unit length.
    u: RunningState<Tensor<1>>,
}

fn unit(v: Tensor<1>) -> Tensor<1> {
    let norm = v.clone().square().sum().sqrt().add_scalar(EPSILON);
    v / norm
}

impl SpectralNorm {
    /// A fresh estimate for a matrix with `rows` rows: a random unit vector, drawn from the
    /// device's RNG (so under the run's seed when initialised with [`crate::models::with_seed`]).
    pub fn new(rows: usize, device: &Device) -> Self {
        let u = Tensor::<1>::random([rows], Distribution::Normal(0.0, 1.0), device);
        SpectralNorm {
            u: RunningState::new(unit(u)),
        }
    }

    /// The current left singular-vector estimate.
    pub fn u(&self) -> Tensor<1> {
        self.u.value_sync()
    }

    /// The estimate σ of `matrix`'s largest singular value, as a differentiable function of
    /// `matrix` (u and v are constants of the step, as in the paper: σ = uᵀ W v). When `matrix`
    /// takes gradients (a training forward pass) one step of power iteration moves `u` first;
    /// otherwise `u` is used as it is and nothing changes.
    pub fn sigma(&self, matrix: Tensor<2>) -> Tensor<1> {
        let update = matrix.is_require_grad();
        self.sigma_updating(matrix, update)
    }

    /// [`SpectralNorm::sigma`], moving `u` when `update`. A layer's weight is a leaf that takes
    /// gradients in training, but the matrix made of it (reshaped, transposed) is not a leaf
    /// and does not say so: callers decide on the weight itself.
    fn sigma_updating(&self, matrix: Tensor<2>, update: bool) -> Tensor<1> {
        let [rows, cols] = matrix.dims();
        let w = matrix.clone().detach();
        let mut u = self.u.value_sync().detach().cast(matrix.dtype());
        let v = unit(
            w.clone()
                .transpose()
                .matmul(u.clone().reshape([rows, 1]))
                .reshape([cols]),
        );
        if update {
            u = unit(w.matmul(v.clone().reshape([cols, 1])).reshape([rows]));
            self.u.update(u.clone());
            // Commits the update now, so that a checkpoint or the next pass sees it.
            let _ = self.u.value_sync();
        }
        let wv = matrix.matmul(v.reshape([cols, 1])).reshape([rows]);
        (u * wv).sum()
    }

    /// `matrix / σ(matrix)`.
    pub fn normalise(&self, matrix: Tensor<2>) -> Tensor<2> {
        let update = matrix.is_require_grad();
        self.normalise_updating(matrix, update)
    }

    fn normalise_updating(&self, matrix: Tensor<2>, update: bool) -> Tensor<2> {
        let sigma = self.sigma_updating(matrix.clone(), update);
        matrix / sigma.reshape([1, 1])
    }

    /// A convolution kernel `[c_out, c_in, kh, kw]` divided by its σ as the matrix
    /// `[c_out, c_in·kh·kw]`.
    pub fn normalise_kernel(&self, kernel: Tensor<4>) -> Tensor<4> {
        let shape = kernel.dims();
        let [c_out, c_in, kh, kw] = shape;
        let update = kernel.is_require_grad();
        self.normalise_updating(kernel.reshape([c_out, c_in * kh * kw]), update)
            .reshape(shape)
    }

    /// A dense layer's weight as burn stores it, `[inputs, outputs]`, divided by its σ (the
    /// estimate works on its transpose `[outputs, inputs]`, PyTorch's layout).
    pub fn normalise_dense(&self, weight: Tensor<2>) -> Tensor<2> {
        let update = weight.is_require_grad();
        self.normalise_updating(weight.transpose(), update)
            .transpose()
    }
}

/// A weight's spectral normalisation where the layer has one: `normalise(weight)` or `weight`.
pub fn kernel_of(weight: Tensor<4>, norm: Option<&SpectralNorm>) -> Tensor<4> {
    match norm {
        Some(norm) => norm.normalise_kernel(weight),
        None => weight,
    }
}

/// A dense weight `[inputs, outputs]`, spectrally normalised where the layer is.
pub fn dense_of(weight: Tensor<2>, norm: Option<&SpectralNorm>) -> Tensor<2> {
    match norm {
        Some(norm) => norm.normalise_dense(weight),
        None => weight,
    }
}
