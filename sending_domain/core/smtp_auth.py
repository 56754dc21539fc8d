"""Amazon SES SMTP credentials: the SMTP password derived from an IAM secret access key, kept out of sight.

Pure: no environment, no sockets. The algorithm (SES developer guide, "Obtaining Amazon SES SMTP
credentials"; the same as terraform-provider-aws ``ses_smtp_password_v4``) is SigV4 key derivation with a
fixed date and the message ``SendRawEmail``::

    k = HMAC-SHA256("AWS4" + secret, "11111111")
    k = HMAC-SHA256(k, region); k = HMAC-SHA256(k, "ses"); k = HMAC-SHA256(k, "aws4_request")
    k = HMAC-SHA256(k, "SendRawEmail")
    password = base64(0x04 || k)

The password is region-specific. The SMTP user name is the access key id. Temporary credentials (with a
session token) cannot be turned into SMTP credentials: SES SMTP accepts only an IAM user's long-term key.

:class:`Secret` wraps a password or secret key so that ``repr``, ``str``, f-strings and exceptions show
``***`` instead of the value; only :meth:`Secret.reveal` gives it, at the one place it goes on the wire.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass, field

SMTP_DATE = "11111111"
SMTP_SERVICE = "ses"
SMTP_TERMINAL = "aws4_request"
SMTP_MESSAGE = "SendRawEmail"
SMTP_VERSION = b"\x04"


class Secret:
    """A value that never prints itself."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and hmac.compare_digest(self._value, other._value)

    def __hash__(self) -> int:
        return hash(Secret)

    def __reduce__(self) -> object:
        raise TypeError("a Secret cannot be pickled")


def _sign(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()


def smtp_password(secret_access_key: str, region: str) -> str:
    """The SES SMTP password for ``secret_access_key`` in ``region`` (a plain ``str``; wrap it in :class:`Secret`)."""
    if not secret_access_key:
        raise ValueError("an SES SMTP password needs a secret access key")
    if not region:
        raise ValueError("an SES SMTP password is region-specific; give the region")
    key = _sign(("AWS4" + secret_access_key).encode("utf-8"), SMTP_DATE)
    for part in (region, SMTP_SERVICE, SMTP_TERMINAL, SMTP_MESSAGE):
        key = _sign(key, part)
    return base64.b64encode(SMTP_VERSION + key).decode("ascii")


TEMPORARY_CREDENTIALS_REASON = (
    "these AWS credentials are temporary (they carry a session token, e.g. from SSO, an assumed role or "
    "instance metadata); SES SMTP accepts only an IAM user's long-term access key. Create SMTP credentials "
    "for an IAM user with ses:SendRawEmail and pass them as SENDING_DOMAIN_SMTP_USERNAME and "
    "SENDING_DOMAIN_SMTP_PASSWORD (a ready SMTP password), or use --no-smtp"
)


@dataclass(frozen=True)
class SmtpCredentials:
    """An SMTP user name and password; ``password`` is a :class:`Secret` and never appears in ``repr``."""

    username: str
    password: Secret = field(repr=False)
    source: str = ""  # where they came from, for messages: "environment", "AWS credential chain"

    @classmethod
    def from_iam_key(cls, access_key_id: str, secret_access_key: Secret, region: str, *, session_token: object = None, source: str = "") -> SmtpCredentials:
        """SMTP credentials for ``region`` from an IAM access key. Raises ValueError for temporary credentials."""
        if session_token:
            raise ValueError(TEMPORARY_CREDENTIALS_REASON)
        if not access_key_id or not secret_access_key.reveal():
            raise ValueError("the AWS credentials have no access key id or secret access key")
        return cls(access_key_id, Secret(smtp_password(secret_access_key.reveal(), region)), source)
