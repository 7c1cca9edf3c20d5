"""Alembic's entry point, run by :func:`emoscope.web.migrations.upgrade` with the app's engine."""

from alembic import context

from emoscope.web.db import Base

engine = context.config.attributes["engine"]
with engine.begin() as connection:
    # render_as_batch: SQLite can alter a table only by copying it, which batch mode does
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
