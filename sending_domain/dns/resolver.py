"""The project's DNS resolver: each (name, type) asked once, concurrently, with bounded retries.

Questions go out through dnspython's async query functions (:func:`dns.asyncquery.udp`, falling back to
:func:`dns.asyncquery.tcp` when an answer is truncated) on a plain non-blocking UDP socket
(:class:`_UdpSocket`), and answers are read with dnspython's message parser and CNAME chaining. Answers
become plain :class:`~sending_domain.core.dnsdata.Answer` values (canonical as documented there) and are
cached for the life of the resolver, so a whole run reads one consistent :meth:`AsyncResolver.snapshot`.

Why not :class:`dns.asyncresolver.Resolver`: per question it opens an asyncio datagram transport and
runs its nameserver bookkeeping, and at hundreds of questions that CPU time, not the network, set the
pace (docs/benchmarks.md: 3000 questions took 0.95 s of CPU through it, 0.76 s this way). The socket is
also written at once, so a burst of questions leaves together. What the resolver did for us is here, as
it did it: nameservers in order; SERVFAIL, REFUSED, other error rcodes, malformed answers and unreachable
servers move on to the next server; NXDOMAIN and NOERROR are answers; YXDOMAIN is an error; one attempt
lasts at most ``timeout``, shared among the servers so that a silent one does not hide the next.

This module retries only :data:`TRANSIENT_ERRORS`, with exponential backoff, and then raises
:class:`~sending_domain.core.errors.DnsTransientError`. A failure is not cached: a later call asks again.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import dns.asyncbackend
import dns.asyncquery
import dns.exception
import dns.inet
import dns.message
import dns.name
import dns.nameserver
import dns.rcode
import dns.rdata
import dns.resolver

from sending_domain.core.dnsdata import QUERY_TYPES, Answer, Question
from sending_domain.core.errors import ConfigError, DnsError, DnsTransientError, Problem
from sending_domain.core.records import normalize_name

DEFAULT_PORT = 53  # RFC 1035 §4.2
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (
    dns.exception.Timeout,
    dns.resolver.NoNameservers,  # every server answered SERVFAIL or REFUSED, or could not be reached
)
_NO_SYSTEM_SERVER = "no DNS server found in the system configuration; pass --nameserver IP[:PORT]"
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
        # None: resolv.conf, read on first use, so a run that needs no DNS reads no system configuration
        self._servers: list[tuple[str, int]] | None = [parse_nameserver(n) for n in nameservers or ()] or None
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
        return await asyncio.shield(self._task(question))  # one caller cancelled must not cancel the others

    def ask(self, name: str, rdtype: str) -> asyncio.Future[Answer]:
        """The answer of :meth:`query` as a future, for a caller waiting on many at once (``asyncio.wait``).

        The future is shared with every other caller of the same question: wait on it, never cancel it.
        Raises :class:`ConfigError` at once for a malformed question.
        """
        question = _question(name, rdtype)
        answer = self._answers.get(question)
        if answer is None:
            return self._task(question)
        known: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        known.set_result(answer)
        return known

    def snapshot(self) -> dict[Question, Answer]:
        """Every answer obtained so far."""
        return dict(self._answers)

    def _task(self, question: Question) -> asyncio.Task[Answer]:
        task = self._inflight.get(question)
        if task is None:
            task = asyncio.ensure_future(self._resolve(question, _dns_name(question[0])))
            self._inflight[question] = task
            task.add_done_callback(lambda done: self._forget(question, done))
        return task

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
        """One attempt, holding a slot of the concurrency bound."""
        async with self._bound():
            if retry:
                self.retries_sent += 1
            else:
                self.queries_sent += 1
            if self._servers is None:
                self._servers = _system_servers()
            return await _exchange(dns.message.make_query(qname, rdtype), rdtype, self._servers, self.timeout)

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


def _system_servers() -> list[tuple[str, int]]:
    """The nameservers of the system configuration (resolv.conf) as ``(ip, port)``."""
    try:
        system = dns.resolver.Resolver()
    except dns.resolver.NoResolverConfiguration as e:
        raise ConfigError(_NO_SYSTEM_SERVER) from e
    servers = []
    for server in system.nameservers:
        if isinstance(server, str):
            servers.append((server, system.port))
        elif isinstance(server, dns.nameserver.Do53Nameserver):
            servers.append((server.address, server.port))
    if not servers:
        raise ConfigError(_NO_SYSTEM_SERVER)
    return servers


# --- one attempt at one question ---------------------------------------------------------------------

Failure = tuple[str, bool, int, "Exception | str", "dns.message.Message | None"]  # as dns.resolver.NoNameservers keeps them


async def _exchange(query: dns.message.Message, rdtype: str, servers: Sequence[tuple[str, int]], timeout: float) -> Answer:
    """Ask ``servers`` in order until one answers (NOERROR or NXDOMAIN); ``timeout`` seconds in all.

    Each server waits at most its share of the time (the last one all that is left), so a server that
    stays silent does not keep the next from being asked. Raises :class:`dns.exception.Timeout` when
    every server stayed silent, :class:`dns.resolver.NoNameservers` listing what each server did when
    all failed otherwise, and :class:`DnsError` for YXDOMAIN (RFC 6672 §2.2), an answer that is not a
    failure of the server.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    failures: list[Failure] = []
    for left, (host, port) in zip(range(len(servers), 0, -1), servers):
        remaining = deadline - loop.time()
        if remaining <= 0:
            break
        wait = remaining / left
        tcp = False
        try:
            try:
                response = await _udp(query, host, port, wait)
            except dns.message.Truncated:  # too big for UDP: the same question over TCP (RFC 7766 §5)
                tcp = True
                response = await dns.asyncquery.tcp(query, host, timeout=max(deadline - loop.time(), 0.0) / left, port=port)
        except (OSError, EOFError, dns.exception.DNSException) as e:  # silent, unreachable, reset, malformed, mismatched
            failures.append((host, tcp, port, e, None))
            continue
        rcode = response.rcode()
        if rcode == dns.rcode.YXDOMAIN:
            raise DnsError(f"DNS error asking {rdtype} for {_text(query.question[0].name)}: the name is too long after DNAME substitution (YXDOMAIN)")
        if rcode not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
            failures.append((host, tcp, port, dns.rcode.to_text(rcode), response))
            continue
        try:
            answer = response.resolve_chaining().answer  # follows CNAMEs within the response
        except dns.exception.DNSException as e:  # a CNAME chain too long, or an answer beside NXDOMAIN
            failures.append((host, tcp, port, e, response))
            continue
        if rcode == dns.rcode.NXDOMAIN:
            return Answer("nxdomain")
        return Answer("ok", canonical_values(rdtype, answer)) if answer is not None else Answer("nodata")
    if all(isinstance(f[3], dns.exception.Timeout) for f in failures):
        raise dns.exception.Timeout(timeout=timeout)
    raise dns.resolver.NoNameservers(request=query, errors=failures)


