//! Picking the device: burn 0.22 chooses the backend at run time through `Device`. `auto` takes
//! an NVIDIA GPU through CUDA in a CUDA build (where cuDNN's route is), else a real GPU through
//! wgpu when one exists, else Flex, and says which and why in one line.

use anyhow::{Result, anyhow, bail};
use burn::tensor::{Device, FloatDType};

/// The backends this build can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Backend {
    /// An NVIDIA GPU through CUDA in a CUDA build; else a GPU through wgpu when the machine
    /// has one (not a CPU adapter such as lavapipe: Flex is faster there); otherwise Flex.
    Auto,
    /// wgpu (Vulkan, Metal, DX12); fails when no adapter exists. Takes a CPU adapter too.
    Wgpu,
    /// CUDA (build with `--features cuda`).
    Cuda,
    /// Flex: burn's fast pure-Rust CPU backend.
    Flex,
    /// NdArray: the CPU backend the design names (slower than Flex).
    Ndarray,
}

impl Backend {
    /// Every backend with its name (lower case, as `--backend` and Python's `backend=` take it).
    pub const NAMED: [(&'static str, Backend); 5] = [
        ("auto", Backend::Auto),
        ("wgpu", Backend::Wgpu),
        ("cuda", Backend::Cuda),
        ("flex", Backend::Flex),
        ("ndarray", Backend::Ndarray),
    ];

    /// The backend called `name` (any case), if there is one.
    pub fn named(name: &str) -> Option<Backend> {
        Self::NAMED
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|&(_, b)| b)
    }
}

/// The device for `backend`, or a clear error when this build or machine lacks it.
pub fn device(backend: Backend) -> Result<Device> {
    match backend {
        Backend::Flex => Ok(Device::flex()),
        #[allow(deprecated)]
        Backend::Ndarray => Ok(Device::ndarray()),
        Backend::Auto => auto(),
        Backend::Wgpu => wgpu(),
        Backend::Cuda => cuda(),
    }
}

/// `run(i)` for each batch `i` in `0..count`, the results in that order. On the CPU (Flex,
/// NdArray) the batches run side by side on rayon's threads: the backend's own threads inside
/// one batch keep two cores only about 70 % busy. A GPU (or an autodiff device) takes them one
/// after the other.
pub fn run_batches<T: Send>(
    device: &Device,
    count: usize,
    run: impl Fn(usize) -> Result<T> + Sync + Send,
) -> Result<Vec<T>> {
    use burn::backend::DispatchDevice;
    use rayon::prelude::*;
    match device.as_dispatch() {
        DispatchDevice::Flex(_) | DispatchDevice::NdArray(_) => {
            (0..count).into_par_iter().map(run).collect()
        }
        _ => (0..count).map(run).collect(),
    }
}

/// The float type of a device's tensors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Precision {
    /// 32-bit floats (what training and the shipped weights use).
    F32,
    /// IEEE half precision.
    F16,
    /// bfloat16 (f32's range, 8 bits of mantissa).
    Bf16,
}

/// Makes `precision` the float type of `device`'s tensors. Call it before any tensor exists on
/// the device; a type the device cannot compute in is refused (burn: "computing in such a type
/// produces backend-dependent garbage").
pub fn set_precision(device: &mut Device, precision: Precision) -> Result<()> {
    let dtype = match precision {
        Precision::F32 => return Ok(()),
        Precision::F16 => FloatDType::F16,
        Precision::Bf16 => FloatDType::BF16,
    };
    if !device.supports_dtype(dtype) {
        bail!("--float {precision:?}: this device cannot compute in {dtype:?}");
    }
    device
        .configure(dtype)
        .map_err(|e| anyhow!("--float {precision:?}: {e:?}"))
}

/// A wgpu adapter as the system lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adapter {
    /// The adapter's name ("NVIDIA GeForce RTX 4090", "llvmpipe (LLVM 15.0.6, 256 bits)").
    pub name: String,
    /// Discrete, integrated, virtual, CPU or other.
    pub kind: String,
    /// The graphics API (Vulkan, Metal, Dx12, Gl).
    pub api: String,
    /// Whether it is a GPU (not a software rasteriser).
    pub gpu: bool,
}

