"""Data files shipped with Sésame (see README.md here)."""
