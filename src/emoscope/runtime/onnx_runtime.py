"""ONNX export (needs torch) and loading (needs only onnxruntime), with the spec as metadata."""

from __future__ import annotations

from pathlib import Path

from emoscope.errors import ModelError
from emoscope.runtime.spec import SPEC_KEY, ModelSpec

INPUT_NAME = "input"
OUTPUT_NAME = "logits"
OPSET = 17


def export_onnx(model, spec: ModelSpec, path: str | Path) -> Path:
    """Write ``model`` as ONNX with a dynamic batch axis and ``spec`` in its metadata."""
    import onnx
    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    example = torch.zeros(2, spec.in_chans, spec.img_size, spec.img_size)
    tmp = path.with_suffix(".onnx.tmp")
    # The TorchScript exporter gives plain, well-fused graphs for these conv nets and needs no onnxscript.
    torch.onnx.export(
        model.eval().float(), example, str(tmp), dynamo=False, opset_version=OPSET,
        input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
        dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
    )
    proto = onnx.load(str(tmp))
    entry = proto.metadata_props.add()
    entry.key, entry.value = SPEC_KEY, spec.to_json()
    proto.producer_name = "emoscope"
    onnx.save(proto, str(tmp))
    tmp.replace(path)
    return path


def open_onnx(path: str | Path, threads: int = 0):
    """An onnxruntime session and the spec stored in the model; ``threads=0`` lets ORT choose."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: no such ONNX model")
    try:
        import onnxruntime as ort
    except ImportError:
        raise ModelError("onnxruntime is not installed: pip install 'emoscope[onnx]'") from None
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.log_severity_level = 3
    # ORT's idle threads otherwise spin for a while after each run, taking the cores that video
    # decoding and face detection need between small batches
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises several unrelated types for a damaged file
        raise ModelError(f"{path}: not a loadable ONNX model ({type(exc).__name__})") from None
    metadata = session.get_modelmeta().custom_metadata_map
    if SPEC_KEY not in metadata:
        raise ModelError(f"{path}: ONNX model has no emoscope metadata; export it with `emoscope export`")
    spec = ModelSpec.from_json(metadata[SPEC_KEY], source=path)
    _check_graph_matches_spec(session, spec, path)
    return session, spec


def _check_graph_matches_spec(session, spec: ModelSpec, path: Path) -> None:
    """Refuse a graph whose input or output shape contradicts its metadata, which preprocessing follows.

    Named (dynamic) axes match any size; the batch axis always is one.
    """
    inputs, outputs = session.get_inputs(), session.get_outputs()
    if len(inputs) != 1 or len(outputs) < 1:
        raise ModelError(f"{path}: the graph has {len(inputs)} inputs and {len(outputs)} outputs; "
                         "an emoscope model has one image input and a logits output")
    for role, node, expected in (("input", inputs[0], ("batch", spec.in_chans, spec.img_size, spec.img_size)),
                                 ("output", outputs[0], ("batch", spec.num_classes))):
        shape = tuple(node.shape)
        fits = len(shape) == len(expected) and all(
            not isinstance(have, int) or not isinstance(want, int) or have == want
            for have, want in zip(shape, expected)
        )
        if not fits:
            raise ModelError(f"{path}: the graph's {role} has shape {list(shape)} but its metadata declares "
                             f"{list(expected)}; re-export it with `emoscope export`")
