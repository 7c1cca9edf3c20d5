"""`emoscope replicate`: every study at quick scale, resumable units, protocols that never select on the
test data, and pages that are written from their JSON only (the committed ones included)."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from emoscope.errors import EmoscopeError
from emoscope.evaluation.card import read_card
from emoscope.replication import STUDIES
from emoscope.replication.page import EARLIER_RUN, render_page
from emoscope.replication.protocol import Protocol, augmented_copies, splits_of
from emoscope.replication.study import chance_levels, run_study
from emoscope.runtime.predictor import WEIGHTS_DIR
from emoscope.training.trainer import bf16_supported, processor_name
from helpers import run_emoscope

REPO = Path(__file__).resolve().parents[1]
COMMITTED = REPO / "docs" / "replication"
FOLDERS = {"cpu": COMMITTED, "standard": COMMITTED / "standard"}
"""The committed pages of each scale: ``cpu`` in docs/replication, ``standard`` in its standard/ folder."""
PAPERS = REPO.parent / "shared" / "papers"
PAPER_FILES = {"panic": "panic-detection.txt", "hybrid": "hybrid-fusion.txt", "thesis": "thesis-hand-and-face.txt",
               "realtime": "realtime-fer.txt", "interview": "interview-analysis.txt"}


@pytest.fixture(scope="module")
def quick_runs(data_root, tmp_path_factory) -> tuple[Path, Path, dict]:
    """Every study at quick scale, once for this module: (pages folder, work folder, results)."""
    out, work = tmp_path_factory.mktemp("pages"), tmp_path_factory.mktemp("work")
    results = {name: run_study(study, "quick", out, work, say=lambda line: None) for name, study in STUDIES.items()}
    return out, work, results


def test_every_study_writes_its_page_json_and_the_summary(quick_runs):
    out, _, results = quick_runs
    assert set(results) == {"panic", "hybrid", "thesis", "realtime", "interview"}
    # speeds depend on the processor and precision: the page names what trained and what timed
    processor = processor_name(torch.device("cpu"))
    trained_here = f"{processor} ({'bf16' if bf16_supported(torch.device('cpu')) else 'fp32'})"
    for name, result in results.items():
        page = (out / f"{name}.md").read_text()
        assert page == render_page(json.loads((out / f"{name}.json").read_text()))
        assert f"emoscope replicate {name} --scale quick" in page
        assert result["arms"] and all(arm["per_unit"] for arm in result["arms"])
        for claim in result["claims"]:
            assert claim["arm"] in {arm["name"] for arm in result["arms"]}, f"{name}: a claim names no arm"
        assert result["machine"]["processors"] == [processor] and f"threads of {processor}, batch 256" in page
        assert all(arm["hardware"] == [trained_here] for arm in result["arms"])
        assert f"images/s on {trained_here}" in page
    summary = (out / "README.md").read_text()
    assert all(f"({name}.md)" in summary for name in results)


def test_each_study_measures_what_its_paper_reports(quick_runs):
    _, _, results = quick_runs
    panic_arm = results["panic"]["arms"][0]
    assert {"default_recall", "chosen_recall", "chosen_precision", "default_mae"} <= set(panic_arm["summary"])
    assert len(panic_arm["per_unit"]) == 2  # folds
    panic = {arm["name"]: arm for arm in results["panic"]["arms"]}
    copied = panic["shipped_copies"]  # the pitfall run: one fold of the pool and a copy of each face
    assert copied["group"] == "pitfall" and copied["n_test"] == [2 * panic["shipped"]["n_test"][0]]
    panic_page = render_page(results["panic"])
    assert "1 augmented copy of every pool face made before the folds are cut: shipped_copies accuracy" in panic_page
    assert "(honestly, shipped on the same folds: accuracy" in panic_page
    cue = results["panic"]["extra"]  # the product's own panic score on the same folds, trained on none of them
    assert cue["model"] == "fer-default" and [u["unit"] for u in cue["units"]] == ["fold1", "fold2"]
    assert cue["summary"]["roc_auc"]["n"] == 2 and "## emoscope's panic cue as shipped" in render_page(results["panic"])
    hybrid = {arm["name"]: arm for arm in results["hybrid"]["arms"]}
    assert {"no_dropout", "no_batchnorm", "no_cbam", "no_resnet", "no_mobilenet", "no_attention_cnn"} <= set(hybrid)
    assert hybrid["no_mobilenet"]["group"] == "ablation"
    assert hybrid["hybrid"]["cost"]["params"] > hybrid["no_mobilenet"]["cost"]["params"]
    assert (Path(results["hybrid"]["arms"][0]["figures"]["curves"]).name.endswith("curves.png"))
    assert hybrid["sequential_cnn_copies"]["group"] == "pitfall"
    assert "1 augmented copy of every pool face made before the folds are cut: sequential_cnn_copies accuracy" in \
        render_page(results["hybrid"])
    realtime = {arm["name"]: arm for arm in results["realtime"]["arms"]}
    assert realtime["cnn5_48"]["classes"] == ["angry", "disgust", "happy", "neutral", "surprise"]
    assert realtime["cnn5_large"]["config"]["in_chans"] == 3 and realtime["cnn5_large"]["config"]["img_size"] == 64
    photos = results["thesis"]["extra"]["photos"]
    shipped = {row["model"]: row for row in results["thesis"]["extra"]["shipped"]}  # on the thesis's own splits
    assert shipped["fer-best"]["accuracy"] == read_card(WEIGHTS_DIR / "fer-best.card.json").accuracy
    assert "fer5" not in shipped and "part-mouth" not in shipped  # other classes or another test split
    assert "## emoscope's shipped models on the same split" in render_page(results["thesis"])
    assert any(row["plain_faces"] for row in photos), "MTCNN found no face in the shared face photos"
    groups = results["interview"]["extra"]["arms"]["cnn11"]["groups"]
    assert set(groups) == {"dark", "medium", "bright"}
    paper = {arm["name"]: arm for arm in results["thesis"]["paper_arms"]}
    assert paper["wide_resnet50_2"]["params"] > 60e6  # the real network's size, not the reduced one's


def test_a_second_run_reuses_every_unit(quick_runs, monkeypatch):
    out, work, results = quick_runs
    from emoscope.training import trainer

    def refuse(*args, **kwargs):
        raise AssertionError("a finished unit was trained again")

    monkeypatch.setattr(trainer.Trainer, "fit", refuse)
    again = run_study(STUDIES["panic"], "quick", out, work, say=lambda line: None)
    assert again["arms"][0]["per_unit"] == results["panic"]["arms"][0]["per_unit"]


def test_no_train_writes_the_page_from_kept_units_and_names_the_rest(quick_runs, tmp_path, monkeypatch):
    """A page from units trained elsewhere (a lent GPU): an arm is summarised over the units it has, says how
    many of its units are missing and gets no verdict; an arm with none is named as not trained yet."""
    from emoscope.training import trainer

    _, work, results = quick_runs
    arms_dir = work / "panic" / "quick"
    hidden = {arms_dir / "cnn": tmp_path / "cnn", arms_dir / "resnet" / "fold2": tmp_path / "fold2"}
    monkeypatch.setattr(trainer.Trainer, "fit", lambda *a, **k: pytest.fail("--no-train trained a unit"))
    for kept, aside in hidden.items():  # put back below: the module's other tests read them
        kept.rename(aside)
    try:
        result = run_study(STUDIES["panic"], "quick", tmp_path / "pages", work, say=lambda line: None, train=False)
        with pytest.raises(EmoscopeError, match="no arm has a trained unit"):  # no units, no records beside it
            run_study(STUDIES["panic"], "quick", tmp_path / "other-pages", tmp_path / "empty",
                      say=lambda line: None, train=False)
        done = run_emoscope("replicate", "panic", "--scale", "quick", "--no-train", "--work-dir", work,
                            "--out", tmp_path / "cli-pages")
    finally:
        for kept, aside in hidden.items():
            aside.rename(kept)
    arms = {arm["name"]: arm for arm in result["arms"]}
    assert result["untrained_arms"] == ["cnn"] and set(arms) == {"mobilenet", "resnet", "shipped", "shipped_copies"}
    assert arms["mobilenet"]["per_unit"] == results["panic"]["arms"][0]["per_unit"]
    assert len(arms["resnet"]["per_unit"]) == 1 and arms["resnet"]["units_planned"] == 2
    page = (tmp_path / "pages" / "panic.md").read_text()
    assert "Not trained yet at this scale: cnn" in page and "1 of 2 units trained so far" in page
    assert "`emoscope replicate panic --scale quick --speed` first says how long" in page
    assert page.count("no verdict yet: 1 of 2 units trained") == 2  # the ResNet's two claims
    assert done.returncode == 0, done.stderr
    assert "panic/resnet: 1 of 2 units trained; `emoscope replicate panic --scale quick --arm resnet`" in done.stdout


def test_an_arm_trained_earlier_is_kept_from_the_page_while_its_options_are_unchanged(quick_runs, tmp_path,
                                                                                      monkeypatch):
    """Checkpoints stay where they were trained (a lent GPU, a lost runs/): a later run keeps such an arm, and
    its per-arm extras, from the page's earlier result, says so on the page, and drops it once its training
    options change."""
    from emoscope.training import trainer

    out, work, results = quick_runs
    pages = tmp_path / "pages"
    pages.mkdir()
    before_recorded = json.loads((out / "interview.json").read_text())  # as if timed before processors were named
    del before_recorded["arms"][[a["name"] for a in before_recorded["arms"]].index("resmasknet")]["cost"]["processor"]
    (pages / "interview.json").write_text(json.dumps(before_recorded))
    hidden, aside = work / "interview" / "quick" / "resmasknet", tmp_path / "resmasknet"
    monkeypatch.setattr(trainer.Trainer, "fit", lambda *a, **k: pytest.fail("--no-train trained a unit"))
    hidden.rename(aside)  # put back below: the module's other tests read it
    try:
        result = run_study(STUDIES["interview"], "quick", pages, work, say=lambda line: None, train=False)
        earlier = json.loads((pages / "interview.json").read_text())
        earlier["arms"][[a["name"] for a in earlier["arms"]].index("resmasknet")]["config"]["lr"] *= 2
        (pages / "interview.json").write_text(json.dumps(earlier))
        changed = run_study(STUDIES["interview"], "quick", pages, work, say=lambda line: None, train=False)
    finally:
        aside.rename(hidden)
    arms = {arm["name"]: arm for arm in result["arms"]}
    before = {arm["name"]: arm for arm in results["interview"]["arms"]}
    assert arms["resmasknet"]["earlier_run"] and not arms["cnn11"].get("earlier_run")
    assert arms["resmasknet"]["summary"] == before["resmasknet"]["summary"] and result["untrained_arms"] == []
    assert result["extra"]["arms"]["resmasknet"] == results["interview"]["extra"]["arms"]["resmasknet"]
    assert EARLIER_RUN in render_page(result)
    # the kept arm's faces/s were timed by the earlier run: the page does not claim this machine timed them
    assert result["machine"]["processors"] == sorted([processor_name(torch.device("cpu")), "an unrecorded CPU"])
    assert changed["untrained_arms"] == ["resmasknet"] and "resmasknet" not in changed["extra"]["arms"]


def test_a_unit_whose_checkpoints_are_gone_is_read_from_its_record_beside_the_page(quick_runs, tmp_path,
                                                                                   monkeypatch):
    """A later session without runs/: each unit recorded beside the page stands in for its training, up to the
    first unit without a record; a record made with other options is not used."""
    from emoscope.replication.records import UNIT_RECORDS
    from emoscope.training import trainer

    out, work, results = quick_runs
    records = tmp_path / "pages" / UNIT_RECORDS / "hybrid"
    shutil.copytree(out / UNIT_RECORDS / "hybrid", records)
    assert {path.name for path in (records / "sequential_cnn").iterdir()} == {"fold1.json", "fold2.json"}
    (records / "sequential_cnn" / "fold2.json").unlink()
    changed = json.loads((records / "vgg19" / "fold1.json").read_text())
    changed["config"]["lr"] *= 2
    (records / "vgg19" / "fold1.json").write_text(json.dumps(changed))
    hidden, aside = work / "hybrid", tmp_path / "hybrid"
    monkeypatch.setattr(trainer.Trainer, "fit", lambda *a, **k: pytest.fail("--no-train trained a unit"))
    hidden.rename(aside)  # put back below: the module's other tests read it
    try:
        result = run_study(STUDIES["hybrid"], "quick", tmp_path / "pages", work, say=lambda line: None, train=False)
    finally:
        aside.rename(hidden)
    arms = {arm["name"]: arm for arm in result["arms"]}
    before = {arm["name"]: arm for arm in results["hybrid"]["arms"]}
    assert arms["hybrid"]["per_unit"] == before["hybrid"]["per_unit"] and not arms["hybrid"].get("earlier_run")
    assert arms["sequential_cnn"]["per_unit"] == before["sequential_cnn"]["per_unit"][:1]
    assert "vgg19" in result["untrained_arms"] and "1 of 2 units trained so far" in render_page(result)


def test_an_arm_warm_started_by_the_protocol_is_recorded_with_its_warm_start_and_goes_on_without_runs(
        quick_runs, tmp_path, monkeypatch):
    """Panic's arms start from a warm start of their own: its result and weights are recorded beside the page
    with the units, so a session without the work folder reads them all and trains nothing; the units hold only
    for the weights they started from."""
    from emoscope.files import sha256_of
    from emoscope.replication.records import UNIT_RECORDS
    from emoscope.training import trainer

    out, work, results = quick_runs
    plan = STUDIES["panic"].plan("quick")
    own_start = [arm.name for arm in plan.arms if "init_from" not in arm.train]
    pages = tmp_path / "pages"
    shutil.copytree(out / UNIT_RECORDS / "panic", pages / UNIT_RECORDS / "panic")
    for name in own_start:
        folder = pages / UNIT_RECORDS / "panic" / name
        warm = json.loads((folder / "pretrain.json").read_text())
        assert warm["sha256"] == sha256_of(folder / "pretrain.safetensors")
        assert all(json.loads(unit.read_text())["warm_start_sha256"] == warm["sha256"]
                   for unit in folder.glob("fold*.json"))
    monkeypatch.setattr(trainer.Trainer, "fit", lambda *a, **k: pytest.fail("a recorded unit was trained again"))
    again = run_study(STUDIES["panic"], "quick", pages, tmp_path / "no runs", say=lambda line: None)
    before = {arm["name"]: arm for arm in results["panic"]["arms"]}
    for arm in again["arms"]:
        assert arm["per_unit"] == before[arm["name"]]["per_unit"] and not arm.get("earlier_run"), arm["name"]
    # other weights: the warm start still holds for its options, but not the units made from the old weights
    other = pages / UNIT_RECORDS / "panic" / own_start[0] / "pretrain.json"
    changed = json.loads(other.read_text())
    other.write_text(json.dumps({**changed, "sha256": "0" * 64}))
    (pages / "panic.json").unlink()  # else the page's arms are kept as they were
    third = run_study(STUDIES["panic"], "quick", pages, tmp_path / "still no runs", say=lambda line: None,
                      train=False)
    assert own_start[0] in third["untrained_arms"]


def test_a_run_with_a_unit_budget_trains_that_many_new_units_and_the_next_run_goes_on(data_root, tmp_path,
                                                                                      monkeypatch):
    """`--units 1`: a session trains the next fold of a long arm and writes the page; the next session's run
    reads that fold (here from its record, the checkpoints gone) and trains only the one after it."""
    from emoscope.replication.records import UNIT_RECORDS
    from emoscope.training import trainer

    fits = []
    fit = trainer.Trainer.fit
    monkeypatch.setattr(trainer.Trainer, "fit",
                        lambda self, *a, **k: fits.append(self.config.name) or fit(self, *a, **k))
    pages = tmp_path / "pages"
    first = run_study(STUDIES["hybrid"], "quick", pages, tmp_path / "work", say=lambda line: None,
                      only=["sequential_cnn"], new_units=1)
    assert fits == ["hybrid/quick/sequential_cnn/fold1"]
    assert [arm["name"] for arm in first["arms"]] == ["sequential_cnn"]
    assert [unit["unit"] for unit in first["arms"][0]["per_unit"]] == ["fold1"]
    records = pages / UNIT_RECORDS / "hybrid" / "sequential_cnn"
    assert sorted(path.name for path in records.iterdir()) == ["fold1.json"]
    second = run_study(STUDIES["hybrid"], "quick", pages, tmp_path / "work-elsewhere", say=lambda line: None,
                       only=["sequential_cnn"], new_units=1)
    assert fits == ["hybrid/quick/sequential_cnn/fold1", "hybrid/quick/sequential_cnn/fold2"]
    assert second["arms"][0]["per_unit"][0] == first["arms"][0]["per_unit"][0]
    assert [unit["unit"] for unit in second["arms"][0]["per_unit"]] == ["fold1", "fold2"]


def test_an_extra_that_needs_a_model_not_here_keeps_its_earlier_value(quick_runs, tmp_path, monkeypatch):
    """The thesis page's real-image table needs its baseline's weights: a run that writes the page while the
    baseline is kept from the earlier page (its checkpoints elsewhere) keeps the table as it was."""
    from emoscope.training import trainer

    out, work, results = quick_runs
    pages = tmp_path / "pages"
    pages.mkdir()
    shutil.copy(out / "thesis.json", pages / "thesis.json")
    hidden, aside = work / "thesis" / "quick" / "baseline_cnn", tmp_path / "baseline_cnn"
    monkeypatch.setattr(trainer.Trainer, "fit", lambda *a, **k: pytest.fail("--no-train trained a unit"))
    hidden.rename(aside)  # put back below: the module's other tests read it
    try:
        result = run_study(STUDIES["thesis"], "quick", pages, work, say=lambda line: None, train=False)
    finally:
        aside.rename(hidden)
    assert {arm["name"]: arm for arm in result["arms"]}["baseline_cnn"]["earlier_run"]
    assert result["extra"]["photos"] == results["thesis"]["extra"]["photos"]
    assert "## Real-image pipeline" in render_page(result)


def test_what_is_left_of_an_arm_counts_finished_recorded_and_shown_units_and_checkpointed_epochs(quick_runs,
                                                                                                tmp_path):
    from emoscope.replication.protocol import unit_config
    from emoscope.replication.speed import arm_progress

    out, work, _ = quick_runs
    study = STUDIES["hybrid"]
    plan = study.plan("quick")
    splits, vgg = splits_of(plan.protocol), next(arm for arm in plan.arms if arm.name == "vgg19")
    units = len(splits[: vgg.units])
    assert units >= 2
    gone = tmp_path / "gone"
    assert arm_progress(study, "quick", vgg, splits, work, None, {}) == [None] * units  # kept in the work folder
    assert arm_progress(study, "quick", vgg, splits, gone, out / "units" / "hybrid", {}) == [None] * units  # recorded
    # the page without its unit records: its arms as a run keeps them
    shown = {arm["name"]: arm for arm in json.loads((out / "hybrid.json").read_text())["arms"]}
    assert arm_progress(study, "quick", vgg, splits, gone, tmp_path / "no records", shown) == [None] * units
    started = unit_config(vgg, plan.protocol, "hybrid", "quick", splits[1].name, tmp_path / "fresh").run_dir
    started.mkdir(parents=True)
    (started / "history.json").write_text(json.dumps([{"epoch": 1}]))
    assert arm_progress(study, "quick", vgg, splits, tmp_path / "fresh", None, {}) == [0, 1] + [0] * (units - 2)


def test_the_test_split_is_scored_each_epoch_for_the_pitfalls_only(quick_runs):
    _, _, results = quick_runs
    for result in results.values():
        for arm in result["arms"]:
            selection = arm["selection"]
            assert selection["test_best_epoch"] is not None and 0 <= selection["train_accuracy"] <= 1
            assert selection["test_best_epoch"] >= min(u["accuracy"] for u in arm["per_unit"]) - 1e-9
    page = render_page(results["thesis"])
    assert "test accuracy at the epoch the test split itself picks: baseline_cnn" in page


@pytest.mark.parametrize("name", sorted(STUDIES))
def test_standard_scale_trains_the_papers_networks_until_validation_stops_improving(name):
    from emoscope.replication.protocol import EARLY_STOPPING

    standard, full = STUDIES[name].plan("standard"), STUDIES[name].plan("full")
    paper = {arm.name: arm.train for arm in full.arms}
    for arm in standard.arms:
        assert (arm.name in paper) != ("init_from" in arm.train), f"{name}/{arm.name}: the paper's or a shipped start"
        for option in ("model", "img_size", "in_chans"):
            assert arm.train.get(option) == paper.get(arm.name, arm.train).get(option), f"{name}/{arm.name}: {option}"
        kwargs, paper_kwargs = arm.train.get("model_kwargs"), paper.get(arm.name, arm.train).get("model_kwargs")
        if kwargs != paper_kwargs:  # narrower than the paper's only where the plan says this CPU could not level it off
            changed = {key for key in kwargs.keys() | paper_kwargs.keys() if kwargs.get(key) != paper_kwargs.get(key)}
            assert changed <= {"width", "width_mult"}, f"{name}/{arm.name}: model_kwargs"
            assert all(kwargs[key] < paper_kwargs.get(key, 1.0) for key in changed), f"{name}/{arm.name}: wider"
            assert "would not level off" in standard.note and "narrower" in standard.note
        assert arm.train["early_stopping"] == EARLY_STOPPING
        assert arm.train["epochs"] >= 40 or arm.group == "pitfall", f"{name}/{arm.name}: too few epochs to level off"
    if name == "realtime":  # the study's own loss: sigmoid outputs with binary cross-entropy
        assert {arm.train["loss"] for arm in standard.arms} == {"bce"}


def test_device_replicate_writes_fer2013_in_its_row_order(tmp_path, monkeypatch):
    import importlib

    from emoscope.data import write_pack
    from emoscope.data.fer2013 import load_fer2013
    from helpers import synthetic_imageset

    monkeypatch.syspath_prepend(str(REPO / "tools"))
    tool = importlib.import_module("device_replicate")
    splits = {split: synthetic_imageset(n, size=48, seed=seed) for seed, (split, n) in enumerate(
        (("train", 30), ("val", 10), ("test", 12)))}
    pack = write_pack(splits, tmp_path / "three.emopack")
    csv = tool.fer2013_from_pack(pack, tmp_path / "data")
    for split, images in splits.items():
        loaded = load_fer2013(csv, split, cache_dir=tmp_path / "cache")
        assert np.array_equal(loaded.labels, images.labels) and np.array_equal(loaded.images, images.images)
    assert list(load_fer2013(csv, "test", cache_dir=tmp_path / "cache").meta["rows"]) == list(range(40, 52))


def test_a_unit_made_with_other_options_is_not_reused(quick_runs, tmp_path):
    from emoscope.replication.protocol import unit_config

    _, work, _ = quick_runs
    study = STUDIES["panic"]
    plan = study.plan("quick")
    arm = plan.arms[0]
    unit = unit_config(arm, plan.protocol, "panic", "quick", "fold1", work).run_dir / "unit.json"
    original = unit.read_text()
    kept = json.loads(original)
    kept["config"]["lr"] = 123.0
    unit.write_text(json.dumps(kept))
    try:
        with pytest.raises(EmoscopeError, match="other training options"):
            run_study(study, "quick", tmp_path, work, say=lambda line: None)
    finally:  # the module's other tests read it
        unit.write_text(original)


def test_kfold_units_never_select_or_train_on_their_test_fold(data_root):
    units = splits_of(Protocol("kfold", label_set="panic", folds=3, pool_limit=600))
    tested = np.concatenate([u.test.meta["rows"] for u in units])
    assert len(tested) == len(set(tested)) == 600  # every pool image is tested exactly once
    for unit in units:
        train, val, test = (set(s.meta["rows"]) for s in (unit.train, unit.val, unit.test))
        assert not (train & val or train & test or val & test)
        assert len(train) + len(val) + len(test) == 600


def test_copies_made_before_the_split_put_a_copy_of_most_test_faces_into_training(data_root):
    """The pitfall run's folds: the pool and one augmented copy of each face, cut afterwards."""
    units = splits_of(Protocol("kfold", label_set="panic", folds=3, pool_limit=600), copies_before_split=1)
    first = units[0]
    assert len(first.train) + len(first.val) + len(first.test) == 1200
    trained_rows = set(first.train.meta["rows"])
    twins = np.isin(first.test.meta["rows"], list(trained_rows)).mean()
    assert twins > 0.5  # about 2/3 of the other copies land in training folds, 9/10 of those in training
    n = len(first.test)
    made = augmented_copies(first.test, 1, seed=0)  # a copy is its original moved, not the same pixels
    assert (made.labels[n:] == made.labels[:n]).all() and (made.meta["rows"][n:] == made.meta["rows"][:n]).all()
    assert (made.images[n:] != made.images[:n]).any(axis=(1, 2)).mean() > 0.9


