"""What the web app's tests share: the token, the sample clip, and a running app with helpers."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "samples" / "WolfgangLanger_Pexels.mp4"
TOKEN = "test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@dataclass
class Server:
    client: object
    settings: object
    data_dir: Path

    def files(self) -> set[str]:
        """Every file in the data folder but the SQLite database's own."""
        return {str(p.relative_to(self.data_dir)) for p in self.data_dir.rglob("*")
                if p.is_file() and not p.name.startswith("emoscope.db")}

    def create_candidate(self, name: str = "Ann Example") -> str:
        response = self.client.post("/v1/candidates", json={"name": name}, headers=AUTH)
        assert response.status_code == 201, response.text
        return response.json()["id"]

    def upload(self, candidate_id: str, content: bytes | None = None, filename: str = "clip.mp4",
               question: str | None = "q1", **fields):
        data = {"question": question, **fields} if question is not None else fields
        return self.client.post(f"/v1/candidates/{candidate_id}/interviews", headers=AUTH, data=data,
                                files={"video": (filename, SAMPLE.read_bytes() if content is None else content,
                                                 "video/mp4")})

    def wait(self, job_id: str, states=("done", "failed", "cancelled", "interrupted"), timeout: float = 120,
             until=None) -> dict:
        return wait_job(_Authorised(self.client), job_id, states, timeout, until)


class _Authorised:
    """A TestClient that sends the token with every GET."""

    def __init__(self, client):
        self._client = client

    def get(self, url: str):
        return self._client.get(url, headers=AUTH)


def start_server(tmp_path: Path, database_url: str | None, **settings) -> tuple:
    from fastapi.testclient import TestClient

    from emoscope.web.app import create_app
    from emoscope.web.settings import Settings

    options = dict(data_dir=tmp_path / "data", database_url=database_url, token=TOKEN, max_seconds=1.0)
    options.update(settings)
    config = Settings(**options)
    return TestClient(create_app(config)), config


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServeProcess:
    """`emoscope serve` in its own process group on a free loopback port, as a user starts it."""

    def __init__(self, data_dir: Path, *args: str):
        self.data_dir, self.args, self.port = data_dir, args, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = None

    def start(self, timeout: float = 60) -> ServeProcess:
        import os
        import subprocess
        import sys

        import httpx

        self.log = open(self.data_dir.parent / f"serve-{self.port}.log", "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "emoscope", "serve", "--port", str(self.port), "--data-dir", str(self.data_dir),
             "--token", TOKEN, *self.args], stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"emoscope serve exited with {self.process.returncode}: {self.output()}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"emoscope serve did not become ready in {timeout} s: {self.output()}")

    def output(self) -> str:
        self.log.flush()
        return (self.data_dir.parent / f"serve-{self.port}.log").read_text(errors="replace")[-3000:]

    def client(self):
        import httpx

        return httpx.Client(base_url=self.url, headers=AUTH, timeout=60)

    def stop(self) -> int:
        """Ctrl+C-like: SIGTERM, then wait for a clean exit."""
        import signal

        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=60)
        self.log.close()
        return code

    def kill(self) -> None:
        """The machine-level crash: SIGKILL to the server and its workers at once."""
        import os
        import signal

        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        self.log.close()

    def __enter__(self) -> ServeProcess:
        return self.start()

    def __exit__(self, *exc) -> None:
        if self.process is not None and self.process.poll() is None:
            self.kill()


def wait_job(client, job_id: str, states=("done", "failed", "cancelled", "interrupted"), timeout: float = 180,
             until=None) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/v1/jobs/{job_id}").json()
        if job["state"] in states and (until is None or until(job)):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not reach {states} in {timeout} s: {job}")
