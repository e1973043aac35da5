//! Ceil-mode max pooling by our kernel against burn's, in inference and training, with ties
//! and windows cut by the edge.

use alloc::format;

use burn::tensor::module::max_pool2d;
use burn::tensor::ops::MaxPoolOptions;
use burn::tensor::{Device, Distribution, Tensor};

use crate::kernels::testing::{assert_close, ran, values, varied};
use crate::kernels::trace::Route;

/// Ceil-mode max pooling in inference against burn's, with windows cut by the edge.
#[test]
fn max_pooling_in_inference_equals_burn() {
    let device = Device::flex();
    device.seed(7);
    for (shape, size) in [
        ([2, 3, 9, 13], [2, 2]),
        ([4, 16, 5, 31], [2, 3]),
        ([1, 1, 1, 2], [2, 3]),
    ] {
        let x = Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), &device);
        let ours = ran("pool", &[Route::MaxPoolForward], || {
            super::max_pool(x.clone(), size)
        });
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
    device.seed(8);
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
                super::max_pool(x.clone(), size)
            } else {
                max_pool2d(x.clone(), MaxPoolOptions::new(size).with_ceil_mode(true))
            };
            let weights = varied(y.dims(), &device);
            let grads = (y.clone() * weights).sum().backward();
            (values(y.inner()), values(x.grad(&grads).unwrap()))
        };
        let ours = ran("pool in training", &[Route::MaxPoolBackward], || run(true));
        let burn = run(false);
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
