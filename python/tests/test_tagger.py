"""The Python package against the command line: same numbers, same errors, numpy in and out."""

import threading
import time

import numpy as np
import pytest

import modnet_tagger
from conftest import ROOT, write_wav

TOLERANCE = 1e-5  # the bound between the package and `trainer tag`


def test_vocabulary_and_groups(tagger):
    assert len(tagger.tags) == 50 and "guitar" in tagger.tags
    groups = tagger.groups
    assert set(groups) == {"genre", "instrument", "vocal", "mood", "other"}
    assert sorted(t for tags in groups.values() for t in tags) == sorted(tagger.tags)
    assert "female vocal" in groups["vocal"] and "rock" in groups["genre"]
    assert tagger.sample_rate == 16000 and tagger.chunk_seconds == pytest.approx(3.0)
    assert tagger.weights == "built-in"
    assert "MagnaTagATune" in modnet_tagger.__doc__ and modnet_tagger.__version__.count(".") == 2


@pytest.mark.parametrize("name", ["long", "short"])
def test_a_file_gets_what_trainer_tag_gives(tagger, trainer, clips, name):
    path, _, _ = clips[name]
    cli = trainer(path)[0]
    result = tagger.tag(path)
    assert result.probabilities.dtype == np.float32 and result.probabilities.shape == (50,)
    assert np.abs(result.probabilities - np.array(cli["probabilities"])).max() <= TOLERANCE
    assert result.seconds == pytest.approx(cli["seconds"])
    assert result.notice == cli["notice"]
    assert [t for t, _ in result.top(5)] == [t for t, _ in cli["top"]]
    timeline = np.array([row for _, row in cli["timeline"]], np.float32).reshape(-1, 50)
    assert result.timeline.shape == timeline.shape
    assert np.abs(result.timeline - timeline).max(initial=0) <= TOLERANCE
    assert np.allclose(result.starts, [s for s, _ in cli["timeline"]])
    clip_only = tagger.tag(path, timeline=False)
    assert np.array_equal(clip_only.probabilities, result.probabilities)
    assert clip_only.timeline.shape == (0, 50) and clip_only.starts.shape == (0,)
    if name == "long":
        assert result.timeline.shape == (3, 50)  # 7 s: chunks at 0, 3 and the last at 4 s
    else:
        assert result.timeline.shape == (0, 50)  # one chunk: no timeline, as the CLI


def test_the_fixtures_other_formats_match_the_cli(tagger, trainer):
    files = sorted((ROOT / "tests" / "fixtures" / "audio").glob("pulse-stereo-*"))
    assert len(files) == 2  # Vorbis at 44.1 kHz and Opus at 48 kHz
    for cli, path in zip(trainer(*files), files):
        got = tagger.tag(path).probabilities
        assert np.abs(got - np.array(cli["probabilities"])).max() <= TOLERANCE, path.name


@pytest.mark.parametrize("name", ["long", "short"])
def test_an_array_is_tagged_as_its_file(tagger, clips, name):
    path, samples, rate = clips[name]
    from_file = tagger.tag(str(path))
    from_array = tagger.tag(samples if samples.shape[0] > 1 else samples[0], sample_rate=rate)
    assert np.abs(from_file.probabilities - from_array.probabilities).max() <= 1e-6
    assert np.abs(from_file.timeline - from_array.timeline).max(initial=0) <= 1e-6
    as_dict = from_array.as_dict()
    assert list(as_dict) == tagger.tags
    assert as_dict["guitar"] == pytest.approx(float(from_array.probabilities[0]))
    # float64 and lists are taken too.
    again = tagger.tag(samples.astype(np.float64), sample_rate=rate)
    assert np.abs(again.probabilities - from_array.probabilities).max() <= 1e-6


def test_a_weights_file_is_the_built_in_model(tagger, clips):
    other = modnet_tagger.Tagger(weights=ROOT / "weights" / "modnet-mtat-distilled.safetensors")
    assert other.weights.endswith("modnet-mtat-distilled.safetensors")
    path = clips["long"][0]
    assert np.array_equal(other.tag(path).probabilities, tagger.tag(path).probabilities)


