//! [`ConvKernels`] on burn's cubecl backend (wgpu, CUDA): the forward pass and both gradients as
//! burn-cubecl's implicit-GEMM kernels, which run their matrix multiplies on the GPU's
//! cooperative-matrix units (CUDA's tensor cores, TF32 for `f32` inputs as PyTorch does by
//! default), reading the input's windows in place instead of unfolding it. burn without autotune
//! never takes them (its default is the direct kernels, and the weight gradient a convolution
//! of the input by the output gradient); with autotune it times every candidate per shape and
//! has given wrong results with fusion (tracel-ai/burn#5257, #5352).
//!
//! A device without cooperative matrices cannot launch them — through wgpu's WGSL shaders cubecl
//! has none, and Vulkan has no TF32 for `f32` anyway; lavapipe has none at all —: [`implicit_gemm_available`] asks it once, with a small convolution, and
//! there these methods run burn's direct kernels instead, so that the route's wiring (this
//! extension and its backward) is the same and is tested against Flex on lavapipe.

use core::cell::Cell;
use std::string::String;
use std::sync::Mutex;
use std::vec::Vec;

use burn::backend::ops::FloatTensorOps;
use burn::backend::tensor::FloatTensor;
use burn::backend::{FloatDType, Shape, TensorMetadata};
use burn_cubecl::kernel::conv::{
    ConvStrategy, conv_data_backward, conv_forward, conv_weight_backward,
};
use burn_cubecl::{CubeBackend, CubeDevice};

use super::extension::{ConvKernels, options};

/// Devices (and float types) asked whether they launch implicit-GEMM kernels, with the answer.
static AVAILABLE: Mutex<Vec<(String, bool)>> = Mutex::new(Vec::new());
std::thread_local! {
    /// Passes (forward or a gradient) this extension ran on this thread (per thread, so that
    /// tests running side by side count their own): by implicit GEMM, and by burn's direct
    /// kernels.
    static PASSES: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
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

/// How many passes (forward or a gradient) this thread has run through this extension: by
/// implicit GEMM, and by burn's direct kernels (for tests and `bench`).
pub fn passes() -> (usize, usize) {
    PASSES.with(Cell::get)
}

/// One pass by implicit GEMM where `device` launches it and the kernel takes the shapes, else
/// by burn's direct kernels (a shape the implicit GEMM refuses costs one refused setup).
fn pass<E: core::fmt::Debug>(
    x: &FloatTensor<CubeBackend>,
    name: &str,
    shapes: [&Shape; 2],
    run: impl Fn(ConvStrategy) -> Result<FloatTensor<CubeBackend>, E>,
) -> FloatTensor<CubeBackend> {
    if implicit_gemm_available(&x.device, x.dtype.into())
        && let Ok(out) = run(ConvStrategy::ImplicitGemm)
    {
        PASSES.with(|p| p.set((p.get().0 + 1, p.get().1)));
        return out;
    }
    PASSES.with(|p| p.set((p.get().0, p.get().1 + 1)));
    run(ConvStrategy::Direct).unwrap_or_else(|e| {
        panic!(
            "the GPU convolution's {name} could not run on {:?} and {:?}: {e:?}",
            shapes[0], shapes[1]
        )
    })
}

impl ConvKernels for CubeBackend {
    fn modnet_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        ph: usize,
        pw: usize,
    ) -> FloatTensor<Self> {
        let (xs, ws) = (x.shape(), weight.shape());
        pass(&x, "forward pass", [&xs, &ws], |strategy| {
            conv_forward::<2>(
                x.clone(),
                weight.clone(),
                Some(bias.clone()),
                options(ph, pw),
                strategy,
            )
        })
    }

    fn modnet_conv2d_input_grad(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        ph: usize,
        pw: usize,
    ) -> FloatTensor<Self> {
        let (xs, ws) = (x.shape(), weight.shape());
        pass(&x, "input gradient", [&xs, &ws], |strategy| {
            conv_data_backward::<2>(
                dy.clone(),
                weight.clone(),
                xs.clone(),
                options(ph, pw),
                strategy,
            )
        })
    }

    fn modnet_conv2d_weight_grad(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        ph: usize,
        pw: usize,
    ) -> FloatTensor<Self> {
        let (xs, ws) = (x.shape(), weight.shape());
        pass(&x, "weight gradient", [&xs, &ws], |strategy| {
            conv_weight_backward::<2>(x.clone(), dy.clone(), ws.clone(), options(ph, pw), strategy)
        })
    }
}
