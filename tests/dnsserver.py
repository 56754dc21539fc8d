"""A real DNS server on loopback for tests and benchmarks: UDP and TCP on one port, answers from zone text.

The server is authoritative for every name in its data and never recurses (RFC 1034 §4.3.2, without
delegations or wildcards). Zone text is RFC 1035 §5 master-file syntax read with dnspython; one text may
hold several ``$ORIGIN`` sections and absolute names, so vendor zones and customer zones live together.

The I/O runs on an asyncio loop in one daemon thread, so hundreds of delayed answers sleep concurrently
and :meth:`DnsTestServer.stop` ends every socket and pending answer at once.

Example::

    with DnsTestServer('$ORIGIN example.\\n@ TXT "v=spf1 -all"\\n') as server:
        resolver.nameservers = [server.host]
        resolver.port = server.port
"""

from __future__ import annotations

import asyncio
import collections
import os
import socket
import struct
import threading
from collections.abc import Coroutine, Iterable, Iterator
from pathlib import Path
from typing import Any, cast

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.node
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.rrset
import dns.tokenizer
import dns.transaction
import dns.zonefile

FAIL_MODES = ("servfail", "refused", "timeout")
DEFAULT_TTL = 300
MAX_CNAME_HOPS = 16
MIN_UDP_PAYLOAD = 512  # RFC 1035 §4.2.1; RFC 6891 §6.2.5: smaller EDNS sizes count as 512
MAX_UDP_PAYLOAD = 4096
MAX_TCP_MESSAGE = 65535  # RFC 1035 §4.2.2: a two-octet length prefix
_FILE_SEPARATOR = f"\n$ORIGIN .\n$TTL {DEFAULT_TTL}\n"  # each file starts from the same state

Key = tuple[dns.name.Name, int]
Lookup = tuple[int, list[dns.rrset.RRset]]  # (rcode, answer section)


# --- zone text → RRsets --------------------------------------------------------------------------------


class _Collector(dns.transaction.TransactionManager):
    """Receives what :class:`dns.zonefile.Reader` reads; every name is relative to the root zone."""

    def __init__(self) -> None:
        self.rdatasets: dict[dns.name.Name, dict[tuple[int, int], dns.rdataset.Rdataset]] = {}

    def reader(self) -> dns.transaction.Transaction:  # pragma: no cover - write-only manager
        raise NotImplementedError

    def writer(self, replacement: bool = False) -> dns.transaction.Transaction:
        return _CollectorTxn(self, replacement, False)

    def origin_information(self) -> tuple[dns.name.Name, bool, dns.name.Name]:
        return dns.name.root, False, dns.name.root

    def get_class(self) -> dns.rdataclass.RdataClass:
        return dns.rdataclass.IN


class _CollectorTxn(dns.transaction.Transaction):
    """Writes straight into the collector, indexed by name so CNAME checks stay O(1) per record."""

    manager: _Collector

    def __init__(self, manager: _Collector, replacement: bool, read_only: bool) -> None:
        super().__init__(manager, replacement, read_only)
        self._origin = dns.name.root

    def _get_rdataset(self, name: dns.name.Name, rdtype: int, covers: int) -> dns.rdataset.Rdataset | None:
        return self.manager.rdatasets.get(name, {}).get((rdtype, covers))

    def _put_rdataset(self, name: dns.name.Name, rdataset: dns.rdataset.Rdataset) -> None:
        self.manager.rdatasets.setdefault(name, {})[(rdataset.rdtype, rdataset.covers)] = rdataset

    def _delete_name(self, name: dns.name.Name) -> None:
        self.manager.rdatasets.pop(name, None)

    def _delete_rdataset(self, name: dns.name.Name, rdtype: int, covers: int) -> None:
        self.manager.rdatasets.get(name, {}).pop((rdtype, covers), None)

    def _name_exists(self, name: dns.name.Name) -> bool:
        return bool(self.manager.rdatasets.get(name))

    def _changed(self) -> bool:
        return bool(self.manager.rdatasets)

    def _end_transaction(self, commit: bool) -> None:
        pass

    def _set_origin(self, origin: dns.name.Name) -> None:
        self._origin = origin

    def _origin_information(self) -> tuple[dns.name.Name, bool, dns.name.Name]:
        return self._origin, False, self._origin  # an SOA belongs at the current $ORIGIN

    def _iterate_rdatasets(self) -> Iterator[tuple[dns.name.Name, dns.rdataset.Rdataset]]:
        for name, rdatasets in self.manager.rdatasets.items():
            for rdataset in rdatasets.values():
                yield name, rdataset

    def _iterate_names(self) -> Iterator[dns.name.Name]:
        return iter(list(self.manager.rdatasets))

    def _get_node(self, name: dns.name.Name) -> dns.node.Node | None:
        rdatasets = self.manager.rdatasets.get(name)
        if not rdatasets:
            return None
        node = dns.node.Node()
        node.rdatasets.extend(rdatasets.values())
        return node


