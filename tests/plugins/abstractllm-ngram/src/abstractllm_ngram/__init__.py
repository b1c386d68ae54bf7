"""A third-party AbstractLLM backend used to prove the plugin system: provider ``ngram``."""
