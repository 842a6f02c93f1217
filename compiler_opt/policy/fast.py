"""The policy's fast in-loop form: the actor's forward pass in numpy, no TensorFlow.

A `FastPolicy` holds the feature spec, the numpy `Preprocessor` and the
actor's Dense weights (float32). Per decision in the compile loop:

    policy = FastPolicy.load(policy_dir)            # or fast_policy(actor, spec, vocab) from TF
    rng = np.random.default_rng(seed)
    for observation in compile_:
        decision = policy.sample(observation, rng)   # .action, .log_probability, .logits
        compile_.advise(decision.action)

`observation_logits` reads an `Observation`'s raw bytes directly: when every
input feature is an int64 at an 8-byte aligned offset (the inliner), one
`np.frombuffer` over the record plus one slice or gather gives all elements;
other headers take a per-feature path. The header layout is worked out once
per header (a compile's observations share one). It is the same arithmetic
as the Keras network, with identical inputs and float32 matrix products, so
logits agree to float32 rounding (summation order may differ). One
observation's logits are bit-identical whether it comes alone
(`observation_logits`, `greedy`, `sample`) or in a batch (`logits_batch`,
`observations_logits`): the batch repeats the single observation's products.

A "masked_candidates" head (regalloc eviction) gathers each candidate's
columns of the input (`compiler_opt.policy.candidates`), runs the same Dense
layers on every candidate and sets the masked-out logits to `MASKED_LOGIT`,
as the Keras `MaskedCandidateNetwork` does. Candidates with equal features
get exactly equal logits, so `greedy` takes the first of them (as TF does).

Sampling draws one uniform from the caller's `numpy.random.Generator`, so a
seed reproduces a compile's decisions; the log-probability is the
log-softmax of the logits at the chosen action, computed in float64.

Instances pickle (plain numpy arrays; the per-header cache is dropped), and
this module never imports TensorFlow.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from compiler_opt.errors import MlgoError
from compiler_opt.llvm.log_format import LogHeader, Observation
from compiler_opt.policy.candidates import CandidateLayout, candidate_layout, masked_logits
from compiler_opt.policy.config import NetworkConfig
from compiler_opt.policy.features import FeatureSpec
from compiler_opt.policy.preprocessing import Preprocessor, feature_transforms
from compiler_opt.policy.untrusted import check_feature_sizes, check_network_fits, check_weights_file
from compiler_opt.policy.vocab import Vocab

NETWORK_FILE = "network.json"
WEIGHTS_FILE = "weights.npz"
VOCAB_DIR = "vocab"


class Decision(NamedTuple):
    """A sampled action with its log-probability under the policy and the logits it came from."""

    action: int
    log_probability: float
    logits: np.ndarray


class _HeaderReader:
    """Turns one header's raw observation bytes into the preprocessor's element groups."""

    def __init__(self, header: LogHeader, spec: FeatureSpec, preprocessor: Preprocessor) -> None:
        spec.check_compatible(header)
        self.header = header
        slots = header.slots
        derived = {name for name, _, _ in preprocessor.differences}
        operands = [name for _, a, b in preprocessor.differences for name in (a, b)]
        real_ints = [name for name in preprocessor.int_features if name not in derived]
        needed = real_ints + operands + preprocessor.identity_features
        self.fast = (
            not preprocessor.float_features
            and header.observation_size % 8 == 0
            and all(slots[n].spec.dtype == np.dtype("<i8") and slots[n].offset % 8 == 0 for n in needed)
        )
        self._slots = [(n, slots[n].offset, slots[n].spec.element_count, slots[n].spec.dtype) for n in spec.names]
        self._preprocessor = preprocessor
        if self.fast:
            self._count = header.observation_size // 8

            def indices(names: list[str]):
                if not names:
                    return np.zeros(0, np.intp)
                idx = np.concatenate([slots[n].offset // 8 + np.arange(slots[n].spec.element_count) for n in names])
                if idx.size and np.array_equal(idx, np.arange(idx[0], idx[0] + idx.size)):
                    return slice(int(idx[0]), int(idx[0]) + idx.size)
                return idx

            self._int_index = indices(real_ints)
            # Derived differences come last among the int elements (see preprocessing): their operands' slots.
            self._minuends = indices([a for _, a, _ in preprocessor.differences]) if derived else None
            self._subtrahends = indices([b for _, _, b in preprocessor.differences]) if derived else None
            self._identity_index = indices(preprocessor.identity_features) if preprocessor.identity_features else None

    def one(self, raw: bytes):
        if self.fast:
            values = np.frombuffer(raw, np.int64, self._count)
            identity = None if self._identity_index is None else values[self._identity_index]
            return self._ints(values), None, identity
        return self._preprocessor.elements(self._arrays([raw], batch=False))

    def many(self, raws: Sequence[bytes]):
        if self.fast:
            values = np.frombuffer(b"".join(raws), np.int64).reshape(len(raws), -1)
            identity = None if self._identity_index is None else values[:, self._identity_index]
            return self._ints(values), None, identity
        return self._preprocessor.elements(self._arrays(raws, batch=True), batch=True)

    def _ints(self, values: np.ndarray) -> np.ndarray:
        """The int elements of observations read as int64 words `[..., words]`: the features', then differences."""
        ints = values[..., self._int_index]
        if self._minuends is None:
            return ints
        return np.concatenate([ints, values[..., self._minuends] - values[..., self._subtrahends]], axis=-1)

    def _arrays(self, raws: Sequence[bytes], batch: bool) -> dict[str, np.ndarray]:
        size = self.header.observation_size
        buffer = b"".join(raws)
        arrays: dict[str, np.ndarray] = {}
        for name, offset, count, dtype in self._slots:
            if batch:
                records: np.ndarray = np.ndarray((len(raws), count), dtype, buffer, offset, (size, dtype.itemsize))
                arrays[name] = records
            else:
                arrays[name] = np.frombuffer(buffer, dtype, count, offset)
        return arrays


