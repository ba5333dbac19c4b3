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
    /// A run directory made by `ganforge train`.
    #[arg(long, value_name = "DIR")]
    run: PathBuf,
    /// Number of images.
    #[arg(long, default_value_t = 64)]
    n: usize,
    /// Noise seed: the same seed gives the same images.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// The grid's PNG [default: <run>/samples/sample_seed<S>_n<N>.png].
    #[arg(long, value_name = "FILE.png")]
    out: Option<PathBuf>,
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
    let device = args.device.unwrap_or_else(DeviceChoice::default_available);
    let progress = if args.plain {
        Progress::Lines
    } else {
        Progress::Auto
    };
    let summary = if args.resume {
        if args.config.is_some() {
            return Err(GanError::ResumeChange("config".to_string()).into());
        }
        if let Some(key) = args
            .overrides
            .set_keys()
            .into_iter()
            .find(|k| !matches!(*k, "steps" | "epochs"))
        {
            return Err(GanError::ResumeChange(key.to_string()).into());
        }
        resume(ResumeOptions {
            device,
            out: args.out.context("--resume needs --out")?,
            steps: args.overrides.steps,
            epochs: args.overrides.epochs,
            progress,
        })?
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
    println!(
        "run directory: {} ({} iterations); draw more images with: ganforge sample --run {}",
        summary.run_dir.display(),
        summary.steps,
        summary.run_dir.display()
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
        device: args.device.unwrap_or_else(DeviceChoice::default_available),
    })?;
    println!("wrote {}", result.grid.display());
    if !result.each.is_empty() {
        println!("wrote {} single images", result.each.len());
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Train(args) => run_train(*args),
        Command::Sample(args) => run_sample(args),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
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
