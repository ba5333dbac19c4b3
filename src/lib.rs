//! ganforge: train, sample and evaluate generative adversarial networks on burn.
//!
//! The layout follows the data flow: [`data`] → [`models`] → [`losses`] → [`config`] →
//! [`networks`] and [`output`] (run directory, loss log, plots, figures, checkpoints) →
//! [`train`] (the one session driver) → [`sample`], [`translate`], [`interpolate`] → [`eval`]
//! (judge classifier, scores, export) → [`bench`](mod@bench); README.md, "Layout", has every file.

pub mod augment;
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
pub mod networks;
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
