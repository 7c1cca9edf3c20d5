"""Every id in every route (walked from the app object, so a new route is covered without editing this
file), and the question a query names, set to hostile values: traversal, URL-encoded and double-encoded
traversal, NUL, 10,000 characters, unicode, SQL. Each answer is a 4xx with one line of JSON, never a 500,
on SQLite and on PostgreSQL (which refuses NUL in text). A database the server cannot use at start is one
`error:` line and a non-zero exit."""

from __future__ import annotations

import os
import sqlite3

import pytest
from helpers import run_emoscope

from web.app_routes import app_routes
from web.support import AUTH
from web.test_api import one_line_error

HOSTILE = {
    "traversal": "..%2F..%2Femoscope.db",
    "dot-dot": "%2e%2e",
    "double-encoded": "%252e%252e%252fetc%252fpasswd",
    "nul": "a%00b",
    "long": "x" * 10_000,
    "unicode": "%C3%A9t%C3%A9-%F0%9F%98%80-\u0645\u0631\u062d\u0628\u0627",
    "sql": "1'%20OR%20'1'='1",
    "uuid-with-nul": "6c1d1f1e-0000-4000-8000-00000000000%00",
    "upper-case-uuid": "6C1D1F1E-0000-4000-8000-000000000001",
}


def test_every_route_id_fuzzed_is_a_4xx_never_a_500(make_server):
    server = make_server()
    candidate_id = server.create_candidate()
    checked = 0
    for route in app_routes(server.client.app):
        if not route.params:
            continue
        for kind, value in HOSTILE.items():
            for param in route.params:
                # one hostile id at a time, the others real, so each is the one that is judged
                url = route.url({"candidate_id": candidate_id, "name": "x.png", param: value, "*": value})
                for method in route.methods:
                    response = server.client.request(method, url, headers=AUTH, follow_redirects=False)
                    assert 400 <= response.status_code < 500, (method, route.path, kind, response.text[:300])
                    one_line_error(response, response.status_code)
                    checked += 1
    assert checked >= 15 * len(HOSTILE)
    assert server.client.get(f"/v1/candidates/{candidate_id}", headers=AUTH).status_code == 200


@pytest.mark.parametrize("path", ["/v1/interviews", "/v1/compare", "/compare"])
def test_a_hostile_question_in_a_query_is_a_4xx_or_an_empty_answer(make_server, path):
    server = make_server()
    for kind, value in HOSTILE.items():
        response = server.client.get(f"{path}?question={value}", headers=AUTH)
        assert response.status_code < 500, (path, kind, response.text[:300])
        if response.status_code >= 400:
            one_line_error(response, response.status_code)
        elif path.startswith("/v1"):
            assert response.json() == [], (path, kind)


def _migrated_database(folder) -> None:
    from emoscope.web.app import open_database

    open_database(f"sqlite:///{folder / 'emoscope.db'}").dispose()


def _refused(tmp_path, *args: str) -> str:
    from web.support import free_port

    result = run_emoscope("serve", "--port", str(free_port()), *args, cwd=tmp_path, timeout=120,
                          env={"EMOSCOPE_TOKEN": "test-token"})
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: database "), result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    return lines[0]


def test_a_corrupt_database_file_at_start_is_one_line_and_a_non_zero_exit(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "emoscope.db").write_bytes(b"this is not SQLite, it only has its name\n" * 200)
    assert "file is not a database" in _refused(tmp_path, "--data-dir", str(data))
    assert (data / "emoscope.db").read_bytes().startswith(b"this is not SQLite")  # left as it was


def test_a_read_only_database_at_start_is_one_line_and_a_non_zero_exit(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    _migrated_database(data)
    # opened read-only (root writes through a file's permissions, so that is the part tested as root)
    url = f"sqlite:///file:{data / 'emoscope.db'}?mode=ro&uri=true"
    assert "readonly database" in _refused(tmp_path, "--data-dir", str(data), "--database-url", url)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to a read-only file: run as a user to test permissions")
def test_a_database_file_without_write_permission_is_refused(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    _migrated_database(data)
    (data / "emoscope.db").chmod(0o444)
    assert "readonly database" in _refused(tmp_path, "--data-dir", str(data))


def test_the_sqlite_module_reads_what_the_tests_wrote(tmp_path):
    """The control: the migrated database the read-only cases use is a real SQLite database."""
    from alembic.script import ScriptDirectory

    from emoscope.web.migrations import alembic_config

    _migrated_database(tmp_path)
    head = ScriptDirectory.from_config(alembic_config(None)).get_current_head()
    with sqlite3.connect(tmp_path / "emoscope.db") as connection:
        assert connection.execute("SELECT version_num FROM alembic_version").fetchone()[0] == head
