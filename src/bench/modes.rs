//! `ganforge bench modes`: the mode-collapse benchmarks of the GAN literature, plain GAN against
//! packing (PacGAN, Lin et al. 2018), over several seeds. Every run is the ordinary training loop
//! ([`Gan::iteration`]) on the configuration `ganforge train` would use for the data, with only
//! `pack`, `seed` and `steps` changed.
//!
//! - `mixture:ring8`, `mixture:grid25`: 2-D Gaussian mixtures with fully connected networks;
//!   modes captured, share of high-quality samples and reverse KL over 2500 samples.
//! - `stacked-digits`: three digits as the channels of one image (1000 modes) with the tutorial's
//!   DCGAN; modes captured and reverse KL over the judge's reading of each channel.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use burn::prelude::*;

use crate::config::{TrainConfig, TrainOverrides};
use crate::data::mixture::{Mixture, ModeCoverage, mode_coverage, points_of};
use crate::data::{DataSpec, ImageSet, LoadOptions};
use crate::device::DeviceChoice;
use crate::error::{GanError, Result};
use crate::eval::judge::Judge;
use crate::eval::modes::{StackedCoverage, stacked_coverage};
use crate::train::Gan;
use crate::train::random::{DataOrder, Stream};

/// Which settings a benchmark's runs train with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Protocol {
    /// ganforge's presets (`ganforge train --data D`) at a budget a user can run: minutes.
    #[default]
    Fast,
    /// The paper's own settings (Lin et al. 2018, from its code). 2-D mixtures: Adam(1e-4,
    /// β1 0.8), batch 100, 400 000 iterations, no average of G. Stacked digits: DCGAN with 64
    /// filters, Adam(2e-4, β1 0.5), G stepped twice per D step, batch 64, 100 000 iterations.
    /// Hours per run on 2 cores.
    Pacgan,
}

impl Protocol {
    /// Iterations per run under this protocol for `spec`.
    fn steps(self, spec: &DataSpec) -> usize {
        match (self, spec) {
            (Protocol::Fast, DataSpec::StackedDigits) => 2000,
            (Protocol::Fast, _) => 6000,
            (Protocol::Pacgan, DataSpec::StackedDigits) => 100_000,
            (Protocol::Pacgan, _) => 400_000,
        }
    }

    /// The keys this protocol sets over the data's preset (batch before packing).
    fn overrides(self, spec: &DataSpec) -> TrainOverrides {
        match (self, spec) {
            (Protocol::Fast, _) => TrainOverrides::default(),
            (Protocol::Pacgan, DataSpec::StackedDigits) => TrainOverrides {
                recipe: Some(crate::config::Recipe::Tutorial),
                capacity: Some(64),
                // The paper's DCGAN normalises D by batch, as the tutorial's does.
                d_norm: Some(crate::models::NormKind::Batch),
                lr_d: Some(2e-4),
                lr_g: Some(2e-4),
                beta1: Some(0.5),
                gen_updates: Some(2),
                batch: Some(64),
                ..Default::default()
            },
            (Protocol::Pacgan, _) => TrainOverrides {
                lr_d: Some(1e-4),
                lr_g: Some(1e-4),
                beta1: Some(0.8),
                beta2: Some(0.999),
                batch: Some(100),
                ..Default::default()
            },
        }
    }
}

/// What one benchmark runs.
#[derive(Debug, Clone)]
pub struct ModesBenchOptions {
    /// `mixture:ring8`, `mixture:grid25` or `stacked-digits`.
    pub data: String,
    /// Packing degrees to compare; 1 is the plain GAN.
    pub packs: Vec<usize>,
    pub seeds: usize,
    /// Training iterations of each run.
    pub steps: usize,
    /// Samples the metrics are measured on.
    pub samples: usize,
    /// Runs trained at the same time.
    pub jobs: usize,
    pub device: DeviceChoice,
    /// The settings each run trains with.
    pub protocol: Protocol,
    /// Keys set over the protocol's for every run (`bench modes --config FILE.toml`); `pack`,
    /// `seed`, `steps` and the batch stay the benchmark's.
    pub keys: TrainOverrides,
}

