"""`mlgo corpus ...` through the real command-line entry point."""

from __future__ import annotations

import argparse

from mlgo.cli import build_parser, main


def _corpus_parsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    verbs = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    corpus = verbs.choices["corpus"]
    sub = next(a for a in corpus._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def test_every_flag_has_help():
    parsers = _corpus_parsers()
    assert set(parsers) == {"extract", "make", "combine", "stats", "sample"}
    for name, parser in parsers.items():
        for action in parser._actions:
            assert action.help, f"mlgo corpus {name} {action.option_strings or action.dest} has no help"


def test_extract_then_stats(project_build, tmp_path, capsys):
    _, build = project_build
    corpus = tmp_path / "corpus"
    assert (
        main(
            [
                "corpus",
                "extract",
                "--compile-commands",
                str(build / "compile_commands.json"),
                "--output",
                str(corpus),
                "--workers",
                "2",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "extracted 4 modules" in out and "skipped 1 (assembly source)" in out
    (corpus / "CMakeFiles/geometry.dir/src/vec.c.cmd").write_bytes(b"-cc1\0-load\0evil.so")
    assert main(["corpus", "stats", str(corpus)]) == 2
    assert "refusing '-load'" in capsys.readouterr().err
    assert main(["corpus", "stats", str(corpus), "--skip-invalid", "--inline-remarks"]) == 0
    out = capsys.readouterr().out
    assert "modules: 3" in out and "invalid: CMakeFiles/geometry.dir/src/vec.c" in out and "decisions:" in out


def test_extract_with_nothing_found_fails(tmp_path, capsys):
    (tmp_path / "objs").mkdir()
    assert main(["corpus", "extract", "--objects-dir", str(tmp_path / "objs"), "--output", str(tmp_path / "c")]) == 1
    assert "extracted 0 modules" in capsys.readouterr().out
