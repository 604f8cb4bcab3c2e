"""Ports: the Protocols that services depend on and adapters implement.

Services never import an adapter; the composition root (``sesame.bootstrap``) picks the
adapter for each port from the settings: the embedded default (SQLite, outbox table, local
stores) or the production one (PostgreSQL, Redis, SMTP, an SMS HTTP provider).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self

from sesame.domain.accounts import Account, AccountToken, BrowserSession, Credential, TokenPurpose
from sesame.domain.agents import Agent, AgentSession, SecondApproval
from sesame.domain.api_keys import ApiKey
from sesame.domain.audit import AuditEvent, AuditRecord, ChainHead
from sesame.domain.customers import CustomerProfile
from sesame.domain.devices import ApprovalRequest, ApprovalStatus, Device, DeviceActivation
from sesame.domain.documents import DocumentInfo, StoredDocument
from sesame.domain.factors import SecondFactor
from sesame.domain.flows import FlowRecord
from sesame.domain.identity import CaseStatus, ProofingCase, VerificationMethod, VerifiedIdentity
from sesame.domain.images import SanitizedImage
from sesame.domain.messages import EmailMessage, Letter, OutboundMessage, SmsMessage, StoredMessage
from sesame.domain.mrz import MrzReading
from sesame.domain.referentials import Country, Town
from sesame.domain.registered_letters import LetterStatus, RegisteredLetter
from sesame.domain.tenants import Tenant, TenantPolicy
from sesame.oidc.models import (
    AccessTokenState,
    AuthorizationCode,
    Consent,
    Grant,
    OidcClient,
    RefreshToken,
    SigningKey,
)

# -- time -------------------------------------------------------------------------------------


class Clock(Protocol):
    """The time, injected so that expiry, lockout and retention can be tested without waiting."""

    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...


# -- repositories -------------------------------------------------------------------------------


class TenantRepository(Protocol):
    def get_by_slug(self, slug: str) -> Tenant | None: ...

    def get(self, tenant_id: int) -> Tenant | None: ...

    def list(self) -> Sequence[Tenant]: ...

    def add(self, slug: str, name: str, policy: TenantPolicy, now: datetime) -> Tenant: ...

    def update_policy(self, tenant_id: int, policy: TenantPolicy, now: datetime) -> Tenant: ...


class FlowRepository(Protocol):
    def get(self, flow_id: str) -> FlowRecord | None: ...

    def add(self, flow: FlowRecord) -> None: ...

    def save(self, flow: FlowRecord) -> None:
        """Store a changed flow; raises ``FlowStateError`` if someone else changed it first."""
        ...

    def delete_expired(self, before: datetime) -> int: ...


class OutboxRepository(Protocol):
    """The transactional outbox: messages written with the change that causes them."""

    def add(self, message: OutboundMessage, now: datetime) -> int:
        """Store a message to deliver at ``now`` (or at its ``not_before``); returns its id."""
        ...

    def claim_due(self, now: datetime, limit: int, lease_seconds: int, owner: str) -> Sequence[StoredMessage]:
        """Lease up to ``limit`` due messages to ``owner`` (safe with several workers)."""
        ...

    def mark_sent(self, message_id: int, now: datetime) -> None: ...

    def mark_failed(self, message_id: int, now: datetime, error: str, retry_at: datetime | None) -> None:
        """Record a failed attempt; ``retry_at`` None means no more attempts (dead)."""
        ...

    def scrub(self, message_id: int) -> None:
        """Forget a delivered message's bodies and PDF (they held a secret such as a code)."""
        ...

    def list(self, limit: int = 100, tenant_id: int | None = None) -> Sequence[StoredMessage]: ...

    def get(self, message_id: int) -> StoredMessage | None: ...


class AuditRepository(Protocol):
    def append(self, event: AuditEvent) -> AuditRecord:
        """Append one event at the end of its tenant's hash chain."""
        ...

    def chain(self, tenant_id: int | None, after_seq: int = 0, limit: int = 1000) -> Sequence[AuditRecord]:
        """Records of one tenant's chain (``None``: the server-wide chain) in order."""
        ...

    def head(self, tenant_id: int | None) -> ChainHead | None:
        """Where the chain ends, as its head row says (None: nothing appended yet)."""
        ...

    def chains(self) -> Sequence[int | None]:
        """Every chain that has a head or a record (``None``: the server-wide chain first)."""
        ...

    def recent(
        self, limit: int, *, tenant_ids: Sequence[int | None] | None = None, type: str | None = None
    ) -> Sequence[AuditRecord]:
        """The latest records, newest first, of the given chains (``None``: every chain)."""
        ...


