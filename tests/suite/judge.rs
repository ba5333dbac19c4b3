//! The judge classifier the evaluation scores use.

use burn::prelude::*;
use ganforge::data::{DataSpec, ImageSet, LoadOptions};
use ganforge::eval::judge::{JudgeTraining, load_judge, save_judge, stratified_split, train_judge};

#[test]
fn the_split_holds_out_a_share_of_every_class() {
    let labels: Vec<usize> = (0..100).map(|i| i % 4).collect();
    let (train, test) = stratified_split(&labels, 0.2, 1);
    assert_eq!((train.len(), test.len()), (80, 20));
    for c in 0..4 {
        assert_eq!(test.iter().filter(|&&i| labels[i] == c).count(), 5);
    }
    let mut all: Vec<usize> = train.iter().chain(&test).copied().collect();
    all.sort();
    assert_eq!(all, (0..100).collect::<Vec<_>>(), "a partition");
}

#[test]
fn a_judge_trained_on_the_digits_is_accurate_and_reloads() {
    let data = ImageSet::load(&DataSpec::Digits, LoadOptions::new(16, 1)).unwrap();
    let device = Device::flex();
    let (judge, info) = train_judge(&data, "digits", &JudgeTraining::new(), 32, &device).unwrap();
    assert!(
        info.held_out_accuracy.unwrap() >= 0.97,
        "held-out accuracy {:?}",
        info.held_out_accuracy
    );
    assert_eq!((info.classes, info.held_out_images), (10, 359));

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("judge");
    save_judge(&judge, &info, &path).unwrap();
    let (loaded, loaded_info) = load_judge(&path, &device).unwrap();
    assert_eq!(loaded_info, info);
    let images = data.batch(&[0, 1, 2], &device);
    assert_eq!(
        ganforge::tensor_values(judge.forward(images.clone())),
        ganforge::tensor_values(loaded.forward(images)),
    );
    assert!(
        save_judge(&judge, &info, &path).is_err(),
        "an existing judge is kept"
    );
}

#[test]
fn a_judge_trains_on_the_emoji_and_reports_each_class() {
    use ganforge::eval::judge::{JudgeRequest, train_and_save};
    let dir = tempfile::tempdir().unwrap();
    let saved = train_and_save(
        &JudgeRequest {
            data: "emoji".to_string(),
            spatial: Some(16),
            channels: None,
            epochs: 1,
            seed: 0,
            background: ganforge::data::Background::WHITE,
            out: Some(dir.path().join("judge")),
        },
        &Device::flex(),
    )
    .unwrap();
    assert_eq!(
        (saved.info.channels, saved.info.spatial),
        (3, 16),
        "the preset's channels"
    );
    assert_eq!(saved.info.classes, 10);
    // 20% of each class held out: People & Body 452 of 2261, Component 1 of 5.
    let held_out: Vec<usize> = saved.held_out_per_class.iter().map(|c| c.1).collect();
    assert_eq!(held_out, [17, 32, 1, 54, 26, 53, 452, 34, 45, 44]);
    assert_eq!(held_out.iter().sum::<usize>(), saved.info.held_out_images);
    let right: usize = saved.held_out_per_class.iter().map(|c| c.0).sum();
    let accuracy = saved.info.held_out_accuracy.unwrap();
    assert!((accuracy - right as f64 / 758.0).abs() < 1e-12);
    let balanced = saved.balanced_accuracy();
    assert!((0.0..=1.0).contains(&balanced));
}
