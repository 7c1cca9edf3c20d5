"""Every `emoscope` command end to end, in a subprocess as a user runs it, on tiny inputs: untrained
models, a 70-row FER2013 CSV (also as a tiny data root for the panic commands), the bundled clip."""

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

import emoscope
from conftest import write_fer2013_csv
from emoscope.runtime.bundle import save_bundle
from emoscope.runtime.spec import ModelSpec
from helpers import run_emoscope

REPO = Path(__file__).resolve().parents[1]
CLIP = REPO / "samples" / "WolfgangLanger_Pexels.mp4"
CLASSES = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]


def emoscope_ok(*args, **kwargs) -> str:
    """stdout of a command that must succeed, with rich's line wrapping undone."""
    run = run_emoscope(*args, **kwargs)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Traceback" not in run.stderr
    return " ".join(run.stdout.split())


def untrained_bundle(path: Path, seed: int = 0) -> Path:
    """The tests check plumbing, not accuracy."""
    import torch

    torch.manual_seed(seed)
    model = emoscope.create_model("fer_fast_net", num_classes=7, in_chans=1, img_size=48).eval()
    spec = ModelSpec(name=path.stem, architecture="fer_fast_net", label_set="fer2013", classes=CLASSES)
    return save_bundle(model, spec, path)


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cli")


@pytest.fixture(scope="module")
def bundle(work) -> Path:
    return untrained_bundle(work / "models" / "tiny.safetensors")


@pytest.fixture(scope="module")
def tiny_data(work) -> Path:
    """A data root whose FER2013 is 70 rows (42 Training, 14 PublicTest, 14 PrivateTest, every class in each)."""
    root = work / "data"
    (root / "fer2013").mkdir(parents=True)
    labels = np.arange(70) % 7
    usage = ["Training" if row < 42 else "PublicTest" if row < 56 else "PrivateTest" for row in range(70)]
    images = np.random.default_rng(0).integers(0, 256, size=(70, 48, 48), dtype=np.uint8)
    write_fer2013_csv(root / "fer2013" / "fer2013.csv", labels, usage, images)
    return root


@pytest.fixture(scope="module")
def frame(work) -> Path:
    """The clip's first frame: a photo with one face."""
    capture = cv2.VideoCapture(str(CLIP))
    ok, image = capture.read()
    capture.release()
    assert ok
    path = work / "frame.jpg"
    cv2.imwrite(str(path), image)
    return path


@pytest.fixture(scope="module")
def evaluation(bundle, tiny_data, work) -> Path:
    emoscope_ok("evaluate", bundle, "--dataset", tiny_data / "fer2013" / "fer2013.csv", "--out", work / "eval")
    (report,) = (work / "eval").glob("*.json")
    return report


@pytest.mark.slow  # a FLOP count of every architecture
def test_models_lists_every_architecture():
    out = emoscope_ok("models", "--img-size", "32")
    for name in emoscope.list_models():
        assert name in out


def test_models_counts_only_the_architectures_named():
    out = emoscope_ok("models", "fer_fast_net", "--img-size", "32")
    assert "fer_fast_net" in out and "resnet18" not in out


def test_models_pretrained_lists_the_shipped_cards():
    assert "fer-fast" in emoscope_ok("models", "--pretrained")


def test_train_one_epoch_on_a_csv(tiny_fer_csv, tmp_path):
    out = emoscope_ok("train", "--model", "fer_fast_net", "--dataset", tiny_fer_csv.fer2013, "--epochs", "1",
                      "--batch-size", "16", "--out-dir", tmp_path, "--name", "tiny", "--set", "threads=1")
    assert "best epoch 1" in out
    assert (tmp_path / "tiny" / "best.safetensors").is_file() and (tmp_path / "tiny" / "curves.png").is_file()


def test_pack(tiny_fer_csv, tmp_path):
    out = emoscope_ok("pack", tiny_fer_csv.fer2013, "--out", tmp_path / "tiny.emopack")
    assert "train 42, val 14 images" in out


def test_evaluate(evaluation):
    report = json.loads(evaluation.read_text())
    assert report["n"] == 14 and report["command"].startswith("emoscope evaluate")


def test_export_agrees_with_torch(bundle, work):
    out = emoscope_ok("export", bundle, "--out", work / "tiny.onnx")
    assert "max |torch - onnx|" in out and (work / "tiny.onnx").is_file()


def test_info(bundle):
    assert '"architecture": "fer_fast_net"' in emoscope_ok("info", bundle)


