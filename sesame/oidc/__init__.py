"""OpenID Connect provider: one module per specification."""
