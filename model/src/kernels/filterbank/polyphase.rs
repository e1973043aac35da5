//! A bank of long, strided filters on one-channel signals — both front-end layers — computed as
//! the equivalent stride-1 convolution over the signal's stride phases (polyphase form).
//!
//! `y[n, t] = Σₖ w[n, k]·x[t·s + k]`: with `k = q·s + r` this is `Σᵣ Σ_q W[n, r, q]·X[r, t + q]`,
//! where `X[r, p] = x[p·s + r]` (the signal reshaped to `[p, s]`, transposed) and
//! `W[n, r, q] = w[n, q·s + r]` (the kernel zero-padded to a multiple of `s`, reshaped the same
//! way). A one-input-channel convolution with a 257-tap kernel at stride 10 becomes one with 10
//! input channels, 26 taps and stride 1 — the shape CPU backends turn into one large matrix
//! multiply, forward and backward (burn's Flex ran the strided form 5–9× slower than PyTorch,
//! and its weight gradient worse). Only reshapes, pads and one convolution: every backend runs
//! it and autodiff differentiates it; the result equals the direct convolution up to float
//! rounding (tests in this module).

use burn::tensor::Tensor;
use burn::tensor::ops::PadMode;

use crate::kernels::conv2d::{GpuConvolution, conv2d};

/// Filters every signal with every kernel at `stride`, no padding.
///
/// - input: `[batch, 1, samples]`, kernels: `[N, K]`
/// - output: `[batch, N, frames]`, frames = ⌊(samples − K)/stride⌋ + 1
///
/// # Panics
/// If `samples < K` or `stride == 0` (the callers check their inputs first).
pub fn strided_filterbank(
    input: Tensor<3>,
    kernels: Tensor<2>,
    stride: usize,
    gpu: GpuConvolution,
) -> Tensor<3> {
    one_channel(input, |x| strided_filterbank_rows(x, kernels, stride, gpu))
}

/// [`strided_filterbank`] for kernels symmetric about their centre tap, by
/// [`symmetric_filterbank_rows`].
///
/// - input: `[batch, 1, samples]`, kernels: `[N, K]` → `[batch, N, frames]`
pub fn symmetric_filterbank(
    input: Tensor<3>,
    kernels: Tensor<2>,
    stride: usize,
    gpu: GpuConvolution,
) -> Tensor<3> {
    one_channel(input, |x| {
        symmetric_filterbank_rows(x, kernels, stride, gpu)
    })
}

/// A bank on `[batch, 1, samples]` signals by its form on rows (`[batch, N, 1, frames]`).
fn one_channel(input: Tensor<3>, rows: impl FnOnce(Tensor<3>) -> Tensor<4>) -> Tensor<3> {
    let [_, channels, _] = input.dims();
    assert_eq!(channels, 1, "a filterbank input has one channel");
    rows(input).squeeze_dim(2)
}

/// Filters every row of every signal with every kernel at `stride` (one bank shared by all
/// rows: the modulation filterbank on each band), no padding. The rows stay the height of one
/// two-dimensional convolution with one-row kernels, so that a CPU backend runs one matrix
/// multiply per signal rather than one per row (80 small ones per chunk, each packing the
/// kernels again).
///
/// - input: `[batch, rows, samples]`, kernels: `[N, K]`
/// - output: `[batch, N, rows, frames]`, frames = ⌊(samples − K)/stride⌋ + 1
///
/// # Panics
/// If `samples < K` or `stride == 0` (the callers check their inputs first).
pub fn strided_filterbank_rows(
    input: Tensor<3>,
    kernels: Tensor<2>,
    stride: usize,
    gpu: GpuConvolution,
) -> Tensor<4> {
    let [batch, rows, samples] = input.dims();
    let [n, k] = kernels.dims();
    assert!(
        stride > 0 && samples >= k,
        "{samples} samples, kernel {k}, stride {stride}"
    );
    if stride == 1 {
        return stride1_conv(input.unsqueeze_dim(1), kernels.reshape([n, 1, 1, k]), gpu);
    }
    let taps = k.div_ceil(stride);
    let frames = (samples - k) / stride + 1;
    // Positions per phase the output reads: frames − 1 + taps (the padded taps read zeros).
    let positions = frames - 1 + taps;
    let needed = positions * stride;
    let input = if needed > samples {
        input.pad([(0, needed - samples)], PadMode::Constant(0.0))
    } else {
        input.narrow(2, 0, needed)
    };
    // [batch, stride, rows, positions]: phase r of row b is X[r, p] = x[b, p·s + r].
    let phases = input
        .reshape([batch, rows, positions, stride])
        .permute([0, 3, 1, 2]);
    let weight = kernels
        .pad([(0, taps * stride - k)], PadMode::Constant(0.0))
        .reshape([n, taps, stride])
        .swap_dims(1, 2)
        .unsqueeze_dim(2);
    stride1_conv(phases, weight, gpu)
}

/// [`strided_filterbank_rows`] for kernels symmetric about their centre tap (odd `K`: the sinc
/// layers' linear-phase band-passes): with the CPU kernels, in inference on Flex, the pairs of
/// samples that meet equal taps are added first ([`super::symmetric`], half the
/// multiplies); elsewhere the same convolution as for any kernels.
///
/// - input: `[batch, rows, samples]`, kernels: `[N, K]`
/// - output: `[batch, N, rows, frames]`, frames = ⌊(samples − K)/stride⌋ + 1
pub fn symmetric_filterbank_rows(
    input: Tensor<3>,
    kernels: Tensor<2>,
    stride: usize,
    gpu: GpuConvolution,
) -> Tensor<4> {
    #[cfg(feature = "cpu-kernels")]
    if let Some(y) = super::extension::symmetric_filterbank(&input, &kernels, stride) {
        return y;
    }
    strided_filterbank_rows(input, kernels, stride, gpu)
}

