//! A feature network of the user's own, in safetensors form, used by `ganforge eval` in place of
//! the judge ganforge trains. The layout is the judge's architecture at any depth and width, named
//! as a PyTorch module of that shape names its `state_dict`, so that a network trained elsewhere
//! loads without conversion (see `docs/feature-network.md`):
//!
//! - `convs.{i}.weight` `[out, in, k, k]` and `convs.{i}.bias` `[out]` for i = 0, 1, …: each a
//!   convolution with odd kernel k, padding k/2 and the stride of metadata `strides`, then ReLU;
//!   the first takes the run's image channels, each next one the previous one's outputs;
//! - a global average pool: the features;
//! - `head.weight` `[classes, features]` and `head.bias` `[classes]`: the class logits;
//! - metadata (the header's `__metadata__`, all optional): `strides` (comma-separated, one per
//!   convolution; default all 1), `class_names` (comma-separated), `spatial` (the image side it
//!   was trained on; when given, a run of another size is refused).
//!
//! Images reach it as ganforge's are: channel-major, values in [-1, 1].

use std::collections::HashMap;
use std::path::Path;

use burn::prelude::*;
use burn::store::{
    BurnToPyTorchAdapter, FloatCastAdapter, ModuleAdapter, ModuleSnapshot, PyTorchToBurnAdapter,
    SafetensorsStore,
};
use safetensors::SafeTensors;

use super::judge::{ConvLayer, Judge, JudgeInfo};
use crate::error::{GanError, Result};

/// True when `path` names a safetensors feature network rather than a judge directory.
pub fn is_feature_network(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "safetensors")
}

/// The error for a file at `path` that is not a feature network of the documented layout.
pub(crate) fn not_a_feature_network(path: &Path, why: String) -> GanError {
    GanError::Output(format!(
        "{} is not a ganforge feature network: {why} (the layout is in docs/feature-network.md)",
        path.display()
    ))
}

/// The width recorded for a feature network: what the TSTR classifiers use (they are trained by
/// ganforge whatever judges the scores).
const TSTR_WIDTH: usize = 32;

