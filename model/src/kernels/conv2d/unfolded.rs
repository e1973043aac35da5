//! A stride-1 convolution as one matrix multiply over the unfolded input (im2col), in burn's
//! tensor operations: a route for the GPU backends (burn's cubecl runtimes: wgpu, CUDA, WebGPU in
//! the browser), taken where it is timed fastest (see [`super`]).
//!
//! Built without autotune (this project leaves it off: with fusion it computed wrong results on
//! wgpu/Vulkan, tracel-ai/burn#5257), burn's cubecl backends run a convolution as a direct
//! kernel, one thread per output value, and its weight gradient as a convolution of the input
//! by the output gradient. On an NVIDIA H200 through wgpu (Vulkan) that trained the paper preset
//! at 7.8 clips/s (batch 4) where PyTorch on the same GPU trains 264. Here the convolution is
//! `W · cols`, so autodiff derives the gradients as matrix multiplies too: the weight gradient
//! `grad · colsᵀ`, the input gradient `Wᵀ · grad`, folded back onto the input by the slices'
//! backward.
//!
//! The unfolded input holds `kh·kw` copies of the input. It is built for a group of signals at
//! a time, so that no tensor exceeds [`MAX_UNFOLDED_BYTES`] (GPUs cap a buffer's binding:
//! lavapipe at 128 MiB, browsers by default too).

use alloc::vec::Vec;
use burn::tensor::Tensor;
use burn::tensor::ops::PadMode;

/// The largest unfolded input built at once, in bytes.
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

/// Whether the unfolded form fits one signal within [`MAX_UNFOLDED_BYTES`]; where it does not,
/// callers keep burn's convolution.
pub fn fits(x: [usize; 4], weight: [usize; 4], [ph, pw]: [usize; 2]) -> bool {
    let [_, c, h, w] = x;
    let [_, _, kh, kw] = weight;
    let (ho, wo) = (
        (h + 2 * ph + 1).saturating_sub(kh),
        (w + 2 * pw + 1).saturating_sub(kw),
    );
    c * kh * kw * ho * wo * 4 <= MAX_UNFOLDED_BYTES
}

