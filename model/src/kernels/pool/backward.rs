//! The max pooling's backward, recorded by burn's autodiff backend: the operation keeps its inputs
//! (checkpointed) and, going back, calls the inner backend's gradient kernels ([`PoolKernels`]).

use burn::backend::Autodiff;
use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;

use super::extension::PoolKernels;

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
