//! [`ConvKernels`] on burn's cubecl backend (wgpu, CUDA): each pass by the model's route —
//!
//! - [`GpuConvolution::Direct`]: burn's direct kernels (reached here only as a choice per pass);
//! - [`GpuConvolution::Unfolded`]: the unfolded form's passes (`unfolded/`: matrix multiplies,
//!   the input gradient folded back without autodiff's full-size gradient per window);
//! - [`GpuConvolution::ImplicitGemm`]: burn-cubecl's implicit-GEMM kernels, which run their
//!   matrix multiplies on the GPU's cooperative-matrix units (CUDA's tensor cores, TF32 for
//!   `f32` as PyTorch does by default), reading the input's windows in place. burn without
//!   autotune never takes them (its default is the direct kernels, and the weight gradient a
//!   convolution of the input by the output gradient); with autotune it times every candidate
//!   per shape and has given wrong results with fusion (tracel-ai/burn#5257, #5352);
//! - [`GpuConvolution::Cudnn`]: cuDNN (`cudnn/`) on CUDA, else as the implicit GEMM;
//! - [`GpuConvolution::PerPass`]: whichever of those was timed fastest for the pass and shape
//!   ([`per_pass`], [`routes_on`]).
//!
//! A device without cooperative matrices cannot launch the implicit GEMM — through wgpu's WGSL
//! shaders cubecl has none, and Vulkan has no TF32 for `f32` anyway; lavapipe has none at all:
//! [`implicit_gemm_available`] asks it once, with a small convolution, and there the route runs
//! burn's direct kernels instead, so that its wiring (this extension and its backward) is the
//! same and is tested against Flex on lavapipe.

use core::cell::Cell;
use std::string::String;
use std::sync::Mutex;
use std::vec::Vec;

use burn::backend::Backend;
use burn::backend::ops::FloatTensorOps;
use burn::backend::tensor::FloatTensor;
use burn::backend::{FloatDType, Shape, TensorMetadata};
use burn_cubecl::kernel::conv::{
    ConvStrategy, conv_data_backward, conv_forward, conv_weight_backward,
};
use burn_cubecl::{CubeBackend, CubeDevice};

use super::extension::{ConvKernels, options};
use super::unfolded::{self, MAX_UNFOLDED_BYTES};
use super::{ConvShape, GpuConvolution, Pass, per_pass};

/// Devices (and float types) asked whether they launch implicit-GEMM kernels, with the answer.
static AVAILABLE: Mutex<Vec<(String, bool)>> = Mutex::new(Vec::new());
std::thread_local! {
    /// Passes (forward or a gradient) this extension ran on this thread, by route (per thread,
    /// so that tests running side by side count their own).
    static PASSES: Cell<Passes> = const {
        Cell::new(Passes { cudnn: 0, implicit_gemm: 0, unfolded: 0, direct: 0 })
    };
}

/// How many passes (forward or a gradient) ran by each route.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Passes {
    /// By cuDNN ([`GpuConvolution::Cudnn`] on CUDA, where libcudnn was found).
    pub cudnn: usize,
    /// By burn-cubecl's implicit-GEMM kernels.
    pub implicit_gemm: usize,
    /// By the unfolded form's matrix multiplies ([`GpuConvolution::Unfolded`], `unfolded/`).
    pub unfolded: usize,
    /// By burn's direct kernels (chosen per pass, or a device without cooperative matrices,
    /// or a shape the implicit GEMM refuses).
    pub direct: usize,
}

fn count(route: impl Fn(&mut Passes) -> &mut usize) {
    PASSES.with(|p| {
        let mut passes = p.get();
        *route(&mut passes) += 1;
        p.set(passes);
    });
}

/// Whether `device` launches burn-cubecl's implicit-GEMM convolutions on `dtype` (it has
/// cooperative matrices for it: CUDA's tensor cores take `f32` as TF32), asked once per device
/// and type with a small convolution.
pub fn implicit_gemm_available(device: &CubeDevice, dtype: FloatDType) -> bool {
    let key = alloc::format!("{device:?} {dtype:?}");
    let mut known = AVAILABLE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, answer)) = known.iter().find(|(k, _)| *k == key) {
        return *answer;
    }
    let zeros = |shape: [usize; 4]| CubeBackend::float_zeros(Shape::from(shape), device, dtype);
    // A runtime that panics instead of refusing (an unsupported instruction found while
    // compiling) answers no as well.
    let answer = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        conv_forward::<2>(
            zeros([1, 8, 6, 6]),
            zeros([8, 8, 3, 3]),
            None,
            options(1, 1),
            ConvStrategy::ImplicitGemm,
        )
        .is_ok()
    }))
    .unwrap_or(false);
    known.push((key, answer));
    answer
}

