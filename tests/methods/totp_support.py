"""A wrong authenticator-app code for tests: one the app of a seed does not show around a moment.

A fixed "000000" typed as the wrong code is right by chance: the server accepts the current time
step and one either side, three codes in a million for a random seed.
"""

from __future__ import annotations

from datetime import datetime

import pyotp

#: Candidates: the app shows five codes within two steps of a moment, so one of six is never shown.
_CANDIDATES = ("000000", "111111", "222222", "333333", "444444", "555555")


def wrong_code(seed: str, at: datetime | float) -> str:
    """A 6-digit code that ``seed``'s app shows at no step within two of ``at``."""
    moment = at.timestamp() if isinstance(at, datetime) else at
    shown = {pyotp.TOTP(seed).at(moment + 30 * step) for step in range(-2, 3)}
    return next(code for code in _CANDIDATES if code not in shown)
