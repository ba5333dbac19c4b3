//! Image figures: the tutorial's sample strips (each image with its D score under it) and the
//! plain grids of `ganforge sample`.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{FONT, ensure_font, png_bytes};
use crate::error::{GanError, Result};

/// One image, channel-major with values in [-1, 1], and an optional caption.
#[derive(Debug, Clone)]
pub struct Tile {
    pub pixels: Vec<f32>,
    pub caption: Option<String>,
}

/// Tiles of one shape laid out in labelled rows.
#[derive(Debug, Clone)]
pub struct SampleFigure {
    pub title: Option<String>,
    pub channels: usize,
    pub spatial: usize,
    /// Row label (may be empty) and the row's tiles.
    pub rows: Vec<(String, Vec<Tile>)>,
}

const MARGIN: u32 = 8;
const GAP: u32 = 4;
const TITLE_H: u32 = 26;
const LABEL_H: u32 = 20;
const CAPTION_H: u32 = 18;

impl SampleFigure {
    /// A plain grid of images with no captions: `columns` wide.
    pub fn grid(images: Vec<Vec<f32>>, channels: usize, spatial: usize, columns: usize) -> Self {
        let columns = columns.max(1);
        let mut rows = Vec::new();
        let mut it = images.into_iter().peekable();
        while it.peek().is_some() {
            let row = it
                .by_ref()
                .take(columns)
                .map(|pixels| Tile {
                    pixels,
                    caption: None,
                })
                .collect();
            rows.push((String::new(), row));
        }
        SampleFigure {
            title: None,
            channels,
            spatial,
            rows,
        }
    }

    /// Pixels a tile takes on the figure: small images are enlarged (nearest neighbour) to at
    /// least 64 pixels so that they can be seen.
    fn tile_side(&self) -> u32 {
        let scale = (64 / self.spatial).max(1);
        (self.spatial * scale) as u32
    }

    fn has_captions(&self) -> bool {
        self.rows
            .iter()
            .any(|(_, row)| row.iter().any(|t| t.caption.is_some()))
    }

    fn row_height(&self, label: &str) -> u32 {
        let label_h = if label.is_empty() { 0 } else { LABEL_H };
        let caption_h = if self.has_captions() { CAPTION_H } else { 0 };
        label_h + self.tile_side() + caption_h + GAP
    }

    pub fn size(&self) -> (u32, u32) {
        let columns = self.rows.iter().map(|(_, r)| r.len()).max().unwrap_or(0) as u32;
        let width = 2 * MARGIN + columns * self.tile_side() + columns.saturating_sub(1) * GAP;
        let title_h = if self.title.is_some() { TITLE_H } else { 0 };
        let height = 2 * MARGIN
            + title_h
            + self
                .rows
                .iter()
                .map(|(l, _)| self.row_height(l))
                .sum::<u32>();
        (width.max(1), height.max(1))
    }

    /// The figure as PNG bytes.
    pub fn to_png(&self) -> Result<Vec<u8>> {
        let expected = self.channels * self.spatial * self.spatial;
        if let Some(bad) = self
            .rows
            .iter()
            .flat_map(|(_, r)| r)
            .find(|t| t.pixels.len() != expected)
        {
            return Err(GanError::Output(format!(
                "a tile has {} values, expected {expected}",
                bad.pixels.len()
            )));
        }
        ensure_font();
        let (width, height) = self.size();
        let mut rgb = vec![255u8; (width * height * 3) as usize];
        let side = self.tile_side();
        let title_h = if self.title.is_some() { TITLE_H } else { 0 };

        // Pixels first, straight into the buffer.
        let mut y = MARGIN + title_h;
        let mut text: Vec<(String, (i32, i32), Pos, u32)> = Vec::new();
        if let Some(title) = &self.title {
            text.push((
                title.clone(),
                (MARGIN as i32, MARGIN as i32),
                Pos::new(HPos::Left, VPos::Top),
                16,
            ));
        }
        for (label, row) in &self.rows {
            if !label.is_empty() {
                text.push((
                    label.clone(),
                    (MARGIN as i32, y as i32 + 2),
                    Pos::new(HPos::Left, VPos::Top),
                    14,
                ));
                y += LABEL_H;
            }
            for (i, tile) in row.iter().enumerate() {
                let x = MARGIN + i as u32 * (side + GAP);
                self.blit(&mut rgb, width, (x, y), &tile.pixels);
                if let Some(caption) = &tile.caption {
                    text.push((
                        caption.clone(),
                        ((x + side / 2) as i32, (y + side + 2) as i32),
                        Pos::new(HPos::Center, VPos::Top),
                        13,
                    ));
                }
            }
            y += self.row_height(label) - if label.is_empty() { 0 } else { LABEL_H };
        }

        // Then the text on top, drawn by plotters with the embedded font.
        {
            let root = BitMapBackend::with_buffer(&mut rgb, (width, height)).into_drawing_area();
            for (s, at, pos, size) in &text {
                let style = TextStyle::from((FONT, *size).into_font())
                    .color(&BLACK)
                    .pos(*pos);
                root.draw_text(s, &style, *at)
                    .map_err(|e| GanError::Output(format!("cannot draw text: {e}")))?;
            }
            root.present()
                .map_err(|e| GanError::Output(format!("cannot draw figure: {e}")))?;
        }
        png_bytes(width, height, rgb)
    }

    /// Copies one tile into the buffer at `(x, y)`, enlarged to the tile side.
    fn blit(&self, rgb: &mut [u8], width: u32, (x, y): (u32, u32), pixels: &[f32]) {
        let side = self.tile_side() as usize;
        let scale = side / self.spatial;
        let plane = self.spatial * self.spatial;
        let to_byte = |v: f32| (((v.clamp(-1.0, 1.0) + 1.0) * 127.5).round()) as u8;
        for ty in 0..side {
            for tx in 0..side {
                let src = (ty / scale) * self.spatial + tx / scale;
                let dst = (((y as usize + ty) * width as usize) + x as usize + tx) * 3;
                for c in 0..3 {
                    let channel = if self.channels == 1 { 0 } else { c };
                    rgb[dst + c] = to_byte(pixels[channel * plane + src]);
                }
            }
        }
    }
}

/// A batch's images, one channel-major vector each.
pub fn split_images(images: burn::prelude::Tensor<4>) -> Vec<Vec<f32>> {
    let [_, c, h, w] = images.dims();
    crate::tensor_values(images)
        .chunks_exact(c * h * w)
        .map(<[f32]>::to_vec)
        .collect()
}
