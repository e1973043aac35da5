//! The command line (clap): every architecture knob of the reference as a flag or a config file.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use modnet::{
    BackendWidths, EnvelopeNorm, FirInit, FirModulationConfig, ModNet, ModNetConfig, Nonlinearity,
    SincConvConfig, TemporalConfig,
};

use crate::backend::{Backend, device};
use crate::data::synth::SYNTH_TAGS;
use crate::data::{Clip, Dataset, Source, cache, folder, mtat};
use crate::evaluate::evaluate;
use crate::train::{RunFiles, Schedule, TrainSettings, train};

#[derive(Parser)]
#[command(
    name = "trainer",
    version,
    about = "Train, evaluate and run ModNet / SincModNet music taggers"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Train a model (the default command: the small preset on the built-in synthetic data).
    Train(TrainArgs),
    /// Decode every clip of a dataset once into the cache (parallel, resumable).
    Prepare(PrepareArgs),
    /// Evaluate weights on a split: macro and per-tag ROC-AUC / PR-AUC, written as JSON too.
    Eval(EvalArgs),
    /// Tag audio files: top tags per file and a tag timeline per 5 s chunk.
    Tag(TagArgs),
    /// Write a weights file for the web page (checked by loading it).
    Export(ExportArgs),
    /// PNG pictures of a run: learned filter responses, training curves, per-tag ROC-AUC bars.
    Plot(PlotArgs),
    /// Train and evaluate once per modulation stride; per-tag comparison table, JSON and PNG.
    Sweep(SweepArgs),
}

#[derive(Args, Clone)]
struct DataArgs {
    /// Which data: the built-in synthetic set, MagnaTagATune, or a folder with a label CSV.
    #[arg(long, value_enum, default_value_t = DatasetKind::Synth)]
    dataset: DatasetKind,
    /// MTAT: the directory with the mp3 folders 0…f and annotations_final.csv. Folder: the
    /// directory the CSV's paths are relative to.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Folder dataset: the label CSV (a path column, one column per tag, optional split column).
    #[arg(long)]
    labels: Option<PathBuf>,
    /// Decoded-audio cache written by `prepare` (default: DATA_DIR/.modnet-cache).
    #[arg(long)]
    cache_dir: Option<PathBuf>,
    /// Synthetic data: clips per split (train, valid, test).
    #[arg(long, num_args = 3, default_values_t = [800, 100, 100])]
    synth_clips: Vec<usize>,
    /// Synthetic data: seconds per clip.
    #[arg(long, default_value_t = 3.0)]
    synth_seconds: f64,
    /// Seed of the data (synthetic clips, random splits), the initialisation and the crops.
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum DatasetKind {
    Synth,
    Mtat,
    Folder,
}

impl DataArgs {
    fn load(&self) -> Result<Dataset> {
        match self.dataset {
            DatasetKind::Synth => Ok(synthetic(&self.synth_clips, self.synth_seconds, self.seed)),
            DatasetKind::Mtat => mtat::load(self.data_dir()?),
            DatasetKind::Folder => {
                let labels = self
                    .labels
                    .as_ref()
                    .context("--dataset folder needs --labels FILE.csv")?;
                folder::load(self.data_dir()?, labels, self.seed)
            }
        }
    }

    fn data_dir(&self) -> Result<&Path> {
        let dir = self
            .data_dir
            .as_deref()
            .context("this dataset needs --data-dir DIR")?;
        if !dir.is_dir() {
            bail!("--data-dir {} is not a directory", dir.display());
        }
        Ok(dir)
    }

