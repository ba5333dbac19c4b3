//! Mode-collapse benchmark metrics on samplers whose answer is known.

use ganforge::eval::modes::{Mixture, mode_coverage};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

#[test]
fn a_perfect_sampler_captures_every_mode() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    for (mixture, modes) in [(Mixture::Ring8, 8), (Mixture::Grid25, 25)] {
        let c = mode_coverage(mixture, &mixture.sample(&mut rng, 2500));
        assert_eq!((c.modes_captured, c.modes), (modes, modes));
        // Within 3σ of the centre in 2-D: 1 − e^(−9/2) ≈ 0.989.
        assert!((c.high_quality - 0.989).abs() < 0.01, "{c:?}");
        assert!(c.reverse_kl < 0.02, "{c:?}");
    }
}

#[test]
fn a_two_mode_sampler_is_caught() {
    let centres = Mixture::Ring8.centres();
    let samples: Vec<[f64; 2]> = (0..100).map(|i| centres[i % 2]).collect();
    let c = mode_coverage(Mixture::Ring8, &samples);
    assert_eq!(c.modes_captured, 2);
    assert_eq!(c.high_quality, 1.0);
    assert!((c.reverse_kl - 4f64.ln()).abs() < 1e-12, "log(8 / 2)");

    let lost = vec![[10.0, 10.0]; 50];
    let c = mode_coverage(Mixture::Ring8, &lost);
    assert_eq!((c.modes_captured, c.high_quality), (0, 0.0));
    assert!(c.reverse_kl.is_infinite());
}

#[test]
fn mixture_specs_parse_or_name_the_valid_ones() {
    assert_eq!(Mixture::parse("mixture:grid25").unwrap(), Mixture::Grid25);
    let err = Mixture::parse("mixture:ring9").unwrap_err().to_string();
    assert!(
        err.contains("mixture:ring8") && err.contains("mixture:grid25"),
        "{err}"
    );
    let grid = Mixture::Grid25.centres();
    assert!(grid.contains(&[-4.0, 4.0]) && grid.contains(&[0.0, 0.0]));
}
