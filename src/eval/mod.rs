//! Evaluation: scores of a generator against real data, from a classifier's outputs and features.

pub mod evaluate;
pub mod export;
pub mod feature_net;
pub mod judge;
pub mod modes;
pub mod scores;
pub mod translation;
