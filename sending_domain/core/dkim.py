"""DKIM keys and key records: generate, render, parse, and the key lifecycle.

Pure: no Pulumi, no sockets, no environment. Private keys are plain ``str`` PEM values handed in and out;
they never appear in a message, a ``repr`` or an exception (errors from ``cryptography`` are replaced,
not chained, so a traceback cannot carry key material).

Algorithms (:data:`ALGORITHMS`):

- ``rsa-2048`` — the default and the norm.
- ``rsa-1024`` — the minimum a verifier must accept (RFC 8301 §3.2).
- ``ed25519``  — RFC 8463; an extra key only: SES BYODKIM signs with RSA alone, and large receivers do not
  verify ed25519 signatures, so an ed25519 key never replaces the RSA one.

Lifecycle (:data:`STATES`) of one selector, in order (M3AAWG rotation practice)::

    pending  → published, nobody signs with it yet (publish before signing)
    active   → signs; at most one active RSA key per domain, exactly one with SES (:func:`check_active_keys`)
    retiring → no longer signing, still published so mail in flight verifies
    revoked  → published with an empty p= (RFC 6376 §3.6.1: the key is revoked)
    (removed from the stack file)
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from .records import Record, is_hostname
from .taglist import TagSyntax, parse_tags

Algorithm = Literal["rsa-2048", "rsa-1024", "ed25519"]
KeyState = Literal["pending", "active", "retiring", "revoked"]

ALGORITHMS: tuple[str, ...] = ("rsa-2048", "rsa-1024", "ed25519")
DEFAULT_ALGORITHM = "rsa-2048"
SES_ALGORITHMS: tuple[str, ...] = ("rsa-2048", "rsa-1024")  # SES BYODKIM: RSA 1024–2048 only
RSA_MIN_BITS = 1024  # RFC 8301 §3.2
ED25519_KEY_OCTETS = 32  # RFC 8463 §4.2
STATES: tuple[str, ...] = ("pending", "active", "retiring", "revoked")
KEY_TYPES: tuple[str, ...] = ("rsa", "ed25519")  # RFC 6376 §3.6.1 k=, RFC 8463 §4.2
MAX_SELECTOR_LENGTH = 63  # one DNS label (RFC 1035 §2.3.4), also the SES limit

PrivateKey = rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
_RSA_BITS = {"rsa-2048": 2048, "rsa-1024": 1024}
_SELECTOR = re.compile(r"^[A-Za-z0-9-]+$")
_TAG_VALUE = re.compile(r"^[\x21-\x3a\x3c-\x7e]+(?:[ \t\r\n]+[\x21-\x3a\x3c-\x7e]+)*$")  # RFC 6376 §3.2 tag-value
_WSP = re.compile(r"[ \t\r\n]+")

# Which lifecycle moves make sense (None = absent from the stack file).
_NEXT_STATES: dict[str | None, frozenset[str | None]] = {
    None: frozenset({"pending", "active"}),
    "pending": frozenset({"pending", "active", "revoked", None}),
    "active": frozenset({"active", "retiring"}),
    "retiring": frozenset({"retiring", "active", "revoked"}),
    "revoked": frozenset({"revoked", None}),
}


# --- validation -------------------------------------------------------------------------------------


def validate_algorithm(algorithm: object) -> str | None:
    """A reason why ``algorithm`` is not one we generate, or None."""
    if algorithm not in ALGORITHMS:
        return f"unknown DKIM algorithm {algorithm!r}; use one of {', '.join(ALGORITHMS)}"
    return None


def validate_selector(selector: object) -> str | None:
    """A reason why ``selector`` cannot be used, or None.

    Letters, digits and hyphens, no dots (the SES BYODKIM rule), one DNS label of at most 63 octets
    (RFC 1035 §2.3.4), not starting or ending with a hyphen (RFC 1123 §2.1 host-name label).
    """
    if not isinstance(selector, str) or not selector:
        return "a DKIM selector must be a non-empty string"
    if len(selector) > MAX_SELECTOR_LENGTH:
        return f"DKIM selector {selector!r} is longer than {MAX_SELECTOR_LENGTH} characters"
    if not _SELECTOR.fullmatch(selector):
        return f"DKIM selector {selector!r} may contain only letters, digits and hyphens (no dots)"
    if selector.startswith("-") or selector.endswith("-"):
        return f"DKIM selector {selector!r} must not start or end with a hyphen"
    return None


def validate_state(state: object) -> str | None:
    """A reason why ``state`` is not a lifecycle state, or None."""
    if state not in STATES:
        return f"unknown DKIM key state {state!r}; use one of {', '.join(STATES)}"
    return None


# --- lifecycle helpers ------------------------------------------------------------------------------


def key_type(algorithm: str) -> str:
    """The ``k=`` value for ``algorithm``: ``rsa`` or ``ed25519``."""
    _require(validate_algorithm(algorithm))
    return "ed25519" if algorithm == "ed25519" else "rsa"


def is_signing(state: str) -> bool:
    """True when SES signs with a key in ``state``."""
    return state == "active"


def is_revoked(state: str) -> bool:
    """True when the key is published with an empty ``p=``."""
    return state == "revoked"


def check_active_keys(keys: Iterable[tuple[str, str, str]], domain: str = "", *, require_one: bool) -> str | None:
    """At most one active RSA key per domain; exactly one when ``require_one`` (the domain has SES).

    ``keys`` are ``(selector, algorithm, state)``. SES signs with one BYODKIM key, and only an RSA key
    (:data:`SES_ALGORITHMS`) can be that key: an active ed25519 key is not counted.
    """
    active = sorted(sel for sel, alg, state in keys if is_signing(state) and alg in SES_ALGORITHMS)
    where = f" for {domain}" if domain else ""
    if len(active) > 1:
        names = ", ".join(active)
        return f"DKIM{where} has {len(active)} active RSA keys ({names}); keep one active, mark the others retiring"
    if require_one and not active:
        return (
            f"DKIM{where} needs exactly one active RSA key (SES signs with it); "
            "none is active (set one RSA key's state: active)"
        )
    return None


def check_state_change(selector: str, old: str | None, new: str | None) -> str | None:
    """A reason why a key may not move from ``old`` to ``new`` (None = absent from the file), or None.

    The order is pending → active → retiring → revoked → removed (M3AAWG DKIM key rotation): publish before
    signing, keep the old key published after the switch, revoke (empty ``p=``, RFC 6376 §3.6.1) before
    removing. A retiring key may go back to active (rollback); a revoked key never comes back.
    """
    if new in _NEXT_STATES.get(old, frozenset()):
        return None
    if old == "revoked":
        return f"DKIM key {selector!r} is revoked and cannot become {new}; add a new selector instead"
    if old == "active" and new is None:
        return f"DKIM key {selector!r} is active; make another key active and set this one to retiring first"
    if new is None:
        return f"DKIM key {selector!r} is {old}; set it to revoked (empty p=) before removing it"
    return f"DKIM key {selector!r} cannot move from {old or 'absent'} to {new}"


# --- keys -------------------------------------------------------------------------------------------


def generate_private_key_pem(algorithm: str = DEFAULT_ALGORITHM) -> str:
    """A new private key as unencrypted PKCS#8 PEM."""
    _require(validate_algorithm(algorithm))
    if algorithm == "ed25519":
        key: PrivateKey = ed25519.Ed25519PrivateKey.generate()
    else:
        key = rsa.generate_private_key(public_exponent=65537, key_size=_RSA_BITS[algorithm])
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return pem.decode("ascii")


