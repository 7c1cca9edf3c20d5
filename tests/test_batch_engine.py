"""Batch analysis on the local engine (no Ray): the inputs a batch takes (folder, glob, manifest CSV),
photos beside videos, error rows, manifest metadata in the reports, and reruns that skip only complete
outputs of unchanged files. The Ray engine is checked against this one in test_ray_engine.py."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from emoscope.jobs.batch import BatchJob, collect_items, run_batch
from emoscope.errors import DataError
from emoscope.video.pipeline import AnalysisOptions
from helpers import run_emoscope

SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "WolfgangLanger_Pexels.mp4"
CLIP_FRAMES = 30  # 1.2 s: long enough for a tracked person (and so charts) in each report


def cut_clip(target: Path, start: int, frames: int = CLIP_FRAMES) -> Path:
    """``frames`` frames of the bundled sample from frame ``start``, as a short MP4."""
    import cv2

    capture = cv2.VideoCapture(str(SAMPLE))
    capture.set(cv2.CAP_PROP_POS_FRAMES, start)
    size = (int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    writer = cv2.VideoWriter(str(target), cv2.VideoWriter_fourcc(*"mp4v"), capture.get(cv2.CAP_PROP_FPS), size)
    for _ in range(frames):
        ok, frame = capture.read()
        assert ok
        writer.write(frame)
    writer.release()
    capture.release()
    return target


def make_batch_folder(folder: Path, media: Path | None = None) -> Path:
    """Two short clips, two photos (a frame of the sample and, when the data is there, the group photo
    of $EMOSCOPE_DATA/media), a corrupt video, a corrupt photo and a file that is neither (left out)."""
    import cv2

    folder.mkdir(parents=True, exist_ok=True)
    cut_clip(folder / "clip_a.mp4", 0)
    cut_clip(folder / "clip_b.mp4", 200)
    capture = cv2.VideoCapture(str(SAMPLE))
    capture.set(cv2.CAP_PROP_POS_FRAMES, 300)
    ok, frame = capture.read()
    capture.release()
    assert ok
    cv2.imwrite(str(folder / "still.jpg"), frame)
    if media is not None and (media / "multi_face.jpg").is_file():
        shutil.copy(media / "multi_face.jpg", folder / "group.jpg")
    (folder / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"garbage" * 50)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a JPEG")
    (folder / "notes.txt").write_text("neither a video nor a photo: left out")
    return folder


def media_root() -> Path | None:
    from emoscope.data import data_root

    media = data_root() / "media"
    return media if media.is_dir() else None


FAST = AnalysisOptions(blinks=False, gaze=False, touches=False)  # this file checks the batch, not the cues


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return make_batch_folder(tmp_path_factory.mktemp("batch") / "in", media_root())


def summary(out: Path) -> list[dict]:
    with (out / "summary.csv").open(newline="") as f:
        return list(csv.DictReader(f))


def test_a_folder_gives_its_videos_and_photos_in_order_and_leaves_other_files_out(folder):
    items = collect_items(folder)
    names = [(Path(item.path).name, item.kind, item.name) for item in items]
    assert ("notes.txt" not in {name for name, *_ in names})
    assert names[:3] == [("broken.jpg", "image", "broken_jpg"), ("broken.mp4", "video", "broken_mp4"),
                         ("clip_a.mp4", "video", "clip_a")]  # a shared stem: the extension tells them apart
    assert ("still.jpg", "image", "still") in names


def test_a_glob_and_a_manifest(folder, tmp_path):
    assert [Path(i.path).name for i in collect_items(f"{folder}/clip_*.mp4")] == ["clip_a.mp4", "clip_b.mp4"]
    manifest = tmp_path / "batch.csv"
    manifest.write_text(f"path,candidate,question,group,ignored\n{folder / 'clip_a.mp4'},c-17,q3,,x\n"
                        f"{Path('..') / folder.name / 'still.jpg'},c-18,,g2,y\n")
    shutil.copy(manifest, folder.parent / "batch.csv")  # relative paths are relative to the manifest
    a, still = collect_items(folder.parent / "batch.csv")
    assert a.metadata == {"candidate": "c-17", "question": "q3"} and Path(a.path).name == "clip_a.mp4"
    assert still.metadata == {"candidate": "c-18", "group": "g2"} and still.kind == "image"


@pytest.mark.parametrize("content, message", [("file,who\nx.mp4,a\n", "needs a 'path' column"),
                                               ("path\n\n", "needs a 'path' column")])
def test_a_manifest_without_paths_is_one_error(tmp_path, content, message):
    manifest = tmp_path / "m.csv"
    manifest.write_text(content)
    with pytest.raises(DataError, match=message):
        collect_items(manifest)
    with pytest.raises(DataError, match="no such file, folder or glob match"):
        collect_items(tmp_path / "missing")


def test_local_batch_writes_every_item_and_an_error_row_per_bad_file(folder, tmp_path):
    items = collect_items(folder)
    out = tmp_path / "out"
    results = run_batch(items, BatchJob(out_dir=out, model="fer-fast", options=FAST, metadata={"site": "x"}))
    rows = {Path(row["video"]).name: row for row in summary(out)}
    assert [Path(r.row["video"]).name for r in results] == [Path(i.path).name for i in items] == list(rows)
    assert rows["broken.mp4"]["status"] == "error" and "cannot open as video" in rows["broken.mp4"]["error"]
    assert rows["broken.jpg"]["status"] == "error" and rows["broken.jpg"]["error"]
    assert rows["clip_a.mp4"]["status"] == "ok" and rows["clip_a.mp4"]["people"] == "1"
    assert rows["still.jpg"]["people"] == "1" and rows["still.jpg"]["report"].endswith("still.predictions.json")
    report = json.loads((out / "clip_a.report.json").read_text())
    assert report["metadata"] == {"site": "x"} and (out / "clip_a.frames.csv").is_file()
    still = json.loads((out / "still.predictions.json").read_text())
    assert still["detector"] == "mediapipe-full" and len(still["images"][0]["faces"]) == 1 and still["sha256"]
    assert still["metadata"] == {"site": "x"}


def test_a_rerun_skips_complete_outputs_of_unchanged_files_only(folder, tmp_path):
    work = tmp_path / "in"
    shutil.copytree(folder, work)
    items = collect_items(work)
    out = tmp_path / "out"
    job = BatchJob(out_dir=out, model="fer-fast", options=FAST, resume=True)
    run_batch(items, job)
    again = {Path(i.path).name: r for i, r in zip(items, run_batch(items, job))}
    assert {name for name, r in again.items() if r.reused} == {name for name, r in again.items()
                                                                if r.row["status"] == "ok"}
    (out / "clip_b.frames.csv").unlink()  # an incomplete output
    shutil.copy(folder / "clip_a.mp4", work / "clip_a.mp4")  # same content: still reused
    cut = work / "still.jpg"
    cut.write_bytes(cut.read_bytes() + b"\x00")  # changed content, same name
    third = {Path(i.path).name: r for i, r in zip(items, run_batch(items, job))}
    assert third["clip_a.mp4"].reused and not third["clip_b.mp4"].reused and not third["still.jpg"].reused
    assert (out / "clip_b.frames.csv").is_file()


def test_the_command_runs_a_manifest_with_its_metadata(folder, tmp_path):
    manifest = tmp_path / "m.csv"
    manifest.write_text(f"path,candidate,question\n{folder / 'clip_a.mp4'},c-17,q3\n{folder / 'broken.mp4'},c-18,q1\n")
    out = tmp_path / "out"
    run = run_emoscope("analyze", manifest, "--out", out, "--no-blinks", "--no-gaze", "--no-touches",
                       "--meta", "site=berlin")
    assert run.returncode == 0 and "Traceback" not in run.stderr, run.stderr
    assert [line for line in run.stderr.splitlines() if line.strip()] == [
        f"error: {folder / 'broken.mp4'}: cannot open as video (corrupt file or unsupported codec)"]
    assert "1 of 2 analysed, 1 failed" in run.stdout
    assert json.loads((out / "clip_a.report.json").read_text())["metadata"] == {
        "site": "berlin", "candidate": "c-17", "question": "q3"}


@pytest.mark.parametrize("args, message", [
    (["--workers", "2"], "--address and --workers are for --engine ray"),
    (["--engine", "spark"], "unknown engine 'spark'"),
    (["--engine", "ray", "--webhook", "http://localhost:1/"], "--webhook sends live alerts"),
])
def test_engine_options_are_checked_first(folder, tmp_path, args, message):
    run = run_emoscope("analyze", folder, "--out", tmp_path / "out", *args)
    assert run.returncode == 2 and run.stderr.strip().startswith("error: ") and message in run.stderr, run.stderr
    assert len(run.stderr.strip().splitlines()) == 1 and not (tmp_path / "out").exists()
