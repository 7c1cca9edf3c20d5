"""Model cards: a weights bundle plus an ``emoscope evaluate`` report -> ``<name>.md`` for people and
``<name>.card.json`` for programs, written next to the weights with the confusion matrix as a PNG.

The card repeats nothing by hand: data, split, recipe and training command come from the bundle's
spec (and, when given, the training config file), the numbers from the evaluation report, and
parameters and MFLOPs from the model itself. Only the known weaknesses are the author's words.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, Field

from emoscope.data.pack import PACK_SUFFIX
from emoscope.errors import EmoscopeError
from emoscope.files import read_json_output, write_text_atomic
from emoscope.runtime.bundle import bundle_files, load_bundle, read_tensors
from emoscope.runtime.config_file import read_config_file

REPORT_KEYS = ("model", "dataset", "split", "accuracy", "macro_f1", "per_class", "confusion_matrix")


class ClassRow(BaseModel):
    name: str
    recall: float
    precision: float
    f1: float
    support: int


PREDICTIONS_HELP = ("the predicted class of each test image in the split's order, one base-36 digit each "
                    "(evaluation.evaluate.encode_predictions): the numbers follow from them, and a sample of them "
                    "re-checks the weights cheaply")


class TtaResult(BaseModel):
    accuracy: float
    macro_f1: float
    predictions: str = Field("", description=PREDICTIONS_HELP)


class Int8Result(BaseModel):
    """The shipped int8 copy of a model (`emoscope quantize`, :mod:`emoscope.evaluation.int8`)."""

    file: str
    accuracy: float = Field(description="on the card's test split, single view")
    macro_f1: float
    on_selection_split: dict = Field(description="int8 and fp32 accuracy on the split that decided to keep it")
    quantisation: str
    command: str
    predictions: str = Field("", description=PREDICTIONS_HELP)


class SplitResult(BaseModel):
    split: str
    images: int
    accuracy: float
    macro_f1: float


class ModelCard(BaseModel):
    """What a model is, how it was made and how well it does on a named split."""

    name: str
    architecture: str
    weights_file: str
    weights_bytes: int
    weights_dtype: str
    params: int
    mflops: float
    input: str = Field(description="channels x height x width, and the normalisation")
    classes: list[str]
    train_data: str
    selection: dict = Field(description="the split the epoch was chosen on, and its metrics")
    recipe: dict = Field(description="the training config, or the spec's architecture options")
    reproduce_command: str = Field("", description="one command that runs every step, when there is one")
    train_command: str
    evaluation_command: str
    test_split: str
    test_dataset: str
    test_images: int
    accuracy: float
    macro_f1: float
    per_class: list[ClassRow]
    predictions: str = Field("", description=PREDICTIONS_HELP)
    tta: dict[str, TtaResult] = Field(default_factory=dict, description="the same split with test-time augmentation")
    on_selection_split: SplitResult | None = Field(
        None, description="the shipped model on the split its epoch was chosen on (single view): comparable "
        "with results published on that split, but not a clean test number")
    target: str = Field("", description="the goal the model was trained for")
    int8: Int8Result | None = Field(None, description="the int8 copy `backend fastest` loads, where one is shipped")
    confusion_png: str
    weaknesses: list[str]

    @property
    def best_tta(self) -> tuple[str, TtaResult] | None:
        return max(self.tta.items(), key=lambda item: item[1].accuracy, default=None)


def read_report(path: str | Path) -> dict:
    """An ``emoscope evaluate`` JSON report, checked for the fields a card needs."""
    return read_json_output(path, "evaluation report", "emoscope evaluate", REPORT_KEYS)


def _recipe(config: str | Path | None, fallback: dict) -> dict:
    # The options as written in the file (not every default), read by the same loader as training.
    return fallback if config is None else read_config_file(config)


def _tta_results(report: dict, tta_reports: list[dict]) -> dict[str, TtaResult]:
    """Accuracy and macro-F1 of reports that differ from ``report`` only in their test-time augmentation."""
    results = {}
    for other in tta_reports:
        same = all(other.get(key) == report.get(key) for key in ("model", "split", "n")) \
            and list(other["per_class"]) == list(report["per_class"])
        if not same or other.get("tta", "none") == "none":
            raise EmoscopeError(f"a --tta-report must evaluate {report['model']} on {report['split']} "
                                f"with test-time augmentation (got {other['model']} on {other['split']}, "
                                f"tta {other.get('tta', 'none')})")
        results[other["tta"]] = TtaResult(accuracy=other["accuracy"], macro_f1=other["macro_f1"],
                                          predictions=other.get("predictions", ""))
    return results


def _same_split(evaluated: str | None, chosen_on: str) -> bool:
    """Whether an evaluation's split is the one an epoch was chosen on. A model trained from a pack
    (``emoscope pack DATASET``) was chosen on the pack's copy of the split of the same name."""
    if evaluated == chosen_on:
        return True
    source, _, split = chosen_on.rpartition(":")
    return source.endswith(PACK_SUFFIX) and str(evaluated).rpartition(":")[2] == split


