"""The aggregate reports read so far, in one SQLite file (the standard library's embedded database).

``reports`` holds who reported, the period, the policy the reporter found and the quirks it showed; ``rows`` one
row per ``<record>``: source address, count, disposition and its facts — the DKIM and SPF alignment of
``policy_evaluated``, header and envelope from, the DKIM signatures, the SPF results and the override reasons.
Addresses and facts repeat across rows, so each is stored once (``addresses``, ``facts``; the view
``report_rows`` shows the rows written out). A report is stored once: by (reporter, report id) and by the SHA-256
of its XML.

``dmarc status`` never reads ``rows``: at ingest each report's counts are also added to ``tallies``, one entry per
(bucket, source, facts), where a bucket is the reports of one domain with the same period and published policy —
everything that decides whether a report counts. Reporters that cover the same day share a bucket, so the tallies
grow with days × sources, not with reports, and a status query reads them in their primary-key order.

``s3_objects`` remembers each S3 object read (bucket, key, ETag, size) and what became of it (``read``, or
``refused`` with the reason), written in the same transaction as the object's reports: an ingest over the same
prefix skips the objects it already read, unless their ETag or size changed.

The file is written in WAL mode, one transaction per batch of reports, so a crash loses at most the batch being
written and readers never see half a report.

Schema versions (``PRAGMA user_version``): 1 the reports, rows and tallies; 2 adds ``s3_objects``. Every table is
created if it does not exist, so opening an older file to write (``ingest``) brings it to this version in one
transaction and keeps the data it holds; a reader (``status``) reads it as it is; a file of a newer version than
this program knows is refused.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from sending_domain.core.dmarc_evidence import Facts, Tally
from sending_domain.core.dmarc_gate import ReportHead
from sending_domain.core.dmarc_report import Report
from sending_domain.core.errors import ConfigError, Problem, SendingDomainError

SCHEMA_VERSION = 2  # 2: s3_objects
DB_FILE = "dmarc-reports.sqlite"
BUSY_WAIT = 120.0  # seconds to wait for another ingest writing the same file
DAY = 86400

_SCHEMA = """
CREATE TABLE IF NOT EXISTS buckets (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    domain TEXT NOT NULL,
    begin INTEGER NOT NULL,
    end INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS reports (
    id INTEGER PRIMARY KEY,
    reporter TEXT NOT NULL,
    report_id TEXT NOT NULL,
    org_name TEXT NOT NULL,
    email TEXT NOT NULL,
    begin INTEGER NOT NULL,
    end INTEGER NOT NULL,
    domain TEXT NOT NULL,
    p TEXT NOT NULL,
    sp TEXT,
    pct INTEGER,
    np TEXT,
    testing TEXT,
    adkim TEXT NOT NULL,
    aspf TEXT NOT NULL,
    format TEXT NOT NULL,
    source TEXT NOT NULL,
    sha256 TEXT NOT NULL UNIQUE,
    warnings TEXT NOT NULL,
    rows INTEGER NOT NULL,
    bucket INTEGER NOT NULL REFERENCES buckets (id),
    UNIQUE (reporter, report_id)
);
CREATE INDEX IF NOT EXISTS reports_domain_begin ON reports (domain, begin);
CREATE TABLE IF NOT EXISTS addresses (id INTEGER PRIMARY KEY, ip TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS facts (
    id INTEGER PRIMARY KEY,
    dkim_aligned INTEGER NOT NULL,
    spf_aligned INTEGER NOT NULL,
    header_from TEXT NOT NULL,
    envelope_from TEXT NOT NULL,
    dkim TEXT NOT NULL,
    spf TEXT NOT NULL,
    reasons TEXT NOT NULL,
    UNIQUE (dkim_aligned, spf_aligned, header_from, envelope_from, dkim, spf, reasons)
);
CREATE TABLE IF NOT EXISTS rows (
    report INTEGER NOT NULL REFERENCES reports (id),
    source INTEGER NOT NULL REFERENCES addresses (id),
    count INTEGER NOT NULL,
    disposition TEXT NOT NULL,
    facts INTEGER NOT NULL REFERENCES facts (id)
);
CREATE INDEX IF NOT EXISTS rows_report ON rows (report);
CREATE TABLE IF NOT EXISTS tallies (
    bucket INTEGER NOT NULL REFERENCES buckets (id),
    source INTEGER NOT NULL,
    facts INTEGER NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (bucket, source, facts)
) WITHOUT ROWID;
CREATE VIEW IF NOT EXISTS report_rows AS
    SELECT w.report, a.ip AS source_ip, w.count, w.disposition, f.dkim_aligned, f.spf_aligned, f.header_from,
           f.envelope_from, f.dkim, f.spf, f.reasons
    FROM rows w JOIN addresses a ON a.id = w.source JOIN facts f ON f.id = w.facts;
CREATE TABLE IF NOT EXISTS s3_objects (
    bucket TEXT NOT NULL,
    key TEXT NOT NULL,
    etag TEXT NOT NULL,
    size INTEGER NOT NULL,
    status TEXT NOT NULL,
    reason TEXT NOT NULL,
    PRIMARY KEY (bucket, key)
) WITHOUT ROWID;
"""
MAX_REASON = 300  # characters of a refusal kept for an S3 object


@dataclass(frozen=True)
class S3Object:
    """One version of an S3 object, as the listing shows it: the ETag and size change when its content does."""

    bucket: str
    key: str
    etag: str
    size: int


@dataclass(frozen=True)
class ObjectRead:
    """What became of an S3 object that was read: ``read`` (its reports stored or known, or not a report) or
    ``refused`` (one of its reports, or the object itself), with the first refusal's reason."""

    object: S3Object
    status: str
    reason: str = ""


def default_path(stack_dir: Path) -> Path:
    """The database lives next to the stack files, like the SPF lock."""
    return stack_dir / DB_FILE


class ReportStore:
    """One database file; use as a context manager."""

    def __init__(self, path: Path, *, create: bool = True) -> None:
        self.path = path
        if not create and not path.exists():
            message = f"no report database at {path}; read reports into it first with `sending-domain dmarc ingest`"
            raise ConfigError(Problem("", "no-reports", message), source=str(path))
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._addresses: dict[str, int] = {}
            self._facts: dict[tuple, int] = {}
            self.db = sqlite3.connect(path, isolation_level=None, timeout=BUSY_WAIT)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self._schema(upgrade=create)
        except sqlite3.OperationalError as e:
            if "locked" in str(e) or "busy" in str(e):
                raise _storage_error(path, e) from None
            raise ConfigError(Problem("", "db-unreadable", f"cannot use {path} as the report database: {e}"), source=str(path)) from None
        except sqlite3.DatabaseError as e:
            raise ConfigError(Problem("", "db-unreadable", f"cannot use {path} as the report database: {e}"), source=str(path)) from None

    def _schema(self, *, upgrade: bool) -> None:
        """A new file gets every table; one of an older version (0 is a new file) the tables it lacks, in one
        transaction with its new version number; one of this version is left alone. A reader (``status``, which
        passes ``create=False``) does not upgrade: the tables it reads are those of version 1."""
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if not 0 <= version <= SCHEMA_VERSION:
            message = (f"the report database has schema version {version}; this sending-domain reads {SCHEMA_VERSION}"
                       " and older: upgrade sending-domain")
            raise ConfigError(Problem("", "db-version", message), source=str(self.path))
        if version == SCHEMA_VERSION or (version > 0 and not upgrade):
            return
        try:
            self.db.executescript(f"BEGIN IMMEDIATE;\n{_SCHEMA}PRAGMA user_version={SCHEMA_VERSION};\nCOMMIT;")
        except BaseException:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            raise

    def __enter__(self) -> ReportStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()

    # --- writing ---------------------------------------------------------------------------------------------

    def add(self, reports: Iterable[tuple[Report, str]], objects: Iterable[ObjectRead] = ()) -> list[str]:
        """Store each (report, source) and remember each S3 object read, in one transaction; per report ``stored``
        or ``duplicate``. An object is remembered with its reports, never before them: a crash loses both."""
        outcomes: list[str] = []
        cur = self.db.cursor()
        try:
            cur.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as e:
            raise _storage_error(self.path, e) from None
        try:
            for report, source in reports:
                outcomes.append(self._add_one(cur, report, source))
            cur.executemany(
                "INSERT INTO s3_objects VALUES (?,?,?,?,?,?) ON CONFLICT (bucket, key) DO UPDATE SET"
                " etag = excluded.etag, size = excluded.size, status = excluded.status, reason = excluded.reason",
                ((o.object.bucket, o.object.key, o.object.etag, o.object.size, o.status, o.reason[:MAX_REASON])
                 for o in objects),
            )
            cur.execute("COMMIT")
        except BaseException as e:
            if self.db.in_transaction:
                cur.execute("ROLLBACK")
            self._addresses.clear()
            self._facts.clear()
            if isinstance(e, sqlite3.OperationalError):
                raise _storage_error(self.path, e) from None
            raise
        return outcomes

    def _add_one(self, cur: sqlite3.Cursor, report: Report, source: str) -> str:
        if cur.execute("SELECT 1 FROM reports WHERE (reporter = ? AND report_id = ?) OR sha256 = ?",
                       (report.reporter, report.report_id, report.sha256)).fetchone():
            return "duplicate"
        bucket = self._bucket(cur, report)
        cur.execute(
            "INSERT INTO reports (reporter, report_id, org_name, email, begin, end, domain, p, sp, pct, np, testing,"
            " adkim, aspf, format, source, sha256, warnings, rows, bucket) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (report.reporter, report.report_id, report.org_name, report.email, report.begin, report.end,
             report.domain, report.p, report.sp, report.pct, report.np, report.testing, report.adkim, report.aspf,
             report.format, source, report.sha256, json.dumps(list(report.warnings)), len(report.rows), bucket),
        )
        rid = cur.lastrowid
        addresses, facts = self._addresses, self._facts
        stored: list[tuple[int, int, int, str, int]] = []
        tallies: dict[tuple[int, int], int] = {}
        for r in report.rows:
            a = addresses.get(r.source_ip)
            if a is None:
                a = self._address_id(cur, r.source_ip)
            key = (r.dkim_aligned, r.spf_aligned, r.header_from, r.envelope_from, r.dkim, r.spf, r.reasons)
            f = facts.get(key)
            if f is None:
                f = self._facts_id(cur, key)
            stored.append((rid, a, r.count, r.disposition, f))
            tallies[(a, f)] = tallies.get((a, f), 0) + r.count
        cur.executemany("INSERT INTO rows VALUES (?,?,?,?,?)", stored)
        cur.executemany(
            "INSERT INTO tallies VALUES (?,?,?,?) ON CONFLICT (bucket, source, facts) DO UPDATE SET count = count + excluded.count",
            ((bucket, a, f, n) for (a, f), n in tallies.items()),
        )
        return "stored"

    def _bucket(self, cur: sqlite3.Cursor, report: Report) -> int:
        key = json.dumps([report.domain, report.begin, report.end, report.p, report.pct, report.testing])
        cur.execute("INSERT OR IGNORE INTO buckets (key, domain, begin, end) VALUES (?,?,?,?)",
                    (key, report.domain, report.begin, report.end))
        return cur.execute("SELECT id FROM buckets WHERE key = ?", (key,)).fetchone()[0]

    def _address_id(self, cur: sqlite3.Cursor, ip: str) -> int:
        cur.execute("INSERT OR IGNORE INTO addresses (ip) VALUES (?)", (ip,))
        found = self._addresses[ip] = cur.execute("SELECT id FROM addresses WHERE ip = ?", (ip,)).fetchone()[0]
        return found

    def _facts_id(self, cur: sqlite3.Cursor, key: tuple) -> int:
        values = (*key[:4], json.dumps(key[4]), json.dumps(key[5]), json.dumps(key[6]))
        cur.execute("INSERT OR IGNORE INTO facts (dkim_aligned, spf_aligned, header_from, envelope_from, dkim, spf, reasons)"
                    " VALUES (?,?,?,?,?,?,?)", values)
        found = self._facts[key] = cur.execute(
            "SELECT id FROM facts WHERE dkim_aligned = ? AND spf_aligned = ? AND header_from = ? AND envelope_from = ?"
            " AND dkim = ? AND spf = ? AND reasons = ?", values).fetchone()[0]
        return found

    # --- reading ---------------------------------------------------------------------------------------------

    def read_before(self, obj: S3Object) -> ObjectRead | None:
        """What became of this version of the object (same bucket, key, ETag and size) when it was read, or
        ``None`` when it was not (never, or another version). An object without an ETag is never known."""
        if not obj.etag:
            return None
        found = self.db.execute(
            "SELECT status, reason FROM s3_objects WHERE bucket = ? AND key = ? AND etag = ? AND size = ?",
            (obj.bucket, obj.key, obj.etag, obj.size)).fetchone()
        return ObjectRead(obj, *found) if found else None

    def reports(self, domain: str) -> list[ReportHead]:
        """Every report about ``domain`` (policy_published/domain), oldest first."""
        cur = self.db.execute(
            "SELECT id, reporter, begin, end, p, pct, testing, bucket FROM reports WHERE domain = ? ORDER BY begin, id",
            (domain,))
        return [ReportHead(*row) for row in cur]

    def tallies(self, report_ids: Iterable[int]) -> list[Tally]:
        """The counts of the given reports' rows per day, source and facts (through their buckets)."""
        ids = sorted(set(report_ids))
        if not ids:
            return []
        with closing(self.db.cursor()) as cur:
            cur.execute("CREATE TEMP TABLE IF NOT EXISTS chosen (id INTEGER PRIMARY KEY)")
            cur.execute("DELETE FROM chosen")
            cur.executemany("INSERT INTO chosen VALUES (?)", ((i,) for i in ids))
            buckets = dict(cur.execute(
                "SELECT DISTINCT b.id, b.begin / ? FROM chosen c JOIN reports r ON r.id = c.id JOIN buckets b ON b.id = r.bucket",
                (DAY,)).fetchall())
            cur.execute("DELETE FROM chosen")
            cur.executemany("INSERT INTO chosen VALUES (?)", ((b,) for b in sorted(buckets)))
            rows = cur.execute("SELECT t.bucket, t.source, t.facts, t.count FROM chosen c JOIN tallies t ON t.bucket = c.id").fetchall()
            sources = {s for _, s, _, _ in rows}
            facts_ids = {f for _, _, f, _ in rows}
            addresses = dict(cur.execute("SELECT id, ip FROM addresses").fetchall()) if sources else {}
            facts = {row[0]: _facts(row[1:]) for row in cur.execute("SELECT * FROM facts") if row[0] in facts_ids}
        return [Tally(buckets[b], addresses[s], f, facts[f], n) for b, s, f, n in rows]


class StoreBusy(SendingDomainError):
    """Another process holds the report database: retry when it is done."""

    exit_code = 3


def _storage_error(path: Path, error: sqlite3.OperationalError) -> SendingDomainError:
    """A locked database is transient (3); a full disk or a read-only file is the user's to fix (2)."""
    if "locked" in str(error) or "busy" in str(error):
        return StoreBusy(f"{path}: another process has held the report database for {BUSY_WAIT:.0f} s; retry when it is done")
    return ConfigError(Problem("", "db-unwritable", f"cannot write the report database: {error}"), source=str(path))


def _facts(row: tuple) -> Facts:
    dkim_aligned, spf_aligned, header_from, envelope_from, dkim, spf, reasons = row
    return Facts(bool(dkim_aligned), bool(spf_aligned), header_from, envelope_from, _tuples(dkim), _tuples(spf),
                 _tuples(reasons))


def _tuples(text: str) -> tuple:
    return tuple(tuple(x) for x in json.loads(text))
