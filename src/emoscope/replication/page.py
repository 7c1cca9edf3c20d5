"""Markdown pages written only from a study's JSON result: every number on a page is read from it."""

from __future__ import annotations

import json

import numpy as np


HEADLINE = ("accuracy", "macro_f1", "roc_auc")
BINARY = ("pr_auc", "chosen_threshold", "chosen_recall", "chosen_precision", "chosen_f1", "default_recall",
          "default_precision", "default_mae")


def plus_minus(stat: dict | None, digits: int = 3) -> str:
    if not stat or stat.get("mean") is None:
        return "n/a"
    if stat.get("n", 1) > 1:
        return f"{stat['mean']:.{digits}f} ± {stat['std']:.{digits}f}"
    return f"{stat['mean']:.{digits}f}"


def _num(value, digits: int = 4) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


PATIENCE = 2
"""An arm has levelled off when, in most of its units, the epoch that scored best on validation came at
least this many epochs before the last one: the early-stopping patience. Only the best epoch and the
number of epochs are stored per unit, so this is the most the result can show; a unit whose best epoch
is its last was still improving when it stopped."""


STANDARD_PAGES = "standard"
"""The folder beside the pages where ``--scale standard`` results are kept, so the ``cpu`` pages stay."""
LEVELLED_CELL = {"levelled": "yes", "rising": "**no**", "unclear": "not shown"}


def convergence(arm: dict) -> dict:
    """Whether the arm's validation curve levelled off: ``status`` is ``levelled`` (best epoch at least
    :data:`PATIENCE` epochs before the last in most units), ``rising`` (best epoch = last in most units) or
    ``unclear`` (neither), with a sentence saying which and in how many units."""
    units = arm["per_unit"]
    # a unit stopped early ran fewer epochs than the configured most (older results store only the most)
    ran = [u.get("epochs_run", arm["epochs"]) for u in units]
    best = [u["best_epoch"] for u in units]
    n = len(best)
    early = sum(b <= r - PATIENCE for b, r in zip(best, ran, strict=True))
    last = sum(b >= r for b, r in zip(best, ran, strict=True))
    epochs = f"{min(ran)}-{max(ran)}" if min(ran) != max(ran) else f"{ran[0]}"
    if 2 * early > n:
        return {"status": "levelled", "levelled": True,
                "text": f"yes: best epoch at least {PATIENCE} before the last ({epochs}) in {early} of {n} unit(s)"}
    if 2 * last > n:
        return {"status": "rising", "levelled": False,
                "text": f"no: still improving at its last epoch (best epoch = last = {epochs} in {last} of {n} unit(s))"}
    return {"status": "unclear", "levelled": False,
            "text": f"not shown: best epoch at or next to the last ({epochs}) in {n - early} of {n} unit(s), "
                    f"the last itself in {last}"}


def unit_counts(arm: dict) -> tuple[int, int]:
    """(units trained, units planned): fewer where a page was written from units trained elsewhere."""
    trained = len(arm["per_unit"])
    return trained, arm.get("units_planned", trained)


def verdict(claim: dict, arm: dict | None, scale: str, paper: dict) -> str:
    """What the page may say about a claim: nothing from an arm that had not levelled off, nothing where
    ours is another quantity, otherwise how far ours is from the paper's number at this scale. ``paper`` is
    the paper's network for the claim's arm (an entry of ``paper_arms``), to name how ours differs from it."""
    if arm is None:
        return "no verdict: arm not run"
    if claim.get("note"):
        return "not comparable: " + claim["note"]
    trained, planned = unit_counts(arm)
    if trained < planned:
        return f"no verdict yet: {trained} of {planned} units trained"
    state = convergence(arm)
    if state["status"] == "rising":
        return "no verdict: still improving at its last epoch (best epoch = last)"
    if not state["levelled"]:
        return "no verdict: not shown to have levelled off (best epoch at or next to the last in most units)"
    ours, value = (metric_of(arm, claim["metric"]) or {}).get("mean"), claim.get("value")
    if ours is None or value is None:
        return "levelled off; the paper's number is not a comparable quantity"
    gap = ours - value
    where = (f"level with the paper's {value:.3f}" if abs(gap) < 5e-4
             else f"{abs(gap):.3f} {'below' if gap < 0 else 'above'} the paper's {value:.3f}")
    network = network_trained(arm["config"], paper)
    caveat = {"full": "", "standard": f"; {network} trained to its plateau under our protocol (why it differs "
              "from the paper's is below)"}.get(scale, f"; at `{scale}` scale, so this is what this reduced arm "
                                                  f"reaches, not the paper's network")
    return f"levelled off: ours {ours:.3f} is {where}{caveat}"


