//! Drives a [`Gan`] through its iterations and writes the run directory as it goes.

use std::path::PathBuf;
use std::time::Instant;

use super::reporter::Console;
use burn::prelude::*;

use super::diagnostics::{Diagnostics, mean_pairwise_distance};
use super::random::{DataOrder, Stream};
use super::{Gan, Latent, label_tensor};
use crate::config::TrainConfig;
use crate::data::{DataSpec, ImageSet, LoadOptions};
use crate::device::DeviceChoice;
use crate::error::{GanError, Result};
use crate::eval::modes::{Mixture, mode_coverage, points_of};
use crate::models::ModelKind;
use crate::output::checkpoint;
use crate::output::figure::{SampleFigure, Tile};
use crate::output::loss_log::{LossLog, StepRecord, epoch_means};
use crate::output::plot::loss_plot;
use crate::output::run_dir::RunDir;
use crate::output::scatter::{ScatterPanel, scatter_png};
use crate::output::write_atomic;

/// Images shown in each row of a sample figure.
const PREVIEW: usize = 8;

/// How a run reports on the terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// A progress bar on a terminal, else a line per epoch.
    Auto,
    /// A line per epoch.
    Lines,
    /// Nothing (tests, library use).
    Quiet,
}

pub struct TrainOptions {
    pub device: DeviceChoice,
    /// The run directory; when absent, `runs_root/<name built from the config>`.
    pub out: Option<PathBuf>,
    pub runs_root: PathBuf,
    pub progress: Progress,
}

pub struct ResumeOptions {
    pub device: DeviceChoice,
    pub out: PathBuf,
    /// New total of iterations, if the run should go further than configured.
    pub steps: Option<usize>,
    pub epochs: Option<usize>,
    pub progress: Progress,
}

#[derive(Debug, Clone)]
pub struct TrainSummary {
    pub run_dir: PathBuf,
    /// Iterations completed.
    pub steps: usize,
    pub last: Option<StepRecord>,
    /// True when a stop was asked for (Ctrl-C, SIGTERM) before the last step.
    pub interrupted: bool,
}

