"""The demo partner service: a small website that logs its visitors in with Sésame (OpenID Connect).

It plays a partner of the demo tenants (a training site, a public service): Authlib's client does
the authorization code flow with PKCE and a nonce, the page shows the claims received, "Se
déconnecter" uses RP-initiated logout, and Sésame's back-channel logouts end its own sessions.
Run it with ``python -m sesame_demo_partner`` (``make run`` does) on http://127.0.0.1:8001.
"""
