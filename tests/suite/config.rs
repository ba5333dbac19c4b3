//! The configuration's one table of keys: flags, TOML keys, defaults and `--help` agree, and a
//! `config.toml` of the previous release still loads.

use clap::{Args, Command, ValueEnum};
use ganforge::config::{KEYS, TrainConfig, TrainOverrides, key_help};
use ganforge::losses::LossKind;
use ganforge::models::ModelKind;

/// `ganforge train`'s key flags, rendered as `--help` renders them.
fn long_help() -> String {
    TrainOverrides::augment_args(Command::new("train"))
        .render_long_help()
        .to_string()
}

#[test]
fn every_key_has_one_name_and_its_help_shows_the_default_the_config_uses() {
    let defaults: toml::Table = toml::from_str(&TrainConfig::new().to_toml()).unwrap();
    let mut names: Vec<&str> = KEYS.iter().map(|k| k.name).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), KEYS.len(), "a key is declared twice");
    for key in KEYS {
        let help = key_help(key.name);
        assert!(help.starts_with(key.help.trim()), "{}: {help}", key.name);
        if let Some(value) = defaults.get(key.name) {
            let shown = match value {
                toml::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            assert!(
                help.contains(&format!("[default: {shown}")),
                "{}: default {shown} not in {help}",
                key.name
            );
        }
    }
    // Every key of a resolved config is a declared key, and the other way round.
    let mut config = TrainConfig::new();
    config.input.num_load = Some(1);
    config.input.classes = Some(2);
    config.networks.init_std = Some(0.1);
    config.objective.clip = Some(0.1);
    config.schedule.steps = Some(3);
    config.remedies.g_ema = Some(0.9);
    config.objective.r1_gamma = Some(1.0);
    config.cycle.data_a = Some(ganforge::data::DataSpec::DigitsA);
    config.cycle.data_b = Some(ganforge::data::DataSpec::DigitsB);
    config.optimiser.lr_decay_start = Some(1);
    config.networks.g_draw_side = Some(8);
    config.networks.resample_filter = Some(4);
    config.remedies.mode_seeking = Some(1.0);
    config.objective.class_loss = Some(1.0);
    config.schedule.tensorboard = Some("tb".into());
    let table: toml::Table = toml::from_str(&config.to_toml()).unwrap();
    let mut written: Vec<&str> = table.keys().map(String::as_str).collect();
    written.sort();
    assert_eq!(written, names);
}

#[test]
fn help_lists_every_objective_every_data_kind_and_the_presets() {
    let help = long_help();
    for loss in LossKind::value_variants() {
        let name = loss.to_possible_value().unwrap().get_name().to_string();
        assert!(help.contains(&format!("- {name}:")), "{name} missing");
    }
    for (kind, _) in ganforge::data::KINDS {
        assert!(help.contains(&format!("`{kind}`")), "{kind} missing");
    }
    // The presets that change a key are named beside its default.
    assert!(key_help("spatial").contains("[default: 64; digits: 16;"));
    assert!(key_help("optimizer").contains("wgan: rmsprop"));
    assert!(key_help("d_norm").contains("wgan-gp: layer"));
    // Each section is a heading of `--help`.
    for section in [
        "Data:",
        "Model:",
        "Objective:",
        "Optimiser:",
        "Schedule:",
        "Remedies:",
        "CycleGAN:",
    ] {
        assert!(help.contains(section), "{section}");
    }
}

/// `config.toml` as the release before the key table wrote it (a digits run, `--steps 1`).
const PREVIOUS_RELEASE: &str = r#"data = "digits"
spatial = 16
channels = 1
steps = 1
model = "dcgan"
latent = 100
batch = 32
capacity = 16
filter = 5
leaky_slope = 0.3
d_norm = "layer"
disc_updates = 1
gen_updates = 1
progress_interval = 80
iterations_per_epoch = 200
epochs = 8
checkpoint_interval = 200
seed = 42
lr_d = 0.0002
lr_g = 0.0002
beta1 = 0.5
beta2 = 0.999
noise = "normal"
label_smoothing = 1.0
loss = "bce"
optimizer = "adam"
mixed_batches = false
conditional = false
pack = 1
minibatch_stddev = false
feature_matching = false
gp_weight = 10.0
res_blocks = 6
pool_size = 50
cycle_weight = 10.0
identity_weight = 0.5
"#;

