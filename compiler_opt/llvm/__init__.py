"""Everything that runs LLVM binaries or knows their flags and byte formats.

Every external tool runs through `run` (timeout, process-group kill, stderr
tail); the one interactive compile is `compile.compile_answering` (over
`channel.InteractiveCompile`), whose failures are `failures`' typed errors.
"""
