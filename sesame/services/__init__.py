"""Use cases: load, call the domain, save, emit messages and audit events, in one transaction."""
