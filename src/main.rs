//! The `ganforge` command line.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use ganforge::config::TrainOverrides;
use ganforge::device::DeviceChoice;
use ganforge::error::GanError;
use ganforge::sample::{SampleOptions, sample};
use ganforge::train::{Progress, ResumeOptions, TrainOptions, resume, train};

// mimalloc keeps freed pages mapped for reuse: with the system allocator every step's large
// buffers came back as fresh pages, and the page faults (with their TLB shoot-downs across the
// cores) cost several percent of the training step (`perf`, README Speed).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (the same place in its option enum in mimalloc 2 and 3;
/// libmimalloc-sys names no constant for it).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Keeps freed memory mapped: by default mimalloc hands unused pages back to the kernel after a
/// second, and a training step's 8 MiB activations then come back as freshly zeroed huge pages
/// (`perf`: 8% of the step in the kernel's page clearing; 0.29 → 0.27 s/step). The peak resident
/// memory is unchanged, since the same buffers are reused step after step.
fn keep_freed_memory() {
    // SAFETY: sets a plain integer option; mimalloc reads options at each purge decision.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
}

#[derive(Parser)]
#[command(
    name = "ganforge",
    version,
    about = "Train, sample and evaluate GANs (burn; CPU by default, GPU when compiled in)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train the tutorial's DCGAN (default data: the embedded handwritten digits).
    Train(Box<TrainArgs>),
    /// Draw images from a trained run's generator.
    Sample(SampleArgs),
    /// The judge classifier of the evaluation scores.
    Classifier {
        #[command(subcommand)]
        command: ClassifierCommand,
    },
    /// Score a run's generator against the real data (writes eval.json into the run).
    Eval(EvalArgs),
    /// The Fréchet distance between two folders of images (as `python -m pytorch_fid A B`),
    /// in the features of a judge or of your own feature network.
    Fid(FidArgs),
    /// Write a labelled synthetic data set (one folder per class) for data augmentation.
    Export(ExportArgs),
    /// Write a run's networks as PyTorch weights (safetensors, the state_dict names of
    /// scripts/ganforge_torch.py; see docs/pytorch-weights.md).
    ExportModel(ExportModelArgs),
    /// Translate every image of a folder with a CycleGAN run's generator (same file names).
    Translate(TranslateArgs),
    /// Walk between latent points (spherical interpolation): an image grid or an animated GIF.
    Interpolate(InterpolateArgs),
    /// Rebuild a run's report.html (configuration, curves, warnings, samples, scores).
    Report {
        /// A run directory.
        #[arg(long, value_name = "DIR")]
        run: PathBuf,
    },
    /// Benchmarks that train and measure, and print a table.
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
}

#[derive(clap::Args)]
struct InterpolateArgs {
    /// A run directory made by `ganforge train`.
    #[arg(long, value_name = "DIR")]
    run: PathBuf,
    /// Images along each walk, both ends included.
    #[arg(long, default_value_t = 10)]
    steps: usize,
    /// Walks (grid rows; side by side in a GIF).
    #[arg(long, default_value_t = 8)]
    rows: usize,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// FILE.png (a grid, a walk per row) or FILE.gif (an animation, there and back).
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    #[arg(long, value_enum)]
    device: Option<DeviceChoice>,
}

#[derive(clap::Args)]
struct TranslateArgs {
    /// A run directory made by `ganforge train --model cyclegan`.
    #[arg(long, value_name = "DIR")]
    run: PathBuf,
    /// a2b: domain A to B (G); b2a: B to A (F).
    #[arg(long, value_enum)]
    direction: ganforge::train::cycle::Direction,
    /// A folder of images (PNG, JPEG, BMP, WebP; searched recursively).
    #[arg(long, value_name = "DIR")]
    input: PathBuf,
    /// A new or empty folder outside the input; it gets one translation per input, same name.
    #[arg(long, value_name = "DIR")]
    output: PathBuf,
    /// Resize each translation back to its input's size (default: the size the run trained at).
    #[arg(long)]
    original_size: bool,
    #[arg(long, value_enum)]
    device: Option<DeviceChoice>,
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Mode collapse: plain GAN against packing (PacGAN) over several seeds, on 2-D mixtures
    /// (modes captured, high-quality share, reverse KL) or stacked digits (1000 modes).
    Modes(BenchModesArgs),
    /// A shipped CycleGAN task (digits ↔ thick, inverted, coloured digits; or, with `--task
    /// emoji`, Noto ↔ Twemoji emoji): trains the judges of both domains when missing, trains the
    /// CycleGAN and prints its cycle error and class preservation (and for the emoji, content
    /// kept and FID on the held-out halves, each against the untranslated images).
    Cycle(BenchCycleArgs),
    /// Speed of the tutorial's training step (images/s, s/step, GFLOP/s, peak memory), against
    /// PyTorch in the same run when `python3 -c "import torch"` works.
    Train(BenchSpeedArgs),
    /// Speed of generation, against PyTorch likewise.
    Sample(BenchSpeedArgs),
    /// Each operation of the step at its real shape, forward and backward.
    Ops(BenchSpeedArgs),
}