impl ModesBenchOptions {
    /// The benchmark's defaults for `data`: the budget the README's figures were measured with.
    pub fn for_data(data: &str, device: DeviceChoice) -> Result<Self> {
        Self::for_protocol(data, device, Protocol::Fast)
    }

    /// The defaults for `data` under `protocol`: its iterations per run, and the paper's trial
    /// count (10) for the paper's protocol.
    pub fn for_protocol(data: &str, device: DeviceChoice, protocol: Protocol) -> Result<Self> {
        // Stacked digits compare DCGAN with PacDCGAN2 only: a convolutional run costs minutes,
        // and packing by m multiplies it by m.
        let spec = DataSpec::parse(data)?;
        let (samples, seeds, packs) = match spec {
            DataSpec::Mixture(_) => (2500, 3, vec![1, 2, 3, 4]),
            DataSpec::StackedDigits => (10_000, 2, vec![1, 2]),
            _ => return Err(not_a_benchmark(data)),
        };
        Ok(ModesBenchOptions {
            data: data.to_string(),
            packs,
            seeds: if protocol == Protocol::Pacgan {
                10
            } else {
                seeds
            },
            steps: protocol.steps(&spec),
            samples,
            jobs: std::thread::available_parallelism().map_or(1, |n| n.get()),
            device,
            protocol,
            keys: TrainOverrides::default(),
        })
    }
}

impl ModesBenchOptions {
    /// The judge a stacked-digits benchmark reads each channel with: `classifier`, or the digits
    /// judge where `classifier train --data digits` saves it; none for the mixtures. A missing
    /// judge, or one that is not a 16×16 digits judge, is refused before anything trains.
    pub fn judge(&self, classifier: Option<&Path>) -> Result<Option<Judge>> {
        if DataSpec::parse(&self.data)? != DataSpec::StackedDigits {
            return Ok(None);
        }
        let dir = classifier
            .map(Path::to_path_buf)
            .unwrap_or_else(|| crate::eval::judge::default_judge_dir("digits", 16, 1));
        if !dir.exists() {
            return Err(GanError::Output(format!(
                "no digits judge in {}: train one with `ganforge classifier train --data digits`, or pass --classifier",
                dir.display()
            )));
        }
        let (judge, info) =
            crate::eval::feature_net::load_classifier(&dir, 1, &self.device.device()?)?;
        if info.classes != 10 || !matches!(info.spatial, 0 | 16) {
            return Err(GanError::Output(format!(
                "{} is not a 16×16 digits judge ({} classes at {}×{})",
                dir.display(),
                info.classes,
                info.spatial,
                info.spatial
            )));
        }
        Ok(Some(judge))
    }
}

fn not_a_benchmark(data: &str) -> GanError {
    GanError::config(
        "data",
        format!(
            "is `{data}`: the mode benchmarks are `mixture:ring8`, `mixture:grid25` and `stacked-digits`"
        ),
    )
}

/// The measures of one trained generator.
#[derive(Debug, Clone, PartialEq)]
pub struct ModeMeasures {
    pub modes_captured: usize,
    pub modes: usize,
    /// Mixtures: share of samples within 3 standard deviations of a mode.
    pub high_quality: Option<f64>,
    pub reverse_kl: f64,
    /// Stacked digits: the channels' digit-histogram KLs summed ([`StackedCoverage::digit_kl`]).
    pub digit_kl: Option<f64>,
}

impl From<ModeCoverage> for ModeMeasures {
    fn from(c: ModeCoverage) -> Self {
        ModeMeasures {
            modes_captured: c.modes_captured,
            modes: c.modes,
            high_quality: Some(c.high_quality),
            reverse_kl: c.reverse_kl,
            digit_kl: None,
        }
    }
}

impl From<StackedCoverage> for ModeMeasures {
    fn from(c: StackedCoverage) -> Self {
        ModeMeasures {
            modes_captured: c.modes_captured,
            modes: c.modes,
            high_quality: None,
            reverse_kl: c.reverse_kl,
            digit_kl: Some(c.digit_kl.iter().sum()),
        }
    }
}

