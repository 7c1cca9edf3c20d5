"""Weights bundles: one ``.safetensors`` file holding tensors plus its :class:`ModelSpec`.

safetensors cannot execute code when loaded, unlike pickled checkpoints, so a bundle from
anywhere is safe to open. A large bundle may be saved in shards (``max_file_bytes``): the file named
``X.safetensors`` holds the spec, the first tensors and the names of the files beside it holding the rest
(``X.safetensors.2``, ...), so every file stays within what a package or a repository takes.
"""

from __future__ import annotations

import json
import re
from glob import escape as glob_escape
from pathlib import Path

from emoscope.errors import ModelError
from emoscope.runtime.spec import SPEC_KEY, ModelSpec

SHARDS_KEY = "emoscope.shards"


def _open_safetensors(path: Path):
    from safetensors import safe_open

    if not path.is_file():
        raise ModelError(f"{path}: no such model file")
    try:
        return safe_open(str(path), framework="numpy")
    except Exception as exc:  # safetensors raises its own error types for every kind of damage
        raise ModelError(f"{path}: not a valid safetensors file ({type(exc).__name__})") from None


def read_spec(path: str | Path) -> ModelSpec:
    """The spec of a bundle, without loading any tensor (and without torch)."""
    path = Path(path)
    with _open_safetensors(path) as handle:
        metadata = handle.metadata() or {}
    if SPEC_KEY not in metadata:
        raise ModelError(f"{path}: safetensors file has no emoscope metadata (not an emoscope bundle)")
    return ModelSpec.from_json(metadata[SPEC_KEY], source=path)


def bundle_files(path: str | Path) -> list[Path]:
    """The files a bundle is stored in: ``path`` and its shards, if it has any."""
    path = Path(path)
    with _open_safetensors(path) as handle:
        names = json.loads((handle.metadata() or {}).get(SHARDS_KEY, "[]"))
    shards = [path.with_name(name) for name in names]
    missing = [shard.name for shard in shards if not shard.is_file()]
    if missing:
        raise ModelError(f"{path}: its shard {', '.join(missing)} is missing "
                         "(a sharded bundle travels with its shards)")
    return [path, *shards]


def read_tensors(path: str | Path) -> dict:
    """All tensors of a bundle, its shards' too, as torch tensors in their stored dtype."""
    import torch

    tensors = {}
    for file in bundle_files(path):
        with _open_safetensors(file) as handle:
            tensors.update({key: torch.from_numpy(handle.get_tensor(key)) for key in handle.keys()})
    return tensors


def _shard(tensors: dict, max_file_bytes: int | None) -> list[dict]:
    """``tensors`` in state-dict order, cut into groups of at most ``max_file_bytes`` (a larger tensor alone)."""
    groups, size = [{}], 0
    for key, tensor in tensors.items():
        nbytes = tensor.numel() * tensor.element_size()
        if max_file_bytes and groups[-1] and size + nbytes > max_file_bytes:
            groups.append({})
            size = 0
        groups[-1][key] = tensor
        size += nbytes
    return groups


def save_bundle(model, spec: ModelSpec, path: str | Path, half: bool = False,
                max_file_bytes: int | None = None) -> Path:
    """Write ``model``'s weights and ``spec`` to ``path``; ``half`` stores floats as fp16; ``max_file_bytes``
    spreads the tensors over ``path`` and shards beside it so that no file holds more."""
    import torch
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {}
    for key, tensor in model.state_dict().items():
        tensor = tensor.detach().cpu()
        if half and tensor.is_floating_point():
            tensor = tensor.to(torch.float16)
        tensors[key] = tensor.contiguous()
    first, *rest = _shard(tensors, max_file_bytes)
    shard_names = [f"{path.name}.{number}" for number in range(2, len(rest) + 2)]
    stale = [p for p in path.parent.glob(f"{glob_escape(path.name)}.*") if re.fullmatch(r"\d+", p.suffix[1:])]
    for name, group in zip(shard_names, rest):  # shards first: the main file names them only once they exist
        tmp = path.with_name(name + ".tmp")
        save_file(group, str(tmp))
        tmp.replace(path.with_name(name))
    metadata = {SPEC_KEY: spec.to_json(), **({SHARDS_KEY: json.dumps(shard_names)} if shard_names else {})}
    tmp = path.with_suffix(path.suffix + ".tmp")
    save_file(first, str(tmp), metadata=metadata)
    tmp.replace(path)  # never leave a half-written bundle under the real name
    for leftover in stale:
        if leftover.name not in shard_names:
            leftover.unlink()  # a shard of an earlier, larger save under this name
    return path


ARCHITECTURE_REJECTS = (TypeError, ValueError, RuntimeError)
"""What factories and forward passes raise for settings they cannot take: an unknown keyword, a dropout
rate above 1, an input too small for the pooling."""


def build_model(architecture: str, num_classes: int, in_chans: int, img_size: int, arch_kwargs: dict,
                source: str | Path):
    """``architecture`` with fresh weights, in eval mode, after one blank image has gone through it.

    Anything the registry or the architecture refuses becomes one :class:`ModelError` naming ``source``
    (a bundle file, or the training options), rather than a traceback at the first prediction. Inside
    ``with torch.device("meta")`` this checks settings without allocating weights.
    """
    import torch

    from emoscope.models.registry import create_model

    settings = ", ".join(f"{key}={value!r}" for key, value in
                         {"in_chans": in_chans, "img_size": img_size, **arch_kwargs}.items())
    try:
        model = create_model(architecture, num_classes=num_classes, in_chans=in_chans, img_size=img_size,
                             **arch_kwargs).eval()
        with torch.inference_mode():
            logits = model(torch.zeros(1, in_chans, img_size, img_size))
    except ModelError as exc:
        raise ModelError(f"{source}: {exc}") from None
    except ARCHITECTURE_REJECTS as exc:
        reason = (str(exc).splitlines() or [""])[0]
        raise ModelError(f"{source}: {architecture!r} rejects {settings} ({type(exc).__name__}: {reason})") from None
    if tuple(logits.shape) != (1, num_classes):
        raise ModelError(f"{source}: {architecture!r} with {settings} gives outputs of shape {tuple(logits.shape)}, "
                         f"expected (1, {num_classes})")
    return model


def load_bundle(path: str | Path):
    """Rebuild the model of a bundle in eval mode; returns ``(model, spec)``."""
    path = Path(path)
    spec = read_spec(path)
    model = build_model(spec.architecture, spec.num_classes, spec.in_chans, spec.img_size, spec.arch_kwargs, path)
    tensors = read_tensors(path)
    reference = model.state_dict()
    missing = sorted(set(reference) - set(tensors))
    unexpected = sorted(set(tensors) - set(reference))
    if missing or unexpected:
        raise ModelError(
            f"{path}: weights do not fit {spec.architecture!r} "
            f"({len(missing)} missing, {len(unexpected)} unexpected tensors)"
        )
    for key, tensor in tensors.items():
        if tensor.shape != reference[key].shape:
            raise ModelError(f"{path}: tensor {key} has shape {tuple(tensor.shape)}, expected {tuple(reference[key].shape)}")
        if tensor.is_floating_point() and not bool(tensor.isfinite().all()):
            raise ModelError(f"{path}: tensor {key} holds NaN or infinite values; the file is damaged")
        tensors[key] = tensor.to(reference[key].dtype)
    model.load_state_dict(tensors)
    return model.eval(), spec
