//! `ganforge fid DIR_A DIR_B`: the Fréchet distance of two folders, against a hand computation
//! with a feature network whose features are known.

use std::path::Path;

use ganforge::device::DeviceChoice;
use ganforge::eval::folder_fid::{FidOptions, folder_fid};

use super::cli::ganforge;
use super::feature_net::write_safetensors;

/// A feature network whose one feature is the image's mean grey value (a 1×1 convolution of
/// weight 1, ReLU, average pool): non-negative for the images below.
fn mean_grey_network(path: &Path, spatial: Option<&str>) {
    let mut metadata = vec![];
    if let Some(s) = spatial {
        metadata.push(("spatial", s));
    }
    write_safetensors(
        path,
        &[
            ("convs.0.weight", vec![1, 1, 1, 1], vec![1.0]),
            ("convs.0.bias", vec![1], vec![0.0]),
            ("head.weight", vec![2, 1], vec![1.0, -1.0]),
            ("head.bias", vec![2], vec![0.0, 0.0]),
        ],
        &metadata,
    );
}

/// Solid grey images of the given levels and (width, height), one PNG each, in `dir`.
fn solid_images(dir: &Path, levels: &[u8], size: (u32, u32)) {
    std::fs::create_dir_all(dir).unwrap();
    for (i, &g) in levels.iter().enumerate() {
        image::GrayImage::from_pixel(size.0, size.1, image::Luma([g]))
            .save(dir.join(format!("img_{i}.png")))
            .unwrap();
    }
}

fn values(levels: &[u8]) -> Vec<f64> {
    levels
        .iter()
        .map(|&g| (g as f32 / 255.0 * 2.0 - 1.0) as f64)
        .collect()
}

/// FID of one-dimensional features: (μa − μb)² + (σa − σb)², unbiased variances.
fn by_hand(a: &[f64], b: &[f64]) -> f64 {
    let moments = |x: &[f64]| {
        let n = x.len() as f64;
        let mean = x.iter().sum::<f64>() / n;
        let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
        (mean, var.sqrt())
    };
    let ((ma, sa), (mb, sb)) = (moments(a), moments(b));
    (ma - mb).powi(2) + (sa - sb).powi(2)
}

#[test]
fn the_distance_of_two_folders_is_the_hand_computed_one() {
    let dir = tempfile::tempdir().unwrap();
    let net = dir.path().join("mean_grey.safetensors");
    mean_grey_network(&net, Some("8"));
    let (a_levels, b_levels) = ([128u8, 160, 200, 255, 140], [150u8, 230, 250, 180]);
    // A's images are 8×8; B's 5×7 RGBA (cropped to 5×5, enlarged to 8, composited on white:
    // opaque here, so the grey level stays), with one broken file that is skipped and named.
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    solid_images(&a, &a_levels, (8, 8));
    std::fs::create_dir_all(&b).unwrap();
    for (i, &g) in b_levels.iter().enumerate() {
        image::RgbaImage::from_pixel(5, 7, image::Rgba([g, g, g, 255]))
            .save(b.join(format!("img_{i}.png")))
            .unwrap();
    }
    std::fs::write(b.join("broken.png"), b"not an image").unwrap();

    let options = FidOptions {
        a: a.clone(),
        b: b.clone(),
        features: net.clone(),
        spatial: None,
        device: DeviceChoice::Cpu,
        save_features: None,
    };
    let report = folder_fid(&options).unwrap();
    let expected = by_hand(&values(&a_levels), &values(&b_levels));
    assert!(
        (report.fid - expected).abs() < 1e-5,
        "{} against {expected}",
        report.fid
    );
    assert_eq!((report.a.images, report.b.images), (5, 4));
    assert_eq!(
        (report.dimensions, report.spatial, report.channels),
        (1, 8, 1)
    );
    assert_eq!(report.b.skipped.len(), 1);
    assert!(report.b.skipped[0].path.ends_with("broken.png"));
    // The same folder against itself: 0.
    let same = folder_fid(&FidOptions {
        b: a.clone(),
        ..options
    })
    .unwrap();
    assert!(same.fid.abs() < 1e-9, "{}", same.fid);

    // The command prints the figure and names the skipped file.
    let out = ganforge(
        &[
            "fid",
            a.to_str().unwrap(),
            b.to_str().unwrap(),
            "--features",
            net.to_str().unwrap(),
        ],
        dir.path(),
    );
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stdout.trim(), format!("FID: {:.4}", report.fid));
    assert!(stderr.contains("broken.png"), "{stderr}");
    assert!(
        !stderr.contains("fewer images a side than features"),
        "{stderr}"
    );
}

#[test]
fn bad_folders_and_networks_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let net = dir.path().join("net.safetensors");
    mean_grey_network(&net, None);
    let a = dir.path().join("a");
    solid_images(&a, &[130, 140, 150], (8, 8));
    let one = dir.path().join("one");
    solid_images(&one, &[130], (8, 8));
    let options = |b: &Path, spatial: Option<usize>| FidOptions {
        a: a.clone(),
        b: b.to_path_buf(),
        features: net.clone(),
        spatial,
        device: DeviceChoice::Cpu,
        save_features: None,
    };
    let err = folder_fid(&options(&a, None)).unwrap_err().to_string();
    assert!(err.contains("give --spatial"), "{err}");
    assert!(folder_fid(&options(&a, Some(8))).is_ok());
    let err = folder_fid(&options(&one, Some(8))).unwrap_err().to_string();
    assert!(
        err.contains("1 usable image") && err.contains("one"),
        "{err}"
    );
    let err = folder_fid(&options(&dir.path().join("missing"), Some(8)))
        .unwrap_err()
        .to_string();
    assert!(err.contains("is not a folder"), "{err}");

    let out = ganforge(
        &[
            "fid",
            a.to_str().unwrap(),
            "missing",
            "--features",
            net.to_str().unwrap(),
            "--spatial",
            "8",
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing is not a folder"));
}
