//! `ganforge eval` end to end on a tiny run, and its refusals.

use burn::prelude::*;
use ganforge::data::{DataSpec, ImageSet, LoadOptions};
use ganforge::device::DeviceChoice;
use ganforge::eval::evaluate::{EvalOptions, EvalReport, evaluate, real_halves};
use ganforge::eval::judge::{JudgeTraining, load_judge, save_judge, train_judge};
use ganforge::sample::{Draw, generate};

/// Options with the given judge and classifiers trained for one epoch.
fn quick_options(n: usize, judge: &std::path::Path) -> EvalOptions {
    let mut options = EvalOptions::new(n, DeviceChoice::Cpu);
    options.judge = Some(judge.to_path_buf());
    options.classifier_training = JudgeTraining::new().with_epochs(1);
    options.per_class = 6;
    options
}

use super::{tiny_config, train_quiet};

/// A quickly trained (not accurate) judge for `spatial`×`spatial` grey digits, saved in `dir`.
fn quick_judge(dir: &std::path::Path, spatial: usize) {
    let data = ImageSet::load(
        &DataSpec::Digits,
        LoadOptions {
            limit: Some(200),
            ..LoadOptions::new(spatial, 1)
        },
    )
    .unwrap();
    let (judge, info) = train_judge(
        &data,
        "digits",
        &JudgeTraining::new().with_epochs(1),
        4,
        &Device::flex(),
    )
    .unwrap();
    save_judge(&judge, &info, dir).unwrap();
}

#[test]
fn eval_scores_a_run_and_writes_eval_json() {
    let dir = tempfile::tempdir().unwrap();
    let judge = dir.path().join("judge");
    quick_judge(&judge, 16);
    let mut config = tiny_config(3);
    config.input.conditional = true;
    let run = dir.path().join("run");
    train_quiet(config, &run);

    let report = evaluate(&run, &quick_options(40, &judge)).unwrap();
    assert_eq!((report.generated, report.real, report.step), (40, 40, 3));
    assert_eq!(
        report.real_reference.images, 40,
        "as many real as generated"
    );
    assert_eq!(report.real_split, "stratified by label");
    assert_eq!(
        report.fid_real_halves,
        report.real_reference.frechet_distance
    );
    for v in [
        report.inception_score_generated,
        report.real_reference.inception_score,
        report.frechet_distance,
        report.kernel_distance,
        report.real_reference.kernel_distance,
    ] {
        assert!(v.is_finite(), "{report:?}");
    }
    assert!(report.inception_score_generated >= 1.0 - 1e-9);
    assert!((0.0..=1.0).contains(&report.precision) && (0.0..=1.0).contains(&report.recall));
    assert_eq!(report.per_class_accuracy.as_ref().map(Vec::len), Some(10));
    assert_eq!(report.per_class_images, Some(6));
    // By hand: 6 images asked of each class, judged, and the share the judge names as asked.
    let device = DeviceChoice::Cpu.device().unwrap();
    let (loaded, _) = load_judge(&judge, &device).unwrap();
    let drawn = generate(
        &run,
        Draw::EveryClass { per_class: 6 },
        0,
        DeviceChoice::Cpu,
    )
    .unwrap();
    let mut right = [0usize; 10];
    for (image, label) in &drawn {
        let x = Tensor::<4>::from_data(TensorData::new(image.clone(), [1, 1, 16, 16]), &device);
        let p = ganforge::tensor_values(loaded.probabilities(x));
        let named = (0..10).max_by(|&a, &b| p[a].total_cmp(&p[b])).unwrap();
        right[label.unwrap()] += usize::from(named == label.unwrap());
    }
    let by_hand: Vec<f64> = right.iter().map(|&r| r as f64 / 6.0).collect();
    assert_eq!(report.per_class_accuracy.as_deref(), Some(&by_hand[..]));
    let real_per_class = report
        .per_class_accuracy_real
        .as_ref()
        .expect("labelled data");
    assert_eq!(real_per_class.len(), 10);
    assert!(real_per_class.iter().all(|a| (0.0..=1.0).contains(a)));
    for accuracy in [report.tstr_accuracy, report.trtr_accuracy] {
        assert!(
            accuracy.is_some_and(|a| (0.0..=1.0).contains(&a)),
            "{report:?}"
        );
    }
    let written: EvalReport =
        serde_json::from_str(&std::fs::read_to_string(run.join("eval.json")).unwrap()).unwrap();
    assert_eq!(written, report);

    // No classifier epochs: TSTR is skipped, everything else is scored the same.
    let mut no_tstr = quick_options(40, &judge);
    no_tstr.classifier_training = no_tstr.classifier_training.with_epochs(0);
    let skipped = evaluate(&run, &no_tstr).unwrap();
    assert_eq!((skipped.tstr_accuracy, skipped.trtr_accuracy), (None, None));
    assert_eq!(skipped.per_class_accuracy, report.per_class_accuracy);
    assert_eq!(skipped.frechet_distance, report.frechet_distance);
    // 0 images a class: the shares come from the labels of the n scored images.
    let mut from_scored = quick_options(40, &judge);
    from_scored.per_class = 0;
    from_scored.classifier_training = from_scored.classifier_training.with_epochs(0);
    let scored = evaluate(&run, &from_scored).unwrap();
    assert_eq!(scored.per_class_images, None);
    assert_eq!(scored.per_class_accuracy.as_ref().map(Vec::len), Some(10));
    std::fs::write(
        run.join("eval.json"),
        serde_json::to_string(&report).unwrap(),
    )
    .unwrap();

    // The same judge as a safetensors feature network gives the same scores.
    let file = dir.path().join("judge.safetensors");
    let (loaded, info) = ganforge::eval::judge::load_judge(&judge, &Device::flex()).unwrap();
    ganforge::eval::feature_net::save_feature_network(&loaded, &info, &file).unwrap();
    let from_file = evaluate(&run, &quick_options(40, &file)).unwrap();
    assert_eq!(from_file.judge_held_out_accuracy, None);
    assert_eq!(
        (
            from_file.frechet_distance,
            from_file.inception_score_generated,
            from_file.precision
        ),
        (
            report.frechet_distance,
            report.inception_score_generated,
            report.precision
        )
    );
}

