//! A run's networks as PyTorch weights, and a generator back from them (`ganforge export-model`,
//! `ganforge sample --run FILE.safetensors`).
//!
//! The file is safetensors, named and laid out as the `state_dict` of the PyTorch modules in
//! `scripts/ganforge_torch.py` (documented in `docs/pytorch-weights.md`): dense weights
//! transposed to `[out, in]`, BatchNorm's `gamma`/`beta` as `weight`/`bias` with its running
//! statistics and a `num_batches_tracked`, spectral normalisation folded into the weights it
//! divides (the exported D computes what ganforge's D computes in evaluation). The header's
//! metadata holds each network's constructor arguments as JSON (`generator`, `discriminator`),
//! so that a reader builds the module first and then loads the tensors with `strict=True`.
//!
//! The tutorial's DCGAN and the modern recipe's default model (the same family) are covered; other
//! families are refused by name.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use burn::prelude::*;
use burn::store::{
    BurnToPyTorchAdapter, FloatCastAdapter, ModuleAdapter, ModuleSnapshot, PyTorchToBurnAdapter,
    SafetensorsStore,
};
use safetensors::{Dtype, SafeTensors, View};
use serde::{Deserialize, Serialize};

use crate::config::{NoiseKind, TrainConfig};
use crate::error::{GanError, Result};
use crate::models::{
    DcganDiscriminatorConfig, DcganGeneratorConfig, Discriminator, Generator, ModelKind, NormKind,
    Upsampling,
};
use crate::output::checkpoint;
use crate::output::run_dir::RunDir;

/// The value of the metadata key `format` in every file ganforge writes.
pub const FORMAT: &str = "ganforge-pytorch-1";

/// Which networks `export-model` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportWhat {
    /// G (its moving average when the run keeps one: what `ganforge sample` draws with).
    Generator,
    /// D, spectral normalisation folded into its weights.
    Discriminator,
    /// Both, their tensors under `generator.` and `discriminator.`.
    Both,
}

/// The DCGAN generator's constructor arguments, as `scripts/ganforge_torch.py`'s
/// `DcganGenerator(**spec)` takes them (the metadata key `generator`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeneratorSpec {
    pub spatial: usize,
    pub channels: usize,
    pub latent: usize,
    pub capacity: usize,
    pub filter: usize,
    pub leaky_slope: f64,
    /// 0 for an unconditional generator.
    pub classes: usize,
    pub label_embedding: usize,
    pub class_norm: bool,
    /// The side G draws at before the bilinear resize to `spatial` (`spatial` for none).
    pub draw_side: usize,
    /// `transposed` or `nearest`; files written before the key existed are `transposed`.
    #[serde(default = "transposed")]
    pub upsample: Upsampling,
    /// The stride-2 transposed convolutions' kernel side; `filter` when null (and in files
    /// written before the key existed).
    #[serde(default)]
    pub resample_filter: Option<usize>,
}

fn transposed() -> Upsampling {
    Upsampling::Transposed
}

/// The DCGAN discriminator's constructor arguments (the metadata key `discriminator`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscriminatorSpec {
    pub channels: usize,
    pub capacity: usize,
    pub filter: usize,
    pub leaky_slope: f64,
    /// `batch`, `layer` or `none`.
    pub norm: NormKind,
    pub classes: usize,
    pub pack: usize,
    pub minibatch_stddev: bool,
    /// The stride-2 convolutions' kernel side; `filter` when null (and in older files).
    #[serde(default)]
    pub resample_filter: Option<usize>,
}

impl GeneratorSpec {
    /// The generator of a run's configuration.
    pub fn of_config(config: &TrainConfig) -> Self {
        let defaults = DcganGeneratorConfig::new(config.input.spatial, config.input.channels);
        GeneratorSpec {
            spatial: config.input.spatial,
            channels: config.input.channels,
            latent: config.networks.latent,
            capacity: config.networks.capacity,
            filter: config.networks.filter,
            leaky_slope: config.networks.leaky_slope,
            classes: config.condition_classes(),
            label_embedding: defaults.label_embedding,
            class_norm: config.networks.g_class_norm && config.condition_classes() > 0,
            draw_side: config.networks.g_draw_side.unwrap_or(config.input.spatial),
            upsample: config.networks.g_upsample,
            resample_filter: config.networks.resample_filter,
        }
    }