def test_holdout_units_are_training_publictest_privatetest(data_root):
    protocol = Protocol("holdout", train_limit=200, val_limit=100, test_limit=100)
    (unit,) = splits_of(protocol)
    assert protocol.selection_split in unit.val.source  # the name the curves' title gives the validation split
    assert ("Training" in unit.train.source and "PublicTest" in unit.val.source
            and "PrivateTest" in unit.test.source and unit.test_split == "fer2013:test")
    assert not set(unit.train.meta["rows"]) & set(unit.test.meta["rows"])


def test_pages_are_written_from_the_json_only(quick_runs):
    out, _, _ = quick_runs
    result = json.loads((out / "panic.json").read_text())  # k-fold: means with a std
    changed = copy.deepcopy(result)
    changed["arms"][0]["summary"]["accuracy"]["mean"] = 0.987654
    changed["arms"][0]["summary"]["accuracy"]["std"] = 0.0123
    assert "0.988 ± 0.012" in render_page(changed) and "0.988 ± 0.012" not in render_page(result)


def committed_result(scale: str, name: str) -> dict:
    json_path = FOLDERS[scale] / f"{name}.json"
    if not json_path.is_file():
        pytest.skip(f"{json_path} not committed yet")
    return json.loads(json_path.read_text())


@pytest.mark.parametrize("scale", sorted(FOLDERS))
@pytest.mark.parametrize("name", sorted(STUDIES))
def test_committed_pages_match_their_json(scale, name):
    result, folder = committed_result(scale, name), FOLDERS[scale]
    assert (folder / f"{name}.md").read_text() == render_page(result), f"edit {name}.json's run, not its page"
    assert result["scale"] == scale
    for arm in result["arms"]:
        for figure in arm["figures"].values():
            assert (folder / figure).is_file()


