use std::path::Path;

use burn::prelude::*;
use ganforge::data::{Background, DataSpec, ImageSet, LoadOptions};
use ganforge::error::GanError;
use image::{DynamicImage, GrayImage, ImageFormat, RgbImage, RgbaImage};

fn options(spatial: usize, channels: usize) -> LoadOptions {
    LoadOptions::new(spatial, channels)
}

fn gradient_rgb(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x * 255 / w.max(1)) as u8, (y * 255 / h.max(1)) as u8, 128])
    })
}

/// A folder with one image of each kind the loader must read, and one corrupt file.
fn write_mixed_folder(dir: &Path) {
    gradient_rgb(30, 20)
        .save_with_format(dir.join("rgb.png"), ImageFormat::Png)
        .unwrap();
    gradient_rgb(40, 40)
        .save_with_format(dir.join("photo.JPG"), ImageFormat::Jpeg)
        .unwrap();
    GrayImage::from_fn(17, 9, |x, _| image::Luma([(x * 15) as u8]))
        .save_with_format(dir.join("grey_odd.png"), ImageFormat::Png)
        .unwrap();
    RgbaImage::from_fn(12, 12, |x, y| {
        image::Rgba([x as u8 * 20, y as u8 * 20, 0, 100])
    })
    .save_with_format(dir.join("alpha.png"), ImageFormat::Png)
    .unwrap();
    std::fs::create_dir(dir.join("nested")).unwrap();
    DynamicImage::ImageRgb8(gradient_rgb(5, 7))
        .save_with_format(dir.join("nested/small.bmp"), ImageFormat::Bmp)
        .unwrap();
    DynamicImage::ImageRgb8(gradient_rgb(16, 16))
        .save_with_format(dir.join("nested/web.webp"), ImageFormat::WebP)
        .unwrap();
    std::fs::write(
        dir.join("corrupt.png"),
        b"\x89PNG\r\n\x1a\nnot really a png",
    )
    .unwrap();
    std::fs::write(dir.join("notes.txt"), b"not an image, not counted").unwrap();
}