def parse_zone_text(text: str) -> list[dns.rrset.RRset]:
    """Every RRset in ``text`` with absolute owner names; ``$ORIGIN`` and ``$TTL`` may repeat (RFC 1035 §5.1).

    Raises :class:`dns.exception.SyntaxError` naming the line of the first error.
    """
    collector = _Collector()
    with collector.writer(True) as txn:
        tokenizer = dns.tokenizer.Tokenizer(text, "<zone>")
        reader = dns.zonefile.Reader(
            tokenizer, dns.rdataclass.IN, txn, allow_directives={"$ORIGIN", "$TTL"}, default_ttl=DEFAULT_TTL
        )
        reader.read()
    return [_as_rrset(name, rdataset) for name, rdatasets in collector.rdatasets.items() for rdataset in rdatasets.values()]


def _as_rrset(name: dns.name.Name, rdataset: dns.rdataset.Rdataset) -> dns.rrset.RRset:
    rrset = dns.rrset.RRset(name, rdataset.rdclass, rdataset.rdtype, rdataset.covers)
    rrset.update(rdataset)
    return rrset


# --- the data a server answers from (no I/O) -----------------------------------------------------------


class ZoneData:
    """RRsets indexed by owner name, plus every name that exists (owners and their ancestors).

    An ancestor of an owner name is an empty non-terminal: it exists, but holds no data (RFC 8020 §2).
    Names compare case-insensitively (RFC 4343), as :class:`dns.name.Name` does.
    """

    def __init__(self, rrsets: Iterable[dns.rrset.RRset] = ()) -> None:
        self._rrsets: dict[Key, dns.rrset.RRset] = {}
        self._names: set[dns.name.Name] = set()
        for rrset in rrsets:
            self._rrsets[(rrset.name, rrset.rdtype)] = rrset
            self._add_name(rrset.name)

    @classmethod
    def from_text(cls, text: str) -> ZoneData:
        return cls(parse_zone_text(text))

    def _add_name(self, name: dns.name.Name) -> None:
        while name not in self._names:
            self._names.add(name)
            if name == dns.name.root:
                return
            name = name.parent()

    def lookup(self, qname: dns.name.Name, qtype: int) -> Lookup:
        """The rcode and answer section for one question, following CNAMEs inside the data.

        RFC 1034 §4.3.2 step 3; the rcode describes the last name of a CNAME chain (RFC 6604 §2).
        """
        answers: list[dns.rrset.RRset] = []
        name = qname
        for _ in range(MAX_CNAME_HOPS):
            found = self._rrsets.get((name, qtype))
            if found is not None:
                return dns.rcode.NOERROR, answers + [_renamed(found, name)]
            cname = self._rrsets.get((name, dns.rdatatype.CNAME))
            if cname is None:
                return (dns.rcode.NOERROR if name in self._names else dns.rcode.NXDOMAIN), answers
            answers.append(_renamed(cname, name))
            name = cname[0].target
        return dns.rcode.SERVFAIL, []  # a CNAME loop


def _renamed(rrset: dns.rrset.RRset, owner: dns.name.Name) -> dns.rrset.RRset:
    """``rrset`` with the owner spelled as asked (case preserved, as real servers do)."""
    if rrset.name.to_text() == owner.to_text():
        return rrset
    return _as_rrset(owner, rrset)


def build_response(data: ZoneData, query: dns.message.Message) -> dns.message.Message:
    """The authoritative response to ``query`` (RFC 1034 §4.3.2), before any size limit."""
    response = dns.message.make_response(query)
    response.flags |= dns.flags.AA
    if query.opcode() != dns.opcode.QUERY:
        response.set_rcode(dns.rcode.NOTIMP)
        return response
    if len(query.question) != 1 or query.question[0].rdclass != dns.rdataclass.IN:
        response.set_rcode(dns.rcode.FORMERR if len(query.question) != 1 else dns.rcode.REFUSED)
        return response
    question = query.question[0]
    rcode, answers = data.lookup(question.name, question.rdtype)
    response.set_rcode(rcode)
    response.answer.extend(answers)
    return response


