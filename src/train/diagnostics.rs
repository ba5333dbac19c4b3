//! The tutorial's troubleshooting list as warnings: each symptom is detected over a window of
//! recent steps, reported once when it starts (with the tutorial's remedy) and once when it
//! clears. Divergence (NaN/Inf) is not a warning: the loop stops at once (see `session.rs`).

use std::collections::{BTreeSet, VecDeque};

use crate::losses::LossKind;
use crate::output::loss_log::StepRecord;

/// Steps a windowed symptom is judged over.
pub const WINDOW: usize = 50;
/// D "wins": mean D loss and mean D(G(z)) below this over the window (a healthy digits run of
/// ganforge dips to 0.013 at its lowest).
pub const STRONG_D: f64 = 0.01;
/// G's gradient has vanished below this L2 norm (mean over the window).
pub const VANISHING_GRAD: f64 = 1e-4;
/// Standard deviations of D's and G's losses over the window above which training oscillates
/// (a healthy digits run peaks at 0.57 and 1.7).
pub const OSCILLATING_D_STD: f64 = 1.0;
pub const OSCILLATING_G_STD: f64 = 3.0;
/// Fakes are collapsing when their mean pairwise distance falls below this share of the reals'
/// (a healthy digits run sits near 0.7; a generator that makes one image, near 0) and below half
/// the best share the run has reached, or is still below it after [`DIVERSITY_WARMUP`] steps.
pub const COLLAPSE_RATIO: f64 = 0.25;
/// Steps after which a generator that never found diversity counts as collapsed (a healthy
/// digits run passes a ratio of 0.4 by step 20).
pub const DIVERSITY_WARMUP: usize = 4 * WINDOW;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Symptom {
    DiscriminatorTooStrong,
    VanishingGeneratorGradient,
    Oscillation,
    ModeCollapse,
}

impl Symptom {
    pub fn name(self) -> &'static str {
        match self {
            Symptom::DiscriminatorTooStrong => "discriminator too strong",
            Symptom::VanishingGeneratorGradient => "vanishing generator gradient",
            Symptom::Oscillation => "oscillation",
            Symptom::ModeCollapse => "mode collapse",
        }
    }

    /// The tutorial's remedy, as flags of `ganforge train`.
    pub fn remedy(self) -> &'static str {
        match self {
            Symptom::DiscriminatorTooStrong => {
                "lower D's learning rate (--lr-d) or update G more often (--gen-updates), or smooth the real labels (--label-smoothing 0.9)"
            }
            Symptom::VanishingGeneratorGradient => {
                "D saturates: use a loss that keeps G's gradient (--loss wgan or --loss lsgan), or lower D's learning rate (--lr-d)"
            }
            Symptom::Oscillation => {
                "lower both learning rates (--lr-d, --lr-g) or balance the updates (--disc-updates, --gen-updates)"
            }
            Symptom::ModeCollapse => {
                "G makes near-identical images: update D more often (--disc-updates), smooth labels (--label-smoothing 0.9), or try --loss wgan"
            }
        }
    }
}

/// A symptom starting or clearing at a step.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Started {
        symptom: Symptom,
        step: usize,
        detail: String,
    },
    Cleared {
        symptom: Symptom,
        step: usize,
    },
}

impl Event {
    /// The line shown on the terminal and written to `train.log`.
    pub fn message(&self) -> String {
        match self {
            Event::Started {
                symptom,
                step,
                detail,
            } => format!(
                "warning at step {step}: {} ({detail}); remedy: {}",
                symptom.name(),
                symptom.remedy()
            ),
            Event::Cleared { symptom, step } => {
                format!("step {step}: {} has cleared", symptom.name())
            }
        }
    }
}

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    sum / n.max(1) as f64
}

fn std(values: &[f64]) -> f64 {
    let m = mean(values.iter().copied());
    mean(values.iter().map(|v| (v - m).powi(2))).sqrt()
}

/// Mean L2 distance between every pair of `images` (flattened); 0 for fewer than two.
pub fn mean_pairwise_distance(images: &[Vec<f32>]) -> f64 {
    let mut total = 0.0;
    let mut pairs = 0usize;
    for (i, a) in images.iter().enumerate() {
        for b in &images[i + 1..] {
            let d2: f64 = a.iter().zip(b).map(|(x, y)| ((x - y) as f64).powi(2)).sum();
            total += d2.sqrt();
            pairs += 1;
        }
    }
    if pairs == 0 {
        0.0
    } else {
        total / pairs as f64
    }
}

