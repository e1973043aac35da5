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

const SAMPLES: usize = 16_000;
const BATCH: usize = 3;
const STEPS: usize = 5;
/// The steps' learning rate: each weight moves by `LR` × its gradient.
const LR: f64 = 0.01;
/// How far apart Flex and wgpu may end after the steps, as a fraction of how far the steps
/// moved each tensor (measured 5.3e-2: see the module's tolerances).
const WEIGHTS_APART: f32 = 0.1;

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

/// A small SincModNet with 1 s chunks and no dropout (its random masks differ per backend).
fn config() -> ModNetConfig {
    let mut config = ModNetConfig::sincmodnet().with_resnet(
        ResNetConfig::new()
            .with_widths(ResNetWidths::Custom {
                narrow: 8,
                wide: 16,
            })
            .with_dropout(0.0),
    );
    config.chunk_samples = SAMPLES;
    config.tags = (0..10).map(|i| format!("tag{i}")).collect();
    config
}

/// A deterministic batch: chirps and noise-like sums, and labels.
fn batch(step: usize) -> (Vec<f32>, Vec<f32>) {
    let x = (0..BATCH * SAMPLES)
        .map(|i| {
            let (b, n) = ((i / SAMPLES) as f32, (i % SAMPLES) as f32 / 16_000.0);
            let f = 200.0 * (1.0 + b) + 50.0 * step as f32;
            0.3 * (std::f32::consts::TAU * f * n * (1.0 + n)).sin()
                + 0.1 * (std::f32::consts::TAU * 3.0 * f * n).sin()
        })
        .collect();
    let y = (0..BATCH * 10)
        .map(|i| (i * 7 + step).is_multiple_of(3) as u8 as f32)
        .collect();
    (x, y)
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().unwrap()
}

/// Parameter tensors by path, their values flattened.
type Named = Vec<(String, Vec<f32>)>;

/// Every float parameter's path and values (running statistics included), or with `grads`
/// its gradient instead (parameters without one left out).
fn named(model: &ModNet, grads: Option<&burn::tensor::Gradients>) -> Named {
    struct Collect<'a> {
        grads: Option<&'a burn::tensor::Gradients>,
        path: Vec<String>,
        out: Named,
    }
    impl ModuleVisitor for Collect<'_> {
        fn enter_module(&mut self, name: &str, _container: &str) {
            self.path.push(name.to_string());
        }
        fn exit_module(&mut self, _name: &str, _container: &str) {
            self.path.pop();
        }
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let value = match self.grads {
                None => Some(param.val()),
                Some(grads) => param.val().grad(grads),
            };
            if let Some(v) = value {
                self.out.push((self.path.join("."), values(v)));
            }
        }
    }
    let mut collect = Collect {
        grads,
        path: Vec::new(),
        out: Vec::new(),
    };
    model.visit(&mut collect);
    collect.out
}

/// Whether a gradient is zero in exact arithmetic (a bias before a batch norm: ≈1e-8 here).
fn vanishes(gradient: &[f32]) -> bool {
    distance(gradient, &vec![0.0; gradient.len()]) < 1e-6
}

/// The Euclidean distance between two equally long vectors.
fn distance(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f32>()
        .sqrt()
}

/// Every parameter's gradient after one forward/backward pass of the first batch.
fn gradients(weights: &[u8], device: &Device, route: GpuConvolution) -> Named {
    let device = device.clone().autodiff();
    let mut model = ModNet::from_bytes(weights, &device).unwrap();
    model.set_gpu_convolution(route);
    let (x, y) = batch(0);
    let x = Tensor::<2>::from_data(TensorData::new(x, [BATCH, SAMPLES]), &device);
    let y = Tensor::<2>::from_data(TensorData::new(y, [BATCH, 10]), &device);
    let grads = bce_with_logits(model.forward(x).unwrap(), y).backward();
    named(&model, Some(&grads))
}