    /// Refuses arguments the DCGAN generator cannot be built with, naming the argument.
    fn check(&self) -> std::result::Result<(), String> {
        let power_of_two = |n: usize| n.is_power_of_two();
        if !power_of_two(self.spatial) || self.spatial < 16 {
            return Err(format!(
                "`spatial` is {}: a power of two, at least 16",
                self.spatial
            ));
        }
        if !(self.channels == 1 || self.channels == 3) {
            return Err(format!("`channels` is {}: 1 or 3", self.channels));
        }
        if self.latent == 0 || self.capacity == 0 {
            return Err("`latent` and `capacity` must be positive".into());
        }
        if self.filter.is_multiple_of(2) {
            return Err(format!("`filter` is {}: an odd kernel size", self.filter));
        }
        if self.resample_filter.is_some_and(|k| !(2..=7).contains(&k)) {
            return Err("`resample_filter` is a stride-2 kernel from 2 to 7, or null".into());
        }
        if !power_of_two(self.draw_side) || self.draw_side < 2 || self.draw_side > self.spatial {
            return Err(format!(
                "`draw_side` is {}: a power of two from 2 to `spatial` ({})",
                self.draw_side, self.spatial
            ));
        }
        if self.classes == 0 && self.class_norm {
            return Err("`class_norm` needs `classes` above 0".into());
        }
        if self.classes > 0 && self.label_embedding == 0 {
            return Err("`label_embedding` must be positive with `classes`".into());
        }
        Ok(())
    }

    /// A generator of this shape, with fresh weights.
    pub fn init(&self, device: &Device) -> Generator {
        DcganGeneratorConfig::new(self.spatial, self.channels)
            .with_latent(self.latent)
            .with_capacity(self.capacity)
            .with_filter(self.filter)
            .with_leaky_slope(self.leaky_slope)
            .with_classes(self.classes)
            .with_label_embedding(self.label_embedding)
            .with_class_norm(self.class_norm)
            .with_draw_side((self.draw_side < self.spatial).then_some(self.draw_side))
            .with_upsample(self.upsample)
            .with_resample_filter(self.resample_filter)
            .init(device)
            .into()
    }
}

impl DiscriminatorSpec {
    pub fn of_config(config: &TrainConfig) -> Self {
        DiscriminatorSpec {
            channels: config.input.channels,
            capacity: config.networks.capacity,
            filter: config.networks.filter,
            leaky_slope: config.networks.leaky_slope,
            norm: config.networks.d_norm,
            classes: config.condition_classes(),
            pack: config.remedies.pack,
            minibatch_stddev: config.remedies.minibatch_stddev,
            resample_filter: config.networks.resample_filter,
        }
    }

    /// A discriminator of this shape without spectral normalisation, with fresh weights.
    pub fn init(&self, device: &Device) -> Discriminator {
        DcganDiscriminatorConfig::new(self.channels)
            .with_capacity(self.capacity)
            .with_filter(self.filter)
            .with_leaky_slope(self.leaky_slope)
            .with_norm(self.norm)
            .with_classes(self.classes)
            .with_pack(self.pack)
            .with_minibatch_stddev(self.minibatch_stddev)
            .with_resample_filter(self.resample_filter)
            .init(device)
            .into()
    }
}

/// One tensor of a file being written.
struct OwnedTensor {
    name: String,
    dtype: Dtype,
    shape: Vec<usize>,
    data: Vec<u8>,
}

impl View for &OwnedTensor {
    fn dtype(&self) -> Dtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.data)
    }
    fn data_len(&self) -> usize {
        self.data.len()
    }
}

fn encode_error(e: impl std::fmt::Display) -> GanError {
    GanError::Output(format!("cannot encode the weights: {e}"))
}

/// The tensors of `module` in PyTorch's names and layouts, each name after `prefix`; every
/// BatchNorm gains the `num_batches_tracked` PyTorch's has (`batches`, the steps trained).
fn pytorch_tensors<M: ModuleSnapshot>(
    module: &M,
    prefix: &str,
    batches: i64,
) -> Result<Vec<OwnedTensor>> {
    let mut store = SafetensorsStore::from_bytes(None)
        .with_to_adapter(BurnToPyTorchAdapter)
        .skip_enum_variants(true);
    module.save_into(&mut store).map_err(encode_error)?;
    let bytes = store.get_bytes().map_err(encode_error)?;
    let file = SafeTensors::deserialize(&bytes).map_err(encode_error)?;
    let mut tensors = Vec::new();
    for (name, view) in file.tensors() {
        if let Some(layer) = name.strip_suffix(".running_mean") {
            tensors.push(OwnedTensor {
                name: format!("{prefix}{layer}.num_batches_tracked"),
                dtype: Dtype::I64,
                shape: Vec::new(),
                data: batches.to_le_bytes().to_vec(),
            });
        }
        tensors.push(OwnedTensor {
            name: format!("{prefix}{name}"),
            dtype: view.dtype(),
            shape: view.shape().to_vec(),
            data: view.data().to_vec(),
        });
    }
    Ok(tensors)
}

