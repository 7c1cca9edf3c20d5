"""Option files (.json, .toml, .yaml/.yml) read into a mapping, with one-line errors.

Training validates the mapping as a ``TrainConfig``; model cards copy it as the recipe. It lives
here, below both, so that evaluation need not import training.

A file may name others under ``extends`` (a path, or a list of paths, relative to it): their options
come first and the file's own win, tables merged key by key, so shared blocks (the camera
augmentations of every stage-2 config) are written once. Cards copy the merged recipe, not the
``extends`` key.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

from emoscope.errors import EmoscopeError

CONFIG_SUFFIXES = (".json", ".toml", ".yaml", ".yml")
EXTENDS_KEY = "extends"


def _load_yaml(text: str):
    import yaml  # only YAML configs need PyYAML

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:  # its message spans several lines: keep the problem and where it is
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        raise ValueError(f"{getattr(exc, 'problem', None) or exc}{where}") from None


def _merged(base: dict, override: dict) -> dict:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            value = _merged(merged[key], value)
        merged[key] = value
    return merged


def read_config_file(path: str | Path) -> dict:
    """The options in a .json, .toml or .yaml/.yml config file with those it extends merged in (not yet validated)."""
    return _read_extending(Path(path), chain=())


def _read_extending(path: Path, chain: tuple[Path, ...]) -> dict:
    resolved = path.resolve()
    if resolved in chain:
        cycle = " -> ".join(str(p) for p in (*chain, resolved))
        raise EmoscopeError(f"{path}: config extends itself ({cycle})")
    data = _read_one(path)
    bases = data.pop(EXTENDS_KEY, [])
    if isinstance(bases, str):
        bases = [bases]
    if not isinstance(bases, list) or not all(isinstance(b, str) for b in bases):
        raise EmoscopeError(f"{path}: '{EXTENDS_KEY}' must be a path or a list of paths")
    merged: dict = {}
    for base in bases:
        base_path = path.parent / base
        if not base_path.is_file():
            raise EmoscopeError(f"{path}: extends {base}, which is not a file ({base_path})")
        merged = _merged(merged, _read_extending(base_path, (*chain, resolved)))
    return _merged(merged, data)


def _read_one(path: Path) -> dict:
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