/// One run of the benchmark.
#[derive(Debug, Clone)]
pub struct ModesCell {
    pub pack: usize,
    pub seed: u64,
    pub measures: ModeMeasures,
    /// Training and measuring time.
    pub seconds: f64,
    /// What the generator made: points of a mixture, or a few images (channel-major).
    pub samples: Vec<Vec<f32>>,
}

/// Mean and standard error of the mean (NaN with one value).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MeanSe {
    pub mean: f64,
    pub se: f64,
}

impl MeanSe {
    pub fn of(values: &[f64]) -> Self {
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
        MeanSe {
            mean,
            se: (var / n).sqrt(),
        }
    }

    /// "7.67 ± 0.33", or the mean alone with one value.
    pub fn show(&self, decimals: usize) -> String {
        if self.se.is_finite() {
            format!("{:.*} ± {:.*}", decimals, self.mean, decimals, self.se)
        } else {
            format!("{:.*}", decimals, self.mean)
        }
    }
}

/// One packing degree over its seeds.
#[derive(Debug, Clone)]
pub struct ModesRow {
    pub pack: usize,
    pub runs: usize,
    pub modes_captured: MeanSe,
    pub high_quality: Option<MeanSe>,
    pub reverse_kl: MeanSe,
    pub digit_kl: Option<MeanSe>,
    pub seconds: f64,
}

/// The whole benchmark.
#[derive(Debug, Clone)]
pub struct ModesReport {
    pub options: ModesBenchOptions,
    pub modes: usize,
    pub cells: Vec<ModesCell>,
    pub rows: Vec<ModesRow>,
    /// The same measures of `samples` items of the real data (the mixture's own draws, or the
    /// stacked-digit images G trains on): the ceiling each figure is read against, which is not
    /// perfect (a 2-D Gaussian puts 1.1% of its mass beyond 3 standard deviations, the judge errs
    /// on real digits, and a finite sample leaves the mode histogram uneven).
    pub real: ModeMeasures,
    /// Real items behind `real`: `samples`, or the whole stacked-digit set when it is smaller.
    pub real_items: usize,
    pub wall_seconds: f64,
}

/// The configuration of one run: what `ganforge train --data DATA` resolves to, with `pack`, `seed`
/// and `steps` set, and the batch `pack` times the data's: as in PacGAN, D makes as many decisions
/// per batch whatever the packing, each on `pack` samples.
pub fn cell_config(options: &ModesBenchOptions, pack: usize, seed: u64) -> Result<TrainConfig> {
    let spec = DataSpec::parse(&options.data)?;
    let protocol = options
        .protocol
        .overrides(&spec)
        .overridden_by(options.keys.clone());
    let base = TrainOverrides {
        data: Some(spec.clone()),
        ..protocol.clone()
    }
    .resolve()?;
    let mut config = TrainOverrides {
        data: Some(spec),
        pack: Some(pack),
        batch: Some(base.schedule.batch * pack),
        seed: Some(seed),
        steps: Some(options.steps),
        ..protocol
    }
    .resolve()?;
    if options.protocol == Protocol::Pacgan {
        // The paper samples its generator itself, not an average of it.
        config.remedies.g_ema = None;
        if matches!(config.input.data, DataSpec::Mixture(_)) {
            // Nor does it penalise D's gradient, step G twice or decay its learning rates on
            // the 2-D mixtures: those are ganforge's preset (the user's `--config` still wins).
            let keys = &options.keys;
            if keys.r1_gamma.is_none() {
                config.objective.r1_gamma = None;
            }
            if keys.gen_updates.is_none() {
                config.schedule.gen_updates = 1;
            }
            if keys.lr_decay_start.is_none() {
                config.optimiser.lr_decay_start = None;
            }
        }
    }
    Ok(config)
}

/// The data and the way to measure a generator on it.
enum Measure {
    Mixture(Mixture),
    Stacked(Box<Judge>),
}

