//! The command line as a user meets it: exit codes, messages, and nothing written on error.

use std::path::Path;
use std::process::{Command, Output};

use super::snapshot;

pub(crate) fn ganforge(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ganforge"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("the binary runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

/// Runs a command that must fail: non-zero exit, a message containing `expect`, and `cwd`
/// unchanged.
fn refused(args: &[&str], cwd: &Path, expect: &[&str]) -> String {
    let before = snapshot(cwd);
    let out = ganforge(args, cwd);
    let message = stderr(&out);
    assert!(!out.status.success(), "{args:?} must fail");
    for e in expect {
        assert!(message.contains(e), "{args:?}: `{e}` not in: {message}");
    }
    assert!(!message.contains("panicked"), "{message}");
    assert_eq!(snapshot(cwd), before, "{args:?} wrote nothing");
    message
}

#[test]
fn bad_training_input_is_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    std::fs::create_dir(cwd.join("empty")).unwrap();
    std::fs::create_dir(cwd.join("junk")).unwrap();
    std::fs::write(cwd.join("junk/a.png"), b"not a png").unwrap();

    refused(
        &["train", "--data", "folder:missing"],
        cwd,
        &["missing", "does not exist"],
    );
    refused(&["train", "--data", "folder:empty"], cwd, &["no JPEG"]);
    refused(
        &["train", "--data", "folder:junk"],
        cwd,
        &["could be decoded", "a.png"],
    );
    refused(
        &["train", "--data", "mnist"],
        cwd,
        &["unknown dataset", "folder:DIR"],
    );
    refused(
        &["train", "--spatial", "24"],
        cwd,
        &["`spatial`", "power of two"],
    );
    refused(
        &["train", "--spatial", "512"],
        cwd,
        &["`spatial`", "16 to 256"],
    );
    refused(&["train", "--batch", "0"], cwd, &["`batch`", "at least 1"]);
    refused(&["train", "--filter", "4"], cwd, &["`filter`", "odd"]);
    refused(&["train", "--channels", "2"], cwd, &["`channels`"]);
    refused(&["train", "--device", "gpu"], cwd, &["invalid value"]);
    refused(
        &["train", "--background", "pink"],
        cwd,
        &["`background`", "white, black or a colour as #rrggbb"],
    );

    std::fs::write(cwd.join("unknown.toml"), "batch = 8\nbatchsize = 3\n").unwrap();
    refused(
        &["train", "--config", "unknown.toml"],
        cwd,
        &["unknown field `batchsize`"],
    );
    std::fs::write(cwd.join("types.toml"), "spatial = \"big\"\n").unwrap();
    refused(
        &["train", "--config", "types.toml"],
        cwd,
        &["invalid type", "types.toml"],
    );
    refused(
        &["train", "--config", "nothing.toml"],
        cwd,
        &["nothing.toml"],
    );
    refused(&["train", "--resume"], cwd, &["--out"]);
    refused(
        &["sample", "--run", "empty"],
        cwd,
        &["not a ganforge run", "config.toml"],
    );
    refused(
        &["sample", "--run", "nowhere"],
        cwd,
        &["not a ganforge run"],
    );
}

#[test]
fn a_compiled_out_device_names_the_compiled_in_ones() {
    if cfg!(feature = "cuda") {
        return; // this build has CUDA: nothing to refuse
    }
    let dir = tempfile::tempdir().unwrap();
    refused(
        &["train", "--device", "cuda"],
        dir.path(),
        &["not compiled", "cpu", "--features cuda"],
    );
}