#[derive(clap::Args)]
struct BenchSpeedArgs {
    /// Image side [default: 64, the tutorial's]
    #[arg(long, default_value_t = 64)]
    spatial: usize,
    #[arg(long, default_value_t = 32)]
    batch: usize,
    #[arg(long, default_value_t = 16)]
    capacity: usize,
    #[arg(long, default_value_t = 3)]
    channels: usize,
    /// The recipe whose step is timed (the PyTorch reference runs the same recipe)
    #[arg(long, value_enum, default_value = "tutorial")]
    recipe: ganforge::config::Recipe,
    /// D's normalisation over the recipe's (tutorial: batch; modern: none); the PyTorch
    /// reference follows it (`layer` is its GroupNorm with one group)
    #[arg(long, value_enum)]
    d_norm: Option<ganforge::models::NormKind>,
    /// Timed iterations (after the warm-up)
    #[arg(long, default_value_t = 10)]
    iters: usize,
    #[arg(long, default_value_t = 3)]
    warmup: usize,
    /// Skip the PyTorch reference.
    #[arg(long)]
    no_torch: bool,
    /// `bench train`: rounds of ganforge's timing then PyTorch's, alternated, so that both sides
    /// meet the same minutes of a machine whose speed drifts; with more than one, the medians
    /// and the spread of the rounds' ratios close the report
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=50))]
    rounds: u32,
    #[arg(long, value_enum)]
    device: Option<DeviceChoice>,
}

impl BenchSpeedArgs {
    /// The recipe's configuration at this shape, D normalised as asked.
    fn config(&self) -> anyhow::Result<ganforge::config::TrainConfig> {
        Ok(ganforge::bench::train::recipe_config(
            self.recipe,
            self.spatial,
            self.channels,
            self.batch,
            self.capacity,
            self.d_norm,
        )?)
    }
}

#[derive(clap::Args)]
struct BenchCycleArgs {
    /// The task: digits ↔ restyled digits, or Noto ↔ Twemoji emoji (held-out content kept and
    /// style reached, and a figure)
    #[arg(long, value_enum, default_value = "digits")]
    task: ganforge::bench::cycle::CycleTask,
    /// Training iterations [default: the task's, 2000]
    #[arg(long)]
    steps: Option<usize>,
    /// Seed of the run [default: 42]
    #[arg(long)]
    seed: Option<u64>,
    /// Training keys over the task's preset, as `train --config`
    #[arg(long, value_name = "FILE.toml")]
    config: Option<PathBuf>,
    /// The run directory [default: runs/<name>]
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    #[arg(long, value_enum)]
    device: Option<DeviceChoice>,
    /// A line per epoch instead of a progress bar.
    #[arg(long)]
    plain: bool,
}

#[derive(clap::Args)]
struct BenchModesArgs {
    /// `mixture:ring8`, `mixture:grid25` or `stacked-digits`.
    #[arg(long, default_value = "mixture:ring8")]
    data: String,
    /// Packing degrees to compare, 1 being the plain GAN [default: 1,2,3,4; 1,2 for stacked digits]
    #[arg(long, value_delimiter = ',')]
    pack: Option<Vec<usize>>,
    /// Seeds per packing degree [default: 3 for mixtures, 2 for stacked digits; 10 with
    /// `--protocol pacgan`]
    #[arg(long)]
    seeds: Option<usize>,
    /// Training iterations of each run [default: 6000 for mixtures, 2000 for stacked digits;
    /// 400 000 and 100 000 with `--protocol pacgan`]
    #[arg(long)]
    steps: Option<usize>,
    /// Samples measured per run [default: 2500 for mixtures, 10000 for stacked digits]
    #[arg(long)]
    samples: Option<usize>,
    /// Runs trained at once [default: the number of cores]
    #[arg(long)]
    jobs: Option<usize>,
    /// The settings of each run: ganforge's presets in minutes (`fast`), or the paper's own
    /// (`pacgan`: its learning rates, batches and 400 000 or 100 000 iterations, 10 seeds; hours)
    #[arg(long, value_enum, default_value = "fast")]
    protocol: ganforge::bench::modes::Protocol,
    /// Keys set over the protocol's for every run (any `train` key but `data`, `pack`, `seed`,
    /// `steps` and `batch`, which are the benchmark's), e.g. `lr_decay_start = 1500`
    #[arg(long, value_name = "FILE.toml")]
    config: Option<PathBuf>,
    /// Stacked digits: the digits judge that reads each channel [default: judges/digits_s16_c1]
    #[arg(long, value_name = "DIR|FILE.safetensors")]
    classifier: Option<PathBuf>,
    /// A new or empty directory for the table, the per-run CSV and the figure
    /// [default: runs/bench-modes-<data>]
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    #[arg(long, value_enum)]
    device: Option<DeviceChoice>,
}

#[derive(clap::Args)]
struct ExportArgs {
    /// A run directory made by `ganforge train`.
    #[arg(long, value_name = "DIR")]
    run: PathBuf,
    /// Images to write.
    #[arg(long)]
    n: usize,
    /// A new or empty folder; it gets one subfolder per class, readable by `--data folder:DIR`.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// The judge that labels an unconditional run's images [default: the data set's].
    #[arg(long, value_name = "DIR")]
    classifier: Option<PathBuf>,
    #[arg(long, value_enum)]
    device: Option<DeviceChoice>,
}

