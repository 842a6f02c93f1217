"""The real-data fixtures of the ES tests (small sample modules, their feature spec and vocabulary)."""

from tests.rl.conftest import labels, rl_modules, rl_spec, rl_vocab, sample_corpus, small_network  # noqa: F401
