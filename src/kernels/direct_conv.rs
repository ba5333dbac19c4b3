//! Convolutions as *indirect* GEMMs: the kernel windows are read in place from the zero-padded
//! image, never copied into im2col columns.
//!
//! The image side of a convolution is zero-padded and split into its stride phases
//! (`PhaseLayout`), one `rows × width` plane per (channel, row phase, column phase). Window
//! position `(oh, ow)` is numbered `j = oh·width + ow`, on a grid as wide as a plane, so every
//! kernel entry `k = (channel, kh, kw)` reads `src[offset(k) + j]`: one contiguous run for all
//! positions, sixteen to a vector (one AVX-512 register, two AVX2 ones). The `width − out_w`
//! positions past each row's end are computed and dropped (or, for the weight gradient, given a
//! zero output gradient). The same three products as [`super::gemm_conv`]:
//!
//! - [`correlate`]: `y = W · im2col(image)`, one indirect GEMM per image;
//! - [`scatter`]: `image = col2im(Wᵀ · y)`, as `stride²` correlations of the padded `y` with the
//!   flipped sub-kernels of each image phase (the "gathered" transposed convolution), so every
//!   image pixel is written once instead of added to 25 times;
//! - [`weight_gradient`]: `Σₙ yₙ · im2col(imageₙ)ᵀ`, one outer product of kernel entries with
//!   output channels per position when the channels fill whole vectors, else lane sums of a dot
//!   product per (output channel, kernel entry).
//!
//! Why: timed alone, the GEMMs of the step's middle layers ran at 420–490 GFLOP/s but the whole
//! im2col convolutions at 240–330: the columns (25× the image) were written, then repacked by
//! the GEMM. PyTorch's oneDNN reads the image in place too. The training step went from 0.229
//! to 0.17 s (`bench train`, batch 32).
//!
//! The kernels are built for AVX-512F and for AVX2 + FMA ([`Isa`]), the same tiles over each
//! one's registers, and the best this CPU has runs ([`Isa::detected`]); elsewhere, and on the
//! geometries where the GEMM is faster (the `*_suits` heuristics, timed per instruction set),
//! the three functions hand the work to [`super::gemm_conv`]. The `*_in_place` forms always run
//! in place, on the instruction set they are given.

use rayon::prelude::*;

use super::gemm_conv::{self, Geometry};

const LANES: usize = 16;

/// An instruction set the in-place kernels are compiled for. The layouts are the same on both
/// (rows in whole 16-float vectors): an AVX2 kernel reads each vector as two registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isa {
    /// AVX-512F: 32 registers of 16 floats.
    Avx512,
    /// AVX2 and FMA: 16 registers of 8 floats.
    Avx2,
}

impl Isa {
    /// Every instruction set the kernels are built for, best first.
    pub const ALL: [Isa; 2] = [Isa::Avx512, Isa::Avx2];

    /// Whether this CPU runs `self`.
    pub fn supported(self) -> bool {
        #[cfg(target_arch = "x86_64")]
        match self {
            Isa::Avx512 => simd::Avx512::new().is_some(),
            Isa::Avx2 => simd::Avx2::new().is_some(),
        }
        #[cfg(not(target_arch = "x86_64"))]
        false
    }

    /// The best instruction set this CPU runs, or `None`: AVX-512F where it has it, else AVX2
    /// and FMA.
    pub fn detected() -> Option<Isa> {
        Isa::ALL.into_iter().find(|isa| isa.supported())
    }
}

/// Whether this CPU runs the indirect kernels (AVX-512F, or AVX2 and FMA).
pub fn available() -> bool {
    Isa::detected().is_some()
}

/// Whether [`correlate`] reads this geometry in place: for window grids at least 16 wide.
/// Narrower grids waste much of each vector on the positions past a row's end (an 8-wide grid
/// on 12-wide planes computes 96 positions for 64): timed alone on AVX-512, the step's layers ran
/// 10–60% faster in place from 16×16 up (G's last, 16→3: 3.0 → 1.1 ms) and level below. On AVX2
/// (an EPYC without AVX-512, each product alone at batch 32, GEMM → in place) every grid 16 wide
/// and up was faster too: G's last 7.7 → 2.3 ms, D's 16→16 stride 2 6.3 → 4.0, the digits' last
/// (16→1 on 16×16) 1.14 → 0.21, and the closest, D's 32→64 on 16×16, 9.9 → 9.3.
fn correlate_suits(g: &Geometry) -> bool {
    g.windows[1] >= 16
}

/// Whether [`correlate`] runs in place with `c` output channels: on a wide grid (see
/// `correlate_suits`), or on a narrow one with the channels in the vectors ([`outer_gemm`]: whole
/// vectors of them) while the weights stay within 512 KiB, and past it on AVX-512 on grids of 16
/// positions and more (`large_weights`). On AVX-512, D's 64→64
/// stride-2 layer (an 8×8 grid, 400 KiB of weights) went 1.9–2.1 → 1.1–1.3 ms forward; with its
/// weights transposed in blocks ([`transposed`]), the 64→128 and 128→128 layers (800 KiB and 1.6
/// MiB, each product alone at batch 32 on a Zen 4 EPYC, fastest of 40 alternating rounds) went
/// 5.05 → 4.29 and 3.29 → 3.11 ms, G's 128→64 transposed layer's input gradient 1.65 → 1.36.
/// On AVX2 within 512 KiB every narrow grid was faster in place (the 64→64 layer 5.1 → 3.6 ms;
/// the digits' D, 8×8 to 2×2 grids, 1.6–2.3× faster), past it not reliably (800 KiB: 1.08× on
/// 64 positions, 0.87× on 16, 1.0–1.5× on 4, 0.5× on one; 1.6 MiB: 0.9× on 16 positions,
/// 0.5–0.6× on one; timed before the blocked transposition).
fn correlate_suits_channels(isa: Isa, g: &Geometry, c: usize) -> bool {
    correlate_suits(g)
        || (narrow_by_channels(g, c)
            && (!large_weights(g, c) || isa == Isa::Avx512 && g.positions() >= 16))
}

/// Whether `c` output channels' weights over `g` pass 512 KiB: D's 64→128 and 128→128 layers and
/// G's 128→64 at the tutorial's shape. The channel-vectorised forms were timed past that bound
/// on their 8×8 and 4×4 grids, so they take such layers from 16 positions up; the same layers on
/// the digits' 2×2 and 1×1 grids, and every smaller layer, keep the forms they were timed with.
fn large_weights(g: &Geometry, c: usize) -> bool {
    c * g.rows() > 128 * 1024
}

/// Whether [`correlate_in_place`] puts the output channels in the vectors: grids narrower than a
/// vector, channels in whole vectors.
fn narrow_by_channels(g: &Geometry, c: usize) -> bool {
    g.windows[1] < LANES && c.is_multiple_of(LANES) && c > 0
}

/// Whether [`scatter`] runs in place from `c` channels. On AVX-512: gathered for images at
/// least 16 wide (the 8-wide ones were slower gathered than scattered: 3.3 against 2.4 ms for
/// the 64→128 layer), and with the image's channels in the vectors ([`scatter_by_channels`]) for
/// narrower images whose weights pass 512 KiB (timed as in `correlate_suits_channels`: D's
/// 64→128 layer's input gradient 4.77 → 4.30 ms, the 128→128 layer's 3.16 → 2.88, G's 128→64
/// transposed layer's forward 1.51 → 1.48). On AVX2 (timed as in `correlate_suits`): for images
/// at least 32 wide (1.2–1.8× faster), and 16-wide ones from at most 32 channels into more than
/// one (the digits' 16→16 layers 1.6–1.8×, their last 1.1–1.2×). Past that the GEMM's product is
/// wide enough to win or tie: 64 channels on 16×16 0.97–1.07×, every 8-wide image 0.6–1.2×, and
/// the digits' first layer's gradient into its one channel 0.6–0.7× (the gathered product then
/// has a single row).
fn scatter_suits(isa: Isa, g: &Geometry, c: usize) -> bool {
    let width = g.size[1];
    match isa {
        Isa::Avx512 => {
            width >= 16
                || (narrow_by_channels(&image_side(g), g.channels)
                    && large_weights(g, c)
                    && g.positions() >= 16)
        }
        Isa::Avx2 => width >= 32 || (width >= 16 && c <= 32 && g.channels > 1),
    }
}

