//! TensorBoard event files: a run's losses, D's scores, gradient norms and sample figures, as
//! `tensorboard --logdir DIR` reads them.
//!
//! The format is TensorFlow's (`tensorflow/core/util/event.proto`, `summary.proto`; the record
//! framing of `tensorflow/core/lib/io/record_writer.cc`): a file named `events.out.tfevents.*`
//! of records, each `u64 length · u32 masked CRC-32C of the length · the bytes of an Event
//! message · u32 masked CRC-32C of the bytes`. The messages are declared here with `prost`'s
//! derive (no code generation step), with only the fields ganforge writes.
//!
//! Each training process writes a file of its own, so that a resumed run never appends to a
//! file another process wrote. A resumed run's first event is a `SessionLog` START at the step it
//! resumes from: TensorBoard then drops the points at and after that step that an earlier file
//! holds (the steps the kill lost and the resumed run writes again).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use prost::Message;

use crate::error::{GanError, Result};

#[derive(Clone, PartialEq, prost::Message)]
struct Event {
    #[prost(double, tag = "1")]
    wall_time: f64,
    #[prost(int64, tag = "2")]
    step: i64,
    #[prost(oneof = "EventKind", tags = "3, 5, 6")]
    what: Option<EventKind>,
}

#[derive(Clone, PartialEq, prost::Oneof)]
enum EventKind {
    #[prost(string, tag = "3")]
    FileVersion(String),
    #[prost(message, tag = "5")]
    Summary(Summary),
    #[prost(message, tag = "6")]
    SessionLog(SessionLog),
}

