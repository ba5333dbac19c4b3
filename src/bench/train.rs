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
use crate::models::{Discriminator, Generator, ModelKind};
use crate::models::{DiscriminatorNet, GeneratorNet};
use crate::train::Gan;
use crate::train::random::{DataOrder, Stream};

/// Floating-point operations of one forward pass of each network on one image, as the networks
/// count their own layers (a multiply-add is two; see [`Generator::forward_flops`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ForwardFlops {
    pub discriminator: f64,
    pub generator: f64,
}

/// The networks `config` trains, built but not drawn: burn initialises weights at their first
/// use, and the counts read only their shapes, so this takes nothing from any random stream.
///
/// # Panics
/// For a CycleGAN configuration (its networks are not a [`Generator`] and a [`Discriminator`]),
/// or when no backend is compiled in.
fn networks(config: &TrainConfig) -> (Generator, Discriminator) {
    let device = DeviceChoice::default_available()
        .device()
        .expect("a backend is compiled in");
    (
        config.init_generator(&device),
        config.init_discriminator(&device),
    )
}

/// The shape of a batch of `batch` samples at `config`'s size.
fn samples(config: &TrainConfig, batch: usize) -> [usize; 4] {
    [
        batch,
        config.input.channels,
        config.input.spatial,
        config.input.spatial,
    ]
}

/// The configured networks' forward FLOPs per image. D's is its share of a packed input: a D
/// that packs m images does one pass for m of them.
pub fn forward_flops(config: &TrainConfig) -> ForwardFlops {
    let (generator, discriminator) = networks(config);
    let pack = config.remedies.pack.max(1);
    ForwardFlops {
        discriminator: discriminator.forward_flops(samples(config, pack)) as f64 / pack as f64,
        generator: generator.forward_flops(1) as f64,
    }
}

/// Which of the loop's updates an iteration makes (see [`Gan::iteration`]).
#[derive(Debug, Clone, Copy)]
struct Plan {
    disc_updates: usize,
    gen_updates: usize,
    gradient_penalty: bool,
    mixed_batches: bool,
    feature_matching: bool,
    /// R1's interval when the run has the penalty: its input gradient on the real batch,
    /// backpropagated, every so many iterations.
    r1_interval: Option<usize>,
}

impl Plan {
    fn of(config: &TrainConfig) -> Self {
        Plan {
            disc_updates: config.schedule.disc_updates,
            gen_updates: config.schedule.gen_updates,
            gradient_penalty: config.objective.loss.objective().gradient_penalty(),
            mixed_batches: config.remedies.mixed_batches,
            feature_matching: config.remedies.feature_matching,
            r1_interval: config
                .objective
                .r1_gamma
                .map(|_| config.objective.r1_interval.max(1)),
        }
    }

    /// The tutorial's iteration: one D update on a real and one on a fake batch, one G update.
    fn tutorial() -> Self {
        Plan {
            disc_updates: 1,
            gen_updates: 1,
            gradient_penalty: false,
            mixed_batches: false,
            feature_matching: false,
            r1_interval: None,
        }
    }
}

/// FLOPs of one iteration of `plan` on `generator` and `discriminator` at `config`'s batch and
/// image size, with the usual count of a backward pass as twice its forward (so a pass that is
/// backpropagated costs 3 forwards) and the networks' own counts of their forwards:
///
/// - each D update: G makes a fake batch without gradient (1 G), then D on the real batch
///   (3 D) and on the fakes (3 D); with `mixed_batches` one pass over both (3 D on 2 batches);
///   WGAN-GP adds the penalty's input gradient on the interpolates, backpropagated (3 × its own
///   count);
/// - each G update: G through D, backpropagated (3 G + 3 D); feature matching adds D's forward
///   on the real batch, without gradient (1 D, the head included).
fn iteration_flops(
    config: &TrainConfig,
    plan: Plan,
    generator: &Generator,
    discriminator: &Discriminator,
) -> f64 {
    let b = config.schedule.batch;
    let g = generator.forward_flops(b) as f64;
    let d = discriminator.forward_flops(samples(config, b)) as f64;
    let d_update = if plan.mixed_batches && !plan.gradient_penalty {
        g + 3.0 * discriminator.forward_flops(samples(config, 2 * b)) as f64
    } else {
        let penalty = if plan.gradient_penalty {
            3.0 * discriminator.input_gradient_flops(samples(config, b)) as f64
        } else {
            0.0
        };
        // R1 on the real batch, in the iterations it runs, spread over all of them.
        let penalty = penalty
            + plan.r1_interval.map_or(0.0, |k| {
                3.0 * discriminator.input_gradient_flops(samples(config, b)) as f64 / k as f64
            });
        g + 6.0 * d + penalty
    };
    let g_update = 3.0 * g + 3.0 * d + if plan.feature_matching { d } else { 0.0 };
    plan.disc_updates as f64 * d_update + plan.gen_updates as f64 * g_update
}

