"""What a study's run keeps beside its page, so a later session without the work folder (git-ignored ``runs/``)
goes on where the last one stopped: each finished unit's result, an arm's warm start (result and weights), and
which of the page's arms still hold for today's training options."""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Callable
from pathlib import Path

from emoscope.files import atomic_output, sha256_of, write_text_atomic
from emoscope.replication.index import read_result
from emoscope.replication.protocol import WARM_START, Arm, Protocol, Scale, pretrained, unit_config, warm_start_unit


def same_training(kept: dict, config, arm: Arm) -> bool:
    """Whether an earlier arm was trained with the options ``config`` gives its unit now. Where its checkpoints
    went (``out_dir``) is no training option; a warm start of the protocol's own is a path in the earlier work
    folder, so it is compared only where the arm names one."""
    ignored = {"out_dir"} | ({"init_from"} if "init_from" not in arm.train else set())
    kept, now = ({k: v for k, v in options.items() if k not in ignored}
                 for options in (kept, json.loads(config.model_dump_json())))
    return kept == now


UNIT_RECORDS = "units"
"""The folder beside a study's page that keeps each finished unit's result, ``units/<study>/<arm>/<unit>.json``
(committed with the page), and an arm's warm start of the protocol's own: ``<arm>/pretrain.json`` (its result)
and ``<arm>/pretrain.safetensors`` (its best weights, which every unit of the arm starts from). Checkpoints stay
in git-ignored ``runs/``, which a later session may not have: with the records, a unit trained in one session
is not trained again in the next, so a five-fold arm that takes longer than a session is trained a fold at a
time."""


def kept_arm(earlier_arms: dict[str, dict], arm: Arm, protocol: Protocol, study: str, scale: Scale,
             work_dir: Path) -> dict | None:
    """The page's earlier entry for ``arm`` (``earlier_arms``: by name), where it was trained with the options
    its units have now: a run without any of its units keeps it as it was."""
    kept = earlier_arms.get(arm.name)
    return kept if kept is not None and same_training(kept["config"], unit_config(
        arm, protocol, study, scale, kept["per_unit"][0]["unit"], work_dir), arm) else None


def unit_record(records: Path | None, arm: Arm) -> Callable[[str], Path | None]:
    """Where each of ``arm``'s units is recorded under ``records`` (None: nowhere)."""
    if records is None:
        return lambda unit: None
    return lambda unit: records / arm.name / f"{unit}.json"


def recorded_unit(record: Path | None, config, arm: Arm) -> dict | None:
    """A unit's recorded result, where it was trained with the options ``config`` gives it now."""
    if record is None or not record.is_file():
        return None
    kept = read_result(record)
    return kept if same_training(kept.get("config", {}), config, arm) else None


def warm_start_record(records: Path, arm: Arm) -> tuple[Path, Path]:
    """Where ``arm``'s warm start is recorded under ``records``: its result and its weights."""
    return records / arm.name / f"{WARM_START}.json", records / arm.name / f"{WARM_START}.safetensors"


def warm_started(arm: Arm, protocol: Protocol, study: str, scale: Scale, work_dir: Path, records: Path | None,
                 progress=None, train: bool = True) -> tuple[Arm, dict | None]:
    """:func:`~emoscope.replication.protocol.pretrained`, recorded under ``records`` where given: the warm
    start's result and weights (with their SHA-256) are kept beside the page, so a later session without the
    work folder starts the arm's units from the recorded weights instead of training a new warm start, and the
    units recorded from those weights still hold. A recorded warm start made with other training options is
    trained again; one in the work folder is recorded (again, where it differs) and its units start from it."""
    if records is None:
        return pretrained(arm, protocol, study, scale, work_dir, progress, train)
    result_path, weights = warm_start_record(records, arm)
    pre_arm, pre_protocol = warm_start_unit(arm, protocol)
    config = unit_config(pre_arm, pre_protocol, study, scale, WARM_START, work_dir)
    recorded = recorded_unit(result_path, config, pre_arm) if weights.is_file() else None
    _, here = pretrained(arm, protocol, study, scale, work_dir, progress, train=False)
    if here is None and recorded is None:
        _, here = pretrained(arm, protocol, study, scale, work_dir, progress, train)
        if here is None:
            return arm, None
    here_sha256 = sha256_of(here["bundle"]) if here is not None else None
    if here is not None and (recorded is None or recorded["sha256"] != here_sha256):
        weights.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(weights) as temporary:
            shutil.copyfile(here["bundle"], temporary)
        recorded = {**here, "bundle": str(weights), "sha256": here_sha256}
        write_text_atomic(result_path, json.dumps(recorded, indent=1, allow_nan=False))
    # a unit kept in the work folder names the weights it started from there
    start = here["bundle"] if here is not None else str(weights)
    return dataclasses.replace(arm, train={**arm.train, "init_from": start}), {**recorded, "bundle": start}