/// Runs every (pack, seed) of `options`, `jobs` at a time, calling `done` as each finishes;
/// `judge` (a 1-channel digits judge) reads stacked digits.
pub fn run_modes_bench(
    options: &ModesBenchOptions,
    judge: Option<Judge>,
    done: impl Fn(&ModesCell) + Sync,
) -> Result<ModesReport> {
    let spec = DataSpec::parse(&options.data)?;
    let measure = match (&spec, judge) {
        (DataSpec::Mixture(m), _) => Measure::Mixture(*m),
        (DataSpec::StackedDigits, Some(judge)) => Measure::Stacked(Box::new(judge)),
        (DataSpec::StackedDigits, None) => {
            return Err(GanError::config(
                "classifier",
                "is missing: stacked digits are read by a digits judge",
            ));
        }
        _ => return Err(not_a_benchmark(&options.data)),
    };
    if options.packs.is_empty() || options.seeds == 0 || options.samples == 0 {
        return Err(GanError::config(
            "pack",
            "and `seeds` and `samples` must each name at least one",
        ));
    }
    let mut cells_todo = Vec::new();
    for &pack in &options.packs {
        for seed in 0..options.seeds as u64 {
            // Checked before anything trains: a bad pack fails at once.
            cells_todo.push((pack, seed, cell_config(options, pack, seed)?));
        }
    }
    let first = &cells_todo[0].2;
    let data = ImageSet::load(
        &spec,
        LoadOptions {
            spatial: first.input.spatial,
            channels: first.input.channels,
            limit: first.input.num_load,
            background: first.input.background,
        },
    )?;
    let device = options.device.device()?;
    let real = real_reference(&measure, &data, options.samples, &device);
    let real_items = match measure {
        Measure::Mixture(_) => options.samples,
        Measure::Stacked(_) => options.samples.min(data.len()),
    };
    let started = Instant::now();
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Result<ModesCell>>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..options.jobs.clamp(1, cells_todo.len()) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some((pack, seed, config)) = cells_todo.get(i) else {
                        break;
                    };
                    let cell = run_cell(config, *pack, *seed, &data, &measure, options, &device);
                    if let Ok(cell) = &cell {
                        done(cell);
                    }
                    results.lock().unwrap_or_else(|e| e.into_inner()).push(cell);
                }
            });
        }
    });
    let mut cells = results
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .collect::<Result<Vec<_>>>()?;
    cells.sort_by_key(|c| (c.pack, c.seed));
    let rows = options
        .packs
        .iter()
        .map(|&pack| summarize(pack, &cells))
        .collect();
    let modes = cells.first().map_or(0, |c| c.measures.modes);
    Ok(ModesReport {
        options: options.clone(),
        modes,
        cells,
        rows,
        real,
        real_items,
        wall_seconds: started.elapsed().as_secs_f64(),
    })
}

/// Seed of the real mixture points the reference row measures (a stream no run draws from).
const REAL_SAMPLE_SEED: u64 = 0x7265_616c;

/// The benchmark's measures of `samples` real items: points drawn from the mixture itself, or
/// the first `samples` images of the stacked-digit set (all of them when it has fewer).
fn real_reference(
    measure: &Measure,
    data: &ImageSet,
    samples: usize,
    device: &Device,
) -> ModeMeasures {
    use rand::SeedableRng;
    match measure {
        Measure::Mixture(mixture) => {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(REAL_SAMPLE_SEED);
            mode_coverage(*mixture, &mixture.sample(&mut rng, samples)).into()
        }
        Measure::Stacked(judge) => {
            let indices: Vec<usize> = (0..samples.min(data.len())).collect();
            let device = device.clone().without_autodiff();
            stacked_coverage(judge, data.batch(&indices, &device)).into()
        }
    }
}

fn summarize(pack: usize, cells: &[ModesCell]) -> ModesRow {
    let of: Vec<&ModesCell> = cells.iter().filter(|c| c.pack == pack).collect();
    let values =
        |f: &dyn Fn(&ModesCell) -> f64| MeanSe::of(&of.iter().map(|c| f(c)).collect::<Vec<_>>());
    ModesRow {
        pack,
        runs: of.len(),
        modes_captured: values(&|c| c.measures.modes_captured as f64),
        high_quality: of
            .iter()
            .all(|c| c.measures.high_quality.is_some())
            .then(|| values(&|c| c.measures.high_quality.unwrap_or(f64::NAN))),
        reverse_kl: values(&|c| c.measures.reverse_kl),
        digit_kl: of
            .iter()
            .all(|c| c.measures.digit_kl.is_some())
            .then(|| values(&|c| c.measures.digit_kl.unwrap_or(f64::NAN))),
        seconds: of.iter().map(|c| c.seconds).sum::<f64>() / of.len().max(1) as f64,
    }
}

