//! Batch normalisation as burn operations: in training one operation with its own backward
//! ([`NormKernels`], autodiff side in `backward.rs`), in inference one pass fused with the ReLU
//! or residual sum after it ([`NormInferenceKernels`]). burn's operations are the default
//! bodies; Flex runs [`super::slices`].

use burn::backend::TensorMetadata;
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Dispatch, Flex, backend_extension};
use burn::nn::BatchNorm;
use burn::tensor::{Tensor, TensorData};

use super::slices;
use crate::kernels::flex::{flex_like, values};

/// Batch normalisation in training mode (statistics of the batch), optionally followed by a
/// ReLU, as one operation with its own backward. The default bodies are burn's operations.
#[backend_extension(Flex, Autodiff: cfg(feature = "cpu-kernels-autodiff"))]
pub trait NormKernels: Backend {
    /// `x` `[n, c, h, w]`, `gamma`, `beta` `[c]`, `moments` `[2, c]` (the batch's mean and
    /// biased variance: [`NormKernels::modnet_channel_moments`] of `x`, computed once for the
    /// running statistics too) → `[n, c, h, w]`.
    fn modnet_batch_norm(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        moments: FloatTensor<Self>,
        epsilon: f64,
        relu: bool,
    ) -> FloatTensor<Self> {
        let _ = moments; // burn's composition computes them again.
        let out = Self::batch_norm_train(x, gamma, beta, epsilon).output;
        if relu { Self::relu(out) } else { out }
    }

    /// The gradients for `x`, `gamma` and `beta` from the output's gradient `dy`.
    fn modnet_batch_norm_backward(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        moments: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        epsilon: f64,
        relu: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let _ = moments;
        let train = Self::batch_norm_train(x.clone(), gamma.clone(), beta, epsilon);
        let dy = if relu {
            Self::relu_backward(Self::relu(train.output), dy)
        } else {
            dy
        };
        let grads =
            Self::batch_norm_train_backward(x, gamma, train.mean, train.variance, epsilon, dy);
        (grads.x_grad, grads.gamma_grad, grads.beta_grad)
    }

    /// Each channel's mean and biased variance, `[2, c]` (for the running statistics).
    fn modnet_channel_moments(x: FloatTensor<Self>) -> FloatTensor<Self> {
        let [n, c, h, w] = x.shape().dims::<4>();
        let flat = Self::float_reshape(Self::float_swap_dims(x, 0, 1), [c, n * h * w].into());
        let mean = Self::float_mean_dim(flat.clone(), 1);
        let centred = Self::float_sub(flat, mean.clone());
        let var = Self::float_mean_dim(Self::float_mul(centred.clone(), centred), 1);
        let mean = Self::float_reshape(mean, [1, c].into());
        let var = Self::float_reshape(var, [1, c].into());
        Self::float_cat(alloc::vec![mean, var], 0)
    }
}

fn norm_shape(x: &FlexTensor) -> slices::NormShape {
    let dims = x.shape();
    let channels = dims[1];
    slices::NormShape {
        batch: dims[0],
        channels,
        plane: dims.num_elements() / (dims[0] * channels).max(1),
    }
}

impl NormKernels for Flex {
    fn modnet_batch_norm(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        moments: FloatTensor<Self>,
        epsilon: f64,
        relu: bool,
    ) -> FloatTensor<Self> {
        let s = norm_shape(&x);
        let xs = values(&x);
        let moments = values(&moments);
        let (mean, var) = moments.split_at(s.channels);
        let y = slices::forward(
            &xs,
            &values(&gamma),
            &values(&beta),
            mean,
            var,
            epsilon,
            relu,
            &s,
        );
        flex_like(y, &x)
    }

    fn modnet_batch_norm_backward(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        moments: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        epsilon: f64,
        relu: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let s = norm_shape(&x);
        let moments = values(&moments);
        let (mean, var) = moments.split_at(s.channels);
        let (dx, dgamma, dbeta) = slices::backward(
            &values(&x),
            &values(&dy),
            &values(&gamma),
            &values(&beta),
            mean,
            var,
            epsilon,
            relu,
            &s,
        );
        (
            flex_like(dx, &x),
            flex_like(dgamma, &gamma),
            flex_like(dbeta, &gamma),
        )
    }

    fn modnet_channel_moments(x: FloatTensor<Self>) -> FloatTensor<Self> {
        let s = norm_shape(&x);
        let (mut mean, var) = slices::moments(&values(&x), &s);
        mean.extend(var);
        FlexTensor::from_data(TensorData::new(mean, [2, s.channels]))
    }
}

/// Batch normalisation with fixed statistics (inference), fused with what follows it in the
/// ResNet: a ReLU, or the residual sum and a ReLU. No autodiff: called only on tensors that
/// record no graph. The default bodies are burn's operations.
#[backend_extension(Flex)]
pub trait NormInferenceKernels: Backend {
    /// `x` `[n, c, h, w]`, `gamma`, `beta`, `mean`, `var` `[c]` → `[n, c, h, w]`, then
    /// `max(·, 0)` when `relu`.
    fn modnet_batch_norm_inference(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        mean: FloatTensor<Self>,
        var: FloatTensor<Self>,
        epsilon: f64,
        relu: bool,
    ) -> FloatTensor<Self> {
        let out = Self::batch_norm(x, gamma, beta, mean, var, epsilon);
        if relu { Self::relu(out) } else { out }
    }

