//! Differentiable augmentation (DiffAugment, Zhao et al. 2020): every image D sees, real and
//! fake, in D's step and in G's, goes through the same random colour, translation and cutout
//! transforms. D then cannot memorise the few real images of a small data set, and G is not
//! pushed to draw the augmentations, because they happen to both sides. The transforms are
//! tensor operations that are differentiable in the images, so G's gradient flows through them
//! to its weights. Each draw comes from one of the run's named random streams, so a resumed run
//! augments exactly as an uninterrupted one.

use std::fmt;
use std::str::FromStr;

use burn::prelude::*;
use rand::Rng;

/// Which of DiffAugment's transforms are applied (`augment` key: `none`, or a comma list of
/// `color`, `translation`, `cutout`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AugmentPolicy {
    /// Random brightness, saturation and contrast, per image.
    pub color: bool,
    /// A random shift of up to 1/8 of the image side, per image, zeros shifted in.
    pub translation: bool,
    /// A random square of half the image side set to zero, per image.
    pub cutout: bool,
}

/// The accepted policy names, for errors and help.
pub const POLICIES: &str = "none, or a comma list of color, translation, cutout";

impl AugmentPolicy {
    /// DiffAugment's full policy: `color,translation,cutout`.
    pub const ALL: AugmentPolicy = AugmentPolicy {
        color: true,
        translation: true,
        cutout: true,
    };

    /// No augmentation.
    pub const NONE: AugmentPolicy = AugmentPolicy {
        color: false,
        translation: false,
        cutout: false,
    };

    pub fn is_none(&self) -> bool {
        *self == Self::NONE
    }

    /// `images` `[b, c, h, w]` (values in [-1, 1]) with this policy's transforms, their random
    /// parameters drawn from `rng` in a fixed order (colour, translation, cutout; per image).
    pub fn apply(&self, images: Tensor<4>, rng: &mut impl Rng) -> Tensor<4> {
        let mut x = images;
        if self.color {
            x = color(x, rng);
        }
        if self.translation {
            x = translation(x, rng, 0.125);
        }
        if self.cutout {
            x = cutout(x, rng, 0.5);
        }
        x
    }
}

impl fmt::Display for AugmentPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = [
            (self.color, "color"),
            (self.translation, "translation"),
            (self.cutout, "cutout"),
        ]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
        .collect();
        if names.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&names.join(","))
        }
    }
}

impl FromStr for AugmentPolicy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut policy = AugmentPolicy::NONE;
        if s.trim() == "none" {
            return Ok(policy);
        }
        for name in s.split(',').map(str::trim) {
            match name {
                "color" | "colour" => policy.color = true,
                "translation" => policy.translation = true,
                "cutout" => policy.cutout = true,
                other => {
                    return Err(format!(
                        "unknown augmentation `{other}`: the policy is {POLICIES}"
                    ));
                }
            }
        }
        Ok(policy)
    }
}

impl serde::Serialize for AugmentPolicy {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for AugmentPolicy {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// One value per image, `[b, 1, 1, 1]`, each `f(u)` of a uniform draw u in [0, 1).
fn per_image(b: usize, rng: &mut impl Rng, f: impl Fn(f32) -> f32, device: &Device) -> Tensor<4> {
    let values: Vec<f32> = (0..b).map(|_| f(rng.random::<f32>())).collect();
    Tensor::from_data(TensorData::new(values, [b, 1, 1, 1]), device)
}

/// DiffAugment's colour transforms: brightness + (u − 0.5); saturation: the deviation from the
/// pixel's channel mean times 2u (nothing for one channel); contrast: the deviation from the
/// image's mean times u + 0.5.
fn color(x: Tensor<4>, rng: &mut impl Rng) -> Tensor<4> {
    let [b, c, _, _] = x.dims();
    let device = x.device();
    let x = x + per_image(b, rng, |u| u - 0.5, &device);
    let saturation = per_image(b, rng, |u| 2.0 * u, &device);
    let x = if c > 1 {
        let mean = x.clone().mean_dim(1);
        (x - mean.clone()) * saturation + mean
    } else {
        x
    };
    let contrast = per_image(b, rng, |u| u + 0.5, &device);
    let mean = x.clone().mean_dims(&[1, 2, 3]);
    (x - mean.clone()) * contrast + mean
}

/// Every image shifted by up to `ratio` of its side (rounded) in each direction, a whole number
/// of pixels drawn uniformly per image and axis; zeros fill what comes in from outside.
fn translation(x: Tensor<4>, rng: &mut impl Rng, ratio: f64) -> Tensor<4> {
    let [b, _, h, w] = x.dims();
    let reach = |side: usize| (side as f64 * ratio + 0.5) as i64;
    let (reach_y, reach_x) = (reach(h), reach(w));
    let shifts: Vec<(i64, i64)> = (0..b)
        .map(|_| {
            (
                rng.random_range(-reach_y..=reach_y),
                rng.random_range(-reach_x..=reach_x),
            )
        })
        .collect();
    crate::kernels::translate(x, &shifts)
}

/// A square of `ratio` of the side (rounded) set to zero in every image, centred at a position
/// drawn uniformly per image (it may reach over the edge).
fn cutout(x: Tensor<4>, rng: &mut impl Rng, ratio: f64) -> Tensor<4> {
    let [b, _, h, w] = x.dims();
    let size = |side: usize| (side as f64 * ratio + 0.5) as i64;
    let (size_y, size_x) = (size(h), size(w));
    let mut mask = vec![1.0f32; b * h * w];
    for image in 0..b {
        // DiffAugment's offsets: the centre in [0, side + (1 − size mod 2)).
        let cy = rng.random_range(0..h as i64 + (1 - size_y % 2));
        let cx = rng.random_range(0..w as i64 + (1 - size_x % 2));
        let (top, left) = (cy - size_y / 2, cx - size_x / 2);
        for i in top.max(0)..(top + size_y).min(h as i64) {
            for j in left.max(0)..(left + size_x).min(w as i64) {
                mask[image * h * w + i as usize * w + j as usize] = 0.0;
            }
        }
    }
    let mask = Tensor::<4>::from_data(TensorData::new(mask, [b, 1, h, w]), &x.device());
    x * mask
}
