"""Fixtures of the web app's tests: a PostgreSQL server (``$EMOSCOPE_TEST_DATABASE_URL``, or a
throw-away cluster started here; skipped with the reason when PostgreSQL is not installed), a fresh
database per test on SQLite or PostgreSQL, and a running app (FastAPI's TestClient) on it."""

from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path

import pytest

from web import pgcluster
from web.support import Server, start_server

BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The URL of a PostgreSQL server whose user may create databases."""
    given = os.environ.get("EMOSCOPE_TEST_DATABASE_URL")
    if given:
        yield given
        return
    if pgcluster.binaries() is None:
        pytest.skip("PostgreSQL is not installed (no initdb; `make install` adds Debian's postgresql): "
                    "PostgreSQL tests skipped")
    folder = Path(tempfile.mkdtemp(prefix="emoscope-pg-"))
    try:
        url = pgcluster.start(folder)
    except Exception as exc:
        pgcluster.stop(folder)
        pytest.fail(f"could not start a PostgreSQL cluster: {exc}")
    yield url
    pgcluster.stop(folder)


def _fresh_postgres_database(server_url: str):
    import psycopg

    name = f"emoscope_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(server_url, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return server_url.rsplit("/", 1)[0] + f"/{name}", drop


@pytest.fixture
def database_url(request) -> str | None:
    """None for SQLite (the default, inside the data folder), else a new empty PostgreSQL database."""
    if request.param == "sqlite":
        yield None
        return
    url, drop = _fresh_postgres_database(request.getfixturevalue("postgres_server"))
    yield url
    drop()


def pytest_generate_tests(metafunc):
    if "database_url" in metafunc.fixturenames:
        metafunc.parametrize("database_url", BACKENDS, indirect=True)


@pytest.fixture
def make_server(tmp_path, database_url):
    """``make_server(**settings)``: the app running on this test's database and a fresh data folder."""
    clients = []

    def make(**settings) -> Server:
        client, config = start_server(tmp_path, database_url, **settings)
        clients.append(client.__enter__())
        return Server(client, config, config.data_dir)

    yield make
    for client in reversed(clients):
        client.__exit__(None, None, None)
