"""OAuth 2.0 errors as the token, introspection, revocation and userinfo endpoints answer them.

RFC 6749 §5.2 (``{"error", "error_description"}``, 400, or 401 ``invalid_client``) and RFC 6750
§3 (the ``WWW-Authenticate: Bearer`` challenge of a protected resource such as userinfo).
"""

from __future__ import annotations

from collections.abc import Mapping

# RFC 6749 §5.2
INVALID_REQUEST = "invalid_request"
INVALID_CLIENT = "invalid_client"
INVALID_GRANT = "invalid_grant"
UNAUTHORIZED_CLIENT = "unauthorized_client"
UNSUPPORTED_GRANT_TYPE = "unsupported_grant_type"
INVALID_SCOPE = "invalid_scope"
# RFC 7009 §2.2.1
UNSUPPORTED_TOKEN_TYPE = "unsupported_token_type"
# RFC 6750 §3.1
INVALID_TOKEN = "invalid_token"
INSUFFICIENT_SCOPE = "insufficient_scope"


class OAuthError(Exception):
    """An error for the client, never for a person: a code, a short English description, a status.

    The description helps the client's developer; it never holds a token, a secret or a reason
    an attacker could use to tell a valid credential from an invalid one.
    """

    def __init__(
        self, error: str, description: str, *, status: int = 400, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.status = status
        self.headers = dict(headers or {})

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


def _quoted(value: str) -> str:
    # An auth-param value is a quoted-string: no quotes nor backslashes inside (RFC 9110 §11.2).
    return value.replace("\\", "").replace('"', "'")


def invalid_client(description: str, *, basic_realm: str | None = None) -> OAuthError:
    """RFC 6749 §5.2: 401, with a ``Basic`` challenge when the client tried HTTP Basic."""
    headers = {"WWW-Authenticate": f'Basic realm="{_quoted(basic_realm)}"'} if basic_realm is not None else None
    return OAuthError(INVALID_CLIENT, description, status=401, headers=headers)


def bearer_error(error: str | None, description: str, *, realm: str) -> OAuthError:
    """RFC 6750 §3: the challenge of a protected resource (``error`` None: no token was sent at all)."""
    status = {None: 401, INVALID_TOKEN: 401, INVALID_REQUEST: 400, INSUFFICIENT_SCOPE: 403}[error]
    challenge = f'Bearer realm="{_quoted(realm)}"'
    if error is not None:
        challenge += f', error="{error}", error_description="{_quoted(description)}"'
    return OAuthError(error or INVALID_TOKEN, description, status=status, headers={"WWW-Authenticate": challenge})
