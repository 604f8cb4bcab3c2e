"""``sesame client``: the OpenID Connect clients (partner services) of a tenant: create, list, show, disable.

``create`` prints the client as JSON with its secret: the only time the secret is ever shown
(only its keyed hash is stored). ``show`` and ``list`` never print a secret nor its hash.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from sesame.cli.common import JsonOption, container, domain_errors, fail, print_json
from sesame.oidc.clients import response_types
from sesame.oidc.discovery import issuer
from sesame.oidc.models import OidcClient

app = typer.Typer(
    help="OpenID Connect clients: the partner services that log people in with Sésame.", no_args_is_help=True
)

TenantOption = typer.Option(..., "--tenant", "-t", help="Tenant slug.")


def client_data(client: OidcClient, tenant_slug: str, base_url: str) -> dict[str, Any]:
    """The client as printed (RFC 7591 names where one exists); never its secret nor its hash."""
    meta = client.metadata.model_dump(mode="json")
    iss = issuer(base_url, tenant_slug)
    return {
        "client_id": client.client_id,
        "client_name": client.name,
        "tenant": tenant_slug,
        "issuer": iss,
        "discovery": f"{iss}/.well-known/openid-configuration",
        "public": client.public,
        "token_endpoint_auth_method": client.token_endpoint_auth_method.value,
        "response_types": list(response_types(client.metadata)),
        **meta,
        "enabled": client.enabled,
        "created_at": client.created_at,
        "disabled_at": client.disabled_at,
    }


@app.command()
def create(
    tenant: str = TenantOption,
    name: str = typer.Option(..., "--name", "-n", help="The service's name, shown to people on the consent page."),
    redirect_uris: list[str] = typer.Option(
        [], "--redirect-uri", help="Exact redirect URI (https, or http on 127.0.0.1/[::1]/localhost). Repeatable."
    ),
    public: bool = typer.Option(False, "--public", help="A client that cannot keep a secret (SPA, mobile app)."),
    grants: list[str] = typer.Option(
        [],
        "--grant",
        help="authorization_code, refresh_token, client_credentials, urn:openid:params:grant-type:ciba "
        "(CIBA, confidential clients). Repeatable. Default: authorization_code and refresh_token.",
    ),
    post_logout_redirect_uris: list[str] = typer.Option(
        [], "--post-logout-redirect-uri", help="Where people may be sent after logging out. Repeatable."
    ),
    backchannel_logout_uri: str | None = typer.Option(
        None, "--backchannel-logout-uri", help="Where logout tokens are POSTed (back-channel logout)."
    ),
    scopes: list[str] = typer.Option(
        [], "--scope", help="A scope the client may ask for. Repeatable. Default: openid, profile, email."
    ),
    auth_method: str | None = typer.Option(
        None,
        "--auth-method",
        help="client_secret_basic (default), client_secret_post, private_key_jwt (needs --jwks), none (public).",
    ),
    jwks_file: Path | None = typer.Option(
        None, "--jwks", help="JSON file with the client's public keys (JWK Set), for private_key_jwt.", dir_okay=False
    ),
    skip_consent: bool = typer.Option(False, "--skip-consent", help="A first-party service: no consent page."),
) -> None:
    """Register a client and print it as JSON, with its secret: the secret is shown this once only."""
    jwks = _read_jwks(jwks_file) if jwks_file is not None else None
    with container() as built, domain_errors():
        found = built.tenants.get(tenant)
        client, secret = built.oidc_clients.create(
            found,
            name,
            redirect_uris,
            public=public,
            grant_types=grants or None,
            post_logout_redirect_uris=post_logout_redirect_uris,
            backchannel_logout_uri=backchannel_logout_uri,
            scopes=scopes or None,
            auth_method=auth_method,
            jwks=jwks,
            skip_consent=skip_consent,
            actor="cli",
        )
        base_url = built.settings.base_url
    data = client_data(client, found.slug, base_url)
    if secret is not None:
        data = {"client_id": data.pop("client_id"), "client_secret": secret, **data}
    print_json(data)
    if secret is not None:
        typer.secho("Keep the client_secret now: it is stored hashed and cannot be shown again.", err=True)


def _read_jwks(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        fail(f"cannot read the JWK Set in {path}: {error}")
    if not isinstance(document, dict):
        fail(f'{path} must hold a JWK Set: {{"keys": [...]}}')
    return document


@app.command("list")
def list_clients(tenant: str = TenantOption, json_output: bool = JsonOption) -> None:
    """List the tenant's clients."""
    with container() as built, domain_errors():
        found = built.tenants.get(tenant)
        clients = built.oidc_clients.list(found)
        base_url = built.settings.base_url
    if json_output:
        print_json([client_data(c, found.slug, base_url) for c in clients])
        return
    if not clients:
        typer.echo(f"No client in {found.slug} yet: `sesame client create --tenant {found.slug} ...` adds one.")
    for client in clients:
        state = "enabled" if client.enabled else "disabled"
        kind = "public" if client.public else client.token_endpoint_auth_method.value
        typer.echo(f"{client.client_id:26} {state:9} {kind:20} {client.name}")


@app.command()
def show(
    client_id: str = typer.Argument(..., help="The client_id."),
    tenant: str = TenantOption,
    json_output: bool = JsonOption,
) -> None:
    """Show one client (never its secret: it was shown once, at creation)."""
    with container() as built, domain_errors():
        found = built.tenants.get(tenant)
        client = built.oidc_clients.show(found, client_id)
        base_url = built.settings.base_url
    _print(client_data(client, found.slug, base_url), json_output)


@app.command()
def disable(
    client_id: str = typer.Argument(..., help="The client_id."),
    tenant: str = TenantOption,
    json_output: bool = JsonOption,
) -> None:
    """Disable a client: no new tokens, and the tokens it holds stop working."""
    with container() as built, domain_errors():
        found = built.tenants.get(tenant)
        client = built.oidc_clients.disable(found, client_id, actor="cli")
        base_url = built.settings.base_url
    if json_output:
        print_json(client_data(client, found.slug, base_url))
        return
    typer.echo(f"Disabled client {client.client_id} ({client.name}).")


def _print(data: dict[str, Any], json_output: bool) -> None:
    if json_output:
        print_json(data)
        return
    for key, value in data.items():
        shown = json.dumps(value, default=str, ensure_ascii=False) if isinstance(value, list | dict) else value
        typer.echo(f"{key:32} {shown if shown is not None else '-'}")
