//! The model crate's contract, on the Flex CPU backend (one test on NdArray).

use burn::module::Module;
use burn::tensor::{Device, Distribution, Tensor, TensorData};
use modnet::clip::read_back;
use modnet::{
    ChunkPlan, ClipResults, ClipTagging, ModNet, ModNetConfig, ModelError, ResNetConfig,
    ResNetWidths, SampleRate, TemporalConfig,
};

mod architecture;
mod tagging;
mod weights;

const SECOND: usize = 16000;

fn small_widths(config: ModNetConfig) -> ModNetConfig {
    let resnet = ResNetConfig::new().with_widths(ResNetWidths::Custom { narrow: 4, wide: 8 });
    config.with_resnet(resnet)
}

fn noise(batch: usize, samples: usize, device: &Device) -> Tensor<2> {
    Tensor::random([batch, samples], Distribution::Uniform(-0.5, 0.5), device)
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    read_back::values(t).unwrap()
}

/// Each chunk of `plan` run alone: `[plan.len() × 50]` probabilities.
fn chunk_by_chunk(model: &ModNet, samples: &[f32], plan: &ChunkPlan, device: &Device) -> Vec<f32> {
    plan.starts
        .iter()
        .flat_map(|&start| {
            let one = ChunkPlan::one_at(samples.len(), plan.chunk, start).unwrap();
            model
                .batch_probabilities(&one.batch(0, samples).unwrap(), device)
                .unwrap()
        })
        .collect()
}
