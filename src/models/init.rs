//! Seeded initialisation: drawing a network's initial weights from a given seed, reproducibly
//! even when several initialisations run at once in one process. Here, below the training loop
//! and the judge, because both draw initial weights.

use std::sync::Mutex;

use burn::prelude::Device;

/// Backends such as flex keep one process-wide RNG: seeding it and drawing the initial weights
/// happen under this lock so that concurrent runs in one process (tests) stay reproducible.
static INIT_LOCK: Mutex<()> = Mutex::new(());

/// Runs `init` with `device`'s RNG seeded by `seed` and no other initialisation in this process
/// drawing from it meanwhile. `init` should materialise what it draws (burn draws a parameter
/// at its first use): see [`crate::models::materialize_parameters`].
pub fn with_seed<T>(device: &Device, seed: u64, init: impl FnOnce() -> T) -> T {
    let _guard = INIT_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    device.seed(seed);
    init()
}
