"""Group evaluation (metrics per user-supplied group, bootstrap intervals, the largest gap), the groups
CSV, group-specific training and model routing by ``--meta group=G``: on hand-built arrays, on real
FER2013 images darkened for one synthetic group, and end to end through the command line."""

from __future__ import annotations

import contextlib
import importlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import write_fer2013_csv
from emoscope.data.imageset import ImageSet
from emoscope.data.labels import FER7
from emoscope.errors import DataError, EmoscopeError
from emoscope.evaluation.groups import (
    MIN_GROUP_SIZE,
    _bootstrap,
    assign_groups,
    evaluate_groups,
    read_groups_csv,
    select_group,
)
from emoscope.evaluation.metrics import classification_metrics
from emoscope.runtime.routing import GroupRoutes, read_routes, route_model, routed_model
from helpers import run_emoscope

REPO = Path(__file__).resolve().parents[1]
CLIP = REPO / "samples" / "WolfgangLanger_Pexels.mp4"
CLASSES = list(FER7.classes)
K = len(CLASSES)
cli = importlib.import_module("emoscope.cli.main")


def predictions(labels: np.ndarray, hit_rate: float, rng: np.random.Generator) -> np.ndarray:
    """Probabilities whose argmax is the label for about ``hit_rate`` of the rows, a wrong class otherwise."""
    probs = rng.random((len(labels), K)) * 0.1
    hits = rng.random(len(labels)) < hit_rate
    wrong = (labels + rng.integers(1, K, len(labels))) % K
    probs[np.arange(len(labels)), np.where(hits, labels, wrong)] += 1
    return probs / probs.sum(axis=1, keepdims=True)


def two_groups(n: int = 300, good: float = 0.9, bad: float = 0.5, seed: int = 0):
    rng = np.random.default_rng(seed)
    labels = np.arange(2 * n) % K
    probs = np.concatenate([predictions(labels[:n], good, rng), predictions(labels[n:], bad, rng)])
    groups = ["good"] * n + ["bad"] * n
    return labels, probs, groups


# -- metrics on hand-built arrays -------------------------------------------------------------------


def test_a_group_made_worse_scores_lower_and_the_gap_names_it():
    labels, probs, groups = two_groups()
    report = evaluate_groups(labels, probs, groups, CLASSES, n_boot=500)
    good, bad = report["groups"]["good"], report["groups"]["bad"]
    assert good["n"] == bad["n"] == 300 and sum(good["class_counts"].values()) == 300
    assert good["accuracy"]["value"] > bad["accuracy"]["value"] + 0.3
    assert good["macro_f1"]["value"] > bad["macro_f1"]["value"]
    gap = report["largest_gap"]
    assert gap["metric"] == "accuracy" and gap["between"] == ["good", "bad"]
    assert gap["value"] == pytest.approx(good["accuracy"]["value"] - bad["accuracy"]["value"])
    assert not gap["intervals_overlap"]
    assert report["largest_gaps"]["macro_f1"]["between"] == ["good", "bad"]
    assert (report["n_boot"], report["min_size"], report["confidence"]) == (500, MIN_GROUP_SIZE, 0.95)
    json.dumps(report, allow_nan=False)  # JSON-ready: plain floats, no NaN


def test_point_estimates_are_the_plain_metrics_and_the_intervals_contain_them():
    labels, probs, groups = two_groups(n=200, good=0.7, bad=0.6, seed=3)
    report = evaluate_groups(labels, probs, groups, CLASSES, n_boot=1000)
    for name, rows in (("good", slice(0, 200)), ("bad", slice(200, 400))):
        plain = classification_metrics(labels[rows], probs[rows], CLASSES)
        group = report["groups"][name]
        assert group["accuracy"]["value"] == pytest.approx(plain["accuracy"])
        assert group["macro_f1"]["value"] == pytest.approx(plain["macro_f1"])  # every class present
        metrics = [group["accuracy"], group["macro_f1"], *group["per_class_recall"].values()]
        for metric in metrics:
            assert 0 <= metric["low"] <= metric["value"] <= metric["high"] <= 1
        assert group["accuracy"]["high"] - group["accuracy"]["low"] < 0.2


