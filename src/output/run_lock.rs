//! One writer per run directory: an exclusive OS file lock on `RUN/.lock`, held by `train` (new
//! or resumed) for as long as it writes the run.
//!
//! The lock is the operating system's (`flock` on Unix, `LockFileEx` on Windows, through
//! `std::fs::File::try_lock`), so it goes with the process: a killed run never leaves a stale
//! lock behind, and the file itself staying there means nothing. The holder writes its process
//! id into the file, so a refused second writer can say who holds the run. Readers (`sample`,
//! `eval`, `report`…) never take it: they only read complete, atomically written files.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write;
use std::path::Path;

use crate::error::{GanError, Result};

/// The lock file's name inside a run directory.
pub const LOCK_FILE: &str = ".lock";

/// The exclusive lock on a run directory; released when dropped (or when the process ends, however
/// it ends).
#[derive(Debug)]
pub struct RunLock {
    _file: File,
}

impl RunLock {
    /// Takes the lock on the run directory `run` (which must exist), or refuses at once, naming
    /// the run and the process that holds it. Nothing in the run is written but the lock file.
    pub fn acquire(run: &Path) -> Result<Self> {
        let path = run.join(LOCK_FILE);
        let io = |e| {
            GanError::io(
                format!("cannot open the run's lock file {}", path.display()),
                e,
            )
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let holder = std::fs::read_to_string(&path).unwrap_or_default();
                let holder = holder.trim();
                return Err(GanError::RunLocked {
                    run: run.to_path_buf(),
                    holder: if holder.is_empty() {
                        "another process".to_string()
                    } else {
                        holder.to_string()
                    },
                });
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
        // Who holds it, for the message a second writer gets. The lock is what counts; this
        // text is only information, so failing to write it is not an error.
        let _ = file
            .set_len(0)
            .and_then(|_| writeln!(file, "process {} ({})", std::process::id(), holder_name()));
        Ok(RunLock { _file: file })
    }
}

/// `ganforge train` and how it was started, for the lock file.
fn holder_name() -> String {
    let args: Vec<String> = std::env::args().collect();
    if args.is_empty() {
        "ganforge".to_string()
    } else {
        args.join(" ")
    }
}
