//! The training configuration: the tutorial's global parameters and ganforge's own.
//!
//! Every key is declared once, in the `train_keys!` table below, with its section, type, default
//! and help. [`TrainConfig`] is the resolved configuration, one typed section (a burn `Config`) per
//! heading of `--help`, written flat to
//! `config.toml` in every run. [`TrainOverrides`] is the same set of keys, each optional: it is
//! both the `train` command's flags and the schema of a `--config FILE.toml`, so a key has one
//! name in both places and an unknown key is an error. The presets (each data kind's, each
//! objective's, CycleGAN's) are the functions at the end of this file. Defaults ← data preset ←
//! objective preset ← file ← flags.

use std::path::{Path, PathBuf};

use burn::config::Config;
use serde::{Deserialize, Serialize};

use crate::augment::AugmentPolicy;
use crate::data::{Background, DataSpec};
use crate::error::GanError;
use crate::losses::LossKind;
use crate::models::{ModelKind, NormKind, Upsampling};

/// Distribution of the generator's input noise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum NoiseKind {
    /// N(0, 1), the tutorial's choice.
    Normal,
    /// U(-1, 1).
    Uniform,
}

/// A set of defaults for the networks, the objective and the loop (`recipe`), under the data
/// set's shape and the user's keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Recipe {
    /// What ganforge recommends (the default): hinge loss, a spectrally normalised D without
    /// batch statistics, an average of G with a warm-up, differentiable translation; the
    /// residual networks for a conditional run. See [`recipe_preset`].
    Modern,
    /// The tutorial's exact DCGAN, losses and loop (every key at its own default).
    Tutorial,
}

/// The optimizer of both networks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    /// Adam with `beta1`, `beta2` (the tutorial's).
    Adam,
    /// RMSProp without momentum, as Arjovsky et al. train the WGAN critic: momentum makes the
    /// clipped critic unstable.
    Rmsprop,
}

/// Declares every configuration key once: its section, name, type, default and help. From that
/// one table come [`TrainConfig`] (the resolved configuration, with the defaults), its TOML form
/// (`config.toml`, `--config FILE.toml`: flat, one key a line), [`TrainOverrides`] (every key
/// optional: the `train` flags and the schema of a config file), `--help` (the section headings,
/// each key's help with its default and the presets that change it, built by [`key_help`]), and
/// [`KEYS`].
///
/// An entry is `/// help` then `name: ResolvedType => FlagType = default`; a key whose resolved
/// type is an `Option` defaults to `"None"` (unset). `#[arg(...)]` adds clap settings.
macro_rules! train_keys {
    ($( $section:literal $sfield:ident $sty:ident { $sdoc:literal
        $(
            #[doc = $help:literal]
            $(#[arg($($arg:tt)*)])?
            $field:ident : $cty:ty => $oty:ty = $default:literal
        ),* $(,)?
    } )*) => {
        $(
            #[doc = $sdoc]
            #[derive(Config, Debug, PartialEq)]
            pub struct $sty {
                $(
                    #[doc = $help]
                    #[config(default = $default)]
                    pub $field: $cty,
                )*
            }
        )*

        /// The resolved configuration of a run, in its sections. Its TOML form (`config.toml`) is
        /// flat, one key a line, the same keys as [`TrainOverrides`].
        #[derive(Debug, Clone, PartialEq)]
        pub struct TrainConfig {
            $(
                #[doc = $sdoc]
                pub $sfield: $sty,
            )*
        }

        impl TrainConfig {
            /// Every key at its default (no preset applied).
            #[allow(clippy::new_without_default)]
            pub fn new() -> Self {
                TrainConfig { $( $sfield: $sty::new(), )* }
            }

            /// The configuration as a complete set of keys: its flat, TOML form.
            fn to_keys(&self) -> TrainOverrides {
                TrainOverrides { $($( $field: self.$sfield.$field.clone().into(), )*)* }
            }
        }

        /// Every key of [`TrainConfig`], optional: the flags of `ganforge train` and the schema
        /// of a config file.
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, clap::Args)]
        #[serde(deny_unknown_fields)]
        pub struct TrainOverrides {
            $($(
                #[arg(long, help_heading = $section, help = key_help(stringify!($field)) $(, $($arg)*)?)]
                pub $field: Option<$oty>,
            )*)*
        }

        /// Every key: its section, name and help, in the order of `--help`.
        pub const KEYS: &[Key] = &[
            $($( Key { section: $section, name: stringify!($field), help: $help }, )*)*
        ];

        impl TrainOverrides {
            /// `other`'s keys where it has them, else this one's.
            pub fn overridden_by(self, other: TrainOverrides) -> TrainOverrides {
                TrainOverrides { $($( $field: other.$field.or(self.$field), )*)* }
            }

            fn apply_to(&self, config: &mut TrainConfig) {
                $($( if let Some(v) = &self.$field { config.$sfield.$field = v.clone().into(); } )*)*
            }

            /// Names (as in the config file) of the keys that are set.
            pub fn set_keys(&self) -> Vec<&'static str> {
                let mut keys = Vec::new();
                $($( if self.$field.is_some() { keys.push(stringify!($field)); } )*)*
                keys
            }
        }
    };
}

/// `config.toml` holds the flat keys.
impl Serialize for TrainConfig {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        self.to_keys().serialize(serializer)
    }
}

/// A flat set of keys, each missing one at its default (no preset: [`TrainOverrides::resolve`]
/// applies those).
impl<'de> Deserialize<'de> for TrainConfig {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        let keys = TrainOverrides::deserialize(deserializer)?.with_recipe_of_legacy_record();
        let mut config = TrainConfig::new();
        keys.apply_to(&mut config);
        Ok(config)
    }
}

/// One configuration key as `--help` and the README describe it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    /// The section of `--help` it is listed under.
    pub section: &'static str,
    /// Its name in a config file (`--name-with-dashes` as a flag).
    pub name: &'static str,
    /// What it means, without its default (which [`key_help`] adds).
    pub help: &'static str,
}