def test_the_vectorised_bootstrap_equals_a_loop_over_resamples():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, K, 150)
    pred = predictions(labels, 0.6, rng).argmax(axis=1)
    present = np.bincount(labels, minlength=K) > 0
    acc, f1, recall = _bootstrap(labels, pred, K, present, 40, np.random.default_rng(7))
    index = np.random.default_rng(7).integers(0, 150, size=(40, 150))
    for b in range(40):
        y, p = labels[index[b]], pred[index[b]]
        plain = classification_metrics(y, np.eye(K)[p], CLASSES)
        assert acc[b] == pytest.approx(plain["accuracy"])
        assert f1[b] == pytest.approx(np.mean([plain["per_class"][c]["f1"] for c in np.array(CLASSES)[present]]))
        for c in range(K):
            if (y == c).any():
                assert recall[b, c] == pytest.approx(plain["per_class"][CLASSES[c]]["recall"])
            else:
                assert np.isnan(recall[b, c])


def test_the_same_seed_gives_the_same_intervals():
    labels, probs, groups = two_groups(n=150)
    first = evaluate_groups(labels, probs, groups, CLASSES, n_boot=300, seed=5)
    assert evaluate_groups(labels, probs, groups, CLASSES, n_boot=300, seed=5) == first
    other = evaluate_groups(labels, probs, groups, CLASSES, n_boot=300, seed=6)
    assert other["groups"]["bad"]["accuracy"] != first["groups"]["bad"]["accuracy"]
    assert other["groups"]["bad"]["accuracy"]["value"] == first["groups"]["bad"]["accuracy"]["value"]


def test_a_class_a_group_lacks_has_no_recall_and_does_not_count_in_its_macro_f1():
    rng = np.random.default_rng(0)
    labels = np.concatenate([np.arange(120) % K, np.arange(120) % (K - 1)])  # group b: no neutral
    probs = np.eye(K)[labels] + rng.random((240, K)) * 0.01  # every prediction right
    report = evaluate_groups(labels, probs, ["a"] * 120 + ["b"] * 120, CLASSES, n_boot=200)
    b = report["groups"]["b"]
    assert b["per_class_recall"]["neutral"] is None and b["class_counts"]["neutral"] == 0
    assert b["macro_f1"]["value"] == pytest.approx(1.0)
    assert report["largest_gap"]["value"] == pytest.approx(0.0)


def test_a_group_below_the_minimum_is_refused_naming_it_its_size_and_the_minimum():
    labels, probs, _ = two_groups(n=150)
    groups = ["big"] * 240 + ["small"] * 60
    with pytest.raises(DataError, match=r"group 'small' has 60 images, fewer than the minimum of 100"):
        evaluate_groups(labels, probs, groups, CLASSES)
    assert evaluate_groups(labels, probs, groups, CLASSES, min_size=60, n_boot=100)["groups"]["small"]["n"] == 60
    with pytest.raises(DataError, match="at least 2 groups"):
        evaluate_groups(labels, probs, ["all"] * 300, CLASSES)
    with pytest.raises(DataError, match="300 labels, 300 probability rows and 2 groups"):
        evaluate_groups(labels, probs, ["a", "b"], CLASSES)
    with pytest.raises(DataError, match="image 1 \\(and 0 more\\) has no group"):
        evaluate_groups(labels, probs, ["a", None, *groups[2:]], CLASSES)
    with pytest.raises(EmoscopeError, match="bootstrap resamples"):
        evaluate_groups(labels, probs, groups, CLASSES, n_boot=10)


@settings(max_examples=25, deadline=None, database=None)
@given(sizes=st.lists(st.integers(1, 60), min_size=2, max_size=4), min_size=st.integers(1, 60),
       seed=st.integers(0, 2**32 - 1))
def test_groups_are_refused_exactly_when_one_is_below_the_minimum(sizes, min_size, seed):
    rng = np.random.default_rng(seed)
    groups = [f"g{i}" for i, size in enumerate(sizes) for _ in range(size)]
    labels = rng.integers(0, K, len(groups))
    probs = rng.random((len(groups), K))
    if min(sizes) < min_size:
        with pytest.raises(DataError, match=f"fewer than the minimum of {min_size}"):
            evaluate_groups(labels, probs, groups, CLASSES, min_size=min_size, n_boot=100, seed=seed)
        return
    report = evaluate_groups(labels, probs, groups, CLASSES, min_size=min_size, n_boot=100, seed=seed)
    for group in report["groups"].values():
        assert group["accuracy"]["low"] <= group["accuracy"]["value"] <= group["accuracy"]["high"]
    assert report["largest_gap"]["value"] >= 0


