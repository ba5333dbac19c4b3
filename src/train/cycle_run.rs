//! Drives a CycleGAN run through the same run directory as the other models: `config.toml`,
//! `losses.csv` (every loss term), `losses.png`, sample panels, atomic checkpoints, `train.log`.

use std::path::Path;
use std::time::Instant;

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::cycle::{CycleGan, CycleStats, Direction};
use super::random::DataOrder;
use super::reporter::Console;
use super::{Progress, ResumeOptions, TrainOptions, TrainSummary};
use crate::config::TrainConfig;
use crate::data::{DataSpec, ImageSet, LoadOptions};
use crate::device::DeviceChoice;
use crate::error::{GanError, Result};
use crate::models::ResnetGenerator;
use crate::output::checkpoint::{
    self, CheckpointState, FORMAT_VERSION, module_bytes, optimizer_bytes, read_module,
    read_optimizer, read_state,
};
use crate::output::figure::{SampleFigure, Tile};
use crate::output::loss_log::{LogRecord, LossLog};
use crate::output::plot::line_plot;
use crate::output::run_dir::RunDir;
use crate::output::write_atomic;

/// One CycleGAN iteration in `losses.csv`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CycleRecord {
    pub step: usize,
    pub epoch: usize,
    pub adversarial_ab: f64,
    pub adversarial_ba: f64,
    pub cycle_a: f64,
    pub cycle_b: f64,
    pub identity_a: f64,
    pub identity_b: f64,
    pub d_a: f64,
    pub d_b: f64,
    pub g_grad_norm: f64,
    pub d_grad_norm: f64,
    /// The learning rate of the step (CycleGAN's schedule).
    pub lr: f64,
    pub seconds: f64,
    pub images_per_second: f64,
}

impl LogRecord for CycleRecord {
    const COLUMNS: &'static [&'static str] = &[
        "step",
        "epoch",
        "adversarial_ab",
        "adversarial_ba",
        "cycle_a",
        "cycle_b",
        "identity_a",
        "identity_b",
        "d_a",
        "d_b",
        "g_grad_norm",
        "d_grad_norm",
        "lr",
        "seconds",
        "images_per_second",
    ];
    fn step(&self) -> usize {
        self.step
    }
}

