"""Changing a password: the forced change at login, recovery, and the account page share this.

Two phases, because of SQLite's write lock: :meth:`PasswordChangeService.prepare` reads the
account and hashes the new password (slow) outside any write transaction; :meth:`apply` then
stores it in the caller's unit of work together with its consequences: the "must change" flag
cleared, the account's other sessions ended, the "your password was changed" email queued and
the audit event, all committed at once or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_time

from sesame.domain.accounts import Account
from sesame.domain.errors import InvalidInput, NotFound
from sesame.domain.tenants import CredentialKind, Tenant
from sesame.messages.render import normalize_locale
from sesame.oidc.logout import BackchannelLogouts
from sesame.ports import Clock, PasswordHasher, UnitOfWork, UnitOfWorkFactory
from sesame.services.audit import audit_event
from sesame.services.context import RequestContext
from sesame.services.outbox import queue_email
from sesame.services.passwords import PasswordRules
from sesame.services.sessions import end_everything

#: Longer input is refused before any check or hash: no policy allows more (PasswordPolicy.max_length).
PASSWORD_INPUT_MAX = 1024
#: The notification's times are French time, like the pages'.
DISPLAY_TIMEZONE = ZoneInfo("Europe/Paris")
NOTIFICATION_TEMPLATE = "password_changed"


@dataclass(frozen=True, slots=True)
class NewPassword:
    """A new password that passed every check, as its hash (the password itself is not kept)."""

    account_id: int
    password_hash: str


@dataclass(frozen=True, slots=True)
class PasswordChanged:
    account: Account
    sessions_ended: int


class PasswordChangeService:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        hasher: PasswordHasher,
        rules: PasswordRules,
        *,
        base_url: str,
        logouts: BackchannelLogouts | None = None,
    ) -> None:
        """``logouts`` tells the account's partner services (back-channel logout) when sessions end."""
        self._logouts = logouts
        self._uow = uow
        self._clock = clock
        self._hasher = hasher
        self._rules = rules
        self._base_url = base_url.rstrip("/")

    def prepare(self, tenant: Tenant, account_id: int, password: str, confirmation: str) -> NewPassword:
        """Check ``password`` for the account and hash it (slow: call before any write transaction).

        Raises ``InvalidInput`` with ``field`` ("password" or "password_confirm") and ``reason``
        ("required", "mismatch", "unchanged"), or ``PolicyViolation`` with the failed ``rules``.
        """
        # The form's own checks first: nothing to hash when the two fields differ.
        if not password:
            raise InvalidInput("new password missing", field="password", reason="required")
        if len(password) > PASSWORD_INPUT_MAX:
            raise InvalidInput("new password too long", field="password", reason="too_long")
        if password != confirmation:
            raise InvalidInput("confirmation differs", field="password_confirm", reason="mismatch")
        with self._uow(readonly=True) as uow:
            account = uow.accounts.get(account_id)
            if account is None or account.tenant_id != tenant.id:
                raise NotFound(f"account {account_id} in {tenant.slug}")
            current = uow.accounts.credentials(account_id, CredentialKind.PASSWORD.value)
        names = (account.given_name, account.family_name)
        self._rules.require_valid(tenant.policy.password, password, email=account.email or "", names=names)
        # A change must change something: after a fraud alert the old password is the one to leave.
        if current and self._hasher.verify(current[0].secret_hash, password):
            raise InvalidInput("new password equals the current one", field="password", reason="unchanged")
        return NewPassword(account_id=account_id, password_hash=self._hasher.hash(password))

    def apply(
        self,
        uow: UnitOfWork,
        tenant: Tenant,
        new: NewPassword,
        context: RequestContext,
        *,
        reason: str,
        keep_session_id: str | None = None,
    ) -> PasswordChanged:
        """Store ``new`` in the caller's transaction, with its consequences (see the module doc).

        Every session of the account ends except ``keep_session_id`` (the account page keeps
        the one in use; a forced change at login and recovery keep none). ``reason`` says which
        path changed it ("forced_at_login", "recovery", "account_page"), for the audit log.
        """
        now = self._clock.now()
        account = uow.accounts.get(new.account_id, for_update=True)
        if account is None or account.tenant_id != tenant.id:
            raise NotFound(f"account {new.account_id} in {tenant.slug}")
        uow.accounts.set_credential(account.id, CredentialKind.PASSWORD.value, new.password_hash, now)
        account.password_change_required = False
        account.updated_at = now
        uow.accounts.save(account)
        ended = end_everything(
            uow, account.id, now, "password_changed", keep_session_id=keep_session_id, logouts=self._logouts
        ).sessions
        if account.email:
            queue_email(
                uow,
                tenant,
                NOTIFICATION_TEMPLATE,
                account.locale,
                account.email,
                self.notification_context(tenant, account, now),
                now=now,
            )
        audit_event(
            uow,
            self._clock,
            tenant.id,
            "password.changed",
            actor=context.actor,
            subject=f"account:{account.id}",
            ip=context.ip,
            correlation_id=context.correlation_id,
            details={"reason": reason[:60], "sessions_ended": ended, "notified": bool(account.email)},
        )
        return PasswordChanged(account=account, sessions_ended=ended)

    def change_password(
        self,
        tenant: Tenant,
        account_id: int,
        password: str,
        confirmation: str,
        context: RequestContext,
        *,
        reason: str,
        keep_session_id: str | None = None,
    ) -> PasswordChanged:
        """:meth:`prepare` then :meth:`apply` in a transaction of its own."""
        new = self.prepare(tenant, account_id, password, confirmation)
        with self._uow() as uow:
            changed = self.apply(uow, tenant, new, context, reason=reason, keep_session_id=keep_session_id)
            uow.commit()
        return changed

    def notification_context(self, tenant: Tenant, account: Account, when: datetime) -> dict[str, str]:
        """The ``password_changed`` email's variables (besides ``tenant_name`` and ``brand_color``)."""
        locale = _babel_locale(account.locale)
        local = when.astimezone(DISPLAY_TIMEZONE)
        return {
            "name": account.given_name,
            "changed_date": format_date(local.date(), format="long", locale=locale),
            "changed_time": format_time(local.time(), format="short", locale=locale),
            "recovery_url": f"{self._base_url}/{tenant.slug}/recovery",
            "support_url": tenant.policy.branding.support_url,
        }


def _babel_locale(locale: str) -> str:
    """The account's language for dates, French when babel does not know it."""
    candidate = normalize_locale(locale)
    try:
        Locale.parse(candidate)
    except (ValueError, UnknownLocaleError):
        return "fr"
    return candidate