/// Logits of the first batch, then the losses of `STEPS` gradient steps and the parameters
/// after them.
fn run(weights: &[u8], device: &Device, route: GpuConvolution) -> (Vec<f32>, Vec<f64>, Named) {
    let mut model = ModNet::from_bytes(weights, device).unwrap();
    model.set_gpu_convolution(route);
    let (x, _) = batch(0);
    let logits = values(
        model
            .forward(Tensor::from_data(
                TensorData::new(x, [BATCH, SAMPLES]),
                device,
            ))
            .unwrap(),
    );
    let device = device.clone().autodiff();
    let mut model = ModNet::from_bytes(weights, &device).unwrap();
    model.set_gpu_convolution(route);
    // Plain gradient steps: Adam would normalise the rounding noise of near-zero gradients into
    // full-size steps of either sign, so that the weights' difference after the steps would say
    // nothing about the gradients'.
    let mut optim = SgdConfig::new().init();
    let mut losses = Vec::new();
    for step in 0..STEPS {
        let (x, y) = batch(step);
        let x = Tensor::<2>::from_data(TensorData::new(x, [BATCH, SAMPLES]), &device);
        let y = Tensor::<2>::from_data(TensorData::new(y, [BATCH, 10]), &device);
        let loss = bce_with_logits(model.forward(x).unwrap(), y);
        losses.push(values(loss.clone())[0] as f64);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(LR, model, grads);
    }
    (logits, losses, named(&model, None))
}

#[test]
fn wgpu_agrees_with_flex_forward_and_training() {
    let gpu = wgpu_device();
    // Both routes of the convolutions on a GPU: burn's direct kernels and the unfolded form
    // (matrix multiplies), which only wgpu devices take.
    assert!(unfolded::on_cubecl(&Tensor::<1>::zeros([1], &gpu)));
    let flex = Device::flex();
    flex.seed(7);
    let weights = config().init(&flex).unwrap().to_bytes().unwrap();
    let (logits_cpu, losses_cpu, after_cpu) = run(&weights, &flex, GpuConvolution::Direct);
    let grads_cpu = gradients(&weights, &flex, GpuConvolution::Direct);
    for route in [
        GpuConvolution::Direct,
        GpuConvolution::Unfolded,
        GpuConvolution::ImplicitGemm,
        GpuConvolution::Cudnn,
        GpuConvolution::PerPass,
    ] {
        eprintln!("convolutions on wgpu: {route:?}");
        let before = cube::passes();
        agrees(
            &weights,
            &gpu,
            route,
            (&logits_cpu, &losses_cpu, &after_cpu),
            &grads_cpu,
        );
        // The implicit-GEMM and cuDNN routes ran the project's extension (cuDNN's route, off
        // CUDA, by implicit GEMM where the device can, else by burn's direct kernels); the
        // other routes never do.
        let after = cube::passes();
        let ran = after.implicit_gemm + after.direct - before.implicit_gemm - before.direct;
        let unfolded = after.unfolded - before.unfolded;
        assert_eq!(after.cudnn, before.cudnn, "cuDNN ran on a wgpu device");
        match route {
            GpuConvolution::ImplicitGemm | GpuConvolution::Cudnn => {
                assert!(
                    ran > 0 && unfolded == 0,
                    "{route:?}: {before:?} → {after:?}"
                )
            }
            // The unfolded form's passes, with their own backward, through the extension.
            GpuConvolution::Unfolded => {
                assert!(
                    unfolded > 0 && ran == 0,
                    "{route:?}: {before:?} → {after:?}"
                )
            }
            GpuConvolution::Direct => {
                assert_eq!(ran + unfolded, 0, "{route:?} ran the extension")
            }
            // Each pass by a route timed on it: both kinds ran (every route was timed).
            GpuConvolution::PerPass => {
                assert!(ran > 0 && unfolded > 0, "{route:?}: {before:?} → {after:?}")
            }
        }
    }
}

