//! The run directory and the names of everything in it.

use std::path::{Path, PathBuf};

use crate::config::{TrainConfig, TrainOverrides};
use crate::error::{GanError, Result};

pub const CONFIG_FILE: &str = "config.toml";

/// `parent/name`, or `name-2`, `-3`… when that exists: a path for new output beside old.
pub fn numbered_path(parent: &Path, name: &str) -> PathBuf {
    let mut candidate = parent.join(name);
    let mut n = 2;
    while candidate.exists() {
        candidate = parent.join(format!("{name}-{n}"));
        n += 1;
    }
    candidate
}

#[derive(Debug, Clone)]
pub struct RunDir {
    root: PathBuf,
}

impl RunDir {
    /// Makes a new run directory at `path`. A path that holds anything is refused and left alone.
    pub fn create(path: &Path) -> Result<Self> {
        if super::is_occupied(path) {
            return Err(GanError::RunExists(path.to_path_buf()));
        }
        let run = RunDir {
            root: path.to_path_buf(),
        };
        for dir in [run.root.clone(), run.samples_dir(), run.checkpoints_dir()] {
            std::fs::create_dir_all(&dir)
                .map_err(|e| GanError::io(format!("cannot create {}", dir.display()), e))?;
        }
        Ok(run)
    }

    /// A fresh directory for a run named `name` under `parent`: `parent/name`, or `name-2`, `-3`…
    /// when earlier runs of the same configuration are there (they are never touched).
    pub fn create_numbered(parent: &Path, name: &str) -> Result<Self> {
        Self::create(&numbered_path(parent, name))
    }

    /// An existing run, recognised by its `config.toml`.
    pub fn open(path: &Path) -> Result<Self> {
        let not_a_run = |reason: &str| GanError::NotARun {
            path: path.to_path_buf(),
            reason: reason.to_string(),
        };
        if !path.is_dir() {
            return Err(not_a_run("no such directory"));
        }
        let run = RunDir {
            root: path.to_path_buf(),
        };
        if !run.config_path().is_file() {
            return Err(not_a_run("it has no config.toml"));
        }
        Ok(run)
    }

    /// The run's configuration, as written when it started.
    pub fn read_config(&self) -> Result<TrainConfig> {
        TrainOverrides::from_file(&self.config_path())?.resolve()
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
    pub fn config_path(&self) -> PathBuf {
        self.root.join(CONFIG_FILE)
    }
    pub fn losses_csv(&self) -> PathBuf {
        self.root.join("losses.csv")
    }
    pub fn losses_png(&self) -> PathBuf {
        self.root.join("losses.png")
    }
    /// `classes.txt`: the data's class names, one a line, for runs on labelled data.
    pub fn classes_path(&self) -> PathBuf {
        self.root.join("classes.txt")
    }

    /// The class names recorded when the run started (empty for data without classes).
    pub fn class_names(&self) -> Vec<String> {
        std::fs::read_to_string(self.classes_path())
            .map(|t| t.lines().map(str::to_string).collect())
            .unwrap_or_default()
    }

    pub fn log_path(&self) -> PathBuf {
        self.root.join("train.log")
    }
    pub fn samples_dir(&self) -> PathBuf {
        self.root.join("samples")
    }
    pub fn sample_figure(&self, step: usize) -> PathBuf {
        self.samples_dir().join(format!("step_{step:07}.png"))
    }
    /// `eval_checkpoints.json`: the scores of every checkpoint (`eval --all-checkpoints`).
    pub fn checkpoint_scores(&self) -> PathBuf {
        self.root.join("eval_checkpoints.json")
    }

    pub fn checkpoints_dir(&self) -> PathBuf {
        self.root.join("checkpoints")
    }
}
