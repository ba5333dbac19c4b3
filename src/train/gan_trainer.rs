//! The single-G/D GANs ([`Gan`]) as a [`Trainer`] of the session driver: their data, batch
//! order and diagnostics, the tutorial's sample figure (or a scatter of points for a mixture),
//! the per-epoch loss plot and the checkpoint's files.

use std::path::Path;

use burn::prelude::*;

use super::diagnostics::{Diagnostics, mean_pairwise_distance};
use super::gan::{Gan, Latent, label_tensor};
use super::random::{DataOrder, Stream};
use super::session::{TrainRecord, Trainer};
use crate::config::TrainConfig;
use crate::data::mixture::{Mixture, mode_coverage, points_of};
use crate::data::{DataSpec, ImageSet, LoadOptions};
use crate::error::{GanError, Result};
use crate::models::all_finite;
use crate::output::checkpoint::CheckpointState;
use crate::output::figure::{SampleFigure, Tile, split_images};
use crate::output::loss_log::{StepRecord, epoch_means};
use crate::output::plot::loss_plot;
use crate::output::run_dir::RunDir;
use crate::output::scatter::{ScatterPanel, scatter_png};
use crate::output::write_atomic;

/// Images shown in each row of a sample figure.
const PREVIEW: usize = 8;

/// Points each mixture figure shows (and measures its coverage on), as the benchmarks do.
const POINT_PREVIEW: usize = 2500;

impl TrainRecord for StepRecord {
    fn losses(&self) -> Vec<(&'static str, f64)> {
        vec![("d_loss", self.d_loss), ("g_loss", self.g_loss)]
    }

    fn set_timing(&mut self, seconds: f64, images_per_second: f64) {
        self.seconds = seconds;
        self.images_per_second = images_per_second;
    }
}

pub(crate) struct GanTrainer {
    gan: Gan,
    data: ImageSet,
    order: DataOrder,
    diagnostics: Diagnostics,
}

fn load_data(config: &TrainConfig) -> Result<ImageSet> {
    ImageSet::load(
        &config.input.data,
        LoadOptions {
            spatial: config.input.spatial,
            channels: config.input.channels,
            limit: config.input.num_load,
            background: config.input.background,
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

/// Images D scores for a sample figure: a training-sized batch (at least the images shown), in
/// whole packs.
fn preview_count(config: &TrainConfig) -> usize {
    config
        .schedule
        .batch
        .max(PREVIEW)
        .div_ceil(config.remedies.pack)
        * config.remedies.pack
}

impl GanTrainer {
    fn new(gan: Gan, data: ImageSet) -> Self {
        let order = DataOrder::new(gan.config.schedule.seed, data.len());
        let diagnostics = Diagnostics::new(gan.config.objective.loss);
        GanTrainer {
            gan,
            data,
            order,
            diagnostics,
        }
    }

    /// The tutorial's figure: generated images from fixed noise and real images, each with D's
    /// score under it. D scores a whole training-sized batch of each with the batch's own
    /// statistics, as it judges batches in training: its running averages mix the statistics of
    /// real and of fake batches, and would score neither as training does.
    fn image_figure(&mut self) -> Result<(Vec<u8>, Vec<String>)> {
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
        let (fake, real) = (split_images(fake), split_images(real));
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
            channels: gan.config.input.channels,
            spatial: gan.config.input.spatial,
            rows,
        };
        let lines = events.iter().map(|e| e.message()).collect();
        Ok((figure.to_png()?, lines))
    }

    /// A mixture run's figure: a scatter of generated points over the modes, with their coverage
    /// in the title and the log.
    fn point_figure(&self, mixture: Mixture) -> Result<(Vec<u8>, Vec<String>)> {
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
        let png = scatter_png(&title, &[panel], 1)?;
        Ok((png, vec![format!("step {}: {summary}", gan.step)]))
    }
}

impl Trainer for GanTrainer {
    type Record = StepRecord;
    const RUN: &'static str = "run";
    const FIGURES: &'static str = "samples";

    fn start(mut config: TrainConfig, device: &Device) -> Result<Self> {
        let data = load_data(&config)?;
        if config.input.conditional {
            config.input.classes = Some(classes_of(&data, config.input.classes)?);
        }
        Ok(GanTrainer::new(Gan::new(&config, device), data))
    }

    fn restore(
        config: TrainConfig,
        dir: &Path,
        state: &CheckpointState,
        device: &Device,
    ) -> Result<Self> {
        let gan = Gan::restore(&config, dir, state, device)?;
        Ok(GanTrainer::new(gan, load_data(&config)?))
    }

    fn config(&self) -> &TrainConfig {
        &self.gan.config
    }

    fn step(&self) -> usize {
        self.gan.step
    }

    fn write_start_files(&self, run: &RunDir) -> Result<()> {
        if self.data.class_names.is_empty() {
            return Ok(());
        }
        write_atomic(
            &run.classes_path(),
            self.data.class_names.join("\n").as_bytes(),
        )
    }

    fn data_lines(&self) -> Vec<String> {
        let mut lines = vec![format!("data: {}", self.data.summary())];
        // Points of a mixture are a data set of 100 000; only images can be too few.
        if !matches!(self.gan.config.input.data, DataSpec::Mixture(_)) {
            lines.extend(self.data.size_warning(self.gan.config.schedule.batch));
        }
        lines
    }

    fn images_per_iteration(&self) -> usize {
        self.gan.config.schedule.batch
    }

    fn iteration(&mut self) -> StepRecord {
        self.gan.iteration(&self.data, &mut self.order)
    }

    fn progress_text(&self, record: &StepRecord) -> String {
        format!(
            "epoch {} · D {:.3} · G {:.3} · D(x) {:.2} · D(G(z)) {:.2} · {:.0} img/s",
            record.epoch + 1,
            record.d_loss,
            record.g_loss,
            record.d_real,
            record.d_fake,
            record.images_per_second
        )
    }

    fn observe(&mut self, record: &StepRecord) -> Vec<String> {
        self.diagnostics
            .observe_step(record)
            .iter()
            .map(|e| e.message())
            .collect()
    }

    fn sample_figure(&mut self) -> Result<(Vec<u8>, Vec<String>)> {
        match self.gan.config.input.data {
            DataSpec::Mixture(mixture) => self.point_figure(mixture),
            _ => self.image_figure(),
        }
    }

    fn epoch_summary(&self, rows: &[StepRecord]) -> Result<(Vec<u8>, Option<String>)> {
        let means = epoch_means(rows);
        let config = &self.gan.config;
        let epochs = config
            .total_steps()
            .div_ceil(config.schedule.iterations_per_epoch);
        let line = means.last().map(|m| {
            format!(
                "epoch {}/{epochs} · step {} · D loss {:.4} · G loss {:.4} · D(x) {:.3} · D(G(z)) {:.3} · {:.0} img/s",
                m.epoch + 1,
                self.gan.step,
                m.d_loss,
                m.g_loss,
                m.d_real,
                m.d_fake,
                m.images_per_second
            )
        });
        Ok((loss_plot(rows)?, line))
    }

    fn weights_finite(&self) -> bool {
        all_finite(&self.gan.generator)
            && all_finite(&self.gan.discriminator)
            && self.gan.generator_ema.as_ref().is_none_or(all_finite)
    }

    fn checkpoint_files(&self, hint: &Path) -> Result<Vec<(&'static str, Vec<u8>)>> {
        self.gan.checkpoint_files(hint)
    }
}
