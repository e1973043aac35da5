//! The project's own CPU kernels, where burn's Flex is slow for this model: the stride-1
//! convolutions of the ResNet (3×3) and of the front-end's polyphase filterbanks, forward and
//! backward ([`conv`]).
//!
//! They reach burn as a backend extension ([`ConvKernels`]): Flex runs ours, the autodiff
//! backend records our backward (the weight gradient as one matrix multiply per image instead of
//! burn's convolution whose kernel is the whole feature map), and every other backend — wgpu,
//! CUDA, NdArray — keeps burn's own convolution ([`conv2d`] decides by the tensor's device).

pub mod conv;
pub mod norm;
pub mod pool;

use burn::backend::TensorMetadata;
use burn::backend::flex::FlexTensor;
use burn::backend::ops::{ConvOptions, ModuleOps};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, DispatchDevice, Flex, backend_extension};
use burn::tensor::{DType, Tensor, TensorData};

use conv::ConvShape;

/// Convolutions at stride 1 with zero padding `(ph, pw)`, no groups or dilation. The default
/// bodies are burn's own operations; Flex overrides them with [`conv`]'s kernels.
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

/// Keeps freed memory in the process instead of handing it back to the system (glibc only;
/// elsewhere nothing changes). Call it once at the start of a native program that trains or
/// tags on the CPU.
///
/// glibc serves every allocation over 32 MB with its own `mmap` and unmaps it when freed, so each
/// training step's activations and unfolded images (tens of MB each) come back as fresh pages:
/// page faults, zeroing by the kernel and TLB shootdowns across threads took a third of a
/// HarmonicCNN-wide training step here (2.0 → 1.3 s with this). The price: the process keeps its
/// peak heap.
pub fn keep_freed_memory() {
    #[cfg(all(feature = "rayon", target_os = "linux", target_env = "gnu"))]
    // SAFETY: `mallopt` only changes glibc's tuning parameters; called before threads allocate.
    unsafe {
        libc::mallopt(libc::M_MMAP_MAX, 0);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
        libc::mallopt(libc::M_TOP_PAD, 256 << 20);
    }
}

fn options(ph: usize, pw: usize) -> ConvOptions<2> {
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
    let [batch, c_in, h, w] = x.shape().dims::<4>();
    let [c_out, _, kh, kw] = weight.shape().dims::<4>();
    ConvShape {
        batch,
        c_in,
        c_out,
        h,
        w,
        kh,
        kw,
        ph,
        pw,
    }
}

impl ConvKernels for Flex {
    fn modnet_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        ph: usize,
        pw: usize,
    ) -> FloatTensor<Self> {
        if x.dtype() != DType::F32 {
            return Self::conv2d(x, weight, Some(bias), options(ph, pw));
        }
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
        if x.dtype() != DType::F32 {
            return Self::conv2d_x_backward(x, weight, dy, options(ph, pw));
        }
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
        if x.dtype() != DType::F32 {
            return Self::conv2d_weight_backward(x, weight, dy, options(ph, pw));
        }
        let s = shape_of(&x, &weight, ph, pw);
        flex(
            conv::weight_grad(&values(&x), &values(&dy), &s),
            [s.c_out, s.c_in, s.kh, s.kw],
        )
    }
}

#[cfg(feature = "cpu-kernels-autodiff")]
mod autodiff {
    use burn::backend::Autodiff;
    use burn::backend::autodiff::NodeId;
    use burn::backend::autodiff::checkpoint::base::Checkpointer;
    use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
    use burn::backend::autodiff::grads::Gradients;
    use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
    use burn::backend::tensor::FloatTensor;

    use super::ConvKernels;

    /// Our backward for [`ConvKernels::modnet_conv2d`]: the three gradients by the inner
    /// backend's kernels.
    #[derive(Debug)]
    struct ConvBackward;

    impl<B: ConvKernels> Backward<B, 3> for ConvBackward {
        type State = (NodeId, NodeId, usize, usize);

