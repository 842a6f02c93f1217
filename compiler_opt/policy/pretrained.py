"""Pretrained policies shipped in the package, as MLGO ships released models: the registry and packaging.

A policy is given by name wherever a policy folder is (`mlgo eval`, `mlgo cc`
and `mlgo-clang` through MLGO_POLICY, `mlgo export`): `pretrained:NAME`
means the policy packaged as NAME. The registry is a folder (by default
`compiler_opt/pretrained/`, shipped as package data; every function takes
another `root`), one subfolder per policy:

    ROOT/NAME/policy/           the saved policy exactly as `mlgo train` writes RUN_DIR/policy
                                (`compiler_opt.policy.saved`: SavedModel, fast form, feature spec, vocabulary)
    ROOT/NAME/provenance.json   where it comes from and how good it is (below)

What is packaged is what the folder holds: `packaged(root)` lists every
subfolder with a `provenance.json`, so there is no index to fall out of step.

provenance.json (`package_policy` fills the fields marked *, and refuses a
provenance without the others):

    format*      1
    name*        NAME
    problem      the decision it makes (inlining, ...)
    algorithm    how it was trained (e.g. "es", or "bc, then es" for a warm-started run)
    budget       what training was given and used (e.g. {"iterations": N, "seconds": S})
    seed         the training run's seed
    corpus       {"name", "cache_key", "modules": {...}}: what it was trained on
    compiler     {"version", ...}: the clang it was trained with; `features`*, `excluded`* and `advice`* are
                 the feature list the policy reads (a compiler sending another list is refused, see below)
    validation   figures on modules never trained on, as `mlgo eval` measured them (nothing typed in by
                 hand): `total_vs_default` (against the compiler's own heuristic, -Oz for an -Oz corpus),
                 and `total_vs_reference` against a built-in `reference` such as the hand `rule`
    languages    only for a member of a policy per language: the languages it was evaluated serving
                 (`evaluated_as` gives the whole policy, e.g. "c=default,c++=RUN/policy")
    created      when the training run started (ISO 8601)
    packaged*    when it was packaged (ISO 8601, UTC)
    policy*      {"digest": FastPolicy.digest(), "bytes": the folder's size on disk}

A pretrained policy is loaded like any saved policy, so it goes through the
same checks: the untrusted-policy checks before TensorFlow reads it, and the
feature spec against every compiler it meets (`FeatureSpec.check_compatible`:
a compiler whose features differ is refused with the missing and extra
features named).

`package_policy` copies a run's saved policy and a provenance dict into the
registry (scripts/package_pretrained.py builds the dict from a run folder and
its evaluations); the copy is made in a temporary sibling and renamed into
place, with its files made readable by everyone (the run's vocabulary files
are private to their owner).
"""

from __future__ import annotations

import datetime
import json
import os
import re
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compiler_opt.errors import MlgoError
from compiler_opt.policy.fast import FastPolicy
from compiler_opt.policy.saved import replace_folder

__all__ = [
    "PACKAGE_ROOT",
    "PREFIX",
    "PretrainedPolicy",
    "find_pretrained",
    "is_pretrained",
    "package_policy",
    "packaged",
    "policy_folder",
]

PREFIX = "pretrained:"
PACKAGE_ROOT = Path(__file__).resolve().parent.parent / "pretrained"
POLICY_DIR = "policy"
PROVENANCE_FILE = "provenance.json"
FORMAT_VERSION = 1
REQUIRED = ("problem", "algorithm", "budget", "seed", "corpus", "compiler", "validation", "created")
_NAME = re.compile(r"[a-z0-9]+(?:[._-][a-z0-9]+)*")


@dataclass(frozen=True)
class PretrainedPolicy:
    """One packaged policy: its name, its folder in the registry and its provenance."""

    name: str
    folder: Path
    provenance: Mapping[str, Any]

    @property
    def policy(self) -> Path:
        """The saved policy folder (what `--policy DIR` would take)."""
        return self.folder / POLICY_DIR

    def summary(self) -> str:
        """One line: the name, problem, training, compiler and validation figures."""
        info = self.provenance
        corpus = info.get("corpus", {})
        compiler = info.get("compiler", {})
        validation = info.get("validation", {})
        figures = [
            f"{label} {validation[key]:.4f}"
            for key, label in (
                ("total_vs_default", "total vs the compiler's heuristic"),
                ("total_vs_reference", f"vs {validation.get('reference')}"),
            )
            if isinstance(validation.get(key), (int, float))
        ]
        return (
            f"{self.name}: {info.get('problem', '?')}, {info.get('algorithm', '?')} on {corpus.get('name', '?')}, "
            f"{compiler.get('version', '?')}" + (f"; validation {', '.join(figures)}" if figures else "")
        )


def is_pretrained(policy: str | os.PathLike) -> bool:
    """Whether `policy` names a pretrained policy (`pretrained:NAME`)."""
    return isinstance(policy, str) and policy.startswith(PREFIX)