train_keys! {
    "Data" input InputKeys { "What the networks learn from: the data set and the shape its images are loaded at."
        /// Dataset (with model cyclegan, `cyclegan` and the domains as data_a and data_b, or cyclegan:DIR)
        data: DataSpec => DataSpec = "DataSpec::Digits",
        /// Image side: a power of two from 16 to 256 (dcgan, resnet), 1 to 64 (mlp), a multiple of 4 (cyclegan)
        spatial: usize => usize = 64,
        /// Image channels: 1 (grey) or 3 (RGB); 2 for 2-D points
        channels: usize => usize = 3,
        /// Load at most N images (the tutorial's NUM_LOAD); all when unset
        num_load: Option<usize> => usize = "None",
        /// What transparent pixels are composited onto (images with alpha: PNGs, the emoji): white, black or #rrggbb
        background: Background => Background = "Background::WHITE",
        /// Condition G and D on the data's class labels (digits; emoji, by category; folders with class subfolders)
        #[arg(num_args = 0..=1, default_missing_value = "true")]
        conditional: bool => bool = false,
        /// Classes of a conditional run; taken from the data when unset
        classes: Option<usize> => usize = "None",
    }
    "Model" networks NetworkKeys { "The architecture and the size of both networks."
        /// Defaults for networks, objective and loop: modern (hinge, spectral norm, EMA, translation augmentation; conditional: resnet) or tutorial (the tutorial's exact DCGAN); any key still applies on top
        #[arg(value_enum)]
        recipe: Recipe => Recipe = "Recipe::Modern",
        /// Networks: dcgan (the tutorial's), resnet (SNGAN/BigGAN residual), mlp (fully connected G, maxout D) or cyclegan (two-domain translation)
        #[arg(value_enum)]
        model: ModelKind => ModelKind = "ModelKind::Dcgan",
        /// Noise dimension
        latent: usize => usize = 100,
        /// Filters of D's first block and G's last (CycleGAN: the stem's filters; mlp: D's width)
        capacity: usize => usize = 16,
        /// Convolution kernel size, odd
        filter: usize => usize = 5,
        /// Negative slope of LeakyReLU
        leaky_slope: f64 => f64 = 0.3,
        /// Normalisation in D's blocks: batch (the tutorial's), layer or none
        #[arg(value_enum)]
        d_norm: NormKind => NormKind = "NormKind::Batch",
        /// Draw initial kernel weights from N(0, STD²); burn's Kaiming uniform when unset
        init_std: Option<f64> => f64 = "None",
        /// Side G draws at, brought to `spatial` by the loader's own bilinear resize (dcgan): for data made by upscaling, as the digits are (8); spatial when unset
        g_draw_side: Option<usize> => usize = "None",
        /// How the dcgan G's blocks double the side: transposed (the tutorial's stride-2 transposed convolution) or nearest (nearest doubling, then a convolution: no checkerboard, 4× the multiply-adds of a transposed one of the same kernel)
        #[arg(value_enum)]
        g_upsample: Upsampling => Upsampling = "Upsampling::Transposed",
        /// Kernel side of the dcgan's stride-2 convolutions, D's down-sampling one and G's transposed one (not G's nearest up-sampling, a stride-1 convolution): 4, PyTorch's DCGAN, gives every pixel the same number of windows, where an odd side gives half the rows and columns two and half one, a checkerboard built into G's images and D's gradients; filter when unset
        resample_filter: Option<usize> => usize = "None",
        /// Class-conditional BatchNorm (a gain and bias per class) in the dcgan G's blocks of a conditional run, besides its label embedding
        #[arg(num_args = 0..=1, default_missing_value = "true")]
        g_class_norm: bool => bool = false,
        /// Spectral normalisation of D's convolutions and dense head (Miyato et al. 2018; dcgan, resnet)
        #[arg(num_args = 0..=1, default_missing_value = "true")]
        spectral_norm: bool => bool = false,
    }
    "Objective" objective ObjectiveKeys { "The adversarial loss and its terms."
        /// The adversarial objective (bce is the tutorial's)
        #[arg(value_enum)]
        loss: LossKind => LossKind = "LossKind::Bce",
        /// Target for real images in D's loss (bce, lsgan): 1 is none, 0.9 one-sided label smoothing
        label_smoothing: f64 => f64 = 1.0,
        /// λ of the WGAN-GP gradient penalty
        gp_weight: f64 => f64 = 10.0,
        /// Clip D's weights to [-C, C] after each D step (WGAN); none when unset
        clip: Option<f64> => f64 = "None",
        /// γ of the R1 penalty γ/2·E‖∇D(x)‖² on real images (Mescheder et al. 2018); none when unset
        r1_gamma: Option<f64> => f64 = "None",
        /// Apply R1 every K steps, scaled by K (lazy regularisation)
        r1_interval: usize => usize = 1,
        /// Weight of the dual projection's classification term (P2GAN, Han et al. 2021), conditional runs: D learns to name real images' classes from its class projection, and G to make images it names as asked; none when unset
        class_loss: Option<f64> => f64 = "None",
    }
    "Optimiser" optimiser OptimiserKeys { "The optimizer of both networks and its rates."
        /// Optimizer of both networks (RMSProp runs without momentum, as in the WGAN paper)
        #[arg(value_enum)]
        optimizer: OptimizerKind => OptimizerKind = "OptimizerKind::Adam",
        /// Discriminator learning rate
        lr_d: f64 => f64 = 2e-4,
        /// Generator learning rate
        lr_g: f64 => f64 = 2e-4,
        /// Adam beta1
        beta1: f64 => f64 = 0.5,
        /// Adam beta2
        beta2: f64 => f64 = 0.999,
        /// Step from which both learning rates fall linearly to 0 at the last step; when unset, half the steps for CycleGAN (Zhu et al.) and 2-D mixtures, no decay for the other models
        lr_decay_start: Option<usize> => usize = "None",
    }
    "Schedule" schedule ScheduleKeys { "How long a run trains, in what batches and steps, and when it writes what."
        /// Batch size
        batch: usize => usize = 32,
        /// D updates (each a real and a fake batch) per iteration
        disc_updates: usize => usize = 1,
        /// G updates per iteration
        gen_updates: usize => usize = 1,
        /// Iterations per epoch
        iterations_per_epoch: usize => usize = 200,
        /// Epochs to train
        epochs: usize => usize = 10,
        /// Total iterations, instead of epochs × iterations per epoch
        steps: Option<usize> => usize = "None",
        /// Iterations between sample figures
        progress_interval: usize => usize = 80,
        /// Iterations between checkpoints (one is always written at the end)
        checkpoint_interval: usize => usize = 200,
        /// Complete checkpoints kept on disk, the newest ones (at least 1; the default keeps the one before the newest, in case the newest is damaged)
        keep_checkpoints: usize => usize = 2,
        /// Also write TensorBoard event files into DIR/<run name>: the losses, D's scores, the gradient norms and the sample figures (`tensorboard --logdir DIR`); none when unset. A resumed run may set or change it
        tensorboard: Option<PathBuf> => PathBuf = "None",
        /// Seed of the weights, the noise and the batch order
        seed: u64 => u64 = 42,
        /// Noise distribution
        #[arg(value_enum)]
        noise: NoiseKind => NoiseKind = "NoiseKind::Normal",
    }
    "Remedies" remedies RemedyKeys { "The tutorial's troubleshooting remedies and the mode-collapse ones."
        /// Sample from an exponential moving average of G's weights with this decay (e.g. 0.999); none when unset
        g_ema: Option<f64> => f64 = "None",
        /// Iterations at the start during which G's average is G itself
        g_ema_warmup: usize => usize = 0,
        /// Differentiable augmentation of every image D sees (DiffAugment): none, or a comma list of color, translation, cutout
        augment: AugmentPolicy => AugmentPolicy = "AugmentPolicy::NONE",
        /// Train D on real and fake images in one batch (true) or separate batches (false, the tutorial's)
        #[arg(num_args = 0..=1, default_missing_value = "true")]
        mixed_batches: bool => bool = false,
        /// PacGAN: D judges M images joined together; the batch must be a multiple of M
        pack: usize => usize = 1,
        /// Append the minibatch standard deviation to D's features (a mode-collapse remedy)
        #[arg(num_args = 0..=1, default_missing_value = "true")]
        minibatch_stddev: bool => bool = false,
        /// Weight of MSGAN's mode-seeking term (Mao et al. 2019): G is rewarded for images as far apart as their noise, pairs of its batch sharing a label (a within-class collapse remedy); none when unset
        mode_seeking: Option<f64> => f64 = "None",
        /// G matches the mean of D's last features on real images (Salimans et al. 2016) instead of fooling D
        #[arg(num_args = 0..=1, default_missing_value = "true")]
        feature_matching: bool => bool = false,
    }
    "CycleGAN" cycle CycleKeys { "CycleGAN's own keys."
        /// Domain A, any data spec
        data_a: Option<DataSpec> => DataSpec = "None",
        /// Domain B, any data spec
        data_b: Option<DataSpec> => DataSpec = "None",
        /// Residual blocks of each generator
        res_blocks: usize => usize = 6,
        /// Stride-2 downsamplings before each generator's residual blocks (Zhu et al.: 2); fewer keep the blocks on a finer grid
        downsamplings: usize => usize = 2,
        /// Past translations each discriminator is shown from; 0 for none
        pool_size: usize => usize = 50,
        /// λ of the cycle-consistency loss
        cycle_weight: f64 => f64 = 10.0,
        /// Weight of the identity loss as a share of λ; 0 for none
        identity_weight: f64 => f64 = 0.5,
        /// Std of Gaussian noise added to each translation before it is translated back (Bashkirova et al. 2019): it drowns a faint hidden copy of the source, so the cycle must be kept by what the translation shows; 0 for none
        cycle_noise: f64 => f64 = 0.0,
    }
}

