use burn::prelude::*;
use ganforge::models::{DcganDiscriminatorConfig, DcganGeneratorConfig};

#[test]
fn generator_and_discriminator_shapes_follow_the_configuration() {
    let device = Device::flex();
    for (spatial, channels, capacity, latent) in [
        (16, 1, 4, 10),
        (32, 3, 4, 100),
        (64, 3, 8, 100),
        (64, 1, 2, 7),
        (128, 3, 2, 20),
    ] {
        let g = DcganGeneratorConfig::new(spatial, channels)
            .with_capacity(capacity)
            .with_latent(latent)
            .init(&device);
        let images = g.forward(Tensor::random(
            [3, latent],
            burn::tensor::Distribution::Normal(0.0, 1.0),
            &device,
        ));
        assert_eq!(images.dims(), [3, channels, spatial, spatial]);
        let values = ganforge::tensor_values(images.clone());
        assert!(
            values.iter().all(|v| (-1.0..=1.0).contains(v)),
            "tanh output lies in [-1, 1]"
        );

        let d = DcganDiscriminatorConfig::new(channels)
            .with_capacity(capacity)
            .init(&device);
        assert_eq!(d.features(images.clone()).dims(), [3, 8 * capacity]);
        assert_eq!(d.forward(images.clone()).dims(), [3, 1]);
        let p = ganforge::tensor_values(d.probability(images));
        assert!(p.iter().all(|v| *v > 0.0 && *v < 1.0));
    }
}

#[test]
fn kernel_size_changes_weights_not_shapes() {
    let device = Device::flex();
    for filter in [3, 5, 7] {
        let g = DcganGeneratorConfig::new(32, 3)
            .with_capacity(2)
            .with_filter(filter)
            .init(&device);
        let images = g.forward(Tensor::zeros([2, 100], &device));
        assert_eq!(images.dims(), [2, 3, 32, 32]);
        let d = DcganDiscriminatorConfig::new(3)
            .with_capacity(2)
            .with_filter(filter)
            .init(&device);
        assert_eq!(d.forward(images).dims(), [2, 1]);
    }
}

#[test]
fn discriminator_has_the_tutorial_layer_sizes() {
    // 4 blocks × 2 convolutions of k×k with capacity × 1, 2, 4, 8 filters, each followed by a
    // BatchNorm (γ, β), and a dense head: count the trainable weights by hand.
    let (c, k, ch) = (4usize, 5usize, 3usize);
    let widths = [c, 2 * c, 4 * c, 8 * c];
    let mut expected = 0;
    let mut cin = ch;
    for w in widths {
        expected += cin * w * k * k + w + 2 * w; // conv + bias + BN
        expected += w * w * k * k + w + 2 * w; // strided conv + bias + BN
        cin = w;
    }
    expected += 8 * c + 1;
    let d = DcganDiscriminatorConfig::new(ch)
        .with_capacity(c)
        .init(&Device::flex().autodiff());
    let trainable: usize = ganforge::models::parameter_values(&d)
        .iter()
        .filter(|p| p.trainable)
        .map(|p| p.values.len())
        .sum();
    assert_eq!(trainable, expected);
}

#[test]
fn the_masked_leaky_relu_has_burns_values_and_gradients() {
    use burn::tensor::activation::leaky_relu;
    let device = Device::flex().autodiff();
    let values: Vec<f32> = (0..64).map(|i| (i as f32 - 31.5) / 7.0).collect();
    let x = || {
        Tensor::<4>::from_data(TensorData::new(values.clone(), [2, 2, 4, 4]), &device)
            .require_grad()
    };
    let (a, b) = (x(), x());
    let (ya, yb) = (
        ganforge::models::leaky(a.clone(), 0.3),
        leaky_relu(b.clone(), 0.3),
    );
    assert_eq!(
        ganforge::tensor_values(ya.clone()),
        ganforge::tensor_values(yb.clone())
    );
    // A weighted sum, so that each element's gradient is its slope times its weight.
    let w = Tensor::<4>::from_data(
        TensorData::new((0..64).map(|i| i as f32).collect::<Vec<_>>(), [2, 2, 4, 4]),
        &device,
    );
    let (ga, gb) = ((ya * w.clone()).sum().backward(), (yb * w).sum().backward());
    assert_eq!(
        ganforge::tensor_values(a.grad(&ga).unwrap()),
        ganforge::tensor_values(b.grad(&gb).unwrap())
    );
}
