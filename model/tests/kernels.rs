//! The project's CPU convolution (`modnet::kernels`, on Flex) against burn's own, forward and
//! every gradient, on the shapes this model uses and on awkward ones: odd sizes, one-row
//! (front-end) kernels, padding 0 and 1, batch 1 and 16, and ceil-mode max pooling after it.

use burn::tensor::module::{conv2d as burn_conv2d, max_pool2d};
use burn::tensor::ops::{ConvOptions, MaxPoolOptions};
use burn::tensor::{Device, Distribution, Tensor, TensorData};
use modnet::kernels::conv2d;

/// Relative tolerance of every comparison (of the largest magnitude).
const TOLERANCE: f32 = 1e-4;

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    modnet::read_back::values(t).unwrap()
}

/// A different weight for every output position, so that each position's gradient differs.
fn varied(dims: [usize; 4], device: &Device) -> Tensor<4> {
    let count = dims.iter().product::<usize>() as i64;
    Tensor::<1, burn::tensor::Int>::arange(0..count, device)
        .float()
        .reshape(dims)
        .sin()
}

fn assert_close(what: &str, ours: &[f32], burn: &[f32]) {
    assert_eq!(ours.len(), burn.len(), "{what}: sizes");
    let scale = burn.iter().fold(1e-6f32, |m, v| m.max(v.abs()));
    let worst = ours
        .iter()
        .zip(burn)
        .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(
        worst <= TOLERANCE * scale,
        "{what}: max |ours − burn| {worst:e} on values up to {scale:e}"
    );
}

