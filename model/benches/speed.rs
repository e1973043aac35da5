//! Forward time per 5 s chunk and training-step time (batch 4, BCE + Adam) for the presets on
//! the CPU backends. Prints a table.
//!
//! ```text
//! cargo bench -p modnet                      # every preset on Flex and NdArray
//! cargo bench -p modnet -- small flex        # only rows whose preset/backend match all words
//! ```

use std::time::{Duration, Instant};

use burn::nn::loss::BinaryCrossEntropyLossConfig;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Device, Distribution, Int, Tensor};
use modnet::ModNetConfig;

const CHUNK: usize = 80_000;
const BATCH: usize = 4;

/// Runs `f` once to warm up, then until `budget` is spent (at least once, at most `max` times);
/// returns the mean time of the timed runs. A warm-up longer than the budget is itself the
/// measurement (n = 1, one-time costs included): the slow rows would otherwise take many minutes.
fn time(budget: Duration, max: usize, mut f: impl FnMut()) -> (Duration, usize) {
    let start = Instant::now();
    f();
    if start.elapsed() > budget {
        return (start.elapsed(), 1);
    }
    let start = Instant::now();
    let mut n = 0;
    while n < max && (n == 0 || start.elapsed() < budget) {
        f();
        n += 1;
    }
    (start.elapsed() / n as u32, n)
}

fn forward(config: &ModNetConfig, device: &Device) -> (Duration, usize) {
    let model = config.init(device).unwrap();
    let x = Tensor::<2>::random([1, CHUNK], Distribution::Uniform(-0.5, 0.5), device);
    time(Duration::from_secs(3), 20, || {
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
    time(Duration::from_secs(5), 10, || {
        let m = model.take().unwrap();
        let loss = loss_fn.forward(m.forward(x.clone()).unwrap(), y.clone());
        let grads = GradientsParams::from_grads(loss.backward(), &m);
        model = Some(optim.step(1e-3, m, grads));
    })
}

fn main() {
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    #[allow(deprecated)]
    let backends = [("flex", Device::flex()), ("ndarray", Device::ndarray())];
    println!(
        "| preset | backend | parameters | forward / 5 s chunk | train step (batch {BATCH}) |"
    );
    println!("|---|---|---:|---:|---:|");
    for preset in ["small", "sincmodnet", "modnet"] {
        let config = ModNetConfig::preset(preset).unwrap();
        for (name, device) in &backends {
            let row = format!("{preset} {name}");
            if !filters.iter().all(|f| row.contains(f.as_str())) {
                continue;
            }
            device.seed(42);
            let params = config.init(device).unwrap().num_trainable_params();
            let (fwd, nf) = forward(&config, device);
            let (step, ns) = train_step(&config, device);
            println!(
                "| {preset} | {name} | {params} | {:.1} ms (n={nf}) | {:.1} ms (n={ns}) |",
                fwd.as_secs_f64() * 1e3,
                step.as_secs_f64() * 1e3
            );
        }
    }
}
