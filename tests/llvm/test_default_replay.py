"""Replaying the inliner's own decisions through the channel gives the -Oz object, byte for byte.

This is the check that the default decision is read from the right slot on the
installed clang (LLVM 19 writes it into another feature's slot; see probes.py),
run over every module of the small sample corpus of real code.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from compiler_opt.collect.trace import trace_module
from compiler_opt.corpus.loading import load_corpus
from compiler_opt.problems import get_problem


def test_default_replay_is_byte_identical_to_plain_compile(toolchain, small_sample, tmp_path):
    problem = get_problem("inlining")
    corpus = load_corpus(small_sample)
    differing, decisions = [], 0
    for spec in corpus:
        command = spec.command(toolchain.clang)
        plain, replayed = tmp_path / "plain.o", tmp_path / "replayed.o"
        subprocess.run(command.argv(plain), check=True, capture_output=True)
        result = trace_module(toolchain, problem, "default", command, object_path=replayed)
        decisions += result.decisions
        if plain.read_bytes() != replayed.read_bytes():
            differing.append(spec.name)
    assert decisions > 1000, "the sample corpus should offer the inliner many decisions"
    assert not differing, f"replaying the default decisions changed the object of: {', '.join(differing)}"


def test_the_default_slot_matches_what_is_known_of_this_version(toolchain):
    major = toolchain.version[0]
    if major < 19:
        pytest.skip(f"no measured fact about clang {major}'s default slot")
    slot = toolchain.probe().facts["inlining_default_feature"]
    assert slot == ("callee_basic_block_count" if major == 19 else "inlining_default"), Path(toolchain.clang).name