#[test]
fn eval_refuses_a_missing_or_mismatched_judge() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    train_quiet(tiny_config(2), &run);
    let missing = dir.path().join("no-judge");
    let err = evaluate(&run, &quick_options(10, &missing))
        .unwrap_err()
        .to_string();
    assert!(err.contains("ganforge classifier train"), "{err}");

    let judge32 = dir.path().join("judge32");
    quick_judge(&judge32, 32);
    let err = evaluate(&run, &quick_options(10, &judge32))
        .unwrap_err()
        .to_string();
    assert!(err.contains("1×32×32") && err.contains("1×16×16"), "{err}");
    let err = evaluate(&run, &quick_options(1, &judge32))
        .unwrap_err()
        .to_string();
    assert!(err.contains("`n`"), "{err}");
    assert!(
        !run.join("eval.json").exists(),
        "nothing written on refusal"
    );
}

#[test]
fn export_writes_a_labelled_set_that_reads_back() {
    use ganforge::eval::export::export;
    let dir = tempfile::tempdir().unwrap();
    let mut config = tiny_config(2);
    config.input.conditional = true;
    let run = dir.path().join("cond");
    train_quiet(config, &run);
    let out = dir.path().join("synthetic");
    let written = export(&run, 20, 0, &out, None, DeviceChoice::Cpu).unwrap();
    assert!(!written.judge_labelled);
    assert!(written.per_class.iter().all(|(_, n)| *n == 2));
    let set = ImageSet::load(&DataSpec::Folder(out.clone()), LoadOptions::new(16, 1)).unwrap();
    assert_eq!(set.len(), 20);
    assert_eq!(
        set.class_names,
        (0..10).map(|d| d.to_string()).collect::<Vec<_>>()
    );
    let labels = set.labels.unwrap();
    assert!((0..10).all(|c| labels.iter().filter(|&&l| l == c).count() == 2));
    assert!(
        export(&run, 5, 0, &out, None, DeviceChoice::Cpu).is_err(),
        "not over a set"
    );

    // An unconditional run is labelled by a judge.
    let judge = dir.path().join("judge");
    quick_judge(&judge, 16);
    let plain = dir.path().join("plain");
    train_quiet(tiny_config(2), &plain);
    let out = dir.path().join("judged");
    let written = export(&plain, 12, 0, &out, Some(&judge), DeviceChoice::Cpu).unwrap();
    assert!(written.judge_labelled);
    assert_eq!(written.per_class.iter().map(|(_, n)| n).sum::<usize>(), 12);
}

#[test]
fn the_real_data_is_halved_by_class_or_alternately() {
    // Labels 0 0 1 0 1 1 1: class 0 is images 0, 1, 3 and class 1 is 2, 4, 5, 6; each class's
    // images go alternately to the reference half and the held-out half, the first to the
    // reference.
    let labels = vec![0, 0, 1, 0, 1, 1, 1];
    let labelled = ImageSet::from_parts(
        vec![0.0; 7],
        1,
        1,
        Some(labels),
        vec!["a".into(), "b".into()],
        Vec::new(),
    );
    assert_eq!(real_halves(&labelled), (vec![0, 3, 2, 5], vec![1, 4, 6]));
    let plain = ImageSet::from_parts(vec![0.0; 5], 1, 1, None, Vec::new(), Vec::new());
    assert_eq!(real_halves(&plain), (vec![0, 2, 4], vec![1, 3]));
}

