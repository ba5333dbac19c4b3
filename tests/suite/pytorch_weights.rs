//! A run's networks as PyTorch weights (`export-model`) and a generator back from them
//! (`sample --run FILE.safetensors`): the documented names and shapes, the same images after the
//! round trip, spectral normalisation folded exactly, bad files refused by name.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use burn::prelude::*;
use burn::store::{ModuleSnapshot, SafetensorsStore};
use ganforge::config::TrainOverrides;
use ganforge::device::DeviceChoice;
use ganforge::models::{DcganDiscriminatorConfig, NormKind};
use ganforge::output::torch_weights::{ExportWhat, export_model, load_generator_file};
use ganforge::sample::{Draw, SampleOptions, draw_images, sample};
use safetensors::SafeTensors;
use safetensors::tensor::{Dtype, TensorView};

/// A tiny modern run (spectral norm, an average of G) on the digits, conditional
/// with class-conditional BatchNorm, G drawing at 8×8 and doubling by nearest neighbour when
/// `conditional`; otherwise with 4×4 stride-2 kernels (`resample_filter`) in both networks.
fn modern_run(dir: &Path, conditional: bool) -> PathBuf {
    let out = dir.join(if conditional { "cond" } else { "plain" });
    let keys = TrainOverrides {
        capacity: Some(4),
        batch: Some(8),
        latent: Some(16),
        steps: Some(6),
        progress_interval: Some(5),
        iterations_per_epoch: Some(5),
        checkpoint_interval: Some(5),
        num_load: Some(300),
        conditional: Some(conditional),
        g_ema_warmup: Some(0),
        g_upsample: conditional.then_some(ganforge::models::Upsampling::Nearest),
        resample_filter: (!conditional).then_some(4),
        ..Default::default()
    };
    let config = keys.resolve().expect("valid config");
    assert!(config.networks.spectral_norm && config.remedies.g_ema.is_some());
    if conditional {
        assert!(config.networks.g_class_norm && config.networks.g_draw_side == Some(8));
    }
    super::train_quiet(config, &out);
    out
}

fn shapes(path: &Path) -> (BTreeMap<String, Vec<usize>>, HashMap<String, String>) {
    let bytes = std::fs::read(path).unwrap();
    let file = SafeTensors::deserialize(&bytes).unwrap();
    let shapes = file
        .tensors()
        .into_iter()
        .map(|(n, v)| (n, v.shape().to_vec()))
        .collect();
    let (_, header) = SafeTensors::read_metadata(&bytes).unwrap();
    (shapes, header.metadata().clone().unwrap_or_default())
}

fn tensor(path: &Path, name: &str) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap();
    let file = SafeTensors::deserialize(&bytes).unwrap();
    let view = file.tensor(name).unwrap();
    assert_eq!(view.dtype(), Dtype::F32, "{name}");
    view.data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect()
}

