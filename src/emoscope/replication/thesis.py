"""The model-comparison thesis: a baseline residual CNN vs MobileNetV3, ResNet34 and Wide-ResNet50-2 on FER2013
(augmentation, Adam + reduce-on-plateau), and its real-image pipeline (MTCNN + contrast enhancement)."""

from __future__ import annotations

from emoscope.replication.protocol import (
    EARLY_STOPPING,
    QUICK_HOLDOUT,
    SCALES,
    Arm,
    Protocol,
    Scale,
    Split,
    trained_bundle,
    trained_predictor,
)
from emoscope.replication.study import Claim, Pitfall, Plan, Study

RECIPE = {"optimizer": "adam", "lr": 1e-3, "weight_decay": 1e-4, "scheduler": "plateau", "batch_size": 64}
WRN_CLAIM = 0.6941
"""The thesis's best test accuracy (Wide-ResNet50-2, Table 5.8)."""
PHOTOS = ("0-f1-su-ph.jpg", "0-f15-hao-ph.jpg", "15-f13-anc-ph.jpg", "45-m7-di-ph.jpg", "single_face.jpg",
          "BWPictureHuman.jpg", "multi_face.jpg")
"""The face photos of the shared media folder; four are posed with the expression in the file name."""
POSED = {"0-f1-su-ph.jpg": "surprise", "0-f15-hao-ph.jpg": "happy", "15-f13-anc-ph.jpg": "angry",
         "45-m7-di-ph.jpg": "disgust"}


SIZES = {
    # arm: (model, options per scale, epochs per scale: quick, cpu, standard (at most), full); cpu widths keep
    # every arm within ~5 minutes here, standard widths train about as fast as the baseline (`--speed`)
    "baseline_cnn": ("baseline_cnn", {"quick": {"widths": [16, 32, 80]}, "cpu": {}, "standard": {}, "full": {}},
                     (1, 3, 60, 60)),
    "mobilenetv3": ("mobilenetv3_large", {"quick": {"width_mult": 0.25}, "cpu": {"width_mult": 0.35},
                                          "standard": {"width_mult": 0.5}, "full": {}}, (1, 2, 60, 60)),
    "resnet34": ("resnet34", {"quick": {"width": 0.125}, "cpu": {"width": 0.25}, "standard": {"width": 0.25},
                              "full": {}},
                 (1, 2, 60, 60)),
    "wide_resnet50_2": ("wide_resnet50_2", {"quick": {"width": 0.0625}, "cpu": {"width": 0.125},
                                            "standard": {"width": 0.125},
                                            "full": {}}, (1, 2, 60, 60)),
}
NAMES = {"baseline_cnn": ("baseline residual CNN", "baseline residual CNN (~1.7M params)"),
         "mobilenetv3": ("MobileNetV3-Large", "MobileNetV3"), "resnet34": ("ResNet-34", "ResNet34"),
         "wide_resnet50_2": ("Wide-ResNet-50-2", "Wide-ResNet50-2")}


def _arms(scale: Scale) -> list[Arm]:
    index = SCALES.index(scale)
    stop = {"early_stopping": EARLY_STOPPING} if scale == "standard" else {}
    arms = []
    for name, (model, options, epochs) in SIZES.items():
        kwargs = options[scale]
        label, paper = NAMES[name]
        width = kwargs.get("width", kwargs.get("width_mult"))
        # MobileNetV3 trains at ~140 images/s at 48 px on this CPU (depthwise convolutions): 32 px at cpu
        # scale; the smoke run takes 32 px for every arm
        size = 32 if scale == "quick" or (name == "mobilenetv3" and scale == "cpu") else 48
        label += (f" x{width}" if width else "") + (f" {'-'.join(map(str, kwargs['widths']))}" if "widths" in kwargs
                                                    else "") + (f" at {size} px" if size != 48 else "")
        # bf16 slows depthwise convolutions on a CPU: MobileNetV3 x0.5 trains faster in fp32 (`--speed`)
        fp32 = {"precision": "fp32"} if name == "mobilenetv3" and scale == "standard" else {}
        arms.append(Arm(name, label, paper, {**RECIPE, **stop, **fp32, "model": model, "model_kwargs": kwargs,
                                             "img_size": size, "epochs": epochs[index]}))
    return arms