/// The presets that set keys under the user's, by what brings them: the data kinds, the
/// objectives and CycleGAN. `--help` shows each key's value in each.
fn presets() -> Vec<(&'static str, TrainOverrides)> {
    use crate::data::mixture::Mixture;
    vec![
        ("digits", data_preset(&DataSpec::Digits)),
        ("stacked-digits", data_preset(&DataSpec::StackedDigits)),
        ("digits-a/b", data_preset(&DataSpec::DigitsA)),
        ("emoji", data_preset(&DataSpec::Emoji)),
        ("folder", data_preset(&DataSpec::Folder(".".into()))),
        ("mixtures", data_preset(&DataSpec::Mixture(Mixture::RING8))),
        ("modern", recipe_preset(Recipe::Modern, ModelKind::Dcgan)),
        ("modern digits", modern_digits_preset()),
        ("modern single digits", modern_single_digits_preset()),
        (
            "modern conditional digits",
            modern_conditional_digits_preset(),
        ),
        ("wgan", loss_preset(LossKind::Wgan)),
        ("wgan-gp", loss_preset(LossKind::WganGp)),
        ("cyclegan", cyclegan_preset(false)),
        ("cyclegan digits task", cyclegan_preset(true)),
    ]
}

/// A TOML value as `--help` shows it (strings without quotes).
fn shown(value: &toml::Value) -> String {
    match value {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The help of key `name`: its meaning, its default (from [`TrainConfig`]'s own defaults) and
/// its value in each preset that sets it, e.g. `Image side … [default: 64; digits: 16; …]`.
pub fn key_help(name: &str) -> String {
    let help = KEYS
        .iter()
        .find(|k| k.name == name)
        .map_or("", |k| k.help.trim());
    let defaults: toml::Table = toml::from_str(&TrainConfig::new().to_toml()).unwrap_or_default();
    let default = defaults.get(name);
    let mut parts: Vec<String> = default.map(shown).into_iter().collect();
    for (preset, keys) in presets() {
        let table: toml::Table =
            toml::from_str(&toml::to_string(&keys).unwrap_or_default()).unwrap_or_default();
        match table.get(name) {
            Some(value) if Some(value) != default => {
                parts.push(format!("{preset}: {}", shown(value)))
            }
            _ => {}
        }
    }
    // The data kinds come from their one list.
    let help = if name == "data" {
        format!("{help}: {}", crate::data::kinds_list())
    } else {
        help.to_string()
    };
    if parts.is_empty() {
        help
    } else {
        format!("{help} [default: {}]", parts.join("; "))
    }
}

/// Keys that every run's `config.toml` has held since the first release: a file that sets all of
/// them is such a record, not a hand-written file.
const RECORDED_KEYS: [&str; 10] = [
    "seed",
    "noise",
    "leaky_slope",
    "mixed_batches",
    "minibatch_stddev",
    "feature_matching",
    "res_blocks",
    "pool_size",
    "cycle_weight",
    "identity_weight",
];

impl TrainOverrides {
    /// These keys, with `recipe = tutorial` when they are a run's complete record from a
    /// release before recipes (no `recipe` key): such a run used every key as recorded, and a
    /// key it could not record (spectral norm, augmentation…) did not exist, so it was off.
    fn with_recipe_of_legacy_record(mut self) -> Self {
        let set = self.set_keys();
        if self.recipe.is_none() && RECORDED_KEYS.iter().all(|k| set.contains(k)) {
            self.recipe = Some(Recipe::Tutorial);
        }
        self
    }

    /// Reads a TOML config file; unknown keys and wrong types are errors that name the key.
    pub fn from_file(path: &Path) -> Result<Self, GanError> {
        let text = std::fs::read_to_string(path).map_err(|e| GanError::ConfigFile {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        toml::from_str(&text)
            .map_err(|e| {
                // Where the error is: its line, and the key that line sets (a wrong type's message
                // names the type, not the key).
                let place = e.span().map(|span| {
                    let start = text[..span.start.min(text.len())]
                        .rfind('\n')
                        .map_or(0, |i| i + 1);
                    let line = text[..start].matches('\n').count() + 1;
                    let end = text[start..].find('\n').map_or(text.len(), |i| start + i);
                    match text[start..end].split_once('=') {
                        Some((key, _)) if !key.trim().is_empty() => {
                            format!(" (key `{}`, line {line})", key.trim())
                        }
                        _ => format!(" (line {line})"),
                    }
                });
                GanError::ConfigFile {
                    path: path.to_path_buf(),
                    message: e.message().to_string() + &place.unwrap_or_default(),
                }
            })
            .map(TrainOverrides::with_recipe_of_legacy_record)
    }

    /// The full configuration: defaults, then the dataset's preset (for CycleGAN, its own), then
    /// these keys; checked.
    pub fn resolve(&self) -> Result<TrainConfig, GanError> {
        if self.model == Some(ModelKind::Cyclegan) {
            return self.resolve_cyclegan();
        }
        let mut config = TrainConfig::new();
        let data = self.data.as_ref().unwrap_or(&config.input.data);
        let data_keys = data_preset(data);
        let model = self
            .model
            .or(data_keys.model)
            .unwrap_or(config.networks.model);
        let recipe = self.recipe.unwrap_or(config.networks.recipe);
        let mut recipe_keys = recipe_preset(recipe, model);
        let conditional_default_model = recipe == Recipe::Modern
            && self.conditional == Some(true)
            && self.model.is_none()
            && model == ModelKind::Dcgan;
        let conditional_digits = conditional_default_model && *data == DataSpec::Digits;
        if conditional_default_model && !conditional_digits {
            recipe_keys = recipe_keys.overridden_by(modern_conditional_preset());
        }
        let model = recipe_keys.model.unwrap_or(model);
        if recipe == Recipe::Modern
            && model == ModelKind::Dcgan
            && matches!(data, DataSpec::Digits | DataSpec::StackedDigits)
        {
            recipe_keys = recipe_keys.overridden_by(modern_digits_preset());
            if *data == DataSpec::Digits {
                recipe_keys = recipe_keys.overridden_by(modern_single_digits_preset());
            }
            // Last: its batch and length were measured over the digits' DCGAN settings.
            if conditional_digits {
                recipe_keys = recipe_keys.overridden_by(modern_conditional_digits_preset());
            }
        }
        let preset = data_keys.overridden_by(recipe_keys);
        let loss = self.loss.or(preset.loss).unwrap_or(config.objective.loss);
        let preset = preset.overridden_by(loss_preset(loss));
        preset.overridden_by(self.clone()).apply_to(&mut config);
        // A mixture's learning rates fall to 0 over the second half of the run, whatever its
        // length, unless the user says where: the samples settle onto the modes as they fall.
        if matches!(config.input.data, DataSpec::Mixture(_))
            && config.optimiser.lr_decay_start.is_none()
        {
            config.optimiser.lr_decay_start = Some(config.total_steps() / 2);
        }
        config.validate()?;
        Ok(config)
    }

    /// A CycleGAN configuration: `data = "cyclegan:DIR"` names the public layout's `trainA/` and
    /// `trainB/`; otherwise `data_a` and `data_b` (default: the shipped digits task).
    fn resolve_cyclegan(&self) -> Result<TrainConfig, GanError> {
        let mut keys = self.clone();
        match &keys.data {
            Some(DataSpec::Domains(Some(dir))) => {
                keys.data_a = keys
                    .data_a
                    .or_else(|| Some(DataSpec::Folder(dir.join("trainA"))));
                keys.data_b = keys
                    .data_b
                    .or_else(|| Some(DataSpec::Folder(dir.join("trainB"))));
            }
            // What a run's config.toml records when the domains are given as data_a and data_b.
            None => keys.data = Some(DataSpec::Domains(None)),
            Some(DataSpec::Domains(None)) => {}
            Some(_) => {
                return Err(GanError::config(
                    "data",
                    "with `model = cyclegan` is `cyclegan:DIR` (DIR holding trainA/ and trainB/); or give `data_a` and `data_b`",
                ));
            }
        }
        let task = keys.data_a.is_none() && keys.data_b.is_none();
        let keys = cyclegan_preset(task).overridden_by(keys);
        let mut config = TrainConfig::new();
        keys.apply_to(&mut config);
        config.validate()?;
        Ok(config)
    }
}

/// Defaults a run on `spec` starts from, under the user's keys. Photo folders and the emoji get the
/// tutorial's 64×64 RGB. The digits are 8×8 grey, so they train at the smallest size the
/// models allow, with a layer-normalised D: with the tutorial's BatchNorm D (separate real and
/// fake batches) the generator collapses on this small set, in PyTorch as in ganforge (README,
/// "The digits preset"). Eight epochs keep the README's main job within 5 minutes.
pub fn data_preset(spec: &DataSpec) -> TrainOverrides {
    match spec {
        DataSpec::Digits => TrainOverrides {
            spatial: Some(16),
            channels: Some(1),
            d_norm: Some(NormKind::Layer),
            // 1600 iterations: about 3.5 minutes on one core of a 2-core machine.
            epochs: Some(8),
            ..Default::default()
        },
        // The CycleGAN task's domains, as RGB.
        DataSpec::DigitsA | DataSpec::DigitsB => TrainOverrides {
            spatial: Some(16),
            channels: Some(3),
            d_norm: Some(NormKind::Layer),
            epochs: Some(8),
            ..Default::default()
        },
        // As the digits, in three channels.
        DataSpec::StackedDigits => TrainOverrides {
            spatial: Some(16),
            channels: Some(3),
            d_norm: Some(NormKind::Layer),
            epochs: Some(8),
            ..Default::default()
        },
        // A CycleGAN's domains: its own preset (`cyclegan_preset`) applies.
        DataSpec::Domains(_) => TrainOverrides::default(),
        // The tutorial's shape, which is the emoji's own; 32 and 16 load through the resize.
        DataSpec::Emoji | DataSpec::EmojiDomain(..) | DataSpec::Folder(_) => TrainOverrides {
            spatial: Some(64),
            channels: Some(3),
            ..Default::default()
        },
        // PacGAN's 2-D networks (Lin et al. 2018, after VEEGAN): fully connected G (4 × 400
        // units) and maxout D (3 × 200), a 2-D latent, batches of 100. PacGAN trains 400 000
        // iterations at Adam 1e-4; at 1e-3 with a moving average of G the modes form in 3000.
        // The R1 penalty (Mescheder et al. 2018) is what keeps every mode: on the ring, 8 of 8
        // in every seed and reverse KL 0.002–0.006 against 5.4 modes and 1.07 without it; two G
        // steps per D step and a decay over the second half (`resolve`) sharpen the samples
        // onto the modes (README, "Mode-collapse benchmarks").
        DataSpec::Mixture(_) => TrainOverrides {
            model: Some(ModelKind::Mlp),
            spatial: Some(1),
            channels: Some(2),
            latent: Some(2),
            capacity: Some(200),
            batch: Some(100),
            lr_d: Some(1e-3),
            lr_g: Some(1e-3),
            g_ema: Some(0.99),
            // The penalty is per sample; the maxout D has no normalisation layer anyway.
            d_norm: Some(NormKind::None),
            r1_gamma: Some(0.1),
            gen_updates: Some(2),
            iterations_per_epoch: Some(500),
            progress_interval: Some(500),
            checkpoint_interval: Some(1000),
            epochs: Some(12),
            ..Default::default()
        },
    }
}

/// `Ok` when `ok`, else the error naming `key` and its `problem`.
fn check(ok: bool, key: &str, problem: impl Into<String>) -> Result<(), GanError> {
    if ok {
        Ok(())
    } else {
        Err(GanError::config(key, problem))
    }
}

/// Defaults a CycleGAN run starts from, under the user's keys: the shipped digits task when
/// `task` (no domain given), else Zhu et al.'s setting for photos.
fn cyclegan_preset(task: bool) -> TrainOverrides {
    TrainOverrides {
        data_a: Some(DataSpec::DigitsA),
        data_b: Some(DataSpec::DigitsB),
        // The shipped digits task: 16×16 RGB, small networks, a few minutes on 2 cores.
        spatial: Some(if task { 16 } else { 128 }),
        channels: Some(3),
        capacity: Some(if task { 16 } else { 64 }),
        res_blocks: Some(if task { 3 } else { 6 }),
        // The task's translation is local (ink, paper, stroke width): residual blocks at full
        // resolution keep each stroke where it is, where Zhu et al.'s two downsamplings let G
        // redraw a digit as another (class kept 20% → 90%, README).
        downsamplings: Some(if task { 0 } else { 2 }),
        batch: Some(if task { 8 } else { 1 }),
        // Zhu et al.: Adam(2e-4, β1 0.5), λ = 10, identity 0.5·λ, buffers of 50. On the task the
        // 16×16 PatchGANs learn faster than the full-resolution generators and, at 2e-4, won
        // outright in one seed of three (G then hid the digit in colour noise): D at a quarter
        // of G's rate kept every seed measured (README).
        lr_d: Some(if task { 5e-5 } else { 2e-4 }),
        lr_g: Some(2e-4),
        beta1: Some(0.5),
        iterations_per_epoch: Some(200),
        epochs: Some(if task { 10 } else { 100 }),
        progress_interval: Some(200),
        checkpoint_interval: Some(500),
        ..Default::default()
    }
}

/// The emoji CycleGAN task (`bench cycle --task emoji`): domain A the Noto emoji of half A
/// of the file names, domain B the Twemoji of half B, at 32×32 RGB on white. Over
/// [`TrainOverrides::resolve`]'s CycleGAN preset, under the user's keys. As the digits task:
/// the translation is local (outline, shading, palette), so the generators keep their residual
/// blocks at full resolution, and D learns at a quarter of G's rate (README, "The emoji task").
pub fn cyclegan_emoji_preset() -> TrainOverrides {
    TrainOverrides {
        model: Some(ModelKind::Cyclegan),
        data_a: Some(DataSpec::EmojiDomain(
            crate::data::EmojiStyle::Noto,
            crate::data::EmojiHalf::A,
        )),
        data_b: Some(DataSpec::EmojiDomain(
            crate::data::EmojiStyle::Twemoji,
            crate::data::EmojiHalf::B,
        )),
        spatial: Some(32),
        channels: Some(3),
        capacity: Some(16),
        res_blocks: Some(3),
        downsamplings: Some(0),
        batch: Some(8),
        lr_d: Some(5e-5),
        lr_g: Some(2e-4),
        iterations_per_epoch: Some(200),
        epochs: Some(10),
        progress_interval: Some(250),
        checkpoint_interval: Some(500),
        ..Default::default()
    }
}

/// The keys a recipe sets for a model, over the data set's preset and under the objective's
/// and the user's. The tutorial recipe sets none: it is every key's own default. The modern one
/// is for the convolutional GAN; the 2-D benchmarks (`mlp`) and CycleGAN keep their papers'
/// protocols. Each choice was measured on the digits (README, "The modern recipe").
pub fn recipe_preset(recipe: Recipe, model: ModelKind) -> TrainOverrides {
    match (recipe, model) {
        (Recipe::Modern, ModelKind::Dcgan | ModelKind::Resnet) => TrainOverrides {
            recipe: Some(Recipe::Modern),
            loss: Some(LossKind::Hinge),
            spectral_norm: Some(true),
            // Spectral norm bounds D; batch statistics would couple the images it judges.
            d_norm: Some(NormKind::None),
            // One D step per G step at Adam(2e-4, β = (0.5, 0.999)): SNGAN's setting C
            // (Miyato et al. 2018, table 1). On the digits' 1600 iterations it beat TTUR
            // (4e-4/1e-4, β = (0, 0.9)) by far: FID 47 against 418 (README).
            lr_d: Some(2e-4),
            lr_g: Some(2e-4),
            beta1: Some(0.5),
            beta2: Some(0.999),
            // A short average (about 100 steps) for a short run, from step 100.
            g_ema: Some(0.99),
            g_ema_warmup: Some(100),
            // Translation only: on the digits colour and cutout made every figure worse.
            augment: Some(AugmentPolicy {
                translation: true,
                ..AugmentPolicy::NONE
            }),
            ..Default::default()
        },
        (recipe, _) => TrainOverrides {
            recipe: Some(recipe),
            ..Default::default()
        },
    }
}

/// What the modern recipe changes for a conditional run whose model the user left unset: the
/// residual networks, whose G normalises with class-conditional BatchNorm. The tutorial's G
/// joins a label embedding to its noise and, measured on the digits (README, "Conditional
/// GAN"), then draws one image per class (recall 0.007); class-conditional BatchNorm brings the
/// within-class variety back (recall 0.34).
fn modern_conditional_preset() -> TrainOverrides {
    TrainOverrides {
        model: Some(ModelKind::Resnet),
        capacity: Some(32),
        ..Default::default()
    }
}

/// What the modern recipe changes for a conditional run on the digits whose model the user
/// left unset: the tutorial's DCGAN with class-conditional BatchNorm in G (besides its label
/// embedding) and MSGAN's mode-seeking term, which is what removed the collapse within each class
/// (README, "Conditional GAN", seed 42: recall 0.05 → 0.82, TSTR 55% → 91% against real data's
/// 97%); the digits' DCGAN preset then applies. At weight 1 the term cost class fidelity (72–90%
/// per class); with the 3×3 kernels' longer run (seed 42) weight 0.3 gave IS 8.86 and classes
/// at 82–99%, 0.2 IS 9.03, 0.1 IS 9.19 and classes at 92–99% with recall still 0.81, and 0.05 no
/// better classes but less variety (recall 0.74, TSTR 2 points lower).
///
/// Over the single digits' 3×3 kernels, batches of 64 in 1400 iterations: the same images as
/// 2400 iterations of 32, in about 0.85 of the time (153–163 s against 172–178 s on 2 cores),
/// which keeps the run inside 3 minutes; FID 6.9–9.6 against 8.2–11.2 at batch 32, IS 8.93–9.09
/// against 9.18–9.19 (seeds 42, 1, 2; README, "Conditional GAN").
///
/// The dual projection's class term (`class_loss`) at weight 0.1 brings the weakest digit up
/// (five seeds: 87–91% → 94–98%, IS 8.93–9.13 → 9.46–9.56, FID 6.9–10.1, recall 0.61–0.70,
/// TSTR 91–93% of TRTR; README, "Conditional GAN"); 0.05 left one or two digits at 88–93% at
/// four seeds in five; at 0.3 and 1 every class is at 100% but the variety goes (recall 0.50
/// and 0.47, TSTR 91% and 87%).
fn modern_conditional_digits_preset() -> TrainOverrides {
    TrainOverrides {
        model: Some(ModelKind::Dcgan),
        g_class_norm: Some(true),
        mode_seeking: Some(MODE_SEEKING_DIGITS),
        class_loss: Some(CLASS_LOSS_DIGITS),
        batch: Some(64),
        epochs: Some(7),
        ..Default::default()
    }
}

/// The mode-seeking weight of conditional digits runs.
const MODE_SEEKING_DIGITS: f64 = 0.1;

/// The class term's weight in conditional digits runs.
const CLASS_LOSS_DIGITS: f64 = 0.1;

/// What the modern recipe changes for the digits' DCGAN. The digits are 8×8 images that the
/// loader brings to 16×16 with a bilinear resize, so G draws at 8×8 and the same resize
/// follows: it cannot draw detail the data never has, and its last, costliest block goes. The
/// time that frees goes to a second D step per G step, in 1400 iterations. Measured at seed 42
/// (README, "Recipes"): FID 55.4 → 35.3 from G drawing at 8×8 alone, → 19.0 with two D steps.
/// Stacked digits are the same 8×8 digits, three to an image: on `bench modes` (2 seeds, 2000
/// iterations) the preset lifts the modes from about 695 to 966 of 1000 (README, "Mode-collapse
/// benchmarks").
fn modern_digits_preset() -> TrainOverrides {
    TrainOverrides {
        g_draw_side: Some(8),
        disc_updates: Some(2),
        epochs: Some(7),
        ..Default::default()
    }
}

/// What the modern recipe changes for the single digits' DCGAN over [`modern_digits_preset`]:
/// 3×3 kernels, whose step at this size is 2.2 times as fast as the tutorial's 5×5 (547 against
/// 250 images/s on 2 cores), and the time that frees spent on 2400 iterations instead of 1400.
/// Measured at seed 42 (README, "Recipes"): FID 17.6 → 17.1 from the kernels alone at 1400
/// iterations in 89 s, → 11.5 at 2400 in 160 s (seeds 1 and 2: 24.7 → 14.7, 26.4 → 14.0).
/// Stacked digits keep the 5×5 kernels their benchmark table was measured with.
fn modern_single_digits_preset() -> TrainOverrides {
    TrainOverrides {
        filter: Some(3),
        epochs: Some(12),
        ..Default::default()
    }
}

/// Defaults an objective brings with it, under the user's keys.
fn loss_preset(loss: LossKind) -> TrainOverrides {
    match loss {
        // The tutorial's Keras recipe after Arjovsky et al.: 5 critic steps per G step, RMSProp
        // at 5e-5, weights clipped to 0.01, small initial weights.
        LossKind::Wgan => TrainOverrides {
            disc_updates: Some(5),
            optimizer: Some(OptimizerKind::Rmsprop),
            lr_d: Some(5e-5),
            lr_g: Some(5e-5),
            clip: Some(0.01),
            init_std: Some(0.02),
            ..Default::default()
        },
        // Gulrajani et al.: 5 critic steps, Adam(1e-4, β = (0, 0.9)), λ = 10, and a critic
        // without BatchNorm (the penalty is per image): LayerNorm.
        LossKind::WganGp => TrainOverrides {
            disc_updates: Some(5),
            lr_d: Some(1e-4),
            lr_g: Some(1e-4),
            beta1: Some(0.0),
            beta2: Some(0.9),
            d_norm: Some(NormKind::Layer),
            ..Default::default()
        },
        LossKind::Bce | LossKind::Lsgan | LossKind::Hinge => TrainOverrides::default(),
    }
}

impl From<&TrainConfig> for TrainOverrides {
    fn from(config: &TrainConfig) -> Self {
        config.to_keys()
    }
}

impl TrainConfig {
    /// The two domains of a CycleGAN run.
    pub fn domain_specs(&self) -> Result<(DataSpec, DataSpec), GanError> {
        let spec = |key: &str, value: &Option<DataSpec>| -> Result<DataSpec, GanError> {
            let value = value.as_ref().ok_or_else(|| {
                GanError::config(key, "is missing: a CycleGAN run needs two domains")
            })?;
            match value {
                DataSpec::Mixture(_) => Err(GanError::config(
                    key,
                    format!("is {value}: CycleGAN translates images, not 2-D points"),
                )),
                DataSpec::Domains(_) => Err(GanError::config(
                    key,
                    format!("is {value}: a domain is one set of images, such as folder:DIR"),
                )),
                spec => Ok(spec.clone()),
            }
        };
        Ok((
            spec("data_a", &self.cycle.data_a)?,
            spec("data_b", &self.cycle.data_b)?,
        ))
    }

    /// CycleGAN's own keys: its two domains, its image size, its loss weights and schedule.
    fn validate_cyclegan(&self) -> Result<(), GanError> {
        self.domain_specs()?;
        for (key, off) in [
            ("spectral_norm", !self.networks.spectral_norm),
            ("augment", self.remedies.augment.is_none()),
            ("r1_gamma", self.objective.r1_gamma.is_none()),
            ("g_draw_side", self.networks.g_draw_side.is_none()),
            ("g_class_norm", !self.networks.g_class_norm),
            (
                "g_upsample",
                self.networks.g_upsample == Upsampling::Transposed,
            ),
            ("resample_filter", self.networks.resample_filter.is_none()),
            ("mode_seeking", self.remedies.mode_seeking.is_none()),
            ("class_loss", self.objective.class_loss.is_none()),
        ] {
            check(
                off,
                key,
                "is set: CycleGAN's networks and losses are Zhu et al.'s and take no such term (unset it)",
            )?;
        }
        check(
            self.cycle.downsamplings <= 4,
            "downsamplings",
            format!(
                "is {}: CycleGAN's generator takes 0 to 4 (Zhu et al.: 2)",
                self.cycle.downsamplings
            ),
        )?;
        let step = 1usize << self.cycle.downsamplings;
        check(
            self.input.spatial.is_multiple_of(step.max(4))
                && (16..=512).contains(&self.input.spatial),
            "spatial",
            format!(
                "is {}: CycleGAN's generator halves the image {} time(s), so it must be a multiple of {} from 16 to 512",
                self.input.spatial,
                self.cycle.downsamplings,
                step.max(4)
            ),
        )?;
        check(
            matches!(self.input.channels, 1 | 3),
            "channels",
            format!("is {}: it must be 1 (grey) or 3 (RGB)", self.input.channels),
        )?;
        for (key, value) in [
            ("cycle_weight", self.cycle.cycle_weight),
            ("identity_weight", self.cycle.identity_weight),
            ("cycle_noise", self.cycle.cycle_noise),
        ] {
            check(
                value.is_finite() && value >= 0.0,
                key,
                format!("is {value}: it must be zero or positive"),
            )?;
        }
        Ok(())
    }

    /// Refuses a run whose samples are 2-D points (a mixture) for `command`, which needs images.
    pub fn require_images(&self, command: &str) -> Result<(), GanError> {
        if self.networks.model == ModelKind::Cyclegan {
            return Err(GanError::config(
                "model",
                format!(
                    "is cyclegan: this run translates images between two domains, and `{command}` draws them from noise (use `ganforge translate`)"
                ),
            ));
        }
        match self.input.data {
            DataSpec::Mixture(_) => Err(GanError::config(
                "data",
                format!(
                    "is {}: this run makes 2-D points, not images, and `{command}` works on images (the run's samples/ hold scatter plots of its points; `ganforge bench modes` measures its modes)",
                    self.input.data
                ),
            )),
            _ => Ok(()),
        }
    }

    /// What a user does next with a finished run of this configuration in `run`.
    pub fn next_command(&self, run: &Path) -> String {
        let dir = run.display();
        if self.networks.model == ModelKind::Cyclegan {
            format!(
                "translate a folder with: ganforge translate --run {dir} --direction a2b --input DIR --output DIR"
            )
        } else if self.require_images("sample").is_err() {
            format!(
                "its samples/ hold scatter plots; compare packings with: ganforge bench modes --data {}",
                self.input.data
            )
        } else {
            format!("draw more images with: ganforge sample --run {dir}")
        }
    }

    /// Iterations the run trains for.
    pub fn total_steps(&self) -> usize {
        self.schedule
            .steps
            .unwrap_or(self.schedule.epochs * self.schedule.iterations_per_epoch)
    }

    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("TrainConfig serialises to TOML")
    }

    /// The model's name as `--model` spells it.
    pub fn model_name(&self) -> String {
        clap::ValueEnum::to_possible_value(&self.networks.model)
            .map(|v| v.get_name().to_string())
            .unwrap_or_default()
    }

    /// The run's directory name, built from the configuration as the tutorial does.
    pub fn run_name(&self) -> String {
        let data: String = self
            .input
            .data
            .short_name()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        let mut model = self.model_name();
        // A conditional run of the same keys is another model: its own directory name.
        if self.input.conditional {
            model.push_str("-cond");
        }
        let model = match self.objective.loss {
            LossKind::Bce => model,
            other => format!(
                "{model}-{}",
                clap::ValueEnum::to_possible_value(&other)
                    .map(|v| v.get_name().to_string())
                    .unwrap_or_default()
            ),
        };
        format!(
            "{model}_{data}_s{}_c{}_lat{}_cap{}_b{}_k{}_du{}_gu{}",
            self.input.spatial,
            self.input.channels,
            self.networks.latent,
            self.networks.capacity,
            self.schedule.batch,
            self.networks.filter,
            self.schedule.disc_updates,
            self.schedule.gen_updates
        )
    }

    /// Checks every key; the error names the key and the allowed values.
    pub fn validate(&self) -> Result<(), GanError> {
        self.validate_shared()?;
        match self.networks.model {
            ModelKind::Cyclegan => self.validate_cyclegan(),
            ModelKind::Dcgan | ModelKind::Mlp | ModelKind::Resnet => self.validate_gan(),
        }
    }

    /// The keys every model has: the schedule, the batch, the learning rates and Adam's betas.
    fn validate_shared(&self) -> Result<(), GanError> {
        for (key, value) in [
            ("batch", self.schedule.batch),
            ("capacity", self.networks.capacity),
            ("progress_interval", self.schedule.progress_interval),
            ("iterations_per_epoch", self.schedule.iterations_per_epoch),
            ("epochs", self.schedule.epochs),
            ("checkpoint_interval", self.schedule.checkpoint_interval),
            ("keep_checkpoints", self.schedule.keep_checkpoints),
        ] {
            check(value > 0, key, "is 0: it must be at least 1")?;
        }
        for (key, value) in [
            ("num_load", self.input.num_load),
            ("steps", self.schedule.steps),
        ] {
            check(value != Some(0), key, "is 0: it must be at least 1")?;
        }
        check(
            self.optimiser
                .lr_decay_start
                .is_none_or(|s| s <= self.total_steps()),
            "lr_decay_start",
            format!(
                "is {}: it must not be past the last step ({})",
                self.optimiser.lr_decay_start.unwrap_or(0),
                self.total_steps()
            ),
        )?;
        for (key, value) in [("lr_d", self.optimiser.lr_d), ("lr_g", self.optimiser.lr_g)] {
            check(
                value.is_finite() && value > 0.0,
                key,
                format!("is {value}: it must be a positive number"),
            )?;
        }
        for (key, value) in [
            ("beta1", self.optimiser.beta1),
            ("beta2", self.optimiser.beta2),
        ] {
            check(
                (0.0..1.0).contains(&value),
                key,
                format!("is {value}: it must be in [0, 1)"),
            )?;
        }
        Ok(())
    }

    /// The single-G/D GANs' own keys: data and shape, networks, objective and remedies.
    fn validate_gan(&self) -> Result<(), GanError> {
        check(
            !matches!(self.input.data, DataSpec::Domains(_)),
            "data",
            format!(
                "is {}: two domains are for `model = cyclegan`; this model learns one set of images",
                self.input.data
            ),
        )?;
        let points = matches!(self.input.data, DataSpec::Mixture(_));
        if points {
            check(
                self.networks.model == ModelKind::Mlp,
                "model",
                "is dcgan: the mixtures are 2-D points, which the convolutional networks cannot take (use mlp)",
            )?;
            check(
                (self.input.spatial, self.input.channels) == (1, 2),
                "spatial",
                format!(
                    "and `channels` are {} and {}: a mixture's samples are 2-D points (spatial 1, channels 2)",
                    self.input.spatial, self.input.channels
                ),
            )?;
        } else if self.input.data == DataSpec::StackedDigits {
            check(
                self.input.channels == 3,
                "channels",
                format!(
                    "is {}: stacked digits are three digits in three channels (channels 3)",
                    self.input.channels
                ),
            )?;
        }
        if !points {
            check(
                matches!(self.input.channels, 1 | 3),
                "channels",
                format!("is {}: it must be 1 (grey) or 3 (RGB)", self.input.channels),
            )?;
            match self.networks.model {
                ModelKind::Dcgan | ModelKind::Resnet => check(
                    self.input.spatial.is_power_of_two()
                        && (16..=256).contains(&self.input.spatial),
                    "spatial",
                    format!(
                        "is {}: it must be a power of two from 16 to 256",
                        self.input.spatial
                    ),
                )?,
                ModelKind::Mlp => check(
                    (1..=64).contains(&self.input.spatial),
                    "spatial",
                    format!(
                        "is {}: the mlp model takes images from 1 to 64 pixels wide",
                        self.input.spatial
                    ),
                )?,
                ModelKind::Cyclegan => unreachable!("validate_gan is not called for cyclegan"),
            }
        }
        check(
            !self.networks.g_class_norm
                || (self.networks.model == ModelKind::Dcgan && self.input.conditional),
            "g_class_norm",
            "is set, but it is for the dcgan G of a conditional run (resnet's G always has it in a conditional run)",
        )?;
        check(
            self.networks.g_upsample == Upsampling::Transposed
                || self.networks.model == ModelKind::Dcgan,
            "g_upsample",
            format!(
                "is set for model {:?}: it chooses the dcgan G's up-sampling (resnet's G always doubles by nearest neighbour; unset it)",
                self.networks.model
            ),
        )?;
        if let Some(side) = self.networks.resample_filter {
            check(
                self.networks.model == ModelKind::Dcgan,
                "resample_filter",
                format!(
                    "is set for model {:?}: it sizes the dcgan's stride-2 convolutions (resnet's blocks resample by pooling and nearest doubling; unset it)",
                    self.networks.model
                ),
            )?;
            check(
                (2..=7).contains(&side),
                "resample_filter",
                format!(
                    "is {side}: a stride-2 kernel from 2 to 7 (4 covers every pixel twice per axis)"
                ),
            )?;
        }
        if let Some(side) = self.networks.g_draw_side {
            check(
                self.networks.model == ModelKind::Dcgan,
                "g_draw_side",
                format!(
                    "is set for model {:?}: only the dcgan generator draws at its own side (unset it)",
                    self.networks.model
                ),
            )?;
            check(
                side.is_power_of_two() && side >= 2 && side <= self.input.spatial,
                "g_draw_side",
                format!(
                    "is {side}: it must be a power of two, at least 2 and at most `spatial` ({})",
                    self.input.spatial
                ),
            )?;
        }
        for (key, value) in [
            ("latent", self.networks.latent),
            ("disc_updates", self.schedule.disc_updates),
            ("gen_updates", self.schedule.gen_updates),
            ("pack", self.remedies.pack),
        ] {
            check(value > 0, key, "is 0: it must be at least 1")?;
        }
        check(
            self.input.classes != Some(0),
            "classes",
            "is 0: it must be at least 1",
        )?;
        check(
            self.networks.filter % 2 == 1,
            "filter",
            format!(
                "is {}: it must be odd (3, 5, 7…) so that 'same' padding is symmetric",
                self.networks.filter
            ),
        )?;
        check(
            self.objective.label_smoothing > 0.0 && self.objective.label_smoothing <= 1.0,
            "label_smoothing",
            format!(
                "is {}: it must be in (0, 1] (1 = none, 0.9 = one-sided smoothing)",
                self.objective.label_smoothing
            ),
        )?;
        for (key, value) in [
            ("clip", self.objective.clip),
            ("init_std", self.networks.init_std),
        ] {
            check(
                value.is_none_or(|v| v.is_finite() && v > 0.0),
                key,
                format!("is {}: it must be a positive number", value.unwrap_or(0.0)),
            )?;
        }
        if let Some(weight) = self.objective.class_loss {
            check(
                weight.is_finite() && weight > 0.0,
                "class_loss",
                format!("is {weight}: it must be a positive weight (unset it for none)"),
            )?;
            check(
                self.input.conditional,
                "class_loss",
                "is set, but the run is not conditional: the term trains D's class projection, which only a conditional D has (add `conditional = true` or unset it)",
            )?;
            check(
                !self.remedies.feature_matching,
                "class_loss",
                "cannot be combined with `feature_matching`: it is a term of G's adversarial loss",
            )?;
        }
        if let Some(weight) = self.remedies.mode_seeking {
            check(
                weight.is_finite() && weight > 0.0,
                "mode_seeking",
                format!("is {weight}: it must be a positive weight (unset it for none)"),
            )?;
            check(
                self.schedule.batch.is_multiple_of(2),
                "mode_seeking",
                format!(
                    "needs an even batch (pairs of G's images), and the batch is {}",
                    self.schedule.batch
                ),
            )?;
            check(
                !self.remedies.feature_matching,
                "mode_seeking",
                "cannot be combined with `feature_matching`: it is a term of G's adversarial loss",
            )?;
        }
        check(
            self.schedule.batch.is_multiple_of(self.remedies.pack),
            "pack",
            format!(
                "is {}: the batch ({}) must be a multiple of it",
                self.remedies.pack, self.schedule.batch
            ),
        )?;
        check(
            !(self.remedies.pack > 1 && self.input.conditional),
            "pack",
            "cannot be combined with `conditional`: a packed group of images has no one label",
        )?;
        if self.objective.loss.objective().gradient_penalty() {
            check(
                self.networks.d_norm != NormKind::Batch,
                "d_norm",
                "is batch: the WGAN-GP penalty is per image, and BatchNorm mixes the images of a batch (use layer or none)",
            )?;
            check(
                !self.remedies.minibatch_stddev,
                "minibatch_stddev",
                "cannot be combined with wgan-gp: it couples the images whose gradients are penalised",
            )?;
            check(
                self.objective.gp_weight.is_finite() && self.objective.gp_weight >= 0.0,
                "gp_weight",
                format!(
                    "is {}: it must be zero or positive",
                    self.objective.gp_weight
                ),
            )?;
        }
        if self.objective.r1_gamma.is_some() {
            check(
                self.networks.d_norm != NormKind::Batch,
                "d_norm",
                "is batch: the R1 penalty is per image, and BatchNorm mixes the images of a batch (use layer or none)",
            )?;
            check(
                !self.remedies.minibatch_stddev,
                "minibatch_stddev",
                "cannot be combined with r1_gamma: it couples the images whose gradients are penalised",
            )?;
            check(
                !self.objective.loss.objective().gradient_penalty(),
                "r1_gamma",
                "cannot be combined with wgan-gp, which has its own gradient penalty",
            )?;
        }
        check(
            self.objective
                .r1_gamma
                .is_none_or(|g| g.is_finite() && g >= 0.0),
            "r1_gamma",
            format!(
                "is {}: it must be zero or positive",
                self.objective.r1_gamma.unwrap_or(0.0)
            ),
        )?;
        check(
            self.objective.r1_interval > 0,
            "r1_interval",
            "is 0: it must be at least 1 (1 = every step)",
        )?;
        check(
            !self.networks.spectral_norm
                || matches!(self.networks.model, ModelKind::Dcgan | ModelKind::Resnet),
            "spectral_norm",
            format!(
                "is true with model {:?}: spectral normalisation is built into the dcgan and resnet discriminators only",
                self.networks.model
            ),
        )?;
        check(
            !(self.remedies.minibatch_stddev && self.networks.model == ModelKind::Resnet),
            "minibatch_stddev",
            "is not built into the resnet discriminator (use dcgan, or unset it)",
        )?;
        check(
            self.remedies.augment.is_none() || !points,
            "augment",
            format!(
                "is {}: the mixtures are 2-D points, not images to augment (use none)",
                self.remedies.augment
            ),
        )?;
        check(
            self.remedies.g_ema.is_none_or(|d| d > 0.0 && d < 1.0),
            "g_ema",
            format!(
                "is {}: it must be a decay in (0, 1), such as 0.999",
                self.remedies.g_ema.unwrap_or(0.0)
            ),
        )?;
        check(
            self.networks.leaky_slope.is_finite() && self.networks.leaky_slope >= 0.0,
            "leaky_slope",
            format!(
                "is {}: it must be zero or positive",
                self.networks.leaky_slope
            ),
        )?;
        Ok(())
    }
}