class FastPolicy:
    """The actor's forward pass in numpy: logits, greedy action, seeded sampling."""

    def __init__(
        self, spec: FeatureSpec, vocab: Vocab, config: NetworkConfig, weights: Sequence[tuple[np.ndarray, np.ndarray]]
    ) -> None:
        self.spec = spec
        self.vocab = vocab
        self.config = config
        transforms = feature_transforms(spec, vocab, config.identity, config.differences)
        self.preprocessor = Preprocessor(transforms)
        self._layout: CandidateLayout | None = (
            candidate_layout(transforms, config.mask) if config.head == "masked_candidates" else None
        )
        self._relu = config.activation == "relu"
        self._tanh = config.activation == "tanh"
        self._reader: _HeaderReader | None = None
        self._set_weights(weights)

    def _set_weights(self, weights: Sequence[tuple[np.ndarray, np.ndarray]]) -> None:
        self.weights = [(np.ascontiguousarray(k, np.float32), np.ascontiguousarray(b, np.float32)) for k, b in weights]
        width = self._layout.width if self._layout is not None else self.preprocessor.width
        if not self.weights or self.weights[0][0].shape[0] != width:
            raise MlgoError(
                f"the actor's first layer takes {self.weights[0][0].shape[0] if self.weights else 0} "
                f"inputs, the preprocessing gives {width}"
            )
        self._hidden = self.weights[:-1]
        self._kernel, self._bias = self.weights[-1]
        self.num_outputs = self._layout.candidates if self._layout is not None else int(self._bias.shape[0])

    # --- the weights as one flat vector (evolution strategies) --------------------------------------------------
    def flat_weights(self) -> np.ndarray:
        """Every kernel and bias, in layer order, as one float64 vector."""
        return np.concatenate([array.ravel() for layer in self.weights for array in layer]).astype(np.float64)

    def with_flat_weights(self, flat: np.ndarray) -> FastPolicy:
        """A copy of this policy with the weights `flat` (as `flat_weights` orders them), cast to float32."""
        flat = np.asarray(flat)
        size = sum(array.size for layer in self.weights for array in layer)
        if flat.shape != (size,):
            raise MlgoError(f"a flat weight vector of shape {flat.shape} does not fit this policy's {size} weights")
        weights: list[tuple[np.ndarray, np.ndarray]] = []
        offset = 0
        for kernel, bias in self.weights:
            layer = []
            for array in (kernel, bias):
                layer.append(flat[offset : offset + array.size].reshape(array.shape))
                offset += array.size
            weights.append((layer[0], layer[1]))
        copy = object.__new__(FastPolicy)
        copy.__dict__.update(self.__getstate__())
        copy._set_weights(weights)
        return copy

    # --- pickling: the header cache is rebuilt on first use --------------------------------------------------
    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_reader"] = None
        return state

    # --- forward pass ---------------------------------------------------------------------------------------------
    def _forward(self, inputs: np.ndarray) -> np.ndarray:
        """Logits of one observation's inputs `[width]` or a batch's `[B, width]`, the same bits either way.

        A batch runs as a stack of per-observation blocks (`[B, 1, width]`, or `[B, C, k]` contiguous
        candidate rows), which numpy's matmul multiplies one block at a time with the very BLAS call one
        observation gets. A BLAS product need not compute every row of a block alike (OpenBLAS sums
        its remainder rows in another order, and on some CPUs, AMD EPYC among them, rows of one block
        differ too), so with candidate rows every hidden unit and the score are one dot product of a
        row (`vecdot`): equal candidates score equally wherever they sit, and argmax takes the first
        of them, as TF and XLA do.
        """
        layout = self._layout
        if layout is None:
            h = inputs[:, None, :] if inputs.ndim == 2 else inputs
        else:
            h = np.take(inputs, layout.columns, axis=-1)
        for kernel, bias in self._hidden:
            # Candidate rows: each unit one dot product of its row, as the scores below (see the docstring).
            h = h @ kernel if layout is None else np.vecdot(h[..., None, :], kernel.T)
            h += bias
            if self._relu:
                np.maximum(h, 0, out=h)
            elif self._tanh:
                np.tanh(h, out=h)
        if layout is not None:
            scores = np.vecdot(h, self._kernel[:, 0])
            scores += self._bias[0]
            return masked_logits(scores, inputs, layout)
        logits = h @ self._kernel
        logits += self._bias
        return logits[:, 0, :] if inputs.ndim == 2 else logits

    def logits(self, features: Mapping[str, np.ndarray]) -> np.ndarray:
        """Logits `[A]` of one observation given as feature name -> value."""
        return self._forward(self.preprocessor.preprocess(features))

    def logits_batch(self, features: Mapping[str, np.ndarray]) -> np.ndarray:
        """Logits `[B, A]` of a batch given as feature name -> `[B, ...]` array."""
        return self._forward(self.preprocessor.preprocess(features, batch=True))

    def _reader_for(self, header: LogHeader) -> _HeaderReader:
        reader = self._reader
        if reader is None or reader.header is not header:
            reader = self._reader = _HeaderReader(header, self.spec, self.preprocessor)
        return reader

    def observation_logits(self, observation: Observation) -> np.ndarray:
        """Logits `[A]` of a channel or log `Observation`, read straight from its raw bytes."""
        reader = self._reader
        if reader is None or reader.header is not observation.header:
            reader = self._reader_for(observation.header)
        return self._forward(self.preprocessor(*reader.one(observation.raw)))

    def observations_logits(self, observations: Sequence[Observation]) -> np.ndarray:
        """Logits `[B, A]` of observations sharing one header."""
        if not observations:
            return np.zeros((0, self.num_outputs), np.float32)
        reader = self._reader_for(observations[0].header)
        return self._forward(self.preprocessor(*reader.many([o.raw for o in observations])))

    def greedy(self, observation: Observation) -> int:
        """The most likely action (the first on ties, as `argmax` in TF)."""
        return int(np.argmax(self.observation_logits(observation)))

    def sample(self, observation: Observation, rng: np.random.Generator) -> Decision:
        """An action drawn from the softmax of the logits with one uniform from `rng`, and its log-probability."""
        logits = self.observation_logits(observation)
        values = logits.tolist()
        top = max(values)
        exps = [math.exp(v - top) for v in values]
        total = math.fsum(exps)
        threshold = rng.random() * total
        action, running = None, 0.0
        for index, e in enumerate(exps):
            running += e
            if threshold < running:
                action = index
                break
        if action is None:  # rounding left the running sum just under `total`: the last action of nonzero
            action = max(index for index, e in enumerate(exps) if e > 0.0)  # probability, never a masked one
        return Decision(action, values[action] - top - math.log(total), logits)

    # --- files ------------------------------------------------------------------------------------------------------
    def save(self, folder: str | os.PathLike) -> None:
        """Write the spec, vocabulary, network config and weights into `folder` (which must exist)."""
        folder = Path(folder)
        self.spec.save(folder)
        self.vocab.save(folder / VOCAB_DIR)
        (folder / NETWORK_FILE).write_text(json.dumps(self.config.to_json(), indent=1) + "\n")
        arrays = {}
        for index, (kernel, bias) in enumerate(self.weights):
            arrays[f"kernel_{index}"] = kernel
            arrays[f"bias_{index}"] = bias
        with open(folder / WEIGHTS_FILE, "wb") as stream:
            np.savez(stream, **arrays)

    def digest(self) -> str:
        """This policy's identity: the sha256 of all that decides (features, vocabulary, network, weights)."""
        digest = hashlib.sha256(json.dumps([self.spec.to_json(), self.config.to_json()], sort_keys=True).encode())
        arrays = [self.vocab.boundaries[name] for name in sorted(self.vocab.boundaries)]
        arrays += [array for layer in self.weights for array in layer]
        for array in arrays:
            digest.update(f"{array.dtype}{array.shape}".encode())
            digest.update(array.tobytes())
        return f"sha256:{digest.hexdigest()}"

    @classmethod
    def load(cls, folder: str | os.PathLike) -> FastPolicy:
        """The fast form of a saved policy folder (TensorFlow is not needed), its sizes checked before it is read."""
        folder = Path(folder)
        spec = FeatureSpec.load(folder)
        check_feature_sizes(folder, spec)
        vocab = Vocab.load(folder / VOCAB_DIR, spec.names)
        try:
            config = NetworkConfig.from_json(json.loads((folder / NETWORK_FILE).read_text()))
            check_weights_file(folder / WEIGHTS_FILE)
            with np.load(folder / WEIGHTS_FILE) as arrays:
                layers = len([k for k in arrays.files if k.startswith("kernel_")])
                weights = [(arrays[f"kernel_{i}"], arrays[f"bias_{i}"]) for i in range(layers)]
        except (OSError, ValueError, KeyError) as error:
            raise MlgoError(f"{folder} is not a complete saved policy: {error}") from error
        check_network_fits(folder, config, spec.num_actions, weights)
        return cls(spec, vocab, config, weights)
