"""Accounts, sessions, API tokens, the audit log, reviews and the candidates' search, through the app
(FastAPI's TestClient) on SQLite and on PostgreSQL, plus the schema upgrade from revision 0003 with
its rows kept."""

from __future__ import annotations

import csv
import io
import uuid

from web.logins import PASSWORD, add_user, log_in, page_csrf, session_for
from web.support import AUTH, TOKEN


def _audit(client, **params) -> list[dict]:
    """Every line of the audit log, newest first, as the CSV export gives it."""
    response = client.get("/admin/audit.csv", headers=AUTH, params=params)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.text)))


def test_first_admin_setup_link_works_once_and_only_while_no_admin_exists(make_server):
    server = make_server()
    client, app = server.client, server.client.app
    code = app.state.setup_code
    assert code and client.get("/setup?code=wrong").status_code == 404
    form = client.get(f"/setup?code={code}")
    assert form.status_code == 200 and "first admin" in form.text
    csrf = client.cookies.get("emoscope_form")
    fields = {"code": code, "username": "Boss", "password": PASSWORD, "again": PASSWORD, "csrf": csrf}
    short = client.post("/setup", data={**fields, "password": "short", "again": "short"})
    assert short.status_code == 400 and "at least 10 characters" in short.text
    differ = client.post("/setup", data={**fields, "again": PASSWORD + "!"})
    assert differ.status_code == 400 and "differ" in differ.text
    assert client.post("/setup", data={**fields, "csrf": "forged"}).status_code == 403
    done = client.post("/setup", data=fields, follow_redirects=False)
    assert done.status_code == 303 and app.state.setup_code is None
    assert "boss (admin)" in client.get("/").text  # usernames are kept in lower case
    client.cookies.clear()
    assert client.get(f"/setup?code={code}").status_code == 404
    assert client.post("/setup", data=fields).status_code in (403, 404)  # no cookie, and no setup pending
    assert log_in(client, "boss").status_code == 303
    assert [line["action"] for line in _audit(client)][-2:] == ["login", "create"]


def test_failed_logins_are_limited_per_user_and_address(make_server):
    server = make_server()
    client = server.client
    add_user(client.app, "ann", "analyst")
    add_user(client.app, "bob", "analyst")
    for _ in range(5):
        assert log_in(client, "ann", "wrong password").status_code == 401
    limited = log_in(client, "ann")  # the right password, but too late
    assert limited.status_code == 429 and 1 <= int(limited.headers["retry-after"]) <= 60
    assert "Too many failed logins" in limited.text
    assert log_in(client, "bob").status_code == 303  # another user from the same address is not held up
    failed = [line for line in _audit(client) if line["action"] == "login failed"]
    assert len(failed) == 5 and failed[0]["actor"] == "anonymous" and failed[0]["detail"] == "username ann"
    # the --token link is limited by address as well
    client.cookies.clear()
    for _ in range(5):
        assert client.get("/login?token=wrong-token").status_code == 401
    assert client.get(f"/login?token={TOKEN}").status_code == 429


def test_roles_show_their_own_dashboard_and_a_change_needs_the_csrf_token(make_server):
    server = make_server()
    client, app = server.client, server.client.app
    candidate_id = server.create_candidate("Ann Example")
    viewer = add_user(app, "vera", "viewer")
    session_for(app, client, viewer)
    index = client.get("/").text
    assert "Ann Example" in index and "Add candidate" not in index and "Audit log" not in index
    profile = client.get(f"/candidates/{candidate_id}").text
    assert "Upload an interview" not in profile and "Delete candidate" not in profile
    assert client.delete(f"/v1/candidates/{candidate_id}").status_code == 403  # no CSRF token, and a viewer

    analyst = add_user(app, "ann", "analyst")
    csrf = session_for(app, client, analyst)
    assert page_csrf(client) == csrf
    index = client.get("/").text
    assert "Add candidate" in index and "Audit log" not in index
    assert client.get("/admin/audit").status_code == 403
    refused = client.post("/v1/candidates", json={"name": "Forged"})  # what another site could make a browser send
    assert refused.status_code == 403 and "CSRF" in refused.json()["error"]
    assert client.post("/v1/candidates", json={"name": "X"}, headers={"X-CSRF-Token": "wrong"}).status_code == 403
    assert client.post("/v1/candidates", json={"name": "Bob Other"}, headers={"X-CSRF-Token": csrf}).status_code == 201
    # a bearer token needs no CSRF token: a browser never sends one by itself
    client.cookies.clear()
    assert client.post("/v1/candidates", json={"name": "Cy Third"}, headers=AUTH).status_code == 201


