"""Drift plans from desired records and live answers: exact changes, exact reasons, exact output."""

from __future__ import annotations

import json
import random

import pytest

from sending_domain.core import dkim
from sending_domain.core.config import parse_settings
from sending_domain.core.dnsdata import Answer, Question
from sending_domain.core.drift import (
    Change,
    Plan,
    compare,
    questions,
    render_json,
    render_markdown,
    render_text,
    vendor_message,
)
from sending_domain.core.render import DesiredDomain, flatten_options, render_domain, spf_root_text
from sending_domain.core.spf.flatten import flatten_snapshot
from sending_domain.core.spf.lock import VendorChange

# Senders that need no DNS (ip4 only), small enough records that example.com needs two chained records.
MANY = [f"ip4:10.{i}.0.1" for i in range(1, 31)]  # not adjacent: nothing merges
RAW = {
    "domains": [
        {
            "domain": "example.com",
            "zone": "example.com",
            "senders": MANY,
            "spf": {"all": "-all", "maxBytes": 200},
            "dkim": {"keys": [{"selector": "s1", "state": "active"}, {"selector": "s2", "state": "pending"}]},
            "dmarc": {"p": "quarantine", "pct": 25, "rua": ["mailto:dmarc@example.com"]},
            "ses": {"region": "eu-west-1", "mailFrom": "bounce"},
        }
    ]
}
RSA_PUBLIC = dkim.public_key_b64(dkim.generate_private_key_pem("rsa-1024"))


def desired_for(raw: dict = RAW, dkim_public: dict | None = None) -> list[DesiredDomain]:
    stack = parse_settings(raw)
    out = []
    for d in stack.domains:
        spf = flatten_snapshot(d.domain, {}, spf_root_text(d), flatten_options(d))
        out.append(render_domain(d, spf, dkim_public=dkim_public))
    return out


DESIRED = desired_for()
PUBLISHED = {  # the live form of every desired record, plus a good record for each pending DKIM key
    **{(r.record.name, r.record.type): ((f"{r.record.priority} " if r.record.type == "MX" else "") + r.record.value,)
       for r in DESIRED[0].records},
    ("s1._domainkey.example.com", "TXT"): (f"v=DKIM1; k=rsa; p={RSA_PUBLIC}",),
    ("s2._domainkey.example.com", "TXT"): (f"v=DKIM1; k=rsa; p={RSA_PUBLIC}",),
}


def live(changes: dict[Question, tuple[str, ...] | None] | None = None) -> dict[Question, Answer]:
    """Answers to every question: the published values with ``changes`` applied (None = the name is gone)."""
    return answers(DESIRED, {**PUBLISHED, **(changes or {})})


def answers(desired: list[DesiredDomain], values: dict[Question, tuple[str, ...] | None]) -> dict[Question, Answer]:
    """Answers to every question ``compare`` asks about ``desired``, from ``values`` (missing or None: NXDOMAIN)."""
    observed: dict[Question, Answer] = {}
    while todo := questions(desired, observed) - observed.keys():
        for question in todo:
            found = values.get(question)
            observed[question] = Answer("ok", found) if found else Answer("nxdomain")
    return observed


def test_the_desired_set_needs_chains_so_the_chain_cases_are_real() -> None:
    chains = [r.record.name for r in DESIRED[0].records if r.purpose == "spf-chain"]
    assert chains == ["_spf1.example.com", "_spf2.example.com"]
    assert [p.name for p in DESIRED[0].pending] == ["s1._domainkey.example.com", "s2._domainkey.example.com"]


def test_published_as_rendered_is_no_drift() -> None:
    plan = compare("dev", DESIRED, live())
    assert plan.changes == () and plan.vendors == () and not plan.drifted
    assert plan.checked == len(DESIRED[0].records) + 2
    assert render_text(plan).startswith("stack dev: no drift (")


