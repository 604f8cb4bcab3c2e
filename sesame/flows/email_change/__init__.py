"""The email change flow: a new address, proven by a code (or the link) sent to it.

Started from the account page by a logged-in person, with the current password asked again.
The link in the email works from any browser (``/{tenant}/account/email/confirm``); the code
is typed here. Same files as every flow: flow.py, states.py, steps.py, states.mmd.
"""
