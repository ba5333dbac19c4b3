//! The standard FID features: the InceptionV3 variant that pytorch-fid uses (the TensorFlow FID
//! graph's network), built in burn and loaded from the user's own copy of pytorch-fid's weight
//! file (`pt_inception-2015-12-05-6726825d.pth`) converted to safetensors
//! (`docs/inception-fid.md`). With those weights a ganforge FID is comparable with the FIDs that
//! `python -m pytorch_fid` and the papers report.
//!
//! The network is torchvision's `Inception3` with pytorch-fid's patches, kept exactly:
//! - every convolution is a `BasicConv2d`: convolution without bias, BatchNorm with ε = 0.001,
//!   ReLU;
//! - the average pools of the A, C and first E blocks do not count padded zeros
//!   (`count_include_pad=False`, as TensorFlow's pool does);
//! - the last E block (`Mixed_7c`) pools its last branch with a 3×3 max pool, not an average;
//! - the input, RGB in [0, 1], is resized to 299×299 bilinearly (`align_corners=False`, no
//!   antialiasing) and scaled to [-1, 1];
//! - the features are the 2048 channels of `Mixed_7c` averaged over space (pool_3).
//!
//! Field names are torchvision's in snake case, so that a file of torchvision names loads with
//! two renames (`Conv2d_*` → `conv2d_*`, `Mixed_*` → `mixed_*`) and burn-store's PyTorch
//! adapter; the classifier (`fc.*`) and the BatchNorm step counters are not used.

use std::path::{Path, PathBuf};

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::store::SafetensorsStore;
use burn::store::{FloatCastAdapter, ModuleAdapter, ModuleSnapshot, PyTorchToBurnAdapter};
use burn::tensor::activation::relu;
use burn::tensor::module::{avg_pool2d, interpolate, max_pool2d};
use burn::tensor::ops::{
    AvgPoolOptions, ConvOptions, InterpolateMode, InterpolateOptions, MaxPoolOptions,
};
use rayon::prelude::*;
use safetensors::SafeTensors;

use crate::data::{NativeRgb, SkippedFile, decode_native_rgb};
use crate::error::{GanError, Result};

/// The side images are resized to before the network.
pub const INCEPTION_SIDE: usize = 299;
/// The length of the pool_3 feature vector.
pub const INCEPTION_FEATURES: usize = 2048;
/// A tensor only a pytorch-fid Inception weight file has: how such a file is recognised.
const MARKER_TENSOR: &str = "Mixed_7c.branch_pool.conv.weight";

/// Convolution, BatchNorm (ε = 0.001) and ReLU: torchvision's `BasicConv2d`.
#[derive(Module, Debug)]
pub struct BasicConv2d {
    pub conv: Conv2d,
    pub bn: BatchNorm,
}

/// A convolution's kernel, stride and padding, height first.
#[derive(Debug, Clone, Copy)]
struct Shape2d {
    kernel: [usize; 2],
    stride: usize,
    padding: [usize; 2],
}

const fn k(h: usize, w: usize) -> Shape2d {
    Shape2d {
        kernel: [h, w],
        stride: 1,
        padding: [h / 2, w / 2],
    }
}

/// A square kernel of side `side` with no padding and stride `stride`.
const fn valid(side: usize, stride: usize) -> Shape2d {
    Shape2d {
        kernel: [side, side],
        stride,
        padding: [0, 0],
    }
}

impl BasicConv2d {
    fn new(input: usize, output: usize, shape: Shape2d, device: &Device) -> Self {
        let [ph, pw] = shape.padding;
        BasicConv2d {
            conv: Conv2dConfig::new([input, output], shape.kernel)
                .with_stride([shape.stride; 2])
                .with_padding(PaddingConfig2d::Explicit(ph, pw, ph, pw))
                .with_bias(false)
                .init(device),
            bn: BatchNormConfig::new(output).with_epsilon(1e-3).init(device),
        }
    }

