//! The one session driver, for each model family alike: the checks that had drifted apart when
//! the single-G/D GANs and CycleGAN had a session each.

use std::path::Path;

use ganforge::config::TrainConfig;
use ganforge::device::DeviceChoice;
use ganforge::output::checkpoint::{latest, read_state};
use ganforge::train::{Progress, ResumeOptions, TrainSummary, resume};

/// One tiny configuration of each family the session driver runs.
fn families() -> [(&'static str, TrainConfig); 2] {
    [
        ("gan", super::tiny_config(5)),
        ("cyclegan", super::cyclegan::tiny_cycle(5)),
    ]
}

/// Sets `key` of the run's `config.toml` to `value`, as a user editing the file would.
fn edit_config(run: &Path, key: &str, value: toml::Value) {
    let path = run.join("config.toml");
    let mut table: toml::Table = std::fs::read_to_string(&path).unwrap().parse().unwrap();
    table.insert(key.to_string(), value);
    std::fs::write(&path, toml::to_string(&table).unwrap()).unwrap();
}

fn resume_to(run: &Path, steps: usize) -> ganforge::error::Result<TrainSummary> {
    resume(ResumeOptions {
        keep_checkpoints: None,
        tensorboard: None,
        device: DeviceChoice::Cpu,
        out: run.to_path_buf(),
        steps: Some(steps),
        epochs: None,
        progress: Progress::Quiet,
    })
}

#[test]
fn every_family_reports_its_last_step_and_losses() {
    for (family, config) in families() {
        let dir = tempfile::tempdir().unwrap();
        let summary = super::train_quiet(config, &dir.path().join("run"));
        let last = summary
            .last
            .unwrap_or_else(|| panic!("{family}: no last step"));
        assert_eq!(last.step, 5, "{family}");
        let names: Vec<&str> = last.losses.iter().map(|(n, _)| *n).collect();
        let expected: &[&str] = match family {
            "gan" => &["d_loss", "g_loss"],
            _ => &["adversarial_ab", "cycle_a", "identity_b", "d_a", "d_b"],
        };
        for name in expected {
            assert!(names.contains(name), "{family}: {name} not in {names:?}");
        }
        assert!(last.losses.iter().all(|(_, v)| v.is_finite()), "{family}");
    }
}

#[test]
fn every_family_refuses_to_resume_from_a_checkpoint_of_another_seed() {
    for (family, config) in families() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        super::train_quiet(config, &run);
        edit_config(&run, "seed", toml::Value::Integer(43));
        let before = super::snapshot(&run);
        let err = resume_to(&run, 10).expect_err(family).to_string();
        assert!(
            err.contains("seed 42") && err.contains("says 43"),
            "{family}: {err}"
        );
        assert_eq!(
            super::snapshot(&run),
            before,
            "{family}: the run was changed"
        );
    }
}

#[test]
fn every_family_refuses_to_checkpoint_a_weight_that_is_not_finite() {
    for (family, config) in families() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        super::train_quiet(config, &run);
        // A generator learning rate past f32's range: the first resumed step computes finite
        // losses with the old weights, then its update makes G's weights infinite or NaN, and
        // the checkpoint after that step (every step now) must not be written.
        edit_config(&run, "lr_g", toml::Value::Float(1e39));
        edit_config(&run, "checkpoint_interval", toml::Value::Integer(1));
        let err = resume_to(&run, 10).expect_err(family).to_string();
        assert!(
            err.contains("diverged at step 6") && err.contains("a weight is NaN or infinite"),
            "{family}: {err}"
        );
        let good = latest(&run.join("checkpoints")).unwrap();
        assert!(
            good.ends_with("step_0000005"),
            "{family}: {}",
            good.display()
        );
        assert_eq!(read_state(&good).unwrap().step, 5, "{family}");
        assert!(!run.join("checkpoints/step_0000006").exists(), "{family}");
        let log = std::fs::read_to_string(run.join("train.log")).unwrap();
        assert_eq!(
            log.matches("a weight is NaN or infinite").count(),
            1,
            "{family}: {log}"
        );
    }
}
