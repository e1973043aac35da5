"""Music auto-tagging with a modulation front-end (ModNet / SincModNet, Vahidi et al., IJCNN
2021): the 50 MagnaTagATune tags, numpy in and out. The numbers are those of `trainer tag` and
`trainer embed` from the modnet-rs repository."""

import os
from typing import Callable, List, Optional, Sequence, Union, final

import numpy as np
import numpy.typing as npt

__version__: str
BACKENDS: list[str]
"""What `Tagger(backend=…)` takes in this wheel: ["flex", "auto"], and "wgpu" in a wheel built
with the `wgpu` feature."""

Audio = Union[str, os.PathLike[str], npt.ArrayLike]
"""A file path (any format `trainer tag` reads: WAV, FLAC, MP3, Ogg Vorbis/Opus, AAC…), or
samples as floats in [-1, 1]: `[samples]` or `[channels, samples]` (librosa's layout) with
their `sample_rate`."""

class TaggingError(ValueError):
    """Audio that cannot be tagged (unreadable, empty, NaN, an impossible rate) or a weights
    file that cannot be loaded; the message is the command line's and names the file."""

@final
class TagResult:
    """A clip's tags: the 16-chunk protocol's probabilities and, for audio longer than one
    chunk, a timeline of consecutive chunks."""

    seconds: float
    """The audio's length in seconds."""
    notice: Optional[str]
    """A note on how the clip was read (shorter than the protocol's span), or None."""
    source: str
    """The file path, or "the array (RATE Hz)"."""
    @property
    def probabilities(self) -> npt.NDArray[np.float32]:
        """Each tag's probability in vocabulary order: `[tags]`."""
    @property
    def timeline(self) -> npt.NDArray[np.float32]:
        """One row per consecutive chunk: `[chunks, tags]` (no rows for one chunk or less)."""
    @property
    def starts(self) -> npt.NDArray[np.float64]:
        """Each timeline chunk's start in seconds: `[chunks]`."""
    @property
    def tags(self) -> list[str]:
        """The vocabulary, in the order of `probabilities`."""
    def top(self, n: int = 5) -> list[tuple[str, float]]:
        """The `n` most probable tags, best first."""
    def as_dict(self) -> dict[str, float]:
        """`{tag: probability}` for every tag."""

@final
class Embedding:
    """Embeddings of a clip, as `trainer embed` writes them."""

    layer: str
    """`pooled` or `modulation`."""
    @property
    def clip(self) -> npt.NDArray[np.float32]:
        """The mean of the chunks: `[D]`."""
    @property
    def chunks(self) -> npt.NDArray[np.float32]:
        """One embedding per consecutive chunk: `[chunks, D]`."""
    @property
    def starts(self) -> npt.NDArray[np.float64]:
        """Each chunk's start in seconds: `[chunks]`."""

@final
class Pictures:
    """One chunk's filterbank and modulation pictures (power in dB, 80 dB range), as the web
    page draws them: `plt.imshow(p.filterbank, origin="lower", aspect="auto")`."""

    start: float
    """The chunk's start in the audio, in seconds."""
    column_seconds: float
    """Seconds per column."""
    @property
    def filterbank(self) -> npt.NDArray[np.float32]:
        """The filterbank's output: `[bands, columns]`, bands low to high."""
    @property
    def modulation(self) -> npt.NDArray[np.float32]:
        """Each modulation filter's picture: `[filters, bands, columns]`, filters low to high."""
    @property
    def filterbank_centre_hz(self) -> npt.NDArray[np.float32]:
        """Each band's centre frequency (Hz)."""
    @property
    def modulation_centre_hz(self) -> npt.NDArray[np.float32]:
        """Each modulation filter's centre frequency (Hz)."""

