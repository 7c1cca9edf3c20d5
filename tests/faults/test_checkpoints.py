"""Resuming from checkpoints emoscope did not write, and training options no run could use: one line
naming the file or option, before any data loads or run folder is made, and never unpickling code."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from bad_files import WritesMarker, assert_refused, write_pickle_payload
from helpers import run_emoscope, synthetic_imageset
from pydantic import ValidationError

from emoscope.errors import EmoscopeError, ModelError
from emoscope.training.config import TrainConfig
from emoscope.training.trainer import CHECKPOINT, Trainer


def _resume(tiny_fer_csv, out_dir: Path):
    return run_emoscope("train", "--model", "fer_fast_net", "--dataset", tiny_fer_csv.fer2013, "--epochs", "1",
                        "--batch-size", "16", "--out-dir", out_dir, "--name", "run", "--set", "threads=1", "--resume")


def _run_with_checkpoint(tmp_path: Path) -> Path:
    run_dir = tmp_path / "runs" / "run"
    run_dir.mkdir(parents=True)
    return run_dir / CHECKPOINT


def test_resume_refuses_a_foreign_torch_checkpoint(tiny_fer_csv, tmp_path):
    checkpoint = _run_with_checkpoint(tmp_path)
    torch.save({"state_dict": {"conv.weight": torch.zeros(2, 2)}, "epoch": 3}, checkpoint)
    assert_refused(_resume(tiny_fer_csv, tmp_path / "runs"), f"{checkpoint}: not an emoscope training checkpoint")
    assert sorted(p.name for p in checkpoint.parent.iterdir()) == [CHECKPOINT]  # no config, history or bundle


def test_resume_never_unpickles_a_payload(tiny_fer_csv, tmp_path):
    checkpoint = _run_with_checkpoint(tmp_path)
    marker = tmp_path / "marker"
    write_pickle_payload(checkpoint, marker)
    assert_refused(_resume(tiny_fer_csv, tmp_path / "runs"), f"{checkpoint}: cannot resume")
    assert not marker.exists()
    assert sorted(p.name for p in checkpoint.parent.iterdir()) == [CHECKPOINT]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A one-epoch run on synthetic images: its config, data and genuine checkpoint payload."""
    config = TrainConfig(model="fer_fast_net", epochs=1, batch_size=16, img_size=32, threads=1, precision="fp32",
                         out_dir=str(tmp_path_factory.mktemp("runs")))
    train, val = synthetic_imageset(32, seed=1), synthetic_imageset(14, seed=2)
    Trainer(config, train, val).fit()
    return config, train, val, torch.load(config.run_dir / CHECKPOINT, weights_only=True)


def _resume_in_process(finished_run, payload=None) -> ModelError:
    """The error of resuming the run after its checkpoint was replaced by ``payload`` (if given)."""
    config, train, val, _ = finished_run
    if payload is not None:
        torch.save(payload, config.run_dir / CHECKPOINT)
    with pytest.raises(ModelError) as refusal:
        Trainer(config.model_copy(update={"epochs": 2}), train, val).fit(resume=True)
    assert str(config.run_dir / CHECKPOINT) in str(refusal.value) and "\n" not in str(refusal.value)
    return refusal.value


FOREIGN_PAYLOADS = {
    "a bare tensor": lambda good: torch.zeros(3),
    "a list": lambda good: [1, 2, 3],
    "emoscope's keys, a config that is not JSON": lambda good: {**good, "config": "{not json"},
    "emoscope's keys, weights of another model": lambda good: {**good, "model": {"fc.weight": torch.zeros(2, 2)}},
    "emoscope's keys, no history": lambda good: {k: v for k, v in good.items() if k != "history"},
}


@pytest.mark.parametrize("make", FOREIGN_PAYLOADS.values(), ids=FOREIGN_PAYLOADS.keys())
def test_resume_refuses_payloads_emoscope_did_not_write(make, finished_run):
    error = _resume_in_process(finished_run, make(finished_run[3]))
    assert "not an emoscope training checkpoint" in str(error)


def test_resume_never_unpickles_a_torch_saved_payload(finished_run, tmp_path):
    """torch.save's zip format as well as the raw pickle the CLI test uses."""
    marker = tmp_path / "marker"
    error = _resume_in_process(finished_run, {"config": "{}", "model": WritesMarker(marker)})
    assert "cannot resume" in str(error) and not marker.exists()


BAD_TRAIN_FLAGS = [
    (("--seed", "-1"), "--seed"),
    (("--drop-rate", "1.5"), "--drop-rate"),
    (("--set", "model_kwargs.drop_rate=1.5"), "dropout probability"),
    (("--set", "model_kwargs.bogus=1"), "unexpected keyword argument 'bogus'"),
]


@pytest.mark.parametrize("flags, fragment", BAD_TRAIN_FLAGS, ids=[" ".join(f) for f, _ in BAD_TRAIN_FLAGS])
def test_train_refuses_bad_options_before_loading_data(flags, fragment, tmp_path):
    # The dataset does not exist: an error about the option, not the data, shows it was checked first.
    run = run_emoscope("train", "--model", "fer_fast_net", "--dataset", tmp_path / "missing.csv",
                       "--out-dir", tmp_path / "runs", *flags)
    assert_refused(run, fragment)
    assert not (tmp_path / "runs").exists()


BAD_OPTIONS = [
    ({"seed": -1}, ValidationError, "seed"),
    ({"std": 0.0}, ValidationError, "std"),
    ({"std": float("nan")}, ValidationError, "std"),
    ({"in_chans": 2}, ValidationError, "in_chans"),
    ({"model": "no_such_net"}, ModelError, "unknown model"),
    ({"model_kwargs": {"drop_rate": 1.5}}, ModelError, "dropout probability"),
    ({"model": "vgg19_bn", "img_size": 16}, ModelError, "Output size is too small"),
]


@pytest.mark.parametrize("options, error, fragment", BAD_OPTIONS, ids=[str(o) for o, _, _ in BAD_OPTIONS])
def test_train_config_refuses_options_no_run_could_use(options, error, fragment):
    with pytest.raises(error, match=fragment):
        TrainConfig(**{"model": "fer_fast_net", **options})


def test_config_file_errors_stay_one_line(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"model": "fer_fast_net", "model_kwargs": {"drop_rate": 2}}')
    with pytest.raises(EmoscopeError, match="dropout probability") as refusal:
        TrainConfig.from_file(path)
    assert "\n" not in str(refusal.value)
