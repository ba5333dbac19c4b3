//! The GPU code paths. Built with `--features wgpu` (as `scripts/test` does after the CPU suite),
//! these run burn's wgpu backend on whatever Vulkan driver the machine has: on CI, Mesa's
//! software one (lavapipe, Debian package mesa-vulkan-drivers, installed by `scripts/setup`);
//! built with `--features cuda` (`scripts/check-cuda`), on CUDA where a driver is. Without
//! either feature only the missing-driver tests are built; they run in every build: a GPU backend
//! that is not compiled in, or has no driver, is refused before anything is written.

/// `train --device D` that must be refused: non-zero exit, the message naming the way out, and no
/// run directory left behind.
fn refused_without_a_trace(device: &str, envs: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("run");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ganforge"))
        .args(["train", "--steps", "2", "--device", device, "--out"])
        .arg(&out_dir)
        .envs(envs.iter().copied())
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        !out_dir.exists(),
        "a refused run left {}",
        out_dir.display()
    );
    assert!(
        stderr.contains("--device cpu") || stderr.contains("--features"),
        "{stderr}"
    );
    stderr
}

#[test]
fn a_cuda_device_without_its_driver_or_feature_is_refused_before_anything_is_written() {
    if !cfg!(feature = "cuda") {
        let stderr = refused_without_a_trace("cuda", &[]);
        assert!(stderr.contains("--features cuda"), "{stderr}");
        return;
    }
    if ganforge::device::DeviceChoice::Cuda.device().is_ok() {
        println!(
            "SKIPPED: this machine has a working CUDA driver; the refusal is checked where none is"
        );
        return;
    }
    // No NVIDIA driver here (CI; the project's machines): the probe's refusal, not a panic.
    let stderr = refused_without_a_trace("cuda", &[]);
    assert!(
        stderr.contains("cannot be used on this machine"),
        "{stderr}"
    );
    assert!(stderr.contains("NVIDIA"), "{stderr}");
}

#[test]
fn a_wgpu_device_without_a_vulkan_driver_is_refused_before_anything_is_written() {
    // Driver lists naming no driver hide every Vulkan driver from the Vulkan loader and every
    // EGL vendor from libglvnd (wgpu falls back to OpenGL through EGL when Vulkan has none).
    let stderr = refused_without_a_trace(
        "wgpu",
        &[
            ("VK_ICD_FILENAMES", "/nonexistent/icd.json"),
            ("VK_DRIVER_FILES", "/nonexistent/icd.json"),
            ("__EGL_VENDOR_LIBRARY_FILENAMES", "/nonexistent/egl.json"),
        ],
    );
    if cfg!(feature = "wgpu") {
        assert!(
            stderr.contains("cannot be used on this machine"),
            "{stderr}"
        );
        assert!(stderr.contains("mesa-vulkan-drivers"), "{stderr}");
    } else {
        assert!(stderr.contains("--features wgpu"), "{stderr}");
    }
}

#[cfg(any(feature = "wgpu", feature = "cuda"))]
mod on_gpu {
    use burn::prelude::*;
    use ganforge::device::DeviceChoice;
    use ganforge::models::{
        DcganDiscriminatorConfig, DcganGeneratorConfig, DiscriminatorNet, GeneratorNet,
        ResnetDiscriminatorConfig, ResnetGeneratorConfig,
    };

    use super::super::cli::ganforge;

    /// The compiled-in GPU backends that work on this machine; each one that does not is said
    /// to be skipped.
    fn gpus() -> Vec<(DeviceChoice, Device)> {
        [DeviceChoice::Wgpu, DeviceChoice::Cuda]
            .into_iter()
            .filter(|choice| choice.is_compiled_in())
            .filter_map(|choice| match choice.device() {
                Ok(device) => Some((choice, device)),
                Err(e) => {
                    println!("SKIPPED on {}: {e}", choice.name());
                    None
                }
            })
            .collect()
    }

    fn largest_difference<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> f32 {
        let (a, b) = (ganforge::tensor_values(a), ganforge::tensor_values(b));
        assert_eq!(a.len(), b.len());
        a.iter().zip(&b).fold(0.0, |m, (x, y)| m.max((x - y).abs()))
    }

