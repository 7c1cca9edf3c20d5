"""The shipped gesture model and the `emoscope gesture` command on real data (Sign MNIST test crops and
the photos and videos in ../shared/data/media); skipped with a reason when the data is absent."""

import wave

import cv2
import numpy as np
import pytest

import emoscope
from emoscope.data import load_dataset
from emoscope.evaluation.evaluate import evaluate
from emoscope.gestures import speech
from helpers import run_emoscope

pytestmark = pytest.mark.data
needs_espeak = pytest.mark.skipif(speech.engine_path() is None, reason="espeak-ng not installed (`make install`)")


def gesture(*args, cwd=None):
    return run_emoscope("gesture", *args, cwd=cwd, timeout=300)


@pytest.fixture(scope="module")
def sign_test(data_root):
    return load_dataset("asl_gesture", split="test")


@pytest.fixture(scope="module")
def media(data_root):
    folder = data_root / "media"
    if not (folder / "Image_with_alpha.png").is_file():
        pytest.skip(f"no media folder at {folder}")
    return folder


def test_shipped_model_reaches_the_target_on_the_sign_mnist_test_split(sign_test):
    predictor = emoscope.load("asl-gesture")
    assert predictor.classes == ["A", "F", "L", "V", "other"]
    report = evaluate(predictor, sign_test, split="asl_gesture:test")
    for letter in "AFLV":
        assert report["per_class"][letter]["recall"] >= 0.995, (letter, report["per_class"][letter])
    assert report["per_class"]["other"]["recall"] >= 0.99
    assert report["accuracy"] >= 0.99


@needs_espeak
def test_a_sign_mnist_v_crop_is_called_victory_and_spoken(sign_test, tmp_path):
    crop = tmp_path / "v.png"
    cv2.imwrite(str(crop), sign_test.images[np.flatnonzero(sign_test.labels == 3)[0]])
    run = gesture(crop, "--crop", "--speak-to", tmp_path / "said.wav", "--phrase", "victory=We have won")
    assert run.returncode == 0, run.stderr
    assert "victory" in run.stdout and ">> victory" in run.stdout
    with wave.open(str(tmp_path / "said.wav")) as audio:
        samples = np.frombuffer(audio.readframes(audio.getnframes()), dtype=np.int16)
        seconds = audio.getnframes() / audio.getframerate()
    assert 0.5 < seconds < 4  # "We have won", not silence and not a runaway
    assert np.abs(samples).max() > 3000 and (np.abs(samples) > 500).mean() > 0.2


def test_a_real_photo_of_an_open_hand_is_unknown_not_forced(media, tmp_path):
    run = gesture(media / "Image_with_alpha.png", "--speak-to", tmp_path / "said.wav",
                  "--annotate", tmp_path / "labelled.png")
    assert run.returncode == 0, run.stderr
    assert "hand 1: unknown" in run.stdout and "no gesture held" in run.stdout
    assert not (tmp_path / "said.wav").exists()
    assert cv2.imread(str(tmp_path / "labelled.png")).shape == (1036, 1524, 3)


def test_photos_and_video_without_hands_say_no_hand(media):
    photo = gesture(media / "single_face.jpg")
    assert photo.returncode == 0 and "no hand" in photo.stdout and "a hand in 0" in photo.stdout
    video = gesture(media / "no_face.mp4", "--max-seconds", "1")
    assert video.returncode == 0, video.stderr
    lines = [line for line in video.stdout.splitlines() if line.startswith("frame")]
    assert len(lines) > 10 and all("no hand" in line for line in lines)


def test_bad_input_gives_one_line_errors(sign_test, tmp_path):
    tiny = tmp_path / "tiny.png"
    cv2.imwrite(str(tiny), sign_test.images[0])
    wrong_csv = tmp_path / "fer.csv"
    wrong_csv.write_text("emotion,pixels,Usage\n0,1 2 3,Training\n")
    for args, message in [((tiny,), "too small to find a hand"), ((wrong_csv,), "missing column(s) label, pixel1"),
                          ((tmp_path / "none.jpg",), "no such image file"),
                          ((tiny, "--route", "guess"), "invalid gesture option 'route'")]:
        run = gesture(*args)
        assert run.returncode == 2
        lines = run.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0] and len(lines[0]) < 400, run.stderr


def test_a_sign_mnist_csv_is_judged_row_by_row(sign_test, tmp_path):
    rows = np.concatenate([np.flatnonzero(sign_test.labels == c)[:20] for c in range(5)])
    table = np.c_[[ord(letter) - ord("A") for letter in sign_test.meta["letters"][rows]],
                  sign_test.images[rows].reshape(len(rows), -1)]
    header = "label," + ",".join(f"pixel{i}" for i in range(1, 785))
    path = tmp_path / "signs.csv"
    np.savetxt(path, table, fmt="%d", delimiter=",", header=header, comments="")
    run = gesture(path)
    assert run.returncode == 0, run.stderr
    assert "100 rows" in run.stdout
    recalls = dict(part.split() for part in run.stdout.split("recall: ")[1].split(" (")[0].split(", "))
    assert set(recalls) == {"A", "F", "L", "V", "other"} and min(map(float, recalls.values())) >= 0.9


def test_fit_and_holdout_divide_train_by_letter_without_overlap(data_root):
    train, fit, holdout = (load_dataset("asl_gesture", split=s) for s in ("train", "fit", "holdout"))
    assert len(fit) + len(holdout) == len(train)
    assert not set(fit.meta["rows"]) & set(holdout.meta["rows"])
    letters, counts = np.unique(holdout.meta["letters"], return_counts=True)
    _, train_counts = np.unique(train.meta["letters"], return_counts=True)
    assert len(letters) == 24 and np.allclose(counts / train_counts, 0.1, atol=0.01)