#[test]
fn a_config_toml_of_the_previous_release_loads_and_resolves_to_the_same_run() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, PREVIOUS_RELEASE).unwrap();
    let config = TrainOverrides::from_file(&path).unwrap().resolve().unwrap();
    // It was the tutorial's recipe: the keys it could not record were off.
    let today = TrainOverrides {
        steps: Some(1),
        recipe: Some(ganforge::config::Recipe::Tutorial),
        ..Default::default()
    }
    .resolve()
    .unwrap();
    assert_eq!(config, today);
    let old: toml::Table = toml::from_str(PREVIOUS_RELEASE).unwrap();
    let new: toml::Table = toml::from_str(&config.to_toml()).unwrap();
    for (key, value) in &old {
        assert_eq!(Some(value), new.get(key), "{key}");
    }
    // The new keys, as recorded now.
    let added: Vec<&str> = new
        .keys()
        .filter(|k| !old.contains_key(*k))
        .map(String::as_str)
        .collect();
    assert_eq!(
        added,
        [
            "augment",
            "background",
            "cycle_noise",
            "downsamplings",
            "g_class_norm",
            "g_ema_warmup",
            "g_upsample",
            "keep_checkpoints",
            "r1_interval",
            "recipe",
            "spectral_norm"
        ]
    );
    assert_eq!(new["recipe"].as_str(), Some("tutorial"));
    assert_eq!(new["background"].as_str(), Some("white"));
    // A run recorded before the key existed keeps Zhu et al.'s two downsamplings.
    assert_eq!(new["downsamplings"].as_integer(), Some(2));
    // As a run's own record (resume), too.
    let record: ganforge::config::TrainConfig = toml::from_str(PREVIOUS_RELEASE).unwrap();
    assert_eq!(record, today);
    // A hand-written file without `recipe` gets the modern one.
    std::fs::write(&path, "batch = 16\n").unwrap();
    let mine = TrainOverrides::from_file(&path).unwrap().resolve().unwrap();
    assert_eq!(mine.networks.recipe, ganforge::config::Recipe::Modern);
    assert!(mine.networks.spectral_norm);
}

#[test]
fn the_background_is_a_colour_by_name_or_hex_and_a_bad_one_is_refused_with_the_forms() {
    use ganforge::data::Background;
    for (text, rgb, written) in [
        ("white", [255, 255, 255], "white"),
        ("black", [0, 0, 0], "black"),
        ("#FF8000", [255, 128, 0], "#ff8000"),
        ("#ffffff", [255, 255, 255], "white"),
    ] {
        let parsed: Background = text.parse().unwrap();
        assert_eq!(parsed, Background(rgb), "{text}");
        assert_eq!(parsed.to_string(), written);
    }
    assert_eq!(TrainConfig::new().input.background, Background::WHITE);
    for bad in ["pink", "#12345", "#gg0000", "ff8000", ""] {
        let err = bad.parse::<Background>().unwrap_err().to_string();
        assert!(
            err.contains("`background`") && err.contains("white, black or a colour as #rrggbb"),
            "{bad}: {err}"
        );
    }
    // In a config file and as a flag, and written back to config.toml.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, "background = \"black\"\n").unwrap();
    let config = TrainOverrides::from_file(&path).unwrap().resolve().unwrap();
    assert_eq!(config.input.background, Background::BLACK);
    assert!(config.to_toml().contains("background = \"black\""));
    std::fs::write(&path, "background = \"pink\"\n").unwrap();
    let err = TrainOverrides::from_file(&path).unwrap_err().to_string();
    assert!(
        err.contains("`background`") && err.contains("#rrggbb"),
        "{err}"
    );
    let cli = TrainOverrides::augment_args(Command::new("train"))
        .try_get_matches_from(["train", "--background", "#102030"])
        .unwrap();
    let keys = <TrainOverrides as clap::FromArgMatches>::from_arg_matches(&cli).unwrap();
    assert_eq!(keys.background, Some(Background([0x10, 0x20, 0x30])));
    assert!(
        TrainOverrides::augment_args(Command::new("train"))
            .try_get_matches_from(["train", "--background", "grey"])
            .is_err()
    );
}