WIDTH_KEYS = ("width", "width_mult")


def network_text(network: dict) -> str:
    """A network by architecture, options and face size: a unit's config or a ``paper_arms`` entry."""
    return f"`{network['model']}` {json.dumps(network.get('model_kwargs', {}))} at {network['img_size']} px"


def network_trained(config: dict, paper: dict) -> str:
    """The trained network as the paper's, or as the paper's at a narrower width where width is all that
    differs, or as another network otherwise; compared with the paper's, not guessed from option names."""

    def options(network: dict) -> dict:  # an unset width is the architecture's own, x1
        return dict.fromkeys(WIDTH_KEYS, 1.0) | network.get("model_kwargs", {})

    ours, papers = options(config), options(paper)
    same_model_and_size = (config["model"], config["img_size"]) == (paper["model"], paper["img_size"])
    differing = [key for key in ours.keys() | papers.keys() if ours.get(key) != papers.get(key)]
    if same_model_and_size and not differing:
        return "the paper's network"
    if config["model"] == paper["model"] and not differing and config["img_size"] < paper["img_size"]:
        return f"the paper's network on {config['img_size']} px faces (the paper's: {paper['img_size']} px)"
    if same_model_and_size and len(differing) == 1 and differing[0] in WIDTH_KEYS \
            and ours[differing[0]] < papers[differing[0]]:
        return f"the paper's network at x{ours[differing[0]]:g} width (the widest that levels off on this CPU)"
    return f"a network other than the paper's ({network_text(config)}; the paper's is in the table of networks below)"


def metric_of(arm: dict, metric: str) -> dict | None:
    return arm["summary"].get(metric)


def _claim_candidates(claim: dict, arms: dict) -> list[dict]:
    return [arms[name] for name in (claim["arm"], *claim.get("alternatives", ())) if name in arms]


def _validation_accuracy(arm: dict) -> float:
    return arm.get("selection", {}).get("val_accuracy") or 0.0


def claim_arm(claim: dict, arms: dict) -> dict | None:
    """The trained arm a claim reads: its own or, among its alternatives, the one with the best accuracy on the
    split that chose the epoch (ties keep the claim's own arm)."""
    return max(_claim_candidates(claim, arms), key=_validation_accuracy, default=None)


def _chosen_over(claim: dict, arm: dict, arms: dict) -> str:
    """The other trained settings the claim's arm was chosen over, with the validation accuracies compared."""
    others = [other for other in _claim_candidates(claim, arms) if other is not arm]
    if not all(map(_validation_accuracy, (arm, *others))):  # results from before it was recorded
        return "".join(f"; {other['name']} also trained, with no validation accuracy recorded to choose by"
                       for other in others)
    return "".join(f"; chosen over {other['name']} on validation accuracy, {_validation_accuracy(arm):.3f} vs "
                   f"{_validation_accuracy(other):.3f}" for other in others)


def paper_network(result: dict, arm_name: str) -> dict:
    """The paper's network for an arm: the arm as the ``full`` plan trains it."""
    return {p["name"]: p for p in result["paper_arms"]}[arm_name]


def claim_verdict(claim: dict, arm: dict | None, result: dict) -> str:
    """:func:`verdict` on a claim from the arm it reads, which may be an alternative: either way ours is named
    against the paper's network for the claim."""
    return verdict(claim, arm, result["scale"], paper_network(result, claim["arm"]))


def claims_table(result: dict) -> str:
    arms = {a["name"]: a for a in result["arms"]}
    rows = []
    for claim in result["claims"]:
        arm = claim_arm(claim, arms)
        ours = plus_minus(metric_of(arm, claim["metric"])) if arm else "not run"
        rows.append([claim["what"], claim["paper"], f"\"{claim['quote']}\" ({claim['where']})", claim["protocol"],
                     f"{ours} ({arm['label']}, {claim['metric']}{_chosen_over(claim, arm, arms)})" if arm else ours,
                     claim_verdict(claim, arm, result)])
    return markdown_table(["claim", "paper", "the paper's words", "paper's protocol",
                           f"ours ({result['scale']} scale)", "what this run can say"], rows)


