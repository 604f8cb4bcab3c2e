"""The agents' use cases: queues, cases, decisions."""