    fn cache_dir(&self) -> Option<PathBuf> {
        match self.dataset {
            DatasetKind::Synth => None,
            _ => self
                .cache_dir
                .clone()
                .or_else(|| self.data_dir.as_ref().map(|d| d.join(".modnet-cache"))),
        }
    }
}

/// The built-in dataset: `counts` clips of train / valid / test, disjoint indices.
fn synthetic(counts: &[usize], seconds: f64, seed: u64) -> Dataset {
    let samples = (seconds * 16000.0) as usize;
    let mut next = 0u64;
    let mut split = |n: usize| -> Vec<Clip> {
        (0..n)
            .map(|_| {
                let index = next;
                next += 1;
                let recipe = crate::data::synth::ClipRecipe::draw(seed, index);
                Clip {
                    name: format!("synth-{index}"),
                    source: Source::Synth {
                        seed,
                        index,
                        samples,
                    },
                    labels: recipe.labels(),
                }
            })
            .collect()
    };
    Dataset {
        description: format!("built-in synthetic clips ({seconds} s, seed {seed})"),
        tags: SYNTH_TAGS.iter().map(|t| t.to_string()).collect(),
        train: split(counts[0]),
        valid: split(counts[1]),
        test: split(counts[2]),
    }
}

#[derive(Args, Clone)]
struct ModelArgs {
    /// Starting point: sincmodnet, modnet, maxpool-baseline or small.
    #[arg(long, default_value = "small")]
    preset: String,
    /// A configuration file (JSON, as written into run directories) instead of a preset.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Modulation stride in filterbank frames (16 = 10 ms).
    #[arg(long)]
    stride: Option<usize>,
    /// Number of modulation filters M.
    #[arg(long)]
    filters: Option<usize>,
    /// ModNet's FIR initialisation.
    #[arg(long, value_enum)]
    fir_init: Option<FirInitArg>,
    /// Unit-L2-norm FIR kernels.
    #[arg(long)]
    weight_norm: bool,
    /// Nonlinearity after the sinc layer.
    #[arg(long, value_enum)]
    r1: Option<NonlinearityArg>,
    /// Nonlinearity after the modulation layer.
    #[arg(long, value_enum)]
    r2: Option<NonlinearityArg>,
    /// Normalisation before the back-end.
    #[arg(long, value_enum)]
    norm: Option<NormArg>,
    /// Back-end widths: paper (256 ×7), hcnn (128 ×4, 256 ×3) or small (16 ×4, 32 ×3).
    #[arg(long, value_enum)]
    widths: Option<WidthsArg>,
    /// Seconds per training / evaluation chunk (the paper: 5; the synthetic default: 2).
    #[arg(long)]
    chunk_seconds: Option<f64>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum FirInitArg {
    Hamming,
    Kaiming,
}
#[derive(Debug, Clone, Copy, ValueEnum)]
enum NonlinearityArg {
    None,
    Relu,
    Square,
    Abs,
}
#[derive(Debug, Clone, Copy, ValueEnum)]
enum NormArg {
    None,
    Instance,
}
#[derive(Debug, Clone, Copy, ValueEnum)]
enum WidthsArg {
    Paper,
    Hcnn,
    /// The `small` preset's 16 ×4, 32 ×3 (e.g. a CPU-sized max-pool baseline).
    Small,
}

impl From<NonlinearityArg> for Nonlinearity {
    fn from(a: NonlinearityArg) -> Self {
        match a {
            NonlinearityArg::None => Self::None,
            NonlinearityArg::Relu => Self::Relu,
            NonlinearityArg::Square => Self::Square,
            NonlinearityArg::Abs => Self::Abs,
        }
    }
}

impl ModelArgs {
    fn config(&self, data: &DataArgs, tags: &[String]) -> Result<ModNetConfig> {
        let mut c = match &self.config {
            Some(path) => {
                let json = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                ModNetConfig::from_json(&json).with_context(|| path.display().to_string())?
            }
            None => ModNetConfig::preset(&self.preset)?,
        };
        if let Some(m) = self.filters {
            c.temporal = match c.temporal {
                TemporalConfig::Fir(f) => TemporalConfig::Fir(f.with_n_filters(m)),
                TemporalConfig::Sinc(s) => {
                    TemporalConfig::Sinc(SincConvConfig { n_filters: m, ..s })
                }
                TemporalConfig::MaxPool(_) => {
                    bail!("--filters does not apply to the max-pool baseline")
                }
            };
        }
        if let Some(init) = self.fir_init {
            let TemporalConfig::Fir(f) = c.temporal else {
                bail!("--fir-init applies to ModNet's FIR bank (--preset modnet)");
            };
            let init = match init {
                FirInitArg::Hamming => FirModulationConfig::new().init,
                FirInitArg::Kaiming => FirInit::KaimingUniform,
            };
            c.temporal = TemporalConfig::Fir(f.with_init(init));
        }
        if self.weight_norm {
            let TemporalConfig::Fir(f) = c.temporal else {
                bail!("--weight-norm applies to ModNet's FIR bank (--preset modnet)");
            };
            c.temporal = TemporalConfig::Fir(f.with_weight_norm(true));
        }
        if let Some(s) = self.stride {
            c.temporal = c.temporal.with_stride(s);
        }
        if let Some(r) = self.r1 {
            c.r1 = r.into();
        }
        if let Some(r) = self.r2 {
            c.r2 = r.into();
        }
        if let Some(n) = self.norm {
            c.norm = match n {
                NormArg::None => EnvelopeNorm::None,
                NormArg::Instance => EnvelopeNorm::Instance,
            };
        }
        if let Some(w) = self.widths {
            c.backend.widths = match w {
                WidthsArg::Paper => BackendWidths::Paper,
                WidthsArg::Hcnn => BackendWidths::Hcnn,
                WidthsArg::Small => ModNetConfig::small().backend.widths,
            };
        }
        // The synthetic clips are short and CPU time is precious: 2 s chunks unless told.
        let synth_default = (data.dataset == DatasetKind::Synth).then_some(2.0);
        if let Some(s) = self.chunk_seconds.or(synth_default) {
            c.chunk_samples = (s * c.sample_rate as f64).round() as usize;
        }
        c.tags = tags.to_vec();
        c.validate()?;
        Ok(c)
    }
}

#[derive(Args, Clone)]
struct TrainArgs {
    #[command(flatten)]
    data: DataArgs,
    #[command(flatten)]
    model: ModelArgs,
    /// Compute device.
    #[arg(long, value_enum, default_value_t = Backend::Wgpu)]
    backend: Backend,
    /// Run directory: checkpoint, best weights, log, config.
    #[arg(long, default_value = "runs/default")]
    out: PathBuf,
    /// Continue the run in --out from its last checkpoint.
    #[arg(long)]
    resume: bool,
    /// At most this many epochs (default: 200, the paper's; 6 on the synthetic data, about ten
    /// minutes on two CPU cores).
    #[arg(long)]
    epochs: Option<usize>,
    /// Clips per batch.
    #[arg(long, default_value_t = 4)]
    batch_size: usize,
    /// Adam learning rate.
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
    /// Epochs without a lower validation loss before halving the LR.
    #[arg(long, default_value_t = 5)]
    lr_patience: usize,
    /// Epochs without a lower validation loss before stopping.
    #[arg(long, default_value_t = 15)]
    stop_patience: usize,
    /// Optimisation schedule.
    #[arg(long, value_enum, default_value_t = Schedule::Paper)]
    schedule: Schedule,
    /// Also copy the best weights here for the web page. The default run (synthetic data,
    /// `--out runs/default`, started at the repository root) writes the page's built-in
    /// weights, web/assets/default-weights.safetensors, unless told otherwise.
    #[arg(long)]
    web_weights: Option<PathBuf>,
}

/// The web page's built-in weights, relative to the repository root.
pub const PAGE_WEIGHTS: &str = "web/assets/default-weights.safetensors";

impl TrainArgs {
    /// Where the page's weights go: `--web-weights`, or the page's own file for the default
    /// run at the repository root.
    fn web_weights(&self) -> Option<PathBuf> {
        let page = PathBuf::from(PAGE_WEIGHTS);
        let default_run = self.data.dataset == DatasetKind::Synth
            && self.out == std::path::Path::new("runs/default")
            && page.parent().is_some_and(|dir| dir.is_dir());
        self.web_weights.clone().or(default_run.then_some(page))
    }
}

impl Default for TrainArgs {
    fn default() -> Self {
        // The bare command: parse no arguments.
        let Cli {
            command: Some(Command::Train(args)),
        } = Cli::parse_from(["trainer", "train"])
        else {
            unreachable!("`train` parses to the train command")
        };
        args
    }
}

#[derive(Args)]
struct PrepareArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Parallel decoders (default: the number of cores).
    #[arg(long)]
    jobs: Option<usize>,
}

#[derive(Args)]
struct EvalArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Weights file (default: OUT/best.safetensors of the default run).
    #[arg(long, default_value = "runs/default/best.safetensors")]
    weights: PathBuf,
    /// Split to evaluate.
    #[arg(long, default_value = "test")]
    split: String,
    /// Where to write the JSON report (default: beside the weights).
    #[arg(long)]
    json: Option<PathBuf>,
    /// Compute device.
    #[arg(long, value_enum, default_value_t = Backend::Wgpu)]
    backend: Backend,
}