#[test]
fn held_out_real_images_score_near_perfectly_and_far_better_than_a_bad_generator() {
    let dir = tempfile::tempdir().unwrap();
    // A judge accurate enough for its features to mean something: every digit, 10 epochs.
    let judge = dir.path().join("judge");
    let digits = ImageSet::load(&DataSpec::Digits, LoadOptions::new(16, 1)).unwrap();
    let (trained, info) = train_judge(
        &digits,
        "digits",
        &JudgeTraining::new().with_epochs(10),
        16,
        &Device::flex(),
    )
    .unwrap();
    save_judge(&trained, &info, &judge).unwrap();
    // Three steps: a generator that draws noise-like blobs.
    let run = dir.path().join("bad");
    train_quiet(tiny_config(3), &run);
    // More than the held-out half asked: both sides are cut to it, Σ⌊n_c / 2⌋ over the digits'
    // class counts (178, 182, 177, 183, 181, 182, 181, 179, 174, 180) = 896.
    let report = evaluate(&run, &quick_options(2000, &judge)).unwrap();
    let real = report.real_reference;
    assert_eq!(
        (report.generated, real.images, report.real),
        (896, 896, 896)
    );
    assert_eq!(report.real_split, "stratified by label");
    assert!(
        real.frechet_distance * 20.0 < report.frechet_distance,
        "real halves FID {} vs generated {}",
        real.frechet_distance,
        report.frechet_distance
    );
    assert!(real.kernel_distance * 20.0 < report.kernel_distance.max(1e-9));
    assert!(
        real.precision > 0.9 && real.recall > 0.9,
        "held-out real precision {} recall {}",
        real.precision,
        real.recall
    );
    // This judge (83% held out) is not confident, so the real IS is well below 10; the bad
    // generator's is 1 (one class for everything).
    assert!(real.inception_score > 3.0 && report.inception_score_generated < 1.5);
    assert!(report.precision < real.precision && report.recall < real.recall);
    // eval.json has the reference beside the generated figures.
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("eval.json")).unwrap()).unwrap();
    for key in [
        "inception_score",
        "frechet_distance",
        "kernel_distance",
        "precision",
        "recall",
        "images",
    ] {
        assert!(
            json["real_reference"][key].is_number(),
            "real_reference.{key}"
        );
    }
    assert_eq!(
        json["fid_real_halves"].as_f64(),
        Some(real.frechet_distance)
    );
    // And the run's report shows them side by side.
    let html = std::fs::read_to_string(run.join("report.html")).unwrap();
    assert!(
        html.contains("real held-out half (896)"),
        "the report shows the reference"
    );
}

#[test]
fn every_kept_checkpoint_is_scored_and_the_latest_matches_eval() {
    use ganforge::eval::evaluate::{CheckpointScores, evaluate_checkpoints};
    let dir = tempfile::tempdir().unwrap();
    let judge = dir.path().join("judge");
    quick_judge(&judge, 16);
    // Checkpoints every 5 steps of 15, all kept.
    let mut config = tiny_config(15);
    config.schedule.keep_checkpoints = 10;
    let run = dir.path().join("run");
    train_quiet(config, &run);

    let scores = evaluate_checkpoints(&run, &quick_options(30, &judge)).unwrap();
    let steps: Vec<usize> = scores.checkpoints.iter().map(|c| c.step).collect();
    assert_eq!(steps, [5, 10, 15]);
    assert_eq!(scores.generated, 30);
    // The latest checkpoint's scores are eval's, with the same reference.
    let latest = evaluate(&run, &quick_options(30, &judge)).unwrap();
    let last = scores.checkpoints[2].scores;
    assert_eq!(last.frechet_distance, latest.frechet_distance);
    assert_eq!(last.precision, latest.precision);
    assert_eq!(scores.real_reference, latest.real_reference);
    // Earlier generators score otherwise.
    assert_ne!(
        scores.checkpoints[0].scores.frechet_distance,
        last.frechet_distance
    );
    let best = scores.best().unwrap();
    assert!(
        scores
            .checkpoints
            .iter()
            .all(|c| c.scores.frechet_distance >= best.scores.frechet_distance)
    );
    let written: CheckpointScores =
        serde_json::from_str(&std::fs::read_to_string(run.join("eval_checkpoints.json")).unwrap())
            .unwrap();
    assert_eq!(written, scores);
    // The report shows them.
    let report = std::fs::read_to_string(run.join("report.html")).unwrap();
    assert!(report.contains("FID over the run's checkpoints"));
    assert!(report.contains(&format!("Lowest FID at step {}", best.step)));
}

#[test]
fn class_accuracy_is_the_share_of_each_class_the_judge_places_in_it() {
    use ganforge::eval::evaluate::class_accuracy;
    // Class 0: two images, one placed right; class 1: one image, right; class 2: none; an
    // unlabelled image counts nowhere.
    let labels = [Some(0), Some(0), Some(1), None];
    let probabilities = vec![
        vec![0.7, 0.2, 0.1],
        vec![0.1, 0.8, 0.1],
        vec![0.3, 0.6, 0.1],
        vec![0.0, 0.0, 1.0],
    ];
    assert_eq!(
        class_accuracy(&labels, &probabilities, 3),
        vec![0.5, 1.0, 0.0]
    );
}
