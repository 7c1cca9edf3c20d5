"""A study: its claims, its plan at each scale (protocol and arms), and the run that turns the plan into
one JSON result, from which its page is written."""

from __future__ import annotations

import dataclasses
import functools
import json
import platform
from collections.abc import Callable, Collection
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from emoscope.errors import EmoscopeError
from emoscope.files import write_text_atomic
from emoscope.replication.index import read_result, write_index
from emoscope.replication.page import copies_text, render_page
from emoscope.replication.protocol import (
    Arm,
    Protocol,
    Scale,
    Split,
    measure_cost,
    run_unit,
    splits_of,
    unit_config,
)
from emoscope.replication.records import UNIT_RECORDS, kept_arm, recorded_unit, unit_record, warm_started

LEARNED_MARGIN = 0.05
"""An arm has learned when its mean test ROC-AUC is at least this far above chance (0.5) and its mean
macro-F1 is above what uniform guessing scores on the same test labels."""


@dataclass(frozen=True)
class Claim:
    """A number the paper reports, quoted verbatim with where it stands, and where ours is read from (an
    arm and a metric of its summary)."""

    what: str
    paper: str
    protocol: str
    arm: str
    metric: str
    quote: str
    """The paper's own words, verbatim (tests find it in the paper's text)."""
    where: str
    """Where the quote stands: a table, or a section and its sentence."""
    value: float | None = None
    """The claimed number as a fraction, when ours measures the same quantity."""
    note: str = ""
    """Why ours is not the same quantity, when it is not (then the page compares nothing)."""
    alternatives: tuple[str, ...] = ()
    """Arms trained as other settings of ``arm`` (another learning rate, smaller faces): ours is read from
    whichever of them scored best on the split that chose the epoch, never on test."""


@dataclass(frozen=True)
class Pitfall:
    """One concrete way the paper's number could have arisen, what in the paper suggests it, and whether
    our protocol rules it out."""

    how: str
    quote: str
    """The paper's words that suggest it, verbatim ("" when nothing in the text does)."""
    where: str
    ours: str
    speculative: bool = False
    """True when the paper's text does not show it happened, only allows it."""
    yields: str = ""
    """A number the page computes from the result for this way (a key of page.PITFALL_NUMBERS), or ""."""


def copies_pitfall(arm: Arm, epochs: int) -> Arm:
    """``arm``'s training again on folds cut after one augmented copy of every pool face was made, so copies of
    test faces are trained on: a pitfall run, on the first fold only and for at most ``epochs`` (each epoch
    costs twice as much, and a validation part holding copies of training faces rarely stops it)."""
    return dataclasses.replace(arm, name=f"{arm.name}_copies", paper="the pitfall, not the paper's",
                               label=f"{arm.label}, folds cut after making {copies_text(1)} of each face",
                               train={**arm.train, "epochs": epochs}, group="pitfall", units=1,
                               copies_before_split=1, honest=arm.name)


@dataclass(frozen=True)
class Plan:
    protocol: Protocol
    arms: list[Arm]
    note: str = ""
    """What this scale changes from the paper, in a sentence or two."""


@dataclass(frozen=True)
class Study:
    name: str
    title: str
    source: str
    claims: tuple[Claim, ...]
    plan: Callable[[Scale], Plan]
    differences: str
    """Markdown: why our numbers may differ from the paper's (split, data, pretraining, leakage), and what
    can and cannot be said at the scale that ran; never a verdict (the claims table gives those)."""
    pitfalls: tuple[Pitfall, ...] = ()
    extra: Callable[[dict, list[Split], Scale], dict] | None = None
    """Study-specific measurements after training, given the result so far; stored under ``extra``."""
    extra_markdown: Callable[[dict], str] | None = None


def flat_metrics(unit: dict) -> dict[str, float | None]:
    """One unit's headline test metrics under flat names (binary arms add their operating points)."""
    test = unit["test"]
    binary = "binary" in unit
    row = {"accuracy": test["accuracy"], "macro_f1": test["macro_f1"],
           "roc_auc": test["roc_auc"] if binary else test["roc_auc_macro_ovr"]}
    if binary:
        row["pr_auc"] = test["pr_auc"]
        for point in ("default", "chosen"):
            for metric in ("precision", "recall", "f1", "mae"):
                row[f"{point}_{metric}"] = unit["binary"][point][metric]
        row["chosen_threshold"] = unit["binary"]["chosen"]["threshold"]
    return row