/// [`implicit_gemm_available`] for a burn device (`false` off burn's cubecl backend).
pub fn implicit_gemm_on(device: &burn::tensor::Device, dtype: FloatDType) -> bool {
    use burn::backend::DispatchDevice;
    match device.clone().inner().as_dispatch() {
        DispatchDevice::Cube(d) => implicit_gemm_available(d, dtype),
        _ => false,
    }
}

/// How many passes (forward or a gradient) this thread has run through this extension, by
/// route (for tests and `bench`).
pub fn passes() -> Passes {
    PASSES.with(Cell::get)
}

/// A pass by cuDNN's route's answer where `route` is [`GpuConvolution::Cudnn`] and it has one
/// (`cudnn` gives `None` off CUDA, off `f32`, without libcudnn), else by implicit GEMM where
/// `device` launches it, the kernel takes the shapes and `route` is not
/// [`GpuConvolution::Direct`], else by burn's direct kernels (a shape the implicit GEMM refuses
/// costs one refused setup).
fn pass<E: core::fmt::Debug>(
    x: &FloatTensor<CubeBackend>,
    route: GpuConvolution,
    name: &str,
    shapes: [&Shape; 2],
    cudnn: impl FnOnce() -> Option<Result<FloatTensor<CubeBackend>, String>>,
    run: impl Fn(ConvStrategy) -> Result<FloatTensor<CubeBackend>, E>,
) -> FloatTensor<CubeBackend> {
    if route == GpuConvolution::Cudnn {
        match cudnn() {
            Some(Ok(out)) => {
                count(|p| &mut p.cudnn);
                return out;
            }
            Some(Err(why)) => say_once(why),
            None => {}
        }
    }
    if route != GpuConvolution::Direct
        && implicit_gemm_available(&x.device, x.dtype.into())
        && let Ok(out) = run(ConvStrategy::ImplicitGemm)
    {
        count(|p| &mut p.implicit_gemm);
        return out;
    }
    count(|p| &mut p.direct);
    run(ConvStrategy::Direct).unwrap_or_else(|e| {
        panic!(
            "the GPU convolution's {name} could not run on {:?} and {:?}: {e:?}",
            shapes[0], shapes[1]
        )
    })
}

/// Says on stderr, once per distinct sentence, why cuDNN did not take a pass (it then goes by
/// implicit GEMM).
fn say_once(why: String) {
    static SAID: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let mut said = SAID.lock().unwrap_or_else(|e| e.into_inner());
    if !said.contains(&why) {
        std::eprintln!("warning: {why}; this pass goes by implicit GEMM instead");
        said.push(why);
    }
}

/// `route`'s cuDNN pass, where this build has cuDNN's route.
macro_rules! cudnn {
    ($pass:ident($($arg:expr),*)) => {{
        #[cfg(feature = "cudnn")]
        let run = || super::cudnn::pass(Pass::$pass, $($arg),*);
        #[cfg(not(feature = "cudnn"))]
        let run = || None;
        run
    }};
}

impl ConvKernels for CubeBackend {
    fn modnet_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        ph: usize,
        pw: usize,
        route: GpuConvolution,
    ) -> FloatTensor<Self> {
        let run = |route| forward(x.clone(), weight.clone(), bias.clone(), [ph, pw], route);
        run(route_of(route, &x, &weight, [ph, pw], Pass::Forward, run))
    }

    fn modnet_conv2d_input_grad(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        ph: usize,
        pw: usize,
        route: GpuConvolution,
    ) -> FloatTensor<Self> {
        let run = |route| input_grad(x.clone(), weight.clone(), dy.clone(), [ph, pw], route);
        run(route_of(route, &x, &weight, [ph, pw], Pass::InputGrad, run))
    }

    fn modnet_conv2d_weight_grad(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        ph: usize,
        pw: usize,
        route: GpuConvolution,
    ) -> FloatTensor<Self> {
        let run = |route| weight_grad(x.clone(), weight.clone(), dy.clone(), [ph, pw], route);
        run(route_of(
            route,
            &x,
            &weight,
            [ph, pw],
            Pass::WeightGrad,
            run,
        ))
    }
}

/// The routes `device` runs as themselves on `dtype`: burn's direct kernels and the unfolded
/// form everywhere, the implicit GEMM where the device launches it (elsewhere it is the direct
/// kernels again), cuDNN on CUDA where libcudnn is found.
pub fn routes_on(device: &CubeDevice, dtype: FloatDType) -> Vec<GpuConvolution> {
    let mut routes = alloc::vec![GpuConvolution::Direct, GpuConvolution::Unfolded];
    if implicit_gemm_available(device, dtype) {
        routes.push(GpuConvolution::ImplicitGemm);
    }
    #[cfg(feature = "cudnn")]
    if matches!(device, CubeDevice::Cuda(_)) && super::cudnn::available().is_ok() {
        routes.push(GpuConvolution::Cudnn);
    }
    routes
}

