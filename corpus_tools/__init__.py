"""Tools that make, combine, inspect and build corpora in LLVM's mlgo layout."""
