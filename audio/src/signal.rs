//! A decoded signal whose memory does not grow with its length: samples are kept in memory up
//! to a bound and in an anonymous temporary file beyond it (deleted by the system when the
//! process ends, even when killed). The clip protocol reads only the chunks it runs
//! ([`modnet::ClipSamples`]), so tagging an hour-long file holds a batch, not the hour.

use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::sync::Mutex;

use anyhow::{Context, Result};

/// Samples kept in memory before a signal moves to disk: 4 Mi samples, 16 MB, about 4.4
/// minutes at 16 kHz. Most songs stay in memory; longer ones are read back from a temporary
/// file, which costs no time to speak of (a 20-minute file tagged in 10.6 s against 13.8 s with
/// 8 Mi in memory) and keeps `tag`'s peak under 200 MB at any length (210 MB with 8 Mi).
pub const MEMORY_SAMPLES: usize = 4 << 20;

/// The environment variable that sets another bound (a number of samples): lower for a
/// machine short of memory, or to try the on-disk path on short files.
pub const MEMORY_SAMPLES_VAR: &str = "MODNET_SIGNAL_MEMORY_SAMPLES";

/// The bound in force: [`MEMORY_SAMPLES_VAR`] when set, else [`MEMORY_SAMPLES`]. A value
/// that is not a whole number of samples is an error naming the variable, not ignored.
pub fn memory_samples() -> anyhow::Result<usize> {
    match std::env::var(MEMORY_SAMPLES_VAR) {
        Err(std::env::VarError::NotPresent) => Ok(MEMORY_SAMPLES),
        Ok(v) => v.trim().parse().map_err(|_| {
            anyhow::anyhow!(
                "{MEMORY_SAMPLES_VAR}={v:?} is not a number of samples (a whole number ≥ 0; \
                 unset it for the default, {MEMORY_SAMPLES})"
            )
        }),
        Err(e) => anyhow::bail!("{MEMORY_SAMPLES_VAR}: {e}"),
    }
}

/// Where the samples are.
enum Store {
    Memory(Vec<f32>),
    /// Little-endian f32; a mutex since reading is seek + read.
    Disk(Mutex<File>),
}

/// A mono signal at one sample rate, read by ranges.
pub struct Signal {
    len: usize,
    store: Store,
}

impl Signal {
    /// A signal in memory.
    pub fn from_vec(samples: Vec<f32>) -> Self {
        Self {
            len: samples.len(),
            store: Store::Memory(samples),
        }
    }

    /// Samples in the signal.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it has no samples (never, for a decoded file).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether the samples were moved to disk.
    pub fn on_disk(&self) -> bool {
        matches!(self.store, Store::Disk(_))
    }

    /// Fills `out` with the samples from `start` (`start + out.len()` ≤ `len`).
    pub fn read(&self, start: usize, out: &mut [f32]) -> std::io::Result<()> {
        match &self.store {
            Store::Memory(v) => {
                out.copy_from_slice(&v[start..start + out.len()]);
                Ok(())
            }
            Store::Disk(file) => {
                let mut file = file
                    .lock()
                    .map_err(|_| std::io::Error::other("a reader panicked"))?;
                file.seek(SeekFrom::Start(start as u64 * 4))?;
                let mut bytes = vec![0u8; out.len() * 4];
                file.read_exact(&mut bytes)?;
                for (o, b) in out.iter_mut().zip(bytes.chunks_exact(4)) {
                    *o = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                }
                Ok(())
            }
        }
    }

    /// The whole signal in memory (for callers that need it all, e.g. a training clip).
    pub fn into_vec(self) -> Result<Vec<f32>> {
        match self.store {
            Store::Memory(v) => Ok(v),
            Store::Disk(_) => {
                let mut out = vec![0.0; self.len];
                self.read(0, &mut out)
                    .context("reading the decoded audio back from its temporary file")?;
                Ok(out)
            }
        }
    }

    /// Calls `each` with consecutive blocks of the signal, in order (a copy to a file).
    pub fn for_each_block(&self, mut each: impl FnMut(&[f32]) -> Result<()>) -> Result<()> {
        const BLOCK: usize = 1 << 16;
        let mut block = vec![0.0; BLOCK];
        let mut at = 0;
        while at < self.len {
            let n = BLOCK.min(self.len - at);
            self.read(at, &mut block[..n])
                .context("reading the decoded audio back from its temporary file")?;
            each(&block[..n])?;
            at += n;
        }
        Ok(())
    }
}

