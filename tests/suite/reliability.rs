//! One writer per run, a really full disk, kills at random moments, and data too small to learn
//! from: the guarantees of README "Runs that survive faults", each checked from outside, through
//! the binary.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::cli::ganforge;
use super::snapshot;

pub(crate) fn spawn(args: &[&str], cwd: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_ganforge"))
        .args(args)
        .current_dir(cwd)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).to_string()
}

/// Tiny networks on 40 digits: a step takes milliseconds.
pub(crate) const TINY: [&str; 9] = [
    "--plain",
    "--capacity",
    "2",
    "--batch",
    "4",
    "--latent",
    "8",
    "--num-load",
    "40",
];

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < Duration::from_secs(120), "{what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn signal(child: &Child, name: &str) {
    let ok = Command::new("kill")
        .args([name, &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill {name}");
}

/// The steps of a run's `losses.csv`, in file order.
fn logged_steps(run: &Path) -> Vec<usize> {
    let text = std::fs::read_to_string(run.join("losses.csv")).unwrap_or_default();
    text.lines()
        .skip(1)
        .filter_map(|l| l.split(',').next()?.parse().ok())
        .collect()
}

#[test]
fn the_run_lock_is_exclusive_names_its_holder_and_goes_with_its_owner() {
    use ganforge::output::run_lock::RunLock;
    let dir = tempfile::tempdir().unwrap();
    let lock = RunLock::acquire(dir.path()).unwrap();
    // flock locks belong to an open file, so even this process cannot take it twice.
    let err = RunLock::acquire(dir.path()).unwrap_err().to_string();
    let me = format!("process {}", std::process::id());
    assert!(err.contains(&me) && err.contains("one writer"), "{err}");
    assert!(err.contains(&dir.path().display().to_string()), "{err}");
    drop(lock);
    RunLock::acquire(dir.path()).expect("free again once its holder is gone");
}

#[test]
fn a_second_writer_is_refused_at_once_with_nothing_written() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let long = [
        &["train", "--out", "run", "--steps", "1000000"][..],
        &TINY[..],
        &["--iterations-per-epoch", "1", "--checkpoint-interval", "5"][..],
    ]
    .concat();
    let mut first = spawn(&long, cwd);
    wait_for("the first run did not checkpoint", || {
        cwd.join("run/checkpoints/latest").exists()
    });
    // Held still, so that any file the second writer touched would show.
    signal(&first, "-STOP");
    let before = snapshot(cwd);
    let started = Instant::now();
    for args in [
        &[
            "train", "--resume", "--out", "run", "--plain", "--steps", "2000000",
        ][..],
        &["train", "--resume", "--out", "run", "--plain"][..],
    ] {
        let out = ganforge(args, cwd);
        let message = text(&out.stderr);
        assert!(!out.status.success(), "{args:?} must be refused");
        assert!(
            message.contains(&format!("run is being written by process {}", first.id())),
            "{message}"
        );
        assert!(message.contains("nothing was changed"), "{message}");
        assert!(!message.contains("panicked"), "{message}");
    }
    // A new run over it is refused as before (it holds a run).
    let out = ganforge(&[&["train", "--out", "run"][..], &TINY[..]].concat(), cwd);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("already holds a run"));
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "refused at once, before any training"
    );
    assert_eq!(snapshot(cwd), before, "the refused writers wrote nothing");

    // SIGKILL leaves no stale lock: the OS lock went with the process.
    signal(&first, "-CONT");
    first.kill().unwrap();
    first.wait().unwrap();
    let done = ganforge::output::checkpoint::read_state(
        &ganforge::output::checkpoint::latest(&cwd.join("run/checkpoints")).unwrap(),
    )
    .unwrap()
    .step;
    let target = (done + 3).to_string();
    let out = ganforge(
        &[
            "train", "--resume", "--out", "run", "--plain", "--steps", &target,
        ],
        cwd,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        logged_steps(&cwd.join("run")),
        (1..=done + 3).collect::<Vec<_>>()
    );
}

/// Whether nothing partial is left in a run: no hidden temporary file or checkpoint.
fn partial_files(run: &Path) -> Vec<PathBuf> {
    walkdir::WalkDir::new(run)
        .into_iter()
        .flatten()
        .filter(|e| {
            let n = e.file_name().to_string_lossy();
            n.starts_with(".tmp_")
                || (n.starts_with('.') && n.ends_with(".tmp"))
                || n.ends_with(".partial")
        })
        .map(|e| e.path().to_path_buf())
        .collect()
}

