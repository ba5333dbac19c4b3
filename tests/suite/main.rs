//! ganforge's integration tests: one test binary (burn links once), one module per concern.

mod cli;
mod conditional;
mod config;
mod cyclegan;
mod data;
mod diagnostics;
mod emoji_cycle;
mod evaluate;
mod feature_net;
mod folder_fid;
mod gpu;
mod inception;
mod judge;
mod kernels;
mod layering;
mod models;
mod modes;
mod objectives;
mod penalty;
mod pytorch_weights;
mod recipe;
mod reliability;
mod remedies;
mod report;
mod sample;
mod scores;
mod session;
mod speed;
mod tensorboard;
mod training;

use std::path::Path;

use ganforge::config::{TrainConfig, TrainOverrides};

/// A small, fast configuration on the digits: 16×16 grey, tiny networks, the tutorial's recipe
/// (the tests of the modern recipe's parts set them, or use [`tiny_modern_config`]).
pub fn tiny_config(steps: usize) -> TrainConfig {
    TrainOverrides {
        recipe: Some(ganforge::config::Recipe::Tutorial),
        ..tiny_keys(steps)
    }
    .resolve()
    .expect("valid tiny config")
}

/// [`tiny_config`] with the modern recipe (the default).
pub fn tiny_modern_config(steps: usize) -> TrainConfig {
    tiny_keys(steps).resolve().expect("valid tiny config")
}

fn tiny_keys(steps: usize) -> TrainOverrides {
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

/// Options of a quiet run on the CPU into `out`.
pub fn quiet(out: &Path) -> ganforge::train::TrainOptions {
    ganforge::train::TrainOptions {
        device: ganforge::device::DeviceChoice::Cpu,
        out: Some(out.to_path_buf()),
        runs_root: out.parent().unwrap_or(out).to_path_buf(),
        progress: ganforge::train::Progress::Quiet,
    }
}

/// Trains `config` quietly into `out`.
pub fn train_quiet(config: TrainConfig, out: &Path) -> ganforge::train::TrainSummary {
    ganforge::train::train(config, quiet(out)).expect("the run trains")
}

/// The first `limit` digits at 16×16 grey.
pub fn small_digits(limit: usize) -> ganforge::data::ImageSet {
    ganforge::data::ImageSet::load(
        &ganforge::data::DataSpec::Digits,
        ganforge::data::LoadOptions {
            limit: Some(limit),
            ..ganforge::data::LoadOptions::new(16, 1)
        },
    )
    .expect("the digits load")
}

/// Trains a tiny run into a fresh temporary directory; the directory lives as long as the
/// returned guard.
pub fn tiny_run(steps: usize) -> (tempfile::TempDir, std::path::PathBuf) {
    let guard = tempfile::tempdir().expect("temp dir");
    let out = guard.path().join("run");
    train_quiet(tiny_config(steps), &out);
    (guard, out)
}
