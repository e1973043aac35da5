//! Bad input loses nothing and gets a clear error: one place to scan. Each row of the table is a
//! case found by attacking the trainer with bad input; the test that checks it is named beside
//! it (those not in this file live where their feature is tested).
//!
//! | case | behaviour | checked by |
//! |---|---|---|
//! | `train` into a folder that holds a run | refused, `--overwrite` named | cli.rs `the_run_folder_is_never_lost` |
//! | `--resume` with the checkpoint gone | refused, naming `checkpoint.bin` | cli.rs `the_run_folder_is_never_lost` |
//! | `--resume` with another preset | refused before anything is written | cli.rs `the_run_folder_is_never_lost` |
//! | truncated checkpoint | "damaged", named | cli.rs `the_run_folder_is_never_lost` |
//! | checkpoint with NaN weights / damaged optimiser state / weights of another model | refused by name, nothing replaced | `nan_weights_and_a_damaged_optimiser_state_are_refused` |
//! | `--epochs 0`, `--lr nan/inf/-1`, `--batch-size 0`, `--synth-seconds 0/nan/-3` | refused at parse time with the range | cli.rs `the_run_folder_is_never_lost` |
//! | weights asking for absurd chunks; NaN weights | refused when read | model tests `damaged_weights_and_absurd_configs_are_refused` |
//! | labels CSV without a path column; a file in two splits | refused by name | cli.rs `segment_labels_train_with_augmentation_and_soft_evaluation` |
//! | duplicate rows in a labels CSV | refused with the line | `duplicate_rows_are_refused_with_their_line` |
//! | `--out` / `eval --json` not writable or below a file | the path named, before any work | `outputs_that_cannot_be_written_are_refused_before_work` |
//! | a zero-byte cache entry | named; `prepare` decodes it anew | `a_damaged_cache_entry_is_named_and_made_again` |
//! | tag timeline on compressed audio | last chunk end-aligned, never mostly padding | model tests `clip_tagging_batches_and_reduces_as_the_protocol_says` |
//! | a 60-minute file; a 1 Hz wav | decoded and resampled as a stream, memory bounded (`scripts/bench-long-file.py`); rates below 1 kHz refused | `audio` unit tests; `a_wav_at_1_hz_is_refused_by_name` |
//! | a resumed run | equal to an uninterrupted one | cli.rs `a_killed_run_resumes_from_its_checkpoint` |
//! | a run killed within an epoch; resumed there with another `--batch-size` | goes on from its last checkpoint's batch, ending as the uninterrupted run; refused, naming the batch size | cli.rs `a_run_killed_within_an_epoch_resumes_at_its_batch` |
//! | `--init-weights` of another model (dropout aside: the weights go on with the run's dropout), a missing file, or with `--resume` / `--prior-bias` | refused before any work, naming the parts that differ (`resnet.widths`) or the file | cli.rs `a_run_starts_from_weights_and_keeps_them_until_beaten` |
//! | `--checkpoint-minutes -1` / `nan` / `1e300` | refused at parse time; `1e300` trains with checkpoints at epoch ends only | `checkpoint_intervals_out_of_range` |
//! | `tag` errors | the file named once | `a_wav_at_1_hz_is_refused_by_name` |
//! | a file of a whole number of resampler blocks (a 30 s Ogg Vorbis song) | tagged | probe.rs `files_of_whole_resampler_blocks_are_tagged` |
//! | `--csv`/`--jsonl` naming the user's own CSV, an mp3, a flac | refused, untouched | probe.rs `a_file_that_is_not_our_table_is_never_written` |
//! | two `tag` runs into one table | locked: each file once | probe.rs `two_processes_never_write_a_file_twice` |
//! | `--jsonl /dev/stdout \| cat`, `--csv -` | streamed, summary on stderr | probe.rs `rows_stream_to_a_pipe` |
//! | a named pipe in a folder; `/dev/zero`; an empty folder; `tag -` | skipped and listed; "a device"; "no audio files in"; stdin read | probe.rs `pipes_devices_empty_folders_and_standard_input` |
//! | symlink loops; names that are not UTF-8 | each real file once; `\xNN` escapes | probe.rs `symlink_loops_tag_each_real_file_once`, `names_that_are_not_utf8_get_a_row_each` |
//! | `sub/x.wav` and `sub__x.wav`; `a.wav` and `./a.wav` in two splits; a segment past the end | an entry each; refused; refused with its line | probe.rs `cache_keys_splits_and_segments_name_each_file_once` |
//! | `--resume` with another `--seed` / `--synth-clips`; a killed write's `.modnet-tmp`; unwritable `--web-weights` | refused naming what differs; removed; refused before training | probe.rs `a_run_resumes_only_on_its_own_data` |
//! | `similar` on NaN embeddings or a folder query; an hour-long file | refused; kept on disk past 4.4 min | probe.rs `similar_refuses_nan_and_folders_and_long_signals_wait_on_disk` |