impl CycleRecord {
    /// The loss terms with their column names, for the plot.
    fn terms(&self) -> [(&'static str, f64); 8] {
        [
            ("adversarial_ab", self.adversarial_ab),
            ("adversarial_ba", self.adversarial_ba),
            ("cycle_a", self.cycle_a),
            ("cycle_b", self.cycle_b),
            ("identity_a", self.identity_a),
            ("identity_b", self.identity_b),
            ("d_a", self.d_a),
            ("d_b", self.d_b),
        ]
    }
}

/// Both domains of `config`, each loaded at the run's size and channels. An empty or unreadable
/// domain is an error that names it.
pub fn load_domains(config: &TrainConfig) -> Result<(ImageSet, ImageSet)> {
    let (a, b) = config.domain_specs()?;
    let load = |spec: &DataSpec, key: &str| {
        ImageSet::load(
            spec,
            LoadOptions {
                spatial: config.spatial,
                channels: config.channels,
                limit: config.num_load,
            },
        )
        .map_err(|e| GanError::config(key, format!("cannot be used: {e}")))
    };
    Ok((load(&a, "data_a")?, load(&b, "data_b")?))
}

/// Trains a new CycleGAN run; everything that can be wrong with the input is checked before the
/// run directory is made.
pub fn train_cyclegan(config: TrainConfig, options: TrainOptions) -> Result<TrainSummary> {
    config.validate()?;
    let device = options.device.device()?;
    let (a, b) = load_domains(&config)?;
    let run = match &options.out {
        Some(path) => RunDir::create(path)?,
        None => RunDir::create_numbered(&options.runs_root, &config.run_name())?,
    };
    write_atomic(&run.config_path(), config.to_toml().as_bytes())?;
    let gan = CycleGan::new(&config, &device);
    let log = LossLog::create(&run.losses_csv())?;
    CycleSession::new(run, gan, (a, b), log, options.device, options.progress)?.run()
}

/// Continues a CycleGAN run from its latest checkpoint (the image buffers start empty again).
pub fn resume_cyclegan(
    run: RunDir,
    config: TrainConfig,
    options: &ResumeOptions,
) -> Result<TrainSummary> {
    let device = options.device.device()?;
    let dir = checkpoint::latest(&run.checkpoints_dir())?;
    let gan = load_cyclegan(&config, &dir, &device)?;
    let (a, b) = load_domains(&config)?;
    write_atomic(&run.config_path(), config.to_toml().as_bytes())?;
    let log = LossLog::resume(&run.losses_csv(), gan.step)?;
    CycleSession::new(run, gan, (a, b), log, options.device, options.progress)?.run()
}

const NETWORKS: [&str; 4] = ["g_ab.bpk", "g_ba.bpk", "d_a.bpk", "d_b.bpk"];
const OPTIMIZERS: [&str; 4] = [
    "optim_g_ab.bpk",
    "optim_g_ba.bpk",
    "optim_d_a.bpk",
    "optim_d_b.bpk",
];
/// The model `state.toml` names.
const MODEL: &str = "cyclegan";

fn save_checkpoint(gan: &CycleGan, checkpoints: &Path) -> Result<()> {
    let [g_ab, g_ba, d_a, d_b] = NETWORKS;
    let [o_g_ab, o_g_ba, o_d_a, o_d_b] = OPTIMIZERS;
    let (optim_g_ab, optim_g_ba, optim_d_a, optim_d_b) = gan.optimizers();
    let files = vec![
        (g_ab, module_bytes(gan.g_ab.valid(), checkpoints)?),
        (g_ba, module_bytes(gan.g_ba.valid(), checkpoints)?),
        (d_a, module_bytes(gan.d_a.valid(), checkpoints)?),
        (d_b, module_bytes(gan.d_b.valid(), checkpoints)?),
        (o_g_ab, optimizer_bytes(optim_g_ab, checkpoints)?),
        (o_g_ba, optimizer_bytes(optim_g_ba, checkpoints)?),
        (o_d_a, optimizer_bytes(optim_d_a, checkpoints)?),
        (o_d_b, optimizer_bytes(optim_d_b, checkpoints)?),
    ];
    let state = CheckpointState {
        format: FORMAT_VERSION,
        model: MODEL.to_string(),
        step: gan.step,
        seed: gan.config.seed,
        checksums: Default::default(),
    };
    checkpoint::save_files(checkpoints, &state, &files).map(|_| ())
}

/// Checks that checkpoint `dir` is a CycleGAN's.
fn cyclegan_state(dir: &Path) -> Result<CheckpointState> {
    let state = read_state(dir)?;
    if state.model != MODEL {
        return Err(GanError::Checkpoint {
            path: dir.to_path_buf(),
            reason: format!("it holds a {} model, not a CycleGAN", state.model),
        });
    }
    Ok(state)
}

/// The CycleGAN saved in checkpoint `dir`, for `config`, on `device`.
pub fn load_cyclegan(config: &TrainConfig, dir: &Path, device: &Device) -> Result<CycleGan> {
    let state = cyclegan_state(dir)?;
    let mut gan = CycleGan::new(config, device);
    let [g_ab, g_ba, d_a, d_b] = NETWORKS.map(|n| dir.join(n));
    gan.g_ab = read_module(gan.g_ab, &g_ab)?;
    gan.g_ba = read_module(gan.g_ba, &g_ba)?;
    gan.d_a = read_module(gan.d_a, &d_a)?;
    gan.d_b = read_module(gan.d_b, &d_b)?;
    let [o1, o2, o3, o4] = OPTIMIZERS.map(|n| dir.join(n));
    let fresh = || config.cycle_optimizer();
    gan.set_optimizers((
        read_optimizer(fresh(), &o1)?,
        read_optimizer(fresh(), &o2)?,
        read_optimizer(fresh(), &o3)?,
        read_optimizer(fresh(), &o4)?,
    ));
    gan.step = state.step;
    Ok(gan)
}

/// The generator of `direction` from a CycleGAN run's latest checkpoint, for inference.
pub fn load_translator(
    config: &TrainConfig,
    run: &RunDir,
    direction: Direction,
    device: &Device,
) -> Result<ResnetGenerator> {
    let dir = checkpoint::latest(&run.checkpoints_dir())?;
    cyclegan_state(&dir)?;
    let file = match direction {
        Direction::A2b => NETWORKS[0],
        Direction::B2a => NETWORKS[1],
    };
    read_module(
        config.resnet_generator_config().init(device),
        &dir.join(file),
    )
}

/// Images shown per domain in a sample panel.
const PANEL_ROWS: usize = 4;

struct CycleSession {
    run: RunDir,
    gan: CycleGan,
    a: ImageSet,
    b: ImageSet,
    log: LossLog<CycleRecord>,
    console: Console,
}

impl CycleSession {
    fn new(
        run: RunDir,
        gan: CycleGan,
        (a, b): (ImageSet, ImageSet),
        log: LossLog<CycleRecord>,
        device: DeviceChoice,
        progress: Progress,
    ) -> Result<Self> {
        let console = Console::open(&run, progress, gan.config.total_steps(), gan.step)?;
        let mut session = CycleSession {
            run,
            gan,
            a,
            b,
            log,
            console,
        };
        let start = super::run::start_words(session.gan.step);
        session.console.say(&format!(
            "CycleGAN run {} {start} on device {}: {} iterations",
            session.run.root().display(),
            device.name(),
            session.gan.config.total_steps()
        ))?;
        let (sa, sb) = (session.a.summary(), session.b.summary());
        session.console.say(&format!("domain A: {sa}"))?;
        session.console.say(&format!("domain B: {sb}"))?;
        Ok(session)
    }

