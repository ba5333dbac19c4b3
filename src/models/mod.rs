//! The networks of ganforge. Each model is a `#[derive(Module)]` struct built from a
//! `#[derive(Config)]` whose `init(&device)` creates it, as burn's own layers are.

mod discriminator;
mod generator;

pub use discriminator::{
    Discriminator, DiscriminatorConfig, EncoderBlock, EncoderBlockConfig, NormKind, Normalization,
};
pub use generator::{DecoderBlock, DecoderBlockConfig, Generator, GeneratorConfig};

/// Padding that keeps a stride-1 convolution's size and halves it at stride 2, with the kernel
/// centred ("same" in Keras). Explicit symmetric padding of `k / 2` gives exactly that for odd
/// kernels, and matches the PyTorch reference layer for layer.
pub(crate) fn same_padding(filter: usize) -> usize {
    filter / 2
}

use burn::module::{Module, ModuleVisitor, Param};
use burn::prelude::Tensor;

/// The values of one parameter or running statistic of a module.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamValues {
    pub id: u64,
    /// True for weights the optimizer trains; false for buffers such as BatchNorm's running
    /// mean and variance.
    pub trainable: bool,
    pub shape: Vec<usize>,
    pub values: Vec<f32>,
}

/// Every float parameter and buffer of `module`, in visiting order.
pub fn parameter_values<M: Module>(module: &M) -> Vec<ParamValues> {
    struct Collect(Vec<ParamValues>);
    impl ModuleVisitor for Collect {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let tensor = param.val();
            self.0.push(ParamValues {
                id: param.id.val(),
                trainable: tensor.is_require_grad(),
                shape: tensor.dims().to_vec(),
                values: crate::tensor_values(tensor),
            });
        }
    }
    let mut collect = Collect(Vec::new());
    module.visit(&mut collect);
    collect.0
}

use burn::module::ModuleMapper;

/// `module` with every trainable weight clamped to [-c, c] (WGAN's weight clipping). Buffers such
/// as BatchNorm's running statistics are left as they are.
pub fn clip_weights<M: Module>(module: M, c: f64) -> M {
    struct Clip(f64);
    impl ModuleMapper for Clip {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            let c = self.0;
            param.map(|t| {
                if t.is_require_grad() {
                    // Clamped outside autodiff, then a fresh leaf again: the clamp must not become
                    // part of the next step's graph.
                    Tensor::from_inner(t.inner().clamp(-c, c)).require_grad()
                } else {
                    t
                }
            })
        }
    }
    module.map(&mut Clip(c))
}

/// `module` with every trainable weight matrix or kernel (rank ≥ 2) redrawn from N(0, std²):
/// WGAN's small initial weights. Biases and normalisation parameters keep their initial values.
/// Draws from the device's RNG; call it where the initial weights are drawn.
pub fn normal_init<M: Module>(module: M, std: f64) -> M {
    struct Normal(f64);
    impl ModuleMapper for Normal {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            let std = self.0;
            param.map(|t| {
                if D >= 2 && t.is_require_grad() {
                    Tensor::<D>::random(
                        t.shape(),
                        burn::tensor::Distribution::Normal(0.0, std),
                        &t.device(),
                    )
                    .require_grad()
                } else {
                    t
                }
            })
        }
    }
    module.map(&mut Normal(std))
}

/// Draws every lazily initialised parameter of `module` now. burn initialises a parameter at
/// its first use; forcing it here lets the caller decide under which RNG state that happens.
pub fn materialize_parameters<M: Module>(module: &M) {
    struct Touch;
    impl ModuleVisitor for Touch {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let _ = param.val();
        }
    }
    module.visit(&mut Touch);
}

/// `average` moved towards `current` (the same model, matched by parameter id):
/// `decay · average + (1 − decay) · current` for trainable weights; buffers such as running
/// statistics are copied from `current`. `average` lives on an inference device; `current` is the
/// model in training (its tensors say which weights are trainable).
pub fn moving_average<M: Module>(average: M, current: &M, decay: f64) -> M {
    use std::collections::HashMap;
    struct Collect(HashMap<u64, (Tensor<1>, bool)>);
    impl ModuleVisitor for Collect {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let t = param.val();
            let trainable = t.is_require_grad();
            let n = t.shape().num_elements();
            let flat = t.without_autodiff().reshape([n]);
            self.0.insert(param.id.val(), (flat, trainable));
        }
    }
    struct Blend(HashMap<u64, (Tensor<1>, bool)>, f64);
    impl ModuleMapper for Blend {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            let Some((value, trainable)) = self.0.remove(&param.id.val()) else {
                return param;
            };
            let decay = self.1;
            param.map(|avg| {
                let value = value.reshape(avg.shape());
                if trainable {
                    avg.mul_scalar(decay) + value.mul_scalar(1.0 - decay)
                } else {
                    value
                }
            })
        }
    }
    let mut collect = Collect(HashMap::new());
    current.visit(&mut collect);
    average.map(&mut Blend(collect.0, decay))
}