/// Whether [`weight_gradient`] runs in place: as outer products when the output channels fill
/// whole vectors, else as lane sums on grids at least 16 wide (G's last layer, 3 channels: 1.0
/// against 7.5 ms on AVX-512, 2.3 against 16 on AVX2). The outer products on AVX-512: on grids of
/// at least 64 positions, and on 16 with weights past 512 KiB (timed as in
/// `correlate_suits_channels`: D's 128→128 layer 4.26 → 3.94 ms, G's 128→64 transposed layer
/// 2.01 → 1.67; in an earlier build, before the blocked transposition, the 128→128 layer was
/// slower in place: 2.4 against 2.1 ms). On AVX2 (timed as in `correlate_suits`) on grids of
/// 64 positions too (64→128 on 8×8: 8.3 → 6.9 ms), and down to 4 positions with at most 64
/// channels (the digits' 4×4 and 2×2 layers 1.1–2.0× faster), where 128 channels were not
/// (0.8–1.2× on 16 and 4 positions, 0.4–0.5× on one).
fn weight_gradient_suits(isa: Isa, g: &Geometry, c: usize) -> bool {
    if !c.is_multiple_of(LANES) {
        return correlate_suits(g);
    }
    let positions = g.positions();
    match isa {
        Isa::Avx512 => positions >= 64 || (positions >= 16 && large_weights(g, c)),
        Isa::Avx2 => positions >= 64 || (positions >= 4 && c <= 64),
    }
}

/// Vectors covering `len` positions.
fn vectors(len: usize) -> usize {
    len.div_ceil(LANES)
}

/// One image's side of a convolution, zero-padded and split into stride phases: plane
/// `(c, a, b)` holds padded pixels `(a + s₀·u, b + s₁·v)` for `u < rows`, `v < width`.
#[derive(Debug, Clone, Copy)]
struct PhaseLayout {
    channels: usize,
    /// The image's height and width.
    size: [usize; 2],
    stride: [usize; 2],
    /// Zero rows and columns before the image's first, in padded coordinates.
    pad: [usize; 2],
    rows: usize,
    width: usize,
    /// Floats past the last plane, so that the extended grid's last vectors read inside.
    slack: usize,
}

impl PhaseLayout {
    /// The layout a correlation's windows read: every valid window's taps fall inside a plane.
    fn for_windows(g: &Geometry) -> Self {
        let [s0, s1] = g.stride;
        let width = g.windows[1] + (g.kernel[1] - 1) / s1;
        Self {
            channels: g.channels,
            size: g.size,
            stride: g.stride,
            pad: g.pad,
            rows: g.windows[0] + (g.kernel[0] - 1) / s0,
            width,
            slack: width + 8 * LANES,
        }
    }

    fn plane(&self) -> usize {
        self.rows * self.width
    }

    fn len(&self) -> usize {
        self.channels * self.stride[0] * self.stride[1] * self.plane() + self.slack
    }

    /// Where padded pixel `(r, q)` of channel `c` lies.
    fn at(&self, c: usize, r: usize, q: usize) -> usize {
        let [s0, s1] = self.stride;
        ((c * s0 + r % s0) * s1 + q % s1) * self.plane() + (r / s0) * self.width + q / s1
    }

    /// Lays `image` (`channels × height × width`) out in `out` (`self.len()` long). Each plane
    /// row is written once, its image pixels copied and its margins zeroed (zeroing the whole
    /// buffer first, then copying, cost a tenth of the step more in `perf`).
    fn fill(&self, image: &[f32], out: &mut [f32]) {
        let [height, width] = self.size;
        let [s0, s1] = self.stride;
        let [p0, p1] = self.pad;
        let (plane, planes) = (self.plane(), self.channels * s0 * s1);
        out[planes * plane..].fill(0.0);
        // Per column phase b: the first image column in it, its place in the plane row, and
        // how many of the image's columns land in the row.
        let columns: Vec<(usize, usize, usize)> = (0..s1)
            .map(|b| {
                let x0 = (b + s1 - p1 % s1) % s1;
                let v0 = ((x0 + p1) / s1).min(self.width);
                let count = width.saturating_sub(x0).div_ceil(s1).min(self.width - v0);
                (x0, v0, count)
            })
            .collect();
        // Stride 2 with every column in the row: both phases in one vectorised pass.
        let paired = s1 == 2
            && columns
                .iter()
                .all(|&(x0, v0, _)| x0 < 2 && v0 + width.div_ceil(2) <= self.width);
        for c in 0..self.channels {
            for a in 0..s0 {
                // The s1 planes of row phase a, side by side.
                let group = &mut out[(c * s0 + a) * s1 * plane..][..s1 * plane];
                for u in 0..self.rows {
                    let y = (a + s0 * u).checked_sub(p0).filter(|&y| y < height);
                    let Some(y) = y else {
                        for b in 0..s1 {
                            group[b * plane + u * self.width..][..self.width].fill(0.0);
                        }
                        continue;
                    };
                    let src = &image[(c * height + y) * width..][..width];
                    if paired {
                        // Image column 0 goes to phase p1 % 2, column 1 to the other.
                        let (first, second) = group.split_at_mut(plane);
                        let (row0, row1) = (
                            &mut first[u * self.width..][..self.width],
                            &mut second[u * self.width..][..self.width],
                        );
                        let (even, odd) = if p1 % 2 == 0 {
                            (row0, row1)
                        } else {
                            (row1, row0)
                        };
                        let (ve, vo) = (p1 / 2, p1.div_ceil(2));
                        let n = width.div_ceil(2);
                        even[..ve].fill(0.0);
                        odd[..vo].fill(0.0);
                        even[ve + n..].fill(0.0);
                        odd[vo + n..].fill(0.0);
                        gemm_conv::deinterleave(src, &mut even[ve..ve + n], &mut odd[vo..vo + n]);
                        continue;
                    }
                    for (b, &(x0, v0, count)) in columns.iter().enumerate() {
                        let row = &mut group[b * plane + u * self.width..][..self.width];
                        row[..v0].fill(0.0);
                        row[v0 + count..].fill(0.0);
                        if count == 0 {
                            continue;
                        }
                        let dst = &mut row[v0..v0 + count];
                        if s1 == 1 {
                            dst.copy_from_slice(&src[x0..x0 + count]);
                        } else {
                            for (d, s) in dst.iter_mut().zip(src[x0..].iter().step_by(s1)) {
                                *d = *s;
                            }
                        }
                    }
                }
            }
        }
    }

    /// Each kernel entry's offset (`(channel, kh, kw)`, row-major) for window `(0, 0)`.
    fn window_offsets(&self, kernel: [usize; 2]) -> Vec<usize> {
        let mut offsets = Vec::with_capacity(self.channels * kernel[0] * kernel[1]);
        for c in 0..self.channels {
            for kh in 0..kernel[0] {
                for kw in 0..kernel[1] {
                    offsets.push(self.at(c, kh, kw));
                }
            }
        }
        offsets
    }
}

