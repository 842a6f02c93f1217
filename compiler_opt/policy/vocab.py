"""MLGO's feature vocabulary: per-feature quantile boundaries computed from observed values.

`compute_vocab` streams observations (channel `Observation`s or `LogReader`
records) once. Every observation carries every feature, so one reservoir of
observations (Algorithm R, `sample_size` rows, seeded) samples all features
at once and memory stays bounded however long the stream; only the raw
bytes of the sampled observations are kept, decoded in one go at the end.
For each feature the `quantiles` evenly spaced quantiles of the sampled
elements are taken with `inverted_cdf` (always observed values, so integer
features get integer boundaries) and deduplicated.

On disk (MLGO's layout): `<folder>/<feature>.buckets`, one boundary per line,
written as integers for integer features and as `repr(float)` otherwise. An
empty file means the feature was never observed (a degenerate vocabulary,
which preprocessing turns into a constant).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

from compiler_opt.errors import MlgoError
from compiler_opt.llvm.log_format import LogHeader, LogRecord, Observation
from compiler_opt.policy.features import FeatureSpec

SUFFIX = ".buckets"
DEFAULT_QUANTILES = 1000
DEFAULT_SAMPLE_SIZE = 100_000


class VocabError(MlgoError):
    """A vocabulary folder that lacks a feature, or a malformed `.buckets` file."""


class Vocab:
    """Sorted, deduplicated bucket boundaries per feature name (int64 or float64 arrays)."""

    def __init__(self, boundaries: Mapping[str, np.ndarray]) -> None:
        self.boundaries: dict[str, np.ndarray] = {}
        for name, values in boundaries.items():
            array = np.asarray(values)
            if array.dtype.kind not in "iuf":
                raise VocabError(f"boundaries of {name!r} are not numbers")
            array = np.unique(array.astype(np.int64 if array.dtype.kind in "iu" else np.float64))
            self.boundaries[name] = array

    def __getitem__(self, name: str) -> np.ndarray:
        try:
            return self.boundaries[name]
        except KeyError:
            raise VocabError(f"the vocabulary has no boundaries for feature {name!r}") from None

    def __contains__(self, name: str) -> bool:
        return name in self.boundaries

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Vocab)
            and self.boundaries.keys() == other.boundaries.keys()
            and all(np.array_equal(v, other.boundaries[k]) for k, v in self.boundaries.items())
        )

    def save(self, folder: str | os.PathLike) -> Path:
        """Write one `.buckets` file per feature into `folder` (created; files replaced atomically)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for name, values in self.boundaries.items():
            lines = [str(int(v)) for v in values] if values.dtype.kind == "i" else [repr(float(v)) for v in values]
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=folder)
            with os.fdopen(fd, "w") as stream:
                stream.write("".join(line + "\n" for line in lines))
            os.replace(tmp, folder / (name + SUFFIX))
        return folder

    @classmethod
    def load(cls, folder: str | os.PathLike, names: Iterable[str] | None = None) -> Vocab:
        """Read `folder`'s `.buckets` files (all of them, or exactly `names`, each required)."""
        folder = Path(folder)
        if names is None:
            paths = {p.name[: -len(SUFFIX)]: p for p in sorted(folder.glob("*" + SUFFIX))}
        else:
            paths = {name: folder / (name + SUFFIX) for name in names}
        boundaries = {}
        for name, path in paths.items():
            try:
                text = path.read_text()
            except OSError as error:
                raise VocabError(
                    f"vocabulary {folder} lacks feature {name!r} ({error.strerror}); rebuild it with `mlgo vocab`"
                ) from error
            boundaries[name] = _parse_buckets(text, path)
        return cls(boundaries)


def _parse_buckets(text: str, path: Path) -> np.ndarray:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    try:
        return np.array([int(line) for line in lines], dtype=np.int64)
    except ValueError:
        pass
    try:
        return np.array([float(line) for line in lines], dtype=np.float64)
    except ValueError as error:
        raise VocabError(f"malformed bucket file {path}: {error}") from error


def _structured_dtype(header: LogHeader, spec: FeatureSpec) -> np.dtype:
    """A numpy record type reading `spec`'s features straight out of `header`'s raw observation bytes."""
    return np.dtype(
        {
            "names": spec.names,
            "formats": [(f.dtype, (f.element_count,)) for f in spec.features],
            "offsets": [header.slots[f.name].offset for f in spec.features],
            "itemsize": header.observation_size,
        }
    )


def compute_vocab(
    observations: Iterable[Observation | LogRecord],
    spec: FeatureSpec,
    *,
    quantiles: int = DEFAULT_QUANTILES,
    sample_size: int = DEFAULT_SAMPLE_SIZE,
    seed: int = 0,
) -> Vocab:
    """The quantile vocabulary of `spec`'s features over a stream of observations (one pass, bounded memory).

    Observations may come from several headers (e.g. compiles with and
    without the default decision), as long as each header is compatible with
    `spec`; every feature's values are read by name.
    """
    if quantiles < 1 or sample_size < 1:
        raise ValueError("quantiles and sample_size must be positive")
    rng = np.random.default_rng(seed)
    reservoir: list[tuple[bytes, LogHeader]] = []
    seen = 0
    checked: dict[int, LogHeader] = {}  # holds the headers, so their ids stay unique
    for item in observations:
        observation = item.observation if isinstance(item, LogRecord) else item
        header = observation.header
        if id(header) not in checked:
            spec.check_compatible(header, source="the observations")
            checked[id(header)] = header
        seen += 1
        if len(reservoir) < sample_size:
            reservoir.append((observation.raw, header))
        else:
            slot = int(rng.integers(seen))
            if slot < sample_size:
                reservoir[slot] = (observation.raw, header)
    columns: dict[str, list[np.ndarray]] = {name: [] for name in spec.names}
    by_header: dict[int, tuple[LogHeader, list[bytes]]] = {}
    for raw, header in reservoir:
        by_header.setdefault(id(header), (header, []))[1].append(raw)
    for header, raws in by_header.values():
        records = np.frombuffer(b"".join(raws), dtype=_structured_dtype(header, spec))
        for name in spec.names:
            columns[name].append(records[name].reshape(-1))
    probabilities = np.linspace(0.0, 1.0, quantiles)
    boundaries = {}
    for feature in spec.features:
        values = np.concatenate(columns[feature.name]) if columns[feature.name] else np.array([], feature.dtype)
        if values.size == 0:
            boundaries[feature.name] = np.array([], np.int64 if feature.dtype.kind in "iu" else np.float64)
            continue
        if feature.dtype.kind == "f":
            values = values[~np.isnan(values)]
        boundaries[feature.name] = np.unique(np.quantile(values, probabilities, method="inverted_cdf"))
    return Vocab(boundaries)
