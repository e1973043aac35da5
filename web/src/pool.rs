//! The page's engines: one worker on WebGPU, or one per core on the CPU (each with its own
//! copy of the model), started together, given the same weights, and each given its share of a
//! clip's batches. The first engine also answers pictures and live windows.

use js_sys::Reflect;

use crate::browser::address_option;
use crate::client::EngineClient;
use crate::messages::{EngineKind, FromEngine, Share};
use crate::route_memory;

/// The most CPU engines the page runs side by side (memory grows with each).
const MAX_CPU_ENGINES: usize = 4;

/// The engines of one kind.
#[derive(Default)]
pub struct EnginePool {
    engines: Vec<EngineClient>,
}

impl EnginePool {
    /// Starts the engines of `kind`: `on_message(index, message)` gets engine `index`'s
    /// messages, `on_death` a sentence when one fails to load or crashes.
    pub fn start(
        kind: EngineKind,
        on_message: impl Fn(usize, FromEngine) + Copy + 'static,
        on_death: impl Fn(String) + Copy + 'static,
    ) -> Result<Self, String> {
        let count = match kind {
            EngineKind::Gpu => 1,
            EngineKind::Cpu => cpu_engines(),
        };
        let engines = (0..count)
            .map(|index| EngineClient::start(kind, move |m| on_message(index, m), on_death))
            .collect::<Result<_, _>>()?;
        Ok(Self { engines })
    }

    /// Engines running.
    pub fn len(&self) -> usize {
        self.engines.len()
    }

    /// Whether none runs.
    pub fn is_empty(&self) -> bool {
        self.engines.is_empty()
    }

    /// Runs `f` on the first engine (nothing when none runs).
    pub fn first(&self, f: impl FnOnce(&EngineClient) -> Result<(), String>) -> Result<(), String> {
        self.engines.first().map_or(Ok(()), f)
    }

    /// Gives every engine the weights, the convolution route the address asks the GPU for
    /// (`?gpu-conv=direct|unfolded`, `auto` to time them again) and the routes remembered from
    /// earlier visits ([`route_memory`]); the engine times them when neither answers.
    pub fn load(&self, name: &str, bytes: &[u8]) -> Result<(), String> {
        let gpu_conv = address_option("gpu-conv");
        let remembered = route_memory::recalled();
        self.engines
            .iter()
            .try_for_each(|e| e.load(name, bytes, gpu_conv.as_deref(), &remembered))
    }

    /// Gives every engine the user's heads (a head file), or none.
    pub fn heads(&self, name: &str, file: Option<&[u8]>) -> Result<(), String> {
        self.engines.iter().try_for_each(|e| e.heads(name, file))
    }

    /// Sends the clip to every engine, each to run its share of the batches.
    pub fn tag(&self, job: u32, samples: &[f32]) -> Result<(), String> {
        let count = self.engines.len();
        self.engines
            .iter()
            .enumerate()
            .try_for_each(|(index, e)| e.tag(job, samples, Share { index, count }))
    }
}

/// The engine the browser can run: WebGPU when it offers it and the address does not ask for
/// the CPU (`?backend=cpu`).
pub fn preferred_kind() -> EngineKind {
    let gpu = web_sys::window()
        .and_then(|w| Reflect::get(&w.navigator(), &"gpu".into()).ok())
        .is_some_and(|gpu| !gpu.is_undefined() && !gpu.is_null());
    if gpu && address_option("backend").as_deref() != Some("cpu") {
        EngineKind::Gpu
    } else {
        EngineKind::Cpu
    }
}

/// CPU engines to run side by side: one per core the browser reports, at most
/// [`MAX_CPU_ENGINES`]; `?cpu-engines=N` in the address sets the number (1 to that maximum).
fn cpu_engines() -> usize {
    let cores = web_sys::window().map_or(1, |w| w.navigator().hardware_concurrency() as usize);
    address_option("cpu-engines")
        .and_then(|n| n.parse().ok())
        .unwrap_or(cores)
        .clamp(1, MAX_CPU_ENGINES)
}
