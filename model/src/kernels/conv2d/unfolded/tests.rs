//! The unfolded convolution against burn's on Flex: forward and gradients through burn's
//! autodiff, the explicit gradients, in every tiling; and the tiles themselves.

use super::*;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Distribution, Tolerance};

/// Output and the gradients of input, kernels and bias against burn's convolution, for `x`
/// `[n, c, h, w]`, `c_out` kernels of `kh×kw` and padding `p` (relative 1e-4), unfolded in
/// tiles of at most `max_bytes`.
fn check(x: [usize; 4], c_out: usize, [kh, kw]: [usize; 2], p: [usize; 2], max_bytes: usize) {
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
            conv2d_within(x.clone(), w.clone(), Some(b.clone()), p, max_bytes)
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
    check([2, 5, 9, 13], 7, [3, 3], [1, 1], MAX_UNFOLDED_BYTES);
    check([1, 3, 4, 5], 2, [3, 3], [1, 1], MAX_UNFOLDED_BYTES);
}

#[test]
fn one_row_kernels_without_padding_equal_burn() {
    // The front-end's polyphase form: [batch, stride, rows, positions], one-row kernels.
    check([3, 4, 2, 40], 6, [1, 8], [0, 0], MAX_UNFOLDED_BYTES);
}

#[test]
fn groups_of_signals_equal_burn() {
    // 30 signals unfold to 4·9·120·150·4 B each, 78 MB together: more than
    // MAX_UNFOLDED_BYTES, so they are convolved in groups.
    let [n, c, h, w] = [30, 4, 120, 150];
    assert!(n * c * 9 * h * w * 4 > MAX_UNFOLDED_BYTES);
    check([n, c, h, w], 3, [3, 3], [1, 1], MAX_UNFOLDED_BYTES);
}

#[test]
fn bands_of_rows_and_pieces_of_rows_equal_burn() {
    // 5·9 values a position, 4 bytes each: 900 bytes hold 5 positions (less than a row of
    // 13: pieces of 5, 5 and 3), 4 000 bytes 22 (bands of one row of 13), 10 000 bytes 55
    // (4 rows of 9 × 13 outputs: bands of 3).
    for max_bytes in [900, 4_000, 10_000] {
        check([2, 5, 9, 13], 7, [3, 3], [1, 1], max_bytes);
    }
    // The front-end's one-row kernels, a row cut into pieces.
    check([2, 4, 2, 40], 6, [1, 8], [0, 0], 4 * 32 * 7);
}

/// The explicit gradients ([`input_grad`], [`weight_grad`], the extension's backward on a
/// GPU) against burn's, for `x` `[n, c, h, w]`, `c_out` kernels of `kh×kw`, padding `p`,
/// in tiles of at most `max_bytes`.
fn check_gradients(
    x: [usize; 4],
    c_out: usize,
    [kh, kw]: [usize; 2],
    p: [usize; 2],
    max_bytes: usize,
) {
    type D = burn::backend::Dispatch;
    let device = Device::flex();
    let random = |shape: [usize; 4]| {
        Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), &device).into_dispatch()
    };
    let [n, c, h, w] = x;
    let (x, weight) = (random(x), random([c_out, c, kh, kw]));
    let dy = random([n, c_out, h + 2 * p[0] + 1 - kh, w + 2 * p[1] + 1 - kw]);
    let options = ConvOptions::new([1, 1], p, [1, 1], 1);
    let data = |t| Tensor::<4>::from_dispatch(t).into_data();
    let pairs = [
        (
            "dx",
            input_grad::<D>([n, c, h, w], weight.clone(), dy.clone(), p, max_bytes),
            <D as burn::backend::ops::ModuleOps<D>>::conv2d_x_backward(
                x.clone(),
                weight.clone(),
                dy.clone(),
                options.clone(),
            ),
        ),
        (
            "dw",
            weight_grad::<D>(x.clone(), [c_out, c, kh, kw], dy.clone(), p, max_bytes),
            <D as burn::backend::ops::ModuleOps<D>>::conv2d_weight_backward(x, weight, dy, options),
        ),
    ];
    for (what, ours, theirs) in pairs {
        let (ours, theirs) = (data(ours), data(theirs));
        assert_eq!(ours.shape(), theirs.shape(), "{what}");
        ours.assert_approx_eq::<f32>(&theirs, Tolerance::relative(1e-4).set_absolute(1e-3));
    }
}

#[test]
fn explicit_gradients_equal_burn_in_every_tiling() {
    // Whole, groups of signals (5·9·4 B a position, 117 positions a signal: 3 a tile of
    // 7), bands of 3 rows, pieces of rows.
    for max_bytes in [MAX_UNFOLDED_BYTES, 3 * 117 * 180, 10_000, 900] {
        check_gradients([7, 5, 9, 13], 6, [3, 3], [1, 1], max_bytes);
    }
    // Without padding, and the front-end's one-row kernels, whole and in pieces.
    check_gradients([3, 5, 9, 11], 7, [3, 3], [0, 0], 2_000);
    for max_bytes in [MAX_UNFOLDED_BYTES, 4 * 32 * 7] {
        check_gradients([2, 4, 2, 40], 6, [1, 8], [0, 0], max_bytes);
    }
}

#[test]
fn tiles_are_the_largest_within_the_bound() {
    let tiles = |shape, max_bytes| {
        let Tiles {
            signals,
            rows,
            columns,
        } = Tiles::within(shape, max_bytes);
        [signals, rows, columns]
    };
    // The paper preset's second layer, batch 16: 2 304 values a position, 40 × 246
    // positions (91 MB a signal; 29 rows fit the bound) → two bands of 20 rows.
    let paper = [16, 2304, 40, 246];
    assert_eq!(tiles(paper, MAX_UNFOLDED_BYTES), [1, 20, 246]);
    const { assert!(29 * 246 * 2304 * 4 <= MAX_UNFOLDED_BYTES) };
    const { assert!(30 * 246 * 2304 * 4 > MAX_UNFOLDED_BYTES) };
    // Its third layer (23 MB a signal): two signals a tile, whole.
    assert_eq!(tiles([16, 2304, 20, 123], MAX_UNFOLDED_BYTES), [2, 20, 123]);
    // 7 signals of which 3 fit: tiles of 3 (the last of 1).
    assert_eq!(tiles([7, 9, 2, 2], 3 * 4 * 9 * 4), [3, 2, 2]);
    // Never more signals than there are, never an empty tile.
    assert_eq!(tiles([3, 9, 2, 2], MAX_UNFOLDED_BYTES), [3, 2, 2]);
    assert_eq!(tiles([3, 9, 2, 2], 1), [1, 1, 1]);
    // A row longer than the bound: pieces of it.
    assert_eq!(tiles([1, 10, 4, 100], 400), [1, 1, 10]);
}

#[test]
fn the_cpu_backends_are_not_cubecl() {
    let x = Tensor::<2>::zeros([1, 1], &Device::flex());
    assert!(!on_cubecl(&x));
    assert!(!on_cubecl(&x.autodiff()));
}
