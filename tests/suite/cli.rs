//! The command line as a user meets it: exit codes, messages, and nothing written on error.

use std::path::Path;
use std::process::{Command, Output};

use super::snapshot;

fn ganforge(args: &[&str], cwd: &Path) -> Output {
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

const TINY: [&str; 10] = [
    "--capacity",
    "2",
    "--batch",
    "4",
    "--latent",
    "8",
    "--num-load",
    "40",
    "--steps",
    "2",
];

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
    let mut args = vec!["train", "--out", "run", "--plain"];
    args.extend(TINY);
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
    let mut args = vec!["train", "--plain"];
    args.extend(TINY);
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
}
