"""The project's DNS resolver: each (name, type) asked once, concurrently, with bounded retries.

A thin async shell over :class:`dns.asyncresolver.Resolver`. Answers become plain
:class:`~sending_domain.core.dnsdata.Answer` values (canonical as documented there) and are cached for
the life of the resolver, so a whole run reads one consistent :meth:`AsyncResolver.snapshot`.

dnspython makes one attempt per call (its lifetime is our ``timeout``, search domains off); this module
retries only :data:`TRANSIENT_ERRORS`, with exponential backoff, and then raises
:class:`~sending_domain.core.errors.DnsTransientError`. A failure is not cached: a later call asks again.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Callable, Iterable, Sequence

import dns.asyncresolver
import dns.exception
import dns.name
import dns.nameserver
import dns.rdata
import dns.resolver

from sending_domain.core.dnsdata import QUERY_TYPES, Answer, Question
from sending_domain.core.errors import ConfigError, DnsError, DnsTransientError, Problem
from sending_domain.core.records import normalize_name

DEFAULT_PORT = 53  # RFC 1035 §4.2
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (
    dns.exception.Timeout,
    dns.resolver.NoNameservers,  # every server answered SERVFAIL or REFUSED, or could not be reached
    dns.resolver.LifetimeTimeout,
)
_RCODE_WORDS = {"SERVFAIL": "server failure (SERVFAIL)", "REFUSED": "query refused (REFUSED)"}


# --- --nameserver ------------------------------------------------------------------------------------


def parse_nameserver(text: str) -> tuple[str, int]:
    """``HOST``, ``HOST:PORT``, ``[IPv6]:PORT`` or a bare IPv6 address → ``(ip, port)``; port 53 by default.

    HOST must be an IP address (dnspython asks IPs, not names); brackets hold IPv6 (RFC 3986 §3.2.2).
    Raises :class:`ConfigError` naming the bad text.
    """
    host, port_text = _split_host_port(text)
    port = _port(text, port_text)
    return _ip(text, host, bracketed=text.strip().startswith("[")), port


def _nameserver_error(text: str, reason: str) -> ConfigError:
    return ConfigError(Problem("", "bad-nameserver", f"--nameserver {text!r}: {reason}"))


def _split_host_port(text: str) -> tuple[str, str | None]:
    raw = text.strip()
    if raw.startswith("["):
        end = raw.find("]")
        if end < 0:
            raise _nameserver_error(text, "missing ']' after the IPv6 address")
        rest = raw[end + 1 :]
        if rest and not rest.startswith(":"):
            raise _nameserver_error(text, "expected ':PORT' after ']'")
        return raw[1:end], (rest[1:] if rest else None)
    if raw.count(":") == 1:
        host, port_text = raw.split(":")
        return host, port_text
    return raw, None  # an IPv4 address, a bare IPv6 address, or garbage for _ip to name


def _port(text: str, port_text: str | None) -> int:
    if port_text is None:
        return DEFAULT_PORT
    if not (port_text.isascii() and port_text.isdigit() and 1 <= int(port_text) <= 65535):
        raise _nameserver_error(text, "port must be 1..65535")
    return int(port_text)


def _ip(text: str, host: str, *, bracketed: bool) -> str:
    if not host:
        raise _nameserver_error(text, "no IP address given")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise _nameserver_error(text, f"{host!r} is not an IP address (give the server's IP, not a host name)") from None
    if bracketed and address.version != 6:
        raise _nameserver_error(text, "brackets are for IPv6 addresses only")
    return address.compressed


# --- canonical values (core/dnsdata.py) --------------------------------------------------------------


def _txt(rdata: dns.rdata.Rdata) -> str:
    """RFC 7208 §3.3: a record's character-strings are joined with nothing between them."""
    return b"".join(rdata.strings).decode("utf-8", errors="replace")  # type: ignore[attr-defined]


def _address(rdata: dns.rdata.Rdata) -> str:
    return ipaddress.ip_address(rdata.address).compressed  # type: ignore[attr-defined]


def _mx(rdata: dns.rdata.Rdata) -> str:
    return f"{rdata.preference} {normalize_name(rdata.exchange.to_text())}"  # type: ignore[attr-defined]