def _selection_result(report: dict, selection_report: dict | None, selection: dict) -> SplitResult | None:
    """The selection split's single-view numbers, from a report of the same model on that split."""
    if selection_report is None:
        return None
    chosen_on = str(selection.get("split"))
    if (selection_report.get("model") != report.get("model") or not _same_split(selection_report.get("split"), chosen_on)
            or selection_report.get("tta", "none") != "none"):
        raise EmoscopeError(f"a --selection-report must evaluate {report['model']} on its selection split "
                            f"{chosen_on} in a single view (got {selection_report['model']} on "
                            f"{selection_report['split']}, tta {selection_report.get('tta', 'none')})")
    return SplitResult(split=selection_report["split"], images=int(selection_report.get("n", 0)),
                       accuracy=selection_report["accuracy"], macro_f1=selection_report["macro_f1"])


def build_card(bundle: str | Path, report: dict, config: str | Path | None = None,
               weaknesses: list[str] | tuple[str, ...] = (), reproduce: str = "",
               tta_reports: list[dict] | tuple[dict, ...] = (), target: str = "",
               selection_report: dict | None = None) -> ModelCard:
    from emoscope.models.registry import count_mflops, count_params

    bundle = Path(bundle)
    model, spec = load_bundle(bundle)
    if list(report["per_class"]) != spec.classes:
        raise EmoscopeError(f"the report's classes ({', '.join(report['per_class'])}) are not {bundle.name}'s "
                            f"({', '.join(spec.classes)}): was it made with this model?")
    # The float storage type (fp32 or fp16) is what matters; batch norm's int64 counters are not weights.
    dtypes = sorted({str(t.dtype).removeprefix("torch.")
                     for t in read_tensors(bundle).values() if t.is_floating_point()})
    files = bundle_files(bundle)
    shards = f" + {len(files) - 1} shard(s) beside it" if len(files) > 1 else ""
    selection = {k: v for k, v in spec.metrics.items() if k not in ("per_class", "confusion_matrix")}
    return ModelCard(
        name=spec.name, architecture=spec.architecture, weights_file=bundle.name + shards,
        weights_bytes=sum(file.stat().st_size for file in files), weights_dtype="/".join(dtypes),
        params=count_params(model), mflops=round(count_mflops(model, spec.in_chans, spec.img_size), 2),
        input=f"{spec.in_chans}x{spec.img_size}x{spec.img_size}, (pixel/255 - {spec.mean}) / {spec.std}",
        classes=spec.classes, train_data=spec.dataset, selection=selection,
        recipe=_recipe(config, {"architecture": spec.architecture, **spec.arch_kwargs}),
        reproduce_command=reproduce, train_command=spec.command, evaluation_command=report.get("command", ""),
        test_split=report["split"], test_dataset=report["dataset"], test_images=int(report.get("n", 0)),
        accuracy=report["accuracy"], macro_f1=report["macro_f1"], predictions=report.get("predictions", ""),
        per_class=[ClassRow(name=name, **{k: row[k] for k in ("recall", "precision", "f1", "support")})
                   for name, row in report["per_class"].items()],
        tta=_tta_results(report, list(tta_reports)), target=target,
        on_selection_split=_selection_result(report, selection_report, selection),
        confusion_png=f"{bundle.stem}_confusion.png", weaknesses=list(weaknesses),
    )


