//! ganforge's integration tests: one test binary (burn links once), one module per concern.

mod cli;
mod conditional;
mod data;
mod diagnostics;
mod models;
mod objectives;
mod penalty;
mod remedies;
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

/// Trains a tiny run into a fresh temporary directory; the directory lives as long as the
/// returned guard.
pub fn tiny_run(steps: usize) -> (tempfile::TempDir, std::path::PathBuf) {
    let guard = tempfile::tempdir().expect("temp dir");
    let dir = guard.path().to_path_buf();
    let out = dir.join("run");
    ganforge::train::train(
        tiny_config(steps),
        ganforge::train::TrainOptions {
            device: ganforge::device::DeviceChoice::Cpu,
            out: Some(out.clone()),
            runs_root: dir,
            progress: ganforge::train::Progress::Quiet,
        },
    )
    .expect("tiny run trains");
    (guard, out)
}
