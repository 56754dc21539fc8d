"""``dmarc ingest`` and ``dmarc status`` end to end: files and S3 (moto, incremental), duplicates, a hostile batch,
exit codes, a database of the previous schema version."""

from __future__ import annotations

import gzip
import json
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.cli.test_json_contract import valid
from sending_domain.cli.main import main
from sending_domain.desired import read_lock
from sending_domain.dmarc_ingest import file_inputs, ingest, s3_inputs
from sending_domain.dmarc_store import SCHEMA_VERSION, ReportStore
from sending_domain.stack import load_stack
from tests.dmarc_reports import example_streams, unaligned_partner, write_report_set

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "stacks" / "Pulumi.example.yaml"
SETTINGS = load_stack(config_file=EXAMPLE).settings.domain("example.com")
LOCK = read_lock(ROOT / "stacks" / "spf.lock.json")
TINY_REPORT = (b"<feedback><report_metadata><org_name>fixed</org_name><report_id>1</report_id><date_range><begin>0</begin>"
               b"<end>10</end></date_range></report_metadata><policy_published><domain>example.com</domain><p>none</p>"
               b"</policy_published></feedback>")
ENTITY_BOMB = (b'<?xml version="1.0"?><!DOCTYPE b [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
               b"<feedback>&b;</feedback>")


