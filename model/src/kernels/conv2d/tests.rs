//! The project's CPU convolution (on Flex) against burn's own, forward and every gradient, on
//! the shapes this model uses — the ResNet at its real widths (16 to 256 channels: the direct
//! route by strided views below 64 input channels, the unfolded one from 64, Winograd for 3×3)
//! — and on awkward ones: odd sizes, one-row (front-end) kernels, padding 0 and 1, batch 1 and
//! 16, and ceil-mode max pooling after it. Each comparison also shows that our route ran.

use alloc::format;
use alloc::vec;

use burn::tensor::module::{conv2d as burn_conv2d, max_pool2d};
use burn::tensor::ops::{ConvOptions, MaxPoolOptions};
use burn::tensor::{Device, Distribution, Tensor};

use super::{GpuConvolution, conv2d};
use crate::kernels::testing::{assert_close, ran, values, varied};
use crate::kernels::trace::Route;

/// Output, and the gradients for x, weight and bias, of `loss(conv(x))` by both convolutions.
fn compare(
    shape: [usize; 4],
    c_out: usize,
    kernel: [usize; 2],
    padding: [usize; 2],
    pool: Option<[usize; 2]>,
) {
    compare_by(shape, c_out, kernel, padding, pool, &[]);
}

/// [`compare`], asserting that `routes` of ours ran besides the input gradient.
fn compare_by(
    shape: [usize; 4],
    c_out: usize,
    kernel: [usize; 2],
    padding: [usize; 2],
    pool: Option<[usize; 2]>,
    routes: &[Route],
) {
    let device = Device::flex().autodiff();
    device.seed(shape.iter().product::<usize>() as u64 + c_out as u64);
    let [_, c, _, _] = shape;
    let x = Tensor::<4>::random(shape, Distribution::Uniform(-1.0, 1.0), &device).require_grad();
    let weight = Tensor::<4>::random(
        [c_out, c, kernel[0], kernel[1]],
        Distribution::Uniform(-0.3, 0.3),
        &device,
    )
    .require_grad();
    let bias =
        Tensor::<1>::random([c_out], Distribution::Uniform(-0.3, 0.3), &device).require_grad();
    let run = |ours: bool| {
        let y = if ours {
            conv2d(
                x.clone(),
                weight.clone(),
                Some(bias.clone()),
                padding,
                GpuConvolution::Direct,
            )
        } else {
            let options = ConvOptions::new([1, 1], padding, [1, 1], 1);
            burn_conv2d(x.clone(), weight.clone(), Some(bias.clone()), options)
        };
        let y = match pool {
            Some(size) => max_pool2d(
                y.clamp_min(0.0),
                MaxPoolOptions::new(size).with_ceil_mode(true),
            ),
            None => y,
        };
        let weights = varied(y.dims(), &device);
        let grads = (y.clone() * weights).sum().backward();
        (
            values(y.inner()),
            values(x.grad(&grads).unwrap()),
            values(weight.grad(&grads).unwrap()),
            values(bias.grad(&grads).unwrap()),
        )
    };
    let what =
        format!("x {shape:?} → {c_out}, kernel {kernel:?}, padding {padding:?}, pool {pool:?}");
    let mut all = vec![Route::ConvInputGrad];
    all.extend_from_slice(routes);
    let ours = ran(&what, &all, || run(true));
    let burn = run(false);
    assert_close(&format!("{what}: output"), &ours.0, &burn.0);
    assert_close(&format!("{what}: input gradient"), &ours.1, &burn.1);
    assert_close(&format!("{what}: weight gradient"), &ours.2, &burn.2);
    assert_close(&format!("{what}: bias gradient"), &ours.3, &burn.3);
}

