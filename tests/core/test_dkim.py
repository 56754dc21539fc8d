"""sending_domain.core.dkim: keys, records, parsing, lifecycle — exact outputs and exact reasons."""

from __future__ import annotations

import base64
import functools
import subprocess
import sys
import traceback
from pathlib import Path
from typing import get_args

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from sending_domain.core import dkim
from sending_domain.core.records import Record

ROOT = Path(__file__).resolve().parents[2]
# RFC 8463 Appendix A (the RFC 8032 §7.1 TEST 1 key), selector "brisbane" at football.example.com.
RFC8463_SEED_B64 = "nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A="
RFC8463_PUBLIC_B64 = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="


def _pem_from_seed(seed_b64: str) -> str:
    key = ed25519.Ed25519PrivateKey.from_private_bytes(base64.b64decode(seed_b64))
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


@functools.cache
def _generated(algorithm: str) -> str:
    return dkim.generate_private_key_pem(algorithm)


@pytest.fixture(scope="module")
def pems() -> dict[str, str]:
    return {alg: _generated(alg) for alg in dkim.ALGORITHMS}


# --- keys -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", dkim.ALGORITHMS)
def test_generated_key_is_pkcs8_pem_of_the_algorithm(pems: dict[str, str], algorithm: str) -> None:
    pem = pems[algorithm]
    assert pem.startswith("-----BEGIN PRIVATE KEY-----\n")
    assert dkim.private_key_algorithm(pem) == algorithm


def test_default_algorithm_is_rsa_2048() -> None:
    assert dkim.DEFAULT_ALGORITHM == "rsa-2048"


def test_the_literal_types_hold_the_allowed_values() -> None:
    """A Literal cannot be built from a tuple; this keeps the type hints and the checked values together."""
    assert get_args(dkim.Algorithm) == dkim.ALGORITHMS
    assert get_args(dkim.KeyState) == dkim.STATES


def test_generate_rejects_unknown_algorithm() -> None:
    with pytest.raises(ValueError) as e:
        dkim.generate_private_key_pem("rsa-4096")
    assert str(e.value) == "unknown DKIM algorithm 'rsa-4096'; use one of rsa-2048, rsa-1024, ed25519"


def test_ed25519_public_key_is_raw_32_octets_rfc8463_vector() -> None:
    assert dkim.public_key_b64(_pem_from_seed(RFC8463_SEED_B64)) == RFC8463_PUBLIC_B64


@pytest.mark.parametrize("algorithm,bits", [("rsa-2048", 2048), ("rsa-1024", 1024)])
def test_rsa_public_key_is_der_spki(pems: dict[str, str], algorithm: str, bits: int) -> None:
    key = serialization.load_der_public_key(base64.b64decode(dkim.public_key_b64(pems[algorithm])))
    assert isinstance(key, rsa.RSAPublicKey) and key.key_size == bits


@pytest.mark.parametrize("algorithm", ["rsa-2048", "rsa-1024"])
def test_ses_private_key_is_base64_pkcs1_der_without_header(pems: dict[str, str], algorithm: str) -> None:
    pem = pems[algorithm]
    value = dkim.ses_private_key(pem)
    assert "\n" not in value and "BEGIN" not in value
    der = base64.b64decode(value, validate=True)
    expected = serialization.load_pem_private_key(pem.encode(), None).private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    assert der == expected
    # PKCS#1 RSAPrivateKey starts SEQUENCE, INTEGER version 0 — no PKCS#8 AlgorithmIdentifier.
    assert b"\x2a\x86\x48\x86\xf7\x0d\x01\x01\x01" not in der[:40]  # rsaEncryption OID


def test_ses_private_key_refuses_ed25519_without_quoting_the_key(pems: dict[str, str]) -> None:
    with pytest.raises(ValueError) as e:
        dkim.ses_private_key(pems["ed25519"])
    assert str(e.value) == "SES BYODKIM accepts only RSA keys (1024–2048 bits); this key is not RSA"


