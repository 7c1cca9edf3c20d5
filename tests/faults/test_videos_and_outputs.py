"""Faults in videos and in the outputs of `emoscope analyze`: damaged and truncated files are analysed
as far as they decode and reported as partial; photos named like videos, unwritable folders and
interruptions end with one line, the documented exit code, and no incomplete file under a final name."""

import csv
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from emoscope.benchmarks.fuzz import short_clip
from helpers import default_ctrl_c, run_emoscope

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "samples" / "WolfgangLanger_Pexels.mp4"
FAST = ("--no-blinks", "--no-gaze", "--no-touches")  # detection and expressions only: the loop's fastest
PARTIAL, OUTPUT_FAILED, INTERRUPTED = 4, 3, 130

pytestmark = pytest.mark.skipif(pytest.importorskip("mediapipe") is None, reason="needs mediapipe")


def one_error_line(run) -> str:
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in run.stderr, run.stderr
    return lines[0]


def final_names_are_complete(folder: Path) -> None:
    """No hidden temporary file is left, and nothing partial sits under a final name."""
    assert not [p.name for p in folder.iterdir() if p.name.startswith(".")]


@pytest.fixture(scope="module")
def damaged(tmp_path_factory) -> dict[str, Path]:
    """The sample cut at 30% of its bytes, and with 5% of its bytes zeroed in the middle."""
    folder = tmp_path_factory.mktemp("damaged")
    data = SAMPLE.read_bytes()
    cut = folder / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * 0.3)])
    hole = bytearray(data)
    middle, width = len(hole) // 2, len(hole) // 20
    hole[middle : middle + width] = bytes(width)
    holed = folder / "holed.mp4"
    holed.write_bytes(bytes(hole))
    return {"cut": cut, "holed": holed}


def report_of(out: Path, stem: str) -> dict:
    return json.loads((out / f"{stem}.report.json").read_text())


def test_a_truncated_video_is_reported_as_partial(damaged, tmp_path):
    run = run_emoscope("analyze", damaged["cut"], "--out", tmp_path, *FAST)
    assert run.returncode == PARTIAL, run.stderr
    report = report_of(tmp_path, "cut")
    completeness = report["completeness"]
    assert not completeness["complete"] and completeness["frames_expected"] == 472
    assert completeness["frames_decoded"] < 200 and completeness["missing_at_end"] > 250
    assert report["notes"][0].startswith("partial:")
    assert "partial" in run.stdout
    final_names_are_complete(tmp_path)


def test_damage_in_the_middle_is_skipped_and_the_rest_analysed(damaged, tmp_path):
    run = run_emoscope("analyze", damaged["holed"], "--out", tmp_path, *FAST)
    assert run.returncode == PARTIAL, run.stderr
    completeness = report_of(tmp_path, "holed")["completeness"]
    (first, last), = completeness["skipped"]
    assert 0 < first <= last < 471 and completeness["missing_at_end"] == 0
    rows = list(csv.DictReader((tmp_path / "holed.frames.csv").open()))
    frames = {int(row["frame"]) for row in rows}
    assert max(frames) == 471 and not frames & set(range(first, last + 1))  # the second half is there


def test_a_folder_summary_marks_partial_videos(damaged, tmp_path):
    folder = tmp_path / "videos"
    folder.mkdir()
    (folder / "good.mp4").write_bytes(SAMPLE.read_bytes())
    (folder / "cut.mp4").write_bytes(damaged["cut"].read_bytes())
    run = run_emoscope("analyze", folder, "--out", tmp_path / "out", "--max-seconds", "8", *FAST)
    assert run.returncode == PARTIAL, run.stderr
    rows = {Path(row["video"]).name: row for row in csv.DictReader((tmp_path / "out" / "summary.csv").open())}
    assert rows["good.mp4"]["status"] == "ok" and rows["cut.mp4"]["status"] == "partial"
    assert rows["cut.mp4"]["error"].startswith("partial:")


def test_the_whole_clip_is_complete(tmp_path):
    run = run_emoscope("analyze", SAMPLE, "--out", tmp_path, "--max-seconds", "2", *FAST)
    assert run.returncode == 0, run.stderr
    completeness = report_of(tmp_path, SAMPLE.stem)["completeness"]
    assert completeness == {"complete": True, "frames_expected": 48, "frames_decoded": 48, "skipped": [],
                            "missing_at_end": 0}
    final_names_are_complete(tmp_path)


def test_a_photo_named_like_a_video_is_refused(tmp_path):
    import cv2
    import numpy as np

    photo = tmp_path / "holiday.mp4"
    cv2.imwrite(str(tmp_path / "holiday.jpg"), np.full((64, 64, 3), 128, np.uint8))
    (tmp_path / "holiday.jpg").rename(photo)
    run = run_emoscope("analyze", photo, "--out", tmp_path / "out")
    assert run.returncode == 2 and "a JPEG image, not a video" in one_error_line(run)


def test_videos_sharing_a_stem_get_their_own_reports(tmp_path):
    folder = tmp_path / "videos"
    folder.mkdir()
    for name in ("clip.mp4", "clip.mov"):
        (folder / name).write_bytes(SAMPLE.read_bytes())
    run = run_emoscope("analyze", folder, "--out", tmp_path / "out", "--max-seconds", "1", *FAST)
    assert run.returncode == 0, run.stderr
    reports = sorted(p.name for p in (tmp_path / "out").glob("*.report.json"))
    assert reports == ["clip_mov.report.json", "clip_mp4.report.json"]
    sources = {Path(report_of(tmp_path / "out", name.removesuffix(".report.json"))["video"]["source"]).name
               for name in reports}
    assert sources == {"clip.mp4", "clip.mov"}