/// Images of a stacked-digits generator kept for the figure.
const SHOWN_IMAGES: usize = 32;
/// Images generated (and judged) at a time.
const CHUNK: usize = 500;

fn run_cell(
    config: &TrainConfig,
    pack: usize,
    seed: u64,
    data: &ImageSet,
    measure: &Measure,
    options: &ModesBenchOptions,
    device: &Device,
) -> Result<ModesCell> {
    let started = Instant::now();
    let mut gan = Gan::new(config, device);
    let mut order = DataOrder::new(config.schedule.seed, data.len());
    while gan.step < config.total_steps() {
        gan.iteration(data, &mut order);
    }
    // The measured samples come from their own stream, never seen in training.
    let mut generated: Vec<Tensor<4>> = Vec::new();
    let mut start = 0;
    while start < options.samples {
        let count = (options.samples - start).min(CHUNK);
        generated.push(gan.generate(gan.latent(Stream::Sample, start as u64, count)));
        start += count;
    }
    let all = Tensor::cat(generated, 0);
    let (measures, samples) = match measure {
        Measure::Mixture(mixture) => {
            let points = points_of(all);
            let measures = ModeMeasures::from(mode_coverage(*mixture, &points));
            let samples = points
                .iter()
                .map(|p| vec![p[0] as f32, p[1] as f32])
                .collect();
            (measures, samples)
        }
        Measure::Stacked(judge) => {
            let [_, c, h, w] = all.dims();
            let shown =
                crate::tensor_values(all.clone().narrow(0, 0, SHOWN_IMAGES.min(options.samples)))
                    .chunks_exact(c * h * w)
                    .map(<[f32]>::to_vec)
                    .collect();
            let measures = ModeMeasures::from(stacked_coverage(
                judge,
                all.to_device(&device.clone().without_autodiff()),
            ));
            (measures, shown)
        }
    };
    Ok(ModesCell {
        pack,
        seed,
        measures,
        seconds: started.elapsed().as_secs_f64(),
        samples,
    })
}

impl ModesReport {
    /// The table, as Markdown (what the command prints and `modes.md` holds).
    pub fn table(&self) -> String {
        let mixture = self.rows.iter().all(|r| r.high_quality.is_some());
        let mut out = String::new();
        out.push_str(&format!(
            "{} · {} steps per run · {} samples measured · seeds 0..{} · mean ± standard error\n\n",
            self.options.data, self.options.steps, self.options.samples, self.options.seeds,
        ));
        if mixture {
            out.push_str(&format!(
                "| D | runs | modes (of {}) | high quality | reverse KL | s/run |\n|---|---|---|---|---|---|\n",
                self.modes
            ));
        } else {
            out.push_str(&format!(
                "| D | runs | modes (of {}) | reverse KL | the digits' KL (3 channels summed) | s/run |\n|---|---|---|---|---|---|\n",
                self.modes
            ));
        }
        for row in &self.rows {
            let name = if row.pack == 1 {
                "plain".to_string()
            } else {
                format!("pack {}", row.pack)
            };
            let hq = row
                .high_quality
                .map(|h| {
                    let pct = MeanSe {
                        mean: 100.0 * h.mean,
                        se: 100.0 * h.se,
                    };
                    format!(" {}% |", pct.show(1))
                })
                .unwrap_or_default();
            let digits = row
                .digit_kl
                .map(|k| format!(" {} |", k.show(3)))
                .unwrap_or_default();
            out.push_str(&format!(
                "| {name} | {} | {} |{hq} {} |{digits} {:.0} |\n",
                row.runs,
                row.modes_captured.show(2),
                row.reverse_kl.show(3),
                row.seconds
            ));
        }
        let real = &self.real;
        let real_hq = real
            .high_quality
            .map(|h| format!(" {:.1}% |", 100.0 * h))
            .unwrap_or_default();
        let real_digits = real
            .digit_kl
            .map(|k| format!(" {k:.3} |"))
            .unwrap_or_default();
        out.push_str(&format!(
            "| real data ({} samples, the ceiling) | | {} |{real_hq} {:.3} |{real_digits} |\n",
            self.real_items, real.modes_captured, real.reverse_kl
        ));
        let published = published_rows(&self.options.data);
        if !published.is_empty() {
            out.push_str(&format!(
                "\npublished (Lin et al. 2018, PacGAN, {}):\n\n",
                published[0].source
            ));
            out.push_str(if mixture {
                "| D | modes | high quality | reverse KL |\n|---|---|---|---|\n"
            } else {
                "| D | modes | reverse KL |\n|---|---|---|\n"
            });
            for row in published {
                let hq = row
                    .high_quality
                    .map(|h| format!(" {:.1}% |", 100.0 * h))
                    .unwrap_or_default();
                out.push_str(&format!(
                    "| {} | {} |{hq} {} |\n",
                    row.name, row.modes, row.reverse_kl
                ));
            }
        }
        out.push_str(&format!(
            "\nwall time {:.0} s with {} run(s) at a time\n",
            self.wall_seconds, self.options.jobs
        ));
        out
    }
}

