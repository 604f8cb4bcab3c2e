"""Self-service journeys as persisted state machines; every flow package has the same files."""