def test_a_broken_key_error_carries_no_key_material(pems: dict[str, str]) -> None:
    pem = pems["rsa-1024"]
    broken = pem[:200] + "!!" + pem[200:]
    with pytest.raises(ValueError) as e:
        dkim.public_key_b64(broken)
    assert str(e.value) == "not an unencrypted PEM private key"
    assert e.value.__cause__ is None and e.value.__suppress_context__
    printed = "".join(traceback.format_exception(e.value))
    body = pem.splitlines()[1]
    assert body not in printed and body[:20] not in printed


# --- selectors, names, values -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "selector,reason",
    [
        ("s1", None),
        ("ses-2025-06", None),
        ("A" * 63, None),
        ("", "a DKIM selector must be a non-empty string"),
        (None, "a DKIM selector must be a non-empty string"),
        ("A" * 64, f"DKIM selector {'A' * 64!r} is longer than 63 characters"),
        ("s1.sub", "DKIM selector 's1.sub' may contain only letters, digits and hyphens (no dots)"),
        ("s_1", "DKIM selector 's_1' may contain only letters, digits and hyphens (no dots)"),
        ("-s1", "DKIM selector '-s1' must not start or end with a hyphen"),
    ],
)
def test_validate_selector(selector: object, reason: str | None) -> None:
    assert dkim.validate_selector(selector) == reason


def test_record_name() -> None:
    assert dkim.dkim_record_name("s1", "Example.COM.") == "s1._domainkey.example.com"
    with pytest.raises(ValueError, match="may contain only letters"):
        dkim.dkim_record_name("a.b", "example.com")


@pytest.mark.parametrize(
    "algorithm,public,revoked,expected",
    [
        ("rsa-2048", "QUJD", False, "v=DKIM1; k=rsa; p=QUJD"),
        ("rsa-1024", "QUJD", False, "v=DKIM1; k=rsa; p=QUJD"),
        ("ed25519", RFC8463_PUBLIC_B64, False, f"v=DKIM1; k=ed25519; p={RFC8463_PUBLIC_B64}"),
        ("rsa-2048", None, True, "v=DKIM1; k=rsa; p="),
        ("rsa-2048", "QUJD", True, "v=DKIM1; k=rsa; p="),
        ("ed25519", None, True, "v=DKIM1; k=ed25519; p="),
    ],
)
def test_render_dkim_value(algorithm: str, public: str | None, revoked: bool, expected: str) -> None:
    assert dkim.render_dkim_value(algorithm, public, revoked) == expected


@pytest.mark.parametrize(
    "algorithm,public,reason",
    [
        ("rsa-2048", None, "a published (not revoked) DKIM key needs its public key"),
        ("rsa-2048", "not base64!", "p= is not valid base64"),
        ("dsa", "QUJD", "unknown DKIM algorithm 'dsa'; use one of rsa-2048, rsa-1024, ed25519"),
    ],
)
def test_render_dkim_value_refuses(algorithm: str, public: str | None, reason: str) -> None:
    with pytest.raises(ValueError) as e:
        dkim.render_dkim_value(algorithm, public)
    assert str(e.value) == reason


def test_2048_bit_record_is_split_canonically(pems: dict[str, str]) -> None:
    public = dkim.public_key_b64(pems["rsa-2048"])
    record = dkim.dkim_record("s1", "example.com", "rsa-2048", public, "active", ttl=600)
    assert record.name == "s1._domainkey.example.com" and record.type == "TXT" and record.ttl == 600
    assert record == Record.txt("s1._domainkey.example.com", f"v=DKIM1; k=rsa; p={public}", 600)
    assert record.value == f"v=DKIM1; k=rsa; p={public}"  # joined with no separator (RFC 7208 §3.3 / 6376)
    assert len(record.data) > 1 and all(len(s) <= 255 for s in record.data)  # RFC 1035 §3.3.14
    assert record.content == " ".join(f'"{s}"' for s in record.data)


@pytest.mark.parametrize("state", ["pending", "active", "retiring"])
def test_every_live_state_publishes_the_key(state: str) -> None:
    record = dkim.dkim_record("s1", "example.com", "ed25519", RFC8463_PUBLIC_B64, state)
    assert record == Record.txt("s1._domainkey.example.com", f"v=DKIM1; k=ed25519; p={RFC8463_PUBLIC_B64}")