/// A row of PacGAN's published tables, printed (and drawn) beside the measured ones.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PublishedRow {
    pub name: &'static str,
    pub modes: f64,
    pub high_quality: Option<f64>,
    pub reverse_kl: f64,
    /// Where in the paper, and its protocol.
    pub source: &'static str,
}

/// PacGAN's (Lin et al. 2018) rows for the benchmark `data`, when the paper has it: the plain
/// GAN and the best packed one for the 2-D mixtures (Table 1), PacDCGAN2 for stacked digits
/// (Table 2). Empty for any other data, such as a mixture of the user's own.
pub fn published_rows(data: &str) -> &'static [PublishedRow] {
    const TABLE1: &str = "Table 1, 10 trials, about 400 000 iterations";
    const TABLE2: &str = "Table 2, stacked MNIST, about 100 000 iterations";
    const fn row(name: &'static str, modes: f64, hq: f64, kl: f64) -> PublishedRow {
        PublishedRow {
            name,
            modes,
            high_quality: Some(hq),
            reverse_kl: kl,
            source: TABLE1,
        }
    }
    const RING: [PublishedRow; 2] = [
        row("GAN", 6.3, 0.982, 0.45),
        row("PacGAN2", 7.9, 0.956, 0.07),
    ];
    const GRID: [PublishedRow; 2] = [
        row("GAN", 17.3, 0.948, 0.70),
        row("PacGAN4", 24.8, 0.936, 0.04),
    ];
    const STACKED: [PublishedRow; 1] = [PublishedRow {
        name: "PacDCGAN2",
        modes: 1000.0,
        high_quality: None,
        reverse_kl: 0.06,
        source: TABLE2,
    }];
    // As the spec prints, so that `mixture:ring:8:1:0.01` is the paper's ring too.
    let canonical = DataSpec::parse(data).map(|spec| spec.to_string());
    match canonical.as_deref().unwrap_or(data) {
        "mixture:ring8" => &RING,
        "mixture:grid25" => &GRID,
        "stacked-digits" => &STACKED,
        _ => &[],
    }
}

/// Where a benchmark writes by default: `runs/bench-modes-<data>`, numbered when it exists.
pub fn default_out(data: &str) -> PathBuf {
    let name: String = data
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    crate::output::run_dir::numbered_path(
        std::path::Path::new("runs"),
        &format!("bench-modes-{name}"),
    )
}

