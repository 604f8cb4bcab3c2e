"""The keypad login flow (customer-number tenants: the bank): customer number and a code clicked
on a randomized keypad, then, for a first code or a code sent by post, "choose your new code".

The same flow, started from "secure my access", blocks the access instead of opening a
session. Files as in every flow: flow.py, states.py, steps.py, states.mmd.
"""
