//! The emoji CycleGAN task: its domains (disjoint halves of the emoji file names, one style
//! each) and its measures (content kept, Fréchet distance on a judge's features).

use std::collections::BTreeSet;
use std::io::Read;

use burn::prelude::*;
use ganforge::data::{
    DataSpec, EmojiHalf, EmojiStyle, ImageSet, LoadOptions, decode_file, emoji_base, emoji_files,
    emoji_half_files, emoji_halves,
};
use ganforge::error::GanError;
use ganforge::eval::emoji_task::{content_features, content_kept, judged_frechet_distance};
use ganforge::eval::judge::JudgeConfig;
use rand::{Rng, SeedableRng};

#[test]
fn emoji_half_rule_keeps_skin_tones_together_and_alternates_sorted_bases() {
    assert_eq!(emoji_base("1f44b-1f3fd.png"), "1f44b");
    assert_eq!(
        emoji_base("1f9d1-1f3fb-200d-1f91d-200d-1f9d1-1f3ff.png"),
        "1f9d1-200d-1f91d-200d-1f9d1"
    );
    assert_eq!(emoji_base("0023-fe0f-20e3.png"), "0023-fe0f-20e3");
    // Sorted distinct bases: 0023-fe0f-20e3 (1st: A), 1f44b (2nd: B), 1f600 (3rd: A).
    let files: Vec<String> = [
        "1f600.png",
        "1f44b-1f3fb.png",
        "1f44b.png",
        "0023-fe0f-20e3.png",
        "1f44b-1f3ff.png",
    ]
    .map(String::from)
    .to_vec();
    use EmojiHalf::{A, B};
    assert_eq!(emoji_halves(&files), vec![A, B, B, A, B]);
}

#[test]
fn emoji_halves_are_disjoint_and_cover_every_name_of_both_styles() {
    let noto: BTreeSet<String> = emoji_files(EmojiStyle::Noto).unwrap().into_iter().collect();
    let twemoji: BTreeSet<String> = emoji_files(EmojiStyle::Twemoji)
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(noto.len(), 3786);
    assert_eq!(noto, twemoji, "both archives name the same emoji");
    let (a, b) = (
        emoji_half_files(EmojiHalf::A).unwrap(),
        emoji_half_files(EmojiHalf::B).unwrap(),
    );
    let (set_a, set_b): (BTreeSet<_>, BTreeSet<_>) =
        (a.iter().cloned().collect(), b.iter().cloned().collect());
    assert_eq!(set_a.len(), a.len(), "no name twice");
    assert!(set_a.is_disjoint(&set_b));
    assert_eq!(set_a.union(&set_b).cloned().collect::<BTreeSet<_>>(), noto);
    // Sorted, so that the i-th image of each style of a half is the same emoji.
    assert!(a.windows(2).all(|w| w[0] < w[1]));
    assert!(b.windows(2).all(|w| w[0] < w[1]));
    // No emoji base (an emoji with its skin tones) in both halves.
    let bases =
        |names: &[String]| -> BTreeSet<String> { names.iter().map(|n| emoji_base(n)).collect() };
    assert!(bases(&a).is_disjoint(&bases(&b)));
    // Alternating bases split the set roughly in two.
    eprintln!("emoji halves: {} and {} images", a.len(), b.len());
    assert!(
        a.len() > 1500 && b.len() > 1500,
        "{} / {}",
        a.len(),
        b.len()
    );
}

#[test]
fn emoji_domain_specs_parse_display_and_refuse_unknown_ones() {
    for (text, style, half) in [
        ("emoji-noto-a", EmojiStyle::Noto, EmojiHalf::A),
        ("emoji-noto-b", EmojiStyle::Noto, EmojiHalf::B),
        ("emoji-twemoji-a", EmojiStyle::Twemoji, EmojiHalf::A),
        ("emoji-twemoji-b", EmojiStyle::Twemoji, EmojiHalf::B),
    ] {
        let spec = DataSpec::parse(text).unwrap();
        assert_eq!(spec, DataSpec::EmojiDomain(style, half));
        assert_eq!(spec.to_string(), text);
        assert_eq!(spec.short_name(), text);
    }
    assert_eq!(DataSpec::parse("emoji").unwrap(), DataSpec::Emoji);
    for bad in [
        "emoji-noto-c",
        "emoji-apple-a",
        "emoji-twemoji",
        "emoji-",
        "emoji-noto-a-b",
    ] {
        match DataSpec::parse(bad) {
            Err(GanError::UnknownDataset(name, kinds)) => {
                assert_eq!(name, bad);
                assert!(kinds.contains("emoji-twemoji-b"), "{kinds}");
            }
            other => panic!("{bad}: {other:?}"),
        }
    }
}