    /// `relu(bn(conv(x)))` with the BatchNorm's running statistics: the network only ever
    /// infers, so the normalisation is folded into the convolution's kernel and bias (one pass
    /// over the activations fewer), and the convolution runs on the project's kernels.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let [channels] = self.bn.gamma.dims();
        let scale = self.bn.gamma.val()
            / self
                .bn
                .running_var
                .value()
                .add_scalar(self.bn.epsilon)
                .sqrt();
        let kernel = self.conv.weight.val() * scale.clone().reshape([channels, 1, 1, 1]);
        let bias = self.bn.beta.val() - self.bn.running_mean.value() * scale;
        let [ph, pw] = match self.conv.padding {
            PaddingConfig2d::Explicit(top, left, _, _) => [top, left],
            _ => [0, 0],
        };
        let options = ConvOptions::new(self.conv.stride, [ph, pw], [1, 1], 1);
        relu(crate::kernels::conv2d(x, kernel, Some(bias), options))
    }
}

/// A 3×3 stride-1 pool padded by 1: the branch pools of the A, C and E blocks. The average does
/// not count the padding.
pub fn pool_3x3_same(x: Tensor<4>, max: bool) -> Tensor<4> {
    if max {
        max_pool2d(
            x,
            MaxPoolOptions {
                kernel_size: [3, 3],
                stride: [1, 1],
                padding: [(1, 1), (1, 1)],
                dilation: [1, 1],
                ceil_mode: false,
            },
        )
    } else {
        avg_pool2d(
            x,
            AvgPoolOptions {
                kernel_size: [3, 3],
                stride: [1, 1],
                padding: [(1, 1), (1, 1)],
                count_include_pad: false,
                ceil_mode: false,
            },
        )
    }
}

/// The 3×3 stride-2 unpadded max pool that reduces the grid between blocks.
fn reduce_3x3(x: Tensor<4>) -> Tensor<4> {
    max_pool2d(
        x,
        MaxPoolOptions {
            kernel_size: [3, 3],
            stride: [2, 2],
            padding: [(0, 0), (0, 0)],
            dilation: [1, 1],
            ceil_mode: false,
        },
    )
}

/// pytorch-fid's `FIDInceptionA`.
#[derive(Module, Debug)]
pub struct InceptionA {
    pub branch1x1: BasicConv2d,
    pub branch5x5_1: BasicConv2d,
    pub branch5x5_2: BasicConv2d,
    pub branch3x3dbl_1: BasicConv2d,
    pub branch3x3dbl_2: BasicConv2d,
    pub branch3x3dbl_3: BasicConv2d,
    pub branch_pool: BasicConv2d,
}

impl InceptionA {
    fn new(input: usize, pool_features: usize, device: &Device) -> Self {
        InceptionA {
            branch1x1: BasicConv2d::new(input, 64, k(1, 1), device),
            branch5x5_1: BasicConv2d::new(input, 48, k(1, 1), device),
            branch5x5_2: BasicConv2d::new(48, 64, k(5, 5), device),
            branch3x3dbl_1: BasicConv2d::new(input, 64, k(1, 1), device),
            branch3x3dbl_2: BasicConv2d::new(64, 96, k(3, 3), device),
            branch3x3dbl_3: BasicConv2d::new(96, 96, k(3, 3), device),
            branch_pool: BasicConv2d::new(input, pool_features, k(1, 1), device),
        }
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let b1 = self.branch1x1.forward(x.clone());
        let b5 = self
            .branch5x5_2
            .forward(self.branch5x5_1.forward(x.clone()));
        let b3 = self.branch3x3dbl_3.forward(
            self.branch3x3dbl_2
                .forward(self.branch3x3dbl_1.forward(x.clone())),
        );
        let pool = self.branch_pool.forward(pool_3x3_same(x, false));
        Tensor::cat(vec![b1, b5, b3, pool], 1)
    }
}

/// torchvision's `InceptionB` (grid reduction 35 → 17).
#[derive(Module, Debug)]
pub struct InceptionB {
    pub branch3x3: BasicConv2d,
    pub branch3x3dbl_1: BasicConv2d,
    pub branch3x3dbl_2: BasicConv2d,
    pub branch3x3dbl_3: BasicConv2d,
}

impl InceptionB {
    fn new(input: usize, device: &Device) -> Self {
        InceptionB {
            branch3x3: BasicConv2d::new(input, 384, valid(3, 2), device),
            branch3x3dbl_1: BasicConv2d::new(input, 64, k(1, 1), device),
            branch3x3dbl_2: BasicConv2d::new(64, 96, k(3, 3), device),
            branch3x3dbl_3: BasicConv2d::new(96, 96, valid(3, 2), device),
        }
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let b3 = self.branch3x3.forward(x.clone());
        let dbl = self.branch3x3dbl_3.forward(
            self.branch3x3dbl_2
                .forward(self.branch3x3dbl_1.forward(x.clone())),
        );
        Tensor::cat(vec![b3, dbl, reduce_3x3(x)], 1)
    }
}

