"""The data module owns dataset loading, label sets and splits for a training run."""

from __future__ import annotations

from dataclasses import replace

from emoscope.data import limit_per_split, load_dataset
from emoscope.data.imageset import ImageSet
from emoscope.data.labels import get_label_set, panic_label_set, panic_targets
from emoscope.errors import DataError
from emoscope.evaluation.groups import read_groups_csv, select_group
from emoscope.training.config import TrainConfig


def relabel(images: ImageSet, label_set: str, panic_classes=("fear",)) -> ImageSet:
    """Move an image set onto the run's label set (e.g. FER2013's 7 classes -> 5, or binary panic)."""
    if label_set == "auto" or label_set == images.label_set.name:
        return images
    if label_set == "panic":
        return replace(
            images,
            labels=panic_targets(images.labels, images.label_set, panic_classes),
            label_set=panic_label_set(),
            soft_labels=None,
            source=f"{images.source} (panic = {'+'.join(panic_classes)})",
        )
    return images.to_label_set(get_label_set(label_set))


class DataModule:
    """Loads the train and validation splits a :class:`TrainConfig` names, once, on demand."""

    def __init__(self, config: TrainConfig):
        self.config = config
        self._splits: dict[str, ImageSet] = {}
        self._groups: dict[str, str] | None = None

    def split(self, name: str, limit: int | None = None) -> ImageSet:
        key = f"{name}:{limit}"
        if key not in self._splits:
            cfg = self.config
            images = relabel(load_dataset(cfg.dataset, split=name), cfg.label_set, tuple(cfg.panic_classes))
            if len(images) == 0:
                raise DataError(f"{cfg.dataset}: split {name!r} has no images for label set {cfg.label_set!r}")
            if cfg.groups_file is not None:  # a group-specific run: only that group's images, before --limit
                images = select_group(images, self.group_of(), cfg.group, source=cfg.groups_file)
            if limit is not None and limit < len(images):
                images = limit_per_split(images, limit, seed=cfg.seed)
            self._splits[key] = images
        return self._splits[key]

    def group_of(self) -> dict[str, str]:
        """The run's groups file (image id -> group), read once."""
        if self._groups is None:
            self._groups = read_groups_csv(self.config.groups_file)
        return self._groups

    def train(self) -> ImageSet:
        return self.split(self.config.train_split, self.config.limit)

    def val(self) -> ImageSet:
        return self.split(self.config.val_split, self.config.val_limit)
