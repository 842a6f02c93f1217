"""The corpus format and everything the library does with one.

- `layout`: the on-disk layout (LLVM's `corpus_description.json`, `.bc`, `.cmd`);
- `loading`: loading and validating a corpus, sampling and splitting its modules.

The tools that build corpora from real builds live in `corpus_tools/`, which
uses this package; nothing in `compiler_opt` imports `corpus_tools`.
"""