/// Set by [`request_stop`]: the running loop finishes its step, checkpoints and returns.
static STOP: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Asks the running training loop to stop after its current step (what Ctrl-C and SIGTERM do
/// through the handler [`install_stop_handler`] installs).
pub fn request_stop() {
    STOP.store(true, std::sync::atomic::Ordering::SeqCst);
}

/// True once a stop was asked for.
pub(crate) fn stop_requested() -> bool {
    STOP.load(std::sync::atomic::Ordering::SeqCst)
}

/// Makes Ctrl-C (SIGINT) and SIGTERM stop training cleanly instead of killing the process.
pub fn install_stop_handler() -> Result<()> {
    ctrlc::set_handler(request_stop)
        .map_err(|e| GanError::Output(format!("cannot install the Ctrl-C handler: {e}")))
}

fn load_data(config: &TrainConfig) -> Result<ImageSet> {
    ImageSet::load(
        &config.data_spec()?,
        LoadOptions {
            spatial: config.spatial,
            channels: config.channels,
            limit: config.num_load,
        },
    )
}

/// The number of classes a conditional run on `data` has; `asked` (from the configuration) must
/// agree with the data.
fn classes_of(data: &ImageSet, asked: Option<usize>) -> Result<usize> {
    let found = data.class_names.len();
    if data.labels.is_none() || found < 2 {
        return Err(GanError::config(
            "conditional",
            "needs class labels: use `digits`, or a folder with one subfolder of images per class",
        ));
    }
    match asked {
        Some(asked) if asked != found => Err(GanError::config(
            "classes",
            format!("is {asked} but the data has {found} classes"),
        )),
        _ => Ok(found),
    }
}

/// Trains a new run. Everything that can be wrong with the input (configuration, device, data)
/// is checked before the run directory is made, so a refused run leaves nothing behind.
pub fn train(mut config: TrainConfig, options: TrainOptions) -> Result<TrainSummary> {
    if config.model == ModelKind::Cyclegan {
        return super::cycle_run::train_cyclegan(config, options);
    }
    config.validate()?;
    let device = options.device.device()?;
    let data = load_data(&config)?;
    if config.conditional {
        config.classes = Some(classes_of(&data, config.classes)?);
    }
    let run = match &options.out {
        Some(path) => RunDir::create(path)?,
        None => RunDir::create_numbered(&options.runs_root, &config.run_name())?,
    };
    write_atomic(&run.config_path(), config.to_toml().as_bytes())?;
    if !data.class_names.is_empty() {
        write_atomic(&run.classes_path(), data.class_names.join("\n").as_bytes())?;
    }
    let gan = Gan::new(&config, &device);
    let log = LossLog::create(&run.losses_csv())?;
    Session::new(run, gan, data, log, options.device, options.progress)?.run()
}

/// Continues a run from its latest checkpoint: same step, optimizer moments and random streams.
pub fn resume(options: ResumeOptions) -> Result<TrainSummary> {
    let run = RunDir::open(&options.out)?;
    let mut config = run.read_config()?;
    let before = config.clone();
    if let Some(steps) = options.steps {
        config.steps = Some(steps);
    }
    if let Some(epochs) = options.epochs {
        config.epochs = epochs;
    }
    config.validate()?;
    if config.model == ModelKind::Cyclegan {
        return super::cycle_run::resume_cyclegan(run, config, &options);
    }
    let device = options.device.device()?;
    let checkpoint_dir = checkpoint::latest(&run.checkpoints_dir())?;
    let gan = checkpoint::load(&config, &checkpoint_dir, &device)?;
    let data = load_data(&config)?;
    if config != before {
        write_atomic(&run.config_path(), config.to_toml().as_bytes())?;
    }
    let log = LossLog::resume(&run.losses_csv(), gan.step)?;
    Session::new(run, gan, data, log, options.device, options.progress)?.run()
}

/// "started", or "resumed at step N".
pub(crate) fn start_words(step: usize) -> String {
    if step == 0 {
        "started".to_string()
    } else {
        format!("resumed at step {step}")
    }
}

/// What a run stopped by a signal says.
pub(crate) fn stopped_message(step: usize, run: &std::path::Path) -> String {
    format!(
        "stopped at step {step} as asked; checkpoint and plots are written. Resume with: ganforge train --resume --out {}",
        run.display()
    )
}

/// Images D scores for a sample figure: a training-sized batch (at least the images shown), in
/// whole packs.
fn preview_count(config: &TrainConfig) -> usize {
    config.batch.max(PREVIEW).div_ceil(config.pack) * config.pack
}

/// One training session over a run directory.
struct Session {
    run: RunDir,
    gan: Gan,
    data: ImageSet,
    log: LossLog,
    console: Console,
    diagnostics: Diagnostics,
}

impl Session {
    fn new(
        run: RunDir,
        gan: Gan,
        data: ImageSet,
        log: LossLog,
        device: DeviceChoice,
        progress: Progress,
    ) -> Result<Self> {
        let console = Console::open(&run, progress, gan.config.total_steps(), gan.step)?;
        let diagnostics = Diagnostics::new(gan.config.loss);
        let mut session = Session {
            run,
            gan,
            data,
            log,
            console,
            diagnostics,
        };
        let start = start_words(session.gan.step);
        session.console.say(&format!(
            "run {} {start} on device {}: {} iterations",
            session.run.root().display(),
            device.name(),
            session.gan.config.total_steps()
        ))?;
        let summary = format!("data: {}", session.data.summary());
        session.console.say(&summary)?;
        Ok(session)
    }

    fn run(mut self) -> Result<TrainSummary> {
        let config = self.gan.config.clone();
        let total = config.total_steps();
        let mut order = DataOrder::new(config.seed, self.data.len());
        let mut interrupted = false;
        while self.gan.step < total {
            if stop_requested() {
                interrupted = true;
                break;
            }
            let started = Instant::now();
            let stats = self.gan.iteration(&self.data, &mut order);
            let seconds = started.elapsed().as_secs_f64();
            let step = self.gan.step;
            let record = StepRecord {
                step,
                epoch: (step - 1) / config.iterations_per_epoch,
                d_loss: stats.d_loss,
                g_loss: stats.g_loss,
                d_real: stats.d_real,
                d_fake: stats.d_fake,
                wasserstein: stats.wasserstein,
                d_grad_norm: stats.d_grad_norm,
                g_grad_norm: stats.g_grad_norm,
                seconds,
                images_per_second: config.batch as f64 / seconds.max(1e-9),
            };
            if ![stats.d_loss, stats.g_loss].iter().all(|v| v.is_finite()) {
                self.log.push(record)?;
                self.log.flush()?;
                let message = format!(
                    "training diverged at step {step}: a loss is NaN or infinite; the last good checkpoint in {} is kept (lower the learning rates and resume)",
                    self.run.checkpoints_dir().display()
                );
                self.console.say(&message)?;
                return Err(GanError::Output(message));
            }
            self.log.push(record.clone())?;
            self.console.progress(
                record.step,
                format!(
                    "epoch {} · D {:.3} · G {:.3} · D(x) {:.2} · D(G(z)) {:.2} · {:.0} img/s",
                    record.epoch + 1,
                    record.d_loss,
                    record.g_loss,
                    record.d_real,
                    record.d_fake,
                    record.images_per_second
                ),
            );
            for event in self.diagnostics.observe_step(&record) {
                self.console.say(&event.message())?;
            }
            if step.is_multiple_of(config.progress_interval) {
                self.write_samples()?;
            }
            if step.is_multiple_of(config.iterations_per_epoch) {
                self.end_epoch()?;
            }
            if step.is_multiple_of(config.checkpoint_interval) {
                self.log.flush()?;
                self.checkpoint()?;
            }
        }
        // The end of the run always leaves a checkpoint, samples and the plot of what was done.
        self.log.flush()?;
        let step = self.gan.step;
        if !step.is_multiple_of(config.checkpoint_interval) || step == 0 {
            self.checkpoint()?;
        }
        if !step.is_multiple_of(config.progress_interval) || step == 0 {
            self.write_samples()?;
        }
        if !step.is_multiple_of(config.iterations_per_epoch) {
            self.end_epoch()?;
        }
        // The report reads losses.csv: everything logged must be on disk first.
        self.log.flush()?;
        crate::output::report::write_report(self.run.root())?;
        self.console.finish();
        if interrupted {
            self.console.say(&stopped_message(step, self.run.root()))?;
        } else {
            self.console.say(&format!(
                "finished at step {step}; samples in {}, checkpoint in {}",
                self.run.samples_dir().display(),
                self.run.checkpoints_dir().display()
            ))?;
        }
        Ok(TrainSummary {
            run_dir: self.run.root().to_path_buf(),
            steps: step,
            last: self.log.rows().last().cloned(),
            interrupted,
        })
    }

    /// Writes a checkpoint, unless a weight has become NaN or infinite: then the run stops with
    /// the last good checkpoint kept.
    fn checkpoint(&mut self) -> Result<()> {
        let finite = crate::models::all_finite(&self.gan.generator)
            && crate::models::all_finite(&self.gan.discriminator);
        if !finite {
            let message = format!(
                "training diverged at step {}: a weight is NaN or infinite; the last good checkpoint in {} is kept (lower the learning rates and resume)",
                self.gan.step,
                self.run.checkpoints_dir().display()
            );
            self.console.say(&message)?;
            return Err(GanError::Output(message));
        }
        checkpoint::save(&self.gan, &self.run.checkpoints_dir()).map(|_| ())
    }

    fn end_epoch(&mut self) -> Result<()> {
        self.log.flush()?;
        let means = epoch_means(self.log.rows());
        write_atomic(&self.run.losses_png(), &loss_plot(&means)?)?;
        if let Some(m) = means.last() {
            let epochs = self
                .gan
                .config
                .total_steps()
                .div_ceil(self.gan.config.iterations_per_epoch);
            let line = format!(
                "epoch {}/{epochs} · step {} · D loss {:.4} · G loss {:.4} · D(x) {:.3} · D(G(z)) {:.3} · {:.0} img/s",
                m.epoch + 1,
                self.gan.step,
                m.d_loss,
                m.g_loss,
                m.d_real,
                m.d_fake,
                m.images_per_second
            );
            self.console.say(&line)?;
        }
        Ok(())
    }

    /// The tutorial's figure: generated images from fixed noise and real images, each with D's
    /// score under it. D scores a whole training-sized batch of each with the batch's own
    /// statistics, as it judges batches in training: its running averages mix the statistics of
    /// real and of fake batches, and would score neither as training does.
    fn write_samples(&mut self) -> Result<()> {
        if let DataSpec::Mixture(mixture) = self.gan.config.data_spec()? {
            return self.write_point_samples(mixture);
        }
        let gan = &self.gan;
        let classes = gan.config.condition_classes();
        // A conditional run shows one row per class, the same noise in each column; otherwise a
        // training-sized batch from fixed noise, of which the first images are shown.
        let latent = if classes > 0 {
            let noise = gan.latent(Stream::Preview, 0, PREVIEW).noise;
            let labels: Vec<usize> = (0..classes)
                .flat_map(|c| std::iter::repeat_n(c, PREVIEW))
                .collect();
            Latent {
                noise: Tensor::cat(vec![noise; classes], 0),
                labels: Some(label_tensor(&labels, gan.device())),
            }
        } else {
            gan.latent(Stream::Preview, 0, preview_count(&gan.config))
        };
        let fake_labels = latent.labels.clone();
        let fake = gan.generate(latent);
        let fake_scores = gan.training_scores(fake.clone(), fake_labels);
        let count = preview_count(&gan.config);
        let real_indices: Vec<usize> = (0..count).map(|i| i * self.data.len() / count).collect();
        let inner = gan.device().clone().without_autodiff();
        let real = self.data.batch(&real_indices, &inner);
        let real_scores =
            gan.training_scores(real.clone(), gan.real_labels(&self.data, &real_indices));
        let split = |images: Tensor<4>| -> Vec<Vec<f32>> {
            let [_, c, h, w] = images.dims();
            crate::tensor_values(images)
                .chunks_exact(c * h * w)
                .map(<[f32]>::to_vec)
                .collect()
        };
        let (fake, real) = (split(fake), split(real));
        let (fake_spread, real_spread) = match (&self.data.labels, classes) {
            (Some(labels), classes) if classes > 0 => {
                // Each class's row of fakes against as many real images of that class.
                let mut sums = (0.0, 0.0);
                for c in 0..classes {
                    let of_class: Vec<usize> = (0..self.data.len())
                        .filter(|&i| labels[i] == c)
                        .take(PREVIEW)
                        .collect();
                    let reals: Vec<Vec<f32>> = of_class
                        .iter()
                        .map(|&i| self.data.image(i).to_vec())
                        .collect();
                    sums.0 += mean_pairwise_distance(&fake[c * PREVIEW..(c + 1) * PREVIEW]);
                    sums.1 += mean_pairwise_distance(&reals);
                }
                sums
            }
            _ => (mean_pairwise_distance(&fake), mean_pairwise_distance(&real)),
        };
        let events = self
            .diagnostics
            .observe_diversity(gan.step, fake_spread, real_spread);
        let row = |images: &[Vec<f32>], scores: &[f32]| -> Vec<Tile> {
            images
                .iter()
                .zip(scores)
                .take(PREVIEW)
                .map(|(pixels, score)| Tile {
                    pixels: pixels.clone(),
                    caption: Some(format!("{score:.3}")),
                })
                .collect()
        };
        let mut rows = Vec::new();
        if classes > 0 {
            for c in 0..classes {
                let name = self
                    .data
                    .class_names
                    .get(c)
                    .cloned()
                    .unwrap_or_else(|| c.to_string());
                let range = c * PREVIEW..(c + 1) * PREVIEW;
                rows.push((
                    format!("generated, class {name}"),
                    row(&fake[range.clone()], &fake_scores[range]),
                ));
            }
        } else {
            rows.push(("generated".to_string(), row(&fake, &fake_scores)));
        }
        rows.push(("real".to_string(), row(&real, &real_scores)));
        let figure = SampleFigure {
            title: Some(format!("step {} — D(x) under each image", gan.step)),
            channels: gan.config.channels,
            spatial: gan.config.spatial,
            rows,
        };
        write_atomic(&self.run.sample_figure(gan.step), &figure.to_png()?)?;
        for event in events {
            self.console.say(&event.message())?;
        }
        // The report reads losses.csv: everything logged must be on disk first.
        self.log.flush()?;
        crate::output::report::write_report(self.run.root()).map(|_| ())
    }
}

impl Session {
    /// A mixture run's figure: a scatter of generated points over the modes, with their coverage
    /// in the title and the log.
    fn write_point_samples(&mut self, mixture: Mixture) -> Result<()> {
        let gan = &self.gan;
        let latent = gan.latent(Stream::Preview, 0, POINT_PREVIEW);
        let points = points_of(gan.generate(latent));
        let coverage = mode_coverage(mixture, &points);
        let summary = coverage.summary();
        let panel = ScatterPanel {
            title: summary.clone(),
            points,
            centres: mixture.centres(),
            extent: mixture.extent(),
        };
        let title = format!("step {}: {POINT_PREVIEW} generated points", gan.step);
        write_atomic(
            &self.run.sample_figure(gan.step),
            &scatter_png(&title, &[panel], 1)?,
        )?;
        self.console
            .say(&format!("step {}: {summary}", self.gan.step))?;
        // The report reads losses.csv: everything logged must be on disk first.
        self.log.flush()?;
        crate::output::report::write_report(self.run.root()).map(|_| ())
    }
}

/// Points each mixture figure shows (and measures its coverage on), as the benchmarks do.
const POINT_PREVIEW: usize = 2500;
