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
