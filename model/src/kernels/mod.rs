//! The model's heavy operations, one folder per operation with every route side by side: the
//! project's CPU kernels where burn's Flex backend is slow for this model (forward and
//! backward), burn's own operations on other backends, and the GPU routes the project adds.
//!
//! - [`conv2d`]: the stride-1 convolutions of the ResNet (3×3) and of the front-end's polyphase
//!   filterbanks — direct and Winograd kernels on Flex, the unfolded form on a GPU when asked;
//! - [`filterbank`]: the front-end's strided filterbanks (polyphase form; the symmetric kernel
//!   in inference on Flex);
//! - [`norm`]: batch normalisation in training with the ReLU after it, and in inference fused
//!   with the ReLU or residual sum;
//! - [`pool`]: ceil-mode max pooling.
//!
//! In each folder, `mod.rs` decides by the tensor's device which route runs; the CPU kernels
//! are plain `f32` slices in and out (`direct.rs`, `winograd.rs`, `symmetric.rs`, `slices.rs`),
//! and reach burn as backend extensions (`extension.rs`: `#[backend_extension(Flex, Autodiff)]`,
//! burn's own composition as the default body) with their backward (`backward.rs`). Flex runs
//! ours; every other backend — wgpu, CUDA, NdArray — keeps burn's. The CPU kernels need the
//! `cpu-kernels` feature (their gradients `cpu-kernels-autodiff`); without it every backend
//! runs burn's operations. [`trace`] counts which of our kernels ran, for the tests. `gemm.rs`
//! and `flex.rs` hold what the CPU kernels share.

pub mod conv2d;
pub mod filterbank;
#[cfg(feature = "cpu-kernels")]
mod flex;
#[cfg(feature = "cpu-kernels")]
mod gemm;
pub mod norm;
pub mod pool;
#[cfg(all(test, feature = "cpu-kernels"))]
mod testing;
#[cfg(feature = "cpu-kernels")]
pub mod trace;

pub use conv2d::{GpuConvolution, conv2d};
pub use norm::{batch_norm, batch_norm_add_relu};
pub use pool::max_pool;

/// Keeps freed memory in the process instead of handing it back to the system (glibc only;
/// elsewhere nothing changes). Call it once at the start of a native program that trains or
/// tags on the CPU.
///
/// glibc serves every allocation over 32 MB with its own `mmap` and unmaps it when freed, so each
/// training step's activations and unfolded images (tens of MB each) come back as fresh pages:
/// page faults, zeroing by the kernel and TLB shootdowns across threads took a third of a
/// HarmonicCNN-wide training step here (2.0 → 1.3 s with this). The price: the process keeps its
/// peak heap.
pub fn keep_freed_memory() {
    #[cfg(all(feature = "rayon", target_os = "linux", target_env = "gnu"))]
    // SAFETY: `mallopt` only changes glibc's tuning parameters; called before threads allocate.
    unsafe {
        libc::mallopt(libc::M_MMAP_MAX, 0);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
        libc::mallopt(libc::M_TOP_PAD, 256 << 20);
    }
}

/// Whether our kernels run on `t`: an `f32` tensor on Flex, with autodiff only where the
/// extension's autodiff route is built (without it, no backward could be recorded).
#[cfg(feature = "cpu-kernels")]
fn runs_ours<const D: usize>(t: &burn::tensor::Tensor<D>) -> bool {
    use burn::backend::DispatchDevice;
    matches!(t.device().inner().as_dispatch(), DispatchDevice::Flex(_))
        && (cfg!(feature = "cpu-kernels-autodiff") || !t.is_autodiff())
        && t.dtype() == burn::tensor::DType::F32
}
