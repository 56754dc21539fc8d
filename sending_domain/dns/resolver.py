"""The project's DNS resolver: each (name, type) asked once, concurrently, with bounded retries.

Each question goes out from its own non-blocking UDP socket as the standard query dnspython would send
(built directly, :func:`_query_wire`: a dnspython message costs 45 µs to build and encode, the bytes 1 µs),
with TCP through :func:`dns.asyncquery.tcp` when the answer is truncated. Answers are read with dnspython's
parser and CNAME chaining and become plain :class:`~sending_domain.core.dnsdata.Answer` values (canonical
as documented there), cached for the life of the resolver, so a whole run reads one consistent
:meth:`AsyncResolver.snapshot`.

A question in flight is a :class:`_Lookup` driven by loop callbacks (a socket reader and a timer), not
a task: the callback that reads an answer hands it to every caller and starts the next waiting
question in the same loop turn. With hundreds of questions the resolver's CPU time, not the network,
set the pace of a verify run: per question, :class:`dns.asyncresolver.Resolver` opened an asyncio
datagram transport, and a task per question took four loop turns from an answer to the next question
leaving (docs/benchmarks.md has the figures).

What dnspython's resolver did for us is kept: nameservers in order; SERVFAIL, REFUSED, other error
rcodes, malformed answers and unreachable servers move on to the next server; NXDOMAIN and NOERROR are
answers; YXDOMAIN is an error; one attempt lasts at most ``timeout``, shared among the servers so that a
silent one does not hide the next. Only attempts where every server failed are retried, with
exponential backoff, and then raise :class:`~sending_domain.core.errors.DnsTransientError`. A failure
is not cached: a later call asks again.
"""

from __future__ import annotations

import asyncio
import ipaddress
import secrets
import socket
import struct
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import dns.asyncquery
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.nameserver
import dns.opcode
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.resolver
import dns.rrset

from sending_domain.core.dnsdata import QUERY_TYPES, Answer, Question
from sending_domain.core.errors import ConfigError, DnsError, DnsTransientError, Problem
from sending_domain.core.records import normalize_name

DEFAULT_PORT = 53  # RFC 1035 §4.2
_MAX_DATAGRAM = 65535
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
        self._inflight: dict[Question, _Lookup] = {}
        self._free = concurrency  # slots of the concurrency bound not held by a lookup
        self._waiting: deque[_Lookup] = deque()  # lookups waiting for a slot, first come first served
        self._starting = False
        self._keeper: asyncio.Task[None] | None = None  # see _keep
        self._idle: asyncio.Future[None] | None = None

    async def query(self, name: str, rdtype: str) -> Answer:
        """The answer for (``name``, ``rdtype``): from the cache, from a question in flight, or asked now.

        Raises :class:`DnsTransientError` after the retries, :class:`ConfigError` for a malformed name.
        """
        question = _question(name, rdtype)
        answer = self._answers.get(question)
        if answer is not None:
            return answer
        return await self._lookup(question)

    def ask(self, name: str, rdtype: str) -> asyncio.Future[Answer]:
        """The answer of :meth:`query` as a future, for a caller waiting on many at once (``asyncio.wait``).

        The future is the caller's own: cancelling it leaves the question to the others asking it.
        Raises :class:`ConfigError` at once for a malformed question or when no nameserver is known.
        """
        question = _question(name, rdtype)
        answer = self._answers.get(question)
        if answer is None:
            return self._lookup(question)
        known: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        known.set_result(answer)
        return known

    def snapshot(self) -> dict[Question, Answer]:
        """Every answer obtained so far."""
        return dict(self._answers)

    # -- lookups in flight ---------------------------------------------------------------------
    def _lookup(self, question: Question) -> asyncio.Future[Answer]:
        """A new future for the answer to ``question``, asking it unless it is in flight already."""
        lookup = self._inflight.get(question)
        if lookup is not None:
            return lookup.waiter()
        qname = _dns_name(question[0])
        if self._servers is None:
            self._servers = _system_servers()
        loop = asyncio.get_running_loop()
        lookup = self._inflight[question] = _Lookup(self, loop, question, qname, self._servers)
        if self._keeper is None or self._keeper.done():
            self._idle = loop.create_future()
            self._keeper = loop.create_task(self._keep(self._idle))
        waiter = lookup.waiter()  # before it starts: it may fail at once (no route to any server)
        self._queue(lookup)
        return waiter

    def _queue(self, lookup: _Lookup) -> None:
        self._waiting.append(lookup)
        self._start_waiting()

    def _release(self) -> None:
        self._free += 1
        self._start_waiting()

    def _start_waiting(self) -> None:
        """Give free slots to waiting lookups, in order. Not reentrant: a lookup that fails at once and
        frees its slot while starting leaves the next start to this loop, so no recursion builds up."""
        if self._starting:
            return
        self._starting = True
        try:
            while self._free and self._waiting:
                self._free -= 1
                self._waiting.popleft().start()
        finally:
            self._starting = False

    def _done(self, lookup: _Lookup, answer: Answer | None) -> None:
        del self._inflight[lookup.question]
        if answer is not None:
            self._answers[lookup.question] = answer
        if not self._inflight and self._idle is not None and not self._idle.done():
            self._idle.set_result(None)

    async def _keep(self, idle: asyncio.Future[None]) -> None:
        """A task that lives while lookups are in flight (they run on loop callbacks, not tasks). When the
        loop shuts down under them (``asyncio.run`` cancels its tasks), it closes their sockets and timers,
        so nothing outlives the loop and the resolver can serve another loop."""
        try:
            await idle
        except asyncio.CancelledError:
            for lookup in list(self._inflight.values()):
                lookup.abort()
            self._waiting.clear()
            self._free = self.concurrency
            raise


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


