"""Per-problem figures of a set of decisions: the inliner's inline fraction; none for the register allocators."""

from __future__ import annotations

import pytest

from compiler_opt.problems import get_problem, problem_names


def test_inlining_reports_the_fraction_of_call_sites_inlined():
    problem = get_problem("inlining")
    assert problem.decision_figures({0: 3, 1: 1}) == {"inline_fraction": 0.25}
    assert problem.decision_figures({}) == {"inline_fraction": 0.0}


@pytest.mark.parametrize("name", [n for n in problem_names() if n != "inlining"])
def test_other_problems_report_no_inline_fraction(name):
    assert get_problem(name).decision_figures({0: 3, 1: 1}) == {}
