//! The kernels as burn operations: one backend-extension trait per kernel (burn's own
//! composition as the default body), implemented for Flex on [`super::conv`], [`super::norm`] and
//! [`super::pool`]. Their autodiff side is [`super::autodiff`].

use burn::backend::TensorMetadata;
use burn::backend::flex::FlexTensor;
use burn::backend::ops::ConvOptions;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Flex, backend_extension};
use burn::tensor::TensorData;

use super::conv::{self, ConvShape};
use super::{filterbank, norm, pool};

/// Convolutions at stride 1 with zero padding `(ph, pw)`, no groups or dilation. The default
/// bodies are burn's own operations; Flex overrides them with [`conv`]'s kernels (on `f32`
/// tensors: the wrappers in `kernels` call these only then).
#[backend_extension(Flex, Autodiff: cfg(feature = "cpu-kernels-autodiff"))]
pub trait ConvKernels: Backend {
    /// `x` `[n, c_in, h, w]`, `weight` `[c_out, c_in, kh, kw]`, `bias` `[c_out]` →
    /// `[n, c_out, oh, ow]`.
    fn modnet_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        ph: usize,
        pw: usize,
    ) -> FloatTensor<Self> {
        Self::conv2d(x, weight, Some(bias), options(ph, pw))
    }

    /// The gradient of [`ConvKernels::modnet_conv2d`] for `x`, from the output's gradient `dy`.
    fn modnet_conv2d_input_grad(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        ph: usize,
        pw: usize,
    ) -> FloatTensor<Self> {
        Self::conv2d_x_backward(x, weight, dy, options(ph, pw))
    }

    /// The gradient for `weight`.
    fn modnet_conv2d_weight_grad(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        ph: usize,
        pw: usize,
    ) -> FloatTensor<Self> {
        Self::conv2d_weight_backward(x, weight, dy, options(ph, pw))
    }

    /// The gradient for `bias`: `dy` summed over images and positions.
    fn modnet_conv2d_bias_grad(dy: FloatTensor<Self>) -> FloatTensor<Self> {
        let [n, c, h, w] = dy.shape().dims::<4>();
        let dy = Self::float_reshape(dy, [n, c, h * w].into());
        let summed = Self::float_sum_dim(Self::float_sum_dim(dy, 2), 0);
        Self::float_reshape(summed, [c].into())
    }
}

pub(super) fn options(ph: usize, pw: usize) -> ConvOptions<2> {
    ConvOptions::new([1, 1], [ph, pw], [1, 1], 1)
}

/// A Flex tensor's `f32` values, row-major (copied only when not contiguous).
fn values(t: &FlexTensor) -> alloc::borrow::Cow<'_, [f32]> {
    match t.as_slice::<f32>() {
        Some(v) => alloc::borrow::Cow::Borrowed(v),
        None => {
            alloc::borrow::Cow::Owned(t.to_contiguous().as_slice::<f32>().unwrap_or(&[]).to_vec())
        }
    }
}

fn flex(values: alloc::vec::Vec<f32>, shape: [usize; 4]) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape))
}

fn shape_of(x: &FlexTensor, weight: &FlexTensor, ph: usize, pw: usize) -> ConvShape {
    ConvShape::of(x.shape().dims::<4>(), weight.shape().dims::<4>(), [ph, pw])
}

impl ConvKernels for Flex {
    fn modnet_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        ph: usize,
        pw: usize,
    ) -> FloatTensor<Self> {
        let s = shape_of(&x, &weight, ph, pw);
        let out = conv::forward(&values(&x), &values(&weight), Some(&values(&bias)), &s);
        flex(out, [s.batch, s.c_out, s.oh(), s.ow()])
    }

    fn modnet_conv2d_input_grad(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        ph: usize,
        pw: usize,
    ) -> FloatTensor<Self> {
        let s = shape_of(&x, &weight, ph, pw);
        flex(
            conv::input_grad(&values(&weight), &values(&dy), &s),
            [s.batch, s.c_in, s.h, s.w],
        )
    }

    fn modnet_conv2d_weight_grad(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        ph: usize,
        pw: usize,
    ) -> FloatTensor<Self> {
        let s = shape_of(&x, &weight, ph, pw);
        flex(
            conv::weight_grad(&values(&x), &values(&dy), &s),
            [s.c_out, s.c_in, s.kh, s.kw],
        )
    }
}

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

fn norm_shape(x: &FlexTensor) -> norm::NormShape {
    let dims = x.shape();
    let channels = dims[1];
    norm::NormShape {
        batch: dims[0],
        channels,
        plane: dims.num_elements() / (dims[0] * channels).max(1),
    }
}

