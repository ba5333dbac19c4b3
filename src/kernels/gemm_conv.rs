//! Convolutions as matrix products on plain `f32` slices in NCHW: im2col, then one GEMM per image.
//!
//! A convolution and its transpose are the same three products seen from two sides. Call the
//! side the kernel windows slide over the *image* (`channels × height × width`) and the grid of
//! window positions the *columns* (`out_h × out_w`). With `W` the weights as a
//! `[c, channels·kh·kw]` matrix:
//!
//! - [`correlate`]: `y = W · im2col(image)`, a convolution's forward pass and a transposed
//!   convolution's input gradient;
//! - [`scatter`]: `image = col2im(Wᵀ · y)`, a convolution's input gradient and a transposed
//!   convolution's forward pass;
//! - [`weight_gradient`]: `Σₙ yₙ · im2col(imageₙ)ᵀ`, the weight gradient of both.
//!
//! burn's own flex backend computes the weight gradient as a convolution whose kernel is the
//! whole output gradient, which is slow at 64×64; here it is one GEMM per image, accumulated.
//! Images are spread over the cores (rayon) when the batch is larger than the thread count;
//! smaller batches give the cores to the GEMM instead.

use rayon::prelude::*;

/// Where a convolution's kernel windows sit on the image side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    /// Channels of the image side.
    pub channels: usize,
    /// Height and width of the image side.
    pub size: [usize; 2],
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    /// Zero padding before the first row and column; the far edge follows from `windows`.
    pub pad: [usize; 2],
    /// Rows and columns of window positions (the column side's spatial size).
    pub windows: [usize; 2],
}

impl Geometry {
    /// Rows of the im2col matrix: one per (channel, kernel row, kernel column).
    pub fn rows(&self) -> usize {
        self.channels * self.kernel[0] * self.kernel[1]
    }

    /// Columns of the im2col matrix: one per window position.
    pub fn positions(&self) -> usize {
        self.windows[0] * self.windows[1]
    }

    /// Elements of one image.
    pub fn image_len(&self) -> usize {
        self.channels * self.size[0] * self.size[1]
    }

    /// Whether the windows move more than one pixel at a time along either axis.
    fn strided(&self) -> bool {
        self.stride != [1, 1]
    }

    /// Rows and columns of one phase plane. A strided image is read as its stride phases: plane
    /// `(c, a, b)` holds pixels `(a + stride₀·u, b + stride₁·v)`, zero past the image's edge. A
    /// window row then reads a contiguous run of one plane, as at stride 1 (where the only phase
    /// is the image itself), so the copies vectorise instead of gathering every other pixel.
    fn phase_size(&self) -> [usize; 2] {
        [
            self.size[0].div_ceil(self.stride[0]),
            self.size[1].div_ceil(self.stride[1]),
        ]
    }

    /// Elements of one image as phase planes.
    fn phases_len(&self) -> usize {
        let [ph, pw] = self.phase_size();
        self.channels * self.stride[0] * self.stride[1] * ph * pw
    }
}

/// Splits one image into its stride phases (see [`Geometry::phase_size`]).
fn split_phases(image: &[f32], g: &Geometry, phases: &mut [f32]) {
    let ([height, width], [s0, s1], [ph, pw]) = (g.size, g.stride, g.phase_size());
    let plane = ph * pw;
    for c in 0..g.channels {
        for a in 0..s0 {
            // The s1 column phases of row phase a: planes (c, a, 0..s1), side by side.
            let planes = ((c * s0 + a) * s1) * plane;
            for u in 0..ph {
                let row = a + s0 * u;
                if row >= height {
                    for b in 0..s1 {
                        phases[planes + b * plane + u * pw..][..pw].fill(0.0);
                    }
                    continue;
                }
                let src = &image[(c * height + row) * width..(c * height + row + 1) * width];
                if s1 == 2 {
                    let (even, odd) = phases[planes + u * pw..].split_at_mut(plane);
                    deinterleave(src, &mut even[..pw], &mut odd[..pw]);
                    continue;
                }
                for b in 0..s1 {
                    let dst = &mut phases[planes + b * plane + u * pw..][..pw];
                    let mut pixels = src.iter().skip(b).step_by(s1);
                    for d in dst.iter_mut() {
                        *d = pixels.next().copied().unwrap_or(0.0);
                    }
                }
            }
        }
    }
}

