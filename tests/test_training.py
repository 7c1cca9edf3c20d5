import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from emoscope.errors import EmoscopeError, ModelError
from emoscope.models.registry import create_model
from emoscope.training.augment import BatchAugment, RandomCropPad
from emoscope.training.config import AugmentConfig, TrainConfig
from emoscope.training.trainer import CHECKPOINT, Trainer, bf16_supported, channels_last_safe
from helpers import synthetic_imageset

TIMING_KEYS = {"train_seconds", "train_images_per_s", "epoch_seconds"}


def _config(tmp_path, **kw):
    base = dict(name="run", model="fer_fast_net", epochs=2, batch_size=16, lr=0.05, img_size=32,
                out_dir=str(tmp_path), threads=2, augment=AugmentConfig(mixup=0.2, cutmix=0.2))
    base.update(kw)
    return TrainConfig(**base)


def _data():
    return synthetic_imageset(210, seed=1), synthetic_imageset(70, seed=2)


def test_augment_is_seeded_and_keeps_range():
    aug = BatchAugment(AugmentConfig(crop_pad=3, mixup=0.4, cutmix=0.4))
    x = torch.rand(16, 1, 24, 24)
    targets = torch.eye(4)[torch.arange(16) % 4]
    a, ta = aug(x, targets, torch.Generator().manual_seed(5))
    b, tb = aug(x, targets, torch.Generator().manual_seed(5))
    c, _ = aug(x, targets, torch.Generator().manual_seed(6))
    assert a.shape == x.shape and torch.equal(a, b) and torch.equal(ta, tb) and not torch.equal(a, c)
    assert a.min() >= 0 and a.max() <= 1
    torch.testing.assert_close(ta.sum(1), torch.ones(16))


def test_crop_pad_shifts_within_bounds():
    x = torch.zeros(64, 1, 10, 10)
    x[:, :, 5, 5] = 1.0
    out = RandomCropPad(2)(x, torch.Generator().manual_seed(0))
    ys, xs = torch.nonzero(out[:, 0] == 1.0, as_tuple=True)[1:]
    assert len(ys) == 64 and ys.min() >= 3 and ys.max() <= 7 and xs.min() >= 3 and xs.max() <= 7
    assert len(set(zip(ys.tolist(), xs.tolist()))) > 5  # really random


def test_training_learns_and_writes_outputs(tmp_path):
    train, val = _data()
    cfg = _config(tmp_path, epochs=4, augment=AugmentConfig(rotate=0, scale=0, shift=0, hflip=0, erasing=0))
    result = Trainer(cfg, train, val).fit()
    assert result.best_metrics["accuracy"] > 0.8  # 7 classes: chance is 0.14
    assert result.best_metrics["split"] == "fer2013:val"
    run = tmp_path / "run"
    for name in ("best.safetensors", CHECKPOINT, "history.csv", "history.json", "config.json"):
        assert (run / name).exists(), name
    rows = json.loads((run / "history.json").read_text())
    assert len(rows) == 4
    # what ran each epoch: a long run may resume on another machine, and its speed depends on both
    precision = "bf16" if bf16_supported(torch.device("cpu")) else "fp32"
    assert all(row["processor"] and row["precision"] == precision for row in rows)


def test_narrow_strided_1x1_convolutions_train_in_nchw_on_cpu(tmp_path):
    """oneDNN#6035: NHWC 1x1 stride-2 backward with < 16 input channels corrupts the heap; the trainer
    must leave such models in NCHW. In a child process, since the corruption kills the interpreter."""
    cpu = torch.device("cpu")
    assert not channels_last_safe(create_model("resnet18", num_classes=2, in_chans=1, width=0.125), cpu)
    assert channels_last_safe(create_model("resnet18", num_classes=2, in_chans=1), cpu)
    assert channels_last_safe(create_model("fer_fast_net", num_classes=7, in_chans=1), cpu)
    script = textwrap.dedent(f"""
        import torch
        from emoscope.training.config import TrainConfig
        from emoscope.training.trainer import Trainer
        from helpers import synthetic_imageset
        for precision in ("fp32", "bf16"):
            cfg = TrainConfig(name=precision, model="resnet18", model_kwargs={{"width": 0.125}}, epochs=1,
                              batch_size=64, img_size=48, precision=precision, out_dir={str(tmp_path)!r}, threads=1)
            # one batch: the memory format is checked above, the run shows both precisions go through
            trainer = Trainer(cfg, synthetic_imageset(64, size=48), synthetic_imageset(16, size=48, seed=1))
            assert trainer.memory_format == torch.contiguous_format
            trainer.fit()
        print("trained")
    """)
    child = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=False,
                           cwd=Path(__file__).parent)
    assert child.returncode == 0 and "trained" in child.stdout, child.stderr[-2000:]


