//! `report.html`: written with every section, rebuilt by `ganforge report`, and opened by headless
//! Chromium without a script error.

use std::process::Command;

use ganforge::output::report::{SECTIONS, write_report};

#[test]
fn a_run_writes_a_self_contained_report_with_every_section() {
    let (_guard, run) = super::tiny_run(6);
    let html = std::fs::read_to_string(run.join("report.html")).unwrap();
    for (id, heading) in SECTIONS {
        assert!(
            html.contains(&format!("<section id=\"{id}\"><h2>{heading}</h2>")),
            "{id}"
        );
    }
    // Self-contained: images are data URIs; nothing is fetched.
    assert!(html.contains("data:image/png;base64,"));
    assert!(!html.contains("src=\"http") && !html.contains("href=\"http"));
    assert!(
        html.contains("sample-slider"),
        "the samples strip has a slider"
    );
    assert!(
        html.contains("ganforge train --config"),
        "the command to reproduce"
    );
    // Rebuilt on demand, the same page.
    std::fs::remove_file(run.join("report.html")).unwrap();
    write_report(&run).unwrap();
    assert_eq!(
        std::fs::read_to_string(run.join("report.html")).unwrap(),
        html
    );
}

fn chromium() -> Option<String> {
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|b| {
            Command::new(b)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .map(str::to_string)
}

#[test]
fn the_report_opens_in_headless_chromium_without_script_errors() {
    let Some(browser) = chromium() else {
        if std::env::var_os("GANFORGE_SKIP_BROWSER").is_some() {
            return;
        }
        panic!(
            "no chromium: install it (`apt-get install chromium`; .ci/run does) or set GANFORGE_SKIP_BROWSER=1 to skip this test"
        );
    };
    let (guard, run) = super::tiny_run(6);
    let page = format!("file://{}", run.join("report.html").display());
    let common = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--allow-file-access-from-files",
        "--window-size=1100,2400",
    ];
    let shot = guard.path().join("report.png");
    let out = Command::new(&browser)
        .args(common)
        .arg(format!("--screenshot={}", shot.display()))
        .arg(&page)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let screenshot = image::open(&shot).unwrap();
    assert_eq!((screenshot.width(), screenshot.height()), (1100, 2400));
    // The page after its scripts ran: every section, and the marker the last script sets.
    let dom = Command::new(&browser)
        .args(common)
        .arg("--dump-dom")
        .arg(&page)
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(
        dom.contains("data-report-ready=\"yes\""),
        "a script failed: {dom:.300}"
    );
    for (id, _) in SECTIONS {
        assert!(dom.contains(&format!("id=\"{id}\"")), "{id}");
    }
}

#[test]
fn curves_are_smoothed_as_tensorboard_smooths() {
    use ganforge::output::plot::{curve_plot, smoothed, smoothing_for};
    // Weight ½: the averages ½ and 1¾, divided by 1 − ½ and 1 − ¼.
    let s = smoothed(&[(1.0, 1.0), (2.0, 3.0)], 0.5);
    assert_eq!(s[0], (1.0, 1.0));
    assert!((s[1].1 - 1.75 / 0.75).abs() < 1e-12, "{s:?}");
    // A missing value keeps its place and the curve its last value.
    let s = smoothed(&[(1.0, 2.0), (2.0, f64::NAN), (3.0, 2.0)], 0.9);
    assert!(s.iter().all(|p| (p.1 - 2.0).abs() < 1e-12), "{s:?}");
    // About 40 points of memory: none for 40 points, TensorBoard's 0.6 at 100, at most 0.99.
    assert_eq!(smoothing_for(40), 0.0);
    assert!((smoothing_for(100) - 0.6).abs() < 1e-12);
    assert_eq!(smoothing_for(100_000), 0.99);
    // A plot of every iteration is a PNG of the plot's size, a spike and a NaN included.
    let points: Vec<(f64, f64)> = (1..=500)
        .map(|i| {
            let v = match i {
                100 => 1e6,
                200 => f64::NAN,
                _ => (i as f64 / 50.0).sin(),
            };
            (i as f64, v)
        })
        .collect();
    let png = curve_plot("test", "value", &[("sine".to_string(), points)]).unwrap();
    let image = image::load_from_memory(&png).unwrap();
    assert_eq!((image.width(), image.height()), (900, 450));
}
