"""`emoscope bench faces`: the subject split, the scores and intervals, the peers' plumbing and bad input,
on a tiny generated photo set (plus one check of the real set's split when ../shared/data is there)."""

from __future__ import annotations

import csv
import json
import sys
import tarfile

import cv2
import numpy as np
import pytest
from sklearn.metrics import f1_score

import emoscope
from emoscope.benchmarks.faces import (Peer, PeerUnavailable, bench_faces, bootstrap_weights, check_seven_classes,
                                       faces_table, paired_gap, predicted, run_peer, score, to_fer7)
from emoscope.data.face_photos import load_face_photos, part_of, split_by_identity
from emoscope.data.labels import FER7
from emoscope.errors import DataError, EmoscopeError
from emoscope.runtime.bundle import save_bundle
from emoscope.runtime.spec import ModelSpec
from helpers import run_emoscope

# Two people per class at least, so every class can land on both sides; "Cara" shows two classes.
ROWS = [("angry", "Ann", "LFW"), ("angry", "Bob", "LFW"), ("disgust", "Cara", "IMFDB"), ("disgust", "Dev", "IMFDB"),
        ("fear", "Eve", "LFW"), ("fear", "Cara", "IMFDB"), ("happy", "Finn", "LFW"), ("happy", "Gus", "LFW"),
        ("sad", "Hal", "IMFDB"), ("sad", "Ivy", "IMFDB"), ("surprise", "Jo", "LFW"), ("surprise", "Kim", "LFW"),
        ("neutral", "Lee", "LFW"), ("neutral", "Max", "LFW"), ("happiness", "Ned", "LFW")]


