//! The model on the CPU against PyTorch: forward time for one 5 s chunk and training-step time
//! (batch 4, BCE + Adam), for SincModNet and ModNet at several back-end widths, on Flex — and,
//! in the same run, the same architecture in PyTorch (`benches/torch_modnet.py`, same parameter
//! counts) with the ratio Flex / PyTorch, when a Python with `torch` and `numpy` is at hand.
//!
//! ```text
//! cargo bench -p modnet                       # the four rows of issue 11
//! cargo bench -p modnet -- hcnn               # only rows whose key contains every word
//! cargo bench -p modnet -- paper              # the paper's 256-wide back-end (slow on a CPU)
//! MODNET_BENCH_PYTHON=/path/to/venv/bin/python cargo bench -p modnet
//! ```
//!
//! Both sides report the best of several runs (forward: up to 20 in 3 s, training step: up to 5
//! in 10 s, after one warm-up) on all the machine's cores. The rows are run interleaved (Flex,
//! then PyTorch, row by row) so that a busy machine slows both alike.

use std::process::Command;
use std::time::{Duration, Instant};

use burn::nn::loss::BinaryCrossEntropyLossConfig;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Device, Distribution, Int, Tensor};
use modnet::{ModNetConfig, ResNetConfig, ResNetWidths};

/// Samples per chunk: 5 s at 16 kHz, as `torch_modnet.py` uses.
const CHUNK: usize = 80_000;
/// Chunks per training step.
const BATCH: usize = 4;
const TORCH_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/torch_modnet.py");

/// One row: a configuration and its PyTorch twin.
struct Row {
    /// What the row is, for the table.
    name: &'static str,
    /// The words a filter matches (`torch_modnet.py`'s widths and kind).
    key: &'static str,
    config: ModNetConfig,
    /// Rows outside the default set run only when a filter names them.
    default: bool,
}

fn rows() -> Vec<Row> {
    let custom =
        |narrow, wide| ResNetConfig::new().with_widths(ResNetWidths::Custom { narrow, wide });
    let hcnn = ResNetConfig::new().with_widths(ResNetWidths::Hcnn);
    vec![
        Row {
            name: "SincModNet, widths 16×4/32×3 (`small`)",
            key: "small16 sinc",
            config: ModNetConfig::small(),
            default: true,
        },
        Row {
            name: "SincModNet, widths 32×4/64×3",
            key: "small sinc",
            config: ModNetConfig::sincmodnet().with_resnet(custom(32, 64)),
            default: true,
        },
        Row {
            name: "SincModNet, HarmonicCNN widths",
            key: "hcnn sinc",
            config: ModNetConfig::sincmodnet().with_resnet(hcnn.clone()),
            default: true,
        },
        Row {
            name: "ModNet (FIR), HarmonicCNN widths",
            key: "hcnn fir",
            config: ModNetConfig::modnet().with_resnet(hcnn),
            default: true,
        },
        Row {
            name: "SincModNet, the paper's widths (256×7)",
            key: "paper sinc",
            config: ModNetConfig::sincmodnet(),
            default: false,
        },
    ]
}

/// Runs `f` once to warm up, then until `budget` is spent (at least once, at most `max` times);
/// returns the best time and how many runs it was the best of.
fn best(budget: Duration, max: usize, mut f: impl FnMut()) -> (Duration, usize) {
    f();
    let start = Instant::now();
    let mut best = Duration::MAX;
    let mut n = 0;
    while n < max && (n == 0 || start.elapsed() < budget) {
        let t = Instant::now();
        f();
        best = best.min(t.elapsed());
        n += 1;
    }
    (best, n)
}

fn forward(config: &ModNetConfig, device: &Device) -> (Duration, usize) {
    let model = config.init(device).unwrap();
    let x = Tensor::<2>::random([1, CHUNK], Distribution::Uniform(-0.5, 0.5), device);
    best(Duration::from_secs(3), 20, || {
        let y = model.forward(x.clone()).unwrap();
        let _ = y.into_data();
    })
}

fn train_step(config: &ModNetConfig, device: &Device) -> (Duration, usize) {
    let device = device.clone().autodiff();
    let mut model = Some(config.init(&device).unwrap());
    let mut optim = AdamConfig::new().init();
    let loss_fn = BinaryCrossEntropyLossConfig::new()
        .with_logits(true)
        .init(&device);
    let x = Tensor::<2>::random([BATCH, CHUNK], Distribution::Uniform(-0.5, 0.5), &device);
    let y = Tensor::<2, Int>::random(
        [BATCH, config.n_tags()],
        Distribution::Uniform(0.0, 2.0),
        &device,
    );
    best(Duration::from_secs(10), 5, || {
        let m = model.take().unwrap();
        let loss = loss_fn.forward(m.forward(x.clone()).unwrap(), y.clone());
        let grads = GradientsParams::from_grads(loss.backward(), &m);
        // Flex computes eagerly: the step is done when `step` returns.
        model = Some(optim.step(1e-3, m, grads));
    })
}

