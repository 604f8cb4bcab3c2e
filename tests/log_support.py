"""Log lines (and command output) for the tests that look for secrets in them, without the fields
that differ by chance.

Every log line carries its time to the microsecond, and every request a random correlation id
(32 hexadecimal digits). A given 6-digit code equals a line's microseconds once in a million
lines, and sits in a correlation id about once in 600,000 ids: a journey logs a few hundred of
each, so "the code is not in the log" would fail about once in a few thousand runs with no secret
written. These two fields are blanked before looking; everything else stays as it was written.
"""

from __future__ import annotations

import re

#: An ISO 8601 time as the log lines write it (JSON or console), with its fraction and offset.
_TIME_RE = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)?")
#: A correlation id, as a JSON member (``"correlation_id": "..."``) or a console ``key=value``.
_CORRELATION_ID_RE = re.compile(r"""(correlation_id["']?\s*[:=]\s*["']?)[0-9a-f]{32}""")


def without_random_fields(text: str) -> str:
    """``text`` with its times and correlation ids blanked."""
    return _CORRELATION_ID_RE.sub(r"\1<id>", _TIME_RE.sub("<time>", text))
