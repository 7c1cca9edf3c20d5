"""The REST API on SQLite and on PostgreSQL: every route, every bad input answering a 4xx with one line of
JSON and leaving nothing behind (no row, no file), jobs from upload to report, progress by server-sent
events, cancelling, the full queue, and deletion leaving no file of the candidate."""

from __future__ import annotations

import json
import uuid

import numpy as np
import pytest

from emoscope.report.schema import Report
from emoscope.report.timeline import INTERVAL_NAMES
from web.support import AUTH, SAMPLE, TOKEN


def one_line_error(response, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert list(body) == ["error"] and body["error"] and "\n" not in body["error"], body
    return body["error"]


def rows(server) -> tuple[int, int]:
    interviews = server.client.get("/v1/interviews", headers=AUTH).json()
    jobs = server.client.get("/v1/jobs", headers=AUTH).json()
    return len(interviews), len(jobs)


# -- tokens and health -----------------------------------------------------------------------------

def test_health_needs_no_token_and_every_other_route_does(make_server):
    server = make_server()
    assert server.client.get("/healthz").json() == {"status": "ok"}
    assert server.client.get("/readyz").json()["status"] == "ready"
    some_id = str(uuid.uuid4())
    checked = 0
    paths = server.client.get("/openapi.json", headers=AUTH).json()["paths"]
    for path, operations in {**paths, "/openapi.json": {"get": {}}, "/docs": {"get": {}}}.items():
        if path in ("/healthz", "/readyz"):
            continue
        url = path.replace("{candidate_id}", some_id).replace("{interview_id}", some_id) \
                  .replace("{job_id}", some_id).replace("{name}", "x.png")
        for method in operations:
            for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN_ONLY}):
                response = server.client.request(method, url, headers=headers, follow_redirects=False)
                if path == "/docs":  # a page: the browser is sent to the login form
                    assert response.status_code == 303 and response.headers["location"] == "/login?next=/docs"
                    continue
                assert "missing or wrong API token" in one_line_error(response, 401), (method, url)
            checked += 1
    assert checked >= 20 and "/v1/images:analyze" in paths


TOKEN_ONLY = TOKEN  # the right token without the Bearer scheme is not accepted either


def test_a_server_beyond_loopback_needs_a_token(tmp_path):
    from emoscope.errors import EmoscopeError
    from emoscope.web.app import create_app
    from emoscope.web.settings import Settings

    with pytest.raises(EmoscopeError, match="--token"):
        create_app(Settings(data_dir=tmp_path, host="0.0.0.0", token=None))
    assert not any(tmp_path.iterdir())
    app = create_app(Settings(data_dir=tmp_path, host="127.0.0.1", token=None))
    # on loopback no service token is made up: the accounts log in, the first admin by the setup link
    assert app.state.settings.token is None and len(app.state.setup_code) >= 24
    # an empty token (EMOSCOPE_TOKEN=) is no token, so an empty cookie can never match it
    assert Settings(token="  ").token is None
    with pytest.raises(ValueError, match="at least 8"):
        Settings(token="short")


# -- candidates --------------------------------------------------------------------------------------