def test_unrelated_txt_at_our_names_is_ignored() -> None:
    root = PUBLISHED[("example.com", "TXT")]
    dmarc = PUBLISHED[("_dmarc.example.com", "TXT")]
    plan = compare("dev", DESIRED, live({
        ("example.com", "TXT"): (*root, "google-site-verification=abc", "MS=ms1234"),
        ("_dmarc.example.com", "TXT"): (*dmarc, "some other note"),
    }))
    assert plan.changes == ()


def only(plan: Plan) -> Change:
    assert len(plan.changes) == 1, plan.changes
    return plan.changes[0]


def test_missing_record_is_a_create_with_the_consequence() -> None:
    change = only(compare("dev", DESIRED, live({("bounce.example.com", "MX"): None})))
    assert change == Change("create", "bounce.example.com", "MX", None, "10 feedback-smtp.eu-west-1.amazonses.com",
                            "the MAIL FROM MX is missing: SES cannot use the custom MAIL FROM domain")


def test_missing_chain_names_the_permerror() -> None:
    change = only(compare("dev", DESIRED, live({("_spf2.example.com", "TXT"): None})))
    assert (change.action, change.name, change.before) == ("create", "_spf2.example.com", None)
    assert "permerror (RFC 7208 §5.2)" in change.reason


def test_altered_record_is_an_update_with_both_values() -> None:
    wanted = PUBLISHED[("_dmarc.example.com", "TXT")][0]
    change = only(compare("dev", DESIRED, live({("_dmarc.example.com", "TXT"): ("v=DMARC1; p=none",)})))
    assert change == Change("update", "_dmarc.example.com", "TXT", "v=DMARC1; p=none", wanted,
                            "the live value differs from the stack")


def test_altered_spf_next_to_a_verification_record_is_one_update() -> None:
    change = only(compare("dev", DESIRED, live({("example.com", "TXT"): ("v=spf1 +all", "google-site-verification=x")})))
    assert (change.action, change.before, change.after) == ("update", "v=spf1 +all", PUBLISHED[("example.com", "TXT")][0])


@pytest.mark.parametrize(
    ("name", "extra", "reason"),
    [
        ("example.com", "v=spf1 -all", "two v=spf1 records make SPF permerror (RFC 7208 §4.5)"),
        ("_dmarc.example.com", "v=DMARC1; p=none", "receivers then apply no DMARC policy (RFC 7489 §6.6.3)"),
        ("bounce.example.com", "v=spf1 include:other.example ~all", "two v=spf1 records make SPF permerror"),
    ],
)
def test_a_second_record_in_our_namespace_is_a_delete(name: str, extra: str, reason: str) -> None:
    change = only(compare("dev", DESIRED, live({(name, "TXT"): (*PUBLISHED[(name, "TXT")], extra)})))
    assert (change.action, change.name, change.before, change.after) == ("delete", name, extra, None)
    assert reason in change.reason


def test_extra_mx_at_mail_from_is_a_delete() -> None:
    mx = ("bounce.example.com", "MX")
    change = only(compare("dev", DESIRED, live({mx: (*PUBLISHED[mx], "20 mx.other.example")})))
    assert (change.action, change.before) == ("delete", "20 mx.other.example")


def test_chains_past_the_desired_ones_are_found_while_they_exist_and_deleted() -> None:
    observed = live({("_spf3.example.com", "TXT"): ("v=spf1 ip4:198.51.100.0/24",),
                     ("_spf4.example.com", "TXT"): ("v=spf1 ip4:203.0.113.0/24",)})
    assert {("_spf3.example.com", "TXT"), ("_spf4.example.com", "TXT"), ("_spf5.example.com", "TXT")} <= observed.keys()
    assert ("_spf6.example.com", "TXT") not in observed  # probing stops at the first absent chain
    plan = compare("dev", DESIRED, observed)
    assert [(c.action, c.name) for c in plan.changes] == [("delete", "_spf3.example.com"), ("delete", "_spf4.example.com")]
    assert "nothing includes it any more" in plan.changes[0].reason


