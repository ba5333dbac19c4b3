//! The terminal side of a run: a progress bar on a terminal, lines otherwise, or nothing.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use indicatif::{ProgressBar, ProgressStyle};

use crate::error::{GanError, Result};
use crate::output::run_dir::RunDir;

/// How a run reports on the terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// A progress bar on a terminal, else a line per epoch.
    Auto,
    /// A line per epoch.
    Lines,
    /// Nothing (tests, library use).
    Quiet,
}

/// What a session says: on the terminal through a [`Reporter`], and in the run's `train.log`.
pub(crate) struct Console {
    reporter: Reporter,
    text_log: std::fs::File,
    log_path: PathBuf,
}

impl Console {
    /// Opens `train.log` of `run` for appending (a resumed run continues it); the bar starts at
    /// `done` of `total` steps.
    pub(crate) fn open(
        run: &RunDir,
        progress: Progress,
        total: usize,
        done: usize,
    ) -> Result<Self> {
        let log_path = run.log_path();
        let text_log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|e| GanError::io(format!("cannot open {}", log_path.display()), e))?;
        Ok(Console {
            reporter: Reporter::new(progress, total, done),
            text_log,
            log_path,
        })
    }

    /// A line on the terminal (unless quiet) and in `train.log`.
    pub(crate) fn say(&mut self, line: &str) -> Result<()> {
        self.reporter.line(line);
        writeln!(self.text_log, "{line}")
            .map_err(|e| GanError::io(format!("cannot write {}", self.log_path.display()), e))
    }

    /// The bar moves to `step` with `message` beside it.
    pub(crate) fn progress(&self, step: usize, message: String) {
        self.reporter.progress(step, message);
    }

    pub(crate) fn finish(&self) {
        self.reporter.finish();
    }
}

/// The terminal side of a run.
enum Reporter {
    Bar(ProgressBar),
    Lines,
    Quiet,
}

impl Reporter {
    fn new(progress: Progress, total: usize, done: usize) -> Self {
        match progress {
            Progress::Quiet => Reporter::Quiet,
            Progress::Lines => Reporter::Lines,
            Progress::Auto if !std::io::stdout().is_terminal() => Reporter::Lines,
            Progress::Auto => {
                let bar = ProgressBar::new(total as u64).with_position(done as u64);
                bar.set_style(
                    ProgressStyle::with_template(
                        "{bar:30.cyan/blue} {pos}/{len} [{elapsed_precise}<{eta_precise}] {msg}",
                    )
                    .expect("valid template"),
                );
                Reporter::Bar(bar)
            }
        }
    }

    fn line(&self, line: &str) {
        match self {
            Reporter::Bar(bar) => bar.println(line),
            Reporter::Lines => println!("{line}"),
            Reporter::Quiet => {}
        }
    }

    /// The bar moves to `step` with `message` beside it.
    pub(crate) fn progress(&self, step: usize, message: String) {
        if let Reporter::Bar(bar) = self {
            bar.set_position(step as u64);
            bar.set_message(message);
        }
    }

    pub(crate) fn finish(&self) {
        if let Reporter::Bar(bar) = self {
            bar.finish();
        }
    }
}
