//! The one session driver: every model family trains through [`Session`], which owns the run
//! directory, the loss log and the console, and holds the one start/resume path, the one step
//! loop, the one divergence and finite-weights check, the one checkpoint path and the one end of
//! run. A family plugs in by implementing [`Trainer`].

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use burn::prelude::Device;

use super::reporter::{Console, Progress};
use crate::config::{TrainConfig, TrainOverrides};
use crate::device::DeviceChoice;
use crate::error::{GanError, Result};
use crate::output::checkpoint::{self, CheckpointState, FORMAT_VERSION};
use crate::output::loss_log::{LogRecord, LossLog};
use crate::output::run_dir::RunDir;
use crate::output::run_lock::RunLock;
use crate::output::tensorboard::EventWriter;
use crate::output::write_atomic;

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
    /// A new number of checkpoints to keep (on a full disk, fewer).
    pub keep_checkpoints: Option<usize>,
    /// Where to write TensorBoard's event files from now on.
    pub tensorboard: Option<PathBuf>,
    pub progress: Progress,
}

impl ResumeOptions {
    /// The keys a resumed run may change: its length (`steps`, `epochs`), how many
    /// checkpoints it keeps and where its TensorBoard files go. A run's other keys are what its checkpoints were made with, so any
    /// other key set in `keys` (or a config file, `from_file`) is refused with its name.
    pub fn from_keys(
        keys: &TrainOverrides,
        from_file: bool,
        device: DeviceChoice,
        out: PathBuf,
        progress: Progress,
    ) -> Result<Self> {
        if from_file {
            return Err(GanError::ResumeChange("config".to_string()));
        }
        if let Some(key) = keys
            .set_keys()
            .into_iter()
            .find(|k| !matches!(*k, "steps" | "epochs" | "keep_checkpoints" | "tensorboard"))
        {
            return Err(GanError::ResumeChange(key.to_string()));
        }
        Ok(ResumeOptions {
            device,
            out,
            steps: keys.steps,
            epochs: keys.epochs,
            keep_checkpoints: keys.keep_checkpoints,
            tensorboard: keys.tensorboard.clone(),
            progress,
        })
    }
}

/// The last iteration a session logged: its step and its loss terms by column name.
#[derive(Debug, Clone, PartialEq)]
pub struct LastStep {
    pub step: usize,
    pub losses: Vec<(&'static str, f64)>,
}

#[derive(Debug, Clone)]
pub struct TrainSummary {
    pub run_dir: PathBuf,
    /// Iterations completed.
    pub steps: usize,
    /// The last logged iteration (none when the session ran no step and the log is empty).
    pub last: Option<LastStep>,
    /// True when a stop was asked for (Ctrl-C, SIGTERM) before the last step.
    pub interrupted: bool,
}

/// A row of `losses.csv` as the session handles it.
pub(crate) trait TrainRecord: LogRecord {
    /// The iteration's loss terms by column name: the run diverges when one is not finite.
    fn losses(&self) -> Vec<(&'static str, f64)>;
    /// Sets the iteration's wall time and throughput.
    fn set_timing(&mut self, seconds: f64, images_per_second: f64);
}

/// A model family in training: what the session driver needs of it.
pub(crate) trait Trainer: Sized {
    type Record: TrainRecord;
    /// What the start line calls a run of this family.
    const RUN: &'static str;
    /// What the end line calls its sample figures.
    const FIGURES: &'static str;