#[test]
fn an_unknown_or_misspelt_key_is_refused_with_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, "batch = 8\nlearning_rate = 0.1\n").unwrap();
    let err = TrainOverrides::from_file(&path).unwrap_err().to_string();
    assert!(err.contains("learning_rate"), "{err}");
    std::fs::write(&path, "batch = \"eight\"\n").unwrap();
    let err = TrainOverrides::from_file(&path).unwrap_err().to_string();
    assert!(err.contains("key `batch`, line 1"), "{err}");
}

#[test]
fn the_shared_checks_refuse_the_same_keys_for_every_model() {
    use ganforge::models::ModelKind;
    for model in [ModelKind::Dcgan, ModelKind::Mlp, ModelKind::Cyclegan] {
        let base = TrainOverrides {
            model: Some(model),
            spatial: Some(16),
            ..Default::default()
        };
        base.resolve().unwrap_or_else(|e| panic!("{model:?}: {e}"));
        for (key, keys) in [
            (
                "batch",
                TrainOverrides {
                    batch: Some(0),
                    ..base.clone()
                },
            ),
            (
                "steps",
                TrainOverrides {
                    steps: Some(0),
                    ..base.clone()
                },
            ),
            (
                "num_load",
                TrainOverrides {
                    num_load: Some(0),
                    ..base.clone()
                },
            ),
            (
                "lr_d",
                TrainOverrides {
                    lr_d: Some(-1.0),
                    ..base.clone()
                },
            ),
            (
                "beta2",
                TrainOverrides {
                    beta2: Some(1.0),
                    ..base.clone()
                },
            ),
        ] {
            let err = keys.resolve().expect_err(key).to_string();
            assert!(err.contains(&format!("`{key}`")), "{model:?}: {err}");
        }
    }
}

#[test]
fn the_data_spec_is_parsed_once_and_written_back_as_it_was_given() {
    use ganforge::data::DataSpec;
    for spec in [
        "digits",
        "stacked-digits",
        "digits-a",
        "digits-b",
        "emoji",
        "folder:some/images",
        "mixture:ring8",
        "mixture:grid25",
        "cyclegan",
        "cyclegan:horse2zebra",
    ] {
        let parsed: DataSpec = spec.parse().unwrap();
        assert_eq!(parsed.to_string(), spec);
    }
    // In a config file the spec is read once, into its type; a bad one names the kinds there are.
    let keys: TrainOverrides = toml::from_str("data = \"mixture:ring8\"").unwrap();
    assert_eq!(
        keys.data,
        Some(DataSpec::Mixture(ganforge::data::mixture::Mixture::RING8))
    );
    let err = toml::from_str::<TrainOverrides>("data = \"photos\"")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("unknown dataset `photos`") && err.contains("folder:DIR"),
        "{err}"
    );
    // Two domains are for CycleGAN only.
    let err = TrainOverrides {
        data: Some(DataSpec::Domains(None)),
        ..Default::default()
    }
    .resolve()
    .unwrap_err()
    .to_string();
    assert!(err.contains("model = cyclegan"), "{err}");
}

#[test]
fn learning_rates_decay_linearly_from_the_given_step_for_any_model() {
    let keys = |model: Option<ModelKind>, start: Option<usize>| TrainOverrides {
        model,
        lr_decay_start: start,
        steps: Some(100),
        ..Default::default()
    };
    // A GAN keeps its rates unless asked.
    let gan = keys(None, None).resolve().unwrap();
    assert_eq!(gan.decay_start(), None);
    assert_eq!(gan.lr_at(2e-4, 99), 2e-4);
    // Asked, it falls linearly from the step to 0 at the end: half way at step 75 of 100, and
    // 2e-4 · (100 − 99) / 50 at the last.
    let decaying = keys(None, Some(50)).resolve().unwrap();
    assert_eq!(decaying.lr_at(2e-4, 49), 2e-4);
    assert!((decaying.lr_at(2e-4, 75) - 1e-4).abs() < 1e-12);
    assert!((decaying.lr_at(2e-4, 99) - 4e-6).abs() < 1e-12);
    // CycleGAN decays from half the run by default (Zhu et al.).
    let cycle = keys(Some(ModelKind::Cyclegan), None).resolve().unwrap();
    assert_eq!(cycle.decay_start(), Some(50));
    // Past the last step is refused by name.
    let err = keys(None, Some(101)).resolve().unwrap_err().to_string();
    assert!(
        err.contains("lr_decay_start") && err.contains("past the last step"),
        "{err}"
    );
}
