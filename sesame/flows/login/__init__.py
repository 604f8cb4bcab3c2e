"""The login flow: identifier and password (or a passkey), then what the account still owes before a session.

A second factor (an authenticator app, a passkey, a recovery code) when the account has one, an
unconfirmed email (when the tenant requires one), a password change asked by support or
fraud detection, and a review of the personal data come before the session is opened. Files
as in every flow: flow.py, states.py, steps.py, states.mmd.
"""