/// `simd::$f(token, args…)` with `isa`'s token: panics where this CPU lacks it. Unsafe to
/// expand: the caller vouches for the pointers' bounds.
macro_rules! on_isa {
    ($isa:expr, $f:ident($($arg:expr),* $(,)?)) => {{
        #[cfg(target_arch = "x86_64")]
        match $isa {
            Isa::Avx512 => {
                let s = simd::Avx512::new().expect(concat!(stringify!($f), ": needs AVX-512F"));
                simd::$f(s, $($arg),*)
            }
            Isa::Avx2 => {
                let s = simd::Avx2::new().expect(concat!(stringify!($f), ": needs AVX2 and FMA"));
                simd::$f(s, $($arg),*)
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        panic!(concat!(stringify!($f), ": needs {:?}"), $isa)
    }};
}

/// `out[o][j] = Σₖ weight[o][k] · src[offsets[k] + j]` for `o < m` and `j < 16·vectors`; `out`
/// rows are `16·vectors` long, `weight` rows `offsets.len()`.
fn indirect_gemm(
    isa: Isa,
    src: &[f32],
    offsets: &[usize],
    weight: &[f32],
    m: usize,
    out: &mut [f32],
) {
    let k_len = offsets.len();
    assert_eq!(weight.len(), m * k_len, "indirect_gemm: weight size");
    let row = out.len() / m.max(1);
    assert!(
        row.is_multiple_of(LANES) && out.len() == m * row,
        "indirect_gemm: output size"
    );
    let reach = offsets.iter().max().map_or(0, |&o| o + row);
    assert!(reach <= src.len(), "indirect_gemm: source too short");
    if row == 0 {
        return;
    }
    // SAFETY: `on_isa!` checks the instruction set; every read `src[offsets[k] + j]` with
    // `j < row` lies inside `src` (`reach`), weights inside `weight`, writes inside `out`.
    unsafe {
        on_isa!(
            isa,
            indirect_gemm(src.as_ptr(), offsets, weight.as_ptr(), m, out, row)
        )
    }
}

/// `dw[o][k] += Σⱼ dy[o][j] · src[offsets[k] + j]` over `j < dy` rows' length.
fn indirect_weight_gradient(
    isa: Isa,
    src: &[f32],
    offsets: &[usize],
    dy: &[f32],
    m: usize,
    dw: &mut [f32],
) {
    let k_len = offsets.len();
    assert_eq!(dw.len(), m * k_len, "indirect_weight_gradient: weight size");
    let row = dy.len() / m.max(1);
    assert!(
        row.is_multiple_of(LANES) && dy.len() == m * row,
        "indirect_weight_gradient: gradient size"
    );
    let reach = offsets.iter().max().map_or(0, |&o| o + row);
    assert!(
        reach <= src.len(),
        "indirect_weight_gradient: source too short"
    );
    if row == 0 {
        return;
    }
    // SAFETY: as in `indirect_gemm`: the instruction set checked, every read within `src`
    // (`reach`) and `dy`, writes within `dw`.
    unsafe {
        on_isa!(
            isa,
            indirect_weight_gradient(src.as_ptr(), offsets, dy.as_ptr(), m, row, dw)
        )
    }
}

/// `out[p][o] = Σₖ src[offsets[k] + positions[p]] · weight_t[k][o]`: `weight_t` is
/// `offsets.len() × m`, `out` `positions.len() × m`, `m` a multiple of 16. The forward product
/// with the output channels in the vectors, for grids too narrow to fill them with positions:
/// only the real positions are computed.
fn outer_gemm(
    isa: Isa,
    src: &[f32],
    offsets: &[usize],
    weight_t: &[f32],
    m: usize,
    positions: &[usize],
    out: &mut [f32],
) {
    assert!(
        m.is_multiple_of(LANES),
        "outer_gemm: channels in whole vectors"
    );
    assert_eq!(weight_t.len(), offsets.len() * m, "outer_gemm: weight size");
    assert_eq!(out.len(), positions.len() * m, "outer_gemm: output size");
    let last = positions.iter().max().map_or(0, |&j| j + 1);
    let reach = offsets.iter().max().map_or(0, |&o| o + last);
    assert!(reach <= src.len(), "outer_gemm: source too short");
    if positions.is_empty() || m == 0 {
        return;
    }
    // SAFETY: the instruction set checked; reads `src[offsets[k] + positions[p]]` lie inside
    // `src` (`reach`), weights and outputs inside their checked sizes.
    unsafe {
        on_isa!(
            isa,
            outer_gemm(src.as_ptr(), offsets, weight_t.as_ptr(), m, positions, out)
        )
    }
}

/// The window positions of [`outer_weight_gradient`]: `images` laid out `stride` floats apart,
/// each a `rows × columns` grid of positions `oh·width + ow`.
#[derive(Debug, Clone, Copy)]
struct Grids {
    images: usize,
    stride: usize,
    rows: usize,
    columns: usize,
    width: usize,
}

impl Grids {
    fn positions(&self) -> usize {
        self.images * self.rows * self.columns
    }

    /// One past the last float a position reads at offset 0.
    fn reach(&self) -> usize {
        if self.positions() == 0 {
            return 0;
        }
        (self.images - 1) * self.stride + (self.rows - 1) * self.width + self.columns
    }
}

/// `dwt[k][o] += Σ_p src[offsets[k] + j(p)] · dyt[p][o]` over the window positions `p` of
/// `grid` (image `i`'s `(oh, ow)` at `j = i·stride + oh·width + ow`): `dyt` is
/// `positions × m`, `dwt` `offsets.len() × m`, `m` a multiple of 16. Each position is one outer
/// product of a column of entries with a row of output channels, so no position past a row's
/// end is touched and no sum is reduced across lanes.
fn outer_weight_gradient(
    isa: Isa,
    src: &[f32],
    offsets: &[usize],
    dyt: &[f32],
    m: usize,
    grid: Grids,
    dwt: &mut [f32],
) {
    assert!(
        m.is_multiple_of(LANES),
        "outer_weight_gradient: channels in whole vectors"
    );
    assert_eq!(
        dwt.len(),
        offsets.len() * m,
        "outer_weight_gradient: weight size"
    );
    assert_eq!(
        dyt.len(),
        grid.positions() * m,
        "outer_weight_gradient: gradient size"
    );
    assert!(
        grid.columns <= grid.width,
        "outer_weight_gradient: grid wider than its rows"
    );
    let reach = offsets.iter().max().map_or(0, |&o| o + grid.reach());
    assert!(
        reach <= src.len(),
        "outer_weight_gradient: source too short"
    );
    if grid.positions() == 0 || m == 0 {
        return;
    }
    // SAFETY: the instruction set checked; reads `src[offsets[k] + j]` with `j < grid.reach()`
    // lie inside `src` (`reach`), `dyt` and `dwt` accesses inside their checked sizes.
    unsafe {
        on_isa!(
            isa,
            outer_weight_gradient(src.as_ptr(), offsets, dyt.as_ptr(), m, grid, dwt)
        )
    }
}

/// The tiles, written once over the instruction set's register type ([`simd::Simd`]) and
/// compiled for each: a tile's loops run inside `Simd::with_features`, a function compiled with
/// the instruction set's features, into which the register operations (`#[inline(always)]`) and
/// their intrinsics are inlined.
///
/// The layout's 16-float vectors are one AVX-512 register or two AVX2 registers: the tiles count
/// in registers of `Simd::WIDTH` floats, and every row the layout hands them is a whole number of
/// registers on both. The tile sizes are the registers' budget: AVX-512 has 32, AVX2 16, and a
/// tile keeps its sums, the values it loads once and reuses, and one broadcast in registers.
#[cfg(target_arch = "x86_64")]
mod simd {
    use std::arch::x86_64::*;

    use super::Grids;

    /// One instruction set's register of floats and what the tiles do with it, and its tile
    /// sizes. A value of the implementing type exists only where the CPU has the instruction set
    /// (`new`), so its arithmetic is safe to call; loads and stores take raw pointers.
    pub(super) trait Simd: Copy {
        type V: Copy;
        /// Floats per register.
        const WIDTH: usize;
        /// Output rows per chunk of the indirect GEMM (the tile's width follows from the rows:
        /// `tile_vectors`).
        const GEMM_ROWS: usize;
        /// Output rows × kernel entries of a lane-sum weight-gradient block.
        const GRADIENT_BLOCK: [usize; 2];
        /// Kernel entries of an outer-product weight-gradient block.
        const OUTER_ENTRIES: usize;
        /// The most registers of output channels in an outer-product forward tile.
        const OUTER_VECTORS: usize;
        fn zero(self) -> Self::V;
        fn set1(self, x: f32) -> Self::V;
        /// `a·b + c`.
        fn fmadd(self, a: Self::V, b: Self::V, c: Self::V) -> Self::V;
        fn add(self, a: Self::V, b: Self::V) -> Self::V;
        /// The sum of the lanes.
        fn reduce_add(self, v: Self::V) -> f32;
        /// # Safety
        /// `p..p + WIDTH` must be readable.
        unsafe fn load(self, p: *const f32) -> Self::V;
        /// # Safety
        /// `p..p + WIDTH` must be writable.
        unsafe fn store(self, p: *mut f32, v: Self::V);
        /// `f()`, compiled with the instruction set's features as a function of its own, which
        /// LLVM optimises before it inlines it into its caller, as it did the AVX-512 tiles when
        /// each was a `#[target_feature]` function. (Inlined whole into one function first, the
        /// 3-row × 8-register tile of the GEMM moved its 24 sums from register to register at
        /// every kernel entry.)
        fn with_features<R>(self, f: impl FnOnce() -> R) -> R;
    }

    /// AVX-512F: 32 registers of 16 floats. Its tiles are the ones it was tuned with: 24
    /// accumulators (8 rows × 3 vectors for the GEMM, 4 × 5 lane sums, 12 entries × 2 vectors
    /// of channels, 6 positions × 4 vectors of channels).
    #[derive(Clone, Copy)]
    pub(super) struct Avx512(());

    impl Avx512 {
        pub(super) fn new() -> Option<Self> {
            is_x86_feature_detected!("avx512f").then_some(Self(()))
        }
    }

    // SAFETY (every block below): an `Avx512` exists only where the CPU has AVX-512F.
    impl Simd for Avx512 {
        type V = __m512;
        const WIDTH: usize = 16;
        const GEMM_ROWS: usize = 8;
        const GRADIENT_BLOCK: [usize; 2] = [4, 5];
        const OUTER_ENTRIES: usize = 12;
        const OUTER_VECTORS: usize = 4;
        #[inline(always)]
        fn zero(self) -> __m512 {
            unsafe { _mm512_setzero_ps() }
        }
        #[inline(always)]
        fn set1(self, x: f32) -> __m512 {
            unsafe { _mm512_set1_ps(x) }
        }
        #[inline(always)]
        fn fmadd(self, a: __m512, b: __m512, c: __m512) -> __m512 {
            unsafe { _mm512_fmadd_ps(a, b, c) }
        }
        #[inline(always)]
        fn add(self, a: __m512, b: __m512) -> __m512 {
            unsafe { _mm512_add_ps(a, b) }
        }
        #[inline(always)]
        fn reduce_add(self, v: __m512) -> f32 {
            unsafe { _mm512_reduce_add_ps(v) }
        }
        #[inline(always)]
        unsafe fn load(self, p: *const f32) -> __m512 {
            unsafe { _mm512_loadu_ps(p) }
        }
        #[inline(always)]
        unsafe fn store(self, p: *mut f32, v: __m512) {
            unsafe { _mm512_storeu_ps(p, v) }
        }
        #[inline(always)]
        fn with_features<R>(self, f: impl FnOnce() -> R) -> R {
            #[target_feature(enable = "avx512f")]
            fn run<R>(f: impl FnOnce() -> R) -> R {
                f()
            }
            unsafe { run(f) }
        }
    }

    /// AVX2 + FMA: 16 registers of 8 floats, of which a tile uses at most 15 (at 16, LLVM spilled
    /// a sum): 6 rows × 2 registers for the GEMM (plus 2 loaded positions and a broadcast weight;
    /// fewer rows, wider: `tile_vectors`), 3 × 3 lane sums (plus 3 rows of the gradient and a
    /// loaded entry), 6 entries × 2 registers of channels (plus the 2 loaded and a broadcast
    /// pixel), and 6 positions × 2 registers of channels likewise.
    #[derive(Clone, Copy)]
    pub(super) struct Avx2(());

    impl Avx2 {
        pub(super) fn new() -> Option<Self> {
            (is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"))
                .then_some(Self(()))
        }
    }

    // SAFETY (every block below): an `Avx2` exists only where the CPU has AVX2 and FMA.
    impl Simd for Avx2 {
        type V = __m256;
        const WIDTH: usize = 8;
        const GEMM_ROWS: usize = 6;
        const GRADIENT_BLOCK: [usize; 2] = [3, 3];
        const OUTER_ENTRIES: usize = 6;
        const OUTER_VECTORS: usize = 2;
        #[inline(always)]
        fn zero(self) -> __m256 {
            unsafe { _mm256_setzero_ps() }
        }
        #[inline(always)]
        fn set1(self, x: f32) -> __m256 {
            unsafe { _mm256_set1_ps(x) }
        }
        #[inline(always)]
        fn fmadd(self, a: __m256, b: __m256, c: __m256) -> __m256 {
            unsafe { _mm256_fmadd_ps(a, b, c) }
        }
        #[inline(always)]
        fn add(self, a: __m256, b: __m256) -> __m256 {
            unsafe { _mm256_add_ps(a, b) }
        }
        #[inline(always)]
        fn reduce_add(self, v: __m256) -> f32 {
            unsafe {
                let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
                let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
                _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)))
            }
        }
        #[inline(always)]
        unsafe fn load(self, p: *const f32) -> __m256 {
            unsafe { _mm256_loadu_ps(p) }
        }
        #[inline(always)]
        unsafe fn store(self, p: *mut f32, v: __m256) {
            unsafe { _mm256_storeu_ps(p, v) }
        }
        #[inline(always)]
        fn with_features<R>(self, f: impl FnOnce() -> R) -> R {
            #[target_feature(enable = "avx2,fma")]
            fn run<R>(f: impl FnOnce() -> R) -> R {
                f()
            }
            unsafe { run(f) }
        }
    }

    /// Registers of positions per indirect-GEMM tile of `rows` output rows, at most 8. AVX-512:
    /// 24 sums at most (8, 8, 8, 6, 4, 4, 3, 3 for 1–8 rows), the rest of the 32 registers for
    /// the loaded positions. AVX2: the sums, the loaded positions and the broadcast weight in 15
    /// of the 16 registers (7, 4, 3, 2, 2, 2 for 1–6 rows); at all 16 (4 rows × 3 or 3 × 4) LLVM
    /// kept a sum on the stack and shuffled the others at every kernel entry.
    const fn tile_vectors(avx512: bool, rows: usize) -> usize {
        let v = if avx512 { 24 / rows } else { 14 / (rows + 1) };
        if v > 8 { 8 } else { v }
    }

    /// One tile: `O` output rows × `V` registers of positions, starting at `src`/`out`.
    #[inline(always)]
    unsafe fn tile<S: Simd, const O: usize, const V: usize>(
        s: S,
        src: *const f32,
        offsets: &[usize],
        weight: *const f32,
        k_len: usize,
        out: *mut f32,
        out_row: usize,
    ) {
        let mut acc = [[s.zero(); V]; O];
        for (k, &offset) in offsets.iter().enumerate() {
            let p = unsafe { src.add(offset) };
            let mut x = [s.zero(); V];
            for (v, x) in x.iter_mut().enumerate() {
                *x = unsafe { s.load(p.add(v * S::WIDTH)) };
            }
            for (o, acc) in acc.iter_mut().enumerate() {
                let w = s.set1(unsafe { *weight.add(o * k_len + k) });
                for (a, x) in acc.iter_mut().zip(&x) {
                    *a = s.fmadd(w, *x, *a);
                }
            }
        }
        for (o, acc) in acc.iter().enumerate() {
            for (v, a) in acc.iter().enumerate() {
                unsafe { s.store(out.add(o * out_row + v * S::WIDTH), *a) };
            }
        }
    }

    /// All tiles of `O` rows: full tiles of `V` registers, then one register at a time.
    #[inline(always)]
    unsafe fn rows<S: Simd, const O: usize, const V: usize>(
        s: S,
        src: *const f32,
        offsets: &[usize],
        weight: *const f32,
        out: &mut [f32],
        out_row: usize,
    ) {
        s.with_features(|| {
            let k_len = offsets.len();
            let vectors = out_row / S::WIDTH;
            let out = out.as_mut_ptr();
            let mut v = 0;
            while v + V <= vectors {
                let j = v * S::WIDTH;
                let (src, out) = unsafe { (src.add(j), out.add(j)) };
                unsafe { tile::<S, O, V>(s, src, offsets, weight, k_len, out, out_row) };
                v += V;
            }
            while v < vectors {
                let j = v * S::WIDTH;
                let (src, out) = unsafe { (src.add(j), out.add(j)) };
                unsafe { tile::<S, O, 1>(s, src, offsets, weight, k_len, out, out_row) };
                v += 1;
            }
        })
    }

    /// See [`super::indirect_gemm`]; `out` is `m × out_row`.
    pub(super) unsafe fn indirect_gemm<S: Simd>(
        s: S,
        src: *const f32,
        offsets: &[usize],
        weight: *const f32,
        m: usize,
        out: &mut [f32],
        out_row: usize,
    ) {
        let full = S::GEMM_ROWS;
        let k_len = offsets.len();
        for (chunk, out) in out.chunks_mut(full * out_row).enumerate() {
            let w = unsafe { weight.add(chunk * full * k_len) };
            // A const generic cannot be computed from `S`'s constants on stable Rust, so each
            // instruction set's tile width is written out here.
            macro_rules! go {
                ($o:literal) => {
                    if S::WIDTH == 16 {
                        const V: usize = tile_vectors(true, $o);
                        unsafe { rows::<S, $o, V>(s, src, offsets, w, out, out_row) }
                    } else {
                        const V: usize = tile_vectors(false, $o);
                        unsafe { rows::<S, $o, V>(s, src, offsets, w, out, out_row) }
                    }
                };
            }
            match (m - chunk * full).min(full) {
                1 => go!(1),
                2 => go!(2),
                3 => go!(3),
                4 => go!(4),
                5 => go!(5),
                6 => go!(6),
                7 => go!(7),
                _ => go!(8),
            }
        }
    }

    /// One block of the weight gradient: `O` output rows × `K` kernel entries, summed over all
    /// registers of positions, then added to `dw`.
    #[inline(always)]
    unsafe fn gradient_block<S: Simd, const O: usize, const K: usize>(
        s: S,
        src: *const f32,
        offsets: &[usize],
        dy: *const f32,
        dy_row: usize,
        dw: *mut f32,
        dw_row: usize,
    ) {
        s.with_features(|| {
            let mut acc = [[s.zero(); K]; O];
            let mut at = [0usize; K];
            at.copy_from_slice(&offsets[..K]);
            for v in 0..dy_row / S::WIDTH {
                let j = v * S::WIDTH;
                let mut d = [s.zero(); O];
                for (o, d) in d.iter_mut().enumerate() {
                    *d = unsafe { s.load(dy.add(o * dy_row + j)) };
                }
                for (k, &offset) in at.iter().enumerate() {
                    let x = unsafe { s.load(src.add(offset + j)) };
                    for (acc, d) in acc.iter_mut().zip(&d) {
                        acc[k] = s.fmadd(*d, x, acc[k]);
                    }
                }
            }
            for (o, acc) in acc.iter().enumerate() {
                for (k, a) in acc.iter().enumerate() {
                    unsafe { *dw.add(o * dw_row + k) += s.reduce_add(*a) };
                }
            }
        })
    }

    /// See [`super::indirect_weight_gradient`]: `dy` is `m × dy_row`, `dw` `m × offsets.len()`.
    pub(super) unsafe fn indirect_weight_gradient<S: Simd>(
        s: S,
        src: *const f32,
        offsets: &[usize],
        dy: *const f32,
        m: usize,
        dy_row: usize,
        dw: &mut [f32],
    ) {
        let [max_rows, max_entries] = S::GRADIENT_BLOCK;
        let k_len = offsets.len();
        let dw = dw.as_mut_ptr();
        for o in (0..m).step_by(max_rows) {
            let rows = (m - o).min(max_rows);
            for k in (0..k_len).step_by(max_entries) {
                let entries = (k_len - k).min(max_entries);
                let (dy, dw) = unsafe { (dy.add(o * dy_row), dw.add(o * k_len + k)) };
                let offsets = &offsets[k..k + entries];
                macro_rules! go {
                    ($o:literal, $k:literal) => {
                        unsafe {
                            gradient_block::<S, $o, $k>(s, src, offsets, dy, dy_row, dw, k_len)
                        }
                    };
                }
                macro_rules! by_entries {
                    ($o:literal) => {
                        match entries {
                            1 => go!($o, 1),
                            2 => go!($o, 2),
                            3 => go!($o, 3),
                            4 => go!($o, 4),
                            _ => go!($o, 5),
                        }
                    };
                }
                match rows {
                    1 => by_entries!(1),
                    2 => by_entries!(2),
                    3 => by_entries!(3),
                    _ => by_entries!(4),
                }
            }
        }
    }

    /// One block of the weight gradient as outer products: `K` kernel entries × `V` registers
    /// of output channels, summed over the window positions of every image of `grid`, then added
    /// to `dwt` (`k × m`).
    #[inline(always)]
    unsafe fn outer_block<S: Simd, const K: usize, const V: usize>(
        s: S,
        src: *const f32,
        offsets: &[usize],
        dyt: *const f32,
        m: usize,
        grid: Grids,
        dwt: *mut f32,
    ) {
        s.with_features(|| {
            let mut acc = [[s.zero(); V]; K];
            let mut at = [0usize; K];
            at.copy_from_slice(&offsets[..K]);
            let mut d = dyt;
            // Each image's window positions as one contiguous run per row (read as a list of
            // positions, LLVM hoisted all K broadcasts ahead of the products and spilled sums).
            for image in 0..grid.images {
                let src = unsafe { src.add(image * grid.stride) };
                for oh in 0..grid.rows {
                    for j in oh * grid.width..oh * grid.width + grid.columns {
                        let mut dv = [s.zero(); V];
                        for (v, dv) in dv.iter_mut().enumerate() {
                            *dv = unsafe { s.load(d.add(v * S::WIDTH)) };
                        }
                        for (acc, &offset) in acc.iter_mut().zip(&at) {
                            let x = s.set1(unsafe { *src.add(offset + j) });
                            for (a, dv) in acc.iter_mut().zip(&dv) {
                                *a = s.fmadd(x, *dv, *a);
                            }
                        }
                        d = unsafe { d.add(m) };
                    }
                }
            }
            for (k, acc) in acc.iter().enumerate() {
                for (v, a) in acc.iter().enumerate() {
                    let at = unsafe { dwt.add(k * m + v * S::WIDTH) };
                    unsafe { s.store(at, s.add(s.load(at), *a)) };
                }
            }
        })
    }

    /// See [`super::outer_weight_gradient`].
    pub(super) unsafe fn outer_weight_gradient<S: Simd>(
        s: S,
        src: *const f32,
        offsets: &[usize],
        dyt: *const f32,
        m: usize,
        grid: Grids,
        dwt: &mut [f32],
    ) {
        let k_len = offsets.len();
        let dwt = dwt.as_mut_ptr();
        let mut o = 0;
        while o < m {
            // Two registers of channels where two are left (on AVX2 always: `m` is a multiple
            // of 16).
            let wide = m - o >= 2 * S::WIDTH;
            for k in (0..k_len).step_by(S::OUTER_ENTRIES) {
                let entries = (k_len - k).min(S::OUTER_ENTRIES);
                let offsets = &offsets[k..k + entries];
                let (dyt, dwt) = unsafe { (dyt.add(o), dwt.add(k * m + o)) };
                macro_rules! go {
                    ($k:literal) => {
                        if wide {
                            unsafe { outer_block::<S, $k, 2>(s, src, offsets, dyt, m, grid, dwt) }
                        } else {
                            unsafe { outer_block::<S, $k, 1>(s, src, offsets, dyt, m, grid, dwt) }
                        }
                    };
                }
                match entries {
                    1 => go!(1),
                    2 => go!(2),
                    3 => go!(3),
                    4 => go!(4),
                    5 => go!(5),
                    6 => go!(6),
                    7 => go!(7),
                    8 => go!(8),
                    9 => go!(9),
                    10 => go!(10),
                    11 => go!(11),
                    _ => go!(12),
                }
            }
            o += if wide { 2 * S::WIDTH } else { S::WIDTH };
        }
    }

    /// One tile of the outer-product forward: `P` positions × `V` registers of output channels,
    /// summed over the kernel entries, stored to `out` (`positions × m`) or added to it.
    #[inline(always)]
    unsafe fn outer_tile<S: Simd, const P: usize, const V: usize>(
        s: S,
        src: *const f32,
        offsets: &[usize],
        weight_t: *const f32,
        m: usize,
        positions: &[usize],
        (out, accumulate): (*mut f32, bool),
    ) {
        s.with_features(|| {
            let mut acc = [[s.zero(); V]; P];
            if accumulate {
                for (p, acc) in acc.iter_mut().enumerate() {
                    for (v, a) in acc.iter_mut().enumerate() {
                        *a = unsafe { s.load(out.add(p * m + v * S::WIDTH)) };
                    }
                }
            }
            let mut at = [0usize; P];
            at.copy_from_slice(&positions[..P]);
            for (k, &offset) in offsets.iter().enumerate() {
                let mut w = [s.zero(); V];
                for (v, w) in w.iter_mut().enumerate() {
                    *w = unsafe { s.load(weight_t.add(k * m + v * S::WIDTH)) };
                }
                let base = unsafe { src.add(offset) };
                for (acc, &j) in acc.iter_mut().zip(&at) {
                    let x = s.set1(unsafe { *base.add(j) });
                    for (a, w) in acc.iter_mut().zip(&w) {
                        *a = s.fmadd(x, *w, *a);
                    }
                }
            }
            for (p, acc) in acc.iter().enumerate() {
                for (v, a) in acc.iter().enumerate() {
                    unsafe { s.store(out.add(p * m + v * S::WIDTH), *a) };
                }
            }
        })
    }

    /// One 16 × 16 block: rows `src + r·src_row` for `r < 16` written as columns, row `c` of the
    /// result at `dst + c·dst_row`: four rounds of in-register shuffles (pairs of floats, of
    /// doubles, then two of 128-bit lanes), where element by element each of the 256 values was
    /// a store of its own.
    ///
    /// # Safety
    /// The CPU has AVX-512F; 16 floats readable at each source row and writable at each
    /// destination row.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn transpose16(
        src: *const f32,
        src_row: usize,
        dst: *mut f32,
        dst_row: usize,
    ) {
        unsafe {
            let mut r = [_mm512_setzero_ps(); 16];
            for (i, r) in r.iter_mut().enumerate() {
                *r = _mm512_loadu_ps(src.add(i * src_row));
            }
            // Round 1: floats of row pairs interleaved.
            let mut t = [_mm512_setzero_ps(); 16];
            for i in 0..8 {
                t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
                t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
            }
            // Round 2: pairs of floats of row quads.
            let mut u = [_mm512_setzero_ps(); 16];
            for q in 0..4 {
                let b = 4 * q;
                u[b] = _mm512_shuffle_ps::<0x44>(t[b], t[b + 2]);
                u[b + 1] = _mm512_shuffle_ps::<0xEE>(t[b], t[b + 2]);
                u[b + 2] = _mm512_shuffle_ps::<0x44>(t[b + 1], t[b + 3]);
                u[b + 3] = _mm512_shuffle_ps::<0xEE>(t[b + 1], t[b + 3]);
            }
            // Round 3: 128-bit lanes of quads 0–1 and 2–3.
            let mut v = [_mm512_setzero_ps(); 16];
            for h in 0..2 {
                let (b, o) = (8 * h, 8 * h);
                for k in 0..4 {
                    v[o + k] = _mm512_shuffle_f32x4::<0x88>(u[b + k], u[b + 4 + k]);
                    v[o + 4 + k] = _mm512_shuffle_f32x4::<0xDD>(u[b + k], u[b + 4 + k]);
                }
            }
            // Round 4: 128-bit lanes of the two halves.
            for k in 0..8 {
                let lo = _mm512_shuffle_f32x4::<0x88>(v[k], v[8 + k]);
                let hi = _mm512_shuffle_f32x4::<0xDD>(v[k], v[8 + k]);
                _mm512_storeu_ps(dst.add(k * dst_row), lo);
                _mm512_storeu_ps(dst.add((8 + k) * dst_row), hi);
            }
        }
    }

    /// See [`super::outer_gemm`].
    pub(super) unsafe fn outer_gemm<S: Simd>(
        s: S,
        src: *const f32,
        offsets: &[usize],
        weight_t: *const f32,
        m: usize,
        positions: &[usize],
        out: &mut [f32],
    ) {
        // Positions per tile, and kernel entries per pass: a pass's weights (512 entries × 64
        // channels, 128 KiB) stay in the L2 cache while every tile of positions reads them
        // (D's 128→128 layer, 3200 entries, forward 2.8 → 2.6 ms with the passes).
        const TILE: usize = 6;
        const ENTRIES: usize = 512;
        let out = out.as_mut_ptr();
        for first in (0..offsets.len()).step_by(ENTRIES) {
            let pass = &offsets[first..(first + ENTRIES).min(offsets.len())];
            let accumulate = first > 0;
            let weight_t = unsafe { weight_t.add(first * m) };
            let mut o = 0;
            while o < m {
                let vectors = ((m - o) / S::WIDTH).min(S::OUTER_VECTORS);
                let vectors = if vectors == 3 { 2 } else { vectors };
                for p in (0..positions.len()).step_by(TILE) {
                    let count = (positions.len() - p).min(TILE);
                    let at = &positions[p..p + count];
                    let (w, out) = unsafe { (weight_t.add(o), (out.add(p * m + o), accumulate)) };
                    macro_rules! go {
                        ($p:literal) => {
                            match vectors {
                                4 => unsafe { outer_tile::<S, $p, 4>(s, src, pass, w, m, at, out) },
                                2 => unsafe { outer_tile::<S, $p, 2>(s, src, pass, w, m, at, out) },
                                _ => unsafe { outer_tile::<S, $p, 1>(s, src, pass, w, m, at, out) },
                            }
                        };
                    }
                    match count {
                        1 => go!(1),
                        2 => go!(2),
                        3 => go!(3),
                        4 => go!(4),
                        5 => go!(5),
                        _ => go!(6),
                    }
                }
                o += vectors * S::WIDTH;
            }
        }
    }
}

