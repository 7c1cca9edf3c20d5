"""Installed as users install it: the wheel `python -m build` makes carries every file the package needs
(shipped weights and cards, the web app's templates, static files and migrations), and, installed into a
fresh virtual environment, runs `emoscope analyze` on the sample clip and `emoscope.predict_image` from a
folder outside the repository, with the installed package, not src/, answering. No network: the wheel
is built without build isolation and installed with --no-deps --no-index; the fresh environment borrows
the dependencies of the one running the tests through a .pth file."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "samples" / "WolfgangLanger_Pexels.mp4"
pytestmark = pytest.mark.slow


def tracked_package_files() -> list[str]:
    """The files git tracks under src/emoscope, as paths inside the wheel."""
    listed = subprocess.run(["git", "ls-files", "src/emoscope"], cwd=REPO, capture_output=True, text=True)
    if listed.returncode != 0:
        pytest.skip(f"not a git checkout: {listed.stderr.strip()}")
    return [path.removeprefix("src/") for path in listed.stdout.split()]


def clean_env() -> dict[str, str]:
    """This environment without what would point the installed package back at the repository."""
    return {key: value for key, value in os.environ.items()
            if key not in {"PYTHONPATH", "EMOSCOPE_WEIGHTS", "VIRTUAL_ENV", "PYTHONHOME"}}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel, built from a copy of the tracked sources (the checkout gets no build/ folder)."""
    pytest.importorskip("build", reason="build (the dev extra) is not installed")
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, source / name)
    for path in tracked_package_files():
        (source / "src" / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / "src" / path, source / "src" / path)
    dist = tmp_path_factory.mktemp("dist")
    run = subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist)],
                         cwd=source, capture_output=True, text=True, timeout=600, env=clean_env())
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    (built,) = dist.glob("emoscope-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """A fresh virtual environment with the wheel installed; its Python."""
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site_packages = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                        capture_output=True, text=True, check=True).stdout.strip())
    # The dependencies only: a bare path line, so the editable install's own .pth there is not run.
    (site_packages / "borrowed-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    run = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index",
                          "--no-cache-dir", "--disable-pip-version-check", str(wheel)],
                         capture_output=True, text=True, timeout=600, env=clean_env())
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return python


def test_the_wheel_carries_every_file_of_the_package(wheel):
    inside = set(zipfile.ZipFile(wheel).namelist())
    missing = [path for path in tracked_package_files() if path not in inside]
    assert not missing, f"not in {wheel.name}: {missing}"
    assert any(path.startswith("emoscope/web/static/swagger/") for path in inside)
    assert any(path.startswith("emoscope/web/migrations/versions/") for path in inside)


def test_the_installed_package_analyses_the_sample_and_a_photo(installed, tmp_path):
    elsewhere = tmp_path / "elsewhere"  # outside the repository: src/ cannot be found from here
    elsewhere.mkdir()
    emoscope = installed.parent / "emoscope"
    run = subprocess.run([str(emoscope), "analyze", str(SAMPLE), "--out", "reports", "--max-seconds", "4"],
                         cwd=elsewhere, capture_output=True, text=True, timeout=600, env=clean_env())
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    report = json.loads((elsewhere / "reports" / "WolfgangLanger_Pexels.report.json").read_text())
    assert report["people"] and report["analysis"]["frames_analysed"] > 0

    script = f"""
import json, sys, cv2, emoscope
ok, frame = cv2.VideoCapture({str(SAMPLE)!r}).read()
cv2.imwrite("frame.png", frame)
faces = emoscope.predict_image("frame.png")
from emoscope.runtime.predictor import WEIGHTS_DIR
print(json.dumps({{"package": emoscope.__file__, "weights": str(WEIGHTS_DIR), "faces": len(faces),
                  "label": faces[0].label if faces else None, "paths": sys.path}}))
"""
    run = subprocess.run([str(installed), "-c", script], cwd=elsewhere, capture_output=True, text=True,
                         timeout=300, env=clean_env())
    assert run.returncode == 0, run.stderr[-2000:]
    answer = json.loads(run.stdout.strip().splitlines()[-1])
    site_packages = str(installed.parent.parent)
    assert answer["package"].startswith(site_packages), answer["package"]
    assert answer["weights"].startswith(site_packages), answer["weights"]
    assert not any(path.startswith(str(REPO / "src")) for path in answer["paths"])
    assert answer["faces"] == 1 and answer["label"] in report["people"][0]["average_probabilities"]
