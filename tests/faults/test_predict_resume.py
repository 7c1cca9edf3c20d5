"""`emoscope predict` over a folder logs each image as it finishes: an interrupt keeps the finished
results, and `--resume` reuses them for images whose content is unchanged."""

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import run_emoscope

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def photos(tmp_path) -> Path:
    """Forty copies of a frame of the bundled clip (one face each)."""
    cv2 = pytest.importorskip("cv2")
    pytest.importorskip("mediapipe")
    ok, frame = cv2.VideoCapture(str(REPO / "samples" / "WolfgangLanger_Pexels.mp4")).read()
    folder = tmp_path / "photos"
    folder.mkdir()
    cv2.imwrite(str(folder / "p00.jpg"), frame)
    for i in range(1, 40):
        shutil.copy(folder / "p00.jpg", folder / f"p{i:02d}.jpg")
    return folder


def test_an_interrupted_folder_keeps_its_log_and_resume_reuses_unchanged_images(photos, tmp_path):
    out = tmp_path / "out"
    log = out / "predictions.partial.jsonl"
    process = subprocess.Popen([sys.executable, "-m", "emoscope", "predict", str(photos), "--out", str(out)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not log.is_file() or len(log.read_text().splitlines()) < 4:  # the settings and 3 images
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.02)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130 and stderr.strip().splitlines() == ["interrupted"]
    assert not (out / "predictions.json").exists()  # no final report of an unfinished folder
    settings, first, second, *rest = [json.loads(line) for line in log.read_text().splitlines()]
    assert "settings" in settings and first["prediction"]["faces"]

    # Mark one logged result so its reuse shows, and change the other's image so it must be redone.
    first["prediction"]["faces"][0]["label"] = "from-the-log"
    second["prediction"]["faces"][0]["label"] = "from-the-log"
    log.write_text("".join(json.dumps(entry) + "\n" for entry in [settings, first, second, *rest]))
    changed = Path(second["prediction"]["path"])
    changed.write_bytes(changed.read_bytes() + b"\0")  # new content, same name

    run = run_emoscope("predict", photos, "--out", out, "--resume")
    assert run.returncode == 0, run.stderr
    report = json.loads((out / "predictions.json").read_text())
    labels = {Path(image["path"]).name: image["faces"][0]["label"] for image in report["images"]}
    assert len(labels) == 40
    assert labels[Path(first["prediction"]["path"]).name] == "from-the-log"
    assert labels[changed.name] != "from-the-log"
    assert not log.exists()  # the log goes once the final report is written


def test_resume_refuses_a_log_made_with_other_settings(photos, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "predictions.partial.jsonl").write_text(json.dumps({"settings": {"model": "other"}}) + "\n")
    run = run_emoscope("predict", photos, "--out", out, "--resume")
    lines = run.stderr.strip().splitlines()
    assert run.returncode == 2 and len(lines) == 1 and "other settings" in lines[0]
