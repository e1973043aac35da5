"""The catalogue recipe (examples/ray_tag.py) on a local Ray cluster of 2 CPUs: every good file
tagged once with the numbers of `trainer tag`, the broken one reported as a row."""

import subprocess
import sys

import numpy as np
import pyarrow.parquet as pq

from conftest import ROOT, music, write_wav

EXAMPLE = ROOT / "python" / "examples" / "ray_tag.py"


def test_a_folder_is_tagged_on_ray(tmp_path, trainer, tagger):
    music_dir = tmp_path / "music"
    (music_dir / "album").mkdir(parents=True)
    good = []
    for i in range(5):
        path = music_dir / ("album" if i % 2 else "") / f"track{i}.wav"
        write_wav(path, music(3 + i, 22050, channels=1 + i % 2, seed=10 + i), 22050)
        good.append(path)
    broken = music_dir / "album" / "broken.wav"
    broken.write_bytes(b"RIFF not really a wave file")
    (music_dir / "notes.txt").write_text("not audio: not listed")
    # The workers carry your own tags too: a head file from the music played an octave up
    # (fewer samples at the same rate) and 1.6 octaves down.
    heads = tmp_path / "heads.safetensors"
    tagger.teach({"bright": [music(3, 8000, seed=s) for s in range(3)],
                  "dark": [music(3, 48000, seed=s) for s in range(3)]}, sample_rate=16000).save(heads)
    out = tmp_path / "tags"
    run = subprocess.run([sys.executable, str(EXAMPLE), str(music_dir), "--out", str(out),
                          "--workers", "2", "--num-cpus", "2", "--heads", str(heads)],
                         capture_output=True, text=True, timeout=600)
    # The job completed: exit 0, the failed file a row with its error and a line on stderr.
    assert run.returncode == 0, run.stdout + run.stderr
    assert "broken.wav" in run.stderr
    assert "| 6 | 5 | 1 |" in run.stdout, run.stdout
    table = pq.read_table(out).to_pandas()
    assert sorted(table["path"]) == sorted(map(str, good + [broken])), "each file once"
    failed = table[table["error"] != ""]
    assert list(failed["path"]) == [str(broken)] and "broken.wav" in failed["error"].iloc[0]
    cli = {r["file"]: r for r in trainer(*good, "--heads", heads)}
    tags = [c for c in table.columns if c not in ("path", "seconds", "top", "error")]
    assert len(tags) == 52 and tags[50:] == ["user:bright", "user:dark"]
    for _, row in table[table["error"] == ""].iterrows():
        expected = np.array(cli[row["path"]]["probabilities"])
        got = row[tags].to_numpy(dtype=np.float32)
        assert np.abs(got - expected).max() <= 1e-5, row["path"]
        assert row["top"].split(", ")[0] == cli[row["path"]]["top"][0][0]
        assert abs(row["seconds"] - cli[row["path"]]["seconds"]) < 1e-6


def test_an_existing_output_folder_is_refused(tmp_path):
    out = tmp_path / "tags"
    out.mkdir()
    (out / "part.parquet").write_bytes(b"earlier results")
    run = subprocess.run([sys.executable, str(EXAMPLE), str(tmp_path), "--out", str(out)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode != 0 and "not empty" in run.stderr
    assert (out / "part.parquet").read_bytes() == b"earlier results"
    # A file where the folder should go: a sentence, not a traceback, and the file untouched.
    taken = tmp_path / "tags.parquet"
    taken.write_bytes(b"a file")
    run = subprocess.run([sys.executable, str(EXAMPLE), str(tmp_path), "--out", str(taken)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode != 0 and "is not a folder" in run.stderr, run.stderr
    assert "Traceback" not in run.stderr and taken.read_bytes() == b"a file"


def test_a_manifest_names_the_files(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("ray_tag", EXAMPLE)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    listed = tmp_path / "list.txt"
    listed.write_text("/music/a.mp3\n\n/music/b c.flac\n")
    assert example.list_paths(listed) == ["/music/a.mp3", "/music/b c.flac"]
    table = tmp_path / "catalogue.csv"
    table.write_text('id,path\n1,/music/a.mp3\n2,"/music/with, comma.ogg"\n')
    assert example.list_paths(table) == ["/music/a.mp3", "/music/with, comma.ogg"]