def mean_std(values: list[float | None]) -> dict:
    known = np.array([v for v in values if v is not None], dtype=np.float64)
    if not len(known):
        return {"mean": None, "std": None, "n": 0}
    return {"mean": float(known.mean()), "std": float(known.std(ddof=1)) if len(known) > 1 else 0.0,
            "n": int(len(known))}


def chance_levels(confusion: np.ndarray) -> dict:
    """What a model that learned nothing scores on these test labels: always the majority class
    (accuracy), uniform guessing (macro-F1), and 0.5 ROC-AUC."""
    support = confusion.sum(axis=1).astype(np.float64)
    prevalence = support / support.sum()
    k = len(support)
    f1 = 2 * prevalence / k / (prevalence + 1 / k)
    return {"accuracy": float(prevalence.max()), "macro_f1": float(f1.mean()), "roc_auc": 0.5}


def selection_scores(units: list[dict]) -> dict:
    """What the arm would have reported by the selection pitfalls, mean over units: training accuracy at the
    chosen epoch, the accuracy of the split that chose it, and the test accuracy at the epoch the test split
    itself would pick (None where the histories did not record the test split each epoch)."""
    at_best = [u["history"][u["best_epoch"] - 1] for u in units]
    watched = [max(row["watch_accuracy"] for row in u["history"]) for u in units if "watch_accuracy" in u["history"][0]]
    return {"train_accuracy": float(np.mean([row["train_accuracy"] for row in at_best])),
            "val_accuracy": float(np.mean([u["val"]["accuracy"] for u in units])),
            "test_best_epoch": float(np.mean(watched)) if len(watched) == len(units) else None}


def training_hardware(units: list[dict]) -> list[str]:
    """What trained the units' epochs, in words: a long unit may have resumed on another machine, and an
    epoch's time depends on the processor and on whether it ran in bf16 (units from before the history
    recorded it name only their device)."""
    return sorted({f"{row['processor']} ({row['precision']})" if "processor" in row
                   else f"{u.get('device', 'cpu')} (processor not recorded)" for u in units for row in u["history"]})


def summarise_arm(arm: Arm, units: list[dict]) -> dict:
    rows = [flat_metrics(u) for u in units]
    confusion = np.sum([np.array(u["test"]["confusion_matrix"]) for u in units], axis=0)
    classes = units[0]["classes"]
    per_class = {c: {m: mean_std([u["test"]["per_class"][c][m] for u in units])["mean"]
                     for m in ("precision", "recall", "f1")} for c in classes}
    summary = {name: mean_std([r[name] for r in rows]) for name in rows[0]}
    chance = chance_levels(confusion)
    auc, f1 = summary["roc_auc"]["mean"], summary["macro_f1"]["mean"]
    learned = auc is not None and auc >= chance["roc_auc"] + LEARNED_MARGIN and f1 > chance["macro_f1"]
    return {"name": arm.name, "label": arm.label, "paper": arm.paper, "group": arm.group, "classes": classes,
            "summary": summary, "per_unit": [{"unit": u["unit"], "best_epoch": u["best_epoch"],
                                              "epochs_run": len(u["history"]), **r}
                                             for u, r in zip(units, rows, strict=True)],
            "selection": selection_scores(units),
            "per_class": per_class, "confusion": confusion.tolist(), "chance": chance, "learned": learned,
            "train_seconds": float(sum(u["seconds"] for u in units)),
            "devices": sorted({u.get("device", "cpu") for u in units}),
            "hardware": training_hardware(units),
            "train_images_per_s": float(np.median([u["train_images_per_s"] for u in units])),
            "n_train": [u["n_train"] for u in units], "n_test": [u["n_test"] for u in units],
            "epochs": units[0]["epochs"], "config": units[0]["config"],
            **({"copies_before_split": arm.copies_before_split, "honest": arm.honest} if arm.copies_before_split
               else {})}