def test_candidates_create_list_get_and_unknown_ids(make_server):
    server = make_server()
    candidate_id = server.create_candidate("Ann Example")
    assert uuid.UUID(candidate_id).version == 4
    listed = server.client.get("/v1/candidates", headers=AUTH).json()
    assert [c["name"] for c in listed] == ["Ann Example"]
    assert server.client.get(f"/v1/candidates/{candidate_id}", headers=AUTH).json()["interviews"] == []
    for bad in ({"name": ""}, {"name": "   "}, {"name": "x" * 201}, {"name": "a\nb"}, {}, {"name": 5}):
        one_line_error(server.client.post("/v1/candidates", json=bad, headers=AUTH), 422)
    one_line_error(server.client.post("/v1/candidates", content=b"{not json", headers=AUTH), 422)
    unknown = str(uuid.uuid4())
    for method, url in (("GET", f"/v1/candidates/{unknown}"), ("DELETE", f"/v1/candidates/{unknown}"),
                        ("GET", f"/v1/interviews/{unknown}"), ("GET", f"/v1/interviews/{unknown}/report"),
                        ("GET", f"/v1/interviews/{unknown}/report.html"), ("GET", f"/v1/interviews/{unknown}/frames"),
                        ("DELETE", f"/v1/interviews/{unknown}"), ("GET", f"/v1/jobs/{unknown}"),
                        ("POST", f"/v1/jobs/{unknown}/cancel"), ("GET", f"/v1/jobs/{unknown}/events"),
                        ("GET", "/v1/candidates/not-a-uuid"), ("GET", "/v1/interviews/%2e%2e")):
        assert "no " in one_line_error(server.client.request(method, url, headers=AUTH), 404)
    # an encoded slash makes a path that no route has
    assert one_line_error(server.client.get("/v1/interviews/%2e%2e%2f%2e%2e/report", headers=AUTH), 404)
    assert len(server.client.get("/v1/candidates", headers=AUTH).json()) == 1


# -- uploads: every bad input leaves nothing --------------------------------------------------------

def test_bad_uploads_get_a_4xx_and_leave_no_row_and_no_file(make_server, tmp_path):
    sample = SAMPLE.read_bytes()
    server = make_server(max_video_bytes=len(sample) + 1000)
    candidate_id = server.create_candidate()
    before = server.files()
    import cv2

    png = cv2.imencode(".png", np.full((64, 64, 3), 128, np.uint8))[1].tobytes()
    cases = [
        (dict(content=b""), 400, "empty file"),
        (dict(content=b"this is a text file, not a video\n" * 50), 400, "not a readable video"),
        (dict(content=sample[:30]), 400, "not a readable video"),  # cut inside the header
        (dict(content=sample[:11400]), 400, "no frame could be decoded"),  # header, then nothing
        (dict(content=sample + b"\0" * 70_000), 413, "larger than the limit"),
        (dict(question=None), 400, "question"),
        (dict(question=""), 400, "question"),
        (dict(question="q\x001"), 400, "question"),
        (dict(model="../../etc/passwd"), 400, "unknown model"),
        (dict(model="fer-fast.onnx"), 400, "unknown model"),
        (dict(content=png), 400, "PNG image, not a video"),
    ]
    for kwargs, status, message in cases:
        error = one_line_error(server.upload(candidate_id, **kwargs), status)
        assert message in error, (kwargs.keys(), error)
        assert rows(server) == (0, 0)
        assert server.files() == before
    # no file part at all, and a body that is not multipart
    no_file = server.client.post(f"/v1/candidates/{candidate_id}/interviews", headers=AUTH, data={"question": "q1"},
                                 files={"other": ("clip.mp4", sample[:1000])})
    assert "no file in the form field 'video'" in one_line_error(no_file, 400)
    form = server.client.post(f"/v1/candidates/{candidate_id}/interviews", headers=AUTH, data={"question": "q1"})
    assert "multipart" in one_line_error(form, 415)
    raw = server.client.post(f"/v1/candidates/{candidate_id}/interviews", headers=AUTH, content=sample)
    assert "multipart" in one_line_error(raw, 415)
    # an unknown candidate is refused before the video is read
    assert "no candidate" in one_line_error(server.upload(str(uuid.uuid4())), 404)
    assert rows(server) == (0, 0) and server.files() == before
    assert not list(tmp_path.rglob("x.mp4"))


