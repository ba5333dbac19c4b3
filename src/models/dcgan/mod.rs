//! The tutorial's DCGAN: a generator of a dense projection and transposed-convolution blocks, and
//! a discriminator of convolution blocks with a dense head (both after the advanced Keras GAN
//! tutorial, 64×64 CelebA faces).

mod discriminator;
mod generator;

pub use discriminator::{
    DcganDiscriminator, DcganDiscriminatorConfig, EncoderBlock, EncoderBlockConfig, NormKind,
    Normalization,
};
pub use generator::{
    DcganGenerator, DcganGeneratorConfig, DecoderBlock, DecoderBlockConfig, Upsampling,
};