/// Every GPU route's convolution and both gradients at the model's kinds of shapes (3×3 with
/// padding, odd sizes, one-row filterbank kernels; batch 1 and 16) against burn's on Flex:
/// burn's own, the unfolded form (through the project's extension with its own backward; and
/// differentiated by burn's autodiff, as where the extension is not built, in bands of two output
/// rows, as the model's larger maps are unfolded), and the extension's implicit GEMM (where the
/// device launches it, else the direct kernels).
#[test]
fn every_gpu_route_matches_flex_at_batch_1_and_16() {
    let gpu = wgpu_device();
    let available = cube::implicit_gemm_on(&gpu, burn::tensor::FloatDType::F32);
    eprintln!("implicit GEMM on this device: {available}");
    let before = cube::passes();
    // (batch, c_in, h, w, c_out, kh, kw, padding)
    let shapes = [
        (1, 3, 7, 9, 5, 3, 3, [1, 1]),
        (16, 8, 6, 5, 4, 3, 3, [1, 1]),
        (2, 1, 4, 50, 6, 1, 9, [0, 4]),
        (3, 5, 9, 11, 7, 3, 3, [0, 0]),
    ];
    for (n, c, h, w, co, kh, kw, padding) in shapes {
        let x = fixed_values(n * c * h * w, 1);
        let k = fixed_values(co * c * kh * kw, 2);
        let b = fixed_values(co, 3);
        // The unfolded form in bands of two rows: two rows' unfolded values, in bytes.
        let bands = 4 * c * kh * kw * 2 * (w + 2 * padding[1] + 1 - kw);
        let run = |device: &Device, route: Option<GpuConvolution>| {
            let device = device.clone().autodiff();
            let x = Tensor::<4>::from_data(TensorData::new(x.clone(), [n, c, h, w]), &device)
                .require_grad();
            let k = Tensor::<4>::from_data(TensorData::new(k.clone(), [co, c, kh, kw]), &device)
                .require_grad();
            let b = Tensor::<1>::from_data(TensorData::new(b.clone(), [co]), &device);
            let y = match route {
                Some(route) => {
                    modnet::kernels::conv2d(x.clone(), k.clone(), Some(b), padding, route)
                }
                None => unfolded::conv2d_within(x.clone(), k.clone(), Some(b), padding, bands),
            };
            // A weighting of the outputs, so that each output's gradient differs.
            let seen = Tensor::<4>::from_data(
                TensorData::new(fixed_values(y.dims().iter().product(), 4), y.dims()),
                &device,
            );
            let grads = (y.clone() * seen).sum().backward();
            let dx = x.grad(&grads).unwrap();
            let dk = k.grad(&grads).unwrap();
            [values(y), values(dx), values(dk)]
        };
        let flex = run(&Device::flex(), Some(GpuConvolution::Direct));
        for route in [
            Some(GpuConvolution::Direct),
            Some(GpuConvolution::Unfolded),
            None,
            Some(GpuConvolution::ImplicitGemm),
            Some(GpuConvolution::PerPass),
        ] {
            let ours = run(&gpu, route);
            for (what, (a, b)) in ["output", "input gradient", "weight gradient"]
                .iter()
                .zip(flex.iter().zip(&ours))
            {
                let relative = distance(a, b) / distance(a, &vec![0.0; a.len()]);
                let name = route.map_or("unfolded in bands", GpuConvolution::name);
                eprintln!(
                    "| {n}×{c}×{h}×{w} * {co}×{kh}×{kw} | {name} | {what} | {relative:.1e} |"
                );
                assert!(
                    relative <= 1e-4,
                    "{name}: {what} at {n}×{c}×{h}×{w}: relative {relative}"
                );
            }
        }
    }
    let after = cube::passes();
    let unfolded = after.unfolded - before.unfolded;
    assert!(unfolded >= 3 * shapes.len(), "unfolded passes: {unfolded}");
    // `per-pass` timed each pass of each shape once, by every route lavapipe runs as itself,
    // and kept the fastest.
    for (n, c, h, w, co, kh, kw, padding) in shapes {
        let shape = ConvShape::of([n, c, h, w], [co, c, kh, kw], padding);
        let timed: Vec<_> = per_pass::choices()
            .into_iter()
            .filter(|choice| choice.shape == shape)
            .collect();
        let passes: Vec<Pass> = timed.iter().map(|choice| choice.pass).collect();
        assert_eq!(
            passes,
            [Pass::Forward, Pass::InputGrad, Pass::WeightGrad],
            "{shape:?}"
        );
        for choice in timed {
            let routes: Vec<_> = choice.times.iter().map(|(r, _)| *r).collect();
            assert!(
                routes.starts_with(&[GpuConvolution::Direct, GpuConvolution::Unfolded]),
                "{choice:?}"
            );
            let fastest = choice
                .times
                .iter()
                .map(|(_, ms)| *ms)
                .fold(f64::MAX, f64::min);
            let kept = choice.times.iter().find(|(r, _)| *r == choice.route);
            assert_eq!(kept.map(|(_, ms)| *ms), Some(fastest), "{choice:?}");
        }
    }
    let ran = if available {
        after.implicit_gemm - before.implicit_gemm
    } else {
        after.direct - before.direct
    };
    assert!(ran >= 3 * shapes.len(), "the extension ran {ran} passes");
}

