"""Compiling modules under a policy and keeping what the compiles produce.

- `actor`: `act`, the one compile of one module under a decide callable (or the
  advisor off), which everything that compiles a module calls;
- `trace`, `decision_log`: `mlgo trace`'s compile, its decisions in LLVM's log format;
- `compile_job`: the compile jobs workers run (one module, one policy);
- `replay`: replaying decisions into a compile, and the two-compile default labels;
- `baseline`: `BaselineCache`, the default heuristic's score per module, on disk;
- `rollouts`: compiling modules under a policy against their baselines, counted (`CollectFigures`);
- `reward`: the reward of a compile against its baseline, with per-module moving averages;
- `trajectories`: a module's trajectory as numpy arrays (for workers), and the
  TFRecord files and tf.data pipeline that carry them to the learner (TensorFlow
  is imported only there, and only when those functions are called);
- `vocab_traces`: observation samples for a problem's feature vocabulary.

The jobs run on a worker pool (`compiler_opt.pool`).
"""
