//! The standard FID features: pytorch-fid's Inception network. Its parity with pytorch-fid on
//! real PyTorch outputs is `scripts/check_inception_parity.py` (it needs torch); here, without
//! torch: the names and shapes of pytorch-fid's weight file (listed from its state_dict in
//! `tests/data/pytorch_fid_inception_tensors.txt`) load and are all used, the parts pytorch-fid
//! patches behave as it defines them, and `ganforge fid` with the file gives the features the
//! network gives.

use std::path::Path;

use burn::module::{Param, RunningState};
use burn::prelude::*;
use ganforge::data::decode_native_rgb;
use ganforge::eval::inception::{
    FidInceptionConfig, INCEPTION_FEATURES, INCEPTION_SIDE, is_inception_file, load_inception,
    pool_3x3_same, resize_bilinear,
};
use safetensors::tensor::TensorView;

use super::cli::ganforge;

fn values_of<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    ganforge::tensor_values(t)
}

fn close(a: &[f32], b: &[f32], tolerance: f32) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() <= tolerance)
}

#[test]
fn resize_is_pytorch_bilinear_without_corner_alignment() {
    let device = Device::flex();
    // 2×2 → 3×3: source coordinates (i + 0.5)·2/3 − 0.5 = −1/6 (clamped to 0), 1/2, 7/6 (its
    // neighbour clamped to the edge), so each axis samples 0, 0.5, 1 of the pixel grid.
    let x = Tensor::<4>::from_data(
        TensorData::new(vec![0.0f32, 1.0, 2.0, 3.0], [1, 1, 2, 2]),
        &device,
    );
    let up = values_of(resize_bilinear(x, 3));
    assert!(
        close(&up, &[0.0, 0.5, 1.0, 1.0, 1.5, 2.0, 2.0, 2.5, 3.0], 1e-6),
        "{up:?}"
    );
    // 4 → 2 along a row: coordinates 0.5 and 2.5, the means of neighbouring pairs (no
    // antialiasing filter, as F.interpolate's default).
    let row: Vec<f32> = (0..16).map(|v| v as f32).collect();
    let x = Tensor::<4>::from_data(TensorData::new(row, [1, 1, 4, 4]), &device);
    let down = values_of(resize_bilinear(x, 2));
    // Rows and columns 0.5 and 2.5 of values 4·r + c: 2.5, 4.5 | 10.5, 12.5.
    assert!(close(&down, &[2.5, 4.5, 10.5, 12.5], 1e-6), "{down:?}");
}

#[test]
fn branch_average_pool_leaves_the_padding_out_and_the_last_block_takes_the_maximum() {
    let device = Device::flex();
    let grid: Vec<f32> = (0..9).map(|v| v as f32).collect();
    let x = Tensor::<4>::from_data(TensorData::new(grid, [1, 1, 3, 3]), &device);
    // Corner (0, 0): the mean of 0, 1, 3, 4 is 2 (counting the five padded zeros it would be
    // 8/9); edge (0, 1): of 0..=5, 2.5; the centre: of all, 4.
    let avg = values_of(pool_3x3_same(x.clone(), false));
    let expected = [2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0, 5.5, 6.0];
    assert!(close(&avg, &expected, 1e-6), "{avg:?}");
    let max = values_of(pool_3x3_same(x, true));
    assert!(
        close(&max, &[4.0, 5.0, 5.0, 7.0, 8.0, 8.0, 7.0, 8.0, 8.0], 0.0),
        "{max:?}"
    );
}

#[test]
fn a_basic_convolution_is_burns_convolution_then_batch_norm_then_relu() {
    let device = Device::flex();
    let network = FidInceptionConfig::new().init(&device);
    // Mixed_6b's 1×7 convolution, with BatchNorm statistics and affine parameters set far from
    // the identity: the folded kernel must give what the three operations give one after another.
    let mut layer = network.mixed_6b.branch7x7_2.clone();
    let [c] = layer.bn.gamma.dims();
    let ramp = |offset: f32, scale: f32| {
        let v: Vec<f32> = (0..c)
            .map(|i| offset + scale * ((i * 7 % 13) as f32))
            .collect();
        Tensor::<1>::from_data(TensorData::new(v, [c]), &device)
    };
    layer.bn.gamma = Param::from_tensor(ramp(0.5, 0.1));
    layer.bn.beta = Param::from_tensor(ramp(-0.6, 0.1));
    layer.bn.running_mean = RunningState::new(ramp(-0.2, 0.03));
    layer.bn.running_var = RunningState::new(ramp(0.3, 0.2));
    let x = Tensor::<4>::random(
        [2, c, 9, 11],
        burn::tensor::Distribution::Normal(0.0, 1.0),
        &device,
    );
    let ours = values_of(layer.forward(x.clone()));
    let reference = values_of(burn::tensor::activation::relu(
        layer.bn.forward(layer.conv.forward(x)),
    ));
    assert!(ours.iter().any(|&v| v > 0.0) && ours.contains(&0.0));
    assert!(
        close(&ours, &reference, 1e-4),
        "the folded BatchNorm differs"
    );
}