    /// Tolerance of a forward pass on wgpu against the CPU backend: both compute in f32 with
    /// other summation orders; over the tutorial networks the differences measured are of the
    /// order of 1e-6 on tanh images and D logits.
    const TOLERANCE: f32 = 1e-4;

    #[test]
    fn gpu_forward_passes_match_the_cpu_backend() {
        for (choice, gpu) in gpus() {
            println!("on {}:", choice.name());
            forward_passes_match(&gpu);
        }
    }

    fn forward_passes_match(gpu: &Device) {
        let gpu = gpu.clone();
        let cpu = Device::flex();
        ganforge::models::with_seed(&cpu, 7, || {
            let noise =
                Tensor::<2>::random([4, 100], burn::tensor::Distribution::Normal(0.0, 1.0), &cpu);
            // The tutorial's DCGAN at its 64×64 RGB shape, G and D (BatchNorm in inference).
            let g = DcganGeneratorConfig::new(64, 3).init(&cpu);
            let d = DcganDiscriminatorConfig::new(3).init(&cpu);
            let images = g.forward(noise.clone());
            let on_gpu = g
                .clone()
                .to_device(&gpu)
                .forward(noise.clone().to_device(&gpu));
            let dg = largest_difference(images.clone(), on_gpu.to_device(&cpu));
            let logits = d.forward(images.clone());
            let gpu_logits = d.to_device(&gpu).forward(images.clone().to_device(&gpu));
            let dd = largest_difference(logits, gpu_logits.to_device(&cpu));
            println!("DCGAN 64×64: G images differ by {dg:.2e}, D logits by {dd:.2e}");
            assert!(dg <= TOLERANCE && dd <= TOLERANCE, "{dg} {dd}");

            // The modern recipe's residual networks (spectral norm in D) at 32×32.
            let noise = noise.slice([0..4, 0..64]);
            let g = ResnetGeneratorConfig::new(32, 3).with_latent(64).init(&cpu);
            let d = ResnetDiscriminatorConfig::new(3, 32)
                .with_spectral_norm(true)
                .init(&cpu);
            let images = g.forward(noise.clone());
            let on_gpu = g.to_device(&gpu).forward(noise.to_device(&gpu));
            let rg = largest_difference(images.clone(), on_gpu.to_device(&cpu));
            let logits = d.forward(images.clone());
            let gpu_logits = d.to_device(&gpu).forward(images.to_device(&gpu));
            let rd = largest_difference(logits, gpu_logits.to_device(&cpu));
            println!("ResNet 32×32: G images differ by {rg:.2e}, D logits by {rd:.2e}");
            assert!(rg <= TOLERANCE && rd <= TOLERANCE, "{rg} {rd}");
        });
    }

    #[test]
    fn gpu_trains_a_few_steps_and_its_run_samples_alike_on_both_backends() {
        for (choice, _) in gpus() {
            trains_and_samples_alike(choice.name());
        }
    }

    fn trains_and_samples_alike(gpu: &str) {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        let run_arg = run.to_str().unwrap();
        let out = ganforge(
            &["train", "--device", gpu, "--steps", "3", "--out", run_arg],
            dir.path(),
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut grids = Vec::new();
        for device in ["cpu", gpu] {
            let png = dir.path().join(format!("{device}.png"));
            let out = ganforge(
                &[
                    "sample",
                    "--run",
                    run_arg,
                    "--device",
                    device,
                    "--n",
                    "16",
                    "--out",
                    png.to_str().unwrap(),
                ],
                dir.path(),
            );
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            grids.push(image::open(&png).unwrap().to_rgb8());
        }
        // 8-bit pixels of f32 images: a difference below 1e-4 moves a pixel one level at most.
        let worst = grids[0]
            .as_raw()
            .iter()
            .zip(grids[1].as_raw())
            .map(|(a, b)| a.abs_diff(*b))
            .max()
            .unwrap();
        assert!(worst <= 1, "the grids differ by {worst} levels");
    }
}