use std::path::Path;

use burn::module::{Module, ModuleMapper, Param};
use burn::tensor::{Device, Tensor};
use modnet::ModNetConfig;
use trainer::checkpoint::Checkpoint;

use crate::common::*;

/// Every float parameter times NaN.
struct Poison;

impl ModuleMapper for Poison {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        param.map(|t| t.mul_scalar(f32::NAN))
    }
}

fn tiny_run(run: &Path) -> Vec<String> {
    let mut args: Vec<String> = ["train", "--out", s(run), "--epochs", "1"]
        .iter()
        .map(|a| a.to_string())
        .collect();
    args.extend(TINY.iter().map(|a| a.to_string()));
    args.extend(TINY_SYNTH.iter().map(|a| a.to_string()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    ok(&refs);
    args
}

fn fails_with(args: &[&str], needles: &[&str]) -> String {
    let out = trainer(args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !out.status.success(),
        "trainer {} succeeded",
        args.join(" ")
    );
    for needle in needles {
        assert!(err.contains(needle), "expected '{needle}' in: {err}");
    }
    err
}

#[test]
fn nan_weights_and_a_damaged_optimiser_state_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let mut args = tiny_run(&run);
    args.push("--resume".into());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let path = run.join("checkpoint.bin");
    let best = std::fs::read(run.join("best.safetensors")).unwrap();
    let good = Checkpoint::read(&path).unwrap();
    let config =
        ModNetConfig::from_json(&std::fs::read_to_string(run.join("config.json")).unwrap())
            .unwrap();
    let model = good
        .load_model(config.init(&Device::flex()).unwrap(), &path)
        .unwrap();

    // NaN weights: refused when loaded, naming the file; nothing replaced.
    let mut poisoned = good.clone();
    poisoned.set_model(&model.map(&mut Poison)).unwrap();
    poisoned.write(&path).unwrap();
    fails_with(&args, &["checkpoint.bin", "NaN", "--overwrite"]);
    assert_eq!(
        std::fs::read(run.join("best.safetensors")).unwrap(),
        best,
        "the best weights are untouched"
    );
    assert!(
        Checkpoint::read(&path)
            .unwrap()
            .load_model(config.init(&Device::flex()).unwrap(), &path)
            .is_err()
    );

    // Optimiser state that does not decode: refused by name, not half-loaded.
    let mut damaged = good.clone();
    damaged.optim = b"not an optimiser state".to_vec();
    damaged.write(&path).unwrap();
    fails_with(&args, &["checkpoint.bin", "optimiser state"]);

    // Weights of another model (another version's names, other widths): refused, not a panic.
    let mut foreign = good.clone();
    let other = config.clone().with_resnet(
        modnet::ResNetConfig::new()
            .with_widths(modnet::ResNetWidths::Custom { narrow: 4, wide: 4 }),
    );
    foreign
        .set_model(&other.init(&Device::flex()).unwrap())
        .unwrap();
    foreign.write(&path).unwrap();
    fails_with(&args, &["checkpoint.bin", "do not fit"]);

    // The good checkpoint resumes (and, with one epoch done, has nothing left to do).
    good.write(&path).unwrap();
    ok(&args);
}

#[test]
fn duplicate_rows_are_refused_with_their_line() {
    let dir = tempfile::tempdir().unwrap();
    let music = dir.path().join("music");
    for name in ["a.wav", "b.wav"] {
        write_wav(&music.join(name), 1.5, 16_000, 440.0, 1);
    }
    let labels = dir.path().join("labels.csv");
    let data = [
        "--dataset",
        "folder",
        "--data-dir",
        s(&music),
        "--labels",
        s(&labels),
    ];
    // The same file twice (with other labels): the second row is named.
    std::fs::write(
        &labels,
        "path,split,x\na.wav,train,1\nb.wav,valid,0\na.wav,train,0\n",
    )
    .unwrap();
    fails_with(
        &[&["prepare"][..], &data].concat(),
        &["labels.csv", "line 4", "a.wav", "listed twice"],
    );
    // The same segment twice.
    std::fs::write(
        &labels,
        "path,start,seconds,split,x\na.wav,0,1,train,1\nb.wav,0,1,valid,0\na.wav,0.0,1,train,1\n",
    )
    .unwrap();
    fails_with(
        &[&["prepare"][..], &data].concat(),
        &["line 4", "a.wav at 0.000 s", "listed twice"],
    );
}

#[test]
fn outputs_that_cannot_be_written_are_refused_before_work() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let below = file.join("run");
    // train --out below a file.
    let err = fails_with(
        &[
            &["train", "--out", s(&below), "--epochs", "1"][..],
            &TINY,
            &["--synth-clips", "8", "4", "4"],
        ]
        .concat(),
        &[s(&file)],
    );
    assert!(!err.contains("epoch"), "refused before training: {err}");
    // eval --json below a file: refused before the evaluation runs.
    let run = dir.path().join("run");
    tiny_run(&run);
    let report = file.join("report.json");
    let started = std::time::Instant::now();
    fails_with(
        &[
            &["eval", "--weights", s(&run.join("best.safetensors"))][..],
            &["--json", s(&report), "--backend", "flex"],
            &TINY_SYNTH,
        ]
        .concat(),
        &[s(&report)],
    );
    eprintln!("refused in {:.2} s", started.elapsed().as_secs_f64());
}