/// The wgpu adapters of this machine (none without the `wgpu` feature).
#[cfg(feature = "wgpu")]
pub fn adapters() -> Vec<Adapter> {
    quiet_graphics_stack();
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
        backends: wgpu::Backends::PRIMARY,
        ..wgpu::InstanceDescriptor::new_without_display_handle_from_env()
    });
    let found =
        futures_lite::future::block_on(instance.enumerate_adapters(wgpu::Backends::PRIMARY));
    found
        .iter()
        .map(|a| {
            let info = a.get_info();
            Adapter {
                name: info.name.clone(),
                kind: format!("{:?}", info.device_type),
                api: format!("{:?}", info.backend),
                gpu: matches!(
                    info.device_type,
                    wgpu::DeviceType::DiscreteGpu
                        | wgpu::DeviceType::IntegratedGpu
                        | wgpu::DeviceType::VirtualGpu
                ),
            }
        })
        .collect()
}

/// Where no display server runs, Mesa's window-system code prints "XDG_RUNTIME_DIR is invalid
/// or not set" while probing, although compute needs no display: give it a private folder.
#[cfg(feature = "wgpu")]
fn quiet_graphics_stack() {
    if std::env::var_os("XDG_RUNTIME_DIR").is_none() {
        let dir = std::env::temp_dir().join(format!("modnet-xdg-{}", std::process::id()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            let _ = std::fs::DirBuilder::new().mode(0o700).create(&dir);
        }
        // SAFETY: called before any thread of ours reads the environment (device selection
        // is the first thing a command does).
        unsafe { std::env::set_var("XDG_RUNTIME_DIR", &dir) };
    }
}

#[cfg(not(feature = "wgpu"))]
pub fn adapters() -> Vec<Adapter> {
    Vec::new()
}

#[cfg(feature = "wgpu")]
fn describe(a: &Adapter) -> String {
    format!("{} ({}, {})", a.name, a.kind, a.api)
}

/// The kind burn's wgpu runtime is asked for: the adapter's type and its index among the
/// adapters of that type.
#[cfg(feature = "wgpu")]
fn device_kind(all: &[Adapter], chosen: &Adapter) -> burn::tensor::DeviceKind {
    use burn::tensor::DeviceKind;
    let index = all
        .iter()
        .filter(|a| a.kind == chosen.kind)
        .position(|a| a == chosen)
        .unwrap_or(0);
    match chosen.kind.as_str() {
        "DiscreteGpu" => DeviceKind::DiscreteGpu(index),
        "IntegratedGpu" => DeviceKind::IntegratedGpu(index),
        "VirtualGpu" => DeviceKind::VirtualGpu(index),
        "Cpu" => DeviceKind::Cpu,
        _ => DeviceKind::DefaultDevice,
    }
}

/// Which adapter to prefer (lowest first): discrete, integrated, virtual, then the rest.
#[cfg(feature = "wgpu")]
fn preference(a: &Adapter) -> u8 {
    match a.kind.as_str() {
        "DiscreteGpu" => 0,
        "IntegratedGpu" => 1,
        "VirtualGpu" => 2,
        _ => 3,
    }
}

/// Whether `dir` lists an entry whose name starts with `prefix`.
#[cfg(any(feature = "wgpu", feature = "cuda"))]
fn listed(dir: &str, prefix: &str) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with(prefix))
    })
}

/// Whether this machine may have a GPU: on Linux a GPU is a device node (`/dev/dri/renderD*`
/// for Mesa and AMD, `/dev/nvidia*`, `/dev/dxg` under WSL); without one, listing wgpu's adapters
/// would only load the Vulkan drivers (52 MB of llvmpipe and lavapipe kept resident for the
/// whole run) to find a CPU rasteriser. Elsewhere, always.
#[cfg(feature = "wgpu")]
fn may_have_gpu() -> bool {
    if !cfg!(target_os = "linux") {
        return true;
    }
    listed("/dev/dri", "renderD")
        || listed("/dev", "nvidia")
        || std::path::Path::new("/dev/dxg").exists()
}

