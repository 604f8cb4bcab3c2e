"""Web routes: app."""
