//! `report.html`: one self-contained page per run (images embedded, no network), rebuilt at every
//! progress interval and at the end, and by `ganforge report --run DIR`.

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::loss_log::{CycleRecord, LogRecord, LossLog, StepRecord};
use super::plot::{Points, curve_plot, points_plot};
use super::run_dir::RunDir;
use super::write_atomic;
use crate::error::{GanError, Result};
use crate::models::ModelKind;

/// The sections of a report, in order: (id, heading). The browser test checks each is shown.
pub const SECTIONS: [(&str, &str); 6] = [
    ("configuration", "Configuration"),
    ("losses", "Loss curves"),
    ("warnings", "Warnings"),
    ("samples", "Samples over time"),
    ("evaluation", "Evaluation"),
    ("reproduce", "Reproduce"),
];

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn data_uri(png: &[u8]) -> String {
    format!("data:image/png;base64,{}", STANDARD.encode(png))
}

/// `value` of every row that has one, against its step.
fn per_step<R: LogRecord>(rows: &[R], value: impl Fn(&R) -> Option<f64>) -> Vec<(f64, f64)> {
    rows.iter()
        .filter_map(|r| value(r).map(|v| (r.step() as f64, v)))
        .collect()
}

/// The loss-curve figures of a run, as PNG bytes with captions: every iteration, smoothed.
fn curves(run: &RunDir, model: ModelKind) -> Result<Vec<(String, Vec<u8>)>> {
    let mut figures = Vec::new();
    if let Ok(png) = std::fs::read(run.losses_png()) {
        figures.push(("Losses".to_string(), png));
    }
    let csv = run.losses_csv();
    if !csv.exists() {
        return Ok(figures);
    }
    if model == ModelKind::Cyclegan {
        let rows = LossLog::<CycleRecord>::read(&csv)?;
        let series = vec![
            (
                "G (A→B)".to_string(),
                per_step(&rows, |r| Some(r.g_grad_norm)),
            ),
            (
                "D (A and B)".to_string(),
                per_step(&rows, |r| Some(r.d_grad_norm)),
            ),
        ];
        figures.push((
            "Gradient norms".into(),
            curve_plot("Gradient norms per iteration", "L2 norm", &series)?,
        ));
        return Ok(figures);
    }
    let rows = LossLog::<StepRecord>::read(&csv)?;
    let scores = vec![
        ("D(x)".to_string(), per_step(&rows, |r| Some(r.d_real))),
        ("D(G(z))".to_string(), per_step(&rows, |r| Some(r.d_fake))),
    ];
    figures.push((
        "D's scores".into(),
        curve_plot("D(x) and D(G(z)) per iteration", "score", &scores)?,
    ));
    let norms = vec![
        ("D".to_string(), per_step(&rows, |r| Some(r.d_grad_norm))),
        ("G".to_string(), per_step(&rows, |r| Some(r.g_grad_norm))),
    ];
    figures.push((
        "Gradient norms".into(),
        curve_plot("Gradient norms per iteration", "L2 norm", &norms)?,
    ));
    if rows.iter().any(|r| r.wasserstein.is_some()) {
        let w = vec![(
            "mean D(x) − mean D(G(z))".to_string(),
            per_step(&rows, |r| r.wasserstein),
        )];
        figures.push((
            "Wasserstein estimate".into(),
            curve_plot("The critic's Wasserstein estimate", "estimate", &w)?,
        ));
    }
    Ok(figures)
}

/// Sample figures in step order.
fn sample_figures(run: &RunDir) -> Vec<(usize, PathBuf)> {
    let mut found: Vec<(usize, PathBuf)> = std::fs::read_dir(run.samples_dir())
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().to_string();
                    let step = name
                        .strip_prefix("step_")?
                        .strip_suffix(".png")?
                        .parse()
                        .ok()?;
                    Some((step, e.path()))
                })
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

/// The scores `ganforge eval` writes for generated images and for the held-out real half
/// (`real_reference`): the row's name, the generated score's key, the real one's key.
const SCORE_ROWS: [(&str, &str, &str); 5] = [
    (
        "Inception-style score",
        "inception_score_generated",
        "inception_score",
    ),
    ("Fréchet distance", "frechet_distance", "frechet_distance"),
    (
        "kernel distance (KID)",
        "kernel_distance",
        "kernel_distance",
    ),
    ("precision", "precision", "precision"),
    ("recall", "recall", "recall"),
];

