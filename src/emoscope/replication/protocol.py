"""The pieces every study's protocol is built from: arms (the models a study compares), the data
protocol (k-fold over a pool, or FER2013's train / PublicTest / PrivateTest holdout), and one resumable
unit of work per arm and fold: train, then evaluate on data the run never selected on.

Within a k-fold unit the model is selected (best epoch, decision threshold) on an inner validation
split of the training folds, never on the held-out fold, so the fold's score is a test score.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from emoscope.data.imageset import ImageSet
from emoscope.errors import DataError, EmoscopeError
from emoscope.files import atomic_output, write_text_atomic
from emoscope.training.config import TrainConfig

Scale = Literal["quick", "cpu", "standard", "full"]
SCALES: tuple[Scale, ...] = ("quick", "cpu", "standard", "full")
"""``quick``: a smoke run; ``cpu``: reduced networks, a few epochs, this machine in a few hours; ``standard``: the
papers' networks at their width, input size and loss, trained until validation stops improving (early stopping);
``full``: the papers' own protocols and epoch counts."""
EARLY_STOPPING = 6
"""``standard`` scale: epochs without a better validation score before a run stops (longer than the plateau
scheduler's 3, so a rate cut gets its chance)."""
TEST_PROBABILITIES = "test_proba.npy"
"""Beside a unit's ``unit.json``: its test probabilities, so a study's per-group evaluation needs no weights
(a unit trained on a lent GPU comes back without them)."""
PANIC_OPTIONS = ("class_weights", "monitor", "panic_classes")
"""Options of a binary arm that its 7-expression warm start does not take."""
TARGET_RECALL = 0.9
"""The recall the binary arms' decision threshold is chosen for, on the inner validation split."""
QUICK_POOL = 100
"""``quick`` scale: the stratified images a k-fold pool (or a warm start's Training) is cut to. A smoke run
goes through every step of a protocol; its numbers measure nothing."""
QUICK_HOLDOUT = {"train_limit": 150, "val_limit": 50, "test_limit": 150}
"""``quick`` scale: the stratified subsets of Training, PublicTest and PrivateTest a holdout is cut to
(150 test faces keep 50 per lighting tercile for the interview study's per-group evaluation)."""


@dataclass(frozen=True)
class Arm:
    """One model a study compares: its name on the page, what it is at this scale, what the paper
    trained, and the training options (:class:`TrainConfig` fields) that build it."""

    name: str
    label: str
    paper: str
    train: dict
    group: str = "main"
    """``main`` for the compared models, ``ablation`` for a study's ablations (own table)."""
    units: int | None = None
    """Run only the first N units (folds): a cheaper ablation at ``cpu`` scale, stated on the page."""
    copies_before_split: int = 0
    """A pitfall run (group ``pitfall``): every pool image and this many augmented copies of it, made before
    the folds are cut, so copies of a test face are trained on. Never the honest protocol."""
    honest: str = ""
    """A pitfall run's honest counterpart: the main arm trained with the same options on the clean folds."""