# --- one question in flight --------------------------------------------------------------------------

Failure = tuple[str, bool, int, "Exception | str", "dns.message.Message | None"]  # as dns.resolver.NoNameservers keeps them


class _Lookup:
    """One question: up to ``1 + retries`` attempts, each asking the servers in order, driven by loop
    callbacks (a socket reader and a timer), so an answer reaches its callers in one loop turn and frees
    its slot for the next waiting question at once.

    An attempt lasts at most ``timeout``; each server waits at most its share of what is left (the last
    one all of it), so a silent server does not keep the next from being asked. A server fails the
    attempt over to the next one when it stays silent, is unreachable, answers SERVFAIL, REFUSED or
    another error rcode, or answers something that does not parse. NOERROR and NXDOMAIN are answers;
    YXDOMAIN is a :class:`DnsError` (RFC 6672 §2.2), not retried. When every server failed, the attempt
    failed with :class:`dns.exception.Timeout` (all silent) or :class:`dns.resolver.NoNameservers`
    (naming what each did); only those are retried, after ``backoff`` doubling, and in the end raised
    as :class:`DnsTransientError`.
    """

    def __init__(
        self, resolver: AsyncResolver, loop: asyncio.AbstractEventLoop, question: Question, qname: dns.name.Name, servers: list[tuple[str, int]]
    ) -> None:
        self.resolver, self.loop, self.question, self.qname, self.servers = resolver, loop, question, qname, servers
        self.rdtype = dns.rdatatype.RdataType.make(question[1])
        self.waiters: list[asyncio.Future[Answer]] = []  # one per caller, so a caller cancelled cancels only its own
        self.finished = False
        self.attempts = 0
        self.holding = False  # holds a slot of the concurrency bound
        self.sock: socket.socket | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.receiver: asyncio.Future[Any] | None = None  # the TCP exchange, or the loop's receive without readers
        self.id = 0  # the query id: a fresh random one per attempt
        self.wire = b""
        self.failures: list[Failure] = []
        self.next = 0  # index of the next server to ask in this attempt
        self.deadline = 0.0
        self.server = ("", 0)

    # -- attempts ------------------------------------------------------------------------------
    def start(self) -> None:
        """Begin an attempt; called holding a slot."""
        self.holding = True
        self._guarded(self.begin)

    def begin(self) -> None:
        resolver = self.resolver
        if self.attempts:
            resolver.retries_sent += 1
        else:
            resolver.queries_sent += 1
        self.attempts += 1
        self.id = secrets.randbits(16)  # RFC 5452 §4.3: unpredictable, as dnspython's are
        self.wire = _query_wire(self.id, self.qname, self.rdtype)
        self.failures, self.next = [], 0
        self.deadline = self.loop.time() + resolver.timeout
        self.ask_next_server()

    def ask_next_server(self) -> None:
        while self.next < len(self.servers):
            remaining = self.deadline - self.loop.time()
            if remaining <= 0:
                break
            host, port = self.server = self.servers[self.next]
            share = remaining / (len(self.servers) - self.next)
            self.next += 1
            try:
                self.send(host, port, share)
                return
            except OSError as e:  # e.g. no route to the server
                self.failures.append((host, False, port, e, None))
        self.attempt_failed()

    def send(self, host: str, port: int, wait: float) -> None:
        sock = _connected_udp_socket(host, port)
        try:
            sock.send(self.wire)
        except BaseException:
            sock.close()
            raise
        self.sock = sock
        self.timer = self.loop.call_later(wait, self._guarded, self.silent, wait)
        try:
            self.loop.add_reader(sock.fileno(), self._guarded, self.readable)
        except NotImplementedError:  # a loop without readers (Windows' proactor): the loop's own receive
            self.receiver = asyncio.ensure_future(self.receive_through_loop(sock), loop=self.loop)

    def attempt_failed(self) -> None:
        self.release()
        error: Exception
        if all(isinstance(f[3], dns.exception.Timeout) for f in self.failures):
            error = dns.exception.Timeout(timeout=self.resolver.timeout)
        else:
            error = dns.resolver.NoNameservers(request=self.message(), errors=self.failures)
        if self.attempts <= self.resolver.retries:
            delay = self.resolver.backoff * 2 ** (self.attempts - 1)
            self.timer = self.loop.call_later(delay, self.resolver._queue, self)
            return
        failure = DnsTransientError(_transient_message(self.question, error, self.attempts))
        failure.__cause__ = error
        self.finish(None, failure)

    # -- what the server does ------------------------------------------------------------------
    def readable(self) -> None:
        assert self.sock is not None
        try:
            wire = self.sock.recv(_MAX_DATAGRAM)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as e:  # e.g. ConnectionRefusedError: nothing listens at the server's port
            self.server_failed(e)
            return
        self.datagram(wire)

    async def receive_through_loop(self, sock: socket.socket) -> None:
        while self.sock is sock:
            try:
                wire = await self.loop.sock_recv(sock, _MAX_DATAGRAM)
            except OSError as e:
                self._guarded(self.server_failed, e)
                return
            self._guarded(self.datagram, wire)

    def datagram(self, wire: bytes) -> None:
        """Datagrams that do not parse or do not answer the query are skipped, as with dnspython's
        ``ignore_errors``; a truncated answer (TC) is asked again over TCP (RFC 7766 §5)."""
        try:
            response = dns.message.from_wire(wire, raise_on_truncation=True)
        except dns.message.Truncated as e:
            if self.responds(e.message()):
                self.close()
                self.ask_over_tcp()
            return
        except Exception:  # garbage on the wire
            return
        if self.responds(response):
            self.close()
            self.answered(response, tcp=False)

    def responds(self, response: dns.message.Message) -> bool:
        """Whether ``response`` answers this attempt's query, by dnspython's rules (``Message.is_response``):
        QR set, our id, opcode QUERY, and our question echoed (names compare case-insensitively) — or no
        question at all in a FORMERR, SERVFAIL, NOTIMP or REFUSED."""
        if not response.flags & dns.flags.QR or response.id != self.id or dns.opcode.from_flags(response.flags) != dns.opcode.QUERY:
            return False
        if not response.question:
            return response.rcode() in _ERRORS_WITHOUT_QUESTION
        return len(response.question) == 1 and _is_our_question(response.question[0], self.qname, self.rdtype)

    def message(self) -> dns.message.Message:
        """This attempt's query as a dnspython message, for TCP and for error reports (not needed otherwise)."""
        return dns.message.make_query(self.qname, self.rdtype, id=self.id)

    def silent(self, wait: float) -> None:
        self.server_failed(dns.exception.Timeout(timeout=wait))

    def server_failed(self, error: Exception | str, *, tcp: bool = False, response: dns.message.Message | None = None) -> None:
        self.close()
        host, port = self.server
        self.failures.append((host, tcp, port, error, response))
        self.ask_next_server()

    def ask_over_tcp(self) -> None:
        host, port = self.server
        left = len(self.servers) - self.next + 1
        wait = max(self.deadline - self.loop.time(), 0.0) / left
        self.receiver = asyncio.ensure_future(dns.asyncquery.tcp(self.message(), host, timeout=wait, port=port), loop=self.loop)
        self.receiver.add_done_callback(lambda done: self._guarded(self.tcp_done, done))

    def tcp_done(self, done: asyncio.Future[dns.message.Message]) -> None:
        if done.cancelled() or done is not self.receiver:
            return
        self.receiver = None
        error = done.exception()
        if isinstance(error, (OSError, EOFError, dns.exception.DNSException)):  # reset, silent, malformed
            self.server_failed(error, tcp=True)
        elif error is not None:
            raise error
        else:
            self.answered(done.result(), tcp=True)

    def answered(self, response: dns.message.Message, *, tcp: bool) -> None:
        rcode = response.rcode()
        if rcode == dns.rcode.YXDOMAIN:
            self.release()
            text = f"DNS error asking {self.question[1]} for {self.question[0]}: the name is too long after DNAME substitution (YXDOMAIN)"
            self.finish(None, DnsError(text))
            return
        if rcode not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
            self.server_failed(dns.rcode.to_text(rcode), tcp=tcp, response=response)
            return
        try:
            answer = response.resolve_chaining().answer  # follows CNAMEs within the response
        except dns.exception.DNSException as e:  # a CNAME chain too long, or an answer beside NXDOMAIN
            self.server_failed(e, tcp=tcp, response=response)
            return
        self.release()
        if rcode == dns.rcode.NXDOMAIN:
            self.finish(Answer("nxdomain"), None)
        elif answer is None:
            self.finish(Answer("nodata"), None)
        else:
            self.finish(Answer("ok", canonical_values(self.question[1], answer)), None)

    # -- endings ---------------------------------------------------------------------------------
    def _guarded(self, step: Callable[..., None], *args: Any) -> None:
        """Run a callback step; an unexpected exception ends the lookup with it instead of leaving its
        callers waiting forever."""
        try:
            step(*args)
        except Exception as e:  # noqa: BLE001 — handed to the callers
            self.close()
            self.release()
            self.finish(None, e)

    def close(self) -> None:
        """Stop listening: the socket, its reader, the timer, a TCP exchange or loop receive."""
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        receiver, self.receiver = self.receiver, None
        sock, self.sock = self.sock, None
        if sock is not None:
            try:
                self.loop.remove_reader(sock.fileno())
            except NotImplementedError:
                pass
        if receiver is not None and not receiver.done():
            receiver.cancel()
            if sock is not None:  # the loop's receive lets go of the socket only once it has ended
                receiver.add_done_callback(lambda _: sock.close())
                return
        if sock is not None:
            sock.close()

    def release(self) -> None:
        if self.holding:
            self.holding = False
            self.resolver._release()

    def waiter(self) -> asyncio.Future[Answer]:
        waiter: asyncio.Future[Answer] = self.loop.create_future()
        self.waiters.append(waiter)
        return waiter

    def finish(self, answer: Answer | None, error: BaseException | None) -> None:
        """Hand the answer (or the error) to every caller still waiting, directly: one loop turn."""
        if self.finished:
            return
        self.finished = True
        self.resolver._done(self, answer)
        for waiter in self.waiters:
            if waiter.done():  # its caller was cancelled
                continue
            if error is not None:
                waiter.set_exception(error)
                waiter.exception()  # retrieved: no "exception never retrieved" warning when a caller left
            else:
                waiter.set_result(answer)  # type: ignore[arg-type]

    def abort(self) -> None:
        """The loop is shutting down: let go of everything, no answer."""
        self.close()
        self.holding = False
        self.finished = True
        self.resolver._done(self, None)
        for waiter in self.waiters:
            waiter.cancel()


