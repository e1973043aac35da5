//! The GPU path, checked against Flex: the same weights and batches on burn's wgpu backend and
//! on Flex must give the same logits, the same losses over gradient steps (BCE, batch norm in
//! training mode) and the same weights after them; `trainer tag` and a one-epoch `train` run on
//! wgpu. Without a GPU, CI runs this on Mesa's lavapipe (`scripts/test.sh` installs it and
//! points the Vulkan loader at it with `VK_DRIVER_FILES`).
//!
//! Tolerances, from what lavapipe measured (burn 0.22.1, no fusion, no autotune in this build;
//! before the convolutions took the unfolded route on wgpu, `modnet::kernels::conv2d::unfolded`):
//! - forward logits and `tag` probabilities: 1e-3 absolute (measured 1.4e-5 and 5e-6);
//! - gradients after one backward pass, per parameter, relative L2 difference: 5e-2 (measured
//!   ≤ 1e-4 from the ResNet's second block on, but up to 1.4e-2 in the first block and the
//!   front-end; a 1e-6 nudge of the weights moves Flex far less, so this is a real difference
//!   of the two backends' kernels in the early layers, not chaos. Biases of convolutions that
//!   a batch norm follows have no gradient in exact arithmetic (≈1e-8 here) and are left out);
//! - 5 gradient steps (SGD, lr 0.01): losses within 1e-2 relative (measured 2.8e-4 at step 5);
//!   each weight tensor ends within 0.1 of its own movement from Flex's (measured 5.3e-2, a
//!   batch norm's β in the first block, where the gradients differ most). The check it replaces,
//!   Σ|w| over all weights within 1e-4, allowed ~20 where five steps move a weight by ≤ 5e-3.
//!
//! A wrong kernel, as with burn#5257's fusion + autotune on Vulkan, is off by far more.

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::{GradientsParams, SgdConfig};
use burn::tensor::{Device, Tensor, TensorData};
use modnet::GpuConvolution;
use modnet::kernels::conv2d::{ConvShape, Pass, cube, per_pass, unfolded};
use modnet::{ModNet, ModNetConfig, ResNetConfig, ResNetWidths};
use modnet_audio::backend::{Backend, adapters, device};
use trainer::commands::bench_layers::fixed_values;
use trainer::evaluate::bce_with_logits;

use crate::common::*;

mod routes;
mod training;

fn wgpu_device() -> Device {
    let found = adapters();
    assert!(
        !found.is_empty(),
        "no wgpu adapter: install a Vulkan driver (CI uses Mesa's lavapipe: apt-get install \
         mesa-vulkan-drivers libvulkan1, VK_DRIVER_FILES=/usr/share/vulkan/icd.d/lvp_icd.x86_64.json)"
    );
    eprintln!("wgpu adapters: {found:?}");
    device(Backend::Wgpu).expect("a wgpu device")
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().unwrap()
}

/// The Euclidean distance between two equally long vectors.
fn distance(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f32>()
        .sqrt()
}
