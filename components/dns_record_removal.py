"""DnsRecordRemoval: a Pulumi dynamic resource that deletes one live Cloudflare DNS record when created.

Adoption (``sending_domain.core.adopt``) finds names where two competing records are live, say two SPF
records; one is imported and updated in place, and each other one becomes a ``DnsRecordRemoval`` so the same
``pulumi up`` deletes it (the preview lists it as a resource to create, named after the record). A record that
is already gone counts as deleted. Deleting the resource itself does nothing: the record is gone already.

The provider calls Cloudflare's API (``DELETE /zones/{zone_id}/dns_records/{record_id}``) with the token in
``CLOUDFLARE_API_TOKEN``, read in the provider process when it runs and never stored in the state. The module
path is part of the state (``pulumi-python:dynamic`` resources refer to their provider class), so it is frozen.
"""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ResourceProvider

API = "https://api.cloudflare.com/client/v4"
TOKEN_ENV = "CLOUDFLARE_API_TOKEN"
_TIMEOUT = 30.0  # seconds for the one request
_MAX_BODY = 65536  # bytes of an error answer read


class DnsRecordRemovalProvider(ResourceProvider):
    """Deletes the record on create; see the module docstring."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        delete_record(props.get("api") or API, props["zone_id"], props["record_id"])
        return CreateResult(f"{props['zone_id']}/{props['record_id']}", dict(props))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [k for k in ("zone_id", "record_id") if olds.get(k) != news.get(k)]
        return DiffResult(changes=bool(changed), replaces=changed, delete_before_replace=True)

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        return None  # the record was deleted when this resource was created


def delete_record(api: str, zone_id: str, record_id: str) -> None:
    """Delete one record through Cloudflare's API; a record already gone (404) is fine."""
    import json
    import os
    import urllib.error
    import urllib.request

    from sending_domain.core.text import printable

    token = os.environ.get(TOKEN_ENV, "")
    if not token:
        raise RuntimeError(f"set {TOKEN_ENV} to let the program delete DNS record {record_id} (or delete it by hand)")
    request = urllib.request.Request(
        f"{api.rstrip('/')}/zones/{zone_id}/dns_records/{record_id}",
        method="DELETE",
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=_TIMEOUT) as response:  # noqa: S310 - a fixed https API
            response.read(_MAX_BODY)
    except urllib.error.HTTPError as e:
        if e.code == 404:
            return
        body = e.read(_MAX_BODY).decode("utf-8", "replace")
        try:
            errors = "; ".join(str(err.get("message", err)) for err in json.loads(body).get("errors", []))
        except (ValueError, AttributeError):
            errors = body[:200]
        raise RuntimeError(f"Cloudflare refused to delete DNS record {record_id}: HTTP {e.code} {printable(errors)}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as e:
        raise RuntimeError(f"could not reach Cloudflare to delete DNS record {record_id}: {printable(str(e))}") from None


class DnsRecordRemoval(pulumi.dynamic.Resource, module="sending-domain", name="DnsRecordRemoval"):
    """One live DNS record to delete (a competing record found by adoption)."""

    zone_id: pulumi.Output[str]
    record_id: pulumi.Output[str]

    def __init__(
        self, name: str, zone_id: str, record_id: str, record: str, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        props = {"zone_id": zone_id, "record_id": record_id, "record": record, "api": API}
        super().__init__(DnsRecordRemovalProvider(), name, props, opts)
