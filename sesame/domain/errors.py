"""Domain errors: what went wrong, in terms a person can be told (after translation)."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error the domain raises on purpose.

    ``code`` is a stable machine name (used by the API and by translations); the message is
    English technical detail for logs, never shown to users as is.
    """

    code = "error"

    def __init__(self, message: str = "", **details: object) -> None:
        super().__init__(message or self.code)
        self.details = details


class NotFound(DomainError):
    code = "not_found"


class AlreadyExists(DomainError):
    code = "already_exists"


class InvalidInput(DomainError):
    code = "invalid_input"


class PolicyViolation(DomainError):
    code = "policy_violation"


class FlowExpired(DomainError):
    code = "flow_expired"


class FlowNotFound(DomainError):
    code = "flow_not_found"


class FlowStateError(DomainError):
    """A step was submitted that the flow's current state does not accept."""

    code = "flow_state"


class FlowCsrfMismatch(DomainError):
    """The flow was started in another browser (or the form token is wrong)."""

    code = "flow_csrf"


class TooManyAttempts(DomainError):
    code = "too_many_attempts"
