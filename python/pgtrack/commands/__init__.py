"""SQLTrack's ``sqltrack.commands`` package: ``setup(client, scripts)`` (SQLTrack 0.1.4, also as
``pgtrack.commands.setup``) and ``pgtrack.commands.migrate.migrate(client, paths)`` (its docs' name)."""
from .setup import setup

__all__ = ["setup"]
