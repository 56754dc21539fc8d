"""components.dkim_key: the provider's create/diff/update semantics, pickling, and secret outputs.

Under Pulumi's mocks a dynamic provider's methods never run, so the provider class is tested directly; the
resource itself is constructed under mocks only to check what the program sees (secrets, inputs).
"""

from __future__ import annotations

import functools
import subprocess
import sys
from pathlib import Path
from typing import Any

import dill
import pulumi
import pytest
from pulumi.dynamic.dynamic import serialize_provider

from components.dkim_key import OUTPUTS, SECRET_OUTPUTS, DkimKey, DkimKeyProvider, key_id
from sending_domain.core import dkim

ROOT = Path(__file__).resolve().parents[2]
UNKNOWN = pulumi.runtime.rpc.UNKNOWN


@functools.cache
def _created(selector: str, algorithm: str) -> tuple[str, dict[str, Any]]:
    result = DkimKeyProvider().create({"selector": selector, "algorithm": algorithm})
    return result.id, dict(result.outs or {})


# --- create -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["rsa-2048", "rsa-1024"])
def test_create_makes_an_rsa_key_with_its_ses_form(algorithm: str) -> None:
    id_, outs = _created("s1", algorithm)
    assert sorted(outs) == sorted(OUTPUTS)
    assert (outs["selector"], outs["algorithm"]) == ("s1", algorithm)
    assert dkim.private_key_algorithm(outs["private_key_pem"]) == algorithm
    assert outs["public_key"] == dkim.public_key_b64(outs["private_key_pem"])
    assert outs["ses_private_key"] == dkim.ses_private_key(outs["private_key_pem"])
    assert id_ == key_id("s1", outs["public_key"]) and id_.startswith("s1-") and len(id_) == 3 + 16


def test_create_makes_an_ed25519_key_without_ses_form() -> None:
    _, outs = _created("ed1", "ed25519")
    assert dkim.private_key_algorithm(outs["private_key_pem"]) == "ed25519"
    assert dkim.parse_dkim_value(f"v=DKIM1; k=ed25519; p={outs['public_key']}").public_b64 == outs["public_key"]
    assert outs["ses_private_key"] == ""


def test_the_id_reveals_nothing_secret() -> None:
    id_, outs = _created("s1", "rsa-1024")
    assert id_ not in outs["private_key_pem"] and id_[3:] not in outs["ses_private_key"]


@pytest.mark.parametrize(
    "props,reason",
    [
        ({"selector": "a.b", "algorithm": "rsa-2048"},
         "DKIM selector 'a.b' may contain only letters, digits and hyphens (no dots)"),
        ({"selector": "s1", "algorithm": "rsa-4096"},
         "unknown DKIM algorithm 'rsa-4096'; use one of rsa-2048, rsa-1024, ed25519"),
    ],
)
def test_create_refuses_bad_input(props: dict[str, str], reason: str) -> None:
    with pytest.raises(ValueError) as e:
        DkimKeyProvider().create(props)
    assert str(e.value) == reason


# --- check ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "news,failures",
    [
        ({"selector": "s1", "algorithm": "ed25519"}, []),
        ({"selector": UNKNOWN, "algorithm": UNKNOWN}, []),
        ({"selector": "s_1", "algorithm": "rsa"},
         [("selector", "DKIM selector 's_1' may contain only letters, digits and hyphens (no dots)"),
          ("algorithm", "unknown DKIM algorithm 'rsa'; use one of rsa-2048, rsa-1024, ed25519")]),
    ],
)
def test_check(news: dict[str, str], failures: list[tuple[str, str]]) -> None:
    result = DkimKeyProvider().check({}, news)
    assert result.inputs == news
    assert [(f.property, f.reason) for f in result.failures] == failures


# --- diff and update --------------------------------------------------------------------------------


def _olds(selector: str = "s1", algorithm: str = "rsa-1024") -> dict[str, Any]:
    return {**_created(selector, algorithm)[1], "__provider": "old-serialized-provider"}


def test_same_inputs_change_nothing_even_when_the_provider_code_changed() -> None:
    news = {"selector": "s1", "algorithm": "rsa-1024", "__provider": "new-serialized-provider"}
    result = DkimKeyProvider().diff("id", _olds(), news)
    assert (result.changes, result.replaces) == (False, [])


