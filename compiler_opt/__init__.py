"""compiler_opt: the library behind the `mlgo` command.

Training machine-learned compiler heuristics (MLGO) against a stock clang:
`llvm` drives the compiler, `problems` holds one plug-in per decision the
compiler delegates, and the learners, exporter and reports build on them.

TensorFlow with tf-agents needs Keras 2 (`tf-keras`), which TensorFlow only
picks when `TF_USE_LEGACY_KERAS=1` is set before its first import. Setting it
here, before any submodule can import TensorFlow, is the one thing this package
does on import; a user's explicit setting wins.
"""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
