# emoscope: `make demo` runs the main job on a bundled sample, `make test` runs the test suite.
# Both install everything first (into .venv) if needed.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export EMOSCOPE_DATA ?= $(abspath ../shared/data)

.PHONY: install test test-fast demo demo-foundation clean

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

demo: demo-foundation

clean:
	rm -rf $(VENV) runs .pytest_cache

# Until the video report lands, the demo is the foundation's round trip on a 2,000-image
# FER2013 subset: train 1 epoch, evaluate on PrivateTest, export to ONNX.
EMOSCOPE := $(VENV)/bin/emoscope
demo-foundation: $(STAMP)
	rm -rf runs/demo
	$(EMOSCOPE) train --name demo --model fer_fast_net --dataset fer2013 --limit 2000 --val-limit 1000 --epochs 1 --lr 0.05
	$(EMOSCOPE) evaluate runs/demo/best.safetensors --dataset fer2013 --split test --out runs/demo/eval
	$(EMOSCOPE) export runs/demo/best.safetensors --onnx