/// pytorch-fid's state_dict as (name, dtype, shape), from the listing its package gave.
fn pytorch_fid_tensors() -> Vec<(String, String, Vec<usize>)> {
    let listing = include_str!("../data/pytorch_fid_inception_tensors.txt");
    listing
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|line| {
            let mut parts = line.split_whitespace();
            let name = parts.next().unwrap().to_string();
            let dtype = parts.next().unwrap().to_string();
            (name, dtype, parts.map(|d| d.parse().unwrap()).collect())
        })
        .collect()
}

/// The value of element `i` of tensor `t` (of `shape`) in the made-up weight file: a spread of
/// values of the right sign (variances positive); convolution weights of He scale
/// (std √(2/fan-in)), so that activations keep their scale through the 94 layers and different
/// images keep different features.
fn made_up_value(name: &str, shape: &[usize], t: usize, i: usize) -> f32 {
    let wave = ((t * 31 + i * 17) % 101) as f32 / 101.0;
    if name.ends_with("running_var") {
        0.5 + wave
    } else if name.ends_with("bn.weight") {
        0.8 + 0.4 * wave
    } else if name.ends_with("running_mean") || name.ends_with("bias") {
        0.1 * (wave - 0.5)
    } else {
        let fan_in: usize = shape[1..].iter().product();
        (wave - 0.5) * 12f32.sqrt() * (2.0 / fan_in as f32).sqrt()
    }
}

/// Writes a safetensors file of pytorch-fid's tensors (dropping `drop`, reshaping `reshape`, adding
/// `extra`), with made-up values.
fn write_weight_file(path: &Path, drop: Option<&str>, reshape: Option<&str>, extra: Option<&str>) {
    let mut tensors = pytorch_fid_tensors();
    tensors.retain(|(name, _, _)| Some(name.as_str()) != drop);
    if let Some(extra) = extra {
        tensors.push((extra.to_string(), "float32".into(), vec![3]));
    }
    let data: Vec<(String, safetensors::Dtype, Vec<usize>, Vec<u8>)> = tensors
        .iter()
        .enumerate()
        .map(|(t, (name, dtype, shape))| {
            let mut shape = shape.clone();
            if Some(name.as_str()) == reshape {
                shape[0] += 1;
            }
            if dtype == "int64" {
                (
                    name.clone(),
                    safetensors::Dtype::I64,
                    shape,
                    7i64.to_le_bytes().to_vec(),
                )
            } else {
                let n: usize = shape.iter().product();
                let bytes = (0..n)
                    .flat_map(|i| made_up_value(name, &shape, t, i).to_le_bytes())
                    .collect();
                (name.clone(), safetensors::Dtype::F32, shape, bytes)
            }
        })
        .collect();
    let views: Vec<(String, TensorView)> = data
        .iter()
        .map(|(name, dtype, shape, bytes)| {
            (
                name.clone(),
                TensorView::new(*dtype, shape.clone(), bytes).unwrap(),
            )
        })
        .collect();
    std::fs::write(path, safetensors::serialize(views, None).unwrap()).unwrap();
}

#[test]
fn pytorch_fid_weight_names_load_with_every_tensor_used_and_bad_files_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let device = Device::flex();
    let path = dir.path().join("pt_inception.safetensors");
    write_weight_file(&path, None, None, None);
    assert!(is_inception_file(&path));
    let network = load_inception(&path, &device).unwrap();
    // Values land where torchvision's names say, BatchNorm's weight/bias as burn's gamma/beta.
    let tensors = pytorch_fid_tensors();
    let expect = |name: &str, got: Vec<f32>| {
        let t = tensors.iter().position(|(n, _, _)| n == name).unwrap();
        let shape = &tensors[t].2;
        let want: Vec<f32> = (0..got.len())
            .map(|i| made_up_value(name, shape, t, i))
            .collect();
        assert_eq!(got, want, "{name}");
    };
    expect(
        "Conv2d_1a_3x3.conv.weight",
        values_of(network.conv2d_1a_3x3.conv.weight.val()),
    );
    expect(
        "Mixed_6e.branch7x7dbl_5.bn.weight",
        values_of(network.mixed_6e.branch7x7dbl_5.bn.gamma.val()),
    );
    expect(
        "Mixed_7c.branch_pool.bn.running_var",
        values_of(network.mixed_7c.branch_pool.bn.running_var.value()),
    );
    expect(
        "Mixed_7a.branch7x7x3_4.bn.running_mean",
        values_of(network.mixed_7a.branch7x7x3_4.bn.running_mean.value()),
    );

    let refused = |drop, reshape, extra| {
        let bad = dir.path().join("bad.safetensors");
        write_weight_file(&bad, drop, reshape, extra);
        load_inception(&bad, &device).unwrap_err().to_string()
    };
    let err = refused(Some("Mixed_5d.branch5x5_2.conv.weight"), None, None);
    assert!(
        err.contains("missing") && err.contains("Mixed_5d.branch5x5_2.conv.weight"),
        "{err}"
    );
    let err = refused(None, Some("Mixed_6a.branch3x3.conv.weight"), None);
    assert!(err.contains("branch3x3"), "{err}");
    let err = refused(None, None, Some("Mixed_9z.mystery"));
    assert!(
        err.contains("outside the network") && err.contains("Mixed_9z.mystery"),
        "{err}"
    );
    assert!(err.contains("docs/inception-fid.md"), "{err}");

    // A feature network of the other layout is not taken for Inception weights.
    let other = dir.path().join("other.safetensors");
    super::feature_net::write_safetensors(
        &other,
        &[("convs.0.weight", vec![1, 1, 1, 1], vec![1.0])],
        &[],
    );
    assert!(!is_inception_file(&other));
}

