//! A user's own feature network in the documented safetensors layout.

use std::collections::HashMap;
use std::path::Path;

use burn::prelude::*;
use ganforge::eval::feature_net::{load_feature_network, save_feature_network};
use ganforge::eval::judge::JudgeConfig;
use safetensors::tensor::{Dtype, TensorView};

/// A tensor to write: name, shape, values.
pub type Named = (&'static str, Vec<usize>, Vec<f32>);

/// Writes `tensors` (name, shape, values) and `metadata` as a safetensors file of float32.
pub fn write_safetensors(path: &Path, tensors: &[Named], metadata: &[(&str, &str)]) {
    write_safetensors_as(path, tensors, metadata, Dtype::F32)
}

/// …of float32 or float64.
fn write_safetensors_as(path: &Path, tensors: &[Named], metadata: &[(&str, &str)], dtype: Dtype) {
    let bytes: Vec<Vec<u8>> = tensors
        .iter()
        .map(|(_, _, v)| match dtype {
            Dtype::F64 => v.iter().flat_map(|&x| (x as f64).to_le_bytes()).collect(),
            _ => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        })
        .collect();
    let views: Vec<(String, TensorView)> = tensors
        .iter()
        .zip(&bytes)
        .map(|((name, shape, _), b)| {
            (
                name.to_string(),
                TensorView::new(dtype, shape.clone(), b).unwrap(),
            )
        })
        .collect();
    let metadata: HashMap<String, String> = metadata
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    std::fs::write(path, safetensors::serialize(views, Some(metadata)).unwrap()).unwrap();
}

/// Naive convolution of one image `[c, h, w]` with `weight` `[o, c, k, k]`, padding k/2, then
/// ReLU: the reference the layout is read against.
fn conv_relu(
    x: &[f32],
    [c, h, w]: [usize; 3],
    weight: &[f32],
    bias: &[f32],
    k: usize,
    stride: usize,
) -> (Vec<f32>, usize, usize) {
    let o = bias.len();
    let pad = (k / 2) as isize;
    let (oh, ow) = (
        (h + 2 * (k / 2) - k) / stride + 1,
        (w + 2 * (k / 2) - k) / stride + 1,
    );
    let mut out = vec![0.0f32; o * oh * ow];
    for oc in 0..o {
        for i in 0..oh {
            for j in 0..ow {
                let mut sum = bias[oc];
                for ic in 0..c {
                    for di in 0..k {
                        for dj in 0..k {
                            let (y, xx) = (
                                (i * stride + di) as isize - pad,
                                (j * stride + dj) as isize - pad,
                            );
                            if y >= 0 && xx >= 0 && (y as usize) < h && (xx as usize) < w {
                                sum += weight[((oc * c + ic) * k + di) * k + dj]
                                    * x[(ic * h + y as usize) * w + xx as usize];
                            }
                        }
                    }
                }
                out[(oc * oh + i) * ow + j] = sum.max(0.0);
            }
        }
    }
    (out, oh, ow)
}

fn values(n: usize, scale: f32, offset: f32) -> Vec<f32> {
    (0..n)
        .map(|i| ((i * 7 % 11) as f32 - 5.0) * scale + offset)
        .collect()
}

#[test]
fn a_network_in_the_documented_layout_gives_the_hand_computed_features_and_logits() {
    check_hand_computed(Dtype::F32);
}

#[test]
fn a_float64_network_loads_too() {
    check_hand_computed(Dtype::F64);
}

fn check_hand_computed(dtype: Dtype) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("net.safetensors");
    // Two convolutions (3×3 stride 2, then 1×1), a head of 3 classes over 2 features.
    let (w0, b0) = (values(2 * 3 * 3, 0.1, 0.02), vec![0.05, -0.1]);
    let (w1, b1) = (values(2 * 2, 0.3, 0.1), vec![0.01, 0.2]);
    let (head_w, head_b) = (vec![1.0, -2.0, 0.5, 0.25, -1.0, 3.0], vec![0.1, 0.0, -0.3]);
    write_safetensors_as(
        &path,
        &[
            ("convs.0.weight", vec![2, 1, 3, 3], w0.clone()),
            ("convs.0.bias", vec![2], b0.clone()),
            ("convs.1.weight", vec![2, 2, 1, 1], w1.clone()),
            ("convs.1.bias", vec![2], b1.clone()),
            ("head.weight", vec![3, 2], head_w.clone()),
            ("head.bias", vec![3], head_b.clone()),
        ],
        &[
            ("strides", "2,1"),
            ("class_names", "a,b,c"),
            ("spatial", "5"),
        ],
        dtype,
    );
    let device = Device::flex();
    let (net, info) = load_feature_network(&path, 1, &device).unwrap();
    assert_eq!((info.channels, info.spatial, info.classes), (1, 5, 3));
    assert_eq!(info.class_names, ["a", "b", "c"]);
    assert_eq!(info.held_out_accuracy, None);

    let image: Vec<f32> = (0..25).map(|i| (i as f32 / 12.0) - 1.0).collect();
    let (x, h, w) = conv_relu(&image, [1, 5, 5], &w0, &b0, 3, 2);
    assert_eq!((h, w), (3, 3));
    let (x, h, w) = conv_relu(&x, [2, h, w], &w1, &b1, 1, 1);
    let features: Vec<f32> = (0..2)
        .map(|c| x[c * h * w..(c + 1) * h * w].iter().sum::<f32>() / (h * w) as f32)
        .collect();
    // PyTorch's Linear: logits = W·f + b with W [classes, features].
    let logits: Vec<f32> = (0..3)
        .map(|k| head_w[2 * k] * features[0] + head_w[2 * k + 1] * features[1] + head_b[k])
        .collect();

    let input = Tensor::<4>::from_data(TensorData::new(image, [1, 1, 5, 5]), &device);
    let got_features = ganforge::tensor_values(net.features(input.clone()));
    let got_logits = ganforge::tensor_values(net.forward(input));
    for (got, want) in got_features
        .iter()
        .zip(&features)
        .chain(got_logits.iter().zip(&logits))
    {
        assert!((got - want).abs() < 1e-5, "{got} vs {want}");
    }
    assert!(
        features.iter().all(|&f| f > 0.0),
        "the check should not be all zeros: {features:?}"
    );
}

