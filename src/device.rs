//! `--device`: the backend, picked at run time among those compiled in.

use burn::prelude::Device;

use crate::error::{GanError, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceChoice {
    /// burn's flex backend: pure Rust on the CPU (feature `flex`, the default).
    Cpu,
    /// NVIDIA GPU through CUDA (feature `cuda`).
    Cuda,
    /// Any GPU through wgpu: Vulkan, Metal, DirectX (feature `wgpu`).
    Wgpu,
    /// LibTorch on the CPU (feature `tch`).
    Tch,
}

/// A panic's message, when it carries one.
fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "its runtime failed to start".to_string())
}

impl DeviceChoice {
    pub const ALL: [DeviceChoice; 4] = [Self::Cpu, Self::Cuda, Self::Wgpu, Self::Tch];

    pub fn name(self) -> &'static str {
        match self {
            Self::Cpu => "cpu",
            Self::Cuda => "cuda",
            Self::Wgpu => "wgpu",
            Self::Tch => "tch",
        }
    }

    fn feature(self) -> &'static str {
        match self {
            Self::Cpu => "flex",
            other => other.name(),
        }
    }

    pub fn is_compiled_in(self) -> bool {
        match self {
            Self::Cpu => cfg!(feature = "flex"),
            Self::Cuda => cfg!(feature = "cuda"),
            Self::Wgpu => cfg!(feature = "wgpu"),
            Self::Tch => cfg!(feature = "tch"),
        }
    }

    /// The first compiled-in choice: the default of `--device`.
    pub fn default_available() -> DeviceChoice {
        Self::ALL
            .into_iter()
            .find(|d| d.is_compiled_in())
            .unwrap_or(Self::Cpu)
    }

    /// The inference device of this backend (no autodiff), checked to work: a GPU backend is
    /// made to run one operation first, so that a machine without its driver gets a clear error
    /// before anything is written, not a panic in the middle of a run.
    pub fn device(self) -> Result<Device> {
        let device = self.unchecked_device()?;
        if matches!(self, Self::Cuda | Self::Wgpu) {
            self.probe(&device)?;
        }
        Ok(device)
    }

    /// What is missing and the way out, for a GPU backend that failed its probe.
    fn unavailable(self, why: String) -> GanError {
        let fix = match self {
            Self::Cuda => {
                "It needs an NVIDIA GPU and its driver (libcuda.so); without them, run on the \
                 CPU with `--device cpu`"
            }
            Self::Wgpu => {
                "It needs a GPU adapter through Vulkan, Metal, DirectX 12 or OpenGL (on Linux a \
                 Vulkan driver: your GPU vendor's, or Mesa's software one, Debian package \
                 mesa-vulkan-drivers); without one, run on the CPU with `--device cpu`"
            }
            _ => "Run on the CPU with `--device cpu`",
        };
        GanError::DeviceUnavailable {
            asked: self.name().to_string(),
            why,
            fix: fix.to_string(),
        }
    }

    /// Runs one small operation on `device` and reads it back. The GPU runtimes report a missing
    /// driver by panicking on first use (cudarc cannot load libcuda.so; wgpu finds no adapter);
    /// the panic is caught here, silenced, and turned into [`GanError::DeviceUnavailable`].
    fn probe(self, device: &Device) -> Result<()> {
        // A runtime may panic on its own thread and report only a closed channel to this one:
        // the silent hook keeps the first message of any thread, which names the cause.
        let first_panic = std::sync::Arc::new(std::sync::Mutex::new(None::<String>));
        let previous = std::panic::take_hook();
        {
            let first_panic = first_panic.clone();
            std::panic::set_hook(Box::new(move |info| {
                let message = panic_text(info.payload());
                let mut first = first_panic.lock().unwrap_or_else(|e| e.into_inner());
                first.get_or_insert(message);
            }));
        }
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let t = burn::tensor::Tensor::<1>::from_floats([1.0, 2.0], device);
            crate::tensor_values(t.mul_scalar(3.0))
        }));
        std::panic::set_hook(previous);
        match outcome {
            Ok(values) if values == [3.0, 6.0] => Ok(()),
            Ok(values) => Err(self.unavailable(format!(
                "a test computation gave {values:?} instead of [3.0, 6.0]"
            ))),
            Err(payload) => {
                let first = first_panic
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .take()
                    .unwrap_or_else(|| panic_text(payload.as_ref()));
                // The first line names the cause; the rest is the runtime's backtrace talk.
                let line = first.lines().next().unwrap_or_default().trim();
                // cudarc follows the cause with the thirty library names it tried.
                let line = line
                    .split(" - searched for")
                    .next()
                    .unwrap_or(line)
                    .to_string();
                Err(self.unavailable(line))
            }
        }
    }

    fn unchecked_device(self) -> Result<Device> {
        let missing = || GanError::DeviceNotCompiled {
            asked: self.name().to_string(),
            available: Self::ALL
                .iter()
                .filter(|d| d.is_compiled_in())
                .map(|d| d.name())
                .collect::<Vec<_>>()
                .join(", "),
            feature: self.feature().to_string(),
        };
        match self {
            #[cfg(feature = "flex")]
            Self::Cpu => Ok(Device::flex()),
            #[cfg(feature = "cuda")]
            Self::Cuda => Ok(Device::cuda(0)),
            #[cfg(feature = "wgpu")]
            Self::Wgpu => Ok(Device::wgpu(Default::default())),
            // burn 0.22 marks its LibTorch backend deprecated (to be removed); until then it is
            // the `tch` feature's backend, measured in the README's speed table.
            #[cfg(feature = "tch")]
            #[allow(deprecated)]
            Self::Tch => Ok(Device::libtorch()),
            #[allow(unreachable_patterns)]
            _ => Err(missing()),
        }
    }
}