def to_wire(response: dns.message.Message, limit: int = MAX_TCP_MESSAGE) -> bytes:
    """``response`` in wire format; one over ``limit`` octets goes out empty with TC set (RFC 2181 §9)."""
    wire = response.to_wire(max_size=MAX_TCP_MESSAGE)  # dnspython's own max_size never goes below 512
    if len(wire) <= limit:
        return wire
    response.answer.clear()
    response.authority.clear()
    response.additional.clear()
    response.flags |= dns.flags.TC
    return response.to_wire(max_size=MAX_TCP_MESSAGE)


def udp_limit_for(query: dns.message.Message, udp_limit: int) -> int:
    """``udp_limit`` without EDNS; with an OPT record, the client's size in 512..4096 (RFC 6891 §6.2.5)."""
    if query.edns < 0:
        return udp_limit
    return min(max(query.payload, MIN_UDP_PAYLOAD), MAX_UDP_PAYLOAD)


def error_response(query: dns.message.Message, rcode: int) -> dns.message.Message:
    response = dns.message.make_response(query)
    response.set_rcode(rcode)
    return response


def question_key(query: dns.message.Message) -> tuple[str, str]:
    """(lower-case name without the trailing dot, type text): how :attr:`DnsTestServer.queries` counts."""
    if not query.question:
        return "", ""
    question = query.question[0]
    return question.name.to_text().rstrip(".").lower(), dns.rdatatype.to_text(question.rdtype)


# --- the server ----------------------------------------------------------------------------------------