/// pytorch-fid's `FIDInceptionC` (factorised 7×7 convolutions).
#[derive(Module, Debug)]
pub struct InceptionC {
    pub branch1x1: BasicConv2d,
    pub branch7x7_1: BasicConv2d,
    pub branch7x7_2: BasicConv2d,
    pub branch7x7_3: BasicConv2d,
    pub branch7x7dbl_1: BasicConv2d,
    pub branch7x7dbl_2: BasicConv2d,
    pub branch7x7dbl_3: BasicConv2d,
    pub branch7x7dbl_4: BasicConv2d,
    pub branch7x7dbl_5: BasicConv2d,
    pub branch_pool: BasicConv2d,
}

impl InceptionC {
    fn new(input: usize, c7: usize, device: &Device) -> Self {
        InceptionC {
            branch1x1: BasicConv2d::new(input, 192, k(1, 1), device),
            branch7x7_1: BasicConv2d::new(input, c7, k(1, 1), device),
            branch7x7_2: BasicConv2d::new(c7, c7, k(1, 7), device),
            branch7x7_3: BasicConv2d::new(c7, 192, k(7, 1), device),
            branch7x7dbl_1: BasicConv2d::new(input, c7, k(1, 1), device),
            branch7x7dbl_2: BasicConv2d::new(c7, c7, k(7, 1), device),
            branch7x7dbl_3: BasicConv2d::new(c7, c7, k(1, 7), device),
            branch7x7dbl_4: BasicConv2d::new(c7, c7, k(7, 1), device),
            branch7x7dbl_5: BasicConv2d::new(c7, 192, k(1, 7), device),
            branch_pool: BasicConv2d::new(input, 192, k(1, 1), device),
        }
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let b1 = self.branch1x1.forward(x.clone());
        let b7 = [&self.branch7x7_1, &self.branch7x7_2, &self.branch7x7_3]
            .iter()
            .fold(x.clone(), |t, conv| conv.forward(t));
        let dbl = [
            &self.branch7x7dbl_1,
            &self.branch7x7dbl_2,
            &self.branch7x7dbl_3,
            &self.branch7x7dbl_4,
            &self.branch7x7dbl_5,
        ]
        .iter()
        .fold(x.clone(), |t, conv| conv.forward(t));
        let pool = self.branch_pool.forward(pool_3x3_same(x, false));
        Tensor::cat(vec![b1, b7, dbl, pool], 1)
    }
}

/// torchvision's `InceptionD` (grid reduction 17 → 8).
#[derive(Module, Debug)]
pub struct InceptionD {
    pub branch3x3_1: BasicConv2d,
    pub branch3x3_2: BasicConv2d,
    pub branch7x7x3_1: BasicConv2d,
    pub branch7x7x3_2: BasicConv2d,
    pub branch7x7x3_3: BasicConv2d,
    pub branch7x7x3_4: BasicConv2d,
}

impl InceptionD {
    fn new(input: usize, device: &Device) -> Self {
        InceptionD {
            branch3x3_1: BasicConv2d::new(input, 192, k(1, 1), device),
            branch3x3_2: BasicConv2d::new(192, 320, valid(3, 2), device),
            branch7x7x3_1: BasicConv2d::new(input, 192, k(1, 1), device),
            branch7x7x3_2: BasicConv2d::new(192, 192, k(1, 7), device),
            branch7x7x3_3: BasicConv2d::new(192, 192, k(7, 1), device),
            branch7x7x3_4: BasicConv2d::new(192, 192, valid(3, 2), device),
        }
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let b3 = self
            .branch3x3_2
            .forward(self.branch3x3_1.forward(x.clone()));
        let b7 = [
            &self.branch7x7x3_1,
            &self.branch7x7x3_2,
            &self.branch7x7x3_3,
            &self.branch7x7x3_4,
        ]
        .iter()
        .fold(x.clone(), |t, conv| conv.forward(t));
        Tensor::cat(vec![b3, b7, reduce_3x3(x)], 1)
    }
}