#[test]
fn an_exported_generator_and_discriminator_have_the_documented_names_and_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let run = modern_run(dir.path(), false);
    let out = dir.path().join("both.safetensors");
    let exported = export_model(&run, ExportWhat::Both, &out).unwrap();
    assert_eq!(exported.step, 6);
    let (shapes, metadata) = shapes(&out);

    // docs/pytorch-weights.md, for capacity c = 4, latent 16, 16×16 grey, kernel k = 3 (the
    // modern digits recipe's) and 4×4 stride-2 kernels r: G starts
    // at 1×1 with 8c channels and doubles three times to 8×8 (widths 4c, 2c, c); D has four blocks of
    // c·1, 2, 4, 8 without normalisation layers (the modern recipe's), spectral norm folded away.
    let (k, r) = (3, 4);
    let mut expected: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    let mut add = |name: String, shape: &[usize]| {
        expected.insert(name, shape.to_vec());
    };
    let bn = |add: &mut dyn FnMut(String, &[usize]), at: &str, c: usize| {
        for p in ["weight", "bias", "running_mean", "running_var"] {
            add(format!("{at}.{p}"), &[c]);
        }
        add(format!("{at}.num_batches_tracked"), &[]);
    };
    add("generator.project.weight".into(), &[32, 16]);
    add("generator.project.bias".into(), &[32]);
    bn(&mut add, "generator.project_norm", 32);
    let widths = [32, 16, 8, 4];
    for i in 0..3 {
        let at = format!("generator.blocks.{i}");
        add(
            format!("{at}.conv_up.weight"),
            &[widths[i], widths[i + 1], r, r],
        );
        add(format!("{at}.conv_up.bias"), &[widths[i + 1]]);
        bn(&mut add, &format!("{at}.norm"), widths[i + 1]);
    }
    add("generator.to_image.weight".into(), &[1, 4, k, k]);
    add("generator.to_image.bias".into(), &[1]);
    let mut c_in = 1;
    for (i, c) in [4, 8, 16, 32].into_iter().enumerate() {
        let at = format!("discriminator.blocks.{i}");
        add(format!("{at}.conv.weight"), &[c, c_in, k, k]);
        add(format!("{at}.conv.bias"), &[c]);
        add(format!("{at}.conv_down.weight"), &[c, c, r, r]);
        add(format!("{at}.conv_down.bias"), &[c]);
        c_in = c;
    }
    add("discriminator.head.weight".into(), &[1, 32]);
    add("discriminator.head.bias".into(), &[1]);
    assert_eq!(shapes, expected);
    assert_eq!(exported.tensors, expected.len());

    assert_eq!(metadata["format"], "ganforge-pytorch-1");
    assert_eq!(metadata["step"], "6");
    assert_eq!(metadata["noise"], "normal");
    assert_eq!(metadata["spectral_norm"], "folded into the weights");
    assert_eq!(metadata["generator_weights"], "moving average");
    let g: serde_json::Value = serde_json::from_str(&metadata["generator"]).unwrap();
    assert_eq!(
        g,
        serde_json::json!({"spatial": 16, "channels": 1, "latent": 16, "capacity": 4,
            "filter": 3, "leaky_slope": 0.3, "classes": 0, "label_embedding": 50,
            "class_norm": false, "draw_side": 8, "upsample": "transposed",
            "resample_filter": 4}),
        "the modern digits recipe draws at 8×8"
    );
    let d: serde_json::Value = serde_json::from_str(&metadata["discriminator"]).unwrap();
    assert_eq!(d["norm"], "none");
    assert_eq!(d["pack"], 1);
    assert_eq!(d["resample_filter"], 4);

    // The file, read back, draws what the run draws (the 4×4 transposed kernels' padding
    // rebuilt from the metadata).
    let from_run = draw_images(&run, Draw::Any(6), 9, DeviceChoice::Cpu).unwrap();
    let from_file = draw_images(&out, Draw::Any(6), 9, DeviceChoice::Cpu).unwrap();
    assert_eq!(from_file.images, from_run.images);
}

#[test]
fn the_export_is_pytorch_layout_of_burns_own_tensors() {
    let dir = tempfile::tempdir().unwrap();
    let run = modern_run(dir.path(), false);
    let out = dir.path().join("g.safetensors");
    export_model(&run, ExportWhat::Generator, &out).unwrap();

    // burn's own names and layouts, without any adapter.
    let config = ganforge::output::run_dir::RunDir::open(&run)
        .unwrap()
        .read_config()
        .unwrap();
    let ckpt = ganforge::output::checkpoint::latest(&run.join("checkpoints")).unwrap();
    let g = ganforge::output::checkpoint::load_generator(&config, &ckpt, &Device::flex()).unwrap();
    let mut store = SafetensorsStore::from_bytes(None).skip_enum_variants(true);
    g.save_into(&mut store).unwrap();
    let burn_bytes = store.get_bytes().unwrap();
    let burn_file = SafeTensors::deserialize(&burn_bytes).unwrap();
    let burn = |name: &str| -> (Vec<usize>, Vec<f32>) {
        let v = burn_file.tensor(name).unwrap();
        let values = v
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
            .collect();
        (v.shape().to_vec(), values)
    };

    // A dense weight: burn's [in, out], PyTorch's [out, in].
    let (shape, values) = burn("project.weight");
    assert_eq!(shape, [16, 32]);
    let exported = tensor(&out, "project.weight");
    for i in 0..16 {
        for o in 0..32 {
            assert_eq!(exported[o * 16 + i], values[i * 32 + o]);
        }
    }
    // BatchNorm's gamma and beta are PyTorch's weight and bias; the running statistics and the
    // (transposed) convolution kernels keep their layout.
    assert_eq!(
        tensor(&out, "project_norm.weight"),
        burn("project_norm.gamma").1
    );
    assert_eq!(
        tensor(&out, "blocks.1.norm.bias"),
        burn("blocks.1.norm.beta").1
    );
    assert_eq!(
        tensor(&out, "blocks.2.norm.running_var"),
        burn("blocks.2.norm.running_var").1
    );
    assert_eq!(
        tensor(&out, "blocks.0.conv_up.weight"),
        burn("blocks.0.conv_up.weight").1
    );
    // The average of G was trained for 6 steps: its statistics moved from their start.
    assert!(burn("project_norm.running_var").1.iter().any(|&v| v != 1.0));
}

