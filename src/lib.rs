//! ganforge: train, sample and evaluate generative adversarial networks on burn.
//!
//! The layout follows the data flow: [`data`] → [`models`] → [`losses`] → [`train`] (the one
//! training loop) → [`output`] (run directory, samples, plots, checkpoints) → [`sample`] →
//! [`eval`] (judge classifier, scores, export).

pub mod bench;
pub mod config;
pub mod data;
pub mod device;
pub mod error;
pub mod eval;
pub mod interpolate;
pub mod kernels;
pub mod losses;
pub mod models;
pub mod output;
pub mod sample;
pub mod train;
pub mod translate;

use burn::prelude::Tensor;

/// A float tensor's values as `f32`, whatever its storage dtype.
pub fn tensor_values<const D: usize>(tensor: Tensor<D>) -> Vec<f32> {
    tensor
        .into_data()
        .try_into_vec_as::<f32>()
        .expect("a float tensor converts to f32")
}