def private_key_algorithm(private_pem: str) -> str:
    """The algorithm name of a PEM private key: ``rsa-<bits>`` or ``ed25519``."""
    key = _load_private(private_pem)
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "ed25519"
    assert isinstance(key, rsa.RSAPrivateKey)
    return f"rsa-{key.key_size}"


def public_key_b64(private_pem: str) -> str:
    """The ``p=`` value for a private key.

    RSA: base64 of the DER SubjectPublicKeyInfo (RFC 6376 §3.6.1, as every signer publishes it).
    Ed25519: base64 of the raw 32-octet public key (RFC 8463 §4.2).
    """
    public = _load_private(private_pem).public_key()
    if isinstance(public, ed25519.Ed25519PublicKey):
        raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    else:
        raw = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(raw).decode("ascii")


def ses_private_key(private_pem: str) -> str:
    """The key as SES BYODKIM wants it: base64 of the PKCS#1 DER, no PEM header, no newlines.

    PKCS#1 (``TraditionalOpenSSL``) because PKCS#8 keys have been accepted by SES and then never verified
    (awsdocs ses guide #71, terraform-provider-aws #29729). RSA only: SES cannot sign with ed25519.
    """
    key = _load_private(private_pem)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("SES BYODKIM accepts only RSA keys (1024–2048 bits); this key is not RSA")
    der = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    return base64.b64encode(der).decode("ascii")


def _load_private(private_pem: str) -> PrivateKey:
    try:
        key = serialization.load_pem_private_key(private_pem.encode("ascii"), password=None)
    except (ValueError, TypeError, UnicodeEncodeError, AttributeError):
        # Replace, never chain: the foreign error could quote the input.
        raise ValueError("not an unencrypted PEM private key") from None
    if not isinstance(key, (rsa.RSAPrivateKey, ed25519.Ed25519PrivateKey)):
        raise ValueError("unsupported private key type; DKIM keys are RSA or Ed25519")
    return key


# --- records ----------------------------------------------------------------------------------------


def dkim_record_name(selector: str, domain: str) -> str:
    """``<selector>._domainkey.<domain>`` (RFC 6376 §3.6.2.1)."""
    _require(validate_selector(selector))
    name = f"{selector}._domainkey.{domain}".rstrip(".").lower()
    if not is_hostname(name):
        raise ValueError(f"invalid DKIM record name {name!r}")
    return name


