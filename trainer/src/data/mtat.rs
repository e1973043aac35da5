//! MagnaTagATune with the standard split: Lee et al.'s training list (15 244 clips), Won et al.'s
//! validation (1 529) and test (4 332) rows, the top-50 tags in `tags.npy` order. The split files
//! ship inside the binary; the audio and `annotations_final.csv` come from the MTAT site.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, Result, bail};

use super::{Clip, Dataset, Source};

const TAGS_NPY: &[u8] = include_bytes!("../../data/mtat/tags.npy");
const VALID_NPY: &[u8] = include_bytes!("../../data/mtat/valid.npy");
const TEST_NPY: &[u8] = include_bytes!("../../data/mtat/test.npy");
const LEE_TRAIN: &str = include_str!("../../data/mtat/lee_train_list_pub.cP");

/// Clips that are known not to decode (the MTAT release's own damage).
pub const KNOWN_BAD: [&str; 2] = [
    "c/domased-new_memories-07-first_sun_rays-233-262.mp3",
    "d/tim_rayborn-chordae-04-sempr_alegria-784-813.mp3",
];

/// The strings of a little-endian numpy `<U…` array.
pub fn npy_strings(bytes: &[u8]) -> Result<Vec<String>> {
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        bail!("not a .npy file");
    }
    let (len, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        _ => (u32::from_le_bytes(bytes[8..12].try_into()?) as usize, 12),
    };
    let header = std::str::from_utf8(bytes.get(start..start + len).context("truncated header")?)?;
    let width: usize = header
        .split("'descr': '<U")
        .nth(1)
        .and_then(|s| s.split('\'').next())
        .and_then(|s| s.parse().ok())
        .context("not a little-endian unicode string array")?;
    Ok(bytes[start + len..]
        .chunks_exact(4 * width)
        .map(|item| {
            item.chunks_exact(4)
                .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .take_while(|&c| c != 0)
                .filter_map(char::from_u32)
                .collect()
        })
        .collect())
}

/// The 50 tags in output order.
pub fn tags() -> Vec<String> {
    npy_strings(TAGS_NPY).expect("the shipped tags.npy is valid")
}

/// Lee's training list as mp3 paths (`SUBDIR/NAME.mp3`).
pub fn train_list() -> Vec<String> {
    LEE_TRAIN
        .lines()
        .filter_map(|l| l.strip_prefix("S'").or_else(|| l.strip_prefix("aS'")))
        .filter_map(|l| l.strip_suffix('\''))
        .map(|p| p.trim_end_matches(".npy").to_string() + ".mp3")
        .collect()
}

/// Won's `ROW\tSUBDIR/NAME.mp3` rows of the validation or test split.
pub fn row_list(which: &str) -> Vec<(usize, String)> {
    let bytes = if which == "valid" {
        VALID_NPY
    } else {
        TEST_NPY
    };
    npy_strings(bytes)
        .expect("the shipped split files are valid")
        .into_iter()
        .filter_map(|s| {
            let (row, path) = s.split_once('\t')?;
            Some((row.parse().ok()?, path.to_string()))
        })
        .collect()
}

/// `annotations_final.csv`: per data row, its mp3 path and the 50 labels in `tags` order.
pub struct Annotations {
    /// (mp3 path, labels) by 0-based data row.
    pub rows: Vec<(String, Vec<f32>)>,
}

