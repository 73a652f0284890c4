"""Alembic environment: always handed a live connection by callcenter.store.migrate."""

from __future__ import annotations

from alembic import context

from callcenter.store.registry import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `callcenter migrate`, which supplies the connection")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