def _positive_prevalence(arm: dict) -> float:
    confusion = np.array(arm["confusion"], dtype=np.float64)
    return float(confusion[-1].sum() / confusion.sum())


def _one_hot_binary_accuracy(accuracy: float, k: int) -> float:
    """Keras's binary accuracy over k one-hot outputs of a model whose argmax has this accuracy: a wrong
    face gets 2 of k outputs wrong, a right one none."""
    return 1 - 2 * (1 - accuracy) / k


def _pitfall_all_negative(result: dict) -> str:
    arms = [a for a in result["arms"] if a["group"] == "main"]
    k = len(arms[0]["classes"])
    honest = "; ".join(f"{a['name']}: {_one_hot_binary_accuracy(a['summary']['accuracy']['mean'], k):.3f} "
                       f"(its accuracy {a['summary']['accuracy']['mean']:.3f})" for a in arms)
    return (f"a model that outputs nothing: {(k - 1) / k:.3f}; our arms' top classes as one-hot outputs, scored "
            f"this way: {honest}")


def _pitfall_majority(result: dict) -> str:
    arm = next(a for a in result["arms"] if a["group"] == "main")
    return f"always the majority class: accuracy {arm['chance']['accuracy']:.3f}"


def _pitfall_flag_everything(result: dict) -> str:
    arm = next(a for a in result["arms"] if a["group"] == "main")
    return f"flag every face: recall 1.000 at precision {_positive_prevalence(arm):.3f}"


def _selection_score(key: str, what: str):
    """A pitfall's number from the arms' training histories: ``key`` of each main arm's ``selection`` beside
    its honest test accuracy."""

    def number(result: dict) -> str:
        arms = [a for a in result["arms"] if a["group"] == "main" and a.get("selection", {}).get(key) is not None]
        if not arms:
            return "not recorded in this run"
        return f"{what}: " + "; ".join(f"{a['name']} {a['selection'][key]:.3f} (test, honestly: "
                                       f"{a['summary']['accuracy']['mean']:.3f})" for a in arms)

    return number


def copies_text(count: int) -> str:
    return f"{count} augmented cop{'y' if count == 1 else 'ies'}"


def _pitfall_copies_before_split(result: dict) -> str:
    """Each copies run beside its honest arm on the same folds (the run has only the first), and whether the
    run's own curve had levelled off within its epoch cap."""
    arms = {a["name"]: a for a in result["arms"]}
    runs = [a for a in result["arms"] if a.get("copies_before_split")]
    if not runs:
        return "not run at this scale"

    def scores(arm: dict, units: set[str]) -> str:
        rows = [u for u in arm["per_unit"] if u["unit"] in units]
        means = {m: np.mean([u[m] for u in rows]) if all(u.get(m) is not None for u in rows) else None
                 for m in ("accuracy", "roc_auc")}
        return f"accuracy {means['accuracy']:.3f}" + (f", ROC-AUC {means['roc_auc']:.3f}"
                                                      if means["roc_auc"] is not None else "")

    def run_text(run: dict) -> str:
        units = {u["unit"] for u in run["per_unit"]}
        rising = ("" if convergence(run)["levelled"] else
                  f", not levelled off within its {run['epochs']}-epoch cap")
        text = (f"{copies_text(run['copies_before_split'])} of every pool face made before the folds are cut: "
                f"{run['name']} {scores(run, units)} on {', '.join(sorted(units))}{rising}")
        honest = arms.get(run["honest"])
        if honest is None or not units <= {u["unit"] for u in honest["per_unit"]}:
            return f"{text} ({run['honest']} not trained on the same folds)"
        return f"{text} (honestly, {run['honest']} on the same folds: {scores(honest, units)})"

    return "; ".join(run_text(run) for run in runs)


PITFALL_NUMBERS = {"binary_accuracy": _pitfall_all_negative, "majority": _pitfall_majority,
                   "flag_everything": _pitfall_flag_everything, "copies_before_split": _pitfall_copies_before_split,
                   "training_accuracy": _selection_score("train_accuracy", "training accuracy at the chosen epoch "
                                                         "(augmented batches)"),
                   "validation_selected": _selection_score("val_accuracy", "accuracy on the split that chose the "
                                                           "epoch"),
                   "test_chosen_epoch": _selection_score("test_best_epoch", "test accuracy at the epoch the test "
                                                         "split itself picks")}
