"""In Chromium: a tenant page in French, switched to English by mouse and by keyboard, and remembered."""

from __future__ import annotations

import pytest
from playwright.sync_api import BrowserContext, ConsoleMessage, Page, expect

pytestmark = pytest.mark.browser

FRENCH_WELCOME = "Bienvenue dans votre espace client La Poste."
ENGLISH_WELCOME = "Welcome to your La Poste customer area."
MAX_TABS = 10


def _focused_text(page: Page) -> str:
    return str(page.evaluate("document.activeElement ? document.activeElement.textContent.trim() : ''"))


def _tab_to(page: Page, text: str) -> None:
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        if _focused_text(page) == text:
            return
    pytest.fail(f"Tab never reached {text!r}")


def _focus_outline(page: Page) -> str:
    return str(page.evaluate("getComputedStyle(document.activeElement).outlineStyle"))


def test_switch_to_english_and_stay_there(live_server: str, page: Page, context: BrowserContext) -> None:
    policy_violations: list[str] = []

    def watch(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            policy_violations.append(message.text)

    page.on("console", watch)
    page.goto(f"{live_server}/laposte")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.get_by_text(FRENCH_WELCOME)).to_be_visible()
    # The tenant's colours arrived through the theme stylesheet (the CSP allows no inline style).
    header = page.locator(".site-header")
    expect(header).to_have_css("background-color", "rgb(0, 61, 165)")
    expect(page.locator(".site-brand")).to_have_css("color", "rgb(255, 255, 255)")

    switcher = page.get_by_role("navigation", name="Langue")
    expect(switcher.get_by_role("link", name="Français")).to_have_attribute("aria-current", "true")
    switcher.get_by_role("link", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_text(ENGLISH_WELCOME)).to_be_visible()
    expect(page.get_by_role("navigation", name="Language").get_by_role("link", name="English")).to_have_attribute(
        "aria-current", "true"
    )

    # Chromium kept the Secure cookie although the server speaks plain HTTP on 127.0.0.1.
    cookies = {cookie["name"]: cookie for cookie in context.cookies()}
    assert cookies["sesame_lang"]["value"] == "en"
    assert cookies["sesame_lang"]["secure"] and cookies["sesame_lang"]["httpOnly"]

    page.reload()
    expect(page.get_by_text(ENGLISH_WELCOME)).to_be_visible()
    page.goto(f"{live_server}/laposte")  # no ?lang: only the cookie says English now
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_text(ENGLISH_WELCOME)).to_be_visible()
    assert policy_violations == []


def test_the_switcher_works_with_the_keyboard(live_server: str, page: Page) -> None:
    page.goto(f"{live_server}/laposte")
    expect(page.locator("html")).to_have_attribute("lang", "fr")

    page.keyboard.press("Tab")
    assert _focused_text(page) == "Aller au contenu principal"  # the skip link comes first
    expect(page.locator(".skip-link")).to_be_in_viewport()  # and shows itself when focused
    assert _focus_outline(page) != "none"

    _tab_to(page, "English")
    assert _focus_outline(page) != "none"  # the focus is visible
    page.keyboard.press("Enter")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_text(ENGLISH_WELCOME)).to_be_visible()

    _tab_to(page, "Français")
    page.keyboard.press("Enter")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.get_by_text(FRENCH_WELCOME)).to_be_visible()


def test_the_skip_link_moves_to_the_content(live_server: str, page: Page) -> None:
    page.goto(f"{live_server}/laposte")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "content"


def test_an_unknown_service_shows_a_friendly_page(live_server: str, page: Page) -> None:
    response = page.goto(f"{live_server}/nulle-part")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Ce service n’existe pas")
    expect(page.get_by_text("Référence")).to_be_visible()