/// Writes `modes.md` (the table), `cells.csv` (every run) and the figure into `out`, a new or
/// empty directory: `scatter.png` (each packing's first seed over the modes) for a mixture,
/// `samples.png` (a row of images per packing) for stacked digits.
pub fn write_report(report: &ModesReport, out: &std::path::Path) -> Result<Vec<PathBuf>> {
    use crate::output::figure::{SampleFigure, Tile};
    use crate::output::scatter::{ScatterPanel, scatter_png};
    use crate::output::write_atomic;
    crate::output::require_empty_dir(out, "choose another --out")?;
    std::fs::create_dir_all(out)
        .map_err(|e| GanError::io(format!("cannot create {}", out.display()), e))?;
    let mut written = Vec::new();
    let table = out.join("modes.md");
    write_atomic(&table, report.table().as_bytes())?;
    written.push(table);

    let mut csv =
        String::from("pack,seed,modes_captured,modes,high_quality,reverse_kl,digit_kl,seconds\n");
    for c in &report.cells {
        let m = &c.measures;
        csv.push_str(&format!(
            "{},{},{},{},{},{},{},{:.1}\n",
            c.pack,
            c.seed,
            m.modes_captured,
            m.modes,
            m.high_quality.map(|h| h.to_string()).unwrap_or_default(),
            m.reverse_kl,
            m.digit_kl.map(|k| k.to_string()).unwrap_or_default(),
            c.seconds
        ));
    }
    let cells = out.join("cells.csv");
    write_atomic(&cells, csv.as_bytes())?;
    written.push(cells);

    let label = |pack: usize| {
        if pack == 1 {
            "plain GAN".to_string()
        } else {
            format!("PacGAN{pack}")
        }
    };
    let firsts: Vec<&ModesCell> = report.cells.iter().filter(|c| c.seed == 0).collect();
    match DataSpec::parse(&report.options.data)? {
        DataSpec::Mixture(mixture) => {
            let panels: Vec<ScatterPanel> = firsts
                .iter()
                .map(|c| ScatterPanel {
                    title: format!(
                        "{}: {} modes, {:.0}% hq",
                        label(c.pack),
                        c.measures.modes_captured,
                        100.0 * c.measures.high_quality.unwrap_or(0.0)
                    ),
                    points: c
                        .samples
                        .iter()
                        .map(|p| [p[0] as f64, p[1] as f64])
                        .collect(),
                    centres: mixture.centres(),
                    extent: mixture.extent(),
                })
                .collect();
            let mut title = format!(
                "{} after {} steps (seed 0, {} samples)",
                report.options.data, report.options.steps, report.options.samples
            );
            let published: Vec<String> = published_rows(&report.options.data)
                .iter()
                .map(|r| {
                    format!(
                        "{} {} modes, {:.0}% hq",
                        r.name,
                        r.modes,
                        100.0 * r.high_quality.unwrap_or(0.0)
                    )
                })
                .collect();
            if !published.is_empty() {
                title.push_str(&format!(
                    "\nPacGAN paper ({}): {}",
                    published_rows(&report.options.data)[0].source,
                    published.join("; ")
                ));
            }
            let path = out.join("scatter.png");
            write_atomic(&path, &scatter_png(&title, &panels, panels.len())?)?;
            written.push(path);
        }
        _ => {
            let config = cell_config(&report.options, 1, 0)?;
            let rows = firsts
                .iter()
                .map(|c| {
                    let tiles = c
                        .samples
                        .iter()
                        .take(16)
                        .map(|pixels| Tile {
                            pixels: pixels.clone(),
                            caption: None,
                        })
                        .collect();
                    (
                        format!("{}: {} modes", label(c.pack), c.measures.modes_captured),
                        tiles,
                    )
                })
                .collect();
            let figure = SampleFigure {
                title: Some(format!(
                    "{} after {} steps (seed 0){}",
                    report.options.data,
                    report.options.steps,
                    published_rows(&report.options.data)
                        .iter()
                        .map(|r| format!("; PacGAN paper: {} {} modes", r.name, r.modes))
                        .collect::<String>()
                )),
                channels: config.input.channels,
                spatial: config.input.spatial,
                rows,
            };
            let path = out.join("samples.png");
            write_atomic(&path, &figure.to_png()?)?;
            written.push(path);
        }
    }
    Ok(written)
}