#[derive(clap::Args)]
struct FidArgs {
    /// The first folder (PNG, JPEG, BMP, WebP; searched recursively; any size and mode).
    #[arg(value_name = "DIR_A")]
    a: PathBuf,
    /// The second folder.
    #[arg(value_name = "DIR_B")]
    b: PathBuf,
    /// The feature network: a judge (`ganforge classifier train`, e.g. judges/digits_s16_c1), a
    /// feature network of your own (FILE.safetensors, docs/feature-network.md), or pytorch-fid's
    /// Inception weights converted to safetensors (docs/inception-fid.md) for the standard FID.
    #[arg(long, value_name = "DIR|FILE.safetensors")]
    features: PathBuf,
    /// The side images are resized to [default: the network's own].
    #[arg(long, value_name = "S")]
    spatial: Option<usize>,
    #[arg(long, value_enum)]
    device: Option<DeviceChoice>,
    /// Also write every image's feature vector to FILE.safetensors (tensors `a`, `b`).
    #[arg(long, value_name = "FILE.safetensors")]
    save_features: Option<PathBuf>,
}

#[derive(clap::Args)]
struct ExportModelArgs {
    /// A run directory made by `ganforge train` (the DCGAN family).
    #[arg(long, value_name = "DIR")]
    run: PathBuf,
    /// The networks to write.
    #[arg(long, value_enum, default_value = "generator")]
    what: ganforge::output::torch_weights::ExportWhat,
    /// A new file ending in .safetensors.
    #[arg(long, value_name = "FILE.safetensors")]
    out: PathBuf,
}

#[derive(Subcommand)]
enum ClassifierCommand {
    /// Train a judge on labelled data and save it (held-out accuracy reported).
    Train(ClassifierTrainArgs),
    /// Write a judge as a safetensors feature network (PyTorch names and layouts; see
    /// docs/feature-network.md), for use elsewhere or as `--classifier FILE.safetensors`.
    Export(ClassifierExportArgs),
}

#[derive(clap::Args)]
struct ClassifierExportArgs {
    /// A judge saved by `ganforge classifier train`.
    #[arg(long, value_name = "DIR")]
    judge: PathBuf,
    /// The file to write (must not exist).
    #[arg(long, value_name = "FILE.safetensors")]
    out: PathBuf,
}

#[derive(clap::Args)]
struct ClassifierTrainArgs {
    /// Labelled data: `digits`, `emoji` or `folder:DIR` with one subfolder per class.
    #[arg(long, default_value = "digits")]
    data: String,
    /// Image side [default: the data's, as for training: 16 for digits, 64 for emoji and folders].
    #[arg(long)]
    spatial: Option<usize>,
    /// Image channels [default: 1 for digits, 3 for emoji and folders].
    #[arg(long)]
    channels: Option<usize>,
    /// What transparent pixels are composited onto: white, black or #rrggbb (as a run's key).
    #[arg(long, default_value = "white")]
    background: ganforge::data::Background,
    #[arg(long, default_value_t = 60)]
    epochs: usize,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Where to save the judge [default: judges/<data>_s<spatial>_c<channels>, where eval looks].
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    #[arg(long, value_enum)]
    device: Option<DeviceChoice>,
}

#[derive(clap::Args)]
struct EvalArgs {
    /// A run directory made by `ganforge train`.
    #[arg(long, value_name = "DIR")]
    run: PathBuf,
    /// Generated images to score, at most half the real data (which eval halves: as many held-out
    /// real images are scored the same way, against the other half).
    #[arg(long, default_value_t = 1000)]
    n: usize,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// A judge saved by `ganforge classifier train`, or a feature network of your own in the
    /// safetensors layout of docs/feature-network.md [default: the run's data set's judge].
    #[arg(long, value_name = "DIR|FILE.safetensors")]
    classifier: Option<PathBuf>,
    /// CycleGAN runs: the judge of domain A [default: judges/<data_a>_s<spatial>_c<channels>]
    #[arg(long, value_name = "DIR|FILE.safetensors")]
    classifier_a: Option<PathBuf>,
    /// CycleGAN runs: the judge of domain B
    #[arg(long, value_name = "DIR|FILE.safetensors")]
    classifier_b: Option<PathBuf>,
    /// Conditional runs: epochs of the TSTR and TRTR classifiers' training; 0 skips TSTR (the
    /// two trainings take minutes at 64×64 on a CPU)
    #[arg(long, default_value_t = 30)]
    tstr_epochs: usize,
    /// Conditional runs: images drawn of each class for the judge's per-class accuracy, apart
    /// from the --n scored images (500 a class tell a class's share to about a point); 0 reads
    /// the --n images' labels instead
    #[arg(long, default_value_t = 500)]
    per_class: usize,
    /// Score the generator of every checkpoint the run kept (train with --keep-checkpoints N to
    /// keep more), write eval_checkpoints.json and show the scores over training in the report.
    #[arg(long)]
    all_checkpoints: bool,
    #[arg(long, value_enum)]
    device: Option<DeviceChoice>,
}

#[derive(clap::Args)]
struct TrainArgs {
    /// A TOML file of configuration keys (as in a run's config.toml); flags override it.
    #[arg(long, value_name = "FILE.toml")]
    config: Option<PathBuf>,
    /// The run directory [default: runs/<name built from the configuration>].
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Continue the run in --out from its latest checkpoint (--steps/--epochs may extend it).
    #[arg(long, requires = "out")]
    resume: bool,
    /// Backend to run on [default: the first compiled in: cpu, cuda, wgpu, tch].
    #[arg(long, value_enum)]
    device: Option<DeviceChoice>,
    /// Print a line per epoch instead of a progress bar.
    #[arg(long)]
    plain: bool,
    #[command(flatten)]
    overrides: TrainOverrides,
}