class AccountRepository(Protocol):
    """Accounts with their credentials, browser sessions and one-time tokens."""

    def get(self, account_id: int, *, for_update: bool = False) -> Account | None: ...

    def by_email(self, tenant_id: int, email: str) -> Account | None: ...

    def by_customer_number(self, tenant_id: int, number: str) -> Account | None: ...

    def add(self, account: Account) -> Account:
        """Store a new account (its ``id`` is set); ``AlreadyExists`` if the identifier is taken."""
        ...

    def save(self, account: Account) -> None: ...

    def list(self, tenant_id: int, *, limit: int = 100, offset: int = 0) -> Sequence[Account]: ...

    def credentials(self, account_id: int, kind: str | None = None) -> Sequence[Credential]: ...

    def set_credential(self, account_id: int, kind: str, secret_hash: str, now: datetime) -> Credential: ...

    def rehash_credential(self, credential_id: int, secret_hash: str, now: datetime) -> None: ...

    def touch_credential(self, credential_id: int, now: datetime) -> None: ...

    def add_session(self, browser_session: BrowserSession) -> None: ...

    def get_session(self, session_id: str) -> BrowserSession | None: ...

    def touch_session(self, session_id: str, now: datetime, idle_expires_at: datetime) -> None: ...

    def sessions_of(self, account_id: int, now: datetime) -> Sequence[BrowserSession]: ...

    def end_sessions(
        self, account_id: int, now: datetime, reason: str, *, only: str | None = None, keep: str | None = None
    ) -> int: ...

    def add_token(self, token: AccountToken) -> AccountToken: ...

    def token_by_link(self, link_hash: str) -> AccountToken | None: ...

    def latest_token(self, account_id: int, purpose: TokenPurpose) -> AccountToken | None: ...

    def use_token(self, token_id: int, now: datetime) -> bool: ...

    def count_code_attempt(self, token_id: int, limit: int) -> bool:
        """Count one try of the token's code if it is unused and had fewer than ``limit``; False
        otherwise (atomic: parallel tries cannot exceed the limit)."""
        ...

    def revoke_tokens(self, account_id: int, purpose: TokenPurpose, now: datetime) -> None: ...


class CustomerRepository(Protocol):
    """What a bank knows of its enrolled customers beyond the account (postal address, birth date)."""

    def get(self, account_id: int) -> CustomerProfile | None: ...

    def add(self, profile: CustomerProfile) -> None:
        """Store the profile of a new customer; ``AlreadyExists`` if the account has one."""
        ...

    def save(self, profile: CustomerProfile) -> None: ...


class ApiKeyRepository(Protocol):
    """Admin API keys (stored as keyed hashes), one tenant each."""

    def add(self, key: ApiKey) -> ApiKey: ...

    def by_key_id(self, key_id: str) -> ApiKey | None: ...

    def list(self, tenant_id: int) -> Sequence[ApiKey]: ...

    def touch(self, key_id: str, now: datetime) -> None: ...

    def revoke(self, tenant_id: int, key_id: str, now: datetime) -> bool: ...