# -- the groups file and which image is in which group ---------------------------------------------


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def rows_set(rows) -> ImageSet:
    rows = np.asarray(rows)
    return ImageSet(np.zeros((len(rows), 4, 4), np.uint8), rows % K, FER7, source="tiny.csv [PrivateTest]",
                    meta={"rows": rows})


def test_groups_csv_rows_match_images_by_their_source_row(tmp_path):
    mapping = read_groups_csv(write(tmp_path / "g.csv", "id,group\n10,a\n11,b\n12,a\n900,b\n"))
    assert mapping == {"10": "a", "11": "b", "12": "a", "900": "b"}
    assignment = assign_groups(rows_set([12, 10, 11, 13]), mapping)
    assert assignment.groups == ["a", "a", "b"] and list(assignment.images.meta["rows"]) == [12, 10, 11]
    assert assignment.summary() == {"images_with_group": 3, "images_without_group": 1, "ids_not_in_split": 1}
    assert list(select_group(rows_set([12, 10, 11]), mapping, "b").meta["rows"]) == [11]
    assert read_groups_csv(write(tmp_path / "image.csv", "image,group\nx.png,a\n")) == {"x.png": "a"}


@pytest.mark.parametrize("text, message", [
    ("row,group\n1,a\n", r"missing an image id column \(id or image or path\); found: row, group"),
    ("id,cohort\n1,a\n", r"missing column\(s\) group"),
    ("id,group\n1,a\n1,b\n", r"row 2: id '1' appears more than once"),
    ("id,group\n1,a\n2, \n", r"row 2: empty group"),
    ("id,group\n", "no data rows"),
])
def test_a_broken_groups_file_is_one_data_error(tmp_path, text, message):
    with pytest.raises(DataError, match=message):
        read_groups_csv(write(tmp_path / "g.csv", text))


def test_unknown_ids_and_groups_are_refused(tmp_path):
    with pytest.raises(DataError, match="groups file not found"):
        read_groups_csv(tmp_path / "none.csv")
    with pytest.raises(DataError, match="unknown id 'face-7'.*0-based row number"):
        assign_groups(rows_set([1, 2]), {"face-7": "a"})
    with pytest.raises(DataError, match="no id matches an image"):
        assign_groups(rows_set([1, 2]), {"5": "a"})
    with pytest.raises(DataError, match="no group 'c' \\(groups: a, b\\)"):
        select_group(rows_set([1, 2]), {"1": "a", "2": "b"}, "c")
    with pytest.raises(DataError, match="carry no ids"):
        assign_groups(ImageSet(np.zeros((1, 4, 4), np.uint8), [0], FER7, source="x.emopack"), {"1": "a"})


def test_image_folder_ids_are_relative_paths_or_file_names(tmp_path):
    import cv2

    root = tmp_path / "faces"
    for split, cls, name in [("test", "happy", "a.png"), ("test", "sad", "b.png"), ("test", "sad", "c.png"),
                             ("train", "happy", "d.png")]:
        (root / split / cls).mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / split / cls / name), np.zeros((8, 8), np.uint8))
    from emoscope.data import load_dataset

    images = load_dataset(root, split="test")
    assignment = assign_groups(images, {"happy/a.png": "x", "c.png": "y", "happy/d.png": "x"})
    assert assignment.groups == ["x", "y"] and assignment.other_ids == 1  # d.png: the train split's
    with pytest.raises(DataError, match="unknown id 'sad/zzz.png': no such image"):
        assign_groups(images, {"sad/zzz.png": "x"})


def test_a_group_run_needs_both_the_file_and_the_group():
    from emoscope.training.config import TrainConfig

    with pytest.raises(EmoscopeError, match="needs both groups_file and group"):
        TrainConfig(model="fer_fast_net", group="a")
    assert TrainConfig(model="fer_fast_net", groups_file="g.csv", group="a").group == "a"


# -- routing ------------------------------------------------------------------------------------------


def test_routes_pick_the_group_model_else_the_default_else_refuse(tmp_path):
    routes = GroupRoutes(default="fer-fast", groups={"low-light": "fer-default"})
    assert route_model(routes, "low-light") == ("fer-default", "group")
    assert route_model(routes, "other") == ("fer-fast", "default")
    assert route_model(routes, None) == ("fer-fast", "default")
    strict = GroupRoutes(groups={"a": "fer-fast"})
    with pytest.raises(EmoscopeError, match="no route for group 'b' and no default \\(routed: a\\)"):
        route_model(strict, "b")
    path = write(tmp_path / "routes.toml", '[groups]\na = "models/a.safetensors"\n')
    assert read_routes(path)[0].groups["a"] == str(tmp_path / "models" / "a.safetensors")
    with pytest.raises(EmoscopeError, match="invalid route 'colour'"):
        read_routes(write(tmp_path / "bad.toml", 'colour = "x"\n'))


