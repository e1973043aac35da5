//! The whole model on wgpu against Flex: logits, gradients, five gradient steps and the weights
//! after them, by each route; `trainer tag` and a one-epoch `train` on wgpu.

use super::*;

const SAMPLES: usize = 16_000;
const BATCH: usize = 3;
const STEPS: usize = 5;

/// The steps' learning rate: each weight moves by `LR` × its gradient.
const LR: f64 = 0.01;

/// How far apart Flex and wgpu may end after the steps, as a fraction of how far the steps
/// moved each tensor (measured 5.3e-2: see the module's tolerances).
const WEIGHTS_APART: f32 = 0.1;

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