_CANONICAL: dict[str, Callable[[dns.rdata.Rdata], str]] = {"TXT": _txt, "A": _address, "AAAA": _address, "MX": _mx}


def canonical_values(rdtype: str, rdatas: Iterable[dns.rdata.Rdata]) -> tuple[str, ...]:
    """The canonical text of each rdata, as :class:`~sending_domain.core.dnsdata.Answer` documents it."""
    return tuple(_CANONICAL[rdtype](rdata) for rdata in rdatas)


# --- the resolver ------------------------------------------------------------------------------------


class AsyncResolver:
    """Asks each (name, type) at most once; at most ``concurrency`` questions in flight at a time.

    ``nameservers`` are ``--nameserver`` texts (see :func:`parse_nameserver`); none means the system's
    resolv.conf. ``queries_sent`` counts first attempts, ``retries_sent`` the extra ones.
    """

    def __init__(
        self,
        nameservers: Sequence[str] = (),
        *,
        timeout: float = 2.0,
        retries: int = 2,
        concurrency: int = 64,
        backoff: float = 0.1,
    ) -> None:
        _check_settings(timeout, retries, concurrency, backoff)
        if isinstance(nameservers, str):
            nameservers = [nameservers]
        self.timeout, self.retries, self.concurrency, self.backoff = timeout, retries, concurrency, backoff
        self._servers = [parse_nameserver(n) for n in nameservers or ()]
        self._resolver: dns.asyncresolver.Resolver | None = None  # made on first use: a run that needs no DNS reads no resolv.conf
        self.queries_sent = 0
        self.retries_sent = 0
        self._answers: dict[Question, Answer] = {}
        self._inflight: dict[Question, asyncio.Task[Answer]] = {}
        self._semaphore: asyncio.Semaphore | None = None
        self._semaphore_loop: asyncio.AbstractEventLoop | None = None

    async def query(self, name: str, rdtype: str) -> Answer:
        """The answer for (``name``, ``rdtype``): from the cache, from a question in flight, or asked now.

        Raises :class:`DnsTransientError` after the retries, :class:`ConfigError` for a malformed name.
        """
        question = _question(name, rdtype)
        answer = self._answers.get(question)
        if answer is not None:
            return answer
        task = self._inflight.get(question)
        if task is None:
            task = asyncio.ensure_future(self._resolve(question, _dns_name(question[0])))
            self._inflight[question] = task
            task.add_done_callback(lambda done: self._forget(question, done))
        return await asyncio.shield(task)  # one caller cancelled must not cancel the others

    def snapshot(self) -> dict[Question, Answer]:
        """Every answer obtained so far."""
        return dict(self._answers)

    def _forget(self, question: Question, task: asyncio.Task[Answer]) -> None:
        self._inflight.pop(question, None)
        if not task.cancelled():
            task.exception()  # retrieved: no "exception never retrieved" warning when every caller left

    async def _resolve(self, question: Question, qname: dns.name.Name) -> Answer:
        """Ask, retrying only :data:`TRANSIENT_ERRORS` with exponential backoff; cache the answer."""
        attempts = self.retries + 1
        error: Exception | None = None
        for attempt in range(attempts):
            if attempt:
                await asyncio.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                answer = await self._ask(qname, question[1], retry=attempt > 0)
            except TRANSIENT_ERRORS as e:
                error = e
                continue
            self._answers[question] = answer
            return answer
        assert error is not None
        raise DnsTransientError(_transient_message(question, error, attempts)) from error

    async def _ask(self, qname: dns.name.Name, rdtype: str, *, retry: bool) -> Answer:
        """One network attempt, holding a slot of the concurrency bound."""
        async with self._bound():
            if retry:
                self.retries_sent += 1
            else:
                self.queries_sent += 1
            try:
                if self._resolver is None:
                    self._resolver = _make_resolver(self._servers, self.timeout)
                result = await self._resolver.resolve(qname, rdtype, search=False, lifetime=self.timeout)
            except dns.resolver.NXDOMAIN:
                return Answer("nxdomain")
            except dns.resolver.NoAnswer:
                return Answer("nodata")
            except TRANSIENT_ERRORS:
                raise
            except dns.exception.DNSException as e:  # YXDOMAIN (RFC 6672 §2.2) and anything unforeseen
                raise DnsError(f"DNS error asking {rdtype} for {_text(qname)}: {e}") from e
        assert result.rrset is not None  # dnspython raises NoAnswer otherwise
        return Answer("ok", canonical_values(rdtype, result.rrset))

    def _bound(self) -> asyncio.Semaphore:
        """The semaphore of the running loop (an asyncio primitive belongs to one loop)."""
        loop = asyncio.get_running_loop()
        if self._semaphore is None or self._semaphore_loop is not loop:
            self._semaphore, self._semaphore_loop = asyncio.Semaphore(self.concurrency), loop
        return self._semaphore