def test_embeddings_are_the_chunks_and_their_mean(tagger, clips):
    path = clips["long"][0]
    pooled = tagger.embed(path)
    assert pooled.chunks.shape == (3, 128) and pooled.clip.shape == (128,)
    assert np.allclose(pooled.clip, pooled.chunks.mean(axis=0), atol=1e-5)
    assert np.allclose(pooled.starts, [0.0, 3.0, 4.0], atol=1e-3)
    modulation = tagger.embed(path, layer="modulation")
    assert modulation.layer == "modulation" and modulation.clip.shape[0] != 128
    with pytest.raises(ValueError, match=r"'middle' is not a layer \(pooled, modulation\)"):
        tagger.embed(path, layer="middle")


def test_modulation_pictures(tagger, clips):
    path = clips["long"][0]
    pictures = tagger.modulation(path, start=2.0, columns=50)
    fb, mod = pictures.filterbank, pictures.modulation
    bands = len(pictures.filterbank_centre_hz)
    assert fb.shape == (bands, 50) and fb.dtype == np.float32
    assert mod.shape == (len(pictures.modulation_centre_hz), bands, 50)
    assert np.all(np.diff(pictures.filterbank_centre_hz) >= 0), "rows low to high"
    assert np.all(np.diff(pictures.modulation_centre_hz) >= 0), "filters low to high"
    assert fb.max() - fb.min() <= 80.0 + 1e-3 and np.isfinite(mod).all()
    assert pictures.start == pytest.approx(2.0, abs=1e-3)
    assert pictures.column_seconds == pytest.approx(3.0 / 50)
    # A start past the end would be a picture of padding: refused, naming the start.
    with pytest.raises(modnet_tagger.TaggingError, match=r"start \(60 s\) is past the end"):
        tagger.modulation(path, start=60.0)


def test_bad_input_raises_the_cli_message(tagger, trainer, tmp_path):
    damaged = tmp_path / "damaged.wav"
    damaged.write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt garbage" * 10)
    with pytest.raises(modnet_tagger.TaggingError, match="damaged.wav") as error:
        tagger.tag(damaged)
    assert isinstance(error.value, ValueError)
    with pytest.raises(modnet_tagger.TaggingError, match="missing.wav: cannot open"):
        tagger.tag(tmp_path / "missing.wav")
    with pytest.raises(modnet_tagger.TaggingError, match="NaN or infinite"):
        tagger.tag(np.full(20000, np.nan, np.float32), sample_rate=16000)
    with pytest.raises(modnet_tagger.TaggingError, match="the array is empty"):
        tagger.tag(np.zeros(0, np.float32), sample_rate=16000)
    with pytest.raises(modnet_tagger.TaggingError, match="from 1000 to 768000, not 100"):
        tagger.tag(np.zeros(1000, np.float32), sample_rate=100)
    # Every input error is a TaggingError (a ValueError) naming the argument (issue 40's cases).
    bad = [
        ((np.zeros(1000, np.float32),), {}, "needs its sample_rate"),
        (("song.wav",), {"sample_rate": 44100}, "sample_rate is for arrays"),
        ((np.zeros((44100, 2), np.float32),), {"sample_rate": 44100}, r"pass y\.T"),
        ((np.zeros(1000, np.int16),), {"sample_rate": 16000}, "int16"),
        ((np.zeros((2, 2, 100), np.float32),), {"sample_rate": 16000}, "shape"),
        ((np.array(["a", "b"]),), {"sample_rate": 16000}, "dtype <U1"),
        ((None,), {}, "not None"),
        ((np.zeros(1000, np.float32),), {"sample_rate": -1}, "from 1000 to 768000, not -1"),
        ((np.zeros(1000, np.float32),), {"sample_rate": 2**40}, "not 1099511627776"),
        ((np.zeros(1000, np.float32),), {"sample_rate": 4_000_000_000}, "not 4000000000"),
        ((np.zeros(1000, np.float32),), {"sample_rate": 22050.5}, "whole number of Hz"),
        ((np.zeros(1000, np.float32),), {"sample_rate": "fast"}, "a number of Hz, not 'fast'"),
    ]
    for args, kwargs, says in bad:
        with pytest.raises(modnet_tagger.TaggingError, match=says):
            tagger.tag(*args, **kwargs)
    # A whole rate given as a float is a rate.
    assert len(tagger.tag(np.zeros(16000, np.float32), sample_rate=16000.0).probabilities) == 50
    with pytest.raises(modnet_tagger.TaggingError, match="not-weights.safetensors"):
        bad = tmp_path / "not-weights.safetensors"
        bad.write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}garbage")
        modnet_tagger.Tagger(weights=bad)
    with pytest.raises(ValueError, match="backend must be"):
        modnet_tagger.Tagger(backend="tpu")
    if "wgpu" not in modnet_tagger.BACKENDS:  # the default wheel: the CPU only
        with pytest.raises(ValueError, match="CPU only"):
            modnet_tagger.Tagger(backend="wgpu")
    # "auto" takes the CPU when there is no GPU (as on CI; Mesa's lavapipe is not a GPU).
    assert modnet_tagger.Tagger(backend="auto").tag(clips_path(tmp_path)).probabilities.shape == (50,)
    with pytest.raises(ValueError, match='gpu_conv must be "auto" or a route .*"unfolded".*not "fast"'):
        modnet_tagger.Tagger(gpu_conv="fast")
    # As the trainer's --gpu-conv cudnn: refused where it cannot run (this wheel has no CUDA).
    with pytest.raises(modnet_tagger.TaggingError, match="cudnn.*cuDNN"):
        modnet_tagger.Tagger(gpu_conv="cudnn")