def test_revoked_state_publishes_empty_p() -> None:
    record = dkim.dkim_record("s1", "example.com", "rsa-2048", "QUJD", "revoked")
    assert record.data == ("v=DKIM1; k=rsa; p=",)


def test_unknown_state_is_refused() -> None:
    with pytest.raises(ValueError) as e:
        dkim.dkim_record("s1", "example.com", "rsa-2048", "QUJD", "retired")
    assert str(e.value) == "unknown DKIM key state 'retired'; use one of pending, active, retiring, revoked"


# --- parsing ----------------------------------------------------------------------------------------


def test_parse_rsa_record(pems: dict[str, str]) -> None:
    public = dkim.public_key_b64(pems["rsa-2048"])
    parsed = dkim.parse_dkim_value(f"v=DKIM1; k=rsa; p={public}")
    assert parsed == dkim.DkimKeyRecord("DKIM1", "rsa", public, False, 2048, {"v": "DKIM1", "k": "rsa", "p": public})


@pytest.mark.parametrize(
    "text,expected",
    [
        (
            f"v=DKIM1; k=ed25519; p={RFC8463_PUBLIC_B64}",
            ("DKIM1", "ed25519", RFC8463_PUBLIC_B64, False, None),
        ),
        (  # whitespace around tags, '=' and inside p= (RFC 6376 §3.2, §3.6.1), trailing ';'
            f" v = DKIM1 ;\tk= ed25519 ;p= {RFC8463_PUBLIC_B64[:10]} \r\n {RFC8463_PUBLIC_B64[10:]} ; ",
            ("DKIM1", "ed25519", RFC8463_PUBLIC_B64, False, None),
        ),
        ("v=DKIM1; k=rsa; p=", ("DKIM1", "rsa", "", True, None)),
        ("v=DKIM1; p=", ("DKIM1", "rsa", "", True, None)),  # k= defaults to rsa
        ("k=ed25519; p=", (None, "ed25519", "", True, None)),  # v= is optional
        ("v=DKIM1; k=ed25519; h=sha256; t=s; n=notes here; p=", ("DKIM1", "ed25519", "", True, None)),
    ],
)
def test_parse_dkim_value(text: str, expected: tuple) -> None:
    parsed = dkim.parse_dkim_value(text)
    assert (parsed.version, parsed.key_type, parsed.public_b64, parsed.revoked, parsed.bits) == expected
    assert dkim.record_public_key(text) == parsed.public_b64  # the cheap read (no key decoding) agrees


def test_parse_keeps_every_tag() -> None:
    parsed = dkim.parse_dkim_value("v=DKIM1; k=ed25519; h=sha256; t=y:s; n=a note; p=")
    assert dict(parsed.tags) == {"v": "DKIM1", "k": "ed25519", "h": "sha256", "t": "y:s", "n": "a note", "p": ""}


def test_tag_names_are_case_sensitive() -> None:
    """RFC 6376 §3.2 (unlike DMARC's tag names, which fold to lower case)."""
    assert dkim.parse_tag_list("v=DKIM1; K=rsa; k=ed25519; p=") == {"v": "DKIM1", "K": "rsa", "k": "ed25519", "p": ""}


