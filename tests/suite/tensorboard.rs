//! TensorBoard event files, read back by a decoder written here from the format's documents
//! (TFRecord framing with masked CRC-32C; the Event, Summary and SessionLog messages), not by
//! the writer's own types. `scripts/check_tensorboard.py` reads the same files with TensorBoard's
//! own reader (README, "TensorBoard").

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ganforge::device::DeviceChoice;
use ganforge::train::{Progress, ResumeOptions, resume};

/// The records of an event file, each CRC checked.
fn records(path: &Path) -> Vec<Vec<u8>> {
    let masked = |bytes: &[u8]| {
        crc32c::crc32c(bytes)
            .rotate_right(15)
            .wrapping_add(0xa282_ead8)
    };
    let bytes = std::fs::read(path).unwrap();
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let length = &bytes[at..at + 8];
        let n = u64::from_le_bytes(length.try_into().unwrap()) as usize;
        let crc = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap());
        assert_eq!(crc, masked(length), "the length's CRC at byte {at}");
        let data = &bytes[at + 12..at + 12 + n];
        let crc = u32::from_le_bytes(bytes[at + 12 + n..at + 16 + n].try_into().unwrap());
        assert_eq!(crc, masked(data), "the record's CRC at byte {at}");
        out.push(data.to_vec());
        at += 16 + n;
    }
    out
}

/// A protobuf field's value: a varint, 8 or 4 fixed bytes, or length-delimited bytes.
#[derive(Debug, Clone)]
enum Field {
    Varint(u64),
    Fixed64([u8; 8]),
    Fixed32([u8; 4]),
    Bytes(Vec<u8>),
}

fn varint(bytes: &[u8], at: &mut usize) -> u64 {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let b = bytes[*at];
        *at += 1;
        value |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            break;
        }
    }
    value
}

/// The fields of a message by number, in order.
fn fields(bytes: &[u8]) -> Vec<(u64, Field)> {
    let mut at = 0;
    let mut out = Vec::new();
    while at < bytes.len() {
        let key = varint(bytes, &mut at);
        let field = match key & 7 {
            0 => Field::Varint(varint(bytes, &mut at)),
            1 => {
                at += 8;
                Field::Fixed64(bytes[at - 8..at].try_into().unwrap())
            }
            2 => {
                let n = varint(bytes, &mut at) as usize;
                at += n;
                Field::Bytes(bytes[at - n..at].to_vec())
            }
            5 => {
                at += 4;
                Field::Fixed32(bytes[at - 4..at].try_into().unwrap())
            }
            wire => panic!("unexpected wire type {wire}"),
        };
        out.push((key >> 3, field));
    }
    out
}

fn bytes_of(f: &Field) -> &[u8] {
    match f {
        Field::Bytes(b) => b,
        other => panic!("not bytes: {other:?}"),
    }
}

/// What an event file says, decoded.
#[derive(Debug, Default)]
struct Events {
    file_version: Option<String>,
    /// Steps of SessionLog START events.
    starts: Vec<i64>,
    /// (tag, step) → value.
    scalars: BTreeMap<(String, i64), f32>,
    /// (tag, step, width, height, PNG bytes).
    images: Vec<(String, i64, i32, i32, Vec<u8>)>,
    wall_times: Vec<f64>,
}

fn decode(path: &Path, events: &mut Events) {
    for record in records(path) {
        let mut step = 0i64;
        let mut summary = None;
        for (number, field) in fields(&record) {
            match (number, &field) {
                (1, Field::Fixed64(b)) => events.wall_times.push(f64::from_le_bytes(*b)),
                (2, Field::Varint(v)) => step = *v as i64,
                (3, f) => {
                    events.file_version = Some(String::from_utf8(bytes_of(f).to_vec()).unwrap())
                }
                (5, f) => summary = Some(bytes_of(f).to_vec()),
                (6, f) => {
                    let status = fields(bytes_of(f))
                        .into_iter()
                        .find_map(|(n, v)| match (n, v) {
                            (1, Field::Varint(s)) => Some(s),
                            _ => None,
                        });
                    assert_eq!(status, Some(1), "a SessionLog is a START");
                    events.starts.push(step);
                }
                other => panic!("unexpected Event field {other:?}"),
            }
        }
        let Some(summary) = summary else { continue };
        for (number, value) in fields(&summary) {
            assert_eq!(number, 1, "a Summary holds values");
            let mut tag = String::new();
            for (n, f) in fields(bytes_of(&value)) {
                match (n, f) {
                    (1, f) => tag = String::from_utf8(bytes_of(&f).to_vec()).unwrap(),
                    (2, Field::Fixed32(b)) => {
                        events
                            .scalars
                            .insert((tag.clone(), step), f32::from_le_bytes(b));
                    }
                    (4, f) => {
                        let (mut w, mut h, mut png) = (0, 0, Vec::new());
                        for (k, g) in fields(bytes_of(&f)) {
                            match (k, g) {
                                (1, Field::Varint(v)) => h = v as i32,
                                (2, Field::Varint(v)) => w = v as i32,
                                (3, Field::Varint(_)) => {}
                                (4, g) => png = bytes_of(&g).to_vec(),
                                other => panic!("unexpected Image field {other:?}"),
                            }
                        }
                        events.images.push((tag.clone(), step, w, h, png));
                    }
                    other => panic!("unexpected Value field {other:?}"),
                }
            }
        }
    }
}