def _check_settings(timeout: float, retries: int, concurrency: int, backoff: float) -> None:
    problems = [
        Problem("timeout", "resolver-timeout", "must be more than 0 seconds") if not timeout > 0 else None,
        Problem("retries", "resolver-retries", "must be 0 or more") if retries < 0 else None,
        Problem("concurrency", "resolver-concurrency", "must be 1 or more") if concurrency < 1 else None,
        Problem("backoff", "resolver-backoff", "must be 0 or more seconds") if backoff < 0 else None,
    ]
    found = [p for p in problems if p is not None]
    if found:
        raise ConfigError(found, source="resolver")


def _make_resolver(servers: list[tuple[str, int]], timeout: float) -> dns.asyncresolver.Resolver:
    """A dnspython resolver making one attempt per call: no search list, no cache, lifetime = timeout."""
    if servers:
        resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.nameservers = [dns.nameserver.Do53Nameserver(host, port) for host, port in servers]
    else:
        try:
            resolver = dns.asyncresolver.Resolver()
        except dns.resolver.NoResolverConfiguration as e:
            raise ConfigError("no DNS server found in the system configuration; pass --nameserver IP[:PORT]") from e
    resolver.search = []
    resolver.use_search_by_default = False
    resolver.cache = None
    resolver.retry_servfail = False
    resolver.timeout = timeout
    resolver.lifetime = timeout
    return resolver


def _question(name: str, rdtype: str) -> Question:
    qtype = rdtype.upper()
    if qtype not in QUERY_TYPES:
        raise ConfigError(f"cannot ask DNS type {rdtype!r}; supported: {', '.join(QUERY_TYPES)}")
    return normalize_name(name), qtype


def _dns_name(name: str) -> dns.name.Name:
    """The absolute name to ask; a malformed name is bad input, not a DNS failure."""
    if not name:
        raise ConfigError("cannot ask DNS about an empty name")
    try:
        return dns.name.from_text(name)
    except dns.exception.DNSException as e:
        raise ConfigError(f"{name!r} is not a valid DNS name: {e}") from e


def _text(qname: dns.name.Name) -> str:
    return normalize_name(qname.to_text())


def _transient_message(question: Question, error: Exception, attempts: int) -> str:
    """E.g. ``DNS timeout asking TXT for vendor.example after 3 attempts; retry later or check --nameserver``."""
    name, rdtype = question
    tries = f"{attempts} attempt" + ("s" if attempts != 1 else "")
    return f"{_what_happened(error)} asking {rdtype} for {name} after {tries}; retry later or check --nameserver"


def _what_happened(error: Exception) -> str:
    if isinstance(error, dns.exception.Timeout):
        return "DNS timeout"
    errors = error.kwargs.get("errors", []) if isinstance(error, dns.exception.DNSException) else []
    words = sorted({_plain(err[3]) for err in errors})
    return "DNS " + " and ".join(words) if words else "no DNS server answered"


def _plain(problem: object) -> str:
    """One server's failure in words: an rcode text, or an exception from the transport."""
    if isinstance(problem, str):
        return _RCODE_WORDS.get(problem, f"error {problem}")
    if isinstance(problem, ConnectionRefusedError):
        return "server unreachable (connection refused)"
    return f"failure ({type(problem).__name__}: {problem})"
