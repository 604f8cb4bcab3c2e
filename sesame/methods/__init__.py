"""Credential strategies a flow can offer (password, keypad, codes, app, TOTP, passkey): one module each."""
