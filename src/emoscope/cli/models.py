"""Commands about trained models: list, evaluate, export, quantise, inspect, ship, combine, and document them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from emoscope.cli.options import BACKEND_HELP, MODEL_HELP, TTA_HELP, check_choice, command_line, console
from emoscope.errors import EmoscopeError
from emoscope.evaluation.groups import MAX_BOOTSTRAP, MIN_BOOTSTRAP, MIN_GROUP_SIZE
from emoscope.runtime.tta import TTA_MODES

app = typer.Typer()


@app.command("models")
def models_cmd(
    names: list[str] = typer.Argument(None, help="architectures to count (default: every registered one)"),
    pretrained: bool = typer.Option(False, "--pretrained", help="list the shipped, trained models instead"),
    # Capped: every architecture is built and run at this size (training's own limit on the side).
    img_size: int = typer.Option(48, min=16, max=512, help="input side for the parameter and MFLOP counts"),
    classes: int = typer.Option(7, min=2, max=1000, help="number of classes for the counts"),
    readme: Optional[Path] = typer.Option(None, help="with --pretrained: also put the table between "
                                          "<!-- models:pretrained --> markers here"),
):
    """List registered architectures with parameters and MFLOPs, or the shipped weights and their cards."""
    if pretrained:
        from emoscope.evaluation.card import cards_table, read_card
        from emoscope.runtime.predictor import WEIGHTS_DIR, list_pretrained

        cards = [read_card(path) for name in list_pretrained()
                 if (path := WEIGHTS_DIR / f"{name}.card.json").is_file()]
        if not cards:
            console.print("no pretrained weights shipped yet")
            return
        table = cards_table(cards)
        console.print(table, soft_wrap=True, markup=False)
        if readme is not None:
            from emoscope.files import replace_between_markers

            replace_between_markers(readme, "models:pretrained", table)
        return
    from emoscope.models.registry import architecture_cost, get_entry, list_models

    for name in names or ():
        get_entry(name)  # an unknown name is one error line, before any model is built
    table = Table("name", "params (M)", f"MFLOPs @1x{img_size}x{img_size}", "description")
    for name in names or list_models():
        cost = architecture_cost(name, classes, 1, img_size)
        table.add_row(name, f"{cost['params'] / 1e6:.3f}", f"{cost['mflops']:.1f}", get_entry(name).description)
    console.print(table)


@app.command("evaluate")
def evaluate_cmd(
    model: str = typer.Argument(..., help=MODEL_HELP),
    dataset: str = typer.Option("fer2013", help="fer2013 | ferplus | sign_mnist | CSV path | image folder"),
    split: str = typer.Option("test", help="train | val | test (FER2013: Training / PublicTest / PrivateTest)"),
    tta: str = typer.Option("none", help=TTA_HELP),
    backend: str = typer.Option("auto", help=BACKEND_HELP),
    limit: Optional[int] = typer.Option(None, min=1, help="stratified subset of N images (quick checks)"),
    out: Path = typer.Option(Path("runs/eval"), help="folder for the JSON report and confusion matrix"),
    groups: Optional[Path] = typer.Option(None, help="CSV of image id,group (user-supplied metadata): adds "
                                          "per-group metrics with bootstrap intervals (docs/groups.md)"),
    bootstrap: int = typer.Option(1000, min=MIN_BOOTSTRAP, max=MAX_BOOTSTRAP,
                                  help="with --groups: bootstrap resamples per group"),
    min_group: int = typer.Option(MIN_GROUP_SIZE, min=10, help="with --groups: fewest images a group may have"),
):
    """Accuracy, per-class P/R/F1, macro-F1, ROC-AUC, MAE and a confusion matrix on a named split."""
    import emoscope
    from emoscope.data import limit_per_split, load_dataset
    from emoscope.evaluation.evaluate import evaluate, write_report
    from emoscope.evaluation.groups import read_groups_csv
    from emoscope.files import check_can_write_in

    check_choice(tta, TTA_MODES, "--tta")
    check_can_write_in(out)  # before the evaluation, not after it
    group_of = read_groups_csv(groups) if groups is not None else None  # a bad file fails before the model loads
    predictor = emoscope.load(model, backend=backend)
    images = load_dataset(dataset, split=split)
    if limit is not None and limit < len(images):
        images = limit_per_split(images, limit, seed=0)
    report = evaluate(predictor, images, split=f"{dataset}:{split}", tta=tta, groups=group_of,
                      groups_source=str(groups), n_boot=bootstrap, min_group=min_group)
    report["command"] = command_line()
    paths = write_report(report, out, stem=f"{predictor.spec.name}_{Path(dataset).name}_{split}_{tta}")
    table = Table("class", "precision", "recall", "F1", "support")
    for cls, row in report["per_class"].items():
        table.add_row(cls, f"{row['precision']:.3f}", f"{row['recall']:.3f}", f"{row['f1']:.3f}", str(row["support"]))
    console.print(table)
    shown = {key: "n/a" if report[key] is None else f"{report[key]:.4f}"  # None: undefined on this split
             for key in ("accuracy", "macro_f1", "roc_auc_macro_ovr")}
    console.print(f"{report['model']} on {report['split']} ({report['n']} images, tta {tta}): accuracy "
                  f"{shown['accuracy']}, macro-F1 {shown['macro_f1']}, ROC-AUC {shown['roc_auc_macro_ovr']}")
    if "groups" in report:
        _print_groups(report["groups"])
    console.print(f"report: {paths['json']}  confusion matrix: {paths['confusion']}")


def _print_groups(section: dict) -> None:
    """A row per group (n, accuracy and macro-F1 with their intervals), then the largest gaps."""
    from rich.text import Text

    from emoscope.evaluation.groups import gap_sentence

    def shown(metric: dict) -> str:
        return "n/a" if metric["value"] is None else f"{metric['value']:.3f} [{metric['low']:.3f}, {metric['high']:.3f}]"

    level = f"{section['confidence']:.0%}"
    table = Table("group", "n", f"accuracy [{level} CI]", f"macro-F1 [{level} CI]")
    for name, row in section["groups"].items():
        table.add_row(Text(name), str(row["n"]), shown(row["accuracy"]), shown(row["macro_f1"]))  # a name is no markup
    console.print(table)
    for gap in section["largest_gaps"].values():
        console.print(gap_sentence(gap), markup=False)
    left_out = section["images_without_group"]
    console.print(f"{section['images_with_group']} images in {len(section['groups'])} groups"
                  f"{f', {left_out} without a group (left out)' if left_out else ''}; {section['n_boot']} "
                  "bootstrap resamples per group", markup=False)


@app.command("export")
def export_cmd(
    model: str = typer.Argument(..., help="shipped model name or .safetensors bundle"),
    out: Optional[Path] = typer.Option(None, help="output path (default: beside the bundle, .onnx)"),
):
    """Export a bundle to ONNX (same metadata) and check ONNX Runtime agrees with torch."""
    import numpy as np

    from emoscope.runtime.bundle import load_bundle
    from emoscope.runtime.onnx_runtime import export_onnx
    from emoscope.runtime.predictor import TorchPredictor, load_predictor, resolve_model_path

    source = resolve_model_path(model, "torch")
    net, spec = load_bundle(source)
    target = out or source.with_suffix(".onnx")
    # Checked under a scratch name and renamed only once it agrees with torch: a failed check leaves
    # no file that looks like a good export.
    unchecked = export_onnx(net, spec, target.with_name(f"{target.stem}.unchecked.onnx"))
    try:
        rng = np.random.default_rng(0)
        faces = rng.integers(0, 256, size=(16, spec.img_size, spec.img_size), dtype=np.uint8)
        torch_probs = TorchPredictor(net, spec, source).predict_proba(faces)
        onnx_probs = load_predictor(unchecked, backend="onnx").predict_proba(faces)
        diff = float(np.abs(torch_probs - onnx_probs).max())
        if not np.isfinite(diff) or diff > 1e-4:  # NaN compares False with '>'
            raise EmoscopeError(f"ONNX output differs from torch by {diff:.2e} (> 1e-4); the export is not trustworthy")
        unchecked.replace(target)
    finally:
        unchecked.unlink(missing_ok=True)
    console.print(f"ONNX model: {target} ({target.stat().st_size / 1e6:.2f} MB); max |torch - onnx| = {diff:.2e}")


@app.command("quantize")
def quantize_cmd(name: str = typer.Argument(..., help="shipped model name with an ONNX export, e.g. fer-default")):
    """Write NAME.int8.onnx beside a shipped model if int8 loses at most 0.3 point of selection-split
    accuracy; its test numbers go into the card, and backend `fastest` then loads it."""
    from emoscope.evaluation.int8 import quantize_shipped

    int8 = quantize_shipped(name)
    selection = int8.on_selection_split
    console.print(f"{int8.file}: {selection['split']} accuracy {selection['accuracy']:.4f} (fp32 "
                  f"{selection['fp32_accuracy']:.4f}); test accuracy {int8.accuracy:.4f}, macro-F1 "
                  f"{int8.macro_f1:.4f}", markup=False)


@app.command("info")
def info_cmd(model: str = typer.Argument(..., help=MODEL_HELP)):
    """Print a model's card: architecture, labels, input spec, metrics, the command that made it."""
    import emoscope

    spec = emoscope.load(model).spec
    console.print_json(spec.model_dump_json(exclude={"metrics"}))
    metrics = {k: v for k, v in spec.metrics.items() if k not in ("confusion_matrix", "per_class")}
    console.print_json(json.dumps(metrics))


