"""The keypad code: six digits clicked on a randomized keypad (the bank, seed 002).

``codes`` hashes and checks the code (argon2id over a keyed hash: the server's pepper makes a
stolen database alone useless for guessing); ``recovery_codes`` are the one-time codes sent by
post to reopen an access; ``login`` checks a customer number and code for the login flow, with
the tenant's lockout. The layout of the keys and the rules of a good code are pure domain
(``sesame.domain.keypad``).
"""
