//! The 2-D ResNet back-end after Won et al.'s HarmonicCNN (channels = modulation filters,
//! height = bands, width = time), with ceil-mode pooling so that 80 bands survive seven halvings,
//! and the classification head.

use alloc::vec::Vec;
use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{
    BatchNorm, BatchNormConfig, Dropout, DropoutConfig, Linear, LinearConfig, PaddingConfig2d,
};
use burn::tensor::activation::relu;
use burn::tensor::module::max_pool2d;
use burn::tensor::ops::{MaxPoolOptions, PadMode};
use burn::tensor::{Device, Tensor};

use crate::kernels::{GpuConvolution, batch_norm, batch_norm_add_relu, conv2d};

/// Channel widths of the seven ResNet layers.
#[derive(Config, Debug, PartialEq, Copy)]
pub enum ResNetWidths {
    /// The paper: "seven 2D convolutional layers, each 256 channels".
    Paper,
    /// Won et al.'s HarmonicCNN: 128 ×4 then 256 ×3.
    Hcnn,
    /// Layers 1–4 `narrow` channels, layers 5–7 `wide` (residual layers keep their width).
    Custom {
        /// Width of layers 1–4.
        narrow: usize,
        /// Width of layers 5–7.
        wide: usize,
    },
}

impl ResNetWidths {
    /// The seven widths.
    pub fn widths(&self) -> [usize; 7] {
        match self {
            Self::Paper => [256; 7],
            Self::Hcnn => [128, 128, 128, 128, 256, 256, 256],
            Self::Custom { narrow, wide } => {
                [*narrow, *narrow, *narrow, *narrow, *wide, *wide, *wide]
            }
        }
    }
}

/// The 2-D ResNet back-end and the classification head.
#[derive(Config, Debug, PartialEq)]
pub struct ResNetConfig {
    /// Widths of the seven layers.
    #[config(default = "ResNetWidths::Paper")]
    pub widths: ResNetWidths,
    /// Ceil-mode pooling: 80 bands reach height 1 at L7 (floor mode would reach 0).
    #[config(default = true)]
    pub ceil_mode: bool,
    /// Dropout before the last linear layer.
    #[config(default = 0.5)]
    pub dropout: f64,
}

/// Pooling (height, width) after each of the seven layers (HarmonicCNN's).
pub const POOLS: [[usize; 2]; 7] = [[2, 2], [2, 2], [2, 2], [2, 2], [2, 2], [2, 3], [2, 3]];

fn pooled(size: usize, pool: usize, ceil_mode: bool) -> usize {
    if ceil_mode {
        size.div_ceil(pool)
    } else {
        size / pool
    }
}

/// (height, width) after the seven layers for an input of `[height, width]`.
pub fn output_size(input: [usize; 2], ceil_mode: bool) -> (usize, usize) {
    POOLS.iter().fold((input[0], input[1]), |(h, w), p| {
        (pooled(h, p[0], ceil_mode), pooled(w, p[1], ceil_mode))
    })
}

fn conv3x3(channels_in: usize, channels_out: usize, device: &Device) -> Conv2d {
    Conv2dConfig::new([channels_in, channels_out], [3, 3])
        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
        .init(device)
}

/// A 3×3 convolution layer's output, by the route [`crate::kernels::conv2d`] picks.
///
/// - input `[batch, i, h, w]` → output `[batch, o, h, w]`
fn conv(layer: &Conv2d, x: Tensor<4>, gpu: GpuConvolution) -> Tensor<4> {
    let bias = layer.bias.as_ref().map(|b| b.val());
    conv2d(x, layer.weight.val(), bias, [1, 1], gpu)
}

/// Max pooling over `size` windows at stride `size`.
///
/// With the CPU kernels, the project's on Flex, in training (its backward finds each window's
/// maximum again instead of recording indices) and in inference (the reshapes below took 16 %
/// of the page's CPU engine's time, this 1.4 %), burn's `max_pool2d` elsewhere;
/// floor mode crops first. Without them, and without autodiff, the same maxima as reshapes and
/// pairwise maxima: Flex's `max_pool2d` is a scalar loop that records indices even then, and
/// cost as much as the convolution before it (2.3× slower than the reshapes on the first layer,
/// one thread).
fn pool(x: Tensor<4>, size: [usize; 2], ceil_mode: bool) -> Tensor<4> {
    let [_, _, h, w] = x.dims();
    let [ph, pw] = size;
    let (oh, ow) = (pooled(h, ph, ceil_mode), pooled(w, pw, ceil_mode));
    #[cfg(feature = "cpu-kernels")]
    if oh > 0 && ow > 0 {
        let x = if ceil_mode {
            x
        } else {
            x.narrow(2, 0, oh * ph).narrow(3, 0, ow * pw)
        };
        return crate::kernels::max_pool(x, size);
    }
    if x.is_autodiff() || oh == 0 || ow == 0 {
        return max_pool2d(x, MaxPoolOptions::new(size).with_ceil_mode(ceil_mode));
    }
    reshaped_max_pool(x, [oh, ow], size)
}