def test_the_shipped_routes_name_shipped_models():
    from emoscope.runtime.predictor import list_pretrained

    routes, _ = read_routes(REPO / "configs" / "group-routes.toml")
    assert {routes.default, *routes.groups.values()} <= set(list_pretrained())
    model, metadata = routed_model(REPO / "configs" / "group-routes.toml", {"group": "low-light"})
    assert model == "fer-default" and metadata["routed_model"] == "fer-default"
    assert metadata["route"] == "group low-light" and metadata["group"] == "low-light"


# -- a synthetic group on real images -------------------------------------------------------------------


def test_a_darkened_group_of_real_faces_is_reported_as_the_worse_one(data_root):
    import emoscope
    from emoscope.data import dataset_file, load_dataset, limit_per_split

    try:
        dataset_file("FER2013", ("fer2013/fer2013.csv", "fer2013/fer2013.csv.gz",
                                 "fer2013/fer2013_reconstructed.csv.gz"))
    except DataError as exc:
        pytest.skip(str(exc))
    images = limit_per_split(load_dataset("fer2013", split="test"), 400, seed=0)
    dark = np.arange(len(images)) % 2 == 1
    pixels = images.images.copy()
    # strongly underexposed: below the 0.12 floor of the robust models' under-exposure training
    pixels[dark] = (pixels[dark] * 0.05).astype(np.uint8)
    model = emoscope.load("fer-fast")
    probs = model.predict_proba(pixels)
    report = evaluate_groups(images.labels, probs, np.where(dark, "dark", "original"), list(model.spec.classes))
    dark_acc, original_acc = (report["groups"][g]["accuracy"] for g in ("dark", "original"))
    assert dark_acc["value"] < original_acc["value"] - 0.1
    assert report["largest_gap"]["between"] == ["original", "dark"]
    assert not report["largest_gap"]["intervals_overlap"]


# -- the command line ---------------------------------------------------------------------------------


