"""Log configuration: structlog for our code, the standard library's loggers routed through it.

Every line carries the request's correlation id (bound in a contextvar by the web middleware),
and goes through :func:`redact_secrets` last, so that no password, code or token reaches a log.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping
from typing import Any, TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from sesame.config import Settings

REDACTED = "[redacted]"

#: Key fragments that mark a secret wherever they appear in a key ("new_password", "set-cookie").
_SECRET_SUBSTRINGS = ("password", "passwd", "passphrase", "secret", "token", "authorization", "cookie", "csrf")
#: Short words that mark a secret only as a whole word of the key ("otp", "sms_code"; not "shipping").
_SECRET_WORDS = frozenset({"code", "otp", "pin", "pwd", "apikey", "verifier", "sid"})
#: Keys that contain a secret word but hold none; kept readable because they matter when debugging.
_SAFE_KEYS = frozenset(
    {
        "status_code",
        "error_code",
        "exit_code",
        "country_code",
        "postal_code",
        "zip_code",
        "language_code",
        "response_code",
    }
)
_WORD_SPLIT = re.compile(r"[^A-Za-z0-9]+|(?<=[a-z0-9])(?=[A-Z])")
# Secrets hidden inside free text: query strings ("?code=1234"), bearer tokens, SQL parameters.
_TEXT_PATTERNS = (
    (
        re.compile(
            r"(?i)\b((?:[a-z_]*_)?(?:password|passwd|pwd|code|otp|pin|token|secret|csrf_token|code_verifier))"
            r"=[^&\s\"']+"
        ),
        r"\1=" + REDACTED,
    ),
    (re.compile(r"(?i)\b(bearer|basic)\s+[a-z0-9._~+/=-]+"), r"\1 " + REDACTED),
    (re.compile(r"\[parameters: .*?\]\n?", re.DOTALL), "[parameters: " + REDACTED + "]\n"),
)
#: Marks the handler we install, so that reconfiguring replaces it and leaves others (pytest's) alone.
_HANDLER_NAME = "sesame"


def is_secret_key(key: str) -> bool:
    """Whether a log key names something that must never be written out."""
    lowered = key.lower()
    if lowered in _SAFE_KEYS:
        return False
    if any(fragment in lowered for fragment in _SECRET_SUBSTRINGS):
        return True
    words = {word.lower() for word in _WORD_SPLIT.split(key) if word}
    return bool(words & _SECRET_WORDS)


def scrub_text(text: str) -> str:
    """Hide secrets that travel inside a string (a URL with ``?code=``, an ``Authorization`` value)."""
    for pattern, replacement in _TEXT_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _redact(value: Any) -> Any:
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, Mapping):
        return {k: REDACTED if isinstance(k, str) and is_secret_key(k) else _redact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_redact(item) for item in value)
    return value


def redact_secrets(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """structlog processor: replace the values of secret-looking keys, scrub secrets out of text."""
    for key, value in list(event_dict.items()):
        if key.startswith("_"):  # structlog's own bookkeeping (_record, _from_structlog)
            continue
        event_dict[key] = REDACTED if is_secret_key(key) else _redact(value)
    return event_dict


class _CurrentStderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is now (test runners swap it between tests)."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


def _shared_processors() -> list[Processor]:
    # format_exc_info turns tracebacks into text before redaction, so they are scrubbed too;
    # no processor renders local variables (they would hold passwords).
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
        redact_secrets,
    ]


def _renderer(json: bool) -> Processor:
    if json:
        return structlog.processors.JSONRenderer(sort_keys=False, ensure_ascii=False)
    return structlog.dev.ConsoleRenderer(
        colors=False, exception_formatter=structlog.dev.plain_traceback, sort_keys=False
    )


def configure_logging(settings: Settings, *, stream: TextIO | None = None) -> None:
    """Configure structlog and the standard library's root logger from the settings.

    ``stream`` is where lines go (default: the current standard error); tests pass a buffer.
    """
    shared = _shared_processors()
    handler: logging.Handler = logging.StreamHandler(stream) if stream is not None else _CurrentStderrHandler()
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, _renderer(settings.log_json)],
        )
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_level.upper())
    # uvicorn's own lines go through our handler; its access log is replaced by ours (no query strings).
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True
    # fpdf2 subsets fonts through fontTools, which narrates every table at INFO (letters' PDFs).
    logging.getLogger("fontTools").setLevel(max(logging.WARNING, root.level))

    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        # Not cached: reconfiguring (tests, a second app in one process) must take effect at once.
        cache_logger_on_first_use=False,
    )