fn options(run: PathBuf, out: PathBuf, tensors: Option<PathBuf>) -> SampleOptions {
    SampleOptions {
        run,
        n: 20,
        seed: 5,
        out: Some(out),
        each: None,
        label: None,
        tensors,
        device: DeviceChoice::Cpu,
    }
}

#[test]
fn a_conditional_generator_exported_and_read_back_draws_the_same_images() {
    let dir = tempfile::tempdir().unwrap();
    let run = modern_run(dir.path(), true);
    let g_file = dir.path().join("g.safetensors");
    let both = dir.path().join("both.safetensors");
    export_model(&run, ExportWhat::Generator, &g_file).unwrap();
    export_model(&run, ExportWhat::Both, &both).unwrap();
    let (g_shapes, metadata) = shapes(&g_file);
    assert_eq!(g_shapes["label_embedding.weight"], [10, 50]);
    assert_eq!(g_shapes["blocks.0.class_gain.weight"], [10, 16]);
    // Nearest doubling, then a plain convolution: PyTorch's Conv2d layout `[out, in, k, k]`.
    assert_eq!(g_shapes["blocks.0.conv.weight"], [16, 32, 3, 3]);
    assert_eq!(g_shapes["blocks.2.conv.bias"], [4]);
    assert!(!g_shapes.contains_key("blocks.0.conv_up.weight"));
    let spec: serde_json::Value = serde_json::from_str(&metadata["generator"]).unwrap();
    assert_eq!(spec["upsample"], "nearest");
    assert_eq!(metadata["class_names"], "0,1,2,3,4,5,6,7,8,9");

    let from_run = draw_images(
        &run,
        Draw::EveryClass { per_class: 3 },
        9,
        DeviceChoice::Cpu,
    )
    .unwrap();
    for file in [&g_file, &both] {
        let from_file = draw_images(
            file,
            Draw::EveryClass { per_class: 3 },
            9,
            DeviceChoice::Cpu,
        )
        .unwrap();
        assert_eq!(from_file.images, from_run.images, "{}", file.display());
        assert_eq!(from_file.noise, from_run.noise);
    }
    let loaded = load_generator_file(&g_file, &Device::flex()).unwrap();
    assert_eq!(loaded.spec.classes, 10);
    assert_eq!(loaded.class_names.len(), 10);

    // `sample` from the file: the grid and the tensors file, whose images are the drawn ones.
    let grid = dir.path().join("grid.png");
    let tensors = dir.path().join("drawn.safetensors");
    let result = sample(&options(
        g_file.clone(),
        grid.clone(),
        Some(tensors.clone()),
    ))
    .unwrap();
    assert!(result.grid.is_file());
    let (drawn_shapes, _) = shapes(&tensors);
    assert_eq!(drawn_shapes["noise"], [20, 16]);
    assert_eq!(drawn_shapes["images"], [20, 1, 16, 16]);
    assert_eq!(drawn_shapes["labels"], [20]);
    let same = draw_images(
        &run,
        Draw::EveryClass { per_class: 2 },
        5,
        DeviceChoice::Cpu,
    )
    .unwrap();
    let images: Vec<f32> = same.images.iter().flat_map(|(p, _)| p.clone()).collect();
    assert_eq!(tensor(&tensors, "images"), images);
    assert_eq!(tensor(&tensors, "noise"), same.noise);
    assert!(
        !drawn_shapes.contains_key("d_logits"),
        "a weights file has no discriminator"
    );

    // From the run itself the tensors file also holds D's logits of the drawn images, with
    // their labels (what scripts/check_pytorch_weights.py compares with the exported D).
    let from_run = dir.path().join("drawn_run.safetensors");
    sample(&options(
        run.clone(),
        dir.path().join("grid_run.png"),
        Some(from_run.clone()),
    ))
    .unwrap();
    let (run_shapes, _) = shapes(&from_run);
    assert_eq!(run_shapes["d_logits"], [20, 1]);
    let device = Device::flex();
    let run_dir = ganforge::output::run_dir::RunDir::open(&run).unwrap();
    let config = run_dir.read_config().unwrap();
    let latest = ganforge::output::checkpoint::latest(&run_dir.checkpoints_dir()).unwrap();
    let d = ganforge::output::checkpoint::load_discriminator(&config, &latest, &device).unwrap();
    let labels: Vec<usize> = same.images.iter().map(|(_, l)| l.unwrap()).collect();
    let expected = ganforge::models::DiscriminatorNet::forward_conditioned(
        &d,
        Tensor::<4>::from_data(TensorData::new(images, [20, 1, 16, 16]), &device),
        Some(ganforge::train::label_tensor(&labels, &device)),
    );
    assert_eq!(
        tensor(&from_run, "d_logits"),
        ganforge::tensor_values(expected)
    );

    // A weights file has no run folder for a default grid path.
    let mut no_out = options(g_file, grid, None);
    no_out.out = None;
    let err = sample(&no_out).unwrap_err().to_string();
    assert!(err.contains("--run names a weights file"), "{err}");
}

