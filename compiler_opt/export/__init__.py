"""Export a trained policy into the forms LLVM uses, prove they decide alike, and compile with it today.

- `exporter.export_policy`: SavedModel (`saved_model`), TFLite (`tflite`) and
  XLA AOT (`aot`) exports, checked decision by decision (`verify`) with the
  C++ harness in `cc/` (`harness`) on recorded observations (`observations`).
- `dropin`: `mlgo cc` / `mlgo-clang`, a drop-in compiler answering a stock
  clang's advisor with the policy's numpy form (no TensorFlow on that path).
"""
