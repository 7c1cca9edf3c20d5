"""`emoscope bench soak`: the web app under a steady mix of work for a long time, watched for leaks.

``emoscope serve`` runs in a subprocess on a throw-away data folder (as `emoscope bench serve` runs it).
After a warm-up (a photo and ``warm_up_jobs`` interviews: the models are loaded and the job worker's
allocator has settled, see :data:`emoscope.jobs.memory.MALLOC_ARENAS`, before the clock starts), three
clients run side by side until ``minutes`` have passed: an uploader (an interview of the clip, the next
one sent when the last job is done, at most one per ``upload_every_s``), a photo client
(``POST /v1/images:analyze``, one per ``photo_every_s``) and a report reader (the JSON and HTML report
and the frame table of a finished interview, one per ``read_every_s``). Every ``sample_every_s`` the
server process and its children (the job workers) are sampled from /proc: resident memory and open
file descriptors. Any answer but 2xx, and any job not done, is an error.

Flat means: the median of the last quarter's samples is within ``tolerance`` of the first quarter's
(memory: the larger of 10 % and 50 MB; files: 10 descriptors); see :func:`flatness`.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from pathlib import Path

from emoscope.benchmarks.tables import markdown_table
from emoscope.errors import DataError
from emoscope.video.source import VideoSource
from emoscope.web.loadtest import face_photo, load_client, served

RSS_TOLERANCE = (0.10, 50.0)
"""Memory growth allowed from the first quarter's median to the last's: 10 %, or 50 MB when that is more.
A job worker's peak varies by some tens of MB with the frames it last held (decoder, face mesh and hand
buffers), and glibc returns freed memory to the system only in part, so a flat process still moves by
that much; a leak of even 1 kB per request or 1 MB per job grows past it within the 30-minute run."""
FD_TOLERANCE = 10
"""Open files allowed to differ: a request or job in flight holds a few (an upload's spool, the video,
the report, SQLite's journal), so two samples of a flat server differ by up to that many."""


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants, from /proc (Linux)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue  # ended since listed
            parents[int(entry.name)] = int(stat.rpartition(")")[2].split()[1])
    tree, frontier = [pid], [pid]
    while frontier:
        frontier = [child for child, parent in parents.items() if parent in frontier]
        tree += frontier
    return tree


def sample(pid: int) -> dict:
    """Resident memory (MB) and open file descriptors of the server alone and of its whole tree."""
    def rss_mb(process: int) -> float:
        for line in Path(f"/proc/{process}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    figures = {"server_rss_mb": 0.0, "server_fds": 0, "tree_rss_mb": 0.0, "tree_fds": 0, "processes": 0}
    for process in process_tree(pid):
        try:
            rss, fds = rss_mb(process), len(os.listdir(f"/proc/{process}/fd"))
        except OSError:
            continue
        figures["tree_rss_mb"] += rss
        figures["tree_fds"] += fds
        figures["processes"] += 1
        if process == pid:
            figures["server_rss_mb"], figures["server_fds"] = rss, fds
    return {key: round(value, 1) if isinstance(value, float) else value for key, value in figures.items()}


def flatness(samples: list[dict]) -> dict:
    """First and last quarter medians of each figure, the change, and whether it is within tolerance."""
    quarter = max(1, len(samples) // 4)
    result = {}
    for key in ("server_rss_mb", "tree_rss_mb", "server_fds", "tree_fds"):
        first = statistics.median(s[key] for s in samples[:quarter])
        last = statistics.median(s[key] for s in samples[-quarter:])
        allowed = max(RSS_TOLERANCE[0] * first, RSS_TOLERANCE[1]) if key.endswith("_mb") else FD_TOLERANCE
        result[key] = {"first_quarter": round(first, 1), "last_quarter": round(last, 1),
                       "change": round(last - first, 1), "allowed": round(allowed, 1), "flat": last - first <= allowed}
    return result


async def _soak(client, pid: int, photo: bytes, video: Path, seconds: float, upload_every_s: float,
                photo_every_s: float, read_every_s: float, sample_every_s: float, warm_up_jobs: int) -> dict:
    counts = {"uploads": 0, "jobs_done": 0, "photos": 0, "report_reads": 0}
    errors: list[str] = []
    finished: list[str] = []  # interview ids with a report
    samples: list[dict] = []
    content = video.read_bytes()

    def check(response, expected=(200, 201, 202)) -> bool:
        if response.status_code not in expected:
            errors.append(f"{response.request.method} {response.request.url.path}: {response.status_code} "
                          f"{response.text[:200]}")
            return False
        return True

    async def upload_one(candidate: str, index: int) -> None:
        response = await client.post(f"/v1/candidates/{candidate}/interviews", data={"question": f"q{index % 50}"},
                                     files={"video": (video.name, content, "video/mp4")})
        counts["uploads"] += 1
        if not check(response):
            return
        interview = response.json()
        while (job := (await client.get(f"/v1/jobs/{interview['job']['id']}")).json())["state"] in ("queued",
                                                                                                    "running"):
            await asyncio.sleep(0.5)
        if job["state"] != "done":
            errors.append(f"job {job['id']}: {job['state']} {job.get('error')}")
            return
        counts["jobs_done"] += 1
        finished.append(interview["id"])

    async def uploader() -> None:
        index = warm_up_jobs
        while time.monotonic() < deadline:
            started = time.monotonic()
            await upload_one(candidate, index)
            index += 1
            await asyncio.sleep(max(0.0, upload_every_s - (time.monotonic() - started)))

    async def photos() -> None:
        while time.monotonic() < deadline:
            started = time.monotonic()
            response = await client.post("/v1/images:analyze", files={"image": ("photo.jpg", photo, "image/jpeg")})
            counts["photos"] += 1
            if check(response, (200,)) and not response.json().get("faces"):
                errors.append("/v1/images:analyze: no face found in the soak's face photo")
            await asyncio.sleep(max(0.0, photo_every_s - (time.monotonic() - started)))

    async def reader() -> None:
        turn = 0
        while time.monotonic() < deadline:
            started = time.monotonic()
            if finished:
                interview = finished[turn % len(finished)]
                path = ("report", "report.html", "frames")[turn % 3]
                check(await client.get(f"/v1/interviews/{interview}/{path}"), (200,))
                counts["report_reads"] += 1
                turn += 1
            await asyncio.sleep(max(0.0, read_every_s - (time.monotonic() - started)))

    async def sampler() -> None:
        start = time.monotonic()
        while time.monotonic() < deadline:
            samples.append({"t_s": round(time.monotonic() - start, 1), **sample(pid)})
            await asyncio.sleep(sample_every_s)

    # the warm-up, before the clock starts: the photo and video models loaded, one report to read
    candidate = (await client.post("/v1/candidates", json={"name": "soak"})).json()["id"]
    check(await client.post("/v1/images:analyze", files={"image": ("photo.jpg", photo, "image/jpeg")}), (200,))
    for index in range(warm_up_jobs):
        await upload_one(candidate, index)
    if not errors:
        counts.update(dict.fromkeys(counts, 0))
        deadline = time.monotonic() + seconds
        await asyncio.gather(uploader(), photos(), reader(), sampler())
    return {**counts, "errors": len(errors), "error_samples": errors[:5], "samples": samples}


def run_soak(video: Path, minutes: float = 30, image: Path | None = None, max_seconds: float = 2.0,
             upload_every_s: float = 15, photo_every_s: float = 0.5, read_every_s: float = 1.0,
             sample_every_s: float = 5, workers: int = 1, warm_up_jobs: int = 5, timeout: float = 300) -> dict:
    """Run the soak (see the module's doc); its counts, samples and :func:`flatness`."""
    with VideoSource(video, prefetch=0) as frames:  # an upload the server refuses would only count errors
        if next(iter(frames), None) is None:
            raise DataError(f"{video}: no frame could be decoded")
    photo, photo_source = face_photo(image, video)
    with served("--workers", str(workers), "--max-seconds", str(max_seconds)) as (server, url, token):

        async def soak() -> dict:
            async with load_client(url, timeout, headers={"Authorization": f"Bearer {token}"}) as client:
                return await _soak(client, server.pid, photo, video, minutes * 60, upload_every_s,
                                   photo_every_s, read_every_s, sample_every_s, warm_up_jobs)

        load_before = os.getloadavg()[0]
        results = asyncio.run(soak())
    return {"minutes": minutes, "video": str(video), "max_seconds": max_seconds, "photo": photo_source,
            "workers": workers, "warm_up_jobs": warm_up_jobs, "cpus": os.cpu_count(),
            "pace": {"upload_every_s": upload_every_s, "photo_every_s": photo_every_s, "read_every_s": read_every_s,
                     "sample_every_s": sample_every_s},
            "load_average_1m": {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)},
            **results, "flatness": flatness(results["samples"]) if results["samples"] else {}}


def soak_table(results: dict) -> str:
    """The Markdown table for docs/reliability.md."""
    names = {"server_rss_mb": "server memory (MB)", "tree_rss_mb": "server and workers, memory (MB)",
             "server_fds": "server, open files", "tree_fds": "server and workers, open files"}
    rows = [{"figure": names[key], "first quarter (median)": f"{figures['first_quarter']:g}",
             "last quarter (median)": f"{figures['last_quarter']:g}", "change": f"{figures['change']:+g}",
             "allowed": f"{figures['allowed']:g}", "flat": "yes" if figures["flat"] else "no"}
            for key, figures in results["flatness"].items()]
    load = results["load_average_1m"]
    note = (f"{results['minutes']:g} minutes, {results['cpus']} CPUs (load average {load['before']:.1f} before, "
            f"{load['after']:.1f} after): {results['uploads']} uploads ({results['jobs_done']} jobs done, each the "
            f"clip's first {results['max_seconds']:g} s), {results['photos']} photo requests, "
            f"{results['report_reads']} report reads; {len(results['samples'])} samples; "
            f"**{results['errors']} errors**.")
    return f"{markdown_table(rows)}\n{note}\n"