#[test]
fn sigkill_at_20_random_moments_loses_at_most_an_interval_and_never_a_row() {
    use rand::{Rng, SeedableRng};
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let run = cwd.join("run");
    let interval = 3;
    // Conditional, so that `export` labels its images without a judge.
    let first = [
        &[
            "train",
            "--out",
            "run",
            "--conditional",
            "--steps",
            "1000000",
        ][..],
        &TINY[..],
        &["--iterations-per-epoch", "1", "--checkpoint-interval", "3"][..],
        &["--progress-interval", "2"][..],
    ]
    .concat();
    let resume = ["train", "--out", "run", "--resume", "--plain"];
    // A quick judge where eval looks for one, so that eval is among the readers killed.
    let judge = ganforge(&["classifier", "train", "--epochs", "1"], cwd);
    assert!(judge.status.success(), "{}", text(&judge.stderr));
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(17);
    let mut previous = 0;
    let mut readers_killed = 0;
    for round in 0..20 {
        let mut child = spawn(if round == 0 { &first } else { &resume }, cwd);
        if round == 0 {
            wait_for("no first checkpoint", || {
                run.join("checkpoints/latest").exists()
            });
        }
        // Every third round a reader works beside training and is killed too, mid-write:
        // export, sample --each and eval in turn.
        let reader = (round % 3 == 1).then(|| {
            let out = format!("out_{round}");
            let args: Vec<String> = match (round / 3) % 3 {
                0 => ["export", "--run", "run", "--n", "400", "--out", &out]
                    .map(String::from)
                    .to_vec(),
                1 => ["sample", "--run", "run", "--n", "400", "--out"]
                    .map(String::from)
                    .into_iter()
                    .chain([format!("{out}.png"), "--each".into(), out.clone()])
                    .collect(),
                _ => ["eval", "--run", "run", "--n", "20", "--tstr-epochs", "0"]
                    .map(String::from)
                    .to_vec(),
            };
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            (spawn(&args, cwd), out)
        });
        std::thread::sleep(Duration::from_millis(rng.random_range(30..600)));
        child.kill().unwrap(); // SIGKILL
        let out = child.wait_with_output().unwrap();
        if let Some((mut reader, folder)) = reader {
            std::thread::sleep(Duration::from_millis(rng.random_range(0..200)));
            let _ = reader.kill();
            reader.wait().unwrap();
            readers_killed += 1;
            // A reader's folder is complete or absent: never a part of one.
            let folder = cwd.join(&folder);
            if folder.exists() {
                let files = walkdir::WalkDir::new(&folder)
                    .into_iter()
                    .flatten()
                    .filter(|e| e.file_type().is_file())
                    .count();
                assert_eq!(files, 400, "round {round}: {} is partial", folder.display());
            }
            let grid = cwd.join(format!("{}.png", folder.display()));
            if grid.exists() {
                image::open(&grid).expect("a grid that exists is a whole PNG");
            }
            if let Ok(json) = std::fs::read_to_string(run.join("eval.json")) {
                serde_json::from_str::<serde_json::Value>(&json)
                    .expect("an eval.json that exists is whole");
            }
        }
        let latest = ganforge::output::checkpoint::latest(&run.join("checkpoints"))
            .unwrap_or_else(|e| panic!("round {round}: no valid checkpoint: {e}"));
        let state = ganforge::output::checkpoint::read_state(&latest).unwrap();
        // The checkpoint named latest loads, checksums and all.
        let config = ganforge::output::run_dir::RunDir::open(&run)
            .unwrap()
            .read_config()
            .unwrap();
        ganforge::output::checkpoint::load_generator(
            &config,
            &latest,
            &burn::prelude::Device::flex(),
        )
        .unwrap_or_else(|e| panic!("round {round}: latest does not load: {e}"));
        assert!(
            state.step >= previous,
            "round {round}: went back to {}",
            state.step
        );
        let stdout = text(&out.stdout);
        if let Some(done) = super::cli::last_step_printed(&stdout) {
            assert!(
                done.saturating_sub(state.step) <= interval,
                "round {round}: {done} steps done, checkpoint at {}",
                state.step
            );
        }
        // The log never skips or repeats a step, whatever moment the kill came.
        let steps = logged_steps(&run);
        assert_eq!(
            steps,
            (1..=steps.len()).collect::<Vec<_>>(),
            "round {round}: losses.csv steps are contiguous"
        );
        previous = state.step;
    }
    assert!(readers_killed >= 6);
    let target = (previous + 2).to_string();
    let out = ganforge(&[&resume[..], &["--steps", &target]].concat(), cwd);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(logged_steps(&run), (1..=previous + 2).collect::<Vec<_>>());
    assert!(partial_files(&run).is_empty(), "{:?}", partial_files(&run));
}

/// A tmpfs of `size` mounted at a new directory, unmounted when dropped; `Err` says why not.
struct SmallDisk {
    mount: PathBuf,
    _dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(size: &str) -> Result<Self, String> {
        if !cfg!(target_os = "linux") {
            return Err("not Linux".into());
        }
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let mount = dir.path().join("disk");
        std::fs::create_dir(&mount).map_err(|e| e.to_string())?;
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&mount)
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "mount -t tmpfs failed (not root, or no mount rights): {}",
                text(&out.stderr).trim()
            ));
        }
        Ok(SmallDisk { mount, _dir: dir })
    }

    fn grow(&self, size: &str) {
        let ok = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.mount)
            .status()
            .unwrap()
            .success();
        assert!(ok, "remount");
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.mount).status();
    }
}