#[derive(Args)]
pub struct TagArgs {
    /// Audio files (any format symphonia reads).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Weights file.
    #[arg(long, default_value = "runs/default/best.safetensors")]
    pub weights: PathBuf,
    /// How many tags to show per file.
    #[arg(long, default_value_t = 5)]
    pub top: usize,
    /// Print JSON instead of tables.
    #[arg(long)]
    pub json: bool,
    /// Compute device.
    #[arg(long, value_enum, default_value_t = Backend::Flex)]
    pub backend: Backend,
}

#[derive(Args)]
struct PlotArgs {
    /// Run directory (best.safetensors, log.json; best.test.json from `eval` for the tag bars).
    #[arg(long, default_value = "runs/default")]
    run: PathBuf,
    /// Where the PNGs go (default: the run directory).
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Args)]
struct SweepArgs {
    #[command(flatten)]
    train: TrainArgs,
    /// Modulation strides to compare (the paper's Fig. 4).
    #[arg(long, value_delimiter = ',', default_value = "16,32,64,128,160")]
    strides: Vec<usize>,
    /// Split the runs are compared on.
    #[arg(long, default_value = "test")]
    split: String,
}

#[derive(Args)]
struct ExportArgs {
    /// Weights to export.
    #[arg(long, default_value = "runs/default/best.safetensors")]
    weights: PathBuf,
    /// Output file for the web page.
    #[arg(long)]
    out: PathBuf,
}

