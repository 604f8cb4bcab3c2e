"""The recovery flow ("Mot de passe oublié"): an email address, the link or 6-digit code sent to it,
a new password, then the login page.

Its answers never tell whether the address has an account; the reset ends every session of
the account and does not log the person in (see ``sesame.services.recovery``).
"""
