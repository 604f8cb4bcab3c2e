"""``sesame-app``: the phone app on the command line, for people without a browser and for tests.

It speaks the same device API as the app at ``/app`` (ADR 0008)::

    sesame-app activate --server https://id.example --tenant laposte --email marie@example.fr
    sesame-app pending
    sesame-app approve ar_XXXX --binding 42
    sesame-app deny ar_XXXX

``activate`` asks for the password, the code received by SMS and a 4-digit secret code (twice),
makes an ECDSA P-256 key pair with ``cryptography`` and registers its public key. The private
key is kept in ``key.pem`` (mode 0600) in the state directory (``--state-dir``, else
``$SESAME_APP_STATE_DIR``, else ``~/.config/sesame-app``), with ``device.json`` (server, tenant,
device id). Every later call is signed by that key; no bearer secret is stored. ``--json``
prints machine-readable results. Exit status: 0 done, 1 refused by the server, 2 bad usage.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from sesame.domain.devices import Decision, b64url_encode, decision_signing_input, listing_signing_input

app = typer.Typer(
    help="The Sésame phone app on the command line: activate a device, list and answer login requests.",
    no_args_is_help=True,
    add_completion=False,
)

STATE_FILE = "device.json"
KEY_FILE = "key.pem"
TIMEOUT_SECONDS = 15.0
#: Tries of the SMS code and of the choice of a secret code before giving up.
PROMPT_TRIES = 3

StateDir = Annotated[
    Path | None,
    typer.Option("--state-dir", envvar="SESAME_APP_STATE_DIR", help="Where the device's key and id are kept."),
]
JsonOut = Annotated[bool, typer.Option("--json", help="Print JSON instead of sentences.")]


class Refused(Exception):
    """The server said no: its error code and message (in the user's language)."""

    def __init__(self, code: str, message: str, body: dict[str, Any]) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.body = body


@dataclass
class DeviceState:
    server: str
    tenant: str
    device_id: str
    label: str


# -- state --------------------------------------------------------------------------------------------


def state_dir(option: Path | None) -> Path:
    if option is not None:
        return option.expanduser()
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "sesame-app"


def _write_private(path: Path, data: bytes) -> None:
    """Write a file readable by its owner only (0600), replacing any previous one atomically."""
    temporary = path.with_name(path.name + ".tmp")
    if temporary.exists():
        temporary.unlink()
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    temporary.replace(path)


def save_device(directory: Path, state: DeviceState, key: ec.EllipticCurvePrivateKey) -> None:
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    _write_private(directory / KEY_FILE, pem)
    _write_private(directory / STATE_FILE, json.dumps(asdict(state), indent=2).encode())


def load_device(directory: Path) -> tuple[DeviceState, ec.EllipticCurvePrivateKey]:
    try:
        state = DeviceState(**json.loads((directory / STATE_FILE).read_text()))
        key = serialization.load_pem_private_key((directory / KEY_FILE).read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as error:
        raise typer.BadParameter(f"no activated device in {directory}: run `sesame-app activate` first") from error
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise typer.BadParameter(f"{directory / KEY_FILE} is not a P-256 key")
    return state, key


def forget_device(directory: Path) -> None:
    for name in (KEY_FILE, STATE_FILE):
        (directory / name).unlink(missing_ok=True)


# -- keys ------------------------------------------------------------------------------------------------


def public_jwk(key: ec.EllipticCurvePrivateKey) -> dict[str, str]:
    numbers = key.public_key().public_numbers()
    return {
        "kty": "EC",
        "crv": "P-256",
        "x": b64url_encode(numbers.x.to_bytes(32, "big")),
        "y": b64url_encode(numbers.y.to_bytes(32, "big")),
    }


def sign(key: ec.EllipticCurvePrivateKey, message: bytes) -> str:
    """ES256 as WebCrypto gives it: raw r||s, base64url (not DER)."""
    r, s = decode_dss_signature(key.sign(message, ec.ECDSA(hashes.SHA256())))
    return b64url_encode(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


# -- the device API -------------------------------------------------------------------------------------


class DeviceApi:
    def __init__(self, server: str, tenant: str, *, transport: httpx.BaseTransport | None = None) -> None:
        language = (os.environ.get("LANG") or "fr").split("_")[0].split(".")[0] or "fr"
        self.tenant = tenant
        self._client = httpx.Client(
            base_url=f"{server.rstrip('/')}/{tenant}/api/device",
            timeout=TIMEOUT_SECONDS,
            headers={"Accept": "application/json", "Accept-Language": language, "User-Agent": "sesame-app"},
            transport=transport,
        )
        #: Server time minus ours, learnt from the server (a phone's clock may be wrong).
        self.clock_offset = 0

    def close(self) -> None:
        self._client.close()

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            response = self._client.post(path, json=body)
        except httpx.HTTPError as error:
            raise Refused("network", f"the server cannot be reached: {error}", {}) from error
        try:
            data = response.json()
        except ValueError:
            data = {}
        if not isinstance(data, dict):
            data = {}
        if response.is_error:
            raise Refused(str(data.get("error", response.status_code)), str(data.get("message", response.text)), data)
        return data

    def now(self) -> int:
        return int(time.time()) + self.clock_offset

    def pending(self, state: DeviceState, key: ec.EllipticCurvePrivateKey) -> dict[str, Any]:
        """The requests waiting for this device (signed over the time; once more with the
        server's time if our clock was too far off)."""
        for attempt in range(2):
            timestamp = self.now()
            signature = sign(key, listing_signing_input(state.tenant, state.device_id, timestamp))
            try:
                data = self.post(
                    "/pending", {"device_id": state.device_id, "timestamp": timestamp, "signature": signature}
                )
            except Refused as refused:
                server_time = refused.body.get("server_time")
                if refused.code == "stale_signature" and isinstance(server_time, int) and attempt == 0:
                    self.clock_offset = server_time - int(time.time())
                    continue
                raise
            self.clock_offset = int(data.get("server_time", time.time())) - int(time.time())
            return data
        raise AssertionError("unreachable")


# -- output ------------------------------------------------------------------------------------------------


def _print(as_json: bool, payload: dict[str, Any], sentence: str) -> None:
    typer.echo(json.dumps(payload, ensure_ascii=False, indent=2) if as_json else sentence)


def _fail(as_json: bool, refused: Refused) -> typer.Exit:
    payload = {"error": refused.code, "message": refused.message}
    payload.update(
        {k: v for k, v in refused.body.items() if k in ("remaining", "reason", "retry_at", "request_status")}
    )
    if as_json:
        typer.echo(json.dumps(payload, ensure_ascii=False, indent=2))
    else:
        typer.echo(f"Refused ({refused.code}): {refused.message}", err=True)
    return typer.Exit(1)


# -- commands ---------------------------------------------------------------------------------------------------


@app.command()
def activate(
    server: Annotated[str, typer.Option(help="The Sésame server, e.g. https://id.example.")],
    tenant: Annotated[str, typer.Option(help="The service, e.g. laposte.")],
    email: Annotated[str, typer.Option(help="Your email address at the service.")],
    label: Annotated[str, typer.Option(help="A name for this device.")] = "sesame-app",
    state: StateDir = None,
    as_json: JsonOut = False,
) -> None:
    """Activate this computer as your app: password, SMS code, a 4-digit secret code, a new key."""
    directory = state_dir(state)
    password = typer.prompt("Password", hide_input=True, err=True)
    api = DeviceApi(server, tenant)
    try:
        started = api.post("/activation", {"email": email, "password": password})
        step = {"activation_id": started["activation_id"], "activation_token": started["activation_token"]}
        if not as_json:
            typer.echo(f"A code was sent by SMS to {started['mobile_masked']}.", err=True)
        _verify_code(api, step)
        key = ec.generate_private_key(ec.SECP256R1())
        device = _register(api, step, key, label)
    except Refused as refused:
        raise _fail(as_json, refused) from None
    finally:
        api.close()
    saved = DeviceState(server=server.rstrip("/"), tenant=tenant, device_id=device["device_id"], label=device["label"])
    save_device(directory, saved, key)
    _print(
        as_json,
        {**asdict(saved), "state_dir": str(directory)},
        f"The app is activated: device {saved.device_id} ({saved.label}), key kept in {directory / KEY_FILE}.",
    )


def _verify_code(api: DeviceApi, step: dict[str, str]) -> None:
    for attempt in range(PROMPT_TRIES):
        code = typer.prompt("Code received by SMS", err=True).strip()
        try:
            api.post("/activation/code", {**step, "code": code})
            return
        except Refused as refused:
            if refused.code != "code_wrong" or attempt == PROMPT_TRIES - 1:
                raise
            typer.echo(f"{refused.message} ({refused.body.get('remaining')} left)", err=True)


def _register(api: DeviceApi, step: dict[str, str], key: ec.EllipticCurvePrivateKey, label: str) -> dict[str, Any]:
    for attempt in range(PROMPT_TRIES):
        pin = typer.prompt("Choose a 4-digit secret code", hide_input=True, confirmation_prompt="Confirm it", err=True)
        try:
            return api.post("/register", {**step, "public_key": public_jwk(key), "pin": pin, "label": label})
        except Refused as refused:
            if refused.code != "pin_rejected" or attempt == PROMPT_TRIES - 1:
                raise
            typer.echo(refused.message, err=True)
    raise AssertionError("unreachable")


@app.command()
def pending(state: StateDir = None, as_json: JsonOut = False) -> None:
    """List the requests waiting for this device."""
    device, key = load_device(state_dir(state))
    api = DeviceApi(device.server, device.tenant)
    try:
        data = api.pending(device, key)
    except Refused as refused:
        raise _fail(as_json, refused) from None
    finally:
        api.close()
    requests = data.get("requests", [])
    if as_json:
        typer.echo(json.dumps({"device_id": device.device_id, "requests": requests}, ensure_ascii=False, indent=2))
        return
    if not requests:
        typer.echo("No request is waiting.")
    for item in requests:
        check = (
            f"check that it shows: {item['binding_message']}"
            if item.get("binding_mode") == "compare"
            else "approve with --binding <the number it shows>"
        )
        typer.echo(f"{item['request_id']}  {item['service']}  ({item['kind']}, until {item['expires_at']}): {check}")


def _find(api: DeviceApi, device: DeviceState, key: ec.EllipticCurvePrivateKey, request_id: str) -> dict[str, Any]:
    for item in api.pending(device, key).get("requests", []):
        if item.get("request_id") == request_id:
            return dict(item)
    raise Refused("not_pending", f"no request {request_id} is waiting for this device (answered, or expired)", {})


def _answer(
    device: DeviceState,
    key: ec.EllipticCurvePrivateKey,
    api: DeviceApi,
    item: dict[str, Any],
    decision: Decision,
    binding: str,
    pin: str | None,
) -> dict[str, Any]:
    signed = decision_signing_input(item["request_id"], item["service"], binding, decision, item["nonce"])
    body: dict[str, Any] = {
        "device_id": device.device_id,
        "request_id": item["request_id"],
        "decision": decision.value,
        "binding_code": binding,
        "signature": sign(key, signed),
    }
    if pin is not None:
        body["pin"] = pin
    return api.post("/decision", body)


@app.command()
def approve(
    request_id: Annotated[str, typer.Argument(help="The request's id, as `pending` lists it.")],
    binding: Annotated[
        str | None, typer.Option("--binding", help="The number the website shows (number matching).")
    ] = None,
    state: StateDir = None,
    as_json: JsonOut = False,
) -> None:
    """Approve a request: the number shown by the website, then your 4-digit secret code."""
    device, key = load_device(state_dir(state))
    api = DeviceApi(device.server, device.tenant)
    try:
        item = _find(api, device, key, request_id)
        if item.get("binding_mode") == "compare":
            shown = str(item.get("binding_message") or "")
            if binding is not None and " ".join(binding.split()) != " ".join(shown.split()):
                raise typer.BadParameter(f"the request shows {shown!r}, not {binding!r}")
            if not as_json:
                typer.echo(f"{item['service']} shows: {shown}", err=True)
            binding = shown
        elif binding is None:
            binding = typer.prompt(f"Number shown by {item['service']}", err=True).strip()
        pin = typer.prompt("Your 4-digit secret code", hide_input=True, err=True)
        result = _answer(device, key, api, item, Decision.APPROVE, binding, pin)
    except Refused as refused:
        if refused.code in ("device_disabled", "unknown_device"):
            forget_device(state_dir(state))
        raise _fail(as_json, refused) from None
    finally:
        api.close()
    _print(as_json, {"request_id": request_id, **result}, f"Approved: {item['service']}.")


@app.command()
def deny(
    request_id: Annotated[str, typer.Argument(help="The request's id, as `pending` lists it.")],
    state: StateDir = None,
    as_json: JsonOut = False,
) -> None:
    """Refuse a request (no secret code needed)."""
    device, key = load_device(state_dir(state))
    api = DeviceApi(device.server, device.tenant)
    try:
        item = _find(api, device, key, request_id)
        result = _answer(device, key, api, item, Decision.DENY, "", None)
    except Refused as refused:
        raise _fail(as_json, refused) from None
    finally:
        api.close()
    _print(as_json, {"request_id": request_id, **result}, f"Refused: {item['service']}.")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
