"""Read aggregate reports from files or S3 into the report database, every input bounded, no bad one stopping the rest.

Inputs are files (``.xml``, ``.xml.gz``, ``.zip``, ``.eml``, mbox; a folder means every file in it) or
``s3://BUCKET/PREFIX`` (every object under the prefix, as SES stores received mail). Each input is read up to
:data:`~.core.dmarc_payload.MAX_INPUT` bytes, unwrapped (:mod:`~.core.dmarc_payload`) and parsed
(:mod:`~.core.dmarc_report`) in worker processes; the reports are stored by this process, in batches. Every
report ends as one :class:`Outcome`: stored, duplicate or refused (with the reason), and its warnings.

S3 is read incrementally: the store remembers every object read (bucket, key, ETag, size) and what became of it,
and an object listed again with the same ETag and size is not downloaded: it ends as ``known`` (with the earlier
refusal as its reason when it was refused), one outcome for the whole object.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sending_domain.collector import collector_paused
from sending_domain.core.dmarc_payload import MAX_INPUT, MAX_XML, PayloadError, Payload, reports_in
from sending_domain.core.dmarc_report import Report, ReportRefused, parse_report
from sending_domain.core.errors import ConfigError, Problem, SendingDomainError
from sending_domain.core.text import printable
from sending_domain.dmarc_store import ObjectRead, ReportStore, S3Object

BATCH_ROWS = 200_000  # rows per database transaction
BATCH_OBJECTS = 10_000  # S3 objects without a report to store (spam, refusals) remembered per transaction
MAX_FILES = 1_000_000  # inputs in one run


class TransientError(SendingDomainError):
    """A storage service failed for now: retry later."""

    exit_code = 3


@dataclass(frozen=True)
class Outcome:
    """What became of one report (or of an input that holds none that can be read)."""

    name: str
    status: str  # stored | duplicate | refused | skipped (not a report: an email without one)
    #              | known (an S3 object read before, not downloaded: ``reason`` says when it was refused)
    reason: str = ""
    warnings: tuple[str, ...] = ()
    reporter: str = ""
    report_id: str = ""
    domain: str = ""
    rows: int = 0

    def as_json(self) -> dict:
        return {"name": self.name, "status": self.status, "reason": self.reason or None, "warnings": list(self.warnings),
                "reporter": self.reporter or None, "report_id": self.report_id or None, "domain": self.domain or None,
                "rows": self.rows}


@dataclass(frozen=True)
class Input:
    """One file (``path``) or one downloaded object (``data``), named as the user will read it; an S3 object
    knows its ``origin`` (to be remembered once read), and one refused before it is downloaded says why
    (``refused``)."""

    name: str
    path: str | None = None
    data: bytes | None = None
    origin: S3Object | None = None
    refused: str = ""


Seen = Callable[[S3Object], ObjectRead | None]  # what became of this version of an object when it was read
Result = list[tuple[Report | None, Outcome]]  # the reports found in one input, each with its outcome


# --- finding inputs -------------------------------------------------------------------------------------------


def file_inputs(paths: Sequence[str]) -> Iterator[Input | Outcome]:
    """Each file named, or found in a folder named (sorted, hidden files skipped); a missing path is refused."""
    count = 0
    for text in paths:
        path = Path(text)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts))
        elif path.exists():
            files = [path]
        else:
            yield Outcome(printable(text), "refused", "no such file or folder")
            continue
        for file in files:
            count += 1
            if count > MAX_FILES:
                raise ConfigError(Problem("", "too-many-inputs", f"more than {MAX_FILES} files; ingest them in parts"))
            yield Input(printable(str(file)), path=str(file))


def s3_inputs(url: str, client: Any, read_before: Seen | None = None) -> Iterator[Input | Outcome]:
    """Every object under ``s3://BUCKET/PREFIX``, downloaded up to the input cap (larger ones are refused unread).
    An object ``read_before`` knows in this version (same ETag and size) is not downloaded: it is ``known``."""
    bucket, _, prefix = url[len("s3://"):].partition("/")
    if not bucket:
        raise ConfigError(Problem("", "s3-url", f"{printable(url)!r} names no bucket; write s3://BUCKET/PREFIX"))
    for obj in _s3_objects(client, bucket, prefix):
        name = printable(f"s3://{bucket}/{obj.key}")
        seen = read_before(obj) if read_before is not None else None
        if seen is not None:
            yield Outcome(name, "known", f"refused before: {seen.reason}" if seen.status == "refused" else "")
        elif obj.size > MAX_INPUT:
            yield Input(name, origin=obj, refused=f"{obj.size} bytes, over the cap of {MAX_INPUT} for one input")
        else:
            yield Input(name, data=_s3_get(client, bucket, obj.key), origin=obj)


def _s3_objects(client: Any, bucket: str, prefix: str) -> Iterator[S3Object]:
    with _s3_errors(f"s3://{bucket}/{prefix}"):
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                if not item["Key"].endswith("/"):
                    yield S3Object(bucket, item["Key"], str(item.get("ETag", "")).strip('"'), int(item.get("Size", 0)))


def _s3_get(client: Any, bucket: str, key: str) -> bytes:
    with _s3_errors(f"s3://{bucket}/{key}"):
        body = client.get_object(Bucket=bucket, Key=key)["Body"]
        try:
            return body.read(MAX_INPUT + 1)
        finally:
            body.close()


@contextmanager
def _s3_errors(where: str) -> Iterator[None]:
    """botocore's errors as ours: a missing bucket or no permission is bad input (2), a failed connection or a
    throttled request is transient (3)."""
    from botocore import exceptions as aws

    shown = printable(where)
    try:
        yield
    except aws.ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", ""))
        if code in ("SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout", "503", "500"):
            raise TransientError(f"{shown}: S3 answered {code}; retry later") from None
        raise ConfigError(Problem("", "s3", f"{shown}: S3 refused: {code or error}")) from None
    except (aws.EndpointConnectionError, aws.ConnectTimeoutError, aws.ReadTimeoutError, aws.ConnectionClosedError) as error:
        raise TransientError(f"{shown}: cannot reach S3 ({printable(str(error))}); retry later") from None
    except aws.NoCredentialsError:
        raise ConfigError(Problem("", "aws-config", "no AWS credentials for S3; set AWS_PROFILE or the usual variables")) from None


# --- reading inputs (in worker processes) --------------------------------------------------------------------


def read_input(item: Input, max_xml: int = MAX_XML) -> list[tuple[Report | None, Outcome]]:
    """Every report in one input, parsed; a refusal names the part and the reason. Never raises for bad input."""
    with collector_paused():
        return _read_input(item, max_xml)


def _read_input(item: Input, max_xml: int) -> list[tuple[Report | None, Outcome]]:
    if item.refused:
        return [(None, Outcome(item.name, "refused", item.refused))]
    data = item.data
    if data is None:
        try:
            with open(item.path or "", "rb") as handle:
                data = handle.read(MAX_INPUT + 1)
        except OSError as e:
            return [(None, Outcome(item.name, "refused", f"cannot read: {e.strerror or e}"))]
    if len(data) > MAX_INPUT:
        return [(None, Outcome(item.name, "refused", f"larger than the cap of {MAX_INPUT} bytes for one input"))]
    results: list[tuple[Report | None, Outcome]] = []
    for part in reports_in(item.name, data, max_xml=max_xml):
        if not isinstance(part, Payload):
            results.append((None, Outcome(part.name, "skipped" if part.skip else "refused", part.reason)))
            continue
        try:
            report = parse_report(part.open())
        except (ReportRefused, PayloadError) as e:
            results.append((None, Outcome(part.name, "refused", str(e), tuple(part.warnings))))
            continue
        warnings = tuple(dict.fromkeys((*part.warnings, *report.warnings)))
        results.append((report, Outcome(part.name, "", "", warnings, report.reporter, report.report_id, report.domain,
                                        len(report.rows))))
    return results


# --- storing --------------------------------------------------------------------------------------------------


def ingest(inputs: Iterable[Input | Outcome], store: ReportStore, *, jobs: int = 1,
           on_outcome: Callable[[Outcome], None] | None = None) -> list[Outcome]:
    """Read every input (in ``jobs`` worker processes when more than one) and store its reports; the outcomes in
    input order. Each S3 object read is remembered in the transaction that stores its last report (or a later
    one), so an object whose reports were lost in a crash is read again."""
    outcomes: list[Outcome] = []
    pending: list[tuple[Report, Outcome]] = []
    pending_rows = 0
    read: list[ObjectRead] = []

    def emit(outcome: Outcome) -> None:
        outcomes.append(outcome)
        if on_outcome is not None:
            on_outcome(outcome)

    def flush(last: bool = False) -> None:
        nonlocal pending, pending_rows, read
        if pending or (read and (last or len(read) >= BATCH_OBJECTS)):
            statuses = store.add(((report, outcome.name) for report, outcome in pending), read)
            for (_, outcome), status in zip(pending, statuses):
                emit(_with_status(outcome, status))
            pending, pending_rows, read = [], 0, []

    with collector_paused():
        for item, result in _read_all(inputs, jobs):
            for report, outcome in result:
                if report is None:
                    flush()
                    emit(outcome)
                    continue
                pending.append((report, outcome))
                pending_rows += len(report.rows)
                if pending_rows >= BATCH_ROWS:
                    flush()
            if isinstance(item, Input) and item.origin is not None:
                read.append(_object_read(item.origin, [outcome for _, outcome in result]))
        flush(last=True)
    return outcomes


def _object_read(origin: S3Object, outcomes: list[Outcome]) -> ObjectRead:
    """An object is ``refused`` when any part of it was (the first refusal is kept, naming the part inside the
    object when it is one: ``report.zip!report.xml: ...``), else ``read``."""
    name = printable(f"s3://{origin.bucket}/{origin.key}")
    for outcome in outcomes:
        if outcome.status == "refused":
            part = outcome.name[len(name) + 1:] if outcome.name.startswith(name + "!") else ""
            return ObjectRead(origin, "refused", f"{part}: {outcome.reason}" if part else outcome.reason)
    return ObjectRead(origin, "read")


def _read_all(inputs: Iterable[Input | Outcome], jobs: int) -> Iterator[tuple[Input | Outcome, Result]]:
    """Each input with its reports, in input order."""
    if jobs <= 1:
        for item in inputs:
            yield item, [(None, item)] if isinstance(item, Outcome) else read_input(item)
        return
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        window: list[tuple[Input | Outcome, Any]] = []
        for item in inputs:
            window.append((item, item if isinstance(item, Outcome) else pool.submit(read_input, item)))
            if len(window) >= jobs * 4:
                yield _result(*window.pop(0))
        while window:
            yield _result(*window.pop(0))


def _result(item: Input | Outcome, entry: Any) -> tuple[Input | Outcome, Result]:
    return item, [(None, entry)] if isinstance(entry, Outcome) else entry.result()


def _with_status(outcome: Outcome, status: str) -> Outcome:
    return Outcome(outcome.name, status, outcome.reason, outcome.warnings, outcome.reporter, outcome.report_id,
                   outcome.domain, outcome.rows)


def default_jobs() -> int:
    """Worker processes: one per CPU this process may use, at most 8."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cpus = os.cpu_count() or 1
    return max(1, min(8, cpus))
