"""The unsandbox resource API: sessions, services, snapshots, images and keys.

Reach it through a client — ``client.sessions``, ``client.services``, ``client.snapshots``,
``client.images``, ``client.keys`` (plus ``client.health()`` and
``client.generate_image()``) — or through the reference-compatible module functions in
:mod:`un_async` (``create_session``, ``list_services``, ...). Every method is one
endpoint; every reply is a ``dict`` with typed attributes (:mod:`.models`).
"""

from un_async.resources.images import Images
from un_async.resources.keys import Keys
from un_async.resources.models import (
    EnvExport,
    EnvStatus,
    GeneratedImages,
    Health,
    Image,
    KeyValidation,
    ResourceRecord,
    Service,
    ServiceLogs,
    Session,
    ShellResult,
    SnapshotClone,
)
from un_async.resources.services import Services
from un_async.resources.sessions import Sessions
from un_async.resources.snapshots import Snapshots

__all__ = [
    "EnvExport",
    "EnvStatus",
    "GeneratedImages",
    "Health",
    "Image",
    "Images",
    "KeyValidation",
    "Keys",
    "ResourceRecord",
    "Service",
    "ServiceLogs",
    "Services",
    "Session",
    "Sessions",
    "ShellResult",
    "SnapshotClone",
    "Snapshots",
]
