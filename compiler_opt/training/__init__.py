"""The training loop, apart from the learners it drives.

Modules (this package imports nothing on its own):

    learner     the `Learner` protocol a learning algorithm implements, and an iteration's figures
    setup       a run before its first iteration: configuration, corpus split, compiler, policy parts
    loop        run_training: the iterations, checkpoints, saved policy, logs, budget; resumable after a kill
    run_folder  the run folder's layout and its atomic writers (config, log, state, checkpoints)
    config      TrainerConfig (gin: train.trainer_config.*)
    gin_config  the problem's gin file for an algorithm; parsing and checking a run's configuration
    gin_types   checking gin bindings against the configurables' annotations
    memory      peak resident memory of a process tree
"""
