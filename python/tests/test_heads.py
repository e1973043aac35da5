"""Your own tags in Python: `Tagger.teach`, `Tagger.learn_heads`, `Heads`, `Tagger(heads=...)`,
against `trainer tag --heads` for the same head file."""

import pickle

import numpy as np
import pytest

import modnet_tagger
from conftest import write_wav

RATE = 16000


def tone(freq, seconds=3.5):
    t = np.arange(int(seconds * RATE)) / RATE
    return (0.5 * np.sin(2 * np.pi * freq * t) * np.exp(-(t % 0.5) * 6)).astype(np.float32)


@pytest.fixture(scope="module")
def heads(tagger):
    return tagger.teach(
        {"high": [tone(2000 + 200 * i) for i in range(6)], "low": [tone(110 + 20 * i) for i in range(6)]},
        sample_rate=RATE,
    )


def test_teach_reports_and_tags_new_audio(tagger, heads):
    assert heads.tags == ["high", "low"]
    report = heads.report
    assert [r["examples"] for r in report] == [6, 6] and report[0]["folds"] == 5
    assert report[0]["cv_roc_auc"] > 0.9
    mine = modnet_tagger.Tagger(heads=heads)
    assert mine.tags[-2:] == ["user:high", "user:low"] and mine.groups["yours"] == ["user:high", "user:low"]
    high = mine.tag(tone(2500, 7.0), sample_rate=RATE)
    assert high.probabilities.shape == (52,) and high.timeline.shape[1] == 52
    assert high.probabilities[50] > heads.thresholds[0] > high.probabilities[51]
    # The model's own 50 tags are unchanged by the heads.
    plain = tagger.tag(tone(2500, 7.0), sample_rate=RATE)
    np.testing.assert_array_equal(plain.probabilities, high.probabilities[:50])


def test_the_same_head_file_gives_the_cli_probabilities(heads, trainer, tmp_path):
    path = tmp_path / "heads.safetensors"
    heads.save(path)
    wav = tmp_path / "clip.wav"
    write_wav(wav, tone(300, 9.0)[None], RATE)
    mine = modnet_tagger.Tagger(heads=str(path))
    ours = mine.tag(wav)
    cli = trainer(wav, "--heads", path)[0]
    got = [u["probability"] for u in cli["user_tags"]]
    np.testing.assert_allclose(ours.probabilities[50:], got, atol=1e-5)
    np.testing.assert_allclose(ours.timeline, [row for _, row in cli["timeline"]], atol=1e-5)


def test_heads_from_embeddings_predict_what_tag_gives(tagger):
    clips = [tone(2000 + 150 * i, 3.0) for i in range(5)] + [tone(100 + 30 * i, 3.0) for i in range(5)]
    embeddings = [tagger.embed(c, sample_rate=RATE).chunks for c in clips]
    heads = tagger.learn_heads(embeddings, {"bright": [True] * 5 + [False] * 5})
    # A 3 s clip is one chunk: its tag is the head on that chunk's embedding.
    mine = modnet_tagger.Tagger(heads=heads)
    clip = tone(2600, 3.0)
    predicted = heads.predict(tagger.embed(clip, sample_rate=RATE).chunks)
    np.testing.assert_allclose(mine.tag(clip, sample_rate=RATE).probabilities[50], predicted[0, 0], atol=1e-6)
    with pytest.raises(modnet_tagger.TaggingError, match="has 3 entries for 10 examples"):
        tagger.learn_heads(embeddings, {"x": [True, False, None]})
    with pytest.raises(modnet_tagger.TaggingError, match="features"):
        tagger.learn_heads([np.zeros((1, 7), np.float32)], {"x": [True]})
    # A tag with no counter-examples is learned against the built-in model's background set.
    alone = tagger.learn_heads(embeddings[:5], {"bright": [True] * 5})
    report = alone.report[0]
    assert report["counter_examples"] == 0 and report["background"] >= 100, report
    assert report["cv_roc_auc"] is not None and report["cv_roc_auc"] > 0.9, report
    assert heads.report[0]["background"] == 0, "a tag with counter-examples leaves it out"


def test_bad_heads_and_names_are_refused_with_a_sentence(tagger, heads, tmp_path):
    with pytest.raises(modnet_tagger.TaggingError, match="the model's own tag 'piano'"):
        tagger.teach({"Piano": [tone(300)], "other": [tone(3000)]}, sample_rate=RATE)
    with pytest.raises(modnet_tagger.TaggingError, match="no counter-examples"):
        tagger.teach({"alone": [tone(300), tone(400)]}, sample_rate=RATE, background=False)
    # Heads of another model: the base's digest changed (same length).
    other = heads.__reduce__()[1][0].replace(heads.base[1][:12].encode(), b"0" * 12)
    foreign = modnet_tagger._heads(other)
    with pytest.raises(modnet_tagger.TaggingError, match="learned on another model"):
        modnet_tagger.Tagger(heads=foreign)
    with pytest.raises(modnet_tagger.TaggingError, match="not a head file"):
        modnet_tagger.Heads.load(modnet_tagger.__file__)
    song = tmp_path / "song.wav"
    song.write_bytes(b"RIFF....WAVE")
    with pytest.raises(modnet_tagger.TaggingError, match="is not a head file"):
        heads.save(song)
    assert song.read_bytes() == b"RIFF....WAVE"
    # An example that cannot be read is skipped with a warning, the others still teach.
    files = []
    for i, f in enumerate([2000, 2500, 100, 150]):
        files.append(tmp_path / f"{i}.wav")
        write_wav(files[-1], tone(f)[None], RATE)
    with pytest.warns(UserWarning, match="skipped 1 examples.*missing.wav"):
        taught = tagger.teach({"high": files[:2], "low": files[2:] + [tmp_path / "missing.wav"]})
    assert [r["examples"] for r in taught.report] == [2, 2]


def test_heads_and_a_tagger_with_them_survive_pickling(heads):
    again = pickle.loads(pickle.dumps(heads))
    assert again.tags == heads.tags and again.thresholds == heads.thresholds
    mine = pickle.loads(pickle.dumps(modnet_tagger.Tagger(heads=heads)))
    assert mine.tags[-2:] == ["user:high", "user:low"]
