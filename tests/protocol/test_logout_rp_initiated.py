"""RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0) at ``/{tenant}/end-session``.

A partner sends the browser with the ID token it holds as ``id_token_hint``: when that token is
one we signed for this session, the person is logged out at once and sent to the partner's
registered ``post_logout_redirect_uri`` with ``state``. Anything less (no hint, a hint of another
session, a tampered one, another tenant's) makes us ask the person first, and anything unchecked
means no redirect at all.
"""

from __future__ import annotations

import base64
from urllib.parse import urlencode

import orjson
from fastapi.testclient import TestClient

from sesame.adapters.clock import FrozenClock
from sesame.bootstrap import Container
from sesame.domain.tenants import Tenant
from tests.protocol.logout_support import (
    POST_LOGOUT_URI,
    STATE,
    Partner,
    app,
    audit_types,
    browser,
    claims_of,
    confirm_form,
    laposte,
    live_sessions,
    log_in_at,
    logged_in,
    register,
    rp,
    sign_in,
)

__all__ = ["app", "browser", "laposte", "rp"]  # fixtures

END_SESSION = "/laposte/end-session"


def end_session_url(**params: str) -> str:
    return f"{END_SESSION}?{urlencode(params)}"


def signed_in(browser: TestClient, rp: Partner) -> str:
    """Log in at laposte and sign in to ``rp``; returns the ID token ``rp`` holds."""
    log_in_at(browser)
    return sign_in(browser, rp).id_token


def assert_logged_out_to(response: object, expected: str) -> None:
    assert getattr(response, "status_code", None) == 303
    assert response.headers["location"] == expected  # type: ignore[attr-defined]


# -- with a hint of this session: at once -------------------------------------------------------------


def test_a_hint_of_this_session_logs_out_at_once_and_goes_back_with_state(
    browser: TestClient, container: Container, laposte: Tenant, rp: Partner
) -> None:
    id_token = signed_in(browser, rp)
    assert len(live_sessions(container, laposte)) == 1

    response = browser.get(
        end_session_url(id_token_hint=id_token, post_logout_redirect_uri=POST_LOGOUT_URI, state=STATE)
    )

    assert_logged_out_to(response, f"{POST_LOGOUT_URI}?state={STATE}")
    assert response.headers["cache-control"] == "no-store"
    assert "max-age=0" in response.headers["set-cookie"].lower()  # the session cookie is cleared
    assert live_sessions(container, laposte) == []
    assert not logged_in(browser)
    assert audit_types(container, laposte)[-1] == "logout"


def test_the_logout_is_audited_with_the_client(
    browser: TestClient, container: Container, laposte: Tenant, rp: Partner
) -> None:
    id_token = signed_in(browser, rp)
    browser.get(end_session_url(id_token_hint=id_token))
    with container.uow(readonly=True) as uow:
        record = uow.audit.chain(laposte.id)[-1]
    assert record.event.type == "logout"
    assert record.event.details["via"] == "end_session"
    assert record.event.details["client_id"] == rp.client_id
    assert record.event.details["grants_revoked"] == 1
    assert id_token not in orjson.dumps(record.event.details).decode()


def test_the_request_may_be_a_post(browser: TestClient, container: Container, laposte: Tenant, rp: Partner) -> None:
    id_token = signed_in(browser, rp)
    response = browser.post(
        END_SESSION, data={"id_token_hint": id_token, "post_logout_redirect_uri": POST_LOGOUT_URI, "state": STATE}
    )
    assert_logged_out_to(response, f"{POST_LOGOUT_URI}?state={STATE}")
    assert live_sessions(container, laposte) == []


def test_a_cross_site_post_without_cookies_becomes_a_get(browser: TestClient, rp: Partner) -> None:
    id_token = signed_in(browser, rp)
    form = {"id_token_hint": id_token, "post_logout_redirect_uri": POST_LOGOUT_URI, "state": STATE}
    # SameSite=Lax: a form POSTed from the partner's site arrives without our cookies.
    with TestClient(browser.app, base_url="https://testserver", follow_redirects=False) as cookieless:
        response = cookieless.post(END_SESSION, data=form)
    assert response.status_code == 303
    assert response.headers["location"] == end_session_url(**form)
    assert logged_in(browser)


def test_an_expired_hint_is_still_a_hint(
    browser: TestClient, container: Container, clock: FrozenClock, laposte: Tenant, rp: Partner
) -> None:
    id_token = signed_in(browser, rp)
    lifetime = rp.client.metadata.id_token_lifetime_seconds
    clock.advance(seconds=lifetime + 60)  # §2: the OP accepts it even when exp has passed
    assert claims_of(browser, id_token)["exp"] < int(clock.now().timestamp())
    assert logged_in(browser)

    response = browser.get(end_session_url(id_token_hint=id_token, post_logout_redirect_uri=POST_LOGOUT_URI))

    assert_logged_out_to(response, POST_LOGOUT_URI)
    assert live_sessions(container, laposte) == []