/// Max pooling to `[oh, ow]` outputs by reshaping: the input is padded with −∞ (ceil mode) or
/// cropped (floor mode) to exactly `oh·ph × ow·pw`, each row's `pw`-groups are reduced, then
/// each output row's `ph` input rows (contiguous after a reshape) are compared pairwise.
///
/// - input: `[batch, c, h, w]` → output `[batch, c, oh, ow]`
fn reshaped_max_pool(x: Tensor<4>, [oh, ow]: [usize; 2], [ph, pw]: [usize; 2]) -> Tensor<4> {
    let [b, c, h, w] = x.dims();
    let fit = |x: Tensor<4>, dim: usize, have: usize, want: usize| -> Tensor<4> {
        match have.cmp(&want) {
            core::cmp::Ordering::Less => {
                let mut pads = [(0, 0); 4];
                pads[dim] = (0, want - have);
                x.pad(pads, PadMode::Constant(f32::NEG_INFINITY))
            }
            core::cmp::Ordering::Greater => x.narrow(dim, 0, want),
            core::cmp::Ordering::Equal => x,
        }
    };
    let x = fit(fit(x, 2, h, oh * ph), 3, w, ow * pw);
    let rows: Tensor<4> =
        x.reshape([b, c, oh * ph, ow, pw])
            .max_dim(4)
            .reshape([b, c, oh, ph * ow]);
    (1..ph).fold(rows.clone().narrow(3, 0, ow), |m, i| {
        m.max_pair(rows.clone().narrow(3, i * ow, ow))
    })
}

/// `Conv_2d(i, o, pool)`: conv 3×3 → BN → ReLU → max-pool.
#[derive(Module, Debug)]
pub struct ConvBlock {
    conv: Conv2d,
    bn: BatchNorm,
    pool: [usize; 2],
    ceil_mode: bool,
    #[module(skip)]
    gpu_convolution: GpuConvolution,
}

impl ConvBlock {
    fn new(channels: [usize; 2], pool: [usize; 2], ceil_mode: bool, device: &Device) -> Self {
        Self {
            conv: conv3x3(channels[0], channels[1], device),
            bn: BatchNormConfig::new(channels[1]).init(device),
            pool,
            ceil_mode,
            gpu_convolution: GpuConvolution::default(),
        }
    }

    /// - input `[batch, i, h, w]` → output `[batch, o, ⌈h/ph⌉, ⌈w/pw⌉]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = batch_norm(&self.bn, conv(&self.conv, x, self.gpu_convolution), true);
        pool(x, self.pool, self.ceil_mode)
    }
}

/// `Res_2d_mp(c, pool)`: relu(x + BN(conv(relu(BN(conv(x)))))) → max-pool.
#[derive(Module, Debug)]
pub struct ResBlock {
    conv1: Conv2d,
    bn1: BatchNorm,
    conv2: Conv2d,
    bn2: BatchNorm,
    pool: [usize; 2],
    ceil_mode: bool,
    #[module(skip)]
    gpu_convolution: GpuConvolution,
}

impl ResBlock {
    fn new(channels: usize, pool: [usize; 2], ceil_mode: bool, device: &Device) -> Self {
        Self {
            conv1: conv3x3(channels, channels, device),
            bn1: BatchNormConfig::new(channels).init(device),
            conv2: conv3x3(channels, channels, device),
            bn2: BatchNormConfig::new(channels).init(device),
            pool,
            ceil_mode,
            gpu_convolution: GpuConvolution::default(),
        }
    }

    /// - input `[batch, c, h, w]` → output `[batch, c, ⌈h/ph⌉, ⌈w/pw⌉]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let gpu = self.gpu_convolution;
        let out = batch_norm(&self.bn1, conv(&self.conv1, x.clone(), gpu), true);
        let out = batch_norm_add_relu(&self.bn2, conv(&self.conv2, out, gpu), x);
        pool(out, self.pool, self.ceil_mode)
    }
}

/// Seven layers (Conv, Res ×3, Conv, Res ×2), global max over time, and the head
/// (Linear → BN → ReLU → Dropout → Linear).
#[derive(Module, Debug)]
pub struct ResNet {
    conv1: ConvBlock,
    res1: Vec<ResBlock>,
    conv5: ConvBlock,
    res5: Vec<ResBlock>,
    dense1: Linear,
    bn: BatchNorm,
    dropout: Dropout,
    dense2: Linear,
}

