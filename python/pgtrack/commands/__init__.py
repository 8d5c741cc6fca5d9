"""SQLTrack's ``sqltrack.commands`` package: ``pgtrack.commands.migrate.migrate(client, paths)``."""
