"""The token endpoint (RFC 6749 §3.2): client authentication (§2.3) and one module per grant type."""
