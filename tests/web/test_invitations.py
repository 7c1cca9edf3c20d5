"""Invitations through the app (FastAPI's TestClient, SQLite and PostgreSQL): an analyst invites a
candidate; the candidate, with the link alone, consents and uploads one answer per question, each
analysed as an interview of its question; the link closes when used, expired or withdrawn; before
consent nothing is accepted; and the link opens nothing else of the app. The recording in a real
browser is tests/web/test_candidate_browser.py."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from web.support import AUTH, SAMPLE, TOKEN
from web.test_api import one_line_error

PAGE = {"Accept": "text/html,application/xhtml+xml"}  # what a browser sends for a page
QUESTIONS = [{"text": "Tell us about a project you are proud of.", "seconds": 30},
             {"id": "teamwork", "text": "Describe a disagreement in a team.", "seconds": 20}]


def invite(server, candidate_id: str, questions=QUESTIONS, **fields) -> dict:
    response = server.client.post(f"/v1/candidates/{candidate_id}/invitations", headers=AUTH,
                                  json={"questions": questions, **fields})
    assert response.status_code == 201, response.text
    return response.json()


def candidate_path(invitation: dict) -> str:
    """The link's path: what the candidate's browser opens (no token, no cookie of the analysts')."""
    return "/" + invitation["link"].split("/", 3)[3]


def answer(server, path: str, position: int, content: bytes | None = None):
    return server.client.post(f"{path}/answers/{position}",
                              files={"video": ("answer.webm", SAMPLE.read_bytes() if content is None else content,
                                               "video/webm")})


def consent(server, path: str):
    return server.client.post(f"{path}/consent", data={"agree": "yes"}, follow_redirects=False)


def rows(server, table):
    from emoscope.web.db import make_engine

    engine = make_engine(server.settings.url)
    try:
        with engine.connect() as connection:
            return [dict(row._mapping) for row in connection.execute(select(table))]
    finally:
        engine.dispose()


def test_an_invitation_from_link_to_analysed_answers(make_server):
    from emoscope.web.invitations import Invitation, InvitationQuestion

    server = make_server()
    candidate = server.create_candidate("Ann Example")
    invitation = invite(server, candidate, expires_in_hours=48)
    path = candidate_path(invitation)
    token = path.rsplit("/", 1)[1]
    assert invitation["state"] == "sent" and len(token) >= 40
    assert [(q["position"], q["question"], q["seconds"]) for q in invitation["questions"]] == \
        [(1, "q1", 30), (2, "teamwork", 20)]
    # the link is shown once: the database holds its SHA-256 only, the API never the link again
    stored = rows(server, Invitation.__table__)
    assert stored[0]["token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    assert not any(token in str(value) for row in stored for value in row.values())
    listed = server.client.get(f"/v1/candidates/{candidate}/invitations", headers=AUTH).json()
    assert [i["link"] for i in listed] == [None]

    # before consent: the consent page, and no answer is taken
    client = server.client
    client.cookies.clear()
    page = client.get(path, headers=PAGE)
    assert page.status_code == 200 and "Before you start" in page.text and "cues, not a verdict" in page.text
    assert page.headers["cache-control"] == "no-store" and "noindex" in page.headers["x-robots-tag"]
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page.text
    files_before = server.files()
    assert "no consent" in one_line_error(answer(server, path, 1), 403)
    assert server.files() == files_before
    assert "tick the box" in one_line_error(client.post(f"{path}/consent", data={}), 400)

    given = consent(server, path)
    assert given.status_code == 303 and given.headers["location"].endswith(path)
    assert "set-cookie" not in given.headers  # the link is the candidate's only key
    record_page = client.get(path, headers=PAGE)
    assert 'id="invitation"' in record_page.text and "Describe a disagreement in a team." in record_page.text
    (row,) = rows(server, Invitation.__table__)
    assert row["consented_at"] is not None and "cues, not a verdict" in row["consent_text"]
    assert "2 questions" in row["consent_text"]

    first = answer(server, path, 1)
    assert first.status_code == 202 and first.json() == {"position": 1, "remaining": 1, "done": False}
    assert "answered already" in one_line_error(answer(server, path, 1), 409)
    assert "no question 3" in one_line_error(answer(server, path, 3), 404)
    assert "not a readable video" in one_line_error(answer(server, path, 2, b"not a video at all" * 100), 400)
    last = answer(server, path, 2)
    assert last.json() == {"position": 2, "remaining": 0, "done": True}

    # the answers are interviews of their questions, analysed as an analyst's uploads are
    profile = client.get(f"/v1/candidates/{candidate}", headers=AUTH).json()
    interviews = {i["question"]: i for i in profile["interviews"]}
    assert set(interviews) == {"q1", "teamwork"}
    for interview in interviews.values():
        assert server.wait(interview["job"]["id"])["state"] == "done"
        report = client.get(f"/v1/interviews/{interview['id']}/report", headers=AUTH).json()
        assert report["metadata"]["candidate"] == "Ann Example" and report["people"]
    questions = {q["question"]: q for q in rows(server, InvitationQuestion.__table__)}
    assert {q: questions[q]["interview_id"] for q in questions} == {q: interviews[q]["id"] for q in interviews}
    done = client.get(f"/v1/invitations/{invitation['id']}", headers=AUTH).json()
    assert done["state"] == "completed" and done["completed_at"] is not None

    # used up: the link opens nothing any more, for a browser (a page that says why) or a script
    client.cookies.clear()
    closed = client.get(path, headers=PAGE)
    assert closed.status_code == 410 and "used up" in closed.text
    assert "used up" in one_line_error(client.get(path), 410)
    assert "used up" in one_line_error(answer(server, path, 2), 410)
    # the audit log has the invitation, the consent and each answer, by id only
    log = client.get("/admin/audit.csv", headers=AUTH)
    assert log.status_code == 200 and "Ann Example" not in log.text
    assert "candidate,consent,invitation" in log.text and log.text.count("candidate,create,interview") == 2


def test_the_link_opens_nothing_else(make_server):
    server = make_server()
    candidate = server.create_candidate()
    interview = server.upload(candidate).json()
    server.wait(interview["job"]["id"])
    invitation = invite(server, candidate)
    path = candidate_path(invitation)
    token = path.rsplit("/", 1)[1]
    client = server.client
    client.cookies.clear()
    consent(server, path)
    assert not client.cookies  # nothing the candidate's pages set could open another route
    some = {"candidate_id": candidate, "interview_id": interview["id"], "job_id": interview["job"]["id"],
            "invitation_id": invitation["id"], "name": "interview.person1.intervals.png", "token": "x" * 43,
            "position": "1", "*": "x"}
    from web.app_routes import app_routes

    checked = 0
    for route in app_routes(client.app):
        if route.path.startswith("/invite/") or route.path in ("/healthz", "/readyz", "/login", "/setup", "/logout"):
            continue
        for method in route.methods:
            for headers in ({}, {"Authorization": f"Bearer {token}"}):
                response = client.request(method, route.url(some), headers=headers, follow_redirects=False)
                assert response.status_code in (401, 303, 403), (method, route.path, response.status_code)
                if response.status_code == 303:
                    assert response.headers["location"].startswith("/login"), route.path
                checked += 1
    assert checked >= 60


def test_expired_withdrawn_and_deleted_links_close(make_server):
    from emoscope.web.db import make_engine, utcnow
    from emoscope.web.invitations import Invitation

    server = make_server()
    candidate = server.create_candidate()
    expiring, withdrawn = invite(server, candidate), invite(server, candidate)
    engine = make_engine(server.settings.url)
    with engine.begin() as connection:
        connection.execute(update(Invitation).where(Invitation.id == expiring["id"])
                           .values(expires_at=utcnow() - timedelta(minutes=1)))
    engine.dispose()
    assert "expired on" in one_line_error(server.client.get(candidate_path(expiring)), 410)
    assert "expired on" in one_line_error(consent(server, candidate_path(expiring)), 410)

    consent(server, candidate_path(withdrawn))
    revoked = server.client.post(f"/v1/invitations/{withdrawn['id']}/revoke", headers=AUTH)
    assert revoked.status_code == 200 and revoked.json()["state"] == "revoked"
    assert "withdrawn" in one_line_error(answer(server, candidate_path(withdrawn), 1), 410)
    assert "revoked already" in one_line_error(
        server.client.post(f"/v1/invitations/{withdrawn['id']}/revoke", headers=AUTH), 409)

    # deleting the candidate deletes their invitations: the link is unknown then
    assert server.client.delete(f"/v1/candidates/{candidate}", headers=AUTH).status_code == 204
    assert "not valid" in one_line_error(server.client.get(candidate_path(withdrawn)), 404)
    assert rows(server, Invitation.__table__) == []


def test_an_answer_is_bounded_by_the_time_allowed(make_server):
    from emoscope.web.invitations import ANSWER_BYTES_PER_SECOND, ANSWER_SLACK_BYTES

    server = make_server()
    candidate = server.create_candidate()
    invitation = invite(server, candidate, questions=[{"text": "Short one.", "seconds": 5}])
    path = candidate_path(invitation)
    consent(server, path)
    too_big = b"\0" * (5 * ANSWER_BYTES_PER_SECOND + ANSWER_SLACK_BYTES + 1)
    assert "larger than the limit" in one_line_error(answer(server, path, 1, too_big), 413)
    assert answer(server, path, 1).status_code == 202  # still open: the refused answer left nothing


def test_a_full_queue_turns_an_answer_away_until_there_is_room(make_server):
    """429 with Retry-After (the page waits it out and sends the same recording): nothing is kept of the
    refused answer, and the question stays open for it."""
    server = make_server(workers=1, max_queue=1, max_seconds=None)
    candidate = server.create_candidate()
    running = server.upload(candidate).json()
    server.wait(running["job"]["id"], states=("running",), until=lambda job: job["frames_done"] > 0)
    queued = server.upload(candidate).json()
    path = candidate_path(invite(server, candidate, questions=[{"text": "Why us?", "seconds": 30}]))
    consent(server, path)
    before = server.files()
    busy = answer(server, path, 1)
    assert "queue is full" in one_line_error(busy, 429) and busy.headers["retry-after"] == "30"
    assert server.files() == before
    for interview in (queued, running):
        server.client.post(f"/v1/jobs/{interview['job']['id']}/cancel", headers=AUTH)
    accepted = answer(server, path, 1)
    assert accepted.status_code == 202 and accepted.json()["done"]


@pytest.mark.parametrize("body, message", [
    ({"questions": []}, "questions"),
    ({"questions": [{"text": "Why?", "seconds": 2}]}, "seconds"),
    ({"questions": [{"text": "Why?", "seconds": 700}]}, "seconds"),
    ({"questions": [{"text": "   ", "seconds": 30}]}, "text"),
    ({"questions": [{"text": "Why?", "seconds": 30}], "expires_in_hours": 0.1}, "expires_in_hours"),
    ({"questions": [{"id": "a", "text": "Why?", "seconds": 30}, {"id": "a", "text": "How?", "seconds": 30}]},
     "used once"),
    ({"questions": [{"id": "a\u0000b", "text": "Why?", "seconds": 30}]}, "id"),
])
def test_a_bad_invitation_is_one_line(make_server, body, message):
    server = make_server()
    candidate = server.create_candidate()
    response = server.client.post(f"/v1/candidates/{candidate}/invitations", headers=AUTH, json=body)
    assert message in one_line_error(response, 422)
    assert server.client.get(f"/v1/candidates/{candidate}/invitations", headers=AUTH).json() == []


def test_the_analysts_page_makes_and_withdraws_invitations(make_server):
    server = make_server()
    candidate = server.create_candidate("Bo Example")
    client = server.client
    client.get(f"/login?token={TOKEN}")  # the dashboard, as a browser: its cookie and CSRF token
    page = client.get(f"/candidates/{candidate}/invitations")
    assert page.status_code == 200 and "No invitations yet" in page.text
    csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    made = client.post(f"/candidates/{candidate}/invitations", data={
        "csrf": csrf, "text": ["First question?", "", "Third question?"], "seconds": ["40", "60", "15"],
        "expires_in_hours": "24"})
    assert made.status_code == 200, made.text
    link = made.text.split('id="invitation-link" readonly value="', 1)[1].split('"', 1)[0]
    assert "/invite/" in link
    (listed,) = client.get(f"/v1/candidates/{candidate}/invitations").json()
    assert [(q["question"], q["text"], q["seconds"]) for q in listed["questions"]] == \
        [("q1", "First question?", 40), ("q2", "Third question?", 15)]
    assert link not in client.get(f"/candidates/{candidate}/invitations").text  # shown once
    bad = client.post(f"/candidates/{candidate}/invitations", data={"csrf": csrf, "text": "x", "seconds": "1"})
    assert bad.status_code == 422 and "seconds" in bad.text
    withdrawn = client.post(f"/invitations/{listed['id']}/revoke", data={"csrf": csrf}, follow_redirects=False)
    assert withdrawn.status_code == 303
    assert client.get(f"/v1/invitations/{listed['id']}").json()["state"] == "revoked"
    assert client.post(f"/invitations/{listed['id']}/revoke", data={}).status_code == 403  # no CSRF token


@pytest.mark.slow
def test_bench_serve_has_candidates_answer_at_once(tmp_path):
    """`emoscope bench serve --candidates N`: N invitations answered at once through the candidates' routes."""
    import json

    from helpers import run_emoscope

    out = tmp_path / "serve.json"
    result = run_emoscope("bench", "serve", "--requests", "2", "--concurrency", "1", "--videos", "0", "--workers", "1",
                          "--candidates", "2", "--out", out, timeout=300)
    assert result.returncode == 0, result.stderr
    measured = json.loads(out.read_text())["candidates"]
    assert measured["candidates"] == 2 and measured["errors"] == 0
    assert [answer["state"] for answer in measured["each"]] == ["done", "done"]
    assert all(answer["frames"] > 0 and answer["upload_s"] <= answer["seconds"] for answer in measured["each"])