/// Adds phase planes back onto the image they were split from ([`split_phases`]' adjoint).
fn merge_phases(phases: &[f32], g: &Geometry, image: &mut [f32]) {
    let ([height, width], [s0, s1], [ph, pw]) = (g.size, g.stride, g.phase_size());
    let plane = ph * pw;
    for c in 0..g.channels {
        for a in 0..s0 {
            let planes = ((c * s0 + a) * s1) * plane;
            for u in 0..ph {
                let row = a + s0 * u;
                if row >= height {
                    continue;
                }
                let dst = &mut image[(c * height + row) * width..(c * height + row + 1) * width];
                if s1 == 2 {
                    let even = &phases[planes + u * pw..][..pw];
                    let odd = &phases[planes + plane + u * pw..][..pw];
                    interleave_add(dst, even, odd);
                    continue;
                }
                for b in 0..s1 {
                    let src = &phases[planes + b * plane + u * pw..][..pw];
                    for (d, s) in dst.iter_mut().skip(b).step_by(s1).zip(src) {
                        *d += *s;
                    }
                }
            }
        }
    }
}

/// Even and odd elements of `src` into `even` and `odd` (`src.len().div_ceil(2)` long; an odd
/// length leaves `odd`'s last element 0): stride 2, the models' only stride, in one pass the
/// compiler vectorises.
#[multiversion::multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma"))]
pub(super) fn deinterleave(src: &[f32], even: &mut [f32], odd: &mut [f32]) {
    let pairs = src.chunks_exact(2);
    let last = pairs.remainder().first().copied();
    let full = pairs.len();
    for ((pair, e), o) in pairs.zip(even.iter_mut()).zip(odd.iter_mut()) {
        *e = pair[0];
        *o = pair[1];
    }
    if let Some(v) = last {
        even[full] = v;
        odd[full] = 0.0;
    }
}

/// `dst[2v] += even[v]`, `dst[2v + 1] += odd[v]`: [`deinterleave`]'s adjoint.
#[multiversion::multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma"))]
pub(super) fn interleave_add(dst: &mut [f32], even: &[f32], odd: &[f32]) {
    let full = dst.len() / 2;
    let mut pairs = dst.chunks_exact_mut(2);
    for ((pair, &e), &o) in (&mut pairs).zip(even).zip(odd) {
        pair[0] += e;
        pair[1] += o;
    }
    if let [last] = pairs.into_remainder() {
        *last += even[full];
    }
}

/// `dst += src`, compiled for AVX-512 and AVX2 besides the baseline and picked at run time.
#[multiversion::multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma"))]
pub(super) fn add_assign(dst: &mut [f32], src: &[f32]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d += *s;
    }
}

/// Where one kernel tap reads along one axis of the phase planes (see [`Geometry::phases`]):
/// window position `p` reads phase `phase`, index `p + offset`; positions `[lo, hi)` fall inside.
#[derive(Debug, Clone, Copy)]
struct TapAxis {
    phase: usize,
    offset: isize,
    lo: usize,
    hi: usize,
}

impl TapAxis {
    /// Tap `tap` of an axis with this padding and stride, `windows` positions, over phase planes
    /// `len` long.
    fn new(tap: usize, pad: usize, stride: usize, len: usize, windows: usize) -> Self {
        // Position p reads image index p·stride + tap − pad = stride·(p + offset) + phase.
        let q = tap as isize - pad as isize;
        let (phase, offset) = (q.rem_euclid(stride as isize), q.div_euclid(stride as isize));
        let lo = (-offset).clamp(0, windows as isize) as usize;
        let hi = (len as isize - offset).clamp(lo as isize, windows as isize) as usize;
        Self {
            phase: phase as usize,
            offset,
            lo,
            hi,
        }
    }
}

/// The window rows `[first, end)` of one tile: a slab of the im2col matrix small enough to stay
/// in the core's cache between its copy and its GEMM.
pub type Tile = std::ops::Range<usize>;