/// FLOPs of one training iteration at `config` (its updates, objective and remedies; see
/// `iteration_flops`), from the configured networks' own layer counts.
///
/// # Panics
/// For a CycleGAN configuration.
/// A recipe's configuration at a shape, on folder data: what `bench train`, `bench sample` and
/// `bench ops` measure, with D's normalisation changed where `d_norm` is given (the PyTorch
/// reference follows it).
pub fn recipe_config(
    recipe: crate::config::Recipe,
    spatial: usize,
    channels: usize,
    batch: usize,
    capacity: usize,
    d_norm: Option<crate::models::NormKind>,
) -> Result<TrainConfig> {
    crate::config::TrainOverrides {
        data: Some(crate::data::DataSpec::Folder(".".into())),
        spatial: Some(spatial),
        channels: Some(channels),
        batch: Some(batch),
        capacity: Some(capacity),
        recipe: Some(recipe),
        d_norm,
        ..Default::default()
    }
    .resolve()
}

pub fn step_flops(config: &TrainConfig) -> f64 {
    let (generator, discriminator) = networks(config);
    iteration_flops(config, Plan::of(config), &generator, &discriminator)
}

/// What `bench train` measured.
#[derive(Debug, Clone)]
pub struct StepTiming {
    pub seconds_per_step: f64,
    pub images_per_second: f64,
    pub gflops: f64,
}