def write_set(folder, rows=ROWS, manifest_rows=None):
    """A photo set as the bench reads it: ``<label>/<n>.png`` plus ``manifest.csv`` (gray gradients: no faces)."""
    folder.mkdir()
    entries = []
    for index, (label, identity, family) in enumerate(rows):
        path = f"{label}/{index:02d}.png"
        (folder / label).mkdir(exist_ok=True)
        image = np.tile(np.linspace(20 + index, 220, 64, dtype=np.uint8), (64, 1))
        cv2.imwrite(str(folder / path), image)
        entries.append({"path": path, "label": label, "identity": identity, "source_family": family})
    with (folder / "manifest.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list((manifest_rows or entries)[0]))
        writer.writeheader()
        writer.writerows(manifest_rows or entries)
    return folder


@pytest.fixture
def photo_set(tmp_path):
    return write_set(tmp_path / "tiny_faces")


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    """An untrained 7-class model: these tests check plumbing and arithmetic, not accuracy."""
    model = emoscope.create_model("fer_fast_net", num_classes=7, in_chans=1, img_size=48).eval()
    spec = ModelSpec(name="tiny", architecture="fer_fast_net", label_set="fer2013", classes=list(FER7.classes))
    return save_bundle(model, spec, tmp_path_factory.mktemp("model") / "tiny.safetensors")


def write_adapter(folder, body: str, name="fake_adapter.py"):
    """A peer adapter speaking the bench's protocol (paths on stdin, ``--mode``, ``--out``)."""
    folder.mkdir(exist_ok=True)
    (folder / name).write_text("import argparse, json, sys\n"
                               "parser = argparse.ArgumentParser()\n"
                               "parser.add_argument('--mode'); parser.add_argument('--out')\n"
                               "args = parser.parse_args()\npaths = json.load(sys.stdin)\n" + body)
    return folder


# --- the split ----------------------------------------------------------------------------------------------------

def test_the_split_is_by_person_balanced_and_independent_of_row_order():
    rng = np.random.default_rng(0)
    identities = [f"p{i}" for i in rng.integers(0, 60, 400)]
    labels = [FER7.classes[i] for i in rng.integers(0, 7, 400)]
    parts = split_by_identity(identities, labels)
    order = rng.permutation(400)
    assert split_by_identity(np.array(identities)[order], np.array(labels)[order]) == parts  # order-free
    assert set(parts) == set(identities) and set(parts.values()) == {"dev", "measure"}
    for label in FER7.classes:
        sides = [parts[i] for i, lab in zip(identities, labels) if lab == label]
        assert 0.3 < sides.count("measure") / len(sides) < 0.7, label


def test_every_class_shown_by_two_people_is_on_both_sides_even_when_rare():
    labels = ["happy"] * 50 + ["fear", "fear"]
    identities = [f"h{i % 25}" for i in range(50)] + ["f1", "f2"]
    parts = split_by_identity(identities, labels)
    assert {parts["f1"], parts["f2"]} == {"dev", "measure"}
    with pytest.raises(DataError, match="between 0 and 1"):
        split_by_identity(identities, labels, measure_share=1.0)
    with pytest.raises(DataError, match="one identity per label"):
        split_by_identity(identities[:3], labels)


def test_parts_partition_the_set_and_a_folder_reads_like_its_tar_gz(photo_set, tmp_path):
    everything = load_face_photos(photo_set)
    dev, measure = load_face_photos(photo_set, part="dev"), load_face_photos(photo_set, part="measure")
    assert sorted(p.path for p in dev + measure) == sorted(p.path for p in everything)
    assert not {p.identity for p in dev} & {p.identity for p in measure}
    assert {p.label for p in dev} == {p.label for p in measure} == set(FER7.classes)
    assert "happy" in {p.label for p in everything if p.path.startswith("happiness/")}  # spellings canonicalised
    archive = tmp_path / "tiny_faces.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(photo_set, arcname=photo_set.name)
    packed = load_face_photos(archive, part="measure")
    assert [(p.path, p.label, p.identity, p.image_bytes) for p in packed] == \
        [(p.path, p.label, p.identity, p.image_bytes) for p in measure]
    assert part_of(everything) == split_by_identity([p.identity for p in everything], [p.label for p in everything])


@pytest.mark.parametrize("change, message", [
    ("no manifest", "no manifest.csv"),
    ("no identity column", "needs columns path, label, identity"),
    ("unknown label", "label 'contempt' is not one of"),
    ("missing file", "which is not in the set"),
    ("short row", "empty identity"),
])
def test_bad_sets_are_one_line_errors(tmp_path, change, message):
    rows = [{"path": f"{label}/{i:02d}.png", "label": label, "identity": who, "source_family": fam}
            for i, (label, who, fam) in enumerate(ROWS)]
    if change == "no identity column":
        rows = [{k: v for k, v in row.items() if k != "identity"} for row in rows]
    if change == "unknown label":
        rows[0]["label"] = "contempt"
    if change == "missing file":
        rows[0]["path"] = "angry/nope.png"
    folder = write_set(tmp_path / "set", manifest_rows=rows)
    if change == "short row":
        with (folder / "manifest.csv").open("a") as manifest:
            manifest.write("angry/00.png,angry\n")
    if change == "no manifest":
        (folder / "manifest.csv").unlink()
    with pytest.raises(DataError, match=message):
        load_face_photos(folder)


def test_an_unknown_part_or_a_missing_set_is_refused(photo_set, tmp_path):
    with pytest.raises(DataError, match="unknown part"):
        load_face_photos(photo_set, part="test")
    with pytest.raises(DataError, match="no such face-photo set"):
        load_face_photos(tmp_path / "nowhere")
    not_an_archive = tmp_path / "faces.tar.gz"
    not_an_archive.write_bytes(b"not gzip at all")
    with pytest.raises(DataError, match="not a readable folder or tar archive"):
        load_face_photos(not_an_archive)


# --- scores ---------------------------------------------------------------------------------------------------------

def test_scores_match_sklearn_and_a_missed_face_counts_as_wrong():
    truth = np.array([0, 0, 1, 2, 3, 3, 3, 4, 5, 6, 6, 2])
    guess = np.array([0, 3, 1, -1, 3, 3, 0, 4, 5, 6, -1, 2])
    people = [f"p{i}" for i in range(len(truth))]
    result = score(truth, guess, people, bootstrap_weights(len(truth), 500, seed=0))
    assert result["accuracy"] == round(8 / 12, 4) and result["found"] == round(10 / 12, 4)
    assert result["macro_f1"] == round(f1_score(truth, guess, labels=list(range(7)), average="macro"), 4)
    assert result["recall"]["angry"] == 0.5 and result["recall"]["fear"] == 0.5 and result["recall"]["neutral"] == 0.5
    low, high = result["accuracy_ci95"]
    assert low < result["accuracy"] < high and 0 <= low and high <= 1
    assert result["macro_f1_ci95"][0] < result["macro_f1"] < result["macro_f1_ci95"][1]


def test_the_bootstrap_resamples_people_not_photos():
    weights = bootstrap_weights(5, 300, seed=3)
    assert weights.shape == (300, 5) and (weights.sum(1) == 5).all()
    assert np.array_equal(weights, bootstrap_weights(5, 300, seed=3))
    # One person with all photos right and one with all wrong: the interval spans nearly 0..1 when
    # people are resampled; resampling the 20 photos one by one would give about 0.28..0.72.
    truth = np.zeros(20, np.int64)
    guess = np.array([0] * 10 + [1] * 10)
    people = ["right"] * 10 + ["wrong"] * 10
    low, high = score(truth, guess, people, bootstrap_weights(2, 2000, seed=0))["accuracy_ci95"]
    assert low == 0.0 and high == 1.0


def test_the_paired_gap_is_zero_for_the_same_guesses_and_signed_otherwise():
    truth = np.array([0, 1, 2, 3, 4, 5, 6, 0])
    people = ["a", "a", "b", "b", "c", "c", "d", "d"]
    weights = bootstrap_weights(4, 400, seed=0)
    same = paired_gap(truth, truth, truth, people, weights)
    assert same == {"points": 0.0, "ci95": [0.0, 0.0]}
    worse = truth.copy()
    worse[:2] = 6
    gap = paired_gap(truth, truth, worse, people, weights)
    assert gap["points"] == 25.0 and 0 <= gap["ci95"][0] <= 25.0 <= gap["ci95"][1]


def test_labels_map_to_the_seven_by_name_and_extra_classes_are_dropped():
    ferplus = list(FER7.classes) + ["contempt"]
    probs = np.array([[0, 0, 0, 0.3, 0, 0, 0.1, 0.6]])
    mapped = to_fer7(probs, ferplus)
    assert mapped.shape == (1, 7) and predicted(mapped)[0] == FER7.classes.index("happy")
    shuffled = ["neutral", "happiness", "anger", "sadness", "surprise", "fear", "disgust"]
    assert to_fer7(np.eye(7), shuffled).argmax(1).tolist() == [6, 3, 0, 4, 5, 2, 1]
    assert predicted(np.full((2, 7), np.nan)).tolist() == [-1, -1]
    with pytest.raises(EmoscopeError, match="not a 7-expression model"):
        to_fer7(np.zeros((1, 5)), ["angry", "disgust", "happy", "neutral", "surprise"])
    with pytest.raises(EmoscopeError, match="7-expression models"):
        check_seven_classes(emoscope.load("fer5"))


# --- peers and the whole bench ---------------------------------------------------------------------------------------

def test_a_missing_or_uninstalled_peer_is_skipped_with_its_reason(tmp_path):
    peer = Peer("fake", "fake_adapter.py", "a test peer")
    adapters = write_adapter(tmp_path / "adapters", "print('fake is not importable here', file=sys.stderr)\n"
                                                    "sys.exit(3)\n")
    with pytest.raises(PeerUnavailable, match="no peers python"):
        run_peer(peer, tmp_path / "no-venv" / "python", adapters, [], "pipeline")
    with pytest.raises(PeerUnavailable, match="no adapter"):
        run_peer(peer, sys.executable, tmp_path, [], "pipeline")
    with pytest.raises(PeerUnavailable, match="not installed: fake is not importable here"):
        run_peer(peer, sys.executable, adapters, [], "pipeline")
    broken = write_adapter(tmp_path / "broken", "raise RuntimeError('model file damaged')\n")
    with pytest.raises(PeerUnavailable, match="exit 1.*model file damaged"):
        run_peer(peer, sys.executable, broken, [], "crops")


def test_the_bench_scores_models_and_peers_on_the_same_photos(photo_set, bundle, tmp_path):
    # The fake peer finds a face only in the crops route and calls every face happy.
    adapters = write_adapter(tmp_path / "adapters",
                             "classes = ['anger', 'disgust', 'fear', 'happiness', 'sadness', 'surprise', 'neutral']\n"
                             "answer = [None if args.mode == 'pipeline' else dict.fromkeys(classes, 0.0) | "
                             "{'happiness': 1.0} for _ in paths]\n"
                             "json.dump({'classes': classes, 'results': answer}, open(args.out, 'w'))\n")
    parts = {name: load_face_photos(photo_set, part=name) for name in ("dev", "measure")}
    missing = Peer("absent", "absent_adapter.py", "not there")
    results = bench_faces(parts, [emoscope.load(str(bundle))], "haar",
                          peers=[Peer("fake", "fake_adapter.py", "always happy"), missing],
                          peers_python=sys.executable, adapters=adapters, samples=200)
    assert results["skipped_peers"] == [{"peer": "absent", "reason": f"no adapter {adapters / 'absent_adapter.py'}"}]
    for name, photos in parts.items():
        rows = {(row["source"], row["route"]): row for row in results["parts"][name]["rows"]}
        assert set(rows) == {("tiny", "pipeline"), ("tiny", "crops"), ("fake", "pipeline"), ("fake", "crops")}
        happy = sum(p.label == "happy" for p in photos)
        assert rows[("fake", "crops")]["accuracy"] == round(happy / len(photos), 4)
        assert rows[("fake", "pipeline")]["found"] == 0 and rows[("fake", "pipeline")]["accuracy"] == 0
        assert rows[("tiny", "pipeline")]["found"] == 0  # gradients hold no face: every photo counts as wrong
        assert rows[("tiny", "crops")]["found"] == 1
        assert set(rows[("tiny", "crops")]["by_family"]) == {p.source_family for p in photos}
        assert results["parts"][name]["gaps_to_best_peer"]["crops"]["peer"] == "fake"
        assert results["predictions"][name]["fake/crops"] == ["happy"] * len(photos)
    results |= {"set": photo_set.name, "command": "emoscope bench faces tiny_faces"}
    table = faces_table(results)
    assert "| fake | photo as the crop |" in table and "Peer absent skipped: no adapter" in table


def test_the_command_writes_json_and_the_doc_table(photo_set, bundle, tmp_path):
    doc = tmp_path / "real-faces.md"
    doc.write_text("intro\n<!-- bench:faces-haar -->\nold\n<!-- /bench:faces-haar -->\nend\n")
    out = tmp_path / "bench" / "faces.json"
    run = run_emoscope("bench", "faces", photo_set, "--model", bundle, "--detector", "haar", "--no-peers",
                       "--bootstrap", "200", "--out", out, "--doc", doc, timeout=300)
    assert run.returncode == 0, run.stderr
    results = json.loads(out.read_text())
    assert list(results["parts"]) == ["dev", "measure"] and results["models"] == ["tiny"]
    assert results["command"].startswith("emoscope bench faces") and "--detector haar" in results["command"]
    text = doc.read_text()
    assert text.startswith("intro\n<!-- bench:faces-haar -->\n`emoscope bench faces") and "old" not in text
    assert "Measure-only part (never tuned on)" in text and text.endswith("<!-- /bench:faces-haar -->\nend\n")
    assert out.with_suffix(".md").read_text() in text


@pytest.mark.parametrize("args, fragment", [
    (["nowhere.tar.gz"], "no such face-photo set"),
    (["SET", "--part", "test"], "unknown part 'test'"),
    (["SET", "--model", "fer5"], "7-expression models"),
    (["SET", "--tta", "twice"], "unknown --tta"),
])
def test_bad_input_is_one_error_line_and_exit_2(photo_set, tmp_path, args, fragment):
    run = run_emoscope("bench", "faces", *[photo_set if a == "SET" else a for a in args], "--no-peers",
                       "--out", tmp_path / "faces.json", cwd=tmp_path, timeout=120)
    lines = run.stderr.strip().splitlines()
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], run.stderr


@pytest.mark.data
def test_the_real_set_splits_by_person_with_every_class_on_both_sides(data_root):
    archive = data_root / "faces_wild" / "faces_muxspace_wild_7expr.tar.gz"
    if not archive.is_file():
        pytest.skip(f"{archive}: real face photo set not found")
    photos = load_face_photos(archive)
    parts = part_of(photos)
    assert len(photos) == 1644
    dev = [p for p in photos if parts[p.identity] == "dev"]
    measure = [p for p in photos if parts[p.identity] == "measure"]
    assert not {p.identity for p in dev} & {p.identity for p in measure}
    for label in FER7.classes:
        on_dev, on_measure = sum(p.label == label for p in dev), sum(p.label == label for p in measure)
        assert on_dev > 0 and on_measure > 0 and abs(on_dev - on_measure) <= max(2, 0.1 * (on_dev + on_measure))
    assert (len(dev), len(measure)) == (828, 816)  # the rule as documented in docs/real-faces.md