/// Logits, gradients, 5 gradient steps' losses and the weights after them on `gpu` against Flex's.
fn agrees(
    weights: &[u8],
    gpu: &Device,
    route: GpuConvolution,
    (logits_cpu, losses_cpu, after_cpu): (&[f32], &[f64], &Named),
    grads_cpu: &Named,
) {
    let (logits_gpu, losses_gpu, after_gpu) = run(weights, gpu, route);
    let worst = logits_cpu
        .iter()
        .zip(&logits_gpu)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    eprintln!("| forward logits, max |Δ| | {worst:.2e} |");
    assert!(worst < 1e-3, "logits differ by {worst}");
    let grads_gpu = gradients(weights, gpu, route);
    assert_eq!(grads_cpu.len(), grads_gpu.len());
    let mut compared = 0;
    for ((name, a), (_, b)) in grads_cpu.iter().zip(&grads_gpu) {
        if vanishes(a) {
            continue;
        }
        let (norm, diff) = (distance(a, &vec![0.0; a.len()]), distance(a, b));
        assert!(
            diff <= 5e-2 * norm,
            "gradient of {name}: relative difference {}",
            diff / norm
        );
        compared += 1;
    }
    assert!(compared > 40, "only {compared} gradients compared");
    for (step, (a, b)) in losses_cpu.iter().zip(&losses_gpu).enumerate() {
        eprintln!("| loss at step {} | Flex {a:.6} | wgpu {b:.6} |", step + 1);
        assert!(
            (a - b).abs() <= 1e-2 * a.abs(),
            "step {}: loss {a} vs {b}",
            step + 1
        );
    }
    // Each parameter tensor after the steps: how far Flex and wgpu end apart, against how far
    // the steps moved it (a sum of |w| over all weights, dominated by the sinc edges in Hz,
    // could not see a wrong step). Tensors whose gradient is zero in exact arithmetic (a bias
    // before a batch norm) are left out: their steps are rounding noise.
    let before = named(&ModNet::from_bytes(weights, &Device::flex()).unwrap(), None);
    let still: Vec<&str> = grads_cpu
        .iter()
        .filter(|(_, g)| vanishes(g))
        .map(|(name, _)| name.as_str())
        .collect();
    let mut worst: (f32, &str) = (0.0, "");
    let mut moved_tensors = 0;
    for (((name, start), (_, cpu)), (_, gpu)) in before.iter().zip(after_cpu).zip(&after_gpu) {
        let moved = distance(start, cpu);
        if still.contains(&name.as_str()) || moved == 0.0 {
            continue;
        }
        moved_tensors += 1;
        let apart = distance(cpu, gpu) / moved;
        if apart > worst.0 {
            worst = (apart, name);
        }
    }
    eprintln!(
        "| weights after {STEPS} steps: |Flex − wgpu| / |step| | {:.2e} ({}) |",
        worst.0, worst.1
    );
    assert!(moved_tensors > 40, "only {moved_tensors} tensors moved");
    assert!(
        worst.0 <= WEIGHTS_APART,
        "weights after {STEPS} steps: {} ends {:.2e} of its step away from Flex's",
        worst.1,
        worst.0
    );
}

/// `trainer tag` and a one-epoch `train` (with `--gpu-conv unfolded`) on wgpu; tag agrees with
/// Flex.
#[test]
fn tag_and_train_run_on_wgpu() {
    wgpu_device();
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("tone.wav");
    write_wav(&wav, 3.5, 16_000, 440.0, 1);
    let probabilities = |backend: &str| -> Vec<f64> {
        let out = trainer(&["tag", s(&wav), "--json", "--backend", backend]);
        assert!(out.status.success(), "tag on {backend} failed");
        // `--gpu-conv auto` (the default) timed the routes on the GPU and said which it kept;
        // on the CPU there is nothing to choose.
        let err = String::from_utf8_lossy(&out.stderr);
        let chose = err.lines().find(|l| l.starts_with("gpu-conv auto:"));
        match backend {
            "wgpu" => {
                let line = chose.unwrap_or_else(|| panic!("no route chosen on wgpu: {err}"));
                assert!(
                    ["direct", "unfolded", "per-pass", " → "]
                        .iter()
                        .all(|part| line.contains(part)),
                    "{line}"
                );
            }
            _ => assert!(chose.is_none(), "routes timed on the CPU: {err}"),
        }
        let out = String::from_utf8_lossy(&out.stdout);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        v[0]["probabilities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_f64().unwrap())
            .collect()
    };
    let (cpu, gpu) = (probabilities("flex"), probabilities("wgpu"));
    let worst = cpu
        .iter()
        .zip(&gpu)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    eprintln!("| trainer tag, max |Δp| wgpu vs Flex | {worst:.2e} |");
    assert!(worst < 1e-3, "tag probabilities differ by {worst}");

    let run = dir.path().join("run");
    let out = trainer(&[
        "train",
        "--out",
        s(&run),
        "--epochs",
        "1",
        "--backend",
        "wgpu",
        "--gpu-conv",
        "unfolded",
        "--chunk-seconds",
        "1",
        "--synth-clips",
        "8",
        "4",
        "4",
        "--synth-seconds",
        "1.5",
    ]);
    assert!(out.status.success(), "train on wgpu failed");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("device: wgpu on"), "{err}");
    assert!(
        !err.contains("XDG_RUNTIME_DIR"),
        "alarming lines that mean nothing: {err}"
    );
    assert!(run.join("best.safetensors").exists());
}

