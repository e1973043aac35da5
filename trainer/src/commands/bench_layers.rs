//! `bench --layers`: each distinct convolution of the model (its shapes as a forward pass runs
//! them), each pass, by each route this device can take — milliseconds in a table, so that a
//! GPU's time can be followed to the layer and pass that spends it — and how far each route's
//! three passes are from Flex's at those shapes (one image: the CPU's reference stays cheap).

use std::time::Instant;

use anyhow::{Result, anyhow};
use burn::tensor::{Device, Distribution, Tensor, TensorData};
use modnet::clip::read_back;
use modnet::kernels::trace::{record_convolutions, recorded_convolutions};
use modnet::{GpuConvolution, ModNetConfig};

/// Prints the table for `config` at `batch` chunks on `device`.
pub(crate) fn print(config: &ModNetConfig, batch: usize, device: &Device) -> Result<()> {
    let model = config.init(device)?;
    let x = Tensor::<2>::random(
        [batch, config.chunk_samples],
        Distribution::Uniform(-0.5, 0.5),
        device,
    );
    record_convolutions();
    let logits = model.forward(x);
    let convolutions = recorded_convolutions();
    read_back::values(logits?)?;
    // On the CPU there is one route (the project's kernels); `direct` stands for it.
    let gpu_routes = GpuConvolution::candidates(device);
    let routes = if gpu_routes.is_empty() {
        vec![(GpuConvolution::Direct, "cpu")]
    } else {
        gpu_routes.into_iter().map(|r| (r, r.name())).collect()
    };
    println!();
    println!(
        "| input | weight | padding | runs per forward | route | forward ms | input gradient ms \
         | weight gradient ms | relative distance to Flex, batch 1 (output / input gradient / \
         weight gradient) |"
    );
    println!("|---|---|---|---:|---|---:|---:|---:|---|");
    // Per route, the sum over the model's convolutions (each pass × its runs); and the sum
    // of the fastest route's time for each convolution and pass, what choosing per layer and
    // pass would give.
    let mut totals = vec![0.0; routes.len()];
    let mut fastest_each = 0.0;
    for ((xs, ws, padding), runs) in convolutions {
        let flex = passes_of_one_image(xs, ws, padding, GpuConvolution::Direct, &Device::flex())?;
        let mut best = [f64::INFINITY; 3];
        for (i, &(route, label)) in routes.iter().enumerate() {
            let passes = time_passes(xs, ws, padding, route, device)?;
            totals[i] += runs as f64 * passes.iter().sum::<f64>();
            for (b, p) in best.iter_mut().zip(passes) {
                *b = b.min(p);
            }
            let [forward, input, weight] = passes;
            let ours = passes_of_one_image(xs, ws, padding, route, device)?;
            let apart: Vec<String> = flex
                .iter()
                .zip(&ours)
                .map(|(a, b)| format!("{:.1e}", relative_distance(a, b)))
                .collect();
            println!(
                "| {} | {} | {}×{} | {runs} | {label} | {forward:.2} | {input:.2} | {weight:.2} \
                 | {} |",
                dims(xs),
                dims(ws),
                padding[0],
                padding[1],
                apart.join(" / "),
            );
        }
        fastest_each += runs as f64 * best.iter().sum::<f64>();
    }
    if routes.len() > 1 {
        println!();
        println!("| route | the model's convolutions, forward and both gradients, ms |");
        println!("|---|---:|");
        for ((_, label), total) in routes.iter().zip(&totals) {
            println!("| {label} | {total:.2} |");
        }
        println!("| the fastest route for each convolution and pass | {fastest_each:.2} |");
    }
    Ok(())
}

/// What `--gpu-conv per-pass` timed in this process: each convolution's passes, each route's
/// best milliseconds at the pass's first run, and the route kept (nothing where it did not run).
#[cfg(any(feature = "wgpu", feature = "cuda"))]
pub(crate) fn print_per_pass() {
    let kept = modnet::kernels::conv2d::per_pass::choices();
    // Each convolution's passes together, the convolutions in the order they first ran.
    let mut choices: Vec<_> = kept.iter().collect();
    choices.sort_by_key(|c| (kept.iter().position(|k| k.shape == c.shape), c.pass));
    let mut routes: Vec<GpuConvolution> = Vec::new();
    for (route, _) in choices.iter().flat_map(|c| &c.times) {
        if !routes.contains(route) {
            routes.push(*route);
        }
    }
    if choices.is_empty() {
        return;
    }
    println!();
    println!("per-pass: each convolution's passes, timed by each route at their first run");
    let names: Vec<String> = routes.iter().map(|r| format!("{} ms", r.name())).collect();
    println!(
        "| input | weight | padding | pass | {} | kept |",
        names.join(" | ")
    );
    println!("|---|---|---|---|{}---|", "---:|".repeat(routes.len()));
    for c in choices {
        let s = c.shape;
        let times: Vec<String> = routes
            .iter()
            .map(|r| {
                let ms = c.times.iter().find(|(t, _)| t == r);
                ms.map_or("–".to_string(), |(_, ms)| format!("{ms:.2}"))
            })
            .collect();
        println!(
            "| {} | {} | {}×{} | {} | {} | {} |",
            dims([s.batch, s.c_in, s.h, s.w]),
            dims([s.c_out, s.c_in, s.kh, s.kw]),
            s.ph,
            s.pw,
            c.pass.name(),
            times.join(" | "),
            c.route.name()
        );
    }
}

