//! The kernels' backward passes, recorded by burn's autodiff backend: each operation keeps its
//! inputs (checkpointed) and, going back, calls the inner backend's gradient kernels.

use burn::backend::Autodiff;
use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;

use super::extension::{ConvKernels, NormKernels, PoolKernels};

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

#[derive(Debug)]
struct NormBackward;

impl<B: NormKernels> Backward<B, 3> for NormBackward {
    /// x, gamma, beta (checkpointed), the batch's moments, ε, ReLU.
    type State = (NodeId, NodeId, NodeId, B::FloatTensorPrimitive, f64, bool);

    fn backward(
        self,
        ops: Ops<Self::State, 3>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let [node_x, node_gamma, node_beta] = ops.parents;
        let dy = grads.consume::<B>(&ops.node);
        let (x, gamma, beta, moments, epsilon, relu) = ops.state;
        let x = checkpointer.retrieve_node_output::<B::FloatTensorPrimitive>(x);
        let gamma = checkpointer.retrieve_node_output::<B::FloatTensorPrimitive>(gamma);
        let beta = checkpointer.retrieve_node_output::<B::FloatTensorPrimitive>(beta);
        let (dx, dgamma, dbeta) =
            B::modnet_batch_norm_backward(x, gamma, beta, moments, dy, epsilon, relu);
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
        moments: FloatTensor<Self>,
        epsilon: f64,
        relu: bool,
    ) -> FloatTensor<Self> {
        // The moments come from the input without autodiff: a constant here.
        let moments = moments.into_primitive();
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
                    moments.clone(),
                    epsilon,
                    relu,
                );
                let out = B::modnet_batch_norm(
                    x.into_primitive(),
                    gamma.into_primitive(),
                    beta.into_primitive(),
                    moments,
                    epsilon,
                    relu,
                );
                prep.finish(state, out)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::modnet_batch_norm(
                x.into_primitive(),
                gamma.into_primitive(),
                beta.into_primitive(),
                moments,
                epsilon,
                relu,
            )),
        }
    }
}

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
            OpsKind::UnTracked(prep) => prep.finish(B::modnet_max_pool(x.into_primitive(), ph, pw)),
        }
    }
}
