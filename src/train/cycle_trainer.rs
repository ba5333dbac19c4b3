//! CycleGAN ([`CycleGan`]) as a [`Trainer`] of the session driver: its two domains and their
//! batch orders, the panels a | G(a) | F(G(a)) and b | F(b) | G(F(b)), the plot of every loss
//! term and the checkpoint's files.

use std::path::Path;

use burn::prelude::*;

use super::cycle::{CycleGan, Direction, load_domains};
use super::random::DataOrder;
use super::session::{TrainRecord, Trainer};
use crate::config::TrainConfig;
use crate::data::ImageSet;
use crate::error::Result;
use crate::output::checkpoint::CheckpointState;
use crate::output::figure::{SampleFigure, Tile, split_images};
use crate::output::loss_log::{CycleRecord, LogRecord};
use crate::output::plot::{Series, curve_plot};

/// Images shown per domain in a sample panel.
const PANEL_ROWS: usize = 4;

impl TrainRecord for CycleRecord {
    fn losses(&self) -> Vec<(&'static str, f64)> {
        self.terms().to_vec()
    }

    fn set_timing(&mut self, seconds: f64, images_per_second: f64) {
        self.seconds = seconds;
        self.images_per_second = images_per_second;
    }
}

pub(crate) struct CycleTrainer {
    gan: CycleGan,
    a: ImageSet,
    b: ImageSet,
    order_a: DataOrder,
    order_b: DataOrder,
}

impl CycleTrainer {
    fn new(gan: CycleGan, (a, b): (ImageSet, ImageSet)) -> Self {
        let seed = gan.config.schedule.seed;
        let order_a = DataOrder::new(seed, a.len());
        // Another seed for B: the domains are unpaired, and shuffled independently.
        let order_b = DataOrder::new(seed ^ 0x0b0b_0b0b, b.len());
        CycleTrainer {
            gan,
            a,
            b,
            order_a,
            order_b,
        }
    }
}

impl Trainer for CycleTrainer {
    type Record = CycleRecord;
    const RUN: &'static str = "CycleGAN run";
    const FIGURES: &'static str = "panels";

    fn start(config: TrainConfig, device: &Device) -> Result<Self> {
        let domains = load_domains(&config)?;
        Ok(CycleTrainer::new(CycleGan::new(&config, device), domains))
    }

    fn restore(
        config: TrainConfig,
        dir: &Path,
        state: &CheckpointState,
        device: &Device,
    ) -> Result<Self> {
        let gan = CycleGan::restore(&config, dir, state, device)?;
        Ok(CycleTrainer::new(gan, load_domains(&config)?))
    }

    fn config(&self) -> &TrainConfig {
        &self.gan.config
    }

    fn step(&self) -> usize {
        self.gan.step
    }

    fn data_lines(&self) -> Vec<String> {
        let batch = self.config().schedule.batch;
        let mut lines = vec![format!("domain A: {}", self.a.summary())];
        lines.extend(self.a.size_warning(batch).map(|w| format!("domain A {w}")));
        lines.push(format!("domain B: {}", self.b.summary()));
        lines.extend(self.b.size_warning(batch).map(|w| format!("domain B {w}")));
        lines
    }

    fn images_per_iteration(&self) -> usize {
        // Each iteration translates a batch of each domain.
        2 * self.gan.config.schedule.batch
    }

    fn iteration(&mut self) -> CycleRecord {
        self.gan
            .iteration(&self.a, &self.b, &mut self.order_a, &mut self.order_b)
    }

    fn progress_text(&self, r: &CycleRecord) -> String {
        format!(
            "epoch {} · G {:.3} · cycle {:.3} · D_A {:.3} · D_B {:.3} · {:.0} img/s",
            r.epoch + 1,
            r.generator_total(),
            r.cycle_a + r.cycle_b,
            r.d_a,
            r.d_b,
            r.images_per_second
        )
    }

    /// Rows a | G(a) | F(G(a)) and b | F(b) | G(F(b)) for fixed images of each domain.
    fn sample_figure(&mut self) -> Result<(Vec<u8>, Vec<String>)> {
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
            channels: self.gan.config.input.channels,
            spatial: self.gan.config.input.spatial,
            rows,
        };
        Ok((figure.to_png()?, Vec::new()))
    }

    /// The plot of every term's per-epoch mean, and the epoch's line.
    fn epoch_summary(&self, rows: &[CycleRecord]) -> Result<(Vec<u8>, Option<String>)> {
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
        let per_step: Vec<Series> = names
            .iter()
            .enumerate()
            .map(|(k, n)| {
                let points = rows
                    .iter()
                    .map(|r| (r.step as f64, r.terms()[k].1))
                    .collect();
                (n.to_string(), points)
            })
            .collect();
        let plot = curve_plot("CycleGAN losses per iteration", "loss", &per_step)?;
        let config = &self.gan.config;
        let line = series.first().and_then(|(_, p)| p.last()).map(|last| {
            let means: Vec<String> = series
                .iter()
                .filter_map(|(n, p)| p.last().map(|(_, v)| format!("{n} {v:.3}")))
                .collect();
            format!(
                "epoch {}/{} · step {} · {}",
                last.0 as usize,
                config
                    .total_steps()
                    .div_ceil(config.schedule.iterations_per_epoch),
                self.gan.step,
                means.join(" · ")
            )
        });
        Ok((plot, line))
    }

    fn weights_finite(&self) -> bool {
        self.gan.weights_finite()
    }

    fn checkpoint_files(&self, hint: &Path) -> Result<Vec<(&'static str, Vec<u8>)>> {
        self.gan.checkpoint_files(hint)
    }
}
