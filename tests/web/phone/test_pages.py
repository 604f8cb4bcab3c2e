"""The app's routes under /app: the choice of service, the shell, its manifest, icons, service worker."""

from __future__ import annotations

import json
import re
from io import BytesIO

from fastapi.testclient import TestClient
from PIL import Image

from sesame import __version__


def test_app_root_lists_the_services_that_offer_the_app(client: TestClient) -> None:
    assert client.get("/app", follow_redirects=False).headers["location"] == "/app/"
    page = client.get("/app/")
    assert page.status_code == 200
    assert 'href="/app/laposte/"' in page.text
    assert "/app/poste-ch/" not in page.text and "/app/banque/" not in page.text
    assert 'rel="manifest" href="/app/manifest.webmanifest"' in page.text


def test_the_shell_of_a_service(client: TestClient) -> None:
    page = client.get("/app/laposte/")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-cache", "no personal data: the service worker may keep it"
    assert 'data-api="/laposte/api/device"' in page.text
    assert 'rel="manifest" href="/app/laposte/manifest.webmanifest"' in page.text
    assert f'src="/app/static/app.js?v={__version__}"' in page.text
    match = re.search(r'<script type="application/json" id="app-texts">(.*?)</script>', page.text, re.S)
    assert match
    texts = json.loads(match.group(1))
    assert texts["choose_pin"] == "Définissez un code secret à 4 chiffres"
    assert "{service}" in texts["enter_binding"] and "{remaining}" in texts["wrong_pin"]
    english = client.get("/app/laposte/?lang=en")
    assert "Choose a 4-digit secret code" in english.text
    for digit in "0123456789":
        assert f'data-digit="{digit}"' in page.text
    assert 'aria-label="Effacer le dernier chiffre"' in page.text


def test_a_service_without_the_app_has_no_shell(client: TestClient) -> None:
    assert client.get("/app/poste-ch/").status_code == 404
    assert client.get("/app/nowhere/").status_code == 404


def test_the_manifests(client: TestClient) -> None:
    response = client.get("/app/laposte/manifest.webmanifest")
    assert response.headers["content-type"].startswith("application/manifest+json")
    manifest = response.json()
    assert manifest["start_url"] == "/app/laposte/" and manifest["scope"] == "/app/"
    assert manifest["display"] == "standalone" and manifest["theme_color"] == "#003da5"
    assert manifest["name"] == "La Poste"
    assert [icon["sizes"] for icon in manifest["icons"]] == ["192x192", "512x512"]
    generic = client.get("/app/manifest.webmanifest").json()
    assert generic["start_url"] == "/app/" and generic["name"] == "Application Sésame"


def test_icons_are_pngs_of_the_tenant_colour(client: TestClient) -> None:
    for size in (192, 512):
        response = client.get(f"/app/laposte/icon-{size}.png")
        assert response.status_code == 200 and response.headers["content-type"] == "image/png"
        image = Image.open(BytesIO(response.content))
        assert image.size == (size, size)
        assert image.convert("RGB").getpixel((2, 2)) == (0x00, 0x3D, 0xA5), "full-bleed: maskable"
    assert client.get("/app/laposte/icon-100.png").status_code == 404
    assert client.get("/app/icon-192.png").status_code == 200


def test_the_service_worker_is_scoped_to_the_app(client: TestClient) -> None:
    response = client.get("/app/sw.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.headers["service-worker-allowed"] == "/app/"
    assert f"sesame-app-{__version__}" in response.text and "__VERSION__" not in response.text
    assert client.get("/app/static/app.js").headers["content-type"].startswith("text/javascript")
    assert client.get("/app/static/app.css").status_code == 200
    assert client.get("/app/static/sw.js").status_code == 404
    assert client.get("/app/static/..%2Fpages.py").status_code == 404
