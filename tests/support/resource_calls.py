"""Helpers for the resource API tests: snapshots made without a request, and the
requests the fake server recorded after a point."""

from __future__ import annotations

from typing import Any

from un_async.testing import FakeSnapshot, FakeUnsandbox, RecordedRequest

__all__ = ["OTHER_PUBLIC_KEY", "OTHER_SECRET_KEY", "OTP", "add_snapshot", "only_request"]

OTP = "246810"
"""The one-time code the ``sudo`` fixture makes the fake ask for."""
OTHER_PUBLIC_KEY = "unsb-pk-test-0000-0000-0009"
OTHER_SECRET_KEY = "unsb-sk-other-other-other-other"


def add_snapshot(fake: FakeUnsandbox, source_id: str, **fields: Any) -> str:
    """A snapshot of ``source_id`` (a session or service) in the fake's state, made
    without a request; ``fields`` set :class:`FakeSnapshot` attributes."""
    snapshot_id = fake.new_resource_id("unsb-snapshot-")
    source_type = "service" if source_id.startswith("unsb-service-") else "session"
    owner = (fake.services if source_type == "service" else fake.sessions)[source_id].account
    fake.snapshots[snapshot_id] = FakeSnapshot(
        id=snapshot_id,
        account=owner,
        name=fields.pop("name", "snap"),
        source_type=source_type,
        source_id=source_id,
        hot=fields.pop("hot", False),
        created_at=int(fake.server_time()),
        **fields,
    )
    return snapshot_id


def only_request(fake: FakeUnsandbox, count: int) -> RecordedRequest:
    """The one request the fake received after its first ``count`` (fails if there were
    none or several)."""
    new = fake.requests[count:]
    assert len(new) == 1, [(r.method, r.path) for r in new]
    return new[0]