/// True when `path` names a safetensors file (weights, or tensors to compare) rather than a
/// directory.
pub fn is_weights_file(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "safetensors")
}

/// What [`export_model`] wrote.
#[derive(Debug, Clone)]
pub struct ExportedModel {
    pub path: PathBuf,
    pub tensors: usize,
    pub step: usize,
}

/// Writes the run's latest networks to `out` (a new `.safetensors` file).
pub fn export_model(run: &Path, what: ExportWhat, out: &Path) -> Result<ExportedModel> {
    if !is_weights_file(out) {
        return Err(GanError::config(
            "out",
            format!(
                "is {}: the weights are written as safetensors, give a path ending in .safetensors",
                out.display()
            ),
        ));
    }
    if out.exists() {
        return Err(GanError::Output(format!(
            "{} exists: choose another --out (nothing was changed)",
            out.display()
        )));
    }
    let run_dir = RunDir::open(run)?;
    let config = run_dir.read_config()?;
    if config.networks.model != ModelKind::Dcgan {
        return Err(GanError::config(
            "model",
            format!(
                "is {} in {}: export-model writes the DCGAN family (the tutorial's and the modern \
                 recipe's default networks) only",
                config.model_name(),
                run.display()
            ),
        ));
    }
    let device = burn::prelude::Device::default();
    let dir = checkpoint::latest(&run_dir.checkpoints_dir())?;
    let state = checkpoint::read_state_of_run(&dir, &config)?;
    let batches = state.step as i64;
    let (with_g, with_d) = match what {
        ExportWhat::Generator => (true, false),
        ExportWhat::Discriminator => (false, true),
        ExportWhat::Both => (true, true),
    };
    let prefix = |name: &str| {
        if what == ExportWhat::Both {
            format!("{name}.")
        } else {
            String::new()
        }
    };
    let mut tensors = Vec::new();
    let mut metadata = HashMap::from([
        ("format".to_string(), FORMAT.to_string()),
        ("model".to_string(), "dcgan".to_string()),
        ("step".to_string(), state.step.to_string()),
        (
            "noise".to_string(),
            noise_name(config.schedule.noise).to_string(),
        ),
        ("source".to_string(), run.display().to_string()),
    ]);
    let class_names = run_dir.class_names();
    if config.condition_classes() > 0 && !class_names.is_empty() {
        metadata.insert("class_names".into(), class_names.join(","));
    }
    if with_g {
        let generator = checkpoint::load_generator(&config, &dir, &device)?;
        tensors.extend(pytorch_tensors(&generator, &prefix("generator"), batches)?);
        let spec = GeneratorSpec::of_config(&config);
        metadata.insert(
            "generator".into(),
            serde_json::to_string(&spec).map_err(encode_error)?,
        );
        metadata.insert(
            "generator_weights".into(),
            if config.remedies.g_ema.is_some() {
                "moving average"
            } else {
                "trained"
            }
            .into(),
        );
    }
    if with_d {
        let discriminator = checkpoint::load_discriminator(&config, &dir, &device)?;
        let Discriminator::Dcgan(d) = discriminator else {
            unreachable!("the model was checked to be dcgan")
        };
        let folded = Discriminator::from(d.with_spectral_norm_folded());
        tensors.extend(pytorch_tensors(&folded, &prefix("discriminator"), batches)?);
        let spec = DiscriminatorSpec::of_config(&config);
        metadata.insert(
            "discriminator".into(),
            serde_json::to_string(&spec).map_err(encode_error)?,
        );
        metadata.insert(
            "spectral_norm".into(),
            if config.networks.spectral_norm {
                "folded into the weights"
            } else {
                "none"
            }
            .into(),
        );
    }
    tensors.sort_by(|a, b| a.name.cmp(&b.name));
    let count = tensors.len();
    let bytes = safetensors::serialize(tensors.iter().map(|t| (t.name.clone(), t)), Some(metadata))
        .map_err(encode_error)?;
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|e| GanError::io(format!("cannot create {}", parent.display()), e))?;
    }
    crate::output::write_atomic(out, &bytes)?;
    Ok(ExportedModel {
        path: out.to_path_buf(),
        tensors: count,
        step: state.step,
    })
}

