"""Fixtures of the web tests: the app over the test database with the demo tenants, and a client.

The client talks to ``https://testserver``: cookies are Secure, and a cookie jar only sends
those back over HTTPS.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from starlette.exceptions import StarletteDeprecationWarning

from sesame.bootstrap import Container
from sesame.services.demo import load_demo
from sesame.web.app import create_app

with warnings.catch_warnings():
    # Starlette asks for httpx2 instead of httpx (until the dev dependencies name it); the
    # client works the same. Imported once here, so no test module's import warns again.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

BASE_URL = "https://testserver"


@pytest.fixture
def app(container: Container) -> FastAPI:
    load_demo(container.tenants)
    return create_app(container)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url=BASE_URL) as client:
        yield client
