"""The reference flow: the smallest journey that uses every part of the flow machinery.

It asks a name, asks to confirm it (or modify it), and greets. Real flows (registration,
login, recovery, proofing...) have the same files: flow.py, states.py, steps.py, states.mmd.
"""