#[test]
fn fid_with_inception_weights_gives_the_networks_features_of_images_read_as_pytorch_fid_reads_them()
{
    let dir = tempfile::tempdir().unwrap();
    let device = Device::flex();
    let weights = dir.path().join("pt_inception.safetensors");
    write_weight_file(&weights, None, None, None);
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    std::fs::create_dir_all(&a).unwrap();
    std::fs::create_dir_all(&b).unwrap();
    // A: an RGB gradient and a grey one; B: an RGBA image (its transparent half keeps its colour:
    // pytorch-fid's convert("RGB") drops alpha) and a small RGB one, upscaled to 299.
    image::RgbImage::from_fn(40, 30, |x, y| {
        image::Rgb([(x * 6) as u8, (y * 8) as u8, 90])
    })
    .save(a.join("rgb.png"))
    .unwrap();
    image::GrayImage::from_fn(20, 20, |x, y| image::Luma([((x + y) * 6) as u8]))
        .save(a.join("grey.png"))
        .unwrap();
    let rgba = image::RgbaImage::from_fn(16, 16, |x, _| {
        image::Rgba([200, 40, 10, if x < 8 { 0 } else { 255 }])
    });
    rgba.save(b.join("rgba.png")).unwrap();
    image::RgbImage::from_fn(8, 8, |x, y| {
        image::Rgb([(x * 30) as u8, 100, (y * 30) as u8])
    })
    .save(b.join("small.png"))
    .unwrap();
    std::fs::write(b.join("broken.png"), b"not an image").unwrap();

    let decoded = decode_native_rgb(&b.join("rgba.png")).unwrap();
    assert_eq!((decoded.height, decoded.width), (16, 16));
    assert_eq!(
        (decoded.pixels[0], decoded.pixels[256], decoded.pixels[512]),
        (200.0 / 255.0, 40.0 / 255.0, 10.0 / 255.0)
    );

    // `ganforge fid A B --features WEIGHTS` with `extra` arguments.
    let run_fid = |extra: &[&str]| {
        let mut args = vec![
            "fid",
            a.to_str().unwrap(),
            b.to_str().unwrap(),
            "--features",
            weights.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        ganforge(&args, dir.path())
    };
    let saved = dir.path().join("features.safetensors");
    let out = run_fid(&["--save-features", saved.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("broken.png"), "{stderr}");
    assert!(
        stderr.contains(&format!("resized to {INCEPTION_SIDE}×{INCEPTION_SIDE}")),
        "{stderr}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let fid: f64 = stdout
        .trim()
        .strip_prefix("FID: ")
        .unwrap()
        .parse()
        .unwrap();
    assert!(fid.is_finite() && fid > 0.0, "{stdout}");

    let bytes = std::fs::read(&saved).unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let b_features = file.tensor("b").unwrap();
    assert_eq!(b_features.shape(), &[2, INCEPTION_FEATURES]);
    assert_eq!(file.tensor("a").unwrap().shape(), &[2, INCEPTION_FEATURES]);
    let saved_rgba: Vec<f32> = b_features.data()[..4 * INCEPTION_FEATURES]
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    // The network itself on the RGBA file's pixels, alpha dropped, resized to 299.
    let network = load_inception(&weights, &device).unwrap();
    let image = Tensor::<4>::from_data(TensorData::new(decoded.pixels, [1, 3, 16, 16]), &device);
    let direct = values_of(network.features(image));
    assert_eq!(direct.len(), INCEPTION_FEATURES);
    let scale = direct.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    assert!(scale > 0.0);
    let worst = saved_rgba
        .iter()
        .zip(&direct)
        .fold(0.0f32, |m, (x, y)| m.max((x - y).abs()));
    assert!(worst <= 1e-5 * scale, "{worst} of {scale}");

    // Inception sees 299×299 whatever --spatial says: another side is refused by name.
    let out = run_fid(&["--spatial", "64"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("299×299") && stderr.contains("--spatial"),
        "{stderr}"
    );
}