#[derive(clap::Args)]
struct SampleArgs {
    /// A run directory made by `ganforge train`, or a generator's weights (FILE.safetensors,
    /// from `ganforge export-model` or saved in PyTorch by scripts/ganforge_torch.py).
    #[arg(long, value_name = "DIR|FILE.safetensors")]
    run: PathBuf,
    /// Number of images.
    #[arg(long, default_value_t = 64)]
    n: usize,
    /// Noise seed: the same seed gives the same images.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// The grid's PNG [default: <run>/samples/sample_seed<S>_n<N>.png; needed with a weights file].
    #[arg(long, value_name = "FILE.png")]
    out: Option<PathBuf>,
    /// Also write the noise, labels and images as float tensors (safetensors), with the run's
    /// discriminator's logits of the images, to compare with another implementation fed the
    /// same noise.
    #[arg(long, value_name = "FILE.safetensors")]
    tensors: Option<PathBuf>,
    /// Also write one PNG per image into this new or empty folder.
    #[arg(long, value_name = "DIR")]
    each: Option<PathBuf>,
    /// Draw only class K (conditional runs); without it a conditional run's grid has one row per
    /// class, n/classes images each.
    #[arg(long, value_name = "K")]
    label: Option<usize>,
    #[arg(long, value_enum)]
    device: Option<DeviceChoice>,
}

fn run_train(args: TrainArgs) -> anyhow::Result<()> {
    ganforge::train::install_stop_handler()?;
    let device = args.device.unwrap_or_else(DeviceChoice::default_available);
    let progress = if args.plain {
        Progress::Lines
    } else {
        Progress::Auto
    };
    let summary = if args.resume {
        let out = args.out.context("--resume needs --out")?;
        resume(ResumeOptions::from_keys(
            &args.overrides,
            args.config.is_some(),
            device,
            out,
            progress,
        )?)?
    } else {
        let from_file = match &args.config {
            Some(path) => TrainOverrides::from_file(path)?,
            None => TrainOverrides::default(),
        };
        let config = from_file.overridden_by(args.overrides).resolve()?;
        train(
            config,
            TrainOptions {
                device,
                out: args.out,
                runs_root: PathBuf::from("runs"),
                progress,
            },
        )?
    };
    let dir = summary.run_dir.display();
    if summary.interrupted {
        return Err(GanError::Interrupted {
            step: summary.steps,
            run: summary.run_dir.clone(),
        }
        .into());
    }
    let config = ganforge::output::run_dir::RunDir::open(&summary.run_dir)?.read_config()?;
    let next = config.next_command(&summary.run_dir);
    println!(
        "run directory: {dir} ({} iterations); {next}",
        summary.steps
    );
    Ok(())
}

fn run_sample(args: SampleArgs) -> anyhow::Result<()> {
    let result = sample(&SampleOptions {
        run: args.run,
        n: args.n,
        seed: args.seed,
        out: args.out,
        each: args.each,
        label: args.label,
        tensors: args.tensors,
        device: args.device.unwrap_or_else(DeviceChoice::default_available),
    })?;
    println!("wrote {}", result.grid.display());
    if let Some(tensors) = &result.tensors {
        println!("wrote {}", tensors.display());
    }
    if !result.each.is_empty() {
        println!("wrote {} single images", result.each.len());
    }
    Ok(())
}

fn run_classifier_train(args: ClassifierTrainArgs) -> anyhow::Result<()> {
    use ganforge::eval::judge::{JudgeRequest, train_and_save};
    let device = args
        .device
        .unwrap_or_else(DeviceChoice::default_available)
        .device()?;
    println!("training a judge on {}", args.data);
    let saved = train_and_save(
        &JudgeRequest {
            data: args.data,
            spatial: args.spatial,
            channels: args.channels,
            epochs: args.epochs,
            seed: args.seed,
            background: args.background,
            out: args.out,
        },
        &device,
    )?;
    println!(
        "data: {}; held-out accuracy {:.2}% on {} images (balanced over the classes: {:.2}%); judge saved in {}",
        saved.data_summary,
        100.0 * saved.info.held_out_accuracy.unwrap_or(f64::NAN),
        saved.info.held_out_images,
        100.0 * saved.balanced_accuracy(),
        saved.dir.display()
    );
    let per_class: Vec<String> = saved
        .info
        .class_names
        .iter()
        .zip(&saved.held_out_per_class)
        .map(|(name, (right, n))| format!("{name} {right}/{n}"))
        .collect();
    println!("held out, right per class: {}", per_class.join(", "));
    Ok(())
}

fn run_classifier_export(args: ClassifierExportArgs) -> anyhow::Result<()> {
    use ganforge::eval::feature_net::{is_feature_network, save_feature_network};
    use ganforge::eval::judge::load_judge;
    if !is_feature_network(&args.out) {
        return Err(GanError::config(
            "out",
            format!(
                "is {}: name a file ending in .safetensors",
                args.out.display()
            ),
        )
        .into());
    }
    let (judge, info) = load_judge(&args.judge, &burn::prelude::Device::flex())?;
    save_feature_network(&judge, &info, &args.out)?;
    println!("wrote {}", args.out.display());
    Ok(())
}