impl ResNetConfig {
    /// Builds the back-end for `channels_in` input channels and `n_tags` outputs.
    pub fn init(&self, channels_in: usize, n_tags: usize, device: &Device) -> ResNet {
        let w = self.widths.widths();
        let ceil = self.ceil_mode;
        let res = |layers: core::ops::Range<usize>| -> Vec<ResBlock> {
            layers
                .map(|i| ResBlock::new(w[i], POOLS[i], ceil, device))
                .collect()
        };
        let conv1 = ConvBlock::new([channels_in, w[0]], POOLS[0], ceil, device);
        let res1 = res(1..4);
        let conv5 = ConvBlock::new([w[3], w[4]], POOLS[4], ceil, device);
        let res5 = res(5..7);
        ResNet {
            conv1,
            res1,
            conv5,
            res5,
            dense1: LinearConfig::new(w[6], w[6]).init(device),
            bn: BatchNormConfig::new(w[6]).init(device),
            dropout: DropoutConfig::new(self.dropout).init(),
            dense2: LinearConfig::new(w[6], n_tags).init(device),
        }
    }
}

impl ResNet {
    /// Sets how the back-end's convolutions run on a GPU.
    pub(crate) fn set_gpu_convolution(&mut self, gpu: GpuConvolution) {
        self.conv1.gpu_convolution = gpu;
        self.conv5.gpu_convolution = gpu;
        for block in self.res1.iter_mut().chain(self.res5.iter_mut()) {
            block.gpu_convolution = gpu;
        }
    }

    /// The same network with the output layer's bias set to `bias` (`[n_tags]`), e.g. the
    /// log-odds of each tag's prior so that training starts from the label frequencies.
    pub fn with_output_bias(mut self, bias: Tensor<1>) -> Self {
        self.dense2.bias = Some(burn::module::Param::from_tensor(bias));
        self
    }

    /// The same network with dropout `p` before the last linear layer.
    pub fn with_dropout(mut self, p: f64) -> Self {
        self.dropout = DropoutConfig::new(p).init();
        self
    }

    /// Pooled features before the head.
    ///
    /// - input: `[batch, channels, bands, frames]`
    /// - output: `[batch, width₇]` (max over the remaining time steps)
    pub fn features(&self, x: Tensor<4>) -> Tensor<2> {
        let x = self.conv1.forward(x);
        let x = self.res1.iter().fold(x, |x, block| block.forward(x));
        let x = self.conv5.forward(x);
        let x = self.res5.iter().fold(x, |x, block| block.forward(x));
        // Height is 1 here (ceil mode); max over both axes also covers other geometries.
        x.max_dim(3).max_dim(2).flatten(1, 3)
    }

    /// Logits.
    ///
    /// - input: `[batch, channels, bands, frames]`
    /// - output: `[batch, n_tags]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        self.classify(self.features(x))
    }

    /// The head: logits of pooled features.
    ///
    /// - input: `[batch, width₇]`
    /// - output: `[batch, n_tags]`
    pub fn classify(&self, features: Tensor<2>) -> Tensor<2> {
        let x = relu(self.bn.forward(self.dense1.forward(features)));
        self.dense2.forward(self.dropout.forward(x))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Distribution;

    /// The pooling of inference (the CPU kernel where built, cropped in floor mode) and the
    /// reshaped pooling both give `max_pool2d`'s values, in ceil and floor mode, for even and
    /// odd sizes and the back-end's two window shapes.
    #[test]
    fn inference_pooling_equals_max_pool2d() {
        let device = Device::flex();
        for (shape, size) in [
            ([2, 3, 80, 291], [2, 2]),
            ([1, 4, 5, 19], [2, 2]),
            ([1, 2, 3, 10], [2, 3]),
            ([1, 2, 2, 4], [2, 3]),
            ([1, 1, 1, 1], [2, 3]),
        ] {
            let x = Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), &device);
            for ceil_mode in [true, false] {
                let expected = max_pool2d(
                    x.clone(),
                    MaxPoolOptions::new(size).with_ceil_mode(ceil_mode),
                );
                let [_, _, oh, ow] = expected.dims();
                let expected = expected.into_data().try_to_vec::<f32>().unwrap();
                let mut ways = alloc::vec![("pool", pool(x.clone(), size, ceil_mode))];
                if oh > 0 && ow > 0 {
                    ways.push(("reshaped", reshaped_max_pool(x.clone(), [oh, ow], size)));
                }
                for (way, got) in ways {
                    assert_eq!(
                        got.dims()[2..],
                        [oh, ow],
                        "{way} {shape:?} {size:?} {ceil_mode}"
                    );
                    assert_eq!(
                        got.into_data().try_to_vec::<f32>().unwrap(),
                        expected,
                        "{way} {shape:?} {size:?} ceil {ceil_mode}"
                    );
                }
            }
        }
    }
}