_ERRORS_WITHOUT_QUESTION = frozenset({dns.rcode.FORMERR, dns.rcode.SERVFAIL, dns.rcode.NOTIMP, dns.rcode.REFUSED})


def _query_wire(query_id: int, qname: dns.name.Name, rdtype: int) -> bytes:
    """A standard query (RFC 1035 §4.1): recursion desired, one question of class IN, no EDNS — the bytes
    ``dns.message.make_query(qname, rdtype, id=query_id).to_wire()`` gives, at a fraction of its cost."""
    header = struct.pack("!HHHHHH", query_id, dns.flags.RD, 1, 0, 0, 0)
    return header + qname.to_wire() + struct.pack("!HH", rdtype, dns.rdataclass.IN)


def _is_our_question(rrset: dns.rrset.RRset, qname: dns.name.Name, rdtype: int) -> bool:
    return rrset.rdtype == rdtype and rrset.rdclass == dns.rdataclass.IN and rrset.name == qname


def _connected_udp_socket(host: str, port: int) -> socket.socket:
    """A fresh non-blocking UDP socket (a fresh source port) connected to the server, so only its
    datagrams arrive and an ICMP "port unreachable" fails at once (``ConnectionRefusedError``)."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.setblocking(False)
        sock.connect((host, port))
    except BaseException:
        sock.close()
        raise
    return sock


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
