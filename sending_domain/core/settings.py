"""Typed stack settings: what one stack asks for, after :func:`~.config.parse_settings` checked it.

Every value is frozen and made of tuples, so settings hash, compare and render deterministically.
The classes do not check their input again: build them with :func:`~.config.parse_settings`, which
reports every problem of a stack at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sending_domain.core.dkim import Algorithm as DkimAlgorithm
from sending_domain.core.dkim import KeyState as DkimState
from sending_domain.core.dmarc import Alignment
from sending_domain.core.dmarc import Policy as DmarcPolicyName
from sending_domain.core.records import normalize_name
from sending_domain.core.reports import DEFAULT_LOCAL_PART, DEFAULT_PREFIX, DEFAULT_RULE_NAME
from sending_domain.core.senders import spf_term

# Each Literal sits next to the tuple a checker uses at run time (a Literal cannot be built from a tuple);
# tests assert they hold the same values. DKIM and DMARC values live in core/dkim.py and core/dmarc.py.
SpfAll = Literal["-all", "~all", "?all"]
SPF_ALL: tuple[str, ...] = ("-all", "~all", "?all")  # RFC 7208 §5.1; +all is refused
MxFailureBehavior = Literal["USE_DEFAULT_VALUE", "REJECT_MESSAGE"]
MX_FAILURE_BEHAVIORS: tuple[str, ...] = ("USE_DEFAULT_VALUE", "REJECT_MESSAGE")  # SES BehaviorOnMXFailure

DEFAULT_TTL = 300
AUTO_TTL = 1  # Cloudflare: 1 means "automatic"


@dataclass(frozen=True)
class SpfSettings:
    """How the root SPF record ends and the budget the flattener must fit in (RFC 7208 §4.6.4, §3.4)."""

    all: SpfAll = "~all"
    max_lookups: int = 10
    max_bytes: int = 450
    allow_wide: tuple[str, ...] = ()  # SPF terms of senders trusted with networks wider than the floor


@dataclass(frozen=True)
class DkimKeySettings:
    """One DKIM key, published at ``<selector>._domainkey.<domain>``."""

    selector: str
    algorithm: DkimAlgorithm
    state: DkimState

    @property
    def is_rsa(self) -> bool:
        return self.algorithm.startswith("rsa-")


@dataclass(frozen=True)
class DmarcGateSettings:
    """The evidence ``dmarc status`` needs before it calls the next DMARC stage safe (docs/dmarc-evidence.md)."""

    settle_hours: int = 48  # count reports that begin this long after the stage first shows in reports
    window_days: int = 14  # days of evidence before a step (leaving none included)
    window_days_before_reject: int = 30  # days of evidence before a step to p=reject
    min_reporters: int = 3  # distinct reporting organisations
    min_messages: int = 500  # messages in the reports counted
    min_aligned: float = 98.0  # percent aligned, overall and for every known sender
    min_dkim_aligned: float = 98.0  # percent DKIM-aligned before reject, overall and per sender (RFC 9989 §7.4)
    max_unknown_share: float = 1.0  # percent of all mail one unknown source may send
    selectors: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (sender, its DKIM selectors)


@dataclass(frozen=True)
class DmarcSettings:
    """The DMARC policy to publish at ``_dmarc.<domain>`` (RFC 7489 §6.3). ``None`` leaves a tag out."""

    p: DmarcPolicyName
    pct: int = 100
    sp: DmarcPolicyName | None = None
    np: DmarcPolicyName | None = None
    adkim: Alignment = "r"
    aspf: Alignment = "r"
    rua: tuple[str, ...] = ()
    ruf: tuple[str, ...] = ()
    fo: str | None = None
    force: bool = False  # allow a step towards enforcement without evidence, or more than one step
    reason: str | None = None  # why (required with force; kept in the state and the stack outputs)
    gate: DmarcGateSettings = DmarcGateSettings()  # the evidence `dmarc status` asks for (not published)


@dataclass(frozen=True)
class SesSettings:
    """An SES identity for the domain with a custom MAIL FROM (``mail_from`` is the full name)."""

    region: str
    mail_from: str
    behavior_on_mx_failure: MxFailureBehavior = "USE_DEFAULT_VALUE"


@dataclass(frozen=True)
class ReportsSettings:
    """The stack's ``reports:`` section: receive DMARC aggregate reports with SES into an S3 bucket.

    ``domain`` is the full name that receives them (its MX points to SES inbound in ``region``); reports go to
    ``local_part@domain``. ``rule_set`` names the receipt rule set the rule joins: an existing, active one, or,
    with ``activate``, one the stack creates and activates. ``bucket`` None: Pulumi names the bucket.
    """

    domain: str
    region: str
    rule_set: str
    activate: bool = False
    local_part: str = DEFAULT_LOCAL_PART
    bucket: str | None = None
    prefix: str = DEFAULT_PREFIX
    expire_days: int | None = None  # delete stored mail after this many days (None: keep it)
    rule_name: str = DEFAULT_RULE_NAME

    @property
    def address(self) -> str:
        return f"{self.local_part}@{self.domain}"

    @property
    def rua(self) -> str:
        """The ``rua`` URI every domain of the stack publishes (RFC 7489 §6.2)."""
        return f"mailto:{self.address}"


@dataclass(frozen=True)
class DomainSettings:
    """One sending domain: its Cloudflare zone (by name or id), senders, SPF, DKIM, DMARC and SES."""

    domain: str
    zone_name: str | None
    zone_id: str | None
    ttl: int
    senders: tuple[str, ...]
    spf: SpfSettings
    dkim: tuple[DkimKeySettings, ...]
    dmarc: DmarcSettings
    ses: SesSettings | None = None
    adopt: bool = False  # take over live records (and an SES identity) not created by this stack
    reimport_own: bool = False  # the Pulumi state lost this domain: import the records this program published too
    reports_mx: ReportsSettings | None = None  # set on the one domain whose records publish the reports MX

    @property
    def spf_terms(self) -> tuple[str, ...]:
        """The SPF terms of the senders, well-known names mapped to ``include:``, in the given order."""
        return tuple(spf_term(s) for s in self.senders)

    @property
    def active_dkim_key(self) -> DkimKeySettings | None:
        """The RSA key that signs now (SES BYODKIM uses it), if any."""
        return next((k for k in self.dkim if k.state == "active" and k.is_rsa), None)

    @property
    def extra_dkim_keys(self) -> tuple[DkimKeySettings, ...]:
        """Active keys that sign in addition to the RSA key (ed25519, RFC 8463)."""
        return tuple(k for k in self.dkim if k.state == "active" and not k.is_rsa)

    @property
    def dmarc_name(self) -> str:
        return f"_dmarc.{self.domain}"

    def dkim_name(self, key: DkimKeySettings) -> str:
        return f"{key.selector}._domainkey.{self.domain}"


@dataclass(frozen=True)
class StackSettings:
    """All sending domains of one stack, in the order the stack lists them."""

    domains: tuple[DomainSettings, ...]
    ttl: int = DEFAULT_TTL
    reports: ReportsSettings | None = None  # receive DMARC aggregate reports (the ``reports:`` section)

    def domain(self, name: str) -> DomainSettings:
        """The settings of ``name``; ``KeyError`` when the stack has no such domain."""
        wanted = normalize_name(name)
        for settings in self.domains:
            if settings.domain == wanted:
                return settings
        raise KeyError(name)
