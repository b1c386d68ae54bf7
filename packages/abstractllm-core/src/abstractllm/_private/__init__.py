"""Core's internals. They may change in any release: users import from :mod:`abstractllm`,
plugin authors from :mod:`abstractllm.backend` and the modules it names."""