fn run_bench_train(args: BenchSpeedArgs) -> anyhow::Result<()> {
    use ganforge::bench::train::{
        describe, gemm_ceiling_gflops, peak_resident_mib, run_torch, step_flops,
        time_training_step, torch_available, torch_device_for,
    };
    let config = args.config()?;
    let device = args.device.unwrap_or_else(DeviceChoice::default_available);
    println!(
        "{}; {} warm-up + {} timed steps{}",
        describe(&config),
        args.warmup,
        args.iters,
        if args.rounds > 1 {
            format!(", {} rounds", args.rounds)
        } else {
            String::new()
        }
    );
    let with_torch = !args.no_torch && torch_available();
    // Per round: ganforge's s/step from the data set, PyTorch's, and their ratio.
    let mut rounds: Vec<(f64, Option<f64>)> = Vec::new();
    for round in 1..=args.rounds {
        if args.rounds > 1 {
            println!("round {round}:");
        }
        let (from_data, in_memory) = time_training_step(&config, device, args.warmup, args.iters)?;
        for (what, t) in [
            ("from a data set in memory", &from_data),
            ("on one batch tensor", &in_memory),
        ] {
            println!(
                "ganforge ({}) {what}: {:.3} s/step, {:.1} images/s, {:.1} GFLOP/s",
                device.name(),
                t.seconds_per_step,
                t.images_per_second,
                t.gflops
            );
        }
        if let Some(peak) = peak_resident_mib() {
            println!("ganforge peak resident memory: {peak:.0} MiB");
        }
        if round == 1 && matches!(device, DeviceChoice::Cpu | DeviceChoice::Tch) {
            // The CPU's own ceiling; a GPU's is its data sheet's (README, "Speed").
            let ceiling = gemm_ceiling_gflops(1024);
            println!(
                "machine's limit: fp32 GEMM at {ceiling:.0} GFLOP/s (1024³ on {} threads), the step's {:.1} GFLOP in {:.3} s",
                rayon::current_num_threads(),
                step_flops(&config) / 1e9,
                step_flops(&config) / 1e9 / ceiling
            );
        }
        if !with_torch {
            rounds.push((from_data.seconds_per_step, None));
            continue;
        }
        let torch = run_torch(
            &config,
            "train",
            torch_device_for(device),
            args.warmup,
            args.iters,
        )?;
        println!(
            "torch {} ({}, {} threads): {:.3} s/step, {:.1} images/s{}{}",
            torch.version,
            torch.device.as_deref().unwrap_or("cpu"),
            torch.threads,
            torch.seconds_per_step,
            torch.images_per_second,
            torch
                .peak_mib
                .map(|m| format!(", peak resident memory {m:.0} MiB"))
                .unwrap_or_default(),
            torch
                .gpu_peak_mib
                .map(|m| format!(", peak GPU memory {m:.0} MiB"))
                .unwrap_or_default()
        );
        println!(
            "ratio (ganforge / torch images/s): {:.2}",
            from_data.images_per_second / torch.images_per_second
        );
        rounds.push((from_data.seconds_per_step, Some(torch.seconds_per_step)));
    }
    if !with_torch {
        println!("PyTorch reference skipped (no `import torch`, or --no-torch)");
    }
    if rounds.len() > 1 {
        let ours: Vec<f64> = rounds.iter().map(|r| r.0).collect();
        print!(
            "over {} rounds: ganforge {:.3} s/step (median; {:.3}–{:.3})",
            rounds.len(),
            median(&ours),
            ours.iter().copied().fold(f64::INFINITY, f64::min),
            ours.iter().copied().fold(0.0, f64::max)
        );
        let theirs: Vec<f64> = rounds.iter().filter_map(|r| r.1).collect();
        if theirs.len() == rounds.len() {
            let ratios: Vec<f64> = rounds.iter().filter_map(|r| Some(r.1? / r.0)).collect();
            print!(
                ", torch {:.3} s/step (median; {:.3}–{:.3}), ratio {:.2} (median; {:.2}–{:.2})",
                median(&theirs),
                theirs.iter().copied().fold(f64::INFINITY, f64::min),
                theirs.iter().copied().fold(0.0, f64::max),
                median(&ratios),
                ratios.iter().copied().fold(f64::INFINITY, f64::min),
                ratios.iter().copied().fold(0.0, f64::max)
            );
        }
        println!();
    }
    Ok(())
}

/// The middle value (the mean of the two middle ones for an even count).
fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

fn run_bench_sample(args: BenchSpeedArgs) -> anyhow::Result<()> {
    use ganforge::bench::train::{run_torch, time_sampling, torch_available, torch_device_for};
    let config = args.config()?;
    let device = args.device.unwrap_or_else(DeviceChoice::default_available);
    let ours = time_sampling(&config, device, args.warmup, args.iters)?;
    println!(
        "ganforge ({}) generates {ours:.1} images/s ({}×{}×{}, batch {})",
        device.name(),
        config.input.channels,
        config.input.spatial,
        config.input.spatial,
        config.schedule.batch
    );
    if args.no_torch || !torch_available() {
        println!("PyTorch reference skipped (no `import torch`, or --no-torch)");
        return Ok(());
    }
    let torch = run_torch(
        &config,
        "sample",
        torch_device_for(device),
        args.warmup,
        args.iters,
    )?;
    println!(
        "torch {} ({}, {} threads) generates {:.1} images/s; ratio {:.2}",
        torch.version,
        torch.device.as_deref().unwrap_or("cpu"),
        torch.threads,
        torch.images_per_second,
        ours / torch.images_per_second
    );
    Ok(())
}

