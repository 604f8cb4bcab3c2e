"""The composition root: picks an adapter for every port from the settings.

The web app, the CLI and the tests build their services here, so that one place decides
"SQLite or PostgreSQL, database or Redis counters, embedded store or SMTP".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from sesame.adapters.clock import SystemClock
from sesame.adapters.encrypted_storage import DocumentCipher
from sesame.adapters.hashing import Argon2PasswordHasher, HmacKeyedHasher
from sesame.adapters.password_blocklist import ShippedPasswordBlocklist
from sesame.adapters.sql.db import Database
from sesame.adapters.sql.uow import SqlUnitOfWorkFactory
from sesame.config import Settings
from sesame.domain.passwords import PasswordBlocklist
from sesame.ports import (
    Clock,
    Counters,
    HttpPoster,
    ImageSanitizer,
    KeyedHasher,
    LetterPrinter,
    Mailer,
    MrzReader,
    PasswordHasher,
    Referentials,
    SmsSender,
)
from sesame.services.accounts import AccountService
from sesame.services.authentication import PasswordAuthenticator
from sesame.services.passwords import PasswordRules
from sesame.services.sessions import SessionService
from sesame.services.tenants import TenantService
from sesame.services.tokens import OneTimeTokens

if TYPE_CHECKING:
    from sesame.backoffice.services import Backoffice
    from sesame.oidc.logout import BackchannelLogouts
    from sesame.ports import ProtocolReads, ProtocolWrites
    from sesame.services.approvals import ApprovalService
    from sesame.services.devices import DeviceService
    from sesame.services.factors import FactorService
    from sesame.services.oidc_clients import OidcClients
    from sesame.services.proofing import ProofingService
    from sesame.services.registered_letters import RegisteredLetters
    from sesame.services.retention import RetentionService
    from sesame.services.signing_keys import SigningKeys


@dataclass
class Channels:
    mailer: Mailer
    sms: SmsSender
    letters: LetterPrinter
    #: Form POSTs to partner services (back-channel logout).
    http: HttpPoster


@dataclass
class Container:
    """Every long-lived object of one process."""

    settings: Settings
    database: Database
    uow: SqlUnitOfWorkFactory
    clock: Clock
    counters: Counters
    channels: Channels
    hasher: PasswordHasher
    keyed: KeyedHasher
    blocklist: PasswordBlocklist
    secret_key: str = field(repr=False)

    @property
    def tenants(self) -> TenantService:
        return TenantService(self.uow, self.clock)

    @property
    def password_rules(self) -> PasswordRules:
        return PasswordRules(self.blocklist)

    @property
    def accounts(self) -> AccountService:
        return AccountService(
            self.uow, self.clock, self.hasher, self.password_rules, self.counters, logouts=self.backchannel_logouts
        )

    @property
    def authenticator(self) -> PasswordAuthenticator:
        return PasswordAuthenticator(self.uow, self.clock, self.counters, self.hasher)

    @property
    def sessions(self) -> SessionService:
        return SessionService(self.uow, self.clock)

    @property
    def tokens(self) -> OneTimeTokens:
        return OneTimeTokens(self.keyed)

    @property
    def factors(self) -> FactorService:
        from sesame.services.factors import FactorService

        return FactorService(
            self.uow,
            self.clock,
            keyed=self.keyed,
            counters=self.counters,
            secret_key=self.secret_key,
            base_url=self.settings.base_url,
        )

    # One per process, not per use: their caches are what keep the protocol endpoints lean.
    @cached_property
    def signing_keys(self) -> SigningKeys:
        from sesame.services.signing_keys import SigningKeys

        return SigningKeys(self.uow, self.clock, self.secret_key)

    @cached_property
    def oidc_clients(self) -> OidcClients:
        from sesame.services.oidc_clients import OidcClients

        return OidcClients(self.uow, self.clock, self.keyed)

    @cached_property
    def protocol_reads(self) -> ProtocolReads:
        from sesame.adapters.sql.protocol import SqlProtocolReads

        return SqlProtocolReads(self.database.read_engine)

    @cached_property
    def protocol_writes(self) -> ProtocolWrites:
        from sesame.adapters.sql.protocol import SqlProtocolWrites

        return SqlProtocolWrites(self.database.engine)

    @cached_property
    def backchannel_logouts(self) -> BackchannelLogouts:
        from sesame.oidc.logout import BackchannelLogouts

        return BackchannelLogouts.for_server(self.keyed, self.secret_key, self.settings.base_url)

    @cached_property
    def registered_letters(self) -> RegisteredLetters:
        from sesame.services.registered_letters import RegisteredLetters

        return RegisteredLetters(
            self.uow,
            self.clock,
            self.signing_keys,
            self.keyed,
            secret_key=self.secret_key,
            base_url=self.settings.base_url,
        )

    # One per process: the referentials load their data once, on first use.
    @cached_property
    def referentials(self) -> Referentials:
        from sesame.adapters.referentials import ShippedReferentials

        return ShippedReferentials()

    # One per process: it draws OCR-B's glyphs once. Tesseract by default; without the binary it
    # reads nothing and says so, and the MRZ check shows "not checked".
    @cached_property
    def mrz_reader(self) -> MrzReader:
        from sesame.adapters.ocr_tesseract import TesseractMrzReader

        return TesseractMrzReader()

    @property
    def images(self) -> ImageSanitizer:
        from sesame.adapters.images import PillowImageSanitizer

        return PillowImageSanitizer()

    @property
    def proofing(self) -> ProofingService:
        from sesame.services.proofing import ProofingService

        return ProofingService(
            self.uow,
            self.clock,
            self.keyed,
            self.counters,
            images=self.images,
            mrz_reader=self.mrz_reader,
            letters=self.registered_letters,
            base_url=self.settings.base_url,
        )

    @property
    def backoffice(self) -> Backoffice:
        from sesame.backoffice.services import Backoffice

        return Backoffice(self)

    @property
    def retention(self) -> RetentionService:
        from sesame.services.retention import RetentionService

        return RetentionService(self.uow, self.clock)

    @property
    def devices(self) -> DeviceService:
        from sesame.services.devices import DeviceService

        return DeviceService(
            self.uow,
            self.clock,
            keyed=self.keyed,
            counters=self.counters,
            authenticator=self.authenticator,
            base_url=self.settings.base_url,
        )

    @property
    def approvals(self) -> ApprovalService:
        from sesame.services.approvals import ApprovalService

        return ApprovalService(
            self.uow, self.clock, keyed=self.keyed, counters=self.counters, base_url=self.settings.base_url
        )

    def close(self) -> None:
        close = getattr(self.counters, "close", None)
        if close is not None:
            close()
        self.database.dispose()


def build_counters(settings: Settings, database: Database) -> Counters:
    if settings.redis_url:
        from sesame.adapters.redis_counters import RedisCounters

        return RedisCounters(settings.redis_url)
    from sesame.adapters.sql.counters import SqlCounters

    return SqlCounters(database)


def build_channels(settings: Settings, database: Database) -> Channels:
    from sesame.adapters.embedded.channels import EmbeddedLetterPrinter, EmbeddedMailer, EmbeddedSmsSender

    mailer: Mailer = EmbeddedMailer(settings.var_dir)
    if settings.smtp_url:
        from sesame.adapters.smtp import SmtpMailer

        mailer = SmtpMailer(settings.smtp_url, settings.smtp_sender)
    sms: SmsSender = EmbeddedSmsSender(settings.var_dir)
    if settings.sms_url:
        from sesame.adapters.sms_http import HttpSmsSender

        sms = HttpSmsSender(settings.sms_url)
    from sesame.adapters.http_poster import HttpxPoster

    return Channels(mailer=mailer, sms=sms, letters=EmbeddedLetterPrinter(settings.var_dir), http=HttpxPoster())


def build_container(settings: Settings, *, clock: Clock | None = None) -> Container:
    database = Database(settings.resolved_database_url())
    secret_key = settings.resolved_secret_key()
    return Container(
        settings=settings,
        database=database,
        uow=SqlUnitOfWorkFactory(database, documents=DocumentCipher(secret_key)),
        clock=clock or SystemClock(),
        counters=build_counters(settings, database),
        channels=build_channels(settings, database),
        hasher=Argon2PasswordHasher(
            time_cost=settings.argon2_time_cost,
            memory_cost=settings.argon2_memory_cost,
            parallelism=settings.argon2_parallelism,
        ),
        keyed=HmacKeyedHasher(secret_key),
        blocklist=ShippedPasswordBlocklist(),
        secret_key=secret_key,
    )
