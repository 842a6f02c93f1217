"""Learning from compiles with tf-agents: PPO and behavioral cloning, as learners of the training loop.

Modules (import what you need; this package imports nothing on its own, and
only `ppo`, `bc` and the learners built on them load TensorFlow):

    ppo           PPOLearner: tf-agents PPO (clipped objective, no discounting) on trajectory files
    ppo_training  PPOTraining: the loop's PPO learner (collect with exploration, reward, train)
    bc            BCLearner: cross-entropy against the default heuristic's decisions; agreement
    labels        the default heuristic's decisions as labels, split into training and hold-out
    bc_training   BCTraining: the loop's BC learner (labels once, one epoch per iteration)
"""
