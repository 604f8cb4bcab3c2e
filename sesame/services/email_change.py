"""Changing the account's email address: proven on the new address, announced on the old one.

The new address receives a link and a 6-digit code (either confirms, once, before they
expire); the old address is told at once that a change was requested, and again when it
happens. An address another account of the tenant uses gets the same outward answer, so the
form cannot tell who has an account: that address's owner receives a short note instead of
a code, and no code will ever match. The current password is checked by the caller (the flow
step), through :meth:`sesame.services.settings.AccountSettings.check_current_password`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from enum import StrEnum

from sesame.domain.accounts import Account, AccountToken, TokenPurpose, normalize_email
from sesame.domain.errors import AlreadyExists
from sesame.domain.tenants import Tenant
from sesame.ports import Clock, UnitOfWork, UnitOfWorkFactory
from sesame.services.context import RequestContext
from sesame.services.outbox import queue_email
from sesame.services.settings import audit_account_event, public_url
from sesame.services.tokens import MAX_CODE_ATTEMPTS, OneTimeTokens, link_hash

#: How long the link and code sent to the new address stay valid (the old address is told at once).
EMAIL_CHANGE_LIFETIME = timedelta(hours=24)


class EmailChangeStatus(StrEnum):
    CHANGED = "changed"
    INVALID = "invalid"  # unknown, used or expired link
    WRONG_CODE = "wrong_code"  # or no pending change, or a code used up
    TAKEN = "taken"  # another account took the address since the request


def mask_email(email: str) -> str:
    """``m***@example.fr``: enough for the owner to recognise an address, not to harvest it."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


def same_address(first: str | None, second: str) -> bool:
    return first is not None and normalize_email(first) == normalize_email(second)