@dataclass(frozen=True)
class Protocol:
    """How a study's data is divided.

    ``kfold``: stratified ``folds``-fold CV over ``pool_splits`` of ``dataset`` (a stratified
    ``pool_limit`` subset where given); each unit trains on its training folds minus ``inner_val`` and
    is tested on its held-out fold. ``holdout``: train on ``train`` (``train_limit`` subset), select on
    ``val``, test on ``test``: FER2013's Training / PublicTest / PrivateTest.
    """

    kind: Literal["kfold", "holdout"]
    label_set: str = "fer2013"
    dataset: str = "fer2013"
    folds: int = 0
    pool_splits: tuple[str, ...] = ("train", "val", "test")
    pool_limit: int | None = None
    inner_val: float = 0.1
    train_limit: int | None = None
    val_limit: int | None = None
    test_limit: int | None = None
    """A stratified subset of the test split: for smoke runs only (the page says so)."""
    pretrain: dict | None = None
    """Training options of a warm start made once per arm: the 7 expressions on FER2013 Training (epoch
    chosen on a held-out tenth of it). Only for a k-fold pool without Training, so no fold's test image
    was seen by the warm start."""
    seed: int = 0

    def __post_init__(self) -> None:
        if self.pretrain is not None and "train" in self.pool_splits:
            raise ValueError("a warm start from FER2013 Training needs a pool without Training")

    @property
    def selection_split(self) -> str:
        """The split the epoch is chosen on, as a page names it."""
        return "inner validation" if self.kind == "kfold" else "PublicTest"

    def describe(self) -> str:
        if self.kind == "kfold":
            pool = f"a stratified {self.pool_limit:,}-image subset of" if self.pool_limit else "all of"
            stop = (f"up to {self.pretrain['epochs']} epochs, stopped after {self.pretrain['early_stopping']} without "
                    f"improvement" if self.pretrain and self.pretrain.get("early_stopping")
                    else f"{self.pretrain['epochs']} epochs" if self.pretrain else "")
            warm = (f"; every arm starts from its own 7-expression model trained on {self.dataset} Training "
                    f"({stop}, epoch chosen on a held-out tenth of Training), which "
                    f"never saw a pool image" if self.pretrain else "")
            return (f"stratified {self.folds}-fold cross-validation over {pool} {self.dataset} "
                    f"({' + '.join(self.pool_splits)}), label set `{self.label_set}`; in each fold "
                    f"{self.inner_val:.0%} of the training folds is held back to choose the epoch"
                    f" (and a binary model's threshold), and the held-out fold is only tested on{warm}")
        limit = f"a stratified {self.train_limit:,}-image subset of " if self.train_limit else ""
        test = f" ({self.test_limit:,} images)" if self.test_limit else ""
        return (f"train on {limit}{self.dataset} Training, choose the epoch on {self.selection_split}"
                f"{f' ({self.val_limit:,} images)' if self.val_limit else ''}, test on PrivateTest{test}; label set "
                f"`{self.label_set}`")


@dataclass(frozen=True)
class Split:
    """The three image sets of one unit."""

    name: str
    train: ImageSet
    val: ImageSet
    test: ImageSet
    test_split: str


def _relabelled(protocol: Protocol, split: str | None) -> ImageSet:
    from emoscope.data import load_dataset
    from emoscope.training.datamodule import relabel

    return relabel(load_dataset(protocol.dataset, split=split), protocol.label_set)


def concatenate(sets: list[ImageSet], source: str) -> ImageSet:
    """One image set of several splits; ``meta["rows"]`` (the source rows) is kept where every split has it."""
    if len({s.label_set.classes for s in sets}) != 1:
        raise DataError(f"{source}: the splits have different label sets")
    meta = {"rows": np.concatenate([s.meta["rows"] for s in sets])} if all("rows" in s.meta for s in sets) else {}
    return ImageSet(np.concatenate([s.images for s in sets]), np.concatenate([s.labels for s in sets]),
                    sets[0].label_set, source, meta=meta)


def _limited(images: ImageSet, limit: int | None, seed: int) -> ImageSet:
    """A stratified ``limit``-image subset of ``images``, or all of them."""
    from emoscope.data import limit_per_split

    return limit_per_split(images, limit, seed=seed) if limit and limit < len(images) else images


def augmented_copies(images: ImageSet, copies: int, seed: int) -> ImageSet:
    """``images`` followed by ``copies`` augmented copies of each (flip, rotation, zoom, shift: the
    training augmentation's geometry), as a dataset augmented once and saved would hold them. A copy keeps
    its original's row in ``meta["rows"]``."""
    import torch

    from emoscope.training.augment import RandomAffine

    generator = torch.Generator().manual_seed(seed)
    geometry = RandomAffine(rotate=10.0, scale=0.1, shift=0.1, hflip=0.5)
    pixels = torch.from_numpy(images.images).float().div(255).unsqueeze(1)  # (N, 1, H, W)
    made = [geometry(pixels, generator).squeeze(1).mul(255).round().to(torch.uint8).numpy() for _ in range(copies)]
    meta = {"rows": np.tile(images.meta["rows"], copies + 1)} if "rows" in images.meta else {}
    return ImageSet(np.concatenate([images.images, *made]), np.tile(images.labels, copies + 1), images.label_set,
                    f"{images.source} and augmented copies of it ({copies} of each image)", meta=meta)