#[test]
fn resnet_convolutions_match_burn() {
    // The first layer of `small` and of the HarmonicCNN widths (reduced time axis), a residual
    // layer, a deep one where the map is 1 × 2, then ceil-mode pooling.
    compare([2, 20, 80, 61], 16, [3, 3], [1, 1], Some([2, 2]));
    compare([2, 20, 80, 37], 128, [3, 3], [1, 1], None);
    compare([4, 16, 40, 31], 16, [3, 3], [1, 1], Some([2, 3]));
    compare([2, 32, 1, 2], 32, [3, 3], [1, 1], None);
}

#[test]
fn odd_shapes_batch_one_and_sixteen_match_burn() {
    compare([1, 3, 7, 5], 4, [3, 3], [1, 1], Some([2, 2]));
    compare([16, 2, 5, 9], 3, [3, 3], [1, 1], Some([2, 3]));
    compare([1, 5, 4, 4], 7, [3, 3], [0, 0], None);
    compare([3, 4, 6, 11], 2, [2, 4], [1, 0], None);
    // More output than input channels (the input gradient by folding), and fewer.
    compare([2, 3, 9, 9], 17, [3, 3], [1, 1], None);
    compare([2, 17, 9, 9], 3, [3, 3], [1, 1], None);
}

#[test]
fn winograd_tiles_match_burn_at_every_edge() {
    // 3×3 with padding 1 and ≥ 8 channels each way runs by Winograd's F(2×2, 3×3): odd heights
    // and widths (half tiles at the bottom and right), one row, several tile blocks (a
    // 100-wide map has 50 tiles a row), batch 1 and 16; the input gradient goes the same way.
    assert!(super::winograd::applies(&super::shape::ConvShape {
        batch: 1,
        c_in: 8,
        c_out: 8,
        h: 7,
        w: 11,
        kh: 3,
        kw: 3,
        ph: 1,
        pw: 1,
    }));
    compare([1, 8, 7, 11], 8, [3, 3], [1, 1], None);
    compare([16, 9, 9, 9], 12, [3, 3], [1, 1], Some([2, 2]));
    compare([2, 12, 1, 70], 9, [3, 3], [1, 1], None);
    compare([1, 8, 23, 100], 10, [3, 3], [1, 1], Some([2, 3]));
}

#[test]
fn both_winograd_tiles_match_burn_at_every_edge() {
    // Each tile on its own (the target picks one): F(2×2, 3×3) and F(4×4, 3×3), at heights and
    // widths of every remainder (partial tiles at the bottom and right), one row, several tile
    // blocks, batch 1 and 3, and this model's first layer (20 → 64 on 80 bands).
    use super::shape::ConvShape;
    use super::winograd::{Tile, forward_by};
    let device = Device::flex();
    device.seed(3);
    for [n, c_in, c_out, h, w] in [
        [1, 8, 8, 7, 11],
        [3, 9, 12, 9, 10],
        [1, 12, 9, 1, 70],
        [1, 8, 10, 23, 100],
        [2, 10, 8, 6, 13],
        [1, 20, 64, 80, 61],
        [1, 64, 16, 5, 19],
    ] {
        let x = Tensor::<4>::random([n, c_in, h, w], Distribution::Uniform(-1.0, 1.0), &device);
        let weight = Tensor::<4>::random(
            [c_out, c_in, 3, 3],
            Distribution::Uniform(-0.3, 0.3),
            &device,
        );
        let bias = Tensor::<1>::random([c_out], Distribution::Uniform(-0.3, 0.3), &device);
        let options = ConvOptions::new([1, 1], [1, 1], [1, 1], 1);
        let expected = values(burn_conv2d(
            x.clone(),
            weight.clone(),
            Some(bias.clone()),
            options,
        ));
        let shape = ConvShape::of(x.dims(), weight.dims(), [1, 1]);
        assert!(super::winograd::applies(&shape), "{shape:?}");
        let (x, weight, bias) = (values(x), values(weight), values(bias));
        for tile in [Tile::F2, Tile::F4] {
            let ours = forward_by(tile, &x, &weight, Some(&bias), &shape);
            assert_close(&format!("{tile:?} {shape:?}"), &ours, &expected);
        }
    }
}

