# emoscope: `make demo` runs the main job on a bundled sample, `make test` runs the test suite.
# Both install everything first (into .venv) if needed.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
EMOSCOPE := $(VENV)/bin/emoscope
STAMP := $(VENV)/.installed
export EMOSCOPE_DATA ?= $(abspath ../shared/data)

.PHONY: install test test-fast demo demo-train clean

install: $(STAMP)

# torch first, pinned to the CPU build (a bare `torch` would pull a multi-GB CUDA build);
# mediapipe 0.10.21 with --no-deps (its declared deps drag in unneeded packages), its real needs
# come from the `video` extra. Versions are pinned by requirements/constraints.txt.
$(STAMP): pyproject.toml requirements/constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -c requirements/constraints.txt torch==2.13.0
	$(PY) -m pip install -q -c requirements/constraints.txt -e '.[train,video,dev]'
	$(PY) -m pip install -q --no-deps mediapipe==0.10.21
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q

# Everything except tests marked slow.
test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow"

# The main job on the bundled sample clip: a behavioural report (JSON, HTML, charts, frame table).
demo: $(STAMP)
	$(EMOSCOPE) analyze samples/WolfgangLanger_Pexels.mp4 --out runs/demo --meta source=make-demo

clean:
	rm -rf $(VENV) runs .pytest_cache

# The training round trip on a 2,000-image FER2013 subset: train 1 epoch, evaluate on
# PrivateTest, export to ONNX (needs ../shared/data).
demo-train: $(STAMP)
	rm -rf runs/demo-train
	$(EMOSCOPE) train --name demo-train --model fer_fast_net --dataset fer2013 --limit 2000 --val-limit 1000 --epochs 1 --lr 0.05
	$(EMOSCOPE) evaluate runs/demo-train/best.safetensors --dataset fer2013 --split test --out runs/demo-train/eval
	$(EMOSCOPE) export runs/demo-train/best.safetensors --onnx