@pytest.mark.parametrize("scale", sorted(FOLDERS))
def test_the_committed_summary_matches_the_committed_json(scale):
    from emoscope.replication.index import render_index

    if not (FOLDERS[scale] / "README.md").is_file():
        pytest.skip(f"no committed {scale} replication summary yet")
    assert (FOLDERS[scale] / "README.md").read_text() == render_index(FOLDERS[scale])


def test_a_damaged_result_is_one_clear_error(tmp_path):
    from emoscope.errors import EmoscopeError
    from emoscope.replication.index import render_index

    (tmp_path / "panic.json").write_text('{"study": "panic", "arms": [')
    with pytest.raises(EmoscopeError, match="panic.json: not a replication result"):
        render_index(tmp_path)


def test_chance_levels():
    balanced = np.array([[5, 5], [5, 5]])
    assert chance_levels(balanced) == {"accuracy": 0.5, "macro_f1": 0.5, "roc_auc": 0.5}
    skewed = chance_levels(np.array([[90, 0], [10, 0]]))
    assert skewed["accuracy"] == 0.9 and skewed["macro_f1"] < 0.5


def test_one_arm_trains_from_a_shipped_model_and_the_page_keeps_the_others(quick_runs, tmp_path):
    """`--arm shipped`: only that arm trains (from the shipped model its options name); the page lists the
    arms already trained and names the rest as not trained."""
    _, work, results = quick_runs
    arms_dir = work / "panic" / "quick"
    hidden = {arms_dir / "cnn": tmp_path / "cnn", arms_dir / "shipped": tmp_path / "shipped"}
    for kept, aside in hidden.items():  # put back below: the module's other tests read them
        kept.rename(aside)
    try:
        result = run_study(STUDIES["panic"], "quick", tmp_path / "pages", work, say=lambda line: None,
                           only={"shipped"})
        with pytest.raises(EmoscopeError, match="has no arm 'nosuch'"):
            run_study(STUDIES["panic"], "quick", tmp_path / "pages", work, only={"nosuch"})
    finally:
        shutil.rmtree(arms_dir / "shipped", ignore_errors=True)
        for kept, aside in hidden.items():
            aside.rename(kept)
    arms = {arm["name"]: arm for arm in result["arms"]}
    assert set(arms) == {"mobilenet", "resnet", "shipped", "shipped_copies"} and result["untrained_arms"] == ["cnn"]
    assert arms["mobilenet"]["per_unit"] == results["panic"]["arms"][0]["per_unit"]
    assert arms["shipped"]["warm_start"]["shipped"] == "fer-default"
    assert arms["shipped"]["config"]["model"] == "fer_fast_net" and len(arms["shipped"]["per_unit"]) == 2
    assert "Warm start: the shipped model `fer-default`" in (tmp_path / "pages" / "panic.md").read_text()


