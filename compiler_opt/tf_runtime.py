"""The one place the project imports TensorFlow (with tf-agents): quietly.

Importing them prints a dozen lines before the project says anything: CUDA
plugin registration errors, XLA placer warnings and a failed `cuInit` on a
machine without a GPU, oneDNN and CPU-feature notices, and gym's
"unmaintained" notice (tf-agents imports gym). Most come from C++ static
initialisers that run before absl logging is set up, which
`TF_CPP_MIN_LOG_LEVEL` does not reach; so `import_tensorflow` captures the
standard error (file descriptor 2 and `sys.stderr`) during the import and
writes back every line that is not one of these known notices: a genuine error
or warning still shows. Afterwards `TF_CPP_MIN_LOG_LEVEL=2` (unless set) keeps
TensorFlow's C++ INFO and WARNING chatter out, and its errors in; two known
Python warnings (saving a tf-agents policy, autograph's generated code) are
filtered; and `without_notices()` does the same capture around TFLite's
converter and interpreter, which print their own.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import re
import sys
import tempfile
import threading
import warnings
from collections.abc import Iterator
from types import ModuleType

# What importing TensorFlow and tf-agents, and TFLite's converter and interpreter, print on a healthy machine.
NOISE = re.compile(
    "|".join(
        (
            r"Unable to register cu(FFT|DNN|BLAS) factory",
            r"All log messages before absl::InitializeLog\(\) is called are written to STDERR",
            r"computation placer already registered",
            r"Could not find cuda drivers on your machine",
            r"failed call to cuInit",
            r"oneDNN custom operations are on",
            r"This TensorFlow binary is optimized to use available CPU instructions",
            r"^To enable the following instructions: .* rebuild TensorFlow",
            r"Gym has been unmaintained since 2022",
            r"^Please upgrade to Gymnasium",
            r"^See the migration guide at https://gymnasium\.farama\.org/",
            # The TFLite converter and interpreter.
            r"tf_tfl_flatbuffer_helpers\.cc:\d+\] Ignored (output_format|drop_control_dependency)\.",
            r"MLIR V1 optimization pass is not enabled",
            r"^INFO: Created TensorFlow Lite XNNPACK delegate for CPU\.",
        )
    )
)

_lock = threading.Lock()


def import_tensorflow() -> ModuleType:
    """TensorFlow, imported with tf-agents (the first time without their start-up notices): the `tf` module."""
    with _lock:
        return _import_quietly()


@functools.cache
def _import_quietly() -> ModuleType:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with without_notices():
        import tensorflow as tf  # pylint: disable=import-outside-toplevel
        import tf_agents  # noqa: F401  pylint: disable=import-outside-toplevel,unused-import  (registers its specs)

        tf.config.list_physical_devices()  # initialises CUDA now: its failure without a GPU is noise too
    # Saving a tf-agents policy warns that loading it needs tfp imported, which loading it does; and the code
    # autograph generates from tf-agents' compares with `is not ()`.
    warnings.filterwarnings("ignore", message=r"Encoding a StructuredValue with type tfp\.", category=UserWarning)
    warnings.filterwarnings("ignore", category=SyntaxWarning, module=r".*__autograph_generated_file")
    return tf


def without_notices() -> contextlib.AbstractContextManager:
    """A block whose standard error loses TensorFlow's known notices (`NOISE`), and nothing else."""
    return stderr_without(NOISE)


@contextlib.contextmanager
def stderr_without(noise: re.Pattern) -> Iterator[None]:
    """Capture the standard error (C++ and Python writes) for the block; then write back the lines `noise` misses."""
    sys.stderr.flush()
    saved = os.dup(2)
    python_side = io.StringIO()
    with tempfile.TemporaryFile() as native_side:
        os.dup2(native_side.fileno(), 2)
        try:
            with contextlib.redirect_stderr(python_side):
                yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            native_side.seek(0)
            text = native_side.read().decode(errors="replace") + python_side.getvalue()
            sys.stderr.write("".join(line for line in text.splitlines(keepends=True) if not noise.search(line)))
            sys.stderr.flush()
