"""Test support: a fake unsandbox server with fault injection.

``FakeUnsandbox`` serves the whole unsandbox API over loopback with real signature checks,
an in-memory job lifecycle, stateful sessions, services, snapshots and images, and
injectable faults; ``python -m un_async.testing`` runs it in a separate process.
"""

from .faults import (
    SPEC_DURATIONS,
    DurationModel,
    Fault,
    FaultKind,
    LatencyModel,
    LatencySource,
    error_mix,
)
from .listing import ListingPathology
from .programs import ScriptedOutput, emulate
from .server import (
    SPEC_LANGUAGES,
    TERMINAL_STATUSES,
    TEST_PUBLIC_KEY,
    TEST_SECRET_KEY,
    FakeAccount,
    FakeImage,
    FakeJob,
    FakeService,
    FakeSession,
    FakeSnapshot,
    FakeUnsandbox,
    RecordedRequest,
)

__all__ = [
    "SPEC_DURATIONS",
    "SPEC_LANGUAGES",
    "TERMINAL_STATUSES",
    "TEST_PUBLIC_KEY",
    "TEST_SECRET_KEY",
    "DurationModel",
    "FakeAccount",
    "FakeImage",
    "FakeJob",
    "FakeService",
    "FakeSession",
    "FakeSnapshot",
    "FakeUnsandbox",
    "Fault",
    "FaultKind",
    "LatencyModel",
    "LatencySource",
    "ListingPathology",
    "RecordedRequest",
    "ScriptedOutput",
    "emulate",
    "error_mix",
]
