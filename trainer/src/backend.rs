//! Picking the device: burn 0.22 chooses the backend at run time through `Device`.

use anyhow::{Result, bail};
use burn::tensor::Device;
use clap::ValueEnum;

/// The backends this build can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
pub enum Backend {
    /// wgpu on the GPU (Vulkan, Metal, DX12); falls back to Flex when no adapter exists.
    Wgpu,
    /// CUDA (build with `--features cuda`).
    Cuda,
    /// Flex: burn's fast pure-Rust CPU backend.
    Flex,
    /// NdArray: the CPU backend the design names (slower than Flex).
    Ndarray,
}

/// The device for `backend`, or a clear error when this build lacks it.
pub fn device(backend: Backend) -> Result<Device> {
    match backend {
        Backend::Flex => Ok(Device::flex()),
        #[allow(deprecated)]
        Backend::Ndarray => Ok(Device::ndarray()),
        Backend::Wgpu => wgpu_or_flex(),
        Backend::Cuda => cuda(),
    }
}

#[cfg(feature = "wgpu")]
fn wgpu_or_flex() -> Result<Device> {
    // Asking wgpu for an adapter where there is none panics inside wgpu; probe first.
    if wgpu_adapter_exists() {
        Ok(Device::wgpu(Default::default()))
    } else {
        eprintln!("notice: no GPU adapter found for wgpu; running on the Flex CPU backend instead");
        Ok(Device::flex())
    }
}

#[cfg(feature = "wgpu")]
fn wgpu_adapter_exists() -> bool {
    std::panic::catch_unwind(|| {
        let device = Device::wgpu(Default::default());
        let t = burn::tensor::Tensor::<1>::from_floats([1.0f32], &device);
        t.into_data().try_to_vec::<f32>().is_ok()
    })
    .unwrap_or(false)
}

#[cfg(not(feature = "wgpu"))]
fn wgpu_or_flex() -> Result<Device> {
    eprintln!("notice: this build has no wgpu backend (feature `wgpu`); running on Flex");
    Ok(Device::flex())
}

#[cfg(feature = "cuda")]
fn cuda() -> Result<Device> {
    Ok(Device::cuda(0))
}

#[cfg(not(feature = "cuda"))]
fn cuda() -> Result<Device> {
    bail!("this build has no CUDA backend: rebuild with `--features cuda`")
}
