"""No log line written while someone signs up, confirms, logs in and changes their password holds a
password (or the confirmation code).

The app's own logging configuration (JSON, debug level) writes into a buffer; the journey runs
through the real pages with TestClient, wrong inputs included, since refusals are where a careless
log line would dump what was typed.
"""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator

import pytest
import structlog
from fastapi import FastAPI
from fastapi.testclient import TestClient

from sesame.bootstrap import Container
from sesame.logging import configure_logging
from sesame.services.outbox import list_messages
from tests.log_support import without_random_fields

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
STATE_RE = re.compile(r'data-flow-state="([a-z_]+)"')
CODE_RE = re.compile(r"^(\d{6})$", re.MULTILINE)
EMAIL = "paul.lefebvre@example.fr"
WEAK = "azertyuiop"
PASSWORD = "Colis-Vert-Lundi-2026"
WRONG = "Colis-Rouge-Mardi-1999"
NEW_PASSWORD = "Timbre-Jaune-Jeudi-77"


@pytest.fixture
def log_output(app: FastAPI, container: Container) -> Iterator[io.StringIO]:
    """The app's logging (installed by create_app) redirected, as JSON at debug level, to a buffer."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    buffer = io.StringIO()
    settings = container.settings.model_copy(update={"log_json": True, "log_level": "debug"})
    configure_logging(settings, stream=buffer)
    yield buffer
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])
    structlog.contextvars.clear_contextvars()


class Page:
    """The page a flow URL shows now, with its CSRF token and state."""

    def __init__(self, client: TestClient, url: str) -> None:
        self.client, self.url = client, url
        self.html = client.get(url).text

    @classmethod
    def start(cls, client: TestClient, path: str) -> Page:
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303, response.text
        return cls(client, response.headers["location"])

    @property
    def state(self) -> str:
        match = STATE_RE.search(self.html)
        assert match, self.html[:500]
        return match.group(1)

    def submit(self, **data: str) -> Page:
        token = CSRF_RE.search(self.html)
        assert token
        self.client.post(self.url, data={"csrf_token": token.group(1), "step": self.state, **data})
        return Page(self.client, self.url)


def confirmation_code(container: Container) -> str:
    (entry,) = [e for e in list_messages(container.uow) if e.message.recipient == EMAIL]
    match = CODE_RE.search(entry.message.body_text)
    assert match
    return match.group(1)


def test_no_password_or_code_in_any_log_line(client: TestClient, container: Container, log_output: io.StringIO) -> None:
    person = {"given_name": "Paul", "family_name": "Lefebvre", "email": EMAIL, "terms": "on"}
    sign_up = Page.start(client, "/laposte/register")
    refused = sign_up.submit(**person, password=WEAK, password_confirmation=WEAK)
    assert refused.state == "form"
    sent = refused.submit(**person, password=PASSWORD, password_confirmation=PASSWORD)
    assert sent.state == "check_email"
    code = confirmation_code(container)
    assert sent.submit(action="code", code=code).state == "done"

    login = Page.start(client, "/laposte/login")
    assert login.submit(identifier=EMAIL, password=WRONG).state == "credentials"
    assert login.submit(identifier=EMAIL, password=PASSWORD).state == "done"

    change = Page.start(client, "/laposte/account/password")
    wrong_current = change.submit(current_password=WRONG, new_password=NEW_PASSWORD, new_password_confirm=NEW_PASSWORD)
    assert wrong_current.state == "change_password"
    changed = wrong_current.submit(
        current_password=PASSWORD, new_password=NEW_PASSWORD, new_password_confirm=NEW_PASSWORD
    )
    assert changed.state == "done"

    output = log_output.getvalue()
    lines = [json.loads(line) for line in output.splitlines() if line]
    paths = {line.get("path") for line in lines if line.get("event") == "request"}
    # The journey was logged (so the check below looked at real lines)...
    assert {"/laposte/register", "/laposte/login", "/laposte/account/password"} <= paths
    assert any(line.get("logger") == "sesame.access" and line.get("method") == "POST" for line in lines)
    # ...and not one of its lines holds what was typed as a secret (the times and correlation ids
    # aside: the code's 6 digits turn up in those by chance).
    written = without_random_fields(output)
    for secret in (WEAK, PASSWORD, WRONG, NEW_PASSWORD, code):
        assert secret not in written, secret