fn run_bench_ops(args: BenchSpeedArgs) -> anyhow::Result<()> {
    let config = args.config()?;
    let device = args.device.unwrap_or_else(DeviceChoice::default_available);
    let ops = ganforge::bench::ops::profile_ops(&config, device, args.warmup, args.iters)?;
    println!("| operation | input | forward ms | forward GFLOP/s | forward + backward ms |");
    println!("|---|---|---|---|---|");
    for op in &ops {
        println!(
            "| {} | {:?} | {:.2} | {} | {:.2} |",
            op.name,
            op.input,
            op.forward_ms,
            op.forward_gflops()
                .map(|g| format!("{g:.1}"))
                .unwrap_or_else(|| "–".into()),
            op.forward_backward_ms
        );
    }
    let total: f64 = ops
        .iter()
        .filter(|o| !o.alternative)
        .map(|o| o.forward_backward_ms)
        .sum();
    println!("sum of forward + backward (the forms the models use): {total:.1} ms");
    Ok(())
}

fn print_translation(report: &ganforge::eval::translation::TranslationReport) {
    let share = |v: Option<f64>| {
        v.map(|v| format!("{:.1}%", 100.0 * v))
            .unwrap_or_else(|| "– (no judge for the target domain)".to_string())
    };
    println!(
        "{} at step {} ({} images of A, {} of B)",
        report.run, report.step, report.images_a, report.images_b
    );
    println!(
        "cycle error (mean |reconstruction − original|, pixels in [-1, 1]): A {:.4}, B {:.4}",
        report.cycle_error_a, report.cycle_error_b
    );
    println!(
        "class preserved: A→B {}, B→A {}",
        share(report.class_preserved_ab),
        share(report.class_preserved_ba)
    );
}

fn run_bench_cycle(args: BenchCycleArgs) -> anyhow::Result<()> {
    use ganforge::bench::cycle::{CycleBenchOptions, run_cycle_bench};
    let mut keys = match &args.config {
        Some(path) => ganforge::config::TrainOverrides::from_file(path)?,
        None => ganforge::config::TrainOverrides::default(),
    };
    keys.seed = args.seed.or(keys.seed);
    let report = run_cycle_bench(&CycleBenchOptions {
        task: args.task,
        keys,
        steps: args.steps,
        out: args.out,
        device: args.device.unwrap_or_else(DeviceChoice::default_available),
        progress: if args.plain {
            Progress::Lines
        } else {
            Progress::Auto
        },
    })?;
    for (name, accuracy) in &report.judges_trained {
        println!(
            "trained the judge of {name}: held-out accuracy {:.2}%",
            100.0 * accuracy
        );
    }
    println!(
        "trained {} iterations in {:.0} s",
        report.steps, report.train_seconds
    );
    print_translation(&report.translation);
    if let Some((emoji, figure)) = &report.emoji {
        print_emoji_task(emoji);
        println!("figure: {}", figure.display());
    }
    Ok(())
}

fn print_emoji_task(report: &ganforge::eval::emoji_task::EmojiTaskReport) {
    println!(
        "held-out emoji (content kept: nearest target-style image at 16×16 is the true counterpart; FID on the target domain's judge, to the target style's other half):"
    );
    println!(
        "{:<6} {:>7} {:>14} {:>14} {:>10} {:>14} {:>14}",
        "", "images", "content kept", "untranslated", "FID", "untranslated", "counterparts"
    );
    for (name, d) in [("A→B", &report.a2b), ("B→A", &report.b2a)] {
        println!(
            "{:<6} {:>7} {:>13.1}% {:>13.1}% {:>10.2} {:>14.2} {:>14.2}",
            name,
            d.images,
            100.0 * d.content_kept,
            100.0 * d.content_kept_untranslated,
            d.fid,
            d.fid_untranslated,
            d.fid_counterparts
        );
    }
}

fn run_translate(args: TranslateArgs) -> anyhow::Result<()> {
    use ganforge::translate::{TranslateOptions, translate};
    let result = translate(&TranslateOptions {
        run: args.run,
        direction: args.direction,
        input: args.input,
        output: args.output.clone(),
        original_size: args.original_size,
        device: args.device.unwrap_or_else(DeviceChoice::default_available),
    })?;
    for (path, why) in &result.skipped {
        eprintln!("skipped {}: {why}", path.display());
    }
    println!(
        "translated {} image(s) into {}",
        result.written.len(),
        args.output.display()
    );
    Ok(())
}

fn run_bench_modes(args: BenchModesArgs) -> anyhow::Result<()> {
    use ganforge::bench::modes::{ModesBenchOptions, default_out, run_modes_bench, write_report};
    let device = args.device.unwrap_or_else(DeviceChoice::default_available);
    let mut options = ModesBenchOptions::for_protocol(&args.data, device, args.protocol)?;
    if let Some(file) = &args.config {
        let keys = ganforge::config::TrainOverrides::from_file(file)?;
        let owned = ["data", "pack", "seed", "steps", "batch"];
        if let Some(key) = keys.set_keys().into_iter().find(|k| owned.contains(k)) {
            anyhow::bail!(
                "{} sets `{key}`, which the benchmark sets itself for each run: use --data, --pack, --seeds or --steps instead",
                file.display()
            );
        }
        options.keys = keys;
    }
    if let Some(pack) = args.pack {
        options.packs = pack;
    }
    options.seeds = args.seeds.unwrap_or(options.seeds);
    options.steps = args.steps.unwrap_or(options.steps);
    options.samples = args.samples.unwrap_or(options.samples);
    options.jobs = args.jobs.unwrap_or(options.jobs);
    let out = args.out.unwrap_or_else(|| default_out(&args.data));
    ganforge::output::require_empty_dir(&out, "choose another --out")?;
    let judge = options.judge(args.classifier.as_deref())?;
    println!(
        "bench modes on {}: packing {:?} × {} seed(s), {} steps each, {} at a time",
        options.data, options.packs, options.seeds, options.steps, options.jobs
    );
    let report = run_modes_bench(&options, judge, |cell| {
        let m = &cell.measures;
        println!(
            "  pack {} seed {}: modes {}/{}{} · reverse KL {:.3}{} ({:.0} s)",
            cell.pack,
            cell.seed,
            m.modes_captured,
            m.modes,
            m.high_quality
                .map(|h| format!(" · high quality {:.1}%", 100.0 * h))
                .unwrap_or_default(),
            m.reverse_kl,
            m.digit_kl
                .map(|k| format!(" (digits {k:.3})"))
                .unwrap_or_default(),
            cell.seconds
        );
    })?;
    println!("\n{}", report.table());
    for path in write_report(&report, &out)? {
        println!("wrote {}", path.display());
    }
    Ok(())
}