CPU_LIMITS = (
    "**What this run can and cannot say.** At `cpu` scale the three large networks are width-reduced "
    "(their params and MFLOPs as trained are in the table beside the full networks') and every model "
    "trained 2-3 epochs with its best epoch at the last: all were still improving. Their accuracies, and "
    "the order between the networks, are no evidence about the thesis's numbers; at this budget a small "
    "network beats a large one, which is not what `full` would show.")
"""The cpu scale's page: why its numbers carry no verdict."""


def plan(scale: Scale) -> Plan:
    if scale == "quick":
        return Plan(Protocol("holdout", **QUICK_HOLDOUT), _arms(scale), "Smoke run.")
    if scale == "cpu":
        return Plan(Protocol("holdout", val_limit=1_500), _arms(scale),
                    "CPU scale: all of Training, 1,500 PublicTest images to choose the epoch, all of PrivateTest to "
                    "test; 2-3 epochs; the baseline at full size, the three large networks width-reduced "
                    "(MobileNetV3 also at 32 px).\n\n" + CPU_LIMITS)
    if scale == "standard":
        return Plan(Protocol("holdout"), _arms(scale),
                    f"Standard scale: the thesis's networks at 48 px on all of Training, the epoch chosen on all of "
                    f"PublicTest, each run stopped after {EARLY_STOPPING} epochs without a better PublicTest score (at "
                    f"most 60); no ImageNet weights (none may be downloaded). The baseline is at full size. At full "
                    f"width the three large networks would not level off within a session on a 2-core CPU: timed on "
                    f"a 2-core AMD EPYC in fp32 (`emoscope replicate thesis --scale full --speed`, two runs), an "
                    f"epoch takes about twice a baseline epoch for MobileNetV3-Large, 14 times for ResNet-34 and 50-55 "
                    f"times for Wide-ResNet-50-2. So they run narrower, each about as fast to train as the baseline: "
                    f"MobileNetV3-Large at 1/2 width, ResNet-34 at 1/4 and Wide-ResNet-50-2 at 1/8 (`--speed` times "
                    f"each arm on your machine).")
    return Plan(Protocol("holdout"), _arms(scale), "The thesis's protocol: all of Training, full networks.")


def real_image_pipeline(result: dict, splits: list[Split], scale: Scale) -> dict | None:
    """MTCNN on the shared face photos, plain and with contrast enhancement (CLAHE on the photo's luma
    before detection, and on the crop): faces found, and the trained baseline's label of the first face.
    None when the baseline's weights are not here (not trained yet, or trained on a lent GPU without them)."""
    import cv2

    from emoscope.data import data_root
    from emoscope.faces import create_detector, crop_faces, read_image
    from emoscope.faces.align import CLAHE_CLIP

    media = data_root() / "media"
    baseline = next((a for a in result["arms"] if a["name"] == "baseline_cnn"), None)
    if baseline is None or not trained_bundle(baseline).is_file():
        return None
    predictor = trained_predictor(trained_bundle(baseline))
    detector = create_detector("mtcnn")
    clahe = cv2.createCLAHE(clipLimit=CLAHE_CLIP, tileGridSize=(8, 8))
    rows = []
    for name in PHOTOS:
        if not (media / name).is_file():
            continue
        image = read_image(media / name)
        ycrcb = cv2.cvtColor(image, cv2.COLOR_BGR2YCrCb)
        ycrcb[..., 0] = clahe.apply(ycrcb[..., 0])
        row = {"photo": name, "posed": POSED.get(name)}
        for variant, pixels in (("plain", image), ("clahe", cv2.cvtColor(ycrcb, cv2.COLOR_YCrCb2BGR))):
            detections = detector.detect(pixels)
            row[f"{variant}_faces"] = len(detections)
            if len(detections):
                crops = crop_faces(pixels, detections, predictor.spec, clahe=variant == "clahe")
                row[f"{variant}_label"] = predictor.classes[int(predictor.predict_proba(crops[:1])[0].argmax())]
        rows.append(row)
    return {"photos": rows, "detector": "mtcnn", "model": baseline["label"]}


