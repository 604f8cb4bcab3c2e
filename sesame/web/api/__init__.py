"""Web routes: api."""