    /// Loads the data and draws fresh networks; the configuration may be completed from the
    /// data (a conditional run's classes), and is what `config.toml` records.
    fn start(config: TrainConfig, device: &Device) -> Result<Self>;
    /// Loads the data and the networks and optimizers of checkpoint `dir`, whose state the
    /// session has checked against the run's configuration.
    fn restore(
        config: TrainConfig,
        dir: &Path,
        state: &CheckpointState,
        device: &Device,
    ) -> Result<Self>;
    fn config(&self) -> &TrainConfig;
    /// Iterations completed.
    fn step(&self) -> usize;
    /// Files the run directory gets at the start besides `config.toml` (none by default).
    fn write_start_files(&self, _run: &RunDir) -> Result<()> {
        Ok(())
    }
    /// The start lines describing the data.
    fn data_lines(&self) -> Vec<String>;
    /// Images one iteration goes through (for images/s).
    fn images_per_iteration(&self) -> usize;
    /// One iteration; its record, timing still unset.
    fn iteration(&mut self) -> Self::Record;
    /// The text beside the progress bar.
    fn progress_text(&self, record: &Self::Record) -> String;
    /// Warnings raised by the iteration just logged (none by default).
    fn observe(&mut self, _record: &Self::Record) -> Vec<String> {
        Vec::new()
    }
    /// The sample figure of the current step (PNG) and the lines it has to say.
    fn sample_figure(&mut self) -> Result<(Vec<u8>, Vec<String>)>;
    /// The loss plot of `rows` (PNG) and the end-of-epoch line.
    fn epoch_summary(&self, rows: &[Self::Record]) -> Result<(Vec<u8>, Option<String>)>;
    /// True when every weight of every network is finite.
    fn weights_finite(&self) -> bool;
    /// The checkpoint's files (name, bytes); the session adds `state.toml`.
    fn checkpoint_files(&self, hint: &Path) -> Result<Vec<(&'static str, Vec<u8>)>>;
}

/// Set by [`request_stop`]: the running loop finishes its step, checkpoints and returns.
static STOP: AtomicBool = AtomicBool::new(false);

/// Asks the running training loop to stop after its current step (what Ctrl-C and SIGTERM do
/// through the handler [`install_stop_handler`] installs).
pub fn request_stop() {
    STOP.store(true, Ordering::SeqCst);
}

fn stop_requested() -> bool {
    STOP.load(Ordering::SeqCst)
}

/// Makes Ctrl-C (SIGINT) and SIGTERM stop training cleanly instead of killing the process.
pub fn install_stop_handler() -> Result<()> {
    ctrlc::set_handler(request_stop)
        .map_err(|e| GanError::Output(format!("cannot install the Ctrl-C handler: {e}")))
}

/// The run directory of a run to resume and its configuration with the new length; `true`
/// when that length differs from what `config.toml` says.
pub(crate) fn resumed_config(options: &ResumeOptions) -> Result<(RunDir, TrainConfig, bool)> {
    let run = RunDir::open(&options.out)?;
    let mut config = run.read_config()?;
    let before = config.clone();
    if let Some(steps) = options.steps {
        config.schedule.steps = Some(steps);
    }
    if let Some(epochs) = options.epochs {
        config.schedule.epochs = epochs;
    }
    if let Some(keep) = options.keep_checkpoints {
        config.schedule.keep_checkpoints = keep;
    }
    if let Some(dir) = &options.tensorboard {
        config.schedule.tensorboard = Some(dir.clone());
    }
    config.validate()?;
    let changed = config != before;
    Ok((run, config, changed))
}

/// Starts a new run of family `T` and trains it. Everything that can be wrong with the input
/// (device, data) is checked before the run directory is made, so a refused run leaves nothing.
pub(crate) fn start<T: Trainer>(
    config: TrainConfig,
    options: TrainOptions,
) -> Result<TrainSummary> {
    let device = options.device.device()?;
    let trainer = T::start(config, &device)?;
    let config = trainer.config();
    if let Some(logdir) = &config.schedule.tensorboard {
        crate::output::tensorboard::prepare(logdir)?;
    }
    let run = match &options.out {
        Some(path) => RunDir::create(path)?,
        None => RunDir::create_numbered(&options.runs_root, &config.run_name())?,
    };
    // The lock before any file: of two processes that made the same new directory, one writes.
    let lock = RunLock::acquire(run.root())?;
    if run.config_path().exists() {
        // Another process started (and finished) a run here since the directory was checked.
        return Err(GanError::RunExists(run.root().to_path_buf()));
    }
    write_atomic(&run.config_path(), config.to_toml().as_bytes())?;
    trainer.write_start_files(&run)?;
    let log = LossLog::create(&run.losses_csv())?;
    Session::open(run, lock, trainer, log, options.device, options.progress)?.run()
}

/// Continues run `run` of family `T` from its latest checkpoint and trains it.
pub(crate) fn restart<T: Trainer>(
    run: RunDir,
    config: TrainConfig,
    changed: bool,
    options: &ResumeOptions,
) -> Result<TrainSummary> {
    // The lock before anything is read for writing: a second writer is refused here, at once.
    let lock = RunLock::acquire(run.root())?;
    // What a writer killed (or stopped by a full disk) left half-written goes now.
    for dir in [
        run.root().to_path_buf(),
        run.samples_dir(),
        run.checkpoints_dir(),
    ] {
        crate::output::remove_partial_files(&dir);
    }
    let device = options.device.device()?;
    let dir = checkpoint::latest(&run.checkpoints_dir())?;
    let state = checkpoint::read_state_of_run(&dir, &config)?;
    let trainer = T::restore(config, &dir, &state, &device)?;
    if changed {
        write_atomic(&run.config_path(), trainer.config().to_toml().as_bytes())?;
    }
    let log = LossLog::resume(&run.losses_csv(), trainer.step())?;
    Session::open(run, lock, trainer, log, options.device, options.progress)?.run()
}

/// A `losses.csv` row as TensorBoard scalars: every numeric column but the step and epoch,
/// under `train/`.
fn scalars_of<R: TrainRecord>(record: &R) -> Vec<(String, f64)> {
    let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(record) else {
        return Vec::new();
    };
    fields
        .into_iter()
        .filter(|(name, _)| !matches!(name.as_str(), "step" | "epoch"))
        .filter_map(|(name, value)| Some((format!("train/{name}"), value.as_f64()?)))
        .collect()
}

/// "started", or "resumed at step N".
fn start_words(step: usize) -> String {
    if step == 0 {
        "started".to_string()
    } else {
        format!("resumed at step {step}")
    }
}

/// What a run stopped by a signal says.
fn stopped_message(step: usize, run: &Path) -> String {
    format!(
        "stopped at step {step} as asked; checkpoint and plots are written. Resume with: ganforge train --resume --out {}",
        run.display()
    )
}

/// What a diverged run says (`what`: "a loss is NaN or infinite", …).
fn diverged_message(step: usize, what: &str, run: &RunDir) -> String {
    format!(
        "training diverged at step {step}: {what}; the last good checkpoint in {} is kept (lower the learning rates and resume)",
        run.checkpoints_dir().display()
    )
}

/// One training session over a run directory.
struct Session<T: Trainer> {
    run: RunDir,
    /// Held for as long as the session writes the run.
    _lock: RunLock,
    trainer: T,
    log: LossLog<T::Record>,
    console: Console,
    /// The TensorBoard event file, when the run writes one.
    events: Option<EventWriter>,
}

impl<T: Trainer> Session<T> {
    fn open(
        run: RunDir,
        lock: RunLock,
        trainer: T,
        log: LossLog<T::Record>,
        device: DeviceChoice,
        progress: Progress,
    ) -> Result<Self> {
        let total = trainer.config().total_steps();
        let console = Console::open(&run, progress, total, trainer.step())?;
        let events = match &trainer.config().schedule.tensorboard {
            Some(dir) => {
                let name = run.root().file_name().unwrap_or(run.root().as_os_str());
                let resumed_from = (trainer.step() > 0).then_some(trainer.step());
                Some(EventWriter::create(&dir.join(name), resumed_from)?)
            }
            None => None,
        };
        let mut session = Session {
            run,
            _lock: lock,
            trainer,
            log,
            console,
            events,
        };
        let line = format!(
            "{} {} {} on device {}: {total} iterations",
            T::RUN,
            session.run.root().display(),
            start_words(session.trainer.step()),
            device.name(),
        );
        session.console.say(&line)?;
        for line in session.trainer.data_lines() {
            session.console.say(&line)?;
        }
        if let Some(events) = &session.events {
            let line = format!("TensorBoard events: {}", events.path().display());
            session.console.say(&line)?;
        }
        Ok(session)
    }