def splits_of(protocol: Protocol, copies_before_split: int = 0) -> list[Split]:
    """The units of ``protocol``: one per fold, or the one holdout split. ``copies_before_split``: the
    pitfall of :attr:`Arm.copies_before_split` (k-fold only)."""
    from emoscope.data import stratified_kfold, stratified_sample, stratified_split

    if protocol.kind == "holdout":
        train, val, test = (_limited(_relabelled(protocol, split), limit, protocol.seed) for split, limit in
                            (("train", protocol.train_limit), ("val", protocol.val_limit),
                             ("test", protocol.test_limit)))
        return [Split("holdout", train, val, test, f"{protocol.dataset}:test")]
    parts = [_relabelled(protocol, split) for split in protocol.pool_splits]
    pool = concatenate(parts, f"{protocol.dataset} [{'+'.join(protocol.pool_splits)}]")
    if protocol.pool_limit and protocol.pool_limit < len(pool):
        pool = pool.subset(stratified_sample(pool.labels, protocol.pool_limit, seed=protocol.seed))
    if copies_before_split:
        pool = augmented_copies(pool, copies_before_split, protocol.seed)
    units = []
    for fold, (train_idx, test_idx) in enumerate(stratified_kfold(pool.labels, protocol.folds, seed=protocol.seed), 1):
        rest = pool.subset(train_idx)
        fit_idx, val_idx = stratified_split(rest.labels, protocol.inner_val, seed=protocol.seed + fold)
        units.append(Split(f"fold{fold}", rest.subset(fit_idx), rest.subset(val_idx), pool.subset(test_idx),
                           f"held-out fold {fold}"))
    return units


WARM_START = "pretrain"
"""The unit name of an arm's warm start of the protocol's own (its run folder in the work folder; beside the page,
``pretrain.json`` and ``pretrain.safetensors`` record it)."""


def pretrain_split(protocol: Protocol) -> Split:
    """Training (``limit`` images of it where the warm-start options say) divided 90/10 for a warm start:
    the tenth chooses its epoch and is its test."""
    from emoscope.data import stratified_split

    training = _limited(_relabelled(dataclasses.replace(protocol, label_set="fer2013"), "train"),
                        protocol.pretrain.get("limit"), protocol.seed)
    fit_idx, val_idx = stratified_split(training.labels, 0.1, seed=protocol.seed)
    val = training.subset(val_idx)
    return Split(WARM_START, training.subset(fit_idx), val, val, f"{protocol.dataset}:train (held-out tenth)")


def warm_start_unit(arm: Arm, protocol: Protocol) -> tuple[Arm, Protocol]:
    """What trains ``arm``'s warm start: the same network on the 7 expressions, with the warm-start options."""
    options = {key: value for key, value in arm.train.items() if key not in PANIC_OPTIONS}
    return (dataclasses.replace(arm, train={**options, **protocol.pretrain}),
            dataclasses.replace(protocol, label_set="fer2013", pretrain=None))


def pretrained(arm: Arm, protocol: Protocol, study: str, scale: str, work_dir: Path, progress=None,
               train: bool = True) -> tuple[Arm, dict | None]:
    """The arm started from its warm-start model (trained first if not yet done, unless ``train`` is False),
    and that run's result (None when it is not trained)."""
    pre_arm, pre_protocol = warm_start_unit(arm, protocol)
    unit = run_unit(pre_arm, pre_protocol, pretrain_split(protocol), study, scale, work_dir, progress, train)
    if unit is None:
        return arm, None
    return dataclasses.replace(arm, train={**arm.train, "init_from": unit["bundle"]}), unit