/// Window rows per tile: about 128 K floats (512 KiB) of im2col columns, half the L2 cache of a
/// Zen 4/5 core. The training step (`bench train`, 2 cores) took 0.40 s with 16 K-float tiles,
/// 0.269 with 64 K, 0.262–0.269 with 160 K, 0.27–0.30 with 256 K and 0.34–0.36 with 512 K: too
/// small and the GEMMs are narrow, too large and the columns leave the cache before the GEMM
/// reads them.
fn tile_rows(g: &Geometry) -> usize {
    const TILE_FLOATS: usize = 128 * 1024;
    (TILE_FLOATS / (g.rows() * g.windows[1]).max(1)).clamp(1, g.windows[0].max(1))
}

/// The tiles covering all window rows.
fn tiles(g: &Geometry) -> impl Iterator<Item = Tile> {
    let step = tile_rows(g);
    let out_h = g.windows[0];
    (0..out_h)
        .step_by(step)
        .map(move |first| first..(first + step).min(out_h))
}

/// Visits every (im2col row, window row) pair of a tile with the phase-plane row it reads, or
/// `None` where the window row lies wholly in the padding; `f` gets the segment's offset in the tile's
/// columns (`rows × tile positions`), the plane row's offset in the phase planes, and the window
/// columns `[lo, hi)` that fall inside, with the first one's column in the plane.
fn for_each_segment(
    g: &Geometry,
    tile: &Tile,
    mut f: impl FnMut(usize, Option<usize>, (usize, usize), usize),
) {
    let [kh, kw] = g.kernel;
    let [s0, s1] = g.stride;
    let [ph, pw] = g.phase_size();
    let [out_h, out_w] = g.windows;
    let positions = tile.len() * out_w;
    for c in 0..g.channels {
        for i in 0..kh {
            let rows = TapAxis::new(i, g.pad[0], s0, ph, out_h);
            for j in 0..kw {
                let cols = TapAxis::new(j, g.pad[1], s1, pw, out_w);
                let plane = ((c * s0 + rows.phase) * s1 + cols.phase) * ph * pw;
                let first_column = (cols.lo as isize + cols.offset) as usize;
                let row = ((c * kh + i) * kw + j) * positions;
                for oh in tile.clone() {
                    // A tap whose columns all fall in the padding reads nothing (its first
                    // column could lie past the plane's end).
                    let plane_row = ((rows.lo..rows.hi).contains(&oh) && cols.hi > cols.lo)
                        .then(|| plane + (oh as isize + rows.offset) as usize * pw);
                    f(
                        row + (oh - tile.start) * out_w,
                        plane_row,
                        (cols.lo, cols.hi),
                        first_column,
                    );
                }
            }
        }
    }
}

/// Copies one image's kernel windows at the tile's window rows into `cols` (`rows × tile
/// positions`), zeros for the padding.
pub fn im2col(image: &[f32], g: &Geometry, tile: &Tile, cols: &mut [f32]) {
    assert_eq!(image.len(), g.image_len(), "im2col: image size");
    if g.strided() {
        let mut phases = vec![0.0; g.phases_len()];
        split_phases(image, g, &mut phases);
        im2col_phases(&phases, g, tile, cols);
    } else {
        im2col_phases(image, g, tile, cols);
    }
}

/// [`im2col`] from the image already split into phase planes (the image itself at stride 1).
fn im2col_phases(phases: &[f32], g: &Geometry, tile: &Tile, cols: &mut [f32]) {
    let out_w = g.windows[1];
    assert_eq!(
        cols.len(),
        g.rows() * tile.len() * out_w,
        "im2col: column size"
    );
    for_each_segment(g, tile, |at, plane_row, (lo, hi), first| {
        let dst = &mut cols[at..at + out_w];
        let Some(src) = plane_row else {
            dst.fill(0.0);
            return;
        };
        dst[..lo].fill(0.0);
        dst[hi..].fill(0.0);
        dst[lo..hi].copy_from_slice(&phases[src + first..src + first + hi - lo]);
    });
}