def test_resume_reproduces_uninterrupted_run(tmp_path, monkeypatch):
    train, val = _data()
    straight = Trainer(_config(tmp_path, name="straight"), train, val).fit()

    # Crash right after the first epoch's checkpoint is written, then resume.
    calls = {"n": 0}
    original = Trainer._write_history

    def crash_after_first(self, history):
        original(self, history)
        calls["n"] += 1
        if calls["n"] == 1:
            raise KeyboardInterrupt

    monkeypatch.setattr(Trainer, "_write_history", crash_after_first)
    with pytest.raises(KeyboardInterrupt):
        Trainer(_config(tmp_path, name="resumed"), train, val).fit()
    resumed = Trainer(_config(tmp_path, name="resumed"), train, val).fit(resume=True)

    strip = lambda rows: [{k: v for k, v in r.items() if k not in TIMING_KEYS} for r in rows]  # noqa: E731
    assert strip(resumed.history) == strip(straight.history)
    assert resumed.best_metrics == straight.best_metrics
    a = torch.load(tmp_path / "straight" / CHECKPOINT, weights_only=True)["model"]
    b = torch.load(tmp_path / "resumed" / CHECKPOINT, weights_only=True)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_refuses_to_overwrite_or_mix_runs(tmp_path):
    train, val = _data()
    Trainer(_config(tmp_path, epochs=1), train, val).fit()
    with pytest.raises(EmoscopeError, match="--resume"):
        Trainer(_config(tmp_path, epochs=1), train, val).fit()
    with pytest.raises(EmoscopeError, match="different options.*lr"):
        Trainer(_config(tmp_path, epochs=2, lr=0.1), train, val).fit(resume=True)
    # more epochs on another thread count is the same run, continued
    result = Trainer(_config(tmp_path, epochs=2, threads=1), train, val).fit(resume=True)
    assert [row["epoch"] for row in result.history] == [1, 2]


def test_corrupt_checkpoint_is_a_clear_error(tmp_path):
    train, val = _data()
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / CHECKPOINT).write_bytes(b"not a checkpoint")
    with pytest.raises(ModelError, match="cannot resume"):
        Trainer(_config(tmp_path), train, val).fit(resume=True)


@pytest.mark.parametrize("options", [
    {"optimizer": "adamw", "lr": 0.003, "scheduler": "onecycle"},
    {"optimizer": "radam", "lr": 0.003, "scheduler": "plateau", "class_weights": True, "label_smoothing": 0.1},
    {"optimizer": "adam", "lr": 0.003, "scheduler": "none", "precision": "fp32", "monitor": "loss"},
])
def test_optimisers_and_schedules_run(tmp_path, options):
    train, val = _data()
    result = Trainer(_config(tmp_path, epochs=1, **options), train, val).fit()
    assert np.isfinite(result.history[0]["train_loss"])


def test_bce_loss_learns_and_takes_no_class_weights(tmp_path):
    """loss=bce (a sigmoid per class, as Keras recipes with sigmoid outputs train) learns the same task."""
    train, val = _data()
    cfg = _config(tmp_path, epochs=4, loss="bce", lr=0.3,  # smaller sigmoid gradients: a larger step
                  augment=AugmentConfig(rotate=0, scale=0, shift=0, hflip=0, erasing=0))
    assert Trainer(cfg, train, val).fit().best_metrics["accuracy"] > 0.8  # 7 classes: chance is 0.14
    with pytest.raises(EmoscopeError, match="neither class_weights nor label_smoothing"):
        TrainConfig.validated({"loss": "bce", "class_weights": True})


def test_a_watched_split_is_scored_every_epoch_and_never_selects(tmp_path):
    train, val = _data()
    watched = synthetic_imageset(50, seed=3)
    options = dict(epochs=3, augment=AugmentConfig(rotate=0, scale=0, shift=0, hflip=0, erasing=0))
    plain = Trainer(_config(tmp_path, name="plain", **options), train, val).fit()
    result = Trainer(_config(tmp_path, name="watched", **options), train, val, watch=watched).fit()
    assert all(0 <= row["watch_accuracy"] <= 1 and "watch_macro_f1" in row for row in result.history)
    assert result.best_epoch == plain.best_epoch and result.best_metrics["accuracy"] == plain.best_metrics["accuracy"]


def test_soft_labels_need_distributions(tmp_path):
    train, val = _data()
    with pytest.raises(EmoscopeError, match="vote distributions"):
        Trainer(_config(tmp_path, soft_labels=True), train, val)


