//! Flags shared by several commands: which data, which model, how labels become positives,
//! and the value checks that refuse impossible numbers when the command line is parsed.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use modnet::{
    EnvelopeNorm, FirInit, FirModulationConfig, ModNetConfig, Nonlinearity, ResNetWidths,
    SincConvConfig, TemporalConfig,
};

mod device;
mod route;

pub(crate) use device::{DeviceArgs, WeightsArgs};

use crate::data::loader;
use crate::data::{Dataset, folder, mtat, synth};
use crate::evaluate::Positives;
use crate::run::DEFAULT_RUN;
use crate::train::Schedule;

#[derive(Args, Clone)]
pub(crate) struct DataArgs {
    /// Which data: the built-in synthetic set, MagnaTagATune, or a folder with a label CSV.
    #[arg(long, value_enum, default_value_t = DatasetKind::Synth)]
    pub(crate) dataset: DatasetKind,
    /// MTAT: the directory with the mp3 folders 0…f and annotations_final.csv. Folder: the
    /// directory the CSV's paths are relative to.
    #[arg(long)]
    pub(crate) data_dir: Option<PathBuf>,
    /// Folder dataset: the label CSV (a path column, one column per tag, optional split column).
    #[arg(long)]
    pub(crate) labels: Option<PathBuf>,
    /// Decoded-audio cache written by `prepare` (default: DATA_DIR/.modnet-cache).
    #[arg(long)]
    pub(crate) cache_dir: Option<PathBuf>,
    /// Synthetic data: clips per split (train, valid, test).
    #[arg(long, num_args = 3, default_values_t = [800, 100, 100])]
    pub(crate) synth_clips: Vec<usize>,
    /// Synthetic data: seconds per clip (0.5 to 600).
    #[arg(long, default_value_t = 3.0, value_parser = synth_seconds)]
    pub(crate) synth_seconds: f64,
    /// Seed of the data (synthetic clips, random splits), the initialisation and the crops.
    #[arg(long, default_value_t = 42)]
    pub(crate) seed: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum DatasetKind {
    Synth,
    Mtat,
    Folder,
}

impl DataArgs {
    pub(crate) fn load(&self) -> Result<Dataset> {
        match self.dataset {
            DatasetKind::Synth => Ok(synth::dataset(
                &self.synth_clips,
                self.synth_seconds,
                self.seed,
            )),
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

    pub(crate) fn data_dir(&self) -> Result<&Path> {
        let dir = self
            .data_dir
            .as_deref()
            .context("this dataset needs --data-dir DIR")?;
        if !dir.is_dir() {
            bail!("--data-dir {} is not a directory", dir.display());
        }
        Ok(dir)
    }

    pub(crate) fn cache_dir(&self) -> Option<PathBuf> {
        match self.dataset {
            DatasetKind::Synth => None,
            _ => self
                .cache_dir
                .clone()
                .or_else(|| self.data_dir.as_ref().map(|d| d.join(".modnet-cache"))),
        }
    }
}

#[derive(Args, Clone)]
pub(crate) struct ModelArgs {
    /// Starting point: sincmodnet, modnet, maxpool-baseline or small.
    #[arg(long, default_value = "small")]
    pub(crate) preset: String,
    /// A configuration file (JSON, as written into run directories) instead of a preset.
    #[arg(long)]
    pub(crate) config: Option<PathBuf>,
    /// Modulation stride in filterbank frames (16 = 10 ms).
    #[arg(long)]
    pub(crate) stride: Option<usize>,
    /// Number of modulation filters M.
    #[arg(long)]
    pub(crate) filters: Option<usize>,
    /// ModNet's FIR initialisation.
    #[arg(long, value_enum)]
    pub(crate) fir_init: Option<FirInitArg>,
    /// Unit-L2-norm FIR kernels.
    #[arg(long)]
    pub(crate) weight_norm: bool,
    /// Nonlinearity after the sinc layer.
    #[arg(long, value_enum)]
    r1: Option<NonlinearityArg>,
    /// Nonlinearity after the modulation layer.
    #[arg(long, value_enum)]
    r2: Option<NonlinearityArg>,
    /// Normalisation before the back-end.
    #[arg(long, value_enum)]
    pub(crate) norm: Option<NormArg>,
    /// Back-end widths: paper (256 ×7), hcnn (128 ×4, 256 ×3), small (16 ×4, 32 ×3) or NxW
    /// (N channels in layers 1–4, W in 5–7, e.g. 32x64).
    #[arg(long, value_parser = parse_widths)]
    pub(crate) widths: Option<ResNetWidths>,
    /// Seconds per training / evaluation chunk (the paper: 5; the synthetic default: 2).
    #[arg(long)]
    pub(crate) chunk_seconds: Option<f64>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum FirInitArg {
    Hamming,
    Kaiming,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum NonlinearityArg {
    None,
    Relu,
    Square,
    Abs,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum NormArg {
    None,
    Instance,
}

fn parse_widths(s: &str) -> Result<ResNetWidths, String> {
    match s {
        "paper" => Ok(ResNetWidths::Paper),
        "hcnn" => Ok(ResNetWidths::Hcnn),
        // The `small` preset's (e.g. for a CPU-sized max-pool baseline).
        "small" => Ok(ModNetConfig::small().resnet.widths),
        _ => match s.split_once('x').map(|(a, b)| (a.parse(), b.parse())) {
            Some((Ok(narrow), Ok(wide))) if narrow > 0 && wide > 0 => {
                Ok(ResNetWidths::Custom { narrow, wide })
            }
            _ => Err(format!(
                "'{s}' is not paper, hcnn, small or NxW (two channel counts, e.g. 32x64)"
            )),
        },
    }
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
    pub(crate) fn config(&self, data: &DataArgs, tags: &[String]) -> Result<ModNetConfig> {
        self.config_for(data.dataset, tags)
    }

    /// The configuration for data of kind `dataset` (the synthetic set's chunks default to 2 s).
    pub(crate) fn config_for(&self, dataset: DatasetKind, tags: &[String]) -> Result<ModNetConfig> {
        let mut c = match &self.config {
            Some(path) => {
                let bytes = modnet_audio::files::read_bounded(path, "the configuration", 1 << 20)?;
                let json = String::from_utf8(bytes)
                    .with_context(|| format!("the configuration {} is not text", path.display()))?;
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
            c.resnet.widths = w;
        }
        // The synthetic clips are short and CPU time is precious: 2 s chunks unless told.
        let synth_default = (dataset == DatasetKind::Synth).then_some(2.0);
        if let Some(s) = self.chunk_seconds.or(synth_default) {
            c.chunk_samples = c.sample_rate.samples(s);
        }
        c.tags = tags.to_vec();
        c.validate()?;
        Ok(c)
    }
}

/// How labels become positives for ROC-AUC / PR-AUC (train's validation and `eval`).
#[derive(Args, Clone)]
pub(crate) struct PositivesArgs {
    /// A label above this counts as a positive (soft labels: e.g. 0.3 for a teacher's
    /// probabilities, which are rarely above 0.5).
    #[arg(long, default_value_t = 0.5, value_parser = unit_interval)]
    pub(crate) positive_threshold: f32,
    /// Tags with fewer positive clips than this are left out of the macro means (and counted).
    #[arg(long, default_value_t = 1)]
    pub(crate) min_positives: usize,
}

impl PositivesArgs {
    pub(crate) fn positives(&self) -> Positives {
        Positives {
            threshold: self.positive_threshold,
            min_count: self.min_positives.max(1),
        }
    }
}

/// `s` as a number for which `ok` holds, or a message saying what was expected.
fn number<T: std::str::FromStr + Copy>(
    s: &str,
    ok: impl Fn(T) -> bool,
    what: &str,
) -> Result<T, String> {
    match s.parse::<T>() {
        Ok(x) if ok(x) => Ok(x),
        _ => Err(format!("'{s}' is not {what}")),
    }
}

pub(crate) fn positive_usize(s: &str) -> Result<usize, String> {
    number(
        s,
        |x: usize| (1..=1024).contains(&x),
        "a count from 1 to 1024",
    )
}

pub(crate) fn unit_interval(s: &str) -> Result<f32, String> {
    number(s, |x: f32| (0.0..1.0).contains(&x), "a number in [0, 1)")
}

pub(crate) fn learning_rate(s: &str) -> Result<f64, String> {
    number(s, |x: f64| x > 0.0 && x <= 1.0, "a learning rate in (0, 1]")
}

pub(crate) fn synth_seconds(s: &str) -> Result<f64, String> {
    number(
        s,
        |x: f64| (0.5..=600.0).contains(&x),
        "a clip length from 0.5 to 600 seconds",
    )
}

pub(crate) fn rare_tag_power(s: &str) -> Result<f32, String> {
    match s.parse::<f32>() {
        Ok(p) if (0.0..=2.0).contains(&p) => Ok(p),
        _ => Err(format!("'{s}' is not a power between 0 and 2")),
    }
}

pub(crate) fn non_negative(s: &str) -> Result<f64, String> {
    number(s, |x: f64| x.is_finite() && x >= 0.0, "a finite number ≥ 0")
}

pub(crate) fn probability(s: &str) -> Result<f64, String> {
    number(
        s,
        |x: f64| (0.0..=1.0).contains(&x),
        "a probability in [0, 1]",
    )
}

/// What `trainer train` takes (and `trainer sweep` for each of its runs).
#[derive(Args, Clone)]
pub struct TrainArgs {
    #[command(flatten)]
    pub(crate) data: DataArgs,
    #[command(flatten)]
    pub(crate) model: ModelArgs,
    #[command(flatten)]
    pub(crate) device: DeviceArgs,
    /// Run directory: checkpoint, best weights, log, config.
    #[arg(long, default_value = DEFAULT_RUN)]
    pub(crate) out: PathBuf,
    /// Continue the run in --out from its last checkpoint.
    #[arg(long, conflicts_with = "overwrite")]
    pub(crate) resume: bool,
    /// Start again in an --out that holds a run, replacing its files.
    #[arg(long)]
    pub(crate) overwrite: bool,
    /// Start from these weights (a file of `train` or `export`; the built-in model's is
    /// weights/modnet-mtat-distilled.safetensors) instead of a random initialisation: to
    /// fine-tune a model, or go on with one on a machine that lacks its run folder. Its
    /// configuration must be the one the flags describe.
    #[arg(long, value_name = "WEIGHTS", conflicts_with_all = ["resume", "prior_bias"])]
    pub(crate) init_weights: Option<PathBuf>,
    /// At most this many epochs (default: 200, the paper's; 6 on the synthetic data, about ten
    /// minutes on two CPU cores).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub(crate) epochs: Option<u64>,
    /// Clips per batch (1 to 4096).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=4096))]
    pub(crate) batch_size: u64,
    /// Threads that read and crop the training batches ahead of the model (the batches are the
    /// same with any number).
    #[arg(long, default_value_t = loader::DEFAULT_WORKERS as u64,
          value_parser = clap::value_parser!(u64).range(1..=64))]
    pub(crate) loader_workers: u64,
    /// Adam learning rate (a finite number > 0 and ≤ 1).
    #[arg(long, default_value_t = 1e-3, value_parser = learning_rate)]
    pub(crate) lr: f64,
    /// Epochs without a lower validation loss before halving the LR.
    #[arg(long, default_value_t = 5)]
    pub(crate) lr_patience: usize,
    /// Epochs without a lower validation loss before stopping.
    #[arg(long, default_value_t = 15)]
    pub(crate) stop_patience: usize,
    /// A validation loss counts as lower (a new best, for --lr-patience, --stop-patience and
    /// the best weights) only when it is below the best by more than this (0: any step): set
    /// it to the validation set's noise, or a run can go on for steps that mean nothing.
    #[arg(long, default_value_t = 0.0, value_parser = non_negative)]
    pub(crate) min_delta: f64,
    /// Optimisation schedule.
    #[arg(long, value_enum, default_value_t = Schedule::Paper)]
    pub(crate) schedule: Schedule,
    /// Within an epoch, also write a checkpoint every this many minutes (0: only at each
    /// epoch's end): `--resume` goes on from the batch it holds, as the run would have.
    #[arg(long, default_value_t = 10.0, value_parser = non_negative)]
    pub(crate) checkpoint_minutes: f64,
    /// Keep the weights of each of the last N epochs in the run folder (`epochs/`): `trainer
    /// average` makes one model of them, often with a lower validation loss than any one epoch
    /// (0: none).
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub(crate) keep_epochs: usize,
    /// Also copy the best weights here when training ends (e.g. for the web page).
    #[arg(long)]
    pub(crate) web_weights: Option<PathBuf>,
    /// Augmentation: a random gain in ±DB dB per training crop (0: off).
    #[arg(long, default_value_t = 0.0, value_parser = non_negative)]
    pub(crate) augment_gain_db: f64,
    /// Augmentation for segment labels (a CSV with start/seconds): move each crop by up to
    /// ±SECONDS (0: off).
    #[arg(long, default_value_t = 0.0, value_parser = non_negative)]
    pub(crate) augment_shift: f64,
    /// Augmentation: the probability that a crop is mixed with another of its batch, labels
    /// mixed with the same weights (0: off).
    #[arg(long, default_value_t = 0.0, value_parser = probability)]
    pub(crate) augment_mix: f64,
    /// Start the output biases at the log-odds of the training labels' mean tag frequencies
    /// (helps with soft labels from a teacher, which are mostly small).
    #[arg(long)]
    pub(crate) prior_bias: bool,
    /// Weight each tag's training loss by (mean tag frequency / its frequency)^P, clipped to
    /// [0.2, 5] and scaled to a mean of 1: rare tags count more (0: every tag alike; 0.5: a
    /// square-root balance). The validation loss stays unweighted.
    #[arg(long, default_value_t = 0.0, value_parser = rare_tag_power)]
    pub(crate) rare_tag_power: f32,
    #[command(flatten)]
    pub(crate) positives: PositivesArgs,
}