def test_gpu_conv_is_timed_on_a_gpu_and_absent_on_the_cpu(tagger, clips):
    """`gpu_conv="auto"` times the routes on a GPU and keeps the fastest; the CPU has none."""
    assert tagger.gpu_conv is None and tagger.gpu_conv_times == {}
    assert modnet_tagger.Tagger(gpu_conv="unfolded").gpu_conv is None, "the CPU ignores a route"
    if "wgpu" not in modnet_tagger.BACKENDS:
        pytest.skip("a CPU-only wheel has no GPU route (scripts/test.sh builds the wgpu one)")
    # The test wheel has wgpu; CI runs it on Mesa's lavapipe (VK_DRIVER_FILES), a Vulkan device.
    gpu = modnet_tagger.Tagger(backend="wgpu")
    times = gpu.gpu_conv_times
    assert sorted(times) == ["direct", "per-pass", "unfolded"], times
    assert all(ms > 0 for ms in times.values()), times
    assert gpu.gpu_conv == min(times, key=times.get)
    path = clips["short"][0]
    assert np.allclose(gpu.tag(path).probabilities, tagger.tag(path).probabilities, atol=1e-3)
    named = modnet_tagger.Tagger(backend="wgpu", gpu_conv="direct")
    assert named.gpu_conv == "direct" and named.gpu_conv_times == {}
    # Made again by pickle with the route as given ("direct" here: nothing timed).
    import pickle
    assert pickle.loads(pickle.dumps(named)).gpu_conv == "direct"


def clips_path(folder):
    from conftest import music, write_wav

    path = folder / "two-seconds.wav"
    write_wav(path, music(2, 16000), 16000)
    return path


def test_the_gil_is_released_while_the_model_runs(tagger):
    """Another Python thread keeps running while a clip is tagged."""
    samples = np.random.default_rng(3).uniform(-0.3, 0.3, 16000 * 40).astype(np.float32)
    counted, stop = [0], threading.Event()

    def count():
        while not stop.is_set():
            counted[0] += 1

    thread = threading.Thread(target=count)
    thread.start()
    time.sleep(0.05)
    before = counted[0]
    started = time.perf_counter()
    tagger.tag(samples, sample_rate=16000)
    took = time.perf_counter() - started
    during = counted[0] - before
    stop.set()
    thread.join()
    # Held, the GIL would let the counter run only between the call's Python steps.
    assert during > 1000 * took, f"{during} counts in {took:.2f} s"


def test_type_stubs_are_shipped():
    from pathlib import Path

    package = Path(modnet_tagger.__file__).parent
    stub = package / "__init__.pyi"
    assert stub.is_file() and (package / "py.typed").is_file()
    text = stub.read_text()
    for name in ["class Tagger", "def tag(", "def embed(", "def modulation(", "class TagResult",
                 "class TaggingError"]:
        assert name in text, name


