"""`ModelSpec`: everything needed to use a trained model, stored inside its weights file.

Like torchvision's ``Weights``: architecture, labels, input size, channels and normalisation
travel with the tensors, so nobody has to guess how to feed a checkpoint. This module needs
neither torch nor onnxruntime.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from emoscope.data.labels import LabelSet
from emoscope.errors import ModelError

SPEC_KEY = "emoscope"
SPEC_SCHEMA_VERSION = 1


class ModelSpec(BaseModel):
    """A model card in machine-readable form; saved as JSON metadata in every bundle."""

    schema_version: int = SPEC_SCHEMA_VERSION
    name: str = Field(description="bundle name, e.g. 'fer-default'")
    architecture: str = Field(description="registered model name, see `emoscope models`")
    arch_kwargs: dict = Field(default_factory=dict)
    label_set: str
    classes: list[str]
    in_chans: int = 1
    img_size: int = 48
    mean: float = 0.5
    std: float = 0.5
    dataset: str = ""
    metrics: dict = Field(default_factory=dict, description="validation/test metrics, split named inside")
    tta: str = Field(default="none", description="test-time augmentation the metrics were measured with")
    command: str = Field(default="", description="the command that produced this model")
    emoscope_version: str = ""
    created: str = ""

    @property
    def labels(self) -> LabelSet:
        return LabelSet(self.label_set, tuple(self.classes))

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def to_json(self) -> str:
        return self.model_dump_json()

    @classmethod
    def from_json(cls, text: str, source: str | Path = "") -> ModelSpec:
        try:
            spec = cls.model_validate(json.loads(text))
        except (json.JSONDecodeError, ValidationError) as exc:
            first = str(exc).splitlines()[0]
            raise ModelError(f"{source}: invalid emoscope metadata ({first})") from None
        if spec.schema_version > SPEC_SCHEMA_VERSION:
            raise ModelError(
                f"{source}: made by a newer emoscope (schema {spec.schema_version}); upgrade emoscope"
            )
        return spec
