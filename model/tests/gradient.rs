//! The whole model's gradients against finite differences, on Flex with the project's kernels
//! and burn's autodiff: for one parameter tensor at a time (convolutions of the first, fifth and
//! last ResNet layers, a batch norm's scale, both layers of the head), the derivative of the
//! loss along a random direction, by autodiff and by central differences of the loss itself.
//! A gradient of the wrong sign or size anywhere between the loss and the parameter (a kernel's
//! backward, batch norm's, pooling's) fails here even where each kernel agrees with burn's alone.
//!
//! The sinc edges are not among them: every activation of the model moves with them, and in
//! `f32` their central differences drift with the step (−155, −210, −220, −227 at steps 1e-3 to
//! 1e-5 of their scale, autodiff −232); their gradients are held to SincNet's own instead
//! (tests/parity.rs, 1e-3).

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::tensor::{Device, Tensor};
use modnet::clip::read_back;
use modnet::{ModNet, ModNetConfig, ResNetConfig, ResNetWidths};

const SECOND: usize = 16000;

/// The difference allowed between autodiff and central differences at a step of 3e-5 of each
/// parameter's scale: relative, plus an absolute part for `f32` rounding and the kinks (ReLU,
/// max-pools) a step crosses. Measured (the data are fixed, so every run measures the same):
/// 2.1 % on the first convolution (it moves every activation, crossing most kinks; its central
/// differences approach autodiff as the step shrinks: 3.5 % at 1e-4, 1.4 % at 1e-5), 5e-3
/// absolute on the smallest derivative (0.08), 0.2–1.4 % elsewhere. A wrong sign or a factor 2
/// is off by 100 % or more.
const RELATIVE: f64 = 5e-2;
const ABSOLUTE: f64 = 1e-2;

/// A weighted sum of the logits `w` `[batch, tags]`, averaged over the batch: linear in the
/// logits and near 0, so that `f32` resolves small differences of it (a cross-entropy's large
/// constant part would swallow them) and steps can be small, crossing few of the ReLUs' and
/// max-pools' kinks.
fn loss(model: &ModNet, x: &Tensor<2>, w: &Tensor<2>) -> Tensor<1> {
    let logits = model.forward(x.clone()).unwrap();
    (logits * w.clone()).sum_dim(1).mean()
}

fn scalar(t: Tensor<1>) -> f64 {
    read_back::values(t).unwrap()[0] as f64
}

/// `n` numbers in [-1, 1) from `seed` (xorshift): the test's data and directions do not come
/// from the device's random generator, which the tests running beside it draw from too.
fn pseudo_random(n: usize, seed: u64) -> Vec<f32> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

/// A tensor of `pseudo_random` values.
fn fixed<const D: usize>(dims: [usize; D], seed: u64, device: &Device) -> Tensor<D> {
    let n = dims.iter().product();
    Tensor::from_data(
        burn::tensor::TensorData::new(pseudo_random(n, seed), dims),
        device,
    )
}

/// The model with every ResNet weight and bias drawn anew from `pseudo_random` within the
/// bounds of its random initialisation (the rest of the initialisation is deterministic).
fn fixed_weights(model: ModNet, names: &[(String, ParamId)]) -> ModNet {
    struct Fixed<'a> {
        random: Vec<ParamId>,
        names: &'a [(String, ParamId)],
    }
    impl ModuleMapper for Fixed<'_> {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            if !self.random.contains(&param.id) {
                return param;
            }
            let seed = self
                .names
                .iter()
                .position(|(_, id)| *id == param.id)
                .unwrap() as u64;
            let (id, value, mapper) = param.consume();
            // Kaiming-uniform's bound for the inputs of one output (burn's default); a bias's
            // as a fifth of it.
            let dims = value.dims();
            let fan_in = match D {
                4 => dims[1..].iter().product::<usize>(),
                2 => dims[0],
                _ => 25,
            };
            let bound = (1.0 / fan_in as f32).sqrt();
            let new = fixed(dims, seed + 1, &value.device()).mul_scalar(bound);
            Param::from_mapped_value(id, new.require_grad(), mapper)
        }
    }
    let random = names
        .iter()
        .filter(|(n, _)| n.starts_with("resnet") && (n.ends_with("weight") || n.ends_with("bias")))
        .map(|(_, id)| *id)
        .collect();
    model.map(&mut Fixed { random, names })
}

