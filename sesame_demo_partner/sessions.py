"""The partner's own sessions, kept on the server so that a back-channel logout can end them.

The cookie holds a random id only. A session's data (the person's claims, the ID token for
logout, Authlib's state) lives in this process's memory: enough for a one-process demo. The
ASGI middleware gives handlers ``request.session`` (a dict, as Authlib expects) and stores it
back, under a fresh id when the handler asked for one (after login: no session fixation).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from http.cookies import SimpleCookie
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

COOKIE_NAME = "partner_session"
IDLE_SECONDS = 8 * 3600
#: ``scope`` key a handler sets to get a new session id for this response.
REGENERATE_KEY = "partner_session_regenerate"


class SessionStore:
    """Sessions by id, each forgotten after :data:`IDLE_SECONDS` without use."""

    def __init__(self, idle_seconds: float = IDLE_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self._idle = idle_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._sessions: dict[str, tuple[float, dict[str, Any]]] = {}

    def load(self, session_id: str) -> dict[str, Any] | None:
        with self._lock:
            entry = self._sessions.get(session_id)
            if entry is None or entry[0] + self._idle <= self._clock():
                self._sessions.pop(session_id, None)
                return None
            return dict(entry[1])

    def save(self, session_id: str, data: dict[str, Any]) -> None:
        with self._lock:
            self._sessions[session_id] = (self._clock(), dict(data))

    def delete(self, session_id: str) -> None:
        with self._lock:
            self._sessions.pop(session_id, None)

    def end_logins(self, matches: Callable[[dict[str, Any]], bool]) -> int:
        """Forget the login of every session whose data ``matches`` (back-channel logout)."""
        with self._lock:
            ended = [sid for sid, (_, data) in self._sessions.items() if matches(data)]
            for session_id in ended:
                del self._sessions[session_id]
        return len(ended)


def regenerate(connection: HTTPConnection) -> None:
    """Store this request's session under a new id (call it when the person logs in)."""
    connection.scope[REGENERATE_KEY] = True


class SessionMiddleware:
    """``request.session`` backed by a :class:`SessionStore`, with an ``HttpOnly; SameSite=Lax`` cookie."""

    def __init__(self, app: ASGIApp, store: SessionStore, *, secure: bool = False) -> None:
        self.app = app
        self.store = store
        self.secure = secure

    def _cookie(self, value: str, max_age: int) -> str:
        attributes = f"{COOKIE_NAME}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax"
        return attributes + ("; Secure" if self.secure else "")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cookie = SimpleCookie()
        cookie.load(HTTPConnection(scope).headers.get("cookie", ""))
        sent_id = cookie[COOKIE_NAME].value if COOKIE_NAME in cookie else None
        loaded = self.store.load(sent_id) if sent_id else None
        scope["session"] = session = loaded if loaded is not None else {}

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                self._store(scope, session, sent_id if loaded is not None else None, MutableHeaders(scope=message))
            await send(message)

        await self.app(scope, receive, send_with_cookie)

    def _store(self, scope: Scope, session: dict[str, Any], session_id: str | None, headers: MutableHeaders) -> None:
        if session_id is not None and (not session or scope.get(REGENERATE_KEY)):
            self.store.delete(session_id)
            session_id = None
            if not session:
                headers.append("set-cookie", self._cookie("", 0))
        if not session:
            return
        if session_id is None:
            session_id = secrets.token_urlsafe(32)
            headers.append("set-cookie", self._cookie(session_id, IDLE_SECONDS))
        self.store.save(session_id, session)
