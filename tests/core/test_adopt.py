"""Adoption of a live domain (core/adopt.py): each live record's fate, table-driven, with exact reasons."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from sending_domain.core import dkim
from sending_domain.core.adopt import OWNER_COMMENT, LiveIdentity, LiveRecord, classify, classify_ses, txt_text
from sending_domain.core.config import parse_settings
from sending_domain.core.dmarc import Stage
from sending_domain.core.records import Record
from sending_domain.core.render import DesiredDomain, render_domain
from sending_domain.core.spf.flatten import Flattened

SPF = "v=spf1 ip4:192.0.2.0/24 -all"
DMARC = "v=DMARC1; p=none; rua=mailto:dmarc@example.com"
RAW: dict[str, Any] = {
    "domains": [
        {
            "domain": "example.com",
            "zone": "example.com",
            "senders": ["ip4:192.0.2.0/24"],
            "spf": {"all": "-all"},
            "dkim": {"keys": [{"selector": "s2026a", "state": "active"}]},
            "dmarc": {"p": "none", "rua": ["mailto:dmarc@example.com"]},
            "ses": {"region": "eu-west-1", "mailFrom": "bounce"},
        }
    ]
}
PUBLIC = dkim.public_key_b64(dkim.generate_private_key_pem("rsa-1024"))
OTHER_KEY = dkim.public_key_b64(dkim.generate_private_key_pem("rsa-1024"))


def desired(dmarc: dict[str, Any] | None = None, *, dkim_public: str | None = None) -> DesiredDomain:
    raw = copy.deepcopy(RAW)
    if dmarc is not None:
        raw["domains"][0]["dmarc"] = dmarc
    settings = parse_settings(raw).domains[0]
    spf = Flattened("example.com", (Record.txt("example.com", SPF),), 0, 0)
    public = {("example.com", "s2026a"): dkim_public} if dkim_public else None
    return render_domain(settings, spf, dkim_public=public)


def cf(name: str, content: str, record_id: str, *, ours: bool = False, rtype: str = "TXT", priority: int | None = None) -> LiveRecord:
    """A record as Cloudflare lists it: with an id and a comment."""
    return LiveRecord(name, rtype, content, record_id, OWNER_COMMENT if ours else None, priority)


def actions(adoption: Any) -> list[tuple[str, str, str, str | None]]:
    return sorted((s.action, s.name, s.type, s.live.id if s.live else None) for s in adoption.steps)


def test_a_new_domain_creates_everything() -> None:
    adoption = classify(desired(), [], adopt=False)
    assert {s.action for s in adoption.steps} == {"create"}
    assert len(adoption.steps) == 5  # SPF, DMARC, MAIL FROM MX and SPF, the DKIM key
    assert adoption.blockers == () and adoption.live_stage is None


def test_an_unmanaged_spf_record_blocks_without_adopt_and_names_the_ways_out() -> None:
    live = [cf("example.com", '"v=spf1 include:_spf.google.com ~all"', "rec1"),
            cf("example.com", '"google-site-verification=abc"', "rec2")]
    adoption = classify(desired(), live, adopt=False)
    [block] = adoption.blockers
    assert (block.name, block.live.id) == ("example.com", "rec1")  # type: ignore[union-attr]
    assert "'v=spf1 include:_spf.google.com ~all' (id rec1)" in block.reason
    assert "two SPF records, a permerror for every receiver (RFC 7208 §4.5)" in block.reason
    assert "set adopt: true for this domain" in block.reason and "or delete it first" in block.reason
    assert ("keep", "example.com", "TXT", "rec2") in actions(adoption)  # site verification stays
    assert adoption.import_id("example.com-spf") is None


def test_with_adopt_an_unmanaged_spf_record_is_imported_and_updated() -> None:
    live = [cf("example.com", '"v=spf1 include:_spf.google.com ~all"', "rec1")]
    adoption = classify(desired(), live, adopt=True)
    assert adoption.blockers == ()
    step = next(s for s in adoption.steps if s.key == "example.com-spf")
    assert step.action == "update" and adoption.import_id("example.com-spf") == "rec1"


def test_an_identical_unmanaged_record_is_adopted_as_it_is() -> None:
    live = [cf("example.com", f'"{SPF}"', "rec1")]
    adoption = classify(desired(), live, adopt=True)
    assert next(s for s in adoption.steps if s.key == "example.com-spf").action == "adopt"
    assert adoption.import_id("example.com-spf") == "rec1"
    assert classify(desired(), live, adopt=False).blockers  # would be error 81058, or a second record


def test_two_spf_records_adopt_one_and_delete_the_other() -> None:
    live = [cf("example.com", '"v=spf1 include:a.example ~all"', "recA"), cf("example.com", f'"{SPF}"', "recB")]
    adoption = classify(desired(), live, adopt=True)
    assert adoption.import_id("example.com-spf") == "recB"  # the one already holding our value
    [delete] = adoption.deletions
    assert delete.live.id == "recA" and "RFC 7208 §4.5" in delete.reason  # type: ignore[union-attr]
    assert len(classify(desired(), live, adopt=False).blockers) == 2


def test_our_own_records_are_never_imported() -> None:
    live = [cf("example.com", '"v=spf1 ip4:198.51.100.0/24 -all"', "ours1", ours=True)]
    adoption = classify(desired(), live, adopt=False)
    step = next(s for s in adoption.steps if s.key == "example.com-spf")
    assert step.action == "update" and step.reason == "published by this stack"
    assert adoption.import_id("example.com-spf") is None and adoption.blockers == ()


def test_a_second_record_of_ours_is_deleted_even_without_adopt() -> None:
    live = [cf("example.com", f'"{SPF}"', "ours1", ours=True), cf("example.com", '"v=spf1 -all"', "ours2", ours=True)]
    adoption = classify(desired(), live, adopt=False)
    assert [s.live.id for s in adoption.deletions] == ["ours2"]  # type: ignore[union-attr]


@pytest.mark.parametrize("adopt", [False, True])
def test_a_live_dkim_key_at_a_stack_selector_is_refused_even_with_adopt(adopt: bool) -> None:
    live = [cf("s2026a._domainkey.example.com", f'"v=DKIM1; k=rsa; p={OTHER_KEY}"', "dk1")]
    [block] = classify(desired(), live, adopt=adopt).blockers
    assert block.name == "s2026a._domainkey.example.com"
    assert "selector s2026a already publishes a DKIM key (id dk1)" in block.reason
    assert "never overwritten, even with adopt: true" in block.reason and "new selector" in block.reason


def test_a_revoked_key_at_a_stack_selector_is_an_ordinary_conflict() -> None:
    live = [cf("s2026a._domainkey.example.com", '"v=DKIM1; k=rsa; p="', "dk1")]
    assert classify(desired(), live, adopt=True).import_id("example.com-dkim-s2026a") == "dk1"


def test_from_dns_a_key_equal_to_the_deployed_one_is_ours() -> None:
    live = [LiveRecord("s2026a._domainkey.example.com", "TXT", f"v=DKIM1; k=rsa; p={PUBLIC}")]
    assert classify(desired(dkim_public=PUBLIC), live, adopt=False).blockers == ()
    blocked = classify(desired(), live, adopt=False).blockers  # the key is unknown: DNS cannot tell
    assert len(blocked) == 1 and "unless this stack published it" in blocked[0].reason


def test_an_mx_at_the_mail_from_name_conflicts() -> None:
    live = [cf("bounce.example.com", "mx.other.example", "mx1", rtype="MX", priority=5)]
    [block] = classify(desired(), live, adopt=False).blockers
    assert "another MX record, not created by this stack, is live at bounce.example.com" in block.reason
    adopted = classify(desired(), live, adopt=True)
    assert adopted.import_id("example.com-mail-from-mx") == "mx1"


def test_a_cname_at_one_of_our_names_blocks_even_with_adopt() -> None:
    live = [cf("_dmarc.example.com", "example-com.hosted-dmarc.example", "cn1", rtype="CNAME")]
    [block] = classify(desired(), live, adopt=True).blockers
    assert "is a CNAME to example-com.hosted-dmarc.example (id cn1)" in block.reason and "RFC 1034" in block.reason


# --- DMARC -------------------------------------------------------------------------------------------


def test_adopting_reject_with_a_stack_at_reject_is_a_no_op() -> None:
    live = [cf("_dmarc.example.com", '"v=DMARC1; p=reject; rua=mailto:dmarc@example.com"', "dm1")]
    adoption = classify(desired({"p": "reject", "rua": ["mailto:dmarc@example.com"]}), live, adopt=True)
    assert adoption.blockers == () and adoption.live_stage == Stage("reject")
    assert next(s for s in adoption.steps if s.key == "example.com-dmarc").action == "adopt"


def test_adopting_reject_with_a_stack_at_none_is_refused_as_a_downgrade() -> None:
    live = [cf("_dmarc.example.com", '"v=DMARC1; p=reject"', "dm1")]
    [block] = classify(desired(), live, adopt=True).blockers
    assert block.reason.startswith("DMARC for example.com enforces p=reject today and the stack asks for p=none")
    assert "set dmarc.force: true with a dmarc.reason to lower it on purpose" in block.reason
    forced = classify(desired({"p": "none", "force": True, "reason": "lowered on purpose"}), live, adopt=True, force=True)
    assert forced.blockers == ()


def test_adoption_moves_up_one_rung_at_a_time_from_the_live_policy() -> None:
    live = [cf("_dmarc.example.com", '"v=DMARC1; p=quarantine; pct=25"', "dm1")]
    passed = (Stage("quarantine", 25), Stage("quarantine", 50))
    assert classify(desired({"p": "quarantine", "pct": 50}), live, adopt=True, passed=passed).blockers == ()
    [block] = classify(desired({"p": "reject"}), live, adopt=True, passed=passed).blockers
    assert "would move from p=quarantine pct=25 to p=reject, 5 steps" in block.reason


def test_adoption_moves_up_only_on_a_pass_judged_at_the_live_policy() -> None:
    live = [cf("_dmarc.example.com", '"v=DMARC1; p=quarantine; pct=25"', "dm1")]
    [block] = classify(desired({"p": "quarantine", "pct": 50}), live, adopt=True).blockers
    assert "would move from p=quarantine pct=25 to p=quarantine pct=50 without evidence" in block.reason
    at_none = (Stage("none"), Stage("quarantine", 10))
    [block] = classify(desired({"p": "quarantine", "pct": 50}), live, adopt=True, passed=at_none).blockers
    assert "the evidence file's PASS was judged at p=none, not at p=quarantine pct=25" in block.reason


def test_two_live_dmarc_records_mean_no_policy_today() -> None:
    live = [cf("_dmarc.example.com", '"v=DMARC1; p=reject"', "dm1"), cf("_dmarc.example.com", '"v=DMARC1; p=none"', "dm2")]
    adoption = classify(desired(), live, adopt=True)
    assert adoption.live_stage is None and adoption.blockers == () and len(adoption.deletions) == 1


def test_our_own_dmarc_record_is_guarded_by_the_state_not_here() -> None:
    live = [cf("_dmarc.example.com", '"v=DMARC1; p=reject"', "dm1", ours=True)]
    adoption = classify(desired(), live, adopt=False)
    assert adoption.blockers == () and adoption.live_stage == Stage("reject")


# --- SES ---------------------------------------------------------------------------------------------


def test_ses_identity_classification() -> None:
    kw = {"selector": "s2026a", "selectors": ["s2026a"]}
    assert classify_ses("example.com", "eu-west-1", None, adopt=False, **kw).action == "create"
    tagged = LiveIdentity((("managed-by", "sending-domain"),))
    assert classify_ses("example.com", "eu-west-1", tagged, adopt=False, **kw).action == "unchanged"
    before_tags = LiveIdentity((), "EXTERNAL", ("s2026a",))  # signs with our selector: made by this stack
    assert classify_ses("example.com", "eu-west-1", before_tags, adopt=False, **kw).action == "unchanged"
    foreign = LiveIdentity((), "AWS_SES", ("tok1", "tok2", "tok3"))
    refused = classify_ses("example.com", "eu-west-1", foreign, adopt=False, **kw)
    assert refused.action == "block" and "already exists in eu-west-1" in refused.reason
    adopted = classify_ses("example.com", "eu-west-1", foreign, adopt=True, **kw)
    assert adopted.action == "adopt" and "selector s2026a" in adopted.reason


@pytest.mark.parametrize(
    ("content", "text"),
    [
        ('"v=spf1 -all"', "v=spf1 -all"),
        ('"v=spf1 ip4:192.0.2.1 " "-all"', "v=spf1 ip4:192.0.2.1 -all"),
        ('"a\\"b" "c\\\\d"', 'a"bc\\d'),
        ("v=spf1 -all", "v=spf1 -all"),  # stored unquoted
        ('"unterminated', '"unterminated'),
    ],
)
def test_cloudflare_txt_content_reads_as_the_joined_text(content: str, text: str) -> None:
    assert txt_text(content) == text


def test_with_the_state_lost_our_records_are_imported_and_our_keys_refused() -> None:
    live = [cf("example.com", f'"{SPF}"', "ours1", ours=True)]
    assert classify(desired(), live, adopt=False).import_id("example.com-spf") is None  # in the state
    assert classify(desired(), live, adopt=False, reimport_own=True).import_id("example.com-spf") == "ours1"
    key = [cf("s2026a._domainkey.example.com", f'"v=DKIM1; k=rsa; p={OTHER_KEY}"', "dk1", ours=True)]
    assert classify(desired(), key, adopt=False).blockers == ()
    [block] = classify(desired(), key, adopt=False, reimport_own=True).blockers
    assert "its private half was in the lost state" in block.reason and "new selector" in block.reason


def test_a_records_owner_is_the_stack_its_comment_names() -> None:
    from sending_domain.core.adopt import owner_comment

    def record(comment: str | None) -> LiveRecord:
        return LiveRecord("example.com", "TXT", '"v=spf1 -all"', "rec1", comment, stack="prod")

    assert record(owner_comment("prod")).owner is True
    assert record(OWNER_COMMENT).owner is True  # earlier versions wrote no stack
    assert record(owner_comment("staging")).owner is False
    assert record(None).owner is False
    assert LiveRecord("example.com", "TXT", '"v=spf1 -all"').owner is None  # from DNS: nobody can tell
