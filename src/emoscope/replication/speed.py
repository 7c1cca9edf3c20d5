"""How long each arm of a study's plan would train on this machine, timed before it is trained.

A scale is only useful if its arms can finish: this times each arm's own training step (its augmentation,
precision and memory format, as its units train) on a few batches of its first unit's training faces, then
scales the time to a unit's sets and to the most epochs the arm may run, and to the protocol's own warm start
where the arm is trained from one. Early stopping may end either sooner. What is left counts the units finished
(kept in the work folder, recorded beside the page or shown on it) and the epochs a checkpoint has trained."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Callable, Collection

import numpy as np
import torch

from emoscope.replication.protocol import WARM_START, Arm, Split, pretrain_split, splits_of, unit_config
from emoscope.replication.records import UNIT_RECORDS, kept_arm, recorded_unit, unit_record, warm_start_record
from emoscope.replication.study import Study, check_arm_names, earlier_result

TIMED_BATCHES = 4
"""Batches in the timed epoch (after a warm-up epoch of as many): enough to steady a CPU's speed, few enough
that the widest network is timed in minutes."""


def epochs_trained(config) -> int | None:
    """None when the run of ``config`` (a unit or a warm start) is finished, else the epochs it has trained."""
    if (config.run_dir / "unit.json").is_file():
        return None
    history = config.run_dir / "history.json"
    return len(json.loads(history.read_text())) if history.is_file() else 0


def arm_progress(study: Study, scale: str, arm: Arm, splits: list[Split], work_dir: Path, records: Path | None,
                 earlier_arms: dict[str, dict]) -> list[int | None]:
    """Per unit of ``arm``: None where it is finished, else the epochs its checkpoint in ``work_dir`` has
    trained. Finished: its result kept in ``work_dir``, or, with the options it has now, recorded under
    ``records`` (the study's folder of unit records) or (where none of the arm's units is found) shown on the
    page (``earlier_arms``: its arms by name), as a run keeps it."""
    protocol = study.plan(scale).protocol
    record_of = unit_record(records, arm)
    progress = []
    for split in splits[: arm.units]:
        config = unit_config(arm, protocol, study.name, scale, split.name, work_dir)
        progress.append(None if recorded_unit(record_of(split.name), config, arm) else epochs_trained(config))
    if None not in progress and (kept := kept_arm(earlier_arms, arm, protocol, study.name, scale, work_dir)):
        progress[: len(kept["per_unit"])] = [None] * len(kept["per_unit"])
    return progress


def arm_speed(study: Study, scale: str, arm: Arm, splits: list[Split], warm_start: Split | None, work_dir: Path,
              progress: list[int | None], records: Path | None = None, batches: int = TIMED_BATCHES) -> dict:
    """One arm's measured speeds and what they make of an epoch, a unit, the protocol's warm start
    (``warm_start``: its split, where it has one) and the arm, and of what is left of them (``progress``: the
    arm's :func:`arm_progress` in ``work_dir``, where its warm start's checkpoint is read too, unless it is
    recorded under ``records``); hours at most."""
    from emoscope.models.registry import count_params
    from emoscope.training.trainer import Trainer

    first, protocol = splits[0], study.plan(scale).protocol
    with tempfile.TemporaryDirectory(prefix="emoscope-speed-") as scratch:
        config = unit_config(arm, protocol, study.name, scale, "speed", Path(scratch))
        timed = np.arange(min(len(first.train), batches * config.batch_size))
        trainer = Trainer(config, first.train.subset(timed), first.val.subset(timed[: len(first.val)]))
        measured = trainer.speed()
        params = count_params(trainer.model)
    # a pitfall arm's pool holds its augmented copies too; every epoch scores the selection and the test split
    copies = 1 + arm.copies_before_split
    n_train, n_scored = len(first.train) * copies, (len(first.val) + len(first.test)) * copies
    epoch_seconds = n_train / measured["train_images_per_s"] + n_scored / measured["inference_images_per_s"]
    units = len(splits[: arm.units])
    unit_hours = config.epochs * epoch_seconds / 3600
    left = sum(config.epochs - trained for trained in progress if trained is not None) * epoch_seconds / 3600
    warm_hours = 0.0
    if warm_start is not None and "init_from" not in arm.train:  # a shipped start needs no training
        # the same network on 7 classes; its held-out tenth chooses the epoch and is its test, scored once an epoch
        warm_epoch = (len(warm_start.train) / measured["train_images_per_s"]
                      + len(warm_start.val) / measured["inference_images_per_s"])
        warm_hours = protocol.pretrain["epochs"] * warm_epoch / 3600
        warm_trained = epochs_trained(unit_config(arm, protocol, study.name, scale, WARM_START, work_dir))
        recorded = records is not None and warm_start_record(records, arm)[1].is_file()
        if warm_trained is not None and not recorded and progress.count(None) < units:  # finished units need none
            left += (protocol.pretrain["epochs"] - warm_trained) * warm_epoch / 3600
    return {"arm": arm.name, "label": arm.label, "group": arm.group, "params": params, **measured,
            "n_train": n_train, "n_scored": n_scored, "epoch_seconds": epoch_seconds, "epochs_at_most": config.epochs,
            "unit_hours_at_most": unit_hours, "units": units, "warm_start_hours_at_most": warm_hours,
            "arm_hours_at_most": unit_hours * units + warm_hours, "units_finished": progress.count(None),
            "hours_left_at_most": left}


def plan_speed(study: Study, scale: str, work_dir: Path, pages: Path | None = None,
               only: Collection[str] | None = None, say: Callable[[str], None] = print) -> dict:
    """Every arm of ``study``'s plan at ``scale`` (or those in ``only``), timed on this machine, with what is
    left of it in ``work_dir`` and beside the study's page in ``pages`` (its unit records and its arms)."""
    plan = study.plan(scale)
    check_arm_names(study, scale, only)
    splits = splits_of(plan.protocol)
    warm_start = pretrain_split(plan.protocol) if plan.protocol.pretrain is not None else None
    records = pages / UNIT_RECORDS / study.name if pages else None
    earlier = earlier_result(pages / f"{study.name}.json", scale) if pages else {}
    earlier_arms = {arm["name"]: arm for arm in earlier.get("arms", [])}
    arms = []
    for arm in plan.arms:
        if only and arm.name not in only:
            continue
        progress = arm_progress(study, scale, arm, splits, work_dir, records, earlier_arms)
        arms.append(arm_speed(study, scale, arm, splits, warm_start, work_dir, progress, records))
        say(f"{study.name}/{arm.name}: {arms[-1]['train_images_per_s']:.0f} training images/s, "
            f"{arms[-1]['unit_hours_at_most']:.1f} h a unit, {arms[-1]['hours_left_at_most']:.1f} h left at most")
    return {"study": study.name, "scale": scale, "command": f"emoscope replicate {study.name} --scale {scale} --speed",
            "timed_batches": TIMED_BATCHES, "threads": torch.get_num_threads(), "arms": arms}