/// `yₙ = W · im2col(imageₙ) + bias` (see [`gemm_conv::correlate`]): in place where that
/// pays (see `correlate_suits_channels`), else as im2col + GEMM.
pub fn correlate(
    images: &[f32],
    g: &Geometry,
    weight: &[f32],
    c: usize,
    bias: Option<&[f32]>,
) -> Vec<f32> {
    match Isa::detected() {
        Some(isa) if correlate_suits_channels(isa, g, c) => {
            correlate_in_place(isa, images, g, weight, c, bias)
        }
        _ => gemm_conv::correlate(images, g, weight, c, bias),
    }
}

/// `imageₙ = col2im(Wᵀ · yₙ) + bias` (see [`gemm_conv::scatter`]): gathered in place where
/// that pays (see `scatter_suits`), else as GEMM + col2im.
pub fn scatter(
    y: &[f32],
    g: &Geometry,
    weight: &[f32],
    c: usize,
    bias: Option<&[f32]>,
) -> Vec<f32> {
    match Isa::detected() {
        Some(isa) if scatter_suits(isa, g, c) => scatter_in_place(isa, y, g, weight, c, bias),
        _ => gemm_conv::scatter(y, g, weight, c, bias),
    }
}

/// Whether [`scatter`] runs in place for this geometry and `c` channels.
pub fn scatters_in_place(g: &Geometry, c: usize) -> bool {
    Isa::detected().is_some_and(|isa| scatter_suits(isa, g, c))
}

