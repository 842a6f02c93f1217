"""The corpus's runnable programs: the sample corpus lists its programs, a hostile or broken description is refused,
and a tool writes the list into a description."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from compiler_opt.corpus.layout import read_description
from compiler_opt.corpus.loading import load_corpus
from compiler_opt.corpus.programs import ProgramError, held_out_libraries, load_programs, write_programs
from tests.corpus.helpers import write_corpus


def test_the_sample_corpus_lists_its_programs(small_sample):
    programs = {p.name: p for p in load_programs(load_corpus(small_sample))}
    # The small corpus has only brotli's decoder, which does not link into the round trip: not listed.
    assert set(programs) == {"lz4-roundtrip", "xxhash-bench", "yaml-roundtrip"}
    assert programs["lz4-roundtrip"].library == "lz4"
    assert all(source.is_relative_to(small_sample) and source.is_file() for source in programs["lz4-roundtrip"].sources)
    # yaml-roundtrip is held out: its library is validated, never trained on.
    assert [p.held_out for p in programs.values()] == [False, False, True]
    corpus = load_corpus(small_sample)
    assert held_out_libraries(corpus.programs) == {"libyaml"}
    assert "libyaml" in corpus.split(0.2)[1].libraries


@pytest.mark.parametrize(
    "change, message",
    [
        ({"link_flags": ["-Wl,-plugin,/tmp/evil.so"]}, "link flags may only be"),
        ({"sources": ["../../etc/passwd"]}, "outside the corpus folder"),
        ({"sources": []}, "at least one driver source"),
        ({"library": "nonesuch"}, "not one of the corpus's libraries"),
        ({"sources": ["corpus_description.json"]}, "driver sources must be C or C\\+\\+"),
        ({"held_out": "yes"}, '"held_out" must be true or false'),
    ],
)
def test_hostile_or_broken_programs_are_refused(small_sample, change, message):
    corpus = load_corpus(small_sample)
    entry = {**corpus.programs[0], **change}
    with pytest.raises(ProgramError, match=message):
        load_programs(replace(corpus, programs=[entry]))
    with pytest.raises(ProgramError, match="no program nonesuch"):
        load_programs(corpus, ["nonesuch"])


def test_written_programs_load_and_an_unchanged_list_is_not_rewritten(module_files, tmp_path):
    write_corpus(tmp_path, module_files, ["lib/a"], libraries={"lib": ["lib/a"]}, color="red")
    (tmp_path / "programs").mkdir()
    (tmp_path / "programs" / "main.c").write_text("int main(void) { return 0; }\n")
    entries = [{"name": "run", "library": "lib", "sources": ["programs/main.c"], "args": ["1"], "held_out": True}]
    write_programs(tmp_path, entries)
    assert read_description(tmp_path).extra == {"color": "red", "programs": entries}
    [program] = load_programs(load_corpus(tmp_path))
    assert (program.name, program.library, program.args, program.held_out) == ("run", "lib", ("1",), True)
    assert not program.cxx and held_out_libraries(entries) == {"lib"} and held_out_libraries(None) == set()
    assert program.sources == ((tmp_path / "programs" / "main.c").resolve(),)
    description = tmp_path / "corpus_description.json"
    written = description.stat().st_mtime_ns
    write_programs(tmp_path, json.loads(json.dumps(entries)))
    assert description.stat().st_mtime_ns == written
