//! A stride-1 convolution as one matrix multiply over the unfolded input (im2col), in burn's
//! backend operations: a route for the GPU backends (burn's cubecl runtimes: wgpu, CUDA, WebGPU
//! in the browser), taken where it is timed fastest (see [`super`]).
//!
//! Built without autotune (this project leaves it off: with fusion it computed wrong results on
//! wgpu/Vulkan, tracel-ai/burn#5257), burn's cubecl backends run a convolution as a direct
//! kernel, one thread per output value, and its weight gradient as a convolution of the input
//! by the output gradient. On an NVIDIA H200 through wgpu (Vulkan) that trained the paper preset
//! at 7.8 clips/s (batch 4) where PyTorch on the same GPU trains 264. Here every pass is a
//! matrix multiply: the output `W · cols` ([`forward`]), the weight gradient `dy · colsᵀ`
//! ([`weight_grad`]), the input gradient `Wᵀ · dy` folded back onto the input ([`input_grad`],
//! the unfolding's adjoint).
//!
//! The unfolded input holds `kh·kw` copies of the input, more than a GPU binds at once for the
//! model's larger maps (GPUs cap a buffer's binding: lavapipe at 128 MiB, browsers by default
//! too; one 5 s chunk at the paper preset's second layer unfolds to 91 MB). So it is built a
//! tile at a time, none over [`MAX_UNFOLDED_BYTES`]: a group of whole signals where a signal
//! fits, else bands of output rows of one signal, else pieces of one row ([`Tiles`]).
//!
//! The passes are written on a backend's tensors. On burn's cubecl backend they are the
//! project's convolution extension's passes for [`super::GpuConvolution::Unfolded`] (`cube.rs`),
//! whose backward calls [`input_grad`] and [`weight_grad`]; [`conv2d`] runs [`forward`] on burn
//! tensors, so that burn's autodiff differentiates its slices and multiplies where the extension
//! is not built (the web page, which never trains). Differentiated that way, each window's slice
//! sends back a gradient the size of the whole input, `kh·kw` per tile: the explicit backward
//! touches each unfolded value once.

#[cfg(all(test, feature = "std"))]
mod tests;
mod tiles;

use alloc::vec::Vec;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, TensorMetadata};
use burn::tensor::Tensor;

pub use tiles::Tiles;
use tiles::{Tile, assemble, checked};

/// The largest unfolded tile built at once, in bytes.
pub const MAX_UNFOLDED_BYTES: usize = 64 << 20;

/// Whether `x` lives on one of burn's cubecl runtimes (a GPU through wgpu or CUDA, or a CPU
/// Vulkan driver such as lavapipe), the devices this route is for.
///
/// burn's dispatch enum has its cubecl variant only in builds that compile a cubecl runtime,
/// so a crate that does not enable one cannot name it; the variant's name is matched instead.
pub fn on_cubecl<const D: usize>(x: &Tensor<D>) -> bool {
    let device = x.device().inner();
    alloc::format!("{:?}", device.as_dispatch()).starts_with("Cube(")
}

/// The convolution, unfolded a tile of at most `max_bytes` at a time.
///
/// - x: `[n, c_in, h, w]`, weight: `[c_out, c_in, kh, kw]`, bias: `[c_out]`
/// - output: `[n, c_out, h + 2·ph − kh + 1, w + 2·pw − kw + 1]`
///
/// # Panics
/// If the kernel is larger than the padded input, or the channels differ.
pub fn forward<B: Backend>(
    x: FloatTensor<B>,
    weight: FloatTensor<B>,
    bias: Option<FloatTensor<B>>,
    padding: [usize; 2],
    max_bytes: usize,
) -> FloatTensor<B> {
    let shape = checked(x.shape().dims(), weight.shape().dims(), padding);
    let co = shape.c_out;
    let padded = shape.padded::<B>(x);
    // [1, c_out, c·kh·kw], in the order of the unfolded rows.
    let weight = B::float_reshape(weight, [1, co, shape.taps()].into());
    let parts: Vec<(Tile, FloatTensor<B>)> = shape
        .tiles(max_bytes)
        .map(|tile| {
            let cols = shape.unfold::<B>(&padded, &tile);
            let dims = [tile.signals.len(), co, tile.rows.len(), tile.columns.len()];
            let part = B::float_reshape(B::float_matmul(weight.clone(), cols), dims.into());
            (tile, part)
        })
        .collect();
    let out = assemble::<B>(&shape, parts, &weight);
    match bias {
        Some(bias) => B::float_add(out, B::float_reshape(bias, [1, co, 1, 1].into())),
        None => out,
    }
}

