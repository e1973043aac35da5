//! `trainer bench`: how fast a model trains and tags on the chosen device — training clips/s
//! (forward, BCE, backward, Adam on batches of random chunks) and forward clips/s — how fast
//! the data path makes training batches alone (crops of MTAT-length clips read from a
//! `prepare`-style cache by the loader's worker threads), and what an MTAT epoch and the
//! paper's 200 epochs would cost at the slower of the two (one crop per training clip per
//! epoch).

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Distribution, Tensor};
use clap::Args;
use modnet::clip::read_back;

use crate::args::DeviceArgs;
use crate::args::{DatasetKind, ModelArgs, positive_usize};
use crate::data::loader::{self, Augment, BatchMaker};
use crate::data::{Clip, Source, cache};
use crate::evaluate::bce_with_logits;
use modnet_audio::backend::{Precision, set_precision};

#[derive(Args)]
pub struct BenchArgs {
    #[command(flatten)]
    pub(crate) model: ModelArgs,
    #[command(flatten)]
    pub(crate) device: DeviceArgs,
    /// Chunks per training step.
    #[arg(long, default_value_t = 4, value_parser = positive_usize)]
    pub(crate) batch_size: usize,
    /// Timed steps (after one untimed warm-up step, which compiles the GPU's kernels).
    #[arg(long, default_value_t = 5, value_parser = positive_usize)]
    pub(crate) steps: usize,
    /// The float type of the model's tensors (an experiment: training and the shipped weights
    /// are f32; see the README on reduced precision).
    #[arg(long, value_enum, default_value_t = Precision::F32)]
    pub(crate) float: Precision,
    /// Threads of the data path (as `train --loader-workers`).
    #[arg(long, default_value_t = loader::DEFAULT_WORKERS, value_parser = positive_usize)]
    pub(crate) loader_workers: usize,
    /// Then time each distinct convolution of the model, each pass (forward, input gradient,
    /// weight gradient), by each route this device can take: a table of milliseconds.
    #[arg(long)]
    pub(crate) layers: bool,
}

/// Runs the command.
pub fn run(args: &BenchArgs) -> Result<ExitCode> {
    let tags = crate::data::mtat::tags();
    let config = args.model.config_for(DatasetKind::Mtat, &tags)?;
    let mut device = args.device.device()?;
    set_precision(&mut device, args.float)?;
    let (batch, chunk) = (args.batch_size, config.chunk_samples);
    let route = args.device.training_route(&config, batch, &device)?;
    let mut model = config.init(&device)?;
    model.set_gpu_convolution(route);
    let summary = model.summary();

    let x = Tensor::<2>::random([batch, chunk], Distribution::Uniform(-0.5, 0.5), &device);
    let forward = || -> Result<()> {
        read_back::values(model.probabilities(x.clone())?).context("the forward pass")?;
        Ok(())
    };
    forward()?;
    let started = Instant::now();
    for _ in 0..args.steps {
        forward()?;
    }
    let forward_rate = (batch * args.steps) as f64 / started.elapsed().as_secs_f64();

    let (train_rate, losses) = training_rate(&config, route, &device, batch, args.steps)?;

    let rates = Rates {
        train: train_rate,
        forward: forward_rate,
        data: data_path_rate(&config, batch, args.loader_workers)?,
    };
    let passes = extension_passes(route, &device);
    print_table(args, &summary, &config, route, rates, &losses, passes);
    if args.layers {
        super::bench_layers::print(&config, batch, &device)?;
    }
    // The routes `per-pass` kept for each convolution and pass (where it ran).
    #[cfg(any(feature = "wgpu", feature = "cuda"))]
    super::bench_layers::print_per_pass();
    Ok(ExitCode::SUCCESS)
}

/// Training clips/s over `steps` timed steps (after an untimed one) of a new model on `device`
/// with burn's autodiff, Adam on one batch of random chunks, and each step's loss.
fn training_rate(
    config: &modnet::ModNetConfig,
    route: modnet::GpuConvolution,
    device: &burn::tensor::Device,
    batch: usize,
    steps: usize,
) -> Result<(f64, Vec<f32>)> {
    let chunk = config.chunk_samples;
    let train_device = device.clone().autodiff();
    let mut model = Some({
        let mut model = config.init(&train_device)?;
        model.set_gpu_convolution(route);
        model
    });
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
    // Each step's loss (the same batch every step: it should fall).
    let mut losses: Vec<f32> = Vec::new();
    let mut step = || -> Result<()> {
        let m = model.take().expect("the model is put back after each step");
        let loss = bce_with_logits(m.forward(x.clone())?, y.clone());
        let grads = GradientsParams::from_grads(loss.clone().backward(), &m);
        let m = optim.step(1e-3, m, grads);
        // Reading the loss back waits for this step's forward and backward; the next step's
        // forward waits for this update.
        let value = read_back::values(loss)
            .context("a training step")?
            .first()
            .copied()
            .unwrap_or(f32::NAN);
        losses.push(value);
        model = Some(m);
        Ok(())
    };
    step()?;
    let started = Instant::now();
    for _ in 0..steps {
        step()?;
    }
    // The last update, waited for once (a full read-back of the weights).
    if let Some(name) = model.as_ref().and_then(|m| m.first_non_finite()) {
        anyhow::bail!("the weights became NaN or infinite during the benchmark (first in {name})");
    }
    let train_rate = (batch * steps) as f64 / started.elapsed().as_secs_f64();
    Ok((train_rate, losses))
}