/// `eval.json` as HTML: the scores beside their real reference when it has one (a generator's
/// eval), then every other key as it is (a CycleGAN's eval has only those).
fn eval_tables(map: &serde_json::Map<String, serde_json::Value>) -> String {
    let mut html = String::new();
    let mut shown: Vec<&str> = Vec::new();
    if let Some(real) = map.get("real_reference").and_then(|v| v.as_object()) {
        let cell =
            |v: Option<&serde_json::Value>| escape(&v.map_or("–".to_string(), |v| v.to_string()));
        html.push_str(&format!(
            "<table><tr><th>score</th><th>generated ({})</th><th>real held-out half ({})</th></tr>",
            cell(map.get("generated")),
            cell(real.get("images"))
        ));
        for (name, generated, reference) in SCORE_ROWS {
            html.push_str(&format!(
                "<tr><th>{}</th><td>{}</td><td>{}</td></tr>",
                escape(name),
                cell(map.get(generated)),
                cell(real.get(reference))
            ));
            shown.push(generated);
        }
        html.push_str("</table>\n");
        shown.push("real_reference");
    }
    html.push_str(&format!(
        "<table>{}</table>",
        map.iter()
            .filter(|(k, _)| !shown.contains(&k.as_str()))
            .map(|(k, v)| format!(
                "<tr><th>{}</th><td>{}</td></tr>",
                escape(k),
                escape(&v.to_string())
            ))
            .collect::<String>()
    ));
    html
}

/// A PNG figure with its caption, inline.
fn figure_html(caption: &str, png: &[u8]) -> String {
    format!(
        "<figure><img src=\"{}\" alt=\"{}\"><figcaption>{}</figcaption></figure>",
        data_uri(png),
        escape(caption),
        escape(caption)
    )
}

/// The scores over the run's checkpoints (`eval --all-checkpoints` writes them), when it has
/// them: FID, and precision with recall, each beside what the held-out real images score.
fn checkpoint_figures(run: &RunDir) -> Result<String> {
    let path = run.checkpoint_scores();
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(String::new());
    };
    // (step, scores) of each checkpoint, the real reference's scores, images a side.
    type Parsed = (Vec<(f64, serde_json::Value)>, serde_json::Value, u64);
    let parsed: Option<Parsed> = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| {
            let checkpoints = v
                .get("checkpoints")?
                .as_array()?
                .iter()
                .map(|c| Some((c.get("step")?.as_f64()?, c.get("scores")?.clone())))
                .collect::<Option<Vec<_>>>()?;
            Some((
                checkpoints,
                v.get("real_reference")?.clone(),
                v.get("generated")?.as_u64()?,
            ))
        });
    let Some((checkpoints, real, generated)) = parsed else {
        return Ok(format!(
            "<p>{} does not parse; run <code>ganforge eval --all-checkpoints</code> again.</p>",
            escape(&path.display().to_string())
        ));
    };
    let score =
        |s: &serde_json::Value, key: &str| s.get(key).and_then(|v| v.as_f64()).unwrap_or(f64::NAN);
    let points = |key: &str| -> Points {
        checkpoints
            .iter()
            .map(|(step, s)| (*step, score(s, key)))
            .collect()
    };
    let fid_caption = "FID over the run's checkpoints";
    let coverage_caption = "Precision and recall over the run's checkpoints";
    let fid = points_plot(
        fid_caption,
        "Fréchet distance",
        &[("generated".to_string(), points("frechet_distance"))],
        &[(
            "real held-out half".to_string(),
            score(&real, "frechet_distance"),
        )],
    )?;
    let coverage = points_plot(
        coverage_caption,
        "share",
        &[
            ("precision".to_string(), points("precision")),
            ("recall".to_string(), points("recall")),
        ],
        &[
            ("real precision".to_string(), score(&real, "precision")),
            ("real recall".to_string(), score(&real, "recall")),
        ],
    )?;
    let best = checkpoints
        .iter()
        .map(|(step, s)| (*step, score(s, "frechet_distance")))
        .filter(|(_, f)| f.is_finite())
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map_or(String::new(), |(step, fid)| {
            format!(
                "<p>Lowest FID at step {step} ({fid:.4}; real halves {:.4}), of {} checkpoints with {generated} generated images each.</p>\n",
                score(&real, "frechet_distance"),
                checkpoints.len(),
            )
        });
    let figures = figure_html(fid_caption, &fid) + &figure_html(coverage_caption, &coverage);
    Ok(format!(
        "<h3>Over the run's checkpoints</h3>\n{best}{figures}"
    ))
}

