"""Option files (.json, .toml, .yaml/.yml) read into a mapping, with one-line errors.

Training validates the mapping as a ``TrainConfig``; model cards copy it as the recipe. It lives
here, below both, so that evaluation need not import training.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

from emoscope.errors import EmoscopeError

CONFIG_SUFFIXES = (".json", ".toml", ".yaml", ".yml")


def _load_yaml(text: str):
    import yaml  # only YAML configs need PyYAML

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:  # its message spans several lines: keep the problem and where it is
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        raise ValueError(f"{getattr(exc, 'problem', None) or exc}{where}") from None


def read_config_file(path: str | Path) -> dict:
    """The options in a .json, .toml or .yaml/.yml config file, as written (not yet validated)."""
    path = Path(path)
    if path.suffix not in CONFIG_SUFFIXES:
        raise EmoscopeError(f"{path}: config must be .json, .toml or .yaml")
    try:
        text = path.read_text()
    except OSError as exc:
        raise EmoscopeError(f"{path}: cannot read config ({exc.strerror})") from None
    try:
        if path.suffix == ".json":
            data = json.loads(text)
        elif path.suffix == ".toml":
            data = tomllib.loads(text)
        else:
            data = _load_yaml(text)
    except ValueError as exc:  # JSONDecodeError and TOMLDecodeError are ValueErrors too
        raise EmoscopeError(f"{path}: cannot parse config: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise EmoscopeError(f"{path}: config must be a mapping of options")
    return data