def paper_cost(arm: Arm) -> dict:
    """Parameters and MFLOPs of the paper's network (the arm at ``full`` scale), without training it."""
    options = arm.train
    size, chans = options.get("img_size", 48), options.get("in_chans", 1)
    kwargs = options.get("model_kwargs", {})
    return {"model": options["model"], "model_kwargs": kwargs, "img_size": size,
            **network_cost(options["model"], json.dumps(kwargs), chans, size)}


@functools.lru_cache(maxsize=64)
def network_cost(architecture: str, kwargs: str, in_chans: int, img_size: int) -> dict:
    """Parameters and MFLOPs of an architecture with these options (JSON) and input: a pure function of
    them, computed once per process (on the meta device it takes up to ~1 s for the hybrid)."""
    from emoscope.models.registry import architecture_cost

    return architecture_cost(architecture, 2, in_chans, img_size, **json.loads(kwargs))


def plot_arm(study: str, scale: str, arm: dict, units: list[dict], selection_split: str,
             images_dir: Path) -> dict[str, str]:
    """The first unit's training curves (validation on ``selection_split``) and the confusion matrix summed over
    units, as PNGs."""
    from emoscope.evaluation.plots import plot_confusion, plot_curves

    stem = f"{study}-{scale}-{arm['name']}"
    curves = plot_curves(units[0]["history"], images_dir / f"{stem}-curves.png",
                         title=f"{arm['label']}: {units[0]['unit']} (validation: {selection_split})")
    confusion = plot_confusion(arm["confusion"], arm["classes"], images_dir / f"{stem}-confusion.png",
                               title=f"{arm['label']}: test, summed over {len(units)} unit(s)")
    return {"curves": f"images/{curves.name}", "confusion": f"images/{confusion.name}"}


def study_metadata(study: Study) -> dict:
    """What a result takes from the study's definitions rather than from training: refreshed into an
    existing result by :func:`refresh_pages`."""
    return {"title": study.title, "source": study.source, "claims": [asdict(claim) for claim in study.claims],
            "differences": study.differences, "pitfalls": [asdict(pitfall) for pitfall in study.pitfalls]}


def plan_metadata(study: Study, scale: Scale, arms: list[dict]) -> dict:
    """What a result takes from the study's plan beside its trained ``arms``: the scale's note, the arms not
    trained yet and the paper's networks (the ``full`` plan). Refreshed too by :func:`refresh_pages`."""
    trained = {arm["name"] for arm in arms}
    plan = study.plan(scale)
    return {"note": plan.note, "untrained_arms": [arm.name for arm in plan.arms if arm.name not in trained],
            "paper_arms": [{"name": arm.name, **paper_cost(arm)} for arm in study.plan("full").arms]}


def refresh_pages(study: Study, out_dir: Path) -> dict:
    """``<out_dir>/<study>.json`` with the study's current claims, differences, pitfalls and plan (its note, the
    arms not trained yet, the paper's networks), and its page and the summary re-rendered from it: no training,
    every measured number left as it was."""
    path = out_dir / f"{study.name}.json"
    if not path.is_file():
        raise EmoscopeError(f"{path} does not exist: run `emoscope replicate {study.name} --scale cpu` first")
    result = read_result(path)
    result |= {**study_metadata(study), **plan_metadata(study, result["scale"], result["arms"])}
    write_text_atomic(path, json.dumps(result, indent=1, allow_nan=False))
    write_text_atomic(out_dir / f"{study.name}.md", render_page(result))
    write_index(out_dir)
    return result


def shipped_warm_start(name: str) -> dict:
    """What the page says of a shipped model an arm starts from, read from its card."""
    from emoscope.evaluation.card import read_card
    from emoscope.runtime.predictor import WEIGHTS_DIR

    card = read_card(WEIGHTS_DIR / f"{name}.card.json")
    return {"shipped": name, "train_data": card.train_data, "selection_split": card.selection["split"],
            "accuracy": card.accuracy, "test_split": card.test_split, "seconds": 0.0}