        fn backward(
            self,
            ops: Ops<Self::State, 3>,
            grads: &mut Gradients,
            checkpointer: &mut Checkpointer,
        ) {
            let [node_x, node_weight, node_bias] = ops.parents;
            let dy = grads.consume::<B>(&ops.node);
            let (x_state, weight_state, ph, pw) = ops.state;
            let x = checkpointer.retrieve_node_output::<B::FloatTensorPrimitive>(x_state);
            let weight = checkpointer.retrieve_node_output::<B::FloatTensorPrimitive>(weight_state);
            if let Some(node) = node_x {
                let dx = B::modnet_conv2d_input_grad(x.clone(), weight.clone(), dy.clone(), ph, pw);
                grads.register::<B>(node.id, dx);
            }
            if let Some(node) = node_weight {
                let dw = B::modnet_conv2d_weight_grad(x, weight, dy.clone(), ph, pw);
                grads.register::<B>(node.id, dw);
            }
            if let Some(node) = node_bias {
                grads.register::<B>(node.id, B::modnet_conv2d_bias_grad(dy));
            }
        }
    }

    impl<B: ConvKernels, C: CheckpointStrategy> ConvKernels for Autodiff<B, C> {
        fn modnet_conv2d(
            x: FloatTensor<Self>,
            weight: FloatTensor<Self>,
            bias: FloatTensor<Self>,
            ph: usize,
            pw: usize,
        ) -> FloatTensor<Self> {
            match ConvBackward
                .prepare::<C>([x.node(), weight.node(), bias.node()])
                .compute_bound()
                .stateful()
            {
                OpsKind::Tracked(mut prep) => {
                    let x_state = prep.checkpoint(&x);
                    let weight_state = prep.checkpoint(&weight);
                    let out = B::modnet_conv2d(
                        x.into_primitive(),
                        weight.into_primitive(),
                        bias.into_primitive(),
                        ph,
                        pw,
                    );
                    prep.finish((x_state, weight_state, ph, pw), out)
                }
                OpsKind::UnTracked(prep) => prep.finish(B::modnet_conv2d(
                    x.into_primitive(),
                    weight.into_primitive(),
                    bias.into_primitive(),
                    ph,
                    pw,
                )),
            }
        }
    }
}

/// Whether `t` lives on Flex (autodiff or not): where our kernels run.
fn on_flex<const D: usize>(t: &Tensor<D>) -> bool {
    matches!(t.device().inner().as_dispatch(), DispatchDevice::Flex(_))
}

/// A stride-1 convolution with zero padding `[ph, pw]` and a bias: ours on Flex, burn's
/// elsewhere.
///
/// - x: `[n, c_in, h, w]`, weight: `[c_out, c_in, kh, kw]`, bias: `[c_out]`
/// - output: `[n, c_out, h + 2·ph − kh + 1, w + 2·pw − kw + 1]`
pub fn conv2d(x: Tensor<4>, weight: Tensor<4>, bias: Tensor<1>, [ph, pw]: [usize; 2]) -> Tensor<4> {
    // Without the autodiff route the extension cannot record a backward: burn's then.
    let ours = on_flex(&x) && (cfg!(feature = "cpu-kernels-autodiff") || !x.is_autodiff());
    if !ours {
        return burn::tensor::module::conv2d(x, weight, Some(bias), options(ph, pw));
    }
    let out = <burn::backend::Dispatch as ConvKernels>::modnet_conv2d(
        x.into_dispatch(),
        weight.into_dispatch(),
        bias.into_dispatch(),
        ph,
        pw,
    );
    Tensor::from_dispatch(out)
}

/// A stride-1 one-dimensional convolution without padding or bias (the front-end's polyphase
/// filterbanks): [`conv2d`] on one row.
///
/// - x: `[n, c_in, l]`, weight: `[c_out, c_in, k]`
/// - output: `[n, c_out, l − k + 1]`
pub fn conv1d(x: Tensor<3>, weight: Tensor<3>) -> Tensor<3> {
    let [c_out, _, _] = weight.dims();
    let bias = Tensor::zeros([c_out], &weight.device());
    let out = conv2d(x.unsqueeze_dim(2), weight.unsqueeze_dim(2), bias, [0, 0]);
    out.squeeze_dim(2)
}

/// Batch normalisation in training mode (statistics of the batch), optionally followed by a
/// ReLU, as one operation with its own backward. The default bodies are burn's operations.
#[backend_extension(Flex, Autodiff: cfg(feature = "cpu-kernels-autodiff"))]
pub trait NormKernels: Backend {
    /// `x` `[n, c, h, w]`, `gamma`, `beta` `[c]` → `[n, c, h, w]`.
    fn modnet_batch_norm(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
        relu: bool,
    ) -> FloatTensor<Self> {
        let out = Self::batch_norm_train(x, gamma, beta, epsilon).output;
        if relu { Self::relu(out) } else { out }
    }

