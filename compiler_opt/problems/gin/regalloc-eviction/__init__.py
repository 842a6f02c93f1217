"""The regalloc-eviction gin files; a package, so that gin finds them from any working directory."""
