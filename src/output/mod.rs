//! What a run leaves behind: its directory, loss log, plots, sample figures and checkpoints.

pub mod checkpoint;
pub mod figure;
pub mod loss_log;
pub mod plot;
pub mod report;
pub mod run_dir;
pub mod run_lock;
pub mod scatter;
pub mod tensorboard;
pub mod torch_weights;

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{GanError, Result};

/// Writes a file so that a reader (or a crash) sees the old content or the new, never a part:
/// the bytes go to a temporary sibling, are synced, then renamed over the target.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let file_name = path
        .file_name()
        .ok_or_else(|| GanError::Output(format!("{} is not a file path", path.display())))?;
    let tmp = path.with_file_name(format!(".{}.tmp", file_name.to_string_lossy()));
    let fail = |e: std::io::Error| {
        // Nothing partial stays behind, whatever failed.
        let _ = std::fs::remove_file(&tmp);
        let context = if e.kind() == std::io::ErrorKind::StorageFull {
            format!(
                "cannot write {} ({} bytes): the disk is full, {} free there",
                path.display(),
                bytes.len(),
                free_space_text(path)
            )
        } else {
            format!("cannot write {}", path.display())
        };
        GanError::io(context, e)
    };
    let mut file = std::fs::File::create(&tmp).map_err(fail)?;
    file.write_all(bytes)
        .and_then(|_| file.sync_all())
        .map_err(fail)?;
    drop(file);
    std::fs::rename(&tmp, path).map_err(fail)
}

/// Writes a new folder of files, so that `out` appears complete or not at all: the files go into
/// a hidden sibling (`.NAME.partial`), each synced, and the folder is renamed to `out` at the end.
/// `out` must be missing or empty ([`require_empty_dir`] first). On a failure the partial folder is
/// removed; one that a killed process left is removed by the next writer of the same `out`.
/// `files` are (path relative to `out`, bytes). Returns the files' final paths.
pub fn write_folder_atomic(out: &Path, files: &[(PathBuf, Vec<u8>)]) -> Result<Vec<PathBuf>> {
    write_folder_atomic_with(out, |tmp| {
        for (relative, bytes) in files {
            write_file_in(tmp, relative, bytes)?;
        }
        Ok(())
    })?;
    Ok(files
        .iter()
        .map(|(relative, _)| out.join(relative))
        .collect())
}

/// `bytes` written atomically to `dir/relative`, its folders made as needed.
pub fn write_file_in(dir: &Path, relative: &Path, bytes: &[u8]) -> Result<()> {
    let path = dir.join(relative);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| GanError::io(format!("cannot create {}", parent.display()), e))?;
    }
    write_atomic(&path, bytes)
}

/// [`write_folder_atomic`] for a writer that streams its files: `fill` writes them into the
/// temporary folder it is given (with [`write_file_in`]), and the folder becomes `out` when
/// `fill` returns `Ok`.
pub fn write_folder_atomic_with(out: &Path, fill: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let name = out
        .file_name()
        .ok_or_else(|| GanError::Output(format!("{} is not a folder path", out.display())))?;
    let tmp = out.with_file_name(format!(".{}.partial", name.to_string_lossy()));
    let written = (|| {
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp).map_err(|e| {
                GanError::io(
                    format!("cannot remove the partial folder {}", tmp.display()),
                    e,
                )
            })?;
        }
        std::fs::create_dir_all(&tmp)
            .map_err(|e| GanError::io(format!("cannot create {}", tmp.display()), e))?;
        fill(&tmp)?;
        // An empty `out` is replaced by the rename; a non-empty one was refused before.
        if out.is_dir() {
            std::fs::remove_dir(out)
                .map_err(|e| GanError::io(format!("cannot replace {}", out.display()), e))?;
        }
        std::fs::rename(&tmp, out)
            .map_err(|e| GanError::io(format!("cannot move {} into place", out.display()), e))
    })();
    if written.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    written
}