def test_tag_many_gives_each_file_its_result_in_order(tagger, tmp_path):
    good = []
    for i, freq in enumerate([220.0, 440.0, 880.0]):
        t = np.arange(16000 * 4) / 16000
        path = tmp_path / f"tone-{i}.wav"
        write_wav(path, (0.3 * np.sin(2 * np.pi * freq * t))[None, :], 16000)
        good.append(path)
    damaged = tmp_path / "damaged.wav"
    damaged.write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt garbage" * 10)
    paths = [good[0], damaged, good[1], tmp_path / "missing.wav", good[2]]
    seen = []
    results = tagger.tag_many(paths, jobs=2, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(i, 5) for i in range(1, 6)]
    assert [type(r).__name__ for r in results] == [
        "TagResult", "TaggingError", "TagResult", "TaggingError", "TagResult"]
    assert "damaged.wav" in str(results[1]) and "missing.wav" in str(results[3])
    for path, result in zip(good, [results[0], results[2], results[4]]):
        one = tagger.tag(path, timeline=False)
        assert np.array_equal(result.probabilities, one.probabilities)
        assert len(result.starts) == 0
    with pytest.raises(modnet_tagger.TaggingError, match="jobs must be at least 1"):
        tagger.tag_many(paths, jobs=0)
    # embed_many: the same order and errors, each embedding as embed() gives it.
    embedded = tagger.embed_many(paths, jobs=2, layer="modulation")
    assert [type(r).__name__ for r in embedded] == [
        "Embedding", "TaggingError", "Embedding", "TaggingError", "Embedding"]
    for path, embedding in zip(good, [embedded[0], embedded[2], embedded[4]]):
        one = tagger.embed(path, layer="modulation")
        assert embedding.layer == "modulation" and np.array_equal(embedding.chunks, one.chunks)
    with pytest.raises(ValueError, match="'middle' is not a layer"):
        tagger.embed_many(paths, layer="middle")


def test_results_and_the_tagger_survive_pickling(tagger, clips):
    """multiprocessing and joblib send results and taggers between processes by pickle."""
    import pickle

    path = clips["long"][0]
    result = tagger.tag(path)
    for value in (result, tagger.embed(path), tagger.modulation(path, columns=20)):
        again = pickle.loads(pickle.dumps(value))
        assert type(again) is type(value) and repr(again) == repr(value)
    again = pickle.loads(pickle.dumps(result))
    assert np.array_equal(again.probabilities, result.probabilities)
    assert np.array_equal(again.timeline, result.timeline) and again.tags == result.tags
    embedding = pickle.loads(pickle.dumps(tagger.embed(path)))
    assert embedding.starts.dtype == np.float64, "as TagResult.starts"
    assert np.allclose(embedding.starts, result.starts)
    pictures = pickle.loads(pickle.dumps(tagger.modulation(path, columns=20)))
    assert np.array_equal(pictures.modulation, tagger.modulation(path, columns=20).modulation)
    # A tagger is made again from its weights and backend, and tags as the original.
    copy = pickle.loads(pickle.dumps(tagger))
    assert copy.weights == tagger.weights
    assert np.array_equal(copy.tag(path).probabilities, result.probabilities)
    with pytest.raises(ValueError, match="do not fill"):
        modnet_tagger._pictures(((2, 2, [0.0]), [], [], [], 0.0, 0.1))


def test_ctrl_c_stops_a_long_call_within_a_batch(tagger):
    """Ctrl-C during one tag() call raises KeyboardInterrupt at once (it waited for the whole
    clip: 4.7 s for a 20-minute array)."""
    import _thread
    import signal

    # A process started in the background by a non-interactive shell ignores SIGINT, and then
    # Python installs no handler for it: give it Python's, as an interactive session has.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        _ctrl_c_during_a_long_call(tagger)
    finally:
        signal.signal(signal.SIGINT, previous)


def _ctrl_c_during_a_long_call(tagger):
    import _thread

    samples = np.random.default_rng(5).uniform(-0.3, 0.3, 16000 * 1200).astype(np.float32)
    started = time.perf_counter()
    tagger.tag(samples[: 16000 * 120], sample_rate=16000)
    two_minutes = time.perf_counter() - started
    timer = threading.Timer(0.3, _thread.interrupt_main)
    started = time.perf_counter()
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        tagger.tag(samples, sample_rate=16000)
    stopped = time.perf_counter() - started
    # Twenty minutes take ten times two; stopped within two minutes' worth (a batch or two).
    assert stopped < 0.3 + two_minutes, f"stopped after {stopped:.2f} s ({two_minutes:.2f} s per 2 min)"
    # The tagger still works afterwards.
    assert len(tagger.tag(samples[:48000], sample_rate=16000).probabilities) == 50