@final
class Heads:
    """Your own tags: one small classifier per tag on the model's pooled embeddings (learned by
    `Tagger.teach` or `Tagger.learn_heads`, or a file of `trainer teach`). `Tagger(heads=...)`
    tags with them beside the model's tags, named `user:TAG`."""

    @staticmethod
    def load(path: Union[str, os.PathLike[str]]) -> "Heads":
        """Reads a head file (`trainer teach --out`, `Heads.save`)."""
    def save(self, path: Union[str, os.PathLike[str]]) -> None:
        """Writes a head file; an existing file is replaced only if it is one."""
    @property
    def tags(self) -> list[str]:
        """The tags' names, in the order of `predict`'s columns."""
    @property
    def thresholds(self) -> list[float]:
        """Per tag, the probability from which a clip has it (chosen by cross-validation)."""
    @property
    def report(self) -> list[dict[str, object]]:
        """Per tag: tag, examples, counter_examples, background (clips of the model's
        background set that stood in for counter-examples), folds, cv_roc_auc (None without cross-validation), l2,
        threshold, warnings."""
    @property
    def base(self) -> tuple[str, str]:
        """The model they were learned on: its summary and its weights' SHA-256."""
    def predict(self, embeddings: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Each tag's probability for each row of `[n, D]` pooled chunk embeddings: `[n, tags]`."""

@final
class Tagger:
    """A music tagger: the built-in model (SincModNet distilled from an MTAT-trained teacher;
    see MODEL_CARD.md) or a weights file of `trainer train` / `trainer export`.

    `backend`: "flex" (the CPU, the default); a wheel built with the `wgpu` feature also
    takes "auto" (a GPU through wgpu when there is one) and "wgpu". `gpu_conv`: how the
    model's convolutions run on a GPU, as the trainer's `--gpu-conv` — "auto" (the default)
    times each route the GPU can take at a forward pass of 4 chunks and keeps the fastest, or
    a route by name ("direct", "unfolded", "implicit-gemm", "per-pass": each
    convolution's passes by the route fastest for them); the CPU has nothing to choose.
    Safe to share between threads; each call releases the GIL."""

    weights: str
    """The weights file, or "built-in"."""
    def __new__(
        cls,
        weights: Optional[Union[str, os.PathLike[str]]] = None,
        backend: str = "flex",
        heads: Optional[Union[Heads, str, os.PathLike[str]]] = None,
        gpu_conv: str = "auto",
    ) -> "Tagger": ...
    @property
    def gpu_conv(self) -> Optional[str]:
        """The route the GPU runs the model's convolutions by (`gpu_conv`, or the fastest
        where it was "auto"), or None on the CPU."""
    @property
    def gpu_conv_times(self) -> dict[str, float]:
        """Where `gpu_conv="auto"` timed the routes on a GPU: each route's milliseconds per
        forward pass of 4 chunks; else empty."""
    @property
    def heads(self) -> Optional[Heads]:
        """The user's tags this tagger adds (`heads=`), or None."""
    def teach(
        self,
        examples: dict[str, Sequence[Audio]],
        negatives: Optional[Sequence[Audio]] = None,
        sample_rate: Optional[float] = None,
        background: bool = True,
    ) -> Heads:
        """Learns your own tags from audio: `examples` maps each tag to its examples (paths,
        or arrays at `sample_rate`); a tag's counter-examples are `negatives` and the other
        tags' examples, and for a tag with none (with `background`, on the built-in model) its
        background set of clips of many kinds of music. Unreadable examples are skipped with a
        warning."""
    def learn_heads(
        self,
        embeddings: Sequence[npt.ArrayLike],
        labels: dict[str, Sequence[Optional[bool]]],
        background: bool = True,
    ) -> Heads:
        """Learns your own tags from this model's pooled embeddings (`embed(...).chunks`), one
        `[chunks, D]` array per example; `labels` maps each tag to True / False / None per
        example; `background` as for `teach`."""
    @property
    def tags(self) -> list[str]:
        """The vocabulary, in the order of every probability array."""
    @property
    def groups(self) -> dict[str, list[str]]:
        """The paper's tag groups: genre, instrument, vocal, mood, other (and "yours": the
        user's tags, with `heads=`)."""
    @property
    def sample_rate(self) -> int:
        """The model's rate in Hz (audio is resampled to it)."""
    @property
    def chunk_seconds(self) -> float:
        """The model's chunk length in seconds."""
    @property
    def summary(self) -> str:
        """The architecture and size, one line."""
    def tag(
        self, audio: Audio, sample_rate: Optional[float] = None, timeline: bool = True
    ) -> TagResult:
        """Tags a clip (a path, or samples with their `sample_rate`). `timeline=False` skips
        the per-chunk timeline (the clip's tags only: several times faster on long songs, as
        `trainer tag --csv` for a library)."""
    def tag_many(
        self,
        paths: Sequence[Union[str, os.PathLike[str]]],
        jobs: Optional[int] = None,
        timeline: bool = False,
        progress: Optional[Callable[[int, int], object]] = None,
    ) -> List[Union[TagResult, TaggingError]]:
        """Tags many files as `trainer tag --csv` a library: `jobs` decoded side by side (one
        per core by default), the GIL released. One entry per path, in order: its TagResult or
        its TaggingError (returned, not raised). `progress(done, total)` after each file."""
    def embed_many(
        self,
        paths: Sequence[Union[str, os.PathLike[str]]],
        jobs: Optional[int] = None,
        layer: str = "pooled",
        progress: Optional[Callable[[int, int], object]] = None,
    ) -> List[Union[Embedding, TaggingError]]:
        """Embeds many files as `tag_many` tags them: one entry per path, in order, its
        Embedding or its TaggingError (returned, not raised)."""
    def embed(
        self, audio: Audio, sample_rate: Optional[float] = None, layer: str = "pooled"
    ) -> Embedding:
        """Embeddings per chunk and per clip: `layer` "pooled" (the ResNet's features) or
        "modulation" (mean modulation energy per filter and band, dB)."""
    def modulation(
        self,
        audio: Audio,
        sample_rate: Optional[float] = None,
        start: float = 0.0,
        columns: Optional[int] = None,
    ) -> Pictures:
        """The pictures of the chunk starting at `start` seconds, mean-pooled to at most
        `columns` columns (None: one per frame)."""