/// `Σₙ yₙ · im2col(imageₙ)ᵀ` (see [`gemm_conv::weight_gradient`]): in place where that pays
/// (see `weight_gradient_suits`), else as im2col + GEMM.
pub fn weight_gradient(images: &[f32], y: &[f32], g: &Geometry, c: usize) -> Vec<f32> {
    match Isa::detected() {
        Some(isa) if weight_gradient_suits(isa, g, c) => {
            weight_gradient_in_place(isa, images, y, g, c)
        }
        _ => gemm_conv::weight_gradient(images, y, g, c),
    }
}

/// [`correlate`] reading the windows in place, on `isa`: panics where this CPU lacks it
/// ([`Isa::supported`]).
pub fn correlate_in_place(
    isa: Isa,
    images: &[f32],
    g: &Geometry,
    weight: &[f32],
    c: usize,
    bias: Option<&[f32]>,
) -> Vec<f32> {
    let batch = images.len() / g.image_len().max(1);
    assert_eq!(images.len(), batch * g.image_len(), "correlate: image size");
    let layout = PhaseLayout::for_windows(g);
    let offsets = layout.window_offsets(g.kernel);
    let [out_h, out_w] = g.windows;
    let row = vectors(out_h * layout.width) * LANES;
    let positions = out_h * out_w;
    let mut out = vec![0.0; batch * c * positions];
    if positions == 0 {
        return out;
    }
    if narrow_by_channels(g, c) {
        return correlate_by_channels(isa, images, g, weight, c, bias, out);
    }
    out.par_chunks_mut(c * positions)
        .enumerate()
        .for_each(|(n, y)| {
            let image = &images[n * g.image_len()..(n + 1) * g.image_len()];
            gemm_conv::with_scratch(layout.len() + c * row, |scratch| {
                let (src, ext) = scratch.split_at_mut(layout.len());
                layout.fill(image, src);
                indirect_gemm(isa, src, &offsets, weight, c, ext);
                for (o, (y, ext)) in y.chunks_mut(positions).zip(ext.chunks(row)).enumerate() {
                    let b = bias.map_or(0.0, |b| b[o]);
                    for (y, ext) in y.chunks_mut(out_w).zip(ext.chunks(layout.width)) {
                        for (y, e) in y.iter_mut().zip(ext) {
                            *y = e + b;
                        }
                    }
                }
            })
        });
    out
}