/// How many convolution passes the project's extension ran by each of its kernels, where it
/// ran: a route can fall back (cuDNN to the implicit GEMM, that to burn's direct kernels where
/// the device lacks matrix units).
#[cfg(any(feature = "wgpu", feature = "cuda"))]
fn extension_passes(
    route: modnet::GpuConvolution,
    device: &burn::tensor::Device,
) -> Option<String> {
    if route == modnet::GpuConvolution::Direct
        || modnet::GpuConvolution::candidates(device).is_empty()
    {
        return None;
    }
    let passes = modnet::kernels::conv2d::cube::passes();
    Some(format!(
        "{} / {} / {} / {}",
        passes.cudnn, passes.implicit_gemm, passes.unfolded, passes.direct
    ))
}

/// Without a GPU backend in the build the extension never runs on one.
#[cfg(not(any(feature = "wgpu", feature = "cuda")))]
fn extension_passes(_: modnet::GpuConvolution, _: &burn::tensor::Device) -> Option<String> {
    None
}

/// The three rates the table reports, clips/s.
#[derive(Clone, Copy)]
struct Rates {
    train: f64,
    forward: f64,
    data: f64,
}

/// The benchmark's table: the rates, the first and last step's loss, the convolution passes
/// by route, and what an MTAT epoch and the paper's 200 epochs would cost.
fn print_table(
    args: &BenchArgs,
    summary: &str,
    config: &modnet::ModNetConfig,
    route: modnet::GpuConvolution,
    rates: Rates,
    losses: &[f32],
    extension_passes: Option<String>,
) {
    let (train_rate, forward_rate, data_rate) = (rates.train, rates.forward, rates.data);
    let (batch, chunk) = (args.batch_size, config.chunk_samples);
    let slower = train_rate.min(data_rate);
    let train_clips = crate::data::mtat::train_list().len();
    let epoch = train_clips as f64 / slower;
    println!(
        "{summary}, {:.1} s chunks, batch {batch}, {} steps, convolutions on a GPU: {}, \
         burn's autotune {}",
        config.sample_rate.seconds(chunk),
        args.steps,
        route.name(),
        if cfg!(feature = "autotune") {
            "on (fusion off)"
        } else {
            "off"
        }
    );
    println!("| measure | value |");
    println!("|---|---:|");
    println!("| training, clips/s | {train_rate:.2} |");
    if let (Some(first), Some(last)) = (losses.first(), losses.last()) {
        println!(
            "| loss, first → last step (one batch, {:?}) | {first:.4} → {last:.4} |",
            args.float
        );
    }
    println!("| forward, clips/s | {forward_rate:.2} |");
    if let Some(passes) = extension_passes {
        println!(
            "| convolution passes by cuDNN / implicit GEMM / unfolded / direct kernels | {passes} |"
        );
    }
    println!(
        "| data path alone ({} loader threads), clips/s | {data_rate:.0} |",
        args.loader_workers
    );
    println!(
        "| MTAT epoch ({train_clips} training clips), at the {} rate | {} |",
        if data_rate < train_rate {
            "data path's"
        } else {
            "model's"
        },
        span(epoch)
    );
    println!(
        "| 200 epochs (the paper's budget) | {} |",
        span(200.0 * epoch)
    );
}

/// Training clips/s of the data path alone: batches of crops of MTAT-length (29.1 s) clips,
/// written first as a `prepare` cache in a temporary folder (so the files are in the page
/// cache: a cold disk is slower), made by `workers` loader threads.
fn data_path_rate(config: &modnet::ModNetConfig, batch: usize, workers: usize) -> Result<f64> {
    const FILES: usize = 32;
    let dir = tempfile::tempdir()?;
    let rate = config.sample_rate;
    let samples = rate.samples(29.1);
    let noise: Vec<u8> = (0..samples)
        .flat_map(|i| (((i * 7919) % 2000) as f32 / 4000.0 - 0.25).to_le_bytes())
        .collect();
    let clips: Arc<[Clip]> = (0..FILES)
        .map(|i| {
            let key = format!("bench/{i}.mp3");
            std::fs::write(cache::cache_path(dir.path(), &key, rate), &noise)?;
            Ok(Clip {
                name: key.clone(),
                source: Source::file(dir.path().join(&key), &key),
                labels: vec![0.0; config.n_tags()],
            })
        })
        .collect::<Result<_>>()?;
    let maker = Arc::new(BatchMaker {
        cache_dir: Some(dir.path().to_path_buf()),
        sample_rate: rate,
        samples: config.chunk_samples,
        tags: config.n_tags(),
        augment: Augment::default(),
    });
    // Enough crops for about a second of work at a few thousand clips/s.
    let order: Vec<usize> = (0..FILES).cycle().take(FILES * 64).collect();
    let crops = order.len();
    let started = Instant::now();
    for b in maker.batches(&clips, order, batch, 1, workers, 0) {
        b?;
    }
    Ok(crops as f64 / started.elapsed().as_secs_f64())
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