fn run_eval_checkpoints(
    run: &std::path::Path,
    options: &ganforge::eval::evaluate::EvalOptions,
) -> anyhow::Result<()> {
    let scores = ganforge::eval::evaluate::evaluate_checkpoints(run, options)?;
    println!(
        "{}: {} checkpoints, {} generated images each against the reference half (judge {})",
        scores.run,
        scores.checkpoints.len(),
        scores.generated,
        scores.judge
    );
    println!(
        "{:>8} {:>8} {:>10} {:>9} {:>9} {:>7}",
        "step", "IS", "FID", "KID", "precision", "recall"
    );
    let row = |label: String, s: &ganforge::eval::evaluate::SampleScores| {
        println!(
            "{label:>8} {:>8.3} {:>10.4} {:>9.5} {:>9.3} {:>7.3}",
            s.inception_score, s.frechet_distance, s.kernel_distance, s.precision, s.recall
        )
    };
    for c in &scores.checkpoints {
        row(c.step.to_string(), &c.scores);
    }
    row("real".to_string(), &scores.real_reference);
    if let Some(best) = scores.best() {
        println!(
            "lowest FID at step {} ({:.4}); wrote {}",
            best.step,
            best.scores.frechet_distance,
            ganforge::output::run_dir::RunDir::open(run)?
                .checkpoint_scores()
                .display()
        );
    }
    Ok(())
}

fn run_eval(args: EvalArgs) -> anyhow::Result<()> {
    let mut options = ganforge::eval::evaluate::EvalOptions::new(
        args.n,
        args.device.unwrap_or_else(DeviceChoice::default_available),
    );
    options.seed = args.seed;
    options.judge = args.classifier.clone();
    options.classifier_training = options.classifier_training.with_epochs(args.tstr_epochs);
    options.per_class = args.per_class;
    if args.all_checkpoints {
        return run_eval_checkpoints(&args.run, &options);
    }
    let judges = ganforge::eval::translation::DomainJudges {
        a: args.classifier_a.clone(),
        b: args.classifier_b.clone(),
    };
    let report = match ganforge::eval::evaluate_run(&args.run, &options, &judges)? {
        ganforge::eval::RunScores::Translation(report) => {
            print_translation(&report);
            return Ok(());
        }
        ganforge::eval::RunScores::Generator(report) => report,
    };
    println!(
        "{} at step {} (judge {}{})",
        report.run,
        report.step,
        report.judge,
        report
            .judge_held_out_accuracy
            .map(|a| format!(", held-out accuracy {:.2}%", 100.0 * a))
            .unwrap_or_default()
    );
    let real = &report.real_reference;
    println!(
        "against {} images of the reference half of the real data ({}):",
        report.real, report.real_split
    );
    println!(
        "{:<24} {:>16} {:>20}",
        "",
        format!("{} generated", report.generated),
        format!("{} real held out", real.images)
    );
    for (score, generated, held_out, decimals) in [
        (
            "Inception-style score",
            report.inception_score_generated,
            real.inception_score,
            3,
        ),
        (
            "Fréchet distance",
            report.frechet_distance,
            real.frechet_distance,
            4,
        ),
        (
            "kernel distance (KID)",
            report.kernel_distance,
            real.kernel_distance,
            5,
        ),
        ("precision", report.precision, real.precision, 3),
        ("recall", report.recall, real.recall, 3),
    ] {
        println!("{score:<24} {generated:>16.decimals$} {held_out:>20.decimals$}");
    }
    let by_class = |shares: &[f64]| -> String {
        let shown: Vec<String> = shares
            .iter()
            .enumerate()
            .map(|(c, a)| format!("{c}: {:.1}%", 100.0 * a))
            .collect();
        shown.join(", ")
    };
    if let Some(per_class) = &report.per_class_accuracy {
        let drawn = report
            .per_class_images
            .map(|n| format!(" ({n} images each)"))
            .unwrap_or_default();
        println!(
            "judge accuracy on each asked class{drawn}: {}",
            by_class(per_class)
        );
    }
    if let Some(per_class) = &report.per_class_accuracy_real {
        println!("… on held-out real images:         {}", by_class(per_class));
    }
    if let (Some(tstr), Some(trtr)) = (report.tstr_accuracy, report.trtr_accuracy) {
        println!(
            "train on synthetic, test on real: {:.2}% (train on real: {:.2}%)",
            100.0 * tstr,
            100.0 * trtr
        );
    } else if report.per_class_accuracy.is_some() && args.tstr_epochs == 0 {
        println!("train on synthetic, test on real: skipped (--tstr-epochs 0)");
    }
    println!("written to {}/eval.json", args.run.display());
    Ok(())
}