def in_process(*args) -> tuple[int, str, str]:
    """``emoscope ARGS`` through the real entry point in this process: exit code, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            cli.main([str(a) for a in args])
        except SystemExit as exit_:
            code = exit_.code
    return code, out.getvalue(), err.getvalue()


def assert_one_error_line(code: int, stderr: str, *fragments: str) -> None:
    lines = stderr.strip().splitlines()
    assert code == 2 and "Traceback" not in stderr and len(lines) == 1, stderr
    assert lines[0].startswith("error: ") and all(f in lines[0] for f in fragments), stderr


@pytest.fixture(scope="module")
def grouped(tmp_path_factory):
    """A 200-row FER2013 CSV (80 Training, 40 PublicTest, 80 PrivateTest), a groups file splitting each
    split in halves a/b, and an untrained fer_fast_net bundle."""
    import torch

    import emoscope
    from emoscope.runtime.bundle import save_bundle
    from emoscope.runtime.spec import ModelSpec

    root = tmp_path_factory.mktemp("groups")
    usage = ["Training"] * 80 + ["PublicTest"] * 40 + ["PrivateTest"] * 80
    images = np.random.default_rng(0).integers(0, 256, size=(200, 48, 48), dtype=np.uint8)
    csv = write_fer2013_csv(root / "fer.csv", np.arange(200) % K, usage, images)
    groups = write(root / "groups.csv", "id,group\n" + "".join(f"{row},{'ab'[row % 2]}\n" for row in range(200)))
    torch.manual_seed(0)
    net = emoscope.create_model("fer_fast_net", num_classes=K, in_chans=1, img_size=48, width=0.25).eval()
    spec = ModelSpec(name="tiny", architecture="fer_fast_net", label_set="fer2013", classes=CLASSES,
                     arch_kwargs={"width": 0.25})
    bundle = save_bundle(net, spec, root / "tiny.safetensors")
    return {"root": root, "csv": csv, "groups": groups, "bundle": bundle}


def test_evaluate_with_groups_adds_the_section_and_prints_a_row_per_group(grouped):
    out = grouped["root"] / "eval"
    run = run_emoscope("evaluate", grouped["bundle"], "--dataset", grouped["csv"], "--split", "test",
                       "--groups", grouped["groups"], "--min-group", "40", "--bootstrap", "200", "--out", out)
    assert run.returncode == 0 and "Traceback" not in run.stderr, run.stderr
    text = " ".join(run.stdout.split())
    assert "largest accuracy gap" in text and "largest macro_f1 gap" in text and "80 images in 2 groups" in text
    (report_path,) = out.glob("*.json")
    section = json.loads(report_path.read_text())["groups"]
    assert set(section["groups"]) == {"a", "b"} and section["groups"]["a"]["n"] == 40
    assert section["n_boot"] == 200 and section["min_size"] == 40 and section["images_without_group"] == 0
    assert section["ids_not_in_split"] == 120 and section["file"] == str(grouped["groups"])


def test_evaluate_groups_bad_inputs_are_one_line(grouped, tmp_path):
    base = ["evaluate", grouped["bundle"], "--dataset", grouped["csv"], "--split", "test", "--out", tmp_path]
    code, _, err = in_process(*base, "--groups", tmp_path / "none.csv")
    assert_one_error_line(code, err, "groups file not found")
    code, _, err = in_process(*base, "--groups", write(tmp_path / "bad.csv", "file,group\n120,a\n"))
    assert_one_error_line(code, err, "missing an image id column")
    code, _, err = in_process(*base, "--groups", grouped["groups"])  # 40 per group, minimum 100
    assert_one_error_line(code, err, "has 40 images, fewer than the minimum of 100")
    code, _, err = in_process(*base, "--groups", grouped["groups"], "--bootstrap", "5")
    assert_one_error_line(code, err, "--bootstrap")
    assert not list(tmp_path.glob("*.json"))


def test_train_on_one_group_from_a_trained_model(grouped):
    out = grouped["root"] / "runs"
    run = run_emoscope("train", "--model", "fer_fast_net", "--set", "model_kwargs.width=0.25", "--dataset",
                       grouped["csv"], "--groups-train", grouped["groups"], "--group", "b", "--epochs", "1",
                       "--batch-size", "20", "--out-dir", out, "--name", "b-only", "--set", "threads=1",
                       "--init-from", grouped["bundle"])
    assert run.returncode == 0 and "Traceback" not in run.stderr, run.stderr
    text = " ".join(run.stdout.split())
    assert "on 40 images of fer.csv [Training], group b, validating on 20" in text, text
    assert "warm start from tiny.safetensors" in text, text
    config = json.loads((out / "b-only" / "config.json").read_text())
    assert config["group"] == "b" and config["groups_file"] == str(grouped["groups"])
    code, _, err = in_process("train", "--model", "fer_fast_net", "--dataset", grouped["csv"], "--groups-train",
                              grouped["groups"], "--group", "c", "--out-dir", out, "--name", "c")
    assert_one_error_line(code, err, "no group 'c' (groups: a, b)")


def test_analyze_routes_by_the_group_and_records_the_model(tmp_path):
    run = run_emoscope("analyze", CLIP, "--max-seconds", "0.5", "--no-blinks", "--no-gaze", "--no-touches",
                       "--frames", "none", "--meta", "group=low-light", "--routes",
                       REPO / "configs" / "group-routes.toml", "--out", tmp_path)
    assert run.returncode == 0 and "Traceback" not in run.stderr, run.stderr
    report = json.loads((tmp_path / f"{CLIP.stem}.report.json").read_text())
    assert report["analysis"]["model"] == "fer-default"
    assert report["metadata"]["routed_model"] == "fer-default" and report["metadata"]["route"] == "group low-light"


def test_analyze_an_unrouted_group_without_a_default_is_one_line(tmp_path):
    routes = write(tmp_path / "routes.toml", '[groups]\nstudio = "fer-fast"\n')
    code, _, err = in_process("analyze", CLIP, "--meta", "group=outdoor", "--routes", routes, "--out", tmp_path / "o")
    assert_one_error_line(code, err, "no route for group 'outdoor' and no default")
    code, _, err = in_process("analyze", CLIP, "--model", "fer-fast", "--routes", routes, "--out", tmp_path / "o")
    assert_one_error_line(code, err, "--model and --routes")
    assert not (tmp_path / "o").exists()
