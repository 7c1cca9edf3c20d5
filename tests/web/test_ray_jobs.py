"""The web app's jobs on Ray (`emoscope serve --engine ray`), on a Ray started on this machine for this
module (``ray.init(num_cpus=2)``, stopped at the end): a job from queued through running (with progress)
to done whose report is the local executor's, the bounded queue, cancelling a running Ray job and
stopping the server during one (no partial file left), a killed Ray worker that is retried, a job
whose retries are all used up, and the command: on a Ray it starts itself, and its one-line refusals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from emoscope.jobs.batch import KILL_ONCE_ENV
from emoscope.jobs.ray_engine import MAX_RETRIES
from conftest import run_cli_here
from emoscope.web.db import Job, JobState
from helpers import without_timing
from web.support import AUTH, SAMPLE, Server, ServeProcess, start_server, wait_job

ray = pytest.importorskip("ray", reason="the `ray` extra is not installed (pip install 'emoscope[ray]')")

SHORT = dict(max_seconds=2.0)  # 48 frames: long enough to see progress, short enough for CI


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture
def serve(tmp_path):
    """``serve(**settings)``: an app (SQLite) on a fresh data folder, stopped at the end of the test."""
    clients = []

    def make(**settings) -> Server:
        client, config = start_server(tmp_path / str(len(clients)), None, **settings)
        clients.append(client.__enter__())
        return Server(client, config, config.data_dir)

    yield make
    for client in reversed(clients):
        client.__exit__(None, None, None)


def finished_upload(server: Server) -> tuple[dict, list[tuple[str, int]]]:
    """Upload the sample; (the finished job, every (state, frames_done) seen on the way)."""
    response = server.upload(server.create_candidate())
    assert response.status_code == 202, response.text
    job_id = response.json()["job"]["id"]
    seen = [(response.json()["job"]["state"], 0)]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job = server.client.get(f"/v1/jobs/{job_id}", headers=AUTH).json()
        seen.append((job["state"], job["frames_done"]))
        if job["state"] not in ("queued", "running"):
            return job, seen
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish: {job}")


def outputs(server: Server, job: dict) -> tuple[dict, bytes, list[str]]:
    """The served report (without timing), frame table and chart names of a job's interview."""
    interview = f"/v1/interviews/{job['interview_id']}"
    report = server.client.get(f"{interview}/report", headers=AUTH).json()
    report["metadata"].pop("interview"), report["video"].pop("source")  # each server's own id and folder
    return (without_timing(report), server.client.get(f"{interview}/frames", headers=AUTH).content,
            server.client.get(f"{interview}/charts", headers=AUTH).json())


@pytest.fixture(scope="module")
def local_outputs(tmp_path_factory):
    client, config = start_server(tmp_path_factory.mktemp("local"), None, **SHORT)
    with client:
        server = Server(client, config, config.data_dir)
        job, _ = finished_upload(server)
        assert job["state"] == "done", job
        return outputs(server, job)


def test_a_ray_job_runs_with_progress_and_serves_the_local_executors_report(local_ray, serve, local_outputs):
    server = serve(engine="ray", **SHORT)
    job, seen = finished_upload(server)
    assert job["state"] == "done" and job["error"] is None and job["percent"] == 100.0, job
    assert job["frames_done"] == job["frames_expected"] == 48
    states = [state for state, _ in seen]
    assert states[0] == "queued" and "running" in states and states[-1] == "done"
    assert states == sorted(states, key=["queued", "running", "done"].index)  # never back
    assert any(state == "running" and 0 < done < 48 for state, done in seen), seen  # progress on the way
    assert outputs(server, job) == local_outputs
    assert not any(path.endswith("upload.video") for path in server.files())  # as the local executor does