/// Unpacks `data/<archive>` into `dir`.
fn unpack(archive: &str, dir: &std::path::Path) {
    let mut bytes = Vec::new();
    std::fs::File::open(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("data")
            .join(archive),
    )
    .unwrap()
    .read_to_end(&mut bytes)
    .unwrap();
    tar::Archive::new(flate2::read::GzDecoder::new(&bytes[..]))
        .unpack(dir)
        .unwrap();
}

#[test]
fn each_emoji_domain_is_its_style_on_its_half_in_sorted_order() {
    let tmp = tempfile::tempdir().unwrap();
    unpack("emoji-noto-64.tar.gz", tmp.path());
    unpack("emoji-twemoji-64.tar.gz", tmp.path());
    let options = LoadOptions {
        limit: Some(40),
        ..LoadOptions::new(32, 3)
    };
    for style in EmojiStyle::ALL {
        for half in EmojiHalf::ALL {
            let set = ImageSet::load(&DataSpec::EmojiDomain(style, half), options).unwrap();
            assert_eq!(set.len(), 40);
            let names = emoji_half_files(half).unwrap();
            for i in [0, 7, 39] {
                let file = |s: EmojiStyle| {
                    let root = match s {
                        EmojiStyle::Noto => "emoji-noto-64",
                        EmojiStyle::Twemoji => "emoji-twemoji-64",
                    };
                    tmp.path().join(root).join("images").join(&names[i])
                };
                let own = decode_file(&file(style), &options).unwrap();
                assert_eq!(set.image(i), &own[..], "{style:?} {half:?} #{i}");
                let other = match style {
                    EmojiStyle::Noto => EmojiStyle::Twemoji,
                    EmojiStyle::Twemoji => EmojiStyle::Noto,
                };
                let theirs = decode_file(&file(other), &options).unwrap();
                assert_ne!(set.image(i), &theirs[..], "the other style differs");
            }
        }
    }
}

fn random_images(n: usize, len: usize, seed: u64) -> Vec<Vec<f32>> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| (0..len).map(|_| rng.random_range(-1.0f32..1.0)).collect())
        .collect()
}

#[test]
fn content_features_average_two_by_two_blocks_at_32_pixels() {
    // One channel of 32×32 whose pixel (y, x) is y·32 + x: each 2×2 block's mean is
    // (2i·32 + 2j) + (1 + 32 + 33) / 4 = 64i + 2j + 16.5.
    let image: Vec<f32> = (0..32 * 32).map(|p| p as f32).collect();
    let pooled = content_features(&image, 1, 32);
    assert_eq!(pooled.len(), 16 * 16);
    for (i, j) in [(0, 0), (3, 5), (15, 15)] {
        assert_eq!(pooled[i * 16 + j], (64 * i + 2 * j) as f32 + 16.5);
    }
    // 16×16 and smaller are compared as they are.
    let small = random_images(1, 3 * 16 * 16, 1).remove(0);
    assert_eq!(content_features(&small, 3, 16), small);
}

#[test]
fn content_kept_is_the_share_of_translations_nearest_their_counterpart() {
    let gallery = random_images(6, 3 * 32 * 32, 7);
    assert_eq!(content_kept(&gallery, &gallery, 3, 32), 1.0);
    // Translation i lands on gallery image p(i): kept where p(i) = i, 2 of 6.
    let p = [1, 0, 2, 3, 5, 4];
    let permuted: Vec<Vec<f32>> = p.iter().map(|&j| gallery[j].clone()).collect();
    assert!((content_kept(&permuted, &gallery, 3, 32) - 2.0 / 6.0).abs() < 1e-12);
    // Slightly off the counterpart is still nearest it; a tie with another image is a miss.
    let nudged: Vec<Vec<f32>> = gallery
        .iter()
        .map(|g| g.iter().map(|v| v + 0.01).collect())
        .collect();
    assert_eq!(content_kept(&nudged, &gallery, 3, 32), 1.0);
    let mut tied = gallery.clone();
    tied[0] = gallery[1].clone();
    assert!((content_kept(&gallery, &tied, 3, 32) - 4.0 / 6.0).abs() < 1e-12);
    assert_eq!(content_kept(&[], &gallery, 3, 32), 0.0);
}

#[test]
fn judged_frechet_distance_of_a_set_with_itself_is_zero() {
    let device = Device::flex();
    let judge = JudgeConfig::new(3, 16, 10).init(&device);
    let set = random_images(64, 3 * 16 * 16, 3);
    let same = judged_frechet_distance(&judge, &set, &set, [3, 16, 16], &device);
    let brighter: Vec<Vec<f32>> = set
        .iter()
        .map(|g| g.iter().map(|v| (v + 0.5).min(1.0)).collect())
        .collect();
    let other = judged_frechet_distance(&judge, &set, &brighter, [3, 16, 16], &device);
    eprintln!("FID with itself {same:e}, with a brighter copy {other:e}");
    assert!(same.abs() < 1e-4 * other, "{same} vs {other}");
    assert!(other > 0.0);
}
