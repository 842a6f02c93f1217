"""The corpus format and everything the library does with one.

- `layout`: the on-disk layout (LLVM's `corpus_description.json`, `.bc`, `.cmd`);
- `loading`: loading and validating a corpus (`load_corpus`, `Corpus`, `ModuleSpec`);
- `sampling`: seeded, size-stratified samples of its modules;
- `splitting`: training/validation (and other) splits, by library or by module name;
- `programs`: the runnable benchmark programs its description names.

The tools that build corpora from real builds live in `corpus_tools/`, which
uses this package; nothing in `compiler_opt` imports `corpus_tools`.
"""