    fn run(mut self) -> Result<TrainSummary> {
        let config = self.trainer.config().clone();
        let total = config.total_steps();
        let images = self.trainer.images_per_iteration() as f64;
        let mut interrupted = false;
        while self.trainer.step() < total {
            if stop_requested() {
                interrupted = true;
                break;
            }
            let started = Instant::now();
            let mut record = self.trainer.iteration();
            let seconds = started.elapsed().as_secs_f64();
            record.set_timing(seconds, images / seconds.max(1e-9));
            let step = self.trainer.step();
            let finite = record.losses().iter().all(|(_, v)| v.is_finite());
            if let Some(events) = &mut self.events {
                events.scalars(step, &scalars_of(&record))?;
            }
            self.log.push(record.clone())?;
            if !finite {
                self.log.flush()?;
                return Err(self.diverged(step, "a loss is NaN or infinite"));
            }
            self.console
                .progress(step, self.trainer.progress_text(&record));
            for warning in self.trainer.observe(&record) {
                self.console.say(&warning)?;
            }
            if step.is_multiple_of(config.schedule.progress_interval) {
                self.write_samples()?;
            }
            if step.is_multiple_of(config.schedule.iterations_per_epoch) {
                self.end_epoch()?;
            }
            if step.is_multiple_of(config.schedule.checkpoint_interval) {
                self.log.flush()?;
                self.flush_events()?;
                self.checkpoint()?;
            }
        }
        // The end of the run always leaves a checkpoint, samples and the plot of what was done.
        self.log.flush()?;
        let step = self.trainer.step();
        if !step.is_multiple_of(config.schedule.checkpoint_interval) || step == 0 {
            self.checkpoint()?;
        }
        if !step.is_multiple_of(config.schedule.progress_interval) || step == 0 {
            self.write_samples()?;
        }
        if !step.is_multiple_of(config.schedule.iterations_per_epoch) {
            self.end_epoch()?;
        }
        // The report reads losses.csv: everything logged must be on disk first.
        self.log.flush()?;
        self.flush_events()?;
        crate::output::report::write_report(self.run.root())?;
        self.console.finish();
        if interrupted {
            self.console.say(&stopped_message(step, self.run.root()))?;
        } else {
            self.console.say(&format!(
                "finished at step {step}; {} in {}, checkpoint in {}",
                T::FIGURES,
                self.run.samples_dir().display(),
                self.run.checkpoints_dir().display()
            ))?;
        }
        let last = self.log.rows().last().map(|r| LastStep {
            step: r.step(),
            losses: r.losses(),
        });
        Ok(TrainSummary {
            run_dir: self.run.root().to_path_buf(),
            steps: step,
            last,
            interrupted,
        })
    }