class ProofingRepository(Protocol):
    """Identity proofing cases (one open case per account at a time)."""

    def add(self, case: ProofingCase) -> ProofingCase: ...

    def get(self, case_id: int) -> ProofingCase | None: ...

    def open_case_of(self, account_id: int) -> ProofingCase | None: ...

    def cases_of(self, account_id: int) -> Sequence[ProofingCase]: ...

    def save(self, case: ProofingCase) -> None:
        """Store a changed case; ``FlowStateError`` if someone changed it since it was read."""
        ...

    def queue(
        self,
        tenant_id: int,
        statuses: Sequence[CaseStatus],
        *,
        methods: Sequence[VerificationMethod] | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> Sequence[ProofingCase]: ...

    def stale(
        self, statuses: Sequence[CaseStatus], updated_before: datetime, limit: int = 500
    ) -> Sequence[ProofingCase]: ...

    def delete(self, case_id: int) -> None: ...


class IdentityRepository(Protocol):
    """Verified identities (and their evidence)."""

    def add(self, identity: VerifiedIdentity) -> VerifiedIdentity: ...

    def of_account(self, account_id: int) -> VerifiedIdentity | None: ...

    def by_mobile(self, tenant_id: int, e164: str) -> Sequence[VerifiedIdentity]: ...

    def save(self, identity: VerifiedIdentity) -> None: ...

    def ended_before(self, before: datetime, tenant_id: int, limit: int = 500) -> Sequence[int]: ...

    def delete(self, identity_id: int) -> None: ...


class OidcRepository(Protocol):
    """The OpenID Connect provider's state (see sesame/adapters/sql/models/oidc.py)."""

    # clients
    def get_client(self, client_id: str) -> OidcClient | None: ...

    def clients(self, tenant_id: int) -> Sequence[OidcClient]: ...

    def add_client(self, client: OidcClient) -> None: ...

    def save_client(self, client: OidcClient) -> None: ...

    # signing keys
    def keys(self, tenant_id: int) -> Sequence[SigningKey]:
        """Every key of the tenant (active and retired), newest first."""
        ...

    def lock_keys(self, tenant_id: int) -> None:
        """Hold the tenant's keys until commit, so that two workers never both create its first
        key nor rotate at once (a row lock on PostgreSQL; SQLite write transactions are serial)."""
        ...

    def add_key(self, key: SigningKey) -> None: ...

    def save_key(self, key: SigningKey) -> None: ...

    # grants, codes, refresh tokens, revoked access tokens
    def add_grant(self, grant: Grant) -> None: ...

    def get_grant(self, grant_id: str) -> Grant | None: ...

    def revoke_grant(self, grant_id: str, now: datetime, reason: str) -> bool:
        """Revoke one grant (and so every token of it); False if it was already revoked."""
        ...

    def revoke_grants(
        self,
        now: datetime,
        reason: str,
        *,
        account_id: int | None = None,
        session_id: str | None = None,
        client_id: str | None = None,
    ) -> Sequence[Grant]:
        """Revoke the live grants matching every given filter; returns them (for back-channel logout)."""
        ...

    def add_code(self, code: AuthorizationCode) -> None: ...

    def get_code(self, code_hash: str) -> AuthorizationCode | None: ...

    def use_code(self, code_hash: str, now: datetime) -> AuthorizationCode | None:
        """Mark the code used and return it as it was before; None when unknown. ``used_at`` None:
        this call used it (one winner in any race); set: already used, the caller revokes its
        grant (RFC 6749 §4.1.2)."""
        ...

    def add_refresh_token(self, token: RefreshToken) -> None: ...

    def rotate_refresh_token(self, token_hash: str, now: datetime) -> RefreshToken | None:
        """Mark the token rotated and return it as it was before; None when unknown. ``rotated_at``
        None: this call rotated it (one winner in any race); set: reuse, the caller revokes the family."""
        ...

    def get_refresh_token(self, token_hash: str) -> RefreshToken | None: ...

    def revoke_access_token(self, jti: str, client_id: str, expires_at: datetime) -> None: ...

    def access_token_revoked(self, jti: str) -> bool: ...

    # consents
    def get_consent(self, account_id: int, client_id: str) -> Consent | None: ...

    def save_consent(self, consent: Consent) -> None: ...

    def consents_of(self, account_id: int) -> Sequence[Consent]: ...

    def delete_consent(self, account_id: int, client_id: str) -> bool: ...


class RegisteredLetterRepository(Protocol):
    """Registered electronic letters (their content sealed: the repository never sees it in clear)."""

    def add(self, letter: RegisteredLetter) -> RegisteredLetter:
        """Store a new letter (its ``id`` is set); ``AlreadyExists`` if the reference is taken."""
        ...

    def get(self, tenant_id: int, reference: str, *, for_update: bool = False) -> RegisteredLetter | None: ...

    def save(self, letter: RegisteredLetter) -> None:
        """Store the status and its times (opened, refused, notified)."""
        ...

    def list(
        self,
        tenant_id: int,
        *,
        account_id: int | None = None,
        purpose: str | None = None,
        status: LetterStatus | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> Sequence[RegisteredLetter]:
        """The tenant's letters, newest first, filtered by recipient, purpose and status."""
        ...


class FactorRepository(Protocol):
    """Second factors (TOTP, passkeys, recovery code sets) and the recovery codes' keyed hashes."""

    def of_account(self, account_id: int) -> Sequence[SecondFactor]:
        """The account's factors, oldest first (a recovery code set with its ``codes_left``)."""
        ...

    def get(self, factor_id: int) -> SecondFactor | None: ...

    def by_credential_id(self, credential_id: str) -> SecondFactor | None:
        """The passkey with this WebAuthn credential id (base64url), whoever owns it."""
        ...

    def add(self, factor: SecondFactor) -> SecondFactor:
        """Store a new factor (its ``id`` is set); ``AlreadyExists`` for a passkey registered before."""
        ...

    def remove(self, factor_id: int) -> bool:
        """Delete a factor (and a set's recovery codes); False if it was already gone."""
        ...

    def use_totp_step(self, factor_id: int, step: int, now: datetime) -> bool:
        """Record ``step`` as used if it is later than the last one used; False otherwise
        (atomic: of two logins with the same code, one wins)."""
        ...

    def use_passkey(self, factor_id: int, sign_count: int, now: datetime) -> bool:
        """Record a use with the authenticator's counter; False if the stored counter is not
        below it (a non-zero counter must grow: atomic, so a cloned key loses the race)."""
        ...

    def add_recovery_codes(self, factor_id: int, code_hashes: Sequence[str]) -> None: ...

    def use_recovery_code(self, factor_id: int, code_hash: str, now: datetime) -> bool:
        """Mark the unused code with this hash used; False if none (atomic: single use)."""
        ...


class AgentRepository(Protocol):
    """Back-office agents (with their tenant scope), their sessions, and the overrides awaiting a
    supervisor's second approval."""

    def add(self, agent: Agent) -> Agent:
        """Store a new agent (its ``id`` is set); ``AlreadyExists`` if the email address is taken."""
        ...

    def get(self, agent_id: int) -> Agent | None: ...

    def by_email(self, email: str) -> Agent | None:
        """The agent with this (normalised) address."""
        ...

    def list(self, tenant_id: int | None = None) -> Sequence[Agent]:
        """Every agent, or those whose scope includes ``tenant_id``, by email."""
        ...

    def save(self, agent: Agent) -> None: ...

    def add_session(self, agent_session: AgentSession) -> None: ...

    def get_session(self, session_id: str) -> AgentSession | None: ...

    def touch_session(self, session_id: str, now: datetime, idle_expires_at: datetime) -> None: ...

    def end_sessions(
        self, agent_id: int, now: datetime, reason: str, *, only: str | None = None, keep: str | None = None
    ) -> int:
        """End the agent's live sessions: all, ``only`` one, or all but ``keep``; returns how many."""
        ...

    def delete_sessions_before(self, before: datetime) -> int:
        """Forget sessions that ended or expired before ``before``; returns how many."""
        ...

    def add_approval(self, approval: SecondApproval) -> None:
        """Record a pending second approval; ``AlreadyExists`` if the case has one."""
        ...

    def approval(self, case_id: int) -> SecondApproval | None: ...

    def approvals(self, tenant_id: int, *, limit: int = 100, offset: int = 0) -> Sequence[SecondApproval]:
        """The tenant's pending second approvals, oldest first."""
        ...

    def pending_case_ids(self, case_ids: Sequence[int]) -> set[int]: ...

    def remove_approval(self, case_id: int) -> bool: ...


class RetentionRepository(Protocol):
    """What the retention purge looks for, per tenant: ids by ascending id, ``after_id`` to page on."""

    def idle_cases(
        self,
        tenant_id: int,
        statuses: Sequence[CaseStatus],
        updated_before: datetime,
        *,
        after_id: int = 0,
        limit: int = 200,
    ) -> Sequence[int]: ...

    def cases_holding_documents(
        self, tenant_id: int, statuses: Sequence[CaseStatus], *, after_id: int = 0, limit: int = 200
    ) -> Sequence[int]: ...

    def closed_accounts(
        self, tenant_id: int, closed_before: datetime, *, after_id: int = 0, limit: int = 200
    ) -> Sequence[int]: ...

    def delete_account(self, account_id: int) -> None:
        """Delete an account and what cascades with it (not its verified identity: evidence)."""
        ...


class DocumentStore(Protocol):
    """Documents encrypted at rest (identity document images, videos), in the caller's
    transaction: a document is written or deleted with the change that refers to it."""

    def put(self, tenant_id: int, owner: str, label: str, content: bytes, media_type: str, now: datetime) -> str:
        """Store ``content`` encrypted; returns the new document's id (random, unguessable).
        ``owner`` groups documents deleted together ("proofing:123"); owner, label and media
        type are 1 to 100 printable characters."""
        ...

    def get(self, document_id: str) -> StoredDocument | None:
        """The document decrypted (None if unknown); raises ``DocumentUnreadable`` if its row was
        altered or its key is no longer configured."""
        ...

    def delete(self, document_id: str) -> bool:
        """Delete one document; False if there was none."""
        ...

    def delete_owner(self, owner: str) -> int:
        """Delete every document of ``owner``; returns how many."""
        ...

    def list_owner(self, owner: str) -> Sequence[DocumentInfo]:
        """The documents of ``owner``, oldest first, without decrypting them."""
        ...


class DeviceRepository(Protocol):
    """The phone app's devices (public keys, keyed hashes of their codes) and activations under way."""

    def add(self, device: Device) -> Device: ...

    def get(self, device_id: str) -> Device | None: ...

    def of_account(self, account_id: int) -> Sequence[Device]:
        """Every device of the account (active and disabled), oldest first."""
        ...

    def count_active(self, account_id: int) -> int: ...

    def count_pin_failure(self, device_id: str, max_failures: int, now: datetime, reason: str) -> tuple[int, bool]:
        """Count one wrong code of an active device; disable it at ``max_failures``. Returns the
        failures counted and whether this call disabled it (atomic: parallel guesses add up)."""
        ...

    def pin_succeeded(self, device_id: str, now: datetime) -> None:
        """A right code: no failure left, last use now."""
        ...

    def touch(self, device_id: str, now: datetime) -> None: ...

    def disable(self, device_id: str, now: datetime, reason: str) -> bool:
        """Disable an active device for good; False if it was not active."""
        ...

    def add_activation(self, activation: DeviceActivation) -> None: ...

    def get_activation(self, activation_id: str) -> DeviceActivation | None: ...

    def count_activation_try(self, activation_id: str, max_tries: int) -> bool:
        """Count one try of the SMS code if fewer than ``max_tries`` were made and it is not yet
        verified; False otherwise (atomic)."""
        ...

    def verify_activation_code(self, activation_id: str, now: datetime) -> bool: ...

    def renew_activation_code(
        self, activation_id: str, code_digest: str, sent_at: datetime, expires_at: datetime
    ) -> None: ...

    def use_activation(self, activation_id: str, now: datetime) -> bool:
        """Use a verified, unexpired activation to register a device; False if used already (atomic)."""
        ...

    def delete_expired_activations(self, before: datetime) -> int: ...


class ApprovalRepository(Protocol):
    """Approval requests answered by the phone app (decoupled login, CIBA, step-up)."""

    def add(self, request: ApprovalRequest) -> None: ...

    def get(self, request_id: str) -> ApprovalRequest | None: ...

    def by_poll_handle(self, handle_hash: str) -> ApprovalRequest | None: ...

    def pending_for_account(self, account_id: int, now: datetime) -> Sequence[ApprovalRequest]:
        """The account's pending, unexpired requests, oldest first."""
        ...

    def decide(
        self, request_id: str, status: ApprovalStatus, now: datetime, *, device_id: str | None, reason: str = ""
    ) -> bool:
        """Approve or deny a pending, unexpired request; False otherwise (atomic: one winner, and a
        replayed decision changes nothing)."""
        ...

    def consume(self, request_id: str, now: datetime) -> bool:
        """Mark an approved request used by its requester; False if used already (atomic)."""
        ...

    def delete_before(self, before: datetime) -> int: ...


class ProtocolReads(Protocol):
    """The hot reads of the token, introspection and userinfo endpoints, one query each, outside
    any unit of work (each sees the latest committed rows). ``non_blocking``: they never wait
    (SQLite in WAL mode), so they may run on the event loop."""

    non_blocking: bool

    def access_token(self, jti: str, grant_id: str | None, client_id: str) -> AccessTokenState:
        """A presented access token's state: its jti revoked or not, and its grant, or for a
        client's own token its client's tenant and enabled flag."""
        ...

    def refresh_token(self, token_hash: str) -> RefreshToken | None: ...

    def grant(self, grant_id: str) -> Grant | None: ...

    def account(self, account_id: int) -> Account | None: ...

    def code(self, code_hash: str) -> AuthorizationCode | None: ...

    def session(self, session_id: str) -> BrowserSession | None: ...

    def identity(self, account_id: int) -> VerifiedIdentity | None:
        """The account's active verified identity (``IdentityRepository.of_account``)."""
        ...


class WriteTurnTaken(Exception):
    """:meth:`ProtocolWrites.transaction` with ``wait=False``: another writer has the database's
    write turn now (nothing was done)."""


class ProtocolTransaction(Protocol):
    """One short write transaction of the token endpoint: a code's use or a refresh token's
    rotation, the grant re-checked, the next refresh token and the audit event, in prebuilt
    statements (the same rows as :class:`OidcRepository` and :class:`AuditRepository` write)."""

    def use_code(self, code_hash: str, now: datetime) -> AuthorizationCode | None:
        """As :meth:`OidcRepository.use_code`: the code as it was before this call."""
        ...

    def rotate_refresh_token(self, token_hash: str, now: datetime) -> RefreshToken | None:
        """As :meth:`OidcRepository.rotate_refresh_token`: the token as it was before this call."""
        ...

    def grant(self, grant_id: str) -> Grant | None: ...

    def revoke_grant(self, grant_id: str, now: datetime, reason: str) -> bool: ...

    def add_refresh_token(self, token: RefreshToken) -> None: ...

    def append_audit(self, event: AuditEvent) -> None:
        """As :meth:`AuditRepository.append`, at the end of the event's hash chain."""
        ...

    def commit(self) -> None:
        """Leaving the transaction without it rolls everything back."""
        ...


class ProtocolWrites(Protocol):
    """The token endpoint's write transactions, outside any unit of work. ``non_blocking``: a
    transaction never waits on the network (SQLite), so it may run on the event loop when the
    write turn is free at once (``wait=False``, else :class:`WriteTurnTaken`)."""

    non_blocking: bool

    def transaction(self, *, wait: bool = True) -> AbstractContextManager[ProtocolTransaction]: ...


class UnitOfWork(Protocol):
    """One transaction: every repository sees the same one; leaving without commit rolls back."""

    tenants: TenantRepository
    accounts: AccountRepository
    oidc: OidcRepository
    flows: FlowRepository
    outbox: OutboxRepository
    audit: AuditRepository
    customers: CustomerRepository
    api_keys: ApiKeyRepository
    proofing: ProofingRepository
    identities: IdentityRepository
    factors: FactorRepository
    letters: RegisteredLetterRepository
    agents: AgentRepository
    retention: RetentionRepository
    documents: DocumentStore
    devices: DeviceRepository
    approvals: ApprovalRepository

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self, *, readonly: bool = False) -> UnitOfWork: ...


# -- counters (rate limits, lockouts) ------------------------------------------------------------


class Counters(Protocol):
    """Counters shared by every worker process and node, exact under concurrency.

    The embedded adapter keeps them in the database; the Redis adapter takes over when
    ``SESAME_REDIS_URL`` is set. Nothing here may live in one process's memory.
    """

    def increment(self, key: str, window_seconds: int, now: datetime, amount: int = 1) -> int:
        """Add ``amount`` to the counter (created if absent or expired, expiring ``window_seconds``
        after its creation) and return the new value, atomically."""
        ...

    def get(self, key: str, now: datetime) -> int:
        """The counter's current value, 0 when absent or expired."""
        ...

    def reset(self, key: str) -> None: ...

    def set_until(self, key: str, value: int, until: datetime, now: datetime) -> None:
        """Store ``value`` until ``until`` (used for suspensions)."""
        ...

    def expires_at(self, key: str, now: datetime) -> datetime | None:
        """When the counter expires, or None if absent."""
        ...


# -- secrets ---------------------------------------------------------------------------------------


class PasswordHasher(Protocol):
    """Slow, salted hashing of passwords and other guessable secrets (argon2id)."""

    def hash(self, secret: str) -> str: ...

    def verify(self, secret_hash: str, secret: str) -> bool: ...

    def needs_rehash(self, secret_hash: str) -> bool:
        """True when the hash was made with older parameters than the current settings."""
        ...

    def dummy_verify(self, secret: str) -> None:
        """Spend the time of a verification, for unknown accounts (no timing oracle)."""
        ...


class KeyedHasher(Protocol):
    """Fast keyed hashes (HMAC with a server-side key per purpose): one-time codes, PINs, client
    secrets. A stolen database alone cannot brute-force a 6-digit code hashed so."""

    def digest(self, purpose: str, message: str) -> str: ...

    def matches(self, purpose: str, message: str, expected: str) -> bool:
        """Constant-time comparison of ``digest(purpose, message)`` with ``expected``."""
        ...


# -- messaging channels ------------------------------------------------------------------------


class Mailer(Protocol):
    async def send_email(self, message: EmailMessage) -> None:
        """Hand one email to the mail system; raise on failure (the worker retries)."""
        ...


class SmsSender(Protocol):
    async def send_sms(self, message: SmsMessage) -> None: ...


class LetterPrinter(Protocol):
    async def print_letter(self, letter: Letter) -> None:
        """Send a postal letter (its PDF) to the printer or the embedded store."""
        ...


class HttpPoster(Protocol):
    """Form POSTs to partner services (OpenID Connect back-channel logout), through the outbox."""

    async def post_form(self, url: str, fields: Mapping[str, str]) -> None:
        """POST ``fields`` as ``application/x-www-form-urlencoded``; raise unless the answer is 2xx
        (the worker retries), and within about ten seconds."""
        ...


# -- identity enrolment building blocks ------------------------------------------------------------


class MrzReader(Protocol):
    """Reads the machine-readable zone of an identity document image (OCR, ``sesame.adapters.ocr_tesseract``)."""

    def read(self, image: bytes) -> MrzReading:
        """What the OCR engine saw in a JPEG or PNG: the zone parsed with its check digits (or none).
        Never raises for a bad image; ``engine_available`` is False when no OCR engine can run, so
        the check says "not checked", never "passed". Slow (about a second): call it before any
        write transaction."""
        ...


class ImageSanitizer(Protocol):
    """Uploaded identity document photos made safe (``sesame.adapters.images``)."""

    def sanitize(self, data: bytes, *, max_bytes: int) -> SanitizedImage:
        """The JPEG or PNG in ``data`` (judged by content, never by name) decoded in full and
        re-encoded without metadata; raises ``ImageRejected`` with the reason."""
        ...


class Referentials(Protocol):
    """The INSEE referentials shipped with Sésame: French communes since 1943 (with La Poste
    postcodes) and the COG countries and territories (``99XXX``)."""

    def search_towns(self, query: str, limit: int = 10) -> Sequence[Town]:
        """Towns whose name has a word starting with ``query`` (case, accents and punctuation
        ignored; "St" is "Saint"), or whose postcode starts with its digits; exact names first,
        then current communes by population, then former ones. At most 50."""
        ...

    def town(self, code: str) -> Town | None:
        """The town an INSEE code names today (a former commune: its latest name)."""
        ...

    def towns_with_code(self, code: str) -> Sequence[Town]:
        """Every name an INSEE code has had, the current one first."""
        ...

    def towns_for_postcode(self, postcode: str) -> Sequence[Town]:
        """The current communes and districts a postcode serves, then their delegated and
        associated communes."""
        ...

    def countries(self) -> Sequence[Country]:
        """Every country and territory of the COG, France (99100) included, by code."""
        ...

    def search_countries(self, query: str, limit: int = 10) -> Sequence[Country]:
        """Countries with a name or a territory's name that has a word starting with ``query``;
        exact names first, today's countries before historical ones. ``limit`` 0: all matches."""
        ...

    def country(self, code: str) -> Country | None: ...