def test_warm_start_copies_backbone_and_maps_classifier_rows_by_name(tmp_path):
    from emoscope.data.labels import FERPLUS8, FIVE
    from emoscope.runtime.bundle import read_tensors
    from emoscope.training.warm_start import warm_start

    train, val = _data()
    source = Trainer(_config(tmp_path, name="source", epochs=1), train, val).fit().best_bundle
    source_state = read_tensors(source)
    head = [k for k, v in source_state.items() if v.shape[:1] == (7,)]
    assert head, "fer_fast_net should have a per-class classifier"

    for labels in (FIVE, FERPLUS8):
        model = create_model("fer_fast_net", num_classes=len(labels), img_size=32)
        fresh = {k: v.clone() for k, v in model.state_dict().items()}
        report = warm_start(model, source, labels)
        state = model.state_dict()
        rows = torch.tensor([FERPLUS8.classes.index(c) for c in labels.classes if c != "contempt"])
        for key in head:
            torch.testing.assert_close(state[key][: len(rows)], source_state[key][rows])
        for key in set(state) - set(head):
            torch.testing.assert_close(state[key], source_state[key])
        if labels is FERPLUS8:  # contempt is new: its row keeps the fresh initialisation
            assert report.new_classes == ("contempt",)
            torch.testing.assert_close(state[head[0]][7], fresh[head[0]][7])
        else:
            assert report.mapped_classes == FIVE.classes and report.new_classes == ()


def test_warm_start_maps_rows_by_name_between_label_sets_of_one_size(tmp_path):
    from emoscope.data.labels import LabelSet
    from emoscope.runtime.bundle import read_tensors
    from emoscope.training.warm_start import warm_start

    train, val = _data()
    source = Trainer(_config(tmp_path, name="source", epochs=1), train, val).fit().best_bundle
    reversed_labels = LabelSet("reversed", train.label_set.classes[::-1])
    model = create_model("fer_fast_net", num_classes=len(reversed_labels), img_size=32)
    report = warm_start(model, source, reversed_labels)
    assert report.mapped_classes == reversed_labels.classes and report.new_classes == ()
    source_state, state = read_tensors(source), model.state_dict()
    for key in ("head.fc.weight", "head.fc.bias"):  # the registry's classifier for fer_fast_net
        torch.testing.assert_close(state[key], source_state[key].flip(0))


def test_warm_start_refuses_other_architectures(tmp_path):
    from emoscope.training.warm_start import warm_start

    train, val = _data()
    source = Trainer(_config(tmp_path, name="source", epochs=1), train, val).fit().best_bundle
    with pytest.raises(ModelError, match="same architecture"):
        warm_start(create_model("baseline_cnn", num_classes=7, img_size=32), source, train.label_set)
    with pytest.raises(ModelError, match="no such model file"):
        Trainer(_config(tmp_path, name="other", init_from=str(tmp_path / "missing.safetensors")), train, val)


CONFIG_TEXTS = {
    ".yaml": "model: fer_fast_net\nepochs: 3\naugment:\n  mixup: 0.2\n",
    ".yml": "model: fer_fast_net\nepochs: 3\naugment:\n  mixup: 0.2\n",
    ".toml": 'model = "fer_fast_net"\nepochs = 3\n[augment]\nmixup = 0.2\n',
    ".json": '{"model": "fer_fast_net", "epochs": 3, "augment": {"mixup": 0.2}}',
}
MALFORMED = {".yaml": "model: [fer_fast_net\nepochs: 3\n", ".yml": "a: b: c\n", ".toml": "model = \n",
             ".json": '{"model": '}


@pytest.mark.parametrize("suffix", CONFIG_TEXTS)
def test_config_files_of_every_format_load(tmp_path, suffix):
    path = tmp_path / f"run{suffix}"
    path.write_text(CONFIG_TEXTS[suffix])
    cfg = TrainConfig.from_file(path)
    assert cfg.model == "fer_fast_net" and cfg.epochs == 3 and cfg.augment.mixup == 0.2


@pytest.mark.parametrize("suffix", MALFORMED)
def test_malformed_config_is_a_one_line_error_naming_the_file(tmp_path, suffix):
    path = tmp_path / f"broken{suffix}"
    path.write_text(MALFORMED[suffix])
    with pytest.raises(EmoscopeError, match="cannot parse config") as info:
        TrainConfig.from_file(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and "\n" not in message


@pytest.mark.parametrize("suffix", CONFIG_TEXTS)
def test_card_reads_the_recipe_from_configs_of_every_format(tmp_path, suffix):
    from emoscope.evaluation.card import write_card
    from emoscope.evaluation.evaluate import evaluate, write_report
    from emoscope.runtime.bundle import save_bundle
    from emoscope.runtime.predictor import load_predictor
    from emoscope.runtime.spec import ModelSpec

    images = synthetic_imageset(28, seed=3)
    spec = ModelSpec(name="tiny", architecture="fer_fast_net", label_set=images.label_set.name,
                     classes=list(images.label_set.classes), img_size=32, metrics={"split": "synthetic:val"})
    bundle = save_bundle(create_model("fer_fast_net", img_size=32), spec, tmp_path / "tiny.safetensors")
    report = write_report(evaluate(load_predictor(bundle), images, split="synthetic:test"), tmp_path / "eval")["json"]
    config = tmp_path / f"run{suffix}"
    config.write_text(CONFIG_TEXTS[suffix])
    card = json.loads(write_card(bundle, report, config)["json"].read_text())
    assert card["recipe"] == {"model": "fer_fast_net", "epochs": 3, "augment": {"mixup": 0.2}}
