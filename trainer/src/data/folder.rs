//! Your own music: a folder of audio files (any format symphonia reads) and a CSV of labels.
//!
//! The CSV has a `path` column (relative to the folder; the first column if none is named
//! `path`), one column per tag holding 0/1 or soft values in [0, 1], and optionally a `split`
//! column (`train`, `valid`, `test`). Without it, a seeded random split of 80/10/10 is made.
//! The tag vocabulary, and so the model's output size, follows the CSV's columns.

use std::path::Path;

use anyhow::{Context, Result, bail};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use super::{Clip, Dataset, Source};

/// Reads the folder dataset.
pub fn load(data_dir: &Path, labels_csv: &Path, seed: u64) -> Result<Dataset> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(labels_csv)
        .with_context(|| format!("cannot read the label file {}", labels_csv.display()))?;
    let header: Vec<String> = reader.headers()?.iter().map(str::to_string).collect();
    let path_col = header.iter().position(|h| h == "path").unwrap_or(0);
    let split_col = header.iter().position(|h| h == "split");
    let tag_cols: Vec<usize> = (0..header.len())
        .filter(|&c| c != path_col && Some(c) != split_col)
        .collect();
    if tag_cols.is_empty() {
        bail!(
            "{}: no tag columns beside the path column",
            labels_csv.display()
        );
    }
    let tags: Vec<String> = tag_cols.iter().map(|&c| header[c].clone()).collect();
    let (mut train, mut valid, mut test, mut unsplit) = (vec![], vec![], vec![], vec![]);
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        let record = record.with_context(|| format!("{}: line {line}", labels_csv.display()))?;
        let path = record.get(path_col).unwrap_or("");
        if path.is_empty() {
            bail!("{}: line {line} has no path", labels_csv.display());
        }
        let labels = tag_cols
            .iter()
            .map(|&c| {
                let v = record.get(c).unwrap_or("");
                match v.parse::<f32>() {
                    Ok(x) if (0.0..=1.0).contains(&x) => Ok(x),
                    _ => bail!(
                        "{}: line {line}, tag '{}': '{v}' is not a value in [0, 1]",
                        labels_csv.display(),
                        header[c]
                    ),
                }
            })
            .collect::<Result<Vec<_>>>()?;
        let clip = Clip {
            name: path.to_string(),
            source: Source::File(data_dir.join(path)),
            labels,
        };
        match split_col.map(|c| record.get(c).unwrap_or("").to_ascii_lowercase()) {
            None => unsplit.push(clip),
            Some(s) if s == "train" => train.push(clip),
            Some(s) if s == "valid" || s == "validation" || s == "val" => valid.push(clip),
            Some(s) if s == "test" => test.push(clip),
            Some(s) => bail!(
                "{}: line {line}: split '{s}' is not train, valid or test",
                labels_csv.display()
            ),
        }
    }
    if !unsplit.is_empty() {
        unsplit.shuffle(&mut StdRng::seed_from_u64(seed));
        let n = unsplit.len();
        let n_valid = (n / 10).max(1).min(n.saturating_sub(1));
        let n_test = (n / 10).min(n - n_valid);
        test.extend(unsplit.drain(..n_test));
        valid.extend(unsplit.drain(..n_valid));
        train.extend(unsplit);
    }
    if train.is_empty() {
        bail!("{}: no training clips", labels_csv.display());
    }
    Ok(Dataset {
        description: format!("{} ({})", data_dir.display(), labels_csv.display()),
        tags,
        train,
        valid,
        test,
    })
}
