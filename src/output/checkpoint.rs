//! Checkpoints: `checkpoints/step_NNNNNNN/` with both networks, both optimizers' state and the
//! step, and `checkpoints/latest` naming the newest complete one.
//!
//! A checkpoint is written into a hidden temporary directory, every file synced, then renamed
//! into place; only then does `latest` (itself replaced atomically) point at it, and only then is
//! the checkpoint before the previous one removed. A crash at any moment leaves `latest` naming a
//! complete checkpoint.

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::optim::ModuleOptimizer;
use burn::prelude::*;
use burn::store::ModuleRecord;
use burn::tensor::Bytes;
use serde::{Deserialize, Serialize};

use super::write_atomic;
use crate::config::TrainConfig;
use crate::error::{GanError, Result};
use crate::models::{Discriminator, Generator};

/// Bumped whenever the layout of a checkpoint changes; older ones are refused, never half-read.
/// 2: the networks are stored as `Generator`/`Discriminator` enums over the architectures.
pub const FORMAT_VERSION: u32 = 2;
const LATEST: &str = "latest";
const STATE: &str = "state.toml";
/// The files of a single-G/D GAN's checkpoint.
pub const GENERATOR: &str = "generator.bpk";
pub const GENERATOR_EMA: &str = "generator_ema.bpk";
pub const DISCRIMINATOR: &str = "discriminator.bpk";
pub const OPTIM_G: &str = "optim_g.bpk";
pub const OPTIM_D: &str = "optim_d.bpk";

/// `state.toml` of a checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointState {
    pub format: u32,
    pub model: String,
    /// Iterations completed.
    pub step: usize,
    /// Every random draw of the run comes from a stream keyed by (seed, step, purpose): with the
    /// step, the seed is the whole RNG state.
    pub seed: u64,
    /// CRC-32 of every file of the checkpoint, checked before any is used.
    pub checksums: std::collections::BTreeMap<String, u32>,
}

