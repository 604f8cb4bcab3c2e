"""Sign-up: the form, then the email confirmation (a link or a 6-digit code), then "confirmed".

An address that is already registered goes through the same states with the same answers; its
owner gets an email instead of a confirmation, and no account is created. The use cases
(creating the account, the emails, the confirmation) live in ``sesame.services.registration``.
"""
