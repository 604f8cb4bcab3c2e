"""The partner's pages: home, login with Sésame, the claims received, logout (both directions).

``/login`` and ``/callback`` are Authlib's authorization code flow (PKCE S256, ``state`` and
``nonce`` drawn and checked by Authlib, the ID token verified against Sésame's JWKS). ``/logout``
ends the partner's session and sends the browser to Sésame's end-session endpoint with the ID
token as ``id_token_hint``; Sésame sends it back to ``/``. ``/backchannel-logout`` is where Sésame
POSTs a logout token when the person's Sésame session ends elsewhere.
"""

from __future__ import annotations

import secrets
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from authlib.integrations.starlette_client import (  # type: ignore[import-untyped]
    OAuth,
    OAuthError,
    StarletteOAuth2App,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from sesame_demo_partner.config import NotRegistered, PartnerSettings, Registration, load_registration
from sesame_demo_partner.logout_token import InvalidLogoutToken, SeenTokens, validate_logout_token
from sesame_demo_partner.sessions import SessionMiddleware, SessionStore, regenerate

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")

#: Labels of the claims the demo knows, in the order they are shown; others follow as they come.
CLAIM_LABELS: dict[str, str] = {
    "sub": "Identifiant de la personne pour ce service (sub)",
    "name": "Nom complet",
    "given_name": "Prénom",
    "family_name": "Nom",
    "preferred_username": "Nom d'usage",
    "email": "Adresse e-mail",
    "email_verified": "Adresse e-mail confirmée",
    "phone_number": "Téléphone",
    "birthdate": "Date de naissance",
    "locale": "Langue",
    "updated_at": "Profil mis à jour le",
    "acr": "Niveau d'authentification (acr)",
    "amr": "Méthodes d'authentification (amr)",
    "auth_time": "Authentifiée le",
    "iss": "Émetteur (iss)",
    "aud": "Destinataire (aud)",
    "iat": "Émis le (iat)",
    "exp": "Expire le (exp)",
    "nonce": "Nonce",
    "sid": "Session Sésame (sid)",
    "gid": "Autorisation (gid)",
    "at_hash": "Empreinte du jeton d'accès (at_hash)",
}
TIME_CLAIMS = frozenset({"iat", "exp", "auth_time", "updated_at", "nbf"})
USER_KEYS = ("user", "id_token", "id_claims", "userinfo", "csrf")


class SesameClient:
    """Authlib's OpenID Connect client for Sésame, rebuilt when the registration file changes."""

    def __init__(self, settings: PartnerSettings) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        self._registration: Registration | None = None
        self._client: StarletteOAuth2App | None = None

    def get(self) -> StarletteOAuth2App:
        registration = load_registration(self._settings.client_file)
        with self._lock:
            if self._client is None or registration != self._registration:
                oauth = OAuth()
                self._client = oauth.register(
                    "sesame",
                    client_id=registration.client_id,
                    client_secret=registration.client_secret,
                    server_metadata_url=f"{self._settings.issuer}/.well-known/openid-configuration",
                    client_kwargs={
                        "scope": self._settings.scope,
                        "code_challenge_method": "S256",
                        "token_endpoint_auth_method": "client_secret_basic",
                        "timeout": 10.0,
                    },
                )
                self._registration = registration
            return self._client


def _client(request: Request) -> StarletteOAuth2App:
    holder: SesameClient = request.app.state.sesame
    return holder.get()


def _settings(request: Request) -> PartnerSettings:
    settings: PartnerSettings = request.app.state.settings
    return settings


def _user(request: Request) -> dict[str, Any] | None:
    user = request.session.get("user")
    ended: set[tuple[str, str]] = request.app.state.ended_sids
    if not isinstance(user, dict) or (user.get("iss"), user.get("sid")) in ended:
        return None  # a back-channel logout ended it while this request was on its way
    return user


def _page(request: Request, name: str, context: dict[str, Any] | None = None, status_code: int = 200) -> Response:
    base = {"user": _user(request), "issuer": _settings(request).issuer}
    return templates.TemplateResponse(request, name, {**base, **(context or {})}, status_code=status_code)


def _problem(request: Request, title: str, text: str, status_code: int) -> Response:
    return _page(request, "error.html", {"title": title, "text": text}, status_code=status_code)


def _not_registered(request: Request) -> Response:
    return _problem(
        request,
        "Service pas encore enregistré",
        "Le service partenaire n'est pas encore enregistré auprès de Sésame : lancez « sesame demo load » "
        "(make run le fait), puis réessayez.",
        503,
    )


def _unreachable(request: Request) -> Response:
    return _problem(
        request,
        "Sésame ne répond pas",
        "Le service de connexion ne répond pas pour le moment : réessayez plus tard.",
        502,
    )


# -- pages ---------------------------------------------------------------------------------------


async def home(request: Request) -> Response:
    """The welcome page; back from Sésame's logout, it says so (after checking Authlib's state)."""
    logged_out = False
    if "state" in request.query_params:
        try:
            await _client(request).validate_logout_response(request)
            logged_out = True
        except (OAuthError, NotRegistered):
            logged_out = False
    return _page(request, "home.html", {"logged_out": logged_out})


async def login(request: Request) -> Response:
    """Send the browser to Sésame's authorization endpoint (Authlib adds state, nonce, PKCE S256)."""
    try:
        redirect: Response = await _client(request).authorize_redirect(
            request, _settings(request).redirect_uri, ui_locales="fr", claims_locales="fr"
        )
        return redirect
    except NotRegistered:
        return _not_registered(request)
    except httpx.HTTPError:
        return _unreachable(request)


async def callback(request: Request) -> Response:
    """Exchange the code (Authlib checks state, the ID token's signature, iss, aud, exp and nonce)."""
    try:
        client = _client(request)
        token = await client.authorize_access_token(request)
        userinfo = dict(await client.userinfo(token=token))
    except NotRegistered:
        return _not_registered(request)
    except OAuthError as error:
        return _problem(request, "Connexion interrompue", _oauth_error_text(error), 400)
    except httpx.HTTPError:
        return _unreachable(request)
    id_claims = dict(token.get("userinfo") or {})
    if not id_claims or userinfo.get("sub") != id_claims.get("sub"):
        # OpenID Connect Core §5.3.2: userinfo about someone else must not be used.
        return _problem(
            request, "Connexion refusée", "Les informations reçues ne concernent pas la même personne.", 400
        )
    request.session.clear()
    regenerate(request)  # a new partner session id at login: no session fixation
    request.session.update(
        {
            "user": {
                "iss": id_claims.get("iss"),
                "sub": id_claims.get("sub"),
                "sid": id_claims.get("sid"),
                "name": userinfo.get("name") or userinfo.get("given_name") or userinfo.get("email") or "",
            },
            "id_token": token.get("id_token"),
            "id_claims": id_claims,
            "userinfo": userinfo,
            "csrf": secrets.token_urlsafe(32),
        }
    )
    return RedirectResponse("/claims", status_code=303)


def _oauth_error_text(error: OAuthError) -> str:
    if error.error == "access_denied":
        return "Vous avez refusé de partager vos informations avec ce service."
    if error.error == "login_required":
        return "Vous n'êtes pas connecté(e) à Sésame."
    return f"Sésame a répondu « {error.error} » : recommencez la connexion."


def _rows(claims: dict[str, Any]) -> list[dict[str, str]]:
    ordered = [name for name in CLAIM_LABELS if name in claims] + sorted(set(claims) - set(CLAIM_LABELS))
    return [
        {"name": name, "label": CLAIM_LABELS.get(name, name), "value": _shown(name, claims[name])} for name in ordered
    ]


def _shown(name: str, value: Any) -> str:
    if isinstance(value, bool):
        return "oui" if value else "non"
    if name in TIME_CLAIMS and isinstance(value, int | float):
        when = datetime.fromtimestamp(value, UTC).strftime("%d/%m/%Y %H:%M:%S UTC")
        return f"{value} ({when})"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return str(value)


async def claims(request: Request) -> Response:
    """What Sésame told this service: the ID token's claims and the userinfo answer."""
    if _user(request) is None:
        return RedirectResponse("/", status_code=303)
    context = {
        "id_rows": _rows(request.session.get("id_claims") or {}),
        "userinfo_rows": _rows(request.session.get("userinfo") or {}),
        "csrf": request.session.get("csrf", ""),
    }
    return _page(request, "claims.html", context)


async def logout(request: Request) -> Response:
    """End this service's session, then Sésame's (RP-initiated logout with the ID token as hint)."""
    async with request.form() as form:
        sent = form.get("csrf")
    expected = request.session.get("csrf")
    if not isinstance(sent, str) or not isinstance(expected, str) or not secrets.compare_digest(sent, expected):
        return _problem(request, "Formulaire expiré", "Le formulaire a expiré : rechargez la page et réessayez.", 403)
    id_token = request.session.get("id_token")
    for key in USER_KEYS:
        request.session.pop(key, None)
    try:
        redirect = await _client(request).logout_redirect(
            request,
            post_logout_redirect_uri=_settings(request).post_logout_redirect_uri,
            id_token_hint=id_token,
            ui_locales="fr",
        )
    except NotRegistered:
        return RedirectResponse("/", status_code=303)
    except httpx.HTTPError:
        return _unreachable(request)
    # Authlib answers 302; after a POST, 303 says "GET the next page" unambiguously.
    return RedirectResponse(redirect.headers["location"], status_code=303)


async def backchannel_logout(request: Request) -> Response:
    """OpenID Connect Back-Channel Logout §2.5-2.8: validate the logout token, end matching sessions."""
    async with request.form() as form:
        token = form.get("logout_token")
    if not isinstance(token, str) or not token:
        return _logout_error("invalid_request", "logout_token is missing")
    try:
        logout_claims = await _validated(request, token)
    except NotRegistered:
        return _logout_error("invalid_request", "this service is not registered yet")
    except InvalidLogoutToken as error:
        return _logout_error("invalid_request", str(error))
    except httpx.HTTPError:
        return _logout_error("temporarily_unavailable", "the issuer's keys could not be fetched", 503)
    issuer, sid, sub = logout_claims["iss"], logout_claims.get("sid"), logout_claims.get("sub")

    def matches(data: dict[str, Any]) -> bool:
        user = data.get("user")
        if not isinstance(user, dict) or user.get("iss") != issuer:
            return False
        return user.get("sid") == sid if sid is not None else user.get("sub") == sub

    if sid is not None:
        request.app.state.ended_sids.add((issuer, sid))
    store: SessionStore = request.app.state.sessions
    store.end_logins(matches)
    return Response(status_code=200, headers={"cache-control": "no-store"})


async def _validated(request: Request, token: str) -> dict[str, Any]:
    client = _client(request)
    settings = _settings(request)
    seen: SeenTokens = request.app.state.seen_logout_tokens
    registration = load_registration(settings.client_file)
    try:
        jwks = await client.fetch_jwk_set()
        return validate_logout_token(token, jwks, issuer=settings.issuer, client_id=registration.client_id, seen=seen)
    except InvalidLogoutToken:
        # Perhaps signed with a key published since the JWKS was fetched: fetch it again, once.
        jwks = await client.fetch_jwk_set(force=True)
        return validate_logout_token(token, jwks, issuer=settings.issuer, client_id=registration.client_id, seen=seen)


def _logout_error(error: str, description: str, status_code: int = 400) -> Response:
    return JSONResponse(
        {"error": error, "error_description": description},
        status_code=status_code,
        headers={"cache-control": "no-store"},
    )


def create_app(settings: PartnerSettings | None = None) -> Starlette:
    """The partner's web app (``settings`` from the environment unless given)."""
    settings = settings or PartnerSettings.from_env()
    store = SessionStore()
    app = Starlette(
        routes=[
            Route("/", home, name="home"),
            Route("/login", login, name="login"),
            Route("/callback", callback, name="callback"),
            Route("/claims", claims, name="claims"),
            Route("/logout", logout, methods=["POST"], name="logout"),
            Route("/backchannel-logout", backchannel_logout, methods=["POST"], name="backchannel_logout"),
            Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
        ]
    )
    app.state.settings = settings
    app.state.sesame = SesameClient(settings)
    app.state.sessions = store
    app.state.ended_sids = set()
    app.state.seen_logout_tokens = SeenTokens()
    app.add_middleware(SessionMiddleware, store=store, secure=settings.secure_cookies)
    return app