    /// Says that the run diverged at `step` and why; the error the run ends with.
    fn diverged(&mut self, step: usize, what: &str) -> GanError {
        let message = diverged_message(step, what, &self.run);
        // The message is the error either way; a console that cannot write adds nothing to it.
        let _ = self.console.say(&message);
        GanError::Output(message)
    }

    /// Writes a checkpoint, unless a weight has become NaN or infinite: then the run stops with
    /// the last good checkpoint kept.
    fn checkpoint(&mut self) -> Result<()> {
        let step = self.trainer.step();
        if !self.trainer.weights_finite() {
            return Err(self.diverged(step, "a weight is NaN or infinite"));
        }
        let checkpoints = self.run.checkpoints_dir();
        let files = self.trainer.checkpoint_files(&checkpoints)?;
        let config = self.trainer.config();
        let state = CheckpointState {
            format: FORMAT_VERSION,
            model: config.model_name(),
            step,
            seed: config.schedule.seed,
            checksums: Default::default(),
        };
        let keep = config.schedule.keep_checkpoints;
        checkpoint::save_files(&checkpoints, &state, &files, keep).map(|_| ())
    }

    fn end_epoch(&mut self) -> Result<()> {
        self.log.flush()?;
        let (plot, line) = self.trainer.epoch_summary(self.log.rows())?;
        write_atomic(&self.run.losses_png(), &plot)?;
        if let Some(line) = line {
            self.console.say(&line)?;
        }
        Ok(())
    }

    fn flush_events(&mut self) -> Result<()> {
        self.events.as_mut().map_or(Ok(()), EventWriter::flush)
    }

    fn write_samples(&mut self) -> Result<()> {
        let (png, lines) = self.trainer.sample_figure()?;
        write_atomic(&self.run.sample_figure(self.trainer.step()), &png)?;
        if let Some(events) = &mut self.events {
            events.png(self.trainer.step(), T::FIGURES, &png)?;
            events.flush()?;
        }
        for line in lines {
            self.console.say(&line)?;
        }
        // The report reads losses.csv: everything logged must be on disk first.
        self.log.flush()?;
        crate::output::report::write_report(self.run.root()).map(|_| ())
    }
}