@pytest.mark.parametrize("args, message", [
    (["replicate", "nosuch"], "unknown study 'nosuch'"),
    (["replicate", "panic", "--scale", "huge"], "unknown --scale 'huge'"),
    (["replicate", "all", "--arm", "cnn"], "--arm names an arm of one study"),
    (["replicate", "thesis", "--scale", "quick", "--speed", "--arm", "nosuch"],
     "thesis at scale quick has no arm 'nosuch'"),
])
def test_bad_arguments_are_one_line(args, message):
    done = run_emoscope(*args)
    assert done.returncode != 0 and message in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def _words(text: str) -> str:
    return " ".join(text.replace("*", "").split())


@pytest.mark.parametrize("name", sorted(STUDIES))
def test_every_claim_and_pitfall_quotes_its_paper_verbatim(name):
    study = STUDIES[name]
    assert study.claims and study.pitfalls
    quotes = [(c.quote, c.where) for c in study.claims] + [(p.quote, p.where) for p in study.pitfalls if p.quote]
    assert all(quote.strip() and where.strip() for quote, where in quotes)
    assert "not quoted" not in study.differences and all("not quoted" not in c.paper for c in study.claims)
    paper = PAPERS / PAPER_FILES[name]
    if not paper.is_file():
        pytest.skip(f"{paper} not available")
    text = _words(paper.read_text())
    for quote, where in quotes:
        assert _words(quote) in text, f"{name}: not in the paper ({where}): {quote}"


