"""Commands mirroring the SDK's resources: ``languages``, ``jobs``, ``snapshots``,
``sessions``, ``services``, ``images`` and ``key``; :mod:`.common` holds what they share."""

__all__: list[str] = []
