"""Facts about a clang binary found by compiling small probe modules through the channel (`compile_answering`).

Where the inliner puts its default decision: with `-inliner-interactive-include-
default` the header gains an `inlining_default` feature, but LLVM 19.1 writes
the decision into another slot (the one its header calls
`callee_basic_block_count`) and leaves `inlining_default` at 0. Rather than
trusting a version string, the probe compiles the same module twice, always
answering "don't inline" so both runs see the same call sites: once with the
default decision included and once without. A feature present in both runs
whose values differ is where the decision really went; if none differs, the
named `inlining_default` slot holds it. The result is a 0/1 slot that must not
be all zeros, or the probe reports that default replay is unavailable.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from compiler_opt.llvm.advisors import INLINING
from compiler_opt.llvm.compile import compile_answering
from compiler_opt.llvm.log_format import LogHeader, Observation

DEFAULT_DECISION_FEATURE = "inlining_default"

# Small static helpers with several basic blocks (inlined by -Oz) next to a
# large one called from many places (not inlined): both decisions occur, and
# the real basic-block counts differ from the 0/1 decisions.
_PROBE_SOURCE = r"""
static int clamp(int v, int lo, int hi) { if (v < lo) return lo; if (v > hi) return hi; return v; }
static int pick(int a, int b) { if (a > b) { return a - b; } else { return b - a; } }
__attribute__((noinline)) int sink(int);
static int heavy(int *p, int n) {
  int acc = 0;
  for (int i = 0; i < n; i++) {
    switch (p[i] & 7) {
    case 0: acc += sink(p[i]); break;   case 1: acc -= sink(p[i] * 3); break;
    case 2: acc ^= sink(p[i] + 7); break; case 3: acc += sink(p[i] << 2); break;
    case 4: acc -= sink(p[i] >> 1); break; case 5: acc += sink(p[i] | 9); break;
    default: acc += sink(acc);
    }
    if (acc > 1000) acc = sink(acc) - sink(i);
  }
  return acc;
}
int probe_a(int *p, int n) { return heavy(p, n) + clamp(n, 0, 10); }
int probe_b(int *p, int n) { return heavy(p, n + 1) + pick(n, 3); }
int probe_c(int *p, int n) { return heavy(p, n + 2) * heavy(p, n - 1); }
"""


def probe_facts(clang: Path, advisors: frozenset[str], llvm_options: frozenset[str]) -> dict:
    """Probe-derived facts for `ToolchainProbe.facts` (JSON-serializable)."""
    facts: dict = {}
    if INLINING.name in advisors and INLINING.include_default_option in llvm_options:
        facts["inlining_default_feature"] = _find_default_decision_slot(clang)
    return facts


def _inliner_trace(clang: Path, source: Path, include_default: bool) -> tuple[list[str], list[dict]]:
    """Every decision's features compiling `source`, answering "don't inline" (0) each time."""
    argv = [str(clang), "-Oz", "-c", "-x", "c", str(source), "-o", str(source.with_suffix(".o"))]
    names: list[str] = []
    rows: list[dict] = []

    def make_decide(header: LogHeader):
        names.extend(spec.name for spec in header.features)

        def decide(observation: Observation) -> int:
            rows.append({name: observation[name].tolist() for name in names})
            return 0

        return decide

    compile_answering(argv, INLINING, make_decide, module="inliner probe", include_default=include_default, timeout=120)
    return names, rows


def _find_default_decision_slot(clang: Path) -> str | None:
    with tempfile.TemporaryDirectory(prefix="mlgo-probe-") as tmp:
        source = Path(tmp) / "probe.c"
        source.write_text(_PROBE_SOURCE)
        names_with, with_default = _inliner_trace(clang, source, include_default=True)
        names_without, without_default = _inliner_trace(clang, source, include_default=False)
    if len(with_default) != len(without_default) or not with_default:
        return None
    shared = [name for name in names_with if name in names_without]
    differing = [name for name in shared if any(a[name] != b[name] for a, b in zip(with_default, without_default))]
    if len(differing) > 1:
        return None
    slot = differing[0] if differing else DEFAULT_DECISION_FEATURE
    values = {value for row in with_default for value in row.get(slot, [None])}
    if not values <= {0, 1} or values == {0}:
        return None
    return slot