def test_cancel_stop_and_the_bounded_queue_on_ray(local_ray, serve):
    server = serve(engine="ray", workers=1, max_queue=1, max_seconds=None)
    candidate_id = server.create_candidate()
    first = server.upload(candidate_id).json()
    server.wait(first["job"]["id"], states=("running",), until=lambda job: job["frames_done"] > 0)
    second = server.upload(candidate_id).json()
    time.sleep(0.5)  # a dispatcher that ignored --workers would have started it by now
    assert server.client.get(f"/v1/jobs/{second['job']['id']}", headers=AUTH).json()["state"] == "queued"
    assert server.upload(candidate_id).status_code == 429
    for interview in (first, second):  # running, then queued
        cancelled = server.client.post(f"/v1/jobs/{interview['job']['id']}/cancel", headers=AUTH)
        assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled", cancelled.text
    assert server.files() == set()
    time.sleep(1.0)  # a worker still alive after the cancel would write its next rows by now
    assert server.files() == set()
    # stopping the server: its running Ray job goes back in the queue with its video, its partial files removed
    third = server.upload(candidate_id).json()
    server.wait(third["job"]["id"], states=("running",), until=lambda job: job["frames_done"] > 0)
    server.client.__exit__(None, None, None)
    with server.client.app.state.services.sessions() as session:
        job = session.get(Job, third["job"]["id"])
        assert job.state == JobState.queued and job.frames_done == 0 and job.error is None
    assert server.files() == {f"candidates/{candidate_id}/{third['id']}/upload.video"}


def test_a_killed_ray_worker_is_retried_and_the_job_still_finishes(local_ray, serve, local_outputs, tmp_path,
                                                                   monkeypatch):
    marker = tmp_path / "killed"
    monkeypatch.setenv(KILL_ONCE_ENV, str(marker))
    server = serve(engine="ray", **SHORT)
    job, _ = finished_upload(server)
    assert marker.exists()  # the first attempt's worker did die (os._exit)
    assert job["state"] == "done", job
    assert outputs(server, job) == local_outputs


def running_analyses() -> set[int]:
    """The pids of Ray workers running a web job now (Ray titles them ``ray::<function>``)."""
    found = set()
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if cmdline.read_bytes().startswith(b"ray::_analyse"):
                found.add(int(cmdline.parent.name))
        except OSError:
            continue  # it ended meanwhile
    return found


def test_a_job_whose_ray_retries_are_used_up_fails_with_one_line(local_ray, serve):
    server = serve(engine="ray", max_seconds=None)
    job_id = server.upload(server.create_candidate()).json()["job"]["id"]
    killed: set[int] = set()
    deadline = time.monotonic() + 120
    # until the job ends: Ray does not count every killed worker against the retries (one CI run killed four,
    # saw two retries and the job finished), so the number of kills a job takes is not fixed
    while (job := server.client.get(f"/v1/jobs/{job_id}", headers=AUTH).json())["state"] in ("queued", "running"):
        assert time.monotonic() < deadline, f"job {job_id} outlived {len(killed)} killed workers: {job}"
        for pid in running_analyses() - killed:
            os.kill(pid, signal.SIGKILL)  # every attempt's worker, as a node that keeps running out of memory
            killed.add(pid)
        time.sleep(0.1)
    assert len(killed) > MAX_RETRIES  # the first attempt and every retry
    assert job["state"] == "failed" and "Ray worker failed" in job["error"] and "\n" not in job["error"], job
    assert server.files() == set()


def test_the_command_starts_its_own_ray_and_stops_cleanly(tmp_path):
    with ServeProcess(tmp_path / "data", "--engine", "ray", "--max-seconds", "1") as server, \
            server.client() as client:
        candidate_id = client.post("/v1/candidates", json={"name": "Ann Example"}).json()["id"]
        response = client.post(f"/v1/candidates/{candidate_id}/interviews", data={"question": "q1"},
                               files={"video": ("clip.mp4", SAMPLE.read_bytes(), "video/mp4")})
        assert wait_job(client, response.json()["job"]["id"])["state"] == "done"
        assert server.stop() == 0  # SIGTERM: a clean exit, not Ray's own handler's 15


def test_serve_refusals_for_the_engine_are_one_error_line(tmp_path):
    code = ("import sys; sys.modules['ray'] = None; from emoscope.cli.main import main; "
            "main(['serve', '--engine', 'ray', '--port', '0'])")
    without_ray = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                                 cwd=tmp_path)
    # the two with Ray installed in this process (the command's own code, without a new interpreter's imports)
    results = [(without_ray.returncode, without_ray.stderr)] + [
        run_cli_here("serve", *args, cwd=tmp_path) for args in (["--engine", "spark"], ["--address", "auto"])]
    messages = ["error: --engine ray needs Ray: pip install 'emoscope[ray]' (make install includes it)",
                "unknown engine 'spark'", "--address is for --engine ray"]
    for (code, stderr), message in zip(results, messages):
        lines = stderr.strip().splitlines()
        assert code == 2 and len(lines) == 1 and lines[0].startswith("error:"), stderr
        assert message in lines[0], lines
    assert not any(tmp_path.iterdir())