/// `route`, or for [`GpuConvolution::PerPass`] the route kept for this pass at these shapes on
/// this device, timed at the first call ([`super::per_pass`]) by running the pass with `run`.
fn route_of(
    route: GpuConvolution,
    x: &FloatTensor<CubeBackend>,
    weight: &FloatTensor<CubeBackend>,
    padding: [usize; 2],
    pass: Pass,
    run: impl Fn(GpuConvolution) -> FloatTensor<CubeBackend>,
) -> GpuConvolution {
    if route != GpuConvolution::PerPass {
        return route;
    }
    let shape = ConvShape::of(x.shape().dims(), weight.shape().dims(), padding);
    let device = alloc::format!("{:?} {:?}", x.device, x.dtype);
    // The routes are asked for (and the device's implicit GEMM and libcudnn) only when timing.
    let routes = || routes_on(&x.device, x.dtype.into());
    per_pass::route(&device, shape, pass, routes, |route| {
        milliseconds(&x.device, || run(route))
    })
}

/// The best of two timed runs of `run` after an untimed one (which compiles the kernels, and
/// lets cuDNN time its algorithms), each waited for; `None` where a run failed or panicked.
fn milliseconds(device: &CubeDevice, run: impl Fn() -> FloatTensor<CubeBackend>) -> Option<f64> {
    let finished = || CubeBackend::sync(device).is_ok();
    let timed = || {
        let started = std::time::Instant::now();
        let out = run();
        finished().then(|| {
            drop(out);
            started.elapsed().as_secs_f64() * 1e3
        })
    };
    // Work queued before this pass is not its time.
    let best = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        (finished() && timed().is_some()).then(|| timed().zip(timed()).map(|(a, b)| a.min(b)))
    }));
    best.ok().flatten().flatten()
}

/// The forward pass by `route` (not [`GpuConvolution::PerPass`]).
fn forward(
    x: FloatTensor<CubeBackend>,
    weight: FloatTensor<CubeBackend>,
    bias: FloatTensor<CubeBackend>,
    [ph, pw]: [usize; 2],
    route: GpuConvolution,
) -> FloatTensor<CubeBackend> {
    if route == GpuConvolution::Unfolded {
        count(|p| &mut p.unfolded);
        return unfolded::forward::<CubeBackend>(
            x,
            weight,
            Some(bias),
            [ph, pw],
            MAX_UNFOLDED_BYTES,
        );
    }
    let (xs, ws) = (x.shape(), weight.shape());
    let cudnn = cudnn!(Forward(&x, &weight, &bias, ph, pw));
    pass(&x, route, "forward pass", [&xs, &ws], cudnn, |strategy| {
        conv_forward::<2>(
            x.clone(),
            weight.clone(),
            Some(bias.clone()),
            options(ph, pw),
            strategy,
        )
    })
}

/// The input gradient by `route` (not [`GpuConvolution::PerPass`]).
fn input_grad(
    x: FloatTensor<CubeBackend>,
    weight: FloatTensor<CubeBackend>,
    dy: FloatTensor<CubeBackend>,
    [ph, pw]: [usize; 2],
    route: GpuConvolution,
) -> FloatTensor<CubeBackend> {
    let (xs, ws) = (x.shape(), weight.shape());
    if route == GpuConvolution::Unfolded {
        count(|p| &mut p.unfolded);
        let dims = xs.dims();
        return unfolded::input_grad::<CubeBackend>(dims, weight, dy, [ph, pw], MAX_UNFOLDED_BYTES);
    }
    let cudnn = cudnn!(InputGrad(&x, &weight, &dy, ph, pw));
    pass(&x, route, "input gradient", [&xs, &ws], cudnn, |strategy| {
        conv_data_backward::<2>(
            dy.clone(),
            weight.clone(),
            xs.clone(),
            options(ph, pw),
            strategy,
        )
    })
}

/// The weight gradient by `route` (not [`GpuConvolution::PerPass`]).
fn weight_grad(
    x: FloatTensor<CubeBackend>,
    weight: FloatTensor<CubeBackend>,
    dy: FloatTensor<CubeBackend>,
    [ph, pw]: [usize; 2],
    route: GpuConvolution,
) -> FloatTensor<CubeBackend> {
    let (xs, ws) = (x.shape(), weight.shape());
    if route == GpuConvolution::Unfolded {
        count(|p| &mut p.unfolded);
        return unfolded::weight_grad::<CubeBackend>(
            x,
            ws.dims(),
            dy,
            [ph, pw],
            MAX_UNFOLDED_BYTES,
        );
    }
    let cudnn = cudnn!(WeightGrad(&x, &weight, &dy, ph, pw));
    pass(
        &x,
        route,
        "weight gradient",
        [&xs, &ws],
        cudnn,
        |strategy| {
            conv_weight_backward::<2>(x.clone(), dy.clone(), ws.clone(), options(ph, pw), strategy)
        },
    )
}
