"""Web routes: pages."""