/// Output, and the gradients for x, weight and bias, of `loss(conv(x))` by both convolutions.
fn compare(
    shape: [usize; 4],
    c_out: usize,
    kernel: [usize; 2],
    padding: [usize; 2],
    pool: Option<[usize; 2]>,
) {
    let device = Device::flex().autodiff();
    device.seed(shape.iter().product::<usize>() as u64 + c_out as u64);
    let [n, c, h, w] = shape;
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
            conv2d(x.clone(), weight.clone(), bias.clone(), padding)
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
    let (ours, burn) = (run(true), run(false));
    let what =
        format!("x {shape:?} → {c_out}, kernel {kernel:?}, padding {padding:?}, pool {pool:?}");
    assert_close(&format!("{what}: output"), &ours.0, &burn.0);
    assert_close(&format!("{what}: input gradient"), &ours.1, &burn.1);
    assert_close(&format!("{what}: weight gradient"), &ours.2, &burn.2);
    assert_close(&format!("{what}: bias gradient"), &ours.3, &burn.3);
    let _ = (n, h, w);
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
    assert!(modnet::kernels::winograd::applies(
        &modnet::kernels::conv::ConvShape {
            batch: 1,
            c_in: 8,
            c_out: 8,
            h: 7,
            w: 11,
            kh: 3,
            kw: 3,
            ph: 1,
            pw: 1,
        }
    ));
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
    use modnet::kernels::conv::ConvShape;
    use modnet::kernels::winograd::{Tile, forward_by};
    let device = Device::flex();
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
        assert!(modnet::kernels::winograd::applies(&shape), "{shape:?}");
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

/// A symmetric bank by its definition, tap by tap (`half`: each kernel's first `L + 1` taps).
fn symmetric_bank_by_definition(
    x: &[f32],
    half: &[f32],
    s: &modnet::kernels::filterbank::BankShape,
) -> Vec<f32> {
    let (rows, frames, taps) = (s.rows, s.frames(), s.taps());
    let mut y = vec![0.0f32; s.batch * s.filters * rows * frames];
    for n in 0..s.batch {
        for f in 0..s.filters {
            let h = &half[f * s.half..(f + 1) * s.half];
            for r in 0..rows {
                let row = &x[(n * rows + r) * s.samples..][..s.samples];
                for t in 0..frames {
                    let mut sum = 0.0f32;
                    for k in 0..taps {
                        sum += h[k.min(taps - 1 - k)] * row[t * s.stride + k];
                    }
                    y[((n * s.filters + f) * rows + r) * frames + t] = sum;
                }
            }
        }
    }
    y
}

#[test]
fn symmetric_filterbanks_match_the_definition_and_the_convolution() {
    // The sinc layers' shapes (80 × 257 at stride 10 on 2 s; 20 × 129 at stride 16 on 80 bands)
    // and awkward ones: stride 1, a kernel as long as the signal, a stride longer than the
    // kernel, one tap, batch 3.
    use modnet::kernels::filterbank::{BankShape, forward};
    let device = Device::flex();
    for (batch, rows, samples, filters, half, stride) in [
        (1, 1, 32_000, 80, 129, 10),
        (2, 80, 700, 20, 65, 16),
        (3, 2, 50, 4, 5, 1),
        (1, 3, 9, 2, 5, 4),
        (2, 1, 40, 3, 3, 7),
        (1, 2, 10, 2, 1, 3),
    ] {
        let s = BankShape {
            batch,
            rows,
            samples,
            filters,
            half,
            stride,
        };
        let x = values(Tensor::<3>::random(
            [batch, rows, samples],
            Distribution::Uniform(-1.0, 1.0),
            &device,
        ));
        let h = values(Tensor::<2>::random(
            [filters, half],
            Distribution::Uniform(-0.5, 0.5),
            &device,
        ));
        assert_close(
            &format!("{s:?}"),
            &forward(&x, &h, &s),
            &symmetric_bank_by_definition(&x, &h, &s),
        );
        // The model's route (the kernel on Flex in inference) against the plain convolution.
        let x = Tensor::<3>::from_data(TensorData::new(x, [batch, rows, samples]), &device);
        let h = Tensor::<2>::from_data(TensorData::new(h, [filters, half]), &device);
        let kernels = match half {
            1 => h,
            _ => Tensor::cat(vec![h.clone(), h.narrow(1, 0, half - 1).flip([1])], 1),
        };
        let ours = modnet::strided::symmetric_filterbank_rows(x.clone(), kernels.clone(), stride);
        let plain = modnet::strided::strided_filterbank_rows(x, kernels, stride);
        assert_eq!(ours.dims(), [batch, filters, rows, s.frames()]);
        assert_close(
            &format!("{s:?} by the model"),
            &values(ours),
            &values(plain),
        );
    }
}

#[test]
fn without_autodiff_the_same_numbers() {
    let device = Device::flex();
    let x = Tensor::<4>::random([2, 5, 9, 13], Distribution::Uniform(-1.0, 1.0), &device);
    let weight = Tensor::<4>::random([6, 5, 3, 3], Distribution::Uniform(-0.3, 0.3), &device);
    let bias = Tensor::<1>::random([6], Distribution::Uniform(-0.3, 0.3), &device);
    let ours = conv2d(x.clone(), weight.clone(), bias.clone(), [1, 1]);
    let burn = burn_conv2d(
        x,
        weight,
        Some(bias),
        ConvOptions::new([1, 1], [1, 1], [1, 1], 1),
    );
    assert_eq!(ours.dims(), [2, 6, 9, 13]);
    assert_close("inference", &values(ours), &values(burn));
}

/// Batch normalisation in training (then a ReLU or not) against burn's `BatchNorm`: output,
/// the gradients for x, gamma and beta, and the running statistics it leaves.
fn compare_norm(shape: [usize; 4], relu: bool) {
    use burn::module::{Module, Param};
    use burn::nn::BatchNormConfig;
    let device = Device::flex().autodiff();
    device.seed(shape.iter().product::<usize>() as u64);
    let [_, c, _, _] = shape;
    let x = (Tensor::<4>::random(shape, Distribution::Normal(0.3, 2.0), &device)).require_grad();
    let gamma = Tensor::<1>::random([c], Distribution::Uniform(0.5, 1.5), &device);
    let beta = Tensor::<1>::random([c], Distribution::Uniform(-0.5, 0.5), &device);
    let run = |ours: bool| {
        // A layer of its own for each (clones would share the running statistics).
        let mut bn = BatchNormConfig::new(c).init(&device);
        bn.gamma = Param::from_tensor(gamma.clone().require_grad());
        bn.beta = Param::from_tensor(beta.clone().require_grad());
        let y = if ours {
            modnet::kernels::batch_norm(&bn, x.clone(), relu)
        } else {
            let y = bn.forward(x.clone());
            if relu {
                burn::tensor::activation::relu(y)
            } else {
                y
            }
        };
        let weights = varied(y.dims(), &device);
        let grads = (y.clone() * weights).sum().backward();
        let state = bn.clone().valid();
        (
            values(y.inner()),
            values(x.grad(&grads).unwrap()),
            values(bn.gamma.grad(&grads).unwrap()),
            values(bn.beta.grad(&grads).unwrap()),
            values(state.running_mean.value()),
            values(state.running_var.value()),
        )
    };
    let (ours, burn) = (run(true), run(false));
    let what = format!("batch norm {shape:?}, relu {relu}");
    assert_close(&format!("{what}: output"), &ours.0, &burn.0);
    assert_close(&format!("{what}: input gradient"), &ours.1, &burn.1);
    assert_close(&format!("{what}: gamma gradient"), &ours.2, &burn.2);
    assert_close(&format!("{what}: beta gradient"), &ours.3, &burn.3);
    assert_close(&format!("{what}: running mean"), &ours.4, &burn.4);
    assert_close(&format!("{what}: running variance"), &ours.5, &burn.5);
}

#[test]
fn batch_norm_in_training_matches_burn() {
    compare_norm([4, 16, 40, 61], true);
    compare_norm([4, 16, 40, 61], false);
    compare_norm([1, 3, 5, 7], true);
    compare_norm([16, 2, 1, 2], false);
}

/// Batch normalisation in inference (running statistics), then a ReLU, or the residual sum and
/// a ReLU, against burn's `BatchNorm` and operations: the same arithmetic in the same order, so
/// exactly the same values.
#[test]
fn batch_norm_in_inference_equals_burn() {
    use burn::module::{Param, RunningState};
    use burn::nn::BatchNormConfig;
    let device = Device::flex();
    for shape in [[4, 16, 40, 61], [1, 3, 5, 7], [16, 2, 1, 2]] {
        device.seed(shape.iter().product::<usize>() as u64);
        let c = shape[1];
        let uniform =
            |low, high| Tensor::<1>::random([c], Distribution::Uniform(low, high), &device);
        let mut bn = BatchNormConfig::new(c).init(&device);
        bn.gamma = Param::from_tensor(uniform(0.5, 1.5));
        bn.beta = Param::from_tensor(uniform(-0.5, 0.5));
        bn.running_mean = RunningState::new(uniform(-1.0, 1.0));
        bn.running_var = RunningState::new(uniform(0.1, 3.0));
        let x = Tensor::<4>::random(shape, Distribution::Normal(0.3, 2.0), &device);
        let residual = Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), &device);
        let relu = burn::tensor::activation::relu::<4>;
        let cases = [
            (
                "alone",
                modnet::kernels::batch_norm(&bn, x.clone(), false),
                bn.forward(x.clone()),
            ),
            (
                "relu",
                modnet::kernels::batch_norm(&bn, x.clone(), true),
                relu(bn.forward(x.clone())),
            ),
            (
                "residual",
                modnet::kernels::batch_norm_add_relu(&bn, x.clone(), residual.clone()),
                relu(residual.clone() + bn.forward(x.clone())),
            ),
        ];
        for (what, ours, burn) in cases {
            let (ours, burn) = (values(ours), values(burn));
            assert!(
                burn.iter().any(|&v| v > 0.0) && burn.iter().any(|&v| v <= 0.0) || what == "alone"
            );
            assert_eq!(ours, burn, "inference batch norm {shape:?}, {what}");
        }
    }
}