/// pytorch-fid's `FIDInceptionE_1` and `FIDInceptionE_2` (expanded 3×3 branches); they differ
/// only in the pool of the last branch, which `forward` is told.
#[derive(Module, Debug)]
pub struct InceptionE {
    pub branch1x1: BasicConv2d,
    pub branch3x3_1: BasicConv2d,
    pub branch3x3_2a: BasicConv2d,
    pub branch3x3_2b: BasicConv2d,
    pub branch3x3dbl_1: BasicConv2d,
    pub branch3x3dbl_2: BasicConv2d,
    pub branch3x3dbl_3a: BasicConv2d,
    pub branch3x3dbl_3b: BasicConv2d,
    pub branch_pool: BasicConv2d,
}

impl InceptionE {
    fn new(input: usize, device: &Device) -> Self {
        InceptionE {
            branch1x1: BasicConv2d::new(input, 320, k(1, 1), device),
            branch3x3_1: BasicConv2d::new(input, 384, k(1, 1), device),
            branch3x3_2a: BasicConv2d::new(384, 384, k(1, 3), device),
            branch3x3_2b: BasicConv2d::new(384, 384, k(3, 1), device),
            branch3x3dbl_1: BasicConv2d::new(input, 448, k(1, 1), device),
            branch3x3dbl_2: BasicConv2d::new(448, 384, k(3, 3), device),
            branch3x3dbl_3a: BasicConv2d::new(384, 384, k(1, 3), device),
            branch3x3dbl_3b: BasicConv2d::new(384, 384, k(3, 1), device),
            branch_pool: BasicConv2d::new(input, 192, k(1, 1), device),
        }
    }

    /// `max_pool`: the last branch pools by maximum (`Mixed_7c`) rather than by average.
    pub fn forward(&self, x: Tensor<4>, max_pool: bool) -> Tensor<4> {
        let b1 = self.branch1x1.forward(x.clone());
        let b3 = self.branch3x3_1.forward(x.clone());
        let b3 = Tensor::cat(
            vec![
                self.branch3x3_2a.forward(b3.clone()),
                self.branch3x3_2b.forward(b3),
            ],
            1,
        );
        let dbl = self
            .branch3x3dbl_2
            .forward(self.branch3x3dbl_1.forward(x.clone()));
        let dbl = Tensor::cat(
            vec![
                self.branch3x3dbl_3a.forward(dbl.clone()),
                self.branch3x3dbl_3b.forward(dbl),
            ],
            1,
        );
        let pool = self.branch_pool.forward(pool_3x3_same(x, max_pool));
        Tensor::cat(vec![b1, b3, dbl, pool], 1)
    }
}

/// The FID InceptionV3 network up to its 2048-d pool_3 features.
#[derive(Config, Debug)]
pub struct FidInceptionConfig {}

#[derive(Module, Debug)]
pub struct FidInception {
    pub conv2d_1a_3x3: BasicConv2d,
    pub conv2d_2a_3x3: BasicConv2d,
    pub conv2d_2b_3x3: BasicConv2d,
    pub conv2d_3b_1x1: BasicConv2d,
    pub conv2d_4a_3x3: BasicConv2d,
    pub mixed_5b: InceptionA,
    pub mixed_5c: InceptionA,
    pub mixed_5d: InceptionA,
    pub mixed_6a: InceptionB,
    pub mixed_6b: InceptionC,
    pub mixed_6c: InceptionC,
    pub mixed_6d: InceptionC,
    pub mixed_6e: InceptionC,
    pub mixed_7a: InceptionD,
    pub mixed_7b: InceptionE,
    pub mixed_7c: InceptionE,
}

impl FidInceptionConfig {
    /// The network with burn's default initialisation (weights come from a file).
    pub fn init(&self, device: &Device) -> FidInception {
        FidInception {
            conv2d_1a_3x3: BasicConv2d::new(3, 32, valid(3, 2), device),
            conv2d_2a_3x3: BasicConv2d::new(32, 32, valid(3, 1), device),
            conv2d_2b_3x3: BasicConv2d::new(32, 64, k(3, 3), device),
            conv2d_3b_1x1: BasicConv2d::new(64, 80, valid(1, 1), device),
            conv2d_4a_3x3: BasicConv2d::new(80, 192, valid(3, 1), device),
            mixed_5b: InceptionA::new(192, 32, device),
            mixed_5c: InceptionA::new(256, 64, device),
            mixed_5d: InceptionA::new(288, 64, device),
            mixed_6a: InceptionB::new(288, device),
            mixed_6b: InceptionC::new(768, 128, device),
            mixed_6c: InceptionC::new(768, 160, device),
            mixed_6d: InceptionC::new(768, 160, device),
            mixed_6e: InceptionC::new(768, 192, device),
            mixed_7a: InceptionD::new(768, device),
            mixed_7b: InceptionE::new(1280, device),
            mixed_7c: InceptionE::new(2048, device),
        }
    }
}