def unit_config(arm: Arm, protocol: Protocol, study: str, scale: str, unit: str, work_dir: Path) -> TrainConfig:
    options = {"label_set": protocol.label_set, "seed": protocol.seed, **arm.train, "out_dir": str(work_dir),
               "dataset": protocol.dataset}
    checked = _validated(json.dumps(options), f"study {study}, arm {arm.name}")
    return checked.model_copy(update={"name": f"{study}/{scale}/{arm.name}/{unit}"}, deep=True)


@functools.lru_cache(maxsize=64)
def _validated(options: str, source: str) -> TrainConfig:
    """Training options (JSON) checked once per process: the check builds the model on the meta device
    (~0.3 s at ``quick`` widths), and the units of an arm, and a second run of it, differ only in their
    names."""
    return TrainConfig.validated(json.loads(options), source=source)


def binary_points(y_val: np.ndarray, p_val: np.ndarray, y_test: np.ndarray, p_test: np.ndarray) -> dict:
    """A binary arm's test metrics at the default 0.5 and at the threshold the validation split chose
    for :data:`TARGET_RECALL`."""
    from emoscope.jobs.panic import binary_metrics_at, choose_threshold

    threshold = choose_threshold(y_val, p_val, TARGET_RECALL)
    return {"target_recall": TARGET_RECALL, "default": binary_metrics_at(y_test, p_test, 0.5),
            "chosen": {**binary_metrics_at(y_test, p_test, threshold),
                       "val_recall": binary_metrics_at(y_val, p_val, threshold)["recall"]}}


def run_unit(arm: Arm, protocol: Protocol, split: Split, study: str, scale: str, work_dir: Path,
             progress=None, train: bool = True) -> dict | None:
    """Train ``arm`` on one split (resuming its checkpoint), then test it; the result is kept in
    ``<run dir>/unit.json`` and reused while the training options are unchanged. With ``train`` False, only a
    kept result is read (None when there is none).

    The test split is also scored after every epoch (``watch_*`` in the history), for the record only: the
    pages show what choosing the epoch on it would have reported."""
    from emoscope.evaluation.metrics import classification_metrics, undefined_as_none
    from emoscope.training.trainer import CHECKPOINT, Trainer

    cfg = unit_config(arm, protocol, study, scale, split.name, work_dir)
    result_path = cfg.run_dir / "unit.json"
    options = json.loads(cfg.model_dump_json())
    if result_path.is_file():
        kept = json.loads(result_path.read_text())
        if kept.get("config") == options:
            return kept
        raise EmoscopeError(f"{result_path}: made with other training options; remove {cfg.run_dir} to redo it")
    if not train:
        return None
    start = time.perf_counter()
    trainer = Trainer(cfg, split.train, split.val, progress=progress,
                      watch=split.test if split.test is not split.val else None)
    fit = trainer.fit(resume=(cfg.run_dir / CHECKPOINT).exists())
    history = fit.history  # every epoch, also those before a resume
    predictor = trained_predictor(fit.best_bundle)
    classes = list(predictor.classes)
    p_test = predictor.predict_proba(split.test.images)
    test = classification_metrics(split.test.labels, p_test, classes)
    with atomic_output(cfg.run_dir / TEST_PROBABILITIES) as temporary, temporary.open("wb") as file:
        np.save(file, p_test.astype(np.float32))
    data = {"arm": arm.name, "unit": split.name, "config": options, "classes": classes,
            "n_train": len(split.train), "n_val": len(split.val), "n_test": len(split.test),
            "test_split": split.test_split, "best_epoch": fit.best_epoch, "epochs": cfg.epochs,
            # a resumed unit's own time covers only its last part; its history times every epoch
            "seconds": max(time.perf_counter() - start, sum(row.get("epoch_seconds", 0.0) for row in history)),
            # the page says which units a lent GPU trained
            "device": trainer.processor if trainer.device.type == "cuda" else "cpu", "history": history,
            "train_images_per_s": float(np.median([row["train_images_per_s"] for row in history])),
            "val": {k: fit.best_metrics[k] for k in ("accuracy", "macro_f1")}, "test": test,
            "bundle": str(fit.best_bundle)}
    if len(classes) == 2:
        p_val = predictor.predict_proba(split.val.images)[:, 1]
        data["binary"] = binary_points(split.val.labels, p_val, split.test.labels, p_test[:, 1])
    data = undefined_as_none(data)
    write_text_atomic(result_path, json.dumps(data, indent=1, allow_nan=False))
    return data


