//! What a run leaves behind: its directory, loss log, plots, sample figures and checkpoints.

pub mod checkpoint;
pub mod figure;
pub mod loss_log;
pub mod plot;
pub mod report;
pub mod run_dir;
pub mod scatter;

use std::io::Write;
use std::path::Path;

use crate::error::{GanError, Result};

/// Writes a file so that a reader (or a crash) sees the old content or the new, never a part:
/// the bytes go to a temporary sibling, are synced, then renamed over the target.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let file_name = path
        .file_name()
        .ok_or_else(|| GanError::Output(format!("{} is not a file path", path.display())))?;
    let tmp = path.with_file_name(format!(".{}.tmp", file_name.to_string_lossy()));
    let context = || format!("cannot write {}", path.display());
    let mut file = std::fs::File::create(&tmp).map_err(|e| GanError::io(context(), e))?;
    file.write_all(bytes)
        .and_then(|_| file.sync_all())
        .map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            GanError::io(context(), e)
        })?;
    std::fs::rename(&tmp, path).map_err(|e| GanError::io(context(), e))
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
