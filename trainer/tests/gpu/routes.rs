//! Each convolution route on wgpu against Flex, pass by pass at the model's shapes (directly
//! and through `bench --layers`); the routes a device refuses, and what `auto` says it chose.

use super::*;

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
