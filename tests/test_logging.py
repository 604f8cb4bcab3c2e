"""Logging: one configuration for structlog and the standard library, and no secret in any line."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from sesame.config import Settings
from sesame.logging import REDACTED, configure_logging, is_secret_key, scrub_text

SECRETS = ("hunter2", "123456", "4321", "tok_live_abcdef", "s3cr3t-value", "ABCDEFGH1234", "Zm9vOmJhcg")


@pytest.fixture
def log_output(settings: Settings) -> Iterator[io.StringIO]:
    """Logging configured as JSON into a buffer; the root logger restored afterwards."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    buffer = io.StringIO()
    configure_logging(settings.model_copy(update={"log_json": True, "log_level": "debug"}), stream=buffer)
    yield buffer
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])
    structlog.contextvars.clear_contextvars()


def _lines(buffer: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line]


def test_secret_keys_are_redacted(log_output: io.StringIO) -> None:
    log = structlog.get_logger("sesame.test")
    log.info(
        "login.attempt",
        email="camille@example.fr",
        password="hunter2",
        sms_code="123456",
        pin="4321",
        access_token="tok_live_abcdef",
        client_secret="s3cr3t-value",
        headers={"Authorization": "Bearer ABCDEFGH1234", "Cookie": "sesame_csrf=Zm9vOmJhcg", "Accept": "text/html"},
        status_code=200,
    )
    output = log_output.getvalue()
    for secret in SECRETS:
        assert secret not in output
    (line,) = _lines(log_output)
    assert line["password"] == REDACTED and line["sms_code"] == REDACTED and line["pin"] == REDACTED
    assert line["headers"] == {"Authorization": REDACTED, "Cookie": REDACTED, "Accept": "text/html"}
    assert line["email"] == "camille@example.fr"  # not a secret: stays readable
    assert line["status_code"] == 200


def test_secrets_inside_text_are_scrubbed(log_output: io.StringIO) -> None:
    logging.getLogger("uvicorn.error").warning("callback GET /cb?code=ABCDEFGH1234&state=xyz failed")
    structlog.get_logger("sesame.test").info("token request: Authorization: Basic Zm9vOmJhcg")
    output = log_output.getvalue()
    assert "ABCDEFGH1234" not in output and "Zm9vOmJhcg" not in output
    assert "state=xyz" in output and f"code={REDACTED}" in output


def test_exceptions_are_logged_without_secrets(log_output: io.StringIO) -> None:
    parameters = ("hunter2", 42)
    try:
        raise ValueError(f"(statement)\n[parameters: {parameters!r}]")
    except ValueError:
        structlog.get_logger("sesame.test").exception("save.failed", password="hunter2")
    output = log_output.getvalue()
    assert "hunter2" not in output
    (line,) = _lines(log_output)
    assert "ValueError" in str(line["exception"])


def test_standard_library_lines_go_through_the_same_pipeline(log_output: io.StringIO) -> None:
    structlog.contextvars.bind_contextvars(correlation_id="req-0001")
    logging.getLogger("some.library").info("a line from a library with password=%s", "hunter2")
    structlog.get_logger("sesame.test").info("ours")
    lines = _lines(log_output)
    assert [line["correlation_id"] for line in lines] == ["req-0001", "req-0001"]
    assert lines[0]["logger"] == "some.library" and lines[0]["level"] == "info"
    assert "hunter2" not in log_output.getvalue()


def test_the_level_is_respected(settings: Settings) -> None:
    buffer = io.StringIO()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        configure_logging(settings.model_copy(update={"log_level": "warning"}), stream=buffer)
        structlog.get_logger("sesame.test").info("quiet")
        structlog.get_logger("sesame.test").warning("loud", detail="x")
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    assert "quiet" not in buffer.getvalue()
    assert "loud" in buffer.getvalue() and "detail=x" in buffer.getvalue()  # the console format


def test_reconfiguring_replaces_our_handler_only(settings: Settings) -> None:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    other = logging.NullHandler()
    root.addHandler(other)
    try:
        configure_logging(settings, stream=io.StringIO())
        configure_logging(settings, stream=io.StringIO())
        assert other in root.handlers
        assert sum(1 for h in root.handlers if h.get_name() == "sesame") == 1
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])


@pytest.mark.parametrize(
    ("key", "secret"),
    [
        ("password", True),
        ("new_password", True),
        ("Set-Cookie", True),
        ("csrf_token", True),
        ("otp", True),
        ("sms_code", True),
        ("activationCode", True),
        ("pin", True),
        ("code_verifier", True),
        ("authorization", True),
        ("status_code", False),
        ("email", False),
        ("shipping", False),
        ("postcode", False),
        ("opinion", False),
        ("correlation_id", False),
    ],
)
def test_which_keys_are_secret(key: str, secret: bool) -> None:
    assert is_secret_key(key) is secret


def test_scrub_text() -> None:
    assert scrub_text("GET /authorize?client_id=x&code=abc") == f"GET /authorize?client_id=x&code={REDACTED}"
    assert scrub_text("Bearer eyJhbGciOi.x.y") == f"Bearer {REDACTED}"
    assert scrub_text("nothing to hide") == "nothing to hide"