impl StepTiming {
    /// `steps` steps of `flops` each on batches of `batch`, in `seconds`.
    fn from(seconds: f64, steps: usize, batch: usize, flops: f64) -> Self {
        let per = seconds / steps as f64;
        StepTiming {
            seconds_per_step: per,
            images_per_second: batch as f64 / per,
            gflops: flops / per / 1e9,
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
    let n = count * config.input.channels * config.input.spatial * config.input.spatial;
    let pixels = (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect();
    ImageSet::from_parts(
        pixels,
        config.input.channels,
        config.input.spatial,
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
    let data = random_images(config, (4 * config.schedule.batch).max(64));
    let mut gan = Gan::new(config, &device);
    let mut order = DataOrder::new(config.schedule.seed, data.len());
    for _ in 0..warmup {
        gan.iteration(&data, &mut order);
    }
    let started = Instant::now();
    for _ in 0..iters {
        gan.iteration(&data, &mut order);
    }
    let from_data = StepTiming::from(
        started.elapsed().as_secs_f64(),
        iters,
        config.schedule.batch,
        iteration_flops(config, Plan::of(config), &gan.generator, &gan.discriminator),
    );

    let indices: Vec<usize> = (0..config.schedule.batch).collect();
    let batch = data.batch(&indices, gan.device());
    let step = |gan: &mut Gan, i: u64| {
        gan.discriminator_step_real(batch.clone(), None);
        gan.discriminator_step_fake(gan.latent(
            Stream::DiscriminatorNoise,
            i,
            config.schedule.batch,
        ));
        gan.generator_step(gan.latent(Stream::GeneratorNoise, i, config.schedule.batch));
    };
    for i in 0..warmup as u64 {
        step(&mut gan, i);
    }
    let started = Instant::now();
    for i in 0..iters as u64 {
        step(&mut gan, i);
    }
    // This loop makes the tutorial's updates whatever the configuration says.
    let in_memory = StepTiming::from(
        started.elapsed().as_secs_f64(),
        iters,
        config.schedule.batch,
        iteration_flops(config, Plan::tutorial(), &gan.generator, &gan.discriminator),
    );
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
        let _ = crate::tensor_values(gan.generate(gan.latent(
            Stream::Sample,
            i,
            config.schedule.batch,
        )));
    }
    let started = Instant::now();
    for i in 0..iters as u64 {
        // Reading the values back makes sure the work is done, as a user's sampling does.
        let _ = crate::tensor_values(gan.generate(gan.latent(
            Stream::Sample,
            i,
            config.schedule.batch,
        )));
    }
    Ok((iters * config.schedule.batch) as f64 / started.elapsed().as_secs_f64())
}

/// The PyTorch reference's line, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct TorchTiming {
    pub version: String,
    pub threads: usize,
    pub seconds_per_step: f64,
    pub images_per_second: f64,
    pub peak_mib: Option<f64>,
    /// Where it ran (`cpu`, or `cuda:<GPU name>`), when the script says.
    pub device: Option<String>,
    /// Peak GPU memory PyTorch allocated (CUDA runs), MiB.
    pub gpu_peak_mib: Option<f64>,
}

/// Where the PyTorch reference runs for a ganforge device: on the GPU (CUDA) when ganforge
/// times a GPU backend, so that both sides use the same card; on the CPU otherwise.
pub fn torch_device_for(device: DeviceChoice) -> &'static str {
    match device {
        DeviceChoice::Cuda | DeviceChoice::Wgpu => "cuda",
        DeviceChoice::Cpu | DeviceChoice::Tch => "cpu",
    }
}

/// The reference script's `--d-norm` value.
fn d_norm_name(norm: crate::models::NormKind) -> &'static str {
    match norm {
        crate::models::NormKind::Batch => "batch",
        crate::models::NormKind::Layer => "layer",
        crate::models::NormKind::None => "none",
    }
}

/// The reference script's `--recipe` value.
fn recipe_name(recipe: crate::config::Recipe) -> &'static str {
    match recipe {
        crate::config::Recipe::Modern => "modern",
        crate::config::Recipe::Tutorial => "tutorial",
    }
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

/// Runs the PyTorch reference at `config`'s shape and recipe on `torch_device` (`cpu` or
/// `cuda`); `mode` is `train` or `sample`.
pub fn run_torch(
    config: &TrainConfig,
    mode: &str,
    torch_device: &str,
    warmup: usize,
    iters: usize,
) -> Result<TorchTiming> {
    let script = torch_script();
    let output = Command::new("python3")
        .arg(&script)
        .args([
            "--mode",
            mode,
            "--recipe",
            recipe_name(config.networks.recipe),
            "--device",
            torch_device,
            "--batch",
            &config.schedule.batch.to_string(),
            "--spatial",
            &config.input.spatial.to_string(),
            "--capacity",
            &config.networks.capacity.to_string(),
            "--latent",
            &config.networks.latent.to_string(),
            "--filter",
            &config.networks.filter.to_string(),
            "--channels",
            &config.input.channels.to_string(),
            "--d-norm",
            d_norm_name(config.networks.d_norm),
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
        device: value("device"),
        gpu_peak_mib: value("gpu_peak_mib").and_then(|v| v.parse().ok()),
    })
}

/// The step `bench train` times and its work, for the report's first line.
pub fn describe(config: &TrainConfig) -> String {
    let model = match config.networks.model {
        ModelKind::Dcgan => "DCGAN",
        ModelKind::Mlp => "MLP",
        ModelKind::Resnet => "ResNet",
        ModelKind::Cyclegan => "CycleGAN",
    };
    format!(
        "{model} step at {}×{}×{}, batch {}, capacity {}, filter {}: {:.1} GFLOP",
        config.input.channels,
        config.input.spatial,
        config.input.spatial,
        config.schedule.batch,
        config.networks.capacity,
        config.networks.filter,
        step_flops(config) / 1e9
    )
}
