"""The mutation fuzz (emoscope.benchmarks.fuzz, `emoscope bench fuzz`; issue 38): 100 damaged copies of the clip and
of a photo through analyze's and predict's per-item code with no crash, hang or unlabelled result; a few of
them through the real commands; damaged photos and videos through the web app's uploads."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from helpers import run_emoscope

from emoscope.benchmarks.fuzz import DEFECTS, base_files, default_photos, make_case, mutate, run_fuzz

REPO = Path(__file__).resolve().parents[2]
CLIP = REPO / "samples" / "WolfgangLanger_Pexels.mp4"
SUITE_CASES = 100


@pytest.fixture(scope="module")
def bases(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz-bases")
    return base_files(CLIP, default_photos(CLIP, folder), folder, clip_seconds=1.0)


def damaged(bases, folder: Path, indices, seed: int = 7) -> list[tuple]:
    folder.mkdir(parents=True, exist_ok=True)
    return [make_case(index, seed, bases, folder) for index in indices]


def test_a_hundred_damaged_files_neither_crash_nor_hang_and_each_result_is_labelled(tmp_path):
    results = run_fuzz(CLIP, default_photos(CLIP, tmp_path), cases=SUITE_CASES, seed=0, time_limit_s=60,
                       clip_seconds=1.0)
    assert results["defects"] == [], json.dumps(results["defects"], indent=1)[:4000]
    kinds = {key: counts for key, counts in results["by_kind_and_mutation"].items() if key.endswith(": all")}
    assert sum(sum(counts.values()) for counts in kinds.values()) == SUITE_CASES
    # the damage is real: every outcome a user can meet is met, on videos and photos alike
    assert kinds["video: all"]["partial"] and kinds["video: all"]["error"] and kinds["video: all"]["ok"]
    assert kinds["image: all"]["error"] and kinds["image: all"]["ok"]
    assert not any(kinds[kind][defect] for kind in kinds for defect in DEFECTS)


def test_a_case_is_its_seed_and_index_alone(bases, tmp_path):
    first = [path.read_bytes() for _, path in damaged(bases, tmp_path / "a", range(6))]
    again = [path.read_bytes() for _, path in damaged(bases, tmp_path / "b", range(6))]
    other = [path.read_bytes() for _, path in damaged(bases, tmp_path / "c", range(6), seed=8)]
    assert first == again and first != other
    data = bytes(range(256)) * 40
    for seed in range(40):  # every mutation keeps a non-empty file and changes it
        out, mutation, detail = mutate(data, np.random.default_rng([seed, 0]))
        assert out and (out != data or mutation == "repeat_block"), (mutation, detail)


def test_damaged_files_through_the_commands(bases, tmp_path):
    """A few cases as a user meets them: `emoscope analyze` on a folder of damaged clips and photos, and
    `emoscope predict` on the photos; documented exit codes, one line per failed item, no traceback."""
    cases = damaged(bases, tmp_path / "in", range(8))
    run = run_emoscope("analyze", tmp_path / "in", "--out", tmp_path / "out", "--no-touches", timeout=600)
    assert run.returncode in (0, 2, 4), run.stderr
    assert "Traceback" not in run.stderr and "Traceback" not in run.stdout
    with (tmp_path / "out" / "summary.csv").open(newline="") as f:
        rows = {Path(row["video"]).name: row for row in csv.DictReader(f)}
    assert set(rows) == {path.name for _, path in cases}
    for row in rows.values():
        assert row["status"] in ("ok", "partial", "error")
        assert (row["status"] == "ok") == (row["error"] == "") and "\n" not in row["error"]
    photos = tmp_path / "in" / "*.[jp][pn]g"
    run = run_emoscope("predict", str(photos), "--out", tmp_path / "predicted", timeout=300)
    assert run.returncode in (0, 2, 4), run.stderr
    assert "Traceback" not in run.stderr


def test_damaged_uploads_are_analysed_or_refused_in_one_line(bases, tmp_path):
    """The web app (SQLite, in-process) on 16 damaged photos at /v1/images:analyze and 4 damaged videos
    uploaded as interviews: a photo is 200 or a 4xx of one JSON line, never a 5xx; a video is refused at
    upload in one line, or its job ends done or failed with a one-line error."""
    from web.support import AUTH, Server, start_server

    client, config = start_server(tmp_path / "server", None, workers=1)
    with client:
        server = Server(client, config, config.data_dir)
        for _, path in damaged(bases, tmp_path / "photos", range(1, 33, 2)):
            response = client.post("/v1/images:analyze", headers=AUTH,
                                   files={"image": (path.name, path.read_bytes(), "image/jpeg")})
            assert response.status_code == 200 or 400 <= response.status_code < 500, response.text
            if response.status_code != 200:
                assert list(response.json()) == ["error"] and "\n" not in response.json()["error"]
        candidate = client.post("/v1/candidates", json={"name": "fuzz"}, headers=AUTH).json()["id"]
        jobs = []
        for _, path in damaged(bases, tmp_path / "videos", range(0, 8, 2)):
            response = client.post(f"/v1/candidates/{candidate}/interviews", headers=AUTH, data={"question": "q1"},
                                   files={"video": ("clip.mp4", path.read_bytes(), "video/mp4")})
            assert response.status_code in (202, 400, 413), response.text
            if response.status_code == 202:
                jobs.append(response.json()["job"]["id"])
            else:
                assert list(response.json()) == ["error"] and "\n" not in response.json()["error"]
        for job_id in jobs:
            job = server.wait(job_id, timeout=180)
            assert job["state"] in ("done", "failed"), job
            assert job["state"] == "done" or (job["error"] and "\n" not in job["error"]), job