@app.command("ship")
def ship_cmd(
    bundle: Path = typer.Argument(..., help="a trained bundle, e.g. runs/fer-fast/best.safetensors"),
    name: str = typer.Option(..., help="the name users load it by, e.g. fer-fast"),
    half: bool = typer.Option(False, help="store the weights as fp16 (half the size)"),
    onnx: bool = typer.Option(True, help="also export <name>.onnx beside it"),
    max_file_mb: float = typer.Option(0, min=0, max=100_000,
                                      help="spread the weights over shards of at most this many MB (where a "
                                      "repository or package caps file size); 0 = one file"),
):
    """Copy a trained bundle into the weights folder ($EMOSCOPE_WEIGHTS, else the package's) under NAME."""
    from emoscope.runtime.bundle import bundle_files, load_bundle, save_bundle
    from emoscope.runtime.onnx_runtime import export_onnx
    from emoscope.runtime.predictor import WEIGHTS_DIR, int8_path

    model, spec = load_bundle(bundle)
    spec = spec.model_copy(update={"name": name})
    stale = int8_path(WEIGHTS_DIR / f"{name}.onnx")
    if stale.is_file():  # the int8 copy of the weights this replaces: `fastest` would load it
        stale.unlink()
        console.print(f"removed {stale.name}, the int8 copy of the weights replaced; `emoscope quantize {name}` "
                      "makes a new one", markup=False)
    target = save_bundle(model, spec, WEIGHTS_DIR / f"{name}.safetensors", half=half,
                         max_file_bytes=int(max_file_mb * 1e6) or None)
    shipped, _ = load_bundle(target)  # the fp16 file is what users get: export that
    files = bundle_files(target)
    size_kb = sum(f.stat().st_size for f in files) / 1e3
    console.print(f"shipped: {target} ({size_kb:.0f} kB in {len(files)} file(s))")
    if onnx:
        path = export_onnx(shipped, spec, target.with_suffix(".onnx"))
        console.print(f"ONNX: {path} ({path.stat().st_size / 1e3:.0f} kB)")


