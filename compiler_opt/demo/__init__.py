"""The main job, `mlgo demo`: from nothing to a trained, selected, evaluated, exported and reported inlining policy.

`options` holds what a demo is asked for and its `stages.json` state; `pipeline` runs the stages.
"""
