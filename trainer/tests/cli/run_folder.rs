//! What a run writes: its own run folder only, and never loses it.

use super::*;

/// The default run writes only its run folder: a clone stays clean (it used to rewrite the
/// page's weights).
#[test]
fn default_run_writes_only_its_run_folder() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("web/assets")).unwrap();
    std::fs::create_dir_all(dir.path().join("weights")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_trainer"))
        .args(["train", "--synth-clips", "8", "4", "4", "--epochs", "1"])
        .args(TINY)
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut written = Vec::new();
    let mut stack = vec![dir.path().to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                written.push(p.strip_prefix(dir.path()).unwrap().to_path_buf());
            }
        }
    }
    assert!(!written.is_empty());
    for p in &written {
        assert!(
            p.starts_with("runs/default"),
            "the default run wrote {}",
            p.display()
        );
    }
}

/// The run folder is never lost: a second `train` into it is refused (or told --overwrite), a
/// resume without its checkpoint is refused by name, a refused resume writes nothing, and
/// impossible numbers are refused when parsed.
#[test]
fn the_run_folder_is_never_lost() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let mut args = vec!["train", "--out", s(&run), "--epochs", "1"];
    args.extend(TINY);
    args.extend(TINY_SYNTH);
    ok(&args);
    let best = std::fs::read(run.join("best.safetensors")).unwrap();
    let config = std::fs::read(run.join("config.json")).unwrap();

    // Again without --resume: refused, nothing replaced.
    let out = trainer(&args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("already holds a run"),
        "{err}"
    );
    assert!(err.contains("--overwrite"), "{err}");
    assert_eq!(std::fs::read(run.join("best.safetensors")).unwrap(), best);

    // --resume with another preset: refused, config.json untouched.
    let mut other = args.clone();
    other.extend(["--resume", "--widths", "8x8"]);
    let out = trainer(&other);
    assert!(!out.status.success());
    assert_eq!(std::fs::read(run.join("config.json")).unwrap(), config);

    // A damaged (truncated) checkpoint: refused by name, nothing replaced.
    let checkpoint = std::fs::read(run.join("checkpoint.bin")).unwrap();
    std::fs::write(
        run.join("checkpoint.bin"),
        &checkpoint[..checkpoint.len() / 2],
    )
    .unwrap();
    let mut resume = args.clone();
    resume.push("--resume");
    let out = trainer(&resume);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("damaged"), "{err}");
    assert_eq!(std::fs::read(run.join("best.safetensors")).unwrap(), best);

    // --resume when the checkpoint is gone but the best weights are there: refused by name.
    std::fs::remove_file(run.join("checkpoint.bin")).unwrap();
    let out = trainer(&resume);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("checkpoint.bin"),
        "{err}"
    );
    assert_eq!(std::fs::read(run.join("best.safetensors")).unwrap(), best);

    // --overwrite starts again.
    let mut again = args.clone();
    again.push("--overwrite");
    ok(&again);
    assert_eq!(log_epochs(&run), [1]);

    // Impossible numbers: refused at parse time with the valid range, nothing written.
    let fresh = dir.path().join("fresh");
    for (flag, value) in [
        ("--epochs", "0"),
        ("--lr", "nan"),
        ("--lr", "inf"),
        ("--lr", "-1"),
        ("--batch-size", "0"),
        ("--synth-seconds", "0"),
        ("--synth-seconds", "nan"),
        ("--synth-seconds", "-3"),
        ("--augment-mix", "2"),
        ("--positive-threshold", "1.5"),
        ("--widths", "0x8"),
    ] {
        let arg = format!("{flag}={value}");
        let out = trainer(&["train", "--out", s(&fresh), &arg, "--backend", "flex"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{flag} {value} was accepted");
        assert!(
            err.contains(value) && err.contains(flag),
            "{flag} {value}: {err}"
        );
        assert!(!fresh.exists(), "{flag} {value} wrote {}", fresh.display());
    }
}