class DnsTestServer:
    """Answers DNS over UDP and TCP on 127.0.0.1 (one port for both) from zone text.

    Each answer is built when its question arrives and sent ``delay`` seconds after that arrival, like a
    network round trip (concurrent questions wait concurrently; the server's own work falls inside the delay);
    :meth:`fail` makes one question SERVFAIL, REFUSED or go unanswered; :attr:`queries` counts every
    question received over either transport.
    """

    host = "127.0.0.1"

    def __init__(self, zone_text: str = "", *, delay: float = 0.0, udp_limit: int = MIN_UDP_PAYLOAD) -> None:
        self._data = ZoneData.from_text(zone_text)
        self.delay = delay
        self.udp_limit = udp_limit
        self.port = 0
        self.queries: collections.Counter[tuple[str, str]] = collections.Counter()
        self._failures: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._io: _LoopState | None = None

    @classmethod
    def from_files(cls, *paths: str | os.PathLike[str], **kw: Any) -> DnsTestServer:
        """A server for several zone files; each starts with ``$ORIGIN .`` and ``$TTL 300`` in force."""
        text = _FILE_SEPARATOR.join(Path(p).read_text(encoding="utf-8") for p in paths)
        return cls(text, **kw)

    @property
    def nameserver(self) -> str:
        """``"127.0.0.1:PORT"``, the form ``--nameserver`` takes."""
        return f"{self.host}:{self.port}"

    @property
    def total_queries(self) -> int:
        with self._lock:
            return sum(self.queries.values())

    def load(self, zone_text: str) -> None:
        """Replace all data; questions already being answered finish with the old data."""
        data = ZoneData.from_text(zone_text)
        with self._lock:
            self._data = data

    def fail(self, name: str, rdtype: str, mode: str) -> None:
        """Make every question for (``name``, ``rdtype``) fail: ``servfail``, ``refused`` or ``timeout``."""
        if mode not in FAIL_MODES:
            raise ValueError(f"fail mode must be one of {', '.join(FAIL_MODES)}, not {mode!r}")
        with self._lock:
            self._failures[(name.rstrip(".").lower(), rdtype.upper())] = mode

    def clear_failures(self) -> None:
        """Answer every question normally again."""
        with self._lock:
            self._failures.clear()

    def reset_counts(self) -> None:
        with self._lock:
            self.queries.clear()

    # -- lifecycle --

    def start(self) -> DnsTestServer:
        if self._thread is not None:
            return self
        udp, tcp = _bind_pair(self.host)
        self.port = udp.getsockname()[1]
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=_run_loop, args=(loop,), name=f"dns-test-server-{self.port}", daemon=True)
        self._thread.start()
        try:
            self._io = asyncio.run_coroutine_threadsafe(_LoopState.open(self, udp, tcp), loop).result(timeout=10)
        except BaseException:
            udp.close()
            tcp.close()
            self.stop()
            raise
        return self

    def stop(self) -> None:
        loop, thread, io = self._loop, self._thread, self._io
        self._loop = self._thread = self._io = None
        if loop is None or thread is None:
            return
        if io is not None:
            asyncio.run_coroutine_threadsafe(io.close(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()

    def __enter__(self) -> DnsTestServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- answering (runs on the server's loop) --

    async def answer(self, wire: bytes, udp: bool) -> bytes | None:
        """The response wire for one query, or None to stay silent (unparseable, or failing with timeout)."""
        received = asyncio.get_running_loop().time()
        try:
            query = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            return None
        key = question_key(query)
        with self._lock:
            self.queries[key] += 1
            mode = self._failures.get(key)
            data = self._data
        if mode == "timeout":
            return None
        if mode is not None:
            wire = to_wire(error_response(query, dns.rcode.from_text(mode.upper())))
        else:
            response = build_response(data, query)
            wire = to_wire(response, udp_limit_for(query, self.udp_limit)) if udp else to_wire(response)
        if self.delay > 0:  # the answer leaves ``delay`` seconds after the question arrived
            await asyncio.sleep(max(0.0, received + self.delay - asyncio.get_running_loop().time()))
        return wire


def _run_loop(loop: asyncio.AbstractEventLoop) -> None:
    asyncio.set_event_loop(loop)
    loop.run_forever()


def _bind_pair(host: str, attempts: int = 10) -> tuple[socket.socket, socket.socket]:
    """A UDP socket on a free port and a listening TCP socket on the same port."""
    for _ in range(attempts):
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind((host, 0))
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            tcp.bind((host, udp.getsockname()[1]))
            tcp.listen(512)
        except OSError:
            udp.close()
            tcp.close()
            continue
        udp.setblocking(False)
        tcp.setblocking(False)
        return udp, tcp
    raise OSError(f"no port free for both UDP and TCP on {host} after {attempts} attempts")


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, state: _LoopState) -> None:
        self.state = state
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.state.spawn(self._reply(data, addr))

    async def _reply(self, data: bytes, addr: tuple[str, int]) -> None:
        wire = await self.state.server.answer(data, udp=True)
        if wire is not None and self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(wire, addr)


class _LoopState:
    """The sockets and pending tasks of a running server; lives on the server's loop."""

    def __init__(self, server: DnsTestServer) -> None:
        self.server = server
        self.tasks: set[asyncio.Task[None]] = set()
        self.writers: set[asyncio.StreamWriter] = set()
        self.connections: set[asyncio.Task[object]] = set()
        self.udp: asyncio.DatagramTransport | None = None
        self.tcp: asyncio.Server | None = None

    @classmethod
    async def open(cls, server: DnsTestServer, udp: socket.socket, tcp: socket.socket) -> _LoopState:
        state = cls(server)
        loop = asyncio.get_running_loop()
        state.udp, _ = await loop.create_datagram_endpoint(lambda: _UdpProtocol(state), sock=udp)
        state.tcp = await asyncio.start_server(state.serve_tcp, sock=tcp)
        return state

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Read length-prefixed queries (RFC 1035 §4.2.2) until EOF; answer each in its own task."""
        self.writers.add(writer)
        connection = asyncio.current_task()
        if connection is not None:
            self.connections.add(connection)
            connection.add_done_callback(self.connections.discard)
        try:
            while True:
                size = struct.unpack("!H", await reader.readexactly(2))[0]
                self.spawn(self._tcp_reply(await reader.readexactly(size), writer))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.writers.discard(writer)
            writer.close()

    async def _tcp_reply(self, data: bytes, writer: asyncio.StreamWriter) -> None:
        wire = await self.server.answer(data, udp=False)
        if wire is not None and not writer.is_closing():
            writer.write(struct.pack("!H", len(wire)) + wire)

    async def close(self) -> None:
        """Stop listening, drop pending answers and open connections."""
        if self.udp is not None:
            self.udp.close()
        if self.tcp is not None:
            self.tcp.close()
        for writer in list(self.writers):
            writer.close()
        for task in self.tasks:
            task.cancel()
        # A closed writer ends its connection's read loop with EOF; cancelling that loop instead would make
        # Python 3.11's asyncio.streams log a spurious CancelledError.
        pending = self.tasks | self.connections
        if pending:
            await asyncio.wait(pending, timeout=2)