/// Bytes free for this user on the filesystem holding `path` (or its nearest existing
/// ancestor); `None` where the platform cannot say.
pub fn free_space(path: &Path) -> Option<u64> {
    let existing = path.ancestors().find(|p| p.exists())?;
    #[cfg(unix)]
    {
        let stat = rustix::fs::statvfs(existing).ok()?;
        Some(stat.f_bavail.saturating_mul(stat.f_frsize))
    }
    #[cfg(not(unix))]
    {
        let _ = existing;
        None
    }
}

/// [`free_space`] for a message: "1.2 MiB", or "an unknown amount".
pub fn free_space_text(path: &Path) -> String {
    free_space(path).map_or_else(|| "an unknown amount".to_string(), byte_size)
}

/// A byte count for people: "812 B", "3.4 KiB", "10.0 MiB", "1.50 GiB".
pub fn byte_size(bytes: u64) -> String {
    const KIB: f64 = 1024.0;
    let b = bytes as f64;
    if b < KIB {
        format!("{bytes} B")
    } else if b < KIB * KIB {
        format!("{:.1} KiB", b / KIB)
    } else if b < KIB * KIB * KIB {
        format!("{:.1} MiB", b / (KIB * KIB))
    } else {
        format!("{:.2} GiB", b / (KIB * KIB * KIB))
    }
}

/// Removes what an interrupted writer left in `dir`: the hidden temporary files of
/// [`write_atomic`] (`.NAME.tmp`) and, in a checkpoints directory, partial checkpoints
/// (`.tmp_step_…/`). Only a run's own writer (holding its lock) calls this. Returns how many
/// entries went.
pub fn remove_partial_files(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let path = entry.path();
        let gone = if name.starts_with(".tmp_") && path.is_dir() {
            std::fs::remove_dir_all(&path).is_ok()
        } else if name.starts_with('.') && name.ends_with(".tmp") && path.is_file() {
            std::fs::remove_file(&path).is_ok()
        } else {
            false
        };
        removed += usize::from(gone);
    }
    removed
}

/// True when `path` is something other than a missing or empty directory: a file, or a
/// directory holding anything (or one that cannot be read, which is not known to be empty).
pub fn is_occupied(path: &Path) -> bool {
    path.exists()
        && (!path.is_dir()
            || std::fs::read_dir(path)
                .map(|mut d| d.next().is_some())
                .unwrap_or(true))
}

/// Refuses an output folder that already holds anything, so that no command overwrites or mixes
/// into earlier files; `advice` says what to do instead. Nothing is changed either way.
pub fn require_empty_dir(path: &Path, advice: &str) -> Result<()> {
    if is_occupied(path) {
        return Err(GanError::Output(format!(
            "{} is not empty: {advice} (nothing was changed)",
            path.display()
        )));
    }
    Ok(())
}

/// The font of every caption and plot label, embedded so that nothing depends on system fonts.
pub(crate) const FONT: &str = "sans-serif";

pub(crate) fn ensure_font() {
    static REGISTER: std::sync::Once = std::sync::Once::new();
    REGISTER.call_once(|| {
        plotters::style::register_font(
            FONT,
            plotters::style::FontStyle::Normal,
            dejavu::sans::regular(),
        )
        .unwrap_or_else(|_| panic!("the embedded DejaVu Sans font is a valid TTF"));
    });
}

/// Encodes an RGB buffer as PNG bytes.
pub(crate) fn png_bytes(width: u32, height: u32, rgb: Vec<u8>) -> Result<Vec<u8>> {
    let image = image::RgbImage::from_raw(width, height, rgb)
        .ok_or_else(|| GanError::Output("image buffer has the wrong size".to_string()))?;
    let mut out = std::io::Cursor::new(Vec::new());
    image
        .write_to(&mut out, image::ImageFormat::Png)
        .map_err(|e| GanError::Output(format!("cannot encode PNG: {e}")))?;
    Ok(out.into_inner())
}