#[test]
fn folding_spectral_norm_into_the_weights_keeps_ds_scores() {
    let device = Device::flex();
    ganforge::models::with_seed(&device, 3, || {
        let d = DcganDiscriminatorConfig::new(1)
            .with_capacity(4)
            .with_norm(NormKind::Layer)
            .with_spectral_norm(true)
            .init(&device);
        let images = Tensor::<4>::random(
            [6, 1, 16, 16],
            burn::tensor::Distribution::Uniform(-1.0, 1.0),
            &device,
        );
        assert!(d.has_spectral_norm());
        let scores = ganforge::tensor_values(d.forward(images.clone()));
        let folded = d.clone().with_spectral_norm_folded();
        assert!(!folded.has_spectral_norm());
        let folded_scores = ganforge::tensor_values(folded.forward(images));
        for (a, b) in scores.iter().zip(&folded_scores) {
            assert!((a - b).abs() <= 1e-5 * a.abs().max(1.0), "{a} against {b}");
        }
        // Folding changed the weights (σ ≠ 1 at initialisation).
        assert_ne!(
            ganforge::models::parameter_values(&d)[0].values,
            ganforge::models::parameter_values(&folded)[0].values
        );
    });
}

/// A file's tensors (name, shape, little-endian bytes) as a test edits them.
type Tensors = Vec<(String, Vec<usize>, Vec<u8>)>;
/// An edit of a file's tensors and metadata.
type Edit<'a> = &'a dyn Fn(&mut Tensors, &mut HashMap<String, String>);

/// The tensors of `path` with `edit` applied, written to `to`.
fn rewrite(path: &Path, to: &Path, edit: Edit<'_>) {
    let bytes = std::fs::read(path).unwrap();
    let file = SafeTensors::deserialize(&bytes).unwrap();
    let (_, header) = SafeTensors::read_metadata(&bytes).unwrap();
    let mut metadata = header.metadata().clone().unwrap_or_default();
    let mut tensors: Tensors = file
        .tensors()
        .into_iter()
        .filter(|(n, _)| !n.ends_with("num_batches_tracked"))
        .map(|(n, v)| (n, v.shape().to_vec(), v.data().to_vec()))
        .collect();
    edit(&mut tensors, &mut metadata);
    let views: Vec<(String, TensorView)> = tensors
        .iter()
        .map(|(n, s, d)| {
            (
                n.clone(),
                TensorView::new(Dtype::F32, s.clone(), d).unwrap(),
            )
        })
        .collect();
    std::fs::write(to, safetensors::serialize(views, Some(metadata)).unwrap()).unwrap();
}

