"""Learning from compiles: rewards, tf-agents PPO, behavioral cloning, and the training loop.

Modules (import what you need; this package imports nothing on its own, and
only `ppo`, `bc` and the trainer's learning steps load TensorFlow):

    reward      relative size against the baseline, minus a per-module moving average
    ppo         PPOLearner: tf-agents PPO (clipped objective, no discounting) on trajectory files
    bc          BCLearner: cross-entropy against the default heuristic's decisions; agreement
    collection  one iteration's compiles on the pool -> rewards -> TFRecord shards; default labels
    config      TrainerConfig (gin: train.trainer_config.*)
    run_folder  the run folder's layout and its atomic writers (config, log, state, checkpoints)
    memory      peak resident memory of a process tree
    trainer     train(options, pool): the loop behind `mlgo train`, resumable after a kill
"""