def trained_predictor(bundle: str | Path):
    """The torch predictor of a trained bundle. A study reads an arm's first bundle up to twice (its test
    predictions, a study's extra measurements), so the last two stay loaded while the file is unchanged."""
    path = Path(bundle).resolve()
    stat = path.stat()
    return _loaded_predictor(path, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=2)
def _loaded_predictor(path: Path, mtime_ns: int, size: int):
    from emoscope.runtime.predictor import load_predictor

    return load_predictor(path, backend="torch")


def trained_bundle(arm: dict) -> Path:
    """The model bundle of an arm's first unit, from the training options its summary keeps."""
    from emoscope.training.trainer import BEST_BUNDLE

    return Path(arm["config"]["out_dir"]) / arm["config"]["name"] / BEST_BUNDLE


def first_unit_here(arm: dict) -> bool:
    """Whether the arm's first unit's test probabilities or model are on this machine (not so for an arm kept
    from an earlier page, nor for a unit read from its record)."""
    bundle = trained_bundle(arm)
    return (bundle.parent / TEST_PROBABILITIES).is_file() or bundle.is_file()


def first_unit_test_probabilities(arm: dict, images: np.ndarray) -> np.ndarray:
    """The test probabilities of an arm's first unit: saved when it was trained, else predicted again from its
    bundle (a run made before they were saved)."""
    saved = trained_bundle(arm).parent / TEST_PROBABILITIES
    if saved.is_file():
        return np.load(saved, allow_pickle=False)
    return trained_predictor(trained_bundle(arm)).predict_proba(images)


def measure_cost(config: dict, classes: list[str], images: np.ndarray, count: int = 512) -> dict:
    """Parameters, MFLOPs and CPU faces/s (torch, batch 256, after a warm-up batch of the same size: a first
    batch of a new size sets up its kernels) of the arm's architecture as trained, timed on ``count`` faces.
    The network is built afresh from its training options: the time does not depend on the weights, and an
    arm trained on a lent GPU comes back without them."""
    import torch

    from emoscope.models.registry import count_mflops, count_params, create_model
    from emoscope.runtime.predictor import TorchPredictor
    from emoscope.runtime.spec import ModelSpec
    from emoscope.training.trainer import processor_name

    spec = ModelSpec(name=config["name"], architecture=config["model"], arch_kwargs=config["model_kwargs"],
                     label_set=config["label_set"], classes=classes, in_chans=config["in_chans"],
                     img_size=config["img_size"], mean=config["mean"], std=config["std"])
    model = create_model(spec.architecture, num_classes=len(classes), in_chans=spec.in_chans,
                         img_size=spec.img_size, **spec.arch_kwargs)
    predictor = TorchPredictor(model, spec, source="untrained")
    sample = np.resize(images, (count, *images.shape[1:]))
    with torch.inference_mode():
        predictor.predict_proba(sample[:256])
        start = time.perf_counter()
        predictor.predict_proba(sample)
        seconds = time.perf_counter() - start
    return {"params": count_params(model), "mflops": count_mflops(model, spec.in_chans, spec.img_size),
            "faces_per_s": len(sample) / seconds, "threads": torch.get_num_threads(),
            "processor": processor_name(torch.device("cpu"))}
