//! The run folder, owned by one type: every file a training run writes and every command reads
//! (configuration, checkpoint, best weights, logs, evaluation reports), and the checks that keep
//! a run from being lost.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// The default run folder (relative to the working directory).
pub const DEFAULT_RUN: &str = "runs/default";
/// The default run's best weights: what `eval`, `export` and `plot` read unless told.
pub const DEFAULT_BEST: &str = "runs/default/best.safetensors";

/// The files of a run folder.
pub struct RunFiles {
    /// The directory.
    pub dir: PathBuf,
}

impl RunFiles {
    /// The checkpoint (weights, optimiser, state) written at the end of every epoch.
    pub fn checkpoint(&self) -> PathBuf {
        self.dir.join("checkpoint.bin")
    }
    /// The best weights so far (lowest validation loss): what `eval`, `tag` and `export` use.
    pub fn best(&self) -> PathBuf {
        self.dir.join("best.safetensors")
    }
    /// The training log, one row per epoch.
    pub fn log_csv(&self) -> PathBuf {
        self.dir.join("log.csv")
    }
    /// The same log as JSON.
    pub fn log_json(&self) -> PathBuf {
        self.dir.join("log.json")
    }
    /// The model configuration of the run.
    pub fn config(&self) -> PathBuf {
        self.dir.join("config.json")
    }
    /// The folder of the weights kept at the end of each epoch (`train --keep-epochs`).
    pub fn epochs_dir(&self) -> PathBuf {
        self.dir.join("epochs")
    }
    /// The weights at the end of `epoch` (kept with `train --keep-epochs`), for
    /// `trainer average`.
    pub fn epoch_weights(&self, epoch: usize) -> PathBuf {
        self.epochs_dir()
            .join(format!("epoch-{epoch:03}.safetensors"))
    }
    /// The kept epochs' weights files, oldest first.
    pub fn kept_epochs(&self) -> Vec<(usize, PathBuf)> {
        let Ok(entries) = std::fs::read_dir(self.epochs_dir()) else {
            return Vec::new();
        };
        let mut kept: Vec<_> = entries
            .filter_map(|e| {
                let path = e.ok()?.path();
                let name = path.file_name()?.to_str()?;
                let epoch = name.strip_prefix("epoch-")?.strip_suffix(".safetensors")?;
                Some((epoch.parse().ok()?, path))
            })
            .collect();
        kept.sort();
        kept
    }

    /// The files of a run that are already there.
    fn existing(&self) -> Vec<PathBuf> {
        [
            self.checkpoint(),
            self.best(),
            self.log_csv(),
            self.log_json(),
        ]
        .into_iter()
        .filter(|p| p.exists())
        .chain(self.kept_epochs().into_iter().map(|(_, p)| p))
        .collect()
    }

    /// Checks, before any work, that a run can start (or continue) here: a new run never
    /// replaces another's files unless told to, and a resumed run needs its checkpoint. Creates
    /// the folder and proves it writable.
    pub fn check_start(&self, resume: bool, overwrite: bool) -> Result<NewFolders> {
        let existing = self.existing();
        let names = || {
            existing
                .iter()
                .filter_map(|p| p.file_name()?.to_str().map(str::to_string))
                .collect::<Vec<_>>()
                .join(", ")
        };
        if resume {
            if !self.checkpoint().exists() && !existing.is_empty() {
                bail!(
                    "cannot resume: {} is missing, though the run in {} has {}; \
                     without the checkpoint the run cannot continue (start again with --overwrite, \
                     or train into another --out)",
                    self.checkpoint().display(),
                    self.dir.display(),
                    names()
                );
            }
        } else if !existing.is_empty() && !overwrite {
            bail!(
                "{} already holds a run ({}): continue it with --resume, start it again with \
                 --overwrite, or choose another --out",
                self.dir.display(),
                names()
            );
        }
        // The folders this run makes, deepest first: a run refused later leaves none behind.
        let made = NewFolders(
            self.dir
                .ancestors()
                .take_while(|d| !d.as_os_str().is_empty() && !d.exists())
                .map(Path::to_path_buf)
                .collect(),
        );
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("cannot create the run folder {}", self.dir.display()))?;
        let probe = self.dir.join(".write-test");
        std::fs::write(&probe, b"")
            .and_then(|_| std::fs::remove_file(&probe))
            .with_context(|| format!("cannot write into the run folder {}", self.dir.display()))?;
        Ok(made)
    }
}

/// Folders made by [`RunFiles::check_start`].
#[must_use = "remove the folders when the run is refused"]
pub struct NewFolders(Vec<PathBuf>);

impl NewFolders {
    /// Removes the folders that are still empty (a run refused before it wrote anything);
    /// a folder with any file in it stays.
    pub fn remove_if_empty(self) {
        for dir in self.0 {
            if std::fs::remove_dir(&dir).is_err() {
                break;
            }
        }
    }
}

impl RunFiles {
    /// The run in `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The evaluation report `eval` writes for `split` of the weights `weights` (beside them).
    pub fn report(weights: &Path, split: &str) -> PathBuf {
        weights.with_extension(format!("{split}.json"))
    }
}
