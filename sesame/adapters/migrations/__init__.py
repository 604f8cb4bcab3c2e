"""Alembic migrations; run them with ``sesame db upgrade``."""
