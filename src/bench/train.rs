//! `ganforge bench train` and `bench sample`: the speed of the tutorial's training step and of
//! generation, with the PyTorch reference measured in the same run when `torch` is installed.
//!
//! The step is the loop's own ([`Gan::iteration`]): D on a real batch, D on a fake batch, G
//! through D. It is timed two ways: with batches gathered from a data set in memory (what a run
//! does) and on one batch tensor already on the device, so that a stall from data handling would
//! show as a gap between the two.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use rand::{Rng, SeedableRng};

use crate::config::TrainConfig;
use crate::data::ImageSet;
use crate::device::DeviceChoice;
use crate::error::{GanError, Result};
use crate::train::Gan;
use crate::train::random::{DataOrder, Stream};

/// Floating-point operations of one forward pass of each network on one image, counted layer by
/// layer (a multiply-add is two).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ForwardFlops {
    pub discriminator: f64,
    pub generator: f64,
}

/// The tutorial's networks at `config`'s shape.
pub fn forward_flops(config: &TrainConfig) -> ForwardFlops {
    let k2 = (config.filter * config.filter) as f64;
    let c = config.capacity as f64;
    let conv = |cin: f64, cout: f64, side_out: f64| 2.0 * cin * cout * k2 * side_out * side_out;
    let mut d = 0.0;
    let mut side = config.spatial as f64;
    let mut cin = (config.channels * config.pack) as f64;
    for m in [1.0, 2.0, 4.0, 8.0] {
        let cout = m * c;
        d += conv(cin, cout, side) + conv(cout, cout, side / 2.0);
        side /= 2.0;
        cin = cout;
    }
    d += 2.0 * 8.0 * c;
    // D packs `pack` images into one input: per image, its share.
    d /= config.pack as f64;
    let start = (config.spatial / 16) as f64;
    let mut g = 2.0 * config.latent as f64 * start * start * 8.0 * c;
    let mut side = start;
    let mut cin = 8.0 * c;
    for m in [4.0, 2.0, 1.0, 1.0] {
        // A stride-2 transposed convolution: every input pixel meets every kernel tap.
        g += 2.0 * cin * m * c * k2 * side * side;
        side *= 2.0;
        cin = m * c;
    }
    g += conv(c, config.channels as f64, side);
    ForwardFlops {
        discriminator: d,
        generator: g,
    }
}

/// FLOPs of one training iteration at `config` (default updates: 1 D, 1 G), with the usual count
/// of a backward pass as twice the forward: D on real (3 D), fakes made without gradient (1 G), D on
/// fake (3 D), G through D (3 D + 3 G).
pub fn step_flops(config: &TrainConfig) -> f64 {
    let f = forward_flops(config);
    let b = config.batch as f64;
    let d = config.disc_updates as f64;
    let g = config.gen_updates as f64;
    b * (d * (6.0 * f.discriminator + f.generator)
        + g * (3.0 * f.discriminator + 3.0 * f.generator))
}

/// What `bench train` measured.
#[derive(Debug, Clone)]
pub struct StepTiming {
    pub seconds_per_step: f64,
    pub images_per_second: f64,
    pub gflops: f64,
}

impl StepTiming {
    fn from(seconds: f64, steps: usize, config: &TrainConfig) -> Self {
        let per = seconds / steps as f64;
        StepTiming {
            seconds_per_step: per,
            images_per_second: config.batch as f64 / per,
            gflops: step_flops(config) / per / 1e9,
        }
    }
}

/// This machine's practical fp32 ceiling, in GFLOP/s: the best of a few square `size³` matrix
/// products on all cores with the GEMM the convolution kernels use. No convolution can beat it
/// (a step at this rate would take `step_flops / ceiling`), so it is the "machine's limit" the
/// speed table sets beside ganforge's and PyTorch's figures, measured in the same run rather
/// than read off a data sheet.
pub fn gemm_ceiling_gflops(size: usize) -> f64 {
    use crate::kernels::gemm_conv::{Mat, matmul};
    let a: Vec<f32> = (0..size * size).map(|i| (i % 7) as f32 * 0.1).collect();
    let b: Vec<f32> = (0..size * size).map(|i| (i % 5) as f32 * 0.1).collect();
    let mut c = vec![0.0f32; size * size];
    let flops = 2.0 * (size as f64).powi(3);
    let mut best = 0.0f64;
    for _ in 0..5 {
        let started = Instant::now();
        matmul(
            &mut c,
            size,
            Mat::new(&a, size, size),
            Mat::new(&b, size, size),
            false,
            gemm::Parallelism::Rayon(0),
        );
        best = best.max(flops / started.elapsed().as_secs_f64() / 1e9);
    }
    best
}

