//! The library's error type. Every message names the problem and, where there is one, the fix.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum GanError {
    #[error("invalid configuration: `{key}` {problem}")]
    Config { key: String, problem: String },

    #[error("cannot read config file {path}: {message}")]
    ConfigFile { path: PathBuf, message: String },

    #[error(
        "unknown dataset `{0}`: use `digits` (the embedded UCI handwritten digits) or `folder:DIR` (images below DIR)"
    )]
    UnknownDataset(String),

    #[error("data folder {0} does not exist: check the path given to `folder:`")]
    MissingFolder(PathBuf),

    #[error(
        "data folder {0} holds no JPEG, PNG, BMP or WebP file: put images in it (subfolders are searched)"
    )]
    EmptyFolder(PathBuf),

    #[error(
        "none of the {found} image files below {dir} could be decoded ({summary}): check the files are valid images"
    )]
    NoDecodableImages {
        dir: PathBuf,
        found: usize,
        summary: String,
    },

    #[error(
        "device `{asked}` is not compiled into this build (compiled in: {available}); rebuild with `--features {feature}`"
    )]
    DeviceNotCompiled {
        asked: String,
        available: String,
        feature: String,
    },

    #[error(
        "{0} already holds a run: pass `--resume` to continue it, or choose another `--out` (nothing was changed)"
    )]
    RunExists(PathBuf),

    #[error(
        "{path} is not a ganforge run ({reason}): point `--run`/`--out` at a directory made by `ganforge train`"
    )]
    NotARun { path: PathBuf, reason: String },

    #[error("checkpoint in {path} cannot be used: {reason}")]
    Checkpoint { path: PathBuf, reason: String },

    #[error(
        "cannot change `{0}` when resuming: a resumed run keeps its configuration (only --steps and --epochs may grow)"
    )]
    ResumeChange(String),

    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },

    #[error("{0}")]
    Output(String),
}

impl GanError {
    pub fn config(key: &str, problem: impl Into<String>) -> Self {
        GanError::Config {
            key: key.to_string(),
            problem: problem.into(),
        }
    }

    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        GanError::Io {
            context: context.into(),
            source,
        }
    }
}

pub type Result<T> = std::result::Result<T, GanError>;
