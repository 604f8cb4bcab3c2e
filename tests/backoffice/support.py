"""Building the back office's world in tests: agents, and proofing cases stored at any step with
real (encrypted) specimen images and a known code of the day."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from sesame.bootstrap import Container
from sesame.domain.accounts import Account
from sesame.domain.agents import Agent
from sesame.domain.audit import AuditRecord
from sesame.domain.identity import (
    CaseStatus,
    CodePurpose,
    IdentityData,
    MrzOutcome,
    ProofingCase,
    VerificationMethod,
)
from sesame.domain.tenants import Tenant
from sesame.services.context import RequestContext
from sesame.services.proofing_codes import new_code
from tests.identity_support import NOW, new_case, walk
from tests.services.accounts_support import create_account
from tests.specimens import MARIE, french_id_card_recto, french_id_card_verso

#: Meets the back office's policy (15 characters at least, not a common password).
AGENT_PASSWORD = "Tournee-Matinale-Quartier-Nord-7"
ADMIN = RequestContext(actor="cli", ip="192.0.2.1")
#: Where the agents work (a browser at a post office counter).
AT_COUNTER = RequestContext(ip="198.51.100.7", user_agent="pytest", correlation_id="corr-agent")
#: The start of a WebM file (EBML header, doctype "webm"): enough for a stored "video".
WEBM = b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\x82\x84webm" + bytes(2048)
#: Cases are walked at identity_support.NOW; agents decide two hours later.
DECIDE_AT = NOW + timedelta(hours=2)
MISMATCH_DETAIL = {
    "mismatches": ["birth_date"],
    "failed_checks": [],
    "document_values": {"birth_date": "850616"},
}

_emails = itertools.count(1)


@lru_cache(maxsize=1)
def specimen_images() -> tuple[bytes, bytes]:
    """Recto and verso of a specimen identity card (PNG, drawn by tests/specimens.py)."""
    return french_id_card_recto(MARIE, dpi=120), french_id_card_verso(MARIE, dpi=120)


def make_agent(
    container: Container,
    roles: Sequence[str],
    tenants: Sequence[str] = ("laposte",),
    *,
    email: str | None = None,
    name: str = "Paul Tournée",
) -> Agent:
    email = email or f"agent{next(_emails)}@laposte.example"
    created = container.backoffice.directory.create(
        list(tenants), email, name, list(roles), ADMIN, password=AGENT_PASSWORD
    )
    return created.agent


@dataclass
class StoredCase:
    case: ProofingCase
    account: Account
    #: The code of the day the person got by SMS (in person), in clear for the test.
    day_code: str | None


def store_case(
    container: Container,
    tenant: Tenant,
    method: VerificationMethod = VerificationMethod.POST_OFFICE,
    *,
    until: CaseStatus | None = None,
    data: IdentityData | None = None,
    mrz: MrzOutcome = MrzOutcome.MATCH,
    mrz_detail: dict[str, object] | None = None,
    code_sent_at: datetime = NOW,
) -> StoredCase:
    """A case of a new account at ``tenant``, walked to ``until`` (by default where an agent acts),
    stored with real encrypted images and, in person, a code of the day (sent at ``code_sent_at``)."""
    account = create_account(container, tenant, f"person{next(_emails)}@example.fr")
    status = until or (CaseStatus.IN_PERSON if method.in_person else CaseStatus.ONLINE_REVIEW)
    case = new_case(account_id=account.id)
    case.tenant_id = tenant.id
    walk(case, status, method=method, data=data)
    case.record_mrz(mrz, mrz_detail if mrz_detail is not None else {"mismatches": [], "failed_checks": []})
    day_code = None
    with container.uow() as uow:
        placeholders, case.document_ids = case.document_ids, []
        case = uow.proofing.add(case)
        owner = f"proofing:{case.id}"
        recto, verso = specimen_images()
        if placeholders:
            ids = [
                uow.documents.put(tenant.id, owner, "recto", recto, "image/png", NOW),
                uow.documents.put(tenant.id, owner, "verso", verso, "image/png", NOW),
            ]
            if "video" in placeholders:
                ids.append(uow.documents.put(tenant.id, owner, "photo", recto, "image/png", NOW))
                ids.append(uow.documents.put(tenant.id, owner, "video", WEBM, "video/webm", NOW))
            case.document_ids = ids
        if case.status is CaseStatus.IN_PERSON:
            day_code = new_code(container.keyed, case, CodePurpose.IN_PERSON, timedelta(hours=14), code_sent_at)
        uow.proofing.save(case)
        uow.commit()
    return StoredCase(case=case, account=account, day_code=day_code)


def reload(container: Container, case_id: int) -> ProofingCase:
    with container.uow(readonly=True) as uow:
        case = uow.proofing.get(case_id)
    assert case is not None
    return case


def documents_of(container: Container, case_id: int) -> int:
    with container.uow(readonly=True) as uow:
        return len(uow.documents.list_owner(f"proofing:{case_id}"))


def audit(container: Container, tenant_id: int | None, prefix: str = "backoffice.") -> list[AuditRecord]:
    with container.uow(readonly=True) as uow:
        return [r for r in uow.audit.chain(tenant_id) if r.event.type.startswith(prefix)]
