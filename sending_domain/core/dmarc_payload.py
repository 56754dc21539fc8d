"""What a delivered report comes wrapped in: gzip, zip, an email (or an mbox of them), or nothing — found by content.

:func:`reports_in` takes one input (a file's or an S3 object's bytes, already capped at :data:`MAX_INPUT`) and
yields one :class:`Payload` per report inside, or a :class:`Refusal` naming the part that cannot be read. Every
step is bounded: decompressed bytes per report (:data:`MAX_XML`, counted as they are read, so a zip or gzip bomb
stops at the cap whatever its header claims), zip members, attachments and messages per input, two gzip layers.

The wrapping is found from the bytes, not the name: reporters announce gzip and send plain XML, or gzip twice
(FACTS: DMARC aggregate reports). Such a mismatch is a warning on the report, never a refusal.
"""

from __future__ import annotations

import email
import email.policy
import gzip
import io
import re
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from sending_domain.core.errors import SendingDomainError
from sending_domain.core.text import printable

MAX_INPUT = 64 << 20  # bytes of one file, S3 object or email as delivered
MAX_XML = 128 << 20  # bytes of one report once decompressed; the largest real reports are tens of MiB
MAX_MEMBERS = 32  # reports in one zip
MAX_ATTACHMENTS = 32  # reports attached to one email
MAX_MESSAGES = 100_000  # emails in one mbox
MAX_GZIP_LAYERS = 2  # gzip inside gzip is a known quirk; a third layer is not

_GZIP = b"\x1f\x8b"
_ZIP = b"PK\x03\x04"
_HEADER = re.compile(rb"^[A-Za-z0-9-]{1,76}:")
_MBOX_SPLIT = re.compile(rb"^From [^\r\n]*\r?\n", re.MULTILINE)
_REPORT_TYPES = {"application/zip", "application/x-zip-compressed", "application/gzip", "application/x-gzip",
                 "application/xml", "text/xml", "application/octet-stream"}
_REPORT_SUFFIXES = (".xml", ".gz", ".zip", ".xml.gz")


class PayloadError(SendingDomainError):
    """A report's wrapping cannot be read (truncated, corrupt, over a cap)."""

    exit_code = 2


@dataclass
class Payload:
    """One report inside an input: ``name`` says where (``file.zip!report.xml``); ``open()`` gives its XML
    as a stream that raises PayloadError when the wrapping is broken or the XML grows past the cap."""

    name: str
    data: bytes
    kind: str  # xml | gzip
    warnings: list[str] = field(default_factory=list)
    max_xml: int = MAX_XML

    def open(self) -> BinaryIO:
        if self.kind == "xml":
            return _Capped(io.BytesIO(self.data), self.max_xml, self.name, self.warnings)  # type: ignore[return-value]
        return _Capped(_GunzipLayers(self.data, self.warnings), self.max_xml, self.name, self.warnings)  # type: ignore[return-value]


@dataclass(frozen=True)
class Refusal:
    """A part that cannot be read; ``skip`` when it is simply not a report (an email without one: spam to the
    report address, a mailbox provider's notice), which is no error."""

    name: str
    reason: str
    skip: bool = False


def reports_in(name: str, data: bytes, *, max_xml: int = MAX_XML) -> Iterator[Payload | Refusal]:
    """Every report inside ``data`` (one input named ``name``), or why a part cannot be read."""
    yield from _unwrap(name, data, max_xml, mail=True)


def _unwrap(name: str, data: bytes, max_xml: int, *, mail: bool) -> Iterator[Payload | Refusal]:
    kind = sniff(data)
    if kind == "gzip":
        yield Payload(name, data, "gzip", _announced(name, "gzip"), max_xml)
    elif kind == "zip":
        yield from _zip(name, data, max_xml)
    elif kind == "xml":
        yield Payload(name, data, "xml", _announced(name, "xml"), max_xml)
    elif kind in ("email", "mbox") and mail:
        yield from (_mbox(name, data, max_xml) if kind == "mbox" else _email(name, data, max_xml))
    elif len(data) == 0:
        yield Refusal(name, "empty")
    else:
        yield Refusal(name, "neither XML, gzip, zip nor an email with a report attached")


def sniff(data: bytes) -> str:
    """What ``data`` is, from its first bytes: gzip, zip, xml, mbox, email or unknown."""
    if data.startswith(_GZIP):
        return "gzip"
    if data.startswith(_ZIP):
        return "zip"
    head = data[:512].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"<") or data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "xml"
    if head.startswith(b"From "):
        return "mbox"
    if _HEADER.match(head):
        return "email"
    return "unknown"


def _announced(name: str, kind: str) -> list[str]:
    lower = name.lower().rsplit("!", 1)[-1]
    if kind == "xml" and lower.endswith((".gz", ".zip")):
        return [f"plain XML where the name announces {lower.rsplit('.', 1)[-1]}"]
    if kind == "gzip" and lower.endswith(".zip"):
        return ["gzip where the name announces zip"]
    return []


# --- zip ------------------------------------------------------------------------------------------------------