/// The gradient of [`forward`] for `x` (of shape `x_shape`), from the output's gradient `dy`:
/// `Wᵀ · dy` a tile at a time, folded back onto the input.
///
/// - weight: `[c_out, c_in, kh, kw]`, dy: `[n, c_out, ho, wo]` → `[n, c_in, h, w]`
pub fn input_grad<B: Backend>(
    x_shape: [usize; 4],
    weight: FloatTensor<B>,
    dy: FloatTensor<B>,
    padding: [usize; 2],
    max_bytes: usize,
) -> FloatTensor<B> {
    let shape = checked(x_shape, weight.shape().dims(), padding);
    let ([n, c, h, w], [ph, pw], co) = (x_shape, padding, shape.c_out);
    // [1, c·kh·kw, c_out]
    let weight_t = B::float_transpose(B::float_reshape(weight, [1, co, shape.taps()].into()));
    let padded_shape = [n, c, h + 2 * ph, w + 2 * pw];
    let zeros = B::float_zeros(padded_shape.into(), &dy.device(), dy.dtype().into());
    let padded_grad = shape.tiles(max_bytes).fold(zeros, |padded_grad, tile| {
        let g = tile.signals.len();
        let dy_tile = B::float_slice(dy.clone(), &tile.output(co));
        let dy_tile = B::float_reshape(dy_tile, [g, co, tile.positions()].into());
        let dcols = B::float_matmul(weight_t.clone(), dy_tile);
        shape.fold::<B>(padded_grad, dcols, &tile)
    });
    if ph == 0 && pw == 0 {
        return padded_grad;
    }
    B::float_slice(
        padded_grad,
        &[
            (..).into(),
            (..).into(),
            (ph..ph + h).into(),
            (pw..pw + w).into(),
        ],
    )
}

/// The gradient of [`forward`] for the kernels (of shape `weight_shape`), from the output's
/// gradient `dy`: `dy · colsᵀ` summed over tiles, the input unfolded again a tile at a time.
///
/// - x: `[n, c_in, h, w]`, dy: `[n, c_out, ho, wo]` → `[c_out, c_in, kh, kw]`
pub fn weight_grad<B: Backend>(
    x: FloatTensor<B>,
    weight_shape: [usize; 4],
    dy: FloatTensor<B>,
    padding: [usize; 2],
    max_bytes: usize,
) -> FloatTensor<B> {
    let shape = checked(x.shape().dims(), weight_shape, padding);
    let co = shape.c_out;
    let padded = shape.padded::<B>(x);
    let sum = shape
        .tiles(max_bytes)
        .map(|tile| {
            let g = tile.signals.len();
            let cols = shape.unfold::<B>(&padded, &tile);
            let dy_tile = B::float_slice(dy.clone(), &tile.output(co));
            let dy_tile = B::float_reshape(dy_tile, [g, co, tile.positions()].into());
            // [g, c_out, c·kh·kw], summed over the tile's signals.
            B::float_sum_dim(B::float_matmul(dy_tile, B::float_transpose(cols)), 0)
        })
        .reduce(B::float_add)
        .expect("an output has a tile");
    B::float_reshape(sum, weight_shape.into())
}

/// A stride-1 convolution with zero padding `[ph, pw]`, unfolded a tile of at most
/// [`MAX_UNFOLDED_BYTES`] at a time, on burn tensors (differentiated by burn's autodiff).
///
/// - x: `[n, c_in, h, w]`, weight: `[c_out, c_in, kh, kw]`, bias: `[c_out]`
/// - output: `[n, c_out, h + 2·ph − kh + 1, w + 2·pw − kw + 1]`
///
/// # Panics
/// If the kernel is larger than the padded input, or the channels differ.
pub fn conv2d(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    padding: [usize; 2],
) -> Tensor<4> {
    conv2d_within(x, weight, bias, padding, MAX_UNFOLDED_BYTES)
}

/// [`conv2d`] with the tiles' bound in bytes given (tests give a small one, so that small
/// inputs take the tiled paths).
///
/// - x: `[n, c_in, h, w]`, weight: `[c_out, c_in, kh, kw]`, bias: `[c_out]`
/// - output: `[n, c_out, h + 2·ph − kh + 1, w + 2·pw − kw + 1]`
pub fn conv2d_within(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    padding: [usize; 2],
    max_bytes: usize,
) -> Tensor<4> {
    Tensor::from_dispatch(forward::<burn::backend::Dispatch>(
        x.into_dispatch(),
        weight.into_dispatch(),
        bias.map(Tensor::into_dispatch),
        padding,
        max_bytes,
    ))
}
