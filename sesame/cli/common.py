"""What every CLI command shares: the container, JSON output, errors for people."""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from enum import Enum
from typing import Any, NoReturn

import typer
from pydantic import BaseModel

from sesame.bootstrap import Container, build_container
from sesame.config import get_settings
from sesame.domain.errors import DomainError
from sesame.logging import configure_logging

JsonOption = typer.Option(False, "--json", help="Print machine-readable JSON instead of text.")


@contextmanager
def container() -> Iterator[Container]:
    """The process's container, closed when the command ends; log lines go to standard error,
    so that standard output carries only the command's data (``--json`` stays parseable)."""
    settings = get_settings()
    configure_logging(settings)
    built = build_container(settings)
    try:
        yield built
    finally:
        built.close()


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, bytes):
        return None
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, default=_default, ensure_ascii=False, indent=2) + "\n")


def fail(message: str, code: int = 1) -> NoReturn:
    """Print an error for a person on stderr and exit non-zero."""
    typer.secho(f"Error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


@contextmanager
def domain_errors() -> Iterator[None]:
    """Turn domain errors into a one-line message and exit code 1 instead of a traceback."""
    try:
        yield
    except DomainError as error:
        fail(str(error))