/// A stride-1 convolution without padding or bias, by the route [`conv2d`] picks.
///
/// - x: `[batch, c_in, h, w]`, weight: `[c_out, c_in, kh, kw]` → `[batch, c_out, h − kh + 1, w − kw + 1]`
fn stride1_conv(x: Tensor<4>, weight: Tensor<4>, gpu: GpuConvolution) -> Tensor<4> {
    conv2d(x, weight, None, [0, 0], gpu)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::module::conv1d;
    use burn::tensor::ops::ConvOptions;
    use burn::tensor::{Device, Distribution, Tolerance};

    /// Equal to burn's direct strided convolution for the paper's two layers, a kernel that is
    /// a multiple of the stride, one that is shorter than the stride, and inputs that need
    /// padding or trimming.
    #[test]
    fn equals_the_direct_strided_convolution() {
        let device = Device::flex();
        for (samples, n, k, stride) in [
            (4000, 80, 257, 10),
            (1000, 20, 129, 16),
            (997, 20, 129, 16),
            (500, 3, 40, 8),
            (300, 2, 5, 7),
            (129, 4, 129, 16),
            (200, 3, 9, 1),
        ] {
            let x = Tensor::<3>::random([2, 1, samples], Distribution::Normal(0.0, 1.0), &device);
            let w = Tensor::<2>::random([n, k], Distribution::Normal(0.0, 0.1), &device);
            let direct = conv1d(
                x.clone(),
                w.clone().unsqueeze_dim(1),
                None,
                ConvOptions::new([stride], [0], [1], 1),
            );
            let polyphase = strided_filterbank(x, w, stride, GpuConvolution::Direct);
            assert_eq!(polyphase.dims(), direct.dims(), "{samples} {k} {stride}");
            polyphase
                .into_data()
                .assert_approx_eq::<f32>(&direct.into_data(), Tolerance::absolute(1e-4));
        }
    }

    /// The rows form equals the one-row form on each row (rows folded into the batch), with
    /// the rows kept as the output's third dimension; its gradients equal the folded form's.
    #[test]
    fn rows_equal_each_row_filtered_alone() {
        let device = Device::flex().autodiff();
        for (rows, samples, n, k, stride) in [
            (80, 400, 20, 128, 16),
            (3, 997, 5, 129, 16),
            (2, 50, 3, 9, 1),
        ] {
            let x =
                Tensor::<3>::random([2, rows, samples], Distribution::Normal(0.0, 1.0), &device);
            let w = Tensor::<2>::random([n, k], Distribution::Normal(0.0, 0.1), &device);
            let frames = (samples - k) / stride + 1;
            let target = Tensor::<4>::random(
                [2, n, rows, frames],
                Distribution::Normal(0.0, 1.0),
                &device,
            );
            let run = |rows_form: bool| {
                let (x, w) = (x.clone().require_grad(), w.clone().require_grad());
                let y = if rows_form {
                    strided_filterbank_rows(x.clone(), w.clone(), stride, GpuConvolution::Direct)
                } else {
                    let y = strided_filterbank(
                        x.clone().reshape([2 * rows, 1, samples]),
                        w.clone(),
                        stride,
                        GpuConvolution::Direct,
                    );
                    let frames = y.dims()[2];
                    y.reshape([2, rows, n, frames]).swap_dims(1, 2)
                };
                let g = (y.clone() * target.clone()).sum().backward();
                (
                    y.inner().into_data(),
                    x.grad(&g).unwrap().into_data(),
                    w.grad(&g).unwrap().into_data(),
                )
            };
            let (by_rows, by_rows_dx, by_rows_dw) = run(true);
            let (folded, folded_dx, folded_dw) = run(false);
            assert_eq!(by_rows.shape(), folded.shape());
            by_rows.assert_approx_eq::<f32>(&folded, Tolerance::absolute(1e-4));
            by_rows_dx.assert_approx_eq::<f32>(&folded_dx, Tolerance::absolute(1e-4));
            by_rows_dw.assert_approx_eq::<f32>(&folded_dw, Tolerance::absolute(1e-3));
        }
    }

    /// The gradients reaching the kernels and the input equal the direct form's.
    #[test]
    fn gradients_equal_the_direct_form() {
        let device = Device::flex().autodiff();
        let x = Tensor::<3>::random([3, 1, 1200], Distribution::Normal(0.0, 1.0), &device);
        let w = Tensor::<2>::random([5, 129], Distribution::Normal(0.0, 0.1), &device);
        let target = Tensor::<3>::random([3, 5, 67], Distribution::Normal(0.0, 1.0), &device);
        let grads = |polyphase: bool| {
            let (x, w) = (x.clone().require_grad(), w.clone().require_grad());
            let y = if polyphase {
                strided_filterbank(x.clone(), w.clone(), 16, GpuConvolution::Direct)
            } else {
                conv1d(
                    x.clone(),
                    w.clone().unsqueeze_dim(1),
                    None,
                    ConvOptions::new([16], [0], [1], 1),
                )
            };
            let g = (y * target.clone()).sum().backward();
            (
                x.grad(&g).unwrap().into_data(),
                w.grad(&g).unwrap().into_data(),
            )
        };
        let (dx, dw) = grads(true);
        let (dx_direct, dw_direct) = grads(false);
        dx.assert_approx_eq::<f32>(&dx_direct, Tolerance::absolute(1e-4));
        dw.assert_approx_eq::<f32>(&dw_direct, Tolerance::absolute(1e-3));
    }
}
