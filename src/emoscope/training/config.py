"""Training configuration: one pydantic model, loadable from JSON/TOML/YAML and overridable by flags."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from emoscope.errors import EmoscopeError
from emoscope.runtime.config_file import read_config_file
from emoscope.runtime.spec import Channels, PixelMean, PixelStd


@functools.lru_cache(maxsize=256)
def _check_architecture(model: str, in_chans: int, img_size: int, model_kwargs: str) -> None:
    """Build the model on torch's meta device (no memory) and run a blank image through it. A pure function
    of its arguments (``model_kwargs`` as sorted JSON), so each combination is checked once per process: a
    large network takes up to a second here, and a k-fold replication validates the same arm once per unit.
    A refusal raises and is not cached."""
    import torch

    from emoscope.runtime.bundle import build_model

    with torch.device("meta"):
        # Two classes stand in for the label set, which is known only once the data has loaded;
        # no architecture's accepted options depend on the number of classes.
        build_model(model, 2, in_chans, img_size, json.loads(model_kwargs), "training options")


class AugmentConfig(BaseModel):
    """Batch augmentations (see :mod:`emoscope.training.augment`); 0 disables a transform."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)  # no float here is meaningful as nan or inf

    hflip: float = Field(0.5, ge=0, le=1, description="probability of a horizontal flip")
    rotate: float = Field(10.0, ge=0, le=180, description="max rotation, degrees")
    scale: float = Field(0.1, ge=0, lt=1, description="max relative zoom in/out")
    shift: float = Field(0.1, ge=0, lt=1, description="max translation, fraction of the image side")
    crop_pad: int = Field(0, ge=0, description="pad by N pixels then crop back at a random position")
    brightness: float = Field(0.2, ge=0, lt=1, description="max additive brightness change (fraction of range)")
    contrast: float = Field(0.2, ge=0, lt=1, description="max relative contrast change")
    erasing: float = Field(0.25, ge=0, le=1, description="probability of random erasing")
    # Camera degradations for robust training (issue 18); all off by default so older recipes
    # reproduce. Their parameters are drawn from continuous ranges, unlike the benchmark's fixed
    # severities (benchmarks.robustness.SEVERITY_PARAMETERS).
    gamma: float = Field(0.0, ge=0, le=3, description="max |log gamma| of a gamma curve on every image")
    darken: float = Field(0.0, ge=0, le=1, description="probability of under-exposure (scale 0.12-1)")
    occlude: float = Field(0.0, ge=0, le=1, description="probability of a flat blob occluding part of the face")
    blur: float = Field(0.0, ge=0, le=1, description="probability of a Gaussian blur")
    blur_sigma: float = Field(2.5, gt=0.3, le=8, description="max blur sigma, pixels")
    lowres: float = Field(0.0, ge=0, le=1, description="probability of a downscale-upscale round trip")
    lowres_side: int = Field(8, ge=2, description="smallest side the image is downscaled to, pixels")
    noise: float = Field(0.0, ge=0, le=1, description="probability of sensor noise")
    noise_std: float = Field(0.16, gt=0, le=1, description="max noise std, fraction of the pixel range")
    jpeg: float = Field(0.0, ge=0, le=1, description="probability of JPEG compression")
    jpeg_quality: int = Field(5, ge=1, le=75, description="lowest JPEG quality (drawn up to 75)")
    mixup: float = Field(0.0, ge=0, description="mixup Beta(alpha, alpha); 0 = off")
    cutmix: float = Field(0.0, ge=0, description="cutmix Beta(alpha, alpha); 0 = off")


