"""The embedded channels: without SMTP, an SMS provider or a print house, messages are stored.

Each one writes what it would have sent under ``var/outbox/`` (``email/*.eml``, ``sms/*.json``,
``letters/*.pdf`` with a ``.txt`` beside it), so an operator still has every message; the dev
inbox (``/_dev/outbox``, ``sesame outbox list``) reads the outbox table instead.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path

from sesame.adapters.smtp import build_mime
from sesame.domain.messages import EmailMessage, Letter, SmsMessage

DEFAULT_SENDER = "Sésame <no-reply@sesame.localhost>"
OUTBOX_ID_HEADER = "X-Sesame-Outbox-Id"


def _file_stem(hint: str = "") -> str:
    """Unique and sorted by time when listed; ``hint`` (an outbox id, a reference) helps finding it."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    safe_hint = re.sub(r"[^A-Za-z0-9_-]", "", hint)[:40]
    return "-".join(part for part in (stamp, safe_hint, uuid.uuid4().hex[:8]) if part)


def _write_atomically(path: Path, data: bytes) -> None:
    """Write then rename: a reader never sees half a message."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".part")
    temporary.write_bytes(data)
    os.replace(temporary, path)


class EmbeddedMailer:
    def __init__(self, var_dir: Path, *, sender: str = DEFAULT_SENDER) -> None:
        self.directory = Path(var_dir) / "outbox" / "email"
        self._sender = sender

    async def send_email(self, message: EmailMessage) -> None:
        data = build_mime(message, self._sender).as_bytes()
        path = self.directory / f"{_file_stem(message.headers.get(OUTBOX_ID_HEADER, ''))}.eml"
        await asyncio.to_thread(_write_atomically, path, data)


class EmbeddedSmsSender:
    def __init__(self, var_dir: Path) -> None:
        self.directory = Path(var_dir) / "outbox" / "sms"

    async def send_sms(self, message: SmsMessage) -> None:
        data = json.dumps({"to": message.to, "text": message.text}, ensure_ascii=False, indent=2)
        await asyncio.to_thread(_write_atomically, self.directory / f"{_file_stem()}.json", data.encode())


class EmbeddedLetterPrinter:
    def __init__(self, var_dir: Path) -> None:
        self.directory = Path(var_dir) / "outbox" / "letters"

    async def print_letter(self, letter: Letter) -> None:
        if not letter.pdf.startswith(b"%PDF"):
            raise ValueError("a letter needs its PDF rendering before it can be printed")
        stem = _file_stem(letter.reference)
        text = f"{letter.recipient}\n\n{letter.subject}\n\n{letter.text}"
        # The text first: whoever watches for new PDFs finds the transcript already there.
        await asyncio.to_thread(_write_atomically, self.directory / f"{stem}.txt", text.encode())
        await asyncio.to_thread(_write_atomically, self.directory / f"{stem}.pdf", letter.pdf)