def pipeline_markdown(extra: dict) -> str:
    lines = [f"## Real-image pipeline ({extra['detector']} ± CLAHE contrast enhancement, {extra['model']})\n",
             "| photo | posed as | faces | faces with CLAHE | label | label with CLAHE |", "|---|---|---|---|---|---|"]
    for r in extra["photos"]:
        lines.append(f"| {r['photo']} | {r['posed'] or '-'} | {r['plain_faces']} | {r['clahe_faces']} | "
                     f"{r.get('plain_label', '-')} | {r.get('clahe_label', '-')} |")
    return ("\n".join(lines) + "\n\nSeven photos are a pipeline check, not an accuracy measurement; the label is "
            "the first face's.\n")


def shipped_models() -> list[dict]:
    """emoscope's shipped seven-expression FER2013 models as their cards measured them: trained on Training,
    epoch chosen on PublicTest, tested once on PrivateTest, the standard protocol's own splits."""
    from emoscope.evaluation.card import read_card
    from emoscope.runtime.predictor import WEIGHTS_DIR, list_pretrained

    rows = []
    for name in list_pretrained():
        path = WEIGHTS_DIR / f"{name}.card.json"
        card = read_card(path) if path.is_file() else None
        if card is None or card.test_split != "fer2013:test" or len(card.classes) != 7:
            continue
        selection = card.on_selection_split
        rows.append({"model": name, "architecture": card.architecture, "params": card.params, "mflops": card.mflops,
                     "accuracy": card.accuracy, "macro_f1": card.macro_f1, "test_images": card.test_images,
                     "selection_split": selection.split if selection else card.selection.get("split"),
                     "selection_accuracy": selection.accuracy if selection else None, "train_data": card.train_data})
    return rows


def thesis_extra(result: dict, splits: list[Split], scale: Scale) -> dict:
    """The shipped models on the same split, and the real-image pipeline where the baseline is trained."""
    return {"shipped": shipped_models(), **(real_image_pipeline(result, splits, scale) or {})}