/// Watches a run's steps and reports symptoms as they start and clear.
#[derive(Debug)]
pub struct Diagnostics {
    loss: LossKind,
    recent: VecDeque<StepRecord>,
    active: BTreeSet<Symptom>,
    /// The highest fake/real diversity ratio seen so far.
    best_diversity: f64,
}

impl Diagnostics {
    pub fn new(loss: LossKind) -> Self {
        Diagnostics {
            loss,
            recent: VecDeque::with_capacity(WINDOW),
            active: BTreeSet::new(),
            best_diversity: 0.0,
        }
    }

    /// Symptoms firing now.
    pub fn active(&self) -> impl Iterator<Item = Symptom> + '_ {
        self.active.iter().copied()
    }

    fn update(
        &mut self,
        symptom: Symptom,
        firing: bool,
        step: usize,
        detail: String,
    ) -> Option<Event> {
        match (firing, self.active.contains(&symptom)) {
            (true, false) => {
                self.active.insert(symptom);
                Some(Event::Started {
                    symptom,
                    step,
                    detail,
                })
            }
            (false, true) => {
                self.active.remove(&symptom);
                Some(Event::Cleared { symptom, step })
            }
            _ => None,
        }
    }

    /// Takes one step's record; returns the symptoms that started or cleared with it.
    pub fn observe_step(&mut self, record: &StepRecord) -> Vec<Event> {
        if self.recent.len() == WINDOW {
            self.recent.pop_front();
        }
        self.recent.push_back(record.clone());
        if self.recent.len() < WINDOW {
            return Vec::new();
        }
        let step = record.step;
        let d_loss: Vec<f64> = self.recent.iter().map(|r| r.d_loss).collect();
        let g_loss: Vec<f64> = self.recent.iter().map(|r| r.g_loss).collect();
        let d_mean = mean(d_loss.iter().copied());
        let d_fake = mean(self.recent.iter().map(|r| r.d_fake));
        let g_grad = mean(self.recent.iter().map(|r| r.g_grad_norm));
        let (d_std, g_std) = (std(&d_loss), std(&g_loss));

        // Each objective says what its values mean: D(G(z)) is a probability only for bce, and
        // a WGAN critic's loss has no floor.
        let strong = self
            .loss
            .objective()
            .discriminator_too_strong(d_mean, d_fake, STRONG_D);
        [
            self.update(
                Symptom::DiscriminatorTooStrong,
                strong,
                step,
                format!("mean D loss {d_mean:.4}, mean D(G(z)) {d_fake:.4} over {WINDOW} steps"),
            ),
            self.update(
                Symptom::VanishingGeneratorGradient,
                g_grad < VANISHING_GRAD,
                step,
                format!("mean |∇G| {g_grad:.2e} over {WINDOW} steps"),
            ),
            self.update(
                Symptom::Oscillation,
                d_std > OSCILLATING_D_STD || g_std > OSCILLATING_G_STD,
                step,
                format!("loss std D {d_std:.3}, G {g_std:.3} over {WINDOW} steps"),
            ),
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    /// Takes the diversity of fakes and of reals (mean pairwise distances; within each class for
    /// a conditional run, where the classes alone would make any batch look varied).
    pub fn observe_diversity(&mut self, step: usize, fake: f64, real: f64) -> Vec<Event> {
        let ratio = if real > 0.0 { fake / real } else { 1.0 };
        // An untrained G makes near-identical images (a ratio near 0.06 at step 10 of a healthy
        // digits run, 0.44 by step 20): collapse is diversity lost, or never found by the end of
        // the warm-up.
        let lost = ratio < COLLAPSE_RATIO
            && (ratio < 0.5 * self.best_diversity || step >= DIVERSITY_WARMUP);
        self.best_diversity = self.best_diversity.max(ratio);
        self.update(
            Symptom::ModeCollapse,
            lost,
            step,
            format!(
                "fakes are {ratio:.2}× as far apart as real images, down from {:.2}×",
                self.best_diversity
            ),
        )
        .into_iter()
        .collect()
    }
}
