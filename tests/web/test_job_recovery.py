"""A job the server stops or dies during is not lost: stopping the server puts it back in the queue with
its uploaded video; one found ``running`` at start (what a killed server leaves, see test_restart.py for
the real SIGKILL) is queued again once and finishes; found running a second time it is ``interrupted``
and nothing of it is left on disk but its row. Every case leaves no orphan file and no orphan row."""

from __future__ import annotations

from sqlalchemy import update

from emoscope.web.db import Job, JobState
from web.support import AUTH, SAMPLE, Server, start_server


def _server(tmp_path, database_url, **settings):
    client, config = start_server(tmp_path, database_url, **settings)
    client.__enter__()
    return Server(client, config, config.data_dir)


def _set(server: Server, job_id: str, **values) -> None:
    """What a dead server leaves in the database (it never got to write the outcome)."""
    with server.client.app.state.services.sessions.begin() as session:
        session.execute(update(Job).where(Job.id == job_id).values(**values))


def _close(server: Server) -> None:
    server.client.__exit__(None, None, None)


def test_a_stopped_server_queues_its_job_again_and_the_next_start_finishes_it(tmp_path, database_url):
    server = _server(tmp_path, database_url, max_seconds=None)
    candidate_id = server.create_candidate()
    interview = server.upload(candidate_id).json()
    job_id = interview["job"]["id"]
    server.wait(job_id, states=("running",), until=lambda job: job["frames_done"] > 0)
    _close(server)  # stops the runner, as SIGTERM on `emoscope serve` does
    # only the uploaded video is left: the partial frame table is gone
    assert server.files() == {f"candidates/{candidate_id}/{interview['id']}/upload.video"}

    server = _server(tmp_path, database_url, max_seconds=1.0)
    try:
        job = server.wait(job_id)
        assert job["state"] == "done" and job["error"] is None and job["frames_done"] > 0, job
        assert server.client.get(f"/v1/interviews/{interview['id']}/report",
                                 headers=AUTH).status_code == 200
        assert not any(path.endswith("upload.video") for path in server.files())  # deleted once done
        assert len(server.client.get("/v1/jobs", headers=AUTH).json()) == 1
    finally:
        _close(server)


def test_a_job_found_running_at_start_runs_again_once_then_is_interrupted(tmp_path, database_url):
    short = SAMPLE.read_bytes()[: SAMPLE.stat().st_size // 10]
    server = _server(tmp_path, database_url, max_seconds=1.0)
    candidate_id = server.create_candidate()
    once = server.upload(candidate_id, content=short).json()
    twice = server.upload(candidate_id, content=short).json()
    for interview in (once, twice):
        server.wait(interview["job"]["id"])
    _close(server)
    # emulate the server dying in the middle of both: running, partial outputs, the video still there
    for interview, restarts in ((once, 0), (twice, 1)):
        folder = server.data_dir / "candidates" / candidate_id / interview["id"]
        (folder / "upload.video").write_bytes(short)
        (folder / ".interview.frames.csv.tmp").write_text("frame,\n1,\n")
        _set(server, interview["job"]["id"], state=JobState.running, frames_done=3, restarts=restarts)

    server = _server(tmp_path, database_url, max_seconds=1.0)
    try:
        first = server.wait(once["job"]["id"])
        assert first["state"] == "done" and first["error"] is None, first
        second = server.wait(twice["job"]["id"])
        assert second["state"] == "interrupted" and "server stopped" in second["error"], second
        folder = server.data_dir / "candidates" / candidate_id
        assert not any((folder / twice["id"]).iterdir())  # neither its video nor a partial table
        assert not (folder / once["id"] / "upload.video").exists()
        assert not (folder / once["id"] / ".interview.frames.csv.tmp").exists()
        jobs = server.client.get("/v1/jobs", headers=AUTH).json()
        assert sorted(job["state"] for job in jobs) == ["done", "interrupted"]
    finally:
        _close(server)
