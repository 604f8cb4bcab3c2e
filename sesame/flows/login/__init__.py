"""The login flow: identifier and password, then what the account still owes before a session.

An unconfirmed email (when the tenant requires one), a password change asked by support or
fraud detection, and a review of the personal data come before the session is opened. Files
as in every flow: flow.py, states.py, steps.py, states.mmd.
"""
