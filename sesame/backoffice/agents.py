"""Agents of the back office: the directory (create, list, disable, enable: the CLI), the login, and
the agents' sessions.

The login follows :mod:`sesame.services.authentication`: a per-address throttle, a lockout on the
shared counters (:data:`~sesame.domain.agents.BACKOFFICE_LOCKOUT`), an argon2 verification even
for unknown addresses (no timing oracle), one generic answer. Sessions are 256 random bits in a
cookie and their SHA-256 in the database, with an idle timeout and a working day's absolute limit.
"""

from __future__ import annotations

import builtins
import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from sesame.domain.agents import (
    BACKOFFICE_IDLE_SECONDS,
    BACKOFFICE_LOCKOUT,
    BACKOFFICE_PASSWORD,
    BACKOFFICE_SESSION_SECONDS,
    Agent,
    AgentSession,
    check_agent_email,
    check_display_name,
    parse_roles,
)
from sesame.domain.errors import InvalidInput, NotFound
from sesame.ports import Clock, Counters, PasswordHasher, UnitOfWork, UnitOfWorkFactory
from sesame.services.audit import audit_event
from sesame.services.authentication import IP_MAX
from sesame.services.context import RequestContext
from sesame.services.passwords import PasswordRules
from sesame.services.sessions import SESSION_TOKEN_BYTES, TOUCH_INTERVAL, USER_AGENT_MAX, session_id_of
from sesame.services.throttling import LockoutGuard, Throttle

#: A generated one-time password: 120 random bits, 20 characters (over the policy's minimum).
ONE_TIME_PASSWORD_BYTES = 15
#: Longest password accepted at login (argon2 of megabytes would be a denial of service).
PASSWORD_MAX = 1024


def lockout_key(email: str) -> str:
    """The lockout counters' key of a typed address, whether or not an agent has it (hashed: the
    counters hold no address)."""
    return "agent:" + hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]


def ip_throttle_key(ip: str) -> str:
    return f"agent-login-ip:{ip[:IP_MAX]}"


# -- the directory ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CreatedAgent:
    agent: Agent
    #: Only when generated: shown once to whoever created the agent, to be changed at first login.
    one_time_password: str | None = field(default=None, repr=False)


class AgentDirectory:
    """Administration of agents (the ``sesame agent`` commands). Every change is audited."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, hasher: PasswordHasher, rules: PasswordRules) -> None:
        self._uow = uow
        self._clock = clock
        self._hasher = hasher
        self._rules = rules

    def create(
        self,
        tenant_slugs: Sequence[str],
        email: str,
        display_name: str,
        roles: Sequence[str],
        context: RequestContext,
        *,
        password: str | None = None,
    ) -> CreatedAgent:
        """A new active agent; without ``password`` a one-time one is generated (and must be
        changed at the first login). ``InvalidInput``, ``NotFound`` (a tenant), ``AlreadyExists``."""
        normalized = check_agent_email(email)
        name = check_display_name(display_name)
        parsed = parse_roles(roles)
        if not tenant_slugs:
            raise InvalidInput("an agent works for at least one tenant")
        generated = password is None
        if password is None:
            password = secrets.token_urlsafe(ONE_TIME_PASSWORD_BYTES)
        else:
            self._rules.require_valid(BACKOFFICE_PASSWORD, password, email=normalized, names=[name])
        password_hash = self._hasher.hash(password)  # slow: before the transaction
        now = self._clock.now()
        with self._uow() as uow:
            tenant_ids = []
            for slug in dict.fromkeys(tenant_slugs):
                tenant = uow.tenants.get_by_slug(slug)
                if tenant is None:
                    raise NotFound(f"no tenant {slug!r}")
                tenant_ids.append(tenant.id)
            agent = uow.agents.add(
                Agent(
                    id=0,
                    email=normalized,
                    display_name=name,
                    roles=parsed,
                    tenant_ids=tuple(sorted(tenant_ids)),
                    active=True,
                    created_at=now,
                    updated_at=now,
                    password_hash=password_hash,
                    password_change_required=generated,
                )
            )
            self._audit(
                uow, "backoffice.agent_created", agent, context, {"roles": sorted(parsed), "generated": generated}
            )
            uow.commit()
        return CreatedAgent(agent, password if generated else None)

    def list(self, tenant_slug: str | None = None) -> list[Agent]:
        with self._uow(readonly=True) as uow:
            tenant_id = None
            if tenant_slug is not None:
                tenant = uow.tenants.get_by_slug(tenant_slug)
                if tenant is None:
                    raise NotFound(f"no tenant {tenant_slug!r}")
                tenant_id = tenant.id
            return list(uow.agents.list(tenant_id))

    def slugs(self, agent: Agent) -> builtins.list[str]:
        """The slugs of the agent's tenants (for display)."""
        with self._uow(readonly=True) as uow:
            return [tenant.slug for tenant in uow.tenants.list() if tenant.id in agent.tenant_ids]

    def disable(self, email: str, context: RequestContext) -> Agent:
        """No more logins; the agent's sessions end now."""
        now = self._clock.now()
        with self._uow() as uow:
            agent = self._get(uow, email)
            agent.active, agent.disabled_at, agent.updated_at = False, now, now
            uow.agents.save(agent)
            ended = uow.agents.end_sessions(agent.id, now, "disabled")
            self._audit(uow, "backoffice.agent_disabled", agent, context, {"sessions_ended": ended})
            uow.commit()
        return agent

    def enable(self, email: str, context: RequestContext, counters: Counters) -> Agent:
        """Active again, and its login lockout lifted."""
        now = self._clock.now()
        with self._uow() as uow:
            agent = self._get(uow, email)
            agent.active, agent.disabled_at, agent.updated_at = True, None, now
            uow.agents.save(agent)
            self._audit(uow, "backoffice.agent_enabled", agent, context, {})
            uow.commit()
        LockoutGuard(counters, self._clock, BACKOFFICE_LOCKOUT).unlock(lockout_key(agent.email))
        return agent

    def _get(self, uow: UnitOfWork, email: str) -> Agent:
        agent = uow.agents.by_email(email.strip().lower())
        if agent is None:
            raise NotFound("no agent with this email address")
        return agent

    def _audit(
        self, uow: UnitOfWork, event: str, agent: Agent, context: RequestContext, details: dict[str, object]
    ) -> None:
        audit_event(
            uow,
            self._clock,
            None,
            event,
            actor=context.actor,
            subject=agent.actor,
            ip=context.ip[:IP_MAX],
            correlation_id=context.correlation_id,
            details={"tenants": list(agent.tenant_ids), **details},
        )


