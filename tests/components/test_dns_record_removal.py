"""DnsRecordRemovalProvider against a stand-in Cloudflare API on loopback: the request it sends, 404 as done,
errors with Cloudflare's message and never the token. Dynamic providers never run under mocks, so the provider
class is called directly."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from components.dns_record_removal import DnsRecordRemovalProvider

TOKEN = "cf-test-token-0123456789"


class FakeCloudflare(BaseHTTPRequestHandler):
    status = 200
    requests: list[tuple[str, str, str | None]] = []

    def do_DELETE(self) -> None:  # noqa: N802 - http.server's method name
        FakeCloudflare.requests.append(("DELETE", self.path, self.headers.get("Authorization")))
        body = {"success": self.status == 200, "errors": [] if self.status == 200 else [{"code": 10000, "message": "Authentication error\x1b[31m"}]}
        data = json.dumps(body).encode()
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", TOKEN)
    FakeCloudflare.requests, FakeCloudflare.status = [], 200
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeCloudflare)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/client/v4"
    server.shutdown()
    server.server_close()


def props(api: str) -> dict[str, Any]:
    return {"zone_id": "z" * 32, "record_id": "rec-b", "record": "example.com TXT 'v=spf1 mx -all'", "api": api}


def test_create_deletes_the_record_with_the_token(api: str) -> None:
    result = DnsRecordRemovalProvider().create(props(api))
    assert FakeCloudflare.requests == [("DELETE", f"/client/v4/zones/{'z' * 32}/dns_records/rec-b", f"Bearer {TOKEN}")]
    assert result.id == f"{'z' * 32}/rec-b" and TOKEN not in json.dumps(result.outs)


def test_a_record_already_gone_counts_as_deleted(api: str) -> None:
    FakeCloudflare.status = 404
    DnsRecordRemovalProvider().create(props(api))
    assert len(FakeCloudflare.requests) == 1


def test_a_refusal_names_the_record_and_escapes_the_answer_but_never_the_token(api: str) -> None:
    FakeCloudflare.status = 403
    with pytest.raises(RuntimeError) as caught:
        DnsRecordRemovalProvider().create(props(api))
    message = str(caught.value)
    assert message == "Cloudflare refused to delete DNS record rec-b: HTTP 403 Authentication error\\x1b[31m"
    assert TOKEN not in message


def test_without_a_token_it_says_what_to_set(api: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLOUDFLARE_API_TOKEN")
    with pytest.raises(RuntimeError, match="set CLOUDFLARE_API_TOKEN"):
        DnsRecordRemovalProvider().create(props(api))
    assert FakeCloudflare.requests == []


def test_deleting_the_resource_touches_nothing(api: str) -> None:
    DnsRecordRemovalProvider().delete("z/rec-b", props(api))
    assert FakeCloudflare.requests == []
