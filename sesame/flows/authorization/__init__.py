"""The authorization flow: an OpenID Connect authorization request waiting for a login and a consent.

The OIDC layer never draws the login page: this flow hands the person to the login flow and
resumes when they come back, shows the consent page, then issues the grant and its code.
Files as in every flow: flow.py, states.py, steps.py, states.mmd.
"""
