"""The policy: feature spec, vocabulary, preprocessing, networks, fast numpy form and saved form.

Modules (import what you need; this package imports nothing on its own, and
only `layers`, `networks` and the TF parts of `saved` load TensorFlow):

    features       FeatureSpec from a compiler header; check_compatible
    vocab          quantile bucket boundaries (MLGO's vocab/<feature>.buckets)
    preprocessing  numpy preprocessing (bucket index in [0, 1], sqrt, square)
    config         NetworkConfig (gin: network_config.*)
    layers         the same preprocessing as a Keras layer
    networks       tf-agents actor and value networks (gin-configurable)
    fast           FastPolicy: the actor in numpy, for the compile loop (no TF)
    saved          SavedModel with LLVM's signature; loading into TF and the fast form
"""