def test_a_chain_the_live_root_includes_is_asked_even_past_a_gap() -> None:
    root = PUBLISHED[("example.com", "TXT")][0].replace(" -all", " include:_SPF7.example.com -all")
    observed = live({("example.com", "TXT"): (root,), ("_spf7.example.com", "TXT"): ("v=spf1 ip4:198.51.100.1",)})
    assert ("_spf7.example.com", "TXT") in observed
    actions = [(c.action, c.name) for c in compare("dev", DESIRED, observed).changes]
    assert actions == [("update", "example.com"), ("delete", "_spf7.example.com")]


def test_a_non_spf_txt_at_a_chain_name_is_not_ours() -> None:
    assert compare("dev", DESIRED, live({("_spf3.example.com", "TXT"): ("hello",)})).changes == ()


@pytest.mark.parametrize(
    ("value", "action"),
    [
        (None, "create"),
        ("v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=", "update"),  # RFC 8463 A.2 key
        ("v=DKIM1; k=rsa; p=", "update"),  # revoked
        ("v=DKIM1; k=rsa; p=not base64!", "update"),
        (f"k=rsa; p={RSA_PUBLIC}", None),  # v= is optional (RFC 6376 §3.6.1)
        (f"v=DKIM1; p={RSA_PUBLIC}", None),  # k= defaults to rsa
    ],
)
def test_pending_dkim_checks_presence_and_k_only(value: str | None, action: str | None) -> None:
    name = ("s2._domainkey.example.com", "TXT")
    plan = compare("dev", DESIRED, live({name: (value,) if value else None}))
    assert [c.action for c in plan.changes] == ([action] if action else [])
    if action:
        assert plan.changes[0].after == "v=DKIM1; k=rsa; p=(the public key, known after deployment)"
    assert any(n.startswith("s2._domainkey.example.com: pending DKIM key") and "k=rsa" in n for n in plan.notes)


def test_known_dkim_public_key_is_compared_exactly() -> None:
    desired = desired_for(dkim_public={("example.com", "s1"): RSA_PUBLIC})
    other = dkim.public_key_b64(dkim.generate_private_key_pem("rsa-1024"))
    observed = live({("s1._domainkey.example.com", "TXT"): (f"v=DKIM1; k=rsa; p={other}",)})
    plan = compare("dev", desired, observed)
    assert [(c.action, c.name, c.after) for c in plan.changes] == [
        ("update", "s1._domainkey.example.com", f"v=DKIM1; k=rsa; p={RSA_PUBLIC}")
    ]
    assert not any(n.startswith("s1.") for n in plan.notes)


def test_compare_refuses_incomplete_answers() -> None:
    observed = live()
    del observed[("_dmarc.example.com", "TXT")]
    with pytest.raises(ValueError, match="no answer for _dmarc.example.com TXT"):
        compare("dev", DESIRED, observed)


def test_changes_are_sorted_whatever_the_answer_order() -> None:
    changes = {("_dmarc.example.com", "TXT"): ("v=DMARC1; p=none", "v=DMARC1; p=reject"),
               ("bounce.example.com", "MX"): None, ("_spf3.example.com", "TXT"): ("v=spf1 -all",)}
    first = compare("dev", DESIRED, live(changes))
    items = list(live(changes).items())
    random.Random(7).shuffle(items)
    assert compare("dev", DESIRED, dict(items)) == first
    assert [(c.name, c.action) for c in first.changes] == [
        ("_dmarc.example.com", "update"), ("_dmarc.example.com", "delete"), ("_spf3.example.com", "delete"),
        ("bounce.example.com", "create"),
    ]


def test_change_rejects_unknown_actions() -> None:
    with pytest.raises(ValueError, match="unknown change action"):
        Change("replace", "a.example", "TXT", None, None, "")