impl modnet::ClipSamples for Signal {
    type Error = std::io::Error;

    fn sample_count(&self) -> usize {
        self.len
    }

    fn read_into(&self, start: usize, out: &mut [f32]) -> std::io::Result<()> {
        self.read(start, out)
    }
}

/// Builds a [`Signal`] sample by sample: in memory up to `memory_samples`, then on disk.
pub struct SignalWriter {
    memory: Vec<f32>,
    disk: Option<BufWriter<File>>,
    memory_samples: usize,
    len: usize,
}

impl SignalWriter {
    /// A writer that keeps at most `memory_samples` in memory.
    pub fn new(memory_samples: usize) -> Self {
        Self {
            memory: Vec::new(),
            disk: None,
            memory_samples,
            len: 0,
        }
    }

    /// Room for `n` samples (a container's word on the length), within the memory bound.
    pub fn reserve(&mut self, n: usize) {
        if self.disk.is_none() {
            self.memory
                .reserve(n.min(self.memory_samples).saturating_sub(self.memory.len()));
        }
    }

    /// Samples written so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends samples.
    pub fn extend(&mut self, samples: &[f32]) -> Result<()> {
        if self.disk.is_none() && self.memory.len() + samples.len() > self.memory_samples {
            let file = tempfile::tempfile().context(
                "cannot create a temporary file for a long signal (is TMPDIR writable?)",
            )?;
            let mut disk = BufWriter::with_capacity(1 << 16, file);
            write_f32(&mut disk, &std::mem::take(&mut self.memory))?;
            self.disk = Some(disk);
        }
        match &mut self.disk {
            Some(disk) => write_f32(disk, samples)?,
            None => self.memory.extend_from_slice(samples),
        }
        self.len += samples.len();
        Ok(())
    }

    /// Keeps the first `len` samples.
    pub fn truncate(&mut self, len: usize) -> Result<()> {
        if len >= self.len {
            return Ok(());
        }
        match &mut self.disk {
            None => self.memory.truncate(len),
            Some(disk) => {
                disk.flush().context("writing the decoded audio to disk")?;
                disk.get_ref()
                    .set_len(len as u64 * 4)
                    .context("writing the decoded audio to disk")?;
                disk.seek(SeekFrom::End(0))
                    .context("writing the decoded audio to disk")?;
            }
        }
        self.len = len;
        Ok(())
    }

    /// The signal.
    pub fn finish(self) -> Result<Signal> {
        let store = match self.disk {
            None => Store::Memory(self.memory),
            Some(disk) => {
                let file = disk
                    .into_inner()
                    .map_err(|e| e.into_error())
                    .context("writing the decoded audio to disk")?;
                Store::Disk(Mutex::new(file))
            }
        };
        Ok(Signal {
            len: self.len,
            store,
        })
    }
}

/// Writes `samples` as little-endian f32, a block at a time: the moment a signal moves to disk
/// its whole in-memory part is written, and a copy of it as bytes was 32 MB more at the peak.
fn write_f32(w: &mut impl Write, samples: &[f32]) -> Result<()> {
    let mut bytes = Vec::with_capacity(4 << 14);
    for block in samples.chunks(1 << 14) {
        bytes.clear();
        bytes.extend(block.iter().flat_map(|s| s.to_le_bytes()));
        w.write_all(&bytes)
            .context("writing the decoded audio to a temporary file (is the disk full?)")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_signal_moves_to_disk_and_reads_back_exactly() {
        let samples: Vec<f32> = (0..10_000).map(|i| (i as f32 * 0.37).sin()).collect();
        let mut w = SignalWriter::new(1000);
        for part in samples.chunks(777) {
            w.extend(part).unwrap();
        }
        w.extend(&[9.0; 5]).unwrap();
        w.truncate(samples.len()).unwrap();
        let signal = w.finish().unwrap();
        assert!(signal.on_disk(), "over the bound: on disk");
        assert_eq!(signal.len(), samples.len());
        let mut part = vec![0.0; 300];
        signal.read(4321, &mut part).unwrap();
        assert_eq!(part, samples[4321..4621]);
        assert!(signal.read(9_900, &mut part).is_err(), "past the end");
        assert_eq!(signal.into_vec().unwrap(), samples);

        let mut w = SignalWriter::new(1000);
        w.extend(&samples[..999]).unwrap();
        let small = w.finish().unwrap();
        assert!(!small.on_disk(), "within the bound: in memory");
        assert_eq!(small.into_vec().unwrap(), samples[..999]);
    }
}