fn checkpoint_error(path: &Path, reason: impl std::fmt::Display) -> GanError {
    GanError::Checkpoint {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

fn sync_dir(dir: &Path) {
    // Makes renames in `dir` durable; not every platform can open a directory, which is fine.
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// A module's weights as checkpoint bytes.
pub(crate) fn module_bytes<M: Module>(module: M, path_hint: &Path) -> Result<Vec<u8>> {
    module
        .into_record()
        .into_bytes()
        .map(|b| b.to_vec())
        .map_err(|e| checkpoint_error(path_hint, e))
}

/// An optimizer's state as checkpoint bytes.
pub(crate) fn optimizer_bytes(optim: &ModuleOptimizer, path_hint: &Path) -> Result<Vec<u8>> {
    optim
        .into_bytes()
        .map(|b| b.to_vec())
        .map_err(|e| checkpoint_error(path_hint, e))
}

/// Writes a checkpoint of `files` (name, bytes) and `state` under `checkpoints`, atomically: into
/// a hidden temporary directory, synced, renamed into place, and only then named in `latest`;
/// the checkpoint before stays until then. Of the complete ones, the newest `keep` (at least 1)
/// stay and older ones go. A failed write removes its partial directory at once; on a full disk
/// the error says how much is free and how much a checkpoint needs. Returns its directory.
pub(crate) fn save_files(
    checkpoints: &Path,
    state: &CheckpointState,
    files: &[(&str, Vec<u8>)],
    keep: usize,
) -> Result<PathBuf> {
    let mut state = state.clone();
    state.checksums = files
        .iter()
        .map(|(file, bytes)| (file.to_string(), crc32fast::hash(bytes)))
        .collect();
    let name = format!("step_{:07}", state.step);
    let tmp = checkpoints.join(format!(".tmp_{name}"));
    let state_toml = toml::to_string(&state).expect("checkpoint state serialises");
    let needed: u64 =
        files.iter().map(|(_, b)| b.len() as u64).sum::<u64>() + state_toml.len() as u64;
    let fin = checkpoints.join(&name);
    if let Err((file, error)) = write_checkpoint_dir(&tmp, files, &state_toml)
        .and_then(|()| move_into_place(checkpoints, &tmp, &fin, &name))
    {
        // Nothing partial stays: the temporary directory goes at once, whatever failed.
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(disk_full_or(error, &file, checkpoints, needed));
    }

    // Keep the newest `keep` complete checkpoints (the one just written among them).
    let complete = complete_names(checkpoints);
    let excess = complete.len().saturating_sub(keep.max(1));
    for old in complete.iter().take(excess).filter(|n| **n != name) {
        let _ = std::fs::remove_dir_all(checkpoints.join(old));
    }
    Ok(fin)
}

/// A failure while writing a checkpoint, with the file being written.
type WriteFailure = (PathBuf, GanError);

/// Every file of a checkpoint, and its state, into the (fresh) directory `tmp`.
fn write_checkpoint_dir(
    tmp: &Path,
    files: &[(&str, Vec<u8>)],
    state_toml: &str,
) -> std::result::Result<(), WriteFailure> {
    let io = |what: &str, e: std::io::Error| {
        (tmp.to_path_buf(), GanError::io(format!("cannot {what}"), e))
    };
    if tmp.exists() {
        std::fs::remove_dir_all(tmp).map_err(|e| io("clear an old temporary checkpoint", e))?;
    }
    std::fs::create_dir_all(tmp).map_err(|e| io("create a checkpoint directory", e))?;
    let state = [(STATE, state_toml.as_bytes())];
    let all = files.iter().map(|(f, b)| (*f, b.as_slice())).chain(state);
    for (file, bytes) in all {
        let path = tmp.join(file);
        write_atomic(&path, bytes).map_err(|e| (path, e))?;
    }
    sync_dir(tmp);
    Ok(())
}

/// Renames the complete `tmp` to `fin` and names it in `latest`.
fn move_into_place(
    checkpoints: &Path,
    tmp: &Path,
    fin: &Path,
    name: &str,
) -> std::result::Result<(), WriteFailure> {
    let io = |what: &str, e: std::io::Error| {
        (fin.to_path_buf(), GanError::io(format!("cannot {what}"), e))
    };
    if fin.exists() {
        std::fs::remove_dir_all(fin).map_err(|e| io("replace a checkpoint", e))?;
    }
    std::fs::rename(tmp, fin).map_err(|e| io("move a checkpoint into place", e))?;
    sync_dir(checkpoints);
    let latest = checkpoints.join(LATEST);
    write_atomic(&latest, name.as_bytes()).map_err(|e| (latest, e))?;
    sync_dir(checkpoints);
    Ok(())
}

/// `error` as [`GanError::DiskFull`] when it is a full disk, naming `file`, the free space and
/// what a checkpoint of `needed` bytes takes; otherwise unchanged.
fn disk_full_or(error: GanError, file: &Path, checkpoints: &Path, needed: u64) -> GanError {
    match &error {
        GanError::Io { cause, .. } if cause.kind() == std::io::ErrorKind::StorageFull => {
            GanError::DiskFull {
                path: file.to_path_buf(),
                run: checkpoints.parent().unwrap_or(checkpoints).to_path_buf(),
                free: super::free_space_text(checkpoints),
                needed: super::byte_size(needed),
            }
        }
        _ => error,
    }
}

fn latest_name(checkpoints: &Path) -> Result<Option<String>> {
    let path = checkpoints.join(LATEST);
    if !path.exists() {
        return Ok(None);
    }
    let name = std::fs::read_to_string(&path)
        .map_err(|e| GanError::io(format!("cannot read {}", path.display()), e))?;
    Ok(Some(name.trim().to_string()))
}

/// The names of the complete checkpoints in `checkpoints` (`step_NNNNNNN`), oldest first.
fn complete_names(checkpoints: &Path) -> Vec<String> {
    let mut complete: Vec<String> = std::fs::read_dir(checkpoints)
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.path().is_dir())
                .map(|e| e.file_name().to_string_lossy().to_string())
                .filter(|n| n.starts_with("step_"))
                .collect()
        })
        .unwrap_or_default();
    // Zero-padded steps: the names sort as the steps do.
    complete.sort();
    complete
}

/// The directories of the complete checkpoints in `checkpoints`, oldest first.
pub fn all_complete(checkpoints: &Path) -> Vec<PathBuf> {
    complete_names(checkpoints)
        .into_iter()
        .map(|n| checkpoints.join(n))
        .collect()
}

