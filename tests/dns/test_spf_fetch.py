"""The SPF fetch loop against the loopback DNS server: what it asks, and what it takes from the resolver's cache."""

from __future__ import annotations

import asyncio

from sending_domain.core.spf.tree import evaluate
from sending_domain.dns.resolver import AsyncResolver
from sending_domain.dns.spf_fetch import fetch_and_evaluate
from tests.conftest import MakeDnsServer

ZONE = r"""
$ORIGIN example.
vendor        TXT   "v=spf1 include:_spf.vendor.example mx -all"
_spf.vendor   TXT   "v=spf1 ip4:192.0.2.0/24 ~all"
vendor        MX    10 mx.vendor.example.
mx.vendor     A     192.0.2.77
one           TXT   "v=spf1 include:vendor.example ip4:198.51.100.1 -all"
two           TXT   "v=spf1 include:vendor.example ip4:198.51.100.2 -all"
"""


def test_a_tree_the_resolver_already_holds_is_walked_without_asking(dns_server: MakeDnsServer) -> None:
    server = dns_server(ZONE)
    resolver = AsyncResolver([server.nameserver])

    async def main() -> None:
        first, first_answers = await fetch_and_evaluate("one.example", resolver)
        asked = dict(server.queries)
        again, again_answers = await fetch_and_evaluate("one.example", resolver)
        assert server.queries == asked  # nothing asked again
        assert again.program == first.program and again_answers == first_answers
        second, second_answers = await fetch_and_evaluate("two.example", resolver)
        new = {q: n for q, n in server.queries.items() if q not in asked}
        assert new == {("two.example", "TXT"): 1}  # only the name the first walk did not need
        assert second_answers.keys() - first_answers.keys() == {("two.example", "TXT")}
        # the answers it returns are exactly those its evaluation used, and evaluate to the same program
        assert evaluate("two.example", second_answers).program == second.program

    asyncio.run(main())
    assert max(server.queries.values()) == 1