    /// `max(residual + batch_norm(x), 0)`, `residual` shaped as `x`.
    #[allow(clippy::too_many_arguments)]
    fn modnet_batch_norm_add_relu(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        mean: FloatTensor<Self>,
        var: FloatTensor<Self>,
        residual: FloatTensor<Self>,
        epsilon: f64,
    ) -> FloatTensor<Self> {
        let out = Self::batch_norm(x, gamma, beta, mean, var, epsilon);
        Self::relu(Self::float_add(residual, out))
    }
}

/// [`slices::inference`] on Flex tensors.
#[allow(clippy::too_many_arguments)]
fn flex_norm_inference(
    x: &FlexTensor,
    gamma: &FlexTensor,
    beta: &FlexTensor,
    mean: &FlexTensor,
    var: &FlexTensor,
    residual: Option<&FlexTensor>,
    epsilon: f64,
    relu: bool,
) -> FlexTensor {
    let residual = residual.map(values);
    let y = slices::inference(
        &values(x),
        &values(gamma),
        &values(beta),
        &values(mean),
        &values(var),
        epsilon,
        residual.as_deref(),
        relu,
        &norm_shape(x),
    );
    flex_like(y, x)
}

impl NormInferenceKernels for Flex {
    fn modnet_batch_norm_inference(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        mean: FloatTensor<Self>,
        var: FloatTensor<Self>,
        epsilon: f64,
        relu: bool,
    ) -> FloatTensor<Self> {
        flex_norm_inference(&x, &gamma, &beta, &mean, &var, None, epsilon, relu)
    }

    fn modnet_batch_norm_add_relu(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        mean: FloatTensor<Self>,
        var: FloatTensor<Self>,
        residual: FloatTensor<Self>,
        epsilon: f64,
    ) -> FloatTensor<Self> {
        flex_norm_inference(
            &x,
            &gamma,
            &beta,
            &mean,
            &var,
            Some(&residual),
            epsilon,
            true,
        )
    }
}

/// [`NormKernels::modnet_batch_norm`] on burn tensors in training, the running statistics
/// updated as burn's `BatchNorm` does (the caller checked that ours runs).
pub(super) fn training(bn: &BatchNorm, x: Tensor<4>, relu: bool) -> Tensor<4> {
    let moments =
        <Dispatch as NormKernels>::modnet_channel_moments(x.clone().inner().into_dispatch());
    let moments = Tensor::<2>::from_inner(Tensor::from_dispatch(moments));
    let [_, c] = moments.dims();
    let (mean, var) = (
        moments.clone().narrow(0, 0, 1).reshape([c]),
        moments.clone().narrow(0, 1, 1).reshape([c]),
    );
    let momentum = bn.momentum;
    let running_mean = bn.running_mean.value_sync().to_device(&x.device());
    let running_var = bn.running_var.value_sync().to_device(&x.device());
    bn.running_mean
        .update((running_mean.mul_scalar(1.0 - momentum) + mean.mul_scalar(momentum)).detach());
    bn.running_var
        .update((running_var.mul_scalar(1.0 - momentum) + var.mul_scalar(momentum)).detach());
    let out = <Dispatch as NormKernels>::modnet_batch_norm(
        x.into_dispatch(),
        bn.gamma.val().into_dispatch(),
        bn.beta.val().into_dispatch(),
        moments.into_dispatch(),
        bn.epsilon,
        relu,
    );
    Tensor::from_dispatch(out)
}

/// `bn` with its running statistics on `x`, then the residual sum and a ReLU when `residual`
/// is given, else a ReLU when `relu` (the caller checked that ours runs, without autodiff).
pub(super) fn inference(
    bn: &BatchNorm,
    x: Tensor<4>,
    residual: Option<Tensor<4>>,
    relu: bool,
) -> Tensor<4> {
    let device = x.device();
    let [gamma, beta, mean, var] = [
        bn.gamma.val(),
        bn.beta.val(),
        bn.running_mean.value().to_device(&device),
        bn.running_var.value().to_device(&device),
    ]
    .map(|t| t.into_dispatch());
    let out = match residual {
        Some(residual) => <Dispatch as NormInferenceKernels>::modnet_batch_norm_add_relu(
            x.into_dispatch(),
            gamma,
            beta,
            mean,
            var,
            residual.into_dispatch(),
            bn.epsilon,
        ),
        None => <Dispatch as NormInferenceKernels>::modnet_batch_norm_inference(
            x.into_dispatch(),
            gamma,
            beta,
            mean,
            var,
            bn.epsilon,
            relu,
        ),
    };
    Tensor::from_dispatch(out)
}
