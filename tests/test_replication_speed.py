"""`emoscope replicate STUDY --speed`: a plan's arms timed on this machine, and the hours that makes, before
anything is trained."""

from __future__ import annotations

import json

import pytest
import torch

from emoscope.replication import STUDIES
from emoscope.replication.protocol import pretrain_split, splits_of
from emoscope.training.trainer import bf16_supported, processor_name
from helpers import run_emoscope


def test_speed_times_every_arm_and_scales_it_to_the_units_of_its_plan(data_root, tmp_path):
    # hybrid: k-fold units, an ablation on fewer folds and a pitfall whose pool holds augmented copies
    done = run_emoscope("replicate", "hybrid", "--scale", "quick", "--speed", "--work-dir", tmp_path,
                        "--out", tmp_path / "pages")
    assert done.returncode == 0, done.stderr
    assert sorted(path.name for path in tmp_path.rglob("*") if path.is_file()) == ["hybrid-quick.json"]
    result = json.loads((tmp_path / "speed" / "hybrid-quick.json").read_text())
    plan = STUDIES["hybrid"].plan("quick")
    assert [arm["arm"] for arm in result["arms"]] == [arm.name for arm in plan.arms]
    first = splits_of(plan.protocol)[0]
    cpu = torch.device("cpu")
    for timed, arm in zip(result["arms"], plan.arms):
        assert timed["train_images_per_s"] > 0 and timed["inference_images_per_s"] > 0
        precision = "bf16" if bf16_supported(cpu) else "fp32"
        assert (timed["processor"], timed["precision"]) == (processor_name(cpu), precision)
        copies = 1 + arm.copies_before_split
        assert timed["n_train"] == len(first.train) * copies
        assert timed["n_scored"] == (len(first.val) + len(first.test)) * copies  # selection and watched test split
        epoch = timed["n_train"] / timed["train_images_per_s"] + timed["n_scored"] / timed["inference_images_per_s"]
        assert timed["epoch_seconds"] == pytest.approx(epoch)
        assert timed["unit_hours_at_most"] == pytest.approx(arm.train["epochs"] * epoch / 3600)
        assert timed["units"] == (arm.units or plan.protocol.folds)
        assert timed["warm_start_hours_at_most"] == 0  # hybrid's arms train from scratch
        assert timed["arm_hours_at_most"] == pytest.approx(timed["unit_hours_at_most"] * timed["units"])
        assert timed["units_finished"] == 0 and timed["hours_left_at_most"] == pytest.approx(timed["arm_hours_at_most"])
    assert any(arm.copies_before_split for arm in plan.arms) and any(arm.units for arm in plan.arms)
    assert f"written: {tmp_path / 'speed' / 'hybrid-quick.json'}" in done.stdout


def test_speed_of_one_arm_times_that_arm_only(data_root, tmp_path):
    done = run_emoscope("replicate", "thesis", "--scale", "quick", "--speed", "--arm", "resnet34",
                        "--work-dir", tmp_path, "--out", tmp_path / "pages")
    assert done.returncode == 0, done.stderr
    result = json.loads((tmp_path / "speed" / "thesis-quick.json").read_text())
    assert [arm["arm"] for arm in result["arms"]] == ["resnet34"] and result["arms"][0]["units"] == 1


def test_an_arm_trained_from_the_protocols_warm_start_counts_that_training_too(data_root, tmp_path):
    done = run_emoscope("replicate", "panic", "--scale", "quick", "--speed", "--work-dir", tmp_path,
                        "--out", tmp_path / "pages")
    assert done.returncode == 0, done.stderr
    result = json.loads((tmp_path / "speed" / "panic-quick.json").read_text())
    plan = STUDIES["panic"].plan("quick")
    protocol, warm = plan.protocol, pretrain_split(plan.protocol)
    for timed, arm in zip(result["arms"], plan.arms):
        if "init_from" in arm.train:  # started from a shipped model: no warm start of the protocol's to train
            assert timed["warm_start_hours_at_most"] == 0
            continue
        epoch = len(warm.train) / timed["train_images_per_s"] + len(warm.val) / timed["inference_images_per_s"]
        assert timed["warm_start_hours_at_most"] == pytest.approx(protocol.pretrain["epochs"] * epoch / 3600)
        assert timed["arm_hours_at_most"] == pytest.approx(
            timed["unit_hours_at_most"] * timed["units"] + timed["warm_start_hours_at_most"])
        assert timed["hours_left_at_most"] == pytest.approx(timed["arm_hours_at_most"])  # nothing trained yet
    assert [timed["arm"] for timed in result["arms"]] == [arm.name for arm in plan.arms]
    assert any("init_from" in arm.train for arm in plan.arms) and not all("init_from" in arm.train for arm in plan.arms)


def test_a_warm_start_is_left_to_train_only_for_units_left_and_where_it_is_not_recorded(data_root, tmp_path):
    # its units recorded beside the page, its warm start's checkpoint gone from the work folder
    from emoscope.replication.speed import arm_speed

    study = STUDIES["panic"]
    plan = study.plan("quick")
    splits, warm = splits_of(plan.protocol), pretrain_split(plan.protocol)
    arm = next(arm for arm in plan.arms if "init_from" not in arm.train)
    finished = arm_speed(study, "quick", arm, splits, warm, tmp_path, [None] * len(splits))
    assert finished["warm_start_hours_at_most"] > 0 and finished["hours_left_at_most"] == 0
    one_left = arm_speed(study, "quick", arm, splits, warm, tmp_path, [None] * (len(splits) - 1) + [0])
    assert one_left["hours_left_at_most"] == pytest.approx(
        one_left["unit_hours_at_most"] + one_left["warm_start_hours_at_most"])
    records = tmp_path / "records"  # the warm start recorded beside the page: only the unit is left
    (records / arm.name).mkdir(parents=True)
    (records / arm.name / "pretrain.safetensors").write_bytes(b"")
    recorded = arm_speed(study, "quick", arm, splits, warm, tmp_path, [None] * (len(splits) - 1) + [0], records)
    assert recorded["hours_left_at_most"] == pytest.approx(recorded["unit_hours_at_most"])