def render_markdown(card: ModelCard) -> str:
    rows = "\n".join(f"| {r.name} | {r.recall:.4f} | {r.precision:.4f} | {r.f1:.4f} | {r.support} |"
                     for r in card.per_class)
    selection = ", ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in card.selection.items())
    weaknesses = "\n".join(f"- {w}" for w in card.weaknesses) or "- none recorded"
    tta = "".join(f"\n- {mode}: accuracy **{r.accuracy:.4f}**, macro-F1 {r.macro_f1:.4f}" for mode, r in card.tta.items())
    if tta:
        tta = "\n\nWith test-time augmentation (softmax averaged over the views; same images):" + tta
    target = f"\n| target | {card.target} |" if card.target else ""
    chosen = card.on_selection_split
    chosen_what = "its members' epochs were" if "members" in card.selection else "the epoch was"
    on_selection = (f"\n\nOn `{chosen.split}` ({chosen.images} images), the split {chosen_what} chosen on, so not a "
                    f"clean test number but the one to compare with results published on that split: accuracy "
                    f"**{chosen.accuracy:.4f}**, macro-F1 {chosen.macro_f1:.4f} (single view)." if chosen else "")
    int8 = card.int8
    quantised = (f"\n\nThe int8 copy `{int8.file}` (loaded by `--backend fastest`; {int8.quantisation}): accuracy "
                 f"**{int8.accuracy:.4f}**, macro-F1 {int8.macro_f1:.4f}; on `{int8.on_selection_split['split']}`, "
                 f"which decided to keep it, {int8.on_selection_split['accuracy']:.4f} against fp32's "
                 f"{int8.on_selection_split['fp32_accuracy']:.4f} (`{int8.command}`)." if int8 else "")
    everything = f"All steps: `{card.reproduce_command}`; the training and evaluation commands:\n\n" \
        if card.reproduce_command else ""
    return f"""# Model card: {card.name}

| | |
| --- | --- |
| architecture | `{card.architecture}` |
| weights | `{card.weights_file}` ({card.weights_bytes / 1e3:.0f} kB, {card.weights_dtype}) |
| parameters | {card.params:,} |
| compute | {card.mflops:.2f} MFLOPs per image |
| input | {card.input} |
| classes | {", ".join(card.classes)} |{target}

## Data and splits

- trained on: {card.train_data}
- epoch selected on: {selection}
- tested on: {card.test_dataset}, split `{card.test_split}` ({card.test_images} images), never used for selection

## Results on `{card.test_split}`

accuracy **{card.accuracy:.4f}**, macro-F1 **{card.macro_f1:.4f}** (single view){tta}{on_selection}{quantised}

| class | recall | precision | F1 | support |
| --- | --- | --- | --- | --- |
{rows}

![confusion matrix]({card.confusion_png})

## Reproduce

{everything}```
{card.train_command}
{card.evaluation_command}
```

Recipe:

```json
{json.dumps(card.recipe, indent=1)}
```

## Known weaknesses

{weaknesses}
"""


def write_card(bundle: str | Path, report_path: str | Path, config: str | Path | None = None,
               weaknesses: list[str] | tuple[str, ...] = (), reproduce: str = "",
               tta_report_paths: list[str | Path] | tuple[str | Path, ...] = (), target: str = "",
               selection_report_path: str | Path | None = None) -> dict[str, Path]:
    """``<name>.md``, ``<name>.card.json`` and ``<name>_confusion.png`` next to ``bundle``."""
    from emoscope.evaluation.plots import plot_confusion

    bundle = Path(bundle)
    report = read_report(report_path)
    card = build_card(bundle, report, config, weaknesses, reproduce,
                      [read_report(path) for path in tta_report_paths], target,
                      read_report(selection_report_path) if selection_report_path is not None else None)
    paths = {"markdown": bundle.with_suffix(".md"), "json": bundle.with_suffix(".card.json"),
             "confusion": bundle.parent / card.confusion_png}
    plot_confusion(report["confusion_matrix"], card.classes, paths["confusion"],
                   title=f"{card.name} on {card.test_split} (acc {card.accuracy:.4f})")
    write_text_atomic(paths["markdown"], render_markdown(card))
    write_text_atomic(paths["json"], card.model_dump_json(indent=1) + "\n")
    return paths


def read_card(path: str | Path) -> ModelCard:
    """A ``<name>.card.json`` file."""
    path = Path(path)
    try:
        return ModelCard.model_validate_json(path.read_text())
    except OSError as exc:
        raise EmoscopeError(f"{path}: cannot read the model card ({exc.strerror})") from None
    except ValueError as exc:
        raise EmoscopeError(f"{path}: not a model card ({str(exc).splitlines()[0]})") from None


def cards_table(cards: list[ModelCard]) -> str:
    """One Markdown row per card: test accuracy with and without TTA, size and compute, target."""
    lines = ["| model | classes | test split | accuracy | best TTA | macro-F1 | selection split: accuracy, macro-F1 "
             "| params | MFLOPs | target |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for card in cards:
        best = card.best_tta
        tta = f"{best[1].accuracy:.4f} ({best[0]})" if best else "-"
        chosen = card.on_selection_split
        selection = f"{chosen.split}: {chosen.accuracy:.4f}, {chosen.macro_f1:.4f}" if chosen else "-"
        lines.append(f"| [{card.name}](src/emoscope/weights/{card.name}.md) | {len(card.classes)} | {card.test_split} "
                     f"({card.test_images}) | {card.accuracy:.4f} | {tta} | {card.macro_f1:.4f} | {selection} | "
                     f"{card.params / 1e6:.2f}M | {card.mflops:.1f} | {card.target or '-'} |")
    return "\n".join(lines) + "\n"