@pytest.mark.parametrize("scale", sorted(FOLDERS))
@pytest.mark.parametrize("name", sorted(STUDIES))
def test_committed_results_carry_the_current_claims_and_pitfalls(scale, name):
    from emoscope.replication.study import study_metadata

    result = committed_result(scale, name)
    for key, value in study_metadata(STUDIES[name]).items():
        as_stored = json.loads(json.dumps(value))  # JSON keeps a tuple as a list
        assert result[key] == as_stored, f"run `emoscope replicate {name} --pages-only` ({key} is stale)"


def _arm(best_epochs: list[int], epochs: int) -> dict:
    return {"epochs": epochs, "per_unit": [{"best_epoch": b} for b in best_epochs]}


def test_convergence_is_read_from_the_best_epochs():
    from emoscope.replication.page import PATIENCE, convergence

    assert convergence(_arm([3, 3, 2], 3))["status"] == "rising"
    assert convergence(_arm([1, 2, 3], 3))["status"] == "unclear"
    assert convergence(_arm([10 - PATIENCE, 4, 10], 10))["status"] == "levelled"
    assert convergence(_arm([10 - PATIENCE + 1] * 3, 10))["status"] == "unclear"  # within the patience: not shown


def test_a_copies_run_is_set_beside_its_honest_arm_on_the_same_folds_only():
    from emoscope.replication.page import PITFALL_NUMBERS

    def unit(name: str, accuracy: float, auc: float | None, best: int) -> dict:
        return {"unit": name, "accuracy": accuracy, "roc_auc": auc, "best_epoch": best}

    honest = {"name": "cnn", "epochs": 50, "per_unit": [unit("fold1", 0.6, 0.8, 30), unit("fold2", 0.4, 0.6, 30)]}
    run = {"name": "cnn_copies", "epochs": 20, "copies_before_split": 1, "honest": "cnn",
           "per_unit": [unit("fold1", 0.7, None, 20)]}
    copies = PITFALL_NUMBERS["copies_before_split"]
    assert copies({"arms": [honest, run]}) == (
        "1 augmented copy of every pool face made before the folds are cut: cnn_copies accuracy 0.700 on fold1, "
        "not levelled off within its 20-epoch cap (honestly, cnn on the same folds: accuracy 0.600, ROC-AUC 0.800)")
    honest["per_unit"] = honest["per_unit"][1:]  # not the run's fold: no comparison with another fold's score
    run["per_unit"] = [unit("fold1", 0.7, 0.9, 10)]
    assert copies({"arms": [honest, run]}).endswith(
        "cnn_copies accuracy 0.700, ROC-AUC 0.900 on fold1 (cnn not trained on the same folds)")