/// PyTorch's side of a row.
struct Torch {
    params: usize,
    forward_ms: f64,
    step_ms: f64,
}

/// The Python that runs the PyTorch rows, if it can import torch and numpy.
fn torch_python() -> Result<String, String> {
    let python = std::env::var("MODNET_BENCH_PYTHON").unwrap_or_else(|_| "python3".into());
    match Command::new(&python)
        .args(["-c", "import torch, numpy"])
        .output()
    {
        Ok(out) if out.status.success() => Ok(python),
        Ok(_) => Err(format!("`{python}` cannot import torch and numpy")),
        Err(e) => Err(format!("`{python}` does not run ({e})")),
    }
}

/// Runs `torch_modnet.py` for one row on `threads` threads and reads its line:
/// `torch sinc small16: params 61962  forward 1×5s 9 ms  train step batch 4 152 ms  threads 2`.
fn torch_row(python: &str, key: &str, threads: usize) -> Result<Torch, String> {
    let (widths, kind) = key.split_once(' ').expect("a key is `widths kind`");
    let out = Command::new(python)
        .args([TORCH_SCRIPT, widths, &threads.to_string(), kind])
        .output()
        .map_err(|e| format!("{TORCH_SCRIPT}: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "{TORCH_SCRIPT} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    // The number after `word`, or why the line is not the one expected.
    let number_after = |word: &str| -> Result<f64, String> {
        text.find(word)
            .and_then(|at| text[at + word.len()..].split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| format!("{TORCH_SCRIPT} printed no number after `{word}`: {text}"))
    };
    Ok(Torch {
        params: number_after("params")? as usize,
        forward_ms: number_after("1×5s")?,
        step_ms: number_after("batch 4")?,
    })
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    // As the trainer does: freed activations stay in the process.
    modnet::kernels::keep_freed_memory();
    let words: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let python = torch_python();
    match &python {
        Ok(python) => println!("PyTorch: {python}, {threads} threads; Flex: {threads} threads"),
        Err(why) => println!(
            "PyTorch: not measured — {why} (set MODNET_BENCH_PYTHON to a Python with torch and \
             numpy); Flex alone, {threads} threads"
        ),
    }
    println!();
    println!(
        "| config | parameters | forward, 1 × 5 s: Flex | PyTorch | ratio | training step, batch {BATCH}: Flex | PyTorch | ratio |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    let device = Device::flex();
    for row in rows() {
        let selected = if words.is_empty() {
            row.default
        } else {
            words.iter().all(|w| row.key.contains(w.as_str()))
        };
        if !selected {
            continue;
        }
        device.seed(42);
        let params = row.config.init(&device).unwrap().num_trainable_params();
        let (fwd, nf) = forward(&row.config, &device);
        let (step, ns) = train_step(&row.config, &device);
        let torch = python.as_ref().ok().map(|p| torch_row(p, row.key, threads));
        let dash = || "–".to_string();
        let [torch_fwd, fwd_ratio, torch_step, step_ratio] = match &torch {
            None => [dash(), dash(), dash(), dash()],
            Some(Err(e)) => {
                eprintln!("{e}");
                ["failed".into(), dash(), "failed".into(), dash()]
            }
            Some(Ok(t)) => {
                if t.params != params {
                    eprintln!(
                        "{}: PyTorch has {} parameters, the model crate {params}",
                        row.name, t.params
                    );
                }
                [
                    format!("{:.0} ms", t.forward_ms),
                    format!("**{:.2}×**", ms(fwd) / t.forward_ms),
                    format!("{:.0} ms", t.step_ms),
                    format!("**{:.2}×**", ms(step) / t.step_ms),
                ]
            }
        };
        println!(
            "| {} | {params} | {:.1} ms (best of {nf}) | {torch_fwd} | {fwd_ratio} | {:.0} ms (best of {ns}) | {torch_step} | {step_ratio} |",
            row.name,
            ms(fwd),
            ms(step),
        );
    }
    println!();
    println!("ratio = Flex time / PyTorch time: below 1 the model crate is faster.");
}