#[test]
fn an_exported_judge_reads_back_as_the_same_network() {
    let device = Device::flex();
    let config = JudgeConfig::new(1, 16, 10).with_width(4);
    let judge = config.init(&device);
    let info = ganforge::eval::judge::JudgeInfo {
        format: 1,
        channels: 1,
        spatial: 16,
        classes: 10,
        width: 4,
        class_names: (0..10).map(|c| c.to_string()).collect(),
        held_out_accuracy: Some(0.5),
        held_out_images: 10,
        data: "digits".into(),
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("judge.safetensors");
    save_feature_network(&judge, &info, &path).unwrap();
    assert!(
        save_feature_network(&judge, &info, &path).is_err(),
        "an existing file is kept"
    );
    let (loaded, loaded_info) = load_feature_network(&path, 1, &device).unwrap();
    assert_eq!(loaded.strides(), [1, 2, 1, 2]);
    assert_eq!(
        (loaded_info.spatial, loaded_info.class_names),
        (16, info.class_names)
    );
    let images = super::small_digits(3).batch(&[0, 1, 2], &device);
    let (a, b) = (
        ganforge::tensor_values(judge.forward(images.clone())),
        ganforge::tensor_values(loaded.forward(images)),
    );
    assert_eq!(a, b);
}

/// The error loading a file holding `tensors`, for 1-channel images.
fn refusal(tensors: &[Named], metadata: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("net.safetensors");
    write_safetensors(&path, tensors, metadata);
    match load_feature_network(&path, 1, &Device::flex()) {
        Ok(_) => panic!("loaded a network outside the layout"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn networks_outside_the_layout_are_refused_with_the_tensor_named() {
    let conv = |i: usize, o: usize, c: usize, k: usize| {
        vec![
            (
                if i == 0 {
                    "convs.0.weight"
                } else {
                    "convs.1.weight"
                },
                vec![o, c, k, k],
                vec![0.0; o * c * k * k],
            ),
            (
                if i == 0 {
                    "convs.0.bias"
                } else {
                    "convs.1.bias"
                },
                vec![o],
                vec![0.0; o],
            ),
        ]
    };
    let head = |classes: usize, f: usize| {
        vec![
            ("head.weight", vec![classes, f], vec![0.0; classes * f]),
            ("head.bias", vec![classes], vec![0.0; classes]),
        ]
    };
    let join = |parts: Vec<Vec<Named>>| parts.concat();

    let e = refusal(&conv(0, 4, 1, 3), &[]);
    assert!(e.contains("`head.weight`"), "{e}");
    let e = refusal(&join(vec![conv(0, 4, 3, 3), head(10, 4)]), &[]);
    assert!(e.contains("takes 3 channels where 1 arrive"), "{e}");
    let e = refusal(&join(vec![conv(0, 4, 1, 2), head(10, 4)]), &[]);
    assert!(e.contains("odd"), "{e}");
    let e = refusal(&join(vec![conv(0, 4, 1, 3), head(10, 5)]), &[]);
    assert!(e.contains("takes 5 features"), "{e}");
    let e = refusal(
        &join(vec![conv(0, 4, 1, 3), head(10, 4)]),
        &[("strides", "1,2")],
    );
    assert!(e.contains("`strides`"), "{e}");
    let mut extra = join(vec![conv(0, 4, 1, 3), head(10, 4)]);
    extra.push(("fc.weight", vec![2], vec![0.0; 2]));
    let e = refusal(&extra, &[]);
    assert!(e.contains("fc.weight"), "{e}");
    let e = refusal(
        &join(vec![conv(0, 4, 1, 3), head(10, 4)]),
        &[("class_names", "a,b")],
    );
    assert!(e.contains("`class_names`"), "{e}");
    // And a file that is not safetensors at all.
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.safetensors");
    std::fs::write(&junk, b"not a tensor file").unwrap();
    let e = load_feature_network(&junk, 1, &Device::flex())
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("is not a ganforge feature network"), "{e}");
}
