//! `trainer bench`: how fast a model trains and tags on the chosen device — training clips/s
//! (forward, BCE, backward, Adam on batches of random chunks) and forward clips/s — and what an
//! MTAT epoch and the paper's 200 epochs would cost at that rate (one crop per training clip
//! per epoch, model time only: the data path is not in these figures).

use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Distribution, Tensor};
use clap::Args;

use crate::args::{DatasetKind, ModelArgs, positive_usize};
use crate::backend::{Backend, device};
use crate::evaluate::bce_with_logits;

#[derive(Args)]
pub struct BenchArgs {
    #[command(flatten)]
    pub(crate) model: ModelArgs,
    /// Compute device.
    #[arg(long, value_enum, default_value_t = Backend::Auto)]
    pub(crate) backend: Backend,
    /// Chunks per training step.
    #[arg(long, default_value_t = 4, value_parser = positive_usize)]
    pub(crate) batch_size: usize,
    /// Timed steps (after one untimed warm-up step, which compiles the GPU's kernels).
    #[arg(long, default_value_t = 5, value_parser = positive_usize)]
    pub(crate) steps: usize,
}

/// Runs the command.
pub fn run(args: &BenchArgs) -> Result<ExitCode> {
    let tags = crate::data::mtat::tags();
    let config = args.model.config_for(DatasetKind::Mtat, &tags)?;
    let device = device(args.backend)?;
    let (batch, chunk) = (args.batch_size, config.chunk_samples);
    let model = config.init(&device)?;
    let summary = model.summary();

    let x = Tensor::<2>::random([batch, chunk], Distribution::Uniform(-0.5, 0.5), &device);
    let forward = || -> Result<()> {
        let p = model.probabilities(x.clone())?;
        p.try_into_data()
            .map_err(|e| anyhow::anyhow!("the device failed to run the forward pass: {e:?}"))?;
        Ok(())
    };
    forward()?;
    let started = Instant::now();
    for _ in 0..args.steps {
        forward()?;
    }
    let forward_rate = (batch * args.steps) as f64 / started.elapsed().as_secs_f64();

    let train_device = device.clone().autodiff();
    let mut model = Some(config.init(&train_device)?);
    let mut optim = AdamConfig::new().init();
    let x = Tensor::<2>::random(
        [batch, chunk],
        Distribution::Uniform(-0.5, 0.5),
        &train_device,
    );
    let y = Tensor::<2>::random(
        [batch, config.n_tags()],
        Distribution::Uniform(0.0, 1.0),
        &train_device,
    );
    let mut step = || -> Result<()> {
        let m = model.take().expect("the model is put back after each step");
        let loss = bce_with_logits(m.forward(x.clone())?, y.clone());
        let grads = GradientsParams::from_grads(loss.clone().backward(), &m);
        let m = optim.step(1e-3, m, grads);
        // Reading the loss back waits for this step's forward and backward; the next step's
        // forward waits for this update.
        loss.try_into_data()
            .map_err(|e| anyhow::anyhow!("the device failed to run a training step: {e:?}"))?;
        model = Some(m);
        Ok(())
    };
    step()?;
    let started = Instant::now();
    for _ in 0..args.steps {
        step()?;
    }
    // The last update, waited for once (a full read-back of the weights).
    if let Some(name) = model.as_ref().and_then(|m| m.first_non_finite()) {
        anyhow::bail!("the weights became NaN or infinite during the benchmark (first in {name})");
    }
    let train_rate = (batch * args.steps) as f64 / started.elapsed().as_secs_f64();

    let train_clips = crate::data::mtat::train_list().len();
    let epoch = train_clips as f64 / train_rate;
    println!(
        "{summary}, {:.1} s chunks, batch {batch}, {} steps",
        chunk as f64 / config.sample_rate as f64,
        args.steps
    );
    println!("| measure | value |");
    println!("|---|---:|");
    println!("| training, clips/s | {train_rate:.2} |");
    println!("| forward, clips/s | {forward_rate:.2} |");
    println!(
        "| MTAT epoch ({train_clips} training clips), model time | {} |",
        span(epoch)
    );
    println!(
        "| 200 epochs (the paper's budget) | {} |",
        span(200.0 * epoch)
    );
    Ok(ExitCode::SUCCESS)
}

fn span(seconds: f64) -> String {
    if seconds < 120.0 {
        format!("{seconds:.0} s")
    } else if seconds < 7200.0 {
        format!("{:.0} min", seconds / 60.0)
    } else if seconds < 172_800.0 {
        format!("{:.1} h", seconds / 3600.0)
    } else {
        format!("{:.1} days", seconds / 86_400.0)
    }
}