    fn run(mut self) -> Result<TrainSummary> {
        let config = self.gan.config.clone();
        let total = config.total_steps();
        let mut order_a = DataOrder::new(config.seed, self.a.len());
        // Another seed for B: the domains are unpaired, and shuffled independently.
        let mut order_b = DataOrder::new(config.seed ^ 0x0b0b_0b0b, self.b.len());
        let mut interrupted = false;
        while self.gan.step < total {
            if super::run::stop_requested() {
                interrupted = true;
                break;
            }
            let lr = self.gan.lr();
            let started = Instant::now();
            let stats = self
                .gan
                .iteration(&self.a, &self.b, &mut order_a, &mut order_b);
            let seconds = started.elapsed().as_secs_f64();
            let step = self.gan.step;
            let record = record(step, &config, &stats, lr, seconds);
            let finite = record.terms().iter().all(|(_, v)| v.is_finite());
            self.log.push(record.clone())?;
            if !finite {
                self.log.flush()?;
                let message = format!(
                    "training diverged at step {step}: a loss is NaN or infinite; the last good checkpoint in {} is kept (lower the learning rates and resume)",
                    self.run.checkpoints_dir().display()
                );
                self.console.say(&message)?;
                return Err(GanError::Output(message));
            }
            self.console.progress(
                step,
                format!(
                    "epoch {} · G {:.3} · cycle {:.3} · D_A {:.3} · D_B {:.3} · {:.0} img/s",
                    record.epoch + 1,
                    stats.generator_total(),
                    record.cycle_a + record.cycle_b,
                    record.d_a,
                    record.d_b,
                    record.images_per_second
                ),
            );
            if step.is_multiple_of(config.progress_interval) {
                self.write_panel()?;
            }
            if step.is_multiple_of(config.iterations_per_epoch) {
                self.end_epoch()?;
            }
            if step.is_multiple_of(config.checkpoint_interval) {
                self.log.flush()?;
                save_checkpoint(&self.gan, &self.run.checkpoints_dir())?;
            }
        }
        self.log.flush()?;
        let step = self.gan.step;
        if !step.is_multiple_of(config.checkpoint_interval) || step == 0 {
            save_checkpoint(&self.gan, &self.run.checkpoints_dir())?;
        }
        if !step.is_multiple_of(config.progress_interval) || step == 0 {
            self.write_panel()?;
        }
        if !step.is_multiple_of(config.iterations_per_epoch) {
            self.end_epoch()?;
        }
        // The report reads losses.csv: everything logged must be on disk first.
        self.log.flush()?;
        crate::output::report::write_report(self.run.root())?;
        self.console.finish();
        if interrupted {
            self.console
                .say(&super::run::stopped_message(step, self.run.root()))?;
        } else {
            self.console.say(&format!(
                "finished at step {step}; panels in {}, checkpoint in {}",
                self.run.samples_dir().display(),
                self.run.checkpoints_dir().display()
            ))?;
        }
        Ok(TrainSummary {
            run_dir: self.run.root().to_path_buf(),
            steps: step,
            last: None,
            interrupted,
        })
    }

