"""The web layer: thin translation between HTTP and services. Nothing imports it but the app factory."""
