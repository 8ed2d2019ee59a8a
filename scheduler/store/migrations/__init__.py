"""Alembic migrations of the Kairos schema; apply them with ``scheduler.store.migrate``."""
