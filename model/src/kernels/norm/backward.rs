//! Batch normalisation's backward in training, recorded by burn's autodiff backend: the operation
//! keeps its inputs (checkpointed) and, going back, calls the inner backend's gradient kernels
//! ([`NormKernels`]).

use burn::backend::Autodiff;
use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;

use super::extension::NormKernels;

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