#[test]
fn folder_of_mixed_images_loads_with_shape_range_and_skips() {
    let dir = tempfile::tempdir().unwrap();
    write_mixed_folder(dir.path());
    for channels in [1, 3] {
        let set = ImageSet::load(
            &DataSpec::Folder(dir.path().to_path_buf()),
            options(32, channels),
        )
        .unwrap();
        assert_eq!(set.len(), 6, "six decodable images");
        assert_eq!(set.skipped.len(), 1);
        assert!(set.skipped[0].path.ends_with("corrupt.png"));
        assert_eq!(set.skipped[0].reason, "damaged or truncated image");
        assert!(set.summary().contains("corrupt.png"));
        assert!(set.labels.is_none(), "files at the top level: no classes");
        let batch = set.batch(&[0, 1, 2, 3, 4, 5], &Device::flex());
        assert_eq!(batch.dims(), [6, channels, 32, 32]);
        let values = ganforge::tensor_values(batch);
        assert!(values.iter().all(|v| (-1.0..=1.0).contains(v)));
        let (lo, hi) = values
            .iter()
            .fold((f32::MAX, f32::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
        assert!(lo < -0.8 && hi > 0.8, "the range is used: {lo}..{hi}");
        assert_eq!(set.memory_bytes(), 6 * channels * 32 * 32 * 4);
    }
}

#[test]
fn a_white_pixel_is_one_and_a_black_pixel_minus_one() {
    let dir = tempfile::tempdir().unwrap();
    let mut img = GrayImage::new(16, 16);
    img.put_pixel(0, 0, image::Luma([255]));
    img.save(dir.path().join("dot.png")).unwrap();
    let set = ImageSet::load(&DataSpec::Folder(dir.path().into()), options(16, 1)).unwrap();
    let px = set.image(0);
    assert_eq!(px[0], 1.0);
    assert_eq!(px[1], -1.0);
}

#[test]
fn num_load_caps_the_images_read() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..5 {
        gradient_rgb(8, 8)
            .save(dir.path().join(format!("{i}.png")))
            .unwrap();
    }
    let set = ImageSet::load(
        &DataSpec::Folder(dir.path().into()),
        LoadOptions {
            limit: Some(3),
            ..LoadOptions::new(16, 3)
        },
    )
    .unwrap();
    assert_eq!(set.len(), 3);
}

#[test]
fn subfolders_name_classes() {
    let dir = tempfile::tempdir().unwrap();
    for (class, n) in [("zebra", 2), ("horse", 3)] {
        std::fs::create_dir(dir.path().join(class)).unwrap();
        for i in 0..n {
            gradient_rgb(8, 8)
                .save(dir.path().join(class).join(format!("{i}.png")))
                .unwrap();
        }
    }
    let set = ImageSet::load(&DataSpec::Folder(dir.path().into()), options(16, 3)).unwrap();
    assert_eq!(set.class_names, vec!["horse", "zebra"]);
    let labels = set.labels.unwrap();
    assert_eq!(labels.iter().filter(|&&l| l == 0).count(), 3);
    assert_eq!(labels.iter().filter(|&&l| l == 1).count(), 2);
}

#[test]
fn digits_are_embedded_with_labels() {
    let set = ImageSet::load(&DataSpec::Digits, options(16, 1)).unwrap();
    assert_eq!(set.len(), 1797);
    let labels = set.labels.as_ref().unwrap();
    for digit in 0..10 {
        let count = labels.iter().filter(|&&l| l == digit).count();
        assert!((170..=190).contains(&count), "about 180 of digit {digit}");
    }
    assert_eq!(set.class_names.len(), 10);
    // The first stored digit is a 0: its centre is dark (background), its ring bright.
    let first = set.image(0);
    assert_eq!(labels[0], 0);
    assert!(first.iter().all(|v| (-1.0..=1.0).contains(v)));
    assert!(first[7 * 16 + 7] < 0.0 && first.iter().any(|&v| v > 0.5));
    let rgb = ImageSet::load(&DataSpec::Digits, options(32, 3)).unwrap();
    assert_eq!(rgb.image(0).len(), 3 * 32 * 32);
}

#[test]
fn bad_folders_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    let err = ImageSet::load(&DataSpec::Folder(missing.clone()), options(16, 3)).unwrap_err();
    assert!(matches!(err, GanError::MissingFolder(_)), "{err}");

    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    std::fs::write(empty.join("readme.txt"), "no images").unwrap();
    let err = ImageSet::load(&DataSpec::Folder(empty), options(16, 3)).unwrap_err();
    assert!(matches!(err, GanError::EmptyFolder(_)), "{err}");
    assert!(err.to_string().contains("no JPEG, PNG, BMP or WebP"));

    let broken = dir.path().join("broken");
    std::fs::create_dir(&broken).unwrap();
    std::fs::write(broken.join("a.png"), b"garbage").unwrap();
    std::fs::write(broken.join("b.jpg"), b"").unwrap();
    let err = ImageSet::load(&DataSpec::Folder(broken), options(16, 3)).unwrap_err();
    let message = err.to_string();
    assert!(
        matches!(err, GanError::NoDecodableImages { found: 2, .. }),
        "{message}"
    );
    assert!(
        message.contains("a.png") && message.contains("b.jpg"),
        "{message}"
    );
}

#[test]
fn data_specs_parse_or_name_the_valid_forms() {
    assert_eq!(DataSpec::parse("digits").unwrap(), DataSpec::Digits);
    assert_eq!(
        DataSpec::parse("folder:/x/y").unwrap(),
        DataSpec::Folder("/x/y".into())
    );
    let err = DataSpec::parse("mnist").unwrap_err().to_string();
    assert!(
        err.contains("digits") && err.contains("folder:DIR"),
        "{err}"
    );
    assert!(DataSpec::parse("folder:").is_err());
    assert_eq!(DataSpec::parse("emoji").unwrap(), DataSpec::Emoji);
    assert!(
        DataSpec::parse("mnist")
            .unwrap_err()
            .to_string()
            .contains("`emoji`")
    );
}

/// A valid PNG of `w`×`h` grey pixels.
fn png_bytes(w: u32, h: u32) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    DynamicImage::ImageLuma8(image::GrayImage::from_fn(w, h, |x, y| {
        image::Luma([(x * 7 + y * 13) as u8])
    }))
    .write_to(&mut out, ImageFormat::Png)
    .unwrap();
    out.into_inner()
}

/// A PNG whose header declares `w`×`h` with a correct CRC but holds almost no data.
fn png_declaring(w: u32, h: u32) -> Vec<u8> {
    let mut bytes = png_bytes(4, 4);
    // IHDR data starts at byte 16: width, height (big-endian), then the CRC over type + data.
    bytes[16..20].copy_from_slice(&w.to_be_bytes());
    bytes[20..24].copy_from_slice(&h.to_be_bytes());
    let crc = crc32fast::hash(&bytes[12..29]);
    bytes[29..33].copy_from_slice(&crc.to_be_bytes());
    bytes
}