def shipped_markdown(rows: list[dict]) -> str:
    lines = ["## emoscope's shipped models on the same split\n",
             "The thesis's networks beside the seven-expression models emoscope ships, all trained from scratch "
             "(no ImageNet weights) on FER2013 Training with the epoch chosen on PublicTest, and tested once on "
             "PrivateTest. The numbers are each model's card (`emoscope card NAME` measures it; "
             "`tests/test_shipped_models.py` checks the cards against the weights).\n",
             "| model | network | params | MFLOPs | PrivateTest accuracy | macro-F1 | selection split accuracy | "
             "trained on |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        chosen = f"{r['selection_accuracy']:.4f}" if r["selection_accuracy"] is not None else "-"
        lines.append(f"| {r['model']} | `{r['architecture']}` | {r['params'] / 1e6:.2f}M | {r['mflops']:.0f} | "
                     f"{r['accuracy']:.4f} | {r['macro_f1']:.4f} | {chosen} | {r['train_data']} |")
    singles = [r for r in rows if r["architecture"] != "ensemble"]
    ahead = [r for r in singles if r["accuracy"] > WRN_CLAIM]
    if singles:
        best = max(singles, key=lambda r: r["accuracy"])
        taught = (" Its soft labels are a teacher ensemble's probabilities on the same Training faces (knowledge "
                  "distillation), which the thesis did not use." if "soft labels" in best["train_data"] else "")
        verb = "scores" if len(ahead) == 1 else "score"
        lines += ["", f"{len(ahead)} of the {len(singles)} single networks {verb} above the thesis's best, "
                  f"Wide-ResNet50-2's {WRN_CLAIM:.2%} from ImageNet weights; the best, {best['model']}, reaches "
                  f"{best['accuracy']:.2%} with {best['params'] / 1e6:.1f}M parameters.{taught}"]
    return "\n".join(lines) + "\n"


def thesis_markdown(extra: dict) -> str:
    parts = []
    if "shipped" in extra:
        parts.append(shipped_markdown(extra["shipped"]))
    if "photos" in extra:  # results written before the shipped table hold the pipeline alone
        parts.append(pipeline_markdown(extra))
    return "\n".join(parts)


PROTOCOL = "FER2013 test split, fine-tuned from ImageNet weights"
ABSTRACT_RATES = ("While the ResNet 34 achieved an accuracy rate of 68.57% and the Mobile Net V 3 had a ratio of 66.09%.",
                  "Abstract; Table 5.8")

STUDY = Study(
    name="thesis",
    title="Model comparison: baseline residual CNN vs MobileNetV3, ResNet34, Wide-ResNet50-2",
    source="the model-comparison thesis (FER2013 with augmentation, Adam and reduce-on-plateau; accuracy, size "
           "and speed side by side; a real-photo pipeline with MTCNN and contrast enhancement).",
    claims=(
        Claim("Wide-ResNet50-2 test accuracy", "69.41%", PROTOCOL, "wide_resnet50_2", "accuracy",
              "With a test accuracy of 69.41%, the Wider ResNet50-2 (Zagoruyko and Komodakis, 2016) model "
              "(Zagoruyko and Komodakis, 2016) performs best on the FER2013 dataset.", "Abstract; Table 5.8",
              WRN_CLAIM),
        Claim("ResNet34 test accuracy", "68.57%", PROTOCOL, "resnet34", "accuracy", *ABSTRACT_RATES, 0.6857),
        Claim("MobileNetV3 test accuracy", "66.09%", PROTOCOL, "mobilenetv3", "accuracy", *ABSTRACT_RATES, 0.6609),
        Claim("baseline CNN test accuracy", "60.85%", "FER2013 test split, trained from scratch", "baseline_cnn",
              "accuracy", "Base Line 60.85% 1.67M", "Table 5.8, its row", 0.6085),
    ),
    plan=plan,
    differences=(
        "- **Split.** Ours: trained on Training, epoch chosen on PublicTest (1,500 of its faces at `cpu` scale, all "
        "3,589 at `standard`), tested on PrivateTest. "
        "The thesis names only Training (28,709) and the public test set (3,589); which faces chose its epochs "
        "is not said. The same net scores about 1.5 points higher on PrivateTest than on PublicTest.\n"
        "- **Pretraining.** The thesis fine-tunes ImageNet-pretrained MobileNetV3, ResNet34 and "
        "Wide-ResNet50-2; no ImageNet weights may be downloaded here, so ours train from scratch.\n"
        "- **The thesis's numbers are plausible for FER2013** (published single models reach 73-76%); they "
        "disagree only slightly with themselves: Wide-ResNet50-2 is 69.27% on the test in Section 4.6 and "
        "69.41% in Table 5.8, and Table 5.9 lists \"ResNet18\" with ResNet34's 21.29M parameters. Its RAF-DB "
        "numbers (87.23 / 86.32 / 83.45%) are not replicated: RAF-DB is not among this project's data."),
    pitfalls=(
        Pitfall("Training stopped at a point chosen while watching test accuracy",
                "After 40 epochs, The model achieved an accuracy of 69.27% on the FER2013 test; at that point, we "
                "decided to halt the learning process", "Section 4.6",
                "the epoch is chosen on PublicTest faces; PrivateTest is scored once", yields="test_chosen_epoch"),
        Pitfall("One split both validates and tests (only Training and the public test set are named)",
                "The training set contains 28,709 instances, and the public test set contains 3,589.", "Section 4.2",
                "three disjoint splits: Training, PublicTest (selection), PrivateTest (test)", speculative=True),
        Pitfall("Augmentation pipeline chosen by an exhaustive search scored on held-out data",
                "we apply an exhaustive search between different pipelines to achieve the best pipeline that gives "
                "us the best regularization result", "Section 4.6",
                "one fixed augmentation recipe, nothing searched", speculative=True),
    ),
    extra=thesis_extra,
    extra_markdown=thesis_markdown,
)
