"""Web routes: oidc."""