@app.command("ensemble")
def ensemble_cmd(
    members: list[str] = typer.Argument(..., help="two or more shipped names or .safetensors bundles"),
    out: Path = typer.Option(..., help="the ensemble's .safetensors bundle (ship it with `emoscope ship`)"),
    name: Optional[str] = typer.Option(None, help="the ensemble's name (default: the file's stem)"),
    chosen_on: Optional[str] = typer.Option(None, help="the split the members were chosen on (e.g. fer2013:val), "
                                            "when their own selection splits differ"),
):
    """Combine trained models with the same labels and input into one model: the mean of their probabilities."""
    from emoscope.runtime.bundle import save_bundle
    from emoscope.runtime.ensemble import build_ensemble

    model, spec = build_ensemble(members, name or out.stem, command=command_line(), chosen_on=chosen_on)
    save_bundle(model, spec, out)
    console.print(f"ensemble of {spec.metrics['members']}: {out} ({out.stat().st_size / 1e3:.0f} kB)")


@app.command("card")
def card_cmd(
    bundle: Path = typer.Argument(..., help="the .safetensors weights the card describes"),
    report: Path = typer.Option(..., help="the `emoscope evaluate` JSON report of this model on its test split"),
    config: Optional[Path] = typer.Option(None, help="the training config (.toml/.json/.yaml), copied in as the recipe"),
    weakness: list[str] = typer.Option([], help="a known weakness, one sentence; repeatable"),
    reproduce: str = typer.Option("", help="one command that reruns every step (e.g. a make target)"),
    tta_report: list[Path] = typer.Option([], help="an `emoscope evaluate --tta ...` report of the same model and "
                                          "split; repeatable"),
    target: str = typer.Option("", help="the goal the model was trained for (e.g. an issue's accuracy target)"),
    selection_report: Optional[Path] = typer.Option(None, help="an `emoscope evaluate` report of the same model on "
                                                    "the split its epoch was chosen on (e.g. FER2013 PublicTest)"),
):
    """Write a model card (<name>.md, <name>.card.json, confusion PNG) next to a weights bundle."""
    from emoscope.evaluation.card import write_card

    paths = write_card(bundle, report, config, weakness, reproduce, tta_report, target, selection_report)
    console.print("model card: " + ", ".join(str(p) for p in paths.values()), soft_wrap=True)