def test_client_file_names_never_reach_the_disk(make_server, tmp_path):
    server = make_server(keep_videos=True, max_seconds=0.5)
    candidate_id = server.create_candidate()
    for name in ("../../x.mp4", "%2e%2e/%2e%2e/x.mp4", "/etc/x.mp4", "..\\..\\x.mp4"):
        response = server.upload(candidate_id, filename=name)
        assert response.status_code == 202, response.text
    server.wait(response.json()["job"]["id"])  # the last: one worker runs them in order
    assert not [p for p in tmp_path.rglob("*") if "x.mp4" in p.name or p.name.startswith("%2e")]
    for path in server.files():
        assert path.startswith(f"candidates/{candidate_id}/"), path
    # and nothing but a listed chart is reachable through the chart route
    interview_id = server.client.get("/v1/interviews", headers=AUTH).json()[0]["id"]
    for name in ("..%2f..%2femoscope.db", "upload.video", "interview.report.json", "%2e%2e"):
        assert server.client.get(f"/v1/interviews/{interview_id}/charts/{name}", headers=AUTH).status_code == 404


# -- jobs --------------------------------------------------------------------------------------------

def test_a_job_from_upload_to_report_json_html_frames_and_charts(make_server):
    server = make_server()
    candidate_id = server.create_candidate()
    response = server.upload(candidate_id, question="q3")
    assert response.status_code == 202
    interview = response.json()
    assert interview["job"]["state"] in ("queued", "running") and interview["job"]["model"] == "fer-default"
    job = server.wait(interview["job"]["id"])
    assert job["state"] == "done" and job["error"] is None and job["percent"] == 100.0
    assert job["frames_done"] == job["frames_expected"] > 0
    report = Report.model_validate(server.client.get(f"/v1/interviews/{interview['id']}/report",
                                                     headers=AUTH).json())
    assert [i.name for i in report.people[0].intervals] == list(INTERVAL_NAMES)
    assert report.metadata["question"] == "q3" and report.metadata["candidate"] == "Ann Example"
    html = server.client.get(f"/v1/interviews/{interview['id']}/report.html", headers=AUTH)
    assert html.headers["content-type"].startswith("text/html") and "data:image/png;base64" in html.text
    frames = server.client.get(f"/v1/interviews/{interview['id']}/frames", headers=AUTH)
    assert frames.headers["content-type"].startswith("text/csv")
    assert frames.text.splitlines()[0].startswith("frame,") and len(frames.text.splitlines()) > 10
    charts = server.client.get(f"/v1/interviews/{interview['id']}/charts", headers=AUTH).json()
    assert sorted(c.split(".")[2] for c in charts) == ["intervals", "shares", "timeline"]
    png = server.client.get(f"/v1/interviews/{interview['id']}/charts/{charts[0]}", headers=AUTH)
    assert png.content.startswith(b"\x89PNG")
    # the video is gone once analysed (personal data); the report stays
    assert not any(path.endswith("upload.video") for path in server.files())
    compared = server.client.get("/v1/compare", params={"question": "q3"}, headers=AUTH).json()
    assert [c["candidate"] for c in compared] == ["Ann Example"]
    assert dict(map(tuple, compared[0]["rows"]))["First"] == report.people[0].intervals[0].dominant
    assert server.client.get("/v1/compare", params={"question": "q9"}, headers=AUTH).json() == []
    profile = server.client.get(f"/v1/candidates/{candidate_id}", headers=AUTH).json()
    assert profile["interviews"][0]["job"]["state"] == "done"


def test_a_server_started_with_blendshapes_adds_them_to_every_report(make_server):
    pytest.importorskip("ai_edge_litert")
    server = make_server(blendshapes=True)
    interview = server.upload(server.create_candidate()).json()
    assert server.wait(interview["job"]["id"])["state"] == "done"
    report = server.client.get(f"/v1/interviews/{interview['id']}/report", headers=AUTH).json()
    assert report["analysis"]["options"]["blendshapes"] is True
    assert report["people"][0]["blendshapes"]["measured_frames"] > 0
    frames = server.client.get(f"/v1/interviews/{interview['id']}/frames", headers=AUTH).text
    assert "bs_mouthSmileLeft" in frames.splitlines()[0]


