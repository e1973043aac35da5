#!/usr/bin/env python3
"""The corpus script on a tiny fixture made here: no downloads, no TensorFlow (the teacher's
outputs are fixture .npy files, as the label step would write them), and choose.sh's rule on
candidates already scored. Needs numpy, soundfile, soxr, scikit-learn and pytest. Run: python3 -m pytest scripts/corpus
"""

import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

sys.path.insert(0, str(Path(__file__).parent))
import corpus  # noqa: E402
from catalogue import DISTILLATION, RESERVED, UNSEEN  # noqa: E402


def tone(seconds, rate, freq, channels=1):
    t = np.arange(int(seconds * rate)) / rate
    x = (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return np.stack([x] * channels, axis=1) if channels > 1 else x


class TestCorpus:
    def setup_method(self):
        self.tmp = tempfile.TemporaryDirectory()
        w = self.work = Path(self.tmp.name)
        pkgs = w / "pkgs"
        noiz = pkgs / "noiz2sa-data/usr/share/games/noiz2sa/sounds"
        noiz.mkdir(parents=True)
        sf.write(noiz / "bgm.ogg", tone(25, 44100, 440, 2), 44100)  # stereo Vorbis at 44.1 kHz
        sf.write(noiz / "shot.ogg", tone(2, 44100, 880), 44100)  # a sound effect: too short
        song = pkgs / "fretsonfire-songs-sectoid/usr/share/games/fretsonfire/data/songs/sectoid/Song A"
        song.mkdir(parents=True)
        sf.write(song / "song.ogg", tone(22, 22050, 220), 22050)
        sf.write(song / "guitar.ogg", tone(22, 22050, 330), 22050)
        stk = pkgs / "supertuxkart-data/usr/share/games/supertuxkart/data/music"
        stk.mkdir(parents=True)
        sf.write(stk / "race.ogg", tone(30, 16000, 660), 16000)
        credits = w / "credits"
        credits.mkdir()
        for p in ["noiz2sa-data", "fretsonfire-songs-sectoid"]:
            (credits / f"{p}.copyright").write_text("Copyright: someone\n")
        (credits / "supertuxkart-data.copyright").write_text(
            "Files: *\nCopyright: team\nLicense: GPL-3+\n\n"
            "Files: data/music/race.ogg\nCopyright: a composer\nLicense: CC-BY-SA-4.0\n"
        )

    def teardown_method(self):
        self.tmp.cleanup()

    def fake_teacher(self):
        """What the label step writes: one row of 50 probabilities per 3 s patch."""
        for wav in sorted((self.work / "audio").rglob("*.wav")):
            n = sf.info(wav).frames
            patches = (n // corpus.HOP + 1 - corpus.PATCH_FRAMES) // corpus.PATCH_FRAMES + 1
            rng = np.random.default_rng(len(wav.name))
            out = self.work / "teacher" / wav.parent.name / f"{wav.stem}.npy"
            out.parent.mkdir(parents=True, exist_ok=True)
            np.save(out, rng.uniform(0, 1, (patches, 50)).astype(np.float32))

    def test_decode_label_tables(self):
        corpus.decode(self.work, None)
        audio = self.work / "audio"
        bgm = audio / "noiz2sa-data/sounds__bgm.wav"
        x, rate = sf.read(bgm, dtype="float32")
        assert rate == 16000
        assert x.ndim == 1  # mono
        assert 25 == pytest.approx(len(x) / rate, abs=0.01)
        # The sound effect is left out, and says why.
        assert not (audio / "noiz2sa-data/sounds__shot.wav").exists()
        assert (audio / "noiz2sa-data/sounds__shot.short").exists()
        # Fret's on Fire: the song stem plus the guitar stem.
        mix, _ = sf.read(audio / "fretsonfire-songs-sectoid/Song_A.wav", dtype="float32")
        stems = sum(corpus.load_mono(p) for p in sorted(self.work.rglob("Song A/*.ogg")))
        assert np.abs(mix - stems).max() < 1e-5
        assert np.abs(mix).max() > 0.45  # both tones are there (0.3 each)

        self.fake_teacher()
        corpus.tables(self.work, None)
        with open(self.work / "labels.csv") as f:
            rows = list(csv.DictReader(f))
        assert list(rows[0].keys())[:4] == ["path", "start", "seconds", "split"]
        assert list(rows[0].keys())[4:] == corpus.MTAT_TAGS
        n_patches = sum(len(np.load(p)) for p in (self.work / "teacher").rglob("*.npy"))
        assert len(rows) == n_patches
        by_track = {}
        for r in rows:
            by_track.setdefault(r["path"], set()).add(r["split"])
            assert r["seconds"] == "3.0"
        assert len(by_track) == 3
        assert all(len(s) == 1 for s in by_track.values()), "a track in two splits"
        starts = [float(r["start"]) for r in rows if r["path"].endswith("race.wav")]
        assert starts == [round(k * 2.992, 3) for k in range(len(starts))]
        # The chunk labels are the teacher's rows; the track row is their mean.
        teacher = np.load(self.work / "teacher/supertuxkart-data/music__race.npy")
        first = [float(rows[[r["path"] for r in rows].index("audio/supertuxkart-data/music__race.wav")][t])
                 for t in corpus.MTAT_TAGS]
        assert np.abs(np.array(first) - teacher[0]).max() < 1e-4
        with open(self.work / "tracks.csv") as f:
            tracks = {r["path"]: r for r in csv.DictReader(f)}
        mean = [float(tracks["audio/supertuxkart-data/music__race.wav"][t]) for t in corpus.MTAT_TAGS]
        assert np.abs(np.array(mean) - teacher.mean(0)).max() < 1e-4
        # Every clip's licence: the DEP-5 stanza of the file itself wins over "Files: *".
        with open(self.work / "manifest.csv") as f:
            manifest = list(csv.DictReader(f))
        lic = {m["package"]: m["licence"] for m in manifest}
        assert lic["supertuxkart-data"] == "CC-BY-SA-4.0"
        assert lic["fretsonfire-songs-sectoid"] == "Expat (MIT)"
        assert "BSD" in lic["noiz2sa-data"]
        assert "CC-BY-SA-4.0" in (self.work / "CREDITS.md").read_text()

    def test_two_teachers_are_averaged_and_each_kept(self):
        corpus.decode(self.work, None)
        self.fake_teacher()
        for npy in sorted((self.work / "teacher").rglob("*.npy")):  # the second teacher
            other = corpus.teacher_dir(self.work, "MTT_vgg") / npy.relative_to(self.work / "teacher")
            other.parent.mkdir(parents=True, exist_ok=True)
            np.save(other, np.clip(np.load(npy)[::-1] * 0.5, 0, 1))
        corpus.tables(self.work, None)
        read = lambda name: list(csv.DictReader(open(self.work / name)))
        mean, first, second = read("labels.csv"), read("labels-MTT_musicnn.csv"), read("labels-MTT_vgg.csv")
        assert len(mean) == len(first)
        assert len(mean) == len(second)
        for m, a, b in zip(mean, first, second):
            assert (m["path"], m["start"]) == (a["path"], a["start"])
            for tag in ["guitar", "female vocal", "choral"]:
                assert (float(a[tag]) + float(b[tag])) / 2 == pytest.approx(float(m[tag]), abs=2e-4)
        assert "MTT_musicnn and MTT_vgg" in (self.work / "CREDITS.md").read_text()
        # Each teacher's track means: one row per track, its own chunks' mean.
        vgg_tracks = {r["path"]: r for r in read("tracks-MTT_vgg.csv")}
        assert len(vgg_tracks) == len(read("tracks.csv"))
        race = "audio/supertuxkart-data/music__race.wav"
        own = [float(r["guitar"]) for r in second if r["path"] == race]
        assert float(np.mean(own)) == pytest.approx(float(vgg_tracks[race]["guitar"]), abs=2e-4)
        # A track the second teacher has not labelled yet is named, not silently dropped.
        (corpus.teacher_dir(self.work, "MTT_vgg") / "noiz2sa-data/sounds__bgm.npy").unlink()
        with pytest.raises(SystemExit) as e:
            corpus.tables(self.work, None)
        assert "sounds__bgm.npy is missing" in str(e.value)

    def test_stored_outputs_spare_the_teachers_where_the_audio_is_the_same(self):
        corpus.decode(self.work, None)
        self.fake_teacher()
        first = corpus.teacher_dir(self.work, "MTT_musicnn")
        for npy in sorted(first.rglob("*.npy")):  # the second teacher
            other = corpus.teacher_dir(self.work, "MTT_vgg") / npy.relative_to(first)
            other.parent.mkdir(parents=True, exist_ok=True)
            np.save(other, np.clip(np.load(npy)[::-1] * 0.5, 0, 1))
        before = {p.relative_to(self.work): np.load(p) for p in sorted(self.work.glob("teacher*/**/*.npy"))}
        corpus.pack(self.work, None)
        stored = self.tmp.name + "-outputs.npz"
        (self.work / "teacher-outputs.npz").rename(stored)
        for d in ["teacher", "teacher-MTT_vgg"]:
            for p in (self.work / d).rglob("*.npy"):
                p.unlink()
        # A file written again with the same samples (another header) is the same audio.
        same = self.work / "audio/supertuxkart-data/music__race.wav"
        x, rate = sf.read(same, dtype="float32")
        sf.write(same, x, rate, subtype="FLOAT", format="WAVEX")
        # One track's audio changed since: only it goes to the teachers.
        changed = self.work / "audio/noiz2sa-data/sounds__bgm.wav"
        x, rate = sf.read(changed, dtype="float32")
        sf.write(changed, x * 0.5, rate, subtype="FLOAT")
        asked = []

        class Stub:
            def __init__(self, model):
                self.model = model

            patches = staticmethod(lambda audio: np.zeros((len(audio) // corpus.PATCH_SAMPLES, 1)))

            def __call__(self, patches):
                asked.append(self.model)
                return np.full((len(patches), 50), 0.25, np.float32)

        real, corpus.Teacher = corpus.Teacher, Stub
        try:
            corpus.label(self.work, None, Path(stored))
        finally:
            corpus.Teacher = real
        assert sorted(asked) == ["MTT_musicnn", "MTT_vgg"]  # the changed track, once each
        for rel, want in before.items():
            got = np.load(self.work / rel)
            if rel.name == "sounds__bgm.npy":
                assert (got == 0.25).all()
            else:
                assert got.shape == want.shape
                assert np.abs(got - want).max() < 1 / 65535

    def test_ceiling_scores_like_the_trainer(self):
        import unseen

        assert "supertuxkart-data" in DISTILLATION.music
        # Tags with fewer than 5 positives (> 0.3) are left out; top 1 in the truth's top 3.
        rng = np.random.default_rng(3)
        truth = rng.uniform(0, 0.2, (40, 50))
        truth[:10, 0] = 0.9  # tag 0: 10 positives, tag 1: 4 (left out)
        truth[:4, 1] = 0.9
        truth[:, 49] = 0.0  # never among the truth's top 3
        n, auc, _, top = unseen.agreement(truth, truth.copy())
        assert (n, auc, top) == (1, 1.0, 1.0)
        backwards = truth.copy()
        backwards[:, 0] = -truth[:, 0]
        assert unseen.agreement(truth, backwards)[:2] == (1, 0.0)
        always_49 = np.zeros_like(truth)
        always_49[:, 49] = 1.0
        n, auc, _, top = unseen.agreement(truth, always_49)
        assert (n, auc, top) == (1, 0.5, 0.0)

    def test_dep5_patterns_name_installed_files(self):
        source = "pkgs/x/usr/share/games/freecol/default/resources/music/default/founders.ogg"
        assert corpus.dep5_matches("data/default/resources/music/default/*", source)
        assert corpus.dep5_matches("./default/resources/music/default/founders.ogg", source)
        assert not corpus.dep5_matches("data/sounds/*", source)
        assert not corpus.dep5_matches("*", source)  # the fallback stanza is not a match

    def test_renders_and_voices_keep_a_piece_in_one_split(self):
        for made in ["renders", "voices"]:
            splits = {DISTILLATION.split(made, f"bwv277__{v}") for v in ["female__solo", "female__over-x", "choir"]}
            assert len(splits) == 1

    def test_damaged_teacher_output_is_named(self):
        corpus.decode(self.work, None)
        self.fake_teacher()
        bad = self.work / "teacher/noiz2sa-data/sounds__bgm.npy"
        np.save(bad, np.zeros((3, 49), np.float32))
        with pytest.raises(SystemExit) as e:
            corpus.tables(self.work, None)
        assert "sounds__bgm.npy" in str(e.value)

    def test_reserved_packages_are_never_used(self):
        assert not RESERVED & set(DISTILLATION.music)
        assert set(UNSEEN.music) == RESERVED


class TestChoose:
    """choose.sh's rule on a run folder whose candidates are already scored (no trainer runs)."""

    ROOT = Path(__file__).resolve().parents[2]

    def choose(self, best_loss, shipped_loss):
        with tempfile.TemporaryDirectory() as tmp:
            run = Path(tmp) / "runs/student"
            run.mkdir(parents=True)
            shipped = self.ROOT / "weights/modnet-mtat-distilled.safetensors"
            (run / "shipped.safetensors").write_bytes(shipped.read_bytes())
            (run / "best.safetensors").write_bytes(b"weights of the best epoch")
            later = time.time() + 60
            for name, loss in [("best", best_loss), ("shipped", shipped_loss)]:
                report = run / f"{name}.valid.json"
                report.write_text(json.dumps({"evaluation": {"loss": loss}}))
                os.utime(report, (later, later))  # newer than its weights: not scored again
            out = subprocess.run(["bash", str(self.ROOT / "scripts/corpus/choose.sh")],
                                 env={**os.environ, "WORK": tmp}, capture_output=True, text=True)
            assert out.returncode == 0, out.stderr
            return Path(out.stdout.strip()).name, out.stderr

    def test_a_lower_loss_ships(self):
        chosen, _ = self.choose(0.1576, 0.1577)
        assert chosen == "best.safetensors"

    def test_a_step_within_the_noise_keeps_the_shipped_weights(self):
        chosen, err = self.choose(0.15769, 0.15770)
        assert chosen == "shipped.safetensors"
        assert "under MIN_STEP" in err

    def test_a_run_that_never_beat_its_start_ties_and_keeps_the_shipped_weights(self):
        chosen, err = self.choose(0.15770, 0.15770)
        assert chosen == "shipped.safetensors"
        assert "best ties with them" in err

