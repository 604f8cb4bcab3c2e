"""The settings flow: changing one's password from the account page, the current one asked again.

Settings are flows (DESIGN.md): a persisted, expiring journey bound to the browser, here also
bound to the logged-in account that started it. Same files as every flow: flow.py, states.py,
steps.py, states.mmd.
"""