def test_api_tokens_are_personal_revocable_and_stop_with_a_disabled_user(make_server):
    server = make_server()
    client, app = server.client, server.client.app
    ann, bob = add_user(app, "ann", "analyst"), add_user(app, "bob", "viewer")
    csrf = session_for(app, client, ann)
    made = client.post("/settings/tokens", data={"name": "nightly export", "csrf": csrf})
    assert made.status_code == 200 and "not shown again" in made.text
    token = made.text.split('id="new-token">')[1].split("<")[0]
    assert token.startswith("emo_") and len(token) > 40
    assert token not in client.get("/settings").text  # shown once
    client.cookies.clear()
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.post("/v1/candidates", json={"name": "By script"}, headers=bearer).status_code == 201
    created = _audit(client, action="create")[0]
    assert created["actor"] == "ann" and created["target_type"] == "candidate"

    with app.state.services.sessions() as session:  # only the hash is stored
        from sqlalchemy import select

        from emoscope.web.db import ApiToken

        row = session.scalar(select(ApiToken))
        assert token not in (row.token_hash, row.hint) and row.hint == token[:10]
    # bob cannot revoke ann's token; ann can; an admin could
    bob_csrf = session_for(app, client, bob)
    assert client.post(f"/settings/tokens/{row.id}/revoke", data={"csrf": bob_csrf}).status_code == 404
    client.cookies.clear()
    assert client.get("/v1/candidates", headers=bearer).status_code == 200  # still valid
    ann_csrf = session_for(app, client, ann)
    assert client.post(f"/settings/tokens/{row.id}/revoke", data={"csrf": ann_csrf},
                       follow_redirects=False).status_code == 303
    client.cookies.clear()
    assert client.get("/v1/candidates", headers=bearer).status_code == 401

    # a second token, then ann disabled by an admin: the token and her sessions stop at once
    csrf = session_for(app, client, ann)
    token = client.post("/settings/tokens", data={"name": "second", "csrf": csrf}).text \
        .split('id="new-token">')[1].split("<")[0]
    client.cookies.clear()
    assert client.get("/v1/candidates", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    admin = add_user(app, "root", "admin")
    admin_csrf = session_for(app, client, admin)
    changed = client.post(f"/admin/users/{ann}", data={"role": "analyst", "disabled": "on", "csrf": admin_csrf},
                          follow_redirects=False)
    assert changed.status_code == 303
    client.cookies.clear()
    assert client.get("/v1/candidates", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert log_in(client, "ann").status_code == 401


def test_admin_manages_users_but_never_removes_the_last_admin(make_server):
    server = make_server()
    client, app = server.client, server.client.app
    admin = add_user(app, "root", "admin")
    csrf = session_for(app, client, admin)
    made = client.post("/admin/users", data={"username": "Vera", "password": PASSWORD, "role": "viewer",
                                             "csrf": csrf}, follow_redirects=False)
    assert made.status_code == 303
    users = client.get("/admin/users").text
    assert "vera" in users and "Create user" in users
    taken = client.post("/admin/users", data={"username": "vera", "password": PASSWORD, "role": "viewer",
                                              "csrf": csrf})
    assert taken.status_code == 400 and "taken" in taken.text
    bad_role = client.post("/admin/users", data={"username": "x1", "password": PASSWORD, "role": "owner",
                                                 "csrf": csrf})
    assert bad_role.status_code == 400 and "unknown role" in bad_role.text
    last = client.post(f"/admin/users/{admin}", data={"role": "analyst", "csrf": csrf})
    assert last.status_code == 400 and "last enabled admin" in last.text
    last = client.post(f"/admin/users/{admin}", data={"role": "admin", "disabled": "on", "csrf": csrf})
    assert last.status_code == 400 and "last enabled admin" in last.text
    # a password set by the admin works, and the old one no longer does
    vera = next(line["target_id"] for line in _audit(client, action="create") if line["target_type"] == "user")
    assert client.post(f"/admin/users/{vera}", data={"role": "analyst", "password": "another password",
                                                     "csrf": csrf}, follow_redirects=False).status_code == 303
    client.cookies.clear()
    assert log_in(client, "vera").status_code == 401
    assert log_in(client, "vera", "another password").status_code == 303
    assert "vera (analyst)" in client.get("/").text
    update = _audit(client, action="update")[0]
    assert update["actor"] == "root" and "role viewer → analyst" in update["detail"] and "password set" in update["detail"]


def test_a_new_password_ends_the_other_sessions(make_server):
    server = make_server()
    client, app = server.client, server.client.app
    ann = add_user(app, "ann", "analyst")
    other_csrf = session_for(app, client, ann)
    other_cookie = dict(client.cookies)
    csrf = session_for(app, client, ann)
    wrong = client.post("/settings/password", data={"current": "nope", "password": "a new password",
                                                    "again": "a new password", "csrf": csrf})
    assert wrong.status_code == 400 and "current password is wrong" in wrong.text
    done = client.post("/settings/password", data={"current": PASSWORD, "password": "a new password",
                                                   "again": "a new password", "csrf": csrf}, follow_redirects=False)
    assert done.status_code == 303 and "emoscope_session=" in done.headers["set-cookie"]  # this browser stays in
    client.cookies.clear()
    client.cookies.update(other_cookie)
    assert client.get("/", follow_redirects=False).status_code == 303 and other_csrf  # the other one is out
    client.cookies.clear()
    assert log_in(client, "ann", "a new password").status_code == 303
    logout = client.post("/logout", data={"csrf": page_csrf(client)}, follow_redirects=False)
    assert logout.status_code == 303 and client.get("/", follow_redirects=False).status_code == 303


def test_deleting_a_candidate_leaves_an_audit_line_without_their_name(make_server):
    server = make_server()
    client = server.client
    name = "Zoë Unique-Surname"
    candidate_id = server.create_candidate(name)
    interview = server.upload(candidate_id, question="q1").json()
    server.wait(interview["job"]["id"])
    assert client.get(f"/candidates/{candidate_id}", headers=AUTH).status_code == 200
    assert client.get(f"/v1/interviews/{interview['id']}/report", headers=AUTH).status_code == 200
    assert client.get(f"/v1/interviews/{interview['id']}/frames", headers=AUTH).status_code == 200
    assert client.get("/", headers=AUTH, params={"q": "unique"}).status_code == 200
    assert client.delete(f"/v1/candidates/{candidate_id}", headers=AUTH).status_code == 204
    lines = _audit(client)
    seen = [(line["action"], line["target_type"], line["target_id"]) for line in reversed(lines)]
    assert ("create", "candidate", candidate_id) in seen and ("create", "interview", interview["id"]) in seen
    assert ("view", "candidate", candidate_id) in seen and ("download", "report", interview["id"]) in seen
    assert ("download", "frame table", interview["id"]) in seen
    assert seen[-2] == ("delete", "candidate", candidate_id)  # the export is the newest line
    assert "1 interview" in lines[1]["detail"] and lines[1]["actor"] == "service token"
    exported = client.get("/admin/audit.csv", headers=AUTH).text
    for part in ("Zoë", "Unique", "unique", "Surname"):  # nothing of the name: not even the search text
        assert part not in exported
    page = client.get("/admin/audit", headers=AUTH).text
    assert candidate_id in page and "Unique" not in page


def test_the_audit_log_is_paged_filtered_and_exported_with_formulas_defused(make_server):
    server = make_server()
    client, app = server.client, server.client.app
    for number in range(60):
        client.get("/v1/compare", headers=AUTH, params={"question": f"q{number}"})
    csrf = session_for(app, client, add_user(app, "ann", "analyst"))
    client.post("/settings/tokens", data={"name": '=HYPERLINK("http://evil.example")', "csrf": csrf})
    client.cookies.clear()
    first = client.get("/admin/audit", headers=AUTH)  # 60 views and 1 token; this view is logged after the page
    assert "page 1 of 2" in first.text and 'rel="next"' in first.text
    assert first.text.count("<tr>") == 51  # the header and 50 lines
    second = client.get("/admin/audit", headers=AUTH, params={"page": 2})
    assert "page 2 of 2" in second.text and "question q0," in second.text
    assert client.get("/admin/audit", headers=AUTH, params={"page": 99}).status_code == 200  # the last page
    views = _audit(client, action="view", actor="service token")
    assert len(views) == 63 and {line["target_type"] for line in views} == {"comparison", "audit log"}
    assert [line["detail"] for line in views[:3]] == ["page 2", "page 2", "page 1"]  # reading the log is logged
    token = _audit(client, action="create", actor="ann")[0]
    assert token["detail"] == '\'=HYPERLINK("http://evil.example")'  # a spreadsheet shows it as text
    assert _audit(client, actor="nobody") == []
    export = _audit(client, action="export")
    assert len(export) >= 1 and export[0]["actor"] == "service token"
    assert client.get("/admin/audit", headers=AUTH, params={"action": "<script>"}).status_code == 422


def test_notes_and_a_rating_per_interview(make_server):
    server = make_server()
    client, app = server.client, server.client.app
    candidate_id = server.create_candidate()
    interview = server.upload(candidate_id, question="q1").json()
    url = f"/v1/interviews/{interview['id']}/review"
    reviewed = client.put(url, json={"notes": "Calm; clear answer.", "rating": 4}, headers=AUTH).json()
    assert reviewed["notes"] == "Calm; clear answer." and reviewed["rating"] == 4
    assert reviewed["reviewed_by"] == "service token" and reviewed["reviewed_at"]
    for bad in ({"rating": 0}, {"rating": 6}, {"rating": "x"}, {"notes": "x" * 10_001}):
        assert client.put(url, json=bad, headers=AUTH).status_code == 422
    assert client.put(f"/v1/interviews/{uuid.uuid4()}/review", json={}, headers=AUTH).status_code == 404
    got = client.get(f"/v1/candidates/{candidate_id}", headers=AUTH).json()["interviews"][0]
    assert (got["notes"], got["rating"]) == ("Calm; clear answer.", 4)
    line = _audit(client, action="update")[0]
    assert line["detail"] == "review: rating 4, notes set" and "Calm" not in line["detail"]

    analyst = add_user(app, "ann", "analyst")
    csrf = session_for(app, client, analyst)
    page = client.get(f"/interviews/{interview['id']}").text
    assert "Save the review" in page and "Calm; clear answer." in page
    saved = client.post(f"/interviews/{interview['id']}/review", data={"notes": "  ", "rating": "2", "csrf": csrf},
                        follow_redirects=False)
    assert saved.status_code == 303
    assert client.post(f"/interviews/{interview['id']}/review",
                       data={"rating": "9", "csrf": csrf}).status_code == 400
    after = client.get(f"/v1/interviews/{interview['id']}").json()
    assert (after["notes"], after["rating"], after["reviewed_by"]) == (None, 2, "ann")
    viewer = add_user(app, "vera", "viewer")
    session_for(app, client, viewer)
    page = client.get(f"/interviews/{interview['id']}").text
    assert "Save the review" not in page and "Rating: 2/5" in page and "Last reviewed by ann" in page
    server.wait(interview["job"]["id"])


def test_candidates_are_searched_by_any_part_of_the_name_and_paged(make_server):
    server = make_server()
    client = server.client
    for number in range(30):
        server.create_candidate(f"Person {number:02d}")
    for name in ("Émile Zola", "ÉMILE Other", "100% Sure", "Under_score"):
        server.create_candidate(name)
    listed = client.get("/v1/candidates", headers=AUTH, params={"limit": 10, "offset": 25})
    assert listed.headers["x-total-count"] == "34" and len(listed.json()) == 9
    names = lambda q: [c["name"] for c in client.get("/v1/candidates", headers=AUTH, params={"q": q}).json()]  # noqa: E731
    assert names("émile") == ["Émile Zola", "ÉMILE Other"]  # any case, beyond ASCII too
    assert names("% s") == ["100% Sure"] and names("_") == ["Under_score"]  # % and _ are literal
    assert names("person 1") == [f"Person {n}" for n in range(10, 20)]
    assert names("nobody") == []
    first = client.get("/", headers=AUTH).text
    assert "page 1 of 2 (34)" in first and "Person 24" in first and "Person 25" not in first
    second = client.get("/", headers=AUTH, params={"page": 2}).text
    assert "Person 25" in second and "Under_score" in second and 'rel="prev"' in second
    found = client.get("/", headers=AUTH, params={"q": "ZOLA"}).text
    assert "Émile Zola" in found and "Person" not in found.split('id="candidates"')[1].split("</table>")[0]
    none = client.get("/", headers=AUTH, params={"q": "<b>x</b>"}).text
    assert "No candidate's name holds “&lt;b&gt;x&lt;/b&gt;”" in none


def test_an_admin_sets_the_retention_and_it_applies_at_once(make_server):
    from datetime import timedelta

    from sqlalchemy import update

    from emoscope.web.db import Candidate, Interview, utcnow

    server = make_server()
    client, app = server.client, server.client.app
    old, new = server.create_candidate("Old"), server.create_candidate("New")
    server.wait(server.upload(old).json()["job"]["id"])
    with app.state.services.sessions.begin() as session:
        long_ago = utcnow() - timedelta(days=40)
        session.execute(update(Interview).where(Interview.candidate_id == old).values(created_at=long_ago))
        session.execute(update(Candidate).where(Candidate.id == old).values(created_at=long_ago))
    admin = add_user(app, "root", "admin")
    csrf = session_for(app, client, admin)
    page = client.get("/admin/settings").text
    assert "no <code>--retention-days</code>" in page and str(server.data_dir) not in page
    assert client.post("/admin/settings", data={"retention_days": "-3", "csrf": csrf}).status_code == 400
    assert client.post("/admin/settings", data={"retention_days": "nan", "csrf": csrf}).status_code == 400
    saved = client.post("/admin/settings", data={"retention_days": "30", "csrf": csrf})
    assert saved.status_code == 200 and "1 interview older than the period deleted now" in saved.text
    assert [c["id"] for c in client.get("/v1/candidates", headers=AUTH).json()] == [new]
    lines = _audit(client)
    assert ("retention", "delete") in {(line["actor"], line["action"]) for line in lines}
    assert any(line["action"] == "update" and line["detail"] == "retention 30 days" for line in lines)
    assert 'value="30"' in client.get("/admin/settings").text


def test_a_database_at_revision_0003_is_upgraded_with_its_rows_kept(tmp_path, database_url):
    from fastapi.testclient import TestClient
    from sqlalchemy import text

    from emoscope.web import migrations
    from emoscope.web.app import create_app
    from emoscope.web.db import make_engine
    from emoscope.web.settings import Settings

    url = database_url or Settings(data_dir=tmp_path / "data").url
    (tmp_path / "data").mkdir()
    engine = make_engine(url)
    migrations.upgrade(engine, "0003")  # the schema before the accounts
    ids = {"c": "6c1d1f1e-0000-4000-8000-000000000001", "i": "6c1d1f1e-0000-4000-8000-000000000002",
           "j": "6c1d1f1e-0000-4000-8000-000000000003"}
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO candidates (id, name, created_at) VALUES (:c, 'From 0003', "
                                "'2026-01-01 10:00:00')"), ids)
        connection.execute(text("INSERT INTO interviews (id, candidate_id, question, created_at) VALUES "
                                "(:i, :c, 'q7', '2026-01-01 10:01:00')"), ids)
        connection.execute(text("INSERT INTO jobs (id, interview_id, state, created_at, frames_done, "
                                "frames_expected, restarts) VALUES (:j, :i, 'failed', '2026-01-01 10:02:00', "
                                "3, 9, 1)"), ids)
    engine.dispose()
    app = create_app(Settings(data_dir=tmp_path / "data", database_url=database_url, token=TOKEN))
    assert app.state.setup_code  # an old database has no admin: the setup link is printed
    with TestClient(app) as client:
        candidate = client.get(f"/v1/candidates/{ids['c']}", headers=AUTH).json()
        assert candidate["name"] == "From 0003"
        interview = candidate["interviews"][0]
        assert (interview["id"], interview["question"], interview["notes"], interview["rating"]) == \
            (ids["i"], "q7", None, None)
        assert (interview["job"]["id"], interview["job"]["state"], interview["job"]["frames_done"]) == \
            (ids["j"], "failed", 3)
        add_user(app, "root", "admin")
    engine = make_engine(url)
    assert migrations.current_revision(engine) == migrations.head()
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM jobs")).scalar() == 1
        assert connection.execute(text("SELECT username FROM users")).scalar() == "root"
    engine.dispose()


def test_logging_in_ends_the_session_the_browser_had_before(make_server):
    server = make_server()
    client, app = server.client, server.client.app
    add_user(app, "ann", "analyst")
    assert log_in(client, "ann").status_code == 303
    before = dict(client.cookies)
    assert log_in(client, "ann").status_code == 303 and dict(client.cookies) != before
    client.cookies.clear()
    client.cookies.update(before)  # a cookie planted (or kept) from before the login
    assert client.get("/v1/candidates").status_code == 401


def test_the_login_limit_counts_failures_in_a_sliding_window():
    import time

    from emoscope.web.accounts import LoginLimiter

    limiter = LoginLimiter(failures=2, window_s=0.5)
    key = ("ann", "10.0.0.1")
    limiter.failed(key)
    assert limiter.retry_after(key) is None
    limiter.failed(key)
    assert limiter.retry_after(key) == 1 and limiter.retry_after(("ann", "10.0.0.2")) is None
    time.sleep(0.6)
    assert limiter.retry_after(key) is None  # the failures have left the window
    limiter.failed(key)
    limiter.succeeded(key)  # a right password clears the count
    limiter.failed(key)
    assert limiter.retry_after(key) is None


def test_a_token_carries_its_users_role(make_server):
    server = make_server()
    client, app = server.client, server.client.app
    csrf = session_for(app, client, add_user(app, "vera", "viewer"))
    token = client.post("/settings/tokens", data={"name": "reports", "csrf": csrf}).text \
        .split('id="new-token">')[1].split("<")[0]
    client.cookies.clear()
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get("/v1/candidates", headers=bearer).status_code == 200
    refused = client.post("/v1/candidates", json={"name": "X"}, headers=bearer)
    assert refused.status_code == 403 and "needs the analyst role" in refused.json()["error"]
    assert client.get("/admin/audit.csv", headers=bearer).status_code == 403
    assert client.get("/v1/candidates", headers={"Authorization": f"Bearer {token}x"}).status_code == 401
