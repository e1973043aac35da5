//! The engine's compute device: WebGPU through burn's wgpu backend, or the CPU.

use burn::tensor::Device;
use web_sys::DedicatedWorkerGlobalScope;

use crate::messages::EngineKind;

/// What the browser says of its WebGPU adapter (vendor, architecture, device, description:
/// often only some of them, for privacy), to remember the timed convolution route by; empty
/// when it says nothing. Asked of a second adapter request with wgpu's preference (burn does
/// not hand its adapter out), which a machine answers with the same GPU.
#[cfg(feature = "webgpu")]
async fn adapter_identity(gpu: &wasm_bindgen::JsValue) -> String {
    use js_sys::{Function, Object, Promise, Reflect};
    use wasm_bindgen::JsCast;
    let options = Object::new();
    let _ = Reflect::set(
        &options,
        &"powerPreference".into(),
        &"high-performance".into(),
    );
    let request = Reflect::get(gpu, &"requestAdapter".into())
        .ok()
        .and_then(|f| f.dyn_into::<Function>().ok())
        .and_then(|f| f.call1(gpu, &options).ok())
        .and_then(|p| p.dyn_into::<Promise>().ok());
    let Some(request) = request else {
        return String::new();
    };
    let Ok(adapter) = wasm_bindgen_futures::JsFuture::from(request).await else {
        return String::new();
    };
    let info = Reflect::get(&adapter, &"info".into()).unwrap_or_default();
    ["vendor", "architecture", "device", "description"]
        .map(|field| {
            Reflect::get(&info, &field.into())
                .ok()
                .and_then(|v| v.as_string())
                .unwrap_or_default()
        })
        .join("/")
}

/// The WebGPU device, and what the browser says of its adapter.
#[cfg(feature = "webgpu")]
async fn acquire_gpu(scope: &DedicatedWorkerGlobalScope) -> Result<(Device, String), String> {
    use js_sys::Reflect;
    use wasm_bindgen::JsValue;
    // Asking wgpu for an adapter where the browser has no WebGPU crashes: look first.
    let gpu = Reflect::get(&scope.navigator(), &"gpu".into()).unwrap_or(JsValue::UNDEFINED);
    if gpu.is_undefined() || gpu.is_null() {
        return Err("this browser has no WebGPU (navigator.gpu is missing in workers)".into());
    }
    let device = Device::wgpu_options()
        .init_async()
        .await
        .map_err(|e| format!("WebGPU initialisation failed: {e}"))?;
    Ok((device, adapter_identity(&gpu).await))
}

#[cfg(not(feature = "webgpu"))]
async fn acquire_gpu(_scope: &DedicatedWorkerGlobalScope) -> Result<(Device, String), String> {
    Err("this engine was built without the `webgpu` feature".into())
}

/// The device `compute` asks for: the device, the backend's name for the page, and what the
/// browser says of the GPU (empty on the CPU).
pub(super) async fn acquire(
    compute: EngineKind,
    scope: &DedicatedWorkerGlobalScope,
) -> Result<(Device, String, String), String> {
    match compute {
        EngineKind::Gpu => {
            let (device, adapter) = acquire_gpu(scope).await?;
            Ok((device, "wgpu (WebGPU)".into(), adapter))
        }
        EngineKind::Cpu => {
            let (device, backend) = cpu_device();
            Ok((device, backend, String::new()))
        }
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