impl Annotations {
    /// Parses MTAT's tab-separated, quoted annotation file.
    pub fn parse(text: &str, tags: &[String]) -> Result<Self> {
        let unquote = |s: &str| s.trim().trim_matches('"').to_string();
        let mut lines = text.lines();
        let header: Vec<String> = lines
            .next()
            .context("annotations_final.csv is empty")?
            .split('\t')
            .map(unquote)
            .collect();
        let column = |name: &str| header.iter().position(|h| h == name);
        let path_col =
            column("mp3_path").context("no mp3_path column: is this annotations_final.csv?")?;
        let tag_cols: Vec<usize> = tags
            .iter()
            .map(|t| column(t).with_context(|| format!("no column for tag '{t}'")))
            .collect::<Result<_>>()?;
        let mut rows = Vec::new();
        for (i, line) in lines.enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let fields: Vec<String> = line.split('\t').map(unquote).collect();
            let get = |c: usize| {
                fields
                    .get(c)
                    .with_context(|| format!("row {i}: only {} fields", fields.len()))
            };
            let labels = tag_cols
                .iter()
                .map(|&c| {
                    let v = get(c)?;
                    v.parse::<f32>()
                        .with_context(|| format!("row {i}: label '{v}' is not a number"))
                })
                .collect::<Result<Vec<_>>>()?;
            rows.push((get(path_col)?.clone(), labels));
        }
        Ok(Self { rows })
    }
}

/// Builds the standard split from an MTAT directory (mp3 folders 0…f and annotations_final.csv).
pub fn load(data_dir: &Path) -> Result<Dataset> {
    let csv = data_dir.join("annotations_final.csv");
    let bytes =
        modnet_audio::files::read_bounded(&csv, "MTAT's labels", 1 << 30).with_context(|| {
            "MTAT's annotations_final.csv must sit beside the mp3 folders 0…f".to_string()
        })?;
    let text =
        String::from_utf8(bytes).with_context(|| format!("{} is not UTF-8 text", csv.display()))?;
    let tags = tags();
    let annotations = Annotations::parse(&text, &tags)?;
    let by_path: HashMap<&str, &Vec<f32>> = annotations
        .rows
        .iter()
        .map(|(p, l)| (p.as_str(), l))
        .collect();
    let clip = |path: &str, labels: &Vec<f32>| Clip {
        name: path.to_string(),
        source: Source::file(data_dir.join(path), path),
        labels: labels.clone(),
    };
    let train = train_list()
        .iter()
        .map(|p| {
            let labels = by_path.get(p.as_str()).with_context(|| {
                format!("{p} (Lee's training list) is not in annotations_final.csv")
            })?;
            Ok(clip(p, labels))
        })
        .collect::<Result<Vec<_>>>()?;
    let rows = |which: &str| {
        row_list(which)
            .into_iter()
            .map(|(row, path)| {
                let (p, labels) = annotations.rows.get(row).with_context(|| {
                    format!("{which} row {row} is past the end of annotations_final.csv")
                })?;
                if *p != path {
                    bail!("{which} row {row} is {p} in annotations_final.csv, not {path}");
                }
                Ok(clip(p, labels))
            })
            .collect::<Result<Vec<_>>>()
    };
    let (valid, test) = (rows("valid")?, rows("test")?);
    // A partial download (or a test fixture) holds some of the audio: keep what is there and say
    // how much is missing.
    let present = |clips: Vec<Clip>| -> (Vec<Clip>, usize) {
        let total = clips.len();
        let kept: Vec<Clip> = clips
            .into_iter()
            .filter(|c| matches!(&c.source, Source::File { path, .. } if path.exists()))
            .collect();
        let missing = total - kept.len();
        (kept, missing)
    };
    let (train, missing_train) = present(train);
    let (valid, missing_valid) = present(valid);
    let (test, missing_test) = present(test);
    if train.is_empty() && valid.is_empty() && test.is_empty() {
        bail!(
            "none of the standard split's mp3 files is under {} (expected e.g. {}/{})",
            data_dir.display(),
            data_dir.display(),
            KNOWN_BAD[0]
        );
    }
    if missing_train + missing_valid + missing_test > 0 {
        eprintln!(
            "notice: audio missing under {}: {missing_train} train, {missing_valid} valid, \
             {missing_test} test clips of the standard split are left out",
            data_dir.display()
        );
    }
    Ok(Dataset {
        description: format!("MagnaTagATune at {}", data_dir.display()),
        tags,
        train,
        valid,
        test,
    })
}
