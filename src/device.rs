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

    /// The inference device of this backend (no autodiff).
    pub fn device(self) -> Result<Device> {
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
