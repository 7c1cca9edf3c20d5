"""`emoscope serve` as a process: a finished report survives a restart, and a job running when the
server is killed (SIGKILL, workers too) is queued again at the next start with its uploaded video and
finishes, its partial files replaced, never left "running"."""

from __future__ import annotations

import os
import signal
import time

from web.support import SAMPLE, ServeProcess, wait_job


def upload(client, candidate_id: str) -> dict:
    response = client.post(f"/v1/candidates/{candidate_id}/interviews", data={"question": "q1"},
                           files={"video": ("clip.mp4", SAMPLE.read_bytes(), "video/mp4")})
    assert response.status_code == 202, response.text
    return response.json()


def test_reports_survive_a_restart_and_a_killed_job_is_queued_again(tmp_path):
    data = tmp_path / "data"
    server = ServeProcess(data, "--max-seconds", "1").start()
    with server.client() as client:
        candidate_id = client.post("/v1/candidates", json={"name": "Ann Example"}).json()["id"]
        finished = upload(client, candidate_id)
        assert wait_job(client, finished["job"]["id"])["state"] == "done"
        report = client.get(f"/v1/interviews/{finished['id']}/report").json()
    assert server.stop() == 0, server.output()

    # full length now, so the job is still running when the server is killed
    with ServeProcess(data) as server, server.client() as client:
        assert client.get(f"/v1/interviews/{finished['id']}/report").json() == report
        running = upload(client, candidate_id)
        wait_job(client, running["job"]["id"], states=("running",), until=lambda job: job["frames_done"] > 0)
        server.kill()

    folder = data / "candidates" / candidate_id / running["id"]
    assert (folder / "upload.video").is_file()  # the killed job's video waits for the next start
    with ServeProcess(data, "--max-seconds", "1") as server, server.client() as client:
        job = wait_job(client, running["job"]["id"])
        assert job["state"] == "done" and job["error"] is None, job
        assert client.get(f"/v1/interviews/{running['id']}/report").status_code == 200
        assert client.get(f"/v1/interviews/{finished['id']}/report").json() == report
        assert len(client.get("/v1/jobs").json()) == 2  # re-run, not duplicated
    # its outputs are this run's (one report, no leftover from the killed run), its video gone once done
    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) == sorted(
        p.name for p in (data / "candidates" / candidate_id / finished["id"]).iterdir() if not p.name.startswith("."))
    assert not (folder / "upload.video").exists() and not list((data / "tmp").iterdir())


def test_a_worker_that_dies_fails_its_job_and_a_fresh_one_takes_the_next(tmp_path):
    from web.support import AUTH, Server, start_server

    client, settings = start_server(tmp_path, None, max_seconds=None)
    with client:
        server = Server(client, settings, settings.data_dir)
        candidate_id = server.create_candidate()
        job_id = server.upload(candidate_id).json()["job"]["id"]
        server.wait(job_id, states=("running",), until=lambda job: job["frames_done"] > 0)
        worker, = client.app.state.services.runner.executor._workers
        worker.process.kill()  # as the kernel's OOM killer would
        job = server.wait(job_id)
        assert job["state"] == "failed" and "stopped unexpectedly" in job["error"], job
        assert server.files() == set()  # its partial table and video are gone
        short = SAMPLE.read_bytes()[: SAMPLE.stat().st_size // 10]
        assert server.wait(server.upload(candidate_id, content=short).json()["job"]["id"])["state"] == "done"
        assert client.get("/readyz", headers=AUTH).json()["status"] == "ready"


def test_a_server_killed_alone_takes_its_workers_with_it(tmp_path):
    """SIGKILL to the server process only (not its group): its analysis worker exits within seconds (its
    next progress message meets a closed pipe) instead of writing on into the interview's folder."""
    server = ServeProcess(tmp_path / "data").start()
    try:
        with server.client() as client:
            candidate_id = client.post("/v1/candidates", json={"name": "Ann Example"}).json()["id"]
            running = upload(client, candidate_id)
            wait_job(client, running["job"]["id"], states=("running",), until=lambda job: job["frames_done"] > 0)
        os.kill(server.process.pid, signal.SIGKILL)
        server.process.wait(timeout=30)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                os.killpg(server.process.pid, 0)  # anyone left in the server's process group?
            except ProcessLookupError:
                break
            time.sleep(0.2)
        else:
            raise AssertionError("the analysis worker outlived its killed server by 15 s")
    finally:
        try:
            os.killpg(server.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        server.log.close()
