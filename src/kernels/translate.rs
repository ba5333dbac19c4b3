//! Whole-pixel translation of every image on plain `f32` slices in NCHW: DiffAugment's
//! translation (`crate::augment`), one row copy per output row.
//!
//! burn's form of it is two gathers of clamped indices and a multiply by the mask of positions
//! that came from inside the image; on flex each gather computes a multi-dimensional index with
//! integer divisions per element, and its backward pass is two scatter-adds: 6% of the modern
//! recipe's training step (`perf`, `bench train --recipe modern`). A translation moves each
//! pixel to at most one place, so its adjoint is the translation by the opposite shift: the
//! backward pass is the same kernel.

use rayon::prelude::*;

/// `out[n, c, i, j] = x[n, c, i + dy, j + dx]` where that lies inside the image, else 0, with
/// `(dy, dx) = shifts[n]`; `shape` is `[n, c, h, w]`.
pub fn translate(x: &[f32], [n, c, h, w]: [usize; 4], shifts: &[(i64, i64)]) -> Vec<f32> {
    assert_eq!(x.len(), n * c * h * w, "translate: image size");
    assert_eq!(shifts.len(), n, "translate: one shift per image");
    let plane = h * w;
    let mut out = vec![0.0; x.len()];
    if plane == 0 {
        return out;
    }
    out.par_chunks_mut(plane)
        .zip(x.par_chunks(plane))
        .enumerate()
        .for_each(|(p, (out, x))| {
            let (dy, dx) = shifts[p / c];
            // The output columns j whose source column j + dx lies inside.
            let first = (-dx).clamp(0, w as i64) as usize;
            let end = (w as i64 - dx).clamp(0, w as i64) as usize;
            for (i, row) in out.chunks_mut(w).enumerate() {
                let source = i as i64 + dy;
                if !(0..h as i64).contains(&source) || first >= end {
                    continue; // `out` starts at zero
                }
                let from = source as usize * w;
                let (lo, hi) = ((first as i64 + dx) as usize, (end as i64 + dx) as usize);
                row[first..end].copy_from_slice(&x[from + lo..from + hi]);
            }
        });
    out
}

/// The shifts that undo `shifts`: the adjoint of [`translate`] (its backward pass).
pub fn opposite(shifts: &[(i64, i64)]) -> Vec<(i64, i64)> {
    shifts.iter().map(|&(dy, dx)| (-dy, -dx)).collect()
}