def packaged(root: str | os.PathLike | None = None) -> list[PretrainedPolicy]:
    """The policies packaged in `root` (default: the package's own folder), by name."""
    folder = Path(PACKAGE_ROOT if root is None else root)
    if not folder.is_dir():
        return []
    return [
        _read(entry)
        for entry in sorted(folder.iterdir(), key=lambda path: path.name)
        if entry.is_dir() and (entry / PROVENANCE_FILE).is_file()
    ]


def find_pretrained(name: str, root: str | os.PathLike | None = None) -> PretrainedPolicy:
    """The policy packaged as `name` (with or without the `pretrained:` prefix); an unknown name lists the others."""
    name = name.removeprefix(PREFIX)
    found = packaged(root)
    for policy in found:
        if policy.name == name:
            return policy
    where = Path(PACKAGE_ROOT if root is None else root)
    listing = "; ".join(f"{PREFIX}{policy.summary()}" for policy in found)
    raise MlgoError(
        f"no pretrained policy {name!r} in {where}: "
        + (f"the packaged ones are {listing}" if found else "this installation packages none")
        + " (or give a saved policy folder, e.g. RUN_DIR/policy)"
    )


def policy_folder(policy: str | os.PathLike, root: str | os.PathLike | None = None) -> Path:
    """The saved policy folder that `policy` gives: a packaged one for `pretrained:NAME`, else the folder itself."""
    if is_pretrained(policy):
        return find_pretrained(str(policy), root).policy
    return Path(policy)


def package_policy(
    policy_dir: str | os.PathLike,
    name: str,
    provenance: Mapping[str, Any],
    *,
    root: str | os.PathLike | None = None,
    replace: bool = False,
) -> PretrainedPolicy:
    """Copy the saved policy `policy_dir` and its `provenance` into the registry `root` as `name`.

    The policy is checked first (its fast form loads, its SavedModel passes
    the untrusted-policy checks); the provenance must hold the fields the
    module docstring lists, and the feature list it records is the policy's.
    An existing `name` is refused unless `replace`.
    """
    from compiler_opt.policy.untrusted import check_policy_graph  # pylint: disable=import-outside-toplevel

    if not _NAME.fullmatch(name):
        raise MlgoError(f"pretrained policy name {name!r}: use lower-case letters, digits and single . _ - between")
    missing = [key for key in REQUIRED if key not in provenance]
    if missing:
        raise MlgoError(f"the provenance of {name!r} lacks {', '.join(missing)}")
    if not isinstance(provenance["compiler"], Mapping) or "version" not in provenance["compiler"]:
        raise MlgoError(f"the provenance of {name!r} names no compiler version (compiler.version)")
    if not isinstance(provenance["corpus"], Mapping) or "name" not in provenance["corpus"]:
        raise MlgoError(f"the provenance of {name!r} names no corpus (corpus.name)")
    registry = Path(PACKAGE_ROOT if root is None else root)
    target = registry / name
    if target.exists() and not replace:
        raise MlgoError(f"{target} exists: pass replace=True (--replace) to put a new policy under that name")
    source = Path(policy_dir)
    fast = FastPolicy.load(source)
    check_policy_graph(source)
    registry.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.partial-", dir=registry))
    try:
        _copy_readable(source, staging / POLICY_DIR)
        record = _complete(provenance, name, fast, staging / POLICY_DIR)
        (staging / PROVENANCE_FILE).write_text(json.dumps(record, indent=1) + "\n")
        staging.chmod(0o755)
        replace_folder(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return _read(target)


def _complete(provenance: Mapping[str, Any], name: str, fast: FastPolicy, folder: Path) -> dict[str, Any]:
    """`provenance` with the fields `package_policy` fills; a recorded feature list must be the policy's."""
    spec = fast.spec
    compiler = dict(provenance["compiler"])
    recorded = compiler.get("features")
    if recorded is not None and list(recorded) != spec.names:
        raise MlgoError(
            f"the provenance of {name!r} records a feature list that is not the policy's "
            f"(feature_spec.json): {sorted(set(recorded) ^ set(spec.names)) or 'same names, other order'}"
        )
    compiler.update(features=spec.names, excluded=list(spec.excluded), advice=spec.advice.name)
    size = sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())
    return {
        "format": FORMAT_VERSION,
        "name": name,
        **provenance,
        "compiler": compiler,
        "packaged": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "policy": {"digest": fast.digest(), "bytes": size},
    }


def _copy_readable(source: Path, target: Path) -> None:
    """Copy the policy folder `source` to `target`: regular files only, readable by everyone."""
    for path in [source, *source.rglob("*")]:
        if path.is_symlink() or not (path.is_dir() or path.is_file()):
            raise MlgoError(f"{path}: a saved policy holds only plain files and folders")
    shutil.copytree(source, target, copy_function=shutil.copyfile)
    for path in [target, *target.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)


def _read(folder: Path) -> PretrainedPolicy:
    path = folder / PROVENANCE_FILE
    try:
        provenance = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise MlgoError(f"cannot read the pretrained policy's provenance {path}: {error}") from error
    if not isinstance(provenance, dict):
        raise MlgoError(f"{path}: the provenance is not a JSON object")
    return PretrainedPolicy(folder.name, folder, provenance)