/// Parses the command line and runs the command.
pub fn run() -> Result<ExitCode> {
    let cli = Cli::parse();
    match cli
        .command
        .unwrap_or_else(|| Command::Train(TrainArgs::default()))
    {
        Command::Train(args) => run_train(args),
        Command::Prepare(args) => run_prepare(args),
        Command::Eval(args) => run_eval(args),
        Command::Tag(args) => crate::tag::run(&args),
        Command::Plot(args) => run_plot(args),
        Command::Sweep(args) => run_sweep(args),
        Command::Export(args) => {
            let model = ModNet::load_weights_file(&args.weights, &burn::tensor::Device::flex())?;
            model.save_weights_file(&args.out)?;
            eprintln!("wrote {} ({})", args.out.display(), model.summary());
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn run_train(args: TrainArgs) -> Result<ExitCode> {
    let data = args.data.load()?;
    let config = args.model.config(&args.data, &data.tags)?;
    let device = device(args.backend)?;
    let settings = TrainSettings {
        max_epochs: args
            .epochs
            .unwrap_or(if args.data.dataset == DatasetKind::Synth {
                6
            } else {
                200
            }),
        batch_size: args.batch_size,
        lr: args.lr,
        lr_patience: args.lr_patience,
        stop_patience: args.stop_patience,
        seed: args.data.seed,
        schedule: args.schedule,
    };
    let out = RunFiles {
        dir: args.out.clone(),
    };
    std::fs::create_dir_all(&out.dir)?;
    std::fs::write(out.dir.join("config.json"), config.to_json())?;
    let cache_dir = args.data.cache_dir();
    train(
        &config,
        &data,
        &settings,
        &device,
        &out,
        cache_dir.as_deref(),
        args.resume,
    )?;
    if let Some(page) = args.web_weights() {
        let model = ModNet::load_weights_file(out.best(), &burn::tensor::Device::flex())?;
        model.save_weights_file(&page)?;
        eprintln!(
            "wrote the web page's weights {} ({})",
            page.display(),
            model.summary()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn run_prepare(args: PrepareArgs) -> Result<ExitCode> {
    let data = args.data.load()?;
    let Some(cache_dir) = args.data.cache_dir() else {
        eprintln!("the synthetic dataset is generated on the fly: nothing to prepare");
        return Ok(ExitCode::SUCCESS);
    };
    std::fs::create_dir_all(&cache_dir)
        .with_context(|| format!("creating {}", cache_dir.display()))?;
    let clips: Vec<&Clip> = data
        .train
        .iter()
        .chain(&data.valid)
        .chain(&data.test)
        .collect();
    let bar = ProgressBar::new(clips.len() as u64).with_style(
        ProgressStyle::with_template(
            "decoding {bar:30} {pos}/{len} clips {elapsed_precise}<{eta_precise} {per_sec}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs.max(1))
        .build()?;
    let started = std::time::Instant::now();
    let results: Vec<(String, Result<bool>)> = pool.install(|| {
        use rayon::prelude::*;
        clips
            .par_iter()
            .map(|clip| {
                let r = cache::prepare(clip, &cache_dir, 16000);
                bar.inc(1);
                (clip.name.clone(), r)
            })
            .collect()
    });
    bar.finish_and_clear();
    let decoded = results
        .iter()
        .filter(|(_, r)| matches!(r, Ok(true)))
        .count();
    let kept = results
        .iter()
        .filter(|(_, r)| matches!(r, Ok(false)))
        .count();
    let failed: Vec<_> = results
        .iter()
        .filter_map(|(n, r)| r.as_ref().err().map(|e| (n, e)))
        .collect();
    let secs = started.elapsed().as_secs_f64();
    println!("| clips | decoded now | already cached | failed | seconds | clips/s |");
    println!("|---:|---:|---:|---:|---:|---:|");
    println!(
        "| {} | {decoded} | {kept} | {} | {secs:.1} | {:.1} |",
        clips.len(),
        failed.len(),
        decoded as f64 / secs.max(1e-9)
    );
    for (name, e) in &failed {
        let known = if mtat::KNOWN_BAD.contains(&name.as_str()) {
            " (known bad MTAT clip)"
        } else {
            ""
        };
        println!("skipped {name}{known}: {e:#}");
    }
    println!("cache: {}", cache_dir.display());
    Ok(ExitCode::SUCCESS)
}

/// Evaluates a weights file on a split of a dataset.
fn evaluate_weights(
    data_args: &DataArgs,
    data: &Dataset,
    weights: &Path,
    split: &str,
    backend: Backend,
) -> Result<(ModNet, crate::evaluate::Evaluation)> {
    let device = device(backend)?;
    let model = ModNet::load_weights_file(weights, &device)?;
    if model.config().tags != data.tags {
        bail!(
            "{} was trained on other tags than this dataset's",
            weights.display()
        );
    }
    let clips = data.split(split)?;
    let bar = ProgressBar::new(clips.len() as u64);
    let eval = evaluate(
        &model,
        clips,
        data_args.cache_dir().as_deref(),
        &device,
        &bar,
    )?;
    bar.finish_and_clear();
    Ok((model, eval))
}

fn run_eval(args: EvalArgs) -> Result<ExitCode> {
    let data = args.data.load()?;
    let (model, eval) =
        evaluate_weights(&args.data, &data, &args.weights, &args.split, args.backend)?;
    println!(
        "{} on {} ({} split, {} clips)",
        model.summary(),
        data.description,
        args.split,
        eval.clips.len()
    );
    println!();
    println!("| tag | ROC-AUC | PR-AUC |");
    println!("|---|---:|---:|");
    let fmt = |v: Option<f64>| v.map_or("—".to_string(), |x| format!("{x:.4}"));
    for (t, tag) in data.tags.iter().enumerate() {
        println!(
            "| {tag} | {} | {} |",
            fmt(eval.metrics.roc_auc[t]),
            fmt(eval.metrics.average_precision[t])
        );
    }
    println!(
        "| **macro** | **{:.4}** | **{:.4}** |",
        eval.metrics.roc_auc_macro, eval.metrics.pr_auc_macro
    );
    if eval.metrics.undefined_tags > 0 {
        println!(
            "({} tags have one class only in this split and are left out of the means)",
            eval.metrics.undefined_tags
        );
    }
    for (name, e) in &eval.skipped {
        println!("skipped {name}: {e}");
    }
    let json = args
        .json
        .unwrap_or_else(|| args.weights.with_extension(format!("{}.json", args.split)));
    let report = serde_json::json!({
        "weights": args.weights, "split": args.split, "tags": data.tags, "evaluation": eval,
    });
    std::fs::write(&json, serde_json::to_vec_pretty(&report)?)?;
    println!("\nwrote {}", json.display());
    Ok(ExitCode::SUCCESS)
}

fn run_plot(args: PlotArgs) -> Result<ExitCode> {
    let out = args.out.unwrap_or_else(|| args.run.clone());
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let weights = RunFiles {
        dir: args.run.clone(),
    }
    .best();
    let model = ModNet::load_weights_file(&weights, &burn::tensor::Device::flex())
        .with_context(|| format!("reading {}", weights.display()))?;
    let path = out.join("filters.png");
    crate::plot::filters(&path, &model.filter_responses(1024)?, &model.summary())?;
    println!("wrote {} (learned filter responses)", path.display());
    let log = args.run.join("log.json");
    match std::fs::read(&log) {
        Ok(bytes) => {
            let log: Vec<crate::train::EpochLog> = serde_json::from_slice(&bytes)
                .with_context(|| format!("reading {}", log.display()))?;
            let path = out.join("curves.png");
            crate::plot::curves(&path, &log)?;
            println!("wrote {} (training curves)", path.display());
        }
        Err(_) => println!("no {}: no training curves", log.display()),
    }
    let report = weights.with_extension("test.json");
    match std::fs::read(&report) {
        Ok(bytes) => {
            let (tags, roc) =
                report_roc(&bytes).with_context(|| format!("reading {}", report.display()))?;
            let path = out.join("tags.png");
            crate::plot::tag_bars(&path, &tags, &[("test".into(), roc)])?;
            println!("wrote {} (per-tag ROC-AUC)", path.display());
        }
        Err(_) => println!(
            "no {}: run `trainer eval --weights {}` first for the per-tag bars",
            report.display(),
            weights.display()
        ),
    }
    Ok(ExitCode::SUCCESS)
}

/// Tags and per-tag ROC-AUC of a report written by `eval`.
fn report_roc(bytes: &[u8]) -> Result<(Vec<String>, Vec<Option<f64>>)> {
    let v: serde_json::Value = serde_json::from_slice(bytes)?;
    let tags = serde_json::from_value(v["tags"].clone()).context("no tags")?;
    let roc = serde_json::from_value(v["evaluation"]["metrics"]["roc_auc"].clone())
        .context("no per-tag ROC-AUC")?;
    Ok((tags, roc))
}

fn run_sweep(args: SweepArgs) -> Result<ExitCode> {
    let base = if args.train.out == Path::new("runs/default") {
        PathBuf::from("runs/sweep")
    } else {
        args.train.out.clone()
    };
    if args.strides.is_empty() {
        bail!("give at least one stride");
    }
    let data = args.train.data.load()?;
    let mut rows = Vec::new();
    for &stride in &args.strides {
        let mut run = args.train.clone();
        run.model.stride = Some(stride);
        run.out = base.join(format!("stride-{stride}"));
        run.web_weights = None;
        eprintln!("== stride {stride}: {}", run.out.display());
        run_train(run.clone())?;
        let weights = RunFiles { dir: run.out }.best();
        let (_, eval) = evaluate_weights(
            &args.train.data,
            &data,
            &weights,
            &args.split,
            args.train.backend,
        )?;
        rows.push((stride, eval.metrics));
    }
    let mut table = format!(
        "| tag |{}\n|---|{}\n",
        args.strides
            .iter()
            .map(|s| format!(" stride {s} |"))
            .collect::<String>(),
        "---:|".repeat(rows.len())
    );
    let fmt = |v: Option<f64>| v.map_or("—".to_string(), |x| format!("{x:.4}"));
    for (t, tag) in data.tags.iter().enumerate() {
        table += &format!("| {tag} |");
        for (_, m) in &rows {
            table += &format!(" {} |", fmt(m.roc_auc[t]));
        }
        table += "\n";
    }
    table += "| **macro ROC-AUC** |";
    for (_, m) in &rows {
        table += &format!(" **{:.4}** |", m.roc_auc_macro);
    }
    table += "\n| **macro PR-AUC** |";
    for (_, m) in &rows {
        table += &format!(" **{:.4}** |", m.pr_auc_macro);
    }
    table += "\n";
    println!("{table}");
    std::fs::create_dir_all(&base)?;
    std::fs::write(base.join("sweep.md"), &table)?;
    let json = serde_json::json!({
        "split": args.split,
        "tags": data.tags,
        "runs": rows.iter().map(|(s, m)| serde_json::json!({"stride": s, "metrics": m})).collect::<Vec<_>>(),
    });
    std::fs::write(base.join("sweep.json"), serde_json::to_vec_pretty(&json)?)?;
    let series: Vec<(String, Vec<Option<f64>>)> = rows
        .iter()
        .map(|(s, m)| (format!("stride {s}"), m.roc_auc.clone()))
        .collect();
    let png = base.join("sweep.png");
    crate::plot::tag_bars(&png, &data.tags, &series)?;
    println!("wrote {}, sweep.md, sweep.json", png.display());
    Ok(ExitCode::SUCCESS)
}
