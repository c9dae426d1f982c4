"""Commands mirroring the SDK's resources: ``languages``, ``jobs``, ``snapshots``."""

__all__: list[str] = []