@pytest.fixture
def reports(tmp_path: Path) -> Path:
    assert LOCK is not None
    folder = tmp_path / "reports"
    write_report_set(folder, "example.com", example_streams(SETTINGS, LOCK).values(), first_day=20_400, days=3)
    return folder


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_ingest_stores_every_report_once(tmp_path: Path, reports: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "r.sqlite"
    code, out, _ = run(capsys, "dmarc", "ingest", str(reports), "--db", str(db), "--jobs", "1")
    assert code == 0 and out.splitlines()[-1].startswith("12 stored (")
    assert "  warning: gzip inside gzip (double gzip)" in out
    # the same files again, and the same report under another name: known, not stored twice
    shutil.copy(next(reports.glob("Yahoo*.xml.gz")), tmp_path / "copy.xml.gz")
    code, out, _ = run(capsys, "dmarc", "ingest", str(reports), str(tmp_path / "copy.xml.gz"), "--db", str(db), "--json")
    document = valid("dmarc-ingest", out)
    assert code == 0 and document["counts"] == {"stored": 0, "duplicate": 13, "refused": 0, "skipped": 0, "known": 0}
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT COUNT(*) FROM reports").fetchone() == (12,)
        rows, messages = con.execute("SELECT COUNT(*), SUM(count) FROM rows").fetchone()
    assert rows > 12 and messages > 0


def test_a_report_with_a_known_id_and_new_content_is_a_duplicate(tmp_path: Path, reports: Path) -> None:
    first = next(reports.glob("Outlook*.xml"))
    changed = tmp_path / "changed.xml"
    changed.write_bytes(first.read_bytes().replace(b"<count>", b"<count>1", 1))
    with ReportStore(tmp_path / "r.sqlite") as store:
        statuses = [o.status for o in ingest(file_inputs([str(first), str(changed)]), store)]
    assert statuses == ["stored", "duplicate"]


def test_a_hostile_batch_names_each_bad_input_and_stores_the_rest(tmp_path: Path, reports: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "a-bomb.xml").write_bytes(ENTITY_BOMB)
    good = next(reports.glob("Yahoo*.xml.gz")).read_bytes()
    (bad / "b-truncated.xml.gz").write_bytes(good[: len(good) // 2])
    (bad / "c-good.xml.gz").write_bytes(good)
    (bad / "d-junk.eml").write_bytes(b"Subject: hi\n\nno report\n")
    code, out, err = run(capsys, "dmarc", "ingest", str(bad), str(tmp_path / "missing"), "--db", str(tmp_path / "r.sqlite"))
    assert code == 2 and err == ""
    lines = [line for line in out.splitlines() if not line.startswith("  ")]
    assert [line.split()[0] for line in lines[:-1]] == ["refused", "refused", "stored", "skipped", "refused"]
    assert lines[-2] == f"refused    {tmp_path / 'missing'}: no such file or folder"
    assert f"refused    {bad / 'a-bomb.xml'}: the XML declares a DTD or entities (DTDForbidden)" in out
    assert f"refused    {bad / 'b-truncated.xml.gz'}: truncated gzip" in out
    assert f"stored     {bad / 'c-good.xml.gz'}: yahoo " in out
    assert f"skipped    {bad / 'd-junk.eml'}: an email without a report attached" in out  # spam is no error
    assert out.splitlines()[-1].startswith("1 stored (")


def test_worker_processes_store_the_same(tmp_path: Path, reports: Path) -> None:
    with ReportStore(tmp_path / "one.sqlite") as one, ReportStore(tmp_path / "two.sqlite") as two:
        a = ingest(file_inputs([str(reports)]), one, jobs=1)
        b = ingest(file_inputs([str(reports)]), two, jobs=2)
        assert a == b
        query = "SELECT source_ip, count, disposition, dkim_aligned, dkim, spf, reasons FROM report_rows ORDER BY report, rowid"
        assert one.db.execute(query).fetchall() == two.db.execute(query).fetchall()


@mock_aws
def test_ingest_from_s3(tmp_path: Path, reports: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    s3 = boto3.client("s3", region_name="eu-west-1")
    s3.create_bucket(Bucket="reports", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    for path in sorted(reports.iterdir()):
        s3.put_object(Bucket="reports", Key=f"inbound/{path.name}", Body=path.read_bytes())
    s3.put_object(Bucket="reports", Key="inbound/spam", Body=b"Subject: buy\n\nnow\n")
    s3.put_object(Bucket="reports", Key="other/x.xml", Body=b"<feedback/>")
    with ReportStore(tmp_path / "r.sqlite") as store:
        outcomes = ingest(s3_inputs("s3://reports/inbound/", s3), store)
    assert sorted({o.status for o in outcomes}) == ["skipped", "stored"]
    assert [o.name for o in outcomes if o.status == "skipped"] == ["s3://reports/inbound/spam"]
    assert sum(o.status == "stored" for o in outcomes) == 12
    s3.put_object(Bucket="reports", Key="inbound/zz-truncated.xml.gz", Body=gzip.compress(b"<feedback>" * 100)[:-9])
    code, out, _ = run(capsys, "dmarc", "ingest", "s3://reports/inbound/", "--db", str(tmp_path / "r.sqlite"), "--json")
    # the objects read above are known and not downloaded again; only the new one is read
    assert code == 2 and json.loads(out)["counts"] == {"stored": 0, "duplicate": 0, "refused": 1, "skipped": 0, "known": 13}
    assert json.loads(out)["outcomes"][-1]["name"] == "s3://reports/inbound/zz-truncated.xml.gz"
    code, _, err = run(capsys, "dmarc", "ingest", "s3://no-such-bucket/x", "--db", str(tmp_path / "r.sqlite"))
    assert code == 2 and "s3://no-such-bucket/x: S3 refused: NoSuchBucket" in err


# --- S3, incrementally: an object read once is not downloaded again while its ETag stays the same ---------------


class Downloads:
    """The GetObject calls made by clients of the default boto3 session (the CLI's included), by key."""

    def __init__(self) -> None:
        self.keys: list[str] = []

    def __call__(self, params: dict, **_: object) -> None:
        self.keys.append(params["Key"])

    def take(self) -> list[str]:
        keys, self.keys = sorted(self.keys), []
        return keys


@pytest.fixture
def bucket(reports: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Downloads]]:
    """A moto bucket ``reports`` holding the report set, an email without a report and a truncated gzip under
    ``inbound/``, and the downloads counted through botocore's event hook."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    with mock_aws():
        boto3.setup_default_session(region_name="eu-west-1")
        downloads = Downloads()
        boto3.DEFAULT_SESSION.events.register("provide-client-params.s3.GetObject", downloads)
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="reports", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        for path in sorted(reports.iterdir()):
            s3.put_object(Bucket="reports", Key=f"inbound/{path.name}", Body=path.read_bytes())
        s3.put_object(Bucket="reports", Key="inbound/spam", Body=b"Subject: buy\n\nnow\n")
        s3.put_object(Bucket="reports", Key="inbound/zz-bad.xml.gz", Body=gzip.compress(b"<feedback>" * 100)[:-9])
        yield s3, downloads


def ingest_s3(capsys: pytest.CaptureFixture[str], db: Path, *flags: str) -> tuple[int, dict]:
    code, out, _ = run(capsys, "dmarc", "ingest", "s3://reports/inbound/", "--db", str(db), "--jobs", "1", "--json", *flags)
    return code, valid("dmarc-ingest", out)


def test_s3_a_second_run_downloads_nothing(tmp_path: Path, bucket: tuple[Any, Downloads],
                                           capsys: pytest.CaptureFixture[str]) -> None:
    _, downloads = bucket
    db = tmp_path / "r.sqlite"
    code, first = ingest_s3(capsys, db)
    assert code == 2 and first["counts"] == {"stored": 12, "duplicate": 0, "refused": 1, "skipped": 1, "known": 0}
    assert len(downloads.take()) == 14
    code, second = ingest_s3(capsys, db)
    assert code == 0 and downloads.take() == []  # listed, not downloaded; the refusal is not an error again
    assert second["counts"] == {"stored": 0, "duplicate": 0, "refused": 0, "skipped": 0, "known": 14}
    known = {o["name"].rsplit("/", 1)[1]: o for o in second["outcomes"]}
    assert known["zz-bad.xml.gz"]["status"] == "known" and known["zz-bad.xml.gz"]["reason"].startswith("refused before: truncated gzip")
    assert known["spam"]["reason"] is None and all(o["rows"] == 0 and o["reporter"] is None for o in known.values())
    # people read one line, not one per object: the bucket grows every day
    code, out, _ = run(capsys, "dmarc", "ingest", "s3://reports/inbound/", "--db", str(db))
    assert code == 0 and downloads.take() == []
    assert out == (f"0 stored (0 rows), 0 already known, 0 refused, 0 not reports, 14 S3 objects read before and"
                   f" unchanged, not downloaded (1 of them refused then; --rescan reads them again); database {db}\n")
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT status, COUNT(*) FROM s3_objects GROUP BY status").fetchall() == [("read", 13), ("refused", 1)]


def test_s3_a_changed_object_is_read_again_and_rescan_reads_all(tmp_path: Path, bucket: tuple[Any, Downloads],
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    s3, downloads = bucket
    db = tmp_path / "r.sqlite"
    ingest_s3(capsys, db)
    downloads.take()
    # the bad object replaced by a good report under the same key: a new ETag, read again
    s3.put_object(Bucket="reports", Key="inbound/zz-bad.xml.gz", Body=gzip.compress(TINY_REPORT))
    code, document = ingest_s3(capsys, db)
    assert code == 0 and downloads.take() == ["inbound/zz-bad.xml.gz"]
    assert document["counts"] == {"stored": 1, "duplicate": 0, "refused": 0, "skipped": 0, "known": 13}
    assert [o["reporter"] for o in document["outcomes"] if o["status"] == "stored"] == ["fixed"]
    code, document = ingest_s3(capsys, db, "--rescan")
    assert code == 0 and len(downloads.take()) == 14
    assert document["counts"] == {"stored": 0, "duplicate": 13, "refused": 0, "skipped": 1, "known": 0}
    assert ingest_s3(capsys, db)[1]["counts"]["known"] == 14 and downloads.take() == []


def test_s3_an_object_over_the_cap_is_refused_unread_and_remembered(tmp_path: Path, bucket: tuple[Any, Downloads],
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import sending_domain.dmarc_ingest as dmarc_ingest

    s3, downloads = bucket
    monkeypatch.setattr(dmarc_ingest, "MAX_INPUT", 50)
    url = "s3://reports/inbound/"
    with ReportStore(tmp_path / "r.sqlite") as store:
        first = ingest(s3_inputs(url, s3, store.read_before), store, jobs=2)
        assert downloads.take() == ["inbound/spam", "inbound/zz-bad.xml.gz"]  # the two objects under 50 bytes
        refused = [o for o in first if o.status == "refused"]
        assert sum(o.reason.endswith("bytes, over the cap of 50 for one input") for o in refused) == 12 == len(refused) - 1
        second = ingest(s3_inputs(url, s3, store.read_before), store, jobs=2)
    assert downloads.take() == [] and {o.status for o in second} == {"known"}
    assert [o.reason for o in second if o.reason] == [f"refused before: {o.reason}" for o in refused]


def test_s3_an_object_is_remembered_only_with_its_reports(tmp_path: Path, bucket: tuple[Any, Downloads],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    s3, downloads = bucket
    url = "s3://reports/inbound/"
    with ReportStore(tmp_path / "r.sqlite") as store:
        monkeypatch.setattr(store, "_add_one", lambda *a: (_ for _ in ()).throw(OSError("disk gone")))
        with pytest.raises(OSError):
            ingest(s3_inputs(url, s3, store.read_before), store)
        monkeypatch.undo()
        assert store.db.execute("SELECT COUNT(*) FROM s3_objects").fetchone() == (0,)
        downloads.take()
        again = ingest(s3_inputs(url, s3, store.read_before), store)
    assert len(downloads.take()) == 14 and sum(o.status == "stored" for o in again) == 12


def test_a_database_of_the_previous_version_opens_and_is_upgraded(tmp_path: Path, bucket: tuple[Any, Downloads],
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "v1.sqlite"
    with closing(sqlite3.connect(db)) as con:
        con.executescript((ROOT / "tests" / "fixtures" / "dmarc" / "report-db-v1.sql").read_text(encoding="utf-8"))
        assert con.execute("PRAGMA user_version").fetchone() == (1,)
    code, out, _ = run(capsys, "dmarc", "status", "--config", str(EXAMPLE), "--domain", "example.com", "--db", str(db), "--json")
    assert code == 0 and valid("dmarc-status", out)["domains"][0]["verdict"] == "INSUFFICIENT_EVIDENCE"
    with ReportStore(db, create=False) as store:
        assert len(store.reports("example.com")) == 4 and store.tallies(h.id for h in store.reports("example.com"))
    with closing(sqlite3.connect(db)) as con:  # status only reads: the file is upgraded by the first ingest
        assert con.execute("PRAGMA user_version").fetchone() == (1,)
    code, document = ingest_s3(capsys, db)  # the four reports the old file holds are known by their ids
    assert code == 2 and document["counts"] == {"stored": 8, "duplicate": 4, "refused": 1, "skipped": 1, "known": 0}
    assert ingest_s3(capsys, db)[1]["counts"]["known"] == 14
    with closing(sqlite3.connect(db)) as con:
        assert con.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,) == (2,)
        assert con.execute("SELECT COUNT(*) FROM reports").fetchone() == (12,)


def test_a_database_of_a_newer_version_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "new.sqlite"
    with closing(sqlite3.connect(db)) as con:
        con.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    code, _, err = run(capsys, "dmarc", "ingest", str(tmp_path / "none"), "--db", str(db))
    assert code == 2 and f"schema version {SCHEMA_VERSION + 1}; this sending-domain reads {SCHEMA_VERSION} and older" in err


def _stack_with_reports(tmp_path: Path, streams: dict) -> Path:
    stack = tmp_path / "stacks"
    stack.mkdir(parents=True)
    text = EXAMPLE.read_text(encoding="utf-8").replace(
        "          force: false                # true allows",
        "          gate: {selectors: {'include:_spf.partner.example.net': [partner1], 'ip4:192.0.2.0/24': [office1]}}\n"
        "          force: false                # true allows",
    )
    (stack / "Pulumi.t.yaml").write_text(text, encoding="utf-8")
    shutil.copy(ROOT / "stacks" / "spf.lock.json", stack / "spf.lock.json")
    import time

    today = int(time.time()) // 86400
    write_report_set(tmp_path / "in", "example.com", streams.values(), first_day=today - 20, days=20)
    assert main(["dmarc", "ingest", str(tmp_path / "in"), "--db", str(stack / "dmarc-reports.sqlite"), "--jobs", "1"]) == 0
    return stack / "Pulumi.t.yaml"


def test_status_cli_pass_and_fail(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert LOCK is not None
    streams = example_streams(SETTINGS, LOCK)
    config = _stack_with_reports(tmp_path / "a", streams)
    capsys.readouterr()
    code, out, _ = run(capsys, "dmarc", "status", "--config", str(config), "--domain", "example.com")
    assert code == 0 and out.startswith("example.com: p=none → p=quarantine pct=10: PASS\n")
    html = tmp_path / "status.html"
    code, out, _ = run(capsys, "dmarc", "status", "--config", str(config), "--domain", "example.com", "--json", "--html", str(html))
    document = valid("dmarc-status", out)
    assert code == 0 and document["kind"] == "dmarc-status" and document["domains"][0]["verdict"] == "PASS"
    page = html.read_text(encoding="utf-8")
    assert page.count("<svg") == 1 and "http" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    # one line for all known senders and one per sender with mail (the ip6 sender has none), a dot per day each
    assert page.count("<polyline") == 1 + 4 and page.count("<circle") == (1 + 4) * 14
    # news.example.org has no reports at all
    code, out, _ = run(capsys, "dmarc", "status", "--config", str(config), "--markdown")
    assert code == 0 and "### news.example.org: p=none → p=quarantine pct=10: INSUFFICIENT\\_EVIDENCE" not in out
    assert "news.example.org: p=none → p=quarantine pct=10: INSUFFICIENT_EVIDENCE" in out

    failing = _stack_with_reports(tmp_path / "b", unaligned_partner(streams))
    capsys.readouterr()
    code, out, _ = run(capsys, "dmarc", "status", "--config", str(failing), "--domain", "example.com")
    assert code == 1 and out.startswith("example.com: p=none → p=quarantine pct=10: FAIL\n")
    assert "    - [sender-aligned] include:_spf.partner.example.net: 0 % of" in out


def test_status_without_a_database_is_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "dmarc", "status", "--config", str(EXAMPLE), "--db", str(tmp_path / "none.sqlite"))
    assert code == 2 and "no report database at" in err and "Traceback" not in err


def test_a_database_of_another_kind_is_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "x.sqlite"
    db.write_bytes(b"not a database at all" * 100)
    code, _, err = run(capsys, "dmarc", "ingest", str(tmp_path), "--db", str(db))
    assert code == 2 and "cannot use" in err and "as the report database" in err


def test_report_text_is_escaped_before_it_is_printed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    xml = gzip.compress("<feedback><report_metadata><org_name>evil\u202e\u2028::error::x</org_name><report_id>1</report_id>".encode()
                        + b"<date_range><begin>0</begin><end>10</end></date_range></report_metadata>"
                        + b"<policy_published><domain>example.com</domain><p>none</p></policy_published></feedback>")
    (tmp_path / "e.xml.gz").write_bytes(xml)
    code, out, _ = run(capsys, "dmarc", "ingest", str(tmp_path / "e.xml.gz"), "--db", str(tmp_path / "r.sqlite"))
    assert code == 0 and "\u202e" not in out and "\u2028" not in out and "evil\\u202e\\u2028::error::x" in out


def test_a_database_another_ingest_holds_is_transient(tmp_path: Path, reports: Path, capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import sending_domain.dmarc_store as dmarc_store

    db = tmp_path / "r.sqlite"
    ReportStore(db).close()
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    monkeypatch.setattr(dmarc_store, "BUSY_WAIT", 0.2)
    try:
        code, _, err = run(capsys, "dmarc", "ingest", str(reports), "--db", str(db), "--jobs", "1")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert code == 3 and "another process has held the report database" in err


def test_s3_out_of_reach_is_transient() -> None:
    from botocore.exceptions import EndpointConnectionError

    from sending_domain.dmarc_ingest import TransientError

    class Unreachable:
        def get_paginator(self, name: str) -> object:
            raise EndpointConnectionError(endpoint_url="https://s3.eu-west-1.amazonaws.com")

    with pytest.raises(TransientError, match="s3://reports/inbound/: cannot reach S3") as caught:
        list(s3_inputs("s3://reports/inbound/", Unreachable()))
    assert caught.value.exit_code == 3