/// `--backend auto`: in a CUDA build an NVIDIA GPU through CUDA first (where the driver has
/// made its device nodes, `/dev/nvidia*` on Linux: elsewhere it is tried), as cuDNN's route
/// and the tensor cores are there; else the wgpu side's choice.
fn auto() -> Result<Device> {
    #[cfg(feature = "cuda")]
    if !cfg!(target_os = "linux") || listed("/dev", "nvidia") {
        match cuda() {
            Ok(device) => {
                eprintln!(
                    "device: CUDA on NVIDIA GPU 0 — this build has CUDA and the GPU answered \
                     (`--backend wgpu` for wgpu)"
                );
                return Ok(device);
            }
            Err(e) => eprintln!("device: CUDA did not start ({e:#}); looking further"),
        }
    }
    auto_without_cuda()
}

#[cfg(feature = "wgpu")]
fn auto_without_cuda() -> Result<Device> {
    if !may_have_gpu() {
        eprintln!("device: Flex (CPU) — no GPU device on this machine (/dev/dri, /dev/nvidia*)");
        return Ok(Device::flex());
    }
    let all = adapters();
    match all.iter().filter(|a| a.gpu).min_by_key(|a| preference(a)) {
        Some(gpu) => {
            eprintln!("device: wgpu on {} — a GPU was found", describe(gpu));
            Ok(Device::wgpu(device_kind(&all, gpu)))
        }
        None => {
            let why = match all.first() {
                Some(cpu) => format!(
                    "the only wgpu adapter is {}, a CPU rasteriser (Flex is faster; \
                     `--backend wgpu` uses it anyway)",
                    describe(cpu)
                ),
                None => "no GPU adapter was found".to_string(),
            };
            eprintln!("device: Flex (CPU) — {why}");
            Ok(Device::flex())
        }
    }
}

#[cfg(not(feature = "wgpu"))]
fn auto_without_cuda() -> Result<Device> {
    eprintln!("device: Flex (CPU) — this build has no wgpu backend (feature `wgpu`)");
    Ok(Device::flex())
}

#[cfg(feature = "wgpu")]
fn wgpu() -> Result<Device> {
    let all = adapters();
    let Some(chosen) = all.iter().min_by_key(|a| preference(a)) else {
        bail!(
            "--backend wgpu: no wgpu adapter on this machine (no Vulkan, Metal or DX12 driver \
             found); use --backend auto or flex"
        );
    };
    eprintln!("device: wgpu on {}", describe(chosen));
    Ok(Device::wgpu(device_kind(&all, chosen)))
}

#[cfg(not(feature = "wgpu"))]
fn wgpu() -> Result<Device> {
    bail!("this build has no wgpu backend: rebuild with `--features wgpu` (on by default)")
}

#[cfg(feature = "cuda")]
fn cuda() -> Result<Device> {
    let device = Device::cuda(0);
    // cubecl-cuda loads the driver (libcuda) and NVRTC at first use and panics when it cannot
    // (on its server thread): one small tensor read back here turns that into a sentence. The
    // panics' reports are kept meanwhile, the first being the reason (the hook is process-wide;
    // nothing else runs this early).
    let probe = device.clone();
    let reports = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let kept = reports.clone();
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let text = payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()));
        if let (Some(text), Ok(mut kept)) = (text, kept.lock()) {
            kept.push(text);
        }
    }));
    let opened = std::panic::catch_unwind(move || {
        burn::tensor::Tensor::<1>::zeros([1], &probe).into_data();
    });
    std::panic::set_hook(hook);
    opened.map_err(|_| {
        let reports = reports.lock().map(|r| r.clone()).unwrap_or_default();
        let why = reports.first().map_or("no reason given", String::as_str);
        anyhow!(
            "no CUDA device could be opened ({why}): it needs an NVIDIA GPU, its driver's \
             libcuda and CUDA's libnvrtc, which are loaded when the program runs"
        )
    })?;
    Ok(device)
}

#[cfg(not(feature = "cuda"))]
fn cuda() -> Result<Device> {
    bail!("this build has no CUDA backend: rebuild with `--features cuda`")
}