"""Numbers a pitfall yields that follow from the stored test labels, confusion matrices and training histories
alone."""


def pitfalls_table(result: dict) -> str:
    rows = []
    for p in result.get("pitfalls", []):
        evidence = f"\"{p['quote']}\" ({p['where']})" if p["quote"] else p["where"]
        rows.append([p["how"] + (" *(speculation)*" if p["speculative"] else ""), evidence,
                     PITFALL_NUMBERS[p["yields"]](result) if p["yields"] else "-", p["ours"]])
    return markdown_table(["how the number could arise", "what in the paper suggests it", "what it yields here",
                           "our protocol"], rows)


def arms_table(result: dict, group: str) -> str:
    arms = [a for a in result["arms"] if a["group"] == group]
    binary = any("chosen_recall" in a["summary"] for a in arms)
    metrics = HEADLINE + (BINARY if binary else ())
    header = ["arm", "trained here", *metrics, "chance acc / F1", "learned", "levelled off", "params", "MFLOPs",
              "CPU faces/s", "train s"]
    rows = []
    for a in arms:
        cost = a["cost"]
        rows.append([a["name"], a["label"], *(plus_minus(a["summary"].get(m)) for m in metrics),
                     f"{a['chance']['accuracy']:.3f} / {a['chance']['macro_f1']:.3f}",
                     "yes" if a["learned"] else "**no**",
                     LEVELLED_CELL[convergence(a)["status"]],
                     f"{cost['params'] / 1e6:.2f}M", f"{cost['mflops']:.1f}",
                     f"{cost['faces_per_s']:,.0f}", f"{a['train_seconds']:.0f}"])
    return markdown_table(header, rows)


def units_table(arm: dict) -> str:
    metrics = [m for m in arm["per_unit"][0] if m not in ("unit", "best_epoch", "epochs_run")]
    rows = [[u["unit"], str(u["best_epoch"]), str(u.get("epochs_run", arm["epochs"])), *(_num(u[m]) for m in metrics)]
            for u in arm["per_unit"]]
    return markdown_table(["unit", "best epoch", "epochs run", *metrics], rows)


def per_class_table(arm: dict) -> str:
    rows = [[c, *(_num(v[m], 3) for m in ("precision", "recall", "f1"))] for c, v in arm["per_class"].items()]
    return markdown_table(["class", "precision", "recall (per-class accuracy)", "F1"], rows)


def paper_table(result: dict) -> str:
    trained = {a["name"]: a for a in result["arms"]}
    rows = []
    for p in result["paper_arms"]:
        here = trained.get(p["name"])
        rows.append([p["name"], network_text(p),
                     f"{p['params'] / 1e6:.2f}M", f"{p['mflops']:.1f}",
                     f"{here['cost']['params'] / 1e6:.2f}M / {here['cost']['mflops']:.1f}" if here else "not trained"])
    return markdown_table(["arm", "paper's network (`full` scale)", "params", "MFLOPs",
                           f"trained at {result['scale']} scale: params / MFLOPs"], rows)


def epochs_text(arm: dict) -> str:
    stop = arm["config"].get("early_stopping")
    if stop:
        return f"up to {arm['epochs']} epochs, stopped after {stop} without a better validation score"
    return f"{arm['epochs']} epoch(s)"


def processor_text(machine: dict) -> str:
    processors = machine.get("processors")  # pages written before they were recorded lack them
    return f" of {' and '.join(processors)}" if processors else ""


def units_text(arm: dict) -> str:
    trained, planned = unit_counts(arm)
    return f"; {trained} of {planned} units trained so far" if trained < planned else ""


def warm_start_line(arm: dict) -> str:
    warm = arm.get("warm_start")
    if not warm:
        return ""
    if "shipped" in warm:
        return (f" Warm start: the shipped model `{warm['shipped']}` (trained on {warm['train_data']}; its epoch was "
                f"chosen on {warm['selection_split']}; 7-expression accuracy {warm['accuracy']:.4f} on "
                f"{warm['test_split']}, from its card).")
    rising = ", still improving at its last epoch" if warm["best_epoch"] >= warm["epochs"] else ""
    return (f" Warm start: {warm['n_train']:,} Training faces, {warm['epochs']} epoch(s) (best {warm['best_epoch']}"
            f"{rising}), 7-expression accuracy {warm['accuracy']:.4f} on {warm['test_split']}, {warm['seconds']:.0f} s.")