# --- vendors -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (VendorChange("include:amazonses.com", ("203.0.113.0/24",), (), "its addresses changed"),
         "vendor include:amazonses.com's live SPF tree no longer matches the lock: the flattened record is stale and "
         "mail from its new addresses (203.0.113.0/24) would fail SPF; run `sending-domain spf lock --update` and "
         "review the diff"),
        (VendorChange("include:sendgrid.net", (), ("198.51.100.0/24",), "its addresses changed"),
         "vendor include:sendgrid.net's live SPF tree no longer matches the lock: the flattened record still "
         "authorizes addresses it no longer uses (198.51.100.0/24); run `sending-domain spf lock --update` and "
         "review the diff"),
        (VendorChange("include:x.example", (), (), "its records changed but it covers the same addresses"),
         "vendor include:x.example's live SPF tree no longer matches the lock: its records changed but it covers the "
         "same addresses, so mail is unaffected; refresh the lock anyway; run `sending-domain spf lock --update` and "
         "review the diff"),
        (VendorChange("include:y.example", (), (), "is in the stack but not pinned in the lock"),
         "vendor include:y.example is in the stack but not pinned in the lock, so plans cannot be made offline; run "
         "`sending-domain spf lock --update` and review the diff"),
    ],
)
def test_vendor_messages(change: VendorChange, expected: str) -> None:
    assert vendor_message(change) == expected


def test_vendor_change_alone_is_drift() -> None:
    vendor = VendorChange("include:amazonses.com", ("203.0.113.0/24",), (), "its addresses changed")
    plan = compare("dev", DESIRED, live(), [vendor])
    assert plan.drifted and plan.changes == ()
    assert "1 vendor changed" in render_text(plan)


# --- rendering -----------------------------------------------------------------------------------------

SMALL = Plan(
    "dev",
    (
        Change("create", "_dmarc.example.com", "TXT", None, "v=DMARC1; p=none", "missing | gone"),
        Change("update", "bounce.example.com", "MX", "20 mx.example.net", "10 feedback-smtp.eu-west-1.amazonses.com", "differs"),
        Change("delete", "_spf3.example.com", "TXT", 'v=spf1 ```x "q"', None, "stale <chain>"),
    ),
    (VendorChange("include:amazonses.com", ("203.0.113.0/24",), (), "its addresses changed"),),
    ("s2._domainkey.example.com: pending",),
    9,
)


def test_text_rendering_is_exact() -> None:
    assert render_text(SMALL) == (
        "stack dev: drift: 1 to create, 1 to update, 1 to delete, 1 vendor changed (9 records checked)\n"
        "* create TXT _dmarc.example.com: missing | gone\n"
        '    + _dmarc.example.com. TXT "v=DMARC1; p=none"\n'
        "* update MX bounce.example.com: differs\n"
        "    - bounce.example.com. MX 20 mx.example.net.\n"
        "    + bounce.example.com. MX 10 feedback-smtp.eu-west-1.amazonses.com.\n"
        "* delete TXT _spf3.example.com: stale <chain>\n"
        '    - _spf3.example.com. TXT "v=spf1 ```x \\"q\\""\n'
        f"* {vendor_message(SMALL.vendors[0])}\n"
        "; note: s2._domainkey.example.com: pending\n"
        "; creates and updates: `pulumi up` restores the records; if a live change was intended, put it in the stack "
        "file instead\n"
        "; deletes: records at our names that the stack does not publish; remove them in Cloudflare\n"
    )


def test_markdown_rendering_is_exact_and_escaped() -> None:
    assert render_markdown(SMALL) == (
        "## DNS drift in stack `dev`\n"
        "\n"
        "stack dev: drift: 1 to create, 1 to update, 1 to delete, 1 vendor changed (9 records checked).\n"
        "\n"
        "| Action | Type | Name | Why |\n"
        "| --- | --- | --- | --- |\n"
        "| create | TXT | `_dmarc.example.com` | missing \\| gone |\n"
        "| update | MX | `bounce.example.com` | differs |\n"
        "| delete | TXT | `_spf3.example.com` | stale &lt;chain> |\n"
        "\n"
        "### Vendors\n"
        "\n"
        f"- {vendor_message(SMALL.vendors[0])}\n"
        "\n"
        "<details><summary>Records (live − / wanted +)</summary>\n"
        "\n"
        "````diff\n"
        '+ _dmarc.example.com. TXT "v=DMARC1; p=none"\n'
        "- bounce.example.com. MX 20 mx.example.net.\n"
        "+ bounce.example.com. MX 10 feedback-smtp.eu-west-1.amazonses.com.\n"
        '- _spf3.example.com. TXT "v=spf1 ```x \\"q\\""\n'
        "````\n"
        "\n"
        "</details>\n"
        "\n"
        "Next steps:\n"
        "\n"
        "- creates and updates: `pulumi up` restores the records; if a live change was intended, put it in the "
        "stack file instead\n"
        "- deletes: records at our names that the stack does not publish; remove them in Cloudflare\n"
        "\n"
        "Notes:\n"
        "\n"
        "- s2._domainkey.example.com: pending\n"
    )