/// Loads the feature network in `path` for images of `channels` channels, checking every tensor
/// of the documented layout before any is used.
pub fn load_feature_network(
    path: &Path,
    channels: usize,
    device: &Device,
) -> Result<(Judge, JudgeInfo)> {
    let bad = |why: String| not_a_feature_network(path, why);
    let bytes = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    let (_, header) = SafeTensors::read_metadata(&bytes).map_err(|e| bad(e.to_string()))?;
    let shapes: HashMap<String, Vec<usize>> = header
        .tensors()
        .into_iter()
        .map(|(name, info)| (name, info.shape.clone()))
        .collect();
    let metadata = header.metadata().clone().unwrap_or_default();
    let shape_of = |name: &str| {
        shapes
            .get(name)
            .ok_or_else(|| bad(format!("it has no tensor `{name}`")))
    };
    let expect = |name: &str, expected: &[usize]| -> Result<()> {
        let shape = shape_of(name)?;
        if shape.as_slice() == expected {
            Ok(())
        } else {
            Err(bad(format!(
                "`{name}` has shape {shape:?}, the layout needs {expected:?}"
            )))
        }
    };

    let convs = (0..)
        .take_while(|i| shapes.contains_key(&format!("convs.{i}.weight")))
        .count();
    if convs == 0 {
        return Err(bad("it has no tensor `convs.0.weight`".into()));
    }
    let strides: Vec<usize> = match metadata.get("strides") {
        Some(text) => text
            .split(',')
            .map(|s| s.trim().parse::<usize>().ok().filter(|&s| s > 0))
            .collect::<Option<Vec<_>>>()
            .filter(|s| s.len() == convs)
            .ok_or_else(|| {
                bad(format!(
                    "metadata `strides` is `{text}`; it should list {convs} positive integers, one per convolution"
                ))
            })?,
        None => vec![1; convs],
    };
    let mut layers = Vec::with_capacity(convs);
    let mut channels_in = channels;
    for (i, &stride) in strides.iter().enumerate() {
        let name = format!("convs.{i}.weight");
        let shape = shape_of(&name)?;
        let &[out, input, k, k2] = shape.as_slice() else {
            return Err(bad(format!(
                "`{name}` has shape {shape:?}; a convolution's is [out, in, k, k]"
            )));
        };
        if input != channels_in {
            return Err(bad(format!(
                "`{name}` takes {input} channels where {channels_in} arrive{}",
                if i == 0 { " (the run's images)" } else { "" }
            )));
        }
        if k != k2 || k % 2 == 0 {
            return Err(bad(format!(
                "`{name}` has a {k}×{k2} kernel; the layout needs square odd kernels"
            )));
        }
        expect(&format!("convs.{i}.bias"), &[out])?;
        layers.push(ConvLayer {
            channels_out: out,
            kernel: k,
            stride,
        });
        channels_in = out;
    }
    let head = shape_of("head.weight")?;
    let &[classes, features] = head.as_slice() else {
        return Err(bad(format!(
            "`head.weight` has shape {head:?}; a linear layer's is [classes, features]"
        )));
    };
    if features != channels_in {
        return Err(bad(format!(
            "`head.weight` takes {features} features, the last convolution gives {channels_in}"
        )));
    }
    expect("head.bias", &[classes])?;
    let expected = 2 * convs + 2;
    if shapes.len() != expected {
        let mut extra: Vec<&String> = shapes
            .keys()
            .filter(|n| {
                !(n.starts_with("head.")
                    || (0..convs).any(|i| n.starts_with(&format!("convs.{i}."))))
            })
            .collect();
        extra.sort();
        return Err(bad(format!("tensors outside the layout: {extra:?}")));
    }
    let class_names: Vec<String> = match metadata.get("class_names") {
        Some(text) => {
            let names: Vec<String> = text.split(',').map(|s| s.trim().to_string()).collect();
            if names.len() != classes {
                return Err(bad(format!(
                    "metadata `class_names` names {} classes, `head.weight` has {classes}",
                    names.len()
                )));
            }
            names
        }
        None => (0..classes).map(|c| c.to_string()).collect(),
    };
    let spatial = match metadata.get("spatial") {
        Some(text) => text
            .trim()
            .parse::<usize>()
            .map_err(|_| bad(format!("metadata `spatial` is `{text}`, not an image side")))?,
        // Global average pooling takes any size.
        None => 0,
    };

    let mut judge = Judge::from_layers(channels, &layers, classes, device);
    // Half or double precision weights are cast to the device's float type.
    let float = Tensor::<1>::zeros([1], device).dtype();
    let mut store = SafetensorsStore::from_bytes(Some(bytes))
        .with_from_adapter(PyTorchToBurnAdapter.chain(FloatCastAdapter::to(float)));
    let result = judge
        .load_from(&mut store)
        .map_err(|e| bad(e.to_string()))?;
    if !result.errors.is_empty() || !result.missing.is_empty() {
        return Err(bad(format!(
            "its tensors do not load: {:?} {:?}",
            result.errors, result.missing
        )));
    }
    let info = JudgeInfo {
        format: super::judge::JUDGE_FORMAT,
        channels,
        spatial,
        classes,
        width: TSTR_WIDTH,
        class_names,
        held_out_accuracy: None,
        held_out_images: 0,
        data: path.display().to_string(),
    };
    Ok((judge, info))
}

/// Writes `judge` in the feature-network layout (what `ganforge classifier export` does), so that
/// it can be read by PyTorch or given back to `ganforge eval --classifier FILE.safetensors`.
pub fn save_feature_network(judge: &Judge, info: &JudgeInfo, path: &Path) -> Result<()> {
    if path.exists() {
        return Err(GanError::Output(format!(
            "{} exists: choose another --out (nothing was changed)",
            path.display()
        )));
    }
    let strides: Vec<String> = judge.strides().iter().map(usize::to_string).collect();
    let mut store = SafetensorsStore::from_bytes(None)
        .with_to_adapter(BurnToPyTorchAdapter)
        .metadata("strides", strides.join(","))
        .metadata("class_names", info.class_names.join(","))
        .metadata("spatial", info.spatial.to_string());
    judge
        .save_into(&mut store)
        .map_err(|e| GanError::Output(format!("cannot encode the judge: {e}")))?;
    let bytes = store
        .get_bytes()
        .map_err(|e| GanError::Output(format!("cannot encode the judge: {e}")))?;
    crate::output::write_atomic(path, &bytes)
}

/// The classifier at `path`: a feature network when it names a `.safetensors` file, otherwise a
/// judge directory saved by `ganforge classifier train`.
pub fn load_classifier(
    path: &Path,
    channels: usize,
    device: &Device,
) -> Result<(Judge, JudgeInfo)> {
    if is_feature_network(path) {
        load_feature_network(path, channels, device)
    } else {
        super::judge::load_judge(path, device)
    }
}