@pytest.mark.parametrize(
    "news,replaces",
    [
        ({"selector": "s2", "algorithm": "rsa-1024"}, ["selector"]),
        ({"selector": "s1", "algorithm": "rsa-2048"}, ["algorithm"]),
        ({"selector": "s2", "algorithm": "ed25519"}, ["selector", "algorithm"]),
        ({"selector": UNKNOWN, "algorithm": "rsa-1024"}, ["selector"]),
    ],
)
def test_selector_or_algorithm_change_replaces(news: dict[str, str], replaces: list[str]) -> None:
    result = DkimKeyProvider().diff("id", _olds(), news)
    assert (result.changes, result.replaces, result.delete_before_replace) == (True, replaces, False)


def test_update_never_regenerates() -> None:
    olds = _olds()
    result = DkimKeyProvider().update("id", olds, {"selector": "s1", "algorithm": "rsa-1024"})
    assert result.outs == {k: olds[k] for k in OUTPUTS}


def test_a_second_create_is_a_different_key() -> None:
    first = DkimKeyProvider().create({"selector": "s1", "algorithm": "ed25519"}).outs or {}
    second = DkimKeyProvider().create({"selector": "s1", "algorithm": "ed25519"}).outs or {}
    assert first["private_key_pem"] != second["private_key_pem"]


# --- pickling ---------------------------------------------------------------------------------------


def test_provider_pickles_with_dill() -> None:
    provider = dill.loads(dill.dumps(DkimKeyProvider(), recurse=True))
    assert provider.create({"selector": "s1", "algorithm": "ed25519"}).outs["selector"] == "s1"


def test_provider_unpickles_and_works_in_a_fresh_interpreter() -> None:
    """As Pulumi's dynamic-provider process does: base64 dill from ``serialize_provider``, run from the root."""
    script = (
        "import base64, sys, dill\n"
        "p = dill.loads(base64.b64decode(sys.stdin.read()))\n"
        "r = p.create({'selector': 's9', 'algorithm': 'ed25519'})\n"
        "d = p.diff(r.id, r.outs, {'selector': 's9', 'algorithm': 'ed25519'})\n"
        "print(r.id.split('-')[0], sorted(r.outs), d.changes)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], input=serialize_provider(DkimKeyProvider()), capture_output=True,
        text=True, cwd=ROOT, timeout=60, check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["s9", *str(sorted(OUTPUTS)).split(), "False"]


# --- the resource under mocks -----------------------------------------------------------------------


class _Mocks(pulumi.runtime.Mocks):
    """Plays the engine: echoes inputs and adds what the provider's create would return."""

    def __init__(self) -> None:
        self.inputs: dict[str, dict[str, Any]] = {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.inputs[args.name] = dict(args.inputs)
        made = {"public_key": "PUB", "private_key_pem": "PEM", "ses_private_key": "SES"}
        return f"{args.name}-id", {**args.inputs, **made}

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        return {}


@pytest.fixture
def mocks() -> _Mocks:
    mocks = _Mocks()
    pulumi.runtime.set_mocks(mocks, preview=False)
    return mocks


def test_secret_outputs_are_declared_and_seen_as_secret(mocks: _Mocks, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}
    original = pulumi.dynamic.Resource.__init__

    def spy(self: Any, provider: Any, name: str, props: Any, opts: Any = None) -> None:
        seen.update(provider=provider, props=dict(props), opts=opts)
        original(self, provider, name, props, opts)

    monkeypatch.setattr(pulumi.dynamic.Resource, "__init__", spy)

    observed: list[Any] = []

    @pulumi.runtime.test
    def check() -> pulumi.Output:
        key = DkimKey("dkim-s1", selector="s1", opts=pulumi.ResourceOptions(protect=True))
        return pulumi.Output.all(
            key.private_key_pem.is_secret(), key.ses_private_key.is_secret(), key.public_key.is_secret(),
            key.selector, key.algorithm,
        ).apply(observed.extend)

    check()
    assert observed == [True, True, False, "s1", "rsa-2048"]
    assert isinstance(seen["provider"], DkimKeyProvider)
    assert seen["opts"].additional_secret_outputs == list(SECRET_OUTPUTS)
    assert seen["opts"].protect is True  # the caller's options survive the merge
    assert mocks.inputs["dkim-s1"]["selector"] == "s1" and "__provider" in mocks.inputs["dkim-s1"]
    assert seen["props"]["private_key_pem"] is None  # an output, never an input