#[test]
fn hostile_files_are_skipped_with_their_reason_and_nothing_crashes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let good = png_bytes(8, 8);
    std::fs::write(d.join("good.png"), &good).unwrap();
    std::fs::write(d.join("tiny.png"), png_bytes(1, 1)).unwrap();
    std::fs::write(d.join("zero.png"), b"").unwrap();
    std::fs::write(d.join("truncated.png"), &good[..good.len() / 2]).unwrap();
    std::fs::write(d.join("magic.jpg"), b"this is no jpeg at all").unwrap();
    let mut bad_crc = good.clone();
    bad_crc[17] ^= 0xff; // inside IHDR's data, its CRC left as it was
    std::fs::write(d.join("bad_crc.png"), &bad_crc).unwrap();
    std::fs::write(d.join("bomb.png"), png_declaring(1_000_000, 1_000_000)).unwrap();
    std::fs::write(d.join("text.webp"), b"hello, I am text").unwrap();
    // Unreadable: only when the permissions bite (not for root, who reads everything).
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(d.join("locked.png"), &good).unwrap();
    std::fs::set_permissions(d.join("locked.png"), std::fs::Permissions::from_mode(0o000)).unwrap();
    let locked_bites = std::fs::File::open(d.join("locked.png")).is_err();
    std::fs::create_dir(d.join("loop")).unwrap();
    std::os::unix::fs::symlink(d, d.join("loop/back")).unwrap();

    let started = std::time::Instant::now();
    let set = ImageSet::load(&DataSpec::Folder(d.to_path_buf()), options(16, 1)).unwrap();
    assert!(started.elapsed().as_secs() < 10, "no hang");
    let readable = if locked_bites { 2 } else { 3 };
    assert_eq!(
        set.len(),
        readable,
        "good.png, the 1×1 image (and locked.png for root)"
    );
    let reason = |name: &str| {
        set.skipped
            .iter()
            .find(|s| s.path.ends_with(name))
            .map(|s| s.reason.clone())
            .unwrap_or_else(|| panic!("{name} not skipped: {:?}", set.skipped))
    };
    assert_eq!(reason("zero.png"), "empty file");
    assert_eq!(reason("truncated.png"), "damaged or truncated image");
    // The extension names a format the bytes do not hold.
    assert_eq!(reason("magic.jpg"), "damaged or truncated image");
    assert_eq!(reason("bad_crc.png"), "damaged or truncated image");
    assert!(
        reason("bomb.png").starts_with("too large"),
        "{}",
        reason("bomb.png")
    );
    assert_eq!(reason("text.webp"), "damaged or truncated image");
    assert!(reason("back").contains("symlink loop"));
    if locked_bites {
        assert_eq!(reason("locked.png"), "permission denied");
    }
    assert!(set.summary().contains("skipped"));
}

#[test]
fn random_damage_to_an_image_never_crashes_or_hangs_the_loader() {
    use rand::{Rng, SeedableRng};
    let dir = tempfile::tempdir().unwrap();
    let good = png_bytes(12, 12);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2026);
    let started = std::time::Instant::now();
    // A fixed budget: 300 damaged copies (flipped bytes, cuts, insertions).
    for i in 0..300 {
        let mut bytes = good.clone();
        match i % 3 {
            0 => {
                for _ in 0..rng.random_range(1..8) {
                    let k = rng.random_range(0..bytes.len());
                    bytes[k] = rng.random();
                }
            }
            1 => bytes.truncate(rng.random_range(0..bytes.len())),
            _ => {
                let k = rng.random_range(0..bytes.len());
                let junk: Vec<u8> = (0..rng.random_range(1..64)).map(|_| rng.random()).collect();
                bytes.splice(k..k, junk);
            }
        }
        let path = dir.path().join(format!("f{i}.png"));
        std::fs::write(&path, &bytes).unwrap();
        if let Ok(pixels) = ganforge::data::decode_file(&path, &options(8, 1)) {
            assert_eq!(pixels.len(), 64);
            assert!(
                pixels
                    .iter()
                    .all(|v| v.is_finite() && (-1.0..=1.0).contains(v))
            );
        }
    }
    assert!(started.elapsed().as_secs() < 60, "no hang");
}

/// `options` with transparency on `background`.
fn on(background: Background, spatial: usize, channels: usize) -> LoadOptions {
    LoadOptions {
        background,
        ..options(spatial, channels)
    }
}