EARLIER_RUN = (" Trained by an earlier run of this command whose checkpoints are not in the later run's work "
               "folder: its numbers and figures are kept from that run's result.")


def render_page(result: dict) -> str:
    """The study's page; a pure function of its JSON result (tests check the committed pages match)."""
    from emoscope.replication import STUDIES

    study = STUDIES.get(result["study"])
    parts = [
        f"# {result['title']}\n",
        f"Written by `{result['command']}` from [`{result['study']}.json`]({result['study']}.json); "
        f"do not edit by hand (the claims, quotes and pitfalls are refreshed without training by "
        f"`emoscope replicate {result['study']} --pages-only`). Source: " + result["source"] + "\n",
        "## Claim vs ours\n", claims_table(result),
        f"\nAn arm's validation curve has levelled off when, in most of its units, the epoch that scored best "
        f"on validation came at least {PATIENCE} epochs before the last (the per-epoch values are only in the "
        "curves below; the result stores each unit's best epoch). No claim gets a verdict from an arm that had "
        "not levelled off.\n",
        f"\n## Protocol ({result['scale']} scale)\n", result["protocol"]["description"] + ".\n",
    ]
    if result["note"]:
        parts.append("\n" + result["note"] + "\n")
    if any(device != "cpu" for arm in result["arms"] for device in arm.get("devices", ["cpu"])):
        parts.append("\nUnits trained on a lent GPU (`tools/device_replicate.py`) read FER2013 from a 7-bit pack, "
                     "every pixel within one grey level of the original; their test scores were measured there.\n")
    parts += ["\n## Results (test metrics, mean ± std over units)\n", arms_table(result, "main")]
    if untrained := result.get("untrained_arms"):
        parts.append(f"\nNot trained yet at this scale: {', '.join(untrained)} (`{result['command']}` trains "
                     f"{'them' if len(untrained) > 1 else 'it'}; every unit resumes where it stopped; "
                     f"`{result['command']} --speed` first says how long that would take on your machine).\n")
    if any(a["group"] == "ablation" for a in result["arms"]):
        parts += ["\n### Ablations\n", arms_table(result, "ablation")]
    parts += [
        f"\nChance is what a model that learned nothing scores on the same test labels (the majority class's "
        f"accuracy, uniform guessing's macro-F1, ROC-AUC 0.5); an arm has learned when its ROC-AUC is at least "
        f"{result.get('learned_margin', 0.05)} above 0.5 and its macro-F1 above chance. CPU faces/s: torch, "
        f"{result['machine']['cpu_threads']} threads{processor_text(result['machine'])}, batch 256.\n",
        "\n## The paper's networks and what was trained here\n", paper_table(result),
    ]
    if result.get("extra") and study is not None and study.extra_markdown is not None:
        parts += ["\n", study.extra_markdown(result["extra"])]
    parts += ["\n## Why our numbers differ\n", result["differences"] + "\n"]
    if result.get("pitfalls"):
        parts += ["\n## How the paper's number could arise\n",
                  "Each row is one way the claimed number could have come about, with the paper's words that "
                  "suggest it; rows marked speculation are allowed by the text, not shown by it. Numbers in the "
                  "third column follow from this run's test labels, confusion matrices and training histories "
                  "alone.\n\n",
                  pitfalls_table(result)]
        if any(a["group"] == "pitfall" for a in result["arms"]):
            parts += ["\nThe pitfalls' own runs (inflated by design; never compared with the paper):\n",
                      arms_table(result, "pitfall")]
    parts.append("\n## Every unit\n")
    for arm in result["arms"]:
        figures = arm["figures"]
        parts += [f"\n### {arm['name']}: {arm['label']}\n",
                  f"Paper: {arm['paper']}. Trained on {', '.join(map(str, arm['n_train']))} images per unit for "
                  f"{epochs_text(arm)} at {arm['train_images_per_s']:.0f} images/s on "
                  f"{' and '.join(arm.get('hardware') or arm.get('devices', ['cpu']))}{units_text(arm)}."
                  + warm_start_line(arm)
                  + (EARLIER_RUN if arm.get("earlier_run") else ""),
                  f"\n\nValidation curve levelled off: {convergence(arm)['text']}.\n\n",
                  units_table(arm), "\nPer class (mean over units):\n\n", per_class_table(arm),
                  f"\n![curves]({figures['curves']}) ![confusion]({figures['confusion']})\n"]
    return "\n".join(parts)