/// Peak resident memory of this process so far (Linux: `VmHWM`), in MiB.
pub fn peak_resident_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// A data set of `count` random images at `config`'s shape (the speed does not depend on content).
fn random_images(config: &TrainConfig, count: usize) -> ImageSet {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let n = count * config.channels * config.spatial * config.spatial;
    let pixels = (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect();
    ImageSet::from_parts(
        pixels,
        config.channels,
        config.spatial,
        None,
        Vec::new(),
        Vec::new(),
    )
}

/// Times `iters` training steps after `warmup`, from a data set in memory and on one batch tensor.
pub fn time_training_step(
    config: &TrainConfig,
    device: DeviceChoice,
    warmup: usize,
    iters: usize,
) -> Result<(StepTiming, StepTiming)> {
    let device = device.device()?;
    let data = random_images(config, (4 * config.batch).max(64));
    let mut gan = Gan::new(config, &device);
    let mut order = DataOrder::new(config.seed, data.len());
    for _ in 0..warmup {
        gan.iteration(&data, &mut order);
    }
    let started = Instant::now();
    for _ in 0..iters {
        gan.iteration(&data, &mut order);
    }
    let from_data = StepTiming::from(started.elapsed().as_secs_f64(), iters, config);

    let indices: Vec<usize> = (0..config.batch).collect();
    let batch = data.batch(&indices, gan.device());
    let step = |gan: &mut Gan, i: u64| {
        gan.discriminator_step_real(batch.clone(), None);
        gan.discriminator_step_fake(gan.latent(Stream::DiscriminatorNoise, i, config.batch));
        gan.generator_step(gan.latent(Stream::GeneratorNoise, i, config.batch));
    };
    for i in 0..warmup as u64 {
        step(&mut gan, i);
    }
    let started = Instant::now();
    for i in 0..iters as u64 {
        step(&mut gan, i);
    }
    let in_memory = StepTiming::from(started.elapsed().as_secs_f64(), iters, config);
    Ok((from_data, in_memory))
}

/// Times generating `iters` batches after `warmup`: images per second.
pub fn time_sampling(
    config: &TrainConfig,
    device: DeviceChoice,
    warmup: usize,
    iters: usize,
) -> Result<f64> {
    let device = device.device()?;
    let gan = Gan::new(config, &device);
    for i in 0..warmup as u64 {
        let _ = crate::tensor_values(gan.generate(gan.latent(Stream::Sample, i, config.batch)));
    }
    let started = Instant::now();
    for i in 0..iters as u64 {
        // Reading the values back makes sure the work is done, as a user's sampling does.
        let _ = crate::tensor_values(gan.generate(gan.latent(Stream::Sample, i, config.batch)));
    }
    Ok((iters * config.batch) as f64 / started.elapsed().as_secs_f64())
}

/// The PyTorch reference's line, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct TorchTiming {
    pub version: String,
    pub threads: usize,
    pub seconds_per_step: f64,
    pub images_per_second: f64,
    pub peak_mib: Option<f64>,
}

/// The reference script: the repo's copy.
pub fn torch_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/torch_dcgan.py")
}

/// True when `python3 -c "import torch"` works.
pub fn torch_available() -> bool {
    Command::new("python3")
        .args(["-c", "import torch"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Runs the PyTorch reference at `config`'s shape; `mode` is `train` or `sample`.
pub fn run_torch(
    config: &TrainConfig,
    mode: &str,
    warmup: usize,
    iters: usize,
) -> Result<TorchTiming> {
    let script = torch_script();
    let output = Command::new("python3")
        .arg(&script)
        .args([
            "--mode",
            mode,
            "--batch",
            &config.batch.to_string(),
            "--spatial",
            &config.spatial.to_string(),
            "--capacity",
            &config.capacity.to_string(),
            "--latent",
            &config.latent.to_string(),
            "--filter",
            &config.filter.to_string(),
            "--channels",
            &config.channels.to_string(),
            "--iters",
            &iters.to_string(),
            "--warmup",
            &warmup.to_string(),
        ])
        .output()
        .map_err(|e| GanError::io(format!("cannot run python3 {}", script.display()), e))?;
    let text = String::from_utf8_lossy(&output.stdout).to_string();
    if !output.status.success() {
        return Err(GanError::Output(format!(
            "the PyTorch reference failed: {}",
            String::from_utf8_lossy(&output.stderr)
        )));
    }
    parse_torch_line(&text).ok_or_else(|| {
        GanError::Output(format!(
            "cannot read the PyTorch reference's output: {text}"
        ))
    })
}

/// Parses `torch <version> threads=<n> ... s_per_iter=<t> img_per_s=<r> [peak_mib=<m>]`.
pub fn parse_torch_line(text: &str) -> Option<TorchTiming> {
    let line = text.lines().find(|l| l.starts_with("torch "))?;
    let mut fields = line.split_whitespace();
    fields.next();
    let version = fields.next()?.to_string();
    let value = |key: &str| {
        line.split_whitespace()
            .find_map(|f| f.strip_prefix(&format!("{key}=")))
            .map(str::to_string)
    };
    Some(TorchTiming {
        version,
        threads: value("threads")?.parse().ok()?,
        seconds_per_step: value("s_per_iter")?.parse().ok()?,
        images_per_second: value("img_per_s")?.parse().ok()?,
        peak_mib: value("peak_mib").and_then(|v| v.parse().ok()),
    })
}

/// The theoretical single-precision peak of this machine is not measured here; the README states
/// the figure for the project's machine. This is the work of `iters` steps for a report line.
pub fn describe(config: &TrainConfig) -> String {
    format!(
        "DCGAN step at {}×{}×{}, batch {}, capacity {}, filter {}: {:.1} GFLOP",
        config.channels,
        config.spatial,
        config.spatial,
        config.batch,
        config.capacity,
        config.filter,
        step_flops(config) / 1e9
    )
}
