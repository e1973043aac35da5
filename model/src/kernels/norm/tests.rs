//! Batch normalisation by our kernels against burn's `BatchNorm`, in training (output, every
//! gradient, the running statistics) and in inference (exactly equal), at the model's widths.

use alloc::format;

use burn::tensor::{Device, Distribution, Tensor};

use crate::kernels::testing::{assert_close, ran, values, varied};
use crate::kernels::trace::Route;

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
            ran("batch norm in training", &[Route::BatchNormForward], || {
                super::batch_norm(&bn, x.clone(), relu)
            })
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
    let what = format!("batch norm {shape:?}, relu {relu}");
    let ours = ran(&what, &[Route::BatchNormBackward], || run(true));
    let burn = run(false);
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
    // The deep layers at the HarmonicCNN and paper widths.
    compare_norm([2, 128, 5, 9], true);
    compare_norm([2, 256, 2, 5], false);
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
                super::batch_norm(&bn, x.clone(), false),
                bn.forward(x.clone()),
            ),
            (
                "relu",
                super::batch_norm(&bn, x.clone(), true),
                relu(bn.forward(x.clone())),
            ),
            (
                "residual",
                super::batch_norm_add_relu(&bn, x.clone(), residual.clone()),
                relu(residual.clone() + bn.forward(x.clone())),
            ),
        ];
        assert!(
            crate::kernels::trace::runs(Route::BatchNormInference) >= 3,
            "our inference kernel did not run"
        );
        for (what, ours, burn) in cases {
            let (ours, burn) = (values(ours), values(burn));
            assert!(
                burn.iter().any(|&v| v > 0.0) && burn.iter().any(|&v| v <= 0.0) || what == "alone"
            );
            assert_eq!(ours, burn, "inference batch norm {shape:?}, {what}");
        }
    }
}
