"""The factors flow: adding or removing a second factor from the account page.

An authenticator app (TOTP, by QR code), a passkey, a new set of recovery codes, or removing
one of them. Every change needs a fresh authentication (the password again when the login is
older than ``MfaPolicy.fresh_auth_seconds``), sends an email and is audited. Same files as
every flow: flow.py, states.py, steps.py, states.mmd.
"""
