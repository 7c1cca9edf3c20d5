"""emoscope: offline, CPU-first facial-expression recognition.

Heavy dependencies (torch, onnxruntime) are imported lazily, so ``import emoscope`` stays
cheap and the ONNX-only install works without torch.
"""

from __future__ import annotations

from emoscope.version import __version__

__all__ = ["Analyzer", "__version__", "analyze_video", "create_model", "frame_table", "gesture", "list_models", "load",
           "plot_head_pose", "plot_intervals", "plot_shares", "plot_timeline", "predict_image"]

_API = ("Analyzer", "analyze_video", "frame_table", "gesture", "plot_head_pose", "plot_intervals", "plot_shares",
        "plot_timeline", "predict_image")


def __getattr__(name: str):
    """The Python API (:mod:`emoscope.api`), imported on first use."""
    if name in _API:
        from emoscope import api

        return getattr(api, name)
    raise AttributeError(f"module 'emoscope' has no attribute {name!r}")


def create_model(name: str, num_classes: int = 7, in_chans: int = 1, img_size: int | None = None, **kwargs):
    """Build a registered architecture (see ``emoscope models``)."""
    from emoscope.models.registry import create_model as _create

    return _create(name, num_classes=num_classes, in_chans=in_chans, img_size=img_size, **kwargs)


def list_models() -> list[str]:
    from emoscope.models.registry import list_models as _list

    return _list()


def load(name_or_path: str, backend: str = "auto"):
    """Load a weights bundle (``.safetensors``) or ONNX model into a ready-to-use predictor."""
    from emoscope.runtime.predictor import load_predictor

    return load_predictor(name_or_path, backend=backend)