def test_no_redirect_to_an_unregistered_uri(
    browser: TestClient, container: Container, laposte: Tenant, rp: Partner
) -> None:
    id_token = signed_in(browser, rp)
    for uri in ("https://evil.example/", POST_LOGOUT_URI + "/", POST_LOGOUT_URI.upper(), POST_LOGOUT_URI + "?x=1"):
        response = browser.get(end_session_url(id_token_hint=id_token, post_logout_redirect_uri=uri, state=STATE))
        assert response.status_code == 200, uri
        assert "location" not in response.headers
        assert 'data-oidc-page="logged-out"' in response.text
        assert 'href="https://evil.example' not in response.text
    # The hint was good: the logout itself happened (only the redirect was refused).
    assert live_sessions(container, laposte) == []


def test_a_registered_uri_keeps_its_own_query(browser: TestClient, container: Container, laposte: Tenant) -> None:
    partner = register(container, laposte, "Ameli", post_logout_redirect_uris=["https://rp.example/bye?from=sesame"])
    id_token = signed_in(browser, partner)
    response = browser.get(
        end_session_url(
            id_token_hint=id_token, post_logout_redirect_uri="https://rp.example/bye?from=sesame", state="s"
        )
    )
    assert_logged_out_to(response, "https://rp.example/bye?from=sesame&state=s")


def test_without_post_logout_redirect_uri_the_person_sees_they_are_logged_out(
    browser: TestClient, container: Container, laposte: Tenant, rp: Partner
) -> None:
    id_token = signed_in(browser, rp)
    response = browser.get(end_session_url(id_token_hint=id_token, state=STATE))
    assert response.status_code == 200
    assert 'data-oidc-page="logged-out"' in response.text
    assert "Impots.gouv" in response.text
    assert live_sessions(container, laposte) == []


def test_nobody_logged_in_goes_straight_back(
    browser: TestClient, container: Container, laposte: Tenant, rp: Partner
) -> None:
    id_token = signed_in(browser, rp)
    browser.post("/laposte/end-session", data={"id_token_hint": id_token})  # logged out once
    assert live_sessions(container, laposte) == []

    response = browser.get(end_session_url(id_token_hint=id_token, post_logout_redirect_uri=POST_LOGOUT_URI))

    assert_logged_out_to(response, POST_LOGOUT_URI)


def test_ui_locales_choose_the_page_language(browser: TestClient, rp: Partner) -> None:
    id_token = signed_in(browser, rp)
    english = browser.get(end_session_url(id_token_hint=id_token, ui_locales="en-GB fr"))
    assert english.status_code == 200 and "You are logged out" in english.text
    log_in_at(browser)
    id_token = sign_in(browser, rp).id_token
    french = browser.get(end_session_url(id_token_hint=id_token, ui_locales="fr"))
    assert "Vous êtes déconnecté" in french.text


# -- hints that cannot be trusted: ask, and never redirect ---------------------------------------------------


def _tampered(id_token: str, **changes: object) -> str:
    header, payload, signature = id_token.split(".")
    claims = orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(changes)
    forged = base64.urlsafe_b64encode(orjson.dumps(claims)).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


def _unsigned(id_token: str) -> str:
    """The same claims with ``alg: none`` and no signature."""
    _header, payload, _signature = id_token.split(".")
    header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
    return f"{header}.{payload}."


def assert_asked_without_redirect(response: object) -> None:
    assert getattr(response, "status_code", None) == 200
    text = response.text  # type: ignore[attr-defined]
    assert 'data-oidc-page="logout-confirm"' in text
    assert "data-end-session-unverified" in text


def test_a_tampered_hint_is_not_trusted(
    browser: TestClient, container: Container, laposte: Tenant, rp: Partner
) -> None:
    id_token = signed_in(browser, rp)
    for hint in (_tampered(id_token, aud="someone-else"), _tampered(id_token, sid="x"), _unsigned(id_token), "a.b.c"):
        response = browser.get(end_session_url(id_token_hint=hint, post_logout_redirect_uri=POST_LOGOUT_URI))
        assert_asked_without_redirect(response)
    assert len(live_sessions(container, laposte)) == 1


def test_a_tampered_hint_confirmed_logs_out_but_does_not_redirect(
    browser: TestClient, container: Container, laposte: Tenant, rp: Partner
) -> None:
    id_token = signed_in(browser, rp)
    page = browser.get(
        end_session_url(
            id_token_hint=_tampered(id_token, aud="x"), post_logout_redirect_uri=POST_LOGOUT_URI, state=STATE
        )
    )
    response = browser.post(f"{END_SESSION}/confirm", data=confirm_form(page))
    assert response.status_code == 200 and 'data-oidc-page="logged-out"' in response.text
    assert live_sessions(container, laposte) == []


