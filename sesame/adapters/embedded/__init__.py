"""Embedded default adapters: what runs with no external service configured."""