    /// The plot of every term's per-epoch mean, and the epoch's line.
    fn end_epoch(&mut self) -> Result<()> {
        self.log.flush()?;
        let rows = self.log.rows();
        let epochs = rows.last().map_or(0, |r| r.epoch + 1);
        let names = CycleRecord::COLUMNS[2..10].to_vec();
        let mut series: Vec<(String, Vec<(f64, f64)>)> =
            names.iter().map(|n| (n.to_string(), Vec::new())).collect();
        for epoch in 0..epochs {
            let of: Vec<&CycleRecord> = rows.iter().filter(|r| r.epoch == epoch).collect();
            if of.is_empty() {
                continue;
            }
            for (k, (_, points)) in series.iter_mut().enumerate() {
                let mean = of.iter().map(|r| r.terms()[k].1).sum::<f64>() / of.len() as f64;
                points.push((epoch as f64 + 1.0, mean));
            }
        }
        write_atomic(
            &self.run.losses_png(),
            &line_plot("CycleGAN losses, mean per epoch", "loss", &series)?,
        )?;
        if let Some(last) = series.first().and_then(|(_, p)| p.last()) {
            let means: Vec<String> = series
                .iter()
                .filter_map(|(n, p)| p.last().map(|(_, v)| format!("{n} {v:.3}")))
                .collect();
            let line = format!(
                "epoch {}/{} · step {} · {}",
                last.0 as usize,
                self.gan
                    .config
                    .total_steps()
                    .div_ceil(self.gan.config.iterations_per_epoch),
                self.gan.step,
                means.join(" · ")
            );
            self.console.say(&line)?;
        }
        Ok(())
    }

    /// Rows a | G(a) | F(G(a)) and b | F(b) | G(F(b)) for fixed images of each domain.
    fn write_panel(&mut self) -> Result<()> {
        let inner = self.gan.device().clone().without_autodiff();
        let pick = |set: &ImageSet| -> Vec<usize> {
            (0..PANEL_ROWS.min(set.len()))
                .map(|i| i * set.len() / PANEL_ROWS.min(set.len()))
                .collect()
        };
        let (ia, ib) = (pick(&self.a), pick(&self.b));
        let real_a = self.a.batch(&ia, &inner);
        let real_b = self.b.batch(&ib, &inner);
        let fake_b = self.gan.translate(real_a.clone(), Direction::A2b);
        let back_a = self.gan.translate(fake_b.clone(), Direction::B2a);
        let fake_a = self.gan.translate(real_b.clone(), Direction::B2a);
        let back_b = self.gan.translate(fake_a.clone(), Direction::A2b);
        let mut rows = Vec::new();
        for (names, images) in [
            (["a", "G(a)", "F(G(a))"], [real_a, fake_b, back_a]),
            (["b", "F(b)", "G(F(b))"], [real_b, fake_a, back_b]),
        ] {
            let columns: Vec<Vec<Vec<f32>>> = images.into_iter().map(split_images).collect();
            for i in 0..columns[0].len() {
                let tiles = names
                    .iter()
                    .zip(&columns)
                    .map(|(name, column)| Tile {
                        pixels: column[i].clone(),
                        caption: Some(name.to_string()),
                    })
                    .collect();
                rows.push((String::new(), tiles));
            }
        }
        let figure = SampleFigure {
            title: Some(format!("step {}", self.gan.step)),
            channels: self.gan.config.channels,
            spatial: self.gan.config.spatial,
            rows,
        };
        write_atomic(&self.run.sample_figure(self.gan.step), &figure.to_png()?)?;
        // The report reads losses.csv: everything logged must be on disk first.
        self.log.flush()?;
        crate::output::report::write_report(self.run.root()).map(|_| ())
    }
}

/// A batch's images, one channel-major vector each.
pub(crate) fn split_images(images: Tensor<4>) -> Vec<Vec<f32>> {
    let [_, c, h, w] = images.dims();
    crate::tensor_values(images)
        .chunks_exact(c * h * w)
        .map(<[f32]>::to_vec)
        .collect()
}

fn record(step: usize, config: &TrainConfig, s: &CycleStats, lr: f64, seconds: f64) -> CycleRecord {
    CycleRecord {
        step,
        epoch: (step - 1) / config.iterations_per_epoch,
        adversarial_ab: s.adversarial_ab,
        adversarial_ba: s.adversarial_ba,
        cycle_a: s.cycle_a,
        cycle_b: s.cycle_b,
        identity_a: s.identity_a,
        identity_b: s.identity_b,
        d_a: s.d_a,
        d_b: s.d_b,
        g_grad_norm: s.g_grad_norm,
        d_grad_norm: s.d_grad_norm,
        lr,
        seconds,
        // Each iteration translates a batch of each domain.
        images_per_second: 2.0 * config.batch as f64 / seconds.max(1e-9),
    }
}