async def _udp(query: dns.message.Message, host: str, port: int, timeout: float) -> dns.message.Message:
    """dnspython's UDP exchange on a :class:`_UdpSocket`; raises :class:`dns.message.Truncated` if TC is set.

    Datagrams that do not parse or do not answer ``query`` are skipped, as dnspython's resolver does.
    """
    async with _UdpSocket(host, port) as sock:
        return await dns.asyncquery.udp(
            query, host, timeout=timeout, port=port, sock=sock, ignore_unexpected=True, ignore_errors=True, raise_on_truncation=True
        )


class _UdpSocket(dns.asyncbackend.DatagramSocket):
    """A non-blocking UDP socket connected to one server, written at once and read with a loop reader.

    Connected, so only that server's datagrams arrive and an ICMP "port unreachable" fails the attempt
    at once (``ConnectionRefusedError``) instead of waiting for the timeout.
    """

    def __init__(self, host: str, port: int) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        super().__init__(family, socket.SOCK_DGRAM)
        self._peer = dns.inet.low_level_address_tuple((host, port), family)
        self._sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            self._sock.setblocking(False)
            self._sock.connect((host, port))
        except BaseException:
            self._sock.close()
            raise

    async def sendto(self, what: bytes, destination: Any, timeout: float | None) -> int:
        return self._sock.send(what)

    async def recvfrom(self, size: int, timeout: float | None) -> tuple[bytes, Any]:
        loop = asyncio.get_running_loop()
        received: asyncio.Future[bytes] = loop.create_future()
        fd = self._sock.fileno()
        try:
            loop.add_reader(fd, _read_datagram, self._sock, size, received)
        except NotImplementedError:  # a loop without readers (Windows' proactor): the loop's own receive
            try:
                return await asyncio.wait_for(loop.sock_recv(self._sock, size), timeout), self._peer
            except TimeoutError:
                raise dns.exception.Timeout(timeout=timeout) from None
        timer = None if timeout is None else loop.call_later(timeout, _expire, received, timeout)
        try:
            return await received, self._peer  # a connected socket hears only its peer
        finally:
            loop.remove_reader(fd)
            if timer is not None:
                timer.cancel()

    async def close(self) -> None:
        self._sock.close()


def _read_datagram(sock: socket.socket, size: int, received: asyncio.Future[bytes]) -> None:
    if received.done():
        return
    try:
        data = sock.recv(size)
    except (BlockingIOError, InterruptedError):
        return
    except OSError as e:  # e.g. ConnectionRefusedError: nothing listens at the server's port
        received.set_exception(e)
    else:
        received.set_result(data)


def _expire(received: asyncio.Future[bytes], timeout: float) -> None:
    if not received.done():
        received.set_exception(dns.exception.Timeout(timeout=timeout))


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
    if isinstance(problem, dns.exception.Timeout):
        return "timeout"
    return f"failure ({type(problem).__name__}: {problem})"