/// Ceil-mode max pooling in inference against burn's, with windows cut by the edge.
#[test]
fn max_pooling_in_inference_equals_burn() {
    let device = Device::flex();
    for (shape, size) in [
        ([2, 3, 9, 13], [2, 2]),
        ([4, 16, 5, 31], [2, 3]),
        ([1, 1, 1, 2], [2, 3]),
    ] {
        let x = Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), &device);
        let ours = modnet::kernels::max_pool(x.clone(), size);
        let burn = max_pool2d(x, MaxPoolOptions::new(size).with_ceil_mode(true));
        assert_eq!(ours.dims(), burn.dims());
        assert_eq!(values(ours), values(burn), "pool {shape:?} {size:?}");
    }
}

/// Ceil-mode max pooling in training against burn's: output and input gradient, with ties
/// (a ReLU's zeros) and windows cut by the edge.
#[test]
fn max_pooling_in_training_matches_burn() {
    let device = Device::flex().autodiff();
    for (shape, size) in [
        ([2, 3, 9, 13], [2, 2]),
        ([4, 16, 5, 31], [2, 3]),
        ([1, 1, 1, 2], [2, 3]),
    ] {
        let x = Tensor::<4>::random(shape, Distribution::Uniform(-1.0, 1.0), &device)
            .clamp_min(0.0)
            .detach()
            .require_grad();
        let run = |ours: bool| {
            let y = if ours {
                modnet::kernels::max_pool(x.clone(), size)
            } else {
                max_pool2d(x.clone(), MaxPoolOptions::new(size).with_ceil_mode(true))
            };
            let weights = varied(y.dims(), &device);
            let grads = (y.clone() * weights).sum().backward();
            (values(y.inner()), values(x.grad(&grads).unwrap()))
        };
        let (ours, burn) = (run(true), run(false));
        assert_close(
            &format!("pool {shape:?} {size:?}: output"),
            &ours.0,
            &burn.0,
        );
        assert_close(
            &format!("pool {shape:?} {size:?}: input gradient"),
            &ours.1,
            &burn.1,
        );
    }
}