#[test]
fn rgba_pixels_are_composited_onto_the_background() {
    let dir = tempfile::tempdir().unwrap();
    // (x, y): opaque red, transparent blue, green at alpha 51/255 = 0.2, (200, 100, 0) at
    // alpha 153/255 = 0.6.
    let pixels = [
        [255, 0, 0, 255],
        [0, 0, 255, 0],
        [0, 255, 0, 51],
        [200, 100, 0, 153],
    ];
    RgbaImage::from_fn(2, 2, |x, y| image::Rgba(pixels[(2 * y + x) as usize]))
        .save(dir.path().join("rgba.png"))
        .unwrap();
    // out = a·c + (1 − a)·bg per channel in [0, 1], by hand; the loader gives 2·out − 1,
    // channel-major: R of the 4 pixels, then G, then B.
    let (r, g) = (200.0 / 255.0, 100.0 / 255.0);
    let on_white: [[f32; 4]; 3] = [
        [1.0, 1.0, 0.8, 0.6 * r + 0.4],
        [0.0, 1.0, 1.0, 0.6 * g + 0.4],
        [0.0, 1.0, 0.8, 0.4],
    ];
    let on_black: [[f32; 4]; 3] = [
        [1.0, 0.0, 0.0, 0.6 * r],
        [0.0, 0.0, 0.2, 0.6 * g],
        [0.0, 0.0, 0.0, 0.0],
    ];
    for (background, expected) in [(Background::WHITE, on_white), (Background::BLACK, on_black)] {
        let set =
            ImageSet::load(&DataSpec::Folder(dir.path().into()), on(background, 2, 3)).unwrap();
        let got = set.image(0);
        let want: Vec<f32> = expected.iter().flatten().map(|v| 2.0 * v - 1.0).collect();
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert!((g - w).abs() < 1e-5, "{background} value {i}: {g} ≠ {w}");
        }
    }
    // Any colour; grey images are taken from the composited colours.
    let grey = Background([128, 128, 128]);
    let set = ImageSet::load(&DataSpec::Folder(dir.path().into()), on(grey, 2, 1)).unwrap();
    assert!((set.image(0)[1] - (2.0 * 128.0 / 255.0 - 1.0)).abs() < 1e-5);
}

/// The category counts of the emoji's labels.csv, in the sorted order of their labels.
const EMOJI_CLASSES: [(&str, usize); 10] = [
    ("Activities", 85),
    ("Animals & Nature", 159),
    ("Component", 5),
    ("Flags", 270),
    ("Food & Drink", 131),
    ("Objects", 264),
    ("People & Body", 2261),
    ("Smileys & Emotion", 169),
    ("Symbols", 224),
    ("Travel & Places", 218),
];

#[test]
fn the_emoji_are_embedded_labelled_by_category_on_their_background() {
    let started = std::time::Instant::now();
    let set = ImageSet::load(&DataSpec::Emoji, options(64, 3)).unwrap();
    eprintln!(
        "emoji at 64×64×3 loaded in {:.2} s: {}",
        started.elapsed().as_secs_f64(),
        set.summary()
    );
    assert_eq!(set.len(), 3786);
    let names: Vec<&str> = EMOJI_CLASSES.iter().map(|(n, _)| *n).collect();
    assert_eq!(set.class_names, names);
    let labels = set.labels.as_ref().unwrap();
    for (c, (name, count)) in EMOJI_CLASSES.iter().enumerate() {
        assert_eq!(labels.iter().filter(|&&l| l == c).count(), *count, "{name}");
    }
    let batch =
        ganforge::tensor_values(set.batch(&(0..set.len()).collect::<Vec<_>>(), &Device::flex()));
    assert!(batch.iter().all(|v| (-1.0..=1.0).contains(v)));
    let (lo, hi) = batch
        .iter()
        .fold((f32::MAX, f32::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    assert!(lo < -0.99 && hi > 0.99, "the range is used: {lo}..{hi}");
    // The first emoji (the keycap #) is a rounded square: its corner is transparent, so it is the
    // background in every channel, white here and black below.
    let corner =
        |set: &ImageSet| -> Vec<f32> { (0..3).map(|c| set.image(0)[c * 64 * 64]).collect() };
    assert_eq!(corner(&set), vec![1.0; 3]);
    let black = ImageSet::load(
        &DataSpec::Emoji,
        LoadOptions {
            limit: Some(4),
            ..on(Background::BLACK, 64, 3)
        },
    )
    .unwrap();
    assert_eq!(black.len(), 4);
    assert_eq!(
        black.class_names, names,
        "labels keep their numbers under num_load"
    );
    assert_eq!(corner(&black), vec![-1.0; 3]);
    // Smaller sizes load through the resize; grey too.
    let small = ImageSet::load(
        &DataSpec::Emoji,
        LoadOptions {
            limit: Some(8),
            ..options(16, 1)
        },
    )
    .unwrap();
    assert_eq!((small.len(), small.image(0).len()), (8, 16 * 16));
    assert!(small.image(0).iter().all(|v| (-1.0..=1.0).contains(v)));
}
