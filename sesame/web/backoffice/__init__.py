"""Web routes: backoffice."""
