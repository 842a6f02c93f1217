"""BC's labels: the default's decisions, or another built-in's (`trainer_config.label_policy`), with real features."""

from __future__ import annotations

import numpy as np

from compiler_opt.collect.trajectory_dataset import read_trajectories
from compiler_opt.llvm.toolchain import find_toolchain
from compiler_opt.pool.local import LocalPool
from compiler_opt.problems import get_problem
from compiler_opt.rl.labels import collect_labels

INLINING = get_problem("inlining")
LOOSE_RULE = INLINING.policy("rule:margin=100000").name


def _labels(toolchain, modules, folder, teacher):
    with LocalPool(2) as pool:
        summary = collect_labels(
            pool,
            modules,
            INLINING,
            find_toolchain(str(toolchain.clang)),
            folder / "fit",
            folder / "holdout",
            holdout_fraction=0.0,
            timeout=300.0,
            teacher=teacher,
        )
    actions = {t.module: np.asarray(t.actions).reshape(-1) for t in read_trajectories(folder / "fit")}
    return summary, actions


def test_a_teacher_labels_with_its_own_decisions(toolchain, rl_modules, rl_spec, tmp_path):
    default, default_actions = _labels(toolchain, rl_modules, tmp_path / "default", None)
    taught, taught_actions = _labels(toolchain, rl_modules, tmp_path / "rule", LOOSE_RULE)
    assert default["teacher"] == "default" and taught["teacher"] == LOOSE_RULE
    assert taught["modules_ok"] == default["modules_ok"] == len(rl_modules)
    assert set(taught_actions) == set(default_actions) == {m.name for m in rl_modules}
    # The loose rule inlines where clang does and more: more inlined call sites over the modules.
    assert sum(a.sum() for a in taught_actions.values()) > sum(a.sum() for a in default_actions.values())