def test_a_claim_with_alternative_settings_reads_the_one_chosen_on_validation_never_on_test():
    from emoscope.replication.page import claim_arm, claims_table

    def arm(name: str, val: float, test: float) -> dict:
        return {"name": name, "label": name, "selection": {"val_accuracy": val},
                "summary": {"accuracy": {"mean": test, "std": 0.0}}}

    claim = {"what": "accuracy", "paper": "86.6%", "quote": "q", "where": "w", "protocol": "p", "arm": "cnn11",
             "metric": "accuracy", "note": "not the same quantity", "alternatives": ["cnn11_lower_lr"]}
    arms = {"cnn11": arm("cnn11", 0.25, 0.90), "cnn11_lower_lr": arm("cnn11_lower_lr", 0.67, 0.68)}
    assert claim_arm(claim, arms)["name"] == "cnn11_lower_lr"  # better on validation, worse on test
    arms["cnn11"]["selection"]["val_accuracy"] = 0.67
    assert claim_arm(claim, arms)["name"] == "cnn11"  # a tie keeps the claim's own arm
    del arms["cnn11"]
    assert claim_arm(claim, arms)["name"] == "cnn11_lower_lr"  # the only one trained
    assert claim_arm({**claim, "alternatives": []}, arms) is None
    arms["cnn11"] = arm("cnn11", 0.25, 0.90)
    result = {"claims": [claim], "arms": list(arms.values()), "scale": "standard",
              "paper_arms": [{"name": "cnn11"}, {"name": "cnn11_lower_lr"}]}
    assert "| 0.680 (cnn11_lower_lr, accuracy; chosen over cnn11 on validation accuracy, 0.670 vs 0.250)" \
        in claims_table(result)
    del arms["cnn11"]["selection"]  # a result from before selections were recorded: no choice claimed
    assert "| 0.680 (cnn11_lower_lr, accuracy; cnn11 also trained, with no validation accuracy recorded to " \
        "choose by)" in claims_table(result)