#[test]
fn a_damaged_cache_entry_is_named_and_made_again() {
    let dir = tempfile::tempdir().unwrap();
    let music = dir.path().join("music");
    let mut csv = String::from("path,split,x\n");
    for (i, split) in ["train", "train", "valid", "test"].iter().enumerate() {
        write_wav(
            &music.join(format!("{i}.wav")),
            1.5,
            16_000,
            220.0 * (i + 1) as f32,
            1,
        );
        csv += &format!("{i}.wav,{split},{}\n", i % 2);
    }
    let labels = dir.path().join("labels.csv");
    std::fs::write(&labels, csv).unwrap();
    let cache = dir.path().join("cache");
    let data = [
        "--dataset",
        "folder",
        "--data-dir",
        s(&music),
        "--labels",
        s(&labels),
        "--cache-dir",
        s(&cache),
    ];
    ok(&[&["prepare"][..], &data].concat());
    let entries: Vec<_> = std::fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "f32"))
        .collect();
    assert_eq!(entries.len(), 4, "{entries:?}");
    let entry = &trainer::data::cache::cache_path(&cache, "0.wav", modnet::SampleRate::PAPER);
    assert!(entries.contains(entry), "{entries:?}");
    let size = std::fs::metadata(entry).unwrap().len();
    std::fs::write(entry, b"").unwrap();
    // Evaluating reads the cache: the entry is named with what to do.
    let run = dir.path().join("run");
    let mut train = vec!["train", "--out", s(&run), "--epochs", "1"];
    train.extend(&data);
    train.extend(TINY);
    let out = trainer(&train);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(s(entry)) && err.contains("damaged") && err.contains("prepare"),
        "{err}"
    );
    // `prepare` decodes it anew.
    ok(&[&["prepare"][..], &data].concat());
    assert_eq!(std::fs::metadata(entry).unwrap().len(), size);
}

#[test]
fn a_wav_at_1_hz_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("one-hertz.wav");
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 1,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&wav, spec).unwrap();
    for _ in 0..10 {
        w.write_sample(0i16).unwrap();
    }
    w.finalize().unwrap();
    let err = fails_with(&["tag", s(&wav)], &["one-hertz.wav", "1 Hz is not audio"]);
    assert_eq!(
        err.matches("one-hertz.wav").count(),
        1,
        "the file is named once: {err}"
    );
}

#[test]
fn checkpoint_intervals_out_of_range() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let mut args = vec!["train", "--out", s(&run), "--epochs", "1"];
    args.extend(TINY);
    args.extend(TINY_SYNTH);
    for bad in ["--checkpoint-minutes=-1", "--checkpoint-minutes=nan"] {
        let mut refused = args.clone();
        refused.push(bad);
        fails_with(&refused, &["--checkpoint-minutes", "a finite number ≥ 0"]);
        assert!(!run.exists(), "nothing written for {bad}");
    }
    // Too long for a duration: no checkpoint within the epoch, one at its end.
    args.extend(["--checkpoint-minutes", "1e300"]);
    ok(&args);
    assert_eq!(log_epochs(&run), vec![1]);
    assert!(run.join("checkpoint.bin").exists());
}