/// A stride-1 convolution with zero padding `[ph, pw]`.
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
    [ph, pw]: [usize; 2],
) -> Tensor<4> {
    let [n, c, h, w] = x.dims();
    let [co, ci, kh, kw] = weight.dims();
    assert_eq!(c, ci, "input channels {c}, kernel channels {ci}");
    assert!(
        h + 2 * ph >= kh && w + 2 * pw >= kw,
        "kernel {kh}×{kw} larger than the padded input"
    );
    let (ho, wo) = (h + 2 * ph - kh + 1, w + 2 * pw - kw + 1);
    let k = c * kh * kw;
    let x = if ph > 0 || pw > 0 {
        x.pad([(ph, ph), (pw, pw)], PadMode::Constant(0.0))
    } else {
        x
    };
    // [1, c_out, c·kh·kw], in the order (channel, row, column) of the unfolded rows.
    let weight = weight.reshape([1, co, k]);
    let group = (MAX_UNFOLDED_BYTES / (k * ho * wo * 4)).clamp(1, n);
    let outputs: Vec<Tensor<3>> = (0..n)
        .step_by(group)
        .map(|start| {
            let g = group.min(n - start);
            let x = x.clone().narrow(0, start, g);
            // kh·kw shifted windows: [g, c, kh·kw, ho, wo] → [g, c·kh·kw, ho·wo].
            let windows: Vec<Tensor<4>> = (0..kh)
                .flat_map(|i| (0..kw).map(move |j| (i, j)))
                .map(|(i, j)| x.clone().slice([0..g, 0..c, i..i + ho, j..j + wo]))
                .collect();
            let cols = Tensor::stack::<5>(windows, 2).reshape([g, k, ho * wo]);
            weight.clone().matmul(cols)
        })
        .collect();
    let out = if outputs.len() == 1 {
        outputs.into_iter().next().expect("one group")
    } else {
        Tensor::cat(outputs, 0)
    }
    .reshape([n, co, ho, wo]);
    match bias {
        Some(bias) => out + bias.reshape([1, co, 1, 1]),
        None => out,
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;
    use burn::tensor::ops::ConvOptions;
    use burn::tensor::{Device, Distribution, Tolerance};

    /// Output and the gradients of input, kernels and bias against burn's convolution, for `x`
    /// `[n, c, h, w]`, `c_out` kernels of `kh×kw` and padding `p` (relative 1e-4).
    fn check(x: [usize; 4], c_out: usize, [kh, kw]: [usize; 2], p: [usize; 2]) {
        let device = Device::flex().autodiff();
        let x = Tensor::<4>::random(x, Distribution::Normal(0.0, 1.0), &device);
        let w = Tensor::<4>::random(
            [c_out, x.dims()[1], kh, kw],
            Distribution::Normal(0.0, 0.3),
            &device,
        );
        let b = Tensor::<1>::random([c_out], Distribution::Normal(0.0, 1.0), &device);
        let [n, _, h, wd] = x.dims();
        let out = [n, c_out, h + 2 * p[0] + 1 - kh, wd + 2 * p[1] + 1 - kw];
        // Every output value gets its own upstream gradient.
        let target = Tensor::<4>::random(out, Distribution::Normal(0.0, 1.0), &device);
        let run = |ours: bool| {
            let (x, w, b) = (
                x.clone().require_grad(),
                w.clone().require_grad(),
                b.clone().require_grad(),
            );
            let y = if ours {
                conv2d(x.clone(), w.clone(), Some(b.clone()), p)
            } else {
                let options = ConvOptions::new([1, 1], p, [1, 1], 1);
                burn::tensor::module::conv2d(x.clone(), w.clone(), Some(b.clone()), options)
            };
            let g = (y.clone() * target.clone()).sum().backward();
            [
                y.inner(),
                x.grad(&g).unwrap(),
                w.grad(&g).unwrap(),
                b.grad(&g).unwrap().reshape([1, 1, 1, c_out]),
            ]
            .map(|t| t.into_data())
        };
        // Relative 1e-4, with an absolute floor for values that are sums of cancelling terms:
        // an output or input-gradient value sums c·kh·kw products, a kernel or bias gradient
        // n·h·w of them (540 000 in the grouped test, where the two summation orders differ by
        // up to 2e-4 on values near 0.1).
        for ((ours, theirs), (what, floor)) in run(true).iter().zip(run(false).iter()).zip([
            ("output", 1e-4),
            ("dx", 1e-4),
            ("dw", 1e-3),
            ("db", 1e-3),
        ]) {
            assert_eq!(ours.shape(), theirs.shape(), "{what}");
            ours.assert_approx_eq::<f32>(theirs, Tolerance::relative(1e-4).set_absolute(floor));
        }
    }

    #[test]
    fn resnet_3x3_equals_burn_forward_and_backward() {
        check([2, 5, 9, 13], 7, [3, 3], [1, 1]);
        check([1, 3, 4, 5], 2, [3, 3], [1, 1]);
    }

    #[test]
    fn one_row_kernels_without_padding_equal_burn() {
        // The front-end's polyphase form: [batch, stride, rows, positions], one-row kernels.
        check([3, 4, 2, 40], 6, [1, 8], [0, 0]);
    }

    #[test]
    fn groups_of_signals_equal_burn() {
        // 30 signals unfold to 4·9·120·150·4 B each, 78 MB together: more than
        // MAX_UNFOLDED_BYTES, so they are convolved in groups.
        let [n, c, h, w] = [30, 4, 120, 150];
        assert!(n * c * 9 * h * w * 4 > MAX_UNFOLDED_BYTES);
        check([n, c, h, w], 3, [3, 3], [1, 1]);
    }

    #[test]
    fn the_cpu_backends_are_not_cubecl() {
        let x = Tensor::<2>::zeros([1, 1], &Device::flex());
        assert!(!on_cubecl(&x));
        assert!(!on_cubecl(&x.autodiff()));
    }
}
