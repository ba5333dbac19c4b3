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
        device: DeviceChoice::Cpu,
    })
    .unwrap();
    assert!(default.grid.ends_with("samples/sample_seed0_n4.png"));
    assert!(default.grid.is_file());
}