/// Every float parameter's path (`resnet.conv1.conv.weight`) and id.
fn named_parameters(model: &ModNet) -> Vec<(String, ParamId)> {
    struct Names {
        path: Vec<String>,
        out: Vec<(String, ParamId)>,
    }
    impl ModuleVisitor for Names {
        fn enter_module(&mut self, name: &str, _container: &str) {
            self.path.push(name.to_string());
        }
        fn exit_module(&mut self, _name: &str, _container: &str) {
            self.path.pop();
        }
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.out.push((self.path.join("."), param.id));
        }
    }
    let mut names = Names {
        path: Vec::new(),
        out: Vec::new(),
    };
    model.visit(&mut names);
    names.out
}

/// The model with `step · direction` added to parameter `id` (direction flattened).
fn shifted(model: &ModNet, id: ParamId, direction: &Tensor<1>, step: f32) -> ModNet {
    struct Shift<'a> {
        id: ParamId,
        direction: &'a Tensor<1>,
        step: f32,
    }
    impl ModuleMapper for Shift<'_> {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            if param.id != self.id {
                return param;
            }
            let (id, value, mapper) = param.consume();
            let shift = self
                .direction
                .clone()
                .reshape(value.dims())
                .mul_scalar(self.step);
            Param::from_mapped_value(id, value + shift, mapper)
        }
    }
    model.clone().map(&mut Shift {
        id,
        direction,
        step,
    })
}

/// A parameter's value and gradient, flattened.
fn value_and_grad(
    model: &ModNet,
    id: ParamId,
    grads: &burn::tensor::Gradients,
) -> (Tensor<1>, Tensor<1>) {
    struct Find<'a> {
        id: ParamId,
        grads: &'a burn::tensor::Gradients,
        found: Option<(Tensor<1>, Tensor<1>)>,
    }
    impl ModuleVisitor for Find<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if param.id == self.id {
                let value = param.val();
                let grad = value.grad(self.grads).expect("a gradient");
                self.found = Some((value.inner().flatten(0, D - 1), grad.flatten(0, D - 1)));
            }
        }
    }
    let mut find = Find {
        id,
        grads,
        found: None,
    };
    model.visit(&mut find);
    find.found.expect("the parameter")
}

#[test]
fn gradients_match_finite_differences() {
    let device = Device::flex().autodiff();
    let resnet = ResNetConfig::new().with_widths(ResNetWidths::Custom { narrow: 4, wide: 8 });
    let config = ModNetConfig::sincmodnet()
        .with_resnet(resnet)
        .with_chunk_samples(SECOND);
    // No dropout: the loss must be a function of the parameters alone.
    let model = config.init(&device).unwrap().with_dropout(0.0).unwrap();
    let names = named_parameters(&model);
    let model = fixed_weights(model, &names);
    // A batch of 8: batch norm in training normalises by the batch, and over 2 examples the
    // head's would map each value to ±1, a loss that jumps instead of varying smoothly.
    let x = fixed([8, SECOND], 101, &device).mul_scalar(0.5);
    let y = fixed([8, 50], 102, &device);
    let grads = loss(&model, &x, &y).backward();
    let checked = [
        "resnet.conv1.conv.weight",
        "resnet.conv5.conv.weight",
        "resnet.res5.1.conv2.weight",
        "resnet.res1.0.bn1.gamma",
        "resnet.dense1.weight",
        "resnet.dense2.weight",
    ];
    let mut failures = Vec::new();
    for (k, name) in checked.into_iter().enumerate() {
        let (_, id) = names
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("no parameter {name} in {names:?}"));
        let (value, grad) = value_and_grad(&model, *id, &grads);
        // A direction of the parameter's own scale.
        let scale = scalar(value.clone().square().mean().sqrt()).max(1e-3) as f32;
        let direction = fixed(value.dims(), 200 + k as u64, &value.device()).mul_scalar(scale);
        let by_autodiff = scalar((grad * direction.clone()).sum());
        let direction = direction.to_device(&device);
        let step = 3e-5;
        let up = scalar(loss(&shifted(&model, *id, &direction, step), &x, &y));
        let down = scalar(loss(&shifted(&model, *id, &direction, -step), &x, &y));
        let by_differences = (up - down) / (2.0 * step as f64);
        let error = (by_autodiff - by_differences).abs();
        eprintln!(
            "{name}: autodiff {by_autodiff:.6e}, differences {by_differences:.6e} ({error:.1e})"
        );
        if error > RELATIVE * by_differences.abs() + ABSOLUTE {
            failures.push(format!(
                "{name}: autodiff {by_autodiff:e} against finite differences {by_differences:e}"
            ));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