def test_an_unwritable_output_folder_fails_before_the_analysis(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the folder should be")
    started = time.perf_counter()
    run = run_emoscope("analyze", SAMPLE, "--out", blocker / "out")
    assert run.returncode == OUTPUT_FAILED and "cannot write here" in one_error_line(run)
    assert time.perf_counter() - started < 20  # refused at once, not after analysing the clip


def looped_sample(target: Path, times: int) -> Path:
    """The bundled sample played ``times`` times over, as one MP4."""
    import cv2

    capture = cv2.VideoCapture(str(SAMPLE))
    frames = []
    while (frame := capture.read()[1]) is not None:
        frames.append(frame)
    fps = capture.get(cv2.CAP_PROP_FPS)
    capture.release()
    writer = cv2.VideoWriter(str(target), cv2.VideoWriter_fourcc(*"mp4v"), fps, frames[0].shape[1::-1])
    for frame in frames * times:
        writer.write(frame)
    writer.release()
    return target


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_an_interrupted_run_keeps_what_finished_and_marks_what_did_not(tmp_path, sig):
    folder = tmp_path / "videos"
    folder.mkdir()
    short_clip(SAMPLE, folder / "a_short.mp4", seconds=1)
    looped_sample(folder / "b_long.mp4", times=4)  # long enough that the signal cannot miss it
    out = tmp_path / "out"
    process = subprocess.Popen([sys.executable, "-m", "emoscope", "analyze", str(folder), "--out", str(out),
                                "--annotate", "--frames", "parquet"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, preexec_fn=default_ctrl_c)
    deadline = time.monotonic() + 120
    while not (out / ".b_long.annotated.partial.mp4").exists():  # the second video is being written
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.05)
    process.send_signal(sig)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == INTERRUPTED, stderr
    assert [line for line in stderr.splitlines() if line.strip()] == ["interrupted"]
    names = {p.name for p in out.iterdir()}
    assert {"a_short.report.json", "a_short.frames.parquet", "a_short.annotated.mp4", "summary.csv"} <= names
    assert {"b_long.frames.partial.parquet", "b_long.annotated.partial.mp4"} <= names
    assert not {"b_long.report.json", "b_long.frames.parquet", "b_long.annotated.mp4"} & names
    final_names_are_complete(out)
    (row,) = csv.DictReader((out / "summary.csv").open())
    assert Path(row["video"]).name == "a_short.mp4" and row["status"] == "ok"


def test_resume_skips_only_finished_reports_of_the_same_content(tmp_path):
    folder, out = tmp_path / "videos", tmp_path / "out"
    folder.mkdir()
    for name in ("a.mp4", "b.mp4"):
        (folder / name).write_bytes(SAMPLE.read_bytes())
    first = run_emoscope("analyze", folder, "--out", out, "--max-seconds", "1", *FAST)
    assert first.returncode == 0, first.stderr
    (folder / "b.mp4").write_bytes(SAMPLE.read_bytes() + b"\0")  # same name, other content
    (out / "a.report.html").unlink()  # a is missing one of its files
    (folder / "c.mp4").write_bytes(SAMPLE.read_bytes())
    report_c = out / "c.report.json"
    report_c.write_text((out / "a.report.json").read_text())  # a report, but of another file
    again = run_emoscope("analyze", folder, "--out", out, "--max-seconds", "1", "--resume", *FAST)
    assert again.returncode == 0, again.stderr
    assert "already analysed" not in again.stdout  # none of the three may be skipped
    third = run_emoscope("analyze", folder, "--out", out, "--max-seconds", "1", "--resume", *FAST)
    assert third.stdout.count("already analysed") == 3
    other_settings = run_emoscope("analyze", folder, "--out", out, "--max-seconds", "2", "--resume", *FAST)
    assert "already analysed" not in other_settings.stdout


def _files_of_at_most(size: int):
    """For a child process: every file it writes is cut at ``size`` bytes with EFBIG, as on a full disk."""
    import resource

    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails instead of killing
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))

    return limit


# The parquet table (about 32 kB) fits under 40 kB, the expression timeline chart (about 70 kB) does not.
@pytest.mark.parametrize("frames, limit, fails_on", [("csv", 30_000, "frames.csv"), ("parquet", 40_000, "timeline.png")])
def test_a_full_disk_is_one_line_naming_the_file_and_leaves_nothing_half_written(tmp_path, frames, limit, fails_on):
    run = subprocess.run([sys.executable, "-m", "emoscope", "analyze", str(SAMPLE), "--out", str(tmp_path),
                          "--frames", frames, *FAST], capture_output=True, text=True,
                         preexec_fn=_files_of_at_most(limit))
    assert run.returncode == OUTPUT_FAILED
    line = one_error_line(run)
    assert fails_on in line and "File too large" in line
    final_names_are_complete(tmp_path)
    assert not (tmp_path / f"{SAMPLE.stem}.report.json").exists()  # the report is not claimed complete