@pytest.mark.parametrize(
    "text,reason",
    [
        ("", "the key record is empty"),
        (" \t", "the key record is empty"),
        (";", "tag 1 '(empty)' has no '=' (RFC 6376 §3.2 tag=value)"),
        ("v=DKIM1; k=rsa; garbage", "tag 3 'garbage' has no '=' (RFC 6376 §3.2 tag=value)"),
        ("v=DKIM1;; p=", "tag 2 '(empty)' has no '=' (RFC 6376 §3.2 tag=value)"),
        ("v=DKIM1; 1k=rsa; p=", "tag 2 has an invalid name '1k' (RFC 6376 §3.2)"),
        ("v=DKIM1; k r=rsa; p=", "tag 2 has an invalid name 'k r' (RFC 6376 §3.2)"),
        ("v=DKIM1; n=a;b; p=", "tag 3 'b' has no '=' (RFC 6376 §3.2 tag=value)"),
        ("v=DKIM1; n=\x01; p=", "tag 'n' has invalid characters in its value (RFC 6376 §3.2)"),
        ("v=DKIM1; p=; p=", "duplicate tag 'p'; the whole tag list is invalid (RFC 6376 §3.2)"),
        ("k=rsa; v=DKIM1; p=", "v= must be the first tag (RFC 6376 §3.6.1)"),
        ("v=DKIM2; k=rsa; p=", "unsupported version v=DKIM2 (expected DKIM1)"),
        ("v=DKIM1; k=dsa; p=", "unsupported key type k=dsa (expected rsa or ed25519)"),
        ("v=DKIM1; k=rsa", "missing p= tag (RFC 6376 §3.6.1: p= is required)"),
        ("v=DKIM1; k=rsa; p=QUJD!", "p= is not valid base64"),
        ("v=DKIM1; k=rsa; p=QUJD", "p= is not a DER-encoded public key (RFC 6376 §3.6.1)"),
        ("v=DKIM1; k=ed25519; p=QUJD", "an ed25519 key is 32 octets, p= has 3 (RFC 8463 §4.2)"),
    ],
)
def test_parse_dkim_value_reasons(text: str, reason: str) -> None:
    with pytest.raises(ValueError) as e:
        dkim.parse_dkim_value(text)
    assert str(e.value) == reason


def test_parse_accepts_a_bare_pkcs1_rsa_public_key(pems: dict[str, str]) -> None:
    """RFC 6376 §3.6.1 words p= as an RSAPublicKey; signers publish an SPKI. Both parse."""
    key = serialization.load_pem_private_key(pems["rsa-1024"].encode(), None).public_key()
    pkcs1 = base64.b64encode(key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)).decode()
    assert dkim.parse_dkim_value(f"k=rsa; p={pkcs1}").bits == 1024


def test_parse_rejects_an_ed25519_spki_under_k_rsa(pems: dict[str, str]) -> None:
    key = serialization.load_pem_private_key(pems["ed25519"].encode(), None).public_key()
    spki = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    with pytest.raises(ValueError) as e:
        dkim.parse_dkim_value(f"v=DKIM1; k=rsa; p={base64.b64encode(spki).decode()}")
    assert str(e.value) == "k=rsa but p= holds a non-RSA public key"


# --- lifecycle --------------------------------------------------------------------------------------


NONE_ACTIVE = (
    "DKIM for example.com needs exactly one active RSA key (SES signs with it); "
    "none is active (set one RSA key's state: active)"
)
TWO_ACTIVE = "DKIM for example.com has 2 active RSA keys (s1, s2); keep one active, mark the others retiring"


@pytest.mark.parametrize(
    "keys,require_one,reason",
    [
        ([("s1", "rsa-2048", "active")], True, None),
        ([("s1", "rsa-2048", "active")], False, None),
        ([("s1", "rsa-2048", "active"), ("s2", "rsa-2048", "pending"), ("e1", "ed25519", "active")], True, None),
        # an ed25519 key cannot be SES's key: it does not count
        ([("s1", "rsa-2048", "retiring"), ("e1", "ed25519", "active")], True, NONE_ACTIVE),
        ([("s1", "rsa-2048", "retiring"), ("e1", "ed25519", "active")], False, None),
        ([], True, NONE_ACTIVE),
        ([], False, None),
        # at most one active RSA key, with or without SES
        ([("s2", "rsa-1024", "active"), ("s1", "rsa-2048", "active")], True, TWO_ACTIVE),
        ([("s2", "rsa-1024", "active"), ("s1", "rsa-2048", "active")], False, TWO_ACTIVE),
    ],
)
def test_check_active_keys(keys: list[tuple[str, str, str]], require_one: bool, reason: str | None) -> None:
    assert dkim.check_active_keys(keys, "example.com", require_one=require_one) == reason


