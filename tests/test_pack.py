"""Dataset packs: lossless at 8 bits, within one grey level at 7, and read by load_dataset."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from emoscope.data import FER7, FIVE, ImageSet, load_dataset, load_pack, write_pack
from emoscope.data.pack import decode_residuals, encode_residuals
from emoscope.errors import DataError
from emoscope.runtime.bundle import read_tensors
from helpers import run_emoscope

REPO = Path(__file__).resolve().parents[1]


@settings(max_examples=40, deadline=None)
@given(arrays(np.uint8, st.tuples(st.integers(1, 4), st.integers(1, 9), st.integers(1, 9))), st.integers(1, 8))
def test_residual_coding_inverts_exactly(images, bits):
    levels = images >> (8 - bits)
    assert np.array_equal(decode_residuals(encode_residuals(levels, 2**bits), 2**bits), levels)


def _images(n=30, shape=(48, 48), seed=0) -> ImageSet:
    rng = np.random.default_rng(seed)
    # Smooth gradients plus noise, like faces: the predictor has something to predict.
    ramp = np.add.outer(np.arange(shape[0]), np.arange(shape[1])) * 2
    pixels = np.clip(ramp[None] + rng.integers(0, 40, (n, *shape)), 0, 255).astype(np.uint8)
    labels = rng.integers(0, len(FER7), n)
    soft = rng.dirichlet(np.ones(len(FER7)), n).astype(np.float32)
    return ImageSet(pixels, labels, FER7, source="synthetic", soft_labels=soft)


def test_pack_round_trip_is_lossless_and_smaller(tmp_path):
    train, val = _images(seed=0), _images(n=10, seed=1)
    path = write_pack({"train": train, "val": val}, tmp_path / "faces.emopack")
    assert path.stat().st_size < train.images.nbytes + val.images.nbytes
    back = load_dataset(str(path), split="train")  # load_dataset dispatches on the suffix
    assert np.array_equal(back.images, train.images)
    assert np.array_equal(back.labels, train.labels)
    assert np.array_equal(back.soft_labels, train.soft_labels)
    assert back.label_set == FER7 and back.source == "synthetic"
    assert np.array_equal(load_pack(path, "val").images, val.images)


def test_seven_bit_pack_is_within_one_grey_level(tmp_path):
    images = _images()
    back = load_pack(write_pack({"train": images}, tmp_path / "p.emopack", bits=7), "train")
    error = np.abs(back.images.astype(int) - images.images)
    assert error.max() <= 1 and error.mean() > 0
    assert "7-bit pack" in back.source


def test_colour_images_round_trip(tmp_path):
    rng = np.random.default_rng(3)
    colour = ImageSet(rng.integers(0, 256, (5, 12, 10, 3), dtype=np.uint8), np.arange(5) % 7, FER7)
    back = load_pack(write_pack({"all": colour}, tmp_path / "c.emopack"), "all")
    assert np.array_equal(back.images, colour.images)


def test_bad_packs_raise_data_errors(tmp_path):
    path = write_pack({"train": _images(n=5)}, tmp_path / "ok.emopack")
    with pytest.raises(DataError, match="no split 'test'"):
        load_pack(path, "test")
    broken = tmp_path / "broken.emopack"
    broken.write_bytes(path.read_bytes()[:200])
    with pytest.raises(DataError, match="not a valid emoscope pack"):
        load_pack(broken, "train")
    with pytest.raises(DataError, match="cannot read pack"):
        load_pack(tmp_path / "missing.emopack", "train")
    with pytest.raises(DataError, match="one label set"):
        write_pack({"a": _images(n=5), "b": _images(n=5).to_label_set(FIVE)},
                   tmp_path / "mixed.emopack")


def test_cli_packs_a_csv_dataset(tiny_fer_csv, tmp_path):
    out = tmp_path / "tiny.emopack"
    done = run_emoscope("pack", tiny_fer_csv.fer2013, "--out", out, "--bits", "7")
    assert done.returncode == 0, done.stderr
    assert len(load_pack(out, "train")) == 42 and len(load_pack(out, "val")) == 14
    wrong = run_emoscope("pack", tiny_fer_csv.fer2013, "--out", tmp_path / "tiny.npz")
    assert wrong.returncode != 0 and "must end in .emopack" in wrong.stderr + wrong.stdout
    assert "Traceback" not in wrong.stderr


def test_cli_packs_teacher_soft_labels(tiny_fer_csv, tmp_path):
    out = tmp_path / "distill.emopack"
    done = run_emoscope("pack", tiny_fer_csv.fer2013, "--out", out, "--teacher", "fer-fast", "--teacher-weight", "0.3")
    assert done.returncode == 0, done.stderr
    train = load_pack(out, "train")
    assert train.soft_labels.shape == (42, 7) and "0.3 x fer-fast soft labels" in train.source
    np.testing.assert_allclose(train.soft_labels.sum(1), 1, rtol=1e-5)
    assert (train.soft_labels[np.arange(42), train.labels] >= 0.7 - 1e-6).all()  # the label keeps its 70%


@pytest.mark.slow
def test_device_train_fits_epochs_to_the_budget_and_keeps_fp16_bundles(tiny_fer_csv, tmp_path):
    out = tmp_path / "out"
    config = tmp_path / "tiny.toml"
    config.write_text(f'model = "fer_fast_net"\ndataset = "{tiny_fer_csv.fer2013}"\nbatch_size = 16\n'
                      "warmup_epochs = 2\nthreads = 1\n")
    done = subprocess.run(
        [sys.executable, str(REPO / "tools" / "device_train.py"), "--budget", "240", "--max-epochs", "4",
         "--runs-dir", str(tmp_path / "runs"), "--out", str(out), "--run", f"tiny={config}:seed=1"],
        capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "tiny: " in done.stdout and "-> 4 epochs" in done.stdout  # 4 tiny epochs fit in 240 s
    assert "epochs   4/4" in done.stdout
    tensors = read_tensors(out / "tiny.safetensors")
    assert {t.dtype for t in tensors.values() if t.is_floating_point()} == {torch.float16}
    assert (out / "logs.tar.gz").is_file()
