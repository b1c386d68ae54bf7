"""Providers whose routing core knows without importing any backend."""
