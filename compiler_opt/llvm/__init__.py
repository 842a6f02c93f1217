"""Everything that runs LLVM binaries or knows their flags and byte formats."""
