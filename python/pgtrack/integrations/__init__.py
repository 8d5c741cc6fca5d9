"""Integrations with training frameworks, each in its own module and extra:

- ``pgtrack.integrations.lightning.PgtrackLogger`` (``pip install "pgtrack[lightning]"``)
- ``pgtrack.integrations.transformers.PgtrackCallback`` (``pgtrack[transformers]``)
- ``pgtrack.integrations.keras.PgtrackCallback`` (``pgtrack[keras]``)
- ``pgtrack.integrations.optuna`` (``pgtrack[optuna]``)

Nothing here is imported by ``import pgtrack``. docs/integrations.md has the details.
"""