fn noise_name(noise: NoiseKind) -> &'static str {
    match noise {
        NoiseKind::Normal => "normal",
        NoiseKind::Uniform => "uniform",
    }
}

/// A generator read from a weights file, with what sampling from it needs.
#[derive(Debug)]
pub struct GeneratorFile {
    pub generator: Generator,
    pub spec: GeneratorSpec,
    pub noise: NoiseKind,
    /// Class names from the metadata, or `0 … classes − 1`.
    pub class_names: Vec<String>,
}

/// Reads the generator in `path`: one that `export-model` wrote, or one saved from
/// `scripts/ganforge_torch.py`'s `DcganGenerator` (its `save` writes the metadata). Every tensor
/// is checked against the architecture the metadata names before any is used.
pub fn load_generator_file(path: &Path, device: &Device) -> Result<GeneratorFile> {
    let bad = |why: String| {
        GanError::Output(format!(
            "{} is not a ganforge generator: {why} (the layout is in docs/pytorch-weights.md)",
            path.display()
        ))
    };
    let bytes = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    let file = SafeTensors::deserialize(&bytes).map_err(|e| bad(e.to_string()))?;
    let (_, header) = SafeTensors::read_metadata(&bytes).map_err(|e| bad(e.to_string()))?;
    let metadata = header.metadata().clone().unwrap_or_default();
    let spec_text = metadata.get("generator").ok_or_else(|| {
        bad("its metadata has no `generator` key (the JSON of DcganGenerator's arguments)".into())
    })?;
    let spec: GeneratorSpec = serde_json::from_str(spec_text)
        .map_err(|e| bad(format!("metadata `generator` does not parse: {e}")))?;
    spec.check()
        .map_err(|e| bad(format!("metadata `generator`: {e}")))?;
    let noise = match metadata.get("noise").map(String::as_str) {
        None | Some("normal") => NoiseKind::Normal,
        Some("uniform") => NoiseKind::Uniform,
        Some(other) => {
            return Err(bad(format!(
                "metadata `noise` is `{other}`: `normal` or `uniform`"
            )));
        }
    };
    let class_names: Vec<String> = match metadata.get("class_names") {
        Some(text) => text.split(',').map(|s| s.trim().to_string()).collect(),
        None => (0..spec.classes).map(|c| c.to_string()).collect(),
    };
    if class_names.len() != spec.classes {
        return Err(bad(format!(
            "metadata `class_names` names {} classes, `generator` has {}",
            class_names.len(),
            spec.classes
        )));
    }

    // The generator's tensors, under `generator.` in a file that holds D too; PyTorch's
    // `num_batches_tracked` has no counterpart in burn's BatchNorm.
    let prefixed = file.names().iter().any(|n| n.starts_with("generator."));
    let mut tensors = Vec::new();
    for (name, view) in file.tensors() {
        let name = if prefixed {
            match name.strip_prefix("generator.") {
                Some(rest) => rest.to_string(),
                None => continue,
            }
        } else {
            name
        };
        if name.ends_with(".num_batches_tracked") {
            continue;
        }
        tensors.push(OwnedTensor {
            name,
            dtype: view.dtype(),
            shape: view.shape().to_vec(),
            data: view.data().to_vec(),
        });
    }
    let own = safetensors::serialize(tensors.iter().map(|t| (t.name.clone(), t)), None)
        .map_err(|e| bad(e.to_string()))?;

    let mut generator = spec.init(device);
    let float = Tensor::<1>::zeros([1], device).dtype();
    let mut store = SafetensorsStore::from_bytes(Some(own))
        .with_from_adapter(PyTorchToBurnAdapter.chain(FloatCastAdapter::to(float)))
        .skip_enum_variants(true)
        .allow_partial(true)
        .validate(true);
    let result = generator
        .load_from(&mut store)
        .map_err(|e| bad(e.to_string()))?;
    if !result.missing.is_empty() {
        let missing: Vec<&str> = result.missing.iter().map(|(n, _)| n.as_str()).collect();
        return Err(bad(format!("tensors missing: {}", missing.join(", "))));
    }
    if !result.errors.is_empty() {
        let errors: Vec<String> = result.errors.iter().map(|e| e.to_string()).collect();
        return Err(bad(errors.join("; ")));
    }
    if !result.unused.is_empty() {
        return Err(bad(format!(
            "tensors outside the layout: {}",
            result.unused.join(", ")
        )));
    }
    Ok(GeneratorFile {
        generator,
        spec,
        noise,
        class_names,
    })
}
