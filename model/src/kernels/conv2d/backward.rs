//! The convolution's backward, recorded by burn's autodiff backend: the operation keeps its inputs
//! (checkpointed) and, going back, calls the inner backend's gradient kernels ([`ConvKernels`]).

use burn::backend::Autodiff;
use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;

use super::GpuConvolution;
use super::extension::ConvKernels;

/// Our backward for [`ConvKernels::modnet_conv2d`]: the three gradients by the inner
/// backend's kernels.
#[derive(Debug)]
struct ConvBackward;

impl<B: ConvKernels> Backward<B, 3> for ConvBackward {
    type State = (NodeId, NodeId, usize, usize, GpuConvolution);

    fn backward(
        self,
        ops: Ops<Self::State, 3>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let [node_x, node_weight, node_bias] = ops.parents;
        let dy = grads.consume::<B>(&ops.node);
        let (x_state, weight_state, ph, pw, route) = ops.state;
        let x = checkpointer.retrieve_node_output::<B::FloatTensorPrimitive>(x_state);
        let weight = checkpointer.retrieve_node_output::<B::FloatTensorPrimitive>(weight_state);
        if let Some(node) = node_x {
            let dx =
                B::modnet_conv2d_input_grad(x.clone(), weight.clone(), dy.clone(), ph, pw, route);
            grads.register::<B>(node.id, dx);
        }
        if let Some(node) = node_weight {
            let dw = B::modnet_conv2d_weight_grad(x, weight, dy.clone(), ph, pw, route);
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
        route: GpuConvolution,
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
                    route,
                );
                prep.finish((x_state, weight_state, ph, pw, route), out)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::modnet_conv2d(
                x.into_primitive(),
                weight.into_primitive(),
                bias.into_primitive(),
                ph,
                pw,
                route,
            )),
        }
    }
}
