//! The terminal side of a run: a progress bar on a terminal, lines otherwise, or nothing.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

use super::Progress;

/// The terminal side of a run.
pub(crate) enum Reporter {
    Bar(ProgressBar),
    Lines,
    Quiet,
}

impl Reporter {
    pub(crate) fn new(progress: Progress, total: usize, done: usize) -> Self {
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

    pub(crate) fn line(&self, line: &str) {
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

    pub(crate) fn epoch_line(&self, line: &str) {
        self.line(line)
    }

    pub(crate) fn finish(&self) {
        if let Reporter::Bar(bar) = self {
            bar.finish();
        }
    }
}
