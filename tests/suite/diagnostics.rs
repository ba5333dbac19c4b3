//! Each warning fires on a constructed case that shows its symptom, clears when it goes, and
//! stays silent on a healthy run.

use ganforge::losses::LossKind;
use ganforge::output::loss_log::StepRecord;
use ganforge::train::diagnostics::{Diagnostics, Event, Symptom, WINDOW, mean_pairwise_distance};

fn healthy(step: usize) -> StepRecord {
    StepRecord {
        step,
        epoch: 0,
        d_loss: 0.6 + 0.05 * ((step % 3) as f64),
        g_loss: 1.2 - 0.1 * ((step % 2) as f64),
        d_real: 0.6,
        d_fake: 0.4,
        wasserstein: None,
        d_grad_norm: 2.0,
        g_grad_norm: 1.5,
        seconds: 0.1,
        images_per_second: 320.0,
    }
}

/// Feeds `count` records made by `make` from step `from`; returns every event.
fn feed(
    d: &mut Diagnostics,
    from: usize,
    count: usize,
    make: impl Fn(usize) -> StepRecord,
) -> Vec<Event> {
    (from..from + count)
        .flat_map(|s| d.observe_step(&make(s)))
        .collect()
}

fn started(events: &[Event]) -> Vec<Symptom> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Started { symptom, .. } => Some(*symptom),
            Event::Cleared { .. } => None,
        })
        .collect()
}

#[test]
fn a_healthy_window_raises_nothing() {
    let mut d = Diagnostics::new(LossKind::Bce);
    assert!(feed(&mut d, 1, 3 * WINDOW, healthy).is_empty());
}

#[test]
fn a_winning_discriminator_is_reported_with_the_remedy_then_cleared() {
    let mut d = Diagnostics::new(LossKind::Bce);
    let strong = |s| StepRecord {
        d_loss: 0.002,
        d_fake: 0.001,
        d_real: 0.999,
        ..healthy(s)
    };
    let events = feed(&mut d, 1, WINDOW - 1, strong);
    assert!(events.is_empty(), "nothing before the window is full");
    let events = feed(&mut d, WINDOW, 1, strong);
    assert_eq!(started(&events), vec![Symptom::DiscriminatorTooStrong]);
    let message = events[0].message();
    assert!(
        message.contains("step 50") && message.contains("--lr-d"),
        "{message}"
    );
    assert!(
        feed(&mut d, WINDOW + 1, 10, strong).is_empty(),
        "reported once"
    );
    let cleared = feed(&mut d, WINDOW + 11, WINDOW, healthy);
    assert!(matches!(
        cleared.as_slice(),
        [Event::Cleared {
            symptom: Symptom::DiscriminatorTooStrong,
            ..
        }]
    ));
    // A WGAN critic's loss has no floor: a loss at 0 says nothing there.
    let mut wgan = Diagnostics::new(LossKind::Wgan);
    assert!(started(&feed(&mut wgan, 1, WINDOW, strong)).is_empty());
}

#[test]
fn a_vanishing_generator_gradient_is_reported() {
    let mut d = Diagnostics::new(LossKind::Wgan);
    let events = feed(&mut d, 1, WINDOW, |s| StepRecord {
        g_grad_norm: 2e-7,
        ..healthy(s)
    });
    assert_eq!(started(&events), vec![Symptom::VanishingGeneratorGradient]);
    assert!(events[0].message().contains("--loss"));
}

#[test]
fn oscillating_losses_are_reported() {
    let mut d = Diagnostics::new(LossKind::Bce);
    let events = feed(&mut d, 1, WINDOW, |s| StepRecord {
        d_loss: if s % 2 == 0 { 0.05 } else { 3.0 },
        ..healthy(s)
    });
    assert_eq!(started(&events), vec![Symptom::Oscillation]);
}

#[test]
fn pairwise_distance_is_the_mean_over_pairs() {
    let points = vec![vec![0.0, 0.0], vec![3.0, 4.0], vec![0.0, 4.0]];
    assert!((mean_pairwise_distance(&points) - 4.0).abs() < 1e-12);
    assert_eq!(mean_pairwise_distance(&points[..1]), 0.0);
}

#[test]
fn identical_fakes_are_reported_as_mode_collapse() {
    let mut d = Diagnostics::new(LossKind::Bce);
    let real: Vec<Vec<f32>> = (0..8).map(|i| vec![i as f32, -(i as f32)]).collect();
    let collapsed = vec![vec![0.5f32, 0.5]; 8];
    let (spread, same) = (
        mean_pairwise_distance(&real),
        mean_pairwise_distance(&collapsed),
    );
    // An untrained G that has not found diversity yet is not collapsing.
    assert!(d.observe_diversity(10, same, spread).is_empty());
    assert!(d.observe_diversity(40, spread * 0.7, spread).is_empty());
    let events = d.observe_diversity(80, same, spread);
    assert_eq!(started(&events), vec![Symptom::ModeCollapse]);
    assert!(
        events[0].message().contains("0.00×"),
        "{}",
        events[0].message()
    );
    let events = d.observe_diversity(
        160,
        mean_pairwise_distance(&real),
        mean_pairwise_distance(&real),
    );
    assert!(matches!(events.as_slice(), [Event::Cleared { .. }]));
}

#[test]
fn a_healthy_short_run_logs_no_warning() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = ganforge::config::TrainOverrides::default()
        .resolve()
        .unwrap();
    config.schedule.steps = Some(70);
    config.schedule.progress_interval = 10;
    let summary = super::train_quiet(config, &dir.path().join("run"));
    let log = std::fs::read_to_string(summary.run_dir.join("train.log")).unwrap();
    assert!(!log.contains("warning"), "{log}");
}