def earlier_result(path: Path, scale: Scale) -> dict:
    """The page's earlier result at this scale ({} when there is none).

    Checkpoints stay on the machine that trained them (a lent GPU, a session's git-ignored ``runs/``), so a
    later run that trains one arm keeps the others from the committed page rather than dropping them."""
    if not path.is_file():
        return {}
    result = read_result(path)
    return result if result.get("scale") == scale else {}


@dataclass
class UnitBudget:
    """How many units not trained yet a run may still train (None: all of them), so that a session can take a
    share of a long arm: the next run resumes at the first unit left."""

    left: int | None = None

    def allows(self) -> bool:
        return self.left is None or self.left > 0

    def spend(self) -> None:
        if self.left is not None:
            self.left -= 1


def train_arm(study: Study, scale: Scale, arm: Arm, splits: list[Split], work_dir: Path, progress=None,
              say: Callable[[str], None] = print, train: bool = True,
              records: Path | None = None, budget: UnitBudget | None = None) -> tuple[list[dict], dict | None]:
    """One arm's units in order (each resumable), after its warm start where it has one: their results and
    what the page says of the warm start. An arm with ``init_from`` in its options starts from that shipped
    model; any other arm from the protocol's own warm start where the protocol has one. With ``train`` False
    only kept results are read, up to the first missing. ``records``: the study's :data:`UNIT_RECORDS` folder;
    a unit not in ``work_dir`` is read from its record there, and each unit found or trained is recorded, as is
    the arm's warm start (:func:`~emoscope.replication.records.warm_started`).
    ``budget``: the units this run may still train (a warm start's pretraining is not counted)."""
    protocol = study.plan(scale).protocol
    budget = budget or UnitBudget()
    record_of = unit_record(records, arm)
    if arm.copies_before_split:
        splits = splits_of(protocol, arm.copies_before_split)
    warm_start, as_planned, warm_sha256 = None, arm, None
    if "init_from" in arm.train:
        warm_start = shipped_warm_start(arm.train["init_from"])
    elif protocol.pretrain is not None:
        arm, pretrain = warm_started(arm, protocol, study.name, scale, work_dir, records, progress,
                                     train and budget.allows())
        if pretrain is None:
            return [], None
        warm_sha256 = pretrain.get("sha256")  # recorded units hold only for the weights they started from
        warm_start = {key: pretrain[key] for key in ("n_train", "n_val", "epochs", "best_epoch", "seconds",
                                                     "test_split")}
        warm_start["accuracy"] = pretrain["test"]["accuracy"]
        say(f"{study.name}/{arm.name}/pretrain: 7-expression accuracy {warm_start['accuracy']:.4f} "
            f"on the held-out tenth of Training ({warm_start['seconds']:.0f} s)")
    units = []
    for split in splits[: arm.units]:
        record = record_of(split.name)
        unit = run_unit(arm, protocol, split, study.name, scale, work_dir, progress, train=False)
        if unit is None:
            unit = recorded_unit(record, unit_config(arm, protocol, study.name, scale, split.name, work_dir),
                                 as_planned)
            if unit is not None and unit.get("warm_start_sha256") != warm_sha256:
                unit = None
            if unit is not None:
                say(f"{study.name}/{arm.name}/{split.name}: read from {record}")
        if unit is None:
            unit = run_unit(arm, protocol, split, study.name, scale, work_dir, progress, train and budget.allows())
            if unit is None:
                break
            budget.spend()
        if record is not None:
            record.parent.mkdir(parents=True, exist_ok=True)
            kept = {**unit, "warm_start_sha256": warm_sha256} if warm_sha256 else unit
            write_text_atomic(record, json.dumps(kept, indent=1, allow_nan=False))
        units.append(unit)
        say(f"{study.name}/{arm.name}/{split.name}: test accuracy {unit['test']['accuracy']:.4f}, "
            f"macro-F1 {unit['test']['macro_f1']:.4f} ({unit['seconds']:.0f} s)")
    return units, warm_start


def check_arm_names(study: Study, scale: Scale, names: Collection[str] | None) -> None:
    """One clear error for a name in ``names`` (``--arm``) that the plan at ``scale`` has no arm of."""
    arms = [arm.name for arm in study.plan(scale).arms]
    unknown = sorted(set(names or ()) - set(arms))
    if unknown:
        raise EmoscopeError(f"{study.name} at scale {scale} has no arm {unknown[0]!r} (its arms: {', '.join(arms)})")


