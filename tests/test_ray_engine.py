"""The Ray engine against the local one, on a Ray started on this machine for this module
(``ray.init(num_cpus=2)``, stopped at the end): the same files item for item, a second run that skips
everything, a worker killed mid-run whose item Ray retries, the command on that Ray by its address and on
Rays it starts itself (whose cluster is then killed mid-batch), and the one-line error without Ray."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from emoscope.jobs.batch import KILL_ONCE_ENV, BatchJob, collect_items, run_batch
from helpers import run_emoscope, without_timing
from test_batch_engine import make_batch_folder, media_root

ray = pytest.importorskip("ray", reason="the `ray` extra is not installed (pip install 'emoscope[ray]')")



@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return make_batch_folder(tmp_path_factory.mktemp("ray") / "in", media_root())


@pytest.fixture(scope="module")
def local_out(folder, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("local") / "out"
    run_batch(collect_items(folder), BatchJob(out_dir=out, model="fer-fast"))  # every cue: the whole pipeline
    return out


@pytest.fixture(scope="module")
def ray_out(folder, local_ray, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ray") / "out"
    run_batch(collect_items(folder), BatchJob(out_dir=out, model="fer-fast"), engine="ray", workers=2)
    return out


def summary(out: Path) -> list[dict]:
    with (out / "summary.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        row.pop("processing_fps")
        row["report"] = Path(row["report"]).name if row["report"] else ""
    return rows


def assert_same_outputs(local: Path, other: Path) -> None:
    files = sorted(p.name for p in local.iterdir())
    assert files == sorted(p.name for p in other.iterdir())
    assert {"clip_a.report.json", "clip_a.frames.csv", "still.predictions.json", "summary.csv"} <= set(files)
    assert any(name.endswith(".png") for name in files)  # charts, so they are compared too
    for name in files:
        if name.endswith(".report.json"):
            assert without_timing(json.loads((local / name).read_text())) == without_timing(
                json.loads((other / name).read_text())), name
        elif name.endswith((".csv", ".png", ".predictions.json")) and name != "summary.csv":
            assert (local / name).read_bytes() == (other / name).read_bytes(), name
    assert summary(local) == summary(other)


def test_ray_writes_what_the_local_engine_writes_item_for_item(local_out, ray_out):
    assert_same_outputs(local_out, ray_out)
    rows = {Path(row["video"]).name: row["status"] for row in summary(ray_out)}
    assert rows["broken.mp4"] == rows["broken.jpg"] == "error" and rows["clip_b.mp4"] == rows["still.jpg"] == "ok"


def test_a_second_run_skips_everything_finished(folder, ray_out, local_ray):
    before = {p.name: p.stat().st_mtime_ns for p in ray_out.iterdir() if p.name != "summary.csv"}
    items = collect_items(folder)
    results = run_batch(items, BatchJob(out_dir=ray_out, model="fer-fast", resume=True), engine="ray", workers=2)
    assert all(r.reused for r in results if r.row["status"] == "ok")
    assert sum(r.reused for r in results) == len(items) - 2  # all but the two broken files
    assert before == {p.name: p.stat().st_mtime_ns for p in ray_out.iterdir() if p.name != "summary.csv"}


def test_a_killed_worker_is_retried_and_the_batch_completes(folder, local_out, local_ray, tmp_path, monkeypatch):
    marker = tmp_path / "killed"
    monkeypatch.setenv(KILL_ONCE_ENV, str(marker))
    out = tmp_path / "out"
    results = run_batch(collect_items(folder), BatchJob(out_dir=out, model="fer-fast"), engine="ray", workers=2)
    assert marker.exists()  # a worker did die (os._exit) on its first item
    assert not any("worker failed" in r.row.get("error", "") for r in results)
    assert_same_outputs(local_out, out)


def test_the_command_on_a_running_ray_by_its_address(folder, local_ray, tmp_path):
    """A manifest's metadata through the command on the module's Ray (the cluster-gone test below runs the
    command on Rays it starts itself)."""
    manifest = tmp_path / "m.csv"
    manifest.write_text(f"path,candidate\n{folder / 'clip_a.mp4'},c-1\n{folder / 'still.jpg'},c-2\n")
    out = tmp_path / "out"
    address = ray.get_runtime_context().gcs_address
    run = run_emoscope("analyze", manifest, "--engine", "ray", "--address", address, "--workers", "1", "--out", out,
                       "--no-blinks", "--no-gaze", "--no-touches", "--max-seconds", "1", timeout=300)
    assert run.returncode == 0 and "Traceback" not in run.stderr, run.stderr
    assert "2 of 2 analysed, 0 failed" in run.stdout
    assert json.loads((out / "clip_a.report.json").read_text())["metadata"] == {"candidate": "c-1"}
    assert json.loads((out / "still.predictions.json").read_text())["metadata"] == {"candidate": "c-2"}


def test_without_ray_the_engine_is_one_line_saying_how_to_install_it(folder, tmp_path):
    code = ("import sys; sys.modules['ray'] = None; from emoscope.cli.main import main; "
            f"main(['analyze', {str(folder)!r}, '--engine', 'ray', '--out', {str(tmp_path / 'out')!r}])")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 2
    assert run.stderr.strip() == "error: --engine ray needs Ray: pip install 'emoscope[ray]' (make install includes it)"
    assert not (tmp_path / "out").exists()


def test_the_cluster_gone_mid_batch_ends_with_every_item_in_the_summary_and_resume_finishes(tmp_path):
    """The Ray that `emoscope analyze --engine ray` started is killed (its GCS and raylet, SIGKILL) after two
    videos: the command ends within seconds, not after Ray's 60 s, with a row for every video (the unfinished
    ones saying so), no traceback; `--resume` on a new Ray analyses only the rest."""
    import os
    import signal
    import time

    from emoscope.benchmarks.fuzz import short_clip
    from emoscope.web.soak import process_tree

    folder = tmp_path / "in"
    folder.mkdir()
    clip = short_clip(Path(__file__).parent.parent / "samples" / "WolfgangLanger_Pexels.mp4", tmp_path / "clip.mp4", 1)
    for index in range(6):  # 2 analysed before the kill, 1 in flight, the rest lost: each outcome seen
        (folder / f"c{index:02d}.mp4").write_bytes(clip.read_bytes())
    out = tmp_path / "out"
    command = [sys.executable, "-m", "emoscope", "analyze", str(folder), "--engine", "ray", "--workers", "1",
               "--out", str(out), "--no-touches"]
    run = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while len(list(out.glob("*.report.json"))) < 2:
        assert time.monotonic() < deadline and run.poll() is None, run.communicate()
        time.sleep(0.2)
    killed = [pid for pid in process_tree(run.pid) if Path(f"/proc/{pid}/comm").read_text().strip()
              in ("gcs_server", "raylet")]
    assert len(killed) == 2
    for pid in killed:
        os.kill(pid, signal.SIGKILL)
    gone = time.monotonic()
    stdout, stderr = run.communicate(timeout=120)
    assert time.monotonic() - gone < 40, "waited for Ray's own 60 s"
    assert "Traceback" not in stderr, stderr
    rows = summary(out)
    assert [Path(row["video"]).name for row in rows] == sorted(p.name for p in folder.iterdir())
    done = {Path(row["video"]).name for row in rows if row["status"] == "ok"}
    lost = [row for row in rows if row["status"] != "ok"]
    assert len(done) >= 2 and lost, stdout
    assert all(row["error"].startswith("not analysed: the Ray cluster stopped answering") for row in lost)

    again = run_emoscope(*command[3:], "--resume", timeout=600)
    assert again.returncode == 0 and "Traceback" not in again.stderr, again.stderr
    rows = summary(out)
    assert all(row["status"] == "ok" for row in rows)
    # the video in flight when the cluster went may have finished its files all the same: reused too
    reused = int(re.search(r"(\d+) already done", again.stdout).group(1))
    assert len(done) <= reused <= len(done) + 1, again.stdout
