"""Sésame: an open-source customer identity platform."""

__version__ = "0.1.0"