def render_dkim_value(algorithm: str, public_b64: str | None, revoked: bool = False) -> str:
    """The key record text: ``v=DKIM1; k=<rsa|ed25519>; p=<base64>``; revoked → empty ``p=``.

    RFC 6376 §3.6.1: ``v=`` first when present; an empty ``p=`` means the key has been revoked.
    """
    k = key_type(algorithm)
    if revoked:
        return f"v=DKIM1; k={k}; p="
    if not public_b64:
        raise ValueError("a published (not revoked) DKIM key needs its public key")
    _decode_b64(public_b64)
    return f"v=DKIM1; k={k}; p={public_b64}"


def dkim_record(
    selector: str, domain: str, algorithm: str, public_b64: str | None, state: str, ttl: int = 300
) -> Record:
    """The TXT record publishing one key in ``state`` (every state is published; revoked with ``p=``)."""
    _require(validate_state(state))
    value = render_dkim_value(algorithm, None if is_revoked(state) else public_b64, is_revoked(state))
    return Record.txt(dkim_record_name(selector, domain), value, ttl)


# --- parsing ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DkimKeyRecord:
    """A parsed DKIM key record (RFC 6376 §3.6.1). ``bits`` is the RSA modulus size, None for ed25519.

    ``tags`` holds every tag as written (read-only), except ``p`` with its whitespace removed. An RSA ``p=``
    may be a SubjectPublicKeyInfo (what signers publish) or a bare PKCS#1 RSAPublicKey (RFC 6376's wording).
    """

    version: str | None
    key_type: str
    public_b64: str
    revoked: bool
    bits: int | None
    tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "tags", MappingProxyType(dict(self.tags)))


def _tag_value_reason(name: str, value: str) -> str | None:
    if value and not _TAG_VALUE.match(value):  # RFC 6376 §3.2: a value may be empty
        return f"tag {name!r} has invalid characters in its value (RFC 6376 §3.2)"
    return None


# RFC 6376 §3.2: FWS around names and values; tag names are case-sensitive. After a trailing ";" any
# whitespace has always been accepted (str.strip()), which is wider than FWS; kept as it was.
_TAG_SYNTAX = TagSyntax(
    cite="RFC 6376 §3.2",
    wsp=" \t\r\n",
    end_wsp=None,
    fold_names=False,
    value_reason=_tag_value_reason,
    duplicate_note="; the whole tag list is invalid",
)


def parse_tag_list(text: str) -> dict[str, str]:
    """An RFC 6376 §3.2 tag list as an ordered dict; whitespace around tags, names and values is folded away.

    Raises ValueError with the reason: a tag-spec without ``=``, a bad tag name or value, a duplicate tag.
    """
    return parse_tags(text, _TAG_SYNTAX)


def parse_dkim_value(text: str) -> DkimKeyRecord:
    """Parse a DKIM key record's joined TXT text. Raises ValueError with the reason it is malformed."""
    if not text.strip(" \t\r\n"):
        raise ValueError("the key record is empty")
    tags = parse_tag_list(text)
    version = _check_version(tags)
    k = tags.get("k", "rsa")  # RFC 6376 §3.6.1: k= defaults to rsa
    if k not in KEY_TYPES:
        raise ValueError(f"unsupported key type k={k} (expected rsa or ed25519)")
    if "p" not in tags:
        raise ValueError("missing p= tag (RFC 6376 §3.6.1: p= is required)")
    public = tags["p"] = _WSP.sub("", tags["p"])  # RFC 6376 §3.6.1: whitespace in p= is ignored
    if not public:
        return DkimKeyRecord(version, k, "", True, None, tags)
    bits = _key_bits(k, _decode_b64(public))
    return DkimKeyRecord(version, k, public, False, bits, tags)


def record_public_key(text: str) -> str:
    """The ``p=`` of a key record we rendered, whitespace removed (RFC 6376 §3.6.1), without decoding
    the key: what :func:`parse_dkim_value` gives as ``public_b64``, for comparing keys."""
    return _WSP.sub("", parse_tag_list(text).get("p", ""))


def _check_version(tags: Mapping[str, str]) -> str | None:
    if "v" not in tags:
        return None  # RFC 6376 §3.6.1: v= is RECOMMENDED, not required
    if next(iter(tags)) != "v":
        raise ValueError("v= must be the first tag (RFC 6376 §3.6.1)")
    if tags["v"] != "DKIM1":
        raise ValueError(f"unsupported version v={tags['v']} (expected DKIM1)")
    return tags["v"]


def _key_bits(k: str, der: bytes) -> int | None:
    if k == "ed25519":
        if len(der) != ED25519_KEY_OCTETS:
            raise ValueError(f"an ed25519 key is {ED25519_KEY_OCTETS} octets, p= has {len(der)} (RFC 8463 §4.2)")
        return None
    try:
        key = serialization.load_der_public_key(der)
    except (ValueError, TypeError):
        raise ValueError("p= is not a DER-encoded public key (RFC 6376 §3.6.1)") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("k=rsa but p= holds a non-RSA public key")
    return key.key_size


def _decode_b64(value: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("p= is not valid base64") from None


def _require(reason: str | None) -> None:
    if reason:
        raise ValueError(reason)