    /// The gradients for `x`, `gamma` and `beta` from the output's gradient `dy`.
    fn modnet_batch_norm_backward(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        epsilon: f64,
        relu: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
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
        epsilon: f64,
        relu: bool,
    ) -> FloatTensor<Self> {
        let s = norm_shape(&x);
        let xs = values(&x);
        let (mean, var) = norm::moments(&xs, &s);
        let y = norm::forward(
            &xs,
            &values(&gamma),
            &values(&beta),
            &mean,
            &var,
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
        dy: FloatTensor<Self>,
        epsilon: f64,
        relu: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let s = norm_shape(&x);
        let xs = values(&x);
        let (mean, var) = norm::moments(&xs, &s);
        let (dx, dgamma, dbeta) = norm::backward(
            &xs,
            &values(&dy),
            &values(&gamma),
            &values(&beta),
            &mean,
            &var,
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

#[cfg(feature = "cpu-kernels-autodiff")]
mod norm_autodiff {
    use burn::backend::Autodiff;
    use burn::backend::autodiff::NodeId;
    use burn::backend::autodiff::checkpoint::base::Checkpointer;
    use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
    use burn::backend::autodiff::grads::Gradients;
    use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
    use burn::backend::tensor::FloatTensor;

    use super::NormKernels;

    #[derive(Debug)]
    struct NormBackward;

    impl<B: NormKernels> Backward<B, 3> for NormBackward {
        type State = (NodeId, NodeId, NodeId, f64, bool);

        fn backward(
            self,
            ops: Ops<Self::State, 3>,
            grads: &mut Gradients,
            checkpointer: &mut Checkpointer,
        ) {
            let [node_x, node_gamma, node_beta] = ops.parents;
            let dy = grads.consume::<B>(&ops.node);
            let (x, gamma, beta, epsilon, relu) = ops.state;
            let x = checkpointer.retrieve_node_output::<B::FloatTensorPrimitive>(x);
            let gamma = checkpointer.retrieve_node_output::<B::FloatTensorPrimitive>(gamma);
            let beta = checkpointer.retrieve_node_output::<B::FloatTensorPrimitive>(beta);
            let (dx, dgamma, dbeta) =
                B::modnet_batch_norm_backward(x, gamma, beta, dy, epsilon, relu);
            if let Some(node) = node_x {
                grads.register::<B>(node.id, dx);
            }
            if let Some(node) = node_gamma {
                grads.register::<B>(node.id, dgamma);
            }
            if let Some(node) = node_beta {
                grads.register::<B>(node.id, dbeta);
            }
        }
    }

    impl<B: NormKernels, C: CheckpointStrategy> NormKernels for Autodiff<B, C> {
        fn modnet_batch_norm(
            x: FloatTensor<Self>,
            gamma: FloatTensor<Self>,
            beta: FloatTensor<Self>,
            epsilon: f64,
            relu: bool,
        ) -> FloatTensor<Self> {
            match NormBackward
                .prepare::<C>([x.node(), gamma.node(), beta.node()])
                .compute_bound()
                .stateful()
            {
                OpsKind::Tracked(mut prep) => {
                    let state = (
                        prep.checkpoint(&x),
                        prep.checkpoint(&gamma),
                        prep.checkpoint(&beta),
                        epsilon,
                        relu,
                    );
                    let out = B::modnet_batch_norm(
                        x.into_primitive(),
                        gamma.into_primitive(),
                        beta.into_primitive(),
                        epsilon,
                        relu,
                    );
                    prep.finish(state, out)
                }
                OpsKind::UnTracked(prep) => prep.finish(B::modnet_batch_norm(
                    x.into_primitive(),
                    gamma.into_primitive(),
                    beta.into_primitive(),
                    epsilon,
                    relu,
                )),
            }
        }
    }
}

/// `bn` (then a ReLU when `relu`) on `x`: in training on Flex, one operation of ours forward
/// and backward, with the running statistics updated as burn's `BatchNorm` does; otherwise
/// burn's.
///
/// - x: `[n, c, h, w]` → `[n, c, h, w]`
pub fn batch_norm(bn: &burn::nn::BatchNorm, x: Tensor<4>, relu: bool) -> Tensor<4> {
    let training = x.is_autodiff() && bn.training.is_enabled();
    let ours = training
        && cfg!(feature = "cpu-kernels-autodiff")
        && on_flex(&x)
        && x.dtype() == DType::F32;
    if !ours {
        let y = bn.forward(x);
        return if relu {
            burn::tensor::activation::relu(y)
        } else {
            y
        };
    }
    let moments = <burn::backend::Dispatch as NormKernels>::modnet_channel_moments(
        x.clone().inner().into_dispatch(),
    );
    let moments = Tensor::<2>::from_inner(Tensor::from_dispatch(moments));
    let [_, c] = moments.dims();
    let (mean, var) = (
        moments.clone().narrow(0, 0, 1).reshape([c]),
        moments.narrow(0, 1, 1).reshape([c]),
    );
    let momentum = bn.momentum;
    let running_mean = bn.running_mean.value_sync().to_device(&x.device());
    let running_var = bn.running_var.value_sync().to_device(&x.device());
    bn.running_mean
        .update((running_mean.mul_scalar(1.0 - momentum) + mean.mul_scalar(momentum)).detach());
    bn.running_var
        .update((running_var.mul_scalar(1.0 - momentum) + var.mul_scalar(momentum)).detach());
    let out = <burn::backend::Dispatch as NormKernels>::modnet_batch_norm(
        x.into_dispatch(),
        bn.gamma.val().into_dispatch(),
        bn.beta.val().into_dispatch(),
        bn.epsilon,
        relu,
    );
    Tensor::from_dispatch(out)
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

#[cfg(feature = "cpu-kernels-autodiff")]
mod pool_autodiff {
    use burn::backend::Autodiff;
    use burn::backend::autodiff::NodeId;
    use burn::backend::autodiff::checkpoint::base::Checkpointer;
    use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
    use burn::backend::autodiff::grads::Gradients;
    use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
    use burn::backend::tensor::FloatTensor;

    use super::PoolKernels;

    #[derive(Debug)]
    struct PoolBackward;

    impl<B: PoolKernels> Backward<B, 1> for PoolBackward {
        type State = (NodeId, usize, usize);

        fn backward(
            self,
            ops: Ops<Self::State, 1>,
            grads: &mut Gradients,
            checkpointer: &mut Checkpointer,
        ) {
            let [node_x] = ops.parents;
            let dy = grads.consume::<B>(&ops.node);
            let (x, ph, pw) = ops.state;
            if let Some(node) = node_x {
                let x = checkpointer.retrieve_node_output::<B::FloatTensorPrimitive>(x);
                grads.register::<B>(node.id, B::modnet_max_pool_backward(x, dy, ph, pw));
            }
        }
    }

    impl<B: PoolKernels, C: CheckpointStrategy> PoolKernels for Autodiff<B, C> {
        fn modnet_max_pool(x: FloatTensor<Self>, ph: usize, pw: usize) -> FloatTensor<Self> {
            match PoolBackward
                .prepare::<C>([x.node()])
                .compute_bound()
                .stateful()
            {
                OpsKind::Tracked(mut prep) => {
                    let state = (prep.checkpoint(&x), ph, pw);
                    prep.finish(state, B::modnet_max_pool(x.into_primitive(), ph, pw))
                }
                OpsKind::UnTracked(prep) => {
                    prep.finish(B::modnet_max_pool(x.into_primitive(), ph, pw))
                }
            }
        }
    }
}

/// Max pooling over `[ph, pw]` windows at stride `[ph, pw]`, ceil mode: ours on Flex (forward
/// and backward), burn's elsewhere.
///
/// - x: `[n, c, h, w]` → `[n, c, ⌈h/ph⌉, ⌈w/pw⌉]`
pub fn max_pool(x: Tensor<4>, [ph, pw]: [usize; 2]) -> Tensor<4> {
    let ours = on_flex(&x)
        && (cfg!(feature = "cpu-kernels-autodiff") || !x.is_autodiff())
        && x.dtype() == DType::F32;
    if !ours {
        let options = burn::tensor::ops::MaxPoolOptions::new([ph, pw]).with_ceil_mode(true);
        return burn::tensor::module::max_pool2d(x, options);
    }
    let out = <burn::backend::Dispatch as PoolKernels>::modnet_max_pool(x.into_dispatch(), ph, pw);
    Tensor::from_dispatch(out)
}
