//! ganforge's integration tests: one test binary (burn links once), one module per concern.

mod cli;
mod data;
mod models;
mod sample;
mod training;

use std::path::Path;

use ganforge::config::{TrainConfig, TrainOverrides};

/// A small, fast configuration on the digits: 16×16 grey, tiny networks.
pub fn tiny_config(steps: usize) -> TrainConfig {
    TrainOverrides {
        capacity: Some(4),
        batch: Some(8),
        latent: Some(16),
        steps: Some(steps),
        progress_interval: Some(5),
        iterations_per_epoch: Some(5),
        checkpoint_interval: Some(5),
        num_load: Some(300),
        ..Default::default()
    }
    .resolve()
    .expect("valid tiny config")
}

/// Every file below `dir` with its content, to prove a refused command touched nothing.
pub fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = walkdir::WalkDir::new(dir)
        .sort_by_file_name()
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            (
                e.path().display().to_string(),
                std::fs::read(e.path()).expect("readable"),
            )
        })
        .collect();
    files.sort();
    files
}
