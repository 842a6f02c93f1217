"""Object sizes and register-allocation costs from the real toolchain."""

from __future__ import annotations

import subprocess

import pytest

from compiler_opt.llvm.measure import (
    MeasurementError,
    RegallocCost,
    object_size,
    object_sizes,
    parse_regalloc_remarks,
    read_regalloc_remarks,
    remark_options,
)


def _text_sections(toolchain, path) -> dict[str, int]:
    listing = subprocess.run(
        [str(toolchain.tool("llvm-size")), "-A", str(path)], capture_output=True, text=True, check=True
    ).stdout
    rows = (line.split() for line in listing.splitlines())
    return {row[0]: int(row[1]) for row in rows if row and (row[0] == ".text" or row[0].startswith(".text."))}


def test_sizes_agree_with_llvm_size(toolchain, modules):
    objects = [m.original_object for m in modules.values()]
    sizes = object_sizes(toolchain, objects)
    for path, size in zip(objects, sizes):
        berkeley = subprocess.run(
            [str(toolchain.tool("llvm-size")), str(path)], capture_output=True, text=True, check=True
        ).stdout.splitlines()[1]
        assert size.text == int(berkeley.split()[0])
        assert size.text_section == sum(_text_sections(toolchain, path).values())
        assert 0 < size.text_section <= size.text


def test_function_sections_count_whole(toolchain, tmp_path):
    source = tmp_path / "f.c"
    source.write_text("int a(int x){return x+1;} int b(int x){return x*x+a(x);}\n")
    split = tmp_path / "split.o"
    subprocess.run(
        [str(toolchain.clang), "-O2", "-c", "-ffunction-sections", str(source), "-o", str(split)], check=True
    )
    sections = _text_sections(toolchain, split)
    assert {".text.a", ".text.b"} <= set(sections)
    assert object_size(toolchain, split).text_section == sum(sections.values())


def test_unreadable_object_names_the_file(toolchain, tmp_path):
    bad = tmp_path / "bad.o"
    bad.write_bytes(b"\x7fELF truncated")
    with pytest.raises(MeasurementError, match="llvm-size failed"):
        object_size(toolchain, bad)


def test_regalloc_remarks_from_real_clang(toolchain, modules, tmp_path):
    module = modules["pressure"]
    remarks = tmp_path / "remarks.yaml"
    argv = module.command(toolchain).argv(tmp_path / "o.o", remark_options(remarks, cc1=True))
    subprocess.run(argv, check=True)
    costs = read_regalloc_remarks(remarks)
    assert set(costs) == {"hash_mix"}
    cost = costs["hash_mix"]
    assert cost.spills > 0 and cost.reloads > 0 and cost.spills_cost > 0
    # The driver's spelling of the same request measures the same function the same way.
    driver_remarks = tmp_path / "driver.yaml"
    subprocess.run(
        [
            str(toolchain.clang),
            "-Oz",
            "-c",
            "-x",
            "ir",
            str(module.bitcode),
            "-o",
            str(tmp_path / "d.o"),
            *remark_options(driver_remarks, cc1=False),
        ],
        check=True,
    )
    assert read_regalloc_remarks(driver_remarks) == costs


def test_remark_parsing_sums_functions_and_skips_loops():
    text = """--- !Missed
Pass:            regalloc
Name:            LoopSpillReloadCopies
Function:        f
Args:
  - NumSpills:       '8'
  - TotalSpillsCost: '1.600000e+02'
...
--- !Missed
Pass:            regalloc
Name:            SpillReloadCopies
Function:        '_ZN1a1fEv'
Args:
  - NumSpills:       '2'
  - String:          ' spills '
  - TotalSpillsCost: '3.5e+00'
  - NumReloads:      '1'
  - TotalReloadsCost: '1.0e+00'
  - NumFoldedReloads: '1'
  - TotalFoldedReloadsCost: '2.0e+00'
  - NumVRCopies:     '4'
  - TotalCopiesCost: '4.0e+00'
  - String:          generated in function
...
"""
    costs = parse_regalloc_remarks(text)
    assert costs == {"_ZN1a1fEv": RegallocCost(2, 3.5, 1, 1.0, 1, 2.0, 4, 4.0)}
    assert costs["_ZN1a1fEv"].weighted() == pytest.approx(10.5)
    assert costs["_ZN1a1fEv"].weighted({"copies_cost": 0.5}) == pytest.approx(8.5)


def test_missing_remarks_mean_no_spills(tmp_path):
    assert read_regalloc_remarks(tmp_path / "none.yaml") == {}