/// Adds each column entry of a tile back onto the image element it was read from (im2col's
/// adjoint).
pub fn col2im(cols: &[f32], g: &Geometry, tile: &Tile, image: &mut [f32]) {
    assert_eq!(image.len(), g.image_len(), "col2im: image size");
    if g.strided() {
        let mut phases = vec![0.0; g.phases_len()];
        col2im_phases(cols, g, tile, &mut phases);
        merge_phases(&phases, g, image);
    } else {
        col2im_phases(cols, g, tile, image);
    }
}

/// [`col2im`] onto phase planes (the image itself at stride 1).
fn col2im_phases(cols: &[f32], g: &Geometry, tile: &Tile, phases: &mut [f32]) {
    assert_eq!(
        cols.len(),
        g.rows() * tile.len() * g.windows[1],
        "col2im: column size"
    );
    for_each_segment(g, tile, |at, plane_row, (lo, hi), first| {
        let Some(dst) = plane_row else { return };
        add_assign(
            &mut phases[dst + first..dst + first + hi - lo],
            &cols[at + lo..at + hi],
        );
    });
}

/// An image's phase planes for the im2col copies: the image itself at stride 1, else a split
/// into `buffer`.
fn phases_of<'a>(image: &'a [f32], g: &Geometry, buffer: &'a mut [f32]) -> &'a [f32] {
    if g.strided() {
        split_phases(image, g, buffer);
        buffer
    } else {
        image
    }
}

/// A read-only strided view of a matrix.
#[derive(Debug, Clone, Copy)]
pub struct Mat<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

impl<'a> Mat<'a> {
    /// A row-major `rows × cols` matrix.
    pub fn new(data: &'a [f32], rows: usize, cols: usize) -> Self {
        assert_eq!(data.len(), rows * cols, "matrix of {rows}×{cols}");
        Self::strided(data, rows, cols, cols)
    }

    /// A row-major `rows × cols` block whose rows start `row_stride` apart.
    pub fn strided(data: &'a [f32], rows: usize, cols: usize, row_stride: usize) -> Self {
        assert!(
            rows == 0 || cols == 0 || (rows - 1) * row_stride + cols <= data.len(),
            "block of {rows}×{cols} with row stride {row_stride} in {} values",
            data.len()
        );
        Self {
            data,
            rows,
            cols,
            row_stride,
            col_stride: 1,
        }
    }

    /// The transpose, without copying.
    pub fn t(self) -> Self {
        Self {
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
            ..self
        }
    }
}

/// `dst = a · b`, or `dst += a · b` when `accumulate`; `dst` is row-major with rows
/// `dst_row_stride` apart.
pub fn matmul(
    dst: &mut [f32],
    dst_row_stride: usize,
    a: Mat,
    b: Mat,
    accumulate: bool,
    threads: gemm::Parallelism,
) {
    assert_eq!(a.cols, b.rows, "matmul: inner sizes");
    let (m, k, n) = (a.rows, a.cols, b.cols);
    if m == 0 || n == 0 {
        return;
    }
    assert!(
        n <= dst_row_stride && (m - 1) * dst_row_stride + n <= dst.len(),
        "matmul: destination of {m}×{n} with row stride {dst_row_stride} in {} values",
        dst.len()
    );
    if k == 0 {
        if !accumulate {
            dst.chunks_mut(dst_row_stride)
                .for_each(|r| r[..n].fill(0.0));
        }
        return;
    }
    // SAFETY: `Mat::strided` checked that every (row, column) of each operand lies inside its
    // slice (the transpose swaps the strides with the sizes), the assertion above does the same
    // for `dst`, and `dst` is a unique borrow, so it aliases neither operand.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            dst_row_stride as isize,
            accumulate,
            a.data.as_ptr(),
            a.col_stride as isize,
            a.row_stride as isize,
            b.data.as_ptr(),
            b.col_stride as isize,
            b.row_stride as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            threads,
        );
    }
}

/// How one batch uses the cores: images in parallel, or one image at a time with a parallel
/// GEMM when there are fewer images than threads.
fn per_image_parallel(batch: usize) -> bool {
    batch >= rayon::current_num_threads()
}

fn gemm_threads(per_image: bool) -> gemm::Parallelism {
    if per_image {
        gemm::Parallelism::None
    } else {
        gemm::Parallelism::Rayon(0)
    }
}