# -- login and sessions ----------------------------------------------------------------------------


class LoginStatus(StrEnum):
    OK = "ok"
    INVALID = "invalid"  # wrong address or password: the generic error
    SUSPENDED = "suspended"  # too many failures: wait until ``retry_at``
    LOCKED = "locked"  # too many suspensions: an administrator re-enables the agent
    THROTTLED = "throttled"  # too many tries from this address
    DISABLED = "disabled"  # the right password, but the agent is disabled


@dataclass(frozen=True, slots=True)
class LoginOutcome:
    status: LoginStatus
    agent: Agent | None = None
    retry_at: datetime | None = None

    @property
    def ok(self) -> bool:
        return self.status is LoginStatus.OK


@dataclass(frozen=True, slots=True)
class OpenedAgentSession:
    token: str = field(repr=False)  # for the cookie only; never stored, never logged
    session: AgentSession


@dataclass(frozen=True, slots=True)
class LiveAgent:
    session: AgentSession
    agent: Agent


class AgentAccess:
    """Logging agents in and out, and the sessions between."""

    def __init__(
        self, uow: UnitOfWorkFactory, clock: Clock, counters: Counters, hasher: PasswordHasher, rules: PasswordRules
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._counters = counters
        self._hasher = hasher
        self._rules = rules

    def authenticate(self, email: str, password: str, context: RequestContext) -> LoginOutcome:
        """Check an address and a password; every refusal is audited (the server-wide chain)."""
        now = self._clock.now()
        throttle = Throttle(self._counters, self._clock).hit(
            ip_throttle_key(context.ip), BACKOFFICE_LOCKOUT.ip_requests_per_minute, 60
        )
        if not throttle.allowed:
            self._audit_refusal("backoffice.login_throttled", context, None, {})
            return LoginOutcome(LoginStatus.THROTTLED, retry_at=now + timedelta(seconds=throttle.retry_after_seconds))
        guard = LockoutGuard(self._counters, self._clock, BACKOFFICE_LOCKOUT)
        key = lockout_key(email)
        state = guard.check(key)
        if not state.allowed:
            self._hasher.dummy_verify(password[:PASSWORD_MAX])
            self._audit_refusal("backoffice.login_refused", context, None, {"lockout": state.status.value})
            return self._lockout(state.status.value, state.suspended_until)
        with self._uow(readonly=True) as uow:
            agent = uow.agents.by_email(email.strip().lower()) if email.strip() else None
        if agent is None or len(password) > PASSWORD_MAX:
            self._hasher.dummy_verify(password[:PASSWORD_MAX])
            valid = False
        else:
            valid = self._hasher.verify(agent.password_hash, password)
        if not valid:
            decision = guard.register_failure(key)
            self._audit_refusal("backoffice.login_failed", context, agent, {"lockout": decision.status.value})
            if not decision.allowed:
                return self._lockout(decision.status.value, decision.suspended_until)
            return LoginOutcome(LoginStatus.INVALID)
        assert agent is not None
        guard.register_success(key)
        if not agent.active:
            self._audit_refusal("backoffice.login_refused", context, agent, {"status": "disabled"})
            return LoginOutcome(LoginStatus.DISABLED)
        if self._hasher.needs_rehash(agent.password_hash):
            agent.password_hash = self._hasher.hash(password)
        return LoginOutcome(LoginStatus.OK, agent=agent)

    def open(self, agent: Agent, context: RequestContext, token: str | None = None) -> OpenedAgentSession:
        """A new session for an authenticated agent (a new id at every login)."""
        now = self._clock.now()
        token = token or secrets.token_urlsafe(SESSION_TOKEN_BYTES)
        session = AgentSession(
            id=session_id_of(token),
            agent_id=agent.id,
            created_at=now,
            last_seen_at=now,
            idle_expires_at=now + timedelta(seconds=BACKOFFICE_IDLE_SECONDS),
            expires_at=now + timedelta(seconds=BACKOFFICE_SESSION_SECONDS),
            ip=context.ip[:IP_MAX],
            user_agent=context.user_agent[:USER_AGENT_MAX],
        )
        with self._uow() as uow:
            stored = uow.agents.get(agent.id)
            if stored is None:
                raise NotFound("no such agent")
            stored.last_login_at = now
            stored.password_hash = agent.password_hash  # upgraded by authenticate() if it had to be
            uow.agents.save(stored)
            uow.agents.add_session(session)
            self._audit(uow, "backoffice.login", stored, context, {})
            uow.commit()
        return OpenedAgentSession(token=token, session=session)

    def resolve(self, token: str | None) -> LiveAgent | None:
        """The live session behind a cookie value, with its (active) agent; None otherwise.
        Each use pushes the idle timeout back (written at most once a minute)."""
        if not token or len(token) > 128:
            return None
        now = self._clock.now()
        session_id = session_id_of(token)
        with self._uow(readonly=True) as uow:
            session = uow.agents.get_session(session_id)
            if session is None or not session.is_active(now):
                return None
            agent = uow.agents.get(session.agent_id)
        if agent is None or not agent.active:
            return None
        if now - session.last_seen_at >= TOUCH_INTERVAL:
            idle_until = min(now + timedelta(seconds=BACKOFFICE_IDLE_SECONDS), session.expires_at)
            with self._uow() as uow:
                uow.agents.touch_session(session_id, now, idle_until)
                uow.commit()
            session.last_seen_at, session.idle_expires_at = now, idle_until
        return LiveAgent(session=session, agent=agent)

    def end(self, live: LiveAgent, context: RequestContext) -> None:
        with self._uow() as uow:
            uow.agents.end_sessions(live.agent.id, self._clock.now(), "logout", only=live.session.id)
            self._audit(uow, "backoffice.logout", live.agent, context, {})
            uow.commit()

    def change_password(self, live: LiveAgent, current: str, new: str, context: RequestContext) -> None:
        """Replace the password (the one-time one at the first login): the current one, then the
        new one under the back office's policy. ``InvalidInput`` (field ``current``) or
        ``PolicyViolation``; the agent's other sessions end."""
        agent = live.agent
        # Wrong current passwords count toward the login lockout: a session left open is no oracle.
        guard = LockoutGuard(self._counters, self._clock, BACKOFFICE_LOCKOUT)
        if not guard.check(lockout_key(agent.email)).allowed:
            raise InvalidInput("too many wrong passwords", field="current")
        if len(current) > PASSWORD_MAX or not self._hasher.verify(agent.password_hash, current):
            guard.register_failure(lockout_key(agent.email))
            raise InvalidInput("the current password is wrong", field="current")
        if new == current:
            raise InvalidInput("the new password is the current one", field="new")
        self._rules.require_valid(BACKOFFICE_PASSWORD, new, email=agent.email, names=[agent.display_name])
        new_hash = self._hasher.hash(new)
        now = self._clock.now()
        with self._uow() as uow:
            stored = uow.agents.get(agent.id)
            if stored is None:
                raise NotFound("no such agent")
            stored.password_hash, stored.password_change_required, stored.updated_at = new_hash, False, now
            uow.agents.save(stored)
            ended = uow.agents.end_sessions(stored.id, now, "password_changed", keep=live.session.id)
            self._audit(uow, "backoffice.password_changed", stored, context, {"sessions_ended": ended})
            uow.commit()
        agent.password_hash, agent.password_change_required = new_hash, False

    # -- internals ---------------------------------------------------------------------------------

    def _lockout(self, status: str, until: datetime | None) -> LoginOutcome:
        if status == "locked":
            return LoginOutcome(LoginStatus.LOCKED)
        return LoginOutcome(LoginStatus.SUSPENDED, retry_at=until)

    def _audit(
        self, uow: UnitOfWork, event: str, agent: Agent, context: RequestContext, details: dict[str, object]
    ) -> None:
        audit_event(
            uow,
            self._clock,
            None,
            event,
            actor=agent.actor,
            subject=agent.actor,
            ip=context.ip[:IP_MAX],
            correlation_id=context.correlation_id,
            details=details,
        )

    def _audit_refusal(self, event: str, context: RequestContext, agent: Agent | None, details: dict[str, str]) -> None:
        with self._uow() as uow:
            audit_event(
                uow,
                self._clock,
                None,
                event,
                actor="anonymous",
                subject=agent.actor if agent else "agent:unknown",
                ip=context.ip[:IP_MAX],
                correlation_id=context.correlation_id,
                details=details,
            )
            uow.commit()
