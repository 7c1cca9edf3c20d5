"""`ModelSpec`: everything needed to use a trained model, stored inside its weights file.

Like torchvision's ``Weights``: architecture, labels, input size, channels and normalisation
travel with the tensors, so nobody has to guess how to feed a checkpoint. This module needs
neither torch nor onnxruntime.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, ValidationError

from emoscope.data.labels import LabelSet
from emoscope.errors import ModelError

SPEC_KEY = "emoscope"
SPEC_SCHEMA_VERSION = 1

# Constraints on what preprocessing and the network are fed. A bundle's metadata comes from a file
# like any other input: an std of 0 or NaN would turn every probability into NaN, and a side of 100000
# would allocate gigabytes per face, so they are refused when the spec is read. Training options reuse
# them, so no run can produce a spec its own loader refuses.
ImageSide = Annotated[int, Field(ge=8, le=1024, description="square input side, pixels")]
Channels = Literal[1, 3]
PixelMean = Annotated[float, Field(allow_inf_nan=False)]
PixelStd = Annotated[float, Field(gt=0, allow_inf_nan=False)]


def _distinct_names(classes: list[str]) -> list[str]:
    if any(not name.strip() for name in classes):
        raise ValueError("class names must not be empty")
    repeated = sorted({name for name in classes if classes.count(name) > 1})
    if repeated:
        raise ValueError(f"duplicate class names: {', '.join(repeated)}")
    return classes


ClassNames = Annotated[list[str], Field(min_length=2), AfterValidator(_distinct_names)]


class ModelSpec(BaseModel):
    """A model card in machine-readable form; saved as JSON metadata in every bundle."""

    schema_version: int = Field(SPEC_SCHEMA_VERSION, ge=1)
    name: str = Field(description="bundle name, e.g. 'fer-default'")
    architecture: str = Field(min_length=1, description="registered model name, see `emoscope models`; "
                              "checked against the registry when a bundle is built (which needs torch)")
    arch_kwargs: dict = Field(default_factory=dict)
    label_set: str
    classes: ClassNames
    in_chans: Channels = 1
    img_size: ImageSide = 48
    mean: PixelMean = 0.5
    std: PixelStd = 0.5
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
        except json.JSONDecodeError as exc:
            raise ModelError(f"{source}: invalid emoscope metadata (not JSON: {exc.msg})") from None
        except ValidationError as exc:
            error = exc.errors()[0]
            field = ".".join(map(str, error["loc"])) or "metadata"
            raise ModelError(f"{source}: invalid emoscope metadata ({field}: {error['msg']})") from None
        if spec.schema_version > SPEC_SCHEMA_VERSION:
            raise ModelError(
                f"{source}: made by a newer emoscope (schema {spec.schema_version}); upgrade emoscope"
            )
        return spec