def test_a_truncated_video_is_analysed_as_far_as_it_decodes(make_server):
    server = make_server(max_seconds=None, sample_fps=4.0, frames_format="parquet")
    sample = SAMPLE.read_bytes()
    response = server.upload(server.create_candidate(), content=sample[: len(sample) // 3])
    job = server.wait(response.json()["job"]["id"])
    assert job["state"] == "done", job
    report = server.client.get(f"/v1/interviews/{response.json()['id']}/report", headers=AUTH).json()
    assert report["completeness"]["complete"] is False and report["notes"]
    # this server writes its frame tables as Parquet
    frames = server.client.get(f"/v1/interviews/{response.json()['id']}/frames", headers=AUTH)
    assert frames.content.startswith(b"PAR1") and frames.headers["content-type"] == "application/vnd.apache.parquet"


def test_job_progress_is_pushed_as_server_sent_events(make_server):
    server = make_server()
    job_id = server.upload(server.create_candidate()).json()["job"]["id"]
    events = []
    with server.client.stream("GET", f"/v1/jobs/{job_id}/events", headers=AUTH) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        for line in stream.iter_lines():
            if line.startswith("data:"):
                events.append(json.loads(line.removeprefix("data:")))
    assert events[-1]["state"] == "done" and events[-1]["percent"] == 100.0
    percents = [event["percent"] for event in events]
    assert percents == sorted(percents) and len(events) >= 2
    assert any(event["state"] in ("queued", "running") for event in events)


def test_cancel_a_running_and_a_queued_job_and_a_full_queue_answers_429(make_server):
    server = make_server(workers=1, max_queue=1, max_seconds=None)
    candidate_id = server.create_candidate()
    first = server.upload(candidate_id).json()
    server.wait(first["job"]["id"], states=("running",), until=lambda job: job["frames_done"] > 0)
    second = server.upload(candidate_id).json()
    assert second["job"]["state"] == "queued"
    full = server.upload(candidate_id)
    assert "queue is full" in one_line_error(full, 429) and full.headers["retry-after"] == "30"
    assert rows(server) == (2, 2)
    for interview in (second, first):  # queued, then running
        cancelled = server.client.post(f"/v1/jobs/{interview['job']['id']}/cancel", headers=AUTH)
        assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled", cancelled.text
        again = server.client.post(f"/v1/jobs/{interview['job']['id']}/cancel", headers=AUTH)
        assert "already cancelled" in one_line_error(again, 409)
        assert "job is cancelled" in one_line_error(
            server.client.get(f"/v1/interviews/{interview['id']}/report", headers=AUTH), 409)
    # nothing of the stopped analyses is left: no partial table, no video
    assert server.files() == set()
    # and the pool goes on with the next job (a short one: the first tenth of the clip)
    short = SAMPLE.read_bytes()[: SAMPLE.stat().st_size // 10]
    assert server.wait(server.upload(candidate_id, content=short).json()["job"]["id"])["state"] == "done"


def test_deleting_a_candidate_leaves_no_file_and_no_row(make_server):
    server = make_server(keep_videos=True)
    before = server.files()
    keep = server.create_candidate("Bob Other")
    gone = server.create_candidate("Ann Example")
    for candidate_id in (keep, gone):
        server.wait(server.upload(candidate_id).json()["job"]["id"])
    running = server.upload(gone).json()  # still queued or running when deleted
    assert any(path.startswith(f"candidates/{gone}/") and path.endswith("upload.video") for path in server.files())
    assert server.client.delete(f"/v1/candidates/{gone}", headers=AUTH).status_code == 204
    assert not any(gone in path for path in server.files())
    assert not (server.data_dir / "candidates" / gone).exists()
    one_line_error(server.client.get(f"/v1/candidates/{gone}", headers=AUTH), 404)
    one_line_error(server.client.get(f"/v1/jobs/{running['job']['id']}", headers=AUTH), 404)
    assert [i["candidate_id"] for i in server.client.get("/v1/interviews", headers=AUTH).json()] == [keep]
    assert len(server.client.get("/v1/jobs", headers=AUTH).json()) == 1
    # deleting an interview: its folder goes too
    interview_id = server.client.get("/v1/interviews", headers=AUTH).json()[0]["id"]
    assert server.client.delete(f"/v1/interviews/{interview_id}", headers=AUTH).status_code == 204
    assert server.files() == before
    assert server.client.get(f"/v1/candidates/{keep}", headers=AUTH).json()["interviews"] == []


def test_retention_deletes_old_interviews_and_candidates(make_server):
    from datetime import timedelta

    from sqlalchemy import update

    from emoscope.web.db import Candidate, Interview, utcnow
    from emoscope.web.retention import sweep

    server = make_server(retention_days=30)
    old, new = server.create_candidate("Old"), server.create_candidate("New")
    server.wait(server.upload(old).json()["job"]["id"])
    services = server.client.app.state.services
    with services.sessions.begin() as session:
        long_ago = utcnow() - timedelta(days=31)
        session.execute(update(Interview).where(Interview.candidate_id == old).values(created_at=long_ago))
        session.execute(update(Candidate).where(Candidate.id == old).values(created_at=long_ago))
    assert sweep(services.settings, services.sessions, services.storage) == 1
    assert [c["id"] for c in server.client.get("/v1/candidates", headers=AUTH).json()] == [new]
    assert server.files() == set()


# -- photos and models ----------------------------------------------------------------------------

def test_images_analyze_faces_and_bad_photos(make_server, data_root):
    media = data_root / "media"
    server = make_server(max_image_bytes=1_000_000)
    before = server.files()

    def analyze(content: bytes, **fields):
        return server.client.post("/v1/images:analyze", headers=AUTH, data=fields,
                                  files={"image": ("../../photo.jpg", content, "image/jpeg")})

    face = analyze((media / "single_face.jpg").read_bytes()).json()
    assert len(face["faces"]) == 1 and face["model"] == "fer-default"
    assert abs(sum(face["faces"][0]["probabilities"].values()) - 1) < 0.01
    assert face["faces"][0]["label"] in face["classes"]
    x1, y1, x2, y2 = face["faces"][0]["box"]
    assert 0 <= x1 < x2 <= face["width"] and 0 <= y1 < y2 <= face["height"]
    assert analyze((media / "free-mountain-vector-01.jpg").read_bytes()).json()["faces"] == []
    assert analyze((media / "single_face.jpg").read_bytes(), model="fer-fast").json()["model"] == "fer-fast"
    assert "not a readable image" in one_line_error(analyze(b"GIF89a but not really" * 10), 400)
    assert "empty file" in one_line_error(analyze(b""), 400)
    assert "larger than the limit" in one_line_error(analyze((media / "BWPictureHuman.jpg").read_bytes()), 413)
    assert "unknown model" in one_line_error(analyze(b"x", model="/etc/passwd"), 400)
    assert server.files() == before


def test_models_lists_the_shipped_names(make_server):
    models = make_server().client.get("/v1/models", headers=AUTH).json()
    assert models["video_default"] == "fer-default" and models["image_default"] == "fer-default"
    assert {"fer-fast", "fer-default"} <= set(models["models"])


# -- the schema ------------------------------------------------------------------------------------

def test_an_old_database_is_upgraded_not_recreated(tmp_path, database_url):
    from sqlalchemy import text

    from emoscope.web import migrations
    from emoscope.web.db import make_engine
    from emoscope.web.settings import Settings

    url = database_url or Settings(data_dir=tmp_path / "data").url
    (tmp_path / "data").mkdir()
    engine = make_engine(url)
    migrations.upgrade(engine, "0001")  # the first schema, without the progress columns
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO candidates (id, name, created_at) VALUES "
                                "('6c1d1f1e-0000-4000-8000-000000000001', 'From 0001', '2026-01-01')"))
    engine.dispose()
    from fastapi.testclient import TestClient

    from emoscope.web.app import create_app

    with TestClient(create_app(Settings(data_dir=tmp_path / "data", database_url=database_url,
                                        token="test-token"))) as client:
        assert [c["name"] for c in client.get("/v1/candidates", headers=AUTH).json()] == ["From 0001"]
    engine = make_engine(url)
    assert migrations.current_revision(engine) == migrations.head()
    engine.dispose()
