use ganforge::device::DeviceChoice;
use ganforge::sample::{Draw, SampleOptions, generate, sample};

use super::tiny_config;

#[test]
fn sampling_is_repeatable_and_writes_the_asked_count() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let config = tiny_config(3);
    super::train_quiet(config.clone(), &run);

    let a = generate(&run, Draw::Any(5), 11, DeviceChoice::Cpu).unwrap();
    let b = generate(&run, Draw::Any(5), 11, DeviceChoice::Cpu).unwrap();
    let c = generate(&run, Draw::Any(5), 12, DeviceChoice::Cpu).unwrap();
    assert_eq!(a, b, "same seed, same images");
    assert_ne!(a, c, "another seed, other images");
    assert_eq!(a.len(), 5);
    assert!(
        a.iter()
            .all(|(img, label)| img.len() == 16 * 16 && label.is_none())
    );

    let each = dir.path().join("each");
    let result = sample(&SampleOptions {
        run: run.clone(),
        n: 10,
        seed: 3,
        out: Some(dir.path().join("grid.png")),
        each: Some(each.clone()),
        label: None,
        tensors: None,
        device: DeviceChoice::Cpu,
    })
    .unwrap();
    assert_eq!(result.each.len(), 10);
    assert_eq!(std::fs::read_dir(&each).unwrap().count(), 10);
    let single = image::open(&result.each[0]).unwrap();
    assert_eq!((single.width(), single.height()), (16, 16));
    // Ten images lie on a 4 × 3 grid of 64-pixel tiles (16-pixel images enlarged 4×) with
    // 4-pixel gaps and 8-pixel margins.
    let grid = image::open(&result.grid).unwrap();
    assert_eq!(grid.width(), 2 * 8 + 4 * 64 + 3 * 4);
    assert_eq!(grid.height(), 2 * 8 + 3 * (64 + 4));

    // The grid's pixels are the generated images: the first tile's top-left pixel.
    let first = generate(&run, Draw::Any(10), 3, DeviceChoice::Cpu).unwrap();
    let expected = ((first[0].0[0].clamp(-1.0, 1.0) + 1.0) * 127.5).round() as u8;
    assert_eq!(grid.to_rgb8().get_pixel(8, 8).0, [expected; 3]);

    // The default path lies in the run's samples folder.
    let default = sample(&SampleOptions {
        run,
        n: 4,
        seed: 0,
        out: None,
        each: None,
        label: None,
        tensors: None,
        device: DeviceChoice::Cpu,
    })
    .unwrap();
    assert!(default.grid.ends_with("samples/sample_seed0_n4.png"));
    assert!(default.grid.is_file());
}

#[test]
fn slerp_keeps_to_the_sphere_and_hits_both_ends() {
    use ganforge::interpolate::slerp;
    let (a, b) = ([1.0f32, 0.0], [0.0f32, 1.0]);
    assert_eq!(slerp(&a, &b, 0.0), a);
    let end = slerp(&a, &b, 1.0);
    assert!((end[0] - b[0]).abs() < 1e-6 && (end[1] - b[1]).abs() < 1e-6);
    let mid = slerp(&a, &b, 0.5);
    let half = std::f32::consts::FRAC_1_SQRT_2;
    assert!(
        (mid[0] - half).abs() < 1e-6 && (mid[1] - half).abs() < 1e-6,
        "{mid:?}"
    );
    // Parallel ends: the straight line.
    assert_eq!(slerp(&[2.0, 0.0], &[4.0, 0.0], 0.5), [3.0, 0.0]);
}

#[test]
fn interpolate_writes_a_grid_or_an_animation_and_refuses_bad_output() {
    use ganforge::interpolate::{InterpolateOptions, interpolate};
    use image::AnimationDecoder;
    let (guard, run) = super::tiny_run(2);
    let options = InterpolateOptions {
        run: run.clone(),
        steps: 5,
        rows: 3,
        seed: 0,
        out: guard.path().join("walk.png"),
        device: ganforge::device::DeviceChoice::Cpu,
    };
    interpolate(&options).unwrap();
    let grid = image::open(guard.path().join("walk.png")).unwrap();
    assert!(grid.width() > 5 * 16 && grid.height() > 3 * 16);
    let gif = guard.path().join("walk.gif");
    interpolate(&InterpolateOptions {
        out: gif.clone(),
        ..options.clone()
    })
    .unwrap();
    let decoder = image::codecs::gif::GifDecoder::new(std::io::BufReader::new(
        std::fs::File::open(&gif).unwrap(),
    ))
    .unwrap();
    let frames = decoder.into_frames().collect_frames().unwrap();
    assert_eq!(frames.len(), 2 * 5 - 2, "there and back");
    assert_eq!(
        frames[0].buffer().width(),
        3 * 64,
        "three walks side by side, scaled to 64"
    );

    for (out, expect) in [
        (guard.path().join("walk.png"), "exists"),
        (guard.path().join("walk.jpg"), ".gif"),
    ] {
        let err = interpolate(&InterpolateOptions {
            out,
            ..options.clone()
        })
        .unwrap_err()
        .to_string();
        assert!(err.contains(expect), "{err}");
    }
    let err = interpolate(&InterpolateOptions {
        steps: 1,
        out: guard.path().join("one.png"),
        ..options
    })
    .unwrap_err()
    .to_string();
    assert!(err.contains("at least 2"), "{err}");
}