def test_a_hint_of_another_tenant_is_not_trusted(
    browser: TestClient, container: Container, laposte: Tenant, rp: Partner
) -> None:
    poste_ch = container.tenants.get("poste-ch")
    theirs = register(container, poste_ch, "Swiss partner", post_logout_redirect_uris=[POST_LOGOUT_URI])
    log_in_at(browser, "poste-ch")
    foreign = sign_in(browser, theirs, tenant_slug="poste-ch").id_token
    log_in_at(browser)

    response = browser.get(end_session_url(id_token_hint=foreign, post_logout_redirect_uri=POST_LOGOUT_URI))

    assert_asked_without_redirect(response)
    assert len(live_sessions(container, laposte)) == 1


def test_client_id_must_be_the_hint_audience(
    browser: TestClient, container: Container, laposte: Tenant, rp: Partner
) -> None:
    other = register(container, laposte, "Other", post_logout_redirect_uris=["https://other.example/bye"])
    id_token = signed_in(browser, rp)
    response = browser.get(
        end_session_url(
            id_token_hint=id_token, client_id=other.client_id, post_logout_redirect_uri="https://other.example/bye"
        )
    )
    assert_asked_without_redirect(response)


# -- without a hint of this session: the person is asked -------------------------------------------------


def test_without_a_hint_the_person_is_asked_then_sent_back(
    browser: TestClient, container: Container, laposte: Tenant, rp: Partner
) -> None:
    signed_in(browser, rp)
    page = browser.get(end_session_url(client_id=rp.client_id, post_logout_redirect_uri=POST_LOGOUT_URI, state=STATE))
    assert page.status_code == 200 and 'data-oidc-page="logout-confirm"' in page.text
    assert "Impots.gouv" in page.text and "data-end-session-unverified" not in page.text
    assert len(live_sessions(container, laposte)) == 1  # a link alone logs nobody out

    response = browser.post(f"{END_SESSION}/confirm", data=confirm_form(page))

    assert_logged_out_to(response, f"{POST_LOGOUT_URI}?state={STATE}")
    assert live_sessions(container, laposte) == []


def test_a_hint_of_an_earlier_session_asks_first(
    browser: TestClient, container: Container, laposte: Tenant, rp: Partner
) -> None:
    old_token = signed_in(browser, rp)
    browser.get(end_session_url(id_token_hint=old_token))
    log_in_at(browser)  # a new session: the old token's sid is not this one's

    page = browser.get(end_session_url(id_token_hint=old_token, post_logout_redirect_uri=POST_LOGOUT_URI))
    assert 'data-oidc-page="logout-confirm"' in page.text and "data-end-session-unverified" not in page.text
    assert len(live_sessions(container, laposte)) == 1

    response = browser.post(f"{END_SESSION}/confirm", data=confirm_form(page))
    assert_logged_out_to(response, POST_LOGOUT_URI)


def test_post_logout_redirect_uri_alone_names_no_client(
    browser: TestClient, container: Container, laposte: Tenant, rp: Partner
) -> None:
    signed_in(browser, rp)
    page = browser.get(end_session_url(post_logout_redirect_uri=POST_LOGOUT_URI))
    assert_asked_without_redirect(page)
    response = browser.post(f"{END_SESSION}/confirm", data=confirm_form(page))
    assert response.status_code == 200 and 'data-oidc-page="logged-out"' in response.text
    assert live_sessions(container, laposte) == []


def test_the_confirmation_needs_its_csrf_token(
    browser: TestClient, container: Container, laposte: Tenant, rp: Partner
) -> None:
    signed_in(browser, rp)
    page = browser.get(end_session_url(client_id=rp.client_id, post_logout_redirect_uri=POST_LOGOUT_URI))
    form = confirm_form(page)

    missing = browser.post(f"{END_SESSION}/confirm", data={k: v for k, v in form.items() if k != "csrf_token"})
    forged = browser.post(f"{END_SESSION}/confirm", data={**form, "csrf_token": "forged"})
    # Another site's form: the browser sends no cookie of ours with a cross-site POST.
    with TestClient(browser.app, base_url="https://testserver", follow_redirects=False) as other_site:
        cross_site = other_site.post(f"{END_SESSION}/confirm", data=form)

    assert (missing.status_code, forged.status_code, cross_site.status_code) == (403, 403, 403)
    assert len(live_sessions(container, laposte)) == 1
    assert logged_in(browser)


def test_staying_logged_in_is_a_plain_link(browser: TestClient, rp: Partner) -> None:
    signed_in(browser, rp)
    page = browser.get(end_session_url(client_id=rp.client_id))
    assert 'href="/laposte/account"' in page.text
    assert logged_in(browser)


def test_discovery_names_the_end_session_endpoint(browser: TestClient) -> None:
    metadata = browser.get("/laposte/.well-known/openid-configuration").json()
    assert metadata["end_session_endpoint"] == "https://testserver/laposte/end-session"
