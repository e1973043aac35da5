//! The engine's compute device: WebGPU through burn's wgpu backend, or the CPU.

use burn::tensor::Device;
use web_sys::DedicatedWorkerGlobalScope;

use crate::messages::EngineKind;

#[cfg(feature = "webgpu")]
async fn acquire_gpu(scope: &DedicatedWorkerGlobalScope) -> Result<Device, String> {
    use js_sys::Reflect;
    use wasm_bindgen::JsValue;
    // Asking wgpu for an adapter where the browser has no WebGPU crashes: look first.
    let gpu = Reflect::get(&scope.navigator(), &"gpu".into()).unwrap_or(JsValue::UNDEFINED);
    if gpu.is_undefined() || gpu.is_null() {
        return Err("this browser has no WebGPU (navigator.gpu is missing in workers)".into());
    }
    Device::wgpu_options()
        .init_async()
        .await
        .map_err(|e| format!("WebGPU initialisation failed: {e}"))
}

#[cfg(not(feature = "webgpu"))]
async fn acquire_gpu(_scope: &DedicatedWorkerGlobalScope) -> Result<Device, String> {
    Err("this engine was built without the `webgpu` feature".into())
}

/// The device `compute` asks for, with the backend's name for the page.
pub(super) async fn acquire(
    compute: EngineKind,
    scope: &DedicatedWorkerGlobalScope,
) -> Result<(Device, String), String> {
    match compute {
        EngineKind::Gpu => Ok((acquire_gpu(scope).await?, "wgpu (WebGPU)".into())),
        EngineKind::Cpu => Ok(cpu_device()),
    }
}

#[cfg(not(feature = "ndarray"))]
fn cpu_device() -> (Device, String) {
    (Device::flex(), "Flex (CPU)".into())
}

#[cfg(feature = "ndarray")]
#[allow(deprecated)] // NdArray is deprecated upstream; it stays as a build option
fn cpu_device() -> (Device, String) {
    (Device::ndarray(), "NdArray (CPU)".into())
}
