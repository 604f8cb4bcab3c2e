"""Helpers of the phone app's tests: an account with a verified identity, a software device that
signs as WebCrypto does (ECDSA P-256, raw r||s), activation through the real services, and a
live server for the command-line app and the browser."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.hashes import SHA256

from sesame.bootstrap import Container
from sesame.domain.accounts import Account
from sesame.domain.devices import (
    ApprovalRequest,
    Decision,
    Device,
    b64url_encode,
    decision_signing_input,
    listing_signing_input,
)
from sesame.domain.identity import CaseStatus, VerifiedIdentity
from sesame.domain.tenants import Tenant
from sesame.services.accounts import NewAccount
from sesame.services.approvals import DeviceAnswer
from sesame.services.context import RequestContext
from sesame.services.outbox import list_messages
from tests.identity_support import new_case, walk
from tests.live_servers import Sesame, sesame_server

PASSWORD = "Appli-Sesame-2026"
#: Not trivial, not the identity's birth date (14 June 1985).
PIN = "2580"
MOBILE = "+33612345678"
CTX = RequestContext(ip="192.0.2.30", user_agent="pytest", correlation_id="corr-app", actor="anonymous")
CODE_RE = re.compile(r"\b(\d{6})\b")


def verified_account(
    container: Container, tenant: Tenant, email: str, *, mobile: str = MOBILE, password: str = PASSWORD
) -> tuple[Account, VerifiedIdentity]:
    """An account with a password and a verified identity (walked through the proofing domain)."""
    new = NewAccount(email=email, given_name="Marie", family_name="Dupont", verified=True, terms_version="1")
    account = container.accounts.create(tenant, new, password, RequestContext(actor="test"))
    case = walk(new_case(account_id=account.id), CaseStatus.ACTIVATION)
    case.tenant_id = tenant.id
    identity = case.activate(container.clock.now())
    identity.mobile = mobile
    with container.uow() as uow:
        uow.identities.add(identity)
        uow.commit()
    return account, identity


def identity_of(container: Container, account_id: int) -> VerifiedIdentity | None:
    with container.uow(readonly=True) as uow:
        return uow.identities.of_account(account_id)


class SoftDevice:
    """What the app holds: a P-256 key pair; signatures as WebCrypto gives them (r||s, base64url)."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.device_id = ""

    @property
    def jwk(self) -> dict[str, str]:
        numbers = self.key.public_key().public_numbers()
        return {
            "kty": "EC",
            "crv": "P-256",
            "x": b64url_encode(numbers.x.to_bytes(32, "big")),
            "y": b64url_encode(numbers.y.to_bytes(32, "big")),
        }

    def sign(self, message: bytes) -> str:
        r, s = decode_dss_signature(self.key.sign(message, ec.ECDSA(SHA256())))
        return b64url_encode(r.to_bytes(32, "big") + s.to_bytes(32, "big"))

    def listing(self, tenant: Tenant, timestamp: int) -> tuple[int, str]:
        return timestamp, self.sign(listing_signing_input(tenant.slug, self.device_id, timestamp))

    def answer(
        self,
        request: ApprovalRequest,
        decision: Decision = Decision.APPROVE,
        *,
        binding_code: str | None = None,
        pin: str | None = PIN,
        service: str | None = None,
        request_id: str | None = None,
        nonce: str | None = None,
    ) -> DeviceAnswer:
        """The device's answer; each signed field may be changed to tamper with it."""
        binding = request.binding_code if binding_code is None else binding_code
        message = decision_signing_input(
            request_id or request.id,
            request.service_name if service is None else service,
            binding,
            decision,
            request.nonce if nonce is None else nonce,
        )
        return DeviceAnswer(
            device_id=self.device_id,
            request_id=request.id,
            decision=decision,
            binding_code=binding,
            signature=self.sign(message),
            pin=pin,
        )


def sms_codes(container: Container, mobile: str = MOBILE) -> list[str]:
    """The activation codes sent to ``mobile``, newest first."""
    codes = []
    for entry in list_messages(container.uow, limit=500):
        message = entry.message
        if message.template == "device_activation_code" and message.recipient == mobile:
            match = CODE_RE.search(message.body_text)
            if match:
                codes.append(match.group(1))
    return codes


def activate(
    container: Container,
    tenant: Tenant,
    email: str,
    *,
    password: str = PASSWORD,
    pin: str = PIN,
    mobile: str = MOBILE,
    label: str = "Téléphone de Marie",
) -> tuple[Device, SoftDevice]:
    """The whole activation through the service, as the app does it."""
    devices = container.devices
    started = devices.start_activation(tenant, email, password, CTX)
    devices.verify_code(tenant, started.activation_id, started.token, sms_codes(container, mobile)[0], CTX)
    soft = SoftDevice()
    device = devices.register(tenant, started.activation_id, started.token, soft.jwk, pin, label, CTX)
    soft.device_id = device.id
    return device, soft


# -- a live server (uvicorn in a thread) whose container the test can use --------------------------------


LiveServer = Sesame


@contextmanager
def live_server(var_dir: Path) -> Iterator[LiveServer]:
    """A running Sésame with the demo tenants (dev mode, SQLite, the wall clock)."""
    with sesame_server(var_dir, name="sesame-app-server") as sesame:
        yield sesame