class EmailChange:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, tokens: OneTimeTokens, *, base_url: str) -> None:
        self._uow = uow
        self._clock = clock
        self._tokens = tokens
        self._base_url = base_url

    # -- request -----------------------------------------------------------------------------------

    def start(self, uow: UnitOfWork, tenant: Tenant, account: Account, new_email: str, context: RequestContext) -> None:
        """Send the proof to ``new_email`` and tell the current address a change was requested."""
        in_use = self._send_proof(uow, tenant, account, new_email)
        if account.email:
            notice = self._notice_vars(tenant, account, new_email)
            queue_email(
                uow, tenant, "email_change_requested", account.locale, account.email, notice, now=self._clock.now()
            )
        self._audit(uow, tenant, "email_change.requested", account.id, context, {"address_in_use": in_use})

    def resend(
        self, uow: UnitOfWork, tenant: Tenant, account: Account, new_email: str, context: RequestContext
    ) -> None:
        """Send the proof again: a new link and code, the older ones stop working."""
        in_use = self._send_proof(uow, tenant, account, new_email)
        self._audit(uow, tenant, "email_change.resent", account.id, context, {"address_in_use": in_use})

    def _send_proof(self, uow: UnitOfWork, tenant: Tenant, account: Account, new_email: str) -> bool:
        """Queue the link and code, or the note to another account's owner; True in that case."""
        now = self._clock.now()
        owner = uow.accounts.by_email(tenant.id, new_email)
        if owner is not None and owner.id != account.id:
            uow.accounts.revoke_tokens(account.id, TokenPurpose.CHANGE_EMAIL, now)  # no older code matches either
            note = {
                "name": owner.given_name,
                "login_url": self._url(tenant, "login"),
                "recovery_url": self._url(tenant, "recovery"),
            }
            queue_email(uow, tenant, "email_change_taken", owner.locale, new_email, note, now=now)
            return True
        issued = self._tokens.issue(
            uow, account.id, TokenPurpose.CHANGE_EMAIL, now, EMAIL_CHANGE_LIFETIME, target=new_email
        )
        proof = {
            "name": account.given_name,
            "link_url": self._url(tenant, f"account/email/confirm?token={issued.link_token}"),
            "code": issued.code,
            "expires_hours": int(EMAIL_CHANGE_LIFETIME.total_seconds() // 3600),
        }
        queue_email(uow, tenant, "email_change_confirm", account.locale, new_email, proof, now=now, sensitive=True)
        return False

    # -- confirmation ------------------------------------------------------------------------------

    def confirm_code(
        self, uow: UnitOfWork, tenant: Tenant, account_id: int, code: str, context: RequestContext
    ) -> EmailChangeStatus:
        """Apply the pending change if ``code`` matches; the caller commits even on a wrong code
        (the try is counted)."""
        token = self._tokens.redeem_code(uow, account_id, TokenPurpose.CHANGE_EMAIL, code, self._clock.now())
        if token is None:
            details = {"via": "code", "reason": "wrong_code"}
            self._audit(uow, tenant, "email_change.confirm_failed", account_id, context, details)
            return EmailChangeStatus.WRONG_CODE
        return self._apply(uow, tenant, token, "code", context)

    def pending_link(self, tenant: Tenant, link_token: str) -> str | None:
        """The new address a link would confirm while it is still good; uses nothing up."""
        if not link_token or len(link_token) > 128:
            return None
        with self._uow(readonly=True) as uow:
            token = uow.accounts.token_by_link(link_hash(link_token))
            if token is None or not self._link_usable(token):
                return None
            account = uow.accounts.get(token.account_id)
        return token.target if account is not None and account.tenant_id == tenant.id else None

    def confirm_link(self, tenant: Tenant, link_token: str, context: RequestContext) -> EmailChangeStatus:
        """Apply the change a link was sent for: from any browser, logged in or not."""
        with self._uow() as uow:
            token = self._tokens.redeem_link(uow, link_token, TokenPurpose.CHANGE_EMAIL, self._clock.now())
            account = uow.accounts.get(token.account_id) if token is not None else None
            if token is None or account is None or account.tenant_id != tenant.id:
                uow.rollback()  # a link of another tenant stays unused
                details = {"via": "link", "reason": "invalid"}
                self._audit(uow, tenant, "email_change.confirm_failed", None, context, details)
                uow.commit()
                return EmailChangeStatus.INVALID
            status = self._apply(uow, tenant, token, "link", context)
            uow.commit()
        return status

    def _link_usable(self, token: AccountToken) -> bool:
        # As OneTimeTokens.redeem_link: wrong codes use up the code, not the link.
        return token.purpose is TokenPurpose.CHANGE_EMAIL and token.usable(self._clock.now(), MAX_CODE_ATTEMPTS + 1)

    def _apply(
        self, uow: UnitOfWork, tenant: Tenant, token: AccountToken, via: str, context: RequestContext
    ) -> EmailChangeStatus:
        now = self._clock.now()
        account = uow.accounts.get(token.account_id, for_update=True)
        if account is None or account.tenant_id != tenant.id or not token.target:
            return EmailChangeStatus.INVALID
        old_email, new_email = account.email, token.target
        account.email, account.email_verified_at, account.updated_at = new_email, now, now
        try:
            uow.accounts.save(account)
        except AlreadyExists:
            details = {"via": via, "reason": "address_in_use"}
            self._audit(uow, tenant, "email_change.confirm_failed", account.id, context, details)
            return EmailChangeStatus.TAKEN
        # Links still waiting in the old mailbox must not act on the account any more.
        for purpose in (TokenPurpose.CONFIRM_EMAIL, TokenPurpose.RECOVERY):
            uow.accounts.revoke_tokens(account.id, purpose, now)
        if old_email:
            notice = self._notice_vars(tenant, account, new_email)
            queue_email(uow, tenant, "email_changed", account.locale, old_email, notice, now=now)
        self._audit(uow, tenant, "account.email_changed", account.id, context, {"via": via})
        return EmailChangeStatus.CHANGED

    # -- internals ---------------------------------------------------------------------------------

    def _url(self, tenant: Tenant, path: str) -> str:
        return public_url(self._base_url, tenant, path)

    def _notice_vars(self, tenant: Tenant, account: Account, new_email: str) -> dict[str, object]:
        return {
            "name": account.given_name,
            "new_email_masked": mask_email(new_email),
            "account_url": self._url(tenant, "account"),
            "recovery_url": self._url(tenant, "recovery"),
        }

    def _audit(
        self,
        uow: UnitOfWork,
        tenant: Tenant,
        event: str,
        account_id: int | None,
        context: RequestContext,
        details: Mapping[str, object],
    ) -> None:
        audit_account_event(uow, self._clock, tenant, event, account_id, context, details)
