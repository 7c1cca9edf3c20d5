"""`emoscope bench serve`: a bounded load test of the web app over loopback. `emoscope serve` runs in a
subprocess with a throw-away data folder; phase 1 sends ``requests`` photos to ``POST /v1/images:analyze``
from ``concurrency`` clients at once, phase 2 uploads ``videos`` interviews at once and waits for their
jobs, phase 3 has ``candidates`` candidates answer an invitation at once as their browsers do (open the
link, consent, upload the recorded answer; a 429 waited out as its Retry-After says) and waits for the
analyses. Reported: requests/s, latency percentiles, errors (any answer but 200/202, or a failed job),
and the machine's load average around the run (the figures are this machine's, under that load)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np

from emoscope.errors import DataError, EmoscopeError

KEEPALIVE_EXPIRY_S = 2.0
"""How long the load clients keep an idle connection: less than uvicorn's 5 s keep-alive. At the same expiry a
request can go out on a connection the server is closing and fail as a disconnect (seen in the soak under load)."""


def load_client(url: str, timeout: float, **options):
    """The async HTTP client the load tests (`bench serve`, `bench soak`) talk to the server with."""
    import httpx

    return httpx.AsyncClient(base_url=url, timeout=timeout, limits=httpx.Limits(keepalive_expiry=KEEPALIVE_EXPIRY_S),
                             **options)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def face_photo(image: Path | None, video: Path) -> tuple[bytes, str]:
    """The photo to send: ``image``, else a real face photo from the data folder, else the video's first
    frame as JPEG; and where it came from."""
    if image is not None:
        if not image.is_file():
            raise DataError(f"{image}: no such image")
        return image.read_bytes(), str(image)
    from emoscope.data import data_root

    photo = data_root() / "media" / "single_face.jpg"
    if photo.is_file():
        return photo.read_bytes(), str(photo)
    import cv2

    from emoscope.video.source import VideoSource

    with VideoSource(video, prefetch=0) as source:
        frame = next(iter(source))
    return cv2.imencode(".jpg", frame.image)[1].tobytes(), f"{video} (first frame)"


def _latencies(seconds: list[float]) -> dict:
    ms = np.array(seconds) * 1000
    return {f"p{q}_ms": round(float(np.percentile(ms, q)), 1) for q in (50, 95, 99)} | \
        {"mean_ms": round(float(ms.mean()), 1), "max_ms": round(float(ms.max()), 1)}


async def _images(client, photo: bytes, requests: int, concurrency: int) -> dict:
    latencies, errors, sent = [], [], iter(range(requests))

    async def one_client() -> None:
        for _ in sent:  # the clients share one counter: exactly `requests` in all
            start = time.perf_counter()
            response = await client.post("/v1/images:analyze", files={"image": ("photo.jpg", photo, "image/jpeg")})
            latencies.append(time.perf_counter() - start)
            if response.status_code != 200 or not response.json().get("faces"):
                errors.append(f"{response.status_code}: {response.text[:200]}")

    start = time.perf_counter()
    await asyncio.gather(*(one_client() for _ in range(concurrency)))
    wall = time.perf_counter() - start
    return {"requests": requests, "concurrency": concurrency, "seconds": round(wall, 2),
            "requests_per_s": round(requests / wall, 1), **_latencies(latencies), "errors": len(errors),
            "error_samples": errors[:3]}


async def _videos(client, video: Path, count: int) -> dict:
    candidate = (await client.post("/v1/candidates", json={"name": "load test"})).json()["id"]
    content = video.read_bytes()

    async def one_job(index: int) -> dict:
        start = time.perf_counter()
        response = await client.post(f"/v1/candidates/{candidate}/interviews", data={"question": f"q{index}"},
                                     files={"video": (video.name, content, "video/mp4")})
        if response.status_code != 202:
            return {"error": f"{response.status_code}: {response.text[:200]}"}
        upload_s = time.perf_counter() - start
        job = await _wait_done(client, response.json()["job"]["id"])
        return {"state": job["state"], "error": job["error"], "frames": job["frames_done"],
                "upload_s": round(upload_s, 2), "seconds": round(time.perf_counter() - start, 2)}

    start = time.perf_counter()
    jobs = await asyncio.gather(*(one_job(i) for i in range(count)))
    wall = time.perf_counter() - start
    return {"jobs": count, "seconds": round(wall, 2), "errors": sum(job.get("state") != "done" for job in jobs),
            "frames_per_s": round(sum(job.get("frames", 0) for job in jobs) / wall, 1), "each": jobs}


async def _wait_done(client, job_id: str) -> dict:
    while (job := (await client.get(f"/v1/jobs/{job_id}")).json())["state"] in ("queued", "running"):
        await asyncio.sleep(0.25)
    return job


async def _candidates(client, url: str, video: Path, count: int, timeout: float) -> dict:
    """``count`` candidates, each with an invitation of one question, answer at once with ``video``."""
    content = video.read_bytes()
    invited = []  # the analyst's side, before the clock starts
    for index in range(count):
        candidate = (await client.post("/v1/candidates", json={"name": f"load test candidate {index + 1}"})).json()
        invitation = (await client.post(f"/v1/candidates/{candidate['id']}/invitations", json={
            "questions": [{"text": "Tell us about yourself.", "seconds": 120}]})).json()
        invited.append((candidate["id"], urlsplit(invitation["link"]).path))

    async def one_candidate(browser, candidate_id: str, link: str) -> dict:
        start = time.perf_counter()
        for response in (await browser.get(link, headers={"Accept": "text/html"}),
                         await browser.post(f"{link}/consent", data={"agree": "yes"})):  # then the recording page
            if response.status_code != 200:
                return {"error": f"{response.request.url.path}: {response.status_code}", "busy": 0}
        busy = 0
        while True:
            sent = time.perf_counter()
            response = await browser.post(f"{link}/answers/1",
                                          files={"video": (f"answer{video.suffix}", content, "video/mp4")})
            if response.status_code != 429:
                break
            busy += 1  # as the page does: wait as long as the server says, send the same recording again
            await asyncio.sleep(float(response.headers.get("Retry-After", "10")))
        upload_s, accepted_s = time.perf_counter() - sent, time.perf_counter() - start
        if response.status_code != 202:
            return {"error": f"{response.status_code}: {response.text[:200]}", "busy": busy}
        interview = (await client.get(f"/v1/candidates/{candidate_id}")).json()["interviews"][0]
        job = await _wait_done(client, interview["job"]["id"])
        return {"state": job["state"], "error": job["error"], "frames": job["frames_done"], "busy": busy,
                "upload_s": round(upload_s, 2), "accepted_s": round(accepted_s, 2),
                "seconds": round(time.perf_counter() - start, 2)}

    # no token: the link is the key; redirects followed, as a browser does
    async with load_client(url, timeout, follow_redirects=True) as browser:
        start = time.perf_counter()
        answers = await asyncio.gather(*(one_candidate(browser, *pair) for pair in invited))
        wall = time.perf_counter() - start
    done = [a for a in answers if a.get("state") == "done"]
    return {"candidates": count, "video": str(video), "video_bytes": len(content), "seconds": round(wall, 2),
            "all_accepted_s": round(max((a.get("accepted_s", wall) for a in answers), default=0.0), 2),
            "upload_latency": _latencies([a["upload_s"] for a in answers if "upload_s" in a] or [0.0]),
            "busy_answers": sum(a["busy"] for a in answers),
            "frames_per_s": round(sum(a.get("frames", 0) for a in answers) / wall, 1),
            "errors": count - len(done), "each": answers}


def run_load_test(video: Path, image: Path | None = None, requests: int = 200, concurrency: int = 8,
                  videos: int = 3, workers: int = 3, timeout: float = 900, candidates: int = 0) -> dict:
    if not video.is_file():
        raise DataError(f"{video}: no such video")
    photo, photo_source = face_photo(image, video)
    with served("--workers", str(workers), "--max-queue", str(max(videos, candidates, 1))) as (_, url, token):

        async def phases() -> dict:
            async with load_client(url, timeout, headers={"Authorization": f"Bearer {token}"}) as client:
                await client.post("/v1/images:analyze", files={"image": ("photo.jpg", photo)})  # loads the model
                return {"images": await _images(client, photo, requests, concurrency),
                        "videos": await _videos(client, video, videos) if videos else None,
                        "candidates": await _candidates(client, url, video, candidates, timeout)
                        if candidates else None}

        load_before = os.getloadavg()[0]
        results = asyncio.run(phases())
    return {"photo": photo_source, "video": str(video), "workers": workers, "cpus": os.cpu_count(),
            "load_average_1m": {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)}, **results,
            "errors": sum(results[phase]["errors"] for phase in ("images", "videos", "candidates") if results[phase])}


@contextlib.contextmanager
def served(*args: str) -> Iterator[tuple[subprocess.Popen, str, str]]:
    """``emoscope serve *args`` on a free loopback port, a throw-away data folder and a new token, once it
    answers: (process, url, token); stopped at the end."""
    token, port = secrets.token_urlsafe(16), _free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="emoscope-bench-serve-") as folder, \
            (Path(folder) / "serve.log").open("w+b") as log:
        server = subprocess.Popen([sys.executable, "-m", "emoscope", "serve", "--port", str(port), "--data-dir",
                                   str(Path(folder) / "data"), "--token", token, *args],
                                  stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_ready(server, url, log)
            yield server, url, token
        finally:
            server.terminate()
            server.wait(timeout=60)


def _wait_ready(server: subprocess.Popen, url: str, log, timeout: float = 60) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            log.seek(0)
            raise EmoscopeError(f"emoscope serve stopped: {log.read().decode(errors='replace')[-500:]}")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise EmoscopeError(f"emoscope serve did not answer at {url} within {timeout:.0f} s")