/// [`correlate_in_place`] on a grid narrower than a vector, with `c` a multiple of 16: the
/// output channels in the vectors ([`outer_gemm`]), then each image's `positions × c` result
/// transposed into `out`.
fn correlate_by_channels(
    isa: Isa,
    images: &[f32],
    g: &Geometry,
    weight: &[f32],
    c: usize,
    bias: Option<&[f32]>,
    mut out: Vec<f32>,
) -> Vec<f32> {
    let layout = PhaseLayout::for_windows(g);
    let offsets = layout.window_offsets(g.kernel);
    let entries = offsets.len();
    let [out_h, out_w] = g.windows;
    let positions: Vec<usize> = (0..out_h)
        .flat_map(|oh| (0..out_w).map(move |ow| oh * layout.width + ow))
        .collect();
    let count = positions.len();
    let weight_t = transposed(weight, c, entries);
    out.par_chunks_mut(c * count)
        .enumerate()
        .for_each(|(n, y)| {
            let image = &images[n * g.image_len()..(n + 1) * g.image_len()];
            gemm_conv::with_scratch(layout.len() + c * count, |scratch| {
                let (src, by_position) = scratch.split_at_mut(layout.len());
                layout.fill(image, src);
                outer_gemm(isa, src, &offsets, &weight_t, c, &positions, by_position);
                for (o, y) in y.chunks_mut(count).enumerate() {
                    let b = bias.map_or(0.0, |b| b[o]);
                    for (p, y) in y.iter_mut().enumerate() {
                        *y = by_position[p * c + o] + b;
                    }
                }
            })
        });
    out
}

/// How [`scatter`] reads `y` for one image phase `(α, β)`: image pixel `(r, q)` with
/// `r + pad₀ = s₀·m + α` sums `W[o, ·, α + s₀·t, ·] · y[o, m − t, ·]` over taps `t`.
#[derive(Debug, Clone, Copy)]
struct PhaseAxis {
    /// Taps along this axis.
    taps: usize,
    /// The phase-grid indices `[lo, hi)` whose pixels lie inside the image.
    lo: usize,
    hi: usize,
}