def test_a_verdict_from_a_narrower_network_than_the_papers_says_so():
    from emoscope.replication.page import verdict

    claim = {"note": "", "metric": "accuracy", "value": 0.66}
    paper = {"model": "vgg19_bn", "model_kwargs": {"width": 1.0}, "img_size": 48}
    arm = {"epochs": 20, "per_unit": [{"best_epoch": 5, "epochs_run": 20}], "summary": {"accuracy": {"mean": 0.6}},
           "config": {"model": "vgg19_bn", "model_kwargs": {"width": 0.5}, "img_size": 48}}
    assert "the paper's network at x0.5 width (the widest that levels off on this CPU)" in \
        verdict(claim, arm, "standard", paper)
    arm["config"]["model_kwargs"]["width"] = 1.0
    assert "; the paper's network trained to its plateau" in verdict(claim, arm, "standard", paper)
    arm["config"]["model_kwargs"] = {}  # an unset width is the architecture's own, x1: the paper's
    assert "; the paper's network trained to its plateau" in verdict(claim, arm, "standard", paper)
    # a reduction other than width alone (here also a smaller face) is not called the paper's network
    arm["config"] |= {"model_kwargs": {"width": 0.5}, "img_size": 40}
    said = verdict(claim, arm, "standard", paper)
    assert '; a network other than the paper\'s (`vgg19_bn` {"width": 0.5} at 40 px' in said
    assert "the paper's network at" not in said and "the paper's network trained" not in said
    # the same network on smaller faces says so, with both sizes
    arm["config"] |= {"model_kwargs": {"width": 1.0}}
    assert "; the paper's network on 40 px faces (the paper's: 48 px) trained to its plateau" in \
        verdict(claim, arm, "standard", paper)
    # nor is a wider one called narrower
    arm["config"] |= {"model_kwargs": {"width": 2.0}, "img_size": 48}
    said = verdict(claim, arm, "standard", paper)
    assert '; a network other than the paper\'s (`vgg19_bn` {"width": 2.0} at 48 px' in said