fn flex_like(values: alloc::vec::Vec<f32>, like: &FlexTensor) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, like.shape()))
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
        let y = norm::forward(
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
        let (dx, dgamma, dbeta) = norm::backward(
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
        let (mut mean, var) = norm::moments(&values(&x), &s);
        mean.extend(var);
        FlexTensor::from_data(TensorData::new(mean, [2, s.channels]))
    }
}

/// Batch normalisation with fixed statistics (inference), fused with what follows it in the
/// ResNet: a ReLU, or the residual sum and a ReLU. No autodiff: called only on tensors that
/// record no graph. The default bodies are burn's operations.
#[backend_extension(Flex)]
pub trait InferenceKernels: Backend {
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

    /// Every row of `x` `[n, rows, samples]` filtered at `stride` by the symmetric kernels of
    /// `2L + 1` taps whose first `L + 1` are `half` `[filters, L + 1]` →
    /// `[n, filters, rows, frames]` (no padding).
    fn modnet_symmetric_filterbank(
        x: FloatTensor<Self>,
        half: FloatTensor<Self>,
        stride: usize,
    ) -> FloatTensor<Self> {
        use burn::backend::Slice;
        let [n, rows, samples] = x.shape().dims::<3>();
        let [filters, taps] = half.shape().dims::<2>();
        let left = Self::float_slice(
            half.clone(),
            &[
                Slice::new(0, None, 1),
                Slice::new(0, Some(taps as isize - 1), 1),
            ],
        );
        let kernels = Self::float_cat(alloc::vec![half, Self::float_flip(left, &[1])], 1);
        let kernels = Self::float_reshape(kernels, [filters, 1, 2 * taps - 1].into());
        let x = Self::float_reshape(x, [n * rows, 1, samples].into());
        let options = ConvOptions::new([stride], [0], [1], 1);
        let y = Self::conv1d(x, kernels, None, options);
        let frames = y.shape().dims::<3>()[2];
        let y = Self::float_reshape(y, [n, rows, filters, frames].into());
        Self::float_permute(y, &[0, 2, 1, 3])
    }
}

/// [`norm::inference`] on Flex tensors.
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
    let y = norm::inference(
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

impl InferenceKernels for Flex {
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

    fn modnet_symmetric_filterbank(
        x: FloatTensor<Self>,
        half: FloatTensor<Self>,
        stride: usize,
    ) -> FloatTensor<Self> {
        let [batch, rows, samples] = x.shape().dims::<3>();
        let [filters, half_taps] = half.shape().dims::<2>();
        let s = filterbank::BankShape {
            batch,
            rows,
            samples,
            filters,
            half: half_taps,
            stride,
        };
        let y = filterbank::forward(&values(&x), &values(&half), &s);
        flex(y, [batch, filters, rows, s.frames()])
    }
}

/// Max pooling over non-overlapping windows in ceil mode, with its own backward (the maximum
/// found again from the input). The default bodies are burn's operations.
#[backend_extension(Flex, Autodiff: cfg(feature = "cpu-kernels-autodiff"))]
pub trait PoolKernels: Backend {
    /// `x` `[n, c, h, w]` → `[n, c, ⌈h/ph⌉, ⌈w/pw⌉]`.
    fn modnet_max_pool(x: FloatTensor<Self>, ph: usize, pw: usize) -> FloatTensor<Self> {
        Self::max_pool2d(x, [ph, pw], [ph, pw], [0, 0], [1, 1], true)
    }

    /// The gradient for `x` from the output's gradient `dy`.
    fn modnet_max_pool_backward(
        x: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        ph: usize,
        pw: usize,
    ) -> FloatTensor<Self> {
        let pooled = Self::max_pool2d_with_indices(
            x.clone(),
            [ph, pw],
            [ph, pw],
            [0, 0],
            [1, 1],
            true,
            burn::backend::IntDType::I64,
        );
        Self::max_pool2d_with_indices_backward(
            x,
            [ph, pw],
            [ph, pw],
            [0, 0],
            [1, 1],
            true,
            dy,
            pooled.indices,
        )
        .x_grad
    }
}

fn pool_shape(x: &FlexTensor, ph: usize, pw: usize) -> pool::PoolShape {
    let [n, c, h, w] = x.shape().dims::<4>();
    pool::PoolShape {
        planes: n * c,
        h,
        w,
        ph,
        pw,
    }
}

impl PoolKernels for Flex {
    fn modnet_max_pool(x: FloatTensor<Self>, ph: usize, pw: usize) -> FloatTensor<Self> {
        let s = pool_shape(&x, ph, pw);
        let [n, c, _, _] = x.shape().dims::<4>();
        flex(pool::forward(&values(&x), &s), [n, c, s.oh(), s.ow()])
    }

    fn modnet_max_pool_backward(
        x: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        ph: usize,
        pw: usize,
    ) -> FloatTensor<Self> {
        let s = pool_shape(&x, ph, pw);
        flex_like(pool::backward(&values(&x), &values(&dy), &s), &x)
    }
}