#[test]
fn one_row_filterbank_convolutions_match_burn() {
    // The front-end's polyphase form: stride phases as channels, one row, no padding.
    compare([2, 10, 1, 120], 80, [1, 26], [0, 0], None);
    compare([8, 16, 1, 40], 20, [1, 8], [0, 0], None);
}

#[test]
fn without_autodiff_the_same_numbers() {
    let device = Device::flex();
    device.seed(4);
    let x = Tensor::<4>::random([2, 5, 9, 13], Distribution::Uniform(-1.0, 1.0), &device);
    let weight = Tensor::<4>::random([6, 5, 3, 3], Distribution::Uniform(-0.3, 0.3), &device);
    let bias = Tensor::<1>::random([6], Distribution::Uniform(-0.3, 0.3), &device);
    let ours = ran("inference", &[Route::ConvForwardRows], || {
        conv2d(
            x.clone(),
            weight.clone(),
            Some(bias.clone()),
            [1, 1],
            GpuConvolution::Direct,
        )
    });
    let burn = burn_conv2d(
        x,
        weight,
        Some(bias),
        ConvOptions::new([1, 1], [1, 1], [1, 1], 1),
    );
    assert_eq!(ours.dims(), [2, 6, 9, 13]);
    assert_close("inference", &values(ours), &values(burn));
}

#[test]
fn wide_layers_match_burn_by_the_unfolded_route() {
    use Route::*;
    // The built-in and HarmonicCNN widths (64 and 128 channels) and the paper's (256), on the
    // short maps of the deep layers, where the forward unfolds the image (Winograd needs 64
    // positions) and the weight gradient always does from 64 input channels.
    compare_by(
        [2, 64, 5, 9],
        64,
        [3, 3],
        [1, 1],
        None,
        &[ConvForwardUnfolded, ConvWeightGradUnfolded],
    );
    compare_by(
        [2, 128, 3, 7],
        128,
        [3, 3],
        [1, 1],
        Some([2, 3]),
        &[ConvForwardUnfolded, ConvWeightGradUnfolded],
    );
    compare_by(
        [1, 256, 2, 5],
        256,
        [3, 3],
        [1, 1],
        None,
        &[ConvForwardUnfolded, ConvWeightGradUnfolded],
    );
    // Larger maps: the forward by Winograd, the weight gradient unfolded.
    compare_by(
        [2, 64, 10, 19],
        128,
        [3, 3],
        [1, 1],
        Some([2, 2]),
        &[ConvForwardWinograd, ConvWeightGradUnfolded],
    );
    // Below 64 input channels the strided views.
    compare_by(
        [2, 20, 4, 9],
        64,
        [3, 3],
        [1, 1],
        None,
        &[ConvForwardRows, ConvWeightGradRows],
    );
}

/// Other backends keep burn's convolution: none of ours runs for NdArray.
#[test]
fn other_backends_run_burns_convolution() {
    #[allow(deprecated)]
    let device = Device::ndarray();
    device.seed(5);
    let x = Tensor::<4>::random([1, 8, 9, 9], Distribution::Uniform(-1.0, 1.0), &device);
    let weight = Tensor::<4>::random([8, 8, 3, 3], Distribution::Uniform(-0.3, 0.3), &device);
    let before =
        [Route::ConvForwardWinograd, Route::ConvForwardRows].map(crate::kernels::trace::runs);
    let y = conv2d(x, weight, None, [1, 1], GpuConvolution::Direct);
    assert_eq!(y.dims(), [1, 8, 9, 9]);
    let after =
        [Route::ConvForwardWinograd, Route::ConvForwardRows].map(crate::kernels::trace::runs);
    assert_eq!(before, after, "NdArray ran one of our kernels");
}