#[derive(Clone, PartialEq, prost::Message)]
struct Summary {
    #[prost(message, repeated, tag = "1")]
    value: Vec<SummaryValue>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct SummaryValue {
    #[prost(string, tag = "1")]
    tag: String,
    #[prost(oneof = "ValueKind", tags = "2, 4")]
    value: Option<ValueKind>,
}

#[derive(Clone, PartialEq, prost::Oneof)]
enum ValueKind {
    #[prost(float, tag = "2")]
    SimpleValue(f32),
    #[prost(message, tag = "4")]
    Image(SummaryImage),
}

#[derive(Clone, PartialEq, prost::Message)]
struct SummaryImage {
    #[prost(int32, tag = "1")]
    height: i32,
    #[prost(int32, tag = "2")]
    width: i32,
    /// 1 grey, 3 RGB, 4 RGBA.
    #[prost(int32, tag = "3")]
    colorspace: i32,
    #[prost(bytes = "vec", tag = "4")]
    encoded_image_string: Vec<u8>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct SessionLog {
    /// 1 is START.
    #[prost(int32, tag = "1")]
    status: i32,
}

/// The CRC that TFRecord stores: CRC-32C, rotated and offset so that a CRC of data holding CRCs
/// stays well distributed.
fn masked_crc(bytes: &[u8]) -> u32 {
    let crc = crc32c::crc32c(bytes);
    crc.rotate_right(15).wrapping_add(0xa282_ead8)
}

/// One TFRecord: length, its CRC, the bytes, their CRC.
fn record(bytes: &[u8]) -> Vec<u8> {
    let length = (bytes.len() as u64).to_le_bytes();
    let mut out = Vec::with_capacity(bytes.len() + 16);
    out.extend_from_slice(&length);
    out.extend_from_slice(&masked_crc(&length).to_le_bytes());
    out.extend_from_slice(bytes);
    out.extend_from_slice(&masked_crc(bytes).to_le_bytes());
    out
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// An open event file of one training process.
pub struct EventWriter {
    path: PathBuf,
    file: BufWriter<File>,
}

/// Makes the folder event files go into (the parent of each run's), so that a folder that
/// cannot be made is refused before a run writes anything.
pub fn prepare(logdir: &Path) -> Result<()> {
    std::fs::create_dir_all(logdir).map_err(|e| {
        GanError::io(
            format!(
                "cannot make the TensorBoard folder {} (give `tensorboard` a folder that can be made, or unset it)",
                logdir.display()
            ),
            e,
        )
    })
}

impl EventWriter {
    /// A new event file in `dir` (made if missing). `resumed_from` is the step a resumed run
    /// starts at: the file then begins with the START that makes TensorBoard drop the points an
    /// earlier file holds from that step on.
    pub fn create(dir: &Path, resumed_from: Option<usize>) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| {
            GanError::io(
                format!("cannot make the TensorBoard folder {}", dir.display()),
                e,
            )
        })?;
        let time = now();
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "localhost".to_string());
        // The process id keeps two processes started in the same second apart, the count two
        // sessions of one process.
        static SESSIONS: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "events.out.tfevents.{}.{host}.{}.{}.ganforge",
            time as u64,
            std::process::id(),
            SESSIONS.fetch_add(1, Ordering::Relaxed)
        );
        let path = dir.join(name);
        let file = File::options()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| GanError::io(format!("cannot create {}", path.display()), e))?;
        let mut writer = EventWriter {
            path,
            file: BufWriter::new(file),
        };
        writer.write(Event {
            wall_time: time,
            step: 0,
            what: Some(EventKind::FileVersion("brain.Event:2".to_string())),
        })?;
        if let Some(step) = resumed_from {
            writer.write(Event {
                wall_time: time,
                step: step as i64 + 1,
                what: Some(EventKind::SessionLog(SessionLog { status: 1 })),
            })?;
        }
        writer.flush()?;
        Ok(writer)
    }

    /// The file being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn write(&mut self, event: Event) -> Result<()> {
        self.file
            .write_all(&record(&event.encode_to_vec()))
            .map_err(|e| self.error(e))
    }

    fn error(&self, e: std::io::Error) -> GanError {
        GanError::io(format!("cannot write {}", self.path.display()), e)
    }

    fn summary(&mut self, step: usize, value: Vec<SummaryValue>) -> Result<()> {
        self.write(Event {
            wall_time: now(),
            step: step as i64,
            what: Some(EventKind::Summary(Summary { value })),
        })
    }

    /// Scalars of one step, as (tag, value) pairs; non-finite values are written as they are
    /// (TensorBoard shows them as such).
    pub fn scalars(&mut self, step: usize, values: &[(String, f64)]) -> Result<()> {
        let value = values
            .iter()
            .map(|(tag, v)| SummaryValue {
                tag: tag.clone(),
                value: Some(ValueKind::SimpleValue(*v as f32)),
            })
            .collect();
        self.summary(step, value)
    }

    /// A PNG image of one step under `tag`.
    pub fn png(&mut self, step: usize, tag: &str, png: &[u8]) -> Result<()> {
        let (width, height, colorspace) = png_shape(png).ok_or_else(|| {
            GanError::Output(format!("the {tag} figure of step {step} is not a PNG"))
        })?;
        self.summary(
            step,
            vec![SummaryValue {
                tag: tag.to_string(),
                value: Some(ValueKind::Image(SummaryImage {
                    height: height as i32,
                    width: width as i32,
                    colorspace,
                    encoded_image_string: png.to_vec(),
                })),
            }],
        )
    }

    /// Writes what is buffered to the file.
    pub fn flush(&mut self) -> Result<()> {
        self.file.flush().map_err(|e| self.error(e))
    }
}

/// Width, height and TensorBoard colour space of a PNG, from its header.
fn png_shape(png: &[u8]) -> Option<(u32, u32, i32)> {
    const SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a];
    if png.len() < 26 || png[..8] != SIGNATURE || &png[12..16] != b"IHDR" {
        return None;
    }
    let width = u32::from_be_bytes(png[16..20].try_into().ok()?);
    let height = u32::from_be_bytes(png[20..24].try_into().ok()?);
    // Colour type: 0 grey, 2 RGB, 3 palette (decoded to RGB), 4 grey + alpha, 6 RGBA.
    let colorspace = match png[25] {
        0 => 1,
        4 => 2,
        6 => 4,
        _ => 3,
    };
    Some((width, height, colorspace))
}