/// `bench --layers` on wgpu: every convolution of a small model (the front-end's one-row ones
/// and the ResNet's 3×3 ones, at their shapes and paddings), each pass, by each route lavapipe
/// takes, timed and held to Flex's values within 1e-4 relative.
#[test]
fn every_route_on_wgpu_matches_flex_at_the_models_shapes() {
    wgpu_device();
    let out = ok(&[
        "bench",
        "--backend",
        "wgpu",
        "--preset",
        "small",
        "--chunk-seconds",
        "1",
        "--batch-size",
        "2",
        "--steps",
        "1",
        "--layers",
    ]);
    let rows: Vec<Vec<&str>> = out
        .lines()
        .filter(|l| l.starts_with("| 2×"))
        .map(|l| l.split('|').map(str::trim).collect())
        .collect();
    for route in ["direct", "unfolded", "per-pass"] {
        let of_route: Vec<_> = rows.iter().filter(|r| r[5] == route).collect();
        assert!(
            of_route.iter().any(|r| r[2].contains("×1×")) && of_route.len() >= 6,
            "{route}: the front-end's and the ResNet's convolutions were not all timed: {out}"
        );
        for row in of_route {
            for apart in row[9].split(" / ") {
                let apart: f64 = apart.parse().unwrap_or(f64::NAN);
                assert!(apart <= 1e-4, "{route} {row:?}");
            }
        }
    }
    // The totals: each route's, and the fastest route's for each convolution and pass, which
    // can be no slower than any one route's.
    let total = |label: &str| -> f64 {
        let row = out
            .lines()
            .find(|l| l.starts_with(&format!("| {label} | ")));
        let row = row.unwrap_or_else(|| panic!("no total for {label}: {out}"));
        row.split('|')
            .nth(2)
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(f64::NAN)
    };
    let mixed = total("the fastest route for each convolution and pass");
    for route in ["direct", "unfolded"] {
        assert!(mixed > 0.0 && mixed <= total(route) + 1e-9, "{out}");
    }
}

/// `--gpu-conv cudnn` where cuDNN cannot run is refused with a sentence naming the flag (this
/// machine has no NVIDIA GPU; without the CUDA build there is no cuDNN route at all).
#[test]
fn cudnn_is_refused_where_it_cannot_run() {
    for backend in ["flex", "wgpu"] {
        let out = trainer(&[
            "bench",
            "--backend",
            backend,
            "--gpu-conv",
            "cudnn",
            "--steps",
            "1",
        ]);
        assert!(!out.status.success(), "cudnn accepted on {backend}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("--gpu-conv cudnn:") && err.contains("cuDNN"),
            "{backend}: {err}"
        );
    }
}

/// `auto` names the device it chose and why, in one line.
#[test]
fn auto_says_which_device_and_why() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("tone.wav");
    write_wav(&wav, 1.0, 16_000, 440.0, 1);
    let out = trainer(&["tag", s(&wav)]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("device: ")).collect();
    assert_eq!(lines.len(), 1, "{err}");
    let gpus: Vec<_> = adapters().into_iter().filter(|a| a.gpu).collect();
    if gpus.is_empty() {
        assert!(lines[0].starts_with("device: Flex (CPU) — "), "{err}");
    } else {
        assert!(lines[0].starts_with("device: wgpu on "), "{err}");
    }
}