impl PhaseAxis {
    fn new(phase: usize, kernel: usize, stride: usize, pad: usize, size: usize) -> Self {
        let taps = kernel.saturating_sub(phase).div_ceil(stride);
        // Smallest m with s·m + phase ≥ pad, and the end of those below pad + size.
        let lo = pad.saturating_sub(phase).div_ceil(stride);
        let hi = (pad + size).saturating_sub(phase).div_ceil(stride).max(lo);
        Self { taps, lo, hi }
    }
}

/// One image phase of [`scatter_in_place`]: the flipped sub-kernel as a `[channels, c·taps]`
/// matrix (`[c·taps, channels]` for [`scatter_by_channels`]) and each of its entries' offset in
/// the padded `y`.
struct ScatterPhase {
    rows: PhaseAxis,
    cols: PhaseAxis,
    /// The image row and column of the phase's first pixel.
    origin: [usize; 2],
    weight: Vec<f32>,
    offsets: Vec<usize>,
}

/// [`scatter`] gathered in place: each image phase is a correlation of the zero-padded `y` with
/// that phase's taps, kernels flipped, on `isa`: panics where this CPU lacks it.
pub fn scatter_in_place(
    isa: Isa,
    y: &[f32],
    g: &Geometry,
    weight: &[f32],
    c: usize,
    bias: Option<&[f32]>,
) -> Vec<f32> {
    let positions = g.positions();
    let batch = y.len() / (c * positions).max(1);
    assert_eq!(y.len(), batch * c * positions, "scatter: input size");
    let [s0, s1] = g.stride;
    let [kh, kw] = g.kernel;
    let [height, width] = g.size;
    let axes = |axis: usize| -> Vec<PhaseAxis> {
        (0..g.stride[axis])
            .map(|p| PhaseAxis::new(p, g.kernel[axis], g.stride[axis], g.pad[axis], g.size[axis]))
            .collect()
    };
    let (row_axes, col_axes) = (axes(0), axes(1));
    // y zero-padded: `top` rows and `left` columns before it (the most taps minus one), enough
    // after it for every phase's last index.
    let (top, left) = (kh.div_ceil(s0) - 1, kw.div_ceil(s1) - 1);
    let y_rows = top
        + row_axes
            .iter()
            .map(|a| a.hi)
            .max()
            .unwrap_or(0)
            .max(g.windows[0]);
    let y_width = left
        + col_axes
            .iter()
            .map(|a| a.hi)
            .max()
            .unwrap_or(0)
            .max(g.windows[1]);
    let padded = PhaseLayout {
        channels: c,
        size: g.windows,
        stride: [1, 1],
        pad: [top, left],
        rows: y_rows,
        width: y_width,
        slack: y_width + 8 * LANES,
    };
    let channels = g.channels;
    // On an image narrower than a vector, with its channels in whole vectors, the channels go in
    // the vectors: each phase's weights are laid out `entries × channels` for it.
    let by_channels = narrow_by_channels(&image_side(g), channels);
    let mut phases = Vec::with_capacity(s0 * s1);
    for (alpha, &rows) in row_axes.iter().enumerate() {
        for (beta, &cols) in col_axes.iter().enumerate() {
            let entries = c * rows.taps * cols.taps;
            let mut w = vec![0.0; channels * entries];
            let mut offsets = Vec::with_capacity(entries);
            for o in 0..c {
                for th in 0..rows.taps {
                    for tw in 0..cols.taps {
                        offsets.push(padded.at(o, rows.lo + top - th, cols.lo + left - tw));
                    }
                }
            }
            // Written in order: for the gathered form channel by channel (`[channels, entries]`;
            // with the channel innermost both sides were strided, 0.8–0.9% of the step in
            // `perf`), for the channel-vectorised one entry by entry (`[entries, channels]`).
            let tap = |o: usize, ch: usize, th: usize, tw: usize| {
                weight[((o * channels + ch) * kh + alpha + s0 * th) * kw + beta + s1 * tw]
            };
            let mut at = w.iter_mut();
            if by_channels {
                for o in 0..c {
                    for th in 0..rows.taps {
                        for tw in 0..cols.taps {
                            for ch in 0..channels {
                                *at.next().expect("entries × channels") = tap(o, ch, th, tw);
                            }
                        }
                    }
                }
            } else {
                for ch in 0..channels {
                    for o in 0..c {
                        for th in 0..rows.taps {
                            for tw in 0..cols.taps {
                                *at.next().expect("channels × entries") = tap(o, ch, th, tw);
                            }
                        }
                    }
                }
            }
            phases.push(ScatterPhase {
                rows,
                cols,
                // The first index of each axis lies at or past the padding (`PhaseAxis::new`).
                origin: [
                    s0 * rows.lo + alpha - g.pad[0],
                    s1 * cols.lo + beta - g.pad[1],
                ],
                weight: w,
                offsets,
            });
        }
    }
    let ext_len = phases
        .iter()
        .map(|p| channels * vectors((p.rows.hi - p.rows.lo) * y_width) * LANES)
        .max()
        .unwrap_or(0);
    let plane = height * width;
    let mut out = vec![0.0; batch * g.image_len()];
    if out.is_empty() {
        return out;
    }
    if by_channels {
        return scatter_by_channels(isa, y, g, c, bias, &padded, &phases, out);
    }
    // At stride 2 across, the two column phases of a row phase are computed side by side and
    // written back as one interleaving pass (a strided write per phase cost 4% of the step).
    let paired = s1 == 2 && width >= 2;
    let scratch_len = padded.len() + if paired { 2 * ext_len } else { ext_len };
    out.par_chunks_mut(g.image_len())
        .enumerate()
        .for_each(|(n, image)| {
            let yn = &y[n * c * positions..(n + 1) * c * positions];
            if let Some(bias) = bias {
                for (channel, b) in image.chunks_mut(plane).zip(bias) {
                    channel.fill(*b);
                }
            }
            gemm_conv::with_scratch(scratch_len, |scratch| {
                let (src, ext) = scratch.split_at_mut(padded.len());
                padded.fill(yn, src);
                for alpha in 0..s0 {
                    let group = &phases[alpha * s1..(alpha + 1) * s1];
                    let grid_rows = group[0].rows.hi - group[0].rows.lo;
                    let row = vectors(grid_rows * y_width) * LANES;
                    if row == 0 {
                        continue; // no image row in this row phase
                    }
                    let r0 = group[0].origin[0];
                    if paired {
                        let (first, second) = ext.split_at_mut(ext_len);
                        for (phase, ext) in group.iter().zip([first, second]) {
                            let ext = &mut ext[..channels * row];
                            indirect_gemm(isa, src, &phase.offsets, &phase.weight, channels, ext);
                        }
                        // Image column 0 lies in column phase pad₁ mod 2.
                        let (first, second) = ext.split_at(ext_len);
                        let (even, odd) = if g.pad[1].is_multiple_of(2) {
                            (first, second)
                        } else {
                            (second, first)
                        };
                        let (half, rest) = (width.div_ceil(2), width / 2);
                        for ch in 0..channels {
                            let image = &mut image[ch * plane..(ch + 1) * plane];
                            let (even, odd) = (&even[ch * row..], &odd[ch * row..]);
                            for i in 0..grid_rows {
                                let r = r0 + s0 * i;
                                gemm_conv::interleave_add(
                                    &mut image[r * width..(r + 1) * width],
                                    &even[i * y_width..][..half],
                                    &odd[i * y_width..][..rest],
                                );
                            }
                        }
                        continue;
                    }
                    for phase in group {
                        if phase.cols.hi == phase.cols.lo {
                            continue; // no image column in this phase
                        }
                        let ext = &mut ext[..channels * row];
                        indirect_gemm(isa, src, &phase.offsets, &phase.weight, channels, ext);
                        let cols = phase.cols.hi - phase.cols.lo;
                        let q0 = phase.origin[1];
                        for (ch, ext) in ext.chunks(row).enumerate() {
                            let image = &mut image[ch * plane..(ch + 1) * plane];
                            for (i, ext) in ext.chunks(y_width).take(grid_rows).enumerate() {
                                let r = r0 + s0 * i;
                                let dst = &mut image[r * width..(r + 1) * width];
                                if s1 == 1 {
                                    gemm_conv::add_assign(&mut dst[q0..q0 + cols], &ext[..cols]);
                                    continue;
                                }
                                for (k, e) in ext[..cols].iter().enumerate() {
                                    dst[q0 + s1 * k] += e;
                                }
                            }
                        }
                    }
                }
            })
        });
    out
}