@pytest.mark.parametrize(("ours", "said"), [(0.6, "0.060 below the paper's 0.660"),
                                            (0.669, "0.009 above the paper's 0.660"),
                                            (0.6602, "level with the paper's 0.660")])
def test_a_verdict_says_on_which_side_of_the_papers_number_ours_is(ours, said):
    from emoscope.replication.page import verdict

    paper = {"model": "vgg19_bn", "model_kwargs": {"width": 1.0}, "img_size": 48}
    arm = {"epochs": 20, "per_unit": [{"best_epoch": 5, "epochs_run": 20}], "summary": {"accuracy": {"mean": ours}},
           "config": dict(paper)}
    assert verdict({"note": "", "metric": "accuracy", "value": 0.66}, arm, "standard", paper).startswith(
        f"levelled off: ours {ours:.3f} is {said}; ")


@pytest.mark.parametrize("scale", sorted(FOLDERS))
@pytest.mark.parametrize("name", sorted(STUDIES))
def test_no_verdict_from_an_arm_that_had_not_levelled_off(scale, name):
    result = committed_result(scale, name)
    for arm in result["arms"]:  # every planned unit trained: the verdict then rests on the curves alone
        arm["units_planned"] = len(arm["per_unit"])
    trained = {arm["name"] for arm in result["arms"]}
    comparable = [c for c in result["claims"] if not c["note"] and c["arm"] in trained]
    still = copy.deepcopy(result)
    for arm in still["arms"]:
        for unit in arm["per_unit"]:
            unit["best_epoch"] = unit.get("epochs_run", arm["epochs"])
    page = render_page(still)
    assert page.count("no verdict: still improving at its last epoch (best epoch = last)") >= len(comparable)
    assert "levelled off: ours" not in page and "does not hold" not in page
    settled = copy.deepcopy(result)
    for arm in settled["arms"]:
        arm["epochs"] = 20
        for unit in arm["per_unit"]:
            unit["best_epoch"], unit["epochs_run"] = 5, 20
    if comparable:
        assert render_page(settled).count("levelled off: ours") >= len(comparable)
    committed = (FOLDERS[scale] / f"{name}.md").read_text()
    assert "does not hold" not in committed and "How the paper's number could arise" in committed


def test_pages_only_refreshes_the_definitions_and_leaves_every_result_untouched(tmp_path):
    source = COMMITTED / "thesis.json"
    if not source.is_file():
        pytest.skip("no committed thesis.json")
    stale = json.loads(source.read_text())
    stale["claims"] = [{**stale["claims"][0], "paper": "not quoted here"}]
    stale["differences"], stale["pitfalls"] = "- old text", []
    stale["untrained_arms"], stale["paper_arms"] = ["an arm the plan no longer has"], []
    (tmp_path / "thesis.json").write_text(json.dumps(stale))
    done = run_emoscope("replicate", "thesis", "--pages-only", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    fresh, committed = json.loads((tmp_path / "thesis.json").read_text()), json.loads(source.read_text())
    definitions = ("claims", "differences", "pitfalls", "untrained_arms", "paper_arms")
    assert {k: v for k, v in fresh.items() if k not in definitions} == \
        {k: v for k, v in stale.items() if k not in definitions}
    assert all(fresh[k] == committed[k] for k in definitions) and fresh["pitfalls"] and fresh["paper_arms"]
    assert (tmp_path / "thesis.md").read_text() == render_page(fresh)
    assert "69.41%" in (tmp_path / "README.md").read_text()


def test_no_train_without_any_unit_is_one_line(tmp_path):
    done = run_emoscope("replicate", "all", "--scale", "standard", "--no-train", "--work-dir", str(tmp_path),
                        "--out", str(tmp_path / "pages"))
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "no study has a unit trained at scale standard" in done.stderr


def test_pages_only_without_a_result_is_one_line(tmp_path):
    done = run_emoscope("replicate", "panic", "--pages-only", "--out", str(tmp_path))
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "panic.json does not exist" in done.stderr and len(done.stderr.strip().splitlines()) == 1