/// Writes `report.html` into the run directory `run`; returns its path.
pub fn write_report(run: &Path) -> Result<PathBuf> {
    let run_dir = RunDir::open(run)?;
    let config = run_dir.read_config()?;
    let config_text = std::fs::read_to_string(run_dir.config_path())
        .map_err(|e| GanError::io("cannot read config.toml", e))?;
    let log = std::fs::read_to_string(run_dir.log_path()).unwrap_or_default();
    let warnings: Vec<&str> = log
        .lines()
        .filter(|l| {
            l.starts_with("warning at step") || l.contains("has cleared") || l.contains("diverged")
        })
        .collect();
    let figures = curves(&run_dir, config.networks.model)?;
    let samples = sample_figures(&run_dir);
    let eval = std::fs::read_to_string(run_dir.root().join("eval.json")).ok();

    let mut html = String::new();
    let title = format!("ganforge run {}", run_dir.root().display());
    html.push_str(&format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\n<style>\nbody{{font-family:sans-serif;margin:2em auto;max-width:1000px;color:#222}}\nsection{{margin:2em 0}}\nimg{{max-width:100%;image-rendering:pixelated}}\npre{{background:#f4f4f4;padding:1em;overflow:auto}}\ntable{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.3em .6em;text-align:left}}\n</style></head><body>\n<h1>{}</h1>\n<nav>{}</nav>\n",
        escape(&title),
        escape(&title),
        SECTIONS
            .iter()
            .map(|(id, heading)| format!("<a href=\"#{id}\">{heading}</a>"))
            .collect::<Vec<_>>()
            .join(" · ")
    ));
    let section = |id: &str, body: String| {
        let heading = SECTIONS
            .iter()
            .find(|(i, _)| *i == id)
            .map_or(id, |(_, h)| h);
        format!("<section id=\"{id}\"><h2>{heading}</h2>\n{body}</section>\n")
    };
    html.push_str(&section(
        "configuration",
        format!("<pre>{}</pre>", escape(&config_text)),
    ));
    let curves_html = if figures.is_empty() {
        "<p>No epoch has ended yet.</p>".to_string()
    } else {
        figures
            .iter()
            .map(|(caption, png)| figure_html(caption, png))
            .collect()
    };
    html.push_str(&section("losses", curves_html));
    let warnings_html = if warnings.is_empty() {
        "<p>None: the run stayed within every threshold.</p>".to_string()
    } else {
        format!(
            "<ul>{}</ul>",
            warnings
                .iter()
                .map(|w| format!("<li>{}</li>", escape(w)))
                .collect::<String>()
        )
    };
    html.push_str(&section("warnings", warnings_html));
    let samples_html = if samples.is_empty() {
        "<p>No sample figure yet.</p>".to_string()
    } else {
        let uris: Vec<String> = samples
            .iter()
            .filter_map(|(_, path)| std::fs::read(path).ok().map(|png| data_uri(&png)))
            .collect();
        let steps: Vec<String> = samples.iter().map(|(s, _)| s.to_string()).collect();
        let last = uris.len().saturating_sub(1);
        format!(
            "<p><input type=\"range\" id=\"sample-slider\" min=\"0\" max=\"{last}\" value=\"{last}\" aria-label=\"step\"> step <span id=\"sample-step\">{}</span></p>\n<img id=\"sample-image\" src=\"{}\" alt=\"samples\">\n<script>\nconst sampleUris = [{}];\nconst sampleSteps = [{}];\nconst slider = document.getElementById('sample-slider');\nslider.addEventListener('input', () => {{\n  document.getElementById('sample-image').src = sampleUris[slider.value];\n  document.getElementById('sample-step').textContent = sampleSteps[slider.value];\n}});\n</script>\n",
            steps[last],
            uris[last],
            uris.iter()
                .map(|u| format!("\"{u}\""))
                .collect::<Vec<_>>()
                .join(","),
            steps.join(",")
        )
    };
    html.push_str(&section("samples", samples_html));
    let eval_html = match &eval {
        Some(json) => {
            match serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(json) {
                Ok(map) => eval_tables(&map),
                Err(_) => format!("<pre>{}</pre>", escape(json)),
            }
        }
        None => format!(
            "<p>Not evaluated yet: <code>ganforge eval --run {}</code> writes eval.json, and the report shows it.</p>",
            escape(&run_dir.root().display().to_string())
        ),
    };
    let eval_html = eval_html + &checkpoint_figures(&run_dir)?;
    html.push_str(&section("evaluation", eval_html));
    html.push_str(&section(
        "reproduce",
        format!(
            "<pre>ganforge train --config {}/config.toml --out runs/&lt;new run&gt;</pre>",
            escape(&run_dir.root().display().to_string())
        ),
    ));
    // Set last: a script error earlier on the page leaves it unset (the browser test reads it).
    html.push_str(
        "<script>document.body.setAttribute('data-report-ready', 'yes');</script>\n</body></html>\n",
    );
    let path = run_dir.root().join("report.html");
    write_atomic(&path, html.as_bytes())?;
    Ok(path)
}
