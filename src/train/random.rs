//! Randomness of a run: every draw comes from a stream named by (seed, step, purpose), so a run
//! resumed at step N draws exactly what an uninterrupted run draws there, and a checkpoint's RNG
//! state is just its seed and step.

use burn::prelude::*;
use rand::Rng;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use rand_distr::{StandardNormal, Uniform};

use crate::config::NoiseKind;

/// What a stream is drawn for; part of its seed, so streams never overlap.
#[derive(Debug, Clone, Copy)]
#[repr(u64)]
pub enum Stream {
    DiscriminatorNoise = 1,
    GeneratorNoise = 2,
    DataOrder = 3,
    /// Fixed noise of the sample figures, the same at every step so progress can be compared.
    Preview = 4,
    /// `ganforge sample --seed`.
    Sample = 5,
    /// Where WGAN-GP interpolates between real and fake images.
    Interpolation = 6,
    /// CycleGAN's choices between new and buffered translations.
    ImagePool = 7,
    /// The random transforms of differentiable augmentation.
    Augmentation = 8,
    /// CycleGAN's noise on translations before they are translated back.
    CycleNoise = 9,
}

pub fn stream(seed: u64, index: u64, purpose: Stream) -> ChaCha8Rng {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8..16].copy_from_slice(&index.to_le_bytes());
    key[16..24].copy_from_slice(&(purpose as u64).to_le_bytes());
    ChaCha8Rng::from_seed(key)
}

/// Generator input: `[count, latent]` from N(0, 1) or U(-1, 1).
pub fn noise(
    rng: &mut ChaCha8Rng,
    kind: NoiseKind,
    count: usize,
    latent: usize,
    device: &Device,
) -> Tensor<2> {
    let n = count * latent;
    let values: Vec<f32> = match kind {
        NoiseKind::Normal => (0..n).map(|_| rng.sample(StandardNormal)).collect(),
        NoiseKind::Uniform => {
            let dist = Uniform::new(-1.0f32, 1.0).expect("valid range");
            (0..n).map(|_| rng.sample(dist)).collect()
        }
    };
    Tensor::from_data(TensorData::new(values, [count, latent]), device)
}

/// `[shape]` values from N(0, std²), from `rng`.
pub fn gaussian(rng: &mut ChaCha8Rng, std: f64, shape: [usize; 4], device: &Device) -> Tensor<4> {
    let n = shape.iter().product();
    let values: Vec<f32> = (0..n)
        .map(|_| std as f32 * rng.sample::<f32, _>(StandardNormal))
        .collect();
    Tensor::from_data(TensorData::new(values, shape), device)
}

/// Batch order: passes over the data, each a fresh permutation seeded by (seed, pass). Draw `k`
/// of a run always returns the same images whatever happened before it.
#[derive(Debug)]
pub struct DataOrder {
    seed: u64,
    len: usize,
    pass: Option<(u64, Vec<usize>)>,
}

impl DataOrder {
    pub fn new(seed: u64, len: usize) -> Self {
        assert!(len > 0, "a data order needs at least one image");
        DataOrder {
            seed,
            len,
            pass: None,
        }
    }

    fn permutation(&mut self, pass: u64) -> &[usize] {
        if self.pass.as_ref().map(|(p, _)| *p) != Some(pass) {
            let mut order: Vec<usize> = (0..self.len).collect();
            order.shuffle(&mut stream(self.seed, pass, Stream::DataOrder));
            self.pass = Some((pass, order));
        }
        &self.pass.as_ref().expect("just set").1
    }

    /// Images `position .. position + count` of the endless shuffled sequence.
    pub fn indices(&mut self, position: u64, count: usize) -> Vec<usize> {
        (position..position + count as u64)
            .map(|p| {
                let len = self.len as u64;
                self.permutation(p / len)[(p % len) as usize]
            })
            .collect()
    }
}
