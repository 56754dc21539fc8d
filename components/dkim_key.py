"""DkimKey: a Pulumi dynamic resource that generates a DKIM private key once and keeps it.

The key is made in the provider's ``create`` (with :mod:`sending_domain.core.dkim`) and lives only in the
Pulumi state, encrypted there as a secret, and in SES. It is stable across ``pulumi up``: ``diff`` asks for a
replacement (a new key) only when the selector or the algorithm changes — a new selector is a new key, as
rotation practice wants — and ``update`` never regenerates.

Outputs: ``selector``, ``algorithm``, ``public_key`` (the ``p=`` value, plain), ``private_key_pem`` (PKCS#8
PEM, SECRET) and ``ses_private_key`` (SES BYODKIM form, SECRET; empty for ed25519, which SES cannot use).

The provider is pickled with dill when the resource is constructed and unpickled in Pulumi's dynamic-provider
process, so it captures no clients and imports the core and ``cryptography`` inside its methods. No key
material ever goes into an exception or a log line.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pulumi
from pulumi.dynamic import CheckFailure, CheckResult, CreateResult, DiffResult, ResourceProvider, UpdateResult

SECRET_OUTPUTS: tuple[str, ...] = ("private_key_pem", "ses_private_key")
OUTPUTS: tuple[str, ...] = ("selector", "algorithm", "public_key", *SECRET_OUTPUTS)
REPLACE_ON: tuple[str, ...] = ("selector", "algorithm")
_UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # pulumi.runtime.rpc.UNKNOWN: a value not known at preview


class DkimKeyProvider(ResourceProvider):
    """Generates the key in ``create``; replaces on selector/algorithm change; never regenerates otherwise."""

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        """Reject a bad selector or algorithm before anything is created (values unknown at preview pass)."""
        from sending_domain.core import dkim

        failures = []
        for prop, validate in (("selector", dkim.validate_selector), ("algorithm", dkim.validate_algorithm)):
            value = news.get(prop)
            reason = None if value == _UNKNOWN else validate(value)
            if reason:
                failures.append(CheckFailure(prop, reason))
        return CheckResult(news, failures)

    def create(self, props: dict[str, Any]) -> CreateResult:
        from sending_domain.core import dkim

        selector, algorithm = props.get("selector"), props.get("algorithm")
        reason = dkim.validate_selector(selector) or dkim.validate_algorithm(algorithm)
        if reason:
            raise ValueError(reason)
        outs = key_outputs(str(selector), str(algorithm), dkim.generate_private_key_pem(str(algorithm)))
        return CreateResult(key_id(outs["selector"], outs["public_key"]), outs)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        """Replace when selector or algorithm changes (or is not known yet); otherwise nothing changes."""
        replaces = [prop for prop in REPLACE_ON if news.get(prop) == _UNKNOWN or olds.get(prop) != news.get(prop)]
        return DiffResult(changes=bool(replaces), replaces=replaces, delete_before_replace=False)

    def update(self, _id: str, olds: dict[str, Any], _news: dict[str, Any]) -> UpdateResult:
        """Never regenerates: the stored key is the key. (Not reached while ``diff`` only ever replaces.)"""
        return UpdateResult({prop: olds[prop] for prop in OUTPUTS if prop in olds})


def key_outputs(selector: str, algorithm: str, private_pem: str) -> dict[str, str]:
    """The resource outputs for one private key."""
    from sending_domain.core import dkim

    rsa = algorithm in dkim.SES_ALGORITHMS
    return {
        "selector": selector,
        "algorithm": algorithm,
        "public_key": dkim.public_key_b64(private_pem),
        "private_key_pem": private_pem,
        "ses_private_key": dkim.ses_private_key(private_pem) if rsa else "",
    }


def key_id(selector: str, public_b64: str) -> str:
    """``<selector>-<first 16 hex of SHA-256 of the public key>``: unique per key, reveals nothing secret."""
    return f"{selector}-{hashlib.sha256(public_b64.encode('ascii')).hexdigest()[:16]}"


class DkimKey(pulumi.dynamic.Resource, module="sending-domain", name="DkimKey"):
    """A DKIM key pair for one selector. ``private_key_pem`` and ``ses_private_key`` are secret."""

    selector: pulumi.Output[str]
    algorithm: pulumi.Output[str]
    public_key: pulumi.Output[str]
    private_key_pem: pulumi.Output[str]
    ses_private_key: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        selector: pulumi.Input[str],
        algorithm: pulumi.Input[str] = "rsa-2048",
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props: dict[str, Any] = {"selector": selector, "algorithm": algorithm}
        props.update({prop: None for prop in ("public_key", *SECRET_OUTPUTS)})
        # The engine encrypts these outputs in the state (dynamic outputs are plain unless marked) ...
        secret = pulumi.ResourceOptions(additional_secret_outputs=list(SECRET_OUTPUTS))
        super().__init__(DkimKeyProvider(), name, props, pulumi.ResourceOptions.merge(opts, secret))
        # ... and the program sees them as secret, so anything built from them stays secret too.
        self.private_key_pem = pulumi.Output.secret(self.private_key_pem)
        self.ses_private_key = pulumi.Output.secret(self.ses_private_key)
