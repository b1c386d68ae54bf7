"""Broken on purpose: see the entry points."""