#[test]
fn an_existing_run_is_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let mut args = vec!["train", "--out", "run", "--steps", "2"];
    args.extend(super::reliability::TINY);
    let out = ganforge(&args, cwd);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(cwd.join("run/config.toml").is_file());

    let message = refused(&args, cwd, &["already holds a run", "--resume"]);
    assert!(message.contains("run"));
    // Resuming may extend the run but not change it.
    refused(
        &["train", "--resume", "--out", "run", "--batch", "8"],
        cwd,
        &["cannot change `batch`"],
    );
    // A config file that repeats the run, with a new --out, is accepted as is.
    let out = ganforge(
        &[
            "train",
            "--config",
            "run/config.toml",
            "--out",
            "again",
            "--plain",
        ],
        cwd,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(cwd.join("run/config.toml")).unwrap(),
        std::fs::read_to_string(cwd.join("again/config.toml")).unwrap()
    );
    let out = ganforge(&["train", "--resume", "--out", "run", "--steps", "3"], cwd);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("resumed at step 2"));

    // Runs without --out get their own numbered directory.
    let mut args = vec!["train", "--steps", "2"];
    args.extend(super::reliability::TINY);
    for _ in 0..2 {
        assert!(ganforge(&args, cwd).status.success());
    }
    let runs: Vec<String> = std::fs::read_dir(cwd.join("runs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    assert_eq!(runs.len(), 2);
    assert!(runs.iter().any(|r| r.ends_with("-2")), "{runs:?}");

    let out = ganforge(
        &["sample", "--run", "run", "--n", "4", "--out", "s.png"],
        cwd,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(cwd.join("s.png").is_file());
    refused(
        &["sample", "--run", "run", "--out", "s.jpg"],
        cwd,
        &["`out`", ".png"],
    );
    refused(&["sample", "--run", "run", "--n", "0"], cwd, &["`n`"]);
}

#[test]
fn bench_modes_and_classifier_export_refuse_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    std::fs::create_dir(cwd.join("taken")).unwrap();
    std::fs::write(cwd.join("taken/keep.txt"), b"keep").unwrap();
    refused(
        &["bench", "modes", "--data", "digits"],
        cwd,
        &["`data`", "mixture:ring8", "stacked-digits"],
    );
    refused(
        &["bench", "modes", "--out", "taken"],
        cwd,
        &["taken", "not empty"],
    );
    refused(
        &["bench", "modes", "--data", "stacked-digits"],
        cwd,
        &["no digits judge", "ganforge classifier train"],
    );
    refused(
        &["bench", "modes", "--seeds", "0", "--steps", "1"],
        cwd,
        &["at least one"],
    );
    refused(
        &[
            "classifier",
            "export",
            "--judge",
            "nowhere",
            "--out",
            "judge.bin",
        ],
        cwd,
        &["`out`", ".safetensors"],
    );
    refused(
        &[
            "classifier",
            "export",
            "--judge",
            "nowhere",
            "--out",
            "judge.safetensors",
        ],
        cwd,
        &["nowhere", "not a ganforge judge"],
    );
    // A config file sets keys for every run, but not those the benchmark sets itself.
    std::fs::write(cwd.join("bench.toml"), "pack = 2\n").unwrap();
    refused(
        &["bench", "modes", "--config", "bench.toml", "--steps", "1"],
        cwd,
        &["bench.toml", "`pack`", "--pack"],
    );
    std::fs::write(cwd.join("typo.toml"), "lr_decay_begin = 5\n").unwrap();
    refused(
        &["bench", "modes", "--config", "typo.toml", "--steps", "1"],
        cwd,
        &["lr_decay_begin"],
    );
}

#[test]
fn ctrl_c_stops_after_the_step_with_a_checkpoint_and_says_how_to_resume() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let args = [
        &["train", "--out", "run", "--steps", "100000"][..],
        &super::reliability::TINY[..],
        &["--checkpoint-interval", "100000"][..],
    ]
    .concat();
    let child = super::reliability::spawn(&args, cwd);
    let csv = cwd.join("run/losses.csv");
    let started = std::time::Instant::now();
    while std::fs::read_to_string(&csv).map_or(0, |t| t.lines().count()) < 4 {
        assert!(started.elapsed().as_secs() < 120, "the run did not start");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    let message = stderr(&out);
    assert_eq!(out.status.code(), Some(130), "{message}");
    assert!(message.contains("train --resume --out run"), "{message}");
    let rows = std::fs::read_to_string(&csv).unwrap().lines().count() - 1;
    let latest = std::fs::read_to_string(cwd.join("run/checkpoints/latest")).unwrap();
    assert_eq!(
        latest.trim(),
        format!("step_{rows:07}"),
        "checkpoint at the last step done"
    );
    assert!(cwd.join("run/losses.png").is_file());
    let resumed = ganforge(
        &[
            "train",
            "--resume",
            "--out",
            "run",
            "--plain",
            "--steps",
            &(rows + 2).to_string(),
        ],
        cwd,
    );
    assert!(resumed.status.success(), "{}", stderr(&resumed));
}

/// The last "step N" of a run's epoch lines.
pub(crate) fn last_step_printed(stdout: &str) -> Option<usize> {
    stdout
        .lines()
        .rev()
        .filter_map(|l| l.split(" · step ").nth(1))
        .find_map(|rest| rest.split_whitespace().next()?.parse().ok())
}

#[test]
fn eval_prints_the_generated_scores_beside_the_held_out_real_ones() {
    use burn::prelude::*;
    let (guard, run) = super::tiny_run(3);
    let judge = guard.path().join("judge");
    let (trained, info) = ganforge::eval::judge::train_judge(
        &super::small_digits(200),
        "digits",
        &ganforge::eval::judge::JudgeTraining::new().with_epochs(1),
        4,
        &Device::flex(),
    )
    .unwrap();
    ganforge::eval::judge::save_judge(&trained, &info, &judge).unwrap();
    let out = ganforge(
        &[
            "eval",
            "--run",
            run.to_str().unwrap(),
            "--classifier",
            judge.to_str().unwrap(),
            "--n",
            "30",
        ],
        guard.path(),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}{stdout}", stderr(&out));
    assert!(
        stdout.contains("30 generated") && stdout.contains("30 real held out"),
        "{stdout}"
    );
    for score in [
        "Inception-style score",
        "Fréchet distance",
        "kernel distance (KID)",
        "precision",
        "recall",
    ] {
        let line = stdout
            .lines()
            .find(|l| l.starts_with(score))
            .unwrap_or_else(|| panic!("no {score} line: {stdout}"));
        let numbers = line[score.len()..]
            .split_whitespace()
            .filter(|w| w.parse::<f64>().is_ok())
            .count();
        assert_eq!(numbers, 2, "generated and real: {line}");
    }
}