fn run_fid(args: FidArgs) -> anyhow::Result<()> {
    use ganforge::eval::folder_fid::{FidOptions, folder_fid_with_progress};
    let started = std::time::Instant::now();
    let mut last_report = std::time::Instant::now();
    let report = folder_fid_with_progress(
        &FidOptions {
            a: args.a,
            b: args.b,
            features: args.features.clone(),
            spatial: args.spatial,
            device: args.device.unwrap_or_else(DeviceChoice::default_available),
            save_features: args.save_features.clone(),
        },
        // The Inception features take minutes on a CPU: say how far they are every 10 s.
        &mut |dir, done, all| {
            if last_report.elapsed().as_secs() >= 10 || done == all {
                eprintln!("{}: features of {done}/{all} images", dir.display());
                last_report = std::time::Instant::now();
            }
        },
    )?;
    for folder in [&report.a, &report.b] {
        eprintln!("{}: {}", folder.dir.display(), folder.summary);
    }
    eprintln!(
        "features: {} ({} per image, images at {}×{}×{})",
        args.features.display(),
        report.dimensions,
        report.channels,
        report.spatial,
        report.spatial
    );
    if report.a.images.min(report.b.images) <= report.dimensions {
        eprintln!(
            "warning: fewer images a side than features ({}): the covariances are singular and \
             the distance is biased upwards; compare figures made from the same counts",
            report.dimensions
        );
    }
    if let Some(out) = &args.save_features {
        eprintln!("features written to {}", out.display());
    }
    eprintln!(
        "{} images in {:.1} s",
        report.a.images + report.b.images,
        started.elapsed().as_secs_f64()
    );
    println!("FID: {:.4}", report.fid);
    Ok(())
}

fn run_export_model(args: ExportModelArgs) -> anyhow::Result<()> {
    let exported = ganforge::output::torch_weights::export_model(&args.run, args.what, &args.out)?;
    println!(
        "wrote {} ({} tensors, step {})",
        exported.path.display(),
        exported.tensors,
        exported.step
    );
    Ok(())
}

fn run_export(args: ExportArgs) -> anyhow::Result<()> {
    let export = ganforge::eval::export::export(
        &args.run,
        args.n,
        args.seed,
        &args.out,
        args.classifier.as_deref(),
        args.device.unwrap_or_else(DeviceChoice::default_available),
    )?;
    let counts: Vec<String> = export
        .per_class
        .iter()
        .map(|(name, n)| format!("{name}: {n}"))
        .collect();
    let how = if export.judge_labelled {
        "labelled by the judge"
    } else {
        "labelled as asked"
    };
    println!(
        "wrote {} images into {} ({how}; {})",
        args.n,
        args.out.display(),
        counts.join(", ")
    );
    Ok(())
}

fn main() -> ExitCode {
    keep_freed_memory();
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Train(args) => run_train(*args),
        Command::Sample(args) => run_sample(args),
        Command::Classifier {
            command: ClassifierCommand::Train(args),
        } => run_classifier_train(args),
        Command::Classifier {
            command: ClassifierCommand::Export(args),
        } => run_classifier_export(args),
        Command::Eval(args) => run_eval(args),
        Command::Fid(args) => run_fid(args),
        Command::Bench {
            command: BenchCommand::Modes(args),
        } => run_bench_modes(args),
        Command::Translate(args) => run_translate(args),
        Command::Report { run } => ganforge::output::report::write_report(&run)
            .map(|path| println!("wrote {}", path.display()))
            .map_err(Into::into),
        Command::Interpolate(args) => {
            let out =
                ganforge::interpolate::interpolate(&ganforge::interpolate::InterpolateOptions {
                    run: args.run,
                    steps: args.steps,
                    rows: args.rows,
                    seed: args.seed,
                    out: args.out,
                    device: args.device.unwrap_or_else(DeviceChoice::default_available),
                });
            out.map(|path| println!("wrote {}", path.display()))
                .map_err(Into::into)
        }
        Command::Bench {
            command: BenchCommand::Train(args),
        } => run_bench_train(args),
        Command::Bench {
            command: BenchCommand::Sample(args),
        } => run_bench_sample(args),
        Command::Bench {
            command: BenchCommand::Ops(args),
        } => run_bench_ops(args),
        Command::Bench {
            command: BenchCommand::Cycle(args),
        } => run_bench_cycle(args),
        Command::Export(args) => run_export(args),
        Command::ExportModel(args) => run_export_model(args),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        // Stopped by Ctrl-C or SIGTERM, cleanly: the shell's code for SIGINT.
        Err(err)
            if matches!(
                err.downcast_ref::<GanError>(),
                Some(GanError::Interrupted { .. })
            ) =>
        {
            eprintln!("{err}");
            ExitCode::from(130)
        }
        Err(err) => {
            eprintln!("error: {err:#}");
            if bail_hint(&err) {
                eprintln!("(run `ganforge --help` for usage)");
            }
            ExitCode::FAILURE
        }
    }
}

/// Usage errors get a pointer to the help.
fn bail_hint(err: &anyhow::Error) -> bool {
    matches!(
        err.downcast_ref::<GanError>(),
        Some(GanError::ResumeChange(_))
    )
}