#[test]
fn a_really_full_disk_stops_training_cleanly_and_resume_goes_on_once_space_is_freed() {
    let disk = match SmallDisk::mount("8m") {
        Ok(disk) => disk,
        Err(why) => {
            println!("SKIPPED a_really_full_disk…: cannot mount a small filesystem: {why}");
            return;
        }
    };
    let cwd = &disk.mount;
    let run = cwd.join("run");
    // Checkpoints (3.5 MiB each) every 2 steps, all kept: the second fits, a later one does
    // not; samples are rare.
    let args = [
        &["train", "--out", "run", "--steps", "100000"][..],
        &[
            "--plain",
            "--capacity",
            "8",
            "--batch",
            "4",
            "--num-load",
            "200",
        ][..],
        &["--iterations-per-epoch", "50", "--checkpoint-interval", "2"][..],
        &[
            "--progress-interval",
            "100000",
            "--keep-checkpoints",
            "1000",
        ][..],
    ]
    .concat();
    let out = ganforge(&args, cwd);
    let message = text(&out.stderr);
    assert!(!out.status.success(), "the disk must fill: {message}");
    assert!(
        message.contains("no space left on the disk for"),
        "{message}"
    );
    // It names the file it could not write (inside the checkpoint being written).
    assert!(message.contains("run/checkpoints/.tmp_step_"), "{message}");
    assert!(
        message.contains(".bpk") || message.contains("state.toml"),
        "{message}"
    );
    assert!(
        message.contains("free there") && message.contains("a checkpoint needs"),
        "{message}"
    );
    assert!(!message.contains("panicked"), "{message}");
    // Its own partial files went at once; the last complete checkpoint is kept and loads.
    assert!(partial_files(&run).is_empty(), "{:?}", partial_files(&run));
    let latest = ganforge::output::checkpoint::latest(&run.join("checkpoints")).unwrap();
    let config = ganforge::output::run_dir::RunDir::open(&run)
        .unwrap()
        .read_config()
        .unwrap();
    ganforge::output::checkpoint::load_generator(&config, &latest, &burn::prelude::Device::flex())
        .unwrap();
    let step = ganforge::output::checkpoint::read_state(&latest)
        .unwrap()
        .step;
    assert!(step >= 2);

    // A reader on the full disk fails the same way and leaves nothing behind.
    let before = snapshot(cwd);
    let args = [
        "sample", "--run", "run", "--n", "6000", "--out", "grid.png", "--each", "each",
    ];
    let out = ganforge(&args, cwd);
    let message = text(&out.stderr);
    assert!(!out.status.success(), "sample must fill the disk");
    assert!(
        message.contains("the disk is full") && message.contains("free there"),
        "{message}"
    );
    assert_eq!(snapshot(cwd), before, "sample left nothing");

    // A stale partial checkpoint (as a kill would leave) is removed at the next start.
    std::fs::create_dir(run.join("checkpoints/.tmp_step_9999999")).unwrap();
    // Space freed: the disk grows; the run resumes, keeping fewer checkpoints now.
    disk.grow("64m");
    let target = (step + 4).to_string();
    let out = ganforge(
        &[
            "train",
            "--resume",
            "--out",
            "run",
            "--plain",
            "--steps",
            &target,
            "--keep-checkpoints",
            "2",
        ],
        cwd,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(partial_files(&run).is_empty(), "{:?}", partial_files(&run));
    assert_eq!(logged_steps(&run), (1..=step + 4).collect::<Vec<_>>());
    let kept = std::fs::read_dir(run.join("checkpoints"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("step_"))
        .count();
    assert_eq!(kept, 2, "keep_checkpoints = 2 leaves two");
}

#[test]
fn too_little_data_trains_with_a_warning_that_says_what_will_happen() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let images = cwd.join("one");
    std::fs::create_dir(&images).unwrap();
    image::RgbImage::from_pixel(1, 1, image::Rgb([200, 30, 30]))
        .save(images.join("dot.png"))
        .unwrap();
    let out = ganforge(
        &[
            "train",
            "--out",
            "run",
            "--data",
            "folder:one",
            "--spatial",
            "16",
            "--plain",
            "--capacity",
            "2",
            "--steps",
            "2",
        ],
        cwd,
    );
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        stdout.contains("warning: the data is one image, fewer than the batch of 32")
            && stdout.contains("memorisation")
            && stdout.contains("lower --batch to 1"),
        "{stdout}"
    );
    // A handful, but more than a batch.
    let out = ganforge(
        &[&["train", "--out", "run40", "--steps", "2"][..], &TINY[..]].concat(),
        cwd,
    );
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("warning: the data is only 40 images"),
        "{stdout}"
    );
    // The full digits say nothing of the kind.
    let out = ganforge(
        &[
            "train",
            "--out",
            "full",
            "--plain",
            "--capacity",
            "2",
            "--steps",
            "1",
        ],
        cwd,
    );
    assert!(!text(&out.stdout).contains("warning: the data"));
}