def run_study(study: Study, scale: Scale, out_dir: Path, work_dir: Path, progress=None,
              say: Callable[[str], None] = print, train: bool = True, only: Collection[str] | None = None,
              new_units: int | None = None) -> dict:
    """Every arm on every unit (each resumable), then ``<out_dir>/<study>.json`` and its page.

    ``train`` False writes the page from the units already trained (say, on a lent GPU): an arm is
    summarised over the units it has, and an arm with none is named on the page as not yet trained.
    ``only``: the arms to train; the others are read as with ``train`` False. ``new_units``: train at most
    this many units not trained yet (arms and folds in order), then write the page from what there is."""
    plan = study.plan(scale)
    check_arm_names(study, scale, only)
    splits = splits_of(plan.protocol)
    say(f"{study.name} at scale {scale}: {len(plan.arms)} arm(s) x {len(splits)} unit(s); "
        f"{plan.protocol.describe()}")
    arms, images_dir = [], out_dir / "images"
    images_dir.mkdir(parents=True, exist_ok=True)
    earlier = earlier_result(out_dir / f"{study.name}.json", scale)
    earlier_arms = {arm["name"]: arm for arm in earlier.get("arms", [])}
    budget = UnitBudget(new_units)
    for arm in plan.arms:
        units, warm_start = train_arm(study, scale, arm, splits, work_dir, progress, say,
                                      train and (only is None or arm.name in only),
                                      out_dir / UNIT_RECORDS / study.name, budget)
        if not units:
            kept = kept_arm(earlier_arms, arm, plan.protocol, study.name, scale, work_dir)
            if kept is not None:
                say(f"{study.name}/{arm.name}: no unit in {work_dir}; kept as it was in {out_dir / study.name}.json")
                arms.append({**kept, "earlier_run": True})
            continue
        summary = summarise_arm(arm, units)
        summary["units_planned"] = len(splits[: arm.units])
        summary["cost"] = measure_cost(units[0]["config"], units[0]["classes"], splits[0].test.images,
                                       64 if scale == "quick" else 512)
        summary["figures"] = plot_arm(study.name, scale, summary, units, plan.protocol.selection_split,
                                      images_dir)
        if warm_start is not None:
            summary["warm_start"] = warm_start
            summary["train_seconds"] += warm_start["seconds"]
        arms.append(summary)
    if all(arm.get("earlier_run") for arm in arms):
        raise EmoscopeError(f"{study.name} at scale {scale}: no arm has a trained unit in {work_dir}")
    result = {
        "study": study.name, "scale": scale,
        "command": f"emoscope replicate {study.name} --scale {scale}",
        "protocol": {"description": plan.protocol.describe(), **plan.protocol.__dict__},
        **study_metadata(study), **plan_metadata(study, scale, arms),
        "learned_margin": LEARNED_MARGIN, "arms": arms,
        "machine": {"cpu_threads": arms[0]["cost"]["threads"] if arms else None,
                    # an arm kept from an earlier run keeps the faces/s timed there, maybe on another machine
                    "processors": sorted({arm["cost"].get("processor", "an unrecorded CPU") for arm in arms}),
                    "python": platform.python_version()},
    }
    extra = study.extra(result, splits, scale) if study.extra is not None else None
    if extra is not None and isinstance(extra.get("arms"), dict):
        # per-arm extras need the first unit's model: an arm whose first unit is not here keeps its earlier entry
        names = {arm["name"] for arm in arms}
        extra["arms"] |= {name: entry for name, entry in earlier.get("extra", {}).get("arms", {}).items()
                          if name in names and name not in extra["arms"]}
    if extra is not None:  # an extra that needs a model not on this machine (the thesis's photos) keeps its value
        result["extra"] = {**earlier.get("extra", {}), **extra}
    write_text_atomic(out_dir / f"{study.name}.json", json.dumps(result, indent=1, allow_nan=False))
    write_text_atomic(out_dir / f"{study.name}.md", render_page(result))
    write_index(out_dir)
    return result