thread_local! {
    // Each thread's scratch (im2col columns, phase planes), kept between calls: allocating it per
    // call cost a zero fill and fresh pages every time (`perf`: memset and page clearing were a
    // tenth of the step). Its contents are never read before they are written.
    static SCRATCH: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Runs `f` on this thread's scratch, at least `len` long. A thread already inside (a parallel
/// GEMM can run another image's work while it waits) gets a buffer of its own.
pub(super) fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buffer) => {
            if buffer.len() < len {
                buffer.resize(len, 0.0);
            }
            f(&mut buffer[..len])
        }
        Err(_) => f(&mut vec![0.0; len]),
    })
}

/// Runs `f(image index, output chunk, scratch)` over a batch, in parallel per image or not.
fn for_each_image(
    out: &mut [f32],
    chunk: usize,
    scratch: usize,
    f: impl Fn(usize, &mut [f32], &mut [f32], gemm::Parallelism) + Sync,
) {
    let batch = out.len().checked_div(chunk).unwrap_or(0);
    if per_image_parallel(batch) {
        let threads = gemm_threads(true);
        out.par_chunks_mut(chunk)
            .enumerate()
            .for_each(|(n, o)| with_scratch(scratch, |cols| f(n, o, cols, threads)));
    } else {
        let threads = gemm_threads(false);
        with_scratch(scratch, |cols| {
            for (n, o) in out.chunks_mut(chunk).enumerate() {
                f(n, o, cols, threads);
            }
        });
    }
}

/// Scratch for the largest tile's columns, then (strided) one image's phase planes.
fn tile_scratch(g: &Geometry) -> usize {
    let phases = if g.strided() { g.phases_len() } else { 0 };
    g.rows() * tile_rows(g) * g.windows[1] + phases
}

/// The scratch cut into the tile's columns and the phase planes.
fn split_scratch<'a>(scratch: &'a mut [f32], g: &Geometry) -> (&'a mut [f32], &'a mut [f32]) {
    let phases = if g.strided() { g.phases_len() } else { 0 };
    let at = scratch.len() - phases;
    scratch.split_at_mut(at)
}

/// `yₙ = W · im2col(imageₙ) + bias` for each image: `images` is `[batch, g.image_len()]`,
/// `weight` is `[c, g.rows()]`, the result `[batch, c, g.positions()]`.
pub fn correlate(
    images: &[f32],
    g: &Geometry,
    weight: &[f32],
    c: usize,
    bias: Option<&[f32]>,
) -> Vec<f32> {
    let batch = images.len() / g.image_len().max(1);
    assert_eq!(images.len(), batch * g.image_len(), "correlate: image size");
    let w = Mat::new(weight, c, g.rows());
    let positions = g.positions();
    let out_w = g.windows[1];
    let mut out = vec![0.0; batch * c * positions];
    for_each_image(
        &mut out,
        c * positions,
        tile_scratch(g),
        |n, y, scratch, threads| {
            let image = &images[n * g.image_len()..(n + 1) * g.image_len()];
            if let Some(bias) = bias {
                for (row, b) in y.chunks_mut(positions).zip(bias) {
                    row.fill(*b);
                }
            }
            let (scratch, buffer) = split_scratch(scratch, g);
            let phases = phases_of(image, g, buffer);
            for tile in tiles(g) {
                let width = tile.len() * out_w;
                let cols = &mut scratch[..g.rows() * width];
                im2col_phases(phases, g, &tile, cols);
                let cols = Mat::new(cols, g.rows(), width);
                let dst = &mut y[tile.start * out_w..];
                matmul(dst, positions, w, cols, bias.is_some(), threads);
            }
        },
    );
    out
}

