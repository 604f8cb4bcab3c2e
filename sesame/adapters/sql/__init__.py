"""SQLAlchemy adapter: engine, models, repositories and the unit of work."""