/// Resizes `[n, c, h, w]` images to `side`×`side` as `F.interpolate(mode="bilinear",
/// align_corners=False)` does (half-pixel centres, no antialiasing).
pub fn resize_bilinear(images: Tensor<4>, side: usize) -> Tensor<4> {
    let [_, _, h, w] = images.dims();
    if h == side && w == side {
        return images;
    }
    interpolate(
        images,
        InterpolateOptions {
            mode: InterpolateMode::Bilinear,
            align_corners: false,
            output_size: Some([side, side]),
            scale_factor: None,
        },
    )
}

impl FidInception {
    /// pool_3 features `[n, 2048]` of RGB images `[n, 3, 299, 299]` in [0, 1].
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let x = images.mul_scalar(2.0).sub_scalar(1.0);
        let x = self.conv2d_1a_3x3.forward(x);
        let x = self.conv2d_2a_3x3.forward(x);
        let x = reduce_3x3(self.conv2d_2b_3x3.forward(x));
        let x = self.conv2d_3b_1x1.forward(x);
        let x = reduce_3x3(self.conv2d_4a_3x3.forward(x));
        let x = self.mixed_5b.forward(x);
        let x = self.mixed_5c.forward(x);
        let x = self.mixed_5d.forward(x);
        let x = self.mixed_6a.forward(x);
        let x = self.mixed_6b.forward(x);
        let x = self.mixed_6c.forward(x);
        let x = self.mixed_6d.forward(x);
        let x = self.mixed_6e.forward(x);
        let x = self.mixed_7a.forward(x);
        let x = self.mixed_7b.forward(x, false);
        let x = self.mixed_7c.forward(x, true);
        let [n, c, _, _] = x.dims();
        x.flatten::<3>(2, 3).mean_dim(2).reshape([n, c])
    }

    /// pool_3 features of RGB images of any size in [0, 1], resized first.
    pub fn features(&self, images: Tensor<4>) -> Tensor<2> {
        self.forward(resize_bilinear(images, INCEPTION_SIDE))
    }
}

/// True when `path` is a safetensors file holding pytorch-fid's Inception weights (by its tensor
/// names), rather than a feature network of `docs/feature-network.md`. Only the header is read:
/// the weights (95 MB) are read once, by [`load_inception`].
pub fn is_inception_file(path: &Path) -> bool {
    use std::io::Read;
    let header = || -> Option<serde_json::Map<String, serde_json::Value>> {
        let mut file = std::fs::File::open(path).ok()?;
        let mut length = [0u8; 8];
        file.read_exact(&mut length).ok()?;
        // A safetensors header is JSON of at most 100 MB (the format's own limit).
        let length = usize::try_from(u64::from_le_bytes(length))
            .ok()
            .filter(|&n| n <= 100_000_000)?;
        let mut text = vec![0u8; length];
        file.read_exact(&mut text).ok()?;
        serde_json::from_slice(&text).ok()
    };
    header().is_some_and(|h| h.contains_key(MARKER_TENSOR))
}

/// The name a tensor of the network has in pytorch-fid's file (torchvision's), from its burn path
/// or its renamed source name.
fn torchvision_name(path: &str) -> String {
    let renamed = if let Some(rest) = path.strip_prefix("conv2d_") {
        format!("Conv2d_{rest}")
    } else if let Some(rest) = path.strip_prefix("mixed_") {
        format!("Mixed_{rest}")
    } else {
        path.to_string()
    };
    if let Some(stem) = renamed.strip_suffix(".bn.gamma") {
        format!("{stem}.bn.weight")
    } else if let Some(stem) = renamed.strip_suffix(".bn.beta") {
        format!("{stem}.bn.bias")
    } else {
        renamed
    }
}

/// The first few of `names`, in torchvision's naming, for a message.
fn first_names<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let names: Vec<String> = names.map(torchvision_name).collect();
    let shown = names[..names.len().min(5)].join(", ");
    if names.len() > 5 {
        format!("{} tensors, first {shown}", names.len())
    } else {
        shown
    }
}

