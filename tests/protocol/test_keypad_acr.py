"""The bank is an OpenID Connect issuer like the others: its authorization endpoint sends the person
to the keypad login (``/banque/login``), and a keypad login alone is issued as ``eidas1``, amr
``pwd`` (RFC 8176: a memorized secret checked by the server)."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlencode, urlsplit

from fastapi.testclient import TestClient

from sesame.bootstrap import Container
from tests.banque_support import GOOD_CODE, enrol
from tests.protocol.authorize_support import NONCE, REDIRECT_URI, STATE, app, browser, location, register, stored_code

__all__ = ["app", "browser"]  # fixtures

KEY_RE = re.compile(r'name="press" value="([A-Za-z]+)" class="keypad__key" aria-label="[^"]*" data-keypad-key>(\d)<')
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
ISSUER = "https://testserver/banque"


def click(browser: TestClient, flow_url: str, code: str, **fields: str) -> str:
    """Click ``code`` on the keypad page at ``flow_url``; returns where the answer leads."""
    page = browser.get(flow_url).text
    refs = {digit: ref for ref, digit in KEY_RE.findall(page)}
    token = CSRF_RE.search(page).group(1)  # type: ignore[union-attr]
    state = re.search(r'data-flow-state="([a-z_]+)"', page).group(1)  # type: ignore[union-attr]
    data = {"csrf_token": token, "step": state, "keys": ".".join(refs[d] for d in code), **fields}
    return location(browser.post(flow_url, data=data))


def test_a_keypad_login_is_issued_as_eidas1_with_amr_pwd(browser: TestClient, container: Container) -> None:
    customer = enrol(container)
    bank = container.tenants.get("banque")
    # Bank customers have no email address: the client must not ask for a confirmed one.
    client = register(container, bank, "Espace client mobile", skip_consent=True, require_confirmed_email=False)
    query = urlencode(
        {
            "response_type": "code",
            "client_id": client.client_id,
            "redirect_uri": REDIRECT_URI,
            "scope": "openid",
            "state": STATE,
            "nonce": NONCE,
            "acr_values": "eidas1",
        }
    )
    login = location(browser.get(f"/banque/authorize?{query}"))
    assert login.startswith("/banque/login?"), login
    flow_url = location(browser.get(login))
    assert flow_url.startswith("/banque/keypad-login/")
    # First login: the code of the letter, then a new code twice, then back to the authorization.
    assert click(browser, flow_url, customer.code, customer_number=customer.number) == flow_url
    assert click(browser, flow_url, GOOD_CODE) == flow_url
    back = click(browser, flow_url, GOOD_CODE)
    assert re.fullmatch(r"/banque/authorize/[A-Za-z0-9_-]{43}", back), back
    answer = location(browser.get(back))
    assert answer.startswith(REDIRECT_URI + "?"), answer
    params = {name: values[0] for name, values in parse_qs(urlsplit(answer).query).items()}
    assert (params["iss"], params["state"]) == (ISSUER, STATE)
    _row, grant = stored_code(container, params["code"])
    assert (grant.acr, grant.amr, grant.account_id) == ("eidas1", ["pwd"], customer.account_id)
