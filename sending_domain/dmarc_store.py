"""The aggregate reports read so far, in one SQLite file (the standard library's embedded database).

Two tables: ``reports`` (who reported, the period, the policy the reporter found, the quirks it showed) and
``rows`` (one per ``<record>``: source address, count, disposition, the DKIM and SPF alignment of
``policy_evaluated``, header and envelope from, the DKIM signatures, the SPF results and the override reasons,
the last three as JSON lists). A report is stored once: by (reporter, report id) and by the SHA-256 of its XML.

The file is written in WAL mode, one transaction per batch of reports, so a crash loses at most the batch being
written and readers (``dmarc status``) never see half a report.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from contextlib import closing
from pathlib import Path

from sending_domain.core.dmarc_evidence import RowGroup
from sending_domain.core.dmarc_gate import ReportHead
from sending_domain.core.dmarc_report import Report
from sending_domain.core.errors import ConfigError, Problem

SCHEMA_VERSION = 1
DB_FILE = "dmarc-reports.sqlite"

_SCHEMA = """
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
    UNIQUE (reporter, report_id)
);
CREATE INDEX IF NOT EXISTS reports_domain_begin ON reports (domain, begin);
CREATE TABLE IF NOT EXISTS rows (
    report INTEGER NOT NULL REFERENCES reports (id),
    source_ip TEXT NOT NULL,
    count INTEGER NOT NULL,
    disposition TEXT NOT NULL,
    dkim_aligned INTEGER NOT NULL,
    spf_aligned INTEGER NOT NULL,
    header_from TEXT NOT NULL,
    envelope_from TEXT NOT NULL,
    dkim TEXT NOT NULL,
    spf TEXT NOT NULL,
    reasons TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS rows_report ON rows (report);
"""

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
            self.db = sqlite3.connect(path, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self._schema()
        except sqlite3.DatabaseError as e:
            raise ConfigError(Problem("", "db-unreadable", f"cannot use {path} as the report database: {e}"), source=str(path)) from None

    def _schema(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version not in (0, SCHEMA_VERSION):
            message = f"the report database has schema version {version}; this sending-domain reads {SCHEMA_VERSION}"
            raise ConfigError(Problem("", "db-version", message), source=str(self.path))
        self.db.executescript(_SCHEMA)
        self.db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def __enter__(self) -> ReportStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()

    # --- writing ---------------------------------------------------------------------------------------------

    def add(self, reports: Iterable[tuple[Report, str]]) -> list[str]:
        """Store each (report, source) in one transaction; per report ``stored`` or ``duplicate``."""
        outcomes: list[str] = []
        cur = self.db.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            for report, source in reports:
                outcomes.append(self._add_one(cur, report, source))
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        return outcomes

    def _add_one(self, cur: sqlite3.Cursor, report: Report, source: str) -> str:
        if cur.execute("SELECT 1 FROM reports WHERE (reporter = ? AND report_id = ?) OR sha256 = ?",
                       (report.reporter, report.report_id, report.sha256)).fetchone():
            return "duplicate"
        cur.execute(
            "INSERT INTO reports (reporter, report_id, org_name, email, begin, end, domain, p, sp, pct, np, testing,"
            " adkim, aspf, format, source, sha256, warnings, rows) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (report.reporter, report.report_id, report.org_name, report.email, report.begin, report.end,
             report.domain, report.p, report.sp, report.pct, report.np, report.testing, report.adkim, report.aspf,
             report.format, source, report.sha256, json.dumps(list(report.warnings)), len(report.rows)),
        )
        rid = cur.lastrowid
        dumps = json.dumps
        cur.executemany(
            "INSERT INTO rows VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            ((rid, r.source_ip, r.count, r.disposition, r.dkim_aligned, r.spf_aligned, r.header_from, r.envelope_from,
              dumps(r.dkim), dumps(r.spf), dumps(r.reasons)) for r in report.rows),
        )
        return "stored"

    # --- reading ---------------------------------------------------------------------------------------------

    def reports(self, domain: str) -> list[ReportHead]:
        """Every report about ``domain`` (policy_published/domain), oldest first."""
        cur = self.db.execute(
            "SELECT id, reporter, begin, end, p, pct, testing FROM reports WHERE domain = ? ORDER BY begin, id",
            (domain,))
        return [ReportHead(*row) for row in cur]

    def row_groups(self, report_ids: Iterable[int]) -> list[RowGroup]:
        """The rows of the given reports, summed over rows with the same facts on the same day."""
        ids = sorted(set(report_ids))
        if not ids:
            return []
        with closing(self.db.cursor()) as cur:
            cur.execute("CREATE TEMP TABLE IF NOT EXISTS chosen (id INTEGER PRIMARY KEY)")
            cur.execute("DELETE FROM chosen")
            cur.executemany("INSERT INTO chosen VALUES (?)", ((i,) for i in ids))
            rows = cur.execute(
                "SELECT r.begin / 86400 AS day, w.source_ip, w.dkim_aligned, w.spf_aligned, w.header_from,"
                " w.envelope_from, w.dkim, w.spf, w.reasons, SUM(w.count)"
                " FROM chosen c JOIN reports r ON r.id = c.id JOIN rows w ON w.report = c.id"
                " GROUP BY day, w.source_ip, w.dkim_aligned, w.spf_aligned, w.header_from, w.envelope_from,"
                " w.dkim, w.spf, w.reasons"
            ).fetchall()
        return [_group(row) for row in rows]


def _group(row: tuple) -> RowGroup:
    day, ip, dkim_aligned, spf_aligned, header_from, envelope_from, dkim, spf, reasons, count = row
    return RowGroup(day, ip, bool(dkim_aligned), bool(spf_aligned), header_from, envelope_from,
                    _triples(dkim), _triples(spf), tuple(tuple(x) for x in json.loads(reasons)), int(count))


def _triples(text: str) -> tuple:
    return tuple(tuple(x) for x in json.loads(text))