#[test]
fn bad_weight_files_and_exports_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let (_guard, tutorial_run) = super::tiny_run(3);
    let good = dir.path().join("g.safetensors");
    export_model(&tutorial_run, ExportWhat::Generator, &good).unwrap();
    let device = Device::flex();
    assert!(load_generator_file(&good, &device).is_ok());
    let refusal = |edit: Edit<'_>| {
        let bad = dir.path().join("bad.safetensors");
        let _ = std::fs::remove_file(&bad);
        rewrite(&good, &bad, edit);
        load_generator_file(&bad, &device).unwrap_err().to_string()
    };

    let err = refusal(&|t, _| t.retain(|(n, _, _)| n != "to_image.weight"));
    assert!(
        err.contains("missing") && err.contains("to_image.weight"),
        "{err}"
    );
    let err =
        refusal(&|t, _| t.push(("extra.weight".into(), vec![1], 0f32.to_le_bytes().to_vec())));
    assert!(
        err.contains("outside the layout") && err.contains("extra.weight"),
        "{err}"
    );
    let err = refusal(&|t, _| {
        for (n, s, d) in t.iter_mut() {
            if n == "to_image.bias" {
                *s = vec![2];
                *d = [0f32, 0.0].iter().flat_map(|x| x.to_le_bytes()).collect();
            }
        }
    });
    assert!(err.contains("to_image.bias"), "{err}");
    let err = refusal(&|_, m| {
        m.remove("generator");
    });
    assert!(err.contains("no `generator` key"), "{err}");
    let err = refusal(&|_, m| {
        m.insert(
            "generator".into(),
            m["generator"].replace("\"filter\":5", "\"filter\":4"),
        );
    });
    assert!(err.contains("`filter` is 4"), "{err}");
    let err = refusal(&|_, m| {
        m.insert("noise".into(), "cauchy".into());
    });
    assert!(err.contains("`noise` is `cauchy`"), "{err}");

    // Exports: an existing file is not overwritten, a non-DCGAN run is refused, nothing written.
    let before = std::fs::read(&good).unwrap();
    let err = export_model(&tutorial_run, ExportWhat::Both, &good)
        .unwrap_err()
        .to_string();
    assert!(err.contains("exists"), "{err}");
    assert_eq!(std::fs::read(&good).unwrap(), before);
    let err = export_model(&tutorial_run, ExportWhat::Both, &dir.path().join("g.pt"))
        .unwrap_err()
        .to_string();
    assert!(err.contains(".safetensors"), "{err}");

    let mlp = dir.path().join("mlp");
    let mut config = super::tiny_config(2);
    config.networks.model = ganforge::models::ModelKind::Mlp;
    super::train_quiet(config, &mlp);
    let out = dir.path().join("mlp.safetensors");
    let err = export_model(&mlp, ExportWhat::Generator, &out)
        .unwrap_err()
        .to_string();
    assert!(err.contains("is mlp") && err.contains("DCGAN"), "{err}");
    assert!(!out.exists());

    // The tutorial's D on the digits (LayerNorm, no spectral norm): GroupNorm's weight and bias,
    // no running statistics.
    let d_file = dir.path().join("d.safetensors");
    export_model(&tutorial_run, ExportWhat::Discriminator, &d_file).unwrap();
    let (d_shapes, metadata) = shapes(&d_file);
    assert_eq!(d_shapes["blocks.0.norm.weight"], [4]);
    assert_eq!(d_shapes["blocks.0.norm_down.bias"], [4]);
    assert!(!d_shapes.keys().any(|k| k.contains("running")));
    assert_eq!(metadata["spectral_norm"], "none");
    assert!(!metadata.contains_key("generator"));
}