def test_check_active_keys_without_a_domain() -> None:
    assert dkim.check_active_keys([], require_one=True) == (
        "DKIM needs exactly one active RSA key (SES signs with it); none is active (set one RSA key's state: active)"
    )


@pytest.mark.parametrize(
    "old,new,reason",
    [
        (None, "pending", None),
        (None, "active", None),
        ("pending", "active", None),
        ("active", "retiring", None),
        ("retiring", "active", None),  # rollback
        ("retiring", "revoked", None),
        ("revoked", None, None),
        ("pending", None, None),  # never signed
        ("active", "active", None),
        ("revoked", "active", "DKIM key 's1' is revoked and cannot become active; add a new selector instead"),
        ("active", None, "DKIM key 's1' is active; make another key active and set this one to retiring first"),
        ("retiring", None, "DKIM key 's1' is retiring; set it to revoked (empty p=) before removing it"),
        ("active", "revoked", "DKIM key 's1' cannot move from active to revoked"),
        (None, "revoked", "DKIM key 's1' cannot move from absent to revoked"),
    ],
)
def test_check_state_change(old: str | None, new: str | None, reason: str | None) -> None:
    assert dkim.check_state_change("s1", old, new) == reason


def test_signing_and_revoked_predicates() -> None:
    assert [dkim.is_signing(s) for s in dkim.STATES] == [False, True, False, False]
    assert [dkim.is_revoked(s) for s in dkim.STATES] == [False, False, False, True]


# --- laws -------------------------------------------------------------------------------------------

_FWS = st.sampled_from(["", " ", "  ", "\t", "\r\n "])


@settings(max_examples=200, deadline=None)
@given(algorithm=st.sampled_from(dkim.ALGORITHMS), revoked=st.booleans(), data=st.data())
def test_render_then_parse_round_trips(algorithm: str, revoked: bool, data: st.DataObject) -> None:
    public = dkim.public_key_b64(_generated(algorithm))  # not a fixture: hypothesis would print the keys
    text = dkim.render_dkim_value(algorithm, public, revoked)
    assert dkim.render_dkim_value(algorithm, public, revoked) == text  # deterministic
    parsed = dkim.parse_dkim_value(text)
    assert parsed.key_type == dkim.key_type(algorithm)
    assert parsed.revoked is revoked
    assert parsed.public_b64 == ("" if revoked else public) == dkim.record_public_key(text)
    assert parsed.bits == (None if revoked or algorithm == "ed25519" else int(algorithm[4:]))
    # The same record with whitespace folded in where RFC 6376 §3.2/§3.6.1 allow it parses the same.
    folded = ";".join(
        data.draw(_FWS) + name + data.draw(_FWS) + "=" + data.draw(_FWS) + _fold(name, value, data) + data.draw(_FWS)
        for name, value in (spec.split("=", 1) for spec in text.split("; "))
    )
    assert dkim.parse_dkim_value(folded) == parsed


def _fold(name: str, value: str, data: st.DataObject) -> str:
    """Whitespace inside p= is ignored (RFC 6376 §3.6.1); other values here are single tokens."""
    if name != "p" or not value:
        return value
    cut = data.draw(st.integers(min_value=1, max_value=len(value)))
    return value[:cut] + data.draw(st.sampled_from(["", " ", "\r\n\t"])) + value[cut:]


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.from_regex(r"[a-z][a-z0-9_]{0,5}", fullmatch=True),
        st.from_regex(r"[!-:<-~]{1,8}( [!-:<-~]{1,8})?", fullmatch=True),
        min_size=1,
        max_size=6,
    )
)
def test_tag_lists_round_trip(tags: dict[str, str]) -> None:
    assert dkim.parse_tag_list("; ".join(f"{k}={v}" for k, v in tags.items())) == tags


def test_the_cores_stay_pure() -> None:
    """STYLE.md: the core never imports pulumi (checked in a fresh interpreter)."""
    code = "import sys, sending_domain.core.dkim, sending_domain.core.dmarc; print('pulumi' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert done.stdout.strip() == "False"
