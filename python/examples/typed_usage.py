"""The package as a typed program uses it: `mypy --strict` checks this file against the stubs
(scripts/test.sh), so a stub that stops matching the API fails there."""

import pickle
import sys

import numpy as np
import numpy.typing as npt

import modnet_tagger
from modnet_tagger import Pictures, TaggingError, TagResult, Tagger


def best_tags(tagger: Tagger, path: str, n: int = 3) -> list[tuple[str, float]]:
    result: TagResult = tagger.tag(path, timeline=False)
    return result.top(n)


def main(paths: list[str]) -> int:
    tagger = Tagger(backend="flex")
    print(modnet_tagger.__version__, tagger.sample_rate, tagger.chunk_seconds)
    silence: npt.NDArray[np.float32] = np.zeros(tagger.sample_rate * 3, np.float32)
    probabilities = tagger.tag(silence, sample_rate=tagger.sample_rate).probabilities
    print(float(probabilities.max()))
    for entry in tagger.tag_many(paths, jobs=2, progress=lambda done, total: None):
        if isinstance(entry, TaggingError):
            print("failed:", entry, file=sys.stderr)
        else:
            print(entry.source, entry.as_dict()[tagger.tags[0]])
    if paths:
        pictures: Pictures = tagger.modulation(paths[0], columns=50)
        print(pictures.filterbank.shape, pictures.modulation_centre_hz[:3])
        embedding = tagger.embed(paths[0], layer="modulation")
        print(embedding.clip.shape, embedding.starts.dtype)
        print(best_tags(pickle.loads(pickle.dumps(tagger)), paths[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
