//! `losses.csv`: one row per iteration, appended as training goes.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{GanError, Result};

/// What one iteration measured.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct StepRecord {
    /// 1-based iteration number.
    pub step: usize,
    /// 0-based epoch of the iteration.
    pub epoch: usize,
    /// D's loss: mean of its real-batch and fake-batch losses.
    pub d_loss: f64,
    pub g_loss: f64,
    /// Mean D(x) on the real batch (a probability for `bce`, the critic value otherwise).
    pub d_real: f64,
    /// Mean D(G(z)) on the fake batch.
    pub d_fake: f64,
    /// Mean D(x) − mean D(G(z)) of the critic (WGAN's estimate of the Wasserstein distance);
    /// empty for objectives where it is not one.
    pub wasserstein: Option<f64>,
    /// L2 norm of the gradient of D's weights (mean over the iteration's D updates).
    pub d_grad_norm: f64,
    /// L2 norm of the gradient of G's weights.
    pub g_grad_norm: f64,
    /// Wall time of the iteration.
    pub seconds: f64,
    /// Batch size over `seconds`.
    pub images_per_second: f64,
}

/// One CycleGAN iteration in `losses.csv`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
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
    /// What G and F minimise together: both adversarial, both cycle and both identity terms.
    pub fn generator_total(&self) -> f64 {
        self.adversarial_ab
            + self.adversarial_ba
            + self.cycle_a
            + self.cycle_b
            + self.identity_a
            + self.identity_b
    }

    /// The loss terms with their column names, for the plot.
    pub fn terms(&self) -> [(&'static str, f64); 8] {
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

/// Mean losses of one epoch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpochMeans {
    pub epoch: usize,
    pub d_loss: f64,
    pub g_loss: f64,
    pub d_real: f64,
    pub d_fake: f64,
    pub wasserstein: Option<f64>,
    pub images_per_second: f64,
}

/// The header of `losses.csv`, in column order.
pub const COLUMNS: [&str; 11] = [
    "step",
    "epoch",
    "d_loss",
    "g_loss",
    "d_real",
    "d_fake",
    "wasserstein",
    "d_grad_norm",
    "g_grad_norm",
    "seconds",
    "images_per_second",
];

/// A row of a loss log: the DCGAN loop's [`StepRecord`], or another model's.
pub trait LogRecord: Serialize + serde::de::DeserializeOwned + Clone {
    /// The header, in column order (what an empty log holds).
    const COLUMNS: &'static [&'static str];
    /// The 1-based iteration of the row.
    fn step(&self) -> usize;
}

impl LogRecord for StepRecord {
    const COLUMNS: &'static [&'static str] = &COLUMNS;
    fn step(&self) -> usize {
        self.step
    }
}

/// `losses.csv` of a run, held in memory as well.
pub struct LossLog<R: LogRecord = StepRecord> {
    path: PathBuf,
    rows: Vec<R>,
    writer: csv::Writer<File>,
}

fn io(path: &Path, e: impl std::fmt::Display) -> GanError {
    GanError::Output(format!("cannot write {}: {e}", path.display()))
}

impl<R: LogRecord> LossLog<R> {
    /// A new, empty log (header only).
    pub fn create(path: &Path) -> Result<Self> {
        let file = File::create(path).map_err(|e| io(path, e))?;
        Ok(LossLog {
            path: path.to_path_buf(),
            rows: Vec::new(),
            writer: csv::WriterBuilder::new()
                .has_headers(true)
                .from_writer(file),
        })
    }

    /// Reads every row of a log.
    pub fn read(path: &Path) -> Result<Vec<R>> {
        let mut reader = csv::Reader::from_path(path)
            .map_err(|e| GanError::Output(format!("cannot read {}: {e}", path.display())))?;
        reader
            .deserialize()
            .collect::<std::result::Result<Vec<R>, _>>()
            .map_err(|e| GanError::Output(format!("{} is malformed: {e}", path.display())))
    }

    /// The rows of a log up to the first that does not parse: a process killed (or stopped by a
    /// full disk) while appending can leave its last row torn, and a resumed run runs that step
    /// again anyway.
    fn read_complete_rows(path: &Path) -> Result<Vec<R>> {
        let mut reader = csv::Reader::from_path(path)
            .map_err(|e| GanError::Output(format!("cannot read {}: {e}", path.display())))?;
        Ok(reader.deserialize().map_while(|r| r.ok()).collect())
    }

    /// Reopens the log of a resumed run, dropping rows after the checkpoint's step (those
    /// iterations are run again).
    pub fn resume(path: &Path, up_to_step: usize) -> Result<Self> {
        let mut rows = if path.exists() {
            Self::read_complete_rows(path)?
        } else {
            Vec::new()
        };
        rows.retain(|r| r.step() <= up_to_step);
        let mut rewritten = csv::Writer::from_writer(Vec::new());
        for row in &rows {
            rewritten.serialize(row).map_err(|e| io(path, e))?;
        }
        if rows.is_empty() {
            rewritten
                .write_record(R::COLUMNS)
                .map_err(|e| io(path, e))?;
        }
        let bytes = rewritten.into_inner().map_err(|e| io(path, e))?;
        super::write_atomic(path, &bytes)?;
        let file = OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(|e| io(path, e))?;
        Ok(LossLog {
            path: path.to_path_buf(),
            rows,
            writer: csv::WriterBuilder::new()
                .has_headers(false)
                .from_writer(file),
        })
    }

    pub fn push(&mut self, record: R) -> Result<()> {
        self.writer
            .serialize(&record)
            .map_err(|e| io(&self.path, e))?;
        self.rows.push(record);
        Ok(())
    }

    pub fn flush(&mut self) -> Result<()> {
        self.writer.flush().map_err(|e| io(&self.path, e))
    }

    pub fn rows(&self) -> &[R] {
        &self.rows
    }
}

impl LossLog<StepRecord> {
    /// Per-epoch means, in epoch order.
    pub fn epoch_means(&self) -> Vec<EpochMeans> {
        epoch_means(&self.rows)
    }
}

pub fn epoch_means(rows: &[StepRecord]) -> Vec<EpochMeans> {
    // (means being summed, rows, rows with a Wasserstein estimate)
    let mut out: Vec<(EpochMeans, usize, usize)> = Vec::new();
    for r in rows {
        if out.last().map(|(m, _, _)| m.epoch) != Some(r.epoch) {
            out.push((
                EpochMeans {
                    epoch: r.epoch,
                    d_loss: 0.0,
                    g_loss: 0.0,
                    d_real: 0.0,
                    d_fake: 0.0,
                    wasserstein: None,
                    images_per_second: 0.0,
                },
                0,
                0,
            ));
        }
        let (m, n, nw) = out.last_mut().expect("just pushed");
        if let Some(w) = r.wasserstein {
            m.wasserstein = Some(m.wasserstein.unwrap_or(0.0) + w);
            *nw += 1;
        }
        m.d_loss += r.d_loss;
        m.g_loss += r.g_loss;
        m.d_real += r.d_real;
        m.d_fake += r.d_fake;
        m.images_per_second += r.images_per_second;
        *n += 1;
    }
    out.into_iter()
        .map(|(m, n, nw)| {
            let n = n as f64;
            EpochMeans {
                wasserstein: m.wasserstein.map(|w| w / nw as f64),
                d_loss: m.d_loss / n,
                g_loss: m.g_loss / n,
                d_real: m.d_real / n,
                d_fake: m.d_fake / n,
                images_per_second: m.images_per_second / n,
                ..m
            }
        })
        .collect()
}