fn not_inception(path: &Path, why: String) -> GanError {
    GanError::Output(format!(
        "{} is not pytorch-fid's Inception weight file in safetensors form: {why} (the \
         conversion is in docs/inception-fid.md)",
        path.display()
    ))
}

/// Loads pytorch-fid's Inception weights (torchvision names, PyTorch layout) from `path`; every
/// tensor of the network must be there with its shape, and nothing but the classifier and the
/// BatchNorm step counters may be left over.
pub fn load_inception(path: &Path, device: &Device) -> Result<FidInception> {
    let bad = |why: String| not_inception(path, why);
    let bytes = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    SafeTensors::read_metadata(&bytes).map_err(|e| bad(e.to_string()))?;
    let mut network = FidInceptionConfig::new().init(device);
    let float = Tensor::<1>::zeros([1], device).dtype();
    let mut store = SafetensorsStore::from_bytes(Some(bytes))
        .with_key_remapping(r"^Conv2d_", "conv2d_")
        .with_key_remapping(r"^Mixed_", "mixed_")
        .with_from_adapter(PyTorchToBurnAdapter.chain(FloatCastAdapter::to(float)))
        .allow_partial(true)
        .validate(true);
    let result = network
        .load_from(&mut store)
        .map_err(|e| bad(e.to_string()))?;
    if !result.missing.is_empty() {
        return Err(bad(format!(
            "missing {}",
            first_names(result.missing.iter().map(|(n, _)| n.as_str()))
        )));
    }
    if !result.errors.is_empty() {
        let errors: Vec<String> = result.errors.iter().map(|e| e.to_string()).collect();
        return Err(bad(errors.join("; ")));
    }
    let extra: Vec<&String> = result
        .unused
        .iter()
        .filter(|n| !(n.starts_with("fc.") || n.ends_with(".num_batches_tracked")))
        .collect();
    if !extra.is_empty() {
        return Err(bad(format!(
            "tensors outside the network: {}",
            first_names(extra.iter().map(|s| s.as_str()))
        )));
    }
    Ok(network)
}

/// The images of a folder as the Inception features saw them.
#[derive(Debug, Clone)]
pub struct InceptionFeatures {
    /// One 2048-d vector per used file, in file order.
    pub features: Vec<Vec<f64>>,
    pub used: Vec<PathBuf>,
    pub skipped: Vec<SkippedFile>,
}

/// How many images go through the network at once: pytorch-fid's default batch is 50; at 299×299
/// the largest activation (64×147×147 floats an image) keeps 32 under 200 MB.
const BATCH: usize = 32;

/// pool_3 features of every file in `files`, read as pytorch-fid reads them (RGB, transparency
/// dropped, native size, then resized to 299). Files that cannot be decoded are skipped and
/// named. `progress` hears (done, total) after each batch.
pub fn inception_features_of_files(
    network: &FidInception,
    files: &[PathBuf],
    device: &Device,
    progress: &mut dyn FnMut(usize, usize),
) -> InceptionFeatures {
    let mut out = InceptionFeatures {
        features: Vec::with_capacity(files.len()),
        used: Vec::with_capacity(files.len()),
        skipped: Vec::new(),
    };
    for (index, chunk) in files.chunks(BATCH).enumerate() {
        let decoded: Vec<_> = chunk.par_iter().map(|f| decode_native_rgb(f)).collect();
        let mut resized = Vec::with_capacity(chunk.len());
        for (file, image) in chunk.iter().zip(decoded) {
            match image {
                Ok(NativeRgb {
                    height,
                    width,
                    pixels,
                }) => {
                    let tensor = Tensor::<4>::from_data(
                        TensorData::new(pixels, [1, 3, height, width]),
                        device,
                    );
                    resized.push(resize_bilinear(tensor, INCEPTION_SIDE));
                    out.used.push(file.clone());
                }
                Err(reason) => out.skipped.push(SkippedFile {
                    path: file.clone(),
                    reason,
                }),
            }
        }
        if !resized.is_empty() {
            let features = network.forward(Tensor::cat(resized, 0));
            let values = crate::tensor_values(features);
            out.features.extend(
                values
                    .chunks_exact(INCEPTION_FEATURES)
                    .map(|r| r.iter().map(|&v| f64::from(v)).collect::<Vec<f64>>()),
            );
        }
        progress(((index + 1) * BATCH).min(files.len()), files.len());
    }
    out
}
