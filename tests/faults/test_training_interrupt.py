"""SIGTERM in the middle of `emoscope train` ends it like Ctrl+C: one line, exit 130, the last
finished epoch's checkpoint intact, and `--resume` carries on from it."""

import json
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from helpers import default_ctrl_c, run_emoscope


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_an_interrupted_training_resumes_from_its_last_epoch(tmp_path, fer2013_csv_writer, sig):
    pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    n = 1400
    csv = fer2013_csv_writer(tmp_path / "fer.csv", np.arange(n) % 7,
                             ["Training"] * (n - 140) + ["PublicTest"] * 140,
                             rng.integers(0, 256, (n, 48, 48), dtype=np.uint8))
    args = ("train", "--model", "fer_fast_net", "--dataset", csv, "--batch-size", "32", "--out-dir", tmp_path,
            "--name", "run", "--set", "threads=1")
    run_dir = tmp_path / "run"
    process = subprocess.Popen([sys.executable, "-m", "emoscope", *map(str, args), "--epochs", "50"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=default_ctrl_c)
    deadline = time.monotonic() + 180
    while not (run_dir / "history.json").is_file():  # a first epoch is done and checkpointed
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.05)
    process.send_signal(sig)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130 and [line for line in stderr.splitlines() if line.strip()] == ["interrupted"]
    assert not [p.name for p in run_dir.iterdir() if p.name.endswith(".tmp") or p.name.startswith(".")]
    done = len(json.loads((run_dir / "history.json").read_text()))
    assert 1 <= done < 50
    resumed = run_emoscope(*args, "--epochs", str(done + 1), "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert len(json.loads((run_dir / "history.json").read_text())) == done + 1
