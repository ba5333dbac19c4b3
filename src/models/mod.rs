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
                values: crate::tensor_values(tensor),
            });
        }
    }
    let mut collect = Collect(Vec::new());
    module.visit(&mut collect);
    collect.0
}