def test_ship_into_a_weights_folder_then_load_by_name(bundle, tmp_path):
    weights = {"EMOSCOPE_WEIGHTS": str(tmp_path)}
    (tmp_path / "shipped-tiny.int8.onnx").write_bytes(b"the int8 copy of weights shipped before")
    emoscope_ok("ship", bundle, "--name", "shipped-tiny", "--half", env=weights)
    assert not (tmp_path / "shipped-tiny.int8.onnx").exists()
    assert (tmp_path / "shipped-tiny.safetensors").is_file() and (tmp_path / "shipped-tiny.onnx").is_file()
    assert '"name": "shipped-tiny"' in emoscope_ok("info", "shipped-tiny", env=weights)


def test_ensemble(bundle, work):
    other = untrained_bundle(work / "models" / "other.safetensors", seed=1)
    out = emoscope_ok("ensemble", bundle, other, "--out", work / "pair.safetensors")
    assert "ensemble of" in out and (work / "pair.safetensors").is_file()


def test_card(evaluation, work):
    card_bundle = untrained_bundle(work / "card" / "tiny.safetensors")
    emoscope_ok("card", card_bundle, "--report", evaluation, "--weakness", "untrained")
    assert (work / "card" / "tiny.md").is_file() and (work / "card" / "tiny.card.json").is_file()


def test_analyze_a_second_of_the_clip(bundle, tmp_path):
    out = emoscope_ok("analyze", CLIP, "--model", bundle, "--max-seconds", "1", "--out", tmp_path,
                      "--no-touches", "--meta", "group=g1")
    assert "1 person(s)" in out
    assert '"group": "g1"' in (tmp_path / "WolfgangLanger_Pexels.report.json").read_text()


@pytest.mark.data
def test_validate_cues(data_root):
    labels = REPO / "tests" / "fixtures" / "labels" / "WolfgangLanger_Pexels.json"
    if not (data_root / json.loads(labels.read_text())["video"]).is_file():
        pytest.skip("the labelled clip is not in the data folder")
    scores = json.loads(emoscope_ok("validate-cues", labels))
    assert "blinks" in scores


def test_bench_video_on_a_one_frame_clip(bundle, frame, tmp_path):
    one_frame = tmp_path / "one.mp4"
    image = cv2.imread(str(frame))
    writer = cv2.VideoWriter(str(one_frame), cv2.VideoWriter_fourcc(*"mp4v"), 25, image.shape[1::-1])
    writer.write(image)
    writer.release()
    out = tmp_path / "video.json"
    emoscope_ok("bench", "video", one_frame, "--model", bundle, "--repeats", "1", "--max-frames", "1",
                "--long-minutes", "0.01", "--out", out)
    results = json.loads(out.read_text())
    assert results["emotion_only"]["frames"] == 1 and results["memory"]["frames_analysed"] == 6
    assert results["framing_views"] is False
    emoscope_ok("bench", "video", one_frame, "--model", bundle, "--repeats", "1", "--max-frames", "1",
                "--framing-views", "--out", out)
    assert json.loads(out.read_text())["framing_views"] is True


def test_bench_classify(bundle, tmp_path):
    out = tmp_path / "classify.json"
    emoscope_ok("bench", "classify", bundle, "--no-int8", "--no-accuracy", "--seconds", "0.05", "--out", out)
    rows = json.loads(out.read_text())["rows"]
    assert [row["backend"] for row in rows] == ["torch", "onnx-fp32"]


def test_panic_cv_then_summary_then_threshold(bundle, tiny_data, tmp_path):
    data = {"EMOSCOPE_DATA": str(tiny_data)}
    emoscope_ok("panic", "cv", "--model", "fer_fast_net", "--folds", "2", "--limit", "42", "--epochs", "1",
                "--val-limit", "14", "--threads", "1", "--out-dir", tmp_path, env=data)
    run_dir = tmp_path / "panic-fer_fast_net"
    assert json.loads((run_dir / "folds.json").read_text())["k"] == 2
    assert json.loads((run_dir / "operating_point.json").read_text())["test"]["n"] == 14
    summary = emoscope_ok("panic", "summary", run_dir)
    assert "| fer_fast_net | 42 | 1 | 2 |" in summary and "1 − accuracy" in summary
    point = tmp_path / "point.json"
    emoscope_ok("panic", "threshold", bundle, "--out", point, env=data)
    assert json.loads(point.read_text())["route"] == "expression model"


def test_predict_a_photo(bundle, frame, tmp_path):
    emoscope_ok("predict", frame, "--model", bundle, "--out", tmp_path, "--tta", "tencrop")
    (image,) = json.loads((tmp_path / "predictions.json").read_text())["images"]
    assert len(image["faces"]) == 1


def test_gesture_on_a_photo_without_a_hand(frame, tmp_path):
    shutil.copy(frame, tmp_path / "face.jpg")
    assert "no gesture held" in emoscope_ok("gesture", tmp_path / "face.jpg")