def _zip(name: str, data: bytes, max_xml: int) -> Iterator[Payload | Refusal]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = [m for m in archive.infolist() if not m.is_dir()]
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError) as e:
        yield Refusal(name, f"the zip cannot be read: {printable(str(e))}")
        return
    if not members:
        yield Refusal(name, "the zip holds no file")
    if len(members) > MAX_MEMBERS:
        yield Refusal(name, f"the zip holds {len(members)} files; at most {MAX_MEMBERS} are read")
        members = members[:MAX_MEMBERS]
    for member in members:
        where = f"{name}!{printable(member.filename)[:200]}"
        if member.file_size > max_xml:
            yield Refusal(where, f"{member.file_size} bytes once decompressed, over the cap of {max_xml} (a zip bomb?)")
            continue
        try:
            content = _read_capped(archive.open(member), max_xml, where)
        except PayloadError as e:
            yield Refusal(where, str(e))
            continue
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError) as e:
            yield Refusal(where, f"the zip member cannot be read: {printable(str(e))}")
            continue
        yield from _unwrap(where, content, max_xml, mail=False)


def _read_capped(stream: BinaryIO, cap: int, name: str) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while chunk := stream.read(1 << 16):
        size += len(chunk)
        if size > cap:
            raise PayloadError(f"more than {cap} bytes once decompressed (a zip bomb?); refused")
        chunks.append(chunk)
    return b"".join(chunks)


# --- email ----------------------------------------------------------------------------------------------------


def _mbox(name: str, data: bytes, max_xml: int) -> Iterator[Payload | Refusal]:
    messages = [m for m in _MBOX_SPLIT.split(data) if m.strip()]
    if len(messages) > MAX_MESSAGES:
        yield Refusal(name, f"{len(messages)} messages; at most {MAX_MESSAGES} are read")
    for index, message in enumerate(messages[:MAX_MESSAGES], start=1):
        yield from _email(f"{name}#{index}", message, max_xml)


def _email(name: str, data: bytes, max_xml: int) -> Iterator[Payload | Refusal]:
    try:
        message = email.message_from_bytes(data, policy=email.policy.compat32)
    except Exception as e:  # the email package raises many kinds on malformed input
        yield Refusal(name, f"the email cannot be read: {printable(str(e))[:200]}")
        return
    try:
        parts = [part for part in message.walk() if not part.is_multipart()]
    except RecursionError:
        yield Refusal(name, "the email's parts are nested too deeply to read")
        return
    found = 0
    for part in parts:
        if part.is_multipart():
            continue
        filename = part.get_filename() or ""
        if part.get_content_type() not in _REPORT_TYPES and not filename.lower().endswith(_REPORT_SUFFIXES):
            continue
        found += 1
        where = f"{name}!{printable(filename)[:200] or part.get_content_type()}"
        if found > MAX_ATTACHMENTS:
            yield Refusal(name, f"more than {MAX_ATTACHMENTS} report attachments; the rest are not read")
            return
        try:
            content = part.get_payload(decode=True)
        except Exception as e:  # noqa: BLE001 - a broken transfer encoding
            yield Refusal(where, f"the attachment cannot be decoded: {printable(str(e))[:200]}")
            continue
        if not isinstance(content, bytes) or not content:
            yield Refusal(where, "the attachment is empty")
            continue
        yield from _unwrap(where, content, max_xml, mail=False)
    if not found:
        yield Refusal(name, "an email without a report attached (no zip, gzip or XML part)", skip=True)


# --- streams --------------------------------------------------------------------------------------------------


class _GunzipLayers(io.RawIOBase):
    """gzip decompressed; a second gzip layer inside (a known reporter quirk) is decompressed too, with a warning."""

    def __init__(self, data: bytes, warnings: list[str]) -> None:
        self._stream: BinaryIO = gzip.GzipFile(fileobj=io.BytesIO(data))  # type: ignore[assignment]
        self._pending = b""
        self._layers = 1
        self._warnings = warnings
        self._started = False

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if not self._started:
            self._started = True
            self._pending = self._stream.read(1 << 16)
            while self._pending.startswith(_GZIP):
                self._layers += 1
                if self._layers > MAX_GZIP_LAYERS:
                    raise PayloadError(f"more than {MAX_GZIP_LAYERS} layers of gzip")
                self._warnings.append("gzip inside gzip (double gzip)")
                self._stream = gzip.GzipFile(fileobj=_Chain(self._pending, self._stream))  # type: ignore[assignment]
                self._pending = self._stream.read(1 << 16)
        if self._pending:
            out, self._pending = self._pending, b""
            return out
        return self._stream.read(size if size and size > 0 else 1 << 16)


class _Chain(io.RawIOBase):
    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self._head, self._rest = head, rest

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self._head:
            n = len(self._head) if size is None or size < 0 else size
            out, self._head = self._head[:n], self._head[n:]
            return out
        return self._rest.read(size)

    def readinto(self, buffer: bytearray) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class _Capped:
    """A stream that counts what it gives: over ``cap`` bytes, or a broken wrapping, is a PayloadError."""

    def __init__(self, stream: BinaryIO, cap: int, name: str, warnings: list[str]) -> None:
        self._stream, self._cap, self._name, self._size = stream, cap, name, 0

    def read(self, size: int = -1) -> bytes:
        try:
            chunk = self._stream.read(size if size and size > 0 else 1 << 16)
        except EOFError:
            raise PayloadError("truncated gzip: the compressed stream ends before its end marker") from None
        except (gzip.BadGzipFile, zlib.error, OSError) as e:
            raise PayloadError(f"corrupt gzip: {printable(str(e))[:200]}") from None
        self._size += len(chunk)
        if self._size > self._cap:
            raise PayloadError(f"more than {self._cap} bytes once decompressed (a gzip bomb?); refused")
        return chunk