/// `imageₙ = col2im(Wᵀ · yₙ) + bias` for each image: `y` is `[batch, c, g.positions()]`,
/// `weight` `[c, g.rows()]`, `bias` one value per image channel; the result is
/// `[batch, g.image_len()]`.
pub fn scatter(
    y: &[f32],
    g: &Geometry,
    weight: &[f32],
    c: usize,
    bias: Option<&[f32]>,
) -> Vec<f32> {
    let positions = g.positions();
    let batch = y.len() / (c * positions).max(1);
    assert_eq!(y.len(), batch * c * positions, "scatter: input size");
    let w = Mat::new(weight, c, g.rows());
    let plane = g.size[0] * g.size[1];
    let out_w = g.windows[1];
    let mut out = vec![0.0; batch * g.image_len()];
    for_each_image(
        &mut out,
        g.image_len(),
        tile_scratch(g),
        |n, image, scratch, threads| {
            let yn = &y[n * c * positions..(n + 1) * c * positions];
            if let Some(bias) = bias {
                for (channel, b) in image.chunks_mut(plane).zip(bias) {
                    channel.fill(*b);
                }
            }
            let (scratch, phases) = split_scratch(scratch, g);
            phases.fill(0.0);
            for tile in tiles(g) {
                let width = tile.len() * out_w;
                let cols = &mut scratch[..g.rows() * width];
                let y_tile = Mat::strided(&yn[tile.start * out_w..], c, width, positions);
                matmul(cols, width, w.t(), y_tile, false, threads);
                if g.strided() {
                    col2im_phases(cols, g, &tile, phases);
                } else {
                    col2im_phases(cols, g, &tile, image);
                }
            }
            if g.strided() {
                merge_phases(phases, g, image);
            }
        },
    );
    out
}

/// `Σₙ yₙ · im2col(imageₙ)ᵀ`: `images` is `[batch, g.image_len()]`, `y` `[batch, c,
/// g.positions()]`, the result `[c, g.rows()]`.
pub fn weight_gradient(images: &[f32], y: &[f32], g: &Geometry, c: usize) -> Vec<f32> {
    let positions = g.positions();
    let batch = images.len() / g.image_len().max(1);
    assert_eq!(
        images.len(),
        batch * g.image_len(),
        "weight_gradient: image size"
    );
    assert_eq!(
        y.len(),
        batch * c * positions,
        "weight_gradient: gradient size"
    );
    let len = c * g.rows();
    let rows = g.rows();
    let out_w = g.windows[1];
    let accumulate = |n: usize, acc: &mut [f32], scratch: &mut [f32], threads| {
        let image = &images[n * g.image_len()..(n + 1) * g.image_len()];
        let yn = &y[n * c * positions..(n + 1) * c * positions];
        let (scratch, buffer) = split_scratch(scratch, g);
        let phases = phases_of(image, g, buffer);
        for tile in tiles(g) {
            let width = tile.len() * out_w;
            let cols = &mut scratch[..rows * width];
            im2col_phases(phases, g, &tile, cols);
            let y_tile = Mat::strided(&yn[tile.start * out_w..], c, width, positions);
            matmul(
                acc,
                rows,
                y_tile,
                Mat::new(cols, rows, width).t(),
                true,
                threads,
            );
        }
    };
    let scratch = tile_scratch(g);
    if per_image_parallel(batch) {
        let threads = rayon::current_num_threads();
        // One accumulator per thread's share of the batch, summed at the end.
        (0..batch)
            .into_par_iter()
            .with_min_len(batch.div_ceil(threads))
            .fold(
                || vec![0.0; len],
                |mut acc, n| {
                    with_scratch(scratch, |cols| {
                        accumulate(n, &mut acc, cols, gemm_threads(true));
                    });
                    acc
                },
            )
            .reduce(
                || vec![0.0; len],
                |mut a, b| {
                    a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
                    a
                },
            )
    } else {
        let mut acc = vec![0.0; len];
        with_scratch(scratch, |cols| {
            for n in 0..batch {
                accumulate(n, &mut acc, cols, gemm_threads(false));
            }
        });
        acc
    }
}

/// The sum over the batch and the positions of each channel of `[batch, c, plane]`: a bias
/// gradient. Channels are spread over the cores.
pub fn channel_sums(y: &[f32], c: usize, plane: usize) -> Vec<f32> {
    let plane = plane.max(1);
    let batch = y.len() / (c * plane).max(1);
    (0..c)
        .into_par_iter()
        .map(|channel| {
            (0..batch)
                .map(|n| {
                    let start = (n * c + channel) * plane;
                    super::batch_norm::plane_sum(&y[start..start + plane])
                })
                .sum::<f64>() as f32
        })
        .collect()
}
