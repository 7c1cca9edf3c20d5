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
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.client.get(f"/v1/jobs/{job_id}", headers=AUTH).json()
            if job["state"] in states and (until is None or until(job)):
                return job
            time.sleep(0.1)
        raise AssertionError(f"job {job_id} did not reach {states} in {timeout} s: {job}")


def start_server(tmp_path: Path, database_url: str | None, **settings) -> tuple:
    from fastapi.testclient import TestClient

    from emoscope.web.app import create_app
    from emoscope.web.settings import Settings

    options = dict(data_dir=tmp_path / "data", database_url=database_url, token=TOKEN, max_seconds=2.0)
    options.update(settings)
    config = Settings(**options)
    return TestClient(create_app(config)), config