class TrainConfig(BaseModel):
    """Everything that determines a training run; saved beside its checkpoints."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=(), allow_inf_nan=False)  # likewise

    name: str = Field("run", description="run name; outputs go to <out_dir>/<name>")
    model: str = "baseline_cnn"
    model_kwargs: dict = Field(default_factory=dict, description="e.g. {'drop_rate': 0.3, 'batch_norm': false}")
    dataset: str = Field("fer2013", description="fer2013 | ferplus | sign_mnist | path to a CSV, .emopack pack or image folder")
    label_set: Literal["fer2013", "ferplus", "fer5", "panic", "asl_gesture", "auto"] = "auto"
    train_split: str = "train"
    val_split: str = "val"
    limit: int | None = Field(None, ge=10, description="stratified subset of N training images")
    val_limit: int | None = Field(None, ge=10, description="stratified subset of N validation images")
    img_size: int = Field(48, ge=16, le=512)
    in_chans: Channels = 1
    mean: PixelMean = 0.5
    std: PixelStd = 0.5

    epochs: int = Field(30, ge=1)
    batch_size: int = Field(64, ge=1, le=2**16)  # a batch is allocated whole, in memory
    optimizer: Literal["sgd", "adam", "adamw", "radam"] = "sgd"
    lr: float = Field(0.01, gt=0)
    momentum: float = Field(0.9, ge=0, le=1)
    weight_decay: float = Field(5e-4, ge=0)
    scheduler: Literal["plateau", "cosine", "onecycle", "none"] = "cosine"
    warmup_epochs: int = Field(0, ge=0)
    label_smoothing: float = Field(0.0, ge=0, lt=1)
    loss: Literal["cross_entropy", "bce"] = Field(
        "cross_entropy", description="bce: a sigmoid per class with binary cross-entropy against the one-hot "
        "(or soft) labels, as Keras recipes with sigmoid outputs train; inference still takes the softmax")
    class_weights: bool = Field(False, description="weight the loss by inverse class frequency")
    soft_labels: bool = Field(False, description="train on annotator vote distributions (FER+)")
    init_from: str | None = Field(
        None, description="start from a shipped model name or .safetensors bundle (same architecture); "
        "classifier rows are carried over by class name")
    groups_file: str | None = Field(
        None, description="CSV of image id,group (user-supplied metadata, docs/groups.md); with `group`, "
        "train and validate on that group's images only")
    group: str | None = Field(None, description="the group of `groups_file` to train on (a group-specific fine-tune)")
    augment: AugmentConfig = Field(default_factory=AugmentConfig)

    precision: Literal["auto", "fp32", "bf16"] = Field("auto", description="auto = bf16 on a CPU that has it, AMP on CUDA")
    device: str = "auto"
    threads: int = Field(0, ge=0, le=1024, description="torch CPU threads; 0 = all cores")  # OpenMP allocates each
    seed: int = Field(0, ge=0, le=2**32 - 1)  # the widest range every seeded library accepts (NumPy's legacy seeds)
    early_stopping: int = Field(0, ge=0, description="stop after N epochs without val improvement; 0 = off")
    monitor: Literal["accuracy", "macro_f1", "loss"] = "accuracy"
    panic_classes: list[str] = Field(default_factory=lambda: ["fear"])
    out_dir: str = "runs"

    @model_validator(mode="after")
    def _group_needs_its_file(self) -> TrainConfig:
        # EmoscopeError, not ValueError: pydantic passes it through as one line (as in the check below)
        if (self.groups_file is None) != (self.group is None):
            raise EmoscopeError("a group-specific run needs both groups_file and group "
                                "(train --groups-train GROUPS.csv --group G)")
        if self.group is not None and not self.group.strip():
            raise EmoscopeError("group is empty")
        return self

    @model_validator(mode="after")
    def _bce_takes_plain_targets(self) -> TrainConfig:
        if self.loss == "bce" and (self.class_weights or self.label_smoothing):
            raise EmoscopeError("loss bce takes neither class_weights nor label_smoothing")
        return self

    @model_validator(mode="after")
    def _architecture_accepts_options(self) -> TrainConfig:
        """A ``model_kwargs`` entry or input size the architecture refuses (``drop_rate=1.5``, a keyword it
        lacks, a side too small for its pooling) fails before any data loads or run folder exists (see
        :func:`_check_architecture`). The ModelError passes through pydantic, which wraps only ValueError,
        as one line."""
        _check_architecture(self.model, self.in_chans, self.img_size, json.dumps(self.model_kwargs, sort_keys=True))
        return self

    @classmethod
    def from_file(cls, path: str | Path) -> TrainConfig:
        return cls.validated(read_config_file(path), source=str(path))

    @classmethod
    def validated(cls, data: dict, source: str = "options") -> TrainConfig:
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            raise EmoscopeError(f"{source}: invalid training option {where!r}: {err['msg']}") from None

    @property
    def run_dir(self) -> Path:
        return Path(self.out_dir) / self.name
