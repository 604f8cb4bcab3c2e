"""Settings: the only module that reads the environment.

Every setting is an environment variable prefixed with ``SESAME_``. The reference page
``docs/configuration.md`` is generated from this module (``sesame config docs``), so the
field descriptions below are the documentation.
"""

from __future__ import annotations

import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: Where runtime state lives by default (database, secret key, stored letters).
DEFAULT_VAR_DIR = Path("var")


class Settings(BaseSettings):
    """Sésame's configuration, read from ``SESAME_*`` environment variables (or a ``.env`` file)."""

    model_config = SettingsConfigDict(env_prefix="SESAME_", env_file=".env", extra="ignore")

    var_dir: Annotated[
        Path,
        Field(
            description="Folder for runtime state: the SQLite database, the generated secret key, the embedded stores."
        ),
    ] = DEFAULT_VAR_DIR
    database_url: Annotated[
        str,
        Field(
            description="SQLAlchemy URL of the database. Default: a SQLite file "
            "under `var/`. Production: `postgresql+psycopg://user:pass@host/db`."
        ),
    ] = ""
    redis_url: Annotated[
        str,
        Field(
            description="Optional Redis URL (`redis://127.0.0.1:6379/0`). When set, "
            "rate-limit and lockout counters live in Redis instead of the database."
        ),
    ] = ""
    base_url: Annotated[
        str,
        Field(
            description="Public URL of the server, without trailing slash. Each tenant's "
            "issuer is `{base_url}/{tenant}`."
        ),
    ] = "http://127.0.0.1:8000"
    secret_key: Annotated[
        str,
        Field(
            description="Server secret (CSRF tokens, keyed hashes, encryption keys "
            "are derived from it). Generated into `var/secret_key` on first run "
            "when unset; keep it stable across restarts and nodes.",
            repr=False,
        ),
    ] = ""
    smtp_url: Annotated[
        str,
        Field(
            description="Optional SMTP server for email, "
            "`smtp://user:pass@host:587?starttls=1` or `smtps://host:465`. When unset, "
            "emails are kept in the embedded store and shown in the dev inbox."
        ),
    ] = ""
    smtp_sender: Annotated[str, Field(description="Envelope and From address of outgoing email.")] = (
        "Sésame <no-reply@sesame.localhost>"
    )
    sms_url: Annotated[
        str,
        Field(
            description="Optional HTTP endpoint of an SMS provider (JSON POST). When unset, "
            "SMS are kept in the embedded store and shown in the dev inbox."
        ),
    ] = ""
    dev_mode: Annotated[
        bool,
        Field(
            description="Development mode: dev inbox at `/_dev/outbox`, one worker by "
            "default, verbose errors in the log (never in pages)."
        ),
    ] = False
    log_level: Annotated[
        Literal["debug", "info", "warning", "error"], Field(description="Minimum level of log lines.")
    ] = "info"
    log_json: Annotated[
        bool, Field(description="Write log lines as JSON (one object per line) instead of the human console format.")
    ] = False
    argon2_time_cost: Annotated[int, Field(ge=1, description="argon2id iterations for passwords and codes.")] = 3
    argon2_memory_cost: Annotated[int, Field(ge=8, description="argon2id memory in KiB.")] = 65536
    argon2_parallelism: Annotated[int, Field(ge=1, description="argon2id lanes.")] = 4
    outbox_poll_seconds: Annotated[
        float, Field(gt=0, description="How often the delivery worker looks for due messages.")
    ] = 1.0
    outbox_max_attempts: Annotated[
        int, Field(ge=1, description="Delivery attempts before a message is marked dead and reported.")
    ] = 12
    outbox_worker: Annotated[
        bool,
        Field(
            description="Run the outbox delivery worker inside the web server "
            "process(es). Turn off when a separate `sesame outbox work` runs."
        ),
    ] = True
    max_upload_bytes: Annotated[
        int,
        Field(
            ge=1024,
            description="Largest request body accepted, in bytes "
            "(uploads of identity documents are 3 MB each at most).",
        ),
    ] = 8 * 1024 * 1024

    @field_validator("base_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    # -- derived values -------------------------------------------------------------------

    @property
    def is_https(self) -> bool:
        return self.base_url.startswith("https://")

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.var_dir / 'sesame.db').as_posix()}"

    def resolved_secret_key(self) -> str:
        """The configured secret, or the one generated into ``var/secret_key`` on first use."""
        if self.secret_key:
            return self.secret_key
        path = self.var_dir / "secret_key"
        if path.exists():
            return path.read_text(encoding="ascii").strip()
        self.var_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        # O_EXCL: two workers starting at once must agree on one key.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path.read_text(encoding="ascii").strip()
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(key + "\n")
        return key


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()


def settings_reference() -> str:
    """Markdown reference of every setting, generated from the model (docs/configuration.md)."""
    lines = [
        "# Configuration",
        "",
        "<!-- Generated by `sesame config docs` from sesame/config.py; do not edit by hand. -->",
        "",
        "Sésame reads its configuration from environment variables (or a `.env` file in the working",
        "directory). Every variable starts with `SESAME_`.",
        "",
        "| variable | type | default | description |",
        "| --- | --- | --- | --- |",
    ]
    for name, field in Settings.model_fields.items():
        env = f"SESAME_{name.upper()}"
        annotation = field.annotation
        type_name = getattr(annotation, "__name__", str(annotation)).replace("typing.", "")
        if str(annotation).startswith("typing.Literal"):
            type_name = " \\| ".join(repr(a) for a in annotation.__args__)  # type: ignore[union-attr]
        default = field.default
        shown = "*(generated)*" if name == "secret_key" else (f"`{default}`" if default != "" else "*(unset)*")
        lines.append(f"| `{env}` | {type_name} | {shown} | {field.description or ''} |")
    lines.append("")
    return "\n".join(lines)