fn event_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(
        files.iter().all(|f| f
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("events.out.tfevents.")),
        "{files:?}"
    );
    files
}

#[test]
fn a_run_writes_tensorboard_events_of_its_losses_and_figures_and_a_resume_restarts_them() {
    let dir = tempfile::tempdir().unwrap();
    let (run, logdir) = (dir.path().join("digits-run"), dir.path().join("tb"));
    let mut config = super::tiny_config(6);
    config.schedule.tensorboard = Some(logdir.clone());
    config.schedule.progress_interval = 3;
    super::train_quiet(config, &run);

    let files = event_files(&logdir.join("digits-run"));
    assert_eq!(files.len(), 1);
    let mut events = Events::default();
    decode(&files[0], &mut events);
    assert_eq!(events.file_version.as_deref(), Some("brain.Event:2"));
    assert!(events.starts.is_empty(), "a new run has no restart");
    // Every losses.csv column but step and epoch, at every step, with its value.
    let log = std::fs::read_to_string(run.join("losses.csv")).unwrap();
    let mut lines = log.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let mut rows = 0;
    for line in lines {
        rows += 1;
        let cells: Vec<&str> = line.split(',').collect();
        let step: i64 = cells[0].parse().unwrap();
        for (name, cell) in header.iter().zip(&cells).skip(2) {
            let key = (format!("train/{name}"), step);
            match cell.parse::<f64>() {
                Ok(v) => {
                    let logged = events
                        .scalars
                        .get(&key)
                        .unwrap_or_else(|| panic!("{key:?}"));
                    assert!(
                        (f64::from(*logged) - v).abs() <= 1e-6 * v.abs().max(1.0),
                        "{key:?}: {logged} against {v}"
                    );
                }
                Err(_) => assert!(cell.is_empty() && !events.scalars.contains_key(&key)),
            }
        }
    }
    assert_eq!(rows, 6);
    assert!(
        events
            .scalars
            .contains_key(&("train/d_loss".to_string(), 6))
    );
    // The sample figures, as the PNGs the run wrote, at steps 3 and 6.
    let steps: Vec<i64> = events.images.iter().map(|i| i.1).collect();
    assert_eq!(steps, vec![3, 6]);
    for (tag, step, w, h, png) in &events.images {
        assert_eq!(tag, "samples");
        let on_disk = std::fs::read(run.join(format!("samples/step_{step:07}.png"))).unwrap();
        assert_eq!(png, &on_disk);
        let decoded = image::load_from_memory(png).unwrap();
        assert_eq!((decoded.width() as i32, decoded.height() as i32), (*w, *h));
    }
    assert!(events.wall_times.iter().all(|t| *t > 1.7e9));

    // A resume writes a second file that begins with a START at the first step it trains, so
    // that TensorBoard drops what an earlier file holds from there on.
    resume(ResumeOptions {
        device: DeviceChoice::Cpu,
        out: run.clone(),
        steps: Some(9),
        epochs: None,
        keep_checkpoints: None,
        tensorboard: None,
        progress: Progress::Quiet,
    })
    .unwrap();
    let files = event_files(&logdir.join("digits-run"));
    assert_eq!(files.len(), 2, "one file per process");
    let mut resumed = Events::default();
    let newest = files
        .iter()
        .max_by_key(|f| std::fs::metadata(f).unwrap().modified().unwrap())
        .unwrap();
    decode(newest, &mut resumed);
    assert_eq!(resumed.starts, vec![7]);
    let steps: std::collections::BTreeSet<i64> = resumed.scalars.keys().map(|k| k.1).collect();
    assert_eq!(steps.into_iter().collect::<Vec<_>>(), vec![7, 8, 9]);
}

#[test]
fn a_tensorboard_folder_that_cannot_be_made_is_refused_before_training() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, b"not a folder").unwrap();
    let mut config = super::tiny_config(2);
    config.schedule.tensorboard = Some(blocker.join("tb"));
    let err = ganforge::train::train(
        config,
        ganforge::train::TrainOptions {
            device: DeviceChoice::Cpu,
            out: Some(dir.path().join("run")),
            runs_root: dir.path().to_path_buf(),
            progress: Progress::Quiet,
        },
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("TensorBoard folder"), "{err}");
    assert!(!dir.path().join("run").exists(), "nothing was written");
}