/// The directory of the newest complete checkpoint.
pub fn latest(checkpoints: &Path) -> Result<PathBuf> {
    let name = latest_name(checkpoints)?
        .ok_or_else(|| checkpoint_error(checkpoints, "there is no checkpoint yet"))?;
    let dir = checkpoints.join(&name);
    if !dir.is_dir() {
        return Err(checkpoint_error(
            checkpoints,
            format!("`latest` names {name}, which is missing"),
        ));
    }
    Ok(dir)
}

/// The state of checkpoint `dir`, after checking its format and every file's checksum: a
/// checkpoint of another format or with a damaged file is refused before anything is loaded.
pub fn read_state(dir: &Path) -> Result<CheckpointState> {
    let path = dir.join(STATE);
    let text = std::fs::read_to_string(&path).map_err(|e| checkpoint_error(dir, e))?;
    // The format first: an older state may not parse as this one.
    let format = toml::from_str::<toml::Table>(&text)
        .ok()
        .and_then(|t| t.get("format")?.as_integer());
    match format {
        Some(f) if f == FORMAT_VERSION as i64 => {}
        Some(f) => {
            return Err(checkpoint_error(
                dir,
                format!("it has format {f}, this ganforge reads format {FORMAT_VERSION}"),
            ));
        }
        None => {
            return Err(checkpoint_error(
                dir,
                "state.toml is not a ganforge checkpoint state (no format)",
            ));
        }
    }
    let state: CheckpointState = toml::from_str(&text).map_err(|e| {
        checkpoint_error(
            dir,
            format!("state.toml is not a ganforge checkpoint state: {e}"),
        )
    })?;
    for (file, expected) in &state.checksums {
        let bytes = std::fs::read(dir.join(file))
            .map_err(|e| checkpoint_error(dir, format!("{file}: {e}")))?;
        let found = crc32fast::hash(&bytes);
        if found != *expected {
            return Err(checkpoint_error(
                dir,
                format!(
                    "{file} is damaged: its CRC-32 is {found:08x}, state.toml records {expected:08x}"
                ),
            ));
        }
    }
    Ok(state)
}

pub(crate) fn read_module<M: Module>(module: M, path: &Path) -> Result<M> {
    let bytes = std::fs::read(path).map_err(|e| checkpoint_error(path, e))?;
    let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(bytes))
        .map_err(|e| checkpoint_error(path, e))?;
    module.try_load_record(record).map_err(|e| {
        checkpoint_error(
            path,
            format!("it does not fit the model of this run's config.toml: {e}"),
        )
    })
}

pub(crate) fn read_optimizer(optim: ModuleOptimizer, path: &Path) -> Result<ModuleOptimizer> {
    let bytes = std::fs::read(path).map_err(|e| checkpoint_error(path, e))?;
    optim
        .from_bytes(Bytes::from_bytes_vec(bytes))
        .map_err(|e| checkpoint_error(path, e))
}

/// The state of checkpoint `dir` of a run configured by `config`, checked (format, checksums)
/// and matched against the run: the same model and the same seed, since the seed and the step
/// are the run's whole random state.
pub fn read_state_of_run(dir: &Path, config: &TrainConfig) -> Result<CheckpointState> {
    let state = read_state(dir)?;
    if state.model != config.model_name() {
        return Err(checkpoint_error(
            dir,
            format!(
                "it holds a {} model, the run's config.toml says {}",
                state.model,
                config.model_name()
            ),
        ));
    }
    if state.seed != config.schedule.seed {
        return Err(checkpoint_error(
            dir,
            format!(
                "it was made with seed {}, the run's config.toml says {}",
                state.seed, config.schedule.seed
            ),
        ));
    }
    Ok(state)
}

/// The generator samples are drawn from: the moving average of G when the run keeps one, else G.
pub fn load_generator(config: &TrainConfig, dir: &Path, device: &Device) -> Result<Generator> {
    read_state(dir)?;
    let generator = config.init_generator(device);
    let file = if config.remedies.g_ema.is_some() {
        GENERATOR_EMA
    } else {
        GENERATOR
    };
    read_module(generator, &dir.join(file))
}

/// The run's discriminator at this checkpoint.
pub fn load_discriminator(
    config: &TrainConfig,
    dir: &Path,
    device: &Device,
) -> Result<Discriminator> {
    read_state(dir)?;
    read_module(config.init_discriminator(device), &dir.join(DISCRIMINATOR))
}