/// A tensor's four sizes as the tables print them: `2×16×40×46`.
fn dims(d: [usize; 4]) -> String {
    format!("{}×{}×{}×{}", d[0], d[1], d[2], d[3])
}

/// Milliseconds of the forward pass, the input gradient and the weight gradient of one
/// convolution by `route` (each gradient: a backward asking for it alone, less the forward).
fn time_passes(
    xs: [usize; 4],
    ws: [usize; 4],
    padding: [usize; 2],
    route: GpuConvolution,
    device: &Device,
) -> Result<[f64; 3]> {
    let random = |dims: [usize; 4], device: &Device| {
        Tensor::<4>::random(dims, Distribution::Uniform(-0.5, 0.5), device)
    };
    let sync = |device: &Device| device.sync().map_err(|e| anyhow!("a timed pass: {e:?}"));
    let (x, w) = (random(xs, device), random(ws, device));
    let forward = best_of_three(|| {
        let y = modnet::kernels::conv2d(x.clone(), w.clone(), None, padding, route);
        sync(device)?;
        drop(y);
        Ok(())
    })?;
    let train = device.clone().autodiff();
    let (x, w) = (random(xs, &train), random(ws, &train));
    let backward = |of_input: bool| {
        best_of_three(|| {
            let (x, w) = if of_input {
                (x.clone().require_grad(), w.clone())
            } else {
                (x.clone(), w.clone().require_grad())
            };
            let y = modnet::kernels::conv2d(x, w, None, padding, route);
            let grads = y.sum().backward();
            sync(&train)?;
            drop(grads);
            Ok(())
        })
    };
    let (input, weight) = (backward(true)?, backward(false)?);
    Ok([
        forward,
        (input - forward).max(0.0),
        (weight - forward).max(0.0),
    ])
}

/// The output, input gradient and weight gradient of one convolution of the first image of
/// `xs`, by `route` on `device`, from fixed inputs (the gradients of a fixed weighting of the
/// outputs, so that each output's gradient differs).
fn passes_of_one_image(
    xs: [usize; 4],
    ws: [usize; 4],
    padding: [usize; 2],
    route: GpuConvolution,
    device: &Device,
) -> Result<[Vec<f32>; 3]> {
    let xs = [1, xs[1], xs[2], xs[3]];
    let train = device.clone().autodiff();
    let fixed = |dims: [usize; 4], seed: u64| {
        let values = fixed_values(dims.iter().product(), seed);
        Tensor::<4>::from_data(TensorData::new(values, dims), &train)
    };
    let x = fixed(xs, 1).require_grad();
    let w = fixed(ws, 2).require_grad();
    let y = modnet::kernels::conv2d(x.clone(), w.clone(), None, padding, route);
    let weighting = fixed(y.dims(), 3);
    let grads = (y.clone() * weighting).sum().backward();
    let missing = || anyhow!("a convolution's gradient was not computed");
    let dx = x.grad(&grads).ok_or_else(missing)?;
    let dw = w.grad(&grads).ok_or_else(missing)?;
    Ok([
        read_back::values(y)?,
        read_back::values(dx)?,
        read_back::values(dw)?,
    ])
}

/// `len` values in [-1, 1), the same for the same `seed` on every machine (a 64-bit LCG: fixed
/// inputs that do not come from a device's random generator; the wgpu tests use them too).
pub fn fixed_values(len: usize, seed: u64) -> Vec<f32> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

/// |a − b| / |a| (Euclidean norms); infinite for values of different sizes.
fn relative_distance(a: &[f32], b: &[f32]) -> f64 {
    if a.len() != b.len() {
        return f64::INFINITY;
    }
    let norm = |v: &mut dyn Iterator<Item = f64>| v.map(|x| x * x).sum::<f64>().sqrt();
    let apart = norm(&mut a.iter().zip(b).map(|(x, y)| (*x - *y) as f64));
    apart / norm(&mut a.iter().map(|x| *x as f64)).max(f64::MIN_POSITIVE)
}

/// The best of three timed runs after an untimed one (which compiles a GPU's kernels), in ms.
fn best_of_three(run: impl Fn() -> Result<()>) -> Result<f64> {
    run()?;
    let mut best = f64::INFINITY;
    for _ in 0..3 {
        let started = Instant::now();
        run()?;
        best = best.min(started.elapsed().as_secs_f64() * 1e3);
    }
    Ok(best)
}
