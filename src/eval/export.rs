//! `ganforge export`: a labelled synthetic data set for augmentation, one folder per class,
//! readable back by `folder:DIR`.

use std::path::{Path, PathBuf};

use burn::prelude::*;

use super::feature_net::load_classifier;
use super::judge::default_judge_dir;
use crate::device::DeviceChoice;
use crate::error::{GanError, Result};
use crate::output::run_dir::RunDir;
use crate::sample::{Draw, generate, image_png};

/// What an export wrote.
#[derive(Debug, Clone)]
pub struct Export {
    /// Images written per class folder, in class order.
    pub per_class: Vec<(String, usize)>,
    /// True when the labels are the judge's predictions (an unconditional run).
    pub judge_labelled: bool,
}

/// Writes `n` generated images of the run into `out` (new or empty), one subfolder per class.
/// A conditional run's images carry the class they were asked for (classes in turn); an
/// unconditional run's are labelled by the judge (`judge_dir`, default the data set's).
pub fn export(
    run: &Path,
    n: usize,
    seed: u64,
    out: &Path,
    judge_dir: Option<&Path>,
    device: DeviceChoice,
) -> Result<Export> {
    if n == 0 {
        return Err(GanError::config("n", "is 0: ask for at least one image"));
    }
    crate::output::require_empty_dir(out, "export writes into a new or empty folder")?;
    let run_dir = RunDir::open(run)?;
    let config = run_dir.read_config()?;
    config.require_images("ganforge export")?;
    let images = generate(run, Draw::Any(n), seed, device)?;
    let conditional = config.condition_classes() > 0;
    let (labels, names): (Vec<usize>, Vec<String>) = if conditional {
        let labels = images.iter().map(|(_, l)| l.unwrap_or(0)).collect();
        let mut names = run_dir.class_names();
        if names.len() != config.condition_classes() {
            names = (0..config.condition_classes())
                .map(|c| c.to_string())
                .collect();
        }
        (labels, names)
    } else {
        let dir: PathBuf = judge_dir.map(Path::to_path_buf).unwrap_or_else(|| {
            default_judge_dir(
                &config.input.data,
                config.input.spatial,
                config.input.channels,
            )
        });
        if !dir.exists() {
            return Err(GanError::Output(format!(
                "this run has no labels and there is no judge in {} to label its images: train one with `ganforge classifier train`, pass --classifier, or export a conditional run",
                dir.display()
            )));
        }
        let inference = device.device()?;
        let (judge, info) = load_classifier(&dir, config.input.channels, &inference)?;
        let [c, s] = [config.input.channels, config.input.spatial];
        let mut labels = Vec::with_capacity(images.len());
        for chunk in images.chunks(256) {
            let data: Vec<f32> = chunk.iter().flat_map(|(p, _)| p.clone()).collect();
            let batch =
                Tensor::<4>::from_data(TensorData::new(data, [chunk.len(), c, s, s]), &inference);
            let predicted = judge
                .forward(batch)
                .argmax(1)
                .into_data()
                .try_into_vec_as::<i64>()
                .expect("argmax gives integers");
            labels.extend(predicted.into_iter().map(|p| p as usize));
        }
        (labels, info.class_names)
    };
    // Encode everything first: a failure leaves nothing half-written.
    let pngs = images
        .iter()
        .map(|(p, _)| image_png(p, config.input.channels, config.input.spatial))
        .collect::<Result<Vec<_>>>()?;
    let mut per_class: Vec<(String, usize)> = names.iter().map(|n| (n.clone(), 0)).collect();
    let mut files = Vec::with_capacity(pngs.len());
    for (i, (png, &label)) in pngs.into_iter().zip(&labels).enumerate() {
        files.push((
            PathBuf::from(&names[label]).join(format!("synthetic_{i:06}.png")),
            png,
        ));
        per_class[label].1 += 1;
    }
    // The folder appears complete or not at all, whatever stops the export.
    crate::output::write_folder_atomic(out, &files)?;
    Ok(Export {
        per_class,
        judge_labelled: !conditional,
    })
}
