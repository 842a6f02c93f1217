"""Fixtures for the corpus tests: one real module, as a corpus holds it."""

from tests.corpus.helpers import module_files  # noqa: F401 (the fixture, for every test here)