/// The image side of `g` seen as a grid of windows (for [`narrow_by_channels`]).
fn image_side(g: &Geometry) -> Geometry {
    Geometry {
        windows: g.size,
        ..*g
    }
}

/// [`scatter_in_place`] on an image narrower than a vector, its channels in whole vectors: each
/// image phase's correlation with the image channels in the vectors ([`outer_gemm`]), only the
/// phase's real pixels computed (the gathered form spends most of each vector past the ends of
/// an 8-wide image's rows), then added into the image.
#[allow(clippy::too_many_arguments)]
fn scatter_by_channels(
    isa: Isa,
    y: &[f32],
    g: &Geometry,
    c: usize,
    bias: Option<&[f32]>,
    padded: &PhaseLayout,
    phases: &[ScatterPhase],
    mut out: Vec<f32>,
) -> Vec<f32> {
    let channels = g.channels;
    let [s0, s1] = g.stride;
    let width = g.size[1];
    let plane = g.size[0] * width;
    let positions = g.positions();
    // Per phase with pixels and taps: its weights as `entries × channels`, its pixels' places on
    // the padded `y`'s grid, and where each lies in an image plane.
    let by_channels: Vec<(&ScatterPhase, Vec<usize>, Vec<usize>)> = phases
        .iter()
        .filter(|p| p.rows.hi > p.rows.lo && p.cols.hi > p.cols.lo && !p.offsets.is_empty())
        .map(|p| {
            let [r0, q0] = p.origin;
            let (mut grid, mut pixels) = (Vec::new(), Vec::new());
            for i in 0..p.rows.hi - p.rows.lo {
                for j in 0..p.cols.hi - p.cols.lo {
                    grid.push(i * padded.width + j);
                    pixels.push((r0 + s0 * i) * width + q0 + s1 * j);
                }
            }
            (p, grid, pixels)
        })
        .collect();
    let most = by_channels.iter().map(|p| p.1.len()).max().unwrap_or(0);
    out.par_chunks_mut(g.image_len())
        .enumerate()
        .for_each(|(n, image)| {
            if let Some(bias) = bias {
                for (channel, b) in image.chunks_mut(plane).zip(bias) {
                    channel.fill(*b);
                }
            }
            gemm_conv::with_scratch(padded.len() + most * channels, |scratch| {
                let (src, by_pixel) = scratch.split_at_mut(padded.len());
                padded.fill(&y[n * c * positions..(n + 1) * c * positions], src);
                for (phase, grid, pixels) in &by_channels {
                    let by_pixel = &mut by_pixel[..grid.len() * channels];
                    outer_gemm(
                        isa,
                        src,
                        &phase.offsets,
                        &phase.weight,
                        channels,
                        grid,
                        by_pixel,
                    );
                    for (&pixel, values) in pixels.iter().zip(by_pixel.chunks(channels)) {
                        for (ch, v) in values.iter().enumerate() {
                            image[ch * plane + pixel] += v;
                        }
                    }
                }
            })
        });
    out
}

/// `m × n` row-major as `n × m` (see [`transpose_into`]): public for the tests.
pub fn transposed(matrix: &[f32], m: usize, n: usize) -> Vec<f32> {
    let mut out = vec![0.0; matrix.len()];
    transpose_into(matrix, m, n, &mut out);
    out
}

/// `matrix` (`m × n` row-major) into `out` as `n × m`, in 16 × 16 blocks: each block's rows and
/// columns stay in the L1 cache (element by element, the 1.6 MiB weights of D's 128→128 layer
/// were written a cache line per float, and a 16-channel gradient likewise).
fn transpose_into(matrix: &[f32], m: usize, n: usize, out: &mut [f32]) {
    const BLOCK: usize = 16;
    assert_eq!(matrix.len(), m * n, "transpose: size");
    assert_eq!(out.len(), m * n, "transpose: output size");
    let registers = Isa::Avx512.supported();
    for i0 in (0..m).step_by(BLOCK) {
        let rows = BLOCK.min(m - i0);
        for j0 in (0..n).step_by(BLOCK) {
            let cols = BLOCK.min(n - j0);
            if registers && rows == BLOCK && cols == BLOCK {
                #[cfg(target_arch = "x86_64")]
                // SAFETY: AVX-512F checked; source rows `i0..i0 + 16` from column `j0`, and
                // destination rows `j0..j0 + 16` from column `i0`, each 16 floats inside their
                // `m × n` and `n × m` buffers (both sizes asserted above).
                unsafe {
                    simd::transpose16(
                        matrix.as_ptr().add(i0 * n + j0),
                        n,
                        out.as_mut_ptr().add(j0 * m + i0),
                        m,
                    )
                };
                continue;
            }
            for i in i0..i0 + rows {
                let row = &matrix[i * n + j0..][..cols];
                for (j, v) in row.iter().enumerate() {
                    out[(j0 + j) * m + i] = *v;
                }
            }
        }
    }
}

/// Window positions per call of the outer-product weight gradient on small grids: a call lays
/// out a group of images and sums over all their positions, so that the transposed gradient
/// (`entries × c`, 1.6 MiB for D's 128→128 layer, past the L2 cache) is read and written once per
/// group instead of once per image of 16 positions.
const GROUP_POSITIONS: usize = 256;

/// Images per call of the outer-product weight gradient for `positions` window positions per
/// image: [`GROUP_POSITIONS`] worth, at most a thread's share of the batch, on grids under 64
/// positions with weights past 512 KiB (D's 128→128 layer on AVX-512: 3.94 → 3.18 ms, G's
/// 128→64 transposed layer 1.67 → 1.53, fastest of 40 alternating rounds); else one (those
/// runs keep their order of summation).
fn gradient_group(batch: usize, positions: usize, large_weights: bool) -> usize {
    if positions >= 64 || !large_weights {
        return 1;
    }
    let per_thread = batch.div_ceil(rayon::current_num_threads().max(1)).max(1);
    (GROUP_POSITIONS / positions.max(1)).clamp(1, per_thread)
}

/// [`weight_gradient`] reading the windows in place, on `isa`: panics where this CPU lacks it.
pub fn weight_gradient_in_place(
    isa: Isa,
    images: &[f32],
    y: &[f32],
    g: &Geometry,
    c: usize,
) -> Vec<f32> {
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
    let layout = PhaseLayout::for_windows(g);
    let offsets = layout.window_offsets(g.kernel);
    let [out_h, out_w] = g.windows;
    let row = vectors(out_h * layout.width) * LANES;
    let len = c * offsets.len();
    let threads = rayon::current_num_threads();
    let outer = c.is_multiple_of(LANES);
    let group = if outer {
        gradient_group(batch, positions, large_weights(g, c))
    } else {
        1
    };
    let groups = batch.div_ceil(group);
    let stride = layout.len();
    let sums = (0..groups)
        .into_par_iter()
        .with_min_len(groups.div_ceil(threads).max(1))
        .fold(
            || vec![0.0; len],
            |mut dw, chunk| {
                let first = chunk * group;
                let here = group.min(batch - first);
                let image = |i: usize| &images[(first + i) * g.image_len()..][..g.image_len()];
                let yn = |i: usize| &y[(first + i) * c * positions..][..c * positions];
                let dy_len = if outer { here * c * positions } else { c * row };
                gemm_conv::with_scratch(here * stride + dy_len, |scratch| {
                    let (src, dy) = scratch.split_at_mut(here * stride);
                    for (i, src) in src.chunks_mut(stride).enumerate() {
                        layout.fill(image(i), src);
                    }
                    if outer {
                        // `dw` is kept transposed (`entries × c`); the gradient as positions × c,
                        // the group's images one after another.
                        for (i, dy) in dy.chunks_mut(c * positions).enumerate() {
                            transpose_into(yn(i), c, positions, dy);
                        }
                        let grid = Grids {
                            images: here,
                            stride,
                            rows: out_h,
                            columns: out_w,
                            width: layout.width,
                        };
                        outer_weight_gradient(isa, src, &offsets, dy, c, grid, &mut dw);
                    } else {
                        // The output gradient on the extended grid, zero past each row's end.
                        dy.fill(0.0);
                        for (dy, yn) in dy.chunks_mut(row).zip(yn(0).chunks(positions)) {
                            for (dy, yn) in dy.chunks_mut(layout.width).zip(yn.chunks(out_w)) {
                                dy[..out_w].copy_from_slice(yn);
                            }
                        }
                        indirect_weight_gradient(isa, src, &offsets, dy, c, &mut dw);
                    }
                });
                dw
            },
        )
        .reduce(
            || vec![0.0; len],
            |mut a, b| {
                a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
                a
            },
        );
    if !outer {
        return sums;
    }
    transposed(&sums, offsets.len(), c)
}