def test_markdown_without_drift_is_a_heading_and_a_line() -> None:
    assert render_markdown(Plan("dev", (), checked=4)) == (
        "## No DNS drift in stack `dev`\n\nstack dev: no drift (4 records checked).\n"
    )


def test_json_rendering_is_exact() -> None:
    data = json.loads(render_json(SMALL))
    assert data["stack"] == "dev" and data["drifted"] is True
    assert data["summary"] == {"create": 1, "update": 1, "delete": 1, "vendors": 1, "checked": 9}
    assert data["changes"][0] == {"action": "create", "name": "_dmarc.example.com", "type": "TXT", "before": None,
                                  "after": "v=DMARC1; p=none", "reason": "missing | gone"}
    assert data["vendors"] == [{"term": "include:amazonses.com", "added": ["203.0.113.0/24"], "removed": [],
                                "detail": "its addresses changed", "error": None,
                                "message": vendor_message(SMALL.vendors[0])}]
    assert data["notes"] == ["s2._domainkey.example.com: pending"]
    assert render_json(SMALL) == render_json(SMALL)


# --- adopted domains: the record as written, DMARC by tags ------------------------------------------------


def test_the_stack_record_as_written_is_no_drift_and_says_so() -> None:
    written = DESIRED[0].spf_written
    assert written.startswith("v=spf1 ip4:10.1.0.1 ip4:10.2.0.1") and written.endswith(" -all")
    observed = live({("example.com", "TXT"): (written.replace("ip4:10.1.0.1", "+IP4:10.1.0.1"),),
                     ("_spf1.example.com", "TXT"): None, ("_spf2.example.com", "TXT"): None})
    plan = compare("dev", DESIRED, observed)
    assert plan.changes == ()
    assert any(n.startswith("example.com: the live SPF record is the stack's record as written (0 lookups), not yet flattened")
               for n in plan.notes)


def test_a_record_with_other_terms_or_order_is_still_drift() -> None:
    written = DESIRED[0].spf_written.split()
    reordered = " ".join([written[0], written[2], written[1], *written[3:]])
    observed = live({("example.com", "TXT"): (reordered,)})
    assert [c.action for c in compare("dev", DESIRED, observed).changes] == ["update"]


def test_dmarc_is_compared_by_tags_not_by_text() -> None:
    shown = PUBLISHED[("_dmarc.example.com", "TXT")][0]
    assert shown == "v=DMARC1; p=quarantine; pct=25; t=y; rua=mailto:dmarc@example.com"
    same = "v=DMARC1;  rua=mailto:dmarc@Example.COM; T=Y; pct=25; p=Quarantine; adkim=r"
    assert compare("dev", DESIRED, live({("_dmarc.example.com", "TXT"): (same,)})).changes == ()
    without_t = "v=DMARC1; p=quarantine; pct=25; rua=mailto:dmarc@example.com"  # RFC 9989 receivers enforce fully
    assert only(compare("dev", DESIRED, live({("_dmarc.example.com", "TXT"): (without_t,)}))).action == "update"
    stronger = "v=DMARC1; p=reject; pct=25; t=y; rua=mailto:dmarc@example.com"
    assert only(compare("dev", DESIRED, live({("_dmarc.example.com", "TXT"): (stronger,)}))).action == "update"
